//! What cannot run here still has to compile: every shader variant (each kernel, precision and
//! pipeline-constant value, `ShaderVariant::all`) is validated by naga with its overrides
//! applied and translated by naga's SPIR-V (Vulkan), MSL (Metal) and HLSL (DX12) back ends, so
//! a Metal or DX12 break shows in CI without those machines. Cooperative matrices have no HLSL
//! translation in naga 30 (and wgpu 30 offers them on Vulkan and Metal only): those variants
//! go through SPIR-V and MSL, and the test names what it leaves out.

use naga::back::{hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgbert::kernels::ShaderVariant;

/// The module of `v` with its pipeline constants applied, validated.
fn resolved(v: &ShaderVariant) -> (naga::Module, naga::valid::ModuleInfo) {
    let src = v.source();
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{}: {}", v.name(), e.emit_to_string(&src)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", v.name(), e.emit_to_string(&src)));
    let mut constants = naga::back::PipelineConstants::default();
    for (c, value) in &v.constants {
        constants.insert(c.to_string(), *value);
    }
    let (m, i) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, "main")),
        &constants,
    )
    .unwrap_or_else(|e| panic!("{}: overrides: {e}", v.name()));
    (m.into_owned(), i.into_owned())
}

#[test]
fn every_variant_translates_to_spirv_msl_and_hlsl() {
    let variants = ShaderVariant::all();
    let mut no_hlsl = Vec::new();
    for v in &variants {
        let (module, info) = resolved(v);
        let ep = &module.entry_points[0];
        let invocations: u32 = ep.workgroup_size.iter().product();
        assert!(
            (1..=1024).contains(&invocations),
            "{}: {invocations} invocations per workgroup",
            v.name()
        );

        let spv_options = spv::Options {
            lang_version: (1, 4),
            ..Default::default()
        };
        let pipeline = spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: "main".into(),
        };
        let words = spv::write_vec(&module, &info, &spv_options, Some(&pipeline))
            .unwrap_or_else(|e| panic!("{}: SPIR-V: {e}", v.name()));
        assert!(words.len() > 5 && words[0] == 0x0723_0203, "{}", v.name());

        let msl_options = msl::Options {
            lang_version: (3, 0),
            ..Default::default()
        };
        let (text, _) = msl::write_string(
            &module,
            &info,
            &msl_options,
            &msl::PipelineOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}: MSL: {e}", v.name()));
        assert!(text.contains("kernel void"), "{}: no MSL kernel", v.name());

        if v.kernel.coop_size().is_some() {
            no_hlsl.push(v.name());
            continue;
        }
        let hlsl_options = hlsl::Options {
            shader_model: hlsl::ShaderModel::V6_2,
            ..Default::default()
        };
        let mut text = String::new();
        hlsl::Writer::new(&mut text, &hlsl_options, &hlsl::PipelineOptions::default())
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{}: HLSL: {e}", v.name()));
        assert!(
            text.contains("[numthreads("),
            "{}: no HLSL kernel",
            v.name()
        );
    }
    println!(
        "{} variants translated; without HLSL (cooperative matrices): {}",
        variants.len(),
        no_hlsl.join(", ")
    );
    assert!(no_hlsl.iter().all(|n| n.contains("_coop")));
}

/// `wgbert shaders --dump` writes every variant as compiled, a manifest and the page's data.
#[test]
fn the_dump_holds_every_variant_and_its_needs() {
    let dir = tempfile::tempdir().unwrap();
    let written = wgbert::shaders::dump(dir.path()).unwrap();
    let all = ShaderVariant::all();
    assert_eq!(written.len(), all.len());
    let mut names: Vec<&str> = written.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "variant names are unique");
    for (d, v) in written.iter().zip(&all) {
        let text = std::fs::read_to_string(dir.path().join(&d.file)).unwrap();
        assert_eq!(text, v.source(), "{}", d.name);
        assert_eq!(d.needs.contains(&"shader-f16"), v.needs_f16(), "{}", d.name);
        assert_eq!(
            d.needs.contains(&"subgroups"),
            v.needs_subgroups(),
            "{}",
            d.name
        );
        assert!(
            d.source.is_none(),
            "the manifest leaves the sources to the files"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), all.len());
    let script = std::fs::read_to_string(dir.path().join("variants.js")).unwrap();
    let json = script
        .split_once("const WGBERT_VARIANTS = ")
        .and_then(|(_, rest)| rest.trim_end().strip_suffix(';'))
        .expect("variants.js assigns WGBERT_VARIANTS");
    let with_sources: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(
        with_sources[0]["source"]
            .as_str()
            .unwrap()
            .contains("fn main")
    );
    assert!(
        std::fs::read_to_string(dir.path().join("check.js"))
            .unwrap()
            .contains("const WGBERT_CHECKS = ")
    );
    // The numeric checks name dumped variants and carry finite answers.
    for c in wgbert::shaders::numeric_checks() {
        assert!(names.contains(&c.variant.as_str()), "{}", c.variant);
        assert!(c.expected.iter().all(|v| v.is_finite()), "{}", c.name);
    }
}
