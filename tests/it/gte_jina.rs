//! GTE ("new": gte-base-en-v1.5's layout) and JinaBERT v2 (jina-embeddings-v2's) against
//! independent float64 references written from their published modeling code (neither has a
//! transformers class): tiny random folders made offline by scripts/make_gte_jina_models.py,
//! goldens in tests/data/gte_golden.json and jina_golden.json. GTE: packed QKV, rotary with
//! fixed NTK scaling, [up; gate] block, no token types. Jina: ALiBi over 6 heads (slopes of a
//! non-power of two), geglu block with its own residual LayerNorm, token types.

use crate::common::*;
use wgbert::kernels::Precision;

fn check(file: &str, name: &str, precision: Precision) {
    let g = load_golden(file);
    check_arch_items(&g[name], &data(name), name, precision);
}

#[test]
fn gte_matches_the_float64_reference() {
    check("gte_golden.json", "tiny-gte", Precision::F32);
    check("gte_golden.json", "tiny-gte", Precision::F16);
}

#[test]
fn gte_2040_token_input_matches_the_float64_reference() {
    let g = load_golden("gte_golden.json");
    check_arch_long(&g["tiny-gte"], &data("tiny-gte"), "tiny-gte", 5e-5, 1e-5);
}

#[test]
fn jina_matches_the_float64_reference() {
    check("jina_golden.json", "tiny-jina", Precision::F32);
    check("jina_golden.json", "tiny-jina", Precision::F16);
}

#[test]
fn jina_2040_token_input_matches_the_float64_reference() {
    let g = load_golden("jina_golden.json");
    check_arch_long(&g["tiny-jina"], &data("tiny-jina"), "tiny-jina", 5e-5, 1e-5);
}

/// GTE's and Jina's config values wgbert cannot honour are one-line errors naming the key.
#[test]
fn gte_and_jina_config_errors_name_the_key() {
    let gte = r#""model_type": "new", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40"#;
    let jina = r#""model_type": "bert", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40,
        "position_embedding_type": "alibi""#;
    let cases = [
        (gte, r#""rope_theta": 0"#, "rope_theta 0 must be a positive"),
        (
            gte,
            r#""rope_scaling": {"type": "yarn", "factor": 2}"#,
            "rope_scaling type \"yarn\"",
        ),
        (
            gte,
            r#""rope_scaling": {"type": "ntk", "factor": 2, "mixed_b": 0.5}"#,
            "mixed_b",
        ),
        (
            gte,
            r#""rope_scaling": {"type": "ntk", "factor": -1}"#,
            "factor -1",
        ),
        (
            gte,
            r#""layer_norm_type": "rms_norm""#,
            "layer_norm_type \"rms_norm\"",
        ),
        (
            gte,
            r#""logn_attention_scale": true"#,
            "logn_attention_scale",
        ),
        (
            gte,
            r#""position_embedding_type": "alibi""#,
            "use rope or absolute",
        ),
        (
            jina,
            r#""feed_forward_type": "swiglu""#,
            "feed_forward_type \"swiglu\"",
        ),
        (
            jina,
            r#""hidden_act": "gelu""#,
            "feed_forward_type \"(missing)\"",
        ),
    ];
    for (base, extra, want) in cases {
        let text = format!("{{{base}, {extra}}}");
        let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{extra}: {e}");
        assert!(!e.contains('\n'), "{extra}: one line: {e}");
    }
    // A BERT config with another position type is refused, naming the ones it takes.
    let text = r#"{"model_type": "bert", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40,
        "position_embedding_type": "relative_key"}"#;
    let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"relative_key\" is not supported") && e.contains("absolute"),
        "{e}"
    );
}

/// A missing layer tensor names itself and the architecture config.json describes.
#[test]
fn gte_and_jina_missing_tensors_name_the_architecture() {
    for (name, tensor, arch) in [
        (
            "tiny-gte",
            "encoder.layer.0.mlp.up_gate_proj.weight",
            "GTE (new)",
        ),
        (
            "tiny-jina",
            "encoder.layer.1.mlp.gated_layers.weight",
            "JinaBERT",
        ),
    ] {
        let e = load_error_without(name, tensor);
        assert!(
            e.contains(&format!("{tensor} is missing")) && e.contains(arch),
            "{e}"
        );
    }
}
