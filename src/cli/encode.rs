//! `wgbert encode`: the JSON Lines contract, or the tutorial's summary.

use super::args::{InputArgs, ModelArgs};
use super::common::*;
use anyhow::Result;
use std::io::{BufWriter, Write};
use wgbert::{Engine, Request};

pub fn write_floats(w: &mut impl Write, v: &[f32]) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        // serde_json prints the shortest string that round-trips the f32.
        w.write_all(
            serde_json::to_string(x)
                .unwrap_or_else(|_| "null".into())
                .as_bytes(),
        )?;
    }
    w.write_all(b"]")
}

pub fn write_matrix(w: &mut impl Write, v: &[f32], width: usize) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, row) in v.chunks(width.max(1)).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write_floats(w, row)?;
    }
    w.write_all(b"]")
}

pub fn fmt_head(v: &[f32], n: usize) -> String {
    let head: Vec<String> = v.iter().take(n).map(|x| format!("{x:.4}")).collect();
    format!(
        "[{}{}]",
        head.join(", "),
        if v.len() > n { ", …" } else { "" }
    )
}

/// The tutorial's view of the outputs: keys, shapes, first values.
pub fn print_summary(engine: &Engine, enc: &[wgbert::Encoded], seq_len: usize) {
    let (b, h, l) = (
        enc.len(),
        engine.config().hidden_size,
        engine.config().num_hidden_layers,
    );
    let mut keys = vec!["sequence_output", "encoder_outputs", "embedding"];
    if engine.has_pooler() {
        keys.insert(0, "pooled_output");
    }
    println!("Keys                     : {keys:?}");
    if let Some(p) = enc[0].pooled_output.as_ref() {
        println!("Pooled Outputs Shape     : [{b}, {h}]");
        println!("Pooled Outputs Values    : {}", fmt_head(p, 6));
    }
    println!("Sequence Outputs Shape   : [{b}, {seq_len}, {h}]");
    for s in 0..3.min(seq_len) {
        let row = enc[0].sequence_row(s).unwrap_or(&[]);
        println!("Sequence Outputs [0, {s}]  : {}", fmt_head(row, 6));
    }
    println!(
        "Encoder Outputs          : {l} layers, each [{b}, {seq_len}, {h}]; the last equals sequence_output"
    );
    if let Some(e) = enc[0].embedding.as_ref() {
        println!("Embedding Shape          : [{b}, {h}] (mean pooled, L2-normalised)");
        println!("Embedding Values         : {}", fmt_head(e, 6));
    }
}

pub fn run(
    model: &ModelArgs,
    inputs: &InputArgs,
    seq_len: usize,
    all_layers: bool,
    summary: bool,
) -> Result<()> {
    let inputs = gather_inputs(inputs)?;
    let engine = open_engine(model, seq_len)?;
    if summary {
        let request = Request {
            pooled_output: engine.has_pooler(),
            sequence_output: true,
            ..Default::default()
        };
        let enc = engine.encode(&inputs, Some(seq_len), &request)?;
        print_summary(&engine, &enc, seq_len);
        return Ok(());
    }
    let request = Request {
        pooled_output: engine.has_pooler(),
        sequence_output: true,
        encoder_outputs: all_layers,
        embedding: true,
        ..Default::default()
    };
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    // Encode in slices so memory stays bounded on large files; output stays in input order.
    for chunk in inputs.chunks(256) {
        let packed = engine.preprocess(chunk, Some(seq_len))?;
        let encoded = engine.encode_packed(packed, &request)?;
        for e in &encoded {
            let p = &e.packed;
            w.write_all(b"{\"tokens\":")?;
            serde_json::to_writer(&mut w, &p.tokens)?;
            w.write_all(b",\"input_word_ids\":")?;
            serde_json::to_writer(&mut w, &p.input_word_ids)?;
            w.write_all(b",\"input_mask\":")?;
            serde_json::to_writer(&mut w, &p.input_mask)?;
            w.write_all(b",\"input_type_ids\":")?;
            serde_json::to_writer(&mut w, &p.input_type_ids)?;
            if let Some(v) = &e.pooled_output {
                w.write_all(b",\"pooled_output\":")?;
                write_floats(&mut w, v)?;
            }
            if let Some(v) = &e.sequence_output {
                w.write_all(b",\"sequence_output\":")?;
                write_matrix(&mut w, v, e.hidden)?;
            }
            if let Some(v) = &e.embedding {
                w.write_all(b",\"embedding\":")?;
                write_floats(&mut w, v)?;
            }
            if let Some(layers) = &e.encoder_outputs {
                w.write_all(b",\"encoder_outputs\":[")?;
                for (i, l) in layers.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",")?;
                    }
                    write_matrix(&mut w, l, e.hidden)?;
                }
                w.write_all(b"]")?;
            }
            w.write_all(b"}\n")?;
        }
    }
    w.flush()?;
    Ok(())
}
