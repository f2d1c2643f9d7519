//! SPLADE sparse vectors (`Engine::embed_sparse`, `wgbert embed --sparse`, `POST /embed_sparse`)
//! against sentence-transformers' SparseEncoder in float64 (scripts/make_splade_models.py): BERT
//! (max / relu), DistilBERT (sum / log1p_relu, max_active_dims 8) and RoBERTa heads.

use crate::common::*;
use serde_json::Value;
use wgbert::{EmbedOptions, Engine, EngineOptions, Input, SparseEmbedding};

const MODELS: [&str; 3] = ["tiny-splade", "tiny-splade-distil", "tiny-splade-roberta"];

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("splade_golden.json")).unwrap()).unwrap()
}

fn engine(name: &str, opts: EngineOptions) -> Engine {
    Engine::from_dir(&data(name), opts).unwrap()
}

fn texts(g: &Value) -> Vec<Input> {
    g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect()
}

/// The same entries above 1e-4 on both sides and every shared weight within `tol`.
fn assert_sparse_matches(what: &str, got: &SparseEmbedding, want: &Value, tol: f64) {
    let wi: Vec<u32> = want["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let wv: Vec<f64> = want["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        got.indices.windows(2).all(|w| w[0] < w[1]),
        "{what}: ids not ascending"
    );
    let theirs = |id: u32| wi.iter().position(|&i| i == id).map(|p| wv[p]);
    let mine = |id: u32| {
        got.indices
            .iter()
            .position(|&i| i == id)
            .map(|p| got.values[p] as f64)
    };
    for (&id, &v) in wi.iter().zip(&wv) {
        match mine(id) {
            Some(m) => assert!((m - v).abs() < tol, "{what}: id {id} weight {m} vs {v}"),
            None => assert!(v < 1e-4, "{what}: id {id} (weight {v}) missing"),
        }
    }
    for (&id, &v) in got.indices.iter().zip(&got.values) {
        if theirs(id).is_none() {
            assert!(
                v < 1e-4,
                "{what}: id {id} (weight {v}) is not in sentence-transformers' vector"
            );
        }
    }
}

#[test]
fn sparse_vectors_match_sentence_transformers() {
    let g = golden();
    for name in MODELS {
        let gm = &g[name];
        let e = engine(name, EngineOptions::default());
        assert!(
            e.sentence_config().splade.is_some(),
            "{name}: not read as SPLADE"
        );
        let got = e
            .embed_sparse(&texts(gm), &EmbedOptions::default(), None)
            .unwrap();
        let pre = e.preprocessor().unwrap();
        for (v, item) in got.iter().zip(gm["items"].as_array().unwrap()) {
            let what = format!("{name}: {}", item["text"]);
            assert_sparse_matches(&what, v, item, 1e-5);
            if let Some(k) = gm["max_active_dims"].as_u64() {
                assert_eq!(v.indices.len(), k as usize, "{what}");
            }
            // The vocabulary entries, as transformers' convert_ids_to_tokens.
            for (id, t) in item["indices"]
                .as_array()
                .unwrap()
                .iter()
                .zip(item["tokens"].as_array().unwrap())
            {
                let id = id.as_u64().unwrap() as u32;
                assert_eq!(pre.id_to_token(id).as_deref(), t.as_str(), "{what}");
            }
        }
    }
}

#[test]
fn sparse_vectors_hold_at_f16_storage_and_with_the_logits_in_chunks() {
    let g = golden();
    let gm = &g["tiny-splade"];
    let inputs = texts(gm);
    let exact = engine("tiny-splade", EngineOptions::default())
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    // 16 KiB bindings: the logits of 5 × 24 rows (about 2 KB each) run in chunks of 7 rows,
    // chunks that end inside a sequence; the pooled vector is folded across them.
    let small = engine(
        "tiny-splade",
        EngineOptions {
            gpu: wgbert::GpuOptions {
                max_binding_bytes: Some(16 * 1024),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let chunked = small
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    for (a, item) in chunked.iter().zip(gm["items"].as_array().unwrap()) {
        assert_sparse_matches(&format!("chunked {}", item["text"]), a, item, 1e-5);
    }
    assert_eq!(chunked.len(), exact.len());
    let half = engine(
        "tiny-splade",
        EngineOptions {
            precision: wgbert::kernels::Precision::F16,
            ..Default::default()
        },
    );
    let got = half
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    for (a, b) in got.iter().zip(&exact) {
        // f16 storage rounds the logits (about 1e-3 relative): compare the vocabularies'
        // weights where both are clearly nonzero.
        let dot = a.dot(b) / (a.dot(a).sqrt() * b.dot(b).sqrt());
        assert!(dot > 0.999, "f16 SPLADE vector cosine {dot}");
    }
}

#[test]
fn max_active_dims_keeps_the_largest_weights() {
    let g = golden();
    let gm = &g["tiny-splade"];
    let e = engine("tiny-splade", EngineOptions::default());
    let inputs = texts(gm);
    let all = e
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    let top = e
        .embed_sparse(&inputs, &EmbedOptions::default(), Some(5))
        .unwrap();
    for (a, t) in all.iter().zip(&top) {
        assert_eq!(t.indices.len(), 5);
        let mut w = a.values.clone();
        w.sort_by(|x, y| y.total_cmp(x));
        let mut tw = t.values.clone();
        tw.sort_by(|x, y| y.total_cmp(x));
        assert_eq!(tw, w[..5].to_vec());
        assert!(t.indices.iter().all(|i| a.indices.contains(i)));
    }
    // A vector's score with itself is the sum of its squared weights.
    let v = &all[0];
    let want: f64 = v.values.iter().map(|x| (*x as f64).powi(2)).sum();
    assert!((v.dot(v) as f64 - want).abs() < 1e-4 * want);
}

#[test]
fn sparse_and_dense_refuse_what_they_cannot_give() {
    let splade = engine("tiny-splade", EngineOptions::default());
    let err = splade.embed(&[Input::from("a")]).unwrap_err().to_string();
    assert!(
        err.contains("sparse model") && err.contains("--sparse"),
        "{err}"
    );
    let err = splade
        .embed_sparse(
            &[Input::from("a")],
            &EmbedOptions {
                dimensions: Some(4),
                ..Default::default()
            },
            None,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_active_dims"), "{err}");
    let err = splade
        .embed_sparse(&[Input::from("a")], &EmbedOptions::default(), Some(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_active_dims is 0"), "{err}");
    // No masked-word head: a sentence-transformers embedding model.
    let dense = Engine::from_dir(&data("tiny-st-dense"), EngineOptions::default()).unwrap();
    let err = dense
        .embed_sparse(&[Input::from("a")], &EmbedOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no masked-word head") && err.contains("ForMaskedLM"),
        "{err}"
    );
}

#[test]
fn bad_splade_configs_are_refused_with_the_fix() {
    // The recipe files of a SparseEncoder folder (the weights are not read for this).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for f in [
        "modules.json",
        "1_SpladePooling/config.json",
        "config_sentence_transformers.json",
    ] {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::copy(data("tiny-splade").join(f), dir.join(f)).unwrap();
    }
    assert!(
        wgbert::SentenceConfig::from_dir(dir)
            .unwrap()
            .splade
            .is_some()
    );
    let cfg = dir.join("1_SpladePooling/config.json");
    std::fs::write(
        &cfg,
        r#"{"pooling_strategy": "mean", "activation_function": "relu"}"#,
    )
    .unwrap();
    let err = wgbert::SentenceConfig::from_dir(dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pooling_strategy \"mean\" is not max or sum"),
        "{err}"
    );
    std::fs::write(
        &cfg,
        r#"{"pooling_strategy": "max", "activation_function": "gelu"}"#,
    )
    .unwrap();
    let err = wgbert::SentenceConfig::from_dir(dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("activation_function \"gelu\""), "{err}");
    std::fs::write(&cfg, r#"{"pooling_strategy": "sum"}"#).unwrap();
    let cst = dir.join("config_sentence_transformers.json");
    std::fs::write(&cst, r#"{"max_active_dims": -3}"#).unwrap();
    let err = wgbert::SentenceConfig::from_dir(dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_active_dims must be a positive integer"),
        "{err}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn embed_sparse_prints_json_lines_and_refuses_what_it_cannot_do() {
    let g = golden();
    let m = data("tiny-splade");
    let m = m.to_str().unwrap();
    let items = g["tiny-splade"]["items"].as_array().unwrap();
    let texts: Vec<&str> = items[..2]
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    let mut args = vec!["embed", "--model", m, "--sparse", "--top-k", "3"];
    args.extend(&texts);
    let out = ok_stdout(&run_wgbert(&args));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, item) in lines.iter().zip(items) {
        // The three largest of sentence-transformers' weights, ids ascending, with their tokens.
        let mut want: Vec<(u64, f64, String)> = item["indices"]
            .as_array()
            .unwrap()
            .iter()
            .zip(item["values"].as_array().unwrap())
            .zip(item["tokens"].as_array().unwrap())
            .map(|((i, v), t)| {
                (
                    i.as_u64().unwrap(),
                    v.as_f64().unwrap(),
                    t.as_str().unwrap().to_string(),
                )
            })
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1));
        want.truncate(3);
        want.sort_by_key(|w| w.0);
        let ids: Vec<u64> = line["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>(), "{line}");
        for (j, w) in want.iter().enumerate() {
            assert!((line["values"][j].as_f64().unwrap() - w.1).abs() < 1e-5);
            assert_eq!(line["tokens"][j].as_str().unwrap(), w.2);
        }
    }
    let fails = |args: &[&str], needle: &str| {
        let o = run_wgbert(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    };
    fails(&["embed", "--model", m, "a"], "--sparse");
    fails(
        &[
            "embed",
            "--model",
            m,
            "--sparse",
            "--format",
            "npy",
            "-o",
            "/tmp/x.npy",
            "a",
        ],
        "JSON Lines",
    );
    fails(
        &["embed", "--model", m, "--sparse", "--pooling", "cls", "a"],
        "--pooling",
    );
    fails(&["embed", "--model", m, "--top-k", "3", "a"], "--sparse");
    let dense = data("tiny-st-dense");
    fails(
        &["embed", "--model", dense.to_str().unwrap(), "--sparse", "a"],
        "no masked-word head",
    );
}

#[test]
fn a_split_word_table_runs_the_vocabulary_gemm_piece_by_piece() {
    // 16 KiB bindings: RoBERTa's 1 056-row tied word table (135 KB) is uploaded in 9 pieces;
    // the decoder runs per piece (with the bias cut alike) and SPLADE folds each piece's
    // columns into place. Vectors and fill-mask logits must not change.
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 16 << 10,
        ..wgpu::Limits::default()
    };
    let split = engine(
        "tiny-splade-roberta",
        EngineOptions {
            gpu: wgbert::GpuOptions {
                limits: Some(limits),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    assert!(
        split.word_table_pieces() >= 8,
        "{}",
        split.word_table_pieces()
    );
    let g = golden();
    let gm = &g["tiny-splade-roberta"];
    let got = split
        .embed_sparse(&texts(gm), &EmbedOptions::default(), None)
        .unwrap();
    for (v, item) in got.iter().zip(gm["items"].as_array().unwrap()) {
        assert_sparse_matches(&format!("split {}", item["text"]), v, item, 1e-5);
    }
    let whole = engine("tiny-splade-roberta", EngineOptions::default());
    let inputs = [
        Input::from("the <mask> of france"),
        Input::from("a <mask> trial"),
    ];
    let a = split.fill_mask(&inputs, 5).unwrap();
    let b = whole.fill_mask(&inputs, 5).unwrap();
    for (x, y) in a
        .iter()
        .flatten()
        .flatten()
        .zip(b.iter().flatten().flatten())
    {
        assert_eq!(x.token, y.token);
        assert!((x.score - y.score).abs() < 1e-6);
    }
}

#[test]
fn old_gamma_beta_names_of_the_masked_word_head_are_read() {
    // Checkpoints converted from TensorFlow name LayerNorm parameters gamma and beta.
    let src = data("tiny-splade");
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let n = n
                .replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta");
            (n, v)
        })
        .collect();
    assert!(
        renamed
            .iter()
            .any(|(n, _)| n == "cls.predictions.transform.LayerNorm.gamma")
    );
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(
        tmp.path().join("model.safetensors"),
        safetensors::serialize(renamed, None).unwrap(),
    )
    .unwrap();
    // A bare *ForMaskedLM folder (no modules.json): max pooling of log(1 + relu), all weights.
    let old = Engine::from_dir(tmp.path(), EngineOptions::default()).unwrap();
    let new = engine("tiny-splade", EngineOptions::default());
    let inputs = [Input::from("a county fair")];
    let a = old
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    let b = new
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    assert_eq!(a, b);
}
