//! Every shader parses and validates with naga (no GPU needed), and each kernel's WGSL
//! `Params` struct agrees with its Rust `#[repr(C)]` mirror field by field.

use std::mem::{offset_of, size_of};
use wgbert::kernels::*;

fn module(k: Kernel) -> naga::Module {
    naga::front::wgsl::parse_str(&k.source()).unwrap_or_else(|e| {
        panic!(
            "{}.wgsl does not parse:\n{}",
            k.name(),
            e.emit_to_string(&k.source())
        )
    })
}

#[test]
fn every_shader_validates_with_naga() {
    for k in Kernel::ALL {
        let m = module(k);
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        if let Err(e) = v.validate(&m) {
            panic!(
                "{}.wgsl fails validation:\n{}",
                k.name(),
                e.emit_to_string(&k.source())
            );
        }
        let ep = m
            .entry_points
            .iter()
            .find(|e| e.name == "main")
            .unwrap_or_else(|| panic!("{}: no `main` entry point", k.name()));
        assert_eq!(ep.stage, naga::ShaderStage::Compute, "{}", k.name());
        let invocations: u32 = ep.workgroup_size.iter().product();
        assert!(
            invocations <= 256,
            "{}: {invocations} invocations per workgroup is above WebGPU's default limit",
            k.name()
        );
    }
}

#[test]
fn every_shader_validates_at_f16_storage() {
    for k in Kernel::ALL {
        let src = k.source_for(Precision::F16);
        let m = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| {
            panic!(
                "{} (f16) does not parse:\n{}",
                k.name(),
                e.emit_to_string(&src)
            )
        });
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        if let Err(e) = v.validate(&m) {
            panic!(
                "{} (f16) fails validation:\n{}",
                k.name(),
                e.emit_to_string(&src)
            );
        }
    }
}

#[test]
fn every_shader_file_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.file_stem()).collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "wgsl") {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                names.contains(&stem.as_str()),
                "shaders/{stem}.wgsl is not a Kernel"
            );
        }
    }
}

fn wgsl_params(k: Kernel) -> (Vec<(String, u32)>, u32) {
    let m = module(k);
    let (_, var) = m
        .global_variables
        .iter()
        .find(|(_, v)| v.name.as_deref() == Some("params"))
        .expect("a `params` uniform");
    match &m.types[var.ty].inner {
        naga::TypeInner::Struct { members, span } => (
            members
                .iter()
                .map(|mb| (mb.name.clone().unwrap_or_default(), mb.offset))
                .collect(),
            *span,
        ),
        other => panic!("{}: params is {other:?}, not a struct", k.name()),
    }
}

macro_rules! rust_layout {
    ($t:ty; $($f:ident),*) => {
        (vec![$((stringify!($f).to_string(), offset_of!($t, $f) as u32)),*], size_of::<$t>() as u32)
    };
}

#[test]
fn params_structs_match_their_wgsl_mirrors() {
    let cases = [
        (
            Kernel::GemmTile128,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmTile64,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmTile128V4,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmTile32x64Scalar,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmTile32x64,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmTile128B16,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmDirect4x4,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmDirect16x2,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmCoop8,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::GemmCoop16,
            rust_layout!(GemmParams; m, n, k, act, a_stride, glu, accumulate, _pad2),
        ),
        (
            Kernel::Embeddings,
            rust_layout!(EmbeddingsParams; rows, seq, hidden, vocab, type_vocab, eps, pos_offset, pad_position, gathered, positions, _pad1, _pad2),
        ),
        (
            Kernel::Attention,
            rust_layout!(AttentionParams; batch, seq, heads, head_dim, hidden, scale, window, relative),
        ),
        (
            Kernel::AttentionCoop8,
            rust_layout!(AttentionParams; batch, seq, heads, head_dim, hidden, scale, window, relative),
        ),
        (
            Kernel::AttentionCoop16,
            rust_layout!(AttentionParams; batch, seq, heads, head_dim, hidden, scale, window, relative),
        ),
        (
            Kernel::AddLayerNorm,
            rust_layout!(AddLayerNormParams; rows, hidden, eps, mode),
        ),
        (
            Kernel::Gelu,
            rust_layout!(GeluParams; len, _pad0, _pad1, _pad2),
        ),
        (
            Kernel::Pooling,
            rust_layout!(PoolingParams; batch, seq, hidden, normalize),
        ),
        (
            Kernel::GatherRows,
            rust_layout!(GatherRowsParams; rows, hidden, first, count),
        ),
        (
            Kernel::Splade,
            rust_layout!(SpladeParams; batch, seq, vocab, row0, rows, init, twice, col0, stride, _pad0, _pad1, _pad2),
        ),
        (
            Kernel::Rope,
            rust_layout!(RopeParams; rows, seq, heads, head_dim, rot_dim, stride, parts, _pad),
        ),
    ];
    assert_eq!(
        cases.len(),
        Kernel::ALL.len(),
        "a kernel is missing from this test"
    );
    for (k, (fields, size)) in cases {
        let (wgsl, span) = wgsl_params(k);
        assert_eq!(
            wgsl,
            fields,
            "{}: WGSL Params fields/offsets differ from the Rust struct",
            k.name()
        );
        assert_eq!(span, size, "{}: WGSL Params size differs", k.name());
        assert_eq!(size as usize, k.params_size());
        assert_eq!(
            size % 16,
            0,
            "{}: uniform structs are padded to 16 bytes",
            k.name()
        );
    }
}
