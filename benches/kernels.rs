//! Kernel benchmarks at BERT shapes: GEMM (GFLOP/s), attention, residual + LayerNorm.
//! Each iteration submits the kernel and waits for the GPU inside the timed region.
//! Run: `cargo bench --bench kernels [-- FILTER]`; throughput is reported in GFLOP/s.

mod common;

use std::sync::Arc;
use std::time::Duration;
use wgbert::GpuContext;
use wgbert::kernels::{Act, Kernels, Precision};
use wgbert::ops::{Prepared, prepare_attention, prepare_gemm, prepare_layernorm};

fn kernels() -> Arc<Kernels> {
    let ctx =
        GpuContext::new(&wgbert::EngineOptions::from_env().gpu).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "adapter: {} ({:?}, {} {})",
        ctx.info.name, ctx.info.backend, ctx.info.driver, ctx.info.driver_info
    );
    // A benchmark is a program: WGBERT_GEMM, WGBERT_CACHE_DIR, ... apply as to the command line.
    let opts = wgbert::EngineOptions::from_env();
    Arc::new(wgbert::tune::tuned_kernels(Arc::new(ctx), Precision::F32, &opts.kernels).unwrap())
}

fn bench(group: &str, cases: Vec<(String, Prepared)>) {
    for (name, p) in cases {
        common::time(
            &format!("{group}/{name}"),
            p.flops,
            10,
            Duration::from_secs(5),
            || p.run_and_wait().expect("run"),
        );
    }
}

fn gemm(k: &Arc<Kernels>) {
    // (M, N, K) of one BERT layer at batch 32 × 128 tokens: bert-base (H 768, I 3072), MiniLM (384, 1536).
    let shapes = [
        (4096, 2304, 768, Act::Identity, "bert-base qkv"),
        (4096, 768, 768, Act::Identity, "bert-base attn.out"),
        (4096, 3072, 768, Act::GeluErf, "bert-base inter+gelu"),
        (4096, 768, 3072, Act::Identity, "bert-base out"),
        (4096, 1152, 384, Act::Identity, "minilm qkv"),
        (4096, 1536, 384, Act::GeluErf, "minilm inter+gelu"),
        (4096, 384, 1536, Act::Identity, "minilm out"),
    ];
    let cases = shapes
        .iter()
        .map(|&(m, n, kd, act, name)| {
            (
                format!("{name} {m}x{n}x{kd}"),
                prepare_gemm(k, m, n, kd, act, 1).unwrap(),
            )
        })
        .collect();
    bench("gemm", cases);
}

fn attention_and_layernorm(k: &Arc<Kernels>) {
    let cases = vec![
        (
            "attention minilm b32 s128 12x32".to_string(),
            prepare_attention(k, 32, 128, 12, 32).unwrap(),
        ),
        (
            "attention bert-base b8 s128 12x64".to_string(),
            prepare_attention(k, 8, 128, 12, 64).unwrap(),
        ),
    ];
    bench("attention", cases);
    let cases = vec![
        (
            "add_layernorm 4096x384".to_string(),
            prepare_layernorm(k, 4096, 384).unwrap(),
        ),
        (
            "add_layernorm 4096x768".to_string(),
            prepare_layernorm(k, 4096, 768).unwrap(),
        ),
    ];
    bench("layernorm", cases);
}

fn main() {
    let k = kernels();
    gemm(&k);
    attention_and_layernorm(&k);
}
