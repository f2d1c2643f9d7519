//! `wgbert train-head` and `wgbert classify --head`: a softmax head on the user's own labels.

use crate::common;
use crate::common::{data, ok_stdout, run_wgbert};
use serde_json::Value;
use wgbert::head::{Head, TrainOptions, read_labeled, split};

fn fails_with(args: &[&str], want: &str) {
    let o = run_wgbert(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains(want) && !e.contains("panicked"),
        "{args:?}: {e}"
    );
}

#[test]
fn sentiment_head_on_minilm_reaches_90_percent_held_out() {
    common::minilm_dir();
    let tmp = tempfile::tempdir().unwrap();
    let head = tmp.path().join("head.safetensors");
    let out = ok_stdout(&run_wgbert(&[
        "train-head",
        "--data",
        data("reviews.jsonl").to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
    ]));
    let acc: f64 = out
        .lines()
        .find(|l| l.starts_with("held-out acc"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 90.0, "held-out accuracy {acc} %:\n{out}");
    let h = Head::load(&head).unwrap();
    assert_eq!(h.labels, ["negative", "positive"]);
    assert_eq!((h.hidden, h.weight.len(), h.bias.len()), (384, 768, 2));
    // Unseen wording, in input order.
    let texts = [
        "What a fantastic film, I loved every minute",
        "Terrible plot and wooden acting, a total bore",
        "A wonderful, moving story",
    ];
    let mut args = vec!["classify", "--head", head.to_str().unwrap()];
    args.extend(texts);
    let labels: Vec<String> = ok_stdout(&run_wgbert(&args))
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["positive", "negative", "positive"]);
    let j = ok_stdout(&run_wgbert(&[
        "classify",
        "--head",
        head.to_str().unwrap(),
        "--format",
        "jsonl",
        "meh",
    ]));
    let v: Value = serde_json::from_str(j.trim()).unwrap();
    let sum: f64 = v["scores"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-5, "{v}");
    // The head was trained on 384-wide vectors: the 60-wide tiny model refuses it.
    fails_with(
        &[
            "classify",
            "--model",
            data("tiny-bert").to_str().unwrap(),
            "--head",
            head.to_str().unwrap(),
            "x",
        ],
        "384-wide",
    );
}

#[test]
fn csv_rows_with_quotes_and_commas() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("rows.csv");
    std::fs::write(&csv, "id,text,label\n1,\"great, really great\",pos\n2,\"awful \"\"film\"\", awful\",neg\n3,lovely,pos\n4,dreadful,neg\n").unwrap();
    let rows = read_labeled(&csv).unwrap();
    assert_eq!(
        rows[0],
        ("great, really great".to_string(), "pos".to_string())
    );
    assert_eq!(
        rows[1],
        ("awful \"film\", awful".to_string(), "neg".to_string())
    );
    assert_eq!(rows.len(), 4);
    let head = tmp.path().join("h.safetensors");
    let m = data("tiny-bert");
    let out = ok_stdout(&run_wgbert(&[
        "train-head",
        "--model",
        m.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        head.to_str().unwrap(),
        "--holdout",
        "0",
    ]));
    assert!(
        out.contains("train acc") && !out.contains("held-out"),
        "{out}"
    );
    assert_eq!(Head::load(&head).unwrap().labels, ["neg", "pos"]);
}

#[test]
fn training_is_deterministic_and_separates_separable_data() {
    let x: Vec<Vec<f32>> = (0..40)
        .map(|i| {
            vec![
                if i % 2 == 0 { 1.0 } else { -1.0 },
                (i as f32 * 0.37).sin() * 0.1,
            ]
        })
        .collect();
    let y: Vec<usize> = (0..40).map(|i| i % 2).collect();
    let labels = vec!["a".to_string(), "b".to_string()];
    let opts = TrainOptions::default();
    let h1 = Head::train(&x, &y, labels.clone(), wgbert::Pooling::Mean, true, &opts).unwrap();
    let h2 = Head::train(&x, &y, labels, wgbert::Pooling::Mean, true, &opts).unwrap();
    assert_eq!(h1, h2);
    for (v, &c) in x.iter().zip(&y) {
        let p = h1.predict(v);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(Head::argmax(&p), c);
    }
    let (train, test) = split(10, 0.3, 5);
    assert_eq!((train.len(), test.len()), (7, 3));
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(split(10, 0.3, 5), (train, test), "same seed, same split");
}

#[test]
fn bad_training_data_and_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let m = data("tiny-bert");
    let m = m.to_str().unwrap();
    let out = tmp.path().join("h.safetensors");
    let o = out.to_str().unwrap();
    let one = tmp.path().join("one.jsonl");
    std::fs::write(
        &one,
        "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"x\"}\n",
    )
    .unwrap();
    fails_with(
        &[
            "train-head",
            "--model",
            m,
            "--data",
            one.to_str().unwrap(),
            "--out",
            o,
        ],
        "1 distinct label",
    );
    let broken = tmp.path().join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": 5}\n",
    )
    .unwrap();
    fails_with(
        &[
            "train-head",
            "--model",
            m,
            "--data",
            broken.to_str().unwrap(),
            "--out",
            o,
        ],
        "line 2",
    );
    let nocol = tmp.path().join("nocol.csv");
    std::fs::write(&nocol, "sentence,label\na,x\n").unwrap();
    fails_with(
        &[
            "train-head",
            "--model",
            m,
            "--data",
            nocol.to_str().unwrap(),
            "--out",
            o,
        ],
        "text and label",
    );
    fails_with(&["classify", "--model", m, "x"], "--head");
    fails_with(
        &[
            "classify",
            "--model",
            m,
            "--head",
            data("tiny-bert/model.safetensors").to_str().unwrap(),
            "x",
        ],
        "labels",
    );
    assert!(!out.exists(), "no head is written when training fails");
}
