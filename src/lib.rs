//! # wgbert — BERT inference on any GPU through wgpu
//!
//! Raw text in; the TF-Hub BERT outputs out (`pooled_output`, `sequence_output`,
//! `encoder_outputs`) and sentence embeddings, computed by wgbert's own WGSL compute shaders
//! (`shaders/`) on Vulkan, Metal or DX12.
//!
//! ```no_run
//! use wgbert::{Engine, EngineOptions, Input};
//! let engine = Engine::from_dir("assets/models/all-MiniLM-L6-v2".as_ref(), EngineOptions::default())?;
//! let v = engine.embed(&[Input::from("nice movie indeed")])?;
//! assert_eq!(v[0].len(), 384);
//! # Ok::<(), wgbert::Error>(())
//! ```
//!
//! Layers: [`preprocess`] (tokenizer + TF-Hub packing), [`weights`] + [`config`] (Hugging Face
//! files), [`gpu`] (adapter/device), [`kernels`] (the WGSL kernels), [`model`] (weights on the
//! GPU and per-shape plans), [`engine`] (the API), [`mod@reference`] (CPU references of every
//! kernel), [`ops`] (single kernels on host data), [`tune`] (GEMM autotuning), [`shaders`]
//! (every shader variant as text), [`mod@bench`]
//! (`wgbert bench`), [`npy`] (streamed `.npy` output).

#![warn(missing_docs)]

pub mod bench;
pub mod capi;
pub mod config;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod head;
pub mod kernels;
pub mod model;
pub mod ner;
pub mod npy;
pub mod ops;
pub mod preprocess;
pub mod reference;
pub mod sentence;
pub mod shaders;
pub mod tune;
pub mod weights;

pub use config::{Activation, BertConfig, Family};
pub use engine::{DEFAULT_SEQ_LENGTH, Encoded, Engine, EngineFuture, EngineOptions};
pub use error::{Error, Result};
pub use gpu::{GpuContext, GpuOptions};
pub use model::{Pooling, Request};
pub use preprocess::{Input, Packed, Preprocessor};
pub use sentence::SentenceConfig;
pub use weights::BertWeights;

/// Where the default model lives, relative to the working directory (a checkout).
pub const DEFAULT_MODEL_DIR: &str = "assets/models/all-MiniLM-L6-v2";

/// The default model's folder name under the per-user model folders.
pub const DEFAULT_MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The per-user folders models are installed into and searched in, in order:
/// `$XDG_DATA_HOME/wgbert/models` (default `~/.local/share/wgbert/models`), then
/// `$XDG_CACHE_HOME/wgbert/models` (default `~/.cache/wgbert/models`).
pub fn user_model_dirs() -> Vec<std::path::PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from);
    let xdg = |var: &str, fallback: &str| -> Option<std::path::PathBuf> {
        match std::env::var_os(var) {
            Some(v) if !v.is_empty() => Some(v.into()),
            _ => home.as_ref().map(|h| h.join(fallback)),
        }
    };
    [
        xdg("XDG_DATA_HOME", ".local/share"),
        xdg("XDG_CACHE_HOME", ".cache"),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join("wgbert").join("models"))
    .collect()
}

/// Every place the default model is looked for when no folder is given, in order:
/// `WGBERT_MODEL`, `./assets/models/all-MiniLM-L6-v2`, then [`user_model_dirs`] /
/// `all-MiniLM-L6-v2`.
pub fn model_search_path() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = std::env::var_os("WGBERT_MODEL").filter(|v| !v.is_empty()) {
        out.push(v.into());
    }
    out.push(DEFAULT_MODEL_DIR.into());
    out.extend(
        user_model_dirs()
            .into_iter()
            .map(|d| d.join(DEFAULT_MODEL_NAME)),
    );
    out
}

/// The model folder to use: `explicit`, else the first folder of [`model_search_path`] that
/// holds a `config.json`, else `WGBERT_MODEL` or [`DEFAULT_MODEL_DIR`] (for the error).
pub fn resolve_model_dir(explicit: Option<&std::path::Path>) -> std::path::PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let path = model_search_path();
    if let Some(v) = std::env::var_os("WGBERT_MODEL").filter(|v| !v.is_empty()) {
        // An explicit variable is not second-guessed.
        return v.into();
    }
    path.iter()
        .find(|d| d.join("config.json").is_file())
        .cloned()
        .unwrap_or_else(|| DEFAULT_MODEL_DIR.into())
}

/// "model not found" for the default model: every place looked, and how to install it.
pub fn model_not_found_message() -> String {
    let places: Vec<String> = model_search_path()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "the default model was not found; looked in: {}. Install it with scripts/fetch-model.sh --user (or `wgbert fetch-model`), or pass --model DIR / set WGBERT_MODEL",
        places.join(", ")
    )
}
