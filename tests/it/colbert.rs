//! ColBERT late interaction (`Engine::embed_multi`, `embed --multi-vector`, MaxSim in `rerank`)
//! against PyLate itself in float64 (scripts/make_colbert_model.py): query markers and [MASK]
//! expansion, document markers, length cut and punctuation skiplist, per-token L2 norm.

use crate::common::*;
use serde_json::Value;
use wgbert::{Engine, EngineOptions, Input, MultiVector};

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("colbert_golden.json")).unwrap()).unwrap()
}

fn engine() -> Engine {
    Engine::from_dir(&data("tiny-colbert"), EngineOptions::default()).unwrap()
}

fn texts(items: &Value) -> Vec<Input> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect()
}

fn check(what: &str, got: &[MultiVector], items: &Value) {
    for (v, item) in got.iter().zip(items.as_array().unwrap()) {
        let ids: Vec<u32> = item["kept_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(v.ids, ids, "{what} {}: kept tokens", item["text"]);
        let want: Vec<f32> = item["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(f32s)
            .collect();
        assert_close(
            &format!("{what} {}", item["text"]),
            &v.vectors,
            &want,
            1e-5,
            0.0,
        );
    }
}

#[test]
fn query_and_document_vectors_match_pylate() {
    let g = golden();
    let e = engine();
    assert_eq!(e.token_dim(), 16);
    let q = e.embed_multi(&texts(&g["queries"]), true).unwrap();
    // Every query is query_length vectors: [CLS] [Q] … [SEP] and the [MASK] expansion.
    assert!(
        q.iter()
            .all(|v| v.len() == g["query_length"].as_u64().unwrap() as usize)
    );
    check("query", &q, &g["queries"]);
    let d = e.embed_multi(&texts(&g["documents"]), false).unwrap();
    check("document", &d, &g["documents"]);
    // MaxSim of every pair, as PyLate's colbert_scores of that pair.
    for (i, qv) in q.iter().enumerate() {
        for (j, dv) in d.iter().enumerate() {
            let want = g["scores"][i][j].as_f64().unwrap();
            let got = qv.max_sim(dv) as f64;
            assert!(
                (got - want).abs() < 1e-4,
                "score q{i} d{j}: {got} vs {want}"
            );
        }
    }
    // One at a time gives the same vectors as a batch.
    let one = e.embed_multi(&texts(&g["documents"])[2..3], false).unwrap();
    assert_close("single document", &one[0].vectors, &d[2].vectors, 1e-6, 0.0);
}

#[test]
fn multi_vector_refuses_what_it_cannot_give() {
    let e = engine();
    let err = e.embed(&[Input::from("a")]).unwrap_err().to_string();
    assert!(
        err.contains("ColBERT") && err.contains("--multi-vector"),
        "{err}"
    );
    let err = e
        .embed_multi(&[Input::Pair("a".into(), "b".into())], false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input 0 is a pair"), "{err}");
    let plain = Engine::from_dir(&data("tiny-st-dense"), EngineOptions::default()).unwrap();
    let err = plain
        .embed_multi(&[Input::from("a")], true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a ColBERT model"), "{err}");
    // A prefix the tokenizer lacks is named with the fix.
    let tmp = copy_of("tiny-colbert");
    let cst = tmp.path().join("config_sentence_transformers.json");
    let text = std::fs::read_to_string(&cst)
        .unwrap()
        .replace("[Q] ", "[QUERY] ");
    std::fs::write(&cst, text).unwrap();
    let e = Engine::from_dir(tmp.path(), EngineOptions::default()).unwrap();
    let err = e
        .embed_multi(&[Input::from("a")], true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no token \"[QUERY] \""), "{err}");
    std::fs::write(&cst, r#"{"query_length": 1}"#).unwrap();
    let err = match Engine::from_dir(tmp.path(), EngineOptions::default()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("query_length must be an integer of at least 3"),
        "{err}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn embed_multi_vector_and_rerank_by_maxsim() {
    let g = golden();
    let m = data("tiny-colbert");
    let m = m.to_str().unwrap();
    let q = g["queries"][0]["text"].as_str().unwrap();
    let out = ok_stdout(&run_wgbert(&[
        "embed",
        "--model",
        m,
        "--multi-vector",
        "--query",
        q,
    ]));
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    let want: Vec<f32> = g["queries"][0]["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f32s)
        .collect();
    let got: Vec<f32> = line["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f32s)
        .collect();
    assert_close("cli query", &got, &want, 1e-5, 0.0);
    assert_eq!(line["tokens"][1], "[Q] ");
    assert_eq!(line["ids"], g["queries"][0]["kept_ids"]);
    // One .npy per document, [tokens, 16].
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vectors");
    let docs: Vec<&str> = g["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap())
        .collect();
    let mut args = vec![
        "embed",
        "--model",
        m,
        "--multi-vector",
        "--format",
        "npy",
        "-o",
    ];
    args.push(dir.to_str().unwrap());
    args.extend(&docs);
    ok_stdout(&run_wgbert(&args));
    for (i, d) in g["documents"].as_array().unwrap().iter().enumerate() {
        let bytes = std::fs::read(dir.join(format!("{i:05}.npy"))).unwrap();
        let n = d["kept_ids"].as_array().unwrap().len();
        let header = String::from_utf8_lossy(&bytes[..128]);
        assert!(header.contains(&format!("({n}, 16)")), "{header}");
    }
    // rerank: MaxSim, best first.
    let mut args = vec!["rerank", "--model", m, "--format", "jsonl", q];
    args.extend(&docs);
    let out = ok_stdout(&run_wgbert(&args));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scores: Vec<f64> = g["scores"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let got: Vec<usize> = rows
        .iter()
        .map(|r| r["index"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(got, order);
    for r in &rows {
        let i = r["index"].as_u64().unwrap() as usize;
        assert!((r["score"].as_f64().unwrap() - scores[i]).abs() < 1e-4);
    }
    let o = run_wgbert(&["embed", "--model", m, "a"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--multi-vector"));
}
