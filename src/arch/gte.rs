//! The "new" GTE encoder (`model_type` `new`: gte-base-en-v1.5, gte-large-en-v1.5,
//! gte-multilingual-base, …), from its published modeling code (Alibaba-NLP/new-impl; no
//! transformers class). A post-LayerNorm BERT with rotary embeddings (`rope_theta`; with
//! `rope_scaling` `{"type": "ntk", "factor": f}` the fixed NTK scaling of its
//! NTKScalingRotaryEmbedding: base·f, every frequency divided by f^(2/D)), a packed
//! `qkv_proj` (or `q_proj`/`k_proj`/`v_proj`), `o_proj`, `attn_ln`, a gated feed-forward block
//! (`mlp.up_gate_proj` = [up; gate] without bias, act on the gate half, `mlp.down_proj`),
//! `mlp_ln`; token types when `type_vocab_size` > 0.

use super::{Graph, ModelNames, Role, Rotary, Source, WeightSpec};
use crate::config::BertConfig;

/// `embeddings.word_embeddings`, `embeddings.token_type_embeddings` (if any),
/// `embeddings.position_embeddings` (only with `position_embedding_type` `absolute`),
/// `embeddings.LayerNorm`.
pub fn names(c: &BertConfig) -> ModelNames {
    ModelNames::bert(!c.gte.rope(), !c.gte.no_token_types)
}

/// `encoder.layer.{l}.…`: `attention.qkv_proj` (or q/k/v), `attention.o_proj`, `attn_ln`,
/// `mlp.up_gate_proj` (its halves interleaved gate/up for the gated GEMM), `mlp.down_proj`,
/// `mlp_ln`.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let p = |n: &str| format!("encoder.layer.{l}.{n}");
    let t = |n: &str| Source::Tensor(p(n));
    let qkv = |what: &str| {
        if c.gte.pack_qkv {
            t(&format!("attention.qkv_proj.{what}"))
        } else {
            Source::qkv(&p("attention."), ["q", "k", "v"], &format!("_proj.{what}"))
        }
    };
    let up_gate = p("mlp.up_gate_proj.weight");
    vec![
        WeightSpec::new(Role::QkvWeight, qkv("weight"), &[3 * h, h]),
        WeightSpec::new(Role::QkvBias, qkv("bias"), &[3 * h]),
        WeightSpec::new(Role::AttnOutWeight, t("attention.o_proj.weight"), &[h, h]),
        WeightSpec::new(Role::AttnOutBias, t("attention.o_proj.bias"), &[h]),
        WeightSpec::new(Role::AttnNormWeight, t("attn_ln.weight"), &[h]),
        WeightSpec::new(Role::AttnNormBias, t("attn_ln.bias"), &[h]),
        WeightSpec::new(
            Role::FfnInWeight,
            Source::GluPairs(
                Box::new(Source::Rows(up_gate.clone(), i, i)),
                Box::new(Source::Rows(up_gate, 0, i)),
            ),
            &[2 * i, h],
        ),
        WeightSpec::new(Role::FfnInBias, Source::Zeros, &[2 * i]),
        WeightSpec::new(Role::FfnOutWeight, t("mlp.down_proj.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, t("mlp.down_proj.bias"), &[h]),
        WeightSpec::new(Role::FfnNormWeight, t("mlp_ln.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, t("mlp_ln.bias"), &[h]),
    ]
}

/// BERT's post-norm layer with rotary Q/K and the gated block.
pub fn graph(c: &BertConfig) -> Graph {
    let g = &c.gte;
    let rotary = g.rope().then(|| {
        let dims = c.head_dim();
        match g.ntk_factor() {
            Some(f) => Rotary {
                dims,
                base: g.rope_theta * f,
                ntk: None,
                pos_scale: f.powf(2.0 / dims as f64),
            },
            None => Rotary {
                dims,
                base: g.rope_theta,
                ntk: None,
                pos_scale: 1.0,
            },
        }
    });
    let layer = super::bert::post_norm_layer(
        c.hidden_size,
        c.intermediate_size,
        c.activation().act(),
        true,
        rotary,
        false,
    );
    Graph {
        positions: rotary.is_none(),
        layers: vec![layer; c.num_hidden_layers],
        final_norm: false,
        relative_bias: None,
    }
}
