#!/usr/bin/env python3
"""Writes a tiny random MPNet folder and its float64 goldens from transformers itself.

    python scripts/make_mpnet_models.py OUT_DIR        (the tests use tests/data)

Needs torch and transformers (5.x); no hub access. Deterministic (fixed seed). The goldens are
transformers' MPNetModel in float64 (model.double(), eager attention) with its pooler.

    tiny-mpnet   all-mpnet-base-v2's layout (RoBERTa positions from pad_token_id + 1, no token
                 types, 32 relative-position buckets with max distance 128, a pooler) at hidden
                 36, 3 heads, 2 layers, 514 positions; a sentence-transformers folder (mean
                 pooling, Normalize) as all-mpnet-base-v2 is

The tokenizer is tests/data/family/tiny-roberta's (byte-level BPE, RobertaProcessing: `<s> A
</s></s> B </s>`, pad 1 — MPNet's own template). OUT_DIR/mpnet_golden.json holds the items
(text, pair, ids, sequence_output, pooled_output, mean) as one padded batch at seq_len 40, and
one 510-token input (offsets past the last bucket boundary).
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import MPNetConfig, MPNetModel

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from make_nomic_models import ITEMS, SEQ, write_st_folder  # noqa: E402

data = os.path.join(here, "..", "tests", "data")
tok_path = os.path.join(data, "family", "tiny-roberta", "tokenizer.json")
tok = Tokenizer.from_file(tok_path)
VOCAB = tok.get_vocab_size()
H = 36


def encode(text, pair):
    e = tok.encode(text, pair) if pair is not None else tok.encode(text)
    return e.ids


def run(model, ids, mask):
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask)
    return o.last_hidden_state.numpy(), o.pooler_output.numpy()


def main():
    torch.manual_seed(20261201)
    cfg = MPNetConfig(
        vocab_size=VOCAB,
        hidden_size=H,
        num_hidden_layers=2,
        num_attention_heads=3,
        intermediate_size=52,
        max_position_embeddings=514,
        relative_attention_num_buckets=32,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        attn_implementation="eager",
    )
    model = MPNetModel(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n and n.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            elif "relative_attention_bias" in n:
                p.copy_(1.0 * torch.randn_like(p))
            elif "embeddings" in n:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    d = os.path.join(out, "tiny-mpnet")
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    shutil.copy(tok_path, os.path.join(d, "tokenizer.json"))
    write_st_folder(d, H, 384)
    model = MPNetModel.from_pretrained(d, attn_implementation="eager").eval().double()

    rows = [encode(t, p) for t, p in ITEMS]
    ids = torch.ones((len(rows), SEQ), dtype=torch.long)  # pad id 1
    mask = torch.zeros((len(rows), SEQ), dtype=torch.long)
    for i, a in enumerate(rows):
        ids[i, : len(a)] = torch.tensor(a)
        mask[i, : len(a)] = 1
    seq, pooled = run(model, ids, mask)
    items = []
    for i, ((text, pair), a) in enumerate(zip(ITEMS, rows)):
        n = len(a)
        mean = seq[i, :n].mean(0)
        items.append(
            {
                "text": text,
                "pair": pair,
                "ids": a,
                "sequence_output": seq[i].reshape(-1).tolist(),
                "pooled_output": pooled[i].tolist(),
                "mean": mean.tolist(),
                "normalized": (mean / np.linalg.norm(mean)).tolist(),
            }
        )
    text = " ".join(t for t, _ in ITEMS)
    a = encode(" ".join([text] * 30), None)
    n = 510
    a = a[: n - 1] + [a[-1]]
    lseq, _ = run(model, torch.tensor([a + [1] * 2]), torch.tensor([[1] * n + [0] * 2]))
    rows_kept = [0, 1, 200, 509]
    golden = {
        "tiny-mpnet": {
            "seq_len": SEQ,
            "hidden": H,
            "items": items,
            "long": {
                "seq_len": 512,
                "tokens": n,
                "ids": a,
                "rows": rows_kept,
                "sequence_rows": [lseq[0, r].tolist() for r in rows_kept],
                "mean": lseq[0, :n].mean(0).tolist(),
            },
        }
    }
    json.dump(golden, open(os.path.join(out, "mpnet_golden.json"), "w"))


main()
