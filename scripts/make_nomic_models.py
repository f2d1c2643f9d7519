#!/usr/bin/env python3
"""Writes tiny random NomicBERT folders and float64 goldens from an independent reference.

    python scripts/make_nomic_models.py OUT_DIR        (the tests use tests/data)

transformers has no NomicBERT class (its modeling code, modeling_hf_nomic_bert.py, lives with
the checkpoints and needs einops and remote code), so the goldens come from `forward` below:
NumPy in float64, written from that published code (NomicBertModel.forward, NomicBertBlock's
post-norm branch, NomicBertAttention with rotary, NomciBertGatedMLP / NomicBertMLP,
NomicBertDynamicNTKRotaryEmbedding), not from wgbert. One difference is deliberate: the
published code takes the rotary angles position · inv_freq in float32 (pos_idx_in_fp32, even
in a float64 model); here they are float64, the values the formula means. At position p the
float32 angle is off by up to p · 2^-24 rad (1e-4 at 2 000).

Needs numpy, safetensors and tokenizers; no hub access. Deterministic (fixed seed).

    tiny-nomic       nomic-embed-text-v1.5's layout: swiglu, no linear biases, rotary on the
                     whole head (base 1000), token types; a sentence-transformers folder
                     (mean pooling, Normalize) with v1.5's prompts
    tiny-nomic-ntk   the other branches: geglu, every bias, rotary on half of each head
                     (base 10000), dynamic NTK scaling (factor 2) past max_trained_positions 16

The tokenizer is tests/data/family/tiny-rerank-bert's (WordPiece, 700 words). OUT_DIR/
nomic_golden.json holds, per model, the items (text, pair, ids, sequence_output, mean
embedding) at seq_len 40 and one long input (> 2 000 tokens, selected rows only).
"""
import json
import math
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "tests", "data")
tok_path = os.path.join(data, "family", "tiny-rerank-bert", "tokenizer.json")
tok = Tokenizer.from_file(tok_path)
VOCAB = tok.get_vocab_size()

H, HEADS, LAYERS, N_INNER = 32, 4, 2, 80  # gated: rounded up to 256 as the modeling code does


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def rotary(x, seqlen, dim, base, scaling, trained):
    """apply_rotary_emb (not interleaved) to x [B, S, heads, D] over its first `dim` values."""
    if scaling and seqlen > trained:
        base = base * ((scaling * seqlen / trained) - (scaling - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    freqs = np.outer(np.arange(seqlen, dtype=np.float64), inv_freq)  # [S, dim/2]
    cos = np.concatenate([np.cos(freqs)] * 2, -1)[None, :, None, :]
    sin = np.concatenate([np.sin(freqs)] * 2, -1)[None, :, None, :]
    xr = x[..., :dim]
    x1, x2 = xr[..., : dim // 2], xr[..., dim // 2 :]
    rot = np.concatenate([-x2, x1], -1)
    return np.concatenate([xr * cos + rot * sin, x[..., dim:]], -1)


def linear(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def forward(cfg, W, ids, types, mask):
    """NomicBertModel.forward in float64: ids, types, mask [B, S] -> sequence_output [B, S, H]."""
    eps = cfg["layer_norm_epsilon"]
    b_, s = ids.shape
    d = H // HEADS
    rot_dim = int(d * cfg["rotary_emb_fraction"])
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, W["emb_ln.weight"], W["emb_ln.bias"], eps)
    ext = (1.0 - mask[:, None, None, :]) * np.finfo(np.float64).min
    gated = cfg["activation_function"] in ("swiglu", "geglu", "glu")
    act = {"swiglu": silu, "geglu": gelu}[cfg["activation_function"]]
    get = lambda n: W.get(n)
    for l in range(LAYERS):
        p = f"encoder.layers.{l}."
        qkv = linear(x, W[p + "attn.Wqkv.weight"], get(p + "attn.Wqkv.bias"))
        qkv = qkv.reshape(b_, s, 3, HEADS, d)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        if rot_dim > 0:
            args = (s, rot_dim, cfg["rotary_emb_base"], cfg.get("rotary_scaling_factor"), cfg["max_trained_positions"])
            q, k = rotary(q, *args), rotary(k, *args)
        q, k, v = (t.transpose(0, 2, 1, 3) for t in (q, k, v))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + ext
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b_, s, H)
        attn = linear(ctx, W[p + "attn.out_proj.weight"], get(p + "attn.out_proj.bias"))
        x = layer_norm(attn + x, W[p + "norm1.weight"], W[p + "norm1.bias"], eps)
        if gated:
            y = linear(x, W[p + "mlp.fc11.weight"], get(p + "mlp.fc11.bias"))
            gate = linear(x, W[p + "mlp.fc12.weight"], get(p + "mlp.fc12.bias"))
            y = y * act(gate)
        else:
            y = act(linear(x, W[p + "mlp.fc1.weight"], get(p + "mlp.fc1.bias")))
        mlp = linear(y, W[p + "mlp.fc2.weight"], get(p + "mlp.fc2.bias"))
        x = layer_norm(mlp + x, W[p + "norm2.weight"], W[p + "norm2.bias"], eps)
    return x


def make_weights(cfg, rng):
    inner = cfg["n_inner"]
    if cfg["activation_function"] in ("swiglu", "geglu", "glu"):
        inner = (inner + 255) // 256 * 256
    W = {}
    r = lambda *shape, s=0.05: rng.normal(0.0, s, shape)
    W["embeddings.word_embeddings.weight"] = r(VOCAB, H, s=0.5)
    W["embeddings.token_type_embeddings.weight"] = r(2, H, s=0.1)
    W["emb_ln.weight"] = 1.0 + r(H, s=0.1)
    W["emb_ln.bias"] = r(H, s=0.02)
    for l in range(LAYERS):
        p = f"encoder.layers.{l}."
        W[p + "attn.Wqkv.weight"] = r(3 * H, H, s=0.2)
        W[p + "attn.out_proj.weight"] = r(H, H, s=0.2)
        if cfg["qkv_proj_bias"]:
            W[p + "attn.Wqkv.bias"] = r(3 * H, s=0.1)
            W[p + "attn.out_proj.bias"] = r(H, s=0.1)
        for n in ("fc11", "fc12"):
            W[p + f"mlp.{n}.weight"] = r(inner, H, s=0.2)
            if cfg["mlp_fc1_bias"]:
                W[p + f"mlp.{n}.bias"] = r(inner, s=0.1)
        W[p + "mlp.fc2.weight"] = r(H, inner, s=0.1)
        if cfg["mlp_fc2_bias"]:
            W[p + "mlp.fc2.bias"] = r(H, s=0.1)
        for n in ("norm1", "norm2"):
            W[p + f"{n}.weight"] = 1.0 + r(H, s=0.1)
            W[p + f"{n}.bias"] = r(H, s=0.02)
    return W


def config(**over):
    c = {
        "architectures": ["NomicBertModel"],
        "model_type": "nomic_bert",
        "vocab_size": VOCAB,
        "n_embd": H,
        "n_head": HEADS,
        "n_layer": LAYERS,
        "n_inner": N_INNER,
        "n_positions": 8192,
        "activation_function": "swiglu",
        "layer_norm_epsilon": 1e-12,
        "type_vocab_size": 2,
        "pad_token_id": 0,
        "rotary_emb_fraction": 1.0,
        "rotary_emb_base": 1000,
        "rotary_emb_interleaved": False,
        "rotary_emb_scale_base": None,
        "rotary_scaling_factor": None,
        "max_trained_positions": 2048,
        "qkv_proj_bias": False,
        "mlp_fc1_bias": False,
        "mlp_fc2_bias": False,
        "prenorm": False,
        "causal": False,
        "pad_vocab_size_multiple": 1,
        "use_flash_attn": False,
        "fused_bias_fc": False,
    }
    c.update(over)
    return c


MODELS = {
    "tiny-nomic": config(),
    "tiny-nomic-ntk": config(
        activation_function="geglu",
        rotary_emb_fraction=0.5,
        rotary_emb_base=10000,
        rotary_scaling_factor=2.0,
        max_trained_positions=16,
        qkv_proj_bias=True,
        mlp_fc1_bias=True,
        mlp_fc2_bias=True,
        layer_norm_epsilon=1e-5,
    ),
}

ITEMS = [
    ("the quick brown fox jumps over the lazy dog", None),
    ("a fair trial", None),
    ("what is the capital of france?", "paris is the capital of france."),
    ("good movie", "the plot was thin but the acting was great and the ending surprised everyone"),
]
SEQ = 40
LONG_ROWS = [0, 1, 2, 1000, 1999, 2047]


def write_st_folder(d, hidden, max_seq_length, st_config=None):
    """Makes folder d a sentence-transformers one: Transformer, mean Pooling, Normalize."""
    json.dump(
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        open(os.path.join(d, "modules.json"), "w"),
        indent=2,
    )
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    json.dump(
        {"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True},
        open(os.path.join(d, "1_Pooling", "config.json"), "w"),
        indent=2,
    )
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    json.dump({"max_seq_length": max_seq_length, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    if st_config is not None:
        json.dump(st_config, open(os.path.join(d, "config_sentence_transformers.json"), "w"), indent=2)


def encode(text, pair):
    e = tok.encode(text, pair) if pair is not None else tok.encode(text)
    return e.ids, e.type_ids


def main():
    rng = np.random.default_rng(20261201)
    golden = {}
    for name, cfg in MODELS.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        W = make_weights(cfg, rng)
        save_file({k: v.astype(np.float32) for k, v in W.items()}, os.path.join(d, "model.safetensors"))
        W = {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()}  # what the file holds
        json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
        shutil.copy(tok_path, os.path.join(d, "tokenizer.json"))
        if name == "tiny-nomic":
            write_st_folder(
                d,
                H,
                8192,
                {"prompts": {"query": "search_query: ", "document": "search_document: "}, "default_prompt_name": None},
            )
        items = []
        rows = [encode(t, p) for t, p in ITEMS]
        ids = np.zeros((len(rows), SEQ), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros((len(rows), SEQ), dtype=np.float64)
        for i, (a, t) in enumerate(rows):
            ids[i, : len(a)] = a
            types[i, : len(t)] = t
            mask[i, : len(a)] = 1
        seq = forward(cfg, W, ids, types, mask)
        for i, ((text, pair), (a, _)) in enumerate(zip(ITEMS, rows)):
            n = len(a)
            mean = seq[i, :n].mean(0)
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
        # One long input: sentences until > 2 000 tokens, cut to 2 040 real tokens, padded to 2 048.
        words = " ".join(t for t, _ in ITEMS for _ in range(1))
        text = " ".join([words] * 200)
        a, _ = encode(text, None)
        n = 2040
        a = a[: n - 1] + [a[-1]]  # keep [SEP] last
        long_ids = np.zeros((1, 2048), dtype=np.int64)
        long_ids[0, :n] = a
        long_mask = np.zeros((1, 2048))
        long_mask[0, :n] = 1
        lseq = forward(cfg, W, long_ids, np.zeros_like(long_ids), long_mask)
        golden[name] = {
            "seq_len": SEQ,
            "hidden": H,
            "items": items,
            "long": {
                "seq_len": 2048,
                "tokens": n,
                "ids": a,
                "rows": LONG_ROWS,
                "sequence_rows": [lseq[0, r].tolist() for r in LONG_ROWS],
                "mean": lseq[0, :n].mean(0).tolist(),
            },
        }
    json.dump(golden, open(os.path.join(out, "nomic_golden.json"), "w"))


if __name__ == "__main__":
    out = sys.argv[1]
    main()
