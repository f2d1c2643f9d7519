//! MPNet (`model_type` `mpnet`: all-mpnet-base-v2, multi-qa-mpnet-base-*, …), as transformers'
//! `MPNetModel`: BERT's post-LayerNorm layer under other names (`attention.attn.q/k/v/o`,
//! `attention.LayerNorm`), RoBERTa's positions (from `pad_token_id + 1`, padding at
//! `pad_token_id`), no token types, and a relative position bias: T5-style bidirectional
//! buckets of j − i (`relative_attention_num_buckets`, max distance 128) index one learned
//! `[buckets, heads]` table (`encoder.relative_attention_bias`) added to every layer's scores.

use super::{Graph, ModelNames, RelativeBias, Role, Source, WeightSpec};
use crate::config::BertConfig;

/// transformers' fixed `max_distance` of MPNet's buckets.
pub const MAX_DISTANCE: usize = 128;

/// `embeddings.{word,position}_embeddings`, `embeddings.LayerNorm`,
/// `encoder.relative_attention_bias`.
pub fn names(_c: &BertConfig) -> ModelNames {
    ModelNames {
        relative_bias: Some("encoder.relative_attention_bias.weight".into()),
        ..ModelNames::bert(true, false)
    }
}

/// `encoder.layer.{l}.…`: `attention.attn.{q,k,v}` (fused), `attention.attn.o`,
/// `attention.LayerNorm`, `intermediate.dense`, `output.dense`, `output.LayerNorm`.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let p = |n: &str| format!("encoder.layer.{l}.{n}");
    let t = |n: &str| Source::Tensor(p(n));
    let qkv = |what: &str| Source::qkv(&p("attention.attn."), ["q", "k", "v"], &format!(".{what}"));
    vec![
        WeightSpec::new(Role::QkvWeight, qkv("weight"), &[3 * h, h]),
        WeightSpec::new(Role::QkvBias, qkv("bias"), &[3 * h]),
        WeightSpec::new(Role::AttnOutWeight, t("attention.attn.o.weight"), &[h, h]),
        WeightSpec::new(Role::AttnOutBias, t("attention.attn.o.bias"), &[h]),
        WeightSpec::new(Role::AttnNormWeight, t("attention.LayerNorm.weight"), &[h]),
        WeightSpec::new(Role::AttnNormBias, t("attention.LayerNorm.bias"), &[h]),
        WeightSpec::new(Role::FfnInWeight, t("intermediate.dense.weight"), &[i, h]),
        WeightSpec::new(Role::FfnInBias, t("intermediate.dense.bias"), &[i]),
        WeightSpec::new(Role::FfnOutWeight, t("output.dense.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, t("output.dense.bias"), &[h]),
        WeightSpec::new(Role::FfnNormWeight, t("output.LayerNorm.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, t("output.LayerNorm.bias"), &[h]),
    ]
}

/// BERT's layer with the relative bias on every attention.
pub fn graph(c: &BertConfig) -> Graph {
    let layer = super::bert::post_norm_layer(
        c.hidden_size,
        c.intermediate_size,
        c.activation().act(),
        false,
        None,
        true,
    );
    Graph {
        positions: true,
        layers: vec![layer; c.num_hidden_layers],
        final_norm: false,
        relative_bias: Some(RelativeBias::Buckets {
            num_buckets: c.relative_attention_num_buckets,
            max_distance: MAX_DISTANCE,
        }),
    }
}
