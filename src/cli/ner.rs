//! `wgbert ner`: named entities with character offsets.

use super::args::{InputArgs, ModelArgs};
use super::common::*;
use anyhow::Result;
use std::io::Write;
use wgbert::Input;

/// Prints each input's entities (a line each, or one JSON array per input).
pub fn run(model: &ModelArgs, inputs: &InputArgs, jsonl: bool) -> Result<()> {
    let texts = gather_texts(inputs)?;
    let engine = open_engine_default_len(model)?;
    let inputs: Vec<Input> = texts.iter().map(|t| Input::Single(t.clone())).collect();
    let found = engine.ner(&inputs)?;
    let mut o = std::io::stdout().lock();
    for (i, (text, ents)) in texts.iter().zip(&found).enumerate() {
        if jsonl {
            serde_json::to_writer(&mut o, ents)?;
            writeln!(o)?;
            continue;
        }
        writeln!(o, "[{i}] {text}")?;
        for e in ents {
            writeln!(
                o,
                "  {:<8} {:?} {}..{} {:.4}",
                e.entity_group, e.word, e.start, e.end, e.score
            )?;
        }
    }
    Ok(())
}
