//! Every kernel against its plain-Rust reference (`wgbert::reference`) on random shapes,
//! including sizes that are not multiples of the tile, single rows and K not divisible by 4.

use crate::common::{assert_close, kernels};
use wgbert::kernels::{Act, GemmVariant, Kernels, PoolMode, Reduction, SpladePool};
use wgbert::ops;
use wgbert::reference::{self as cpu, SplitMix64};

/// One kernel set per GEMM variant, on the shared context.
fn gemm_variants() -> Vec<Kernels> {
    GemmVariant::PORTABLE
        .iter()
        .map(|&v| Kernels::with_gemm(kernels().ctx().clone(), v))
        .collect()
}

/// One kernel set per workgroup reduction (tree, subgroup) for the row kernels. lavapipe and
/// every GPU here have SUBGROUP: its absence fails rather than leaving a variant untested.
fn row_kernels() -> Vec<Kernels> {
    let ctx = kernels().ctx().clone();
    assert!(
        ctx.has(wgpu::Features::SUBGROUP),
        "{} lacks SUBGROUP; the subgroup reductions cannot be tested here",
        ctx.info.name
    );
    [Reduction::Tree, Reduction::Subgroup]
        .into_iter()
        .map(|r| Kernels::with_gemm(ctx.clone(), GemmVariant::Tile128).with_reduction(r))
        .collect()
}

#[test]
fn gemm_matches_reference_on_awkward_shapes() {
    for k in &gemm_variants() {
        let v = k.gemm_variant().name();
        let mut rng = SplitMix64::new(1);
        // (M, N, K): tile multiples, odd sizes, one row, one column, K % 4 != 0, K < BK.
        let shapes = [
            (64, 64, 64),
            (1, 1, 1),
            (1, 384, 384),
            (7, 13, 5),
            (65, 130, 97),
            (128, 96, 3),
            (3, 200, 1023),
            (100, 1, 33),
            // K % 4 == 0 with ragged M and N (the vec4-load variant runs these).
            (65, 130, 100),
            (3, 200, 1024),
            (1, 1, 4),
            (129, 257, 36),
        ];
        for &(m, n, kd) in &shapes {
            let a = rng.vec(m * kd, 1.0);
            let w = rng.vec(n * kd, 1.0);
            let b = rng.vec(n, 1.0);
            let got = ops::gemm(k, &a, &w, &b, m, n, kd, Act::Identity).unwrap();
            let want = cpu::gemm(&a, &w, &b, m, n, kd, Act::Identity);
            assert_close(
                &format!("gemm {v} {m}x{n}x{kd}"),
                &got,
                &want,
                1e-5 * (kd as f32).sqrt(),
                1e-5,
            );
        }
    }
}

#[test]
fn gemm_fused_epilogues_match_reference() {
    for k in &gemm_variants() {
        let v = k.gemm_variant().name();
        let mut rng = SplitMix64::new(2);
        // K % 4 != 0 and == 0: the vec4 and direct kernels have their own epilogues.
        for (m, n, kd) in [(37, 70, 45), (37, 70, 44)] {
            let a = rng.vec(m * kd, 1.0);
            let w = rng.vec(n * kd, 0.5);
            let b = rng.vec(n, 1.0);
            for act in [Act::GeluErf, Act::GeluTanh, Act::Tanh, Act::Relu] {
                let got = ops::gemm(k, &a, &w, &b, m, n, kd, act).unwrap();
                let want = cpu::gemm(&a, &w, &b, m, n, kd, act);
                assert_close(
                    &format!("gemm {v} {kd} act {act:?}"),
                    &got,
                    &want,
                    2e-5,
                    1e-5,
                );
            }
        }
    }
}

/// The gated epilogue (SwiGLU, GeGLU, GLU) of every variant: pairs of adjacent weight rows,
/// awkward M, odd pair counts, K both a multiple of 4 and not, an output narrower than a tile.
#[test]
fn gemm_gated_epilogue_matches_reference() {
    for k in &gemm_variants() {
        let v = k.gemm_variant().name();
        let mut rng = SplitMix64::new(5);
        for (m, pairs, kd) in [(37, 35, 45), (37, 35, 44), (5, 3, 8), (130, 72, 64)] {
            let n = 2 * pairs;
            let a = rng.vec(m * kd, 1.0);
            let gate = rng.vec(pairs * kd, 0.5);
            let lin = rng.vec(pairs * kd, 0.5);
            let (gb, lb) = (rng.vec(pairs, 1.0), rng.vec(pairs, 1.0));
            let w = wgbert::kernels::glu_pairs(&gate, &lin, kd);
            let b = wgbert::kernels::glu_pairs(&gb, &lb, 1);
            for act in [Act::Silu, Act::GeluErf, Act::Sigmoid] {
                let got = ops::gemm_glu(k, &a, &w, &b, m, n, kd, act).unwrap();
                // Independent of the pair layout: the two halves computed apart.
                let g = cpu::gemm(&a, &gate, &gb, m, pairs, kd, act);
                let l = cpu::gemm(&a, &lin, &lb, m, pairs, kd, Act::Identity);
                let want: Vec<f32> = g.iter().zip(&l).map(|(x, y)| x * y).collect();
                assert_eq!(got.len(), m * pairs);
                assert_close(
                    &format!("gemm {v} glu {m}x{n}x{kd} {act:?}"),
                    &got,
                    &want,
                    5e-5,
                    2e-5,
                );
                let reference = cpu::gemm_glu(&a, &w, &b, m, n, kd, act);
                assert_close("reference glu", &reference, &want, 1e-6, 1e-6);
            }
        }
    }
}

/// The accumulating epilogue (a residual added in place) of every variant, plain and gated.
#[test]
fn gemm_accumulating_epilogue_adds_to_what_c_holds() {
    for k in &gemm_variants() {
        let v = k.gemm_variant().name();
        let mut rng = SplitMix64::new(6);
        for (m, n, kd) in [(37, 70, 44), (5, 8, 8), (130, 64, 32)] {
            let a = rng.vec(m * kd, 1.0);
            let w = rng.vec(n * kd, 0.5);
            let b = rng.vec(n, 1.0);
            let c = rng.vec(m * n, 1.0);
            let got = ops::gemm_accumulate(k, &a, &w, &b, &c, m, n, kd, Act::Identity).unwrap();
            let want: Vec<f32> = cpu::gemm(&a, &w, &b, m, n, kd, Act::Identity)
                .iter()
                .zip(&c)
                .map(|(x, y)| x + y)
                .collect();
            assert_close(
                &format!("gemm {v} accumulate {m}x{n}x{kd}"),
                &got,
                &want,
                2e-5,
                1e-5,
            );
        }
    }
}

/// WebGPU refuses a dispatch whose written buffer is also bound elsewhere (the native back ends
/// run it): every dispatch is checked for that, on every platform, so a plan a browser would
/// refuse fails here. The LayerNorm without a kept sum binds a spare buffer for it.
#[test]
fn a_written_buffer_bound_twice_is_refused_as_webgpu_does() {
    let k = kernels();
    let ctx = k.ctx();
    let x = ctx.storage("x", 4 * 8).unwrap();
    let g = ctx.storage("g", 8).unwrap();
    let out = ctx.storage("out", 4 * 8).unwrap();
    // out doubles as the residual: read at binding 2, written at binding 5.
    let e = k
        .layernorm("alias", 4, 8, 1e-5, &x, Some(&out), [&g, &g], &out, None)
        .err()
        .expect("a written buffer bound twice must be refused");
    let text = e.to_string();
    assert!(
        text.contains("bindings 5 (written) and 2") && text.contains("WebGPU"),
        "{text}"
    );
    // Without a residual or a kept sum nothing aliases.
    k.layernorm("plain", 4, 8, 1e-5, &x, None, [&g, &g], &out, None)
        .unwrap();
}

/// The LayerNorm kernel's modes: without a residual (a plain LayerNorm), and with the sum
/// written out (pre-LayerNorm blocks).
#[test]
fn layernorm_modes_match_reference() {
    for k in &row_kernels() {
        let mut rng = SplitMix64::new(9);
        for (rows, h) in [(3, 7), (5, 384), (2, 1000)] {
            let x = rng.vec(rows * h, 2.0);
            let r = rng.vec(rows * h, 1.0);
            let g = rng.vec(h, 1.0);
            let b = rng.vec(h, 0.5);
            let zeros = vec![0.0; rows * h];
            let (plain, none) = ops::layernorm(k, &x, None, &g, &b, h, 1e-5).unwrap();
            assert!(none.is_none());
            let want = cpu::add_layernorm(&x, &zeros, &g, &b, h, 1e-5);
            assert_close(&format!("layernorm {rows}x{h}"), &plain, &want, 2e-5, 1e-5);
            let (out, sum) = ops::layernorm(k, &x, Some(&r), &g, &b, h, 1e-5).unwrap();
            let want = cpu::add_layernorm(&x, &r, &g, &b, h, 1e-5);
            assert_close(
                &format!("add+layernorm {rows}x{h}"),
                &out,
                &want,
                2e-5,
                1e-5,
            );
            let want_sum: Vec<f32> = x.iter().zip(&r).map(|(a, b)| a + b).collect();
            assert_close("sum", &sum.unwrap(), &want_sum, 1e-6, 0.0);
        }
    }
}

#[test]
fn activations_match_reference_over_a_wide_range() {
    let k = kernels();
    let x: Vec<f32> = (0..20_001).map(|i| -10.0 + i as f32 * 0.001).collect();
    for act in [
        Act::GeluErf,
        Act::GeluTanh,
        Act::Tanh,
        Act::Relu,
        Act::Silu,
        Act::Sigmoid,
    ] {
        let got = ops::activation(k, &x, act).unwrap();
        let want: Vec<f32> = x
            .iter()
            .map(|&v| cpu::activate(v as f64, act) as f32)
            .collect();
        assert_close(&format!("activation {act:?}"), &got, &want, 2e-6, 2e-6);
    }
    // Extreme inputs stay finite (tanh from exp would overflow).
    let big = [-1e30f32, -100.0, 100.0, 1e30];
    for act in [
        Act::GeluErf,
        Act::GeluTanh,
        Act::Tanh,
        Act::Silu,
        Act::Sigmoid,
    ] {
        let got = ops::activation(k, &big, act).unwrap();
        assert!(got.iter().all(|v| v.is_finite()), "act {act:?}: {got:?}");
    }
}

#[test]
fn reference_erf_is_accurate() {
    // Known values of erf (Abramowitz & Stegun table 7.1).
    for (x, want) in [
        (0.0, 0.0),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.5, 0.999_999_256_901_627_7),
    ] {
        assert!(
            (cpu::erf(x) - want).abs() < 1e-13,
            "erf({x}) = {} vs {want}",
            cpu::erf(x)
        );
        assert!((cpu::erf(-x) + want).abs() < 1e-13);
    }
}

#[test]
fn add_layernorm_matches_reference() {
    for k in &row_kernels() {
        let r_name = k.reduction().name();
        let mut rng = SplitMix64::new(3);
        for &(rows, h) in &[(1, 1), (1, 384), (5, 60), (33, 100), (4, 1000)] {
            let x = rng.vec(rows * h, 3.0);
            let r = rng.vec(rows * h, 1.0);
            let g: Vec<f32> = rng.vec(h, 0.2).iter().map(|v| v + 1.0).collect();
            let b = rng.vec(h, 0.1);
            for eps in [1e-12f32, 1e-5] {
                let got = ops::add_layernorm(k, &x, &r, &g, &b, h, eps).unwrap();
                let want = cpu::add_layernorm(&x, &r, &g, &b, h, eps as f64);
                let atol = if h == 1 { 1e-3 } else { 2e-5 }; // a 1-wide row normalises to beta
                assert_close(
                    &format!("add_layernorm {r_name} {rows}x{h}"),
                    &got,
                    &want,
                    atol,
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn embeddings_match_reference() {
    for k in &row_kernels() {
        let mut rng = SplitMix64::new(4);
        let (vocab, maxpos, tv, h) = (50, 20, 2, 70);
        let word = rng.vec(vocab * h, 1.0);
        let position = rng.vec(maxpos * h, 0.3);
        let token_type = rng.vec(tv * h, 0.3);
        let gamma: Vec<f32> = rng.vec(h, 0.2).iter().map(|v| v + 1.0).collect();
        let beta = rng.vec(h, 0.1);
        let t = cpu::EmbeddingTables {
            word: &word,
            position: &position,
            token_type: &token_type,
            gamma: &gamma,
            beta: &beta,
        };
        for &(batch, seq) in &[(1, 1), (3, 7), (2, 20)] {
            let ids: Vec<u32> = (0..batch * seq).map(|_| rng.below(vocab) as u32).collect();
            let types: Vec<u32> = (0..batch * seq).map(|_| rng.below(tv) as u32).collect();
            let got = ops::embeddings(k, &ids, &types, seq, h, &t, vocab, tv, 1e-12).unwrap();
            let want = cpu::embeddings(&ids, &types, seq, h, &t, 1e-12);
            assert_close(
                &format!("embeddings {} {batch}x{seq}", k.reduction().name()),
                &got,
                &want,
                2e-5,
                1e-5,
            );
        }
    }
}

#[test]
fn attention_matches_reference_with_padding() {
    let k = kernels();
    let mut rng = SplitMix64::new(5);
    // (batch, seq, heads, head_dim): one token, odd sizes, > one 64-key chunk, D up to 256.
    for &(batch, seq, heads, dh) in &[
        (1, 1, 1, 1),
        (2, 5, 3, 15),
        (2, 70, 4, 16),
        (1, 130, 2, 64),
        (1, 9, 1, 256),
        (3, 64, 12, 32),
    ] {
        let hid = heads * dh;
        let qkv = rng.vec(batch * seq * 3 * hid, 1.0);
        // Row b has seq - b real tokens (at least one), the rest padding.
        let mask: Vec<u32> = (0..batch)
            .flat_map(|b| (0..seq).map(move |s| (s + b < seq || s == 0) as u32))
            .collect();
        let got = ops::attention(k, &qkv, &mask, batch, seq, heads, dh).unwrap();
        let want = cpu::attention(&qkv, &mask, batch, seq, heads, dh);
        assert_close(
            &format!("attention b{batch} s{seq} h{heads} d{dh}"),
            &got,
            &want,
            2e-5,
            1e-5,
        );
    }
}

/// Sliding-window attention (ModernBERT's local layers): windows smaller and larger than a
/// workgroup's rows, a window that starts mid key block, padding inside and outside it.
#[test]
fn windowed_attention_matches_reference() {
    let k = kernels();
    let mut rng = SplitMix64::new(15);
    for &(batch, seq, heads, dh, window) in &[
        (1, 9, 1, 8, 1),
        (2, 70, 2, 16, 4),
        (1, 130, 2, 32, 13),
        (2, 67, 3, 24, 64),
        (1, 300, 1, 64, 100),
    ] {
        let hid = heads * dh;
        let qkv = rng.vec(batch * seq * 3 * hid, 1.0);
        let mask: Vec<u32> = (0..batch)
            .flat_map(|b| (0..seq).map(move |s| (s + 5 * b < seq || s == 0) as u32))
            .collect();
        let got = ops::attention_windowed(k, &qkv, &mask, batch, seq, heads, dh, window).unwrap();
        let want = cpu::attention_windowed(&qkv, &mask, batch, seq, heads, dh, window);
        // Real queries only: a padding query whose window holds only padding keys averages
        // them, and f32 cannot tell their scores apart at −1e9 (unspecified, like
        // Hugging Face's NaN there).
        let real = |v: &[f32]| -> Vec<f32> {
            v.chunks(hid)
                .zip(&mask)
                .filter(|(_, m)| **m != 0)
                .flat_map(|(r, _)| r.to_vec())
                .collect()
        };
        assert_close(
            &format!("windowed attention b{batch} s{seq} h{heads} d{dh} w{window}"),
            &real(&got),
            &real(&want),
            2e-5,
            1e-5,
        );
        // A window covering the sequence is global attention.
        if window >= seq {
            let global = cpu::attention(&qkv, &mask, batch, seq, heads, dh);
            assert_close("window ≥ S", &want, &global, 1e-7, 0.0);
        }
    }
}

/// Attention with a relative bias table (MPNet's buckets, ALiBi): random tables at awkward
/// shapes (one token, S not a multiple of the key block, D up to 256), and the tables the
/// architectures build, with padding and with a window.
#[test]
fn relative_bias_attention_matches_reference() {
    use wgbert::arch::{RelativeBias, relative_bias_table};
    let k = kernels();
    let mut rng = SplitMix64::new(16);
    for &(batch, seq, heads, dh) in &[
        (1, 1, 1, 4),
        (2, 37, 3, 16),
        (1, 130, 2, 64),
        (1, 9, 1, 256),
    ] {
        let hid = heads * dh;
        let qkv = rng.vec(batch * seq * 3 * hid, 1.0);
        let mask: Vec<u32> = (0..batch * seq)
            .map(|i| (i / seq == 0 || i % seq < seq.div_ceil(2)) as u32)
            .collect();
        let buckets = rng.vec(32 * heads, 2.0);
        for (what, rel) in [
            ("random", rng.vec(heads * (2 * seq - 1), 3.0)),
            (
                "buckets",
                relative_bias_table(
                    RelativeBias::Buckets {
                        num_buckets: 32,
                        max_distance: 128,
                    },
                    Some(&buckets),
                    heads,
                    seq,
                ),
            ),
            (
                "alibi",
                relative_bias_table(RelativeBias::Alibi, None, heads, seq),
            ),
        ] {
            let got = ops::attention_relative(k, &qkv, &mask, batch, seq, heads, dh, &rel).unwrap();
            let want = cpu::attention_with(&qkv, &mask, batch, seq, heads, dh, 0, Some(&rel));
            assert_close(
                &format!("{what} relative attention b{batch} s{seq} h{heads} d{dh}"),
                &got,
                &want,
                2e-5,
                1e-5,
            );
        }
    }
}

#[test]
fn pooler_matches_reference() {
    // Every GEMM variant: the pooler reads A with a row stride of S·H, not K.
    for k in &gemm_variants() {
        let v = k.gemm_variant().name();
        let mut rng = SplitMix64::new(6);
        for &(batch, seq, h) in &[(1, 1, 1), (3, 4, 60), (2, 8, 130), (35, 3, 64)] {
            let x = rng.vec(batch * seq * h, 1.0);
            let w = rng.vec(h * h, 0.3);
            let b = rng.vec(h, 0.3);
            let got = ops::pooler(k, &x, &w, &b, batch, seq, h).unwrap();
            let want = cpu::pooler(&x, &w, &b, batch, seq, h);
            assert_close(
                &format!("pooler {v} {batch}x{seq}x{h}"),
                &got,
                &want,
                2e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn splade_matches_reference_across_chunks_that_cut_sequences() {
    let k = kernels();
    let mut rng = SplitMix64::new(21);
    // (batch, seq, vocab, chunk rows): one row; a vocabulary not a multiple of 64; chunks that
    // end inside a sequence, one row at a time, and the whole batch in one chunk.
    for &(batch, seq, vocab, chunk) in &[
        (1, 1, 1, 1),
        (3, 7, 130, 5),
        (2, 9, 64, 1),
        (4, 5, 77, 20),
        (2, 6, 1000, 4),
    ] {
        // Wide logits: most are negative (zero weight), a few tiny (log1p's accuracy).
        let mut logits = rng.vec(batch * seq * vocab, 6.0);
        for x in logits.iter_mut().step_by(7) {
            *x *= 1e-6;
        }
        let mask: Vec<u32> = (0..batch)
            .flat_map(|b| (0..seq).map(move |s| (s <= b * 2) as u32))
            .collect();
        for pool in SpladePool::ALL {
            for twice in [false, true] {
                let got =
                    ops::splade(k, &logits, &mask, batch, seq, vocab, pool, twice, chunk).unwrap();
                let want = cpu::splade(&logits, &mask, batch, seq, vocab, pool, twice);
                assert_close(
                    &format!("splade {pool:?} twice {twice} {batch}x{seq}x{vocab} chunk {chunk}"),
                    &got,
                    &want,
                    1e-9,
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn rope_matches_reference_at_awkward_shapes_and_long_positions() {
    let k = kernels();
    let mut rng = SplitMix64::new(29);
    // (rows, seq, heads, head_dim, rot_dim, parts, base, position scale): fused QKV rows with
    // query and key rotated; a partial rotary dimension; one part; positions past 8 000 at
    // ModernBERT's global theta, and linear scaling.
    for &(rows, seq, heads, hd, rot, parts, base, scale) in &[
        (
            7usize, 7usize, 3usize, 10usize, 10usize, 2usize, 10_000.0, 1.0,
        ),
        (12, 5, 2, 16, 8, 2, 10_000.0, 1.0),
        (3, 3, 1, 2, 2, 1, 500.0, 1.0),
        (8200, 8200, 1, 8, 8, 2, 160_000.0, 1.0),
        (40, 40, 4, 6, 4, 2, 10_000.0, 2.0),
    ] {
        let stride = 3 * heads * hd;
        let x = rng.vec(rows * stride, 2.0);
        let got = ops::rope(k, &x, seq, heads, hd, rot, stride, parts, base, scale).unwrap();
        let want = cpu::rope(&x, seq, heads, hd, rot, stride, parts, base, scale);
        assert_close(
            &format!("rope {rows}x{heads}x{hd} rot {rot} parts {parts} base {base} scale {scale}"),
            &got,
            &want,
            1e-6,
            1e-5,
        );
        // The value block and the unrotated tail pass through untouched.
        let untouched = (0..rows)
            .all(|r| (2 * heads * hd..stride).all(|j| got[r * stride + j] == x[r * stride + j]));
        assert!(untouched, "rope wrote outside the query and key blocks");
    }
}

#[test]
fn pooling_modes_match_reference() {
    for k in &row_kernels() {
        let mut rng = SplitMix64::new(7);
        for &(batch, seq, h) in &[(1, 1, 1), (3, 9, 60), (2, 40, 384)] {
            let x = rng.vec(batch * seq * h, 2.0);
            let mask: Vec<u32> = (0..batch)
                .flat_map(|b| (0..seq).map(move |s| (s <= b * 3) as u32))
                .collect();
            for mode in PoolMode::ALL {
                for normalize in [false, true] {
                    let got = ops::pooling(k, &x, &mask, batch, seq, h, mode, normalize).unwrap();
                    let want = cpu::pooling(&x, &mask, batch, seq, h, mode, normalize);
                    assert_close(
                        &format!(
                            "pooling {} mode {mode:?} norm {normalize} {batch}x{seq}x{h}",
                            k.reduction().name()
                        ),
                        &got,
                        &want,
                        2e-6,
                        1e-5,
                    );
                }
            }
        }
    }
}

#[test]
fn kernels_at_f16_storage_match_reference_within_f16_rounding() {
    let ctx = kernels().ctx().clone();
    if !ctx.has(wgpu::Features::SHADER_F16) {
        panic!(
            "{} lacks SHADER_F16; the f16 path cannot be tested here",
            ctx.info.name
        );
    }
    let mut rng = SplitMix64::new(9);
    for v in GemmVariant::ALL.into_iter().filter(|v| v.runs_on(&ctx)) {
        let k = Kernels::build(ctx.clone(), wgbert::kernels::Precision::F16, v);
        let (m, n, kd) = (33, 70, 45);
        let a = rng.vec(m * kd, 1.0);
        let w = rng.vec(n * kd, 0.3);
        let b = rng.vec(n, 0.5);
        let got = ops::gemm(&k, &a, &w, &b, m, n, kd, Act::GeluErf).unwrap();
        let want = cpu::gemm(&a, &w, &b, m, n, kd, Act::GeluErf);
        assert_close(&format!("f16 gemm {}", v.name()), &got, &want, 1e-2, 1e-2);
    }
    let k = Kernels::build(ctx, wgbert::kernels::Precision::F16, GemmVariant::Tile128);
    let (h, rows) = (96, 5);
    let x = rng.vec(rows * h, 2.0);
    let r = rng.vec(rows * h, 1.0);
    let g: Vec<f32> = rng.vec(h, 0.2).iter().map(|v| v + 1.0).collect();
    let be = rng.vec(h, 0.1);
    let got = ops::add_layernorm(&k, &x, &r, &g, &be, h, 1e-12).unwrap();
    assert_close(
        "f16 add_layernorm",
        &got,
        &cpu::add_layernorm(&x, &r, &g, &be, h, 1e-12),
        1e-2,
        1e-2,
    );
    let (batch, seq, heads, dh) = (2, 20, 3, 16);
    let qkv = rng.vec(batch * seq * 3 * heads * dh, 1.0);
    let mask: Vec<u32> = (0..batch * seq).map(|i| (i % seq < 15) as u32).collect();
    let got = ops::attention(&k, &qkv, &mask, batch, seq, heads, dh).unwrap();
    assert_close(
        "f16 attention",
        &got,
        &cpu::attention(&qkv, &mask, batch, seq, heads, dh),
        1e-2,
        1e-2,
    );
}

#[test]
fn autotuner_times_repeated_dispatches_and_returns_a_variant() {
    use wgbert::tune;
    let k = kernels();
    let shape = (64, 96, 40);
    for v in wgbert::tune::candidates(k) {
        let single = tune::time_gemm(k, v, shape, 1).unwrap();
        let repeated = tune::time_gemm(k, v, shape, 8).unwrap();
        assert!(
            single.is_finite() && single > 0.0 && repeated.is_finite() && repeated > 0.0,
            "{}: {single} s, {repeated} s per dispatch",
            v.name()
        );
    }
    let reps = tune::repeats(k, shape, 0.005).unwrap();
    assert!((1..=200).contains(&reps), "{reps} repeats");
    let chosen = tune::fastest(k, &[(shape, 4), ((33, 70, 64), 2)]).unwrap();
    assert!(tune::candidates(k).contains(&chosen));
}
