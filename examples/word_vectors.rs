//! Contextual word vectors: the same word gets different vectors in different contexts.
//!
//!     cargo run --release --example word_vectors
//!
//! Prints the cosine between "fair" in "a fair trial" and in "a county fair", and between
//! "fair" and "unbiased" in matching contexts.

use wgbert::{Engine, EngineOptions, Input, Request};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
        * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::from_dir(model_dir().as_ref(), EngineOptions::from_env())?;
    let texts = [
        "Tom deserves a fair trial",
        "The carnival was like a county fair",
        "Tom deserves an unbiased trial",
    ];
    let inputs: Vec<Input> = texts.iter().map(|t| Input::from(*t)).collect();
    let request = Request {
        sequence_output: true,
        ..Default::default()
    };
    let encoded = engine.encode(&inputs, None, &request)?;
    // The vector of the first WordPiece equal to `word` (`unbiased` is several pieces: use the first).
    let vector = |i: usize, word: &str| -> Result<Vec<f32>, String> {
        let e = &encoded[i];
        let pos = e
            .packed
            .tokens
            .iter()
            .position(|t| t == word)
            .ok_or_else(|| format!("{word} not in {:?}", e.packed.tokens))?;
        Ok(e.sequence_row(pos).unwrap_or(&[]).to_vec())
    };
    let (fair_trial, fair_county) = (vector(0, "fair")?, vector(1, "fair")?);
    let unbiased = vector(2, encoded[2].packed.tokens[4].as_str())?;
    println!("tokens: {:?}", encoded[2].packed.tokens);
    println!(
        "fair (trial) vs fair (county fair): {:.3}",
        cosine(&fair_trial, &fair_county)
    );
    println!(
        "unbiased (trial) vs fair (trial):   {:.3}",
        cosine(&unbiased, &fair_trial)
    );
    println!(
        "unbiased (trial) vs fair (county):  {:.3}",
        cosine(&unbiased, &fair_county)
    );
    Ok(())
}

/// `$WGBERT_MODEL`, else the default model in this checkout (scripts/fetch-model.sh).
fn model_dir() -> String {
    std::env::var("WGBERT_MODEL").unwrap_or_else(|_| wgbert::DEFAULT_MODEL_DIR.into())
}
