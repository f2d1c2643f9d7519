//! sentence-transformers' prompts (`config_sentence_transformers.json`) and Matryoshka
//! truncation: in the library, the command line (the server's are in `serve`, the C ABI's in
//! the C example of `capi`, Python's in python/tests).

use crate::common::*;
use std::path::{Path, PathBuf};
use wgbert::{EmbedOptions, Engine, EngineOptions, Input};

/// tiny-bert with a `config_sentence_transformers.json` of the given JSON.
pub fn prompted_model(dir: &Path, config: &serde_json::Value) -> PathBuf {
    let m = dir.join("prompted");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(data("tiny-bert").join(f), m.join(f)).unwrap();
    }
    std::fs::write(
        m.join("config_sentence_transformers.json"),
        serde_json::to_vec(config).unwrap(),
    )
    .unwrap();
    m
}

fn prompts() -> serde_json::Value {
    serde_json::json!({"prompts": {"query": "query: ", "document": ""}, "default_prompt_name": null, "similarity_fn_name": "cosine"})
}

fn embed1(e: &Engine, text: &str, opts: &EmbedOptions) -> Vec<f32> {
    e.embed_opts(&[Input::from(text)], opts).unwrap().remove(0)
}

#[test]
fn the_library_puts_the_named_prompt_before_each_input_and_truncates() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Engine::from_dir(
        &prompted_model(tmp.path(), &prompts()),
        EngineOptions::default(),
    )
    .unwrap();
    let sc = e.sentence_config();
    assert_eq!(sc.prompts.len(), 2);
    assert_eq!(sc.similarity_fn_name.as_deref(), Some("cosine"));
    let plain = EmbedOptions::default();
    let query = EmbedOptions {
        prompt_name: Some("query".into()),
        ..Default::default()
    };
    let prefixed = embed1(&e, "query: a fair trial", &plain);
    assert_eq!(embed1(&e, "a fair trial", &query), prefixed);
    assert_ne!(embed1(&e, "a fair trial", &plain), prefixed);
    // The text itself wins over a name; an empty prompt ("document") is no prompt.
    let text = EmbedOptions {
        prompt_name: Some("query".into()),
        prompt: Some("passage: ".into()),
        ..Default::default()
    };
    assert_eq!(
        embed1(&e, "a fair trial", &text),
        embed1(&e, "passage: a fair trial", &plain)
    );
    let doc = EmbedOptions {
        prompt_name: Some("document".into()),
        ..Default::default()
    };
    assert_eq!(
        embed1(&e, "a fair trial", &doc),
        embed1(&e, "a fair trial", &plain)
    );
    // Pairs: the prompt goes before the first text.
    let pair = e
        .embed_opts(&[Input::from(("a", "b"))], &query)
        .unwrap()
        .remove(0);
    assert_eq!(
        pair,
        e.embed(&[Input::from(("query: a", "b"))])
            .unwrap()
            .remove(0)
    );
    // An unknown name lists the folder's prompts.
    let bad = EmbedOptions {
        prompt_name: Some("passage".into()),
        ..Default::default()
    };
    let msg = e
        .embed_opts(&[Input::from("x")], &bad)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("\"passage\"") && msg.contains("document, query"),
        "{msg}"
    );
    // Matryoshka: the first N values, normalised again.
    let full = embed1(&e, "a fair trial", &plain);
    let cut = embed1(
        &e,
        "a fair trial",
        &EmbedOptions {
            dimensions: Some(16),
            ..Default::default()
        },
    );
    assert_eq!(cut.len(), 16);
    let n: f32 = full[..16].iter().map(|x| x * x).sum::<f32>().sqrt();
    for (c, f) in cut.iter().zip(&full) {
        assert!((c - f / n).abs() < 1e-6);
    }
    for d in [0, 61] {
        let err = e
            .embed_opts(
                &[Input::from("x")],
                &EmbedOptions {
                    dimensions: Some(d),
                    ..Default::default()
                },
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside 1..=60"), "{err}");
    }
}

#[test]
fn a_default_prompt_applies_when_none_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({"prompts": {"query": "query: "}, "default_prompt_name": "query"});
    let e = Engine::from_dir(&prompted_model(tmp.path(), &cfg), EngineOptions::default()).unwrap();
    let plain_model = Engine::from_dir(&data("tiny-bert"), EngineOptions::default()).unwrap();
    assert_eq!(
        e.embed(&[Input::from("x")]).unwrap(),
        plain_model.embed(&[Input::from("query: x")]).unwrap()
    );
    // A default that names no prompt is a config error that says so.
    let bad = serde_json::json!({"prompts": {"query": "q: "}, "default_prompt_name": "passage"});
    let tmp2 = tempfile::tempdir().unwrap();
    let err = Engine::from_dir(&prompted_model(tmp2.path(), &bad), EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("default_prompt_name \"passage\""), "{err}");
}

#[cfg(feature = "cli")]
#[test]
fn embed_and_similarity_take_prompts_and_dimensions() {
    let tmp = tempfile::tempdir().unwrap();
    let m = prompted_model(tmp.path(), &prompts());
    let m = m.to_str().unwrap();
    let vec_of = |args: &[&str]| -> Vec<f32> {
        let out = ok_stdout(&run_wgbert(&[&["embed", "--model", m], args].concat()));
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        f32s(&v["embedding"])
    };
    let prefixed = vec_of(&["query: a fair trial"]);
    assert_eq!(
        vec_of(&["--prompt-name", "query", "a fair trial"]),
        prefixed
    );
    assert_eq!(vec_of(&["--prompt", "query: ", "a fair trial"]), prefixed);
    let cut = vec_of(&[
        "--dimensions",
        "8",
        "--prompt-name",
        "query",
        "a fair trial",
    ]);
    assert_eq!(cut.len(), 8);
    let n: f32 = prefixed[..8].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        cut.iter()
            .zip(&prefixed)
            .all(|(c, f)| (c - f / n).abs() < 1e-6)
    );
    // .npy rows are as wide as --dimensions.
    let npy = tmp.path().join("v.npy");
    ok_stdout(&run_wgbert(&[
        "embed",
        "--model",
        m,
        "--dimensions",
        "8",
        "--format",
        "npy",
        "-o",
        npy.to_str().unwrap(),
        "a",
        "b",
    ]));
    let bytes = std::fs::read(&npy).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("(2, 8)"));
    // Errors name the problem before any work.
    let o = run_wgbert(&["embed", "--model", m, "--prompt-name", "passage", "x"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("document, query"), "{err}");
    let o = run_wgbert(&["embed", "--model", m, "--dimensions", "61", "x"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside 1..=60"));
    let o = run_wgbert(&[
        "embed",
        "--model",
        m,
        "--prompt",
        "a",
        "--prompt-name",
        "query",
        "x",
    ]);
    assert!(!o.status.success());
    // similarity: the matrix of the prompted texts.
    let numbers = |args: &[&str]| -> Vec<f32> {
        ok_stdout(&run_wgbert(&[&["similarity", "--model", m], args].concat()))
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect()
    };
    let got = numbers(&["--prompt-name", "query", "fair", "a trial"]);
    assert_eq!(got.len(), 4);
    assert_eq!(got, numbers(&["query: fair", "query: a trial"]));
    assert_ne!(got, numbers(&["fair", "a trial"]));
}
