//! End-to-end forward benchmark: MiniLM-shaped encoder (random weights, fixed seed), batch 8 ×
//! 128 tokens, full and 10 % fill (padding-free batching), f32. The GPU is waited on (the
//! vectors are read back) inside every iteration. Run: `cargo bench --bench forward`.

mod common;

use std::sync::Arc;
use std::time::Duration;
use wgbert::bench::flops_per_forward;
use wgbert::{BertConfig, BertWeights, Engine, EngineOptions, GpuContext, Request};

fn main() {
    let cfg = BertConfig::minilm_l6();
    // A benchmark is a program: WGBERT_GEMM, WGBERT_CACHE_DIR, ... apply as to the command line.
    let opts = EngineOptions::from_env();
    let ctx = Arc::new(GpuContext::new(&opts.gpu).unwrap_or_else(|e| panic!("{e}")));
    let engine =
        Engine::from_parts(ctx, cfg.clone(), &BertWeights::random(&cfg, 0), None, opts).unwrap();
    let (b, s) = (8usize, 128usize);
    let request = Request::default();
    for fill in [1.0f64, 0.1] {
        let real = ((s as f64 * fill).round() as usize).max(1);
        let run_seq = real.div_ceil(8) * 8;
        let ids: Vec<u32> = (0..b * run_seq)
            .map(|i| {
                if i % run_seq < real {
                    1000 + (i as u32 * 7919) % 29000
                } else {
                    0
                }
            })
            .collect();
        let mask: Vec<u32> = (0..b * run_seq)
            .map(|i| (i % run_seq < real) as u32)
            .collect();
        let types = vec![0u32; b * run_seq];
        common::time(
            &format!("forward/minilm b{b} s{s} fill {fill}"),
            flops_per_forward(&cfg, b, s),
            10,
            Duration::from_secs(10),
            || {
                engine
                    .run(b, run_seq, &ids, &types, &mask, &request)
                    .unwrap();
            },
        );
    }
}
