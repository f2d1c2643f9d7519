//! Single kernels on host data: upload, one dispatch, read back. For tests, benchmarks and
//! callers who want one op; the encoder itself never leaves the GPU between kernels.

use crate::error::Result;
use crate::kernels::*;

fn u(v: usize) -> u32 {
    v as u32
}

fn run_one(k: &Kernels, d: Dispatch, out: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
    k.run(std::slice::from_ref(&d));
    let mut r = k.read(&[(out, len)])?;
    Ok(r.pop().unwrap_or_default())
}

/// One GEMM dispatch over host data: C starts as `c` (zeros when `None`), `out` values come back.
fn gemm_run(
    k: &Kernels,
    [a, w, bias]: [&[f32]; 3],
    c: Option<&[f32]>,
    params: &GemmParams,
    out: usize,
) -> Result<Vec<f32>> {
    let (ab, wb, bb) = (
        k.upload("a", a)?,
        k.upload("w", w)?,
        k.upload("bias", bias)?,
    );
    let cb = match c {
        Some(c) => k.upload("c", c)?,
        None => k.float_buffer("c", out)?,
    };
    let d = k.gemm("gemm", params, [&ab, &wb, &bb, &cb])?;
    run_one(k, d, &cb, out)
}

#[allow(clippy::too_many_arguments)]
/// C`[M, N]` = act(A`[M, K]` · W`[N, K]`ᵀ + bias`[N]`) on the GPU.
pub fn gemm(
    k: &Kernels,
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    n: usize,
    kd: usize,
    act: Act,
) -> Result<Vec<f32>> {
    let params = GemmParams::new(m, n, kd, act);
    gemm_run(k, [a, w, bias], None, &params, m * n)
}

/// The gated GEMM on the GPU: C`[M, N/2]` from weights and bias in [`glu_pairs`] layout
/// (`[N, K]`, `[N]`), C`[r, j]` = act(gate) · linear (see [`GemmParams::glu`]).
#[allow(clippy::too_many_arguments)]
pub fn gemm_glu(
    k: &Kernels,
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    n: usize,
    kd: usize,
    act: Act,
) -> Result<Vec<f32>> {
    let params = GemmParams::glu(m, n, kd, act);
    gemm_run(k, [a, w, bias], None, &params, m * n / 2)
}

/// C`[M, N]` += act(A · Wᵀ + bias) on the GPU: the accumulating epilogue, from `c` as given.
#[allow(clippy::too_many_arguments)]
pub fn gemm_accumulate(
    k: &Kernels,
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    c: &[f32],
    m: usize,
    n: usize,
    kd: usize,
    act: Act,
) -> Result<Vec<f32>> {
    let params = GemmParams::new(m, n, kd, act).accumulating();
    gemm_run(k, [a, w, bias], Some(c), &params, m * n)
}

/// LayerNorm of `x` (+ `residual`) over rows of width `h`; returns (out, the sum x + residual
/// as the kernel stored it, when a residual was given).
pub fn layernorm(
    k: &Kernels,
    x: &[f32],
    residual: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    h: usize,
    eps: f32,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    let rows = x.len() / h;
    let xb = k.upload("x", x)?;
    let rb = match residual {
        Some(r) => Some(k.upload("residual", r)?),
        None => None,
    };
    let (gb, bb) = (k.upload("gamma", gamma)?, k.upload("beta", beta)?);
    let out = k.float_buffer("out", x.len())?;
    let sum = match residual {
        Some(_) => Some(k.float_buffer("sum", x.len())?),
        None => None,
    };
    let d = k.layernorm(
        "layernorm",
        rows,
        h,
        eps,
        &xb,
        rb.as_ref(),
        [&gb, &bb],
        &out,
        sum.as_ref(),
    )?;
    k.run(std::slice::from_ref(&d));
    let mut want = vec![(&out, x.len())];
    if let Some(s) = &sum {
        want.push((s, x.len()));
    }
    let mut r = k.read(&want)?.into_iter();
    let out = r.next().unwrap_or_default();
    Ok((out, r.next()))
}

/// Residual add + LayerNorm over rows of width `h`.
pub fn add_layernorm(
    k: &Kernels,
    x: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    h: usize,
    eps: f32,
) -> Result<Vec<f32>> {
    let rows = x.len() / h;
    let bufs = [
        k.upload("x", x)?,
        k.upload("residual", residual)?,
        k.upload("gamma", gamma)?,
        k.upload("beta", beta)?,
    ];
    let out = k.float_buffer("out", x.len())?;
    let d = k.add_layernorm(
        "add_layernorm",
        rows,
        h,
        eps,
        [&bufs[0], &bufs[1], &bufs[2], &bufs[3], &out],
    )?;
    run_one(k, d, &out, x.len())
}

/// In-place activation of `x`.
pub fn activation(k: &Kernels, x: &[f32], act: Act) -> Result<Vec<f32>> {
    let buf = k.upload("x", x)?;
    let groups = x.len().div_ceil(256);
    let grid = if groups <= MAX_GROUPS_PER_DIM as usize {
        [u(groups.max(1)), 1, 1]
    } else {
        [
            MAX_GROUPS_PER_DIM,
            u(groups.div_ceil(MAX_GROUPS_PER_DIM as usize)),
            1,
        ]
    };
    let d = k.dispatch(
        "gelu",
        Kernel::Gelu,
        act as u32,
        &GeluParams {
            len: u(x.len()),
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        },
        &[&buf],
        grid,
    )?;
    run_one(k, d, &buf, x.len())
}

/// The embeddings step for packed `ids`/`types` of `seq`-long rows.
#[allow(clippy::too_many_arguments)]
pub fn embeddings(
    k: &Kernels,
    ids: &[u32],
    types: &[u32],
    seq: usize,
    h: usize,
    t: &crate::reference::EmbeddingTables,
    vocab: usize,
    type_vocab: usize,
    eps: f32,
) -> Result<Vec<f32>> {
    let ctx = k.ctx();
    let rows = ids.len();
    let b = [
        ctx.storage_from("ids", ids)?,
        ctx.storage_from("types", types)?,
        k.upload("word", t.word)?,
        k.upload("position", t.position)?,
        k.upload("token_type", t.token_type)?,
        k.upload("gamma", t.gamma)?,
        k.upload("beta", t.beta)?,
    ];
    let out = k.float_buffer("out", rows * h)?;
    let d = k.dispatch(
        "embeddings",
        Kernel::Embeddings,
        0,
        &EmbeddingsParams {
            rows: u(rows),
            seq: u(seq),
            hidden: u(h),
            vocab: u(vocab),
            type_vocab: u(type_vocab),
            eps,
            pos_offset: 0,
            pad_position: NO_PAD_POSITION,
            gathered: 0,
            positions: 1,
            _pad1: 0,
            _pad2: 0,
        },
        &[&b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &out],
        row_grid(u(rows)),
    )?;
    run_one(k, d, &out, rows * h)
}

/// Fused attention over `qkv[B·S, 3H]` with padding `mask[B·S]`; returns `[B·S, H]`.
pub fn attention(
    k: &Kernels,
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Result<Vec<f32>> {
    attention_windowed(k, qkv, mask, batch, seq, heads, head_dim, 0)
}

/// [`attention`] with a sliding window of half-width `window` (0: global).
#[allow(clippy::too_many_arguments)]
pub fn attention_windowed(
    k: &Kernels,
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    window: usize,
) -> Result<Vec<f32>> {
    let ctx = k.ctx();
    let hid = heads * head_dim;
    let (qb, mb) = (k.upload("qkv", qkv)?, ctx.storage_from("mask", mask)?);
    let out = k.float_buffer("ctx", batch * seq * hid)?;
    let params = AttentionParams::new(batch, seq, heads, head_dim).windowed(window);
    let d = k.attention("attention", &params, [&qb, &mb, &out])?;
    run_one(k, d, &out, batch * seq * hid)
}

/// Attention with a relative bias table `rel[heads, 2S − 1]` (see
/// [`Kernels::attention_biased`]).
#[allow(clippy::too_many_arguments)]
pub fn attention_relative(
    k: &Kernels,
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    rel: &[f32],
) -> Result<Vec<f32>> {
    let ctx = k.ctx();
    let hid = heads * head_dim;
    let (qb, mb) = (k.upload("qkv", qkv)?, ctx.storage_from("mask", mask)?);
    let rb = ctx.storage_from("relative_bias", rel)?;
    let out = k.float_buffer("ctx", batch * seq * hid)?;
    let params = AttentionParams::new(batch, seq, heads, head_dim);
    let d = k.attention_biased("attention", &params, [&qb, &mb, &out], Some(&rb))?;
    run_one(k, d, &out, batch * seq * hid)
}

/// The pooler, tanh(W · x`[b, 0]` + bias), over `x[B·S, H]`.
pub fn pooler(
    k: &Kernels,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    batch: usize,
    seq: usize,
    h: usize,
) -> Result<Vec<f32>> {
    let b = [
        k.upload("x", x)?,
        k.upload("w", w)?,
        k.upload("bias", bias)?,
    ];
    let out = k.float_buffer("pooled", batch * h)?;
    let params = GemmParams {
        a_stride: u(seq * h),
        ..GemmParams::new(batch, h, h, Act::Tanh)
    };
    let d = k.gemm("pooler", &params, [&b[0], &b[1], &b[2], &out])?;
    run_one(k, d, &out, batch * h)
}

/// Sentence pooling (`mode` 0 mean, 1 max, 2 cls) with optional L2 normalisation.
#[allow(clippy::too_many_arguments)]
pub fn pooling(
    k: &Kernels,
    x: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    h: usize,
    mode: PoolMode,
    normalize: bool,
) -> Result<Vec<f32>> {
    let ctx = k.ctx();
    let (xb, mb) = (k.upload("x", x)?, ctx.storage_from("mask", mask)?);
    let out = k.float_buffer("pooled", batch * h)?;
    let d = k.dispatch(
        "pooling",
        Kernel::Pooling,
        mode as u32,
        &PoolingParams {
            batch: u(batch),
            seq: u(seq),
            hidden: u(h),
            normalize: normalize as u32,
        },
        &[&xb, &mb, &out],
        row_grid(u(batch)),
    )?;
    run_one(k, d, &out, batch * h)
}

/// SPLADE's sparse vectors `[B, V]` of masked-word logits `[B·S, V]`, the logits handed to the
/// kernel in chunks of `chunk_rows` token rows (as the engine does when B·S·V is larger than one
/// storage binding).
#[allow(clippy::too_many_arguments)]
pub fn splade(
    k: &Kernels,
    logits: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    vocab: usize,
    pool: SpladePool,
    twice: bool,
    chunk_rows: usize,
) -> Result<Vec<f32>> {
    let ctx = k.ctx();
    let m = batch * seq;
    let chunk_rows = chunk_rows.clamp(1, m.max(1));
    let mb = ctx.storage_from("mask", mask)?;
    let out = k.float_buffer("sparse", batch * vocab)?;
    let mut bufs = Vec::new();
    let mut dispatches = Vec::new();
    for (ci, r0) in (0..m).step_by(chunk_rows).enumerate() {
        let rows = chunk_rows.min(m - r0);
        let chunk = k.upload("logits", &logits[r0 * vocab..(r0 + rows) * vocab])?;
        dispatches.push(k.dispatch(
            format!("splade{ci}"),
            Kernel::Splade,
            pool as u32,
            &SpladeParams {
                batch: u(batch),
                seq: u(seq),
                vocab: u(vocab),
                row0: u(r0),
                rows: u(rows),
                init: (ci == 0) as u32,
                twice: twice as u32,
                col0: 0,
                stride: u(vocab),
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
            },
            &[&chunk, &mb, &out],
            [u(vocab).div_ceil(64), u(batch), 1],
        )?);
        bufs.push(chunk);
    }
    k.run(&dispatches);
    let mut r = k.read(&[(&out, batch * vocab)])?;
    Ok(r.pop().unwrap_or_default())
}

/// Rotary position embeddings in place on rows of `stride` values (see `shaders/rope.wgsl`),
/// with the (cos, sin) table of [`rope_table`].
#[allow(clippy::too_many_arguments)]
pub fn rope(
    k: &Kernels,
    x: &[f32],
    seq: usize,
    heads: usize,
    head_dim: usize,
    rot_dim: usize,
    stride: usize,
    parts: usize,
    base: f64,
    pos_scale: f64,
) -> Result<Vec<f32>> {
    let rows = x.len() / stride;
    let xb = k.upload("x", x)?;
    let table = k
        .ctx()
        .storage_from("rope.table", &rope_table(seq, rot_dim, base, pos_scale))?;
    let d = k.dispatch(
        "rope",
        Kernel::Rope,
        0,
        &RopeParams {
            rows: u(rows),
            seq: u(seq),
            heads: u(heads),
            head_dim: u(head_dim),
            rot_dim: u(rot_dim),
            stride: u(stride),
            parts: u(parts),
            _pad: 0,
        },
        &[&xb, &table],
        row_grid(u(rows)),
    )?;
    run_one(k, d, &xb, x.len())
}

/// Kernel calls with their buffers, ready to replay: for benchmarks, which must time the GPU
/// (the wait is part of `run_and_wait`), not the recording.
pub struct Prepared {
    kernels: std::sync::Arc<Kernels>,
    dispatches: Vec<Dispatch>,
    _buffers: Vec<wgpu::Buffer>,
    /// FLOPs of one replay (GEMM multiply-adds count 2).
    pub flops: f64,
}

impl Prepared {
    /// Submits the calls in one compute pass and waits for the GPU to finish them.
    pub fn run_and_wait(&self) -> Result<()> {
        let index = self.kernels.run(&self.dispatches);
        self.kernels
            .ctx()
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(crate::gpu::GPU_TIMEOUT),
            })
            .map_err(|e| crate::Error::Device(format!("waiting for the GPU failed ({e})")))?;
        self.kernels.ctx().check_errors()
    }
}

/// A GEMM of the given shape on random data, `repeats` times in one pass.
pub fn prepare_gemm(
    k: &std::sync::Arc<Kernels>,
    m: usize,
    n: usize,
    kd: usize,
    act: Act,
    repeats: usize,
) -> Result<Prepared> {
    let mut rng = crate::reference::SplitMix64::new(42);
    let a = k.upload("a", &rng.vec(m * kd, 1.0))?;
    let w = k.upload("w", &rng.vec(n * kd, 0.05))?;
    let b = k.upload("bias", &rng.vec(n, 0.1))?;
    let c = k.float_buffer("c", m * n)?;
    let dispatches = (0..repeats.max(1))
        .map(|_| k.gemm("gemm", &GemmParams::new(m, n, kd, act), [&a, &w, &b, &c]))
        .collect::<Result<Vec<_>>>()?;
    Ok(Prepared {
        kernels: k.clone(),
        dispatches,
        _buffers: vec![a, w, b, c],
        flops: 2.0 * (m * n * kd * repeats.max(1)) as f64,
    })
}

/// One layer's attention at (batch, seq, heads, head_dim) on random data.
pub fn prepare_attention(
    k: &std::sync::Arc<Kernels>,
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Result<Prepared> {
    let ctx = k.ctx();
    let hid = heads * head_dim;
    let mut rng = crate::reference::SplitMix64::new(43);
    let qkv = k.upload("qkv", &rng.vec(batch * seq * 3 * hid, 1.0))?;
    let mask = ctx.storage_from("mask", &vec![1u32; batch * seq])?;
    let out = k.float_buffer("ctx", batch * seq * hid)?;
    let params = AttentionParams::new(batch, seq, heads, head_dim);
    let d = k.attention("attention", &params, [&qkv, &mask, &out])?;
    Ok(Prepared {
        kernels: k.clone(),
        dispatches: vec![d],
        _buffers: vec![qkv, mask, out],
        flops: 4.0 * (batch * heads * seq * seq * head_dim) as f64,
    })
}

/// Residual add + LayerNorm over `rows` × `h`.
pub fn prepare_layernorm(k: &std::sync::Arc<Kernels>, rows: usize, h: usize) -> Result<Prepared> {
    let mut rng = crate::reference::SplitMix64::new(44);
    let x = k.upload("x", &rng.vec(rows * h, 1.0))?;
    let r = k.upload("residual", &rng.vec(rows * h, 1.0))?;
    let g = k.upload("gamma", &vec![1.0f32; h])?;
    let b = k.upload("beta", &vec![0.0f32; h])?;
    let out = k.float_buffer("out", rows * h)?;
    let d = k.add_layernorm("add_layernorm", rows, h, 1e-12, [&x, &r, &g, &b, &out])?;
    Ok(Prepared {
        kernels: k.clone(),
        dispatches: vec![d],
        _buffers: vec![x, r, g, b, out],
        flops: 8.0 * (rows * h) as f64,
    })
}
