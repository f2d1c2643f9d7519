#!/usr/bin/env python3
"""Writes a tiny random BertForPreTraining folder (masked-word and next-sentence heads) and what
transformers itself gives for it (float64): the fill-mask pipeline's answers and P(is next).

    python scripts/make_pretraining_model.py OUT_DIR        (the tests use tests/data)

Needs torch and transformers; no hub access (the WordPiece tokenizer is trained here, offline,
on the repository's sentences, by tiny_wordpiece.py). The weights follow fixed seeds; the
vocabulary's id order varies from run to run (tokenizers' trainer), so a rerun rewrites the
folder and the goldens together. Writes OUT_DIR/tiny-pretraining
(config.json, model.safetensors with the decoder tied to the word embeddings, as published
BERT checkpoints are, tokenizer.json) and OUT_DIR/pretraining_golden.json.
"""
import json
import os
import shutil
import sys

import torch
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining, PreTrainedTokenizerFast, pipeline

from tiny_wordpiece import corpus, randomise, wordpiece

out = sys.argv[1]
lines = corpus(["paris is the capital of france.", "i am hungry", "i would like to have pizza", "the table has four legs"])

MASKED = [
    "paris is the [MASK] of france.",
    "i would like to [MASK] pizza",
    "the [MASK] has four [MASK].",
]
PAIRS = [
    ("I am hungry", "I would like to have pizza"),
    ("I am hungry", "The table has four legs"),
    ("Paris is the capital of France.", "It is a lovely city."),
]
TOP_K = 5

torch.manual_seed(0)
tok = wordpiece(lines, 500, pair_types=True)

config = BertConfig(
    vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=48, max_position_embeddings=64, hidden_act="gelu", attn_implementation="eager",
)
model = BertForPreTraining(config)
randomise(model, 5, 0.4)
model.tie_weights()
assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()

d = os.path.join(out, "tiny-pretraining")
shutil.rmtree(d, ignore_errors=True)
model.save_pretrained(d, safe_serialization=True)
# model_input_names with token_type_ids: without it the tokenizer gives no type ids and BERT
# would read the second sentence as type 0.
fast = PreTrainedTokenizerFast(
    tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
    model_input_names=["input_ids", "token_type_ids", "attention_mask"],
)
tok.save(os.path.join(d, "tokenizer.json"))
for junk in ["generation_config.json"]:
    if os.path.exists(os.path.join(d, junk)):
        os.remove(os.path.join(d, junk))

model = model.double().eval()
# The fill-mask pipeline wants a *ForMaskedLM: the same checkpoint read as one (cls.predictions).
mlm = BertForMaskedLM.from_pretrained(d, attn_implementation="eager").double().eval()
fill = pipeline("fill-mask", model=mlm, tokenizer=fast, top_k=TOP_K, device="cpu")
golden = {"top_k": TOP_K, "fill_mask": [], "next_sentence": []}
for text in MASKED:
    answers = fill(text)
    if answers and isinstance(answers[0], dict):
        answers = [answers]  # one mask: one list
    golden["fill_mask"].append(
        {
            "text": text,
            "masks": [
                [{"token": a["token"], "token_str": a["token_str"], "score": float(a["score"]), "sequence": a["sequence"]} for a in ans]
                for ans in answers
            ],
        }
    )
with torch.no_grad():
    for a, b in PAIRS:
        enc = fast(a, b, return_tensors="pt")
        assert enc["token_type_ids"][0].max() == 1
        logits = model(**enc).seq_relationship_logits[0]
        p = torch.softmax(logits, -1)
        golden["next_sentence"].append({"a": a, "b": b, "logits": logits.tolist(), "is_next": float(p[0])})
with open(os.path.join(out, "pretraining_golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
print("wrote", d, "and pretraining_golden.json")
