//! BERT-family layouts against transformers itself: tiny random RoBERTa, XLM-R, CamemBERT,
//! DistilBERT and cross-encoder checkpoints (tests/data/family, made offline by
//! scripts/make_family_models.py with float64 goldens in tests/data/family_golden.json); the
//! model's own pooling from sentence-transformers folders; a 250 002-row XLM-R-shaped word
//! table split across storage bindings; a forced small binding limit; 1 024-token inputs.

use crate::common::*;
use serde_json::Value;
use std::sync::OnceLock;
use wgbert::{Engine, EngineOptions, GpuOptions, Input, Packed, Pooling, Request};

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        serde_json::from_str(&std::fs::read_to_string(data("family_golden.json")).unwrap()).unwrap()
    })
}

fn open(name: &str, opts: EngineOptions) -> Engine {
    Engine::from_dir(&data(&format!("family/{name}")), opts)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn item_input(item: &Value) -> Input {
    let a = item["text"].as_str().unwrap().to_string();
    match item["pair"].as_str() {
        Some(b) => Input::Pair(a, b.to_string()),
        None => Input::Single(a),
    }
}

fn ids_of(item: &Value) -> Vec<u32> {
    item["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

/// Token ids identical to the tokenizer's own (pairs included), sequence_output within 5e-5
/// at every position (padding too), pooled_output, mean embedding and logits within 1e-5.
fn check_against_transformers(name: &str) {
    let g = &golden()[name];
    let s = g["seq_len"].as_u64().unwrap() as usize;
    let engine = open(
        name,
        EngineOptions {
            seq_length: s,
            ..Default::default()
        },
    );
    let items = g["items"].as_array().unwrap();
    let inputs: Vec<Input> = items.iter().map(item_input).collect();
    let has_pooler = !items[0]["pooled_output"].is_null();
    assert_eq!(engine.has_pooler(), has_pooler, "{name}: pooler");
    let logits = !items[0]["logits"].is_null();
    let request = Request {
        mlm: false,
        nsp: false,
        sparse: None,
        multi_vector: false,
        token_weights: false,
        pooled_output: has_pooler,
        sequence_output: true,
        encoder_outputs: false,
        embedding: true,
        pooling: Pooling::Mean,
        normalize: false,
        logits,
    };
    let out = engine.encode(&inputs, Some(s), &request).unwrap();
    let pad = engine.config().pad_id() as u32;
    for (item, e) in items.iter().zip(&out) {
        let what = format!("{name} {:?}", item_input(item));
        let want_ids = ids_of(item);
        let n = want_ids.len();
        assert_eq!(&e.packed.input_word_ids[..n], &want_ids[..], "{what}: ids");
        assert!(
            e.packed.input_word_ids[n..].iter().all(|&i| i == pad),
            "{what}: padding is not {pad}"
        );
        assert_eq!(e.packed.len(), n, "{what}: mask");
        // (golden key, what we got, tolerance)
        let mut checks = vec![
            ("sequence_output", &e.sequence_output, 5e-5),
            ("mean", &e.embedding, 1e-5),
        ];
        if has_pooler {
            checks.push(("pooled_output", &e.pooled_output, 1e-5));
        }
        if logits {
            checks.push(("logits", &e.logits, 1e-5));
        }
        for (key, got, tol) in checks {
            assert_close(
                &format!("{what}: {key}"),
                got.as_ref().unwrap(),
                &f32s(&item[key]),
                tol,
                0.0,
            );
        }
    }
}

#[test]
fn roberta_matches_transformers() {
    check_against_transformers("tiny-roberta");
}

#[test]
fn xlm_roberta_matches_transformers() {
    check_against_transformers("tiny-xlmr");
}

#[test]
fn camembert_matches_transformers() {
    check_against_transformers("tiny-camembert");
}

#[test]
fn distilbert_matches_transformers_and_has_no_pooler() {
    check_against_transformers("tiny-distilbert");
    let engine = open("tiny-distilbert", EngineOptions::default());
    let e = engine
        .encode(&[Input::from("hello")], Some(16), &Request::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no pooler"), "{e}");
    let e = engine
        .embed_with(&[Input::from("hello")], Pooling::Pooler, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no pooler"), "{e}");
    // Its sequence-classification head (pre_classifier + ReLU + classifier) runs too.
    let p = engine.classify(&[Input::from("nice movie")]).unwrap();
    assert_eq!(p[0].len(), 2);
}

#[test]
fn cross_encoders_match_transformers() {
    check_against_transformers("tiny-rerank-bert");
    check_against_transformers("tiny-rerank-xlmr");
}

#[test]
fn the_model_s_own_special_tokens_are_used() {
    let e = open("tiny-xlmr", EngineOptions::default());
    let p = e
        .preprocess(&[Input::from(("a b", "c"))], Some(16))
        .unwrap()
        .remove(0);
    let toks = &p.tokens;
    assert_eq!(toks.first().map(String::as_str), Some("<s>"), "{toks:?}");
    assert_eq!(toks.last().map(String::as_str), Some("</s>"), "{toks:?}");
    assert_eq!(toks.iter().filter(|t| *t == "</s>").count(), 3, "{toks:?}");
    assert_eq!(
        p.input_word_ids[p.len()..].iter().max(),
        Some(&1),
        "pads are <pad>=1"
    );
    // A pair needs 4 special tokens here: seq_length 3 is refused with the number.
    let err = e
        .preprocess(&[Input::from(("a", "b"))], Some(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 special tokens"), "{err}");
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| (x * x) as f64).sum::<f64>().sqrt() as f32;
    v.iter().map(|x| x / n).collect()
}

#[test]
fn sentence_transformers_folders_embed_as_they_say() {
    // tiny-st-cls: CLS pooling + Normalize, max_seq_length 20 (tiny-xlmr's weights).
    let e = open("tiny-st-cls", EngineOptions::default());
    assert_eq!(e.pooling(), Pooling::Cls);
    assert!(e.normalize());
    assert_eq!(e.embed_seq_length(), 20);
    let items = golden()["tiny-xlmr"]["items"].as_array().unwrap();
    let singles: Vec<&Value> = items.iter().filter(|i| ids_of(i).len() <= 20).collect();
    assert!(singles.len() >= 2);
    let inputs: Vec<Input> = singles.iter().map(|i| item_input(i)).collect();
    let got = e.embed(&inputs).unwrap();
    for (v, item) in got.iter().zip(&singles) {
        assert_close("st-cls", v, &normalized(&f32s(&item["cls"])), 1e-5, 0.0);
    }
    // Flags override the folder.
    let e = open(
        "tiny-st-cls",
        EngineOptions {
            pooling: Some(Pooling::Mean),
            normalize: Some(false),
            ..Default::default()
        },
    );
    let got = e.embed(&inputs).unwrap();
    assert_close(
        "st-cls as mean",
        &got[0],
        &f32s(&singles[0]["mean"]),
        1e-5,
        0.0,
    );

    // tiny-st-sqrt: mean_sqrt_len pooling, no Normalize module (tiny-roberta's weights).
    let e = open("tiny-st-sqrt", EngineOptions::default());
    assert_eq!(e.pooling(), Pooling::MeanSqrtLen);
    assert!(!e.normalize());
    let items = golden()["tiny-roberta"]["items"].as_array().unwrap();
    let inputs: Vec<Input> = items.iter().map(item_input).collect();
    let got = e.embed(&inputs).unwrap();
    for (v, item) in got.iter().zip(items) {
        assert_close("st-sqrt", v, &f32s(&item["sqrt_len"]), 1e-5, 0.0);
    }
    // A folder without modules.json: mean + L2.
    let e = open("tiny-roberta", EngineOptions::default());
    assert_eq!((e.pooling(), e.normalize()), (Pooling::Mean, true));
}

#[test]
fn a_module_wgbert_cannot_run_is_refused_by_embed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = data("family/tiny-st-cls");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
    ] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::create_dir_all(tmp.path().join("1_Pooling")).unwrap();
    std::fs::copy(
        src.join("1_Pooling/config.json"),
        tmp.path().join("1_Pooling/config.json"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
            {"idx":2,"name":"2","path":"2_LayerNorm","type":"sentence_transformers.models.LayerNorm"}]"#,
    )
    .unwrap();
    let e = Engine::from_dir(tmp.path(), EngineOptions::default()).unwrap();
    let err = e.embed(&[Input::from("hi")]).unwrap_err().to_string();
    assert!(
        err.contains("LayerNorm") && err.contains("2_LayerNorm"),
        "{err}"
    );
    // Two pooling modes at once are a clear error at load.
    std::fs::write(
        tmp.path().join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
    )
    .unwrap();
    let err = Engine::from_dir(tmp.path(), EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("2 pooling modes"), "{err}");
}

/// The word table split across bindings, forced on the tiny XLM-R with a 16 KiB binding limit
/// (its f32 table becomes 3 pieces), must give transformers' outputs.
#[test]
fn a_small_binding_limit_splits_the_word_table() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 16 << 10,
        ..wgpu::Limits::default()
    };
    let g = &golden()["tiny-xlmr"];
    let s = g["seq_len"].as_u64().unwrap() as usize;
    let engine = open(
        "tiny-xlmr",
        EngineOptions {
            gpu: GpuOptions {
                limits: Some(limits),
                ..Default::default()
            },
            seq_length: s,
            ..Default::default()
        },
    );
    let (v, h) = (engine.config().vocab_size, engine.config().hidden_size);
    let rows_per_piece = (16 << 10) / (h * 4);
    assert_eq!(engine.word_table_pieces(), v.div_ceil(rows_per_piece));
    assert!(
        engine.word_table_pieces() >= 3,
        "{}",
        engine.word_table_pieces()
    );
    let items = g["items"].as_array().unwrap();
    let inputs: Vec<Input> = items.iter().map(item_input).collect();
    let request = Request {
        pooled_output: true,
        sequence_output: true,
        embedding: true,
        normalize: false,
        ..Default::default()
    };
    let out = engine.encode(&inputs, Some(s), &request).unwrap();
    for (item, e) in items.iter().zip(&out) {
        assert_close(
            "split: sequence_output",
            e.sequence_output.as_ref().unwrap(),
            &f32s(&item["sequence_output"]),
            5e-5,
            0.0,
        );
        assert_close(
            "split: pooled_output",
            e.pooled_output.as_ref().unwrap(),
            &f32s(&item["pooled_output"]),
            1e-5,
            0.0,
        );
    }
}

/// splitmix64 of (tensor index << 40) + flat index → k in [-1019, 1019]; the values of
/// scripts/make_family_models.py's `weight_value`.
fn weight_value(t: u64, i: u64, kind: &str) -> f32 {
    let mut z = ((t << 40) + i).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let k = (z % 2039) as i64 - 1019;
    match kind {
        "word" => k as f32 / 1024.0,
        "ln" => 1.0 + k as f32 / 16384.0,
        _ => k as f32 / 16384.0,
    }
}

/// A 250 002 × 144 word table (144 MB as f32) is above a 128 MiB storage binding: it loads,
/// is split, and gives transformers' outputs for ids from every piece.
#[test]
fn a_250k_row_xlm_r_table_loads_under_a_128_mib_binding() {
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("xlmr_big_golden.json")).unwrap())
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (t, spec) in g["tensors"].as_array().unwrap().iter().enumerate() {
        let shape: Vec<usize> = spec["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let n: usize = shape.iter().product();
        let kind = spec["kind"].as_str().unwrap();
        let mut bytes = Vec::with_capacity(n * 4);
        for i in 0..n {
            bytes.extend_from_slice(&weight_value(t as u64, i as u64, kind).to_le_bytes());
        }
        tensors.push((spec["name"].as_str().unwrap().to_string(), shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &tmp.path().join("model.safetensors")).unwrap();
    drop(tensors);
    std::fs::write(
        tmp.path().join("config.json"),
        serde_json::to_string(&g["config"]).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        data("family/tiny-xlmr/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();

    // This machine's lavapipe binds 128 MiB; hold any adapter to that.
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 128 << 20,
        max_buffer_size: 256 << 20,
        ..wgpu::Limits::default()
    };
    let engine = Engine::from_dir(
        tmp.path(),
        EngineOptions {
            gpu: GpuOptions {
                limits: Some(limits),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(engine.config().vocab_size, 250_002);
    assert!(
        engine.word_table_pieces() >= 2,
        "{}",
        engine.word_table_pieces()
    );
    let s = g["seq_len"].as_u64().unwrap() as usize;
    let h = engine.config().hidden_size;
    let packed: Vec<Packed> = g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let ids = ids_of(item);
            let n = ids.len();
            let mut word = ids.clone();
            word.resize(s, 1);
            Packed {
                input_word_ids: word,
                input_mask: (0..s).map(|i| (i < n) as u32).collect(),
                input_type_ids: vec![0; s],
                tokens: vec![String::new(); n],
                offsets: vec![(0, 0); n],
                special: vec![false; n],
            }
        })
        .collect();
    let request = Request {
        pooled_output: true,
        sequence_output: true,
        embedding: true,
        normalize: false,
        ..Default::default()
    };
    let out = engine.encode_packed(packed, &request).unwrap();
    for (item, e) in g["items"].as_array().unwrap().iter().zip(&out) {
        let n = ids_of(item).len();
        assert_close(
            "big: sequence_output",
            &e.sequence_output.as_ref().unwrap()[..n * h],
            &f32s(&item["sequence_output"]),
            5e-5,
            0.0,
        );
        assert_close(
            "big: pooled_output",
            e.pooled_output.as_ref().unwrap(),
            &f32s(&item["pooled_output"]),
            1e-5,
            0.0,
        );
        assert_close(
            "big: mean",
            e.embedding.as_ref().unwrap(),
            &f32s(&item["mean"]),
            1e-5,
            0.0,
        );
    }
}

/// 1 024 tokens through a random model with 1 030 positions, against the CPU reference.
#[test]
fn a_1024_token_input_matches_the_reference() {
    let config = wgbert::BertConfig {
        vocab_size: 500,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 40,
        max_position_embeddings: 1030,
        ..Default::default()
    };
    let weights = wgbert::BertWeights::random(&config, 7);
    let ctx = std::sync::Arc::new(wgbert::GpuContext::new(&Default::default()).unwrap());
    let engine = Engine::from_parts(
        ctx,
        config.clone(),
        &weights,
        None,
        EngineOptions {
            seq_length: 1024,
            ..Default::default()
        },
    )
    .unwrap();
    let s = 1024;
    let n = 1000; // real tokens; the rest is padding
    let ids: Vec<u32> = (0..s)
        .map(|i| if i < n { (i as u32 * 7919) % 500 } else { 0 })
        .collect();
    let types: Vec<u32> = (0..s).map(|i| (i >= n / 2 && i < n) as u32).collect();
    let mask: Vec<u32> = (0..s).map(|i| (i < n) as u32).collect();
    let packed = Packed {
        input_word_ids: ids.clone(),
        input_mask: mask.clone(),
        input_type_ids: types.clone(),
        tokens: vec![String::new(); n],
        offsets: vec![(0, 0); n],
        special: vec![false; n],
    };
    let request = Request {
        pooled_output: true,
        sequence_output: true,
        embedding: false,
        ..Default::default()
    };
    let out = engine.encode_packed(vec![packed], &request).unwrap();
    let want = wgbert::reference::forward(&config, &weights, &ids, &types, &mask, 1, s);
    assert_close(
        "1024 tokens: sequence_output",
        out[0].sequence_output.as_ref().unwrap(),
        &want.sequence_output,
        1e-4,
        1e-4,
    );
    assert_close(
        "1024 tokens: pooled_output",
        out[0].pooled_output.as_ref().unwrap(),
        want.pooled_output.as_ref().unwrap(),
        1e-4,
        1e-4,
    );
}

/// `Engine::rerank` gives transformers' logit for each (query, document) pair, and
/// `wgbert rerank` prints the documents best first with sigmoid scores.
#[test]
fn cross_encoders_rerank() {
    for name in ["tiny-rerank-bert", "tiny-rerank-xlmr"] {
        let items = golden()[name]["items"].as_array().unwrap();
        let pairs: Vec<&Value> = items.iter().filter(|i| !i["pair"].is_null()).collect();
        assert_eq!(pairs.len(), 2);
        let engine = open(name, EngineOptions::default());
        for item in &pairs {
            let q = item["text"].as_str().unwrap();
            let doc = item["pair"].as_str().unwrap().to_string();
            let got = engine.rerank(q, &[doc], None).unwrap();
            let want = f32s(&item["logits"])[0];
            assert!((got[0] - want).abs() < 1e-5, "{name}: {} vs {want}", got[0]);
        }
        // The CLI: one query against both documents, best first, sigmoid scores.
        let q = pairs[0]["text"].as_str().unwrap();
        let docs = [
            pairs[0]["pair"].as_str().unwrap(),
            pairs[1]["pair"].as_str().unwrap(),
        ];
        let dir = data(&format!("family/{name}"));
        let out = ok_stdout(&run_wgbert(&[
            "rerank",
            "--model",
            dir.to_str().unwrap(),
            "--format",
            "jsonl",
            q,
            docs[0],
            docs[1],
        ]));
        let rows: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 2, "{out}");
        assert!(
            rows[0]["score"].as_f64() >= rows[1]["score"].as_f64(),
            "{out}"
        );
        let first = rows.iter().find(|r| r["index"] == 0).unwrap();
        assert_eq!(first["text"], docs[0]);
        let z = f32s(&pairs[0]["logits"])[0] as f64;
        let want = 1.0 / (1.0 + (-z).exp());
        assert!(
            (first["score"].as_f64().unwrap() - want).abs() < 1e-5,
            "{name}: {first} vs {want}"
        );
    }
    // A model without a one-label head cannot rerank: a clear error.
    let o = run_wgbert(&[
        "rerank",
        "--model",
        data("family/tiny-xlmr").to_str().unwrap(),
        "q",
        "d",
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("cannot rerank"), "{e}");
    let o = run_wgbert(&[
        "rerank",
        "--model",
        data("family/tiny-distilbert").to_str().unwrap(),
        "q",
        "d",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("2 labels"), "{e}");
}

/// `preprocess` shows the model's own special tokens; `info` the model's pooling.
#[test]
fn cli_shows_the_model_s_own_tokens_and_pooling() {
    let dir = data("family/tiny-xlmr");
    let out = ok_stdout(&run_wgbert(&[
        "preprocess",
        "--model",
        dir.to_str().unwrap(),
        "--seq-len",
        "16",
        "a b ||| c",
    ]));
    assert!(
        out.contains("template: <s>=0 A </s>=2 </s>=2 B </s>=2; padding id 1"),
        "{out}"
    );
    assert!(out.contains("x 1"), "{out}");
    let dir = data("family/tiny-st-cls");
    let out = ok_stdout(&run_wgbert(&["info", "--model", dir.to_str().unwrap()]));
    assert!(
        out.contains("embedding    cls pooling, L2-normalised, max_seq_length 20 (modules.json)"),
        "{out}"
    );
    assert!(out.contains("xlm-roberta"), "{out}");
}
