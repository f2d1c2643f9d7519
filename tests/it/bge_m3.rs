//! bge-m3's three outputs from one forward pass (`Engine::embed_m3`; `embed`, `embed --sparse`,
//! `embed --multi-vector` and `/embed_sparse` on its folder) against FlagEmbedding's
//! BGEM3FlagModel in float64 (scripts/make_bge_m3_model.py), with its heads read from the
//! PyTorch `.pt` files as published.

use crate::common::*;
use serde_json::Value;
use wgbert::{EmbedOptions, Engine, EngineOptions, Input};

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("bge_m3_golden.json")).unwrap()).unwrap()
}

fn engine() -> Engine {
    Engine::from_dir(&data("tiny-bge-m3"), EngineOptions::default()).unwrap()
}

fn texts(g: &Value) -> Vec<Input> {
    g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_three_outputs_match_flagembedding() {
    let g = golden();
    let e = engine();
    let got = e.embed_m3(&texts(&g), &EmbedOptions::default()).unwrap();
    for (m, item) in got.iter().zip(g["items"].as_array().unwrap()) {
        let what = item["text"].as_str().unwrap();
        assert_close(
            &format!("dense {what}"),
            &m.dense,
            &f32s(&item["dense"]),
            1e-5,
            0.0,
        );
        let ids: Vec<u32> = item["sparse_indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(m.sparse.indices, ids, "{what}: lexical ids");
        assert_close(
            &format!("lexical {what}"),
            &m.sparse.values,
            &f32s(&item["sparse_values"]),
            1e-5,
            0.0,
        );
        let want: Vec<f32> = item["colbert"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(f32s)
            .collect();
        assert_eq!(
            m.colbert.len(),
            item["colbert"].as_array().unwrap().len(),
            "{what}"
        );
        assert_close(
            &format!("colbert {what}"),
            &m.colbert.vectors,
            &want,
            1e-5,
            0.0,
        );
    }
    // FlagEmbedding's scores: Σ shared lexical weights; MaxSim divided by the query's vectors.
    for (i, q) in got.iter().take(2).enumerate() {
        for (j, d) in got.iter().enumerate() {
            let lex = g["scores"]["lexical"][i][j].as_f64().unwrap();
            assert!(
                (q.sparse.dot(&d.sparse) as f64 - lex).abs() < 1e-4,
                "lexical {i} {j}"
            );
            let col = g["scores"]["colbert"][i][j].as_f64().unwrap();
            let mine = q.colbert.max_sim(&d.colbert) as f64 / q.colbert.len() as f64;
            assert!(
                (mine - col).abs() < 1e-5,
                "colbert {i} {j}: {mine} vs {col}"
            );
        }
    }
}

#[test]
fn each_output_alone_equals_the_combined_pass() {
    let g = golden();
    let e = engine();
    let inputs = texts(&g);
    let all = e.embed_m3(&inputs, &EmbedOptions::default()).unwrap();
    let dense = e.embed(&inputs).unwrap();
    let sparse = e
        .embed_sparse(&inputs, &EmbedOptions::default(), None)
        .unwrap();
    let multi = e.embed_multi(&inputs, true).unwrap();
    for (i, m) in all.iter().enumerate() {
        assert_close("dense alone", &dense[i], &m.dense, 1e-6, 0.0);
        assert_eq!(sparse[i].indices, m.sparse.indices);
        assert_close(
            "sparse alone",
            &sparse[i].values,
            &m.sparse.values,
            1e-6,
            0.0,
        );
        assert_close(
            "colbert alone",
            &multi[i].vectors,
            &m.colbert.vectors,
            1e-6,
            0.0,
        );
    }
    let top = e
        .embed_sparse(&inputs[2..3], &EmbedOptions::default(), Some(3))
        .unwrap();
    assert_eq!(top[0].indices.len(), 3);
}

#[test]
fn broken_heads_are_refused_with_the_fix() {
    let tmp = copy_of("tiny-bge-m3");
    let src = data("tiny-bge-m3");
    let err_of = |dir: &std::path::Path| match Engine::from_dir(dir, EngineOptions::default()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    // A truncated .pt file: an error naming the file, no panic.
    let sparse = tmp.path().join("sparse_linear.pt");
    let bytes = std::fs::read(&sparse).unwrap();
    std::fs::write(&sparse, &bytes[..bytes.len() / 2]).unwrap();
    let err = err_of(tmp.path());
    assert!(err.contains("sparse_linear.pt"), "{err}");
    // One head without the other.
    std::fs::remove_file(&sparse).unwrap();
    let err = err_of(tmp.path());
    assert!(err.contains("not sparse_linear.pt"), "{err}");
    // A sparse head of the wrong width (the 32 → 32 ColBERT head in its place) loads as a
    // head; one of the wrong input width is refused naming the file.
    std::fs::copy(src.join("colbert_linear.pt"), &sparse).unwrap();
    let head = wgbert::sentence::BgeM3Heads {
        dir: tmp.path().to_path_buf(),
    };
    assert!(head.load(32).is_ok(), "any output width loads");
    let err = head.load(16).unwrap_err().to_string();
    assert!(err.contains("colbert_linear.pt"), "{err}");
    let plain = Engine::from_dir(&data("tiny-st-dense"), EngineOptions::default()).unwrap();
    let err = plain
        .embed_m3(&[Input::from("a")], &EmbedOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not bge-m3"), "{err}");
}

#[cfg(feature = "cli")]
#[test]
fn the_commands_give_each_output() {
    let g = golden();
    let m = data("tiny-bge-m3");
    let m = m.to_str().unwrap();
    let item = &g["items"][2];
    let t = item["text"].as_str().unwrap();
    let out = ok_stdout(&run_wgbert(&["embed", "--model", m, "--sparse", t]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["indices"], item["sparse_indices"]);
    let out = ok_stdout(&run_wgbert(&["embed", "--model", m, "--multi-vector", t]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["vectors"].as_array().unwrap().len(),
        item["colbert"].as_array().unwrap().len()
    );
    let out = ok_stdout(&run_wgbert(&["embed", "--model", m, t]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_close(
        "cli dense",
        &f32s(&v["embedding"]),
        &f32s(&item["dense"]),
        1e-5,
        0.0,
    );
}
