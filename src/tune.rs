//! Autotuning: which GEMM variant runs fastest on this adapter, measured there once and
//! remembered for the process or, given a cache folder, on disk (keyed by adapter, backend,
//! driver, precision, the set of variants, the wgbert version and the timing method, so that a
//! new variant or driver is tuned afresh).
//!
//! The candidates are the portable f32 variants, plus the cooperative-matrix variants (tensor
//! cores) at f16 precision on adapters that have them: at f32 precision a coop GEMM would round
//! the inputs to f16, so it runs there only when asked for.
//!
//! [`KernelOptions::gemm`] (`WGBERT_GEMM=<name>`, a [`GemmVariant::name`]) overrides the choice
//! (for benchmarking a variant), `coop` picks the adapter's cooperative-matrix variant
//! (16×16×16 where listed, else 8×8×8); a variant the adapter cannot run is an error, never a
//! silent fallback. [`KernelOptions::autotune`] `false` (`WGBERT_TUNE=0`) skips timing and uses
//! the default (tile128). Choices are kept in [`KernelOptions::cache_dir`], when there is one.

use crate::gpu::GpuContext;
use crate::kernels::{Act, GemmParams, GemmVariant, KernelOptions, Kernels, Precision, Reduction};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use web_time::Instant;

/// The probe: one BERT-sized projection, small enough to take well under a second on a CPU
/// driver (2 × 512 × 768 × 768 = 0.6 GFLOP). Where one dispatch of it takes at least
/// [`SLOW_DISPATCH_S`] (lavapipe: ≈ 35 ms), the variants are compared at this shape alone.
const PROBE_SHAPE: (usize, usize, usize) = (512, 768, 768);

/// Faster adapters (real GPUs: tens of microseconds, less than the submit-and-wait overhead)
/// are compared at the shapes they will run: bert-base's attention output, intermediate and
/// output projections at batch 32 × 128 (4096 rows), where the number of workgroups decides
/// between tile sizes. The times are summed.
const GPU_SHAPES: [(usize, usize, usize); 3] =
    [(4096, 768, 768), (4096, 3072, 768), (4096, 768, 3072)];

/// Small M (one query of up to ~32 tokens): bert-base's projections at 16 rows (a short
/// sentence, trimmed to a multiple of 8) and at 32, summed. At 32 rows alone a 32-row tile
/// wastes nothing, and on Mesa 25 lavapipe it won there while taking 2-3× longer than
/// `direct4x4` for a 16-token query.
const SMALL_M_SHAPES: [(usize, usize, usize); 6] = [
    (16, 768, 768),
    (16, 3072, 768),
    (16, 768, 3072),
    (32, 768, 768),
    (32, 3072, 768),
    (32, 768, 3072),
];

/// One probe dispatch slower than this marks a slow (CPU) adapter.
const SLOW_DISPATCH_S: f64 = 0.002;

/// Each timed submission repeats the dispatch until the GPU work takes about this long, so that
/// submission and wake-up overhead do not decide the comparison.
const TARGET_SUBMISSION_S: f64 = 0.005;

/// At most this many dispatches per timed submission.
const MAX_REPS: usize = 200;

/// Bumped when the way variants are timed changes, so that choices made the old way are
/// measured again (2: repeated dispatches and GPU-sized shapes on fast adapters; 3: best of
/// five submissions instead of three, small-M buckets, the reduction; 4: small M also timed
/// at 16 rows).
const METHOD: u32 = 4;

/// Timed submissions per measurement (after one untimed): the best is kept. Five, not three:
/// on a shared 2-core machine three samples once let a 1.6× slower variant win.
const TIMED_SUBMISSIONS: usize = 5;

/// The tuning-cache key of a choice between `names` on `k`'s adapter and precision.
fn cache_key(k: &Kernels, names: &[&str]) -> String {
    let i = &k.ctx().info;
    format!(
        "{} | {:?} | {} {} | {} | {} | wgbert {} tune {METHOD}",
        i.name,
        i.backend,
        i.driver,
        i.driver_info,
        k.precision().name(),
        names.join(","),
        env!("CARGO_PKG_VERSION")
    )
}

/// Kernels for `ctx` at `precision`, with the GEMM variants and the reduction `opts` ask for,
/// else the ones remembered in `opts.cache_dir` for this adapter, else timed here (and
/// remembered); compiled pipelines kept in `opts.cache_dir` unless `opts.pipeline_cache` is
/// off. f16 needs the adapter's SHADER_F16.
pub fn tuned_kernels(
    ctx: Arc<GpuContext>,
    precision: Precision,
    opts: &KernelOptions,
) -> crate::Result<Kernels> {
    if precision == Precision::F16 && !ctx.has(wgpu::Features::SHADER_F16) {
        return Err(crate::Error::Unsupported(format!(
            "{} has no SHADER_F16, so f16 precision is unavailable; use f32",
            ctx.info.name
        )));
    }
    let mut k = Kernels::build(ctx, precision, GemmVariant::Tile128);
    if let Some(dir) = opts.cache_dir.as_deref().filter(|_| opts.pipeline_cache) {
        k = k.with_pipeline_cache(dir);
    }
    // One tuning at a time in this process: engines opened at once on one adapter (threads of
    // a program, tests) wait for the first one's choice instead of each timing the variants
    // while the others load the same GPU.
    static TUNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = TUNING.lock().unwrap_or_else(|e| e.into_inner());
    let (batch, small) = gemm_variants(&k, opts)?;
    let k = k.with_gemm_variants(batch, small);
    let r = reduction(&k, opts)?;
    Ok(k.with_reduction(r))
}

/// Choices made in this process without a cache folder, by cache key: engines opened one
/// after another on one adapter (a server's, a test suite's) are tuned once.
fn memo() -> std::sync::MutexGuard<'static, BTreeMap<String, String>> {
    static MEMO: std::sync::Mutex<BTreeMap<String, String>> =
        std::sync::Mutex::new(BTreeMap::new());
    MEMO.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tuning cache in `dir` (empty if there is none yet).
fn read_table(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(cache_file(dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The choice remembered for `key`: in the cache folder `dir`, else (none) in this process.
fn recall(dir: Option<&Path>, key: &str) -> Option<String> {
    match dir {
        Some(d) => read_table(d).get(key).cloned(),
        None => memo().get(key).cloned(),
    }
}

/// Remembers `key → value` in the cache folder `dir`, else (none) for this process.
fn remember(dir: Option<&Path>, key: String, value: &str) {
    match dir {
        Some(d) => write_choice(d, &key, value),
        None => {
            memo().insert(key, value.to_string());
        }
    }
}

/// Adds `key → value` to the tuning cache in `dir` (read again, so that concurrent processes
/// lose little), written atomically; best effort.
fn write_choice(dir: &Path, key: &str, value: &str) {
    let mut table = read_table(dir);
    table.insert(key.to_string(), value.to_string());
    let f = cache_file(dir);
    if let Ok(text) = serde_json::to_string_pretty(&table) {
        let tmp = f.with_extension(format!("tmp-{}", std::process::id()));
        let ok = f
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&tmp, text).is_ok();
        if !ok || std::fs::rename(&tmp, &f).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn cache_file(dir: &Path) -> std::path::PathBuf {
    dir.join("gemm-tune.json")
}

/// The variants the tuner times, for batches and for small M alike (which wins differs by
/// driver, e.g. `direct4x4` at batch 8 × 128 is 1.3× faster than `tile128v4` on Mesa 26
/// lavapipe and 1.5× slower on Mesa 25; `direct16x2` is the fastest at one short query on
/// Mesa 26 and 3× slower than the best on Mesa 25) on `k`'s adapter and precision.
pub fn candidates(k: &Kernels) -> Vec<GemmVariant> {
    let mut v = GemmVariant::PORTABLE.to_vec();
    if k.precision() == Precision::F16 {
        v.extend(
            [GemmVariant::Coop16, GemmVariant::Coop8]
                .into_iter()
                .filter(|c| c.runs_on(k.ctx())),
        );
    }
    v
}

/// The variant `name` asks for, if any: an error names what is missing when the adapter
/// cannot run it, or lists the names when it is not one.
pub fn requested_variant(k: &Kernels, name: Option<&str>) -> crate::Result<Option<GemmVariant>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let ctx = k.ctx();
    let v = if name == "coop" {
        [GemmVariant::Coop16, GemmVariant::Coop8]
            .into_iter()
            .find(|v| v.runs_on(ctx))
    } else {
        GemmVariant::from_name(name).filter(|v| v.runs_on(ctx))
    };
    match v {
        Some(v) => Ok(Some(v)),
        None if name.starts_with("coop") => {
            let missing = if ctx.coop.is_empty() {
                "no cooperative-matrix configuration wgbert can use \
                 (EXPERIMENTAL_COOPERATIVE_MATRIX with f16 inputs, SHADER_F16 and SUBGROUP)"
                    .to_string()
            } else {
                format!(
                    "cooperative matrices {}, not the fragment size {name:?} needs with f32 accumulation",
                    ctx.coop_summary()
                )
            };
            Err(crate::Error::Unsupported(format!(
                "WGBERT_GEMM={name}: {} has {missing}; unset WGBERT_GEMM or pick a tiled GEMM ({})",
                ctx.info.name,
                portable_names()
            )))
        }
        None => Err(crate::Error::InvalidInput(format!(
            "WGBERT_GEMM={name:?} is not a GEMM variant; use one of {}, coop (coop8, coop16), or unset it",
            portable_names()
        ))),
    }
}

/// The names of the variants every adapter runs, for error messages: `tile128, tile64, ...`.
fn portable_names() -> String {
    GemmVariant::PORTABLE.map(|v| v.name()).join(", ")
}

/// Which rows a tuning is for: GEMMs of more than [`SMALL_M`](crate::kernels::SMALL_M) rows (batches), or at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// More than [`SMALL_M`](crate::kernels::SMALL_M) rows.
    Batch,
    /// At most [`SMALL_M`](crate::kernels::SMALL_M) rows (one short query): timed at 16 and 32 rows.
    SmallM,
}

/// The GEMM variants to use on `k`'s adapter, for batches and for small M: `opts.gemm`
/// (both), else the tuning cache, else timed here.
pub fn gemm_variants(
    k: &Kernels,
    opts: &KernelOptions,
) -> crate::Result<(GemmVariant, GemmVariant)> {
    if let Some(v) = requested_variant(k, opts.gemm.as_deref())? {
        return Ok((v, v));
    }
    // The probe (is this a slow adapter?) is timed once for both buckets, when one is tuned.
    let mut probe = None;
    Ok((
        gemm_variant(k, opts, Bucket::Batch, &mut probe),
        gemm_variant(k, opts, Bucket::SmallM, &mut probe),
    ))
}

/// The tuned variant for `bucket` (no autotuning: tile128); `probe` keeps tile128's time at
/// [`PROBE_SHAPE`] once measured.
fn gemm_variant(
    k: &Kernels,
    opts: &KernelOptions,
    bucket: Bucket,
    probe: &mut Option<f64>,
) -> GemmVariant {
    if !opts.autotune {
        return GemmVariant::Tile128;
    }
    let dir = opts.cache_dir.as_deref();
    let mut names: Vec<&str> = candidates(k).iter().map(|v| v.name()).collect();
    if bucket == Bucket::SmallM {
        names.push("small-m");
    }
    let key = cache_key(k, &names);
    if let Some(v) = recall(dir, &key)
        .and_then(|n| GemmVariant::from_name(&n))
        .filter(|v| v.runs_on(k.ctx()))
    {
        return v;
    }
    let best = match choose(k, bucket, probe) {
        Ok(v) => v,
        Err(e) => {
            // Not remembered: the failure may belong to this process (e.g. a binding-size cap
            // in GpuOptions), not to the adapter.
            log::warn!("autotune: timing failed ({e}); using tile128 this time");
            return GemmVariant::Tile128;
        }
    };
    remember(dir, key, best.name());
    best
}

/// Rows × width at which the two reductions are compared: bert-base's add + LayerNorm at
/// batch 32 × 128 on fast adapters, 512 rows on slow ones (as the GEMM probe).
const REDUCE_SHAPE_GPU: (usize, usize) = (4096, 768);
const REDUCE_SHAPE_CPU: (usize, usize) = (512, 768);

/// How the row kernels reduce on `k`'s adapter: `opts.reduction` (`tree`, `subgroup`), else
/// the tree without SUBGROUP or without autotuning, else the tuning cache, else the faster of
/// the two add + LayerNorm kernels measured here.
pub fn reduction(k: &Kernels, opts: &KernelOptions) -> crate::Result<Reduction> {
    let ctx = k.ctx();
    let dir = opts.cache_dir.as_deref();
    if let Some(name) = &opts.reduction {
        let r = Reduction::from_name(name).ok_or_else(|| {
            crate::Error::InvalidInput(format!(
                "WGBERT_REDUCE={name:?} is not a reduction; use tree or subgroup, or unset it"
            ))
        })?;
        if !r.runs_on(ctx) {
            return Err(crate::Error::Unsupported(format!(
                "WGBERT_REDUCE=subgroup: {} has no SUBGROUP feature; unset WGBERT_REDUCE or use tree",
                ctx.info.name
            )));
        }
        return Ok(r);
    }
    if !Reduction::Subgroup.runs_on(ctx) || !opts.autotune {
        return Ok(Reduction::Tree);
    }
    let key = cache_key(k, &["reduce:tree", "reduce:subgroup"]);
    if let Some(r) = recall(dir, &key).and_then(|n| Reduction::from_name(&n)) {
        return Ok(r);
    }
    let timed = |r| {
        let kr = k.with_variant(k.gemm_variant()).with_reduction(r);
        let probe = time_layernorm(&kr, REDUCE_SHAPE_CPU, 1)?;
        if probe >= SLOW_DISPATCH_S {
            return Ok(probe);
        }
        time_layernorm(
            &kr,
            REDUCE_SHAPE_GPU,
            repeats_for(probe, TARGET_SUBMISSION_S),
        )
    };
    let (tree, subgroup): (crate::Result<f64>, crate::Result<f64>) =
        (timed(Reduction::Tree), timed(Reduction::Subgroup));
    let best = match (tree, subgroup) {
        (Ok(t), Ok(s)) => {
            log::info!(
                "autotune: add_layernorm tree {:.3} ms, subgroup {:.3} ms",
                t * 1e3,
                s * 1e3
            );
            if s < t {
                Reduction::Subgroup
            } else {
                Reduction::Tree
            }
        }
        (Ok(_), Err(e)) => {
            log::warn!("autotune: subgroup reduction failed ({e}); using the tree");
            Reduction::Tree
        }
        (Err(e), _) => {
            log::warn!("autotune: timing the reductions failed ({e}); using the tree this time");
            return Ok(Reduction::Tree);
        }
    };
    remember(dir, key, best.name());
    Ok(best)
}

/// Seconds per add + LayerNorm dispatch of `k` (with its reduction) over `rows × h`: the best
/// of five submissions of `reps` dispatches, after one that compiles the pipeline.
pub fn time_layernorm(k: &Kernels, (rows, h): (usize, usize), reps: usize) -> crate::Result<f64> {
    let x = k.float_buffer("tune.x", rows * h)?;
    let res = k.float_buffer("tune.residual", rows * h)?;
    let g = k.float_buffer("tune.gamma", h)?;
    let b = k.float_buffer("tune.beta", h)?;
    let out = k.float_buffer("tune.out", rows * h)?;
    let d = k.add_layernorm(
        "tune.add_layernorm",
        rows,
        h,
        1e-12,
        [&x, &res, &g, &b, &out],
    )?;
    time_dispatches(k, &vec![d; reps.max(1)], f64::INFINITY)
}

/// Times every variant on this adapter and returns the fastest for `bucket`: batches at
/// [`PROBE_SHAPE`] on slow adapters, summed over [`GPU_SHAPES`] on fast ones; small M summed
/// over [`SMALL_M_SHAPES`].
fn choose(k: &Kernels, bucket: Bucket, probe: &mut Option<f64>) -> crate::Result<GemmVariant> {
    let probe = match *probe {
        Some(t) => t,
        None => *probe.insert(time_gemm(k, GemmVariant::Tile128, PROBE_SHAPE, 1)?),
    };
    let slow = probe >= SLOW_DISPATCH_S;
    let shapes: &[(usize, usize, usize)] = match bucket {
        Bucket::Batch if slow => {
            // tile128 has just been timed at this shape: only the others are.
            let known = Some((GemmVariant::Tile128, probe));
            return fastest_given(k, &[(PROBE_SHAPE, 1)], known);
        }
        Bucket::Batch => &GPU_SHAPES,
        Bucket::SmallM => &SMALL_M_SHAPES,
    };
    let mut cases = Vec::with_capacity(shapes.len());
    for &shape in shapes {
        let reps = if slow {
            1
        } else {
            repeats(k, shape, TARGET_SUBMISSION_S)?
        };
        cases.push((shape, reps));
    }
    fastest_given(k, &cases, None)
}

/// How many back-to-back dispatches at `shape` make a submission of about `target_s`
/// (calibrated on `tile128` with one dispatch per submission, an upper bound on its GPU time).
pub fn repeats(k: &Kernels, shape: (usize, usize, usize), target_s: f64) -> crate::Result<usize> {
    let single = time_gemm(k, GemmVariant::Tile128, shape, 1)?;
    Ok(repeats_for(single, target_s))
}

/// Dispatches of `single_s` seconds each that make a submission of about `target_s`.
fn repeats_for(single_s: f64, target_s: f64) -> usize {
    ((target_s / single_s.max(1e-9)).ceil() as usize).clamp(1, MAX_REPS)
}

/// The candidate with the least total time over `cases` (shape, dispatches per
/// submission). A variant that fails (e.g. a driver that cannot compile it) is skipped.
pub fn fastest(
    k: &Kernels,
    cases: &[((usize, usize, usize), usize)],
) -> crate::Result<GemmVariant> {
    fastest_given(k, cases, None)
}

/// [`fastest`], with one variant's total over `cases` already measured.
fn fastest_given(
    k: &Kernels,
    cases: &[((usize, usize, usize), usize)],
    known: Option<(GemmVariant, f64)>,
) -> crate::Result<GemmVariant> {
    let mut best: Option<(f64, GemmVariant)> = None;
    for v in candidates(k) {
        let total: crate::Result<f64> = match known {
            Some((kv, t)) if kv == v => Ok(t),
            _ => time_cases(
                k,
                v,
                cases,
                best.map_or(f64::INFINITY, |(b, _)| GIVE_UP_FACTOR * b),
            ),
        };
        match total {
            Ok(t) => {
                log::info!(
                    "autotune: gemm {} {:.3} ms over {cases:?}",
                    v.name(),
                    t * 1e3
                );
                if best.is_none_or(|(b, _)| t < b) {
                    best = Some((t, v));
                }
            }
            Err(e) => log::warn!("autotune: gemm {} failed ({e}); skipped", v.name()),
        }
    }
    best.map(|(_, v)| v)
        .ok_or_else(|| crate::Error::Device("no GEMM variant ran on this adapter".to_string()))
}

/// Seconds per dispatch of variant `v` at `(m, n, k)`: the best of five submissions of
/// `reps` back-to-back dispatches each (waited on), after one untimed submission that compiles
/// the pipeline. The operands are uninitialised buffers: the time does not depend on values.
pub fn time_gemm(
    k: &Kernels,
    v: GemmVariant,
    shape: (usize, usize, usize),
    reps: usize,
) -> crate::Result<f64> {
    time_gemm_bounded(k, v, shape, reps, f64::INFINITY)
}

/// `v`'s time summed over `cases`; once the sum passes `give_up_s` (the variant cannot win),
/// the rest is not timed: on a CPU driver a poor variant can take seconds to time.
fn time_cases(
    k: &Kernels,
    v: GemmVariant,
    cases: &[((usize, usize, usize), usize)],
    give_up_s: f64,
) -> crate::Result<f64> {
    let mut total = 0.0;
    for &(shape, reps) in cases {
        total += time_gemm_bounded(k, v, shape, reps, give_up_s - total)?;
        if total > give_up_s {
            break;
        }
    }
    Ok(total)
}

/// A variant this many times slower than the best so far, on its first timed submission, is
/// not timed further.
const GIVE_UP_FACTOR: f64 = 2.0;

/// [`time_gemm`], stopping after the first timed submission when it takes more than
/// `give_up_s` per dispatch (and returning that time).
fn time_gemm_bounded(
    k: &Kernels,
    v: GemmVariant,
    (m, n, kd): (usize, usize, usize),
    reps: usize,
    give_up_s: f64,
) -> crate::Result<f64> {
    let a = k.float_buffer("tune.a", m * kd)?;
    let w = k.float_buffer("tune.w", n * kd)?;
    let b = k.float_buffer("tune.bias", n)?;
    let c = k.float_buffer("tune.c", m * n)?;
    let d = k.gemm_with(
        v,
        "tune.gemm",
        &GemmParams::new(m, n, kd, Act::Identity),
        [&a, &w, &b, &c],
    )?;
    time_dispatches(k, &vec![d; reps.max(1)], give_up_s)
}

/// Seconds per dispatch of `batch` (copies of one dispatch): the best of five submissions of
/// all of them, after one submission of the first alone (which compiles the pipeline); only
/// the first timed one when that takes more than `give_up_s` per dispatch.
fn time_dispatches(
    k: &Kernels,
    batch: &[crate::kernels::Dispatch],
    give_up_s: f64,
) -> crate::Result<f64> {
    let ctx = k.ctx();
    let mut best = f64::INFINITY;
    for i in 0..=TIMED_SUBMISSIONS {
        let t = Instant::now();
        let index = k.run(if i == 0 { &batch[..1] } else { batch });
        ctx.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(crate::gpu::GPU_TIMEOUT),
            })
            .map_err(|e| crate::Error::Device(format!("waiting for the GPU failed ({e})")))?;
        ctx.check_errors()?;
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
            if best / batch.len() as f64 > give_up_s {
                break;
            }
        }
    }
    Ok(best / batch.len() as f64)
}
