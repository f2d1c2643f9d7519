//! Every shader variant the engine can build, written out as text for other compilers and for
//! people who benchmark or port the kernels (`wgbert shaders --dump DIR`): one `.wgsl` file per
//! variant, `manifest.json` describing each (pipeline constants, what it needs from the
//! adapter), and `variants.js`, the same with the sources, for a page opened from the folder
//! (`tests/web/`: Chrome's Tint compiles each one).

use crate::error::{Error, Result};
use crate::kernels::{Dialect, Reduction, ShaderVariant};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One entry of `manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct DumpedVariant {
    /// Variant name, e.g. `gemm_vec4.f32` or `add_layernorm.f16.subgroup`.
    pub name: String,
    /// Its file in the folder.
    pub file: String,
    /// The kernel (`Kernel::name`).
    pub kernel: &'static str,
    /// Storage precision, `f32` or `f16`.
    pub precision: &'static str,
    /// Workgroup reduction, `tree` or `subgroup`.
    pub reduction: &'static str,
    /// Pipeline-overridable constants to set when creating the pipeline.
    pub constants: BTreeMap<&'static str, f64>,
    /// What the adapter must offer, in WebGPU's names where WebGPU has one:
    /// `shader-f16`, `subgroups`, and `wgpu-cooperative-matrix` (no WebGPU equivalent).
    pub needs: Vec<&'static str>,
    /// The entry point.
    pub entry_point: &'static str,
    /// The WGSL source as naga takes it (only in `variants.js`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The WGSL source as wgbert hands it to a browser (`enable subgroups;` where the variant
    /// uses subgroups; only in `variants.js`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_source: Option<String>,
}

/// Describes `v` (with its source when `with_source`).
pub fn describe(v: &ShaderVariant, with_source: bool) -> DumpedVariant {
    let name = v.name();
    let mut needs = Vec::new();
    if v.needs_f16() {
        needs.push("shader-f16");
    }
    if v.needs_subgroups() {
        needs.push("subgroups");
    }
    if v.kernel.coop_size().is_some() {
        needs.push("wgpu-cooperative-matrix");
    }
    DumpedVariant {
        file: format!("{name}.wgsl"),
        name,
        kernel: v.kernel.name(),
        precision: v.precision.name(),
        reduction: match v.reduction {
            Reduction::Tree => "tree",
            Reduction::Subgroup => "subgroup",
        },
        constants: v.constants.iter().copied().collect(),
        needs,
        entry_point: "main",
        source: with_source.then(|| v.source_in(Dialect::Naga)),
        browser_source: with_source.then(|| v.source_in(Dialect::Browser)),
    }
}

/// Writes every variant of [`ShaderVariant::all`] to `dir` (created if missing) and returns
/// their descriptions.
pub fn dump(dir: &Path) -> Result<Vec<DumpedVariant>> {
    let io = |path: &Path, reason: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let variants = ShaderVariant::all();
    let mut manifest = Vec::with_capacity(variants.len());
    let mut with_sources = Vec::with_capacity(variants.len());
    for v in &variants {
        let d = describe(v, true);
        let path = dir.join(&d.file);
        std::fs::write(&path, d.source.as_deref().unwrap_or_default()).map_err(|e| io(&path, e))?;
        manifest.push(describe(v, false));
        with_sources.push(d);
    }
    let json = |value: &Vec<DumpedVariant>| {
        serde_json::to_string_pretty(value)
            .map_err(|e| Error::InvalidInput(format!("cannot serialise the manifest: {e}")))
    };
    let path = dir.join("manifest.json");
    std::fs::write(&path, json(&manifest)?).map_err(|e| io(&path, e))?;
    let path = dir.join("variants.js");
    let script = format!(
        "// Written by `wgbert shaders --dump`: every shader variant with its source.\nconst WGBERT_VARIANTS = {};\n",
        json(&with_sources)?
    );
    std::fs::write(&path, script).map_err(|e| io(&path, e))?;
    let path = dir.join("check.js");
    let checks = serde_json::to_string(&numeric_checks())
        .map_err(|e| Error::InvalidInput(format!("cannot serialise the checks: {e}")))?;
    let script = format!(
        "// Written by `wgbert shaders --dump`: small runs with the CPU references' answers.\nconst WGBERT_CHECKS = {checks};\n"
    );
    std::fs::write(&path, script).map_err(|e| io(&path, e))?;
    Ok(manifest)
}

/// One input buffer of a [`NumericCheck`]: f32 values, or u32 (`type` says which).
#[derive(Clone, Debug, Serialize)]
pub struct CheckInput {
    /// `f32` or `u32`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The values (u32 ones exactly representable as f64).
    pub data: Vec<f64>,
}

/// A dispatch another WebGPU implementation can run and compare: variant, uniform parameters
/// as u32 words, input buffers (bindings 1..), workgroup grid, the output (last binding) as
/// the CPU reference computes it, and the tolerance `|got − want| ≤ atol + rtol·|want|`.
#[derive(Clone, Debug, Serialize)]
pub struct NumericCheck {
    /// What it checks.
    pub name: String,
    /// The variant's name in the dump.
    pub variant: String,
    /// The `Params` struct as u32 words.
    pub params: Vec<u32>,
    /// Input buffers in binding order.
    pub inputs: Vec<CheckInput>,
    /// Input buffers bound after the output, in binding order (the attention kernels' relative
    /// bias table follows their output).
    pub after: Vec<CheckInput>,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
    /// The CPU reference's output.
    pub expected: Vec<f32>,
    /// Absolute tolerance.
    pub atol: f32,
    /// Relative tolerance.
    pub rtol: f32,
}

/// A small f32 GEMM with the fused GELU (128×128 tiles, ragged 33 × 70 × 45), the gated and
/// accumulating epilogues, and one layer's attention with padding (2 sequences × 20 tokens,
/// 3 heads of 16), plain and with a sliding window and an ALiBi table, on seeded random data.
pub fn numeric_checks() -> Vec<NumericCheck> {
    use crate::kernels::{
        Act, AttentionParams, GemmParams, GemmVariant, Kernel, Precision, attention_grid,
    };
    use crate::reference::{self as cpu, SplitMix64};
    let f32s = |v: &[f32]| CheckInput {
        kind: "f32",
        data: v.iter().map(|&x| x as f64).collect(),
    };
    let name_of = |kernel: Kernel| {
        ShaderVariant {
            kernel,
            precision: Precision::F32,
            reduction: Reduction::Tree,
            constants: Vec::new(),
        }
        .name()
    };
    let mut rng = SplitMix64::new(11);
    let (m, n, k) = (33, 70, 45);
    let (a, w, b) = (rng.vec(m * k, 1.0), rng.vec(n * k, 0.5), rng.vec(n, 1.0));
    let gemm = NumericCheck {
        name: format!("gemm + GELU {m}x{n}x{k}"),
        variant: name_of(Kernel::GemmTile128),
        params: bytemuck::cast_slice(&[GemmParams::new(m, n, k, Act::GeluErf)]).to_vec(),
        inputs: vec![f32s(&a), f32s(&w), f32s(&b)],
        after: Vec::new(),
        groups: GemmVariant::Tile128.grid(m, n, k),
        expected: cpu::gemm(&a, &w, &b, m, n, k, Act::GeluErf),
        atol: 1e-4,
        rtol: 1e-4,
    };
    // SwiGLU: 35 pairs of interleaved (gate, linear) rows, output [m, 35].
    let pairs = 35;
    let wg = rng.vec(2 * pairs * k, 0.5);
    let bg = rng.vec(2 * pairs, 1.0);
    let glu = NumericCheck {
        name: format!("gated gemm (SiLU) {m}x{}x{k}", 2 * pairs),
        variant: name_of(Kernel::GemmTile128),
        params: bytemuck::cast_slice(&[GemmParams::glu(m, 2 * pairs, k, Act::Silu)]).to_vec(),
        inputs: vec![f32s(&a), f32s(&wg), f32s(&bg)],
        after: Vec::new(),
        groups: GemmVariant::Tile128.grid(m, 2 * pairs, k),
        expected: cpu::gemm_glu(&a, &wg, &bg, m, 2 * pairs, k, Act::Silu),
        atol: 1e-4,
        rtol: 1e-4,
    };
    let (batch, seq, heads, dh) = (2, 20, 3, 16);
    let qkv = rng.vec(batch * seq * 3 * heads * dh, 1.0);
    let mask: Vec<u32> = (0..batch * seq)
        .map(|i| (i < seq || i % seq < 13) as u32)
        .collect();
    let attention = NumericCheck {
        name: format!("attention {batch}x{seq}, {heads} heads of {dh}, padding"),
        variant: name_of(Kernel::Attention),
        params: bytemuck::cast_slice(&[AttentionParams::new(batch, seq, heads, dh)]).to_vec(),
        inputs: vec![
            f32s(&qkv),
            CheckInput {
                kind: "u32",
                data: mask.iter().map(|&x| x as f64).collect(),
            },
        ],
        after: vec![f32s(&[0.0])],
        groups: attention_grid(batch, seq, heads, dh),
        expected: cpu::attention(&qkv, &mask, batch, seq, heads, dh),
        atol: 1e-4,
        rtol: 1e-4,
    };
    // A window of ±5 keys and ALiBi's table: ModernBERT's local layers and JinaBERT in one.
    // Two padding positions, so every query's window holds real keys (a window of nothing
    // but padding is unspecified).
    let window = 5;
    let mask: Vec<u32> = (0..batch * seq)
        .map(|i| (i < seq || i % seq < seq - 2) as u32)
        .collect();
    let mask_input = CheckInput {
        kind: "u32",
        data: mask.iter().map(|&x| x as f64).collect(),
    };
    let alibi =
        crate::arch::relative_bias_table(crate::arch::RelativeBias::Alibi, None, heads, seq);
    let params = AttentionParams::new(batch, seq, heads, dh).windowed(window);
    let biased = NumericCheck {
        name: format!("attention {batch}x{seq}, window ±{window}, ALiBi"),
        params: bytemuck::cast_slice(&[AttentionParams {
            relative: 1,
            ..params
        }])
        .to_vec(),
        inputs: vec![f32s(&qkv), mask_input],
        after: vec![f32s(&alibi)],
        expected: cpu::attention_with(&qkv, &mask, batch, seq, heads, dh, window, Some(&alibi)),
        ..attention.clone()
    };
    vec![gemm, glu, attention, biased]
}
