//! The library as other programs embed it: futures that do not block the executor, and an
//! engine built from a model held in memory.

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wgbert::{Engine, EngineOptions, Input, Request};

fn engine() -> Arc<Engine> {
    Arc::new(Engine::from_dir(&minilm_dir(), EngineOptions::default()).unwrap())
}

/// On a single-threaded tokio runtime, a ticker task keeps running while `embed_async` is
/// awaited: the GPU work does not block the executor. The vectors are `embed`'s.
#[tokio::test(flavor = "current_thread")]
async fn embed_async_does_not_block_the_executor() {
    let e = engine();
    let texts = vec![
        Input::from("nice movie indeed"),
        Input::from("Tom deserves a fair trial"),
    ];
    let want = e.embed(&texts).unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            t.fetch_add(1, Ordering::SeqCst);
        }
    });
    let before = ticks.load(Ordering::SeqCst);
    // Several calls at once, awaited together.
    let (a, b) = tokio::join!(e.embed_async(texts.clone()), e.embed_async(texts.clone()));
    let during = ticks.load(Ordering::SeqCst) - before;
    ticker.abort();
    assert_eq!(a.unwrap(), want);
    assert_eq!(b.unwrap(), want);
    assert!(
        during >= 3,
        "the executor ran only {during} ticks while the GPU worked"
    );

    let enc = e
        .encode_async(
            vec![Input::from("nice movie indeed")],
            Some(16),
            Request {
                sequence_output: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(enc[0].sequence_output.as_ref().unwrap().len(), 16 * 384);
    // Errors come back through the future too.
    let err = e
        .encode_async(vec![Input::from("x")], Some(100_000), Request::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("longest input"), "{err}");
}

/// `Engine::from_memory` on the bytes of the three files gives `from_dir`'s vectors.
#[test]
fn an_engine_from_memory_equals_one_from_the_folder() {
    let dir = minilm_dir();
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let mem = Engine::from_memory(
        &read("config.json"),
        &read("tokenizer.json"),
        &read("model.safetensors"),
        EngineOptions::default(),
    )
    .unwrap();
    let disk = Engine::from_dir(&dir, EngineOptions::default()).unwrap();
    let texts = [Input::from("nice movie indeed"), Input::from(("a", "b"))];
    assert_eq!(mem.embed(&texts).unwrap(), disk.embed(&texts).unwrap());
    // Bad bytes are clear errors.
    let e = Engine::from_memory(b"{", &read("tokenizer.json"), &[], EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("config.json"), "{e}");
    let e = Engine::from_memory(
        &read("config.json"),
        &read("tokenizer.json"),
        b"not safetensors",
        EngineOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("safetensors"), "{e}");
}

/// A browser page has the folder's files in memory: `SentenceConfig::from_files` reads the same
/// recipe as `from_dir`, `Engine::from_memory_async` (what the page awaits) gives the blocking
/// call's engine, and a module with weights of its own (Dense) is refused with the reason.
#[test]
fn a_folder_in_memory_gives_the_folder_s_recipe_and_vectors() {
    use std::collections::HashMap;
    use wgbert::SentenceConfig;
    let files = |dir: &std::path::Path, names: &[&str]| -> HashMap<String, Vec<u8>> {
        names
            .iter()
            .filter_map(|n| Some((n.to_string(), std::fs::read(dir.join(n)).ok()?)))
            .collect()
    };
    let dir = minilm_dir();
    let small = [
        "modules.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "tokenizer_config.json",
    ];
    let mem = SentenceConfig::from_files(&files(&dir, &small)).unwrap();
    assert_eq!(mem, SentenceConfig::from_dir(&dir).unwrap());
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let mut engine = pollster::block_on(Engine::from_memory_async(
        &read("config.json"),
        &read("tokenizer.json"),
        &read("model.safetensors"),
        EngineOptions::default(),
    ))
    .unwrap();
    engine.set_sentence_config(mem).unwrap();
    let disk = Engine::from_dir(&dir, EngineOptions::default()).unwrap();
    let texts = [Input::from("a county fair")];
    assert_eq!(engine.embed(&texts).unwrap(), disk.embed(&texts).unwrap());
    assert_eq!(engine.embed_seq_length(), disk.embed_seq_length());

    let dense = data("tiny-st-dense");
    let e = SentenceConfig::from_files(&files(
        &dense,
        &[
            "modules.json",
            "1_Pooling/config.json",
            "2_Dense/config.json",
        ],
    ))
    .expect_err("a Dense module cannot be read from memory")
    .to_string();
    assert!(e.contains("Dense") && e.contains("from_dir"), "{e}");
    // A file modules.json names but the page did not pass.
    let e = SentenceConfig::from_files(&files(&dir, &["modules.json"]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("1_Pooling/config.json") && e.contains("missing"),
        "{e}"
    );
}

/// The library decides nothing from the environment: outside the command line (src/main.rs,
/// src/cli/), only `EngineOptions::from_env` in src/engine.rs reads a variable.
#[test]
fn the_library_reads_no_environment() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let reads = [
        "std::env::var",
        "env::var_os",
        "Backends::from_env",
        ".with_env()",
    ];
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "main.rs" || rel.starts_with("cli/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // In engine.rs, only the body of `from_env` may read the environment.
        let text = if rel == "engine.rs" {
            let start = text
                .find("pub fn from_env()")
                .expect("EngineOptions::from_env");
            let end = start + text[start..].find("\n    }\n").unwrap();
            format!("{}{}", &text[..start], &text[end..])
        } else {
            text
        };
        for (i, line) in text.lines().enumerate() {
            if reads.iter().any(|r| line.contains(r)) && !line.trim_start().starts_with("//") {
                found.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the library reads the environment outside EngineOptions::from_env: {found:#?}"
    );
}
