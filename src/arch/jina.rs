//! JinaBERT v2 (`model_type` `bert` with `position_embedding_type` `alibi`, or `jina_bert`:
//! jina-embeddings-v2-small/base-en and the bilingual v2 models), from its published modeling
//! code (jinaai/jina-bert-implementation; no transformers class). BERT's attention block, no
//! position table but ALiBi (−slope(h)·|j − i| on every score, the paper's slopes), and a gated
//! feed-forward block with its own residual LayerNorm: `mlp.gated_layers` (no bias, act on the
//! first half: GELU for `geglu`, ReLU for `reglu`), `mlp.wo`, `mlp.layernorm`.

use super::{Graph, ModelNames, RelativeBias, Role, Source, WeightSpec};
use crate::config::BertConfig;

/// `embeddings.word_embeddings`, `embeddings.token_type_embeddings`, `embeddings.LayerNorm`.
pub fn names(_c: &BertConfig) -> ModelNames {
    ModelNames::bert(false, true)
}

/// `encoder.layer.{l}.…`: BERT's attention tensors, `mlp.gated_layers` (halves interleaved for
/// the gated GEMM), `mlp.wo`, `mlp.layernorm`.
pub fn layer_weights(c: &BertConfig, l: usize) -> Vec<WeightSpec> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let p = |n: &str| format!("encoder.layer.{l}.{n}");
    let t = |n: &str| Source::Tensor(p(n));
    let gated = p("mlp.gated_layers.weight");
    let mut v: Vec<WeightSpec> = super::bert::layer_weights(c, l)
        .into_iter()
        .filter(|s| {
            matches!(
                s.role,
                Role::QkvWeight
                    | Role::QkvBias
                    | Role::AttnOutWeight
                    | Role::AttnOutBias
                    | Role::AttnNormWeight
                    | Role::AttnNormBias
            )
        })
        .collect();
    v.extend([
        WeightSpec::new(
            Role::FfnInWeight,
            Source::GluPairs(
                Box::new(Source::Rows(gated.clone(), 0, i)),
                Box::new(Source::Rows(gated, i, i)),
            ),
            &[2 * i, h],
        ),
        WeightSpec::new(Role::FfnInBias, Source::Zeros, &[2 * i]),
        WeightSpec::new(Role::FfnOutWeight, t("mlp.wo.weight"), &[h, i]),
        WeightSpec::new(Role::FfnOutBias, t("mlp.wo.bias"), &[h]),
        WeightSpec::new(Role::FfnNormWeight, t("mlp.layernorm.weight"), &[h]),
        WeightSpec::new(Role::FfnNormBias, t("mlp.layernorm.bias"), &[h]),
    ]);
    v
}

/// BERT's post-norm layer, gated, with ALiBi on every attention.
pub fn graph(c: &BertConfig) -> Graph {
    let layer = super::bert::post_norm_layer(
        c.hidden_size,
        c.intermediate_size,
        c.jina_activation(),
        true,
        None,
        true,
    );
    Graph {
        positions: false,
        layers: vec![layer; c.num_hidden_layers],
        final_norm: false,
        relative_bias: Some(RelativeBias::Alibi),
    }
}
