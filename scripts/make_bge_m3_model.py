#!/usr/bin/env python3
"""Writes a tiny random bge-m3 folder (an XLM-RoBERTa encoder as a sentence-transformers folder
with CLS pooling and Normalize, plus `colbert_linear.pt` and `sparse_linear.pt` saved with
torch.save, as BAAI publishes them) and what FlagEmbedding's BGEM3FlagModel itself gives for it
in float64: dense vectors, lexical weights, ColBERT vectors and their scores.

    python scripts/make_bge_m3_model.py OUT_DIR        (the tests use tests/data)

Needs torch, transformers, sentence-transformers and FlagEmbedding (`pip install --no-deps
FlagEmbedding` beside pylate's pinned transformers is enough for its inference class); no hub
access: the tokenizer is tests/data/family/tiny-xlmr's. Writes OUT_DIR/tiny-bge-m3 and
OUT_DIR/bge_m3_golden.json.
"""
import json
import os
import shutil
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
from sentence_transformers import SentenceTransformer, models  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel  # noqa: E402

from tiny_wordpiece import DATA, randomise  # noqa: E402

out = sys.argv[1]
TEXTS = [
    "What is BGE M3?",
    "Defination of BM25",
    "BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
    "BM25 is a bag-of-words retrieval function that ranks a set of documents based on the query terms appearing in each document",
    "the the the repeated words keep their largest weight",
]
MAX_SEQ = 24

xdir = os.path.join(DATA, "family", "tiny-xlmr")
tok = Tokenizer.from_file(os.path.join(xdir, "tokenizer.json"))
xcfg = json.load(open(os.path.join(xdir, "config.json")))
torch.manual_seed(0)
enc = XLMRobertaModel(
    XLMRobertaConfig(vocab_size=xcfg["vocab_size"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=48, max_position_embeddings=xcfg["max_position_embeddings"], pad_token_id=1,
                     bos_token_id=0, eos_token_id=2, type_vocab_size=1, hidden_act="gelu", attn_implementation="eager"),
    add_pooling_layer=False,
)
randomise(enc, 61, 0.4)
src = os.path.join(out, "tiny-bge-m3-hf")
shutil.rmtree(src, ignore_errors=True)
enc.save_pretrained(src, safe_serialization=True)
PreTrainedTokenizerFast(
    tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", cls_token="<s>",
    sep_token="</s>", mask_token="<mask>",
).save_pretrained(src)
word = models.Transformer(src, max_seq_length=MAX_SEQ)
st = SentenceTransformer(modules=[word, models.Pooling(32, pooling_mode="cls"), models.Normalize()], device="cpu")
d = os.path.join(out, "tiny-bge-m3")
shutil.rmtree(d, ignore_errors=True)
st.save(d, safe_serialization=True)
shutil.rmtree(src)
if os.path.exists(os.path.join(d, "README.md")):
    os.remove(os.path.join(d, "README.md"))
g = torch.Generator().manual_seed(67)
colbert = torch.nn.Linear(32, 32)
sparse = torch.nn.Linear(32, 1)
with torch.no_grad():
    for lin in (colbert, sparse):
        lin.weight.copy_(0.3 * torch.randn(lin.weight.shape, generator=g))
        lin.bias.copy_(0.05 * torch.randn(lin.bias.shape, generator=g))
    sparse.bias.add_(0.6)  # about half the tokens get a positive weight
torch.save(colbert.state_dict(), os.path.join(d, "colbert_linear.pt"))
torch.save(sparse.state_dict(), os.path.join(d, "sparse_linear.pt"))

from FlagEmbedding import BGEM3FlagModel  # noqa: E402

m = BGEM3FlagModel(d, use_fp16=False, devices="cpu", passage_max_length=MAX_SEQ, query_max_length=MAX_SEQ)
m.model.double()
o = m.encode(TEXTS, batch_size=2, max_length=MAX_SEQ, return_dense=True, return_sparse=True, return_colbert_vecs=True)
items = []
for i, t in enumerate(TEXTS):
    lw = o["lexical_weights"][i]
    ids = sorted(int(k) for k in lw)
    items.append(
        {
            "text": t,
            "dense": [round(float(x), 12) for x in o["dense_vecs"][i]],
            "sparse_indices": ids,
            "sparse_values": [round(float(lw[str(k)]), 12) for k in ids],
            "colbert": [[round(float(x), 12) for x in r] for r in o["colbert_vecs"][i]],
        }
    )
scores = {
    "lexical": [[float(m.compute_lexical_matching_score(o["lexical_weights"][i], o["lexical_weights"][j])) for j in range(len(TEXTS))] for i in range(2)],
    "colbert": [[float(m.colbert_score(o["colbert_vecs"][i], o["colbert_vecs"][j])) for j in range(len(TEXTS))] for i in range(2)],
}
with open(os.path.join(out, "bge_m3_golden.json"), "w") as f:
    json.dump({"max_seq_length": MAX_SEQ, "items": items, "scores": scores}, f, indent=1)
print("wrote", d, "and bge_m3_golden.json")
