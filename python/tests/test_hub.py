"""The TF-Hub tutorial's two layers: the `wgbert preprocess` / `wgbert encode` numbers exactly."""

import json
import runpy
import subprocess
import sys

import numpy as np
import pytest

import wgbert.hub as hub
from conftest import DATA, ROOT, TINY, max_abs, run_cli

TUTORIAL = ["nice movie indeed", "I love python programming"]


def test_preprocess_is_the_tutorial_dict(minilm, golden):
    pre = hub.Preprocess(str(minilm))
    out = pre(TUTORIAL)
    assert sorted(out) == ["input_mask", "input_type_ids", "input_word_ids"]
    for v in out.values():
        assert v.shape == (2, 128) and v.dtype == np.int32
    assert out["input_word_ids"][0, :5].tolist() == [101, 3835, 3185, 5262, 102]
    assert out["input_mask"][0].sum() == 5
    g = golden[0]
    one = pre([g["text"]] if len(g["segments"]) == 1 else [tuple(g["segments"])])
    assert one["input_word_ids"][0].tolist() == g["input_word_ids"]
    assert one["input_mask"][0].tolist() == g["input_mask"]
    assert one["input_type_ids"][0].tolist() == g["input_type_ids"]


def test_pairs_follow_the_golden_packing(minilm):
    edge = json.loads((DATA / "minilm_edge_golden.json").read_text())
    pre = hub.Preprocess(str(minilm), seq_length=edge["meta"]["seq_length"])
    pairs = [g for g in edge["items"] if len(g["segments"]) == 2]
    assert pairs
    out = pre([tuple(g["segments"]) for g in pairs])
    assert out["input_word_ids"].tolist() == [g["input_word_ids"] for g in pairs]
    assert out["input_type_ids"].tolist() == [g["input_type_ids"] for g in pairs]


def test_encoder_gives_the_command_line_numbers_exactly(minilm):
    inputs = hub.Preprocess(str(minilm))(TUTORIAL)
    out = hub.Encoder(str(minilm))(inputs)
    assert out["pooled_output"].shape == (2, 384)
    assert out["sequence_output"].shape == (2, 128, 384)
    assert len(out["encoder_outputs"]) == 6
    assert all(l.shape == (2, 128, 384) for l in out["encoder_outputs"])
    assert np.array_equal(out["encoder_outputs"][-1], out["sequence_output"])
    cli = [json.loads(l) for l in run_cli("encode", "--model", str(minilm), "--all-layers", *TUTORIAL).splitlines()]
    for b, c in enumerate(cli):
        assert c["input_word_ids"] == inputs["input_word_ids"][b].tolist()
        assert np.array_equal(np.float32(c["pooled_output"]), out["pooled_output"][b])
        seq = np.float32(c["sequence_output"]).reshape(-1, 384)
        assert np.array_equal(seq, out["sequence_output"][b][: len(seq)])
        for l, layer in enumerate(c["encoder_outputs"]):
            layer = np.float32(layer).reshape(-1, 384)
            assert np.array_equal(layer, out["encoder_outputs"][l][b][: len(layer)])


def test_encoder_matches_the_float64_reference(minilm, golden):
    g = next(g for g in golden if len(g["segments"]) == 1)
    out = hub.Encoder(str(minilm))(hub.Preprocess(str(minilm))([g["text"]]))
    assert max_abs(out["pooled_output"][0], g["pooled_output"]) < 1e-5
    assert max_abs(out["sequence_output"][0][: g["num_tokens"]], g["sequence_output"]) < 5e-5


def test_other_integer_arrays_and_seq_lengths_are_taken():
    pre = hub.Preprocess(str(TINY), seq_length=16)
    inputs = pre(["hello world", ("a question", "an answer")])
    enc = hub.Encoder(str(TINY))
    a = enc(inputs)
    b = enc({k: v.astype(np.int64) for k, v in inputs.items()})
    assert a["sequence_output"].shape[1] == 16
    assert np.array_equal(a["sequence_output"], b["sequence_output"])


def test_bad_inputs_raise_clear_errors():
    enc = hub.Encoder(str(TINY))
    inputs = hub.Preprocess(str(TINY), seq_length=8)(["hello"])
    with pytest.raises(TypeError, match="dict"):
        enc("hello")
    with pytest.raises(ValueError, match="input_type_ids"):
        enc({"input_word_ids": inputs["input_word_ids"], "input_mask": inputs["input_mask"]})
    bad = dict(inputs, input_mask=inputs["input_mask"][:, :4])
    with pytest.raises(ValueError, match="one shape"):
        enc(bad)
    with pytest.raises(ValueError, match="vocab"):
        enc(dict(inputs, input_word_ids=inputs["input_word_ids"] + 10**6))
    with pytest.raises(ValueError, match="never negative"):
        enc(dict(inputs, input_word_ids=-inputs["input_word_ids"]))
    with pytest.raises(TypeError, match="integers"):
        enc(dict(inputs, input_mask=inputs["input_mask"].astype(np.float32)))
    with pytest.raises(ValueError, match="at least"):
        hub.Preprocess(str(TINY), seq_length=1)(["x"])
    with pytest.raises(TypeError, match="str or a pair"):
        hub.Preprocess(str(TINY))([3])


def test_the_tutorial_example_runs(minilm):
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "tf_hub_tutorial.py"), str(minilm)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert "Pooled Outputs Shape:(2, 384)" in r.stdout
    assert "Sequence Outputs Shape:(2, 128, 384)" in r.stdout
    assert "the last equal to sequence_output: True" in r.stdout
