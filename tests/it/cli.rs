//! The `wgbert` binary: the `encode` JSON Lines contract against the goldens, and clear
//! one-line errors (exit code non-zero, never a panic) for bad invocations.

use crate::common;
use crate::common::{assert_close, data};
use serde_json::Value;
use std::process::{Command, Output};

fn wgbert(args: &[&str]) -> Output {
    common::run_wgbert(args)
}

fn ok_stdout(o: &Output) -> String {
    common::ok_stdout(o)
}

fn err_of(o: &Output) -> String {
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {e}"
    );
    assert!(!e.contains("panicked"), "panic instead of an error: {e}");
    assert!(o.stdout.is_empty(), "nothing may reach stdout on error");
    e
}

use crate::common::f32s;

fn check_jsonl_against_golden(stdout: &str, golden: &str, all_layers: Option<usize>) {
    let g: Value = serde_json::from_str(&std::fs::read_to_string(data(golden)).unwrap()).unwrap();
    let items = g["items"].as_array().unwrap();
    let seq = g["meta"]["seq_length"].as_u64().unwrap() as usize;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), items.len(), "one JSON object per input");
    for (line, item) in lines.iter().zip(items) {
        let o: Value = serde_json::from_str(line).unwrap();
        let text = item["text"].as_str().unwrap();
        for key in ["input_word_ids", "input_mask", "input_type_ids", "tokens"] {
            assert_eq!(o[key], item[key], "{key} of {text:?}");
        }
        assert_close(
            &format!("pooled_output {text:?}"),
            &f32s(&o["pooled_output"]),
            &f32s(&item["pooled_output"]),
            1e-5,
            0.0,
        );
        assert_close(
            &format!("embedding {text:?}"),
            &f32s(&o["embedding"]),
            &f32s(&item["mean_pooled_normalized"]),
            1e-5,
            0.0,
        );
        let rows = o["sequence_output"].as_array().unwrap();
        assert_eq!(rows.len(), seq, "sequence_output has seq_len rows");
        let n = item["num_tokens"].as_u64().unwrap() as usize;
        for (s, want) in item["sequence_output"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_close(
                &format!("sequence_output[{s}] {text:?}"),
                &f32s(&rows[s]),
                &f32s(want),
                5e-5,
                0.0,
            );
        }
        assert!(
            rows[n..]
                .iter()
                .all(|r| r.as_array().unwrap().len() == o["embedding"].as_array().unwrap().len())
        );
        match all_layers {
            Some(l) => {
                let layers = o["encoder_outputs"].as_array().unwrap();
                assert_eq!(layers.len(), l);
                assert_eq!(layers.last().unwrap(), &o["sequence_output"]);
            }
            None => assert!(o.get("encoder_outputs").is_none()),
        }
    }
}

#[test]
fn encode_file_reproduces_tiny_golden_with_all_layers() {
    let input = data("tiny_inputs.txt");
    let model = data("tiny-bert");
    let o = wgbert(&[
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--seq-len",
        "24",
        "--all-layers",
        "--input",
        input.to_str().unwrap(),
    ]);
    check_jsonl_against_golden(&ok_stdout(&o), "tiny_golden.json", Some(2));
}

#[test]
fn encode_default_model_reproduces_public_golden() {
    common::minilm_dir();
    let input = data("sentences_public.txt");
    let o = wgbert(&["encode", "--input", input.to_str().unwrap()]);
    check_jsonl_against_golden(&ok_stdout(&o), "minilm_public.json", None);
}

#[test]
fn encode_text_arguments_and_pairs_in_order() {
    let model = data("tiny-bert");
    let o = wgbert(&[
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--seq-len",
        "16",
        "first",
        "How old are you? ||| What is your age?",
        "   ",
    ]);
    let out = ok_stdout(&o);
    let objs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 3);
    assert_eq!(
        objs[0]["tokens"],
        serde_json::json!(["[CLS]", "first", "[SEP]"])
    );
    assert_eq!(
        objs[1]["input_type_ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t.as_u64() == Some(1))
            .count(),
        6
    );
    assert_eq!(objs[2]["tokens"], serde_json::json!(["[CLS]", "[SEP]"]));
    assert_eq!(objs[2]["input_word_ids"].as_array().unwrap().len(), 16);
}

#[test]
fn no_inputs() {
    let model = data("tiny-bert");
    let e = err_of(&wgbert(&["encode", "--model", model.to_str().unwrap()]));
    assert!(e.contains("no inputs"), "{e}");
}

#[test]
fn missing_model_names_fetch_script() {
    let e = err_of(&wgbert(&["encode", "--model", "/nonexistent/dir", "hello"]));
    assert!(e.contains("scripts/fetch-model.sh"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
}

#[test]
fn invalid_utf8_names_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("in.txt");
    std::fs::write(&p, b"fine\nalso fine\nbad \xff byte\n").unwrap();
    let model = data("tiny-bert");
    let e = err_of(&wgbert(&[
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--input",
        p.to_str().unwrap(),
    ]));
    assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
}

#[test]
fn seq_len_out_of_range() {
    let model = data("tiny-bert");
    let m = model.to_str().unwrap();
    for s in ["0", "1"] {
        let e = err_of(&wgbert(&["encode", "--model", m, "--seq-len", s, "hello"]));
        assert!(e.contains("at least 2"), "--seq-len {s}: {e}");
    }
    let e = err_of(&wgbert(&[
        "encode",
        "--model",
        m,
        "--seq-len",
        "65",
        "hello",
    ]));
    assert!(e.contains("64 tokens (max_position_embeddings 64)"), "{e}");
    let o = wgbert(&["encode", "--model", m, "--seq-len", "2", "hello"]);
    let v: Value = serde_json::from_str(ok_stdout(&o).trim()).unwrap();
    assert_eq!(v["input_word_ids"], serde_json::json!([101, 102]));
}

#[test]
fn preprocess_prints_the_tutorial_arrays() {
    common::minilm_dir();
    let o = wgbert(&["preprocess", "nice movie indeed"]);
    let out = ok_stdout(&o);
    assert!(
        out.contains("[101, 3835, 3185, 5262, 102] + 123 x 0"),
        "{out}"
    );
    assert!(out.contains("[1, 1, 1, 1, 1] + 123 x 0"), "{out}");
}

#[test]
fn bench_json_contract() {
    let o = wgbert(&[
        "bench",
        "--shape",
        "minilm-l6",
        "--batch",
        "2",
        "--seq-len",
        "16",
        "--fill",
        "0.5",
        "--iters",
        "2",
        "--warmup",
        "1",
        "--json",
    ]);
    let v: Value = serde_json::from_str(ok_stdout(&o).trim()).unwrap();
    for key in [
        "median_s",
        "seq_per_s",
        "real_tokens_per_s",
        "gflop_per_s",
        "adapter",
        "precision",
        "first_forward_s",
    ] {
        assert!(v.get(key).is_some(), "bench --json lacks {key}: {v}");
    }
    assert_eq!(v["real_tokens_per_row"], 8);
    assert_eq!(
        v["run_seq_len"], 8,
        "fill 0.5 of 16 runs 8 positions when trimmed"
    );
    assert!(v["median_s"].as_f64().unwrap() > 0.0);
    let e = err_of(&wgbert(&["bench", "--fill", "0", "--iters", "1"]));
    assert!(e.contains("--fill"), "{e}");
}

#[test]
fn bench_profile_reports_every_kernel() {
    let model = data("tiny-bert");
    let o = wgbert(&[
        "bench",
        "--model",
        model.to_str().unwrap(),
        "--batch",
        "2",
        "--seq-len",
        "8",
        "--iters",
        "1",
        "--warmup",
        "1",
        "--profile",
        "--json",
    ]);
    let v: Value = serde_json::from_str(ok_stdout(&o).trim()).unwrap();
    let rows = v["profile"]
        .as_array()
        .expect("profile rows (lavapipe has timestamp queries in passes)");
    let kernels: Vec<&str> = rows.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    for k in [
        "embeddings",
        "attention",
        "add_layernorm",
        "gemm (pooler)",
        "pooling",
        "gemm (attention.self.qkv)",
        "gemm (intermediate.dense)",
    ] {
        assert!(kernels.contains(&k), "profile lacks {k}: {kernels:?}");
    }
    let calls: u64 = rows.iter().map(|r| r["calls"].as_u64().unwrap()).sum();
    assert_eq!(
        calls,
        1 + 2 * 7 + 2,
        "every dispatch of the 2-layer plan is timed once"
    );
    let share: f64 = rows.iter().map(|r| r["share"].as_f64().unwrap()).sum();
    assert!(
        (share - 1.0).abs() < 1e-6 || share == 0.0,
        "shares sum to {share}"
    );
}

#[test]
fn gemm_autotune_is_cached_and_can_be_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let model = data("tiny-bert");
    let bench = |env: &[(&str, &str)]| -> Value {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wgbert"));
        c.args([
            "bench",
            "--model",
            model.to_str().unwrap(),
            "--batch",
            "1",
            "--seq-len",
            "8",
            "--iters",
            "1",
            "--warmup",
            "1",
            "--json",
        ])
        .env("NODEVICE_SELECT", "1")
        .env("WGBERT_CACHE_DIR", tmp.path())
        .env_remove("WGBERT_GEMM");
        for (k, v) in env {
            c.env(k, v);
        }
        serde_json::from_str(ok_stdout(&c.output().unwrap()).trim()).unwrap()
    };
    let tuned = bench(&[]);
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("gemm-tune.json")).unwrap())
            .unwrap();
    let entries = table.as_object().unwrap();
    let find = |small: bool| {
        entries
            .iter()
            .find(|(k, _)| !k.contains("reduce:") && k.contains("small-m") == small)
            .unwrap_or_else(|| panic!("no {small} entry in {table}"))
    };
    let (key, choice) = find(false);
    assert!(
        key.contains(tuned["adapter"].as_str().unwrap()),
        "cache keyed by adapter: {key}"
    );
    assert_eq!(choice, &tuned["gemm"], "the run used the tuned variant");
    assert_eq!(find(true).1, &tuned["gemm_small_m"], "and the small-M one");
    assert_eq!(
        bench(&[])["gemm"],
        tuned["gemm"],
        "second run reads the cache"
    );
    for v in ["tile64", "tile128", "tile32x64", "direct4x4", "direct16x2"] {
        let forced = bench(&[("WGBERT_GEMM", v)]);
        assert_eq!(forced["gemm"], v);
        assert_eq!(forced["gemm_small_m"], v);
    }
    // A name that is not a variant, or a coop variant the adapter lacks: a clear error.
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgbert"));
    let o = c
        .args(["bench", "--model", model.to_str().unwrap(), "--batch", "1"])
        .args(["--seq-len", "8", "--iters", "1", "--json"])
        .env("NODEVICE_SELECT", "1")
        .env("WGBERT_GEMM", "tile256")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("WGBERT_GEMM=\"tile256\" is not a GEMM variant"),
        "{err}"
    );
}
