#!/usr/bin/env python3
"""Writes tiny random ModernBERT folders and their float64 goldens from transformers itself.

    python scripts/make_modernbert_models.py OUT_DIR        (the tests use tests/data)

Needs torch and transformers (5.x); no hub access. Deterministic (fixed seed). The goldens are
transformers' ModernBertModel in float64 with eager attention (model.double()); its rotary
cos/sin are computed in float32 inside the model even then (inv_freq.float()), so the
tolerance a long input needs is set by that, not by wgbert.

    tiny-modernbert       ModernBERT-base's layout (no biases, norm_bias false, GeGLU, every
                          third layer global), 4 layers, local_attention 8 (a window of ±4 keys,
                          so the test inputs cross it), as transformers 5 saves it (layer_types,
                          rope_parameters with thetas 160 000 / 10 000); a sentence-transformers
                          folder (mean pooling, Normalize)
    tiny-modernbert-bias  the other branches: every bias, the older config keys
                          (global_rope_theta 50 000, local_rope_theta 2 000,
                          global_attn_every_n_layers 2), local_attention 6

The tokenizer is tests/data/family/tiny-rerank-bert's (WordPiece, 700 words; ModernBERT's own is
a BPE, but the encoder does not care which). OUT_DIR/modernbert_golden.json holds the items
(text, pair, ids, sequence_output, mean), each computed alone without padding (wgbert runs them
as one batch padded to seq_len 40), and one long input (2 040 tokens; wgbert pads it to 2 048;
selected rows).
"""
import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import ModernBertConfig, ModernBertModel

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from make_nomic_models import ITEMS, SEQ, write_st_folder  # noqa: E402

data = os.path.join(here, "..", "tests", "data")
tok_path = os.path.join(data, "family", "tiny-rerank-bert", "tokenizer.json")
tok = Tokenizer.from_file(tok_path)
VOCAB = tok.get_vocab_size()
H = 32

LONG_ROWS = [0, 1, 2, 1000, 1999, 2039]


def encode(text, pair):
    e = tok.encode(text, pair) if pair is not None else tok.encode(text)
    return e.ids


def build(name, cfg_kwargs, legacy_keys):
    torch.manual_seed(zlib.crc32(name.encode()))
    cfg = ModernBertConfig(
        vocab_size=VOCAB,
        hidden_size=H,
        intermediate_size=48,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=8192,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        cls_token_id=2,
        sep_token_id=3,
        attn_implementation="eager",
        **cfg_kwargs,
    )
    model = ModernBertModel(cfg).eval()
    # Random weights of useful size (the default init is small): every parameter, biases and
    # norms included, so that a wrong bias or norm cannot hide.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n and n.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            elif "tok_embeddings" in n:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    if legacy_keys:
        # The keys published ModernBERT checkpoints (saved by transformers 4.x) carry.
        c = json.load(open(os.path.join(d, "config.json")))
        for k in ("layer_types", "rope_parameters"):
            c.pop(k, None)
        c.update(legacy_keys)
        json.dump(c, open(os.path.join(d, "config.json"), "w"), indent=2)
    shutil.copy(tok_path, os.path.join(d, "tokenizer.json"))
    # Reloaded from the folder, as a user would (a model built in place can hold buffers, such
    # as the rotary inv_freq, that were never initialised: NaN everywhere).
    model = ModernBertModel.from_pretrained(d, attn_implementation="eager").eval().double()
    golden = {"seq_len": SEQ, "hidden": H, "items": []}
    # Each input alone, unpadded: with padding, transformers' eager attention gives NaN on
    # padding queries whose local window holds only padding, and the next global layer spreads
    # it (0 · NaN) into every token; ModernBERT is meant to run unpadded (its flash path).
    rows = [encode(t, p) for t, p in ITEMS]
    for (text, pair), a in zip(ITEMS, rows):
        with torch.no_grad():
            seq = model(input_ids=torch.tensor([a])).last_hidden_state.numpy()[0]
        mean = seq.mean(0)
        golden["items"].append(
            {
                "text": text,
                "pair": pair,
                "ids": a,
                "sequence_output": seq.reshape(-1).tolist(),
                "mean": mean.tolist(),
                "normalized": (mean / np.linalg.norm(mean)).tolist(),
            }
        )
    text = " ".join(t for t, _ in ITEMS)
    a = encode(" ".join([text] * 200), None)
    n = 2040
    a = a[: n - 1] + [a[-1]]
    with torch.no_grad():
        lseq = model(input_ids=torch.tensor([a])).last_hidden_state.numpy()[0]
    golden["long"] = {
        "seq_len": 2048,
        "tokens": n,
        "ids": a,
        "rows": LONG_ROWS,
        "sequence_rows": [lseq[r].tolist() for r in LONG_ROWS],
        "mean": lseq.mean(0).tolist(),
    }
    return d, golden


def main():
    golden = {}
    d, golden["tiny-modernbert"] = build("tiny-modernbert", {"local_attention": 8}, None)
    write_st_folder(d, H, 8192)
    _, golden["tiny-modernbert-bias"] = build(
        "tiny-modernbert-bias",
        {
            "local_attention": 6,
            "attention_bias": True,
            "mlp_bias": True,
            "norm_bias": True,
            "layer_types": ["full_attention", "sliding_attention", "full_attention", "sliding_attention"],
            "rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": 50000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 2000.0},
            },
        },
        {"global_rope_theta": 50000.0, "local_rope_theta": 2000.0, "global_attn_every_n_layers": 2},
    )
    json.dump(golden, open(os.path.join(out, "modernbert_golden.json"), "w"))


main()
