//! A stable-Rust fuzzing harness (cargo-fuzz needs a nightly toolchain, which this project's
//! machines do not have): random and mutated inputs for the preprocessor/packer and for the
//! weights/config loaders, each call under `catch_unwind`. Any panic is a bug: the input is
//! saved under `fuzz/crashes/` and the run fails. Saved inputs are replayed by
//! `tests/it/fuzz_regressions.rs`.
//!
//!     cargo run --release --example fuzz -- [--seconds 180] [--seed N] [--target pack|weights|config|all]

#[path = "../fuzz/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = arg("--seconds").and_then(|v| v.parse().ok()).unwrap_or(60);
    let seed: u64 = arg("--seed").and_then(|v| v.parse().ok()).unwrap_or(1);
    let target = arg("--target").unwrap_or_else(|| "all".into());
    std::panic::set_hook(Box::new(|_| {})); // panics are reported below, with the input
    let corpus = harness::Corpus::load();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (runs, crashes) = harness::run(&corpus, seed, &target, Some(deadline), 0);
    println!(
        "fuzz: {} pack, {} weights, {} config inputs in {seconds} s (seed {seed}); {} crashes",
        runs[0],
        runs[1],
        runs[2],
        crashes.len()
    );
    for c in &crashes {
        println!("  crash input saved: {}", c.display());
    }
    if !crashes.is_empty() {
        std::process::exit(1);
    }
}
