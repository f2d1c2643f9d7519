//! `wgbert train-head` (a softmax head on sentence embeddings from labeled rows) and
//! `wgbert classify --head` (label and probability per input).

use anyhow::{Result, bail};
use std::io::Write;
use std::path::Path;
use wgbert::head::{Head, TrainOptions, read_labeled, split};
use wgbert::{Engine, Input};

/// Trains, reports accuracy on the training rows and on a held-out share, writes the head.
pub fn train(
    engine: &Engine,
    data: &Path,
    out: &Path,
    holdout: f64,
    seed: u64,
    epochs: usize,
) -> Result<()> {
    if !(0.0..1.0).contains(&holdout) {
        bail!("--holdout {holdout} must be in [0, 1)");
    }
    let rows = read_labeled(data)?;
    let mut labels: Vec<String> = rows.iter().map(|(_, l)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        bail!(
            "{} has {} distinct label(s); a head needs at least two",
            data.display(),
            labels.len()
        );
    }
    let inputs: Vec<Input> = rows.iter().map(|(t, _)| Input::from(t.as_str())).collect();
    let x = engine.embed(&inputs)?;
    let y: Vec<usize> = rows
        .iter()
        .map(|(_, l)| labels.binary_search(l).unwrap_or(0))
        .collect();
    let (train_idx, test_idx) = split(rows.len(), holdout, seed);
    let pick = |idx: &[usize]| -> (Vec<Vec<f32>>, Vec<usize>) {
        (
            idx.iter().map(|&i| x[i].clone()).collect(),
            idx.iter().map(|&i| y[i]).collect(),
        )
    };
    let (tx, ty) = pick(&train_idx);
    let opts = TrainOptions {
        epochs,
        ..Default::default()
    };
    let head = Head::train(
        &tx,
        &ty,
        labels,
        engine.pooling(),
        engine.normalize(),
        &opts,
    )?;
    let accuracy = |idx: &[usize]| {
        idx.iter()
            .filter(|&&i| Head::argmax(&head.predict(&x[i])) == y[i])
            .count() as f64
            / idx.len().max(1) as f64
    };
    let mut o = std::io::stdout().lock();
    writeln!(o, "labels       {:?}", head.labels)?;
    writeln!(
        o,
        "rows         {} ({} train, {} held out, seed {seed})",
        rows.len(),
        train_idx.len(),
        test_idx.len()
    )?;
    writeln!(o, "train acc    {:.1} %", 100.0 * accuracy(&train_idx))?;
    if !test_idx.is_empty() {
        writeln!(o, "held-out acc {:.1} %", 100.0 * accuracy(&test_idx))?;
    }
    head.save(out)?;
    writeln!(o, "head         {}", out.display())?;
    Ok(())
}

/// Prints `label<TAB>probability` (or JSON Lines with every label's probability) per input.
pub fn classify(engine: &Engine, head_path: &Path, texts: &[String], jsonl: bool) -> Result<()> {
    let head = Head::load(head_path)?;
    if head.hidden != engine.embedding_dim() {
        bail!(
            "{} was trained on {}-wide embeddings, but this model's are {}-wide; use the model it was trained with",
            head_path.display(),
            head.hidden,
            engine.embedding_dim()
        );
    }
    let inputs: Vec<Input> = texts.iter().map(|t| Input::parse(t)).collect();
    let vectors = engine.embed_with(&inputs, head.pooling, head.normalize)?;
    let scores: Vec<Vec<f32>> = vectors.iter().map(|v| head.predict(v)).collect();
    print_scores(&head.labels, &scores, jsonl)
}

/// Labels each input with the model's own sequence-classification head (a
/// BertForSequenceClassification checkpoint; the head runs on the GPU after the encoder).
pub fn classify_checkpoint(engine: &Engine, texts: &[String], jsonl: bool) -> Result<()> {
    let Some(labels) = engine.labels() else {
        bail!(
            "this model has no classification head (classifier.*); pass --head FILE from `wgbert train-head`, or a BertForSequenceClassification checkpoint with --model"
        );
    };
    let inputs: Vec<Input> = texts.iter().map(|t| Input::parse(t)).collect();
    print_scores(&labels, &engine.classify(&inputs)?, jsonl)
}

/// One line per input: `label<TAB>score` of the best label, or JSON with every label's score.
fn print_scores(labels: &[String], scores: &[Vec<f32>], jsonl: bool) -> Result<()> {
    let mut o = std::io::stdout().lock();
    for p in scores {
        let best = Head::argmax(p);
        if jsonl {
            let all: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .zip(p)
                .map(|(l, s)| (l.clone(), serde_json::json!(s)))
                .collect();
            serde_json::to_writer(
                &mut o,
                &serde_json::json!({"label": labels[best], "scores": all}),
            )?;
            writeln!(o)?;
        } else {
            writeln!(o, "{}\t{:.4}", labels[best], p[best])?;
        }
    }
    Ok(())
}
