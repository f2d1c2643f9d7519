//! TF-Hub packing: token ids identical to the reference on every golden item (public sentences,
//! edge cases, the tiny model at seq_len 24), round-robin truncation, input parsing.

use crate::common::{data, input_of};
use serde_json::Value;
use wgbert::preprocess::{Input, Preprocessor, round_robin_allocation};

fn golden(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn check_golden_packing(golden_file: &str) {
    let g = golden(golden_file);
    let seq = g["meta"]["seq_length"].as_u64().unwrap() as usize;
    // All goldens use the same (MiniLM) tokenizer.json.
    let pre = Preprocessor::from_file(&data("tiny-bert/tokenizer.json")).unwrap();
    for item in g["items"].as_array().unwrap() {
        let text = item["text"].as_str().unwrap();
        // The raw line parses to the same segments the reference used.
        assert_eq!(Input::parse(text), input_of(item), "parse of {text:?}");
        let p = pre.pack(&input_of(item), seq).unwrap();
        assert_eq!(
            p.input_word_ids,
            u32s(&item["input_word_ids"]),
            "{golden_file}: ids of {text:?}"
        );
        assert_eq!(
            p.input_mask,
            u32s(&item["input_mask"]),
            "{golden_file}: mask of {text:?}"
        );
        assert_eq!(
            p.input_type_ids,
            u32s(&item["input_type_ids"]),
            "{golden_file}: types of {text:?}"
        );
        let tokens: Vec<String> = item["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(p.tokens, tokens, "{golden_file}: tokens of {text:?}");
    }
}

#[test]
fn packing_matches_public_golden() {
    check_golden_packing("minilm_public.json");
}

#[test]
fn packing_matches_edge_case_golden() {
    check_golden_packing("minilm_edge_golden.json");
}

#[test]
fn packing_matches_short_seq_golden() {
    check_golden_packing("tiny_golden.json");
}

#[test]
fn tutorial_example() {
    let pre = Preprocessor::from_file(&data("tiny-bert/tokenizer.json")).unwrap();
    let p = pre.pack(&"nice movie indeed".into(), 128).unwrap();
    assert_eq!(p.input_word_ids[..5], [101, 3835, 3185, 5262, 102]);
    assert_eq!(p.input_mask.iter().sum::<u32>(), 5);
    assert_eq!(p.input_word_ids.len(), 128);
    assert!(p.input_word_ids[5..].iter().all(|&i| i == 0));
    assert!(p.input_type_ids.iter().all(|&t| t == 0));
}

#[test]
fn round_robin_matches_tensorflow_text() {
    assert_eq!(round_robin_allocation(&[3, 4, 2], 5), [2, 2, 1]);
    assert_eq!(round_robin_allocation(&[200, 5], 125), [120, 5]);
    assert_eq!(round_robin_allocation(&[100, 100], 125), [63, 62]);
    assert_eq!(round_robin_allocation(&[70, 90], 125), [63, 62]);
    assert_eq!(round_robin_allocation(&[0, 0], 125), [0, 0]);
    assert_eq!(round_robin_allocation(&[5, 5], 0), [0, 0]);
}

#[test]
fn pair_types_and_separators() {
    let pre = Preprocessor::from_file(&data("tiny-bert/tokenizer.json")).unwrap();
    let p = pre
        .pack(&Input::parse("How old are you? ||| What is your age?"), 32)
        .unwrap();
    let n = p.len();
    let seps: Vec<usize> = (0..n).filter(|&i| p.input_word_ids[i] == 102).collect();
    assert_eq!(seps.len(), 2);
    assert_eq!(seps[1], n - 1);
    assert!(p.input_type_ids[..=seps[0]].iter().all(|&t| t == 0));
    assert!(p.input_type_ids[seps[0] + 1..n].iter().all(|&t| t == 1));
    assert!(p.input_type_ids[n..].iter().all(|&t| t == 0));
}

#[test]
fn short_seq_lengths() {
    let pre = Preprocessor::from_file(&data("tiny-bert/tokenizer.json")).unwrap();
    // 2 holds [CLS] [SEP] of a single sentence; 1 and 0 hold nothing and are errors.
    let p = pre.pack(&"hello world".into(), 2).unwrap();
    assert_eq!(p.input_word_ids, [101, 102]);
    for s in [0, 1] {
        let e = pre.pack(&"hello".into(), s).unwrap_err().to_string();
        assert!(e.contains("at least 2"), "{e}");
    }
    let e = pre
        .pack(&Input::parse("a ||| b"), 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 3"), "{e}");
    let p = pre.pack(&Input::parse("a b c ||| d e f"), 3).unwrap();
    assert_eq!(p.input_word_ids, [101, 102, 102]);
}

#[test]
fn input_parsing_keeps_text_as_given() {
    assert_eq!(Input::parse("   "), Input::Single("   ".into()));
    assert_eq!(Input::parse(""), Input::Single("".into()));
    assert_eq!(
        Input::parse(" a |||  b ||| c "),
        Input::Pair("a".into(), "b ||| c".into())
    );
    assert_eq!(
        Input::parse("no pair | here"),
        Input::Single("no pair | here".into())
    );
}

#[test]
fn empty_and_whitespace_inputs_are_cls_sep() {
    let pre = Preprocessor::from_file(&data("tiny-bert/tokenizer.json")).unwrap();
    for t in ["", "   ", "\u{200b}"] {
        let p = pre.pack(&t.into(), 8).unwrap();
        assert_eq!(p.input_word_ids, [101, 102, 0, 0, 0, 0, 0, 0], "{t:?}");
    }
}
