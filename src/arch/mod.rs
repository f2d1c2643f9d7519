//! The architecture seam. Each architecture is one file that states, once:
//!
//! - its **weights**: which Hugging Face tensors fill which [`Role`] (a [`WeightSpec`] per
//!   tensor; fused or interleaved where the kernels want it, zeros where the checkpoint has no
//!   bias), and
//! - its **layer graph**: the [`Op`]s of one encoder layer over named intermediates
//!   ([`Slot`]s), plus what comes before the layers ([`Graph`]: absolute positions or rotary).
//!
//! Two back ends run a graph without knowing any architecture: the GPU plan
//! (`model::Plan`, one recorded dispatch per op) and the CPU reference
//! ([`crate::reference::forward_graph`], f64 sums). So every architecture gets its float
//! reference from the same description; the hand-written BERT reference
//! ([`crate::reference::forward`]) stays as an independent check of the seam itself.

pub mod bert;
pub mod gte;
pub mod jina;
pub mod modernbert;
pub mod mpnet;
pub mod nomic;

use crate::config::{BertConfig, Family};
use crate::kernels::Act;

/// What a layer tensor is for. Roles are the contract between an architecture's weight list
/// and its graph; the back ends look tensors up by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Fused query, key and value projection `[3H, H]`.
    QkvWeight,
    /// Its bias `[3H]`.
    QkvBias,
    /// Attention output projection `[H, H]`.
    AttnOutWeight,
    /// Its bias `[H]`.
    AttnOutBias,
    /// The attention block's LayerNorm (after it in post-norm layers, before it in pre-norm
    /// ones): gamma `[H]`.
    AttnNormWeight,
    /// Its beta `[H]`.
    AttnNormBias,
    /// Feed-forward input projection `[I, H]` (gated: `[2I, H]` in gate/linear pairs).
    FfnInWeight,
    /// Its bias.
    FfnInBias,
    /// Feed-forward output projection `[H, I]`.
    FfnOutWeight,
    /// Its bias `[H]`.
    FfnOutBias,
    /// The feed-forward block's LayerNorm (after or before it, likewise): gamma `[H]`.
    FfnNormWeight,
    /// Its beta `[H]`.
    FfnNormBias,
}

/// Where a role's tensor comes from in the checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// One tensor, by its (normalised) name.
    Tensor(String),
    /// Tensors concatenated along their first axis (separate Q, K, V into one projection).
    Concat(Vec<String>),
    /// Rows `[start, start + rows)` of one tensor (a half of a fused up/gate projection).
    Rows(String, usize, usize),
    /// A gate and a linear projection interleaved row by row (`kernels::glu_pairs`), for the
    /// gated GEMM epilogue.
    GluPairs(Box<Source>, Box<Source>),
    /// Zeros: the bias of a linear layer or LayerNorm the checkpoint was trained without.
    Zeros,
}

impl Source {
    /// Separate Q, K and V projections fused into one: `{prefix}{name}{suffix}` for each of
    /// `names`, concatenated in that order.
    pub fn qkv(prefix: &str, names: [&str; 3], suffix: &str) -> Source {
        Source::Concat(
            names
                .iter()
                .map(|n| format!("{prefix}{n}{suffix}"))
                .collect(),
        )
    }

    /// Every checkpoint tensor it reads.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Source::Tensor(n) | Source::Rows(n, _, _) => vec![n.as_str()],
            Source::Concat(ns) => ns.iter().map(String::as_str).collect(),
            Source::GluPairs(g, l) => {
                let mut v = g.names();
                v.extend(l.names());
                v
            }
            Source::Zeros => Vec::new(),
        }
    }

    /// A label for buffers and messages: the tensor's name, or the names it joins.
    pub fn label(&self) -> String {
        match self {
            Source::Zeros => "(zeros)".into(),
            s => s.names().join("+"),
        }
    }
}

/// One tensor of a layer: its role, where it comes from and its shape after assembly.
#[derive(Clone, Debug)]
pub struct WeightSpec {
    /// What it is for.
    pub role: Role,
    /// Where it comes from.
    pub source: Source,
    /// Its shape once assembled (`[3H, H]` for a fused QKV).
    pub shape: Vec<usize>,
}

impl WeightSpec {
    /// A spec of `role` from `source` with `shape`.
    pub fn new(role: Role, source: Source, shape: &[usize]) -> Self {
        WeightSpec {
            role,
            source,
            shape: shape.to_vec(),
        }
    }
}

/// The tensors outside the layers (normalised names).
#[derive(Clone, Debug)]
pub struct ModelNames {
    /// The word table `[vocab, H]`.
    pub word: String,
    /// The absolute position table `[max_positions, H]`; `None` for rotary models.
    pub position: Option<String>,
    /// The token-type table `[type_vocab, H]`; `None` where the model has none (one zero row).
    pub token_type: Option<String>,
    /// The embedding LayerNorm's gamma and beta `[H]`.
    pub norm: (Source, Source),
    /// A LayerNorm after the last layer (pre-norm models), gamma and beta.
    pub final_norm: Option<(Source, Source)>,
    /// The learned `[num_buckets, heads]` relative attention bias (MPNet).
    pub relative_bias: Option<String>,
}

impl ModelNames {
    /// BERT's names (`embeddings.word_embeddings`, `embeddings.position_embeddings`,
    /// `embeddings.token_type_embeddings`, `embeddings.LayerNorm`), with or without the
    /// position and token-type tables; no final norm, no relative bias.
    pub fn bert(position: bool, token_type: bool) -> Self {
        let t = |n: &str| format!("embeddings.{n}");
        ModelNames {
            word: t("word_embeddings.weight"),
            position: position.then(|| t("position_embeddings.weight")),
            token_type: token_type.then(|| t("token_type_embeddings.weight")),
            norm: (
                Source::Tensor(t("LayerNorm.weight")),
                Source::Tensor(t("LayerNorm.bias")),
            ),
            final_norm: None,
            relative_bias: None,
        }
    }
}

/// An intermediate of one layer: the plan gives each slot a buffer as wide as the widest op
/// output written to it; `Input` is the layer's input, `Output` its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// The layer's input (the embeddings or the previous layer's output).
    Input,
    /// Fused Q, K, V rows `[B·S, 3H]`.
    Qkv,
    /// Attention context `[B·S, H]`.
    Context,
    /// A projection before its residual LayerNorm `[B·S, H]`.
    Proj,
    /// A LayerNorm's output feeding a block (pre-norm layers) `[B·S, H]`.
    Normed,
    /// The attention block's output `[B·S, H]`.
    Attn,
    /// The feed-forward block's inner activations `[B·S, I]`.
    Ffn,
    /// The layer's output.
    Output,
}

/// One step of a layer. Widths are in values per token row.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `out ← act(x · Wᵀ + b)`, `n` outputs from `k` inputs; with `glu`, W holds `n` rows in
    /// (gate, linear) pairs and `out` gets `n / 2` values: act(gate) · linear; with
    /// `accumulate`, `out += …` (a residual added in place).
    Linear {
        /// Label of its dispatch (after `layer{l}.`).
        name: &'static str,
        /// Input.
        x: Slot,
        /// Weight role.
        weight: Role,
        /// Bias role.
        bias: Role,
        /// Output.
        out: Slot,
        /// Rows of W.
        n: usize,
        /// Columns of W.
        k: usize,
        /// Activation (of the gate, with `glu`).
        act: Act,
        /// Gated linear unit epilogue.
        glu: bool,
        /// Add to what `out` holds.
        accumulate: bool,
    },
    /// `out ← LayerNorm(x + residual)` over H values (`residual` `None`: LayerNorm(x)); with
    /// `sum`, x + residual is written there too (pre-norm: the residual stream).
    AddNorm {
        /// Label of its dispatch.
        name: &'static str,
        /// The new values.
        x: Slot,
        /// The residual stream.
        residual: Option<Slot>,
        /// Gamma role.
        weight: Role,
        /// Beta role.
        bias: Role,
        /// Output.
        out: Slot,
        /// Where x + residual goes, if kept.
        sum: Option<Slot>,
    },
    /// Rotary position embeddings in place on the query and key blocks of fused QKV rows.
    Rope {
        /// Label of its dispatch.
        name: &'static str,
        /// The fused QKV rows.
        qkv: Slot,
        /// Its dims and base.
        rotary: Rotary,
    },
    /// `out ← softmax(Q·Kᵀ/√D + mask)·V` per head, from fused QKV rows; `window` > 0 limits
    /// query i to keys j with |i − j| ≤ `window` (sliding-window local attention).
    Attention {
        /// Label of its dispatch.
        name: &'static str,
        /// The fused QKV rows.
        qkv: Slot,
        /// Output.
        out: Slot,
        /// Sliding window half-width, 0 for global attention.
        window: usize,
        /// Add the graph's relative bias (`Graph::relative_bias`) to the scores.
        relative: bool,
    },
}

/// A bias on attention scores that depends only on the key's offset from the query (j − i)
/// and the head: computed once per plan as a `[heads, 2S − 1]` table every layer shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RelativeBias {
    /// MPNet / T5 bidirectional buckets: the bias is row `bucket(j − i)` of a learned
    /// `[num_buckets, heads]` table (`ModelNames::relative_bias`).
    Buckets {
        /// Buckets (half for each direction).
        num_buckets: usize,
        /// Offsets from which the bucket is the last one.
        max_distance: usize,
    },
    /// ALiBi (JinaBERT, bidirectional): −slope(h) · |j − i|, the slopes of the ALiBi paper.
    Alibi,
}

/// MPNet's (T5's bidirectional) bucket of a relative position j − i, as transformers
/// computes it (the logarithm in f32).
pub fn relative_position_bucket(relative: i64, num_buckets: usize, max_distance: usize) -> usize {
    let half = (num_buckets / 2) as i64;
    let n = -relative;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln()
            / ((max_distance as f64 / max_exact as f64).ln() as f32);
        let large = max_exact + (ratio * (half - max_exact) as f32) as i64;
        ret += large.min(half - 1);
    }
    ret as usize
}

/// The ALiBi slopes of `heads` heads (the paper's: a geometric sequence from 2^(−8/n) for the
/// closest power of two n, the rest interleaved from the next power of two).
pub fn alibi_slopes(heads: usize) -> Vec<f64> {
    fn power_of_two(n: usize) -> Vec<f64> {
        let start = 2f64.powf(-(2f64.powf(-((n as f64).log2() - 3.0))));
        (0..n).map(|i| start * start.powi(i as i32)).collect()
    }
    if heads.is_power_of_two() {
        return power_of_two(heads);
    }
    let closest = 1usize << (usize::BITS - 1 - heads.leading_zeros());
    let mut v = power_of_two(closest);
    let extra = power_of_two(2 * closest);
    v.extend(extra.iter().step_by(2).take(heads - closest));
    v
}

/// The `[heads, 2S − 1]` table of a relative bias for sequences of `seq` (entry
/// `h·(2S − 1) + d + S − 1` for d = j − i); `weights` is the `[num_buckets, heads]` table of
/// bucketed biases.
pub fn relative_bias_table(
    bias: RelativeBias,
    weights: Option<&[f32]>,
    heads: usize,
    seq: usize,
) -> Vec<f32> {
    let width = 2 * seq - 1;
    let mut t = vec![0f32; heads * width];
    let slopes = match bias {
        RelativeBias::Alibi => alibi_slopes(heads),
        RelativeBias::Buckets { .. } => Vec::new(),
    };
    for h in 0..heads {
        for (k, v) in t[h * width..(h + 1) * width].iter_mut().enumerate() {
            let d = k as i64 - (seq as i64 - 1);
            *v = match bias {
                RelativeBias::Buckets {
                    num_buckets,
                    max_distance,
                } => {
                    let b = relative_position_bucket(d, num_buckets, max_distance);
                    weights.map_or(0.0, |w| w[b * heads + h])
                }
                // JinaBERT builds the slopes as an f32 tensor and multiplies in f32.
                RelativeBias::Alibi => -(slopes[h] as f32) * d.abs() as f32,
            };
        }
    }
    t
}

impl Op {
    /// The slots it writes and the width it writes there.
    pub fn outputs(&self, hidden: usize) -> Vec<(Slot, usize)> {
        match self {
            Op::Linear { out, n, glu, .. } => vec![(*out, if *glu { n / 2 } else { *n })],
            Op::AddNorm { out, sum, .. } => {
                let mut v = vec![(*out, hidden)];
                v.extend(sum.map(|s| (s, hidden)));
                v
            }
            Op::Attention { out, .. } => vec![(*out, hidden)],
            Op::Rope { qkv, .. } => vec![(*qkv, 3 * hidden)],
        }
    }
}

/// Rotary position embeddings (Hugging Face's half-split `rotate_half` layout).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rotary {
    /// Leading values of each head that rotate (even).
    pub dims: usize,
    /// The base (theta).
    pub base: f64,
    /// Dynamic NTK scaling (NomicBERT's `rotary_scaling_factor`): (factor, trained length);
    /// inputs longer than the trained length rotate with a larger base.
    pub ntk: Option<(f64, usize)>,
    /// Positions are divided by it (1: none; GTE's fixed NTK scaling divides every frequency
    /// by factor^(2/D)).
    pub pos_scale: f64,
}

impl Rotary {
    /// The base for sequences padded to `seq` positions: the base itself, or the dynamic NTK
    /// base `base · (factor·seq/trained − (factor − 1))^(dims/(dims − 2))` past the trained length.
    pub fn base_for(&self, seq: usize) -> f64 {
        match self.ntk {
            Some((factor, trained)) if seq > trained && self.dims > 2 => {
                let d = self.dims as f64;
                self.base
                    * (factor * seq as f64 / trained as f64 - (factor - 1.0)).powf(d / (d - 2.0))
            }
            _ => self.base,
        }
    }
}

/// An architecture's whole encoder graph.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Whether the embeddings add an absolute position table (else positions are rotary).
    pub positions: bool,
    /// The ops of each layer, in order (layers may differ: global and local attention).
    pub layers: Vec<Vec<Op>>,
    /// A LayerNorm after the last layer (`ModelNames::final_norm`).
    pub final_norm: bool,
    /// The relative bias the `relative` attention ops add.
    pub relative_bias: Option<RelativeBias>,
}

impl Graph {
    /// The widest value each slot holds, for buffer allocation (`Input`/`Output` excluded).
    pub fn slot_widths(&self, hidden: usize) -> Vec<(Slot, usize)> {
        let mut widths: Vec<(Slot, usize)> = Vec::new();
        for (slot, w) in self
            .layers
            .iter()
            .flatten()
            .flat_map(|op| op.outputs(hidden))
        {
            if matches!(slot, Slot::Input | Slot::Output) {
                continue;
            }
            match widths.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, cur)) => *cur = (*cur).max(w),
                None => widths.push((slot, w)),
            }
        }
        widths
    }

    /// The distinct rotary embeddings the layers use (one cos/sin table each).
    pub fn rotaries(&self) -> Vec<Rotary> {
        let mut v: Vec<Rotary> = Vec::new();
        for op in self.layers.iter().flatten() {
            if let Op::Rope { rotary, .. } = op
                && !v.contains(rotary)
            {
                v.push(*rotary);
            }
        }
        v
    }
}

/// An architecture wgbert runs: one file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// BERT, RoBERTa, XLM-R, CamemBERT, DistilBERT (`bert.rs`).
    Bert,
    /// NomicBERT (`nomic.rs`).
    Nomic,
    /// ModernBERT (`modernbert.rs`).
    ModernBert,
    /// MPNet (`mpnet.rs`).
    MpNet,
    /// GTE's "new" encoder (`gte.rs`).
    Gte,
    /// JinaBERT v2 (`jina.rs`).
    Jina,
}

impl Arch {
    /// The architecture of a validated config.
    pub fn of(c: &BertConfig) -> Arch {
        match c.family() {
            Some(Family::Nomic) => Arch::Nomic,
            Some(Family::ModernBert) => Arch::ModernBert,
            Some(Family::MpNet) => Arch::MpNet,
            Some(Family::Gte) => Arch::Gte,
            Some(Family::Jina) => Arch::Jina,
            _ => Arch::Bert,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Bert => "BERT",
            Arch::Nomic => "NomicBERT",
            Arch::ModernBert => "ModernBERT",
            Arch::MpNet => "MPNet",
            Arch::Gte => "GTE (new)",
            Arch::Jina => "JinaBERT",
        }
    }

    /// The names of the tensors outside the layers.
    pub fn names(self, c: &BertConfig) -> ModelNames {
        match self {
            Arch::Bert => bert::names(c),
            Arch::Nomic => nomic::names(c),
            Arch::ModernBert => modernbert::names(c),
            Arch::MpNet => mpnet::names(c),
            Arch::Gte => gte::names(c),
            Arch::Jina => jina::names(c),
        }
    }

    /// Layer `l`'s tensors.
    pub fn layer_weights(self, c: &BertConfig, l: usize) -> Vec<WeightSpec> {
        match self {
            Arch::Bert => bert::layer_weights(c, l),
            Arch::Nomic => nomic::layer_weights(c, l),
            Arch::ModernBert => modernbert::layer_weights(c, l),
            Arch::MpNet => mpnet::layer_weights(c, l),
            Arch::Gte => gte::layer_weights(c, l),
            Arch::Jina => jina::layer_weights(c, l),
        }
    }

    /// The encoder graph.
    pub fn graph(self, c: &BertConfig) -> Graph {
        match self {
            Arch::Bert => bert::graph(c),
            Arch::Nomic => nomic::graph(c),
            Arch::ModernBert => modernbert::graph(c),
            Arch::MpNet => mpnet::graph(c),
            Arch::Gte => gte::graph(c),
            Arch::Jina => jina::graph(c),
        }
    }
}

impl Arch {
    /// Whether the task heads wgbert runs (classification, masked-word, next-sentence) are
    /// read for it: BERT's names only; other architectures' heads differ and are not run.
    pub fn reads_bert_heads(self) -> bool {
        self == Arch::Bert
    }
}
