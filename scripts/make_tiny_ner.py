#!/usr/bin/env python3
"""Writes tests/data/tiny-ner/ (the tiny random BERT plus a random BertForTokenClassification
head: classifier.weight [5, 60], classifier.bias [5], id2label O/B-PER/I-PER/B-LOC/I-LOC, no
pooler) and tests/data/tiny_ner_expected.json: the head's logits at every real token, computed
with ../shared/reference (bert_ref.py float64 forward, preprocess_ref.py packing).

    python scripts/make_tiny_ner.py REFERENCE_DIR
"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, sys.argv[1])
from bert_ref import BertRef  # noqa: E402
from preprocess_ref import Preprocessor  # noqa: E402

src, out = "tests/data/tiny-bert", "tests/data/tiny-ner"
os.makedirs(out, exist_ok=True)
w = load_file(os.path.join(src, "model.safetensors"))
for k in [k for k in w if "pooler" in k or k.startswith("cls.")]:
    del w[k]
rng = np.random.default_rng(7)
w["classifier.weight"] = (0.6 * rng.standard_normal((5, 60))).astype(np.float16)
w["classifier.bias"] = (0.3 * rng.standard_normal(5)).astype(np.float16)
save_file(w, os.path.join(out, "model.safetensors"))
cfg = json.load(open(os.path.join(src, "config.json")))
labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
cfg["architectures"] = ["BertForTokenClassification"]
cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))

texts = ["John Smith lives in Paris", "Angela Merkel visited Washington yesterday", "no entities here"]
pre = Preprocessor.from_model_dir(out, 24)
b = pre(texts)
o = BertRef.from_dir(out).forward(b["input_word_ids"], b["input_mask"], b["input_type_ids"])
W, bias = w["classifier.weight"].astype(np.float64), w["classifier.bias"].astype(np.float64)
items = []
for i, t in enumerate(texts):
    n = int(b["input_mask"][i].sum())
    logits = o["sequence_output"][i, :n] @ W.T + bias
    items.append({"text": t, "logits": logits.tolist(), "labels": [labels[j] for j in logits.argmax(axis=1)]})
json.dump({"seq_length": 24, "labels": labels, "items": items}, open("tests/data/tiny_ner_expected.json", "w"), indent=1)
for it in items:
    print(it["text"], it["labels"])
