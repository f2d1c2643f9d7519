//! Loading `model.safetensors` (F32, F16 or BF16) into host f32 tensors, checked against the config.
//!
//! Names follow Hugging Face BERT: `embeddings.word_embeddings.weight`,
//! `encoder.layer.{i}.attention.self.query.weight`, … Files saved from task models carry a
//! `bert.` / `roberta.` / `distilbert.` prefix; it is stripped. DistilBERT's own names
//! (`transformer.layer.{i}.attention.q_lin`, `ffn.lin1`, `sa_layer_norm`, …) are mapped onto
//! BERT's, and so are the sequence-classification heads (RoBERTa's `classifier.dense` +
//! `classifier.out_proj`, DistilBERT's `pre_classifier` + `classifier`), and so are the
//! masked-word heads (DistilBERT's `vocab_*`, RoBERTa's `lm_head.*` → BERT's `cls.predictions.*`).

use crate::config::{BertConfig, Family};
use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every floating-point tensor of a safetensors file under its own name, in f32 (F32, F16 and
/// BF16 files), e.g. a sentence-transformers Dense module's `linear.weight`.
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, HostTensor)>> {
    TensorStore::read_file(path)
}

pub use crate::tensor::HostTensor;

/// The encoder's tensors of one layer (Hugging Face names without the layer prefix).
#[derive(Clone, Debug)]
pub struct LayerWeights {
    /// `attention.self.query.weight` `[H, H]`
    pub query_w: HostTensor,
    /// `attention.self.query.bias` `[H]`
    pub query_b: HostTensor,
    /// `attention.self.key.weight` `[H, H]`
    pub key_w: HostTensor,
    /// `attention.self.key.bias` `[H]`
    pub key_b: HostTensor,
    /// `attention.self.value.weight` `[H, H]`
    pub value_w: HostTensor,
    /// `attention.self.value.bias` `[H]`
    pub value_b: HostTensor,
    /// `attention.output.dense.weight` `[H, H]`
    pub attn_out_w: HostTensor,
    /// `attention.output.dense.bias` `[H]`
    pub attn_out_b: HostTensor,
    /// `attention.output.LayerNorm.weight` `[H]`
    pub attn_ln_g: HostTensor,
    /// `attention.output.LayerNorm.bias` `[H]`
    pub attn_ln_b: HostTensor,
    /// `intermediate.dense.weight` `[I, H]`
    pub inter_w: HostTensor,
    /// `intermediate.dense.bias` `[I]`
    pub inter_b: HostTensor,
    /// `output.dense.weight` `[H, I]`
    pub out_w: HostTensor,
    /// `output.dense.bias` `[H]`
    pub out_b: HostTensor,
    /// `output.LayerNorm.weight` `[H]`
    pub out_ln_g: HostTensor,
    /// `output.LayerNorm.bias` `[H]`
    pub out_ln_b: HostTensor,
}

/// All encoder weights on the host, shapes checked against the config.
#[derive(Clone, Debug)]
pub struct BertWeights {
    /// `embeddings.word_embeddings.weight` `[vocab, H]`
    pub word_embeddings: HostTensor,
    /// `embeddings.position_embeddings.weight` `[max_positions, H]`
    pub position_embeddings: HostTensor,
    /// `embeddings.token_type_embeddings.weight` `[type_vocab, H]`
    pub token_type_embeddings: HostTensor,
    /// `embeddings.LayerNorm.weight` `[H]`
    pub emb_ln_g: HostTensor,
    /// `embeddings.LayerNorm.bias` `[H]`
    pub emb_ln_b: HostTensor,
    /// One entry per transformer layer.
    pub layers: Vec<LayerWeights>,
    /// `pooler.dense` weight and bias, when the checkpoint has a pooler.
    pub pooler: Option<(HostTensor, HostTensor)>,
    /// `classifier` weight `[labels, H]` and bias of a BertForSequenceClassification checkpoint.
    pub classifier: Option<(HostTensor, HostTensor)>,
    /// The dense layer a RoBERTa or DistilBERT sequence head puts between the first token and
    /// `classifier` (`classifier.dense` + tanh, `pre_classifier` + ReLU): weight `[H, H]`, bias.
    pub head_dense: Option<(HostTensor, HostTensor)>,
    /// BERT's masked-word head (`cls.predictions`), when the checkpoint has one.
    pub mlm: Option<MlmHead>,
    /// BERT's next-sentence head (`cls.seq_relationship`): weight `[2, H]`, bias `[2]`.
    pub nsp: Option<(HostTensor, HostTensor)>,
}

/// BERT's masked-word head: `transform` (dense + activation + LayerNorm), then the decoder,
/// whose weight is the word-embedding table unless the checkpoint unties it.
#[derive(Clone, Debug)]
pub struct MlmHead {
    /// `cls.predictions.transform.dense.weight` `[H, H]`
    pub dense_w: HostTensor,
    /// `cls.predictions.transform.dense.bias` `[H]`
    pub dense_b: HostTensor,
    /// `cls.predictions.transform.LayerNorm.weight` (or `gamma`) `[H]`
    pub ln_g: HostTensor,
    /// `cls.predictions.transform.LayerNorm.bias` (or `beta`) `[H]`
    pub ln_b: HostTensor,
    /// `cls.predictions.bias` (or `decoder.bias`) `[vocab]`
    pub bias: HostTensor,
    /// `cls.predictions.decoder.weight` `[vocab, H]` when it differs from the word table.
    pub decoder_w: Option<HostTensor>,
}

/// Named tensors before they are sorted into the model structure.
pub struct TensorStore {
    path: PathBuf,
    tensors: HashMap<String, HostTensor>,
}

const PREFIXES: [&str; 6] = [
    "bert.",
    "roberta.",
    "distilbert.",
    "model.",
    "module.bert.",
    "module.",
];

/// DistilBERT's names for BERT's tensors (inside a layer), and the heads' names: the
/// classification heads, and the masked-word heads of DistilBertForMaskedLM (`vocab_*`) and
/// RobertaForMaskedLM (`lm_head.*`) as BERT's `cls.predictions.*`.
const RENAMES: [(&str, &str); 20] = [
    ("vocab_transform.", "cls.predictions.transform.dense."),
    ("vocab_layer_norm.", "cls.predictions.transform.LayerNorm."),
    ("vocab_projector.weight", "cls.predictions.decoder.weight"),
    ("vocab_projector.bias", "cls.predictions.bias"),
    ("lm_head.dense.", "cls.predictions.transform.dense."),
    (
        "lm_head.layer_norm.",
        "cls.predictions.transform.LayerNorm.",
    ),
    ("lm_head.decoder.weight", "cls.predictions.decoder.weight"),
    ("lm_head.decoder.bias", "cls.predictions.decoder.bias"),
    ("lm_head.bias", "cls.predictions.bias"),
    ("attention.q_lin.", "attention.self.query."),
    ("attention.k_lin.", "attention.self.key."),
    ("attention.v_lin.", "attention.self.value."),
    ("attention.out_lin.", "attention.output.dense."),
    ("sa_layer_norm.", "attention.output.LayerNorm."),
    ("ffn.lin1.", "intermediate.dense."),
    ("ffn.lin2.", "output.dense."),
    ("output_layer_norm.", "output.LayerNorm."),
    ("classifier.dense.", "head.dense."),
    ("classifier.out_proj.", "classifier."),
    ("pre_classifier.", "head.dense."),
];

fn normalise_name(name: &str, strip_prefix: bool) -> String {
    let mut n = name;
    if strip_prefix {
        for p in PREFIXES {
            if let Some(rest) = n.strip_prefix(p) {
                n = rest;
                break;
            }
        }
    }
    let mut n = n
        .replace("LayerNorm.gamma", "LayerNorm.weight")
        .replace("LayerNorm.beta", "LayerNorm.bias");
    if let Some(rest) = n.strip_prefix("transformer.layer.") {
        n = format!("encoder.layer.{rest}");
    }
    for (from, to) in RENAMES {
        if n.contains(from) {
            n = n.replacen(from, to, 1);
            break;
        }
    }
    n
}

/// Whether a (normalised) tensor name belongs to the encoder or a head wgbert runs.
fn is_model_tensor(name: &str) -> bool {
    [
        "embeddings.",
        "encoder.",
        "pooler.",
        "classifier.",
        "head.",
        "cls.",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn to_f32(path: &Path, name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>> {
    let bad = |m: String| Error::Weights {
        path: path.to_path_buf(),
        message: m,
    };
    let out: Vec<f32> = match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(bad(format!(
                "tensor {name} has dtype {other:?}; wgbert reads F32, F16 and BF16 weights. Re-save the model in one of those"
            )));
        }
    };
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "tensor {name} holds a non-finite value ({}) at flat index {i}; the checkpoint is corrupt",
            out[i]
        )));
    }
    Ok(out)
}

impl TensorStore {
    /// Reads every floating tensor of the encoder from `model.safetensors` (or a sharded
    /// `model.safetensors.index.json`, else a `pytorch_model.bin` state dict) in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if single.exists() {
            vec![single.clone()]
        } else if index.exists() {
            let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Weights {
                path: index.clone(),
                message: format!("malformed index JSON ({e})"),
            })?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| Error::Weights {
                    path: index.clone(),
                    message: "no \"weight_map\" object".into(),
                })?;
            let mut names: Vec<String> = map
                .values()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|f| dir.join(f)).collect()
        } else if dir.join("pytorch_model.bin").is_file() {
            // Older folders ship only PyTorch's zip state dict: read it without Python.
            let bin = dir.join("pytorch_model.bin");
            let raw = crate::pt::read_state_dict(&bin)?;
            return Ok(Self::sorted(bin, raw));
        } else {
            return Err(Error::ModelNotFound(format!(
                "no model.safetensors (or pytorch_model.bin) in {}; a model folder needs config.json, tokenizer.json and model.safetensors",
                dir.display()
            )));
        };
        let mut raw: Vec<(String, HostTensor)> = Vec::new();
        for f in &files {
            raw.extend(Self::read_file(f)?);
        }
        Ok(Self::sorted(files.first().cloned().unwrap_or(single), raw))
    }

    /// The model's tensors of `raw` under BERT's names (a task prefix stripped unless the file
    /// has unprefixed `embeddings.*`), the rest dropped.
    fn sorted(path: PathBuf, raw: Vec<(String, HostTensor)>) -> Self {
        let has_unprefixed = raw.iter().any(|(k, _)| k.starts_with("embeddings."));
        let tensors = raw
            .into_iter()
            .map(|(k, t)| (normalise_name(&k, !has_unprefixed), t))
            .filter(|(k, _)| is_model_tensor(k))
            .collect();
        TensorStore { path, tensors }
    }

    fn read_file(path: &Path) -> Result<Vec<(String, HostTensor)>> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &bytes)
    }

    /// Tensors of safetensors `bytes` (e.g. a file already in memory); `path` names them in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        Ok(Self::sorted(path.to_path_buf(), Self::parse(path, bytes)?))
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<(String, HostTensor)>> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Weights {
            path: path.to_path_buf(),
            message: format!(
                "not a valid safetensors file ({e}); the file may be truncated or corrupt: fetch it again"
            ),
        })?;
        let mut out = Vec::new();
        for (name, view) in st.tensors() {
            // Integer tensors (position_ids buffers of old checkpoints) are not weights.
            if matches!(
                view.dtype(),
                Dtype::I64 | Dtype::I32 | Dtype::U8 | Dtype::BOOL
            ) && name.ends_with("position_ids")
            {
                continue;
            }
            let data = to_f32(path, &name, view.dtype(), view.data())?;
            out.push((
                name,
                HostTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            ));
        }
        Ok(out)
    }

    fn take(&mut self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| Error::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })?;
        if t.shape != expected {
            return Err(Error::TensorShape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: expected.to_vec(),
                found: t.shape,
            });
        }
        Ok(t)
    }

    /// Sorts the tensors into the model structure, checking each against the config.
    pub fn into_weights(mut self, c: &BertConfig) -> Result<BertWeights> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let word_embeddings = self.take("embeddings.word_embeddings.weight", &[c.vocab_size, h])?;
        let position_embeddings = self.take(
            "embeddings.position_embeddings.weight",
            &[c.max_position_embeddings, h],
        )?;
        let token_type_embeddings = if c.family() == Some(Family::DistilBert) {
            // No token types: one zero row, so the embedding sum is word + position.
            HostTensor {
                shape: vec![1, h],
                data: vec![0.0; h],
            }
        } else {
            self.take(
                "embeddings.token_type_embeddings.weight",
                &[c.type_vocab_size, h],
            )?
        };
        let emb_ln_g = self.take("embeddings.LayerNorm.weight", &[h])?;
        let emb_ln_b = self.take("embeddings.LayerNorm.bias", &[h])?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}.");
            let mut t = |n: &str, shape: &[usize]| self.take(&format!("{p}{n}"), shape);
            layers.push(LayerWeights {
                query_w: t("attention.self.query.weight", &[h, h])?,
                query_b: t("attention.self.query.bias", &[h])?,
                key_w: t("attention.self.key.weight", &[h, h])?,
                key_b: t("attention.self.key.bias", &[h])?,
                value_w: t("attention.self.value.weight", &[h, h])?,
                value_b: t("attention.self.value.bias", &[h])?,
                attn_out_w: t("attention.output.dense.weight", &[h, h])?,
                attn_out_b: t("attention.output.dense.bias", &[h])?,
                attn_ln_g: t("attention.output.LayerNorm.weight", &[h])?,
                attn_ln_b: t("attention.output.LayerNorm.bias", &[h])?,
                inter_w: t("intermediate.dense.weight", &[i, h])?,
                inter_b: t("intermediate.dense.bias", &[i])?,
                out_w: t("output.dense.weight", &[h, i])?,
                out_b: t("output.dense.bias", &[h])?,
                out_ln_g: t("output.LayerNorm.weight", &[h])?,
                out_ln_b: t("output.LayerNorm.bias", &[h])?,
            });
        }
        let pooler = if self.tensors.contains_key("pooler.dense.weight") {
            Some((
                self.take("pooler.dense.weight", &[h, h])?,
                self.take("pooler.dense.bias", &[h])?,
            ))
        } else {
            None
        };
        let head_dense = if self.tensors.contains_key("head.dense.weight") {
            Some((
                self.take("head.dense.weight", &[h, h])?,
                self.take("head.dense.bias", &[h])?,
            ))
        } else {
            None
        };
        let classifier = match self
            .tensors
            .get("classifier.weight")
            .map(|t| t.shape.clone())
        {
            Some(shape) => {
                let labels = shape.first().copied().unwrap_or(0);
                if let Some(m) = &c.id2label
                    && m.len() != labels
                {
                    return Err(Error::Weights {
                        path: self.path.clone(),
                        message: format!(
                            "classifier.weight has {labels} rows but config.json's id2label names {} labels; the head and the config do not belong together",
                            m.len()
                        ),
                    });
                }
                Some((
                    self.take("classifier.weight", &[labels, h])?,
                    self.take("classifier.bias", &[labels])?,
                ))
            }
            None => None,
        };
        // The pretraining heads are read when complete; a partial `cls.*` (some conversions
        // keep stray head tensors) is ignored, as the encoder does not need it.
        let mlm_names = [
            "cls.predictions.transform.dense.weight",
            "cls.predictions.transform.dense.bias",
            "cls.predictions.transform.LayerNorm.weight",
            "cls.predictions.transform.LayerNorm.bias",
        ];
        let has_mlm = mlm_names.iter().all(|n| self.tensors.contains_key(*n))
            && (self.tensors.contains_key("cls.predictions.bias")
                || self.tensors.contains_key("cls.predictions.decoder.bias"));
        if !has_mlm
            && self
                .tensors
                .keys()
                .any(|k| k.starts_with("cls.predictions."))
        {
            log::info!("incomplete masked-word head (cls.predictions.*) ignored");
        }
        let mlm = if has_mlm {
            let v = c.vocab_size;
            let bias = if self.tensors.contains_key("cls.predictions.bias") {
                self.take("cls.predictions.bias", &[v])?
            } else {
                self.take("cls.predictions.decoder.bias", &[v])?
            };
            // A decoder equal to the word table is the tied weight saved twice: one copy kept.
            let decoder_w = match self.tensors.remove("cls.predictions.decoder.weight") {
                Some(t) if t.data == word_embeddings.data => None,
                Some(t) if t.shape == [v, h] => Some(t),
                Some(t) => {
                    return Err(Error::TensorShape {
                        path: self.path.clone(),
                        name: "cls.predictions.decoder.weight".into(),
                        expected: vec![v, h],
                        found: t.shape,
                    });
                }
                None => None,
            };
            Some(MlmHead {
                dense_w: self.take("cls.predictions.transform.dense.weight", &[h, h])?,
                dense_b: self.take("cls.predictions.transform.dense.bias", &[h])?,
                ln_g: self.take("cls.predictions.transform.LayerNorm.weight", &[h])?,
                ln_b: self.take("cls.predictions.transform.LayerNorm.bias", &[h])?,
                bias,
                decoder_w,
            })
        } else {
            None
        };
        let nsp = if self.tensors.contains_key("cls.seq_relationship.weight")
            && self.tensors.contains_key("cls.seq_relationship.bias")
        {
            Some((
                self.take("cls.seq_relationship.weight", &[2, h])?,
                self.take("cls.seq_relationship.bias", &[2])?,
            ))
        } else {
            None
        };
        Ok(BertWeights {
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            emb_ln_g,
            emb_ln_b,
            layers,
            pooler,
            classifier,
            head_dense,
            mlm,
            nsp,
        })
    }
}

impl BertWeights {
    /// Loads and checks the weights in `dir` against `config`.
    pub fn load(dir: &Path, config: &BertConfig) -> Result<Self> {
        TensorStore::load_dir(dir)?.into_weights(config)
    }

    /// Random weights of the given shape (fixed seed), for benchmarks and tests that need no files.
    pub fn random(c: &BertConfig, seed: u64) -> Self {
        let mut rng = crate::reference::SplitMix64::new(seed);
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let mut t = |shape: &[usize], scale: f32, offset: f32| HostTensor {
            shape: shape.to_vec(),
            data: (0..shape.iter().product::<usize>())
                .map(|_| offset + scale * rng.next_signed())
                .collect(),
        };
        let layers = (0..c.num_hidden_layers)
            .map(|_| LayerWeights {
                query_w: t(&[h, h], 0.05, 0.0),
                query_b: t(&[h], 0.02, 0.0),
                key_w: t(&[h, h], 0.05, 0.0),
                key_b: t(&[h], 0.02, 0.0),
                value_w: t(&[h, h], 0.05, 0.0),
                value_b: t(&[h], 0.02, 0.0),
                attn_out_w: t(&[h, h], 0.05, 0.0),
                attn_out_b: t(&[h], 0.02, 0.0),
                attn_ln_g: t(&[h], 0.1, 1.0),
                attn_ln_b: t(&[h], 0.02, 0.0),
                inter_w: t(&[i, h], 0.05, 0.0),
                inter_b: t(&[i], 0.02, 0.0),
                out_w: t(&[h, i], 0.05, 0.0),
                out_b: t(&[h], 0.02, 0.0),
                out_ln_g: t(&[h], 0.1, 1.0),
                out_ln_b: t(&[h], 0.02, 0.0),
            })
            .collect();
        BertWeights {
            word_embeddings: t(&[c.vocab_size, h], 0.5, 0.0),
            position_embeddings: t(&[c.max_position_embeddings, h], 0.1, 0.0),
            token_type_embeddings: t(&[c.type_vocab_size, h], 0.1, 0.0),
            emb_ln_g: t(&[h], 0.1, 1.0),
            emb_ln_b: t(&[h], 0.02, 0.0),
            layers,
            pooler: Some((t(&[h, h], 0.05, 0.0), t(&[h], 0.02, 0.0))),
            classifier: None,
            head_dense: None,
            mlm: None,
            nsp: None,
        }
    }
}
