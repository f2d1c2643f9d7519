//! Hugging Face `config.json` for BERT-family encoders.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// The activation of the feed-forward block, from `hidden_act`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `0.5·x·(1 + erf(x/√2))` (`"gelu"`, `"gelu_python"`).
    GeluErf,
    /// tanh-approximated GELU (`"gelu_new"`, `"gelu_pytorch_tanh"`, `"gelu_fast"`).
    GeluTanh,
    /// ReLU (`"relu"`).
    Relu,
}

impl Activation {
    /// Maps a Hugging Face `hidden_act` string; `None` for activations wgbert does not implement.
    pub fn from_hf(name: &str) -> Option<Self> {
        match name {
            "gelu" | "gelu_python" => Some(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    /// The shaders' activation for it (`ACT`, see `shaders/common/activations.wgsl`).
    pub fn act(self) -> crate::kernels::Act {
        use crate::kernels::Act;
        match self {
            Activation::GeluErf => Act::GeluErf,
            Activation::GeluTanh => Act::GeluTanh,
            Activation::Relu => Act::Relu,
        }
    }
}

fn default_max_pos() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".to_string()
}

/// The weight layout and embedding conventions of a checkpoint, from `model_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// BERT (`bert`, or no `model_type`): positions from 0, token types.
    Bert,
    /// RoBERTa, XLM-RoBERTa, CamemBERT: positions start at `pad_token_id + 1` (padding keeps
    /// `pad_token_id`), one token type.
    Roberta,
    /// DistilBERT: its own weight names, no token types, no pooler.
    DistilBert,
}

/// The `model_type` values wgbert loads, for error messages.
pub const SUPPORTED_MODEL_TYPES: &str = "bert, roberta, xlm-roberta, camembert, distilbert";

impl Family {
    /// The family of a `model_type` string; `None` for ones wgbert does not run.
    pub fn from_model_type(mt: &str) -> Option<Self> {
        match mt {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "distilbert" => Some(Family::DistilBert),
            _ => None,
        }
    }
}

/// The BERT fields of a Hugging Face `config.json`. Unknown fields are ignored; `Default` is
/// bert-base-uncased.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    /// Rows of the word-embedding table.
    pub vocab_size: usize,
    /// Model width H (DistilBERT: `dim`).
    #[serde(alias = "dim")]
    pub hidden_size: usize,
    /// Number of transformer layers (DistilBERT: `n_layers`).
    #[serde(alias = "n_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads; `hidden_size` must be a multiple of it (DistilBERT: `n_heads`).
    #[serde(alias = "n_heads")]
    pub num_attention_heads: usize,
    /// Width of the feed-forward block (DistilBERT: `hidden_dim`).
    #[serde(alias = "hidden_dim")]
    pub intermediate_size: usize,
    /// Activation name as in the file (`"gelu"`, `"gelu_new"`, …; DistilBERT: `activation`).
    #[serde(default = "default_act", alias = "activation")]
    pub hidden_act: String,
    /// Longest sequence the position table covers.
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (segments).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// `"bert"`, `"roberta"`, `"xlm-roberta"`, `"camembert"` or `"distilbert"` (see [`Family`]).
    #[serde(default)]
    pub model_type: Option<String>,
    /// Id of the padding token; RoBERTa-family positions are counted from it.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    /// Only `"absolute"` is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    /// Architectures named by the checkpoint (informational).
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    /// Label names of a classification head, by id (`{"0": "NEGATIVE", ...}`).
    #[serde(default)]
    pub id2label: Option<std::collections::HashMap<String, String>>,
    /// `"multi_label_classification"` makes a classification head's scores sigmoids.
    #[serde(default)]
    pub problem_type: Option<String>,
}

impl Default for BertConfig {
    fn default() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: default_act(),
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            model_type: Some("bert".into()),
            pad_token_id: Some(0),
            position_embedding_type: Some("absolute".into()),
            architectures: None,
            id2label: None,
            problem_type: None,
        }
    }
}

impl BertConfig {
    /// all-MiniLM-L6-v2's shape (6 layers, hidden 384, 12 heads, intermediate 1536).
    pub fn minilm_l6() -> Self {
        BertConfig {
            hidden_size: 384,
            num_hidden_layers: 6,
            intermediate_size: 1536,
            ..Default::default()
        }
    }

    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(path, &text)
    }

    /// Parses and validates config JSON text; `path` names it in errors.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        let mut cfg: BertConfig = serde_json::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("not a valid BERT-family config.json ({e})"),
        })?;
        if cfg.family() == Some(Family::DistilBert) {
            // DistilBERT has no token-type table and no type_vocab_size field: one (zero) type.
            cfg.type_vocab_size = 1;
        }
        cfg.validate().map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Checks that the config describes an encoder wgbert runs; the message says what is wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(mt) = &self.model_type
            && Family::from_model_type(mt).is_none()
        {
            return Err(format!(
                "model_type {mt:?} is not supported; wgbert runs these BERT-family model types: {SUPPORTED_MODEL_TYPES}"
            ));
        }
        if self.max_position_embeddings <= self.position_offset() {
            return Err(format!(
                "max_position_embeddings {} leaves no positions after the {} that this {} layout reserves (pad_token_id + 1)",
                self.max_position_embeddings,
                self.position_offset(),
                self.model_type.as_deref().unwrap_or("bert")
            ));
        }
        if let Some(p) = &self.position_embedding_type
            && p != "absolute"
        {
            return Err(format!(
                "position_embedding_type {p:?} is not supported; only \"absolute\" is"
            ));
        }
        if Activation::from_hf(&self.hidden_act).is_none() {
            return Err(format!(
                "hidden_act {:?} is not supported; use one of gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_fast, relu",
                self.hidden_act
            ));
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} is 0; it must be positive"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.head_dim() > 256 {
            return Err(format!(
                "head size {} (hidden_size / num_attention_heads) is above the 256 the attention kernel supports",
                self.head_dim()
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(format!(
                "layer_norm_eps {} must be a positive number",
                self.layer_norm_eps
            ));
        }
        Ok(())
    }

    /// Label names of a classification head with `n` outputs: `id2label` in id order, or
    /// `LABEL_i` where the config names none.
    pub fn labels(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.id2label
                    .as_ref()
                    .and_then(|m| m.get(&i.to_string()).cloned())
                    .unwrap_or_else(|| format!("LABEL_{i}"))
            })
            .collect()
    }

    /// The feed-forward activation (validated).
    pub fn activation(&self) -> Activation {
        Activation::from_hf(&self.hidden_act).unwrap_or(Activation::GeluErf)
    }

    /// The weight layout (validated configs always have one; no `model_type` means BERT).
    pub fn family(&self) -> Option<Family> {
        match &self.model_type {
            None => Some(Family::Bert),
            Some(mt) => Family::from_model_type(mt),
        }
    }

    /// The padding token id: `pad_token_id`, else 1 for the RoBERTa family and 0 otherwise.
    pub fn pad_id(&self) -> usize {
        self.pad_token_id.unwrap_or(match self.family() {
            Some(Family::Roberta) => 1,
            _ => 0,
        })
    }

    /// Position index of the first token: `pad_token_id + 1` for the RoBERTa family, else 0.
    pub fn position_offset(&self) -> usize {
        match self.family() {
            Some(Family::Roberta) => self.pad_id() + 1,
            _ => 0,
        }
    }

    /// Longest input in tokens, special tokens included: `max_position_embeddings` less the
    /// positions the layout reserves (514 − 2 = 512 for RoBERTa).
    pub fn max_seq_length(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }

    /// The longest input in words for messages: `64 tokens (max_position_embeddings 64)`, or
    /// `512 tokens (max_position_embeddings 514 less 2 reserved positions)`.
    pub fn describe_max_seq_length(&self) -> String {
        match self.position_offset() {
            0 => format!(
                "{} tokens (max_position_embeddings {})",
                self.max_seq_length(),
                self.max_position_embeddings
            ),
            r => format!(
                "{} tokens (max_position_embeddings {} less {r} reserved positions)",
                self.max_seq_length(),
                self.max_position_embeddings
            ),
        }
    }

    /// Whether the model reads token types: false where the table has one row (RoBERTa family)
    /// or none (DistilBERT); such models get type 0 everywhere, as transformers gives them.
    pub fn uses_token_types(&self) -> bool {
        self.type_vocab_size > 1 && self.family() != Some(Family::DistilBert)
    }

    /// Per-head width D = H / heads.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }
}
