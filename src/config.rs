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
    /// SiLU (`"silu"`, `"swish"`; the gate of `"swiglu"`).
    Silu,
    /// The logistic sigmoid (the gate of `"glu"`).
    Sigmoid,
}

impl Activation {
    /// Maps a Hugging Face `hidden_act` string; `None` for activations wgbert does not implement.
    pub fn from_hf(name: &str) -> Option<Self> {
        match name {
            "gelu" | "gelu_python" => Some(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            "silu" | "swish" | "swiglu" => Some(Activation::Silu),
            "geglu" => Some(Activation::GeluErf),
            "glu" => Some(Activation::Sigmoid),
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
            Activation::Silu => Act::Silu,
            Activation::Sigmoid => Act::Sigmoid,
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
    /// NomicBERT (`nomic_bert`): rotary positions, fused Wqkv, gated feed-forward block.
    Nomic,
    /// ModernBERT (`modernbert`): pre-norm, rotary, local/global attention, GeGLU.
    ModernBert,
    /// MPNet (`mpnet`): RoBERTa's positions, a bucketed relative position bias.
    MpNet,
    /// GTE's "new" encoder (`new`): rotary (fixed NTK scaling), gated feed-forward block.
    Gte,
    /// JinaBERT v2 (`bert` with `position_embedding_type` `alibi`, or `jina_bert`): ALiBi,
    /// gated feed-forward block.
    Jina,
}

/// The `model_type` values wgbert loads, for error messages.
pub const SUPPORTED_MODEL_TYPES: &str = "bert, roberta, xlm-roberta, camembert, distilbert (BERT); nomic_bert (NomicBERT); modernbert (ModernBERT); mpnet (MPNet); new (GTE v1.5); jina_bert, or bert with position_embedding_type alibi (JinaBERT v2)";

impl Family {
    /// The family of a `model_type` string; `None` for ones wgbert does not run.
    pub fn from_model_type(mt: &str) -> Option<Self> {
        match mt {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "distilbert" => Some(Family::DistilBert),
            "nomic_bert" => Some(Family::Nomic),
            "modernbert" => Some(Family::ModernBert),
            "mpnet" => Some(Family::MpNet),
            "new" => Some(Family::Gte),
            "jina_bert" => Some(Family::Jina),
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
    /// Model width H (DistilBERT: `dim`; NomicBERT: `n_embd`).
    #[serde(alias = "dim", alias = "n_embd")]
    pub hidden_size: usize,
    /// Number of transformer layers (DistilBERT: `n_layers`; NomicBERT: `n_layer`).
    #[serde(alias = "n_layers", alias = "n_layer")]
    pub num_hidden_layers: usize,
    /// Attention heads; `hidden_size` must be a multiple of it (DistilBERT: `n_heads`;
    /// NomicBERT: `n_head`).
    #[serde(alias = "n_heads", alias = "n_head")]
    pub num_attention_heads: usize,
    /// Width of the feed-forward block (DistilBERT: `hidden_dim`; NomicBERT: `n_inner`, may
    /// be null, rounded up to a multiple of 256 for gated blocks as its modeling code does).
    #[serde(
        default,
        alias = "hidden_dim",
        alias = "n_inner",
        deserialize_with = "null_as_zero"
    )]
    pub intermediate_size: usize,
    /// Activation name as in the file (`"gelu"`, `"gelu_new"`, …; DistilBERT: `activation`;
    /// NomicBERT: `activation_function`, where `"swiglu"`, `"geglu"` and `"glu"` are gated).
    #[serde(
        default = "default_act",
        alias = "activation",
        alias = "activation_function"
    )]
    pub hidden_act: String,
    /// Longest sequence the position table covers (NomicBERT: `n_positions`, the longest
    /// input it takes).
    #[serde(default = "default_max_pos", alias = "n_positions")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (segments).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon (NomicBERT: `layer_norm_epsilon`; ModernBERT: `norm_eps`).
    #[serde(
        default = "default_eps",
        alias = "layer_norm_epsilon",
        alias = "norm_eps"
    )]
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
    /// NomicBERT's own keys (defaults as its `NomicBertConfig`; ignored by other families).
    #[serde(flatten)]
    pub nomic: NomicFields,
    /// ModernBERT's own keys (defaults as transformers' `ModernBertConfig`).
    #[serde(flatten)]
    pub modernbert: ModernBertFields,
    /// MPNet's relative position buckets (`MPNetConfig`'s default 32).
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    /// GTE's ("new") own keys.
    #[serde(flatten)]
    pub gte: GteFields,
    /// JinaBERT's feed-forward block: `geglu` or `reglu`.
    #[serde(default)]
    pub feed_forward_type: Option<String>,
}

/// The keys of a GTE ("new") `config.json` beyond BERT's, with `NewConfig`'s defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct GteFields {
    /// Rotary base.
    pub rope_theta: f64,
    /// `{"type": "ntk", "factor": f}`: fixed NTK scaling.
    pub rope_scaling: Option<RopeScaling>,
    /// One `qkv_proj` (else `q_proj`, `k_proj`, `v_proj`).
    pub pack_qkv: bool,
    /// Only `layer_norm` is supported (`rms_norm` is refused).
    pub layer_norm_type: String,
    /// log-n attention scaling (refused: the published models do not use it).
    pub logn_attention_scale: bool,
    /// `type_vocab_size` was 0: no token-type table (set when the config is read).
    #[serde(skip)]
    pub no_token_types: bool,
    /// `position_embedding_type` was `absolute` (set when the config is read).
    #[serde(skip)]
    pub absolute: bool,
}

/// GTE's `rope_scaling`.
#[derive(Clone, Debug, Deserialize)]
pub struct RopeScaling {
    /// Only `ntk`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The factor.
    pub factor: Option<f64>,
    /// Mixed NTK (refused).
    pub mixed_b: Option<f64>,
}

impl Default for GteFields {
    fn default() -> Self {
        GteFields {
            rope_theta: 10_000.0,
            rope_scaling: None,
            pack_qkv: true,
            layer_norm_type: "layer_norm".into(),
            logn_attention_scale: false,
            no_token_types: false,
            absolute: false,
        }
    }
}

impl GteFields {
    /// Rotary positions (`position_embedding_type` `rope`, its default).
    pub fn rope(&self) -> bool {
        !self.absolute
    }

    /// The NTK factor when it changes anything (its code rescales only for a factor above 1).
    pub fn ntk_factor(&self) -> Option<f64> {
        self.rope_scaling
            .as_ref()
            .and_then(|r| r.factor)
            .filter(|f| *f > 1.0)
    }
}

fn default_buckets() -> usize {
    32
}

/// The keys of a ModernBERT `config.json` beyond BERT's, with `ModernBertConfig`'s defaults;
/// both the older keys (`global_rope_theta`, `local_rope_theta`, `global_attn_every_n_layers`)
/// and transformers 5's (`layer_types`, `rope_parameters`) are read.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ModernBertFields {
    /// Whether the LayerNorms have a bias.
    pub norm_bias: bool,
    /// Whether `Wqkv` and `attn.Wo` have biases.
    pub attention_bias: bool,
    /// Whether `mlp.Wi` and `mlp.Wo` have biases.
    pub mlp_bias: bool,
    /// The whole local attention window (a query sees `local_attention / 2` keys each side).
    pub local_attention: i64,
    /// Every n-th layer (from 0) attends globally.
    pub global_attn_every_n_layers: i64,
    /// Rotary theta of global layers.
    pub global_rope_theta: f64,
    /// Rotary theta of local layers.
    pub local_rope_theta: f64,
    /// `full_attention` / `sliding_attention` per layer (transformers 5).
    pub layer_types: Option<Vec<String>>,
    /// Per attention type `{rope_theta, rope_type}` (transformers 5).
    pub rope_parameters: Option<std::collections::HashMap<String, RopeParameters>>,
}

/// One attention type's rotary parameters (`rope_parameters` values).
#[derive(Clone, Debug, Deserialize)]
pub struct RopeParameters {
    /// The theta.
    pub rope_theta: Option<f64>,
    /// Only `"default"` is supported.
    pub rope_type: Option<String>,
}

impl Default for ModernBertFields {
    fn default() -> Self {
        ModernBertFields {
            norm_bias: false,
            attention_bias: false,
            mlp_bias: false,
            local_attention: 128,
            global_attn_every_n_layers: 3,
            global_rope_theta: 160_000.0,
            local_rope_theta: 10_000.0,
            layer_types: None,
            rope_parameters: None,
        }
    }
}

fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    Ok(Option::<usize>::deserialize(d)?.unwrap_or(0))
}

/// The keys of a NomicBERT `config.json` beyond BERT's, with `NomicBertConfig`'s defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct NomicFields {
    /// Share of each head's values that rotate (0: absolute positions instead).
    pub rotary_emb_fraction: f64,
    /// Rotary base (theta).
    pub rotary_emb_base: f64,
    /// GPT-J style interleaved rotation (not supported; the published models use false).
    pub rotary_emb_interleaved: bool,
    /// xPos scaling (not supported; the published models have none).
    pub rotary_emb_scale_base: Option<f64>,
    /// Dynamic NTK scaling factor past `max_trained_positions`.
    pub rotary_scaling_factor: Option<f64>,
    /// The length the rotary base was trained for.
    pub max_trained_positions: usize,
    /// Whether `Wqkv` and `out_proj` have biases.
    pub qkv_proj_bias: bool,
    /// Whether the feed-forward input projection(s) have biases.
    pub mlp_fc1_bias: bool,
    /// Whether the feed-forward output projection has a bias.
    pub mlp_fc2_bias: bool,
    /// Pre-LayerNorm blocks (not supported; the published models are post-norm).
    pub prenorm: bool,
    /// Causal attention (not an encoder; refused).
    pub causal: bool,
}

impl Default for NomicFields {
    fn default() -> Self {
        NomicFields {
            rotary_emb_fraction: 0.0,
            rotary_emb_base: 10_000.0,
            rotary_emb_interleaved: false,
            rotary_emb_scale_base: None,
            rotary_scaling_factor: None,
            max_trained_positions: 2048,
            qkv_proj_bias: true,
            mlp_fc1_bias: true,
            mlp_fc2_bias: true,
            prenorm: false,
            causal: false,
        }
    }
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
            nomic: NomicFields::default(),
            modernbert: ModernBertFields::default(),
            relative_attention_num_buckets: default_buckets(),
            gte: GteFields::default(),
            feed_forward_type: None,
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
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let has = |k: &str| v.get(k).is_some_and(|x| !x.is_null());
        if cfg.family() == Some(Family::Gte) {
            // NewConfig: type_vocab_size 0 means no token-type table; rope unless "absolute".
            if cfg.type_vocab_size == 0 || !has("type_vocab_size") {
                cfg.gte.no_token_types = true;
                cfg.type_vocab_size = 1;
            }
            cfg.gte.absolute = cfg.position_embedding_type.as_deref() == Some("absolute");
        }
        if cfg.family() == Some(Family::MpNet) {
            // No token types; MPNetConfig's defaults where the file is silent.
            cfg.type_vocab_size = 1;
            if !has("layer_norm_eps") {
                cfg.layer_norm_eps = 1e-5;
            }
            if !has("pad_token_id") {
                cfg.pad_token_id = Some(1);
            }
        }
        if cfg.family() == Some(Family::ModernBert) {
            // No token types; ModernBertConfig's defaults where the file is silent.
            cfg.type_vocab_size = 1;
            if !has("norm_eps") && !has("layer_norm_eps") {
                cfg.layer_norm_eps = 1e-5;
            }
            if !has("max_position_embeddings") {
                cfg.max_position_embeddings = 8192;
            }
            if !has("pad_token_id") {
                cfg.pad_token_id = Some(50283);
            }
        }
        if cfg.family() == Some(Family::Nomic) {
            // NomicBertConfig inherits GPT-2's defaults where the file is silent.
            if !has("layer_norm_epsilon") && !has("layer_norm_eps") {
                cfg.layer_norm_eps = 1e-5;
            }
            if !has("activation_function") && !has("hidden_act") {
                cfg.hidden_act = "gelu_new".into();
            }
            // The modeling code's feed-forward width: n_inner, else 8H/3 (gated) or 4H;
            // gated widths rounded up to a multiple of 256.
            let h = cfg.hidden_size;
            if cfg.intermediate_size == 0 {
                cfg.intermediate_size = if cfg.gated() { 8 * h / 3 } else { 4 * h };
            }
            if cfg.gated() {
                cfg.intermediate_size = cfg.intermediate_size.div_ceil(256) * 256;
            }
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
        if let Some(p) = &self.position_embedding_type {
            let allowed: &[&str] = match self.family() {
                Some(Family::Gte) => &["rope", "absolute"],
                Some(Family::Jina) => &["alibi"],
                _ => &["absolute"],
            };
            if !allowed.contains(&p.as_str()) {
                return Err(format!(
                    "position_embedding_type {p:?} is not supported for this model_type; use {}",
                    allowed.join(" or ")
                ));
            }
        }
        if self.family() == Some(Family::Gte) {
            self.validate_gte()?;
        }
        if self.family() == Some(Family::Jina)
            && !matches!(self.feed_forward_type.as_deref(), Some("geglu" | "reglu"))
        {
            return Err(format!(
                "feed_forward_type {:?} is not supported for JinaBERT; wgbert runs \"geglu\" and \"reglu\"",
                self.feed_forward_type.as_deref().unwrap_or("(missing)")
            ));
        }
        if Activation::from_hf(&self.hidden_act).is_none() {
            return Err(format!(
                "hidden_act {:?} is not supported; use one of gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_fast, relu (and for NomicBERT swiglu, geglu, glu)",
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
        if self.family() == Some(Family::ModernBert) {
            self.validate_modernbert()?;
        }
        if self.family() == Some(Family::MpNet) && self.relative_attention_num_buckets < 4 {
            return Err(format!(
                "relative_attention_num_buckets {} must be at least 4 (MPNet's default is 32)",
                self.relative_attention_num_buckets
            ));
        }
        if self.family() == Some(Family::Nomic) {
            self.validate_nomic()?;
        } else if self.gated() {
            return Err(format!(
                "hidden_act {:?} is a gated feed-forward block, which the {} layout does not have",
                self.hidden_act,
                self.model_type.as_deref().unwrap_or("bert")
            ));
        }
        Ok(())
    }

    /// NomicBERT's own keys, checked: what the published modeling code does and wgbert does not
    /// (interleaved rotary, xPos, pre-norm, causal) is refused rather than run differently.
    fn validate_nomic(&self) -> std::result::Result<(), String> {
        let n = &self.nomic;
        let refuse = |what: &str| {
            Err(format!(
                "{what} is not supported for nomic_bert (the published nomic-embed checkpoints do not use it)"
            ))
        };
        if n.rotary_emb_interleaved {
            return refuse("rotary_emb_interleaved: true (GPT-J style rotation)");
        }
        if n.rotary_emb_scale_base.is_some() {
            return refuse("rotary_emb_scale_base (xPos)");
        }
        if n.prenorm {
            return refuse("prenorm: true");
        }
        if n.causal {
            return refuse("causal: true (a decoder, not an encoder)");
        }
        if !(n.rotary_emb_fraction.is_finite() && (0.0..=1.0).contains(&n.rotary_emb_fraction)) {
            return Err(format!(
                "rotary_emb_fraction {} must be between 0 and 1",
                n.rotary_emb_fraction
            ));
        }
        if n.rotary_emb_fraction > 0.0 {
            if !(n.rotary_emb_base.is_finite() && n.rotary_emb_base > 0.0) {
                return Err(format!(
                    "rotary_emb_base {} must be a positive number (the rotary theta)",
                    n.rotary_emb_base
                ));
            }
            if !self.rotary_dims().is_multiple_of(2) || self.rotary_dims() == 0 {
                return Err(format!(
                    "rotary_emb_fraction {} of head size {} gives {} rotary values; it must be a positive even number",
                    n.rotary_emb_fraction,
                    self.head_dim(),
                    self.rotary_dims()
                ));
            }
        }
        if let Some(f) = n.rotary_scaling_factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(format!(
                "rotary_scaling_factor {f} must be a positive number (or null for no scaling)"
            ));
        }
        if n.rotary_scaling_factor.is_some() && n.max_trained_positions == 0 {
            return Err("max_trained_positions is 0; it must be positive".into());
        }
        Ok(())
    }

    /// GTE's keys, checked.
    fn validate_gte(&self) -> std::result::Result<(), String> {
        let g = &self.gte;
        if g.layer_norm_type != "layer_norm" {
            return Err(format!(
                "layer_norm_type {:?} is not supported; wgbert runs \"layer_norm\"",
                g.layer_norm_type
            ));
        }
        if g.logn_attention_scale {
            return Err("logn_attention_scale: true is not supported (the published GTE models do not use it)".into());
        }
        if !(g.rope_theta.is_finite() && g.rope_theta > 0.0) {
            return Err(format!(
                "rope_theta {} must be a positive number (the rotary theta)",
                g.rope_theta
            ));
        }
        if let Some(r) = &g.rope_scaling {
            if let Some(k) = r.kind.as_deref()
                && k != "ntk"
            {
                return Err(format!(
                    "rope_scaling type {k:?} is not supported; GTE's code has \"ntk\""
                ));
            }
            if r.mixed_b.is_some() {
                return Err("rope_scaling.mixed_b (mixed NTK) is not supported".into());
            }
            if let Some(f) = r.factor
                && !(f.is_finite() && f > 0.0)
            {
                return Err(format!("rope_scaling.factor {f} must be a positive number"));
            }
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "head size {} is odd; rotary embeddings need an even head size",
                self.head_dim()
            ));
        }
        Ok(())
    }

    /// ModernBERT's keys, checked.
    fn validate_modernbert(&self) -> std::result::Result<(), String> {
        let m = &self.modernbert;
        if m.local_attention <= 0 {
            return Err(format!(
                "local_attention {} must be positive (the local attention window)",
                m.local_attention
            ));
        }
        if m.global_attn_every_n_layers <= 0 {
            return Err(format!(
                "global_attn_every_n_layers {} must be positive",
                m.global_attn_every_n_layers
            ));
        }
        if let Some(t) = &m.layer_types {
            if t.len() != self.num_hidden_layers {
                return Err(format!(
                    "layer_types names {} layers but num_hidden_layers is {}",
                    t.len(),
                    self.num_hidden_layers
                ));
            }
            if let Some(bad) = t
                .iter()
                .find(|x| *x != "full_attention" && *x != "sliding_attention")
            {
                return Err(format!(
                    "layer_types has {bad:?}; each layer is \"full_attention\" or \"sliding_attention\""
                ));
            }
        }
        if let Some(p) = &m.rope_parameters {
            for (kind, r) in p {
                if let Some(t) = r.rope_type.as_deref()
                    && t != "default"
                {
                    return Err(format!(
                        "rope_parameters.{kind}.rope_type {t:?} is not supported; only \"default\" is"
                    ));
                }
            }
        }
        for l in 0..self.num_hidden_layers {
            let (theta, _) = self.modernbert_layer(l);
            if !(theta.is_finite() && theta > 0.0) {
                return Err(format!(
                    "the rotary theta of layer {l} is {theta}; rope_theta (global_rope_theta / local_rope_theta) must be positive"
                ));
            }
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "head size {} is odd; rotary embeddings need an even head size",
                self.head_dim()
            ));
        }
        Ok(())
    }

    /// A ModernBERT layer's rotary theta and sliding-window half-width (0: global attention),
    /// from `layer_types` / `rope_parameters` where present, else the older keys.
    pub fn modernbert_layer(&self, l: usize) -> (f64, usize) {
        let m = &self.modernbert;
        let global = match &m.layer_types {
            Some(t) => t.get(l).is_none_or(|x| x == "full_attention"),
            None => l.is_multiple_of(m.global_attn_every_n_layers.max(1) as usize),
        };
        let (kind, fallback) = if global {
            ("full_attention", m.global_rope_theta)
        } else {
            ("sliding_attention", m.local_rope_theta)
        };
        let theta = m
            .rope_parameters
            .as_ref()
            .and_then(|p| p.get(kind))
            .and_then(|r| r.rope_theta)
            .unwrap_or(fallback);
        let window = if global {
            0
        } else {
            (m.local_attention.max(0) as usize) / 2
        };
        (theta, window)
    }

    /// Whether the feed-forward block is gated (`swiglu`, `geglu`, `glu`).
    pub fn gated(&self) -> bool {
        matches!(self.hidden_act.as_str(), "swiglu" | "geglu" | "glu")
    }

    /// Leading values of each head that rotate (NomicBERT: `rotary_emb_fraction` of the head
    /// size); 0 for absolute positions.
    pub fn rotary_dims(&self) -> usize {
        if self.family() == Some(Family::Nomic) {
            (self.head_dim() as f64 * self.nomic.rotary_emb_fraction) as usize
        } else {
            0
        }
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
        let family = match &self.model_type {
            None => Some(Family::Bert),
            Some(mt) => Family::from_model_type(mt),
        };
        // JinaBERT v2 checkpoints say `bert`; ALiBi positions tell them apart.
        match (family, self.position_embedding_type.as_deref()) {
            (Some(Family::Bert), Some("alibi")) => Some(Family::Jina),
            _ => family,
        }
    }

    /// JinaBERT's feed-forward gate activation from `feed_forward_type` (validated).
    pub fn jina_activation(&self) -> crate::kernels::Act {
        match self.feed_forward_type.as_deref() {
            Some("reglu") => crate::kernels::Act::Relu,
            _ => crate::kernels::Act::GeluErf,
        }
    }

    /// The padding token id: `pad_token_id`, else 1 for the RoBERTa family and MPNet, 0
    /// otherwise.
    pub fn pad_id(&self) -> usize {
        self.pad_token_id
            .unwrap_or(if self.roberta_positions() { 1 } else { 0 })
    }

    /// Whether positions count from `pad_token_id + 1` with padding at `pad_token_id`
    /// (the RoBERTa family and MPNet).
    pub fn roberta_positions(&self) -> bool {
        matches!(self.family(), Some(Family::Roberta | Family::MpNet))
    }

    /// Position index of the first token: `pad_token_id + 1` for the RoBERTa family and
    /// MPNet, else 0.
    pub fn position_offset(&self) -> usize {
        if self.roberta_positions() {
            self.pad_id() + 1
        } else {
            0
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
