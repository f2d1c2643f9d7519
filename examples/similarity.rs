//! Sentence similarity with the library: embed sentences, compare them by cosine.
//!
//!     cargo run --release --example similarity -- "A man is playing a guitar." "Someone plays music." "The stock market fell."
//!
//! Uses the default model (scripts/fetch-model.sh) or $WGBERT_MODEL.

use wgbert::{Engine, EngineOptions, Input};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut texts: Vec<String> = std::env::args().skip(1).collect();
    if texts.is_empty() {
        texts = [
            "A man is playing a guitar.",
            "Someone is making music.",
            "The stock market fell sharply.",
        ]
        .map(String::from)
        .to_vec();
    }
    let engine = Engine::from_dir(model_dir().as_ref(), EngineOptions::from_env())?;
    let inputs: Vec<Input> = texts.iter().map(|t| Input::from(t.as_str())).collect();
    // Unit-length mean-pooled vectors: the cosine is a dot product.
    let vectors = engine.embed(&inputs)?;
    for (i, a) in vectors.iter().enumerate() {
        for (j, b) in vectors.iter().enumerate().skip(i + 1) {
            let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            println!("{cos:.3}  {:?} ~ {:?}", texts[i], texts[j]);
        }
    }
    Ok(())
}

/// `$WGBERT_MODEL`, else the default model in this checkout (scripts/fetch-model.sh).
fn model_dir() -> String {
    std::env::var("WGBERT_MODEL").unwrap_or_else(|_| wgbert::DEFAULT_MODEL_DIR.into())
}
