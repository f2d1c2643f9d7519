//! The one error type of the library. Every message names what went wrong and what to do.

use std::path::PathBuf;

/// Everything that can go wrong in wgbert, as values (the library never panics on user input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be found or none matched the request.
    #[error(
        "no GPU adapter found{detail}. wgbert needs a Vulkan, Metal or DX12 driver; on a Linux machine \
         without a GPU install Mesa's CPU Vulkan driver: `apt-get install mesa-vulkan-drivers`"
    )]
    NoAdapter {
        /// Extra detail, e.g. the adapters that were seen.
        detail: String,
    },

    /// `WGPU_ADAPTER_NAME` (or the adapter option) matched none of the adapters present.
    #[error(
        "no GPU adapter name contains {wanted:?}; adapters present: {available}. Unset WGPU_ADAPTER_NAME or pick one of these"
    )]
    AdapterNotFound {
        /// The requested substring.
        wanted: String,
        /// The adapters present, comma-separated.
        available: String,
    },

    /// The device could not be created or reported an error.
    #[error("GPU device error: {0}")]
    Device(String),

    /// A file of the model directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// An output file or folder could not be written.
    #[error("cannot write {path}: {reason}; pick a folder you can create and write to")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        reason: std::io::Error,
    },

    /// The model directory is missing or incomplete.
    #[error("{0}")]
    ModelNotFound(String),

    /// `config.json` is malformed or describes a model wgbert does not run.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// The weights file is malformed or does not match the config.
    #[error("weights {path}: {message}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// A tensor has the wrong shape for the config.
    #[error(
        "weights {path}: tensor {name} has shape {found:?}, but config.json implies {expected:?}; \
         the weights and config.json do not belong together"
    )]
    TensorShape {
        /// The weights file.
        path: PathBuf,
        /// The tensor (Hugging Face name).
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },

    /// A tensor the encoder needs is absent.
    #[error("weights {path}: tensor {name} is missing; {needed_by}")]
    MissingTensor {
        /// The weights file.
        path: PathBuf,
        /// The tensor (Hugging Face name, unprefixed).
        name: String,
        /// Who needs it and what to check, e.g. the architecture config.json names.
        needed_by: String,
    },

    /// The tokenizer could not be loaded or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// An input or option is out of range.
    #[error("{0}")]
    InvalidInput(String),

    /// An output was requested that this model cannot produce.
    #[error("{0}")]
    Unsupported(String),

    /// A shape does not fit the device limits or the kernel's constraints.
    #[error("shape error: {0}")]
    Shape(String),
}

/// Shorthand for `Result<T, wgbert::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
