//! NomicBERT (`nomic_bert`) against an independent float64 reference written from its
//! published modeling code (transformers has no class for it): tiny random folders made
//! offline by scripts/make_nomic_models.py, goldens in tests/data/nomic_golden.json. One
//! folder has nomic-embed-text-v1.5's layout (swiglu, no biases, whole-head rotary) as a
//! sentence-transformers folder with its prompts; the other takes the other branches (geglu,
//! biases, half-head rotary, dynamic NTK scaling). Also the architecture seam itself: the
//! graph-driven CPU reference against the hand-written BERT one, and Nomic's config refusals.

use crate::common::*;
use serde_json::Value;
use std::sync::OnceLock;
use wgbert::kernels::Precision;
use wgbert::{EmbedOptions, Engine, EngineOptions, Input, Pooling, Request};

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| load_golden("nomic_golden.json"))
}

fn open(name: &str, opts: EngineOptions) -> Engine {
    Engine::from_dir(&data(name), opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check_items(name: &str, precision: Precision) {
    check_arch_items(&golden()[name], &data(name), name, precision);
}

#[test]
fn nomic_v15_layout_matches_the_float64_reference() {
    check_items("tiny-nomic", Precision::F32);
}

#[test]
fn nomic_geglu_biases_partial_rotary_and_ntk_match_the_float64_reference() {
    check_items("tiny-nomic-ntk", Precision::F32);
}

#[test]
fn nomic_at_f16_storage_stays_close() {
    check_items("tiny-nomic", Precision::F16);
    check_items("tiny-nomic-ntk", Precision::F16);
}

/// One 2 040-token input padded to 2 048 (NTK scaling active in the second model): rows
/// across the sequence within 5e-5, the mean within 1e-5.
#[test]
fn nomic_2040_token_input_matches_the_float64_reference() {
    for name in ["tiny-nomic", "tiny-nomic-ntk"] {
        check_arch_long(&golden()[name], &data(name), name, 5e-5, 1e-5);
    }
}

/// The sentence-transformers folder: mean pooling + Normalize as the folder says, and the
/// nomic prompts (`search_query: `) prepended by name.
#[test]
fn nomic_sentence_folder_pools_normalises_and_prompts() {
    let g = &golden()["tiny-nomic"];
    let engine = open("tiny-nomic", EngineOptions::default());
    assert_eq!(engine.pooling(), Pooling::Mean);
    assert!(engine.normalize());
    let items = g["items"].as_array().unwrap();
    let singles: Vec<&Value> = items.iter().filter(|i| i["pair"].is_null()).collect();
    let inputs: Vec<Input> = singles.iter().map(|i| arch_item_input(i)).collect();
    let got = engine.embed(&inputs).unwrap();
    for (item, v) in singles.iter().zip(&got) {
        assert_close("normalized", v, &f32s(&item["normalized"]), 1e-5, 0.0);
    }
    let text = "what is the capital of france?";
    let by_name = engine
        .embed_opts(
            &[Input::from(text)],
            &EmbedOptions {
                prompt_name: Some("query".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let spelled = engine
        .embed(&[Input::from(format!("search_query: {text}").as_str())])
        .unwrap();
    assert_close("prompt", &by_name[0], &spelled[0], 1e-6, 0.0);
    let plain = engine.embed(&[Input::from(text)]).unwrap();
    assert!(
        cosine(&plain[0], &by_name[0]) < 0.9999,
        "the prompt changed nothing"
    );
}

/// The seam: for BERT the graph-driven reference equals the hand-written one (both f64 sums,
/// f32 between ops), and on the GPU a random NomicBERT-shaped model (every op kind: rotary,
/// the gated epilogue, zero biases) matches the graph-driven reference.
#[test]
fn graph_reference_agrees_with_hand_written_bert_and_the_gpu_on_nomic() {
    let bert = wgbert::BertConfig {
        vocab_size: 90,
        hidden_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 3,
        intermediate_size: 40,
        max_position_embeddings: 32,
        ..Default::default()
    };
    let w = wgbert::BertWeights::random(&bert, 3);
    let (batch, seq) = (2, 9);
    let ids: Vec<u32> = (0..batch * seq).map(|i| (i as u32 * 37) % 90).collect();
    let types: Vec<u32> = (0..batch * seq).map(|i| (i % seq > 4) as u32).collect();
    let mask: Vec<u32> = (0..batch * seq)
        .map(|i| (i < seq || i % seq < 6) as u32)
        .collect();
    let a = wgbert::reference::forward(&bert, &w, &ids, &types, &mask, batch, seq);
    let b = wgbert::reference::forward_graph(&bert, &w, &ids, &types, &mask, batch, seq);
    assert_close(
        "bert: graph vs hand-written",
        &b.sequence_output,
        &a.sequence_output,
        1e-6,
        0.0,
    );

    let nomic: wgbert::BertConfig = wgbert::BertConfig::from_json(
        std::path::Path::new("config.json"),
        r#"{"model_type": "nomic_bert", "vocab_size": 90, "n_embd": 48, "n_head": 4,
            "n_layer": 2, "n_inner": 100, "n_positions": 64, "activation_function": "swiglu",
            "rotary_emb_fraction": 0.5, "rotary_emb_base": 500, "qkv_proj_bias": false,
            "mlp_fc1_bias": false, "mlp_fc2_bias": true, "layer_norm_epsilon": 1e-5}"#,
    )
    .unwrap();
    assert_eq!(
        nomic.intermediate_size, 256,
        "gated n_inner rounds up to 256"
    );
    let w = wgbert::BertWeights::random(&nomic, 4);
    let ctx = std::sync::Arc::new(wgbert::GpuContext::new(&Default::default()).unwrap());
    let engine = Engine::from_parts(
        ctx,
        nomic.clone(),
        &w,
        None,
        EngineOptions {
            seq_length: seq,
            ..Default::default()
        },
    )
    .unwrap();
    let req = Request {
        sequence_output: true,
        embedding: false,
        ..Default::default()
    };
    let got = engine.run(batch, seq, &ids, &types, &mask, &req).unwrap();
    let want = wgbert::reference::forward_graph(&nomic, &w, &ids, &types, &mask, batch, seq);
    assert_close(
        "nomic random: GPU vs graph reference",
        got.sequence_output.as_ref().unwrap(),
        &want.sequence_output,
        5e-5,
        0.0,
    );
}

/// Nomic's config values wgbert cannot honour are one-line errors naming the key.
#[test]
fn nomic_config_errors_name_the_key() {
    let base = r#""model_type": "nomic_bert", "vocab_size": 90, "n_embd": 48,
        "n_layer": 2, "n_inner": 256, "n_positions": 64, "rotary_emb_fraction": 1.0"#;
    let cases = [
        (
            r#""rotary_emb_base": 0"#,
            "rotary_emb_base 0 must be a positive",
        ),
        (
            r#""rotary_emb_base": -5"#,
            "rotary_emb_base -5 must be a positive",
        ),
        (
            r#""rotary_emb_interleaved": true"#,
            "rotary_emb_interleaved",
        ),
        (r#""rotary_emb_scale_base": 512"#, "xPos"),
        (r#""prenorm": true"#, "prenorm"),
        (r#""causal": true"#, "causal"),
        (r#""rotary_scaling_factor": 0"#, "rotary_scaling_factor 0"),
        (r#""n_head": 5"#, "not a multiple of num_attention_heads 5"),
        (
            r#""activation_function": "tanh""#,
            "hidden_act \"tanh\" is not supported",
        ),
    ];
    for (extra, want) in cases {
        // The keys a case overrides are not repeated (serde refuses duplicate keys).
        let mut text = format!("{{{base}, {extra}");
        for (key, value) in [("n_head", "4"), ("activation_function", "\"swiglu\"")] {
            if !extra.contains(key) {
                text += &format!(r#", "{key}": {value}"#);
            }
        }
        text += "}";
        let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{extra}: {e}");
        assert!(!e.contains('\n'), "{extra}: one line: {e}");
    }
    // Rotating an odd number of values: half of a 6-wide head is 3.
    let text = r#"{"model_type": "nomic_bert", "vocab_size": 90, "n_embd": 24, "n_head": 4,
        "n_layer": 1, "n_inner": 256, "activation_function": "swiglu", "rotary_emb_fraction": 0.5}"#;
    let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 rotary values"), "{e}");
    // A gated block is refused for BERT's layout rather than run as plain GELU.
    let text = r#"{"model_type": "bert", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40,
        "hidden_act": "swiglu"}"#;
    let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("gated feed-forward block"), "{e}");
    // An unknown model_type lists the supported ones.
    let text = r#"{"model_type": "funnel", "vocab_size": 90, "hidden_size": 24,
        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 40}"#;
    let e = wgbert::BertConfig::from_json(std::path::Path::new("config.json"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nomic_bert") && e.contains("distilbert"), "{e}");
}

/// A NomicBERT folder missing a layer tensor names it and the architecture config.json says.
#[test]
fn nomic_missing_tensor_names_the_architecture() {
    let e = load_error_without("tiny-nomic", "encoder.layers.1.mlp.fc12.weight");
    assert!(
        e.contains("encoder.layers.1.mlp.fc12.weight is missing") && e.contains("NomicBERT"),
        "{e}"
    );
}
