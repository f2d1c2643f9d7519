"""wgbert: BERT-family embeddings on any GPU (Vulkan, Metal, DX12) through wgpu.

sentence-transformers' API on the engine (``SentenceTransformer``, ``CrossEncoder``,
``SparseEncoder`` for SPLADE models)::

    from wgbert import SentenceTransformer
    model = SentenceTransformer()            # the default model, as the `wgbert` command finds it
    emb = model.encode(["a fair trial", "a county fair"])   # float32 ndarray [2, 384]
    model.similarity(emb, emb)

TF-Hub's preprocess / encoder pair is in :mod:`wgbert.hub`; a Ray Data callable for corpus-scale
embedding in :mod:`wgbert.ray`. The GIL is released while wgbert tokenises and runs the GPU, and
one model may be used from several threads.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _wgbert
from ._wgbert import Model, Tokenizer, adapters, default_model_dir

__version__ = _wgbert.__version__

__all__ = [
    "SentenceTransformer",
    "CrossEncoder",
    "SparseEncoder",
    "Model",
    "Tokenizer",
    "adapters",
    "default_model_dir",
    "cos_sim",
    "__version__",
]

Text = Union[str, Tuple[str, str]]


def _progress(total: int, show: Optional[bool], desc: str):
    """A tqdm bar when asked for and tqdm is installed; otherwise nothing."""
    if not show:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore
    except ImportError:
        return None
    return tqdm(total=total, desc=desc)


def _batches(items: Sequence[Any], batch_size: int):
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


def _as_2d(a: Any, name: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"{name} must be one vector [dim] or a matrix [n, dim]; got shape {x.shape}")
    return x


def cos_sim(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``[len(a), len(b)]``."""
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"vectors of different widths: {a.shape[1]} and {b.shape[1]}")
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def _dot(a: Any, b: Any) -> np.ndarray:
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    return a @ b.T


def _neg_euclidean(a: Any, b: Any) -> np.ndarray:
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    return -np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))


def _neg_manhattan(a: Any, b: Any) -> np.ndarray:
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    return -np.abs(a[:, None, :] - b[None, :, :]).sum(-1)


_SIMILARITY = {
    "cosine": cos_sim,
    "dot": _dot,
    "euclidean": _neg_euclidean,
    "manhattan": _neg_manhattan,
}


class SentenceTransformer:
    """sentence-transformers' ``SentenceTransformer`` on wgbert.

    ``model_name_or_path``: a model folder (``config.json``, ``tokenizer.json``,
    ``model.safetensors`` and, for sentence-transformers folders, ``modules.json``); ``None``
    takes the default model as the ``wgbert`` command finds it (``WGBERT_MODEL``,
    ``./assets/models/all-MiniLM-L6-v2``, the per-user model folders). Nothing is downloaded.
    ``device``: a substring of a GPU adapter's name or its PCI bus id (see :func:`adapters`);
    ``None`` takes the best adapter. ``precision``: ``"f32"`` or ``"f16"`` (storage).
    """

    def __init__(
        self,
        model_name_or_path: Optional[str] = None,
        device: Optional[str] = None,
        precision: str = "f32",
        *,
        truncate_dim: Optional[int] = None,
        max_batch: int = 32,
    ) -> None:
        self._args = dict(path=model_name_or_path, device=device, precision=precision, max_batch=max_batch)
        self._model = Model(**self._args)
        self._tokenizer: Optional[Tokenizer] = None
        self.truncate_dim = truncate_dim
        self.prompts: Dict[str, str] = dict(self._model.prompts)
        self.default_prompt_name: Optional[str] = self._model.default_prompt_name
        self.similarity_fn_name: str = self._model.similarity_fn_name or "cosine"
        if self.similarity_fn_name not in _SIMILARITY:
            raise ValueError(
                f"similarity_fn_name {self.similarity_fn_name!r} of config_sentence_transformers.json is not one of "
                f"{sorted(_SIMILARITY)}"
            )

    # -- properties sentence-transformers users reach for -------------------------------------

    @property
    def model(self) -> Model:
        """The engine underneath (:class:`wgbert.Model`)."""
        return self._model

    @property
    def device(self) -> str:
        """The GPU adapter the model runs on."""
        return self._model.adapter

    @property
    def max_seq_length(self) -> int:
        """Inputs are truncated to this many tokens (the folder's ``sentence_bert_config.json``)."""
        return self._model.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise ValueError(f"max_seq_length must be an int of at least 2, got {value!r}")
        if value > self._model.model_max_length:
            raise ValueError(
                f"max_seq_length {value} is above this model's longest input, {self._model.model_max_length}"
            )
        self._model = Model(**self._args, max_seq_length=value)

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    def get_sentence_embedding_dimension(self) -> int:
        """Width of the vectors ``encode`` returns (``truncate_dim`` when set)."""
        d = self._model.dim
        return min(d, self.truncate_dim) if self.truncate_dim else d

    def tokenize_text(self, text: str) -> List[str]:
        """The model's tokens of ``text`` (no special tokens)."""
        if self._tokenizer is None:  # read tokenizer.json once, on first use
            self._tokenizer = Tokenizer(str(self._model.path))
        return self._tokenizer.tokenize(text)

    # -- encode ----------------------------------------------------------------------------------

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
        **kwargs: Any,
    ):
        """Embeds ``sentences``: a float32 ndarray ``[n, dim]`` (``[dim]`` for one ``str``).

        ``output_value="token_embeddings"`` gives one ``[tokens, dim]`` array per sentence (the
        last layer at each real token). Prompts come from the folder's
        ``config_sentence_transformers.json`` (``prompt_name``, else ``default_prompt_name``) or
        are given as text (``prompt``). ``truncate_dim`` (or the model's) keeps the first
        dimensions (Matryoshka); ``normalize_embeddings`` L2-normalises after that.
        """
        if kwargs:
            raise TypeError(f"encode() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if precision != "float32":
            raise ValueError(f"precision {precision!r}: wgbert returns float32 embeddings; quantise them afterwards")
        if device is not None and device not in self.device:
            raise ValueError(
                f"device {device!r}: this model runs on {self.device}; choose the adapter when creating the model"
            )
        single = isinstance(sentences, str)
        if single:
            texts = [sentences]
        else:
            if sentences is None or not hasattr(sentences, "__iter__"):
                raise TypeError(f"sentences must be a str or a list of str, got {type(sentences).__name__}")
            texts = list(sentences)
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"sentence {i} is a {type(t).__name__}; every sentence must be a str")
        text_prompt = self._model.resolve_prompt(prompt_name, prompt)
        if text_prompt:
            texts = [text_prompt + t for t in texts]
        bar = _progress(len(texts), show_progress_bar, "Batches")
        try:
            if output_value == "token_embeddings":
                out: List[np.ndarray] = []
                for chunk in _batches(texts, batch_size):
                    out.extend(self._model.token_embeddings(chunk))
                    if bar is not None:
                        bar.update(len(chunk))
                if convert_to_tensor:
                    out = [_to_tensor(t) for t in out]
                return out[0] if single else out
            if output_value != "sentence_embedding":
                raise ValueError(
                    f"output_value {output_value!r}: wgbert gives 'sentence_embedding' or 'token_embeddings' "
                    "(not sentence-transformers' None, every output as dicts); ask for each one"
                )
            parts = []
            for chunk in _batches(texts, batch_size):
                parts.append(self._model.embed(chunk))
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        dim = self._model.dim
        emb = np.concatenate(parts, axis=0) if parts else np.zeros((0, dim), dtype=np.float32)
        cut = truncate_dim or self.truncate_dim
        if cut:
            if not isinstance(cut, int) or cut < 1:
                raise ValueError(f"truncate_dim must be a positive int, got {cut!r}")
            emb = emb[:, :cut]
        if normalize_embeddings:
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        emb = np.ascontiguousarray(emb, dtype=np.float32)
        if single:
            emb = emb[0]
        if convert_to_tensor:
            return _to_tensor(emb)
        if not convert_to_numpy:
            return list(emb) if not single else emb
        return emb

    def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """The folder's similarity (``similarity_fn_name``; cosine by default) of every pair:
        ``[len(embeddings1), len(embeddings2)]``."""
        return _SIMILARITY[self.similarity_fn_name](embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """The similarity of ``embeddings1[i]`` with ``embeddings2[i]``: ``[n]``."""
        a, b = _as_2d(embeddings1, "embeddings1"), _as_2d(embeddings2, "embeddings2")
        if a.shape != b.shape:
            raise ValueError(f"pairwise similarity needs equal shapes, got {a.shape} and {b.shape}")
        return np.array(
            [self.similarity(a[i], b[i])[0, 0] for i in range(a.shape[0])], dtype=np.float32
        )

    def __repr__(self) -> str:
        return f"wgbert.SentenceTransformer({self._model!r})"


def _to_tensor(a: np.ndarray):
    try:
        import torch  # type: ignore
    except ImportError as e:
        raise ValueError("convert_to_tensor=True needs PyTorch; wgbert returns numpy arrays without it") from e
    return torch.from_numpy(a)


class CrossEncoder:
    """sentence-transformers' ``CrossEncoder`` on wgbert: a ``*ForSequenceClassification``
    checkpoint scoring sentence pairs (rerankers such as ms-marco-MiniLM or bge-reranker).

    As in sentence-transformers, a one-label model's scores go through a sigmoid unless
    another ``activation_fn`` is given; models with several labels give their logits (or
    softmax probabilities with ``apply_softmax=True``).
    """

    def __init__(
        self,
        model_name_or_path: str,
        max_length: Optional[int] = None,
        device: Optional[str] = None,
        precision: str = "f32",
        activation_fn: Any = None,
    ) -> None:
        self.model = Model(model_name_or_path, device, precision)
        labels = self.model.labels
        if labels is None:
            raise ValueError(
                f"{model_name_or_path}: this model has no sequence-classification head, so it cannot score pairs; "
                "use a *ForSequenceClassification folder (a cross-encoder)"
            )
        self.num_labels = len(labels)
        self.max_length = max_length
        if max_length is not None and not 2 <= max_length <= self.model.model_max_length:
            raise ValueError(f"max_length {max_length} is outside 2..={self.model.model_max_length}")
        self.activation_fn = activation_fn

    def _activate(self, logits: np.ndarray, activation_fn: Any, apply_softmax: bool) -> np.ndarray:
        fn = activation_fn if activation_fn is not None else self.activation_fn
        if fn is not None:
            return np.asarray(fn(logits), dtype=np.float32)
        if self.num_labels == 1:
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        if apply_softmax:
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        return logits

    def predict(
        self,
        sentences: Union[Tuple[str, str], Sequence[Tuple[str, str]]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
    ):
        """Scores of each ``(a, b)`` pair: ``[n]`` for a one-label model, ``[n, labels]``
        otherwise (one pair gives one score / one row)."""
        single = (
            isinstance(sentences, (tuple, list))
            and len(sentences) == 2
            and all(isinstance(s, str) for s in sentences)
        )
        pairs = [tuple(sentences)] if single else [tuple(p) if isinstance(p, list) else p for p in sentences]
        bar = _progress(len(pairs), show_progress_bar, "Batches")
        parts = []
        try:
            for chunk in _batches(pairs, batch_size):
                parts.append(self.model.logits(chunk, self.max_length))
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        logits = np.concatenate(parts) if parts else np.zeros((0, self.num_labels), np.float32)
        scores = self._activate(logits, activation_fn, apply_softmax)
        if self.num_labels == 1:
            scores = scores[:, 0]
        if single:
            scores = scores[0]
        if convert_to_tensor:
            return _to_tensor(np.asarray(scores))
        if not convert_to_numpy:
            return scores.tolist() if hasattr(scores, "tolist") else scores
        return scores

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
    ) -> List[Dict[str, Any]]:
        """Documents by relevance to ``query``, best first: ``{"corpus_id", "score"}`` (and
        ``"text"`` with ``return_documents``), ``top_k`` of them."""
        if self.num_labels != 1:
            raise ValueError(f"rank needs a one-label cross-encoder; this model has {self.num_labels} labels")
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        docs = list(documents)
        scores = self.predict(
            [(query, d) for d in docs],
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
        )
        order = np.argsort(-np.asarray(scores), kind="stable")
        out = []
        for i in order[: top_k if top_k is not None else len(docs)]:
            r: Dict[str, Any] = {"corpus_id": int(i), "score": float(scores[i])}
            if return_documents:
                r["text"] = docs[i]
            out.append(r)
        return out

    def __repr__(self) -> str:
        return f"wgbert.CrossEncoder({self.model!r})"


class SparseEncoder:
    """sentence-transformers' ``SparseEncoder`` on wgbert, for SPLADE models.

    ``model_name_or_path``, ``device`` and ``precision`` as :class:`SentenceTransformer`. The
    folder is a sentence-transformers SparseEncoder folder (MLMTransformer + SpladePooling) or
    any masked-word checkpoint (then max pooling of log(1 + relu(logit))). The masked-word head
    and the pooling run on the GPU; each vector comes back as its nonzero weights.
    ``encode`` gives numpy arrays ``[n, vocab_size]`` (sentence-transformers'
    ``convert_to_sparse_tensor=False`` form); :meth:`encode_sparse` gives ``(indices, values)``
    per text without the dense width.
    """

    def __init__(
        self,
        model_name_or_path: Optional[str] = None,
        device: Optional[str] = None,
        precision: str = "f32",
        *,
        max_active_dims: Optional[int] = None,
        max_batch: int = 32,
    ) -> None:
        self._model = Model(path=model_name_or_path, device=device, precision=precision, max_batch=max_batch)
        if max_active_dims is not None and (not isinstance(max_active_dims, int) or isinstance(max_active_dims, bool) or max_active_dims < 1):
            raise ValueError(f"max_active_dims must be a positive int or None, got {max_active_dims!r}")
        self.max_active_dims: Optional[int] = max_active_dims if max_active_dims is not None else self._model.max_active_dims
        self.prompts: Dict[str, str] = dict(self._model.prompts)
        self.default_prompt_name: Optional[str] = self._model.default_prompt_name

    @property
    def model(self) -> Model:
        return self._model

    @property
    def device(self) -> str:
        return self._model.adapter

    @property
    def max_seq_length(self) -> int:
        return self._model.max_seq_length

    def get_sentence_embedding_dimension(self) -> int:
        """The vocabulary size: the width of the vectors."""
        return self._model.vocab_size

    def encode_sparse(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        max_active_dims: Optional[int] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
    ) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Per text, ``(indices, values)``: uint32 vocabulary ids ascending, float32 weights."""
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        k = max_active_dims if max_active_dims is not None else self.max_active_dims
        out: List[Tuple[np.ndarray, np.ndarray]] = []
        bar = _progress(len(texts), show_progress_bar, "Batches")
        for batch in _batches(texts, batch_size):
            out.extend(self._model.embed_sparse(batch, prompt_name=prompt_name, prompt=prompt, max_active_dims=k))
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        max_active_dims: Optional[int] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
    ) -> np.ndarray:
        """SPLADE vectors, float32 ``[n, vocab_size]`` (``[vocab_size]`` for one str)."""
        pairs = self.encode_sparse(sentences, prompt_name, prompt, max_active_dims, batch_size, show_progress_bar)
        dense = np.zeros((len(pairs), self._model.vocab_size), dtype=np.float32)
        for row, (idx, val) in zip(dense, pairs):
            row[idx] = val
        return dense[0] if isinstance(sentences, str) else dense

    def encode_query(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """``encode`` with the folder's ``query`` prompt (when it has one)."""
        if "query" in self.prompts and "prompt_name" not in kwargs and "prompt" not in kwargs:
            kwargs["prompt_name"] = "query"
        return self.encode(sentences, **kwargs)

    def encode_document(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> np.ndarray:
        """``encode`` with the folder's ``document`` prompt (when it has one)."""
        if "document" in self.prompts and "prompt_name" not in kwargs and "prompt" not in kwargs:
            kwargs["prompt_name"] = "document"
        return self.encode(sentences, **kwargs)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """Dot products (SPLADE's score) of every row of one with every row of the other."""
        return _dot(embeddings1, embeddings2)

    def decode(self, embeddings: Any, top_k: Optional[int] = None):
        """``(token, weight)`` pairs of each vector, largest weight first (one list for one vector)."""
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        x = np.asarray(embeddings, dtype=np.float32)
        one = x.ndim == 1
        x = _as_2d(x, "embeddings")
        out = []
        for row in x:
            idx = np.nonzero(row > 0)[0]
            idx = idx[np.argsort(-row[idx], kind="stable")][:top_k]
            tokens = self._model.ids_to_tokens([int(i) for i in idx])
            out.append([(t, float(row[i])) for t, i in zip(tokens, idx)])
        return out[0] if one else out

    def __repr__(self) -> str:
        return f"SparseEncoder({str(self._model.path)!r}, device={self.device!r})"
