"""ONNX export of a BERT model folder for transformers.js (benches/web-compare.sh).

    python export_onnx.py MODEL_DIR OUT_DIR

Writes OUT_DIR/onnx/model.onnx (input_ids, attention_mask, token_type_ids -> last_hidden_state,
batch and sequence dynamic, float32, opset 17) and copies the tokenizer and config files, the
layout transformers.js loads from `env.localModelPath`. Needs torch, transformers and onnx.
"""
import shutil
import sys

import torch
from transformers import BertModel

src, dst = sys.argv[1], sys.argv[2]
model = BertModel.from_pretrained(src, add_pooling_layer=False, attn_implementation="eager").eval()


class LastHidden(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state


names = ["input_ids", "attention_mask", "token_type_ids"]
ids = torch.ones(2, 16, dtype=torch.long)
shutil.os.makedirs(f"{dst}/onnx", exist_ok=True)
torch.onnx.export(
    LastHidden(model),
    (ids, ids, torch.zeros_like(ids)),
    f"{dst}/onnx/model.onnx",
    input_names=names,
    output_names=["last_hidden_state"],
    dynamic_axes={k: {0: "batch", 1: "seq"} for k in names + ["last_hidden_state"]},
    opset_version=17,
    dynamo=False,
)
for f in ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    try:
        shutil.copy(f"{src}/{f}", dst)
    except FileNotFoundError:
        pass
print(f"export_onnx: {dst}/onnx/model.onnx")
