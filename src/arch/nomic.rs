//! NomicBERT (`model_type` `nomic_bert`: nomic-embed-text-v1 / v1.5, nomic-bert-2048), from
//! the published modeling code (`modeling_hf_nomic_bert.py`; transformers has no class for
//! it). A post-LayerNorm BERT with GPT-2 config names, no position table (rotary embeddings
//! on Q and K, `rotary_emb_base`, `rotary_emb_fraction` of each head, dynamic NTK scaling past
//! `max_trained_positions` when `rotary_scaling_factor` is set), one fused `Wqkv`, linears
//! without bias where `qkv_proj_bias` / `mlp_fc1_bias` / `mlp_fc2_bias` say so, and a gated
//! feed-forward block for `swiglu` / `geglu` / `glu` (`fc11` linear, `fc12` gate, `fc2`).

use super::{Graph, ModelNames, Role, Rotary, Source, WeightSpec};
use crate::config::BertConfig;

/// `embeddings.word_embeddings`, `embeddings.token_type_embeddings` (when `type_vocab_size`
/// > 0), `emb_ln`; no position table when rotary.
pub fn names(c: &BertConfig) -> ModelNames {
    ModelNames {
        word: "embeddings.word_embeddings.weight".into(),
        // Rotary models have no position table; `rotary_emb_fraction` 0 keeps BERT's.
        position: (c.rotary_dims() == 0).then(|| "embeddings.position_embeddings.weight".into()),
        token_type: (c.type_vocab_size > 0)
            .then(|| "embeddings.token_type_embeddings.weight".into()),
        norm: (
            Source::Tensor("emb_ln.weight".into()),
            Source::Tensor("emb_ln.bias".into()),
        ),
        final_norm: None,
        relative_bias: None,
    }
}

/// `encoder.layers.{l}.…`: `attn.Wqkv`, `attn.out_proj`, `norm1`, `mlp.fc11` / `fc12` (gated)
/// or `mlp.fc1`, `mlp.fc2`, `norm2`.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let n = &c.nomic;
    let p = |x: &str| format!("encoder.layers.{l}.{x}");
    let t = |x: &str| Source::Tensor(p(x));
    let bias = |on: bool, x: &str| if on { t(x) } else { Source::Zeros };
    let (ffn_w, ffn_b, ffn_rows) = if c.gated() {
        (
            Source::GluPairs(
                Box::new(t("mlp.fc12.weight")),
                Box::new(t("mlp.fc11.weight")),
            ),
            if n.mlp_fc1_bias {
                Source::GluPairs(Box::new(t("mlp.fc12.bias")), Box::new(t("mlp.fc11.bias")))
            } else {
                Source::Zeros
            },
            2 * i,
        )
    } else {
        (t("mlp.fc1.weight"), bias(n.mlp_fc1_bias, "mlp.fc1.bias"), i)
    };
    vec![
        WeightSpec::new(Role::QkvWeight, t("attn.Wqkv.weight"), &[3 * h, h]),
        WeightSpec::new(
            Role::QkvBias,
            bias(n.qkv_proj_bias, "attn.Wqkv.bias"),
            &[3 * h],
        ),
        WeightSpec::new(Role::AttnOutWeight, t("attn.out_proj.weight"), &[h, h]),
        WeightSpec::new(
            Role::AttnOutBias,
            bias(n.qkv_proj_bias, "attn.out_proj.bias"),
            &[h],
        ),
        WeightSpec::new(Role::AttnNormWeight, t("norm1.weight"), &[h]),
        WeightSpec::new(Role::AttnNormBias, t("norm1.bias"), &[h]),
        WeightSpec::new(Role::FfnInWeight, ffn_w, &[ffn_rows, h]),
        WeightSpec::new(Role::FfnInBias, ffn_b, &[ffn_rows]),
        WeightSpec::new(Role::FfnOutWeight, t("mlp.fc2.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, bias(n.mlp_fc2_bias, "mlp.fc2.bias"), &[h]),
        WeightSpec::new(Role::FfnNormWeight, t("norm2.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, t("norm2.bias"), &[h]),
    ]
}

/// BERT's post-norm layer with rotary Q/K and the (gated) feed-forward block.
pub fn graph(c: &BertConfig) -> Graph {
    let n = &c.nomic;
    let dims = c.rotary_dims();
    let rotary = (dims > 0).then_some(Rotary {
        dims,
        base: n.rotary_emb_base,
        ntk: n
            .rotary_scaling_factor
            .map(|f| (f, n.max_trained_positions)),
        pos_scale: 1.0,
    });
    let layer = super::bert::post_norm_layer(
        c.hidden_size,
        c.intermediate_size,
        c.activation().act(),
        c.gated(),
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
