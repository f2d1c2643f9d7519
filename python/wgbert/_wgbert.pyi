"""Type stubs of the Rust extension module (python/src/lib.rs)."""

from os import PathLike
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, "PathLike[str]"]
_Input = Union[str, Tuple[str, str]]
_F32 = npt.NDArray[np.float32]
_I32 = npt.NDArray[np.int32]

class Model:
    """A loaded model on a GPU adapter (the engine under SentenceTransformer, CrossEncoder and
    hub.Encoder). Every method releases the GIL while it tokenises and runs the GPU; one Model
    may be used from several threads."""

    def __init__(
        self,
        path: Optional[_Path] = None,
        device: Optional[str] = None,
        precision: str = "f32",
        seq_length: Optional[int] = None,
        max_batch: int = 32,
        max_seq_length: Optional[int] = None,
    ) -> None: ...
    @property
    def path(self) -> "Path": ...
    @property
    def dim(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def max_seq_length(self) -> int: ...
    @property
    def seq_length(self) -> int: ...
    @property
    def model_max_length(self) -> int: ...
    @property
    def pooling(self) -> str: ...
    @property
    def normalize(self) -> bool: ...
    @property
    def prompts(self) -> Dict[str, str]: ...
    @property
    def default_prompt_name(self) -> Optional[str]: ...
    @property
    def similarity_fn_name(self) -> Optional[str]: ...
    @property
    def has_pooler(self) -> bool: ...
    @property
    def labels(self) -> Optional[List[str]]: ...
    @property
    def adapter(self) -> str: ...
    def resolve_prompt(self, prompt_name: Optional[str] = None, prompt: Optional[str] = None) -> Optional[str]: ...
    def embed(self, texts: Sequence[_Input], normalize: bool = False) -> _F32:
        """Sentence embeddings [n, dim], pooled (and normalised) as the folder says."""
    def token_embeddings(self, texts: Sequence[_Input]) -> List[_F32]:
        """One [tokens, dim] array per input: the last layer at each real token."""
    def encode_arrays(
        self, input_word_ids: _I32, input_mask: _I32, input_type_ids: _I32
    ) -> Tuple[Optional[_F32], _F32, List[_F32]]:
        """(pooled_output [n, H] or None, sequence_output [n, S, H], encoder_outputs [L × [n, S, H]])."""
    def logits(self, texts: Sequence[_Input], seq_length: Optional[int] = None) -> _F32:
        """Raw logits [n, labels] of the sequence-classification head."""
    def fill_mask(self, texts: Sequence[_Input], top_k: int = 5) -> List[List[List[Dict[str, Union[int, float, str]]]]]:
        """Per input, per [MASK], the top_k {"token", "token_str", "score", "sequence"} (the fill-mask pipeline's)."""
    def next_sentence(self, pairs: Sequence[Tuple[str, str]]) -> _F32:
        """P(b follows a) for each (a, b), [n]."""
    def embed_sparse(
        self,
        texts: Sequence[_Input],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        max_active_dims: Optional[int] = None,
    ) -> List[Tuple[npt.NDArray[np.uint32], _F32]]:
        """SPLADE vectors: per input (vocabulary ids ascending, weights)."""
    @property
    def is_sparse(self) -> bool: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def max_active_dims(self) -> Optional[int]: ...
    def ids_to_tokens(self, ids: Sequence[int]) -> List[str]: ...
    def embed_multi(self, texts: Sequence[str], is_query: bool = False) -> List[Tuple[npt.NDArray[np.uint32], _F32]]:
        """ColBERT / bge-m3: per input (kept token ids, [tokens, dim] normalised vectors)."""
    def embed_m3(self, texts: Sequence[str]) -> List[Dict[str, object]]:
        """bge-m3: per input {"dense_vecs", "lexical_weights", "colbert_vecs"} from one pass."""

class Tokenizer:
    """A model folder's tokenizer.json and TF-Hub's packing, on the CPU."""

    def __init__(self, path: Optional[_Path] = None) -> None: ...
    def tokenize(self, text: str) -> List[str]: ...
    def pack(self, texts: Sequence[_Input], seq_length: int) -> Tuple[_I32, _I32, _I32]:
        """(input_word_ids, input_mask, input_type_ids), each int32 [n, seq_length]."""

def adapters() -> List[Dict[str, str]]:
    """The GPU adapters present: name, backend, device_type, pci_bus_id, driver."""

def default_model_dir() -> "Path":
    """The folder used when no model is given (WGBERT_MODEL, ./assets/models/all-MiniLM-L6-v2,
    the per-user model folders)."""
