//! The benchmarks' timing loop: each call of the closure submits work and waits for the GPU, so
//! the clock covers the GPU work, not the recording. Prints one row per case (median, min,
//! throughput) that can be pasted into `benches/RESULTS.md`.
//!
//! `cargo bench --bench NAME -- FILTER` runs the cases whose name contains FILTER.

use std::time::{Duration, Instant};

/// Runs `f` once untimed, then at least `min_iters` times and until `budget` has passed; prints
/// the median and the fastest run, and `flops / median` as GFLOP/s when `flops` > 0.
pub fn time(name: &str, flops: f64, min_iters: usize, budget: Duration, mut f: impl FnMut()) {
    if !selected(name) {
        return;
    }
    f();
    let started = Instant::now();
    let mut runs = Vec::new();
    while runs.len() < min_iters || started.elapsed() < budget {
        let t = Instant::now();
        f();
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    let median = runs[runs.len() / 2];
    let rate = if flops > 0.0 {
        format!("  {:8.2} GFLOP/s", flops / median / 1e9)
    } else {
        String::new()
    };
    println!(
        "{name:48} median {:9.3} ms  min {:9.3} ms  ({} runs){rate}",
        median * 1e3,
        runs[0] * 1e3,
        runs.len()
    );
}

/// Whether `name` matches the filter given after `--` (every case without one).
fn selected(name: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    filter.is_none_or(|f| name.contains(&f))
}
