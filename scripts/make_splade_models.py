#!/usr/bin/env python3
"""Writes tiny random SPLADE folders (sentence-transformers SparseEncoder: MLMTransformer +
SpladePooling) and the sparse vectors sentence-transformers itself gives for them (float64).

    python scripts/make_splade_models.py OUT_DIR        (the tests use tests/data)

Needs torch, transformers and sentence-transformers (5 or later, which has SparseEncoder); no
hub access (the WordPiece tokenizer is trained here, offline, by tiny_wordpiece.py; the RoBERTa
one is tests/data/family/tiny-roberta's). The weights follow fixed seeds; the trained vocabulary's
id order varies from run to run, so a rerun rewrites folders and goldens together. Writes:

    tiny-splade          BertForMaskedLM (decoder tied to the word table), SpladePooling max /
                         relu (naver/splade-v3, splade-cocondenser), max_seq_length 24
    tiny-splade-distil   DistilBertForMaskedLM (vocab_transform, vocab_layer_norm,
                         vocab_projector), SpladePooling sum / log1p_relu, max_active_dims 8
                         (the OpenSearch doc models' activation)
    tiny-splade-roberta  RobertaForMaskedLM (lm_head.*), SpladePooling max / relu
    splade_golden.json   for each: the inputs and SparseEncoder.encode's nonzero weights
                         (model.double()): ids ascending, weights, vocabulary tokens
"""
import json
import os
import shutil
import sys
import warnings

import torch

warnings.filterwarnings("ignore", category=DeprecationWarning)
from sentence_transformers import SparseEncoder  # noqa: E402
from sentence_transformers.sparse_encoder.models import MLMTransformer, SpladePooling  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForMaskedLM,
)

from tiny_wordpiece import DATA, corpus, randomise, wordpiece  # noqa: E402

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
MAX_SEQ = 24
BIAS_SHIFT = 4.0


def build(name, model, tok, specials, pooling, activation, max_active_dims, seed):
    randomise(model, seed, 0.4)
    # A trained SPLADE head leaves most of the vocabulary at zero; a negative output bias does
    # the same here (a few percent of the ids nonzero per text).
    with torch.no_grad():
        model.get_output_embeddings().bias.sub_(BIAS_SHIFT)
    model.tie_weights()
    src = os.path.join(out, name + "-hf")
    shutil.rmtree(src, ignore_errors=True)
    model.save_pretrained(src, safe_serialization=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, **specials).save_pretrained(src)
    mods = [MLMTransformer(src, max_seq_length=MAX_SEQ), SpladePooling(pooling_strategy=pooling, activation_function=activation)]
    st = SparseEncoder(modules=mods, device="cpu", max_active_dims=max_active_dims)
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    st.save(d, safe_serialization=True)
    shutil.rmtree(src)
    readme = os.path.join(d, "README.md")  # a generated model card
    if os.path.exists(readme):
        os.remove(readme)
    st = SparseEncoder(d, device="cpu").double()
    assert st.max_active_dims == max_active_dims
    with torch.no_grad():
        vecs = st.encode(INPUTS, convert_to_tensor=True, convert_to_sparse_tensor=False, batch_size=2)
    vecs = vecs.to_dense() if vecs.is_sparse else vecs
    ids_to_tokens = st.tokenizer.convert_ids_to_tokens
    items = []
    for text, row in zip(INPUTS, vecs):
        idx = torch.nonzero(row > 0).flatten().tolist()
        items.append(
            {
                "text": text,
                "indices": idx,
                "values": [round(float(row[i]), 12) for i in idx],
                "tokens": ids_to_tokens(idx),
            }
        )
    return {"pooling": pooling, "activation": activation, "max_active_dims": max_active_dims, "items": items}


bert_specials = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
torch.manual_seed(0)
golden = {}
tok = wordpiece(lines, 600)
bert = BertForMaskedLM(
    BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=48, max_position_embeddings=64, hidden_act="gelu", attn_implementation="eager")
)
golden["tiny-splade"] = build("tiny-splade", bert, tok, bert_specials, "max", "relu", None, 31)

tok = wordpiece(lines, 600)
distil = DistilBertForMaskedLM(
    DistilBertConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=2, n_heads=4, hidden_dim=48,
                     max_position_embeddings=64, activation="gelu", attn_implementation="eager")
)
golden["tiny-splade-distil"] = build("tiny-splade-distil", distil, tok, bert_specials, "sum", "log1p_relu", 8, 37)

rdir = os.path.join(DATA, "family", "tiny-roberta")
rtok = Tokenizer.from_file(os.path.join(rdir, "tokenizer.json"))
rcfg = json.load(open(os.path.join(rdir, "config.json")))
roberta = RobertaForMaskedLM(
    RobertaConfig(vocab_size=rcfg["vocab_size"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=48, max_position_embeddings=rcfg["max_position_embeddings"], pad_token_id=1,
                  bos_token_id=0, eos_token_id=2, type_vocab_size=1, hidden_act="gelu", attn_implementation="eager")
)
roberta_specials = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", cls_token="<s>",
                        sep_token="</s>", mask_token="<mask>")
golden["tiny-splade-roberta"] = build("tiny-splade-roberta", roberta, rtok, roberta_specials, "max", "relu", None, 41)

with open(os.path.join(out, "splade_golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
print("wrote", ", ".join(golden), "and splade_golden.json to", out)
