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
    /// LayerNorm after the attention block: gamma `[H]`.
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
    /// LayerNorm after the feed-forward block: gamma `[H]`.
    OutNormWeight,
    /// Its beta `[H]`.
    OutNormBias,
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

/// Names of the embedding tensors (normalised names).
#[derive(Clone, Debug)]
pub struct EmbeddingNames {
    /// The word table `[vocab, H]`.
    pub word: String,
    /// The absolute position table `[max_positions, H]`; `None` for rotary models.
    pub position: Option<String>,
    /// The token-type table `[type_vocab, H]`; `None` where the model has none (one zero row).
    pub token_type: Option<String>,
    /// The embedding LayerNorm's gamma and beta.
    pub norm: (String, String),
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
    /// (gate, linear) pairs and `out` gets `n / 2` values: act(gate) · linear.
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
    },
    /// `out ← LayerNorm(x + residual)` over H values.
    AddNorm {
        /// Label of its dispatch.
        name: &'static str,
        /// The new values.
        x: Slot,
        /// The residual stream.
        residual: Slot,
        /// Gamma role.
        weight: Role,
        /// Beta role.
        bias: Role,
        /// Output.
        out: Slot,
    },
    /// Rotary position embeddings in place on the query and key blocks of fused QKV rows
    /// (the graph's [`Rotary`]).
    Rope {
        /// Label of its dispatch.
        name: &'static str,
        /// The fused QKV rows.
        qkv: Slot,
    },
    /// `out ← softmax(Q·Kᵀ/√D + mask)·V` per head, from fused QKV rows.
    Attention {
        /// Label of its dispatch.
        name: &'static str,
        /// The fused QKV rows.
        qkv: Slot,
        /// Output.
        out: Slot,
    },
}

impl Op {
    /// The slot it writes and the width it writes there.
    pub fn output(&self, hidden: usize) -> (Slot, usize) {
        match self {
            Op::Linear { out, n, glu, .. } => (*out, if *glu { n / 2 } else { *n }),
            Op::AddNorm { out, .. } | Op::Attention { out, .. } => (*out, hidden),
            Op::Rope { qkv, .. } => (*qkv, 3 * hidden),
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
    /// Rotary embeddings (then the embeddings add no positions), or absolute positions.
    pub rotary: Option<Rotary>,
    /// The ops of every layer, in order.
    pub layer: Vec<Op>,
}

impl Graph {
    /// The widest value each slot holds, for buffer allocation (`Input`/`Output` excluded).
    pub fn slot_widths(&self, hidden: usize) -> Vec<(Slot, usize)> {
        let mut widths: Vec<(Slot, usize)> = Vec::new();
        for op in &self.layer {
            let (slot, w) = op.output(hidden);
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
}

/// An architecture wgbert runs: one file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// BERT, RoBERTa, XLM-R, CamemBERT, DistilBERT (`bert.rs`).
    Bert,
    /// NomicBERT (`nomic.rs`).
    Nomic,
}

impl Arch {
    /// The architecture of a validated config.
    pub fn of(c: &BertConfig) -> Arch {
        match c.family() {
            Some(Family::Nomic) => Arch::Nomic,
            _ => Arch::Bert,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Bert => "BERT",
            Arch::Nomic => "NomicBERT",
        }
    }

    /// The embedding tensors' names.
    pub fn embeddings(self, c: &BertConfig) -> EmbeddingNames {
        match self {
            Arch::Bert => bert::embeddings(c),
            Arch::Nomic => nomic::embeddings(c),
        }
    }

    /// Layer `l`'s tensors.
    pub fn layer_weights(self, c: &BertConfig, l: usize) -> Vec<WeightSpec> {
        match self {
            Arch::Bert => bert::layer_weights(c, l),
            Arch::Nomic => nomic::layer_weights(c, l),
        }
    }

    /// The encoder graph.
    pub fn graph(self, c: &BertConfig) -> Graph {
        match self {
            Arch::Bert => bert::graph(c),
            Arch::Nomic => nomic::graph(c),
        }
    }
}
