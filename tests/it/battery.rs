//! The bad-input battery, through the binary as a user meets it: every case exits non-zero
//! with a specific one-line reason on stderr (or succeeds where the input is valid), never a
//! panic, and leaves nothing on stdout when it fails.

use crate::common;
use crate::common::{data, tiny_config, tiny_raw, write_model};
use safetensors::Dtype;
use std::path::Path;
use std::process::{Command, Output};

fn wgbert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .output()
        .expect("run wgbert")
}

/// Fails with one line on stderr that contains every `want`; nothing on stdout; no panic.
fn fails_with(o: &Output, wants: &[&str]) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "expected failure for {wants:?}, got success"
    );
    assert!(!e.contains("panicked"), "panic: {e}");
    assert!(
        o.stdout.is_empty(),
        "stdout on failure: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
        .collect();
    assert_eq!(lines.len(), 1, "one line of reason, got: {e}");
    for w in wants {
        assert!(lines[0].contains(w), "stderr lacks {w:?}: {e}");
    }
}

fn encode_with_model(dir: &Path) -> Output {
    wgbert(&[
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--seq-len",
        "16",
        "hello",
    ])
}

#[test]
fn model_folder_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    // Missing folder, missing files.
    fails_with(
        &encode_with_model(&base.join("nope")),
        &["scripts/fetch-model.sh"],
    );
    let d = base.join("empty");
    std::fs::create_dir(&d).unwrap();
    fails_with(&encode_with_model(&d), &["config.json"]);
    // Malformed JSON, unsupported model type and activation.
    let d = base.join("badjson");
    write_model(&d, &tiny_raw(), &tiny_config());
    std::fs::write(d.join("config.json"), "{\"hidden_size\": ").unwrap();
    fails_with(
        &encode_with_model(&d),
        &["config.json", "not a valid BERT-family config.json"],
    );
    for (name, key, value, want) in [
        ("mt", "model_type", "t5", "model_type \"t5\""),
        ("act", "hidden_act", "mish", "hidden_act \"mish\""),
    ] {
        let d = base.join(name);
        let mut cfg = tiny_config();
        cfg[key] = value.into();
        write_model(&d, &tiny_raw(), &cfg);
        fails_with(&encode_with_model(&d), &[want]);
    }
    // Unreadable / malformed tokenizer.
    let d = base.join("tok");
    write_model(&d, &tiny_raw(), &tiny_config());
    std::fs::write(d.join("tokenizer.json"), "not json").unwrap();
    fails_with(&encode_with_model(&d), &["tokenizer", "tokenizer.json"]);
    // Truncated and corrupt weights.
    let d = base.join("trunc");
    write_model(&d, &tiny_raw(), &tiny_config());
    let w = d.join("model.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..1000]).unwrap();
    fails_with(
        &encode_with_model(&d),
        &["model.safetensors", "truncated or corrupt"],
    );
    std::fs::write(&w, b"\xff\xff\xff\xff\xff\xff\xff\x7fgarbage").unwrap();
    fails_with(&encode_with_model(&d), &["not a valid safetensors file"]);
    // Wrong dtype, missing tensor, wrong shape, NaN.
    type RawEdit = Box<dyn Fn(&mut common::Raw)>;
    let cases: Vec<(&str, RawEdit, Vec<&str>)> = vec![
        (
            "dtype",
            Box::new(|r| {
                *r.get_mut("bert.embeddings.LayerNorm.weight").unwrap() =
                    (Dtype::I64, vec![60], vec![0; 480])
            }),
            vec!["I64", "embeddings.LayerNorm.weight"],
        ),
        (
            "missing",
            Box::new(|r| {
                r.remove("bert.encoder.layer.1.output.dense.bias");
            }),
            vec!["encoder.layer.1.output.dense.bias is missing"],
        ),
        (
            "shape",
            Box::new(|r| {
                r.get_mut("bert.encoder.layer.0.attention.self.query.weight")
                    .unwrap()
                    .1 = vec![30, 120]
            }),
            vec![
                "encoder.layer.0.attention.self.query.weight",
                "[30, 120]",
                "[60, 60]",
            ],
        ),
        (
            "nan",
            Box::new(|r| {
                r.get_mut("bert.embeddings.word_embeddings.weight")
                    .unwrap()
                    .2[100..102]
                    .copy_from_slice(&half::f16::INFINITY.to_le_bytes())
            }),
            vec!["non-finite", "word_embeddings"],
        ),
    ];
    for (name, edit, wants) in cases {
        let d = base.join(name);
        let mut raw = tiny_raw();
        edit(&mut raw);
        write_model(&d, &raw, &tiny_config());
        fails_with(&encode_with_model(&d), &wants);
    }
    // A vocabulary whose ids exceed the embedding table.
    let d = base.join("vocab");
    let mut raw = tiny_raw();
    let t = raw
        .get_mut("bert.embeddings.word_embeddings.weight")
        .unwrap();
    t.1 = vec![500, 60];
    t.2.truncate(500 * 60 * 2);
    let mut cfg = tiny_config();
    cfg["vocab_size"] = 500.into();
    write_model(&d, &raw, &cfg);
    fails_with(
        &encode_with_model(&d),
        &["outside the embedding table", "do not belong together"],
    );
}

#[test]
fn text_cases() {
    let m = data("tiny-bert");
    let m = m.to_str().unwrap();
    fails_with(&wgbert(&["encode", "--model", m]), &["no inputs"]);
    fails_with(&wgbert(&["embed", "--model", m]), &["no inputs"]);
    // Empty, whitespace-only, NUL and control characters: valid inputs.
    // (NUL cannot travel in argv, so these come from a file.)
    let tmp = tempfile::tempdir().unwrap();
    let ctl = tmp.path().join("ctl.txt");
    std::fs::write(&ctl, "\n   \na\0b\u{1}c\u{7f}\n\t\r\n").unwrap();
    let o = wgbert(&[
        "encode",
        "--model",
        m,
        "--seq-len",
        "8",
        "--input",
        ctl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["tokens"], serde_json::json!(["[CLS]", "[SEP]"]));
    assert_eq!(lines[1]["tokens"], serde_json::json!(["[CLS]", "[SEP]"]));
    assert_eq!(lines[3]["tokens"], serde_json::json!(["[CLS]", "[SEP]"]));
    assert!(
        lines[2]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_f64().unwrap().is_finite())
    );
    // A single 1 MB line is truncated, not an error.
    let big = tmp.path().join("big.txt");
    std::fs::write(
        &big,
        format!("{}\n", "lorem ipsum dolor sit amet ".repeat(40_000)),
    )
    .unwrap();
    let o = wgbert(&[
        "encode",
        "--model",
        m,
        "--seq-len",
        "32",
        "--input",
        big.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().trim()).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 32);
    // Invalid UTF-8: an error naming the line, or replaced with --lossy.
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, b"ok\nbad \xc3\x28 here\n").unwrap();
    fails_with(
        &wgbert(&[
            "encode",
            "--model",
            m,
            "--input",
            bad.to_str().unwrap(),
            "--seq-len",
            "8",
        ]),
        &["line 2", "UTF-8", "--lossy"],
    );
    let o = wgbert(&[
        "encode",
        "--model",
        m,
        "--input",
        bad.to_str().unwrap(),
        "--seq-len",
        "8",
        "--lossy",
    ]);
    assert!(o.status.success());
    // --seq-len 0, 1 (too short for [CLS] [SEP]), 2 (valid), above max_position_embeddings.
    fails_with(
        &wgbert(&["encode", "--model", m, "--seq-len", "0", "x"]),
        &["at least 2"],
    );
    fails_with(
        &wgbert(&["encode", "--model", m, "--seq-len", "1", "x"]),
        &["at least 2"],
    );
    assert!(
        wgbert(&["encode", "--model", m, "--seq-len", "2", "x"])
            .status
            .success()
    );
    fails_with(
        &wgbert(&["encode", "--model", m, "--seq-len", "65", "x"]),
        &["64 tokens (max_position_embeddings 64)"],
    );
    fails_with(
        &wgbert(&["embed", "--model", m, "--seq-len", "1000", "x"]),
        &["max_position_embeddings"],
    );
    assert!(
        wgbert(&["encode", "--model", m, "--seq-len", "3", "a ||| b"])
            .status
            .success()
    );
    fails_with(
        &wgbert(&["encode", "--model", m, "--seq-len", "2", "a ||| b"]),
        &["at least 3"],
    );
}

#[test]
fn flag_cases() {
    let m = data("tiny-bert");
    let m = m.to_str().unwrap();
    for (args, want) in [
        (
            vec!["embed", "--model", m, "--format", "xml", "x"],
            "invalid value 'xml'",
        ),
        (
            vec!["embed", "--model", m, "--pooling", "sum", "x"],
            "invalid value 'sum'",
        ),
        (vec!["encode", "--model", m, "--seq-len", "-3", "x"], "'-3'"),
        (
            vec!["encode", "--model", m, "--seq-len", "many", "x"],
            "invalid value 'many'",
        ),
        (
            vec!["encode", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (vec!["bench", "--shape", "gpt2"], "invalid value 'gpt2'"),
        (
            vec!["bench", "--shape", "minilm-l6", "--model", m],
            "cannot be used with",
        ),
    ] {
        let o = wgbert(&args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(want), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn huge_batches_stay_inside_dispatch_limits() {
    // 3 000 sequences × 24 tokens = 72 000 token rows: more row-workgroups than one grid
    // dimension allows (65 535), in a single pass.
    let opts = wgbert::EngineOptions {
        seq_length: 24,
        max_batch: 3000,
        ..Default::default()
    };
    let e = wgbert::Engine::from_dir(&data("tiny-bert"), opts).unwrap();
    let inputs: Vec<wgbert::Input> = (0..3000)
        .map(|i| wgbert::Input::from(format!("{} fair trials", i % 50).as_str()))
        .collect();
    let req = wgbert::Request {
        sequence_output: true,
        ..Default::default()
    };
    let all = e.encode(&inputs, None, &req).unwrap();
    // 200 sequences: every GEMM, the pooler's (200 rows) included, still above the small-M
    // threshold, so the same kernels run and the rows must agree bit for bit.
    let few = e.encode(&inputs[2800..], None, &req).unwrap();
    for (a, b) in all[2800..].iter().zip(&few) {
        assert_eq!(a.sequence_output, b.sequence_output);
        assert_eq!(a.pooled_output, b.pooled_output);
    }
    // 10 sequences: the pooler's GEMM (10 rows) takes the small-M kernel, which may sum in
    // another order: equal to float rounding.
    let ten = e.encode(&inputs[2990..], None, &req).unwrap();
    for (a, b) in all[2990..].iter().zip(&ten) {
        let (x, y) = (a.pooled_output.as_ref(), b.pooled_output.as_ref());
        common::assert_close(
            "pooled_output, 10 vs 3000",
            y.unwrap(),
            x.unwrap(),
            1e-6,
            1e-5,
        );
    }
}

#[test]
fn no_adapter_is_an_error_that_says_how_to_get_one() {
    let m = data("tiny-bert");
    let run = |k: &str, v: &str| {
        Command::new(env!("CARGO_BIN_EXE_wgbert"))
            .args([
                "encode",
                "--model",
                m.to_str().unwrap(),
                "--seq-len",
                "8",
                "x",
            ])
            .env("NODEVICE_SELECT", "1")
            .env(k, v)
            .output()
            .unwrap()
    };
    // No Vulkan driver at all (the loader finds no ICD).
    fails_with(
        &run("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        &[
            "no GPU adapter found",
            "apt-get install mesa-vulkan-drivers",
        ],
    );
    // WGPU_ADAPTER_NAME that matches nothing lists what is there.
    fails_with(
        &run("WGPU_ADAPTER_NAME", "no-such-gpu-9000"),
        &["no-such-gpu-9000", "adapters present"],
    );
}
