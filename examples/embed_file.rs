//! Embed every line of a text file into a `.npy` matrix with the library, in bounded memory.
//!
//!     cargo run --release --example embed_file -- input.txt vectors.npy
//!
//! (The `wgbert embed --input FILE --format npy --output OUT` command does the same with a
//! progress bar and an atomic write.)

use std::io::{BufRead, BufReader, BufWriter};
use wgbert::npy::NpyWriter;
use wgbert::{Engine, EngineOptions, Input};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: embed_file INPUT.txt OUTPUT.npy".into());
    };
    let engine = Engine::from_dir(model_dir().as_ref(), EngineOptions::from_env())?;
    let rows = BufReader::new(std::fs::File::open(input)?).lines().count();
    let mut npy = NpyWriter::new(
        BufWriter::new(std::fs::File::create(output)?),
        rows,
        engine.config().hidden_size,
    )?;
    let mut chunk = Vec::new();
    for line in BufReader::new(std::fs::File::open(input)?).lines() {
        chunk.push(Input::parse(&line?));
        if chunk.len() == 1024 {
            for v in engine.embed(&chunk)? {
                npy.write_row(&v)?;
            }
            chunk.clear();
        }
    }
    for v in engine.embed(&chunk)? {
        npy.write_row(&v)?;
    }
    npy.finish()?;
    eprintln!("wrote {rows} x {} to {output}", engine.config().hidden_size);
    Ok(())
}

/// `$WGBERT_MODEL`, else the default model in this checkout (scripts/fetch-model.sh).
fn model_dir() -> String {
    std::env::var("WGBERT_MODEL").unwrap_or_else(|_| wgbert::DEFAULT_MODEL_DIR.into())
}
