//! Bad model folders give errors that name the file, the tensor and the fix — never a panic.

use crate::common::{ConfigEdit, Raw, data, tiny_config, tiny_raw, write_model};
use safetensors::Dtype;
use std::path::Path;
use wgbert::{Engine, EngineOptions, Error, Input, Request};

fn load(dir: &Path) -> Result<Engine, Error> {
    Engine::from_dir(
        dir,
        EngineOptions {
            seq_length: 16,
            ..Default::default()
        },
    )
}

fn load_err(dir: &Path) -> String {
    match load(dir) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_folder_names_the_fetch_script() {
    let e = load_err(Path::new("/nonexistent/model"));
    assert!(e.contains("scripts/fetch-model.sh"), "{e}");
}

#[test]
fn missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("config.json"), "{e}");
    std::fs::write(
        tmp.path().join("config.json"),
        serde_json::to_string(&tiny_config()).unwrap(),
    )
    .unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("tokenizer.json"), "{e}");
    std::fs::copy(
        data("tiny-bert/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("model.safetensors"), "{e}");
}

#[test]
fn bad_configs() {
    let raw = tiny_raw();
    let cases: Vec<(&str, ConfigEdit, &str)> = vec![
        (
            "act",
            Box::new(|c| c["hidden_act"] = "mish".into()),
            "hidden_act \"mish\" is not supported",
        ),
        (
            "type",
            Box::new(|c| c["model_type"] = "t5".into()),
            "model_type \"t5\" is not supported; wgbert runs these BERT-family model types: bert, roberta, xlm-roberta, camembert, distilbert",
        ),
        (
            "heads",
            Box::new(|c| c["num_attention_heads"] = 7.into()),
            "not a multiple of num_attention_heads",
        ),
        (
            "pos",
            Box::new(|c| c["position_embedding_type"] = "relative_key".into()),
            "position_embedding_type",
        ),
        (
            "missing",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("hidden_size");
            }),
            "hidden_size",
        ),
    ];
    for (name, edit, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = tiny_config();
        edit(&mut cfg);
        write_model(tmp.path(), &raw, &cfg);
        let e = load_err(tmp.path());
        assert!(e.contains(want) && e.contains("config.json"), "{name}: {e}");
    }
    let tmp = tempfile::tempdir().unwrap();
    write_model(tmp.path(), &raw, &tiny_config());
    std::fs::write(tmp.path().join("config.json"), "{ not json").unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("not a valid BERT-family config.json"), "{e}");
}

#[test]
fn wrong_shape_names_tensor_and_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    let t = raw
        .get_mut("bert.encoder.layer.1.intermediate.dense.weight")
        .unwrap();
    t.1 = vec![60, 90]; // transposed
    write_model(tmp.path(), &raw, &tiny_config());
    let e = load_err(tmp.path());
    assert!(
        e.contains("encoder.layer.1.intermediate.dense.weight")
            && e.contains("[60, 90]")
            && e.contains("[90, 60]"),
        "{e}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    raw.remove("bert.encoder.layer.0.attention.self.key.bias");
    write_model(tmp.path(), &raw, &tiny_config());
    let e = load_err(tmp.path());
    assert!(
        e.contains("encoder.layer.0.attention.self.key.bias is missing"),
        "{e}"
    );
}

#[test]
fn integer_weights_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    let t = raw.get_mut("bert.embeddings.LayerNorm.bias").unwrap();
    *t = (Dtype::I64, vec![60], vec![0u8; 60 * 8]);
    write_model(tmp.path(), &raw, &tiny_config());
    let e = load_err(tmp.path());
    assert!(
        e.contains("embeddings.LayerNorm.bias")
            && e.contains("I64")
            && e.contains("F32, F16 and BF16"),
        "{e}"
    );
}

#[test]
fn nan_weights_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    let t = raw.get_mut("bert.pooler.dense.bias").unwrap();
    t.2[4..6].copy_from_slice(&half::f16::NAN.to_le_bytes());
    write_model(tmp.path(), &raw, &tiny_config());
    let e = load_err(tmp.path());
    assert!(
        e.contains("pooler.dense.bias") && e.contains("non-finite"),
        "{e}"
    );
}

#[test]
fn truncated_and_corrupt_files() {
    let tmp = tempfile::tempdir().unwrap();
    write_model(tmp.path(), &tiny_raw(), &tiny_config());
    let p = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("truncated or corrupt"), "{e}");
    let mut bad = bytes.clone();
    bad[8..16].copy_from_slice(b"{{{{{{{{");
    std::fs::write(&p, &bad).unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("not a valid safetensors file"), "{e}");
}

#[test]
fn bf16_and_f32_weights_load_and_agree_with_f16() {
    let raw = tiny_raw();
    let to = |dt: Dtype| -> Raw {
        raw.iter()
            .map(|(n, (_, s, b))| {
                let vals: Vec<f32> = b
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect();
                let bytes: Vec<u8> = match dt {
                    Dtype::F32 => vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    _ => vals
                        .iter()
                        .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
                        .collect(),
                };
                (
                    n.strip_prefix("bert.").unwrap_or(n).to_string(),
                    (dt, s.clone(), bytes),
                )
            })
            .collect()
    };
    let text = [Input::from("dtype check")];
    let req = Request {
        sequence_output: true,
        ..Default::default()
    };
    let ref_e = load(&data("tiny-bert"))
        .unwrap()
        .encode(&text, None, &req)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write_model(tmp.path(), &to(Dtype::F32), &tiny_config());
    let f32_e = load(tmp.path()).unwrap().encode(&text, None, &req).unwrap();
    assert_eq!(
        f32_e[0].sequence_output, ref_e[0].sequence_output,
        "F32 copy of F16 weights, unprefixed names"
    );
    let tmp2 = tempfile::tempdir().unwrap();
    write_model(tmp2.path(), &to(Dtype::BF16), &tiny_config());
    let bf = load(tmp2.path())
        .unwrap()
        .encode(&text, None, &req)
        .unwrap();
    let d = wgbert::reference::max_abs_diff(
        bf[0].pooled_output.as_ref().unwrap(),
        ref_e[0].pooled_output.as_ref().unwrap(),
    )
    .0;
    assert!(
        d < 0.2,
        "bf16 rounding should move outputs only a little, moved {d}"
    );
}

#[test]
fn no_pooler_means_no_pooled_output_but_the_rest_works() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    raw.remove("bert.pooler.dense.weight");
    raw.remove("bert.pooler.dense.bias");
    write_model(tmp.path(), &raw, &tiny_config());
    let e = load(tmp.path()).unwrap();
    assert!(!e.has_pooler());
    let err = e
        .encode(&[Input::from("x")], None, &Request::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no pooler"), "{err}");
    let req = Request {
        pooled_output: false,
        sequence_output: true,
        ..Default::default()
    };
    let out = e.encode(&[Input::from("x")], None, &req).unwrap();
    assert!(out[0].embedding.is_some() && out[0].sequence_output.is_some());
}

#[test]
fn vocabulary_beyond_the_embedding_table() {
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    let t = raw
        .get_mut("bert.embeddings.word_embeddings.weight")
        .unwrap();
    t.1 = vec![1000, 60];
    t.2.truncate(1000 * 60 * 2);
    let mut cfg = tiny_config();
    cfg["vocab_size"] = 1000.into();
    write_model(tmp.path(), &raw, &cfg);
    let e = load(tmp.path()).unwrap();
    let err = e
        .encode(&[Input::from("wonderful")], None, &Request::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("outside the embedding table") && err.contains("vocab_size 1000"),
        "{err}"
    );
}

#[test]
fn seq_length_above_max_positions() {
    let e = load(&data("tiny-bert")).unwrap();
    let err = e
        .encode(&[Input::from("x")], Some(65), &Request::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("64 tokens (max_position_embeddings 64)"),
        "{err}"
    );
    let err = Engine::from_dir(
        &data("tiny-bert"),
        EngineOptions {
            seq_length: 100,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("max_position_embeddings"), "{err}");
}
