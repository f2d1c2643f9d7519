//! One engine shared by 8 threads making 100 mixed calls each returns exactly what the same calls
//! return one at a time: no deadlock, no mixed-up results, bit-identical vectors.

use crate::common;
use std::sync::Arc;
use wgbert::{Engine, EngineOptions, Input, Pooling, Request};

#[derive(Debug, PartialEq)]
enum Answer {
    Embed(Vec<Vec<f32>>),
    Encode(Vec<Option<Vec<f32>>>, Vec<Option<Vec<f32>>>),
    Pre(Vec<Vec<u32>>),
}

fn call(e: &Engine, k: usize) -> Answer {
    let texts = [
        "a fine movie",
        "How old are you? ||| What is your age?",
        "",
        "county fair",
        "the quick brown fox jumps over the lazy dog",
    ];
    let inputs: Vec<Input> = (0..1 + k % 4)
        .map(|i| Input::parse(texts[(k + i) % texts.len()]))
        .collect();
    match k % 3 {
        0 => Answer::Embed(
            e.embed_with(
                &inputs,
                if k.is_multiple_of(2) {
                    Pooling::Mean
                } else {
                    Pooling::Max
                },
                !k.is_multiple_of(5),
            )
            .unwrap(),
        ),
        1 => {
            let req = Request {
                sequence_output: k.is_multiple_of(2),
                ..Default::default()
            };
            let out = e.encode(&inputs, Some(8 + 8 * (k % 3)), &req).unwrap();
            Answer::Encode(
                out.iter().map(|o| o.pooled_output.clone()).collect(),
                out.iter().map(|o| o.sequence_output.clone()).collect(),
            )
        }
        _ => Answer::Pre(
            e.preprocess(&inputs, Some(16))
                .unwrap()
                .into_iter()
                .map(|p| p.input_word_ids)
                .collect(),
        ),
    }
}

#[test]
fn eight_threads_hundred_calls_each_match_serial_results() {
    let opts = EngineOptions {
        seq_length: 32,
        max_batch: 3,
        ..Default::default()
    };
    let engine = Arc::new(Engine::from_dir(&common::data("tiny-bert"), opts).unwrap());
    let serial: Vec<Answer> = (0..100).map(|k| call(&engine, k)).collect();
    let serial = Arc::new(serial);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (e, s) = (engine.clone(), serial.clone());
            std::thread::spawn(move || {
                for j in 0..100 {
                    let k = (j * 7 + t * 13) % 100;
                    assert_eq!(
                        call(&e, k),
                        s[k],
                        "thread {t}, call {k} differs from the serial answer"
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker thread panicked");
    }
}
