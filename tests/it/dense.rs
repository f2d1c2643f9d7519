//! sentence-transformers Dense modules after pooling (LaBSE, distiluse): the vectors of
//! sentence-transformers itself (float64 goldens by scripts/make_dense_models.py), through the
//! library, the command line, the server's route table and the C ABI; bad modules refused.

use crate::common::*;
use serde_json::Value;
use std::sync::OnceLock;
use wgbert::{Engine, EngineOptions, Input};

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        serde_json::from_str(&std::fs::read_to_string(data("dense_golden.json")).unwrap()).unwrap()
    })
}

fn check(name: &str, e: &Engine) {
    let g = &golden()[name];
    let items = g["items"].as_array().unwrap();
    let texts: Vec<Input> = items
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect();
    assert_eq!(e.embedding_dim(), g["dim"].as_u64().unwrap() as usize);
    let got = e.embed(&texts).unwrap();
    for (v, item) in got.iter().zip(items) {
        assert_close(
            &format!("{name}: {}", item["text"]),
            v,
            &f32s(&item["embedding"]),
            1e-5,
            0.0,
        );
    }
}

#[test]
fn dense_modules_give_sentence_transformers_vectors() {
    for name in ["tiny-st-dense", "tiny-st-dense-mean"] {
        let e = Engine::from_dir(&data(name), EngineOptions::default()).unwrap();
        assert_eq!(
            e.sentence_config().dense.len(),
            if name == "tiny-st-dense" { 2 } else { 1 }
        );
        check(name, &e);
        // encode's TF-Hub outputs stay the model width; the embedding is the Dense output.
        let out = e
            .encode(
                &[Input::from("a county fair")],
                Some(16),
                &wgbert::Request {
                    pooled_output: false,
                    sequence_output: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(out[0].sequence_output.as_ref().unwrap().len(), 16 * 32);
        assert_eq!(out[0].embedding.as_ref().unwrap().len(), e.embedding_dim());
    }
    // f16 storage: the same vectors within f16's rounding.
    let e = Engine::from_dir(
        &data("tiny-st-dense"),
        EngineOptions {
            precision: wgbert::kernels::Precision::F16,
            ..Default::default()
        },
    );
    if let Ok(e) = e {
        let g = &golden()["tiny-st-dense"]["items"][0];
        let v = e
            .embed(&[Input::from(g["text"].as_str().unwrap())])
            .unwrap();
        assert_close("f16", &v[0], &f32s(&g["embedding"]), 5e-3, 0.0);
    }
}

#[test]
fn the_c_abi_reports_the_embedding_width() {
    let dir = std::ffi::CString::new(data("tiny-st-dense").to_str().unwrap()).unwrap();
    unsafe {
        let e = wgbert::capi::wgbert_engine_new(dir.as_ptr());
        assert!(!e.is_null());
        assert_eq!(wgbert::capi::wgbert_engine_dim(e), 16);
        assert_eq!(wgbert::capi::wgbert_engine_hidden_size(e), 32);
        let text = std::ffi::CString::new("a county fair").unwrap();
        let texts = [text.as_ptr()];
        let mut out = vec![0f32; 16];
        assert_eq!(
            wgbert::capi::wgbert_embed(e, texts.as_ptr(), 1, out.as_mut_ptr()),
            0
        );
        let want = &golden()["tiny-st-dense"]["items"][1];
        assert_eq!(want["text"], "a county fair");
        assert_close("C ABI", &out, &f32s(&want["embedding"]), 1e-5, 0.0);
        wgbert::capi::wgbert_engine_free(e);
    }
}

#[cfg(feature = "cli")]
#[test]
fn embed_and_similarity_run_the_dense_modules() {
    let m = data("tiny-st-dense-mean");
    let items = golden()["tiny-st-dense-mean"]["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let out = ok_stdout(&run_wgbert(
        &[&["embed", "--model", m.to_str().unwrap()][..], &texts].concat(),
    ));
    for (line, item) in out.lines().zip(items) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_close(
            "cli",
            &f32s(&v["embedding"]),
            &f32s(&item["embedding"]),
            1e-5,
            0.0,
        );
    }
    let o = run_wgbert(&[
        "embed",
        "--model",
        m.to_str().unwrap(),
        "--dimensions",
        "20",
        "x",
    ]);
    assert!(o.status.success());
    let o = run_wgbert(&[
        "embed",
        "--model",
        m.to_str().unwrap(),
        "--dimensions",
        "21",
        "x",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside 1..=20"));
    ok_stdout(&run_wgbert(&[
        "similarity",
        "--model",
        m.to_str().unwrap(),
        "a",
        "b",
    ]));
}

/// A copy of tiny-st-dense whose 2_Dense is changed by `edit`.
fn broken(edit: impl FnOnce(&std::path::Path)) -> (tempfile::TempDir, String) {
    let tmp = copy_of("tiny-st-dense");
    edit(&tmp.path().join("2_Dense"));
    let err = match Engine::from_dir(tmp.path(), EngineOptions::default()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    (tmp, err)
}

#[test]
fn bad_dense_modules_are_refused_with_the_fix() {
    let set = |d: &std::path::Path, k: &str, v: Value| {
        let p = d.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        c[k] = v;
        std::fs::write(&p, c.to_string()).unwrap();
    };
    let (_t, err) = broken(|d| set(d, "in_features", 31.into()));
    assert!(
        err.contains("in_features is 31") && err.contains("32"),
        "{err}"
    );
    let (_t, err) = broken(|d| {
        set(
            d,
            "activation_function",
            "torch.nn.modules.activation.Softplus".into(),
        )
    });
    assert!(
        err.contains("Softplus") && err.contains("Identity, Tanh"),
        "{err}"
    );
    let (_t, err) = broken(|d| set(d, "out_features", 25.into()));
    assert!(
        err.contains("linear.weight") && err.contains("[25, 32]"),
        "{err}"
    );
    let (_t, err) = broken(|d| {
        std::fs::rename(d.join("model.safetensors"), d.join("pytorch_model.bin")).unwrap()
    });
    // A pytorch_model.bin is read as a PyTorch state dict; this one is not one (a renamed
    // safetensors file), which the error says.
    assert!(
        err.contains("pytorch_model.bin") && err.contains("not a zip archive"),
        "{err}"
    );
    let (_t, err) = broken(|d| std::fs::remove_file(d.join("config.json")).unwrap());
    assert!(
        err.contains("2_Dense") && err.contains("config.json"),
        "{err}"
    );
}
