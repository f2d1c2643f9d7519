//! The WGSL kernels: sources (one file each in `shaders/`), their parameter structs, bind-group
//! layouts, a pipeline cache, and `Dispatch`, one recorded kernel call.

use crate::error::Result;
use crate::gpu::GpuContext;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Storage precision of weights and activations. Arithmetic, accumulation and statistics are
/// f32 in both; f16 halves memory and bandwidth and needs the adapter's SHADER_F16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// 32-bit floats everywhere.
    #[default]
    F32,
    /// 16-bit float storage, f32 arithmetic.
    F16,
}

impl Precision {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }

    /// `f32` or `f16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    /// Parses [`Precision::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Precision::F32),
            "f16" => Some(Precision::F16),
            _ => None,
        }
    }

    /// The WGSL line that defines the storage type `st`.
    fn alias(self) -> &'static str {
        match self {
            Precision::F32 => "alias st = f32;\n",
            Precision::F16 => "alias st = f16;\n",
        }
    }
}

/// How the row kernels (embeddings, add + LayerNorm, pooling) sum across a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// A tree over workgroup memory (`common/reduce.wgsl`): every adapter.
    #[default]
    Tree,
    /// Subgroup sums, then the partials (`common/reduce_subgroup.wgsl`): adapters with SUBGROUP.
    Subgroup,
}

impl Reduction {
    /// `tree` or `subgroup`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Tree => "tree",
            Reduction::Subgroup => "subgroup",
        }
    }

    /// Parses [`Reduction::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        [Reduction::Tree, Reduction::Subgroup]
            .into_iter()
            .find(|r| r.name() == s)
    }

    /// Whether `ctx` can run it.
    pub fn runs_on(self, ctx: &GpuContext) -> bool {
        self == Reduction::Tree || ctx.has(wgpu::Features::SUBGROUP)
    }
}

/// The activation a GEMM epilogue or the `gelu` kernel applies. Its value is the shaders'
/// `ACT` (a uniform in the GEMMs, a pipeline constant in `gelu`), and the shaders see each
/// value by name: `ACT_IDENTITY`, `ACT_GELU_ERF`, … ([`wgsl_constants`], prepended to every
/// kernel that activates).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    /// No activation.
    Identity = 0,
    /// Exact GELU, `0.5·x·(1 + erf(x/√2))`.
    GeluErf = 1,
    /// tanh-approximated GELU.
    GeluTanh = 2,
    /// tanh (BERT's pooler).
    Tanh = 3,
    /// ReLU.
    Relu = 4,
    /// SiLU, `x·σ(x)` (SwiGLU's gate).
    Silu = 5,
    /// The logistic sigmoid σ(x) (GLU's gate).
    Sigmoid = 6,
}

impl Act {
    /// Every activation, in value order.
    pub const ALL: [Act; 7] = [
        Act::Identity,
        Act::GeluErf,
        Act::GeluTanh,
        Act::Tanh,
        Act::Relu,
        Act::Silu,
        Act::Sigmoid,
    ];

    /// The shaders' name for it.
    pub fn wgsl_name(self) -> &'static str {
        match self {
            Act::Identity => "ACT_IDENTITY",
            Act::GeluErf => "ACT_GELU_ERF",
            Act::GeluTanh => "ACT_GELU_TANH",
            Act::Tanh => "ACT_TANH",
            Act::Relu => "ACT_RELU",
            Act::Silu => "ACT_SILU",
            Act::Sigmoid => "ACT_SIGMOID",
        }
    }
}

/// How `pooling.wgsl` pools a sequence: its `MODE` pipeline constant, seen by the shader by
/// name (`POOL_MEAN`, …; [`wgsl_constants`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolMode {
    /// Masked mean over real tokens.
    Mean = 0,
    /// Masked max over real tokens.
    Max = 1,
    /// The row at `[CLS]` (the first).
    Cls = 2,
    /// Masked sum divided by √(number of real tokens).
    MeanSqrtLen = 3,
}

impl PoolMode {
    /// Every mode, in value order.
    pub const ALL: [PoolMode; 4] = [
        PoolMode::Mean,
        PoolMode::Max,
        PoolMode::Cls,
        PoolMode::MeanSqrtLen,
    ];

    /// The shader's name for it.
    pub fn wgsl_name(self) -> &'static str {
        match self {
            PoolMode::Mean => "POOL_MEAN",
            PoolMode::Max => "POOL_MAX",
            PoolMode::Cls => "POOL_CLS",
            PoolMode::MeanSqrtLen => "POOL_MEAN_SQRT_LEN",
        }
    }
}

/// How `splade.wgsl` pools a sequence's token weights over positions: its `MODE` pipeline
/// constant (sentence-transformers' SpladePooling `pooling_strategy`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpladePool {
    /// The largest weight over real tokens (SPLADE v2 and later).
    Max = 0,
    /// The sum over real tokens (the first SPLADE).
    Sum = 1,
}

impl SpladePool {
    /// Every mode, in value order.
    pub const ALL: [SpladePool; 2] = [SpladePool::Max, SpladePool::Sum];

    /// The shader's name for it.
    pub fn wgsl_name(self) -> &'static str {
        match self {
            SpladePool::Max => "SPLADE_MAX",
            SpladePool::Sum => "SPLADE_SUM",
        }
    }
}

/// The WGSL `const` lines that name every [`Act`], [`PoolMode`] and [`SpladePool`] value, so
/// that the shaders and Rust share one set of numbers.
pub fn wgsl_constants() -> String {
    let acts = Act::ALL.map(|a| (a.wgsl_name(), a as u32));
    let modes = PoolMode::ALL.map(|m| (m.wgsl_name(), m as u32));
    let splade = SpladePool::ALL.map(|m| (m.wgsl_name(), m as u32));
    acts.iter()
        .chain(modes.iter())
        .chain(splade.iter())
        .map(|(n, v)| format!("const {n}: u32 = {v}u;\n"))
        .collect()
}

/// Every compute kernel wgbert has, each declared once in [`Kernel::spec`]'s table. One name
/// per thing: `Kernel::AddLayerNorm` ↔ `add_layernorm` ↔ `shaders/add_layernorm.wgsl` ↔
/// `AddLayerNormParams`; a GEMM kernel is named after the [`GemmVariant`] it implements
/// (`Kernel::GemmTile64` ↔ `gemm_tile64` ↔ `shaders/gemm_tile64.wgsl` ↔ `tile64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Word + position + token-type gather, sum, LayerNorm.
    Embeddings,
    /// `tile128`: 128×128 tiles, 8×8 per invocation, scalar loads (any K).
    GemmTile128,
    /// `tile64`: 64×64 tiles, 4×4 per invocation.
    GemmTile64,
    /// `tile128v4`: `tile128` with vec4 loads along K (K % 4 == 0).
    GemmTile128V4,
    /// `tile32x64` at K % 4 ≠ 0: 32×64 tiles (32 invocations), scalar loads; also the scalar
    /// fallback of the small-M variants.
    GemmTile32x64Scalar,
    /// `tile32x64`: 32×64 tiles with vec4 loads (small M).
    GemmTile32x64,
    /// `tile128b16`: `tile128v4`'s tiles with a 16×16 block per invocation (64 invocations):
    /// half the workgroup-memory reads per multiply-add (CPU Vulkan drivers).
    GemmTile128B16,
    /// `direct4x4`: no workgroup memory, 4×4 of C per invocation (K % 4 == 0).
    GemmDirect4x4,
    /// `direct16x2`: no workgroup memory, 16 rows × 2 columns of C per invocation, every load
    /// of A uniform across the workgroup (K % 4 == 0; CPU Vulkan drivers).
    GemmDirect16x2,
    /// Fused multi-head attention with padding mask and online softmax.
    Attention,
    /// Residual add + LayerNorm.
    AddLayerNorm,
    /// Elementwise activation (GELU).
    Gelu,
    /// Mean / max / CLS pooling with optional L2 normalisation.
    Pooling,
    /// `coop8`: the GEMM on cooperative matrices (tensor cores), 8×8×8 fragments.
    GemmCoop8,
    /// `coop16`: the GEMM on cooperative matrices, 16×16×16 fragments.
    GemmCoop16,
    /// Attention with QKᵀ and P·V on cooperative matrices, 8×8×8 fragments (head_dim ≤ 64).
    AttentionCoop8,
    /// Attention on cooperative matrices, 16×16×16 fragments (head_dim ≤ 64).
    AttentionCoop16,
    /// Copies the word-table rows of one piece of a table split across bindings (one too large
    /// for a single storage binding) into a `[tokens, H]` buffer the embeddings kernel reads.
    GatherRows,
    /// SPLADE: log(1 + relu(logit)) of a chunk of masked-word logits, max or sum over each
    /// sequence's real tokens, folded into a `[B, V]` sparse-vector buffer.
    Splade,
    /// Rotary position embeddings (`rotate_half` layout) in place on the query and key blocks of
    /// token rows, from a host-computed cos/sin table.
    Rope,
}

/// How a binding is used by a kernel (binding 0 is always the uniform `params`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

use Access::{Read, ReadWrite};

const ACTIVATIONS: &str = include_str!("../shaders/common/activations.wgsl");
const REDUCE: &str = include_str!("../shaders/common/reduce.wgsl");
const REDUCE_SUBGROUP: &str = include_str!("../shaders/common/reduce_subgroup.wgsl");
const GEMM_BLOCKED: &str = include_str!("../shaders/common/gemm_blocked.wgsl");
const GEMM_BLOCKED16: &str = include_str!("../shaders/common/gemm_blocked16.wgsl");
const GEMM_STORE: &str = include_str!("../shaders/common/gemm_store.wgsl");
const ATTENTION_IO: &str = include_str!("../shaders/common/attention_io.wgsl");

/// Workgroup memory of `gemm_coop.wgsl`: two f16 tiles of 64 × 32 and the f32 64 × 64 block
/// with one 16 × 16 scratch fragment.
const COOP_GEMM_WORKGROUP_BYTES: u32 = 2 * 2048 * 2 + 4352 * 4;

/// Workgroup memory of `attention_coop.wgsl`: Q, K, V (f16, 32 × 64 each), S (f32, 32 × 32 and
/// a scratch fragment), P (f16, 32 × 32), O (f32, 32 × 64 and a scratch fragment), 3 × 32 f32.
const COOP_ATTENTION_WORKGROUP_BYTES: u32 = 3 * 2048 * 2 + 1280 * 4 + 1024 * 2 + 2304 * 4 + 96 * 4;

/// Largest head dimension `attention_coop.wgsl` takes.
pub const COOP_ATTENTION_MAX_HEAD_DIM: usize = 64;

/// The WGSL lines that name the cooperative-matrix fragment types of edge `n` (8 or 16):
/// `frag_a`, `frag_b` (f16 inputs), `frag_c` (f32 accumulator), and `F`.
fn coop_prelude(n: u32) -> String {
    format!(
        "enable wgpu_cooperative_matrix;\n\
         const F: u32 = {n}u;\n\
         alias frag_a = coop_mat{n}x{n}<f16, A>;\n\
         alias frag_b = coop_mat{n}x{n}<f16, B>;\n\
         alias frag_c = coop_mat{n}x{n}<f32, C>;\n"
    )
}

/// What a kernel's source starts with, after the storage type: shared WGSL it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prelude {
    /// Nothing.
    None,
    /// `common/activations.wgsl` (the GEMMs' epilogue, `gelu`).
    Activations,
    /// The workgroup sums of the row kernels: `common/reduce.wgsl`, or
    /// `common/reduce_subgroup.wgsl` with [`Reduction::Subgroup`].
    Reduction,
    /// `common/attention_io.wgsl`.
    AttentionIo,
}

/// Who compiles the WGSL text. The specification (and a browser's compiler, e.g. Chrome's Tint)
/// wants `enable subgroups;` before subgroup built-ins; naga (wgpu on Vulkan, Metal and DX12)
/// takes the built-ins without it and refuses the `enable`. The text is otherwise the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// naga: wgpu's native back ends.
    Naga,
    /// A browser's WebGPU, which receives the text as written.
    Browser,
}

impl Dialect {
    /// The compiler of this build's target: the browser's on wasm32, naga elsewhere.
    pub const HOST: Dialect = if cfg!(target_arch = "wasm32") {
        Dialect::Browser
    } else {
        Dialect::Naga
    };
}

/// A kernel's use of cooperative matrices: the fragment edge, the subgroups of its workgroup
/// (one sub-tile each) and its workgroup memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoopNeeds {
    /// Fragment edge (8 or 16), f16 inputs, f32 accumulation.
    pub size: u32,
    /// Subgroups per workgroup.
    pub subgroups: u32,
    /// Bytes of workgroup memory.
    pub workgroup_bytes: u32,
}

/// One kernel, declared once: everything the engine needs to build, bind and check it.
#[derive(Clone, Copy, Debug)]
pub struct KernelSpec {
    /// Its name: wgpu labels, shader variants (`wgbert shaders`), profiles.
    pub name: &'static str,
    /// Its file in `shaders/` (without `.wgsl`); GEMM variants that share a loading scheme
    /// share a file with other tile constants.
    pub file: &'static str,
    /// The file's text.
    source: &'static str,
    /// Shared WGSL before the file.
    pub prelude: Prelude,
    /// WGSL after the file: tile constants and the shared GEMM body and epilogue.
    epilogue: &'static [&'static str],
    /// Storage bindings 1.. in order (binding 0 is the uniform parameters).
    pub bindings: &'static [Access],
    /// Size in bytes of its `Params` struct.
    pub params_size: usize,
    /// The pipeline-overridable constant that selects a variant, and its values.
    pub variant: Option<(&'static str, &'static [u32])>,
    /// Whether it is a GEMM ([`GemmParams`], bindings `[a, w, bias, c]`).
    pub gemm: bool,
    /// Rows and columns of C one workgroup computes (GEMMs; `(0, 0)` for the others).
    pub tile: (usize, usize),
    /// Cooperative matrices it needs, if any.
    pub coop: Option<CoopNeeds>,
}

const GEMM_BINDINGS: &[Access] = &[Read, Read, Read, ReadWrite];
const TILE128: &str = "const BM: u32 = 128u;\nconst BN: u32 = 128u;\nconst BK: u32 = 16u;\nconst THREADS: u32 = 256u;";
const TILE32X64: &str =
    "const BM: u32 = 32u;\nconst BN: u32 = 64u;\nconst BK: u32 = 16u;\nconst THREADS: u32 = 32u;";
const TILE128B16: &str =
    "const BM: u32 = 128u;\nconst BN: u32 = 128u;\nconst BK: u32 = 16u;\nconst THREADS: u32 = 64u;";

/// A GEMM kernel: `file` (its text), then `epilogue`; `tile` rows × columns of C per workgroup.
const fn gemm_spec(
    name: &'static str,
    file: &'static str,
    source: &'static str,
    epilogue: &'static [&'static str],
    tile: (usize, usize),
    coop: Option<CoopNeeds>,
) -> KernelSpec {
    KernelSpec {
        name,
        file,
        source,
        prelude: Prelude::Activations,
        epilogue,
        bindings: GEMM_BINDINGS,
        params_size: std::mem::size_of::<GemmParams>(),
        variant: None,
        gemm: true,
        tile,
        coop,
    }
}

/// A kernel that is not a GEMM and has no epilogue.
const fn plain_spec(
    name: &'static str,
    source: &'static str,
    prelude: Prelude,
    bindings: &'static [Access],
    params_size: usize,
    variant: Option<(&'static str, &'static [u32])>,
    coop: Option<CoopNeeds>,
) -> KernelSpec {
    KernelSpec {
        name,
        file: name,
        source,
        prelude,
        epilogue: &[],
        bindings,
        params_size,
        variant,
        gemm: false,
        tile: (0, 0),
        coop,
    }
}

const fn coop_gemm(size: u32) -> Option<CoopNeeds> {
    let per_edge = 64 / (2 * size);
    Some(CoopNeeds {
        size,
        subgroups: per_edge * per_edge,
        workgroup_bytes: COOP_GEMM_WORKGROUP_BYTES,
    })
}

const fn coop_attention(size: u32) -> Option<CoopNeeds> {
    Some(CoopNeeds {
        size,
        subgroups: 4,
        workgroup_bytes: COOP_ATTENTION_WORKGROUP_BYTES,
    })
}

/// The kernel table, in [`Kernel::ALL`]'s order (checked when compiling).
const KERNELS: [KernelSpec; 20] = {
    use std::mem::size_of;
    const GEMM: &str = include_str!("../shaders/gemm.wgsl");
    const GEMM_VEC4: &str = include_str!("../shaders/gemm_vec4.wgsl");
    const COOP: &str = include_str!("../shaders/gemm_coop.wgsl");
    const ATTENTION_COOP: &str = include_str!("../shaders/attention_coop.wgsl");
    const ACTS: &[u32] = &[
        Act::Identity as u32,
        Act::GeluErf as u32,
        Act::GeluTanh as u32,
        Act::Tanh as u32,
        Act::Relu as u32,
    ];
    const SPLADE_MODES: &[u32] = &[SpladePool::Max as u32, SpladePool::Sum as u32];
    const MODES: &[u32] = &[
        PoolMode::Mean as u32,
        PoolMode::Max as u32,
        PoolMode::Cls as u32,
        PoolMode::MeanSqrtLen as u32,
    ];
    [
        plain_spec(
            "embeddings",
            include_str!("../shaders/embeddings.wgsl"),
            Prelude::Reduction,
            &[Read, Read, Read, Read, Read, Read, Read, ReadWrite],
            size_of::<EmbeddingsParams>(),
            None,
            None,
        ),
        gemm_spec(
            "gemm_tile128",
            "gemm",
            GEMM,
            &[TILE128, GEMM_BLOCKED, GEMM_STORE],
            (128, 128),
            None,
        ),
        gemm_spec(
            "gemm_tile64",
            "gemm_tile64",
            include_str!("../shaders/gemm_tile64.wgsl"),
            &[GEMM_STORE],
            (64, 64),
            None,
        ),
        gemm_spec(
            "gemm_tile128v4",
            "gemm_vec4",
            GEMM_VEC4,
            &[TILE128, GEMM_BLOCKED, GEMM_STORE],
            (128, 128),
            None,
        ),
        gemm_spec(
            "gemm_tile32x64_scalar",
            "gemm",
            GEMM,
            &[TILE32X64, GEMM_BLOCKED, GEMM_STORE],
            (32, 64),
            None,
        ),
        gemm_spec(
            "gemm_tile32x64",
            "gemm_vec4",
            GEMM_VEC4,
            &[TILE32X64, GEMM_BLOCKED, GEMM_STORE],
            (32, 64),
            None,
        ),
        gemm_spec(
            "gemm_tile128b16",
            "gemm_vec4",
            GEMM_VEC4,
            &[TILE128B16, GEMM_BLOCKED16, GEMM_STORE],
            (128, 128),
            None,
        ),
        gemm_spec(
            "gemm_direct4x4",
            "gemm_direct4x4",
            include_str!("../shaders/gemm_direct4x4.wgsl"),
            &[GEMM_STORE],
            (4, 256),
            None,
        ),
        gemm_spec(
            "gemm_direct16x2",
            "gemm_direct16x2",
            include_str!("../shaders/gemm_direct16x2.wgsl"),
            &[GEMM_STORE],
            (16, 64),
            None,
        ),
        plain_spec(
            "attention",
            include_str!("../shaders/attention.wgsl"),
            Prelude::AttentionIo,
            &[Read, Read, ReadWrite, Read],
            size_of::<AttentionParams>(),
            None,
            None,
        ),
        plain_spec(
            "add_layernorm",
            include_str!("../shaders/add_layernorm.wgsl"),
            Prelude::Reduction,
            &[Read, Read, Read, Read, ReadWrite, ReadWrite],
            size_of::<AddLayerNormParams>(),
            None,
            None,
        ),
        plain_spec(
            "gelu",
            include_str!("../shaders/gelu.wgsl"),
            Prelude::Activations,
            &[ReadWrite],
            size_of::<GeluParams>(),
            Some(("ACT", ACTS)),
            None,
        ),
        plain_spec(
            "pooling",
            include_str!("../shaders/pooling.wgsl"),
            Prelude::Reduction,
            &[Read, Read, ReadWrite],
            size_of::<PoolingParams>(),
            Some(("MODE", MODES)),
            None,
        ),
        gemm_spec(
            "gemm_coop8",
            "gemm_coop",
            COOP,
            &[GEMM_STORE],
            (64, 64),
            coop_gemm(8),
        ),
        gemm_spec(
            "gemm_coop16",
            "gemm_coop",
            COOP,
            &[GEMM_STORE],
            (64, 64),
            coop_gemm(16),
        ),
        KernelSpec {
            file: "attention_coop",
            ..plain_spec(
                "attention_coop8",
                ATTENTION_COOP,
                Prelude::AttentionIo,
                &[Read, Read, ReadWrite, Read],
                size_of::<AttentionParams>(),
                None,
                coop_attention(8),
            )
        },
        KernelSpec {
            file: "attention_coop",
            ..plain_spec(
                "attention_coop16",
                ATTENTION_COOP,
                Prelude::AttentionIo,
                &[Read, Read, ReadWrite, Read],
                size_of::<AttentionParams>(),
                None,
                coop_attention(16),
            )
        },
        plain_spec(
            "gather_rows",
            include_str!("../shaders/gather_rows.wgsl"),
            Prelude::None,
            &[Read, Read, ReadWrite],
            size_of::<GatherRowsParams>(),
            None,
            None,
        ),
        plain_spec(
            "splade",
            include_str!("../shaders/splade.wgsl"),
            Prelude::None,
            &[Read, Read, ReadWrite],
            size_of::<SpladeParams>(),
            Some(("MODE", SPLADE_MODES)),
            None,
        ),
        plain_spec(
            "rope",
            include_str!("../shaders/rope.wgsl"),
            Prelude::None,
            &[ReadWrite, Read],
            size_of::<RopeParams>(),
            None,
            None,
        ),
    ]
};

// The table is indexed by the enum: its order must be `Kernel::ALL`'s, which is the enum's.
const _: () = {
    let mut i = 0;
    while i < Kernel::ALL.len() {
        assert!(Kernel::ALL[i] as usize == i);
        i += 1;
    }
};

impl Kernel {
    /// All kernels, in declaration order.
    pub const ALL: [Kernel; 20] = [
        Kernel::Embeddings,
        Kernel::GemmTile128,
        Kernel::GemmTile64,
        Kernel::GemmTile128V4,
        Kernel::GemmTile32x64Scalar,
        Kernel::GemmTile32x64,
        Kernel::GemmTile128B16,
        Kernel::GemmDirect4x4,
        Kernel::GemmDirect16x2,
        Kernel::Attention,
        Kernel::AddLayerNorm,
        Kernel::Gelu,
        Kernel::Pooling,
        Kernel::GemmCoop8,
        Kernel::GemmCoop16,
        Kernel::AttentionCoop8,
        Kernel::AttentionCoop16,
        Kernel::GatherRows,
        Kernel::Splade,
        Kernel::Rope,
    ];

    /// Its declaration.
    pub fn spec(self) -> &'static KernelSpec {
        &KERNELS[self as usize]
    }

    /// The kernel's name ([`KernelSpec::name`]).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The shader file's name in `shaders/` (without `.wgsl`).
    pub fn file_stem(self) -> &'static str {
        self.spec().file
    }

    /// Whether it is one of the GEMM kernels (`GemmParams`, bindings `[a, w, bias, c]`).
    pub fn is_gemm(self) -> bool {
        self.spec().gemm
    }

    /// The cooperative-matrix fragment edge the kernel is built for, if it uses them.
    pub fn coop_size(self) -> Option<u32> {
        self.spec().coop.map(|c| c.size)
    }

    /// Whether `ctx` can run the kernel: a cooperative-matrix kernel needs its fragment size
    /// listed with f32 accumulation, and its workgroup (one sub-tile per subgroup of the
    /// adapter's largest size) within the invocation and workgroup-memory limits.
    pub fn runs_on(self, ctx: &GpuContext) -> bool {
        match self.spec().coop {
            None => true,
            Some(c) => {
                ctx.coop.iter().any(|k| k.size == c.size && k.acc_f32)
                    && c.subgroups * ctx.info.subgroup_max_size
                        <= ctx.limits.max_compute_invocations_per_workgroup
                    && c.workgroup_bytes <= ctx.limits.max_compute_workgroup_storage_size
            }
        }
    }

    /// The full WGSL source at f32 storage: the shared snippets the kernel uses, then its file.
    pub fn source(self) -> String {
        self.source_for(Precision::F32)
    }

    /// The full WGSL source for a storage precision (tree reductions).
    pub fn source_for(self, precision: Precision) -> String {
        self.source_with(precision, Reduction::Tree)
    }

    /// Whether the kernel sums across its workgroup (and so has a [`Reduction`] variant).
    pub fn uses_reduction(self) -> bool {
        self.spec().prelude == Prelude::Reduction
    }

    /// The full WGSL source for a storage precision and a way of reducing, as this build hands
    /// it to its compiler ([`Dialect::HOST`]).
    pub fn source_with(self, precision: Precision, reduction: Reduction) -> String {
        self.source_in(precision, reduction, Dialect::HOST)
    }

    /// The full WGSL source for a storage precision, a way of reducing and a compiler: the
    /// enables, the storage type, the named [`Act`] and [`PoolMode`] values, the prelude, the
    /// file, the epilogue.
    pub fn source_in(self, precision: Precision, reduction: Reduction, dialect: Dialect) -> String {
        let s = self.spec();
        let prelude = match (s.prelude, reduction) {
            (Prelude::None, _) => "",
            (Prelude::Activations, _) => ACTIVATIONS,
            (Prelude::Reduction, Reduction::Tree) => REDUCE,
            (Prelude::Reduction, Reduction::Subgroup) => REDUCE_SUBGROUP,
            (Prelude::AttentionIo, _) => ATTENTION_IO,
        };
        // Cooperative matrices take f16 inputs whatever the storage precision.
        let head = match (self.coop_size(), precision) {
            (Some(n), _) => format!("enable f16;\n{}{}", coop_prelude(n), precision.alias()),
            (None, Precision::F16) => format!("enable f16;\n{}", precision.alias()),
            (None, Precision::F32) => precision.alias().to_string(),
        };
        let subgroups = reduction == Reduction::Subgroup || self.coop_size().is_some();
        let head = match dialect {
            Dialect::Browser if subgroups => format!("enable subgroups;\n{head}"),
            _ => head,
        };
        format!(
            "{head}{}{prelude}\n{}\n{}",
            wgsl_constants(),
            s.source,
            s.epilogue.join("\n")
        )
    }

    /// Storage bindings 1.. in order.
    pub fn bindings(self) -> &'static [Access] {
        self.spec().bindings
    }

    /// Name of the pipeline-overridable constant that selects a variant, if any.
    pub fn variant_constant(self) -> Option<&'static str> {
        self.spec().variant.map(|(c, _)| c)
    }

    /// The values [`Kernel::variant_constant`] takes (ACT: every [`Act`]; MODE: every
    /// [`PoolMode`]); `[0]` for kernels without one.
    pub fn variant_values(self) -> &'static [u32] {
        self.spec().variant.map_or(&[0], |(_, v)| v)
    }

    /// Size in bytes of the kernel's `Params` struct.
    pub fn params_size(self) -> usize {
        self.spec().params_size
    }
}

/// One shader exactly as a pipeline compiles it: kernel, storage precision and the values of its
/// pipeline-overridable constants (the variant constant; `SG`, the subgroup size, for the
/// cooperative-matrix kernels).
#[derive(Clone, Debug, PartialEq)]
pub struct ShaderVariant {
    /// The kernel.
    pub kernel: Kernel,
    /// Storage precision of its float buffers.
    pub precision: Precision,
    /// How it reduces across a workgroup (row kernels; `Tree` for the others).
    pub reduction: Reduction,
    /// Pipeline constants, name and value.
    pub constants: Vec<(&'static str, f64)>,
}

/// Subgroup sizes the cooperative-matrix kernels are listed at by [`ShaderVariant::all`]:
/// lavapipe's 8, NVIDIA's 32, AMD's and others' 64.
pub const LISTED_SUBGROUP_SIZES: [u32; 3] = [8, 32, 64];

impl ShaderVariant {
    /// Every variant the engine can build: each kernel at each precision with each value of its
    /// variant constant, the row kernels with each [`Reduction`], and the cooperative-matrix
    /// kernels at each [`LISTED_SUBGROUP_SIZES`].
    pub fn all() -> Vec<ShaderVariant> {
        let mut out = Vec::new();
        for kernel in Kernel::ALL {
            let reductions: &[Reduction] = if kernel.uses_reduction() {
                &[Reduction::Tree, Reduction::Subgroup]
            } else {
                &[Reduction::Tree]
            };
            for (precision, &reduction) in [Precision::F32, Precision::F16]
                .into_iter()
                .flat_map(|p| reductions.iter().map(move |r| (p, r)))
            {
                for &value in kernel.variant_values() {
                    let base: Vec<(&'static str, f64)> = kernel
                        .variant_constant()
                        .map(|c| vec![(c, value as f64)])
                        .unwrap_or_default();
                    if kernel.coop_size().is_some() {
                        for sg in LISTED_SUBGROUP_SIZES {
                            let mut constants = base.clone();
                            constants.push(("SG", sg as f64));
                            out.push(ShaderVariant {
                                kernel,
                                precision,
                                reduction,
                                constants,
                            });
                        }
                    } else {
                        out.push(ShaderVariant {
                            kernel,
                            precision,
                            reduction,
                            constants: base,
                        });
                    }
                }
            }
        }
        out
    }

    /// A file-name-safe name, e.g. `gelu.f16.ACT2`, `add_layernorm.f32.subgroup` or
    /// `gemm_coop16.f32.SG32`.
    pub fn name(&self) -> String {
        let mut n = format!("{}.{}", self.kernel.name(), self.precision.name());
        if self.reduction != Reduction::Tree {
            n.push_str(&format!(".{}", self.reduction.name()));
        }
        for (c, v) in &self.constants {
            n.push_str(&format!(".{c}{v}"));
        }
        n
    }

    /// The WGSL source as this build hands it to its compiler (the constants are set at
    /// pipeline creation, not in the text).
    pub fn source(&self) -> String {
        self.source_in(Dialect::HOST)
    }

    /// The WGSL source as `dialect`'s compiler takes it.
    pub fn source_in(&self, dialect: Dialect) -> String {
        self.kernel
            .source_in(self.precision, self.reduction, dialect)
    }

    /// Whether it needs the adapter's SUBGROUP (subgroup reductions, cooperative matrices).
    pub fn needs_subgroups(&self) -> bool {
        self.reduction == Reduction::Subgroup || self.kernel.coop_size().is_some()
    }

    /// Whether it needs the adapter's SHADER_F16 (f16 storage, or cooperative matrices).
    pub fn needs_f16(&self) -> bool {
        self.precision == Precision::F16 || self.kernel.coop_size().is_some()
    }
}

/// `gemm.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GemmParams {
    /// Rows of A and C.
    pub m: u32,
    /// Columns of C (rows of W).
    pub n: u32,
    /// The reduced dimension.
    pub k: u32,
    /// Epilogue activation, an [`Act`] value.
    pub act: u32,
    /// Elements between consecutive rows of A: `k` for a dense matrix; `S·H` to take the
    /// `[CLS]` row of each sequence (the pooler).
    pub a_stride: u32,
    /// 1: gated linear unit epilogue. W's rows come in pairs (gate, linear); C is `[m, n/2]`
    /// with C`[r, j]` = act(gate + its bias) · (linear + its bias), from columns 2j and 2j + 1
    /// (see [`glu_pairs`]). `n` must be even.
    pub glu: u32,
    /// 1: C += the result (C holds a residual that the product is added to, in place).
    pub accumulate: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

impl GemmParams {
    /// C`[m, n]` = act(A`[m, k]` · W`[n, k]`ᵀ + bias) over a dense A.
    pub fn new(m: usize, n: usize, k: usize, act: Act) -> Self {
        GemmParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            act: act as u32,
            a_stride: k as u32,
            glu: 0,
            accumulate: 0,
            _pad2: 0,
        }
    }

    /// The same, added to what C holds (`accumulate`).
    pub fn accumulating(self) -> Self {
        GemmParams {
            accumulate: 1,
            ..self
        }
    }

    /// The gated form: `n` = 2 × the output width, over weights laid out by [`glu_pairs`].
    pub fn glu(m: usize, n: usize, k: usize, act: Act) -> Self {
        GemmParams {
            glu: 1,
            ..GemmParams::new(m, n, k, act)
        }
    }
}

/// Interleaves the rows of a gate and a linear projection (`[I, K]` each, or `[I]` biases when
/// `k` = 1) into the `[2I, K]` layout of a gated GEMM ([`GemmParams::glu`]): row 2j is gate row
/// j, row 2j + 1 linear row j. Every GEMM variant then finds a pair in adjacent columns.
pub fn glu_pairs(gate: &[f32], linear: &[f32], k: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(gate.len() * 2);
    for (g, l) in gate.chunks(k).zip(linear.chunks(k)) {
        out.extend_from_slice(g);
        out.extend_from_slice(l);
    }
    out
}

/// `embeddings.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EmbeddingsParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub rows: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub seq: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub hidden: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub vocab: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub type_vocab: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub eps: f32,
    /// Position index of the first token (`pad_token_id + 1` for RoBERTa, else 0).
    pub pos_offset: u32,
    /// Position index of padding tokens: `pad_token_id` for RoBERTa (whose padding positions
    /// are `padding_idx`), [`NO_PAD_POSITION`] where padding counts on like any token.
    pub pad_position: u32,
    /// 1: `word` holds the rows already gathered per token ([`Kernel::GatherRows`]), so row
    /// `t` is read instead of row `ids[t]`.
    pub gathered: u32,
    /// 1: add the position table's row; 0: no absolute positions (rotary models), the
    /// `position` binding is not read.
    pub positions: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

/// [`EmbeddingsParams::pad_position`] of models whose padding tokens take ordinary positions.
pub const NO_PAD_POSITION: u32 = u32::MAX;

/// `gather_rows.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GatherRowsParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub rows: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub hidden: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub first: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub count: u32,
}

/// `splade.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SpladeParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub batch: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub seq: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub vocab: u32,
    /// First token row (of B·S) in this chunk of logits.
    pub row0: u32,
    /// Token rows in this chunk.
    pub rows: u32,
    /// 1 for the first chunk: write every output instead of folding into it.
    pub init: u32,
    /// 1: log(1 + ·) applied twice (SpladePooling's `log1p_relu`).
    pub twice: u32,
    /// First vocabulary column of these logits (a piece of a split word table; else 0).
    pub col0: u32,
    /// Columns of the output (the whole vocabulary).
    pub stride: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

/// `rope.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RopeParams {
    /// Token rows.
    pub rows: u32,
    /// Positions per sequence (a row's position is its index modulo `seq`).
    pub seq: u32,
    /// Attention heads.
    pub heads: u32,
    /// Values per head.
    pub head_dim: u32,
    /// Leading values of each head that rotate (even, ≤ `head_dim`).
    pub rot_dim: u32,
    /// Values per token row (3H for the fused QKV rows).
    pub stride: u32,
    /// H-wide blocks at the start of each row to rotate (2: query and key).
    pub parts: u32,
    /// Padding to 16 bytes.
    pub _pad: u32,
}

/// The (cos, sin) pairs `rope.wgsl` reads, `[seq, rot_dim/2]`, computed in f64: position p,
/// pair i at angle p / `pos_scale` · `base`^(−2i/`rot_dim`) (Hugging Face's rotary embedding;
/// `pos_scale` > 1 is linear position scaling).
pub fn rope_table(seq: usize, rot_dim: usize, base: f64, pos_scale: f64) -> Vec<f32> {
    let half = rot_dim / 2;
    let mut t = Vec::with_capacity(seq * half * 2);
    for p in 0..seq {
        for i in 0..half {
            let inv_freq = base.powf(-((2 * i) as f64) / rot_dim as f64);
            let a = p as f64 / pos_scale * inv_freq;
            t.push(a.cos() as f32);
            t.push(a.sin() as f32);
        }
    }
    t
}

/// `attention.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AttentionParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub batch: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub seq: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub heads: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub head_dim: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub hidden: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub scale: f32,
    /// Sliding window half-width: query i sees keys j with |i − j| ≤ `window`; 0: all keys.
    pub window: u32,
    /// 1: add the relative bias table (`[heads, 2S − 1]`, by j − i) to every score (MPNet's
    /// bucketed relative positions, ALiBi).
    pub relative: u32,
}

impl AttentionParams {
    /// Parameters for `batch` sequences of `seq` tokens, `heads` heads of `head_dim` (scale 1/√D).
    pub fn new(batch: usize, seq: usize, heads: usize, head_dim: usize) -> Self {
        AttentionParams {
            batch: batch as u32,
            seq: seq as u32,
            heads: heads as u32,
            head_dim: head_dim as u32,
            hidden: (heads * head_dim) as u32,
            scale: 1.0 / (head_dim as f32).sqrt(),
            window: 0,
            relative: 0,
        }
    }

    /// The same with a sliding window of half-width `window` (0: global).
    pub fn windowed(self, window: usize) -> Self {
        AttentionParams {
            window: window as u32,
            ..self
        }
    }
}

/// `add_layernorm.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AddLayerNormParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub rows: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub hidden: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub eps: f32,
    /// Bit 0: add the residual; bit 1: also write the sum (see `add_layernorm.wgsl`).
    pub mode: u32,
}

/// `gelu.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GeluParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub len: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
    /// Padding to 16 bytes.
    pub _pad2: u32,
}

/// `pooling.wgsl` parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PoolingParams {
    /// Mirrors the WGSL `Params` field of the same name.
    pub batch: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub seq: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub hidden: u32,
    /// Mirrors the WGSL `Params` field of the same name.
    pub normalize: u32,
}

/// The GEMMs the autotuner chooses between (`src/tune.rs`). Each is named after its kernel
/// (`Tile64` ↔ `tile64` ↔ [`Kernel::GemmTile64`] ↔ `gemm_tile64`); the name is what the
/// tuning cache, `WGBERT_GEMM`, `wgbert bench` and the docs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmVariant {
    /// 128×128 tiles, 8×8 per invocation, scalar loads.
    Tile128,
    /// 64×64 tiles, 4×4 per invocation.
    Tile64,
    /// `Tile128` with vec4 loads (K % 4 == 0, else `Tile128`'s kernel).
    Tile128V4,
    /// `Tile128V4`'s tiles with a 16×16 block per invocation, 64 invocations (K % 4 == 0, else
    /// `Tile128`'s kernel): CPU Vulkan drivers.
    Tile128B16,
    /// 32×64 tiles with vec4 loads (scalar loads when K % 4 ≠ 0): small M.
    Tile32x64,
    /// No workgroup memory, 4×4 per invocation (K % 4 == 0, else `Tile32x64`'s scalar
    /// kernel): small M.
    Direct4x4,
    /// No workgroup memory, 16 rows × 2 columns of C per invocation, 16 × 64 per workgroup, A
    /// loads uniform (K % 4 == 0, else `Tile32x64`'s scalar kernel): CPU drivers that track
    /// uniform values (Mesa 26 lavapipe).
    Direct16x2,
    /// Cooperative matrices with 8×8×8 fragments (f16 inputs, f32 accumulation).
    Coop8,
    /// Cooperative matrices with 16×16×16 fragments.
    Coop16,
}

impl GemmVariant {
    /// Every variant.
    pub const ALL: [GemmVariant; 9] = [
        GemmVariant::Tile128,
        GemmVariant::Tile64,
        GemmVariant::Tile128V4,
        GemmVariant::Tile128B16,
        GemmVariant::Tile32x64,
        GemmVariant::Direct4x4,
        GemmVariant::Direct16x2,
        GemmVariant::Coop8,
        GemmVariant::Coop16,
    ];

    /// The variants that run on every adapter (f32 arithmetic, no optional feature).
    pub const PORTABLE: [GemmVariant; 7] = [
        GemmVariant::Tile128,
        GemmVariant::Tile64,
        GemmVariant::Tile128V4,
        GemmVariant::Tile128B16,
        GemmVariant::Tile32x64,
        GemmVariant::Direct4x4,
        GemmVariant::Direct16x2,
    ];

    /// Its kernels: for K % 4 == 0, and for any other K.
    fn kernels(self) -> (Kernel, Kernel) {
        match self {
            GemmVariant::Tile128 => (Kernel::GemmTile128, Kernel::GemmTile128),
            GemmVariant::Tile64 => (Kernel::GemmTile64, Kernel::GemmTile64),
            GemmVariant::Tile128V4 => (Kernel::GemmTile128V4, Kernel::GemmTile128),
            GemmVariant::Tile128B16 => (Kernel::GemmTile128B16, Kernel::GemmTile128),
            GemmVariant::Tile32x64 => (Kernel::GemmTile32x64, Kernel::GemmTile32x64Scalar),
            GemmVariant::Direct4x4 => (Kernel::GemmDirect4x4, Kernel::GemmTile32x64Scalar),
            GemmVariant::Direct16x2 => (Kernel::GemmDirect16x2, Kernel::GemmTile32x64Scalar),
            GemmVariant::Coop8 => (Kernel::GemmCoop8, Kernel::GemmCoop8),
            GemmVariant::Coop16 => (Kernel::GemmCoop16, Kernel::GemmCoop16),
        }
    }

    /// The kernel that implements it for a reduced dimension `k` (the vec4 and direct kernels
    /// need `k % 4 == 0` and fall back to a scalar-load tile kernel).
    pub fn kernel(self, k: usize) -> Kernel {
        let (vec4, any) = self.kernels();
        if k.is_multiple_of(4) { vec4 } else { any }
    }

    /// The cooperative-matrix fragment edge, for the coop variants.
    pub fn coop_size(self) -> Option<u32> {
        self.kernels().0.coop_size()
    }

    /// Whether `ctx` can run this variant: the coop variants need their fragment size listed
    /// with f32 accumulation (and SUBGROUP, SHADER_F16, which the context requires for them).
    pub fn runs_on(self, ctx: &GpuContext) -> bool {
        self.kernels().0.runs_on(ctx)
    }

    /// Rows and columns of C one workgroup of its main kernel (K % 4 == 0) computes.
    pub fn tile(self) -> (usize, usize) {
        self.kernels().0.spec().tile
    }

    /// Workgroup grid for an M × N × K product.
    pub fn grid(self, m: usize, n: usize, k: usize) -> [u32; 3] {
        let (rows, cols) = self.kernel(k).spec().tile;
        [n.div_ceil(cols) as u32, m.div_ceil(rows) as u32, 1]
    }

    /// The name used in the tuning cache, `WGBERT_GEMM` and `wgbert bench`: its main kernel's
    /// name without `gemm_` (`tile128`, `tile64`, `tile128v4`, `tile128b16`, `tile32x64`,
    /// `direct4x4`, `direct16x2`, `coop8`, `coop16`).
    pub fn name(self) -> &'static str {
        let kernel = self.kernels().0.name();
        kernel.strip_prefix("gemm_").unwrap_or(kernel)
    }

    /// Parses [`GemmVariant::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        GemmVariant::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// GEMMs with at most this many rows use the small-M tuning ([`Kernels::gemm_variant_for`]).
pub const SMALL_M: usize = 128;

/// Workgroup grid of `attention.wgsl` over `batch` sequences of `seq` tokens, `heads` heads of
/// `head_dim`: each workgroup takes min(32, 2048 / head_dim) query rows of one head.
pub fn attention_grid(batch: usize, seq: usize, heads: usize, head_dim: usize) -> [u32; 3] {
    let rows = 32.min(2048 / head_dim.max(1)).max(1);
    [seq.div_ceil(rows) as u32, heads as u32, batch as u32]
}

/// Most workgroups one dispatch dimension may have in WebGPU.
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Splits `n` row-workgroups into an (x, y) grid that stays under the per-dimension limit;
/// the row kernels compute `row = wid.y · 65535 + wid.x`.
pub fn row_grid(n: u32) -> [u32; 3] {
    if n <= MAX_GROUPS_PER_DIM {
        [n.max(1), 1, 1]
    } else {
        [MAX_GROUPS_PER_DIM, n.div_ceil(MAX_GROUPS_PER_DIM), 1]
    }
}

/// How the kernels are picked, and where what was measured or compiled is kept between runs.
/// The library reads no environment: [`EngineOptions::from_env`](crate::EngineOptions::from_env)
/// fills these from `WGBERT_GEMM`, `WGBERT_REDUCE`, `WGBERT_TUNE`, `WGBERT_CACHE_DIR` (else
/// `$XDG_CACHE_HOME/wgbert`, else `~/.cache/wgbert`) and `WGBERT_PIPELINE_CACHE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// GEMM variant by [`GemmVariant::name`], or `coop` for the adapter's cooperative-matrix
    /// variant; a variant the adapter cannot run is an error, never a silent fallback. `None`:
    /// the tuned choice.
    pub gemm: Option<String>,
    /// Row-kernel reduction by [`Reduction::name`] (`tree`, `subgroup`); `None`: the tuned
    /// choice (the tree without SUBGROUP).
    pub reduction: Option<String>,
    /// Time the variants on this adapter when the cache has no choice for it (default yes);
    /// `false`: `tile128` and the tree.
    pub autotune: bool,
    /// Folder of the tuning cache (`gemm-tune.json`) and of the compiled-pipeline cache;
    /// `None`: nothing is kept, so every new set of kernels is tuned afresh.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Keep compiled pipelines in `cache_dir` (adapters with PIPELINE_CACHE; default yes).
    pub pipeline_cache: bool,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            gemm: None,
            reduction: None,
            autotune: true,
            cache_dir: None,
            pipeline_cache: true,
        }
    }
}

/// The driver's pipeline cache, loaded from and saved to disk (adapters with PIPELINE_CACHE).
struct DiskCache {
    cache: wgpu::PipelineCache,
    path: std::path::PathBuf,
}

impl DiskCache {
    fn open(ctx: &GpuContext, dir: &std::path::Path) -> Option<DiskCache> {
        if !ctx.has(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let key = wgpu::util::pipeline_cache_key(&ctx.info)?;
        let path = dir.join(key);
        let data = std::fs::read(&path).ok();
        // SAFETY: the data was written by `save` from `PipelineCache::get_data` for an adapter
        // with this cache key (the key is the file name); wgpu and the driver validate the
        // header and fall back to an empty cache when it does not match.
        let cache = unsafe {
            ctx.device
                .create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("wgbert"),
                    data: data.as_deref(),
                    fallback: true,
                })
        };
        log::info!(
            "pipeline cache {} ({} bytes loaded)",
            path.display(),
            data.map_or(0, |d| d.len())
        );
        Some(DiskCache { cache, path })
    }

    /// Writes the cache atomically (temporary file + rename); best effort.
    fn save(&self) {
        let Some(data) = self.cache.get_data() else {
            return;
        };
        let Some(dir) = self.path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Pipelines and layouts, created once per (kernel, variant) and shared.
pub struct Kernels {
    ctx: Arc<GpuContext>,
    precision: Precision,
    gemm: GemmVariant,
    gemm_small: GemmVariant,
    reduce: Reduction,
    disk_cache: Option<DiskCache>,
    layouts: HashMap<Kernel, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    modules: Mutex<HashMap<Kernel, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<(Kernel, u32), Arc<wgpu::ComputePipeline>>>,
    /// Bound where a kernel has a written binding it does not use in a call (WebGPU refuses a
    /// written buffer bound twice in one dispatch; the kernel never touches this one).
    unused: wgpu::Buffer,
}

/// One recorded kernel call: pipeline, bindings and grid. A plan is a list of these.
#[derive(Clone)]
pub struct Dispatch {
    /// The wgpu label, e.g. `layer3.attention.output.layernorm`.
    pub label: String,
    /// Which kernel.
    pub kernel: Kernel,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
    _params: wgpu::Buffer,
}

impl Dispatch {
    /// Records the call into a compute pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}

impl Kernels {
    /// These kernels with compiled pipelines loaded from and saved to `dir` (adapters with
    /// PIPELINE_CACHE; elsewhere nothing changes).
    pub fn with_pipeline_cache(mut self, dir: &std::path::Path) -> Self {
        self.disk_cache = DiskCache::open(&self.ctx, dir);
        self
    }

    /// Creates f32 kernels with a fixed GEMM variant (tests, benchmarks, the tuner itself).
    pub fn with_gemm(ctx: Arc<GpuContext>, gemm: GemmVariant) -> Self {
        Self::build(ctx, Precision::F32, gemm)
    }

    /// The same kernels with another GEMM variant (shares the device; pipelines are rebuilt
    /// on first use).
    pub fn with_variant(&self, gemm: GemmVariant) -> Self {
        Self::build(self.ctx.clone(), self.precision, gemm).with_reduction(self.reduce)
    }

    /// These kernels with `batch` for GEMMs of more than [`SMALL_M`] rows and `small` for the
    /// others (the tuner's choice; pipelines already built are kept).
    pub fn with_gemm_variants(mut self, batch: GemmVariant, small: GemmVariant) -> Self {
        self.gemm = batch;
        self.gemm_small = small;
        self
    }

    /// These kernels with the row kernels reducing as `reduce` (no feature check: a subgroup
    /// reduction on an adapter without SUBGROUP fails when its pipeline is built).
    pub fn with_reduction(mut self, reduce: Reduction) -> Self {
        if reduce != self.reduce {
            // Only the row kernels' sources depend on it: the GEMMs compiled while tuning stay.
            self.reduce = reduce;
            let keep = |k: &Kernel| !k.uses_reduction();
            if let Ok(m) = self.modules.get_mut() {
                m.retain(|k, _| keep(k));
            }
            if let Ok(p) = self.pipelines.get_mut() {
                p.retain(|(k, _), _| keep(k));
            }
        }
        self
    }

    /// How the row kernels reduce.
    pub fn reduction(&self) -> Reduction {
        self.reduce
    }

    /// Creates kernels with a fixed precision and GEMM variant (no tuning, no feature check).
    pub fn build(ctx: Arc<GpuContext>, precision: Precision, gemm: GemmVariant) -> Self {
        let mut layouts = HashMap::new();
        for k in Kernel::ALL {
            let mut entries = vec![wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }];
            for (i, a) in k.bindings().iter().enumerate() {
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: i as u32 + 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: *a == Access::Read,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                });
            }
            let bgl = ctx
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(k.name()),
                    entries: &entries,
                });
            let pl = ctx
                .device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(k.name()),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                });
            layouts.insert(k, (bgl, pl));
        }
        let unused = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("unused"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Kernels {
            disk_cache: None,
            unused,
            ctx,
            precision,
            gemm,
            gemm_small: gemm,
            reduce: Reduction::Tree,
            layouts,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        }
    }

    /// Storage precision of float buffers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// An uninitialised float buffer of `len` values at the kernels' precision.
    pub fn float_buffer(&self, label: &str, len: usize) -> crate::Result<wgpu::Buffer> {
        self.ctx.storage_bytes(label, len * self.precision.bytes())
    }

    /// A float buffer holding `data` at the kernels' precision (values beyond f16's range are
    /// an error at f16, not a silent infinity).
    pub fn upload(&self, label: &str, data: &[f32]) -> crate::Result<wgpu::Buffer> {
        match self.precision {
            Precision::F32 => self.ctx.storage_from(label, data),
            Precision::F16 => {
                if let Some(v) = data.iter().find(|v| v.abs() > 65504.0) {
                    return Err(crate::Error::Unsupported(format!(
                        "{label} holds {v}, beyond the f16 range (±65504); use f32 precision"
                    )));
                }
                let mut bits: Vec<u16> = data
                    .iter()
                    .map(|&v| half::f16::from_f32(v).to_bits())
                    .collect();
                if bits.len() % 2 == 1 {
                    bits.push(0); // bindings are sized in 4-byte words
                }
                self.ctx.storage_from(label, &bits)
            }
        }
    }

    /// Decodes `bytes` read back from a float buffer into f32 values.
    pub fn decode(&self, bytes: &[u8]) -> Vec<f32> {
        match self.precision {
            Precision::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(bytes),
            Precision::F16 => bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        }
    }

    /// Copies the first `len` values of each float buffer back to the host.
    pub fn read(&self, sources: &[(&wgpu::Buffer, usize)]) -> crate::Result<Vec<Vec<f32>>> {
        let e = self.precision.bytes();
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        let mut staging = Vec::with_capacity(sources.len());
        for (buf, len) in sources {
            let size = (len * e) as u64;
            let st = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: size.next_multiple_of(4).max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            encoder.copy_buffer_to_buffer(buf, 0, &st, 0, size.next_multiple_of(4));
            staging.push((st, len * e));
        }
        let index = self.ctx.queue.submit(Some(encoder.finish()));
        let refs: Vec<(&wgpu::Buffer, usize)> = staging.iter().map(|(b, l)| (b, *l)).collect();
        Ok(self
            .ctx
            .wait_bytes(index, &refs)?
            .iter()
            .map(|b| self.decode(b))
            .collect())
    }

    /// The GEMM variant of GEMMs with more than [`SMALL_M`] rows (batches).
    pub fn gemm_variant(&self) -> GemmVariant {
        self.gemm
    }

    /// The GEMM variant for `m` rows: tuned separately for at most [`SMALL_M`] rows (a short
    /// query) and for more (batches).
    pub fn gemm_variant_for(&self, m: usize) -> GemmVariant {
        if m <= SMALL_M {
            self.gemm_small
        } else {
            self.gemm
        }
    }

    /// The context the kernels run on.
    pub fn ctx(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The pipeline of `kernel` with variant constant `variant` (ACT or MODE), compiled on first use.
    pub fn pipeline(&self, kernel: Kernel, variant: u32) -> Result<Arc<wgpu::ComputePipeline>> {
        let mut pipes = self
            .pipelines
            .lock()
            .map_err(|_| crate::Error::Device("pipeline cache poisoned".into()))?;
        if let Some(p) = pipes.get(&(kernel, variant)) {
            return Ok(p.clone());
        }
        // What the adapter lacks is refused before the shader is even parsed: a module that
        // fails to parse leaves an error on the device, which a later call would report.
        let mut constants: Vec<(&str, f64)> = kernel
            .variant_constant()
            .map(|c| vec![(c, variant as f64)])
            .unwrap_or_default();
        if kernel.uses_reduction()
            && self.reduce == Reduction::Subgroup
            && !self.ctx.has(wgpu::Features::SUBGROUP)
        {
            return Err(crate::Error::Unsupported(format!(
                "{} has no SUBGROUP feature, so the subgroup reduction of {} is unavailable; use the tree",
                self.ctx.info.name,
                kernel.name()
            )));
        }
        if let Some(n) = kernel.coop_size() {
            if !kernel.runs_on(&self.ctx) {
                return Err(crate::Error::Unsupported(format!(
                    "{} needs {n}x{n}x{n} f16*f16+f32 cooperative matrices, which {} does not list \
                     (it has: {}); use a tiled GEMM (WGBERT_GEMM=tile128)",
                    kernel.name(),
                    self.ctx.info.name,
                    self.ctx.coop_summary()
                )));
            }
            constants.push(("SG", self.ctx.info.subgroup_max_size as f64));
        }
        let mut modules = self
            .modules
            .lock()
            .map_err(|_| crate::Error::Device("module cache poisoned".into()))?;
        let module = modules.entry(kernel).or_insert_with(|| {
            self.ctx
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.name()),
                    source: wgpu::ShaderSource::Wgsl(
                        kernel.source_with(self.precision, self.reduce).into(),
                    ),
                })
        });
        let (_, layout) = &self.layouts[&kernel];
        let started = web_time::Instant::now();
        let pipeline = self
            .ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name()),
                layout: Some(layout),
                module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: self.disk_cache.as_ref().map(|c| &c.cache),
            });
        let compile_s = started.elapsed().as_secs_f64();
        log::debug!(
            "pipeline {} (variant {variant}) built in {compile_s:.3} s",
            kernel.name()
        );
        self.ctx.check_errors()?;
        if let Some(c) = &self.disk_cache {
            c.save();
        }
        let p = Arc::new(pipeline);
        pipes.insert((kernel, variant), p.clone());
        Ok(p)
    }

    /// Builds one dispatch: `params` goes to binding 0, `buffers` to bindings 1.. in order.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        label: impl Into<String>,
        kernel: Kernel,
        variant: u32,
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<Dispatch> {
        let label = label.into();
        debug_assert_eq!(std::mem::size_of::<P>(), kernel.params_size());
        if buffers.len() != kernel.bindings().len() {
            return Err(crate::Error::Shape(format!(
                "{label}: kernel {} takes {} buffers, got {}",
                kernel.name(),
                kernel.bindings().len(),
                buffers.len()
            )));
        }
        // WebGPU (a browser) refuses a dispatch whose written buffer is bound twice; the native
        // back ends would run it. Checked on every platform, so native tests find it.
        for (i, (b, access)) in buffers.iter().zip(kernel.bindings()).enumerate() {
            if *access != Access::ReadWrite {
                continue;
            }
            if let Some(j) = (0..buffers.len()).find(|&j| j != i && buffers[j] == *b) {
                return Err(crate::Error::Device(format!(
                    "{label}: kernel {} would bind one buffer at bindings {} (written) and {}, which WebGPU forbids; this is a bug in wgbert",
                    kernel.name(),
                    i + 1,
                    j + 1
                )));
            }
        }
        let max = self.ctx.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(crate::Error::Shape(format!(
                "{label}: grid {groups:?} exceeds this adapter's {max} workgroups per dimension; use a smaller batch"
            )));
        }
        let pipeline = self.pipeline(kernel, variant)?;
        let ubuf = self.ctx.uniform(&label, params);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: ubuf.as_entire_binding(),
        }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bind_group = self
            .ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&label),
                layout: &self.layouts[&kernel].0,
                entries: &entries,
            });
        Ok(Dispatch {
            label,
            kernel,
            pipeline,
            bind_group,
            groups,
            _params: ubuf,
        })
    }

    /// One GEMM dispatch over `[a, w, bias, c]` with the variant chosen for this adapter.
    pub fn gemm(
        &self,
        label: impl Into<String>,
        params: &GemmParams,
        buffers: [&wgpu::Buffer; 4],
    ) -> Result<Dispatch> {
        let v = self.gemm_variant_for(params.m as usize);
        self.gemm_with(v, label, params, buffers)
    }

    /// One GEMM dispatch of variant `v` over `[a, w, bias, c]`.
    pub fn gemm_with(
        &self,
        v: GemmVariant,
        label: impl Into<String>,
        params: &GemmParams,
        buffers: [&wgpu::Buffer; 4],
    ) -> Result<Dispatch> {
        let (m, n, k) = (params.m as usize, params.n as usize, params.k as usize);
        self.dispatch(label, v.kernel(k), 0, params, &buffers, v.grid(m, n, k))
    }

    /// One residual add + LayerNorm dispatch over `rows` rows of width `h`, buffers
    /// `[x, residual, gamma, beta, out]`.
    pub fn add_layernorm(
        &self,
        label: impl Into<String>,
        rows: usize,
        h: usize,
        eps: f32,
        buffers: [&wgpu::Buffer; 5],
    ) -> Result<Dispatch> {
        let [x, residual, g, b, out] = buffers;
        self.layernorm(label, rows, h, eps, x, Some(residual), [g, b], out, None)
    }

    /// One LayerNorm dispatch: out = LayerNorm(x [+ residual]), and with `sum` the sum written
    /// there too (pre-LayerNorm blocks).
    #[allow(clippy::too_many_arguments)]
    pub fn layernorm(
        &self,
        label: impl Into<String>,
        rows: usize,
        h: usize,
        eps: f32,
        x: &wgpu::Buffer,
        residual: Option<&wgpu::Buffer>,
        [gamma, beta]: [&wgpu::Buffer; 2],
        out: &wgpu::Buffer,
        sum: Option<&wgpu::Buffer>,
    ) -> Result<Dispatch> {
        let params = AddLayerNormParams {
            rows: rows as u32,
            hidden: h as u32,
            eps,
            mode: residual.is_some() as u32 | (sum.is_some() as u32) << 1,
        };
        let grid = row_grid(rows as u32);
        // Unused bindings get a buffer the kernel does not touch: x (read) for the residual,
        // the spare buffer for the sum (a written binding may alias nothing).
        let buffers = [
            x,
            residual.unwrap_or(x),
            gamma,
            beta,
            out,
            sum.unwrap_or(&self.unused),
        ];
        self.dispatch(label, Kernel::AddLayerNorm, 0, &params, &buffers, grid)
    }

    /// The attention kernel these kernels use at `head_dim`: on cooperative matrices when the
    /// GEMM is a coop variant (the engine runs on tensor cores, inputs rounded to f16) and the
    /// head fits, else `attention.wgsl`.
    pub fn attention_kernel(&self, head_dim: usize) -> Kernel {
        let coop = match self.gemm.coop_size() {
            Some(8) => Kernel::AttentionCoop8,
            Some(_) => Kernel::AttentionCoop16,
            None => return Kernel::Attention,
        };
        if head_dim <= COOP_ATTENTION_MAX_HEAD_DIM && coop.runs_on(&self.ctx) {
            coop
        } else {
            Kernel::Attention
        }
    }

    /// One attention dispatch over `[qkv, mask, ctx]` with [`Kernels::attention_kernel`].
    pub fn attention(
        &self,
        label: impl Into<String>,
        params: &AttentionParams,
        buffers: [&wgpu::Buffer; 3],
    ) -> Result<Dispatch> {
        self.attention_biased(label, params, buffers, None)
    }

    /// [`Kernels::attention`] with a relative bias table `[heads, 2S − 1]` (f32, entry
    /// `h·(2S − 1) + j − i + S − 1` added to the score of query i, key j); sets
    /// `params.relative` from it.
    pub fn attention_biased(
        &self,
        label: impl Into<String>,
        params: &AttentionParams,
        [qkv, mask, ctx]: [&wgpu::Buffer; 3],
        relative: Option<&wgpu::Buffer>,
    ) -> Result<Dispatch> {
        let params = AttentionParams {
            relative: relative.is_some() as u32,
            ..*params
        };
        let (b, s, h, d) = (
            params.batch as usize,
            params.seq as usize,
            params.heads as usize,
            params.head_dim as usize,
        );
        let kernel = self.attention_kernel(d);
        let grid = if kernel == Kernel::Attention {
            attention_grid(b, s, h, d)
        } else {
            [s.div_ceil(32) as u32, h as u32, b as u32]
        };
        // Without a table the kernel never reads the binding: the mask stands in.
        let buffers = [qkv, mask, ctx, relative.unwrap_or(mask)];
        self.dispatch(label, kernel, 0, &params, &buffers, grid)
    }

    /// Records `dispatches` into one compute pass of a new encoder and submits it.
    pub fn run(&self, dispatches: &[Dispatch]) -> wgpu::SubmissionIndex {
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgbert"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgbert"),
                timestamp_writes: None,
            });
            for d in dispatches {
                d.record(&mut pass);
            }
        }
        self.ctx.queue.submit(Some(encoder.finish()))
    }
}
