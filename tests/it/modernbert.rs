//! ModernBERT (`modernbert`) against transformers' own ModernBertModel in float64: tiny random
//! folders made offline by scripts/make_modernbert_models.py (goldens in
//! tests/data/modernbert_golden.json). One folder has ModernBERT-base's layout as
//! transformers 5 saves it (`layer_types`, `rope_parameters`) and is a sentence-transformers
//! folder; the other has every bias and the older keys (`global_rope_theta`, …). Local windows
//! of ±4 and ±3 keys, so the inputs cross them; one 2 040-token input.

use crate::common::*;
use serde_json::Value;
use std::sync::OnceLock;
use wgbert::kernels::Precision;
use wgbert::{Engine, EngineOptions, Input, Pooling};

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| load_golden("modernbert_golden.json"))
}

#[test]
fn modernbert_base_layout_matches_transformers() {
    check_arch_items(
        &golden()["tiny-modernbert"],
        &data("tiny-modernbert"),
        "tiny-modernbert",
        Precision::F32,
    );
}

#[test]
fn modernbert_biases_and_older_keys_match_transformers() {
    check_arch_items(
        &golden()["tiny-modernbert-bias"],
        &data("tiny-modernbert-bias"),
        "tiny-modernbert-bias",
        Precision::F32,
    );
}

#[test]
fn modernbert_at_f16_storage_stays_close() {
    for name in ["tiny-modernbert", "tiny-modernbert-bias"] {
        check_arch_items(&golden()[name], &data(name), name, Precision::F16);
    }
}

/// 2 040 tokens padded to 2 048: local layers see ±4 keys of 2 048, global ones all of them;
/// rows within 5e-5, the mean within 1e-5. (transformers takes the rotary angles in float32
/// even in a float64 model — up to 1.2e-4 rad off at position 2 000, where wgbert's table is
/// exact — and at this size that stays inside the tolerance.)
#[test]
fn modernbert_2040_token_input_matches_transformers() {
    for name in ["tiny-modernbert", "tiny-modernbert-bias"] {
        check_arch_long(&golden()[name], &data(name), name, 5e-5, 1e-5);
    }
}

/// The sentence-transformers folder pools and normalises as it says.
#[test]
fn modernbert_sentence_folder_pools_and_normalises() {
    let engine = Engine::from_dir(&data("tiny-modernbert"), EngineOptions::default()).unwrap();
    assert_eq!(engine.pooling(), Pooling::Mean);
    assert!(engine.normalize());
    assert!(!engine.has_pooler());
    let items = golden()["tiny-modernbert"]["items"].as_array().unwrap();
    let singles: Vec<&Value> = items.iter().filter(|i| i["pair"].is_null()).collect();
    let inputs: Vec<Input> = singles.iter().map(|i| arch_item_input(i)).collect();
    let got = engine.embed(&inputs).unwrap();
    for (item, v) in singles.iter().zip(&got) {
        assert_close("normalized", v, &f32s(&item["normalized"]), 1e-5, 0.0);
    }
}

/// ModernBERT's config values wgbert cannot honour are one-line errors naming the key.
#[test]
fn modernbert_config_errors_name_the_key() {
    let base = r#""model_type": "modernbert", "vocab_size": 90, "hidden_size": 32,
        "num_attention_heads": 4, "intermediate_size": 48"#;
    let cases = [
        (
            r#""local_attention": 0"#,
            "local_attention 0 must be positive",
        ),
        (
            r#""local_attention": -8"#,
            "local_attention -8 must be positive",
        ),
        (
            r#""global_attn_every_n_layers": 0"#,
            "global_attn_every_n_layers 0",
        ),
        (r#""global_rope_theta": 0"#, "rotary theta of layer 0 is 0"),
        (r#""local_rope_theta": -1"#, "rotary theta of layer 1 is -1"),
        (
            r#""layer_types": ["full_attention"]"#,
            "layer_types names 1 layers but num_hidden_layers is 2",
        ),
        (
            r#""layer_types": ["full_attention", "chunked_attention"]"#,
            "layer_types has \"chunked_attention\"",
        ),
        (
            r#""rope_parameters": {"full_attention": {"rope_type": "yarn", "rope_theta": 1.0}}"#,
            "rope_type \"yarn\" is not supported",
        ),
        (
            r#""rope_parameters": {"sliding_attention": {"rope_type": "default", "rope_theta": 0}}"#,
            "rotary theta of layer 1 is 0",
        ),
    ];
    for (extra, want) in cases {
        let text = format!(r#"{{{base}, "num_hidden_layers": 2, {extra}}}"#);
        let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{extra}: {e}");
        assert!(!e.contains('\n'), "{extra}: one line: {e}");
    }
    // The defaults are ModernBertConfig's: every third layer global (theta 160 000), the
    // rest local (theta 10 000, ±64 keys); no token types; eps 1e-5.
    let text = format!(r#"{{{base}, "num_hidden_layers": 4}}"#);
    let c = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), &text).unwrap();
    assert_eq!(c.modernbert_layer(0), (160_000.0, 0));
    assert_eq!(c.modernbert_layer(1), (10_000.0, 64));
    assert_eq!(c.modernbert_layer(3), (160_000.0, 0));
    assert_eq!(c.type_vocab_size, 1);
    assert_eq!(c.layer_norm_eps, 1e-5);
    assert_eq!(c.max_position_embeddings, 8192);
}

/// A ModernBERT folder missing a tensor names it and the architecture config.json names.
#[test]
fn modernbert_missing_tensor_names_the_architecture() {
    let e = load_error_without("tiny-modernbert", "final_norm.weight");
    assert!(
        e.contains("final_norm.weight is missing") && e.contains("ModernBERT"),
        "{e}"
    );
}
