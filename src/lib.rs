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

pub mod arch;
pub mod bench;
pub mod capi;
pub mod config;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod head;
pub mod kernels;
pub mod locate;
pub mod model;
pub mod ner;
pub mod npy;
pub mod ops;
pub mod preprocess;
pub mod pt;
pub mod reference;
pub mod sentence;
pub mod shaders;
pub mod tensor;
pub mod tune;
pub mod weights;

pub use config::{Activation, BertConfig, Family};
pub use engine::{
    DEFAULT_SEQ_LENGTH, EmbedOptions, Encoded, Engine, EngineFuture, EngineOptions, MaskFill,
    MultiVector, SparseEmbedding,
};
pub use error::{Error, Result};
pub use gpu::{GpuContext, GpuOptions};
pub use model::{Pooling, Request, Splade};
pub use preprocess::{Input, Packed, Preprocessor};
pub use sentence::SentenceConfig;
pub use weights::BertWeights;

/// Where the default model lives, relative to the working directory (a checkout).
pub const DEFAULT_MODEL_DIR: &str = "assets/models/all-MiniLM-L6-v2";

/// The default model's folder name under the per-user model folders the command line searches
/// (`$XDG_DATA_HOME/wgbert/models`, `$XDG_CACHE_HOME/wgbert/models`).
pub const DEFAULT_MODEL_NAME: &str = "all-MiniLM-L6-v2";
