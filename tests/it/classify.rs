//! BertForSequenceClassification checkpoints: the classifier on pooled_output runs on the GPU
//! after the encoder; probabilities match a NumPy float64 reference
//! (`scripts/make_tiny_classifier.py`, with ../shared/reference).

use crate::common;
use crate::common::{
    assert_close, data, ok_stdout, run_wgbert, tiny_config, tiny_raw, write_model,
};
use serde_json::Value;
use wgbert::{Engine, EngineOptions, Input};

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("tiny_cls_expected.json")).unwrap()).unwrap()
}

use crate::common::f32s;

fn engine(dir: &std::path::Path) -> Engine {
    Engine::from_dir(
        dir,
        EngineOptions {
            seq_length: 24,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn sequence_classification_matches_numpy_reference() {
    let g = expected();
    let e = engine(&data("tiny-cls"));
    assert_eq!(e.labels().unwrap(), ["sad", "neutral", "happy"]);
    let items = g["items"].as_array().unwrap();
    let inputs: Vec<Input> = items
        .iter()
        .map(|i| Input::parse(i["text"].as_str().unwrap()))
        .collect();
    let probs = e.classify(&inputs).unwrap();
    for (item, p) in items.iter().zip(&probs) {
        assert_close(
            &format!("probabilities of {}", item["text"]),
            p,
            &f32s(&item["probs"]),
            1e-5,
            0.0,
        );
    }
    // The CLI prints the same, in input order.
    let m = data("tiny-cls");
    let out = ok_stdout(&run_wgbert(&[
        "classify",
        "--model",
        m.to_str().unwrap(),
        "--format",
        "jsonl",
        "a fine movie",
        "the worst day",
    ]));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["label"], "sad");
    assert_eq!(rows[1]["label"], "neutral");
    assert!(
        (rows[1]["scores"]["neutral"].as_f64().unwrap() - items[1]["probs"][1].as_f64().unwrap())
            .abs()
            < 1e-5
    );
}

#[test]
fn multi_label_problem_type_gives_sigmoids() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = {
        let bytes = std::fs::read(data("tiny-cls/model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        st.tensors()
            .into_iter()
            .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
            .collect::<common::Raw>()
    };
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(data("tiny-cls/config.json")).unwrap())
            .unwrap();
    cfg["problem_type"] = "multi_label_classification".into();
    write_model(tmp.path(), &raw, &cfg);
    let g = expected();
    let item = &g["items"][0];
    let p = engine(tmp.path())
        .classify(&[Input::parse(item["text"].as_str().unwrap())])
        .unwrap();
    let want: Vec<f32> = f32s(&item["logits"])
        .iter()
        .map(|z| 1.0 / (1.0 + (-z).exp()))
        .collect();
    assert_close("sigmoid scores", &p[0], &want, 1e-5, 0.0);
}

#[test]
fn missing_or_mismatched_heads_are_clear_errors() {
    // No classifier: classify without --head says what to do.
    let o = run_wgbert(&[
        "classify",
        "--model",
        data("tiny-bert").to_str().unwrap(),
        "x",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("no classification head") && e.contains("train-head"),
        "{e}"
    );
    assert!(
        engine(&data("tiny-bert"))
            .classify(&[Input::from("x")])
            .is_err()
    );
    // id2label naming more labels than the head has.
    let tmp = tempfile::tempdir().unwrap();
    let mut raw = tiny_raw();
    raw.insert(
        "classifier.weight".into(),
        (safetensors::Dtype::F16, vec![2, 60], vec![0; 240]),
    );
    raw.insert(
        "classifier.bias".into(),
        (safetensors::Dtype::F16, vec![2], vec![0; 4]),
    );
    let mut cfg = tiny_config();
    cfg["id2label"] = serde_json::json!({"0": "a", "1": "b", "2": "c"});
    write_model(tmp.path(), &raw, &cfg);
    let err = Engine::from_dir(
        tmp.path(),
        EngineOptions {
            seq_length: 24,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("2 rows") && err.contains("3 labels"), "{err}");
    // A bias of the wrong length names the tensor.
    raw.insert(
        "classifier.bias".into(),
        (safetensors::Dtype::F16, vec![5], vec![0; 10]),
    );
    write_model(tmp.path(), &raw, &tiny_config());
    let err = Engine::from_dir(
        tmp.path(),
        EngineOptions {
            seq_length: 24,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("classifier.bias") && err.contains("[5]") && err.contains("[2]"),
        "{err}"
    );
}
