//! MPNet (`mpnet`) against transformers' own MPNetModel in float64: a tiny random folder made
//! offline by scripts/make_mpnet_models.py (goldens in tests/data/mpnet_golden.json) with
//! all-mpnet-base-v2's layout — RoBERTa positions, no token types, 32 relative-position buckets
//! (max distance 128) shared by the layers, a pooler — as a sentence-transformers folder.

use crate::common::*;
use serde_json::Value;
use std::sync::OnceLock;
use wgbert::kernels::Precision;
use wgbert::{Engine, EngineOptions, Input, Pooling};

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| load_golden("mpnet_golden.json"))
}

#[test]
fn mpnet_matches_transformers_singles_pairs_and_padding() {
    let g = &golden()["tiny-mpnet"];
    check_arch_items(g, &data("tiny-mpnet"), "tiny-mpnet", Precision::F32);
    check_arch_items(g, &data("tiny-mpnet"), "tiny-mpnet", Precision::F16);
}

/// 510 tokens: offsets far past the last bucket boundary (128), positions to 511.
#[test]
fn mpnet_510_token_input_matches_transformers() {
    check_arch_long(
        &golden()["tiny-mpnet"],
        &data("tiny-mpnet"),
        "tiny-mpnet",
        5e-5,
        1e-5,
    );
}

/// The sentence-transformers folder pools and normalises as all-mpnet-base-v2's does.
#[test]
fn mpnet_sentence_folder_pools_and_normalises() {
    let engine = Engine::from_dir(&data("tiny-mpnet"), EngineOptions::default()).unwrap();
    assert_eq!(engine.pooling(), Pooling::Mean);
    assert!(engine.normalize());
    let items = golden()["tiny-mpnet"]["items"].as_array().unwrap();
    let inputs: Vec<Input> = items.iter().map(arch_item_input).collect();
    let got = engine.embed(&inputs).unwrap();
    for (item, v) in items.iter().zip(&got) {
        assert_close("normalized", v, &f32s(&item["normalized"]), 1e-5, 0.0);
    }
}

/// transformers' buckets (T5's bidirectional scheme, the logarithm in f32), spot-checked
/// against values computed by `MPNetAttention.relative_position_bucket`; and the ALiBi slopes
/// of the paper for powers of two and not.
#[test]
fn relative_buckets_and_alibi_slopes_are_the_published_ones() {
    use wgbert::arch::{alibi_slopes, relative_position_bucket as bucket};
    // relative_position = key − query; (value, bucket) for num_buckets 32, max_distance 128.
    for (rel, want) in [
        (0, 0),
        (1, 17),
        (-1, 1),
        (7, 23),
        (-7, 7),
        (8, 24),
        (-8, 8),
        (12, 25),
        (-20, 10),
        (127, 31),
        (-128, 15),
        (-1000, 15),
        (5000, 31),
    ] {
        assert_eq!(bucket(rel, 32, 128), want, "bucket of {rel}");
    }
    let s8 = alibi_slopes(8);
    let want8: Vec<f64> = (1..=8).map(|i| 2f64.powi(-i)).collect();
    for (a, b) in s8.iter().zip(&want8) {
        assert!((a - b).abs() < 1e-15, "{s8:?}");
    }
    // 12 heads: the 8 of a power of two, then every other one of 16's.
    let s12 = alibi_slopes(12);
    assert_eq!(s12.len(), 12);
    let s16 = alibi_slopes(16);
    assert_eq!(&s12[..8], &s8[..]);
    assert_eq!(&s12[8..], &[s16[0], s16[2], s16[4], s16[6]][..]);
}

/// An MPNet config with too few buckets is a one-line error; a missing relative bias names
/// the tensor and the architecture.
#[test]
fn mpnet_errors_name_the_key_and_the_tensor() {
    let text = r#"{"model_type": "mpnet", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40,
        "relative_attention_num_buckets": 0}"#;
    let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("relative_attention_num_buckets 0"), "{e}");
    let e = load_error_without("tiny-mpnet", "encoder.relative_attention_bias.weight");
    assert!(
        e.contains("encoder.relative_attention_bias.weight is missing") && e.contains("MPNet"),
        "{e}"
    );
}
