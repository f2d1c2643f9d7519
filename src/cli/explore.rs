//! `wgbert similarity` (cosine matrix of sentence embeddings) and `wgbert words` (contextual
//! vectors per token, and how one word's vectors compare across contexts).

use anyhow::{Result, bail};
use std::io::Write;
use wgbert::{Engine, Input, Request};

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na * nb)) as f32
    }
}

fn label(s: &str, width: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = one_line.chars().take(width).collect();
    if one_line.chars().count() > width {
        out.pop();
        out.push('…');
    }
    out
}

/// Prints a labelled, aligned matrix of cosines.
fn print_matrix(out: &mut impl Write, labels: &[String], m: &[Vec<f32>]) -> Result<()> {
    let width = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    write!(out, "{:width$}", "")?;
    for j in 0..labels.len() {
        write!(out, " {:>7}", format!("[{j}]"))?;
    }
    writeln!(out)?;
    for (i, row) in m.iter().enumerate() {
        let l = &labels[i];
        let pad = width - l.chars().count();
        write!(out, "{l}{}", " ".repeat(pad))?;
        for v in row {
            write!(out, " {v:>7.3}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `wgbert similarity`: cosine similarity of every pair of inputs' sentence embeddings.
pub fn similarity(engine: &Engine, texts: &[String], opts: &wgbert::EmbedOptions) -> Result<()> {
    let inputs: Vec<Input> = texts.iter().map(|t| Input::parse(t)).collect();
    let v = engine.embed_opts(&inputs, opts)?;
    let m: Vec<Vec<f32>> = v
        .iter()
        .map(|a| v.iter().map(|b| cosine(a, b)).collect())
        .collect();
    let labels: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("[{i}] {}", label(t, 32)))
        .collect();
    print_matrix(&mut std::io::stdout().lock(), &labels, &m)
}

/// Positions where the WordPieces of `word` occur as a run in `tokens`.
fn occurrences(tokens: &[String], pieces: &[String]) -> Vec<usize> {
    if pieces.is_empty() || pieces.len() > tokens.len() {
        return Vec::new();
    }
    (0..=tokens.len() - pieces.len())
        .filter(|&i| tokens[i..i + pieces.len()] == *pieces)
        .collect()
}

/// `wgbert words`: contextual token vectors; with `words`, the cosine between their occurrences.
pub fn words(engine: &Engine, texts: &[String], words: &[String], json: bool) -> Result<()> {
    let inputs: Vec<Input> = texts.iter().map(|t| Input::parse(t)).collect();
    let req = Request {
        pooled_output: false,
        sequence_output: true,
        embedding: false,
        ..Default::default()
    };
    let enc = engine.encode(&inputs, None, &req)?;
    let mut out = std::io::stdout().lock();
    if words.is_empty() {
        for (i, e) in enc.iter().enumerate() {
            if json {
                let rows: Vec<&[f32]> = (0..e.packed.len())
                    .filter_map(|s| e.sequence_row(s))
                    .collect();
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"input": i, "tokens": e.packed.tokens, "vectors": rows}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(out, "[{i}] {}", label(&texts[i], 60))?;
                for (s, t) in e.packed.tokens.iter().enumerate() {
                    let v = e.sequence_row(s).unwrap_or(&[]);
                    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:>7.3}")).collect();
                    writeln!(
                        out,
                        "  {s:>3} {t:<16} [{} …] ({} dims)",
                        head.join(" "),
                        v.len()
                    )?;
                }
            }
        }
        return Ok(());
    }
    let mut labels = Vec::new();
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    for word in words {
        // The word's WordPieces, as the tokenizer splits it on its own.
        let probe = engine.preprocess(&[Input::from(word.as_str())], None)?;
        let pieces: Vec<String> = probe[0].tokens[1..probe[0].tokens.len() - 1].to_vec();
        if pieces.is_empty() {
            bail!("--word {word:?} has no tokens");
        }
        let before = vectors.len();
        for (i, e) in enc.iter().enumerate() {
            for pos in occurrences(&e.packed.tokens, &pieces) {
                // A word split into several pieces is the mean of its pieces' vectors.
                let mut v = vec![0f32; e.hidden];
                for s in pos..pos + pieces.len() {
                    for (a, x) in v.iter_mut().zip(e.sequence_row(s).unwrap_or(&[])) {
                        *a += x / pieces.len() as f32;
                    }
                }
                labels.push(format!("{word} in [{i}] {}", label(&texts[i], 32)));
                vectors.push(v);
            }
        }
        if vectors.len() == before {
            bail!("{word:?} (tokens {pieces:?}) does not occur in any input");
        }
    }
    let m: Vec<Vec<f32>> = vectors
        .iter()
        .map(|a| vectors.iter().map(|b| cosine(a, b)).collect())
        .collect();
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"words": words, "occurrences": labels, "cosine": m}),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "cosine between the contextual vectors of {}:",
        words.join(", ")
    )?;
    print_matrix(&mut out, &labels, &m)
}
