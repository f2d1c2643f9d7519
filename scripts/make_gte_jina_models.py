#!/usr/bin/env python3
"""Writes tiny random GTE ("new") and JinaBERT v2 folders and float64 goldens from independent
references.

    python scripts/make_gte_jina_models.py OUT_DIR        (the tests use tests/data)

Neither has a transformers class (their modeling code lives with the checkpoints: Alibaba-NLP's
new-impl, jinaai's jina-bert-implementation), so the goldens come from `gte_forward` and
`jina_forward` below: NumPy in float64, written from that published code, not from wgbert.
Deliberate differences: the rotary angles are float64 here (the published code takes them in
float32); ALiBi's slopes are rounded to float32 as JinaBERT's `torch.Tensor(slopes)` does.

Needs numpy, safetensors and tokenizers; no hub access. Deterministic (fixed seed).

    tiny-gte    gte-base-en-v1.5's layout: packed qkv_proj, rotary with fixed NTK scaling
                (rope_theta 500, rope_scaling ntk factor 2), gated feed-forward block
                (up_gate_proj = [up; gate], GELU on the gate half), no token types
    tiny-jina   jina-embeddings-v2's layout: BERT attention with ALiBi (6 heads: slopes of a
                non-power of two), geglu block (gated_layers, GELU on the first half, wo,
                its own residual LayerNorm), token types

Tokenizer: tests/data/family/tiny-rerank-bert's (WordPiece). OUT_DIR/gte_golden.json and
jina_golden.json hold the items (one padded batch at seq_len 40) and a 2 040-token input.
"""
import json
import math
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from make_nomic_models import ITEMS, VOCAB, encode, gelu, layer_norm, linear, tok, tok_path  # noqa: E402

H, HEADS, LAYERS, INNER = 36, 6, 2, 40
SEQ = 40
LONG_ROWS = [0, 1, 2, 1000, 1999, 2039]


def softmax_attention(q, k, v, bias):
    """q, k, v [B, heads, S, D]; bias broadcast to [B, heads, S, S]."""
    d = q.shape[-1]
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(-1, keepdims=True)
    return p @ v


def heads(x):
    b, s, _ = x.shape
    return x.reshape(b, s, HEADS, H // HEADS).transpose(0, 2, 1, 3)


def merge(x):
    b, h, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def gte_rotary(x, cfg):
    """apply_rotary_pos_emb with NTKScalingRotaryEmbedding's fixed scaling, x [B, heads, S, D]."""
    d = x.shape[-1]
    base, f = cfg["rope_theta"], cfg["rope_scaling"]["factor"]
    inv = 1.0 / ((base * f) ** (np.arange(0, d, 2, dtype=np.float64) / d)) / f ** (2.0 / d)
    ang = np.outer(np.arange(x.shape[2], dtype=np.float64), inv)
    cos = np.concatenate([np.cos(ang)] * 2, -1)
    sin = np.concatenate([np.sin(ang)] * 2, -1)
    rot = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
    return x * cos + rot * sin


def gte_forward(cfg, W, ids, mask):
    eps = cfg["layer_norm_eps"]
    x = layer_norm(W["embeddings.word_embeddings.weight"][ids], W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    bias = ((1.0 - mask) * np.finfo(np.float64).min)[:, None, None, :]
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        qkv = linear(x, W[p + "attention.qkv_proj.weight"], W[p + "attention.qkv_proj.bias"])
        q, k, v = (heads(t) for t in np.split(qkv, 3, -1))
        q, k = gte_rotary(q, cfg), gte_rotary(k, cfg)
        ctx = merge(softmax_attention(q, k, v, bias))
        x = layer_norm(x + linear(ctx, W[p + "attention.o_proj.weight"], W[p + "attention.o_proj.bias"]), W[p + "attn_ln.weight"], W[p + "attn_ln.bias"], eps)
        up, gate = np.split(linear(x, W[p + "mlp.up_gate_proj.weight"], None), 2, -1)
        down = linear(gelu(gate) * up, W[p + "mlp.down_proj.weight"], W[p + "mlp.down_proj.bias"])
        x = layer_norm(x + down, W[p + "mlp_ln.weight"], W[p + "mlp_ln.bias"], eps)
    return x


def alibi_slopes(n):
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return pow2(n)
    c = 2 ** math.floor(math.log2(n))
    return pow2(c) + alibi_slopes(2 * c)[0::2][: n - c]


def jina_forward(cfg, W, ids, types, mask):
    eps = cfg["layer_norm_eps"]
    e = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(e, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    s = ids.shape[1]
    rel = np.abs(np.arange(s)[None, :] - np.arange(s)[:, None]).astype(np.float32)
    slopes = np.array(alibi_slopes(HEADS), dtype=np.float32) * np.float32(-1)
    alibi = (slopes[:, None, None] * rel[None]).astype(np.float64)[None]  # [1, heads, S, S]
    bias = alibi + ((1.0 - mask) * -10000.0)[:, None, None, :]
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        a = "attention.self."
        q, k, v = (heads(linear(x, W[p + a + n + ".weight"], W[p + a + n + ".bias"])) for n in ("query", "key", "value"))
        ctx = merge(softmax_attention(q, k, v, bias))
        dense = linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
        x = layer_norm(dense + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        g = linear(x, W[p + "mlp.gated_layers.weight"], None)
        h = gelu(g[..., :INNER]) * g[..., INNER:]
        o = linear(h, W[p + "mlp.wo.weight"], W[p + "mlp.wo.bias"])
        x = layer_norm(o + x, W[p + "mlp.layernorm.weight"], W[p + "mlp.layernorm.bias"], eps)
    return x


def weights(rng, spec):
    W = {}
    for name, shape in spec:
        if name.endswith("LayerNorm.weight") or name.endswith("_ln.weight") or name.endswith("layernorm.weight"):
            W[name] = 1.0 + rng.normal(0.0, 0.1, shape)
        elif len(shape) == 1:
            W[name] = rng.normal(0.0, 0.1, shape)
        elif "embeddings" in name:
            W[name] = rng.normal(0.0, 0.5, shape)
        else:
            W[name] = rng.normal(0.0, 0.2, shape)
    return W


def gte_spec():
    s = [("embeddings.word_embeddings.weight", (VOCAB, H)), ("embeddings.LayerNorm.weight", (H,)), ("embeddings.LayerNorm.bias", (H,))]
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        s += [
            (p + "attention.qkv_proj.weight", (3 * H, H)),
            (p + "attention.qkv_proj.bias", (3 * H,)),
            (p + "attention.o_proj.weight", (H, H)),
            (p + "attention.o_proj.bias", (H,)),
            (p + "attn_ln.weight", (H,)),
            (p + "attn_ln.bias", (H,)),
            (p + "mlp.up_gate_proj.weight", (2 * INNER, H)),
            (p + "mlp.down_proj.weight", (H, INNER)),
            (p + "mlp.down_proj.bias", (H,)),
            (p + "mlp_ln.weight", (H,)),
            (p + "mlp_ln.bias", (H,)),
        ]
    return s


def jina_spec():
    s = [
        ("embeddings.word_embeddings.weight", (VOCAB, H)),
        ("embeddings.token_type_embeddings.weight", (2, H)),
        ("embeddings.LayerNorm.weight", (H,)),
        ("embeddings.LayerNorm.bias", (H,)),
    ]
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for n in ("query", "key", "value"):
            s += [(p + f"attention.self.{n}.weight", (H, H)), (p + f"attention.self.{n}.bias", (H,))]
        s += [
            (p + "attention.output.dense.weight", (H, H)),
            (p + "attention.output.dense.bias", (H,)),
            (p + "attention.output.LayerNorm.weight", (H,)),
            (p + "attention.output.LayerNorm.bias", (H,)),
            (p + "mlp.gated_layers.weight", (2 * INNER, H)),
            (p + "mlp.wo.weight", (H, INNER)),
            (p + "mlp.wo.bias", (H,)),
            (p + "mlp.layernorm.weight", (H,)),
            (p + "mlp.layernorm.bias", (H,)),
        ]
    return s


GTE_CONFIG = {
    "architectures": ["NewModel"],
    "model_type": "new",
    "vocab_size": VOCAB,
    "hidden_size": H,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "intermediate_size": INNER,
    "hidden_act": "gelu",
    "max_position_embeddings": 8192,
    "type_vocab_size": 0,
    "layer_norm_eps": 1e-12,
    "layer_norm_type": "layer_norm",
    "position_embedding_type": "rope",
    "rope_theta": 500.0,
    "rope_scaling": {"type": "ntk", "factor": 2.0},
    "pack_qkv": True,
    "logn_attention_scale": False,
    "logn_attention_clip1": False,
    "unpad_inputs": False,
    "use_memory_efficient_attention": False,
    "pad_token_id": 0,
}

JINA_CONFIG = {
    "architectures": ["JinaBertForMaskedLM"],
    "model_type": "bert",
    "vocab_size": VOCAB,
    "hidden_size": H,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "intermediate_size": INNER,
    "hidden_act": "gelu",
    "max_position_embeddings": 8192,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "alibi",
    "feed_forward_type": "geglu",
    "emb_pooler": "mean",
    "pad_token_id": 0,
}


def batch(rows):
    ids = np.zeros((len(rows), SEQ), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros((len(rows), SEQ))
    for i, (a, t) in enumerate(rows):
        ids[i, : len(a)] = a
        types[i, : len(t)] = t
        mask[i, : len(a)] = 1
    return ids, types, mask


def golden_of(run, uses_types):
    rows = []
    for t, p in ITEMS:
        e = tok.encode(t, p) if p else tok.encode(t)
        rows.append((e.ids, e.type_ids if uses_types else [0] * len(e.ids)))
    ids, types, mask = batch(rows)
    seq = run(ids, types, mask)
    items = []
    for i, ((text, pair), (a, _)) in enumerate(zip(ITEMS, rows)):
        mean = seq[i, : len(a)].mean(0)
        items.append(
            {
                "text": text,
                "pair": pair,
                "ids": a,
                "sequence_output": seq[i].reshape(-1).tolist(),
                "mean": mean.tolist(),
                "normalized": (mean / np.linalg.norm(mean)).tolist(),
            }
        )
    a, _ = encode(" ".join([" ".join(t for t, _ in ITEMS)] * 200), None)
    n = 2040
    a = a[: n - 1] + [a[-1]]
    lseq = run(np.array([a]), np.zeros((1, n), dtype=np.int64), np.ones((1, n)))[0]
    return {
        "seq_len": SEQ,
        "hidden": H,
        "items": items,
        "long": {
            "seq_len": 2048,
            "tokens": n,
            "ids": a,
            "rows": LONG_ROWS,
            "sequence_rows": [lseq[r].tolist() for r in LONG_ROWS],
            "mean": lseq.mean(0).tolist(),
        },
    }


def write(out, name, cfg, W):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.astype(np.float32) for k, v in W.items()}, os.path.join(d, "model.safetensors"))
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    shutil.copy(tok_path, os.path.join(d, "tokenizer.json"))
    return {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()}


def main(out):
    rng = np.random.default_rng(20261202)
    W = write(out, "tiny-gte", GTE_CONFIG, weights(rng, gte_spec()))
    g = golden_of(lambda ids, types, mask: gte_forward(GTE_CONFIG, W, ids, mask), False)
    json.dump({"tiny-gte": g}, open(os.path.join(out, "gte_golden.json"), "w"))
    W = write(out, "tiny-jina", JINA_CONFIG, weights(rng, jina_spec()))
    g = golden_of(lambda ids, types, mask: jina_forward(JINA_CONFIG, W, ids, types, mask), True)
    json.dump({"tiny-jina": g}, open(os.path.join(out, "jina_golden.json"), "w"))


if __name__ == "__main__":
    main(sys.argv[1])
