//! Plain-Rust references of every kernel: a few loops each, the specification the WGSL is
//! tested against. Also a deterministic RNG for random test shapes and benchmark weights.

use crate::arch::Role;
use crate::kernels::{Act, PoolMode, SpladePool};

/// SplitMix64: a tiny, well-distributed, seedable generator (no external crate needed).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn next_signed(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// `n` values uniform in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_signed() * scale).collect()
    }
}

/// erf in f64 (Abramowitz–Stegun 7.1.26 is too coarse for a reference; this uses the series
/// for |x| < 3 and the continued fraction beyond, both to ~1e-15).
pub fn erf(x: f64) -> f64 {
    let ax = x.abs();
    let r = if ax < 3.0 {
        // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
        let mut sum = 0.0f64;
        let mut term = ax;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 3.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -ax * ax / n;
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc via Lentz's continued fraction.
        let z = ax;
        let mut f = z;
        let (mut c, mut d) = (z, 0.0);
        for k in 1..200 {
            let a = k as f64 / 2.0;
            d = z + a * d;
            d = if d == 0.0 { 1e-300 } else { 1.0 / d };
            c = z + a / c;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        // f = z + (1/2)/(z + 1/(z + (3/2)/(z + …))), so erfc(z) = exp(-z²) / (√π · f).
        1.0 - (-z * z).exp() / (f * std::f64::consts::PI.sqrt())
    };
    if x < 0.0 { -r } else { r }
}

/// Activation `act` applied in f64.
pub fn activate(x: f64, act: Act) -> f64 {
    match act {
        Act::GeluErf => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        Act::GeluTanh => {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        }
        Act::Tanh => x.tanh(),
        Act::Relu => x.max(0.0),
        Act::Silu => x / (1.0 + (-x).exp()),
        Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Act::Identity => x,
    }
}

/// C`[M, N]` = act(A`[M, K]` · W`[N, K]`ᵀ + bias`[N]`), accumulated in f64.
pub fn gemm(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    n: usize,
    k: usize,
    act: Act,
) -> Vec<f32> {
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for kk in 0..k {
                s += a[i * k + kk] as f64 * w[j * k + kk] as f64;
            }
            c[i * n + j] = activate(s + bias[j] as f64, act) as f32;
        }
    }
    c
}

/// The gated GEMM: C`[M, N/2]`, C`[i, j]` = act(gate) · linear where gate and linear are
/// columns 2j and 2j + 1 of A · Wᵀ + bias (weights in `kernels::glu_pairs` layout), in f64.
#[allow(clippy::too_many_arguments)]
pub fn gemm_glu(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    m: usize,
    n: usize,
    k: usize,
    act: Act,
) -> Vec<f32> {
    let dot = |i: usize, j: usize| {
        let mut s = 0f64;
        for kk in 0..k {
            s += a[i * k + kk] as f64 * w[j * k + kk] as f64;
        }
        s + bias[j] as f64
    };
    let mut c = vec![0f32; m * (n / 2)];
    for i in 0..m {
        for j in 0..n / 2 {
            c[i * (n / 2) + j] = (activate(dot(i, 2 * j), act) * dot(i, 2 * j + 1)) as f32;
        }
    }
    c
}

/// LayerNorm of one row in f64 (biased variance, as torch).
fn layer_norm_row(x: &[f64], gamma: &[f32], beta: &[f32], eps: f64, out: &mut [f32]) {
    let h = x.len() as f64;
    let mean = x.iter().sum::<f64>() / h;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / h;
    let inv = 1.0 / (var + eps).sqrt();
    for j in 0..x.len() {
        out[j] = ((x[j] - mean) * inv * gamma[j] as f64 + beta[j] as f64) as f32;
    }
}

/// out`[r]` = LayerNorm(x`[r]` + residual`[r]`) for each of `rows` rows of width `h`.
pub fn add_layernorm(
    x: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    h: usize,
    eps: f64,
) -> Vec<f32> {
    let rows = x.len() / h;
    let mut out = vec![0f32; x.len()];
    for r in 0..rows {
        let row: Vec<f64> = (0..h)
            .map(|j| x[r * h + j] as f64 + residual[r * h + j] as f64)
            .collect();
        layer_norm_row(&row, gamma, beta, eps, &mut out[r * h..(r + 1) * h]);
    }
    out
}

/// Tables of the embeddings step.
pub struct EmbeddingTables<'a> {
    /// Word.
    pub word: &'a [f32],
    /// Position.
    pub position: &'a [f32],
    /// Token type.
    pub token_type: &'a [f32],
    /// Gamma.
    pub gamma: &'a [f32],
    /// Beta.
    pub beta: &'a [f32],
}

/// out`[t]` = LayerNorm(word[ids`[t]`] + position`[t mod seq]` + token_type[types`[t]`]).
pub fn embeddings(
    ids: &[u32],
    types: &[u32],
    seq: usize,
    h: usize,
    t: &EmbeddingTables,
    eps: f64,
) -> Vec<f32> {
    embeddings_with(ids, types, h, t, eps, |r, _| r % seq)
}

/// The embeddings with the config's positions: from `position_offset()`, and RoBERTa's
/// padding at `pad_token_id`.
fn embeddings_at(
    ids: &[u32],
    types: &[u32],
    seq: usize,
    h: usize,
    t: &EmbeddingTables,
    eps: f64,
    c: &crate::BertConfig,
) -> Vec<f32> {
    let roberta = c.roberta_positions();
    let pad = c.pad_id() as u32;
    embeddings_with(ids, types, h, t, eps, |r, id| {
        if roberta && id == pad {
            pad as usize
        } else {
            r % seq + c.position_offset()
        }
    })
}

fn embeddings_with(
    ids: &[u32],
    types: &[u32],
    h: usize,
    t: &EmbeddingTables,
    eps: f64,
    position: impl Fn(usize, u32) -> usize,
) -> Vec<f32> {
    let mut out = vec![0f32; ids.len() * h];
    for (r, (&id, &ty)) in ids.iter().zip(types).enumerate() {
        let pos = position(r, id);
        let row: Vec<f64> = (0..h)
            .map(|j| {
                t.word[id as usize * h + j] as f64
                    + t.position[pos * h + j] as f64
                    + t.token_type[ty as usize * h + j] as f64
            })
            .collect();
        layer_norm_row(&row, t.gamma, t.beta, eps, &mut out[r * h..(r + 1) * h]);
    }
    out
}

/// Attention over the fused QKV projection `qkv[B·S, 3H]` with padding mask `[B·S]`;
/// returns the context `[B·S, H]` (heads concatenated).
pub fn attention(
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
) -> Vec<f32> {
    attention_windowed(qkv, mask, batch, seq, heads, head_dim, 0)
}

/// [`attention`] with a sliding window: query i sees only keys j with |i − j| ≤ `window`
/// (keys outside weigh exactly 0; padding inside is masked as usual); 0 for global attention.
pub fn attention_windowed(
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    window: usize,
) -> Vec<f32> {
    attention_with(qkv, mask, batch, seq, heads, head_dim, window, None)
}

/// [`attention_windowed`] with a relative bias table `rel[heads, 2S − 1]` added to every score
/// (entry `h·(2S − 1) + j − i + S − 1`; see `arch::relative_bias_table`).
#[allow(clippy::too_many_arguments)]
pub fn attention_with(
    qkv: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    window: usize,
    rel: Option<&[f32]>,
) -> Vec<f32> {
    let hid = heads * head_dim;
    let scale = 1.0 / (head_dim as f64).sqrt();
    let mut ctx = vec![0f32; batch * seq * hid];
    let at = |b: usize, s: usize, part: usize, h: usize, d: usize| {
        qkv[(b * seq + s) * 3 * hid + part * hid + h * head_dim + d] as f64
    };
    for b in 0..batch {
        for h in 0..heads {
            for i in 0..seq {
                let scores: Vec<f64> = (0..seq)
                    .map(|j| {
                        let dot: f64 = (0..head_dim)
                            .map(|d| at(b, i, 0, h, d) * at(b, j, 1, h, d))
                            .sum();
                        if window > 0 && i.abs_diff(j) > window {
                            return f64::NEG_INFINITY; // outside the window: weight exactly 0
                        }
                        let bias =
                            rel.map_or(0.0, |r| r[h * (2 * seq - 1) + j + seq - 1 - i] as f64);
                        dot * scale + if mask[b * seq + j] == 0 { -1e9 } else { bias }
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
                let sum: f64 = e.iter().sum();
                for d in 0..head_dim {
                    let v: f64 = (0..seq).map(|j| e[j] * at(b, j, 2, h, d)).sum();
                    ctx[(b * seq + i) * hid + h * head_dim + d] = (v / sum) as f32;
                }
            }
        }
    }
    ctx
}

/// pooled`[b]` = tanh(W · x`[b, 0]` + bias).
pub fn pooler(x: &[f32], w: &[f32], bias: &[f32], batch: usize, seq: usize, h: usize) -> Vec<f32> {
    let cls: Vec<f32> = (0..batch)
        .flat_map(|b| x[b * seq * h..b * seq * h + h].to_vec())
        .collect();
    gemm(&cls, w, bias, batch, h, h, Act::Tanh)
}

/// Sentence pooling as `shaders/pooling.wgsl`; optional L2 norm.
pub fn pooling(
    x: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    h: usize,
    mode: PoolMode,
    normalize: bool,
) -> Vec<f32> {
    let mut out = vec![0f32; batch * h];
    for b in 0..batch {
        let real: Vec<usize> = (0..seq).filter(|&s| mask[b * seq + s] != 0).collect();
        let mut v: Vec<f64> = (0..h)
            .map(|j| {
                let column = real.iter().map(|&s| x[(b * seq + s) * h + j] as f64);
                let n = (real.len() as f64).max(1e-9);
                match mode {
                    PoolMode::Cls => x[b * seq * h + j] as f64,
                    PoolMode::Max => column.fold(f64::NEG_INFINITY, f64::max),
                    PoolMode::Mean => column.sum::<f64>() / n,
                    PoolMode::MeanSqrtLen => column.sum::<f64>() / n.sqrt(),
                }
            })
            .map(|v| if v.is_finite() { v } else { 0.0 })
            .collect();
        if normalize {
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
            v.iter_mut().for_each(|a| *a /= n);
        }
        for j in 0..h {
            out[b * h + j] = v[j] as f32;
        }
    }
    out
}

/// SPLADE's sparse vectors as `shaders/splade.wgsl`: `logits` `[B·S, V]`, weights
/// log(1 + relu(logit)) (`twice`: log(1 + ·) again), max or sum over each sequence's real
/// tokens; `[B, V]`.
pub fn splade(
    logits: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    vocab: usize,
    pool: SpladePool,
    twice: bool,
) -> Vec<f32> {
    let mut out = vec![0f32; batch * vocab];
    for b in 0..batch {
        for v in 0..vocab {
            let mut acc = 0f64;
            for s in (0..seq).filter(|&s| mask[b * seq + s] != 0) {
                let mut w = (logits[(b * seq + s) * vocab + v] as f64).max(0.0).ln_1p();
                if twice {
                    w = w.ln_1p();
                }
                acc = match pool {
                    SpladePool::Max => acc.max(w),
                    SpladePool::Sum => acc + w,
                };
            }
            out[b * vocab + v] = acc as f32;
        }
    }
    out
}

/// Rotary position embeddings as `shaders/rope.wgsl`, computed in f64 from the angles themselves:
/// rows of `stride` values, the first `parts` blocks of `heads × head_dim` rotated per head over
/// the leading `rot_dim` values (Hugging Face's `rotate_half`), position = row mod `seq`, angle
/// p / `pos_scale` · `base`^(−2i/`rot_dim`).
#[allow(clippy::too_many_arguments)]
pub fn rope(
    x: &[f32],
    seq: usize,
    heads: usize,
    head_dim: usize,
    rot_dim: usize,
    stride: usize,
    parts: usize,
    base: f64,
    pos_scale: f64,
) -> Vec<f32> {
    let mut out = x.to_vec();
    let half = rot_dim / 2;
    for r in 0..x.len() / stride {
        let p = (r % seq) as f64 / pos_scale;
        for part in 0..parts {
            for h in 0..heads {
                let o = r * stride + part * heads * head_dim + h * head_dim;
                for i in 0..half {
                    let a = p * base.powf(-((2 * i) as f64) / rot_dim as f64);
                    let (s, c) = a.sin_cos();
                    let (u, v) = (x[o + i] as f64, x[o + i + half] as f64);
                    out[o + i] = (u * c - v * s) as f32;
                    out[o + i + half] = (v * c + u * s) as f32;
                }
            }
        }
    }
    out
}

/// Largest |a - b| and where it is, for error reports that name the worst element.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, usize) {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((x - y).abs(), i))
        .fold(
            (0.0, 0),
            |acc, v| if v.0 > acc.0 || v.0.is_nan() { v } else { acc },
        )
}

/// What [`forward`] returns: the last layer `[B·S·H]` and, with a pooler, `[B·H]`.
pub struct ReferenceOutput {
    /// `sequence_output`.
    pub sequence_output: Vec<f32>,
    /// `pooled_output`, when the weights have a pooler.
    pub pooled_output: Option<Vec<f32>>,
}

/// The last layer's output and, with a pooler, `pooled_output`.
fn output(
    x: Vec<f32>,
    w: &crate::BertWeights,
    batch: usize,
    seq: usize,
    h: usize,
) -> ReferenceOutput {
    let pooled_output = w
        .pooler
        .as_ref()
        .map(|(pw, pb)| pooler(&x, &pw.data, &pb.data, batch, seq, h));
    ReferenceOutput {
        sequence_output: x,
        pooled_output,
    }
}

/// The whole encoder on the CPU, built from the kernel references above (f64 sums, f32
/// between steps): the reference for end-to-end tests of models without goldens, such as
/// random bert-base-shaped weights. `ids`, `types`, `mask` are `batch·seq` each.
pub fn forward(
    c: &crate::BertConfig,
    w: &crate::BertWeights,
    ids: &[u32],
    types: &[u32],
    mask: &[u32],
    batch: usize,
    seq: usize,
) -> ReferenceOutput {
    let (h, inter, heads, dh) = (
        c.hidden_size,
        c.intermediate_size,
        c.num_attention_heads,
        c.head_dim(),
    );
    let m = batch * seq;
    let eps = c.layer_norm_eps;
    let act = c.activation().act();
    let no_positions = vec![0.0; c.max_position_embeddings * h];
    let tables = EmbeddingTables {
        word: &w.word_embeddings.data,
        position: w
            .position_embeddings
            .as_ref()
            .map_or(&no_positions[..], |p| &p.data[..]),
        token_type: &w.token_type_embeddings.data,
        gamma: &w.emb_ln_g.data,
        beta: &w.emb_ln_b.data,
    };
    let mut x = embeddings(ids, types, seq, h, &tables, eps);
    for l in &w.layers {
        // BERT's layer written out by hand (an independent check of the graph in `arch::bert`
        // and of `forward_graph`), over the fused QKV the weights hold.
        let t = |r: Role| l.get(r).data.as_slice();
        let qkv = gemm(
            &x,
            t(Role::QkvWeight),
            t(Role::QkvBias),
            m,
            3 * h,
            h,
            Act::Identity,
        );
        let ctx = attention(&qkv, mask, batch, seq, heads, dh);
        let dense = gemm(
            &ctx,
            t(Role::AttnOutWeight),
            t(Role::AttnOutBias),
            m,
            h,
            h,
            Act::Identity,
        );
        let attn = add_layernorm(
            &dense,
            &x,
            t(Role::AttnNormWeight),
            t(Role::AttnNormBias),
            h,
            eps,
        );
        let mid = gemm(
            &attn,
            t(Role::FfnInWeight),
            t(Role::FfnInBias),
            m,
            inter,
            h,
            act,
        );
        let out = gemm(
            &mid,
            t(Role::FfnOutWeight),
            t(Role::FfnOutBias),
            m,
            h,
            inter,
            Act::Identity,
        );
        x = add_layernorm(
            &out,
            &attn,
            t(Role::FfnNormWeight),
            t(Role::FfnNormBias),
            h,
            eps,
        );
    }
    output(x, w, batch, seq, h)
}

/// The encoder on the CPU from its architecture's graph (`crate::arch`): the same op list the
/// GPU plan records, each op by the kernel references above (f64 sums, f32 between ops). The
/// float reference of every architecture; for BERT, [`forward`] checks it independently.
pub fn forward_graph(
    c: &crate::BertConfig,
    w: &crate::BertWeights,
    ids: &[u32],
    types: &[u32],
    mask: &[u32],
    batch: usize,
    seq: usize,
) -> ReferenceOutput {
    use crate::arch::{Arch, Op, Slot};
    let (h, heads, dh) = (c.hidden_size, c.num_attention_heads, c.head_dim());
    let m = batch * seq;
    let eps = c.layer_norm_eps;
    let graph = Arch::of(c).graph(c);
    // Without a position table (rotary models) the embedding sum has no position term; the
    // offsets and RoBERTa's padding positions only matter with one.
    let zeros = vec![0.0; (c.max_position_embeddings + seq) * h];
    let tables = EmbeddingTables {
        word: &w.word_embeddings.data,
        position: w
            .position_embeddings
            .as_ref()
            .map_or(&zeros[..], |p| &p.data[..]),
        token_type: &w.token_type_embeddings.data,
        gamma: &w.emb_ln_g.data,
        beta: &w.emb_ln_b.data,
    };
    let relative = graph.relative_bias.map(|rb| {
        crate::arch::relative_bias_table(
            rb,
            w.relative_bias.as_ref().map(|t| &t.data[..]),
            heads,
            seq,
        )
    });
    let mut x = embeddings_at(ids, types, seq, h, &tables, eps, c);
    for (l, lw) in w.layers.iter().enumerate() {
        let mut slots: Vec<(Slot, Vec<f32>)> = vec![(Slot::Input, x)];
        let get = |slots: &Vec<(Slot, Vec<f32>)>, s: Slot| -> Vec<f32> {
            slots
                .iter()
                .find(|(k, _)| *k == s)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("layer graph reads {s:?} before writing it"))
        };
        let put = |slots: &mut Vec<(Slot, Vec<f32>)>, s: Slot, v: Vec<f32>| {
            slots.retain(|(k, _)| *k != s);
            slots.push((s, v));
        };
        for op in &graph.layers[l] {
            match op {
                Op::Linear {
                    x: a,
                    weight,
                    bias,
                    out,
                    n,
                    k,
                    act,
                    glu,
                    accumulate,
                    ..
                } => {
                    let (wt, bt) = (&lw.get(*weight).data, &lw.get(*bias).data);
                    let input = get(&slots, *a);
                    let mut y = if *glu {
                        gemm_glu(&input, wt, bt, m, *n, *k, *act)
                    } else {
                        gemm(&input, wt, bt, m, *n, *k, *act)
                    };
                    if *accumulate {
                        for (v, old) in y.iter_mut().zip(get(&slots, *out)) {
                            *v = (*v as f64 + old as f64) as f32;
                        }
                    }
                    put(&mut slots, *out, y);
                }
                Op::AddNorm {
                    x: a,
                    residual,
                    weight,
                    bias,
                    out,
                    sum,
                    ..
                } => {
                    let xa = get(&slots, *a);
                    let r = match residual {
                        Some(r) => get(&slots, *r),
                        None => vec![0.0; xa.len()],
                    };
                    let y =
                        add_layernorm(&xa, &r, &lw.get(*weight).data, &lw.get(*bias).data, h, eps);
                    if let Some(s) = sum {
                        let total = xa.iter().zip(&r).map(|(p, q)| p + q).collect();
                        put(&mut slots, *s, total);
                    }
                    put(&mut slots, *out, y);
                }
                Op::Rope { qkv, rotary, .. } => {
                    let y = rope(
                        &get(&slots, *qkv),
                        seq,
                        heads,
                        dh,
                        rotary.dims,
                        3 * h,
                        2,
                        rotary.base_for(seq),
                        rotary.pos_scale,
                    );
                    put(&mut slots, *qkv, y);
                }
                Op::Attention {
                    qkv,
                    out,
                    window,
                    relative: rel,
                    ..
                } => {
                    let table = relative.as_deref().filter(|_| *rel);
                    let y = attention_with(
                        &get(&slots, *qkv),
                        mask,
                        batch,
                        seq,
                        heads,
                        dh,
                        *window,
                        table,
                    );
                    put(&mut slots, *out, y);
                }
            }
        }
        x = get(&slots, Slot::Output);
    }
    if let (Some((g, b)), true) = (&w.final_norm, graph.final_norm) {
        x = add_layernorm(&x, &vec![0.0; x.len()], &g.data, &b.data, h, eps);
    }
    output(x, w, batch, seq, h)
}
