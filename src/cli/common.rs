//! What the commands share: reading inputs, opening the engine with the command's flags.

use super::args::{InputArgs, ModelArgs, PrecisionArg};
use anyhow::{Result, bail};
use wgbert::{Engine, EngineOptions, Input};

/// The model folder of `--model`, `WGBERT_MODEL` or the default search path; a missing one is
/// an error that names every place looked in and how to install the default model.
pub fn model_dir(m: &ModelArgs) -> Result<std::path::PathBuf> {
    let dir = resolve_model_dir(m.model.as_deref());
    if dir.is_dir() {
        return Ok(dir);
    }
    let given =
        m.model.is_some() || std::env::var_os("WGBERT_MODEL").is_some_and(|v| !v.is_empty());
    if given {
        bail!(
            "model folder {} not found; pass an existing --model DIR / WGBERT_MODEL, or install the default model with scripts/fetch-model.sh",
            dir.display()
        );
    }
    bail!("{}", model_not_found_message())
}

pub fn gather_inputs(args: &InputArgs) -> Result<Vec<Input>> {
    let lines = super::input::gather(args.input.as_deref(), &args.texts, args.lossy)?;
    Ok(lines.iter().map(|l| Input::parse(l)).collect())
}

pub fn gather_texts(args: &InputArgs) -> Result<Vec<String>> {
    super::input::gather(args.input.as_deref(), &args.texts, args.lossy)
}

pub fn open_engine(m: &ModelArgs, seq_len: usize) -> Result<Engine> {
    open_engine_with(m, seq_len, 32)
}

/// TF-Hub's 128, or the model's longest input if that is shorter.
pub fn default_len(m: &ModelArgs) -> usize {
    let dir = resolve_model_dir(m.model.as_deref());
    let max = wgbert::BertConfig::from_file(&dir.join("config.json"))
        .map_or(wgbert::DEFAULT_SEQ_LENGTH, |c| c.max_seq_length());
    wgbert::DEFAULT_SEQ_LENGTH.min(max)
}

/// For commands without a --seq-len: [`default_len`].
pub fn open_engine_default_len(m: &ModelArgs) -> Result<Engine> {
    open_engine(m, default_len(m))
}

pub fn open_engine_with(m: &ModelArgs, seq_len: usize, max_batch: usize) -> Result<Engine> {
    open_engine_opts(m, seq_len, max_batch, |_| {})
}

/// The engine options every command starts from: the environment's
/// ([`EngineOptions::from_env`]), then `--adapter` and `--precision`.
pub fn engine_options(m: &ModelArgs) -> EngineOptions {
    engine_options_with(m.adapter.as_deref(), m.precision)
}

/// [`engine_options`] for commands whose `--adapter` and `--precision` are their own.
pub fn engine_options_with(adapter: Option<&str>, precision: PrecisionArg) -> EngineOptions {
    let mut opts = EngineOptions::from_env();
    if let Some(a) = adapter {
        opts.gpu.adapter_name = Some(a.to_string());
    }
    opts.precision = precision.into();
    opts
}

pub fn open_engine_opts(
    m: &ModelArgs,
    seq_len: usize,
    max_batch: usize,
    adjust: impl FnOnce(&mut EngineOptions),
) -> Result<Engine> {
    let dir = super::common::model_dir(m)?;
    let mut opts = engine_options(m);
    opts.seq_length = seq_len.max(2);
    opts.max_batch = max_batch.max(1);
    adjust(&mut opts);
    Ok(Engine::from_dir(&dir, opts)?)
}

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
    out.push(wgbert::DEFAULT_MODEL_DIR.into());
    out.extend(
        user_model_dirs()
            .into_iter()
            .map(|d| d.join(wgbert::DEFAULT_MODEL_NAME)),
    );
    out
}

/// The model folder to use: `explicit`, else the first folder of [`model_search_path`] that
/// holds a `config.json`, else `WGBERT_MODEL` or `DEFAULT_MODEL_DIR` (for the error).
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
        .unwrap_or_else(|| wgbert::DEFAULT_MODEL_DIR.into())
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
