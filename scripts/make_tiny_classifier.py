#!/usr/bin/env python3
"""Writes tests/data/tiny-cls/ (the tiny random BERT of make_tiny_model.py plus a random
BertForSequenceClassification head: classifier.weight [3, 60], classifier.bias [3], id2label)
and tests/data/tiny_cls_expected.json: softmax probabilities of the head on a few inputs,
computed with ../shared/reference (bert_ref.py float64 forward, preprocess_ref.py packing).

    python scripts/make_tiny_classifier.py REFERENCE_DIR
"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, sys.argv[1])
from bert_ref import BertRef  # noqa: E402
from preprocess_ref import Preprocessor, parse_line  # noqa: E402

src, out = "tests/data/tiny-bert", "tests/data/tiny-cls"
os.makedirs(out, exist_ok=True)
w = load_file(os.path.join(src, "model.safetensors"))
rng = np.random.default_rng(99)
w["classifier.weight"] = (0.5 * rng.standard_normal((3, 60))).astype(np.float16)
w["classifier.bias"] = (0.2 * rng.standard_normal(3)).astype(np.float16)
save_file(w, os.path.join(out, "model.safetensors"))
cfg = json.load(open(os.path.join(src, "config.json")))
cfg["architectures"] = ["BertForSequenceClassification"]
cfg["id2label"] = {"0": "sad", "1": "neutral", "2": "happy"}
cfg["label2id"] = {"sad": 0, "neutral": 1, "happy": 2}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))

texts = ["a fine movie", "the worst day", "How old are you? ||| What is your age?", ""]
pre = Preprocessor.from_model_dir(out, 24)
b = pre([parse_line(t) for t in texts])
ref = BertRef.from_dir(out)
o = ref.forward(b["input_word_ids"], b["input_mask"], b["input_type_ids"])
W = w["classifier.weight"].astype(np.float64)
bias = w["classifier.bias"].astype(np.float64)
logits = o["pooled_output"] @ W.T + bias
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
json.dump({"seq_length": 24, "labels": ["sad", "neutral", "happy"],
           "items": [{"text": t, "logits": l.tolist(), "probs": q.tolist()} for t, l, q in zip(texts, logits, p)]},
          open("tests/data/tiny_cls_expected.json", "w"), indent=1)
print(p)
