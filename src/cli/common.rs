//! What the commands share: reading inputs, opening the engine with the command's flags.

use super::args::{InputArgs, ModelArgs};
use anyhow::{Result, bail};
use wgbert::{Engine, EngineOptions, GpuOptions, Input};

/// The model folder of `--model`, `WGBERT_MODEL` or the default search path; a missing one is
/// an error that names every place looked in and how to install the default model.
pub fn model_dir(m: &ModelArgs) -> Result<std::path::PathBuf> {
    let dir = wgbert::resolve_model_dir(m.model.as_deref());
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
    bail!("{}", wgbert::model_not_found_message())
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
    let dir = wgbert::resolve_model_dir(m.model.as_deref());
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

pub fn open_engine_opts(
    m: &ModelArgs,
    seq_len: usize,
    max_batch: usize,
    adjust: impl FnOnce(&mut EngineOptions),
) -> Result<Engine> {
    let dir = super::common::model_dir(m)?;
    let opts = EngineOptions {
        gpu: GpuOptions {
            adapter_name: m.adapter.clone(),
            backends: None,
            ..Default::default()
        },
        seq_length: seq_len.max(2),
        max_batch: max_batch.max(1),
        precision: m.precision.into(),
        ..Default::default()
    };
    let mut opts = opts;
    adjust(&mut opts);
    Ok(Engine::from_dir(&dir, opts)?)
}
