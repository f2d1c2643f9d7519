//! The GEMM autotuner's on-disk choice: remembered after a successful tuning, not after one
//! that failed for reasons of this process (here a binding-size cap too small for the timing
//! buffers). The cache folder is an option ([`KernelOptions::cache_dir`]), here a temporary
//! one, so what other tests of this process tuned (remembered in memory) does not count.

use std::sync::Arc;
use wgbert::GpuContext;
use wgbert::kernels::{GemmVariant, KernelOptions, Precision};
use wgbert::tune::tuned_kernels;

#[test]
fn a_failed_tuning_is_not_remembered_and_a_successful_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let opts = KernelOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let table = dir.path().join("gemm-tune.json");
    let capped = GpuContext::new(&wgbert::GpuOptions {
        max_binding_bytes: Some(1_000),
        ..Default::default()
    })
    .unwrap();
    let k = tuned_kernels(Arc::new(capped), Precision::F32, &opts).unwrap();
    assert_eq!(k.gemm_variant(), GemmVariant::Tile128, "the fallback");
    let text = std::fs::read_to_string(&table).unwrap_or_default();
    assert!(
        !text.contains("tune"),
        "a failed tuning must not be cached: {text}"
    );

    let ctx = Arc::new(GpuContext::new(&Default::default()).unwrap());
    let k = tuned_kernels(ctx, Precision::F32, &opts).unwrap();
    let text = std::fs::read_to_string(&table).expect("the tuning is cached");
    let entries: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    // One GEMM choice for batches, one for small M, and one reduction choice where the
    // adapter has SUBGROUP.
    let gemm: Vec<_> = entries
        .iter()
        .filter(|(k, _)| !k.contains("reduce:") && !k.contains("small-m"))
        .collect();
    assert_eq!(gemm.len(), 1, "{text}");
    let small: Vec<_> = entries
        .iter()
        .filter(|(k, _)| k.contains("small-m"))
        .collect();
    assert_eq!(small.len(), 1, "{text}");
    assert_eq!(small[0].1, k.gemm_variant_for(32).name());
    let reduce = entries
        .iter()
        .filter(|(k, _)| k.contains("reduce:"))
        .count();
    assert_eq!(
        reduce,
        k.ctx().has(wgpu::Features::SUBGROUP) as usize,
        "{text}"
    );
    let (key, choice) = gemm[0];
    assert!(key.contains(&k.ctx().info.name), "{key}");
    assert_eq!(choice, k.gemm_variant().name());
}
