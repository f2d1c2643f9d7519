//! BertForTokenClassification checkpoints: the per-token classifier runs on the GPU after the
//! encoder (logits match a NumPy float64 reference, `scripts/make_tiny_ner.py`), and entities
//! are merged from B-/I- tags with the first-subtoken rule and character offsets.

use crate::common::{assert_close, data, ok_stdout, run_wgbert};
use serde_json::Value;
use wgbert::ner::{Entity, aggregate};
use wgbert::{Engine, EngineOptions, Input, Request};

#[test]
fn token_logits_match_numpy_reference() {
    let g: Value =
        serde_json::from_str(&std::fs::read_to_string(data("tiny_ner_expected.json")).unwrap())
            .unwrap();
    let e = Engine::from_dir(
        &data("tiny-ner"),
        EngineOptions {
            seq_length: 24,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        e.config().labels(5),
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    );
    let items = g["items"].as_array().unwrap();
    let inputs: Vec<Input> = items
        .iter()
        .map(|i| Input::from(i["text"].as_str().unwrap()))
        .collect();
    let req = Request {
        pooled_output: false,
        embedding: false,
        logits: true,
        ..Default::default()
    };
    let out = e.encode(&inputs, None, &req).unwrap();
    for (item, o) in items.iter().zip(&out) {
        let want: Vec<f32> = item["logits"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
            })
            .collect();
        let got = o.logits.as_ref().unwrap();
        assert_close(
            &format!("token logits of {}", item["text"]),
            &got[..want.len()],
            &want,
            1e-4,
            0.0,
        );
    }
    // The entities reported are the aggregation of those logits.
    let ents = e.ner(&inputs).unwrap();
    for ((o, ents), input) in out.iter().zip(&ents).zip(&inputs) {
        let Input::Single(text) = input else {
            unreachable!()
        };
        assert_eq!(
            ents,
            &aggregate(
                text,
                &o.packed,
                o.logits.as_ref().unwrap(),
                &e.config().labels(5)
            )
        );
        for ent in ents {
            assert_eq!(
                text.chars()
                    .skip(ent.start)
                    .take(ent.end - ent.start)
                    .collect::<String>(),
                ent.word
            );
        }
    }
    let out = ok_stdout(&run_wgbert(&[
        "ner",
        "--model",
        data("tiny-ner").to_str().unwrap(),
        "--format",
        "jsonl",
        "John Smith lives in Paris",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v.is_array());
}

fn packed_for(tokens: &[&str], offsets: &[(usize, usize)]) -> wgbert::Packed {
    wgbert::Packed {
        input_word_ids: vec![0; tokens.len()],
        input_mask: vec![1; tokens.len()],
        input_type_ids: vec![0; tokens.len()],
        tokens: tokens.iter().map(|t| t.to_string()).collect(),
        offsets: offsets.to_vec(),
        special: tokens.iter().map(|t| t.starts_with('[')).collect(),
    }
}

/// Logits that make `label` win with probability ≈ 1 at each token.
fn one_hot(labels: &[usize], n: usize) -> Vec<f32> {
    labels
        .iter()
        .flat_map(|&l| (0..n).map(move |k| if k == l { 10.0 } else { 0.0 }))
        .collect()
}

#[test]
fn simple_aggregation_rules() {
    let labels: Vec<String> = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // "Jean-Luc Picard visited Rennes" with WordPieces and a ## continuation.
    let text = "Jean Picard visited Rennes";
    let p = packed_for(
        &[
            "[CLS]", "jean", "pic", "##ard", "visited", "ren", "##nes", "[SEP]",
        ],
        &[
            (0, 0),
            (0, 4),
            (5, 8),
            (8, 11),
            (12, 19),
            (20, 23),
            (23, 26),
            (0, 0),
        ],
    );
    // B-PER I-PER (##: ignored, first-subtoken rule) O B-LOC (## ignored)
    let logits = one_hot(&[0, 1, 2, 0, 0, 3, 0, 0], 5);
    let ents = aggregate(text, &p, &logits, &labels);
    let words: Vec<(&str, &str, usize, usize)> = ents
        .iter()
        .map(|e| (e.entity_group.as_str(), e.word.as_str(), e.start, e.end))
        .collect();
    assert_eq!(
        words,
        [("PER", "Jean Picard", 0, 11), ("LOC", "Rennes", 20, 26)]
    );
    assert!(ents.iter().all(|e| e.score > 0.99));
    // I- after O, or after another type, starts a new entity; B- always does.
    let logits = one_hot(&[0, 2, 4, 0, 3, 0, 0, 0], 5);
    let ents: Vec<Entity> = aggregate(text, &p, &logits, &labels);
    let groups: Vec<(&str, &str)> = ents
        .iter()
        .map(|e| (e.entity_group.as_str(), e.word.as_str()))
        .collect();
    assert_eq!(
        groups,
        [("PER", "Jean"), ("LOC", "Picard"), ("LOC", "visited")]
    );
    assert!(aggregate(text, &p, &one_hot(&[0; 8], 5), &labels).is_empty());
}

#[test]
fn ner_needs_a_token_classification_head() {
    let o = run_wgbert(&[
        "ner",
        "--model",
        data("tiny-cls").to_str().unwrap(),
        "Paris",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("token-classification head"),
        "{e}"
    );
    let o = run_wgbert(&[
        "classify",
        "--model",
        data("tiny-ner").to_str().unwrap(),
        "Paris",
    ]);
    assert!(!o.status.success());
}
