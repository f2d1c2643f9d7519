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
    if wgbert::locate::model_given(m.model.as_deref(), &env) {
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

fn env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

/// The model folder to use (see [`wgbert::locate::resolve_model_dir`]).
pub fn resolve_model_dir(explicit: Option<&std::path::Path>) -> std::path::PathBuf {
    wgbert::locate::resolve_model_dir(explicit, &env)
}

/// "model not found" for the default model: every place looked, and how to install it.
pub fn model_not_found_message() -> String {
    wgbert::locate::model_not_found_message(&env, "--model DIR")
}
