//! `wgbert rerank`: a cross-encoder scores each `(query, document)` pair (or, with a ColBERT
//! model, MaxSim of their token vectors); documents are printed best first with their index.

use anyhow::Result;
use std::io::Write;
use wgbert::Engine;

/// How `rerank` prints.
pub struct RerankJob<'a> {
    /// The query every document is paired with.
    pub query: &'a str,
    /// The documents, in input order.
    pub docs: &'a [String],
    /// JSON Lines `{"index","score","text"}` instead of text.
    pub jsonl: bool,
    /// Logits instead of sigmoid scores.
    pub raw: bool,
    /// Longest pair in tokens (default: the model's, at most 512).
    pub seq_len: Option<usize>,
}

/// Scores, sorts (best first, ties in input order) and prints.
pub fn run(engine: &Engine, job: &RerankJob) -> Result<()> {
    let scores: Vec<f32> = if engine.sentence_config().colbert.is_some() {
        // A ColBERT folder: late interaction, MaxSim of the query's vectors over each document's.
        if job.seq_len.is_some() {
            anyhow::bail!(
                "--seq-len does not apply to a ColBERT model: its query_length and document_length (config_sentence_transformers.json) bound the texts"
            );
        }
        let q = engine.embed_multi(&[wgbert::Input::from(job.query)], true)?;
        let docs: Vec<wgbert::Input> = job
            .docs
            .iter()
            .map(|d| wgbert::Input::from(d.as_str()))
            .collect();
        let d = engine.embed_multi(&docs, false)?;
        d.iter().map(|d| q[0].max_sim(d)).collect()
    } else {
        let logits = engine.rerank(job.query, job.docs, job.seq_len)?;
        logits
            .iter()
            .map(|&z| if job.raw { z } else { 1.0 / (1.0 + (-z).exp()) })
            .collect()
    };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut out = std::io::stdout().lock();
    for i in order {
        if job.jsonl {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"index": i, "score": scores[i], "text": job.docs[i]}),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "{:>10.6}  [{i}]  {}", scores[i], job.docs[i])?;
        }
    }
    Ok(())
}
