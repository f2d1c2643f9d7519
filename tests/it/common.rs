//! Helpers shared by the integration tests.
#![allow(dead_code)]

use safetensors::{Dtype, tensor::TensorView};
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use wgbert::GpuContext;
use wgbert::kernels::{Kernels, Precision};

/// One GPU context and kernel set per test binary. A missing adapter fails the test: wgbert's
/// tests never skip for want of a GPU (lavapipe is the GPU on machines without one).
pub fn kernels() -> &'static Kernels {
    static K: OnceLock<Kernels> = OnceLock::new();
    K.get_or_init(|| {
        let ctx = GpuContext::new(&Default::default()).unwrap_or_else(|e| panic!("{e}"));
        wgbert::tune::tuned_kernels(Arc::new(ctx), Precision::F32, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Path under tests/data.
pub fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

/// The default model folder; fails with the fix when it was not fetched.
pub fn minilm_dir() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(wgbert::DEFAULT_MODEL_DIR);
    assert!(
        p.join("model.safetensors").exists(),
        "{} is missing: run scripts/fetch-model.sh first (CI does)",
        p.display()
    );
    p
}

/// Asserts |got - want| ≤ atol + rtol·|want| everywhere, naming the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    let mut worst = (0.0f32, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if excess > worst.0 || !g.is_finite() {
            worst = (if g.is_finite() { excess } else { f32::INFINITY }, i);
        }
    }
    if worst.0 > 0.0 {
        let i = worst.1;
        panic!(
            "{what}: element {i} is {} but should be {} (|diff| {:.3e}, atol {atol:e}, rtol {rtol:e})",
            got[i],
            want[i],
            (got[i] - want[i]).abs()
        );
    }
}

pub type ConfigEdit = Box<dyn Fn(&mut serde_json::Value)>;
pub type Raw = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// The tiny model's tensors as (dtype, shape, bytes).
pub fn tiny_raw() -> Raw {
    let bytes = std::fs::read(data("tiny-bert/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect()
}

/// Writes a model folder: safetensors from `raw`, `config`, the tiny model's tokenizer.
pub fn write_model(dir: &Path, raw: &Raw, config: &serde_json::Value) {
    std::fs::create_dir_all(dir).unwrap();
    let views: Vec<(String, TensorView)> = raw
        .iter()
        .map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(config).unwrap(),
    )
    .unwrap();
    std::fs::copy(data("tiny-bert/tokenizer.json"), dir.join("tokenizer.json")).unwrap();
}

/// Writes (name, f32 tensor) pairs as a safetensors file (F32).
pub fn write_tensors(path: &Path, tensors: &[(String, wgbert::weights::HostTensor)]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, t)| {
            let view = TensorView::new(Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.data));
            (n.clone(), view.unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// The error of loading a copy of test folder `name` whose model.safetensors lacks `tensor`.
pub fn load_error_without(name: &str, tensor: &str) -> String {
    let dir = copy_of(name);
    let path = dir.path().join("model.safetensors");
    let mut raw = wgbert::weights::read_safetensors(&path).unwrap();
    let before = raw.len();
    raw.retain(|(n, _)| n != tensor);
    assert_eq!(raw.len() + 1, before, "{name} has no tensor {tensor}");
    write_tensors(&path, &raw);
    wgbert::Engine::from_dir(dir.path(), wgbert::EngineOptions::default())
        .err()
        .unwrap_or_else(|| panic!("{name} without {tensor} loads"))
        .to_string()
}

/// The tiny model's config.json.
pub fn tiny_config() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data("tiny-bert/config.json")).unwrap()).unwrap()
}

/// The wgbert binary (built with the default `cli` feature; lean-library test runs must not
/// call this).
pub fn wgbert_bin() -> &'static str {
    match option_env!("CARGO_BIN_EXE_wgbert") {
        Some(p) => p,
        None => panic!("the wgbert binary is built only with the `cli` feature (the default)"),
    }
}

/// Runs the wgbert binary from the package root.
pub fn run_wgbert(args: &[&str]) -> std::process::Output {
    std::process::Command::new(wgbert_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NODEVICE_SELECT", "1")
        .output()
        .expect("run wgbert")
}

/// Stdout of a run that must succeed.
pub fn ok_stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "wgbert failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A JSON array of numbers as f32s.
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The input of a golden item (`segments`: one text, or a pair).
pub fn input_of(item: &serde_json::Value) -> wgbert::Input {
    let segs: Vec<String> = item["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().into())
        .collect();
    match segs.as_slice() {
        [a] => wgbert::Input::Single(a.clone()),
        [a, b] => wgbert::Input::Pair(a.clone(), b.clone()),
        _ => panic!("a golden item has one or two segments: {segs:?}"),
    }
}

/// A golden item's `input_word_ids`.
pub fn golden_ids(item: &serde_json::Value) -> Vec<u32> {
    item["input_word_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The inputs of golden items.
pub fn inputs_of(items: &[serde_json::Value]) -> Vec<wgbert::Input> {
    items.iter().map(input_of).collect()
}

/// Asserts, for each golden item and its encoding, identical token ids and cosines of at least
/// `min_embedding` (mean-pooled, normalised) and `min_pooled` (`pooled_output`); prints the
/// lowest of each (`--nocapture` shows them).
pub fn assert_golden_cosines(
    what: &str,
    items: &[serde_json::Value],
    out: &[wgbert::Encoded],
    min_embedding: f64,
    min_pooled: f64,
) {
    let (mut lowest_embedding, mut lowest_pooled) = (1.0f64, 1.0f64);
    assert_eq!(items.len(), out.len(), "{what}");
    for (item, o) in items.iter().zip(out) {
        let text = item["text"].as_str().unwrap();
        let ids = golden_ids(item);
        assert_eq!(
            o.packed.input_word_ids, ids,
            "{what}: token ids of {text:?}"
        );
        let emb = &f32s(&item["mean_pooled_normalized"]);
        let c = cosine(o.embedding.as_ref().unwrap(), emb);
        lowest_embedding = lowest_embedding.min(c);
        assert!(c >= min_embedding, "{what} {text:?}: embedding cosine {c}");
        let c = cosine(
            o.pooled_output.as_ref().unwrap(),
            &f32s(&item["pooled_output"]),
        );
        lowest_pooled = lowest_pooled.min(c);
        assert!(c >= min_pooled, "{what} {text:?}: pooled_output cosine {c}");
    }
    println!(
        "{what}: lowest cosine embedding {lowest_embedding:.7}, pooled_output {lowest_pooled:.7}"
    );
}

/// Cosine similarity, summed in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    d / (a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
        * b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt())
}

/// A fresh temporary copy of the model folder `name` of tests/data (subfolders included).
pub fn copy_of(name: &str) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let dst = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &dst);
            } else {
                std::fs::copy(&p, dst).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(&data(name), tmp.path());
    tmp
}

/// A golden file of tests/data, parsed.
pub fn load_golden(file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data(file)).unwrap()).unwrap()
}

/// The input of an architecture golden item (`text`, and `pair` or null).
pub fn arch_item_input(item: &serde_json::Value) -> wgbert::Input {
    let a = item["text"].as_str().unwrap().to_string();
    match item["pair"].as_str() {
        Some(b) => wgbert::Input::Pair(a, b.to_string()),
        None => wgbert::Input::Single(a),
    }
}

fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn sequence_request() -> wgbert::Request {
    wgbert::Request {
        pooled_output: false,
        sequence_output: true,
        embedding: true,
        pooling: wgbert::Pooling::Mean,
        normalize: false,
        ..Default::default()
    }
}

/// An architecture's golden items (scripts/make_nomic_models.py, make_modernbert_models.py)
/// as one padded batch of singles and pairs: token ids identical, sequence_output within 5e-5
/// at every position the golden has (padding too, where it has them), the mean (and
/// pooled_output, where the golden has one) within 1e-5;
/// at f16 storage the mean's cosine
/// at least 0.999.
pub fn check_arch_items(
    g: &serde_json::Value,
    dir: &Path,
    name: &str,
    precision: wgbert::kernels::Precision,
) {
    let s = g["seq_len"].as_u64().unwrap() as usize;
    let engine = wgbert::Engine::from_dir(
        dir,
        wgbert::EngineOptions {
            seq_length: s,
            precision,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let items = g["items"].as_array().unwrap();
    let inputs: Vec<wgbert::Input> = items.iter().map(arch_item_input).collect();
    let pooled = !items[0]["pooled_output"].is_null();
    assert_eq!(engine.has_pooler(), pooled, "{name}: pooler");
    let request = wgbert::Request {
        pooled_output: pooled,
        ..sequence_request()
    };
    let out = engine.encode(&inputs, Some(s), &request).unwrap();
    for (item, e) in items.iter().zip(&out) {
        let what = format!("{name} {precision:?} {:?}", arch_item_input(item));
        let want = u32s(&item["ids"]);
        assert_eq!(
            &e.packed.input_word_ids[..want.len()],
            &want[..],
            "{what}: ids"
        );
        assert_eq!(e.packed.len(), want.len(), "{what}: mask");
        let seq = e.sequence_output.as_ref().unwrap();
        let mean = e.embedding.as_ref().unwrap();
        if precision == wgbert::kernels::Precision::F32 {
            // Every position, or the real tokens' where the golden holds only those.
            let want = f32s(&item["sequence_output"]);
            assert_close(
                &format!("{what}: sequence_output"),
                &seq[..want.len()],
                &want,
                5e-5,
                0.0,
            );
            assert_close(
                &format!("{what}: mean"),
                mean,
                &f32s(&item["mean"]),
                1e-5,
                0.0,
            );
            if pooled {
                let got = e.pooled_output.as_ref().unwrap();
                let want = f32s(&item["pooled_output"]);
                assert_close(&format!("{what}: pooled_output"), got, &want, 1e-5, 0.0);
            }
        } else {
            let c = cosine(mean, &f32s(&item["mean"]));
            assert!(c >= 0.999, "{what}: mean cosine {c}");
        }
    }
}

/// An architecture golden's long input (token ids given, padded to its `seq_len`): the rows it
/// lists within `row_tol`, the mean within `mean_tol`.
pub fn check_arch_long(g: &serde_json::Value, dir: &Path, name: &str, row_tol: f32, mean_tol: f32) {
    let l = &g["long"];
    let s = l["seq_len"].as_u64().unwrap() as usize;
    let n = l["tokens"].as_u64().unwrap() as usize;
    let h = g["hidden"].as_u64().unwrap() as usize;
    let engine = wgbert::Engine::from_dir(
        dir,
        wgbert::EngineOptions {
            seq_length: s,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut input_word_ids = u32s(&l["ids"]);
    input_word_ids.resize(s, engine.config().pad_id() as u32);
    let packed = wgbert::Packed {
        input_word_ids,
        input_mask: (0..s).map(|i| (i < n) as u32).collect(),
        input_type_ids: vec![0; s],
        tokens: vec![String::new(); n],
        offsets: vec![(0, 0); n],
        special: vec![false; n],
    };
    let out = engine
        .encode_packed(vec![packed], &sequence_request())
        .unwrap();
    let seq = out[0].sequence_output.as_ref().unwrap();
    for (r, want) in u32s(&l["rows"])
        .iter()
        .zip(l["sequence_rows"].as_array().unwrap())
    {
        let r = *r as usize;
        assert_close(
            &format!("{name} long: row {r}"),
            &seq[r * h..(r + 1) * h],
            &f32s(want),
            row_tol,
            0.0,
        );
    }
    assert_close(
        &format!("{name} long: mean"),
        out[0].embedding.as_ref().unwrap(),
        &f32s(&l["mean"]),
        mean_tol,
        0.0,
    );
}
