"""What the tiny-model scripts share: the repository's sentences as a training corpus, a
WordPiece tokenizer trained on it offline (BERT's normaliser and specials), and weights drawn
far from their initial values so that every parameter matters (LayerNorms and biases too)."""
import json
import os

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def corpus(extra=()):
    lines = [l.strip() for l in open(os.path.join(DATA, "sentences_public.txt"), encoding="utf-8") if l.strip()]
    for l in open(os.path.join(DATA, "reviews.jsonl"), encoding="utf-8"):
        lines.append(json.loads(l)["text"])
    return lines + list(extra)


def wordpiece(lines, vocab_size, pair_types=False):
    """A lowercasing WordPiece tokenizer; `pair_types`: a TemplateProcessing post-processor that
    gives the second segment type 1 (else BertProcessing)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if pair_types:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
    else:
        tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    return tok


def randomise(model, seed, embedding_scale):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if "layer_norm.weight" in name.lower() or "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("bias"):
                p.copy_(0.05 * r)
            elif "embeddings" in name:
                p.copy_(embedding_scale * r)
            else:
                p.copy_(0.15 * r)
