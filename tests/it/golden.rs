//! End-to-end fidelity against float64 goldens made by `../shared/reference/make_golden.py`:
//! all-MiniLM-L6-v2 on the public sentences and on edge cases (pairs, truncation, Unicode),
//! and the tiny random BERT (F16, `bert.` names, tanh GELU, odd sizes) at seq_len 24.

use crate::common;
use crate::common::{assert_close, data, minilm_dir};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;
use wgbert::{Engine, EngineOptions, Input, Pooling, Request};

fn minilm() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Engine::from_dir(&minilm_dir(), EngineOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn tiny() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let opts = EngineOptions {
            seq_length: 24,
            max_batch: 5,
            ..Default::default()
        };
        Engine::from_dir(&data("tiny-bert"), opts).unwrap_or_else(|e| panic!("{e}"))
    })
}

use crate::common::{f32s, inputs_of};

/// Encodes every golden item in one call and checks ids and all outputs within the tolerances.
fn check(engine: &Engine, golden: &Path, seq_tol: f32) {
    let g: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let items = g["items"].as_array().unwrap();
    let seq = g["meta"]["seq_length"].as_u64().unwrap() as usize;
    let request = Request {
        pooled_output: true,
        sequence_output: true,
        encoder_outputs: true,
        embedding: true,
        ..Default::default()
    };
    let out = engine
        .encode(&inputs_of(items), Some(seq), &request)
        .unwrap();
    assert_eq!(out.len(), items.len());
    let h = engine.config().hidden_size;
    for (item, e) in items.iter().zip(&out) {
        let text = item["text"].as_str().unwrap();
        let ids = common::golden_ids(item);
        assert_eq!(e.packed.input_word_ids, ids, "token ids of {text:?}");
        assert_close(
            &format!("pooled_output of {text:?}"),
            e.pooled_output.as_ref().unwrap(),
            &f32s(&item["pooled_output"]),
            1e-5,
            0.0,
        );
        assert_close(
            &format!("embedding of {text:?}"),
            e.embedding.as_ref().unwrap(),
            &f32s(&item["mean_pooled_normalized"]),
            1e-5,
            0.0,
        );
        let n = item["num_tokens"].as_u64().unwrap() as usize;
        let want: Vec<f32> = item["sequence_output"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(f32s)
            .collect();
        let seq_out = e.sequence_output.as_ref().unwrap();
        assert_eq!(seq_out.len(), seq * h);
        assert_close(
            &format!("sequence_output of {text:?}"),
            &seq_out[..n * h],
            &want,
            seq_tol,
            0.0,
        );
        let layers = e.encoder_outputs.as_ref().unwrap();
        assert_eq!(layers.len(), engine.config().num_hidden_layers);
        assert_eq!(
            layers.last().unwrap(),
            seq_out,
            "last encoder_outputs must equal sequence_output"
        );
    }
}

#[test]
fn minilm_public_sentences() {
    check(minilm(), &data("minilm_public.json"), 5e-5);
}

#[test]
fn minilm_edge_cases() {
    check(minilm(), &data("minilm_edge_golden.json"), 5e-5);
}

#[test]
fn tiny_random_bert_f16_prefixed_tanh_gelu() {
    check(tiny(), &data("tiny_golden.json"), 5e-5);
}

#[test]
fn embeddings_do_not_depend_on_padding_or_batching() {
    let e = tiny();
    let texts: Vec<Input> = [
        "a",
        "nice movie indeed",
        "How old are you? ||| What is your age?",
        "",
        "The quick brown fox jumps over the lazy dog again and again",
    ]
    .iter()
    .map(|t| Input::parse(t))
    .collect();
    // Trimmed padding (embed) vs full seq_length padding (encode with sequence_output).
    let trimmed = e.embed_with(&texts, Pooling::Mean, true).unwrap();
    let full_req = Request {
        sequence_output: true,
        ..Default::default()
    };
    let full = e.encode(&texts, None, &full_req).unwrap();
    for (i, (t, f)) in trimmed.iter().zip(&full).enumerate() {
        assert_eq!(
            t,
            f.embedding.as_ref().unwrap(),
            "input {i}: padding changed the embedding"
        );
    }
    // One at a time vs in a batch.
    for (i, t) in texts.iter().enumerate() {
        let one = e
            .embed_with(std::slice::from_ref(t), Pooling::Mean, true)
            .unwrap();
        assert_eq!(
            one[0], trimmed[i],
            "input {i}: batching changed the embedding"
        );
    }
}

#[test]
fn same_input_gives_bit_identical_output() {
    let e = tiny();
    let texts = [
        Input::from("determinism matters"),
        Input::from("run after run"),
    ];
    let req = Request {
        sequence_output: true,
        ..Default::default()
    };
    let a = e.encode(&texts, None, &req).unwrap();
    let b = e.encode(&texts, None, &req).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.sequence_output, y.sequence_output);
        assert_eq!(x.pooled_output, y.pooled_output);
    }
}

#[test]
fn pooling_choices() {
    let e = tiny();
    let t = [Input::from("pool me")];
    let req = Request {
        pooled_output: true,
        sequence_output: true,
        ..Default::default()
    };
    let full = &e.encode(&t, None, &req).unwrap()[0];
    let h = e.config().hidden_size;
    let cls = e.embed_with(&t, Pooling::Cls, false).unwrap();
    assert_close(
        "cls pooling",
        &cls[0],
        &full.sequence_output.as_ref().unwrap()[..h],
        0.0,
        0.0,
    );
    let pooler = e.embed_with(&t, Pooling::Pooler, false).unwrap();
    assert_close(
        "pooler pooling",
        &pooler[0],
        full.pooled_output.as_ref().unwrap(),
        0.0,
        0.0,
    );
    let mx = e.embed_with(&t, Pooling::Max, false).unwrap();
    let n = full.packed.len();
    let seq_out = full.sequence_output.as_ref().unwrap();
    for (j, got) in mx[0].iter().enumerate() {
        let want = (0..n).map(|s| seq_out[s * h + j]).fold(f32::MIN, f32::max);
        assert_eq!(*got, want, "max pooling, dim {j}");
    }
    let norm = e.embed_with(&t, Pooling::Mean, true).unwrap();
    let l2: f32 = norm[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        (l2 - 1.0).abs() < 1e-5,
        "normalised embedding has norm {l2}"
    );
}

#[test]
fn contextual_word_vectors_differ_by_sense() {
    // The tutorial: "fair" in "a fair trial" vs "a county fair".
    let e = minilm();
    let req = Request {
        sequence_output: true,
        ..Default::default()
    };
    let out = e
        .encode(
            &[
                Input::from("Tom deserves a fair trial"),
                Input::from("The carnival was like a county fair"),
                Input::from("The judge was fair and unbiased"),
            ],
            None,
            &req,
        )
        .unwrap();
    let vec_of = |i: usize, word: &str| {
        let pos = out[i].packed.tokens.iter().position(|t| t == word).unwrap();
        out[i].sequence_row(pos).unwrap().to_vec()
    };
    let cos = |a: &[f32], b: &[f32]| {
        let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        d / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
            * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    };
    let (trial, county, judge) = (vec_of(0, "fair"), vec_of(1, "fair"), vec_of(2, "fair"));
    let (c_tc, c_tj) = (cos(&trial, &county), cos(&trial, &judge));
    assert!(c_tc < 0.9, "fair (trial) vs fair (county): cosine {c_tc}");
    assert!(
        c_tj > c_tc,
        "fair (trial) should be closer to fair (judge) {c_tj} than to fair (county) {c_tc}"
    );
}

#[test]
fn batches_beyond_the_binding_limit_are_split_with_identical_results() {
    // Cap one binding at 40 000 bytes: the tiny model's widest activation (qkv, 180 floats a
    // token) at seq 24 is 17 280 bytes a sequence, so at most 2 sequences fit in one pass.
    let gpu = wgbert::GpuOptions {
        max_binding_bytes: Some(40_000),
        ..Default::default()
    };
    let opts = EngineOptions {
        seq_length: 24,
        max_batch: 32,
        gpu,
        ..Default::default()
    };
    let capped = Engine::from_dir(&data("tiny-bert"), opts).unwrap();
    assert_eq!(capped.batch_limit(24), 2);
    let texts: Vec<Input> = (0..7)
        .map(|i| Input::from(format!("sentence number {i} about a fair trial").as_str()))
        .collect();
    let req = Request {
        sequence_output: true,
        ..Default::default()
    };
    let a = capped.encode(&texts, None, &req).unwrap();
    let b = tiny().encode(&texts, None, &req).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.sequence_output, y.sequence_output);
        assert_eq!(x.pooled_output, y.pooled_output);
    }
}

/// f16 storage (weights and activations), f32 arithmetic: embeddings within cosine 0.9995 of
/// the float64 goldens, for the default model and the tiny one.
#[test]
fn f16_precision_embeddings_match_goldens() {
    for (dir, golden, seq) in [
        (common::minilm_dir(), "minilm_public.json", 128),
        (data("tiny-bert"), "tiny_golden.json", 24),
    ] {
        let opts = EngineOptions {
            seq_length: seq,
            precision: wgbert::kernels::Precision::F16,
            ..Default::default()
        };
        let e = Engine::from_dir(&dir, opts).unwrap();
        assert_eq!(e.precision().name(), "f16");
        let g: Value =
            serde_json::from_str(&std::fs::read_to_string(data(golden)).unwrap()).unwrap();
        let items = g["items"].as_array().unwrap();
        let req = Request {
            pooled_output: true,
            sequence_output: true,
            ..Default::default()
        };
        let out = e.encode(&inputs_of(items), None, &req).unwrap();
        common::assert_golden_cosines(golden, items, &out, 0.9995, 0.999);
    }
}

/// The f32 path fits what every WebGPU implementation offers: a device opened with
/// `wgpu::Limits::default()` (16 KiB workgroup memory, 256 invocations, 8 storage buffers per
/// stage, 128 MiB bindings) runs MiniLM to the goldens.
#[test]
fn f32_forward_fits_webgpu_default_limits() {
    let opts = EngineOptions {
        gpu: wgbert::GpuOptions {
            limits: Some(wgpu::Limits::default()),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = Engine::from_dir(&minilm_dir(), opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        e.gpu().limits.max_compute_workgroup_storage_size,
        wgpu::Limits::default().max_compute_workgroup_storage_size
    );
    check(&e, &data("minilm_public.json"), 5e-5);
}
