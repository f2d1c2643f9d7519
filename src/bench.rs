//! `wgbert bench`: times full forward passes on the GPU, with random weights of a named shape or
//! a real model, and reports throughput the way `../shared/reference/bench_peer.py` does for the
//! PyTorch peer (same FLOP count, same `--fill` meaning), so the two can stand side by side.

use crate::config::BertConfig;
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::Request;
use crate::reference::SplitMix64;
use crate::weights::BertWeights;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use web_time::Instant;

/// Where the weights come from.
#[derive(Clone, Debug)]
pub enum BenchModel {
    /// Random weights (fixed seed) of a named shape: `bert-base`, `minilm-l6` or `xlmr-base`.
    Shape(String),
    /// A model folder.
    Dir(PathBuf),
}

/// One benchmark configuration.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Where the weights come from.
    pub model: BenchModel,
    /// Sequences per forward pass.
    pub batch: usize,
    /// Positions per sequence.
    pub seq_len: usize,
    /// Fraction of each row that is real tokens; the rest is padding.
    pub fill: f64,
    /// Timed iterations.
    pub iters: usize,
    /// Untimed iterations before timing.
    pub warmup: usize,
    /// Also time every kernel call of one forward with GPU timestamps.
    pub profile: bool,
    /// Run every row at the full `seq_len` even when it is mostly padding (TF-Hub semantics);
    /// otherwise each batch runs only as long as its longest row.
    pub full_padding: bool,
    /// Adapter, precision and kernel choice (`seq_length` and `max_batch` come from
    /// `seq_len` and `batch`).
    pub engine: EngineOptions,
    /// Also run BERT's masked-word head (the vocabulary-wide GEMM against the word table) at
    /// every position and read its logits back (random shapes get a random head).
    pub mlm: bool,
    /// Time SPLADE sparse vectors (the masked-word head at every position, pooled on the GPU;
    /// `[B, V]` read back) instead of the dense embedding (random shapes get a random head).
    pub sparse: bool,
}

/// What one benchmark measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// Always "wgbert".
    pub engine: &'static str,
    /// Adapter name.
    pub adapter: String,
    /// Graphics API backend.
    pub backend: String,
    /// Driver name and version.
    pub driver: String,
    /// Arithmetic precision of the run.
    pub precision: &'static str,
    /// GEMM variant in use (autotuned, or `WGBERT_GEMM`); the coop variants' names start with
    /// `coop`.
    pub gemm: &'static str,
    /// GEMM variant of GEMMs with at most `SMALL_M` rows (tuned apart: one short query).
    pub gemm_small_m: &'static str,
    /// Attention kernel in use (`attention`, or `attention_coop8` / `attention_coop16`).
    pub attention: &'static str,
    /// Workgroup reduction of the row kernels (`tree` or `subgroup`; tuned, or `WGBERT_REDUCE`).
    pub reduce: &'static str,
    /// Model shape name or folder.
    pub shape: String,
    /// Whether the masked-word head ran (its logits `[B·S, V]` read back).
    pub mlm: bool,
    /// Whether SPLADE sparse vectors were timed instead of dense embeddings.
    pub sparse: bool,
    /// Sequences per forward pass.
    pub batch: usize,
    /// Positions per sequence.
    pub seq_len: usize,
    /// Fraction of each row that is real tokens.
    pub fill: f64,
    /// Real (unmasked) tokens per row.
    pub real_tokens_per_row: usize,
    /// Sequence length the kernels actually ran (trimmed to the longest row unless full padding).
    pub run_seq_len: usize,
    /// Padding.
    pub padding: &'static str,
    /// Timed iterations.
    pub iters: usize,
    /// Median seconds per forward.
    pub median_s: f64,
    /// Fastest forward (s).
    pub min_s: f64,
    /// Sequences per second at the median.
    pub seq_per_s: f64,
    /// Real tokens per second at the median.
    pub real_tokens_per_s: f64,
    /// Encoder matmul FLOPs for the padded shape (as bench_peer.py) / median time.
    pub gflop_per_s: f64,
    /// Model build + weight upload (s).
    pub load_s: f64,
    /// First forward: plan, pipeline compilation, run (s).
    pub first_forward_s: f64,
    /// Per-kernel GPU time of one forward (with `--profile`), largest share first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Vec<ProfileRow>>,
}

/// GPU time of one kernel summed over a forward pass.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileRow {
    /// Kernel (shader) name; GEMMs are split by the layer step they serve.
    pub kernel: String,
    /// Dispatches of it in one forward.
    pub calls: usize,
    /// Summed GPU seconds.
    pub seconds: f64,
    /// Share of the forward's summed kernel time.
    pub share: f64,
}

/// Sums per-dispatch times by kernel (GEMMs by step: qkv, attention.output.dense, ...).
pub fn summarize(times: &[crate::model::KernelTime]) -> Vec<ProfileRow> {
    let mut rows: Vec<ProfileRow> = Vec::new();
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    for t in times {
        let step = t
            .label
            .split_once('.')
            .map_or(t.label.as_str(), |(_, rest)| rest);
        let name = if t.kernel.is_gemm() {
            format!("gemm ({step})")
        } else {
            t.kernel.name().to_string()
        };
        match rows.iter_mut().find(|r| r.kernel == name) {
            Some(r) => {
                r.calls += 1;
                r.seconds += t.seconds;
            }
            None => rows.push(ProfileRow {
                kernel: name,
                calls: 1,
                seconds: t.seconds,
                share: 0.0,
            }),
        }
    }
    for r in &mut rows {
        r.share = if total > 0.0 { r.seconds / total } else { 0.0 };
    }
    rows.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    rows
}

/// Matrix-multiply FLOPs of one forward, padding included (bench_peer.py's count for BERT),
/// from the architecture's graph: 2·tokens·n·k per linear (a gated one's 2I rows included),
/// 4·B·S·keys·H per attention, where a sliding window limits the keys to 2w + 1.
pub fn flops_per_forward(c: &BertConfig, batch: usize, seq: usize) -> f64 {
    use crate::arch::{Arch, Op};
    let tokens = (batch * seq) as f64;
    let h = c.hidden_size as f64;
    let graph = Arch::of(c).graph(c);
    graph
        .layers
        .iter()
        .flatten()
        .map(|op| match op {
            Op::Linear { n, k, .. } => 2.0 * tokens * (*n * *k) as f64,
            Op::Attention { window, .. } => {
                let keys = if *window == 0 {
                    seq
                } else {
                    seq.min(2 * window + 1)
                };
                4.0 * (batch * seq * keys) as f64 * h
            }
            _ => 0.0,
        })
        .sum()
}

/// Matrix-multiply FLOPs of the masked-word head over `rows` positions (transform and the
/// vocabulary-wide decoder).
pub fn mlm_flops(c: &BertConfig, rows: usize) -> f64 {
    let (h, v) = (c.hidden_size as f64, c.vocab_size as f64);
    2.0 * rows as f64 * (h * h + h * v)
}

/// A random masked-word head (decoder tied to the word table) for a random shape.
fn random_mlm_head(c: &BertConfig) -> crate::weights::MlmHead {
    let mut rng = SplitMix64::new(11);
    let h = c.hidden_size;
    let mut t = |n: usize, scale: f32, offset: f32| crate::weights::HostTensor {
        shape: vec![n],
        data: (0..n).map(|_| offset + scale * rng.next_signed()).collect(),
    };
    let mut dense_w = t(h * h, 0.05, 0.0);
    dense_w.shape = vec![h, h];
    crate::weights::MlmHead {
        dense_w,
        dense_b: t(h, 0.02, 0.0),
        ln_g: t(h, 0.1, 1.0),
        ln_b: t(h, 0.02, 0.0),
        bias: t(c.vocab_size, 0.02, 0.0),
        decoder_w: None,
    }
}

/// The shapes `wgbert bench --shape` knows (random weights of published models' configs).
pub const SHAPES: [&str; 8] = [
    "bert-base",
    "minilm-l6",
    "xlmr-base",
    "nomic-v1.5",
    "modernbert-base",
    "mpnet-base",
    "gte-base-v1.5",
    "jina-v2-base",
];

/// The config of a named shape (one of [`SHAPES`]).
pub fn shape_config(name: &str) -> Result<BertConfig> {
    match name {
        "bert-base" => Ok(BertConfig::default()),
        "minilm-l6" => Ok(BertConfig::minilm_l6()),
        "xlmr-base" => Ok(BertConfig {
            vocab_size: 250_002,
            max_position_embeddings: 514,
            type_vocab_size: 1,
            layer_norm_eps: 1e-5,
            model_type: Some("xlm-roberta".into()),
            pad_token_id: Some(1),
            ..Default::default()
        }),
        // nomic-embed-text-v1.5's config.json (rotary, swiglu, no biases, 8 192 positions).
        "nomic-v1.5" => BertConfig::from_json(
            std::path::Path::new("nomic-v1.5 shape"),
            r#"{"model_type": "nomic_bert", "vocab_size": 30528, "n_embd": 768, "n_head": 12,
                "n_layer": 12, "n_inner": 3072, "n_positions": 8192,
                "activation_function": "swiglu", "layer_norm_epsilon": 1e-12,
                "type_vocab_size": 2, "rotary_emb_fraction": 1.0, "rotary_emb_base": 1000,
                "rotary_scaling_factor": null, "max_trained_positions": 2048,
                "qkv_proj_bias": false, "mlp_fc1_bias": false, "mlp_fc2_bias": false}"#,
        ),
        // ModernBERT-base's config.json (22 layers, every third global, ±64-key windows).
        "modernbert-base" => BertConfig::from_json(
            std::path::Path::new("modernbert-base shape"),
            r#"{"model_type": "modernbert", "vocab_size": 50368, "hidden_size": 768,
                "intermediate_size": 1152, "num_hidden_layers": 22, "num_attention_heads": 12,
                "hidden_activation": "gelu", "max_position_embeddings": 8192,
                "norm_eps": 1e-5, "norm_bias": false, "attention_bias": false,
                "mlp_bias": false, "local_attention": 128, "global_attn_every_n_layers": 3,
                "global_rope_theta": 160000.0, "local_rope_theta": 10000.0,
                "pad_token_id": 50283}"#,
        ),
        // all-mpnet-base-v2's config.json.
        "mpnet-base" => BertConfig::from_json(
            std::path::Path::new("mpnet-base shape"),
            r#"{"model_type": "mpnet", "vocab_size": 30527, "hidden_size": 768,
                "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                "max_position_embeddings": 514, "layer_norm_eps": 1e-5, "pad_token_id": 1,
                "relative_attention_num_buckets": 32}"#,
        ),
        // gte-base-en-v1.5's config.json.
        "gte-base-v1.5" => BertConfig::from_json(
            std::path::Path::new("gte-base-v1.5 shape"),
            r#"{"model_type": "new", "vocab_size": 30528, "hidden_size": 768,
                "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                "max_position_embeddings": 8192, "type_vocab_size": 0, "layer_norm_eps": 1e-12,
                "position_embedding_type": "rope", "rope_theta": 500000,
                "rope_scaling": {"type": "ntk", "factor": 2.0}, "pack_qkv": true}"#,
        ),
        // jina-embeddings-v2-base-en's config.json.
        "jina-v2-base" => BertConfig::from_json(
            std::path::Path::new("jina-v2-base shape"),
            r#"{"model_type": "bert", "vocab_size": 30528, "hidden_size": 768,
                "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                "max_position_embeddings": 8192, "type_vocab_size": 2,
                "position_embedding_type": "alibi", "feed_forward_type": "geglu"}"#,
        ),
        other => Err(Error::InvalidInput(format!(
            "unknown shape {other:?}; use {}",
            SHAPES.join(", ")
        ))),
    }
}

/// Runs one benchmark.
pub fn run(cfg: &BenchConfig) -> Result<BenchResult> {
    if cfg.batch == 0 || cfg.iters == 0 {
        return Err(Error::InvalidInput(
            "--batch and --iters must be at least 1".into(),
        ));
    }
    if !(cfg.fill > 0.0 && cfg.fill <= 1.0) {
        return Err(Error::InvalidInput(format!(
            "--fill {} must be in (0, 1]",
            cfg.fill
        )));
    }
    let t0 = Instant::now();
    let opts = EngineOptions {
        seq_length: cfg.seq_len.max(2),
        max_batch: cfg.batch,
        ..cfg.engine.clone()
    };
    let (engine, shape) = match &cfg.model {
        BenchModel::Shape(name) => {
            let c = shape_config(name)?;
            let mut w = BertWeights::random(&c, 0);
            if cfg.mlm || cfg.sparse {
                w.mlm = Some(random_mlm_head(&c));
            }
            let ctx = Arc::new(GpuContext::new(&cfg.engine.gpu)?);
            (Engine::from_parts(ctx, c, &w, None, opts)?, name.clone())
        }
        BenchModel::Dir(d) => (Engine::from_dir(d, opts)?, d.display().to_string()),
    };
    let load_s = t0.elapsed().as_secs_f64();
    let c = engine.config().clone();
    if cfg.seq_len < 2 || cfg.seq_len > c.max_position_embeddings {
        return Err(Error::InvalidInput(format!(
            "--seq-len {} must be between 2 and max_position_embeddings ({})",
            cfg.seq_len, c.max_position_embeddings
        )));
    }
    let (b, s) = (cfg.batch, cfg.seq_len);
    let real = ((s as f64 * cfg.fill).round() as usize).clamp(1, s);
    let run_seq = if cfg.full_padding {
        s
    } else {
        real.div_ceil(8).saturating_mul(8).min(s)
    };
    let mut rng = SplitMix64::new(7);
    let mut ids = Vec::with_capacity(b * run_seq);
    let mut mask = Vec::with_capacity(b * run_seq);
    for _ in 0..b {
        for p in 0..run_seq {
            let is_real = p < real;
            ids.push(if is_real {
                1000 + rng.below(c.vocab_size.saturating_sub(1000).max(1)) as u32
            } else {
                0
            });
            mask.push(is_real as u32);
        }
    }
    let types = vec![0u32; b * run_seq];
    let request = if cfg.sparse {
        Request {
            pooled_output: false,
            embedding: false,
            sparse: Some(engine.sentence_config().splade.unwrap_or_default()),
            ..Default::default()
        }
    } else {
        Request {
            pooled_output: engine.has_pooler(),
            embedding: !engine.has_pooler(),
            mlm: cfg.mlm,
            ..Default::default()
        }
    };

    let t1 = Instant::now();
    engine.run(b, run_seq, &ids, &types, &mask, &request)?;
    let first_forward_s = t1.elapsed().as_secs_f64();
    for _ in 1..cfg.warmup {
        engine.run(b, run_seq, &ids, &types, &mask, &request)?;
    }
    let mut times = Vec::with_capacity(cfg.iters);
    for _ in 0..cfg.iters {
        let t = Instant::now();
        // Includes upload of the ids, the whole forward and the read-back of the vectors.
        engine.run(b, run_seq, &ids, &types, &mask, &request)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median_s = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    let profile = if cfg.profile {
        Some(summarize(
            &engine.profile(b, run_seq, &ids, &types, &mask, &request)?,
        ))
    } else {
        None
    };
    let info = &engine.gpu().info;
    Ok(BenchResult {
        engine: "wgbert",
        adapter: info.name.clone(),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info),
        precision: engine.precision().name(),
        gemm: engine.gemm_variant().name(),
        gemm_small_m: engine.kernels().gemm_variant_for(1).name(),
        attention: engine.kernels().attention_kernel(c.head_dim()).name(),
        reduce: engine.kernels().reduction().name(),
        shape,
        mlm: cfg.mlm,
        sparse: cfg.sparse,
        batch: b,
        seq_len: s,
        fill: cfg.fill,
        real_tokens_per_row: real,
        run_seq_len: run_seq,
        padding: if cfg.full_padding { "full" } else { "trimmed" },
        iters: cfg.iters,
        median_s,
        min_s: times[0],
        seq_per_s: b as f64 / median_s,
        real_tokens_per_s: (b * real) as f64 / median_s,
        gflop_per_s: (flops_per_forward(&c, b, s)
            + if cfg.mlm || cfg.sparse {
                mlm_flops(&c, b * run_seq)
            } else {
                0.0
            })
            / median_s
            / 1e9,
        load_s,
        first_forward_s,
        profile,
    })
}
