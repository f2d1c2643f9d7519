#!/usr/bin/env python3
"""Writes tests/data/tiny-bert/: a small random BERT that exercises the non-default paths.

2 layers, hidden 60, 4 heads (head size 15), intermediate 90 — none of them multiples of the
GEMM tile or of 4 — the tanh GELU (`gelu_new`), layer_norm_eps 1e-7, weights stored as F16
under `bert.`-prefixed names plus `cls.*` head tensors that must be ignored. The tokenizer is
all-MiniLM-L6-v2's (same 30522-token uncased vocabulary).

    python scripts/make_tiny_model.py MINILM_DIR OUT_DIR
Needs numpy and safetensors. Deterministic (seed 1234).
"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
cfg = {
    "architectures": ["BertForMaskedLM"],
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 60,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 90,
    "hidden_act": "gelu_new",
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-7,
    "position_embedding_type": "absolute",
    "pad_token_id": 0,
}
rng = np.random.default_rng(1234)
H, I, V, P, T = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"], cfg["type_vocab_size"]


def t(*shape, scale=0.1, offset=0.0):
    return (offset + scale * rng.standard_normal(shape)).astype(np.float16)


w = {
    "bert.embeddings.word_embeddings.weight": t(V, H, scale=0.5),
    "bert.embeddings.position_embeddings.weight": t(P, H, scale=0.2),
    "bert.embeddings.token_type_embeddings.weight": t(T, H, scale=0.2),
    "bert.embeddings.LayerNorm.weight": t(H, scale=0.1, offset=1.0),
    "bert.embeddings.LayerNorm.bias": t(H, scale=0.05),
}
for l in range(cfg["num_hidden_layers"]):
    p = f"bert.encoder.layer.{l}."
    for n in ("query", "key", "value"):
        w[p + f"attention.self.{n}.weight"] = t(H, H, scale=0.25)
        w[p + f"attention.self.{n}.bias"] = t(H, scale=0.1)
    w[p + "attention.output.dense.weight"] = t(H, H, scale=0.15)
    w[p + "attention.output.dense.bias"] = t(H, scale=0.1)
    w[p + "attention.output.LayerNorm.weight"] = t(H, scale=0.1, offset=1.0)
    w[p + "attention.output.LayerNorm.bias"] = t(H, scale=0.05)
    w[p + "intermediate.dense.weight"] = t(I, H, scale=0.2)
    w[p + "intermediate.dense.bias"] = t(I, scale=0.1)
    w[p + "output.dense.weight"] = t(H, I, scale=0.15)
    w[p + "output.dense.bias"] = t(H, scale=0.1)
    w[p + "output.LayerNorm.weight"] = t(H, scale=0.1, offset=1.0)
    w[p + "output.LayerNorm.bias"] = t(H, scale=0.05)
w["bert.pooler.dense.weight"] = t(H, H, scale=0.2)
w["bert.pooler.dense.bias"] = t(H, scale=0.1)
# A masked-LM head that the encoder must ignore.
w["cls.predictions.bias"] = t(V, scale=0.01)
w["cls.predictions.transform.dense.weight"] = t(H, H)
save_file(w, os.path.join(out, "model.safetensors"))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
print("wrote", out)
