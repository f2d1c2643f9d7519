"""TF-Hub's BERT tutorial on wgbert, two names changed.

::

    import wgbert.hub as hub
    preprocess = hub.Preprocess()                 # was hub.KerasLayer(preprocess_url)
    encoder = hub.Encoder()                       # was hub.KerasLayer(encoder_url)
    inputs = preprocess(["nice movie indeed", "I love python programming"])
    outputs = encoder(inputs)
    outputs["pooled_output"].shape                # (2, 384)
    outputs["sequence_output"].shape              # (2, 128, 384)
    len(outputs["encoder_outputs"])               # one array per layer

The numbers are the ``wgbert preprocess`` / ``wgbert encode`` command's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._wgbert import Model, Tokenizer

__all__ = ["Preprocess", "Encoder"]


class Preprocess:
    """``bert_en_uncased_preprocess`` with the model folder's own ``tokenizer.json``:
    ``[CLS] … [SEP]`` (the tokenizer's special tokens), pairs truncated round-robin, padded to
    ``seq_length``. Runs on the CPU; no GPU is opened."""

    def __init__(self, model_dir: Optional[str] = None, seq_length: int = 128) -> None:
        if not isinstance(seq_length, int) or isinstance(seq_length, bool):
            raise TypeError(f"seq_length must be an int, got {type(seq_length).__name__}")
        self.tokenizer = Tokenizer(model_dir)
        self.seq_length = seq_length

    def __call__(self, inputs: Union[str, Sequence[Union[str, Tuple[str, str]]]]) -> Dict[str, np.ndarray]:
        """Each input a ``str`` or a pair ``(a, b)``: a dict of int32 arrays ``input_word_ids``,
        ``input_mask``, ``input_type_ids``, each ``[n, seq_length]``."""
        if isinstance(inputs, str):
            inputs = [inputs]
        ids, mask, types = self.tokenizer.pack(list(inputs), self.seq_length)
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}

    def tokenize(self, text: str) -> List[str]:
        """The WordPieces of ``text`` (no special tokens)."""
        return self.tokenizer.tokenize(text)


class Encoder:
    """The encoder on TF-Hub's three arrays: ``pooled_output`` ``[B, H]`` (BERT's pooler; the
    key is absent for checkpoints without one), ``sequence_output`` ``[B, S, H]``,
    ``encoder_outputs`` (one ``[B, S, H]`` array per layer, the last equal to
    ``sequence_output``) and ``default`` (= ``pooled_output``, as TF-Hub)."""

    def __init__(
        self,
        model_dir: Optional[str] = None,
        device: Optional[str] = None,
        precision: str = "f32",
    ) -> None:
        self.model = Model(model_dir, device, precision)

    def __call__(self, inputs: Mapping[str, Any]) -> Dict[str, Any]:
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f"Encoder takes the dict Preprocess returns (input_word_ids, input_mask, input_type_ids), "
                f"got {type(inputs).__name__}"
            )
        missing = [k for k in ("input_word_ids", "input_mask", "input_type_ids") if k not in inputs]
        if missing:
            raise ValueError(f"the inputs lack {', '.join(missing)}; pass what Preprocess returns")
        arrays = []
        for k in ("input_word_ids", "input_mask", "input_type_ids"):
            a = np.asarray(inputs[k])
            if a.ndim != 2:
                raise ValueError(f"{k} must be [batch, seq_length], got shape {a.shape}")
            if not np.issubdtype(a.dtype, np.integer):
                raise TypeError(f"{k} must hold integers, got {a.dtype}")
            if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
                raise ValueError(f"{k} holds values outside int32")
            arrays.append(np.ascontiguousarray(a, dtype=np.int32))
        pooled, sequence, layers = self.model.encode_arrays(*arrays)
        out: Dict[str, Any] = {"sequence_output": sequence, "encoder_outputs": list(layers)}
        if pooled is not None:
            out["pooled_output"] = pooled
            out["default"] = pooled
        return out
