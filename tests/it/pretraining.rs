//! BERT's pretraining heads: masked words (`fill_mask`, `wgbert fill-mask`) and next sentence
//! (`next_sentence`, `wgbert next-sentence`) against transformers' BertForPreTraining /
//! fill-mask pipeline in float64 (scripts/make_pretraining_model.py).

use crate::common::*;
use serde_json::Value;
use wgbert::{Engine, EngineOptions, Input};

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("pretraining_golden.json")).unwrap())
        .unwrap()
}

fn engine() -> Engine {
    Engine::from_dir(&data("tiny-pretraining"), EngineOptions::default()).unwrap()
}

#[test]
fn fill_mask_gives_the_pipeline_s_tokens_scores_and_sequences() {
    let g = golden();
    let k = g["top_k"].as_u64().unwrap() as usize;
    let e = engine();
    let items = g["fill_mask"].as_array().unwrap();
    let inputs: Vec<Input> = items
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect();
    let got = e.fill_mask(&inputs, k).unwrap();
    for (answers, item) in got.iter().zip(items) {
        let masks = item["masks"].as_array().unwrap();
        assert_eq!(answers.len(), masks.len(), "{}", item["text"]);
        for (mine, theirs) in answers.iter().zip(masks) {
            let theirs = theirs.as_array().unwrap();
            assert_eq!(mine.len(), theirs.len());
            for (a, b) in mine.iter().zip(theirs) {
                assert_eq!(
                    a.token as u64,
                    b["token"].as_u64().unwrap(),
                    "{}",
                    item["text"]
                );
                assert_eq!(a.token_str, b["token_str"].as_str().unwrap());
                assert_eq!(a.sequence, b["sequence"].as_str().unwrap());
                let d = (a.score as f64 - b["score"].as_f64().unwrap()).abs();
                assert!(d < 1e-5, "{}: score off by {d}", item["text"]);
            }
        }
    }
}

#[test]
fn next_sentence_gives_transformers_probability() {
    let g = golden();
    let e = engine();
    let items = g["next_sentence"].as_array().unwrap();
    let pairs: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["a"].as_str().unwrap().to_string(),
                i["b"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let got = e.next_sentence(&pairs).unwrap();
    for (p, item) in got.iter().zip(items) {
        let d = (*p as f64 - item["is_next"].as_f64().unwrap()).abs();
        assert!(d < 1e-5, "{item}: off by {d}");
    }
}

#[test]
fn the_heads_refuse_what_they_cannot_answer() {
    let e = engine();
    let err = e
        .fill_mask(&[Input::from("no mask here")], 5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input 0 has no [MASK]"), "{err}");
    let err = e
        .fill_mask(&[Input::from("a [MASK]")], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("top_k is 0"), "{err}");
    let plain = Engine::from_dir(&data("tiny-bert"), EngineOptions::default()).unwrap();
    let err = plain
        .fill_mask(&[Input::from("a [MASK]")], 5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("BertForMaskedLM"), "{err}");
    let err = plain
        .next_sentence(&[("a".into(), "b".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("BertForPreTraining"), "{err}");
    // A top_k above the vocabulary gives the whole vocabulary, probabilities summing to 1.
    let all = e.fill_mask(&[Input::from("a [MASK]")], 100_000).unwrap();
    let v = e.config().vocab_size;
    assert_eq!(all[0][0].len(), v);
    let s: f32 = all[0][0].iter().map(|a| a.score).sum();
    assert!((s - 1.0).abs() < 1e-4, "{s}");
}

#[cfg(feature = "cli")]
#[test]
fn the_commands_print_the_answers() {
    let g = golden();
    let m = data("tiny-pretraining");
    let m = m.to_str().unwrap();
    let item = &g["fill_mask"][0];
    let out = ok_stdout(&run_wgbert(&[
        "fill-mask",
        "--model",
        m,
        "--format",
        "jsonl",
        "--top-k",
        "3",
        item["text"].as_str().unwrap(),
    ]));
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let want = &item["masks"][0];
    assert_eq!(line.as_array().unwrap().len(), 3);
    for (a, b) in line
        .as_array()
        .unwrap()
        .iter()
        .zip(want.as_array().unwrap())
    {
        assert_eq!(a["token"], b["token"]);
        assert_eq!(a["token_str"], b["token_str"]);
        assert_eq!(a["sequence"], b["sequence"]);
    }
    let text = ok_stdout(&run_wgbert(&[
        "fill-mask",
        "--model",
        m,
        item["text"].as_str().unwrap(),
    ]));
    assert!(
        text.contains(want[0]["sequence"].as_str().unwrap()),
        "{text}"
    );
    let ns = &g["next_sentence"][0];
    let out = ok_stdout(&run_wgbert(&[
        "next-sentence",
        "--model",
        m,
        "--format",
        "jsonl",
        ns["a"].as_str().unwrap(),
        ns["b"].as_str().unwrap(),
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert!((v["is_next"].as_f64().unwrap() - ns["is_next"].as_f64().unwrap()).abs() < 1e-5);
    let o = run_wgbert(&["fill-mask", "--model", m, "no mask"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no [MASK]"));
}

#[test]
fn the_vocabulary_logits_split_into_chunks_give_the_same_answers() {
    // 64 KiB bindings: the 500-word table still fits one, the logits of 48 rows (2 000 bytes
    // each) do not, so the decoder runs over row chunks.
    let small = Engine::from_dir(
        &data("tiny-pretraining"),
        EngineOptions {
            gpu: wgbert::GpuOptions {
                max_binding_bytes: Some(64 * 1024),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let g = golden();
    let items = g["fill_mask"].as_array().unwrap();
    let mut inputs: Vec<Input> = items
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect();
    // Two inputs of 25–32 tokens in one pass: 64 rows of logits, 128 000 bytes, two chunks.
    let long = "the [MASK] has four legs and the table is in the room where we eat dinner every day with good friends";
    inputs.push(Input::from(long));
    inputs.push(Input::from(long.replace("table", "[MASK]").as_str()));
    let want = engine().fill_mask(&inputs, 5).unwrap();
    let got = small.fill_mask(&inputs, 5).unwrap();
    assert_eq!(got.len(), want.len());
    for (a, b) in got
        .iter()
        .flatten()
        .flatten()
        .zip(want.iter().flatten().flatten())
    {
        assert_eq!((a.token, &a.sequence), (b.token, &b.sequence));
        assert!((a.score - b.score).abs() < 1e-6);
    }
}
