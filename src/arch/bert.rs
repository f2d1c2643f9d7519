//! BERT and the layouts that share its graph: RoBERTa, XLM-RoBERTa, CamemBERT (positions from
//! `pad_token_id + 1`, one token type) and DistilBERT (its names mapped onto BERT's when the
//! weights are read, no token types). Post-LayerNorm blocks, absolute positions, separate
//! Q/K/V projections fused here into one.

use super::{Graph, ModelNames, Op, Role, Rotary, Slot, Source, WeightSpec};
use crate::config::{BertConfig, Family};

/// `embeddings.{word,position,token_type}_embeddings`, `embeddings.LayerNorm`.
pub fn names(c: &BertConfig) -> ModelNames {
    ModelNames::bert(true, c.family() != Some(Family::DistilBert))
}

/// `encoder.layer.{l}.…`: query/key/value (fused), attention output, LayerNorms,
/// intermediate and output dense layers.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let p = |n: &str| format!("encoder.layer.{l}.{n}");
    let t = |n: &str| Source::Tensor(p(n));
    let qkv = |what: &str| {
        Source::qkv(
            &p("attention.self."),
            ["query", "key", "value"],
            &format!(".{what}"),
        )
    };
    vec![
        WeightSpec::new(Role::QkvWeight, qkv("weight"), &[3 * h, h]),
        WeightSpec::new(Role::QkvBias, qkv("bias"), &[3 * h]),
        WeightSpec::new(
            Role::AttnOutWeight,
            t("attention.output.dense.weight"),
            &[h, h],
        ),
        WeightSpec::new(Role::AttnOutBias, t("attention.output.dense.bias"), &[h]),
        WeightSpec::new(
            Role::AttnNormWeight,
            t("attention.output.LayerNorm.weight"),
            &[h],
        ),
        WeightSpec::new(
            Role::AttnNormBias,
            t("attention.output.LayerNorm.bias"),
            &[h],
        ),
        WeightSpec::new(Role::FfnInWeight, t("intermediate.dense.weight"), &[i, h]),
        WeightSpec::new(Role::FfnInBias, t("intermediate.dense.bias"), &[i]),
        WeightSpec::new(Role::FfnOutWeight, t("output.dense.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, t("output.dense.bias"), &[h]),
        WeightSpec::new(Role::FfnNormWeight, t("output.LayerNorm.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, t("output.LayerNorm.bias"), &[h]),
    ]
}

/// The paper's layer: QKV, attention, output dense, add & norm, intermediate (activation
/// fused), output dense, add & norm.
pub fn graph(c: &BertConfig) -> Graph {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let layer = post_norm_layer(h, i, c.activation().act(), false, None, false);
    Graph {
        positions: true,
        layers: vec![layer; c.num_hidden_layers],
        final_norm: false,
        relative_bias: None,
    }
}

/// A post-LayerNorm layer over fused QKV rows (BERT's, and NomicBERT's with rotary and a
/// gated feed-forward block): `glu` makes the intermediate projection `2I` rows of pairs,
/// `rotary` rotates Q and K before attention, `relative` adds the graph's relative bias.
pub(crate) fn post_norm_layer(
    h: usize,
    i: usize,
    act: crate::kernels::Act,
    glu: bool,
    rotary: Option<Rotary>,
    relative: bool,
) -> Vec<Op> {
    use crate::kernels::Act;
    let mut ops = vec![
        Op::Linear {
            name: "attention.self.qkv",
            x: Slot::Input,
            weight: Role::QkvWeight,
            bias: Role::QkvBias,
            out: Slot::Qkv,
            n: 3 * h,
            k: h,
            act: Act::Identity,
            glu: false,
            accumulate: false,
        },
        Op::Attention {
            name: "attention.self",
            qkv: Slot::Qkv,
            out: Slot::Context,
            window: 0,
            relative,
        },
        Op::Linear {
            name: "attention.output.dense",
            x: Slot::Context,
            weight: Role::AttnOutWeight,
            bias: Role::AttnOutBias,
            out: Slot::Proj,
            n: h,
            k: h,
            act: Act::Identity,
            glu: false,
            accumulate: false,
        },
        Op::AddNorm {
            name: "attention.output.layernorm",
            x: Slot::Proj,
            residual: Some(Slot::Input),
            weight: Role::AttnNormWeight,
            bias: Role::AttnNormBias,
            out: Slot::Attn,
            sum: None,
        },
        Op::Linear {
            name: "intermediate.dense",
            x: Slot::Attn,
            weight: Role::FfnInWeight,
            bias: Role::FfnInBias,
            out: Slot::Ffn,
            n: if glu { 2 * i } else { i },
            k: h,
            act,
            glu,
            accumulate: false,
        },
        Op::Linear {
            name: "output.dense",
            x: Slot::Ffn,
            weight: Role::FfnOutWeight,
            bias: Role::FfnOutBias,
            out: Slot::Proj,
            n: h,
            k: i,
            act: Act::Identity,
            glu: false,
            accumulate: false,
        },
        Op::AddNorm {
            name: "output.layernorm",
            x: Slot::Proj,
            residual: Some(Slot::Attn),
            weight: Role::FfnNormWeight,
            bias: Role::FfnNormBias,
            out: Slot::Output,
            sum: None,
        },
    ];
    if let Some(rotary) = rotary {
        ops.insert(
            1,
            Op::Rope {
                name: "attention.self.rotary",
                qkv: Slot::Qkv,
                rotary,
            },
        );
    }
    ops
}
