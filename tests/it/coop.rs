//! The cooperative-matrix (tensor-core) kernels against the CPU references, on adapters that
//! list cooperative matrices (Mesa 26 lavapipe in CI: `.ci/run` runs this file through
//! `scripts/lavapipe26.sh` with `WGBERT_EXPECT_COOP=1`, so a driver without them fails there
//! instead of passing quietly). On an adapter without them the same tests check that asking for
//! a coop kernel is a clear error.

use crate::common;
use crate::common::{assert_close, cosine, data, inputs_of, kernels, minilm_dir};
use serde_json::Value;
use wgbert::kernels::{Act, GemmVariant, KernelOptions, Kernels, PoolMode, Precision};
use wgbert::ops;
use wgbert::reference::{self as cpu, SplitMix64};
use wgbert::{BertWeights, Engine, EngineOptions, Pooling, Request};

/// The coop GEMM variants this adapter runs; fails when `WGBERT_EXPECT_COOP=1` and there is none.
fn coop_variants() -> Vec<GemmVariant> {
    let ctx = kernels().ctx();
    let v: Vec<GemmVariant> = [GemmVariant::Coop8, GemmVariant::Coop16]
        .into_iter()
        .filter(|v| v.runs_on(ctx))
        .collect();
    if std::env::var("WGBERT_EXPECT_COOP").is_ok_and(|e| e == "1") {
        assert!(
            !v.is_empty(),
            "WGBERT_EXPECT_COOP=1 but {} ({}) has no usable cooperative matrices: {}",
            ctx.info.name,
            ctx.info.driver_info,
            ctx.coop_summary()
        );
    }
    v
}

/// Rounds to f16 and back, so that the coop kernels' conversion of their inputs is exact.
fn f16_round(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

#[test]
fn coop_gemm_is_exact_on_ragged_shapes() {
    let ctx = kernels().ctx().clone();
    for v in coop_variants() {
        let k = Kernels::build(ctx.clone(), Precision::F32, v);
        let mut rng = SplitMix64::new(21);
        // M, N, K not multiples of 8, 16 or 64; one row; one column; K < BK; K > BK.
        let shapes = [
            (64, 64, 64),
            (1, 1, 1),
            (7, 13, 5),
            (65, 130, 97),
            (3, 200, 1023),
            (100, 1, 33),
            (129, 257, 36),
            (17, 384, 384),
            (250, 70, 31),
        ];
        for &(m, n, kd) in &shapes {
            let a = f16_round(&rng.vec(m * kd, 1.0));
            let w = f16_round(&rng.vec(n * kd, 1.0));
            let b = rng.vec(n, 1.0);
            let got = ops::gemm(&k, &a, &w, &b, m, n, kd, Act::Identity).unwrap();
            let want = cpu::gemm(&a, &w, &b, m, n, kd, Act::Identity);
            // f16 products are exact in f32: only the f32 summation order differs.
            assert_close(
                &format!("{} {m}x{n}x{kd}", v.name()),
                &got,
                &want,
                1e-5 * (kd as f32).sqrt(),
                1e-5,
            );
        }
    }
}

#[test]
fn coop_gemm_epilogues_and_f16_storage_match_reference() {
    let ctx = kernels().ctx().clone();
    for v in coop_variants() {
        let mut rng = SplitMix64::new(22);
        let (m, n, kd) = (37, 70, 45);
        let a = rng.vec(m * kd, 1.0);
        let w = rng.vec(n * kd, 0.5);
        let b = rng.vec(n, 1.0);
        for precision in [Precision::F32, Precision::F16] {
            let k = Kernels::build(ctx.clone(), precision, v);
            for act in Act::ALL {
                let got = ops::gemm(&k, &a, &w, &b, m, n, kd, act).unwrap();
                let want = cpu::gemm(&a, &w, &b, m, n, kd, act);
                // Inputs rounded to f16 (relative 2^-11), f32 accumulation.
                assert_close(
                    &format!("{} {} act {act:?}", v.name(), precision.name()),
                    &got,
                    &want,
                    1e-2,
                    1e-2,
                );
            }
        }
    }
}

#[test]
fn coop_attention_matches_reference_with_padding_and_odd_head_dims() {
    let ctx = kernels().ctx().clone();
    for v in coop_variants() {
        let k = Kernels::build(ctx.clone(), Precision::F32, v);
        let mut rng = SplitMix64::new(23);
        // (batch, seq, heads, head_dim): one token, S not a multiple of 32, head_dim 1, 15,
        // 33 (padded to 64), 64; the second sequence of each batch ends in padding.
        for &(batch, seq, heads, dh) in &[
            (1, 1, 1, 1),
            (2, 20, 3, 16),
            (2, 37, 2, 15),
            (1, 70, 2, 64),
            (3, 33, 4, 32),
            (2, 129, 1, 33),
        ] {
            assert!(k.attention_kernel(dh).coop_size().is_some());
            let qkv = f16_round(&rng.vec(batch * seq * 3 * heads * dh, 1.0));
            let real = |b: usize| if b == 1 { seq.div_ceil(2) } else { seq };
            let mask: Vec<u32> = (0..batch * seq)
                .map(|i| (i % seq < real(i / seq)) as u32)
                .collect();
            let got = ops::attention(&k, &qkv, &mask, batch, seq, heads, dh).unwrap();
            let want = cpu::attention(&qkv, &mask, batch, seq, heads, dh);
            // The weights P are rounded to f16 (relative 2^-11) before P·V.
            assert_close(
                &format!("{} attention {batch}x{seq}x{heads}x{dh}", v.name()),
                &got,
                &want,
                2e-3,
                2e-3,
            );
        }
        // Sliding windows (ModernBERT's local layers), starting inside a key block.
        for &(batch, seq, heads, dh, window) in &[(1, 70, 2, 32, 5), (2, 129, 1, 64, 40)] {
            let qkv = f16_round(&rng.vec(batch * seq * 3 * heads * dh, 1.0));
            let mask: Vec<u32> = (0..batch * seq)
                .map(|i| (i / seq == 0 || i % seq < seq - 9) as u32)
                .collect();
            let got =
                ops::attention_windowed(&k, &qkv, &mask, batch, seq, heads, dh, window).unwrap();
            let want = cpu::attention_windowed(&qkv, &mask, batch, seq, heads, dh, window);
            // Real queries only (a window of nothing but padding is unspecified).
            let hid = heads * dh;
            let real = |x: &[f32]| -> Vec<f32> {
                x.chunks(hid)
                    .zip(&mask)
                    .filter(|(_, m)| **m != 0)
                    .flat_map(|(r, _)| r.to_vec())
                    .collect()
            };
            assert_close(
                &format!("{} windowed attention {batch}x{seq} w{window}", v.name()),
                &real(&got),
                &real(&want),
                2e-3,
                2e-3,
            );
        }
        // A relative bias table (ALiBi, MPNet's buckets), ragged last block.
        for &(batch, seq, heads, dh) in &[(1, 45, 2, 32), (2, 33, 3, 16)] {
            let qkv = f16_round(&rng.vec(batch * seq * 3 * heads * dh, 1.0));
            let mask: Vec<u32> = (0..batch * seq)
                .map(|i| (i / seq == 0 || i % seq < seq - 5) as u32)
                .collect();
            let rel = rng.vec(heads * (2 * seq - 1), 2.0);
            let got =
                ops::attention_relative(&k, &qkv, &mask, batch, seq, heads, dh, &rel).unwrap();
            let want = cpu::attention_with(&qkv, &mask, batch, seq, heads, dh, 0, Some(&rel));
            assert_close(
                &format!("{} relative attention {batch}x{seq}", v.name()),
                &got,
                &want,
                2e-3,
                2e-3,
            );
        }
        // Wider heads keep the f32 kernel.
        assert_eq!(k.attention_kernel(65), wgbert::kernels::Kernel::Attention);
        let (batch, seq, heads, dh) = (1, 9, 1, 80);
        let qkv = rng.vec(batch * seq * 3 * heads * dh, 1.0);
        let mask = vec![1u32; batch * seq];
        let got = ops::attention(&k, &qkv, &mask, batch, seq, heads, dh).unwrap();
        let want = cpu::attention(&qkv, &mask, batch, seq, heads, dh);
        assert_close("head_dim 80 fallback", &got, &want, 1e-5, 1e-5);
    }
}

#[test]
fn coop_kernels_are_an_error_where_the_adapter_has_none() {
    let ctx = kernels().ctx().clone();
    for v in [GemmVariant::Coop8, GemmVariant::Coop16] {
        if v.runs_on(&ctx) {
            continue;
        }
        let k = Kernels::build(ctx.clone(), Precision::F16, v);
        let err = ops::gemm(&k, &[1.0], &[1.0], &[0.0], 1, 1, 1, Act::Identity)
            .expect_err("a coop GEMM on an adapter without it must fail")
            .to_string();
        assert!(
            err.contains("cooperative matrices") && err.contains("WGBERT_GEMM=tile128"),
            "{err}"
        );
    }
}

/// f16 storage with the cooperative-matrix GEMM forced, as `WGBERT_GEMM=coop` does.
fn coop_f16(seq_length: usize) -> EngineOptions {
    EngineOptions {
        seq_length,
        precision: Precision::F16,
        kernels: KernelOptions {
            gemm: Some("coop".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Where the adapter has no coop GEMM, forcing one is an error that says so (never a panic,
/// never a quiet fallback to a tiled GEMM).
fn assert_coop_refused(e: wgbert::Error) {
    let msg = e.to_string();
    assert!(
        msg.contains("WGBERT_GEMM=coop") && msg.contains("cooperative-matrix"),
        "{msg}"
    );
}

#[test]
fn minilm_f16_coop_matches_goldens() {
    let has_coop = !coop_variants().is_empty();
    let engine = match Engine::from_dir(&minilm_dir(), coop_f16(128)) {
        Ok(e) => e,
        Err(e) if !has_coop => return assert_coop_refused(e),
        Err(e) => panic!("{e}"),
    };
    assert!(!has_coop || engine.gemm_variant().name().starts_with("coop"));
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("minilm_public.json")).unwrap())
            .unwrap();
    let items = g["items"].as_array().unwrap();
    let req = Request {
        pooled_output: true,
        ..Default::default()
    };
    let out = engine.encode(&inputs_of(items), None, &req).unwrap();
    common::assert_golden_cosines("f16 + coop", items, &out, 0.9995, 0.9995);
}

/// A 12-layer, 768-wide, 12-head model (bert-base's shape, random weights) with padding in
/// the batch, against the CPU reference encoder.
#[test]
fn bert_base_shaped_f16_coop_matches_the_cpu_reference() {
    let has_coop = !coop_variants().is_empty();
    let config = wgbert::bench::shape_config("bert-base").unwrap();
    let weights = BertWeights::random(&config, 7);
    let ctx = kernels().ctx().clone();
    let (batch, seq) = (2, 21);
    let engine = match Engine::from_parts(ctx, config.clone(), &weights, None, coop_f16(seq)) {
        Ok(e) => e,
        Err(e) if !has_coop => return assert_coop_refused(e),
        Err(e) => panic!("{e}"),
    };
    let mut rng = SplitMix64::new(8);
    let ids: Vec<u32> = (0..batch * seq)
        .map(|_| rng.below(config.vocab_size) as u32)
        .collect();
    let types: Vec<u32> = (0..batch * seq).map(|i| (i % seq > 12) as u32).collect();
    // The second sequence has 15 real tokens and 6 padding positions.
    let mask: Vec<u32> = (0..batch * seq)
        .map(|i| (i < seq || i % seq < 15) as u32)
        .collect();
    let req = Request {
        pooled_output: true,
        sequence_output: true,
        embedding: true,
        pooling: Pooling::Mean,
        normalize: true,
        ..Default::default()
    };
    let got = engine.run(batch, seq, &ids, &types, &mask, &req).unwrap();
    let want = cpu::forward(&config, &weights, &ids, &types, &mask, batch, seq);
    let want_emb = cpu::pooling(
        &want.sequence_output,
        &mask,
        batch,
        seq,
        config.hidden_size,
        PoolMode::Mean,
        true,
    );
    let h = config.hidden_size;
    for b in 0..batch {
        let row = b * h..(b + 1) * h;
        let c = cosine(
            &got.embedding.as_ref().unwrap()[row.clone()],
            &want_emb[row.clone()],
        );
        println!("bert-base-shaped, sequence {b}: embedding cosine {c:.7}");
        assert!(c >= 0.9995, "sequence {b}: embedding cosine {c}");
        let pooled = want.pooled_output.as_ref().unwrap();
        let c = cosine(
            &got.pooled_output.as_ref().unwrap()[row.clone()],
            &pooled[row],
        );
        println!("bert-base-shaped, sequence {b}: pooled_output cosine {c:.7}");
        assert!(c >= 0.9995, "sequence {b}: pooled_output cosine {c}");
    }
}

/// Every architecture of the seam (rotary, the gated and accumulating epilogues in the coop
/// GEMM's store, sliding windows and relative biases in the coop attention) at f16 with
/// cooperative matrices against its float64 goldens: the mean of every item within cosine
/// 0.999.
#[test]
fn every_architecture_f16_coop_matches_its_goldens() {
    let has_coop = !coop_variants().is_empty();
    for (file, name) in [
        ("nomic_golden.json", "tiny-nomic"),
        ("nomic_golden.json", "tiny-nomic-ntk"),
        ("modernbert_golden.json", "tiny-modernbert"),
        ("modernbert_golden.json", "tiny-modernbert-bias"),
        ("mpnet_golden.json", "tiny-mpnet"),
        ("gte_golden.json", "tiny-gte"),
        ("jina_golden.json", "tiny-jina"),
    ] {
        let g = common::load_golden(file);
        let s = g[name]["seq_len"].as_u64().unwrap() as usize;
        let engine = match Engine::from_dir(&data(name), coop_f16(s)) {
            Ok(e) => e,
            Err(e) if !has_coop => return assert_coop_refused(e),
            Err(e) => panic!("{e}"),
        };
        assert!(engine.gemm_variant().name().starts_with("coop"));
        let items = g[name]["items"].as_array().unwrap();
        let inputs: Vec<wgbert::Input> = items.iter().map(common::arch_item_input).collect();
        let req = Request {
            pooled_output: false,
            embedding: true,
            pooling: Pooling::Mean,
            normalize: false,
            ..Default::default()
        };
        let out = engine.encode(&inputs, Some(s), &req).unwrap();
        let mut lowest = 1.0f64;
        for (item, e) in items.iter().zip(&out) {
            let c = cosine(e.embedding.as_ref().unwrap(), &common::f32s(&item["mean"]));
            lowest = lowest.min(c);
            assert!(c >= 0.999, "{name}: mean cosine {c}");
        }
        println!("{name} f16 + coop: lowest mean cosine {lowest:.7}");
    }
}
