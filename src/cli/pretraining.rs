//! `wgbert fill-mask` and `wgbert next-sentence`: BERT's two pretraining tasks, as the tutorial
//! explains BERT ("paris is the [MASK] of france."; "I am hungry" → "I would like to have
//! pizza").

use anyhow::Result;
use serde_json::json;
use std::io::Write;
use wgbert::{Engine, Input};

/// Prints, per input and per mask, the best tokens: `score  token  sentence` lines, or one JSON
/// line per input in transformers' pipeline shape (a list per mask when there are several).
pub fn fill_mask(engine: &Engine, inputs: &[Input], top_k: usize, jsonl: bool) -> Result<()> {
    let answers = engine.fill_mask(inputs, top_k)?;
    let mut out = std::io::stdout().lock();
    for (input, masks) in inputs.iter().zip(&answers) {
        if jsonl {
            let per_mask: Vec<serde_json::Value> = masks
                .iter()
                .map(|m| {
                    m.iter()
                        .map(|a| {
                            json!({"token": a.token, "token_str": a.token_str, "score": a.score, "sequence": a.sequence})
                        })
                        .collect()
                })
                .collect();
            // As the pipeline: one list for one mask, a list of lists for several.
            let line = if per_mask.len() == 1 {
                per_mask[0].clone()
            } else {
                serde_json::Value::Array(per_mask)
            };
            writeln!(out, "{line}")?;
        } else {
            let text = match input {
                Input::Single(a) => a.clone(),
                Input::Pair(a, b) => format!("{a} ||| {b}"),
            };
            writeln!(out, "{text}")?;
            for (i, m) in masks.iter().enumerate() {
                if masks.len() > 1 {
                    writeln!(out, "  mask {}:", i + 1)?;
                }
                for a in m {
                    writeln!(out, "  {:.4}  {:<12}  {}", a.score, a.token_str, a.sequence)?;
                }
            }
        }
    }
    Ok(())
}

/// Prints P(b follows a).
pub fn next_sentence(engine: &Engine, a: &str, b: &str, jsonl: bool) -> Result<()> {
    let p = engine.next_sentence(&[(a.to_string(), b.to_string())])?[0];
    if jsonl {
        println!("{}", json!({"is_next": p}));
    } else {
        println!("P(is next) = {p:.4}");
    }
    Ok(())
}
