#!/usr/bin/env python3
"""Writes tiny random models of every layout wgbert loads, and their goldens from transformers.

    python scripts/make_family_models.py OUT_DIR        (the tests use tests/data)

Needs torch, transformers (5.x) and tokenizers; no hub access. Deterministic (fixed seeds).
For each model, OUT_DIR/<name>/ holds config.json, model.safetensors (F32) and tokenizer.json
(trained here, offline, on the corpus below), and OUT_DIR/family_golden.json the float64
outputs of transformers itself (model.double(), eager attention) for singles and pairs:

    tiny-roberta         RobertaModel,   byte-level BPE,    RobertaProcessing
    tiny-xlmr            XLMRobertaModel, Unigram (sentencepiece-style), TemplateProcessing
    tiny-camembert       CamembertModel, the Unigram tokenizer
    tiny-distilbert      DistilBertForSequenceClassification (2 labels), WordPiece
    tiny-rerank-bert     BertForSequenceClassification (1 label): a cross-encoder
    tiny-rerank-xlmr     XLMRobertaForSequenceClassification (1 label): a cross-encoder
    tiny-st-cls          tiny-xlmr as a sentence-transformers folder: CLS pooling + Normalize,
                         max_seq_length 20
    tiny-st-sqrt         tiny-roberta as one: mean_sqrt_len pooling, no Normalize

It also writes OUT_DIR/xlmr_big_golden.json: an XLM-R-shaped model with a 250 002-row word table
(hidden 144, so the f32 table is 144 MB, above a 128 MiB storage binding) whose every weight
is a formula of (tensor index, flat index) — `weight_value` below, mirrored in tests/it/family.rs —
so the test rebuilds the 144 MB checkpoint instead of committing it; the JSON holds the tensor
names and shapes, the token ids and transformers' outputs.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, decoders
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    CamembertConfig,
    CamembertModel,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaModel,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
    XLMRobertaModel,
)

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "tests", "data")

corpus = []
for f in ["sentences_public.txt", "tiny_inputs.txt"]:
    corpus += [l.strip() for l in open(os.path.join(data, f), encoding="utf-8") if l.strip()]
for l in open(os.path.join(data, "reviews.jsonl"), encoding="utf-8"):
    corpus.append(json.loads(l)["text"])
corpus += [
    "Paris est la capitale de la France.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El zorro marrón rápido salta sobre el perro perezoso.",
    "What is the capital of France?",
    "The capital of France is Paris.",
    "Berlin is the capital of Germany.",
]

INPUTS = [
    ("A fair trial for everyone.", None),
    ("Paris est la capitale de la France.", None),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("nice movie", "I love python programming"),
]
SEQ = 32


def bpe_tokenizer():
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=1200,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tok


def unigram_tokenizer():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=700,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok


def wordpiece_tokenizer():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=700, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]"))
    )
    return tok


def randomise(model, seed):
    """Weights far from the init defaults, so every parameter matters (LayerNorms, biases)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "word_embeddings" in name:
                p.copy_(0.5 * r)
            elif "embeddings" in name:
                p.copy_(0.2 * r)
            else:
                p.copy_(0.12 * r)
    return model


def base_of(model):
    for attr in ["roberta", "bert", "distilbert"]:
        if hasattr(model, attr):
            return getattr(model, attr)
    return model


def golden(name, model, tok, pad_id, uses_types):
    model = model.double().eval()
    base = base_of(model)
    items = []
    for a, b in INPUTS:
        enc = tok.encode(a, b) if b is not None else tok.encode(a)
        ids = enc.ids
        assert len(ids) <= SEQ, (name, len(ids))
        n = len(ids)
        input_ids = torch.tensor([ids + [pad_id] * (SEQ - n)])
        mask = torch.tensor([[1] * n + [0] * (SEQ - n)])
        kwargs = {"input_ids": input_ids, "attention_mask": mask}
        if uses_types:
            kwargs["token_type_ids"] = torch.tensor([enc.type_ids + [0] * (SEQ - n)])
        with torch.no_grad():
            o = base(**kwargs)
            seq = o.last_hidden_state[0]
            pooled = getattr(o, "pooler_output", None)
            m = mask[0].double().unsqueeze(-1)
            mean = (seq * m).sum(0) / m.sum()
            logits = None
            if model is not base:
                logits = model(**kwargs).logits[0].tolist()
        items.append(
            {
                "text": a,
                "pair": b,
                "ids": ids,
                "sequence_output": [round(float(v), 9) for v in seq.flatten()],
                "pooled_output": None if pooled is None else [round(float(v), 9) for v in pooled[0]],
                "mean": [round(float(v), 9) for v in mean],
                "cls": [round(float(v), 9) for v in seq[0]],
                "sqrt_len": [round(float(v), 9) for v in (seq * m).sum(0) / m.sum().sqrt()],
                "logits": logits,
            }
        )
    return {"seq_len": SEQ, "hidden": model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.dim, "items": items}


def save(name, model, tok):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    model.float().save_pretrained(d, safe_serialization=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    for junk in ["generation_config.json"]:
        p = os.path.join(d, junk)
        if os.path.exists(p):
            os.remove(p)
    return d


def st_folder(name, src, pooling_flags, normalize, max_seq_length):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(out, src), d)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    json.dump(modules, open(os.path.join(d, "modules.json"), "w"), indent=2)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    pool = {
        "word_embedding_dimension": 0,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    pool.update(pooling_flags)
    json.dump(pool, open(os.path.join(d, "1_Pooling", "config.json"), "w"), indent=2)
    json.dump({"max_seq_length": max_seq_length, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"), indent=2)


torch.manual_seed(0)
bpe, uni, wp = bpe_tokenizer(), unigram_tokenizer(), wordpiece_tokenizer()
common = dict(hidden_act="gelu", layer_norm_eps=1e-5, attn_implementation="eager")
goldens = {}

cfg = RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=52, max_position_embeddings=SEQ + 2, type_vocab_size=1, pad_token_id=1,
                    bos_token_id=0, eos_token_id=2, **common)
m = randomise(RobertaModel(cfg), 1)
save("tiny-roberta", m, bpe)
goldens["tiny-roberta"] = golden("tiny-roberta", m, bpe, 1, False)

cfg = XLMRobertaConfig(vocab_size=uni.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=40, max_position_embeddings=SEQ + 2, type_vocab_size=1, pad_token_id=1,
                       bos_token_id=0, eos_token_id=2, **dict(common, hidden_act="gelu_new"))
m = randomise(XLMRobertaModel(cfg), 2)
save("tiny-xlmr", m, uni)
goldens["tiny-xlmr"] = golden("tiny-xlmr", m, uni, 1, False)

cfg = CamembertConfig(vocab_size=uni.get_vocab_size(), hidden_size=28, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=44, max_position_embeddings=SEQ + 2, type_vocab_size=1, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2, **common)
m = randomise(CamembertModel(cfg), 3)
save("tiny-camembert", m, uni)
goldens["tiny-camembert"] = golden("tiny-camembert", m, uni, 1, False)

cfg = DistilBertConfig(vocab_size=wp.get_vocab_size(), dim=40, n_layers=2, n_heads=4, hidden_dim=56,
                       max_position_embeddings=SEQ, activation="gelu", pad_token_id=0, num_labels=2,
                       attn_implementation="eager")
m = randomise(DistilBertForSequenceClassification(cfg), 4)
save("tiny-distilbert", m, wp)
goldens["tiny-distilbert"] = golden("tiny-distilbert", m, wp, 0, False)

cfg = BertConfig(vocab_size=wp.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=48, max_position_embeddings=SEQ, type_vocab_size=2, pad_token_id=0,
                 num_labels=1, **dict(common, layer_norm_eps=1e-12))
m = randomise(BertForSequenceClassification(cfg), 5)
save("tiny-rerank-bert", m, wp)
goldens["tiny-rerank-bert"] = golden("tiny-rerank-bert", m, wp, 0, True)

cfg = XLMRobertaConfig(vocab_size=uni.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=40, max_position_embeddings=SEQ + 2, type_vocab_size=1, pad_token_id=1,
                       bos_token_id=0, eos_token_id=2, num_labels=1, **common)
m = randomise(XLMRobertaForSequenceClassification(cfg), 6)
save("tiny-rerank-xlmr", m, uni)
goldens["tiny-rerank-xlmr"] = golden("tiny-rerank-xlmr", m, uni, 1, False)

st_folder("tiny-st-cls", "tiny-xlmr", {"pooling_mode_cls_token": True}, True, 20)
st_folder("tiny-st-sqrt", "tiny-roberta", {"pooling_mode_mean_sqrt_len_tokens": True}, False, 20)

json.dump(goldens, open(os.path.join(out, "family_golden.json"), "w"))


# ---- the 250 002-row XLM-R-shaped model, every weight a formula --------------------------------
M64 = (1 << 64) - 1


def weight_value(t, n, kind):
    """Values of tensor number t (n elements): splitmix64((t << 40) + i) → k in [-1019, 1019],
    then k/1024 (word table), 1 + k/16384 (LayerNorm weights), k/16384 (everything else).
    All exact in f32; mirrored in tests/it/family.rs."""
    x = (np.uint64(t) << np.uint64(40)) + np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z % np.uint64(2039)).astype(np.int64) - 1019
    if kind == "word":
        return k.astype(np.float64) / 1024.0
    if kind == "ln":
        return 1.0 + k.astype(np.float64) / 16384.0
    return k.astype(np.float64) / 16384.0


def kind_of(name):
    if "word_embeddings" in name:
        return "word"
    if "LayerNorm.weight" in name:
        return "ln"
    return "other"


cfg = XLMRobertaConfig(vocab_size=250002, hidden_size=144, num_hidden_layers=1, num_attention_heads=4,
                       intermediate_size=160, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                       bos_token_id=0, eos_token_id=2, **common)
big = XLMRobertaModel(cfg).double().eval()
names = []
with torch.no_grad():
    for t, (name, p) in enumerate(big.named_parameters()):
        v = weight_value(t, p.numel(), kind_of(name)).reshape(tuple(p.shape))
        p.copy_(torch.from_numpy(v))
        names.append({"name": name, "shape": list(p.shape), "kind": kind_of(name)})
# ids across the whole table: the first rows, the middle, the last (at f32 under a 128 MiB
# binding the table is two pieces, rows 0..233 016 and 233 016..250 002)
ID_LISTS = [
    [0, 5, 17, 100000, 249999, 250001, 2],
    [0, 87380, 87381, 174762, 174763, 2, 2, 31337, 200001, 2],
]
S = 12
items = []
for ids in ID_LISTS:
    n = len(ids)
    input_ids = torch.tensor([ids + [1] * (S - n)])
    mask = torch.tensor([[1] * n + [0] * (S - n)])
    with torch.no_grad():
        o = big(input_ids=input_ids, attention_mask=mask)
    seq = o.last_hidden_state[0]
    m = mask[0].double().unsqueeze(-1)
    items.append({
        "ids": ids,
        "sequence_output": [round(float(v), 9) for v in seq[:n].flatten()],
        "pooled_output": [round(float(v), 9) for v in o.pooler_output[0]],
        "mean": [round(float(v), 9) for v in (seq * m).sum(0) / m.sum()],
    })
config = json.loads(cfg.to_json_string())
for k in ["attn_implementation", "_attn_implementation_autoset", "transformers_version", "dtype", "torch_dtype"]:
    config.pop(k, None)
config["architectures"] = ["XLMRobertaModel"]
json.dump({"config": config, "tensors": names, "seq_len": S, "items": items},
          open(os.path.join(out, "xlmr_big_golden.json"), "w"))
print("wrote", out)
