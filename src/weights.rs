//! Loading `model.safetensors` (F32, F16 or BF16) into host f32 tensors, checked against the config.
//!
//! Names follow Hugging Face BERT: `embeddings.word_embeddings.weight`,
//! `encoder.layer.{i}.attention.self.query.weight`, … Files saved from task models carry a
//! `bert.` / `roberta.` / `distilbert.` prefix; it is stripped. DistilBERT's own names
//! (`transformer.layer.{i}.attention.q_lin`, `ffn.lin1`, `sa_layer_norm`, …) are mapped onto
//! BERT's, and so are the sequence-classification heads (RoBERTa's `classifier.dense` +
//! `classifier.out_proj`, DistilBERT's `pre_classifier` + `classifier`), and so are the
//! masked-word heads (DistilBERT's `vocab_*`, RoBERTa's `lm_head.*` → BERT's `cls.predictions.*`).

use crate::arch::{Arch, Role, Source, WeightSpec};
use crate::config::BertConfig;
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

/// The encoder's tensors of one layer, by role (see `crate::arch`): each assembled from the
/// checkpoint as its architecture states (fused, interleaved or zero where it says so).
#[derive(Clone, Debug, Default)]
pub struct LayerWeights {
    tensors: Vec<(Role, String, HostTensor)>,
}

impl LayerWeights {
    /// The tensor of `role` (every role of the architecture's graph is present once loaded).
    pub fn get(&self, role: Role) -> &HostTensor {
        self.entry(role).1
    }

    /// The tensor of `role` and its label (the checkpoint names it comes from).
    pub fn entry(&self, role: Role) -> (&str, &HostTensor) {
        self.tensors
            .iter()
            .find(|(r, _, _)| *r == role)
            .map(|(_, l, t)| (l.as_str(), t))
            .unwrap_or_else(|| panic!("layer tensor {role:?} not loaded; its architecture lists every role its graph uses"))
    }

    /// Mutable access to the tensor of `role` (tests perturb weights through it).
    pub fn get_mut(&mut self, role: Role) -> &mut HostTensor {
        self.tensors
            .iter_mut()
            .find(|(r, _, _)| *r == role)
            .map(|(_, _, t)| t)
            .unwrap_or_else(|| panic!("layer tensor {role:?} not loaded"))
    }

    /// Every (role, label, tensor), in the architecture's order.
    pub fn iter(&self) -> impl Iterator<Item = (Role, &str, &HostTensor)> {
        self.tensors.iter().map(|(r, l, t)| (*r, l.as_str(), t))
    }

    /// Adds the tensor of `role`.
    pub fn insert(&mut self, role: Role, label: String, t: HostTensor) {
        self.tensors.retain(|(r, _, _)| *r != role);
        self.tensors.push((role, label, t));
    }
}

/// All encoder weights on the host, shapes checked against the config.
#[derive(Clone, Debug)]
pub struct BertWeights {
    /// `embeddings.word_embeddings.weight` `[vocab, H]`
    pub word_embeddings: HostTensor,
    /// `embeddings.position_embeddings.weight` `[max_positions, H]`; `None` for rotary models.
    pub position_embeddings: Option<HostTensor>,
    /// `embeddings.token_type_embeddings.weight` `[type_vocab, H]`
    pub token_type_embeddings: HostTensor,
    /// `embeddings.LayerNorm.weight` `[H]`
    pub emb_ln_g: HostTensor,
    /// `embeddings.LayerNorm.bias` `[H]`
    pub emb_ln_b: HostTensor,
    /// One entry per transformer layer.
    pub layers: Vec<LayerWeights>,
    /// The LayerNorm after the last layer (pre-norm architectures): gamma, beta `[H]`.
    pub final_norm: Option<(HostTensor, HostTensor)>,
    /// The learned relative attention bias `[num_buckets, heads]` (MPNet).
    pub relative_bias: Option<HostTensor>,
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
    /// The end of a missing-tensor message: who needs it (set once the architecture is known).
    needed_by: String,
}

const PREFIXES: [&str; 8] = [
    "bert.",
    "roberta.",
    "distilbert.",
    "mpnet.",
    "new.",
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
        "emb_ln.",
        "layers.",
        "final_norm.",
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
        TensorStore {
            path,
            tensors,
            needed_by: "the encoder needs it".into(),
        }
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

    fn missing(&self, name: &str) -> Error {
        Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
            needed_by: self.needed_by.clone(),
        }
    }

    fn take(&mut self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| self.missing(name))?;
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

    /// The data of `source`, assembled to `shape` (checked part by part).
    fn assemble(&mut self, source: &Source, shape: &[usize]) -> Result<Vec<f32>> {
        let rest: Vec<usize> = shape.iter().skip(1).copied().collect();
        let inner: usize = rest.iter().product();
        let with_rows = |rows: usize| [&[rows][..], &rest[..]].concat();
        Ok(match source {
            Source::Tensor(n) => self.take(n, shape)?.data,
            Source::Concat(names) => {
                let part = shape[0] / names.len().max(1);
                let mut out = Vec::with_capacity(shape.iter().product());
                for n in names {
                    out.extend(self.take(n, &with_rows(part))?.data);
                }
                out
            }
            Source::Rows(n, start, rows) => {
                let t = self.tensors.get(n).ok_or_else(|| self.missing(n))?;
                let total = t.shape.first().copied().unwrap_or(0);
                if t.shape[1..] != rest[..] || start + rows > total {
                    return Err(Error::TensorShape {
                        path: self.path.clone(),
                        name: n.clone(),
                        expected: with_rows(start + rows),
                        found: t.shape.clone(),
                    });
                }
                t.data[start * inner..(start + rows) * inner].to_vec()
            }
            Source::GluPairs(gate, linear) => {
                let half = with_rows(shape[0] / 2);
                let g = self.assemble(gate, &half)?;
                let l = self.assemble(linear, &half)?;
                crate::kernels::glu_pairs(&g, &l, inner.max(1))
            }
            Source::Zeros => vec![0.0; shape.iter().product()],
        })
    }

    /// One layer's tensors from the architecture's list.
    fn layer(&mut self, specs: &[WeightSpec]) -> Result<LayerWeights> {
        let mut lw = LayerWeights::default();
        for spec in specs {
            let data = self.assemble(&spec.source, &spec.shape)?;
            lw.insert(
                spec.role,
                spec.source.label(),
                HostTensor {
                    shape: spec.shape.clone(),
                    data,
                },
            );
        }
        Ok(lw)
    }

    /// Sorts the tensors into the model structure, checking each against the config: the
    /// encoder's as its architecture (`crate::arch`) lists them, then the heads wgbert runs.
    pub fn into_weights(mut self, c: &BertConfig) -> Result<BertWeights> {
        let h = c.hidden_size;
        let arch = Arch::of(c);
        self.needed_by = format!(
            "config.json describes a {} model (model_type {:?}), whose weights name it so; do the weights and config.json belong together?",
            arch.name(),
            c.model_type.as_deref().unwrap_or("bert")
        );
        let names = arch.names(c);
        let word_embeddings = self.take(&names.word, &[c.vocab_size, h])?;
        let position_embeddings = match &names.position {
            Some(n) => Some(self.take(n, &[c.max_position_embeddings, h])?),
            None => None,
        };
        let token_type_embeddings = match &names.token_type {
            Some(n) => self.take(n, &[c.type_vocab_size, h])?,
            // No token types: one zero row, so the embedding sum is word + position.
            None => HostTensor {
                shape: vec![1, h],
                data: vec![0.0; h],
            },
        };
        let vector = |s: &mut Self, src: &Source| -> Result<HostTensor> {
            Ok(HostTensor {
                shape: vec![h],
                data: s.assemble(src, &[h])?,
            })
        };
        let emb_ln_g = vector(&mut self, &names.norm.0)?;
        let emb_ln_b = vector(&mut self, &names.norm.1)?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            layers.push(self.layer(&arch.layer_weights(c, l))?);
        }
        let final_norm = match &names.final_norm {
            Some((g, b)) => Some((vector(&mut self, g)?, vector(&mut self, b)?)),
            None => None,
        };
        let relative_bias = match &names.relative_bias {
            Some(n) => Some(self.take(
                n,
                &[c.relative_attention_num_buckets, c.num_attention_heads],
            )?),
            None => None,
        };
        if !arch.reads_bert_heads() {
            // Other architectures' heads have other names and layouts: the encoder (and a
            // pooler) only, so none of BERT's head tensors below is looked for.
            self.tensors.retain(|k, _| {
                !["classifier.", "head.", "cls."]
                    .iter()
                    .any(|p| k.starts_with(p))
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
            final_norm,
            relative_bias,
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

    /// Random weights of the given shape (fixed seed), for benchmarks and tests that need no
    /// files: every tensor its architecture lists (LayerNorm gammas near 1).
    pub fn random(c: &BertConfig, seed: u64) -> Self {
        let mut rng = crate::reference::SplitMix64::new(seed);
        let h = c.hidden_size;
        let mut t = |shape: &[usize], scale: f32, offset: f32| HostTensor {
            shape: shape.to_vec(),
            data: (0..shape.iter().product::<usize>())
                .map(|_| offset + scale * rng.next_signed())
                .collect(),
        };
        let arch = Arch::of(c);
        let names = arch.names(c);
        let word_embeddings = t(&[c.vocab_size, h], 0.5, 0.0);
        let position_embeddings = names
            .position
            .as_ref()
            .map(|_| t(&[c.max_position_embeddings, h], 0.1, 0.0));
        let token_type_embeddings = match &names.token_type {
            Some(_) => t(&[c.type_vocab_size, h], 0.1, 0.0),
            None => HostTensor {
                shape: vec![1, h],
                data: vec![0.0; h],
            },
        };
        let (emb_ln_g, emb_ln_b) = (t(&[h], 0.1, 1.0), t(&[h], 0.02, 0.0));
        let layers = (0..c.num_hidden_layers)
            .map(|l| {
                let mut lw = LayerWeights::default();
                for spec in arch.layer_weights(c, l) {
                    let (scale, offset) = match spec.role {
                        Role::AttnNormWeight | Role::FfnNormWeight => (0.1, 1.0),
                        _ if spec.source == Source::Zeros => (0.0, 0.0),
                        _ if spec.shape.len() == 1 => (0.02, 0.0),
                        _ => (0.05, 0.0),
                    };
                    let label = spec.source.label();
                    lw.insert(spec.role, label, t(&spec.shape, scale, offset));
                }
                lw
            })
            .collect();
        BertWeights {
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            emb_ln_g,
            emb_ln_b,
            layers,
            final_norm: names
                .final_norm
                .as_ref()
                .map(|_| (t(&[h], 0.1, 1.0), t(&[h], 0.02, 0.0))),
            relative_bias: names.relative_bias.as_ref().map(|_| {
                t(
                    &[c.relative_attention_num_buckets, c.num_attention_heads],
                    0.5,
                    0.0,
                )
            }),
            pooler: Some((t(&[h, h], 0.05, 0.0), t(&[h], 0.02, 0.0))),
            classifier: None,
            head_dense: None,
            mlm: None,
            nsp: None,
        }
    }
}
