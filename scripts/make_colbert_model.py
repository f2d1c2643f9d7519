#!/usr/bin/env python3
"""Writes a tiny random ColBERT folder as PyLate saves one (a sentence-transformers folder: the
encoder, `1_Dense` projecting every token to 16 values, and PyLate's query/document settings in
config_sentence_transformers.json), and what PyLate itself gives for it (float64).

    python scripts/make_colbert_model.py OUT_DIR        (the tests use tests/data)

Needs torch, transformers, sentence-transformers and pylate (`pip install --no-deps pylate`
plus `datasets` is enough to import its models); no hub access (the WordPiece tokenizer is
trained here, offline, by tiny_wordpiece.py). The weights follow fixed seeds; the vocabulary's
id order varies from run to run, so a rerun rewrites folder and goldens together. Writes
OUT_DIR/tiny-colbert and OUT_DIR/colbert_golden.json: per query and per document the token
vectors of `ColBERT.encode(..., is_query=...)` (queries: [CLS] [Q] … [SEP] then [MASK]
expansion to query_length 12; documents: [CLS] [D] …, cut at document_length 20, punctuation
and padding dropped) and PyLate's MaxSim scores of every query against every document.
"""
import json
import os
import shutil
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
from pylate import models, scores  # noqa: E402
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast  # noqa: E402

from tiny_wordpiece import corpus, randomise, wordpiece  # noqa: E402

out = sys.argv[1]
QUERIES = ["what is the capital of france?", "a fair trial", "who won the county fair, and why?"]
DOCUMENTS = [
    "Paris is the capital of France.",
    "The jury gave everyone a fair trial!",
    "At the county fair, the best pie won a ribbon; nobody asked why.",
    "This long review keeps going well past the twenty tokens that the folder allows for a "
    "document, so PyLate and wgbert must both cut it at the same place.",
]

torch.manual_seed(0)
tok = wordpiece(corpus(), 600)
bert = BertModel(
    BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=48, max_position_embeddings=64, hidden_act="gelu", attn_implementation="eager"),
    add_pooling_layer=False,
)
randomise(bert, 53, 0.4)
src = os.path.join(out, "tiny-colbert-hf")
shutil.rmtree(src, ignore_errors=True)
bert.save_pretrained(src, safe_serialization=True)
PreTrainedTokenizerFast(
    tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
).save_pretrained(src)

model = models.ColBERT(model_name_or_path=src, embedding_size=16, query_length=12, document_length=20, device="cpu")
with torch.no_grad():  # the projection (and the two new prefix rows) away from their initial values
    g = torch.Generator().manual_seed(59)
    for p in model.parameters():
        if p.dim() == 2 and p.shape[0] == 16:
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    emb = model[0].auto_model.embeddings.word_embeddings.weight
    emb[-2:].copy_(0.4 * torch.randn(emb[-2:].shape, generator=g))
d = os.path.join(out, "tiny-colbert")
shutil.rmtree(d, ignore_errors=True)
model.save(d)
shutil.rmtree(src)
for junk in ["README.md"]:
    if os.path.exists(os.path.join(d, junk)):
        os.remove(os.path.join(d, junk))

model = models.ColBERT(model_name_or_path=d, device="cpu").double()
with torch.no_grad():
    q = model.encode(QUERIES, is_query=True, convert_to_tensor=False, convert_to_numpy=False)
    dd = model.encode(DOCUMENTS, is_query=False, convert_to_tensor=False, convert_to_numpy=False)
    # MaxSim of each pair on its own: colbert_scores over a padded list of documents would let
    # a shorter document's zero padding into the max.
    s = [[float(scores.colbert_scores(qi[None], di[None])[0, 0]) for di in dd] for qi in q]


def rows(texts, vecs, is_query):
    items = []
    for t, v in zip(texts, vecs):
        f = model.tokenize([t], is_query=is_query)
        ids = f["input_ids"][0]
        # The positions PyLate keeps: every query position (expansion), a document's real tokens
        # outside the skiplist.
        keep = torch.ones_like(ids, dtype=torch.bool) if is_query else (
            model.skiplist_mask(ids[None], model.skiplist)[0] & f["attention_mask"][0].bool()
        )
        assert int(keep.sum()) == len(v)
        items.append(
            {
                "text": t,
                "input_ids": ids.tolist(),
                "kept_ids": ids[keep].tolist(),
                "vectors": [[round(float(x), 12) for x in r] for r in v],
            }
        )
    return items


golden = {
    "dim": 16,
    "query_length": model.query_length,
    "document_length": model.document_length,
    "queries": rows(QUERIES, q, True),
    "documents": rows(DOCUMENTS, dd, False),
    "scores": s,
}
with open(os.path.join(out, "colbert_golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
print("wrote", d, "and colbert_golden.json")
