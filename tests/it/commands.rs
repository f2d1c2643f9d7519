//! The user-facing commands of issue #3: embed (formats, files, atomic output, order), similarity,
//! words, info, --help; and the `.npy` header byte for byte as NumPy writes it.

use crate::common;
use crate::common::data;
use serde_json::Value;
use std::process::{Command, Output};

fn wgbert(args: &[&str]) -> Output {
    common::run_wgbert(args)
}

fn ok(o: &Output) -> String {
    common::ok_stdout(o)
}

fn err(o: &Output) -> String {
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "expected failure; stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

fn tiny() -> String {
    data("tiny-bert").to_str().unwrap().to_string()
}

/// Parses a float32 `.npy` file as NumPy would: header checks, shape, data.
fn read_npy(bytes: &[u8]) -> (Vec<usize>, Vec<f32>) {
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "magic and version 1.0");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "data starts 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.ends_with('\n'));
    assert!(
        header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': ("),
        "{header}"
    );
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_txt
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data: Vec<f32> = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "data length matches the shape"
    );
    (shape, data)
}

#[test]
fn npy_header_is_byte_identical_to_numpy() {
    // np.save(b, np.zeros((28, 384), np.float32)) — header bytes as NumPy 2.4 writes them.
    let want = format!(
        "\x7fNUMPY\x01\x00v\x00{{'descr': '<f4', 'fortran_order': False, 'shape': (28, 384), }}{}\n",
        " ".repeat(55)
    );
    let mut want = want.into_bytes();
    want[0] = 0x93;
    assert_eq!(wgbert::npy::header_f32(&[28, 384]), want);
    for shape in [[0usize, 384], [100_000, 384], [3, 60]] {
        let h = wgbert::npy::header_f32(&shape);
        assert_eq!(h.len(), 128, "NumPy pads these headers to 128 bytes");
        let mut file = h.clone();
        file.extend(std::iter::repeat_n(0u8, shape[0] * shape[1] * 4));
        assert_eq!(read_npy(&file).0, shape);
    }
}

#[test]
fn npy_writer_checks_row_count() {
    let mut w = wgbert::npy::NpyWriter::new(Vec::new(), 2, 3).unwrap();
    w.write_row(&[1.0, 2.0, 3.0]).unwrap();
    assert!(w.write_row(&[1.0]).is_err(), "wrong row width");
    assert!(w.finish().is_err(), "one announced row missing");
}

#[test]
fn embed_formats_agree_and_keep_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let input = data("tiny_inputs.txt");
    let inp = input.to_str().unwrap();
    let npy = tmp.path().join("v.npy");
    ok(&wgbert(&[
        "embed",
        "--model",
        &tiny(),
        "--seq-len",
        "24",
        "--input",
        inp,
        "--format",
        "npy",
        "--output",
        npy.to_str().unwrap(),
    ]));
    let (shape, npy_data) = read_npy(&std::fs::read(&npy).unwrap());
    let lines = std::fs::read_to_string(&input).unwrap().lines().count();
    assert_eq!(shape, [lines, 60]);
    let jsonl = ok(&wgbert(&[
        "embed",
        "--model",
        &tiny(),
        "--seq-len",
        "24",
        "--input",
        inp,
    ]));
    let rows: Vec<Vec<f32>> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    assert_eq!(
        rows.concat(),
        npy_data,
        "jsonl and npy hold the same vectors"
    );
    let csv = ok(&wgbert(&[
        "embed",
        "--model",
        &tiny(),
        "--seq-len",
        "24",
        "--input",
        inp,
        "--format",
        "csv",
    ]));
    let csv_rows: Vec<Vec<f32>> = csv
        .lines()
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(csv_rows, rows);
    // Input order: row k equals the golden embedding of line k (the engine sorts by length inside).
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("tiny_golden.json")).unwrap()).unwrap();
    for (k, item) in g["items"].as_array().unwrap().iter().enumerate() {
        let want: Vec<f32> = item["mean_pooled_normalized"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        common::assert_close(&format!("row {k}"), &rows[k], &want, 1e-5, 0.0);
    }
}

#[test]
fn embed_pooling_and_normalisation_flags() {
    let norm = |out: &str| -> f32 {
        let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x.as_f64().unwrap() as f32).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    let t = tiny();
    let a = ok(&wgbert(&[
        "embed",
        "--model",
        &t,
        "--seq-len",
        "16",
        "a fine movie",
    ]));
    assert!((norm(&a) - 1.0).abs() < 1e-5);
    for p in ["mean", "cls", "pooler", "max"] {
        let b = ok(&wgbert(&[
            "embed",
            "--model",
            &t,
            "--seq-len",
            "16",
            "--pooling",
            p,
            "--no-normalize",
            "a fine movie",
        ]));
        assert!(
            (norm(&b) - 1.0).abs() > 1e-3,
            "--pooling {p} --no-normalize must not be unit length"
        );
        let c = ok(&wgbert(&[
            "embed",
            "--model",
            &t,
            "--seq-len",
            "16",
            "--pooling",
            p,
            "a fine movie",
        ]));
        assert!((norm(&c) - 1.0).abs() < 1e-5);
    }
    let e = err(&wgbert(&[
        "embed",
        "--model",
        &t,
        "--pooling",
        "median",
        "x",
    ]));
    assert!(e.contains("invalid value 'median'"), "{e}");
}

#[test]
fn embed_failure_leaves_no_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    let mut text = "good line\n".repeat(3000).into_bytes();
    text.extend_from_slice(b"bad \xfe line\nmore\n");
    std::fs::write(&input, &text).unwrap();
    let out = tmp.path().join("v.npy");
    let e = err(&wgbert(&[
        "embed",
        "--model",
        &tiny(),
        "--seq-len",
        "16",
        "--input",
        input.to_str().unwrap(),
        "--format",
        "npy",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(e.contains("line 3001") && e.contains("--lossy"), "{e}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("in.txt")],
        "no output or temporary file may remain"
    );
    // With --lossy the bad bytes become U+FFFD and the run completes.
    ok(&wgbert(&[
        "embed",
        "--model",
        &tiny(),
        "--seq-len",
        "16",
        "--input",
        input.to_str().unwrap(),
        "--format",
        "npy",
        "-o",
        out.to_str().unwrap(),
        "--lossy",
    ]));
    assert_eq!(read_npy(&std::fs::read(&out).unwrap()).0, [3002, 60]);
}

#[test]
fn embed_input_errors() {
    let t = tiny();
    let e = err(&wgbert(&["embed", "--model", &t]));
    assert!(e.contains("no inputs"), "{e}");
    let e = err(&wgbert(&[
        "embed",
        "--model",
        &t,
        "--input",
        "/nonexistent.txt",
    ]));
    assert!(e.contains("/nonexistent.txt"), "{e}");
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let e = err(&wgbert(&[
        "embed",
        "--model",
        &t,
        "--seq-len",
        "16",
        "--input",
        empty.to_str().unwrap(),
    ]));
    assert!(e.contains("empty"), "{e}");
    let e = err(&wgbert(&[
        "embed",
        "--model",
        &t,
        "--seq-len",
        "16",
        "--input",
        empty.to_str().unwrap(),
        "also text",
    ]));
    assert!(e.contains("not both"), "{e}");
}

#[test]
fn progress_bar_only_on_a_terminal() {
    // Not a terminal (captured stderr): no progress bar, nothing on stderr.
    let o = wgbert(&["embed", "--model", &tiny(), "--seq-len", "16", "a", "b"]);
    ok(&o);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("rows"),
        "progress bar drawn to a pipe"
    );
    // On a pseudo-terminal (util-linux `script`), the bar appears on stderr, unless --quiet.
    if std::path::Path::new("/usr/bin/script").exists() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in.txt");
        std::fs::write(&input, "some words here\n".repeat(5000)).unwrap();
        let out = tmp.path().join("v.npy");
        let cmd = format!(
            "NODEVICE_SELECT=1 {} embed --model {} --seq-len 16 --input {} --format npy -o {}",
            env!("CARGO_BIN_EXE_wgbert"),
            tiny(),
            input.display(),
            out.display()
        );
        let o = Command::new("/usr/bin/script")
            .args(["-qefc", &cmd, "/dev/null"])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{screen}");
        assert!(
            screen.contains("rows") && screen.contains("5000"),
            "no progress bar on a terminal: {screen:?}"
        );
        let o = Command::new("/usr/bin/script")
            .args(["-qefc", &format!("{cmd} --quiet"), "/dev/null"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&o.stdout).contains("rows"));
    }
}

#[test]
fn similarity_table_groups_people_and_countries() {
    common::minilm_dir();
    let out = ok(&wgbert(&[
        "similarity",
        "Dhoni",
        "Williamson",
        "Australia",
        "Zimbabwe",
    ]));
    let rows: Vec<Vec<f32>> = out
        .lines()
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .rev()
                .take(4)
                .map(|x| x.parse().unwrap())
                .collect::<Vec<f32>>()
                .into_iter()
                .rev()
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    for (i, r) in rows.iter().enumerate() {
        assert!((r[i] - 1.0).abs() < 1e-3, "diagonal: {out}");
    }
    assert!(
        rows[2][3] > rows[2][0] && rows[2][3] > rows[2][1],
        "Australia should be closest to Zimbabwe:\n{out}"
    );
    assert!(
        rows[0][1] > rows[0][2],
        "Dhoni should be closer to Williamson than to Australia:\n{out}"
    );
}

#[test]
fn words_separates_word_senses() {
    common::minilm_dir();
    let out = ok(&wgbert(&[
        "words",
        "--json",
        "--word",
        "fair",
        "--word",
        "unbiased",
        "Tom deserves a fair trial",
        "The carnival was like a county fair",
        "Tom deserves an unbiased trial",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let m: Vec<Vec<f64>> = serde_json::from_value(v["cosine"].clone()).unwrap();
    // occurrences: fair(trial), fair(county), unbiased(trial)
    assert!(
        m[0][1] < 0.9,
        "fair in a trial vs at a county fair: {}",
        m[0][1]
    );
    assert!(
        m[2][0] > m[2][1],
        "unbiased (trial) is closer to fair (trial) {} than to fair (county) {}",
        m[2][0],
        m[2][1]
    );
    let table = ok(&wgbert(&["words", "a county fair"]));
    assert!(
        table.contains("county") && table.contains("[CLS]"),
        "{table}"
    );
    let e = err(&wgbert(&["words", "--word", "zebra", "a county fair"]));
    assert!(e.contains("does not occur"), "{e}");
}

#[test]
fn info_and_help() {
    let out = ok(&wgbert(&["info", "--model", &tiny()]));
    for key in [
        "adapter",
        "backend",
        "driver",
        "features",
        "limits",
        "2 layers, hidden 60",
    ] {
        assert!(out.contains(key), "info lacks {key}: {out}");
    }
    for cmd in [
        "encode",
        "embed",
        "preprocess",
        "similarity",
        "words",
        "info",
        "bench",
    ] {
        let o = wgbert(&[cmd, "--help"]);
        assert!(ok(&o).contains("Usage: wgbert"), "{cmd} --help");
    }
    let e = err(&wgbert(&["frobnicate"]));
    assert!(e.contains("unrecognized subcommand"), "{e}");
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<wgbert::Engine>();
}

#[test]
fn pipeline_cache_is_kept_on_disk_when_the_adapter_supports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wgbert"));
        c.args(["encode", "--model", &tiny(), "--seq-len", "8", "cache me"])
            .env("NODEVICE_SELECT", "1")
            .env("WGBERT_CACHE_DIR", tmp.path());
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let ctx = wgbert::GpuContext::new(&Default::default()).unwrap();
    let pipeline_files = || -> Vec<String> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f != "gemm-tune.json")
            .collect()
    };
    assert!(run(&[("WGBERT_PIPELINE_CACHE", "0")]).status.success());
    assert_eq!(
        pipeline_files(),
        Vec::<String>::new(),
        "WGBERT_PIPELINE_CACHE=0 writes no pipeline cache"
    );
    assert!(
        tmp.path().join("gemm-tune.json").exists(),
        "the GEMM tuning is kept either way"
    );
    assert!(run(&[]).status.success());
    let files = pipeline_files();
    if ctx.has(wgpu::Features::PIPELINE_CACHE) {
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].starts_with("wgpu_pipeline_cache_"), "{files:?}");
        assert!(run(&[]).status.success(), "a second run loads the cache");
    } else {
        assert!(files.is_empty());
    }
}

#[test]
fn shaders_lists_and_dumps_every_variant() {
    let list = ok(&wgbert(&["shaders"]));
    let n = wgbert::kernels::ShaderVariant::all().len();
    assert_eq!(list.lines().count(), n, "{list}");
    assert!(
        list.contains(
            "gemm_coop8.f16.SG32  needs [shader-f16, subgroups, wgpu-cooperative-matrix]"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shaders");
    let said = ok(&wgbert(&["shaders", "--dump", out.to_str().unwrap()]));
    assert!(
        said.starts_with(&format!("wrote {n} shader variants to ")),
        "{said}"
    );
    assert!(out.join("gemm_tile128.f32.wgsl").exists() && out.join("manifest.json").exists());
    // An unwritable place is a one-line error that names it.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let target = file.join("x");
    let e = err(&wgbert(&["shaders", "--dump", target.to_str().unwrap()]));
    assert!(e.contains("cannot write") && e.contains("a-file"), "{e}");
}
