#!/usr/bin/env python3
"""Writes tiny random sentence-transformers folders that end in Dense modules, and the vectors
sentence-transformers itself gives for them (float64).

    python scripts/make_dense_models.py OUT_DIR        (the tests use tests/data)

Needs torch, transformers and sentence-transformers; no hub access (the tokenizer is trained
here, offline, by tiny_wordpiece.py). The weights follow fixed seeds; the trained vocabulary's
id order varies from run to run (tokenizers' trainer), so a rerun rewrites folders and goldens
together, consistent with each other. Writes:

    tiny-st-dense        BERT, CLS pooling, Dense 32→24 Tanh, Dense 24→16 Identity without
                         bias, Normalize (the LaBSE layout)
    tiny-st-dense-mean   DistilBERT, mean pooling, Dense 32→20 Tanh, no Normalize (the
                         distiluse-base-multilingual layout)
    dense_golden.json    for each: the inputs and SentenceTransformer.encode's vectors
                         (model.double(), float64), max_seq_length 24 (one input is cut)
"""
import json
import os
import shutil
import sys

import torch
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
from sentence_transformers import SentenceTransformer, models  # noqa: E402
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, PreTrainedTokenizerFast  # noqa: E402

from tiny_wordpiece import corpus, randomise as randomise_scaled, wordpiece as train_wordpiece  # noqa: E402

out = sys.argv[1]
lines = corpus()

INPUTS = [
    "A fair trial for everyone.",
    "a county fair",
    "What is the capital of France?",
    "nice movie indeed",
    "This long review keeps going well past the twenty four tokens that the folder allows, "
    "so sentence-transformers and wgbert must both cut it at the same place.",
]


def wordpiece():
    return train_wordpiece(lines, 600)


def randomise(model, seed):
    randomise_scaled(model, seed, 0.3)


def hf_folder(name, model, tok):
    d = os.path.join(out, name + "-hf")
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    fast.save_pretrained(d)
    return d


def build(name, base, hidden, pooling, dense, normalize, seed):
    tok = wordpiece()
    randomise(base, seed)
    src = hf_folder(name, base, tok)
    word = models.Transformer(src, max_seq_length=24)
    mods = [word, models.Pooling(hidden, pooling_mode=pooling)]
    torch.manual_seed(seed + 1)
    width = hidden
    for out_features, bias, act in dense:
        layer = models.Dense(width, out_features, bias=bias, activation_function=act)
        randomise(layer, seed + out_features)
        mods.append(layer)
        width = out_features
    if normalize:
        mods.append(models.Normalize())
    st = SentenceTransformer(modules=mods, device="cpu")
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    st.save(d, safe_serialization=True)
    shutil.rmtree(src)
    readme = os.path.join(d, "README.md")  # a generated model card
    if os.path.exists(readme):
        os.remove(readme)
    # What wgbert reads from the Transformer folder: config.json, model.safetensors and
    # tokenizer.json (plus the modules); the rest sentence-transformers writes is kept as written.
    st = SentenceTransformer(d, device="cpu").double()
    with torch.no_grad():
        vecs = st.encode(INPUTS, convert_to_tensor=True, batch_size=2)
    return {
        "dim": width,
        "max_seq_length": 24,
        "items": [{"text": t, "embedding": [round(float(v), 12) for v in row]} for t, row in zip(INPUTS, vecs)],
    }


torch.manual_seed(0)
golden = {}
bert = BertModel(
    BertConfig(vocab_size=600, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
               max_position_embeddings=64, hidden_act="gelu", attn_implementation="eager"),
    add_pooling_layer=False,
)
golden["tiny-st-dense"] = build(
    "tiny-st-dense", bert, 32, "cls", [(24, True, torch.nn.Tanh()), (16, False, torch.nn.Identity())], True, 11
)
distil = DistilBertModel(
    DistilBertConfig(vocab_size=600, dim=32, n_layers=2, n_heads=4, hidden_dim=48, max_position_embeddings=64,
                     activation="gelu", attn_implementation="eager")
)
golden["tiny-st-dense-mean"] = build(
    "tiny-st-dense-mean", distil, 32, "mean", [(20, True, torch.nn.Tanh())], False, 23
)
with open(os.path.join(out, "dense_golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
print("wrote", ", ".join(golden), "and dense_golden.json to", out)
