//! ModernBERT (`model_type` `modernbert`: answerdotai/ModernBERT-base/-large, and the encoders
//! built on it such as gte-modernbert-base and modernbert-embed-base), as transformers'
//! `ModernBertModel`: pre-LayerNorm layers (the first without its attention norm), one fused
//! `Wqkv`, rotary embeddings with a theta per attention type, sliding-window local attention
//! except on every `global_attn_every_n_layers`-th layer (or as `layer_types` says), a GeGLU
//! feed-forward block (`Wi` = [input; gate], the activation on the input half), linears and
//! LayerNorms without bias unless `attention_bias` / `mlp_bias` / `norm_bias`, a final
//! LayerNorm; no position table, no token types.

use super::{Graph, ModelNames, Op, Role, Rotary, Slot, Source, WeightSpec};
use crate::config::BertConfig;
use crate::kernels::Act;

/// `embeddings.tok_embeddings`, `embeddings.norm`, `final_norm`.
pub fn names(c: &BertConfig) -> ModelNames {
    let norm = |n: &str| {
        (
            Source::Tensor(format!("{n}.weight")),
            if c.modernbert.norm_bias {
                Source::Tensor(format!("{n}.bias"))
            } else {
                Source::Zeros
            },
        )
    };
    ModelNames {
        word: "embeddings.tok_embeddings.weight".into(),
        position: None,
        token_type: None,
        norm: norm("embeddings.norm"),
        final_norm: Some(norm("final_norm")),
        relative_bias: None,
    }
}

/// `layers.{l}.…`: `attn_norm` (not in layer 0), `attn.Wqkv`, `attn.Wo`, `mlp_norm`, `mlp.Wi`
/// (its two halves interleaved for the gated GEMM), `mlp.Wo`.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let m = &c.modernbert;
    let p = |x: &str| format!("layers.{l}.{x}");
    let t = |x: &str| Source::Tensor(p(x));
    let opt = |on: bool, x: &str| if on { t(x) } else { Source::Zeros };
    let halves = |x: &str| {
        Source::GluPairs(
            Box::new(Source::Rows(p(x), 0, i)),
            Box::new(Source::Rows(p(x), i, i)),
        )
    };
    let mut v = vec![
        WeightSpec::new(Role::QkvWeight, t("attn.Wqkv.weight"), &[3 * h, h]),
        WeightSpec::new(
            Role::QkvBias,
            opt(m.attention_bias, "attn.Wqkv.bias"),
            &[3 * h],
        ),
        WeightSpec::new(Role::AttnOutWeight, t("attn.Wo.weight"), &[h, h]),
        WeightSpec::new(
            Role::AttnOutBias,
            opt(m.attention_bias, "attn.Wo.bias"),
            &[h],
        ),
        WeightSpec::new(Role::FfnNormWeight, t("mlp_norm.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, opt(m.norm_bias, "mlp_norm.bias"), &[h]),
        WeightSpec::new(Role::FfnInWeight, halves("mlp.Wi.weight"), &[2 * i, h]),
        WeightSpec::new(
            Role::FfnInBias,
            if m.mlp_bias {
                halves("mlp.Wi.bias")
            } else {
                Source::Zeros
            },
            &[2 * i],
        ),
        WeightSpec::new(Role::FfnOutWeight, t("mlp.Wo.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, opt(m.mlp_bias, "mlp.Wo.bias"), &[h]),
    ];
    if l > 0 {
        v.push(WeightSpec::new(
            Role::AttnNormWeight,
            t("attn_norm.weight"),
            &[h],
        ));
        v.push(WeightSpec::new(
            Role::AttnNormBias,
            opt(m.norm_bias, "attn_norm.bias"),
            &[h],
        ));
    }
    v
}

/// Layer l: (attn_norm) → Wqkv → rotary (its attention type's theta) → attention (windowed on
/// local layers) → Wo; the residual added while mlp_norm normalises it (the sum kept in the
/// layer's output), then GeGLU and `mlp.Wo` added onto that output in the GEMM's store.
pub fn graph(c: &BertConfig) -> Graph {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let layers = (0..c.num_hidden_layers)
        .map(|l| {
            let (theta, window) = c.modernbert_layer(l);
            let rotary = Rotary {
                dims: c.head_dim(),
                base: theta,
                ntk: None,
                pos_scale: 1.0,
            };
            let mut ops = Vec::new();
            let attn_in = if l == 0 {
                Slot::Input
            } else {
                ops.push(Op::AddNorm {
                    name: "attn_norm",
                    x: Slot::Input,
                    residual: None,
                    weight: Role::AttnNormWeight,
                    bias: Role::AttnNormBias,
                    out: Slot::Normed,
                    sum: None,
                });
                Slot::Normed
            };
            let linear = |name, x, weight, bias, out, n, k, act, glu, accumulate| Op::Linear {
                name,
                x,
                weight,
                bias,
                out,
                n,
                k,
                act,
                glu,
                accumulate,
            };
            ops.extend([
                linear(
                    "attn.Wqkv",
                    attn_in,
                    Role::QkvWeight,
                    Role::QkvBias,
                    Slot::Qkv,
                    3 * h,
                    h,
                    Act::Identity,
                    false,
                    false,
                ),
                Op::Rope {
                    name: "attn.rotary",
                    qkv: Slot::Qkv,
                    rotary,
                },
                Op::Attention {
                    name: "attn",
                    qkv: Slot::Qkv,
                    out: Slot::Context,
                    window,
                    relative: false,
                },
                linear(
                    "attn.Wo",
                    Slot::Context,
                    Role::AttnOutWeight,
                    Role::AttnOutBias,
                    Slot::Proj,
                    h,
                    h,
                    Act::Identity,
                    false,
                    false,
                ),
                Op::AddNorm {
                    name: "mlp_norm",
                    x: Slot::Proj,
                    residual: Some(Slot::Input),
                    weight: Role::FfnNormWeight,
                    bias: Role::FfnNormBias,
                    out: Slot::Normed,
                    sum: Some(Slot::Output),
                },
                linear(
                    "mlp.Wi",
                    Slot::Normed,
                    Role::FfnInWeight,
                    Role::FfnInBias,
                    Slot::Ffn,
                    2 * i,
                    h,
                    c.activation().act(),
                    true,
                    false,
                ),
                linear(
                    "mlp.Wo",
                    Slot::Ffn,
                    Role::FfnOutWeight,
                    Role::FfnOutBias,
                    Slot::Output,
                    h,
                    i,
                    Act::Identity,
                    false,
                    true,
                ),
            ]);
            ops
        })
        .collect();
    Graph {
        positions: false,
        layers,
        final_norm: true,
        relative_bias: None,
    }
}
