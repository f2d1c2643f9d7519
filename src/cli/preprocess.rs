//! `wgbert preprocess`: the tokens and the three TF-Hub arrays of each input.

use super::args::{InputArgs, ModelArgs};
use super::common::*;
use anyhow::{Result, bail};
use std::io::Write;
use wgbert::Input;

pub fn run(model: &ModelArgs, inputs: &InputArgs, seq_len: usize) -> Result<()> {
    let inputs = gather_inputs(inputs)?;
    let dir = super::common::resolve_model_dir(model.model.as_deref());
    let tok = dir.join("tokenizer.json");
    if !tok.exists() {
        bail!(
            "no tokenizer.json in {}; fetch the default model with scripts/fetch-model.sh, or pass --model DIR",
            dir.display()
        );
    }
    let config = wgbert::BertConfig::from_file(&dir.join("config.json"))?;
    if seq_len > config.max_seq_length() {
        bail!(
            "--seq-len {seq_len} is above this model's longest input, {}; use at most {}",
            config.describe_max_seq_length(),
            config.max_seq_length()
        );
    }
    let pre = wgbert::Preprocessor::from_file(&tok)?;
    let mut out = std::io::stdout().lock();
    let specials: Vec<String> = pre
        .template()
        .pair
        .iter()
        .map(|p| match p {
            wgbert::preprocess::Piece::Special { token, id, .. } => format!("{token}={id}"),
            wgbert::preprocess::Piece::Segment { index, .. } => ["A", "B"][*index].to_string(),
        })
        .collect();
    let pad = pre.pad_id();
    writeln!(out, "template: {}; padding id {pad}", specials.join(" "))?;
    for input in &inputs {
        let p = pre.pack(input, seq_len)?;
        let n = p.len();
        let show = |v: &[u32]| format!("{:?}", &v[..n]);
        match input {
            Input::Single(a) => writeln!(out, "{a:?}")?,
            Input::Pair(a, b) => writeln!(out, "{a:?} ||| {b:?}")?,
        }
        writeln!(out, "  tokens          {:?}", p.tokens)?;
        writeln!(
            out,
            "  input_word_ids  {} + {} x {pad}",
            show(&p.input_word_ids),
            seq_len - n
        )?;
        writeln!(
            out,
            "  input_mask      {} + {} x 0",
            show(&p.input_mask),
            seq_len - n
        )?;
        writeln!(
            out,
            "  input_type_ids  {} + {} x 0",
            show(&p.input_type_ids),
            seq_len - n
        )?;
        writeln!(
            out,
            "  shape           [1, {seq_len}] each; {n} real tokens"
        )?;
    }
    Ok(())
}
