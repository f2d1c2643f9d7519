//! Kernel benchmarks at BERT shapes: GEMM (GFLOP/s), attention, residual + LayerNorm.
//! Each iteration submits the kernel and waits for the GPU inside the timed region.
//! Run: `cargo bench --bench kernels`; throughput is reported in FLOP/s ("elements").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use wgbert::GpuContext;
use wgbert::kernels::Kernels;
use wgbert::ops::{Prepared, prepare_attention, prepare_gemm, prepare_layernorm};

fn kernels() -> Arc<Kernels> {
    let ctx = GpuContext::new(&Default::default()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "adapter: {} ({:?}, {} {})",
        ctx.info.name, ctx.info.backend, ctx.info.driver, ctx.info.driver_info
    );
    Arc::new(Kernels::new(Arc::new(ctx)).unwrap())
}

fn bench(c: &mut Criterion, group: &str, cases: Vec<(String, Prepared)>) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, p) in cases {
        p.run_and_wait().expect("first run");
        g.throughput(Throughput::Elements(p.flops as u64));
        g.bench_function(name, |b| b.iter(|| p.run_and_wait().expect("run")));
    }
    g.finish();
}

fn gemm(c: &mut Criterion) {
    let k = kernels();
    // (M, N, K) of one BERT layer at batch 32 × 128 tokens: bert-base (H 768, I 3072), MiniLM (384, 1536).
    let shapes = [
        (4096, 2304, 768, 0, "bert-base qkv"),
        (4096, 768, 768, 0, "bert-base attn.out"),
        (4096, 3072, 768, 1, "bert-base inter+gelu"),
        (4096, 768, 3072, 0, "bert-base out"),
        (4096, 1152, 384, 0, "minilm qkv"),
        (4096, 1536, 384, 1, "minilm inter+gelu"),
        (4096, 384, 1536, 0, "minilm out"),
    ];
    let cases = shapes
        .iter()
        .map(|&(m, n, kd, act, name)| {
            (
                format!("{name} {m}x{n}x{kd}"),
                prepare_gemm(&k, m, n, kd, act, 1).unwrap(),
            )
        })
        .collect();
    bench(c, "gemm", cases);
}

fn attention_and_layernorm(c: &mut Criterion) {
    let k = kernels();
    let cases = vec![
        (
            "attention minilm b32 s128 12x32".to_string(),
            prepare_attention(&k, 32, 128, 12, 32).unwrap(),
        ),
        (
            "attention bert-base b8 s128 12x64".to_string(),
            prepare_attention(&k, 8, 128, 12, 64).unwrap(),
        ),
    ];
    bench(c, "attention", cases);
    let cases = vec![
        (
            "add_layernorm 4096x384".to_string(),
            prepare_layernorm(&k, 4096, 384).unwrap(),
        ),
        (
            "add_layernorm 4096x768".to_string(),
            prepare_layernorm(&k, 4096, 768).unwrap(),
        ),
    ];
    bench(c, "layernorm", cases);
}

criterion_group!(benches, gemm, attention_and_layernorm);
criterion_main!(benches);
