//! Autotuning: which GEMM variant runs fastest on this adapter, measured there once and
//! remembered on disk (keyed by adapter, backend, driver, precision, the set of variants and
//! the wgbert version, so that a new variant or driver is tuned afresh).
//!
//! `WGBERT_GEMM=tile128|tile64|tile128v4` overrides the choice (for benchmarking a variant);
//! `WGBERT_TUNE=0` skips timing and uses the default (tile128).

use crate::kernels::{GemmParams, GemmVariant, Kernels, pipeline_cache_dir};
use std::collections::BTreeMap;
use std::time::Instant;

/// The shape timed: one BERT-sized projection, small enough to take well under a second on a
/// CPU driver (2 × 512 × 768 × 768 = 0.6 GFLOP).
const TUNE_SHAPE: (usize, usize, usize) = (512, 768, 768);

fn cache_key(k: &Kernels) -> String {
    let i = &k.ctx().info;
    format!(
        "{} | {:?} | {} {} | {} | {} | wgbert {}",
        i.name,
        i.backend,
        i.driver,
        i.driver_info,
        k.precision().name(),
        GemmVariant::ALL.map(|v| v.name()).join(","),
        env!("CARGO_PKG_VERSION")
    )
}

fn cache_file() -> Option<std::path::PathBuf> {
    pipeline_cache_dir().map(|d| d.join("gemm-tune.json"))
}

/// The GEMM variant to use on `k`'s adapter.
pub fn gemm_variant(k: &Kernels) -> GemmVariant {
    if let Ok(name) = std::env::var("WGBERT_GEMM") {
        match GemmVariant::from_name(&name) {
            Some(v) => return v,
            None => log::warn!(
                "WGBERT_GEMM={name:?} is not a GEMM variant (tile128, tile64, tile128v4); tuning instead"
            ),
        }
    }
    if std::env::var("WGBERT_TUNE").is_ok_and(|v| v == "0") {
        return GemmVariant::Tile128;
    }
    let key = cache_key(k);
    let mut table: BTreeMap<String, String> = cache_file()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if let Some(v) = table.get(&key).and_then(|n| GemmVariant::from_name(n)) {
        return v;
    }
    let mut best = (f64::INFINITY, GemmVariant::Tile128);
    for v in GemmVariant::ALL {
        match time_variant(k, v) {
            Ok(t) => {
                log::info!(
                    "autotune: gemm {} {:.2} ms at {:?}",
                    v.name(),
                    t * 1e3,
                    TUNE_SHAPE
                );
                if t < best.0 {
                    best = (t, v);
                }
            }
            Err(e) => log::warn!("autotune: gemm {} failed ({e}); skipped", v.name()),
        }
    }
    table.insert(key, best.1.name().to_string());
    if let (Some(f), Ok(text)) = (cache_file(), serde_json::to_string_pretty(&table)) {
        let tmp = f.with_extension(format!("tmp-{}", std::process::id()));
        let ok = f
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&tmp, text).is_ok();
        if !ok || std::fs::rename(&tmp, &f).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    best.1
}

/// Best of three timed runs of `v` at the tuning shape (after one untimed run that compiles it).
fn time_variant(k: &Kernels, v: GemmVariant) -> crate::Result<f64> {
    let (m, n, kd) = TUNE_SHAPE;
    let ctx = k.ctx();
    let a = k.float_buffer("tune.a", m * kd)?;
    let w = k.float_buffer("tune.w", n * kd)?;
    let b = k.float_buffer("tune.bias", n)?;
    let c = k.float_buffer("tune.c", m * n)?;
    let params = GemmParams {
        m: m as u32,
        n: n as u32,
        k: kd as u32,
        act: 0,
    };
    let d = k.dispatch(
        "tune.gemm",
        v.kernel(kd),
        0,
        &params,
        &[&a, &w, &b, &c],
        v.grid(m, n),
    )?;
    let mut best = f64::INFINITY;
    for i in 0..4 {
        let t = Instant::now();
        let index = k.run(std::slice::from_ref(&d));
        ctx.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(crate::gpu::GPU_TIMEOUT),
            })
            .map_err(|e| crate::Error::Device(format!("waiting for the GPU failed ({e})")))?;
        ctx.check_errors()?;
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}
