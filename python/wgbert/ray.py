"""Corpus-scale embedding on Ray Data: one engine per actor, one actor per GPU.

::

    import ray
    from wgbert.ray import Embedder

    ds = ray.data.read_text("corpus.txt")          # a column "text"
    ds = ds.map_batches(
        Embedder,
        fn_constructor_kwargs={"model": "/models/all-MiniLM-L6-v2"},
        concurrency=4,                          # actors: one engine each
        num_gpus=1,                             # one GPU per actor on a GPU cluster
        batch_size=256,
    )
    ds.write_parquet("embeddings/")

The same code runs on a laptop (``ray.init()``), a multi-node cluster (``ray start --head`` on
one node, ``ray start --address=HEAD:6379`` on the others, then ``ray.init(address="auto")``)
or KubeRay (a ``RayCluster`` / ``RayJob`` whose worker group asks for ``nvidia.com/gpu: 1``):
Ray places the actors, moves the batches and retries failed tasks; wgbert only embeds.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from . import SentenceTransformer, adapters

__all__ = ["Embedder", "gpu_adapter"]


def gpu_adapter(gpu_ids: Any) -> Optional[str]:
    """The PCI bus id of the adapter Ray gave this actor, for ``device=``.

    Ray hands an actor GPUs by index (``ray.get_gpu_ids()``, the order of NVIDIA's
    management library, which is PCI bus order) and sets ``CUDA_VISIBLE_DEVICES``, which Vulkan
    ignores. The GPUs wgpu lists are put in PCI bus order and the first id Ray gave picks
    one; ``None`` when Ray gave none or the adapters have no bus ids (then the best adapter is
    used, as outside Ray)."""
    ids = [int(i) for i in (gpu_ids or [])]
    if not ids:
        return None
    gpus = sorted(
        (a for a in adapters() if a["device_type"] in ("DiscreteGpu", "IntegratedGpu") and a["pci_bus_id"]),
        key=lambda a: a["pci_bus_id"],
    )
    # One adapter per bus id (a GPU can be listed by several backends).
    seen, unique = set(), []
    for a in gpus:
        if a["pci_bus_id"] not in seen:
            seen.add(a["pci_bus_id"])
            unique.append(a)
    if ids[0] < len(unique):
        return unique[ids[0]]["pci_bus_id"]
    return None


class Embedder:
    """A callable class for ``Dataset.map_batches``: adds ``output_column`` (float32
    ``[n, dim]``) to each batch from the texts in ``text_column``; other columns pass through
    untouched, row order kept.

    ``model``: a model folder (``None``: the default model, as the ``wgbert`` command finds it);
    ``device``: an adapter name or PCI bus id (``None``: the GPU Ray assigned to this actor,
    else the best adapter); ``prompt_name`` / ``normalize_embeddings`` / ``truncate_dim`` as
    in :meth:`wgbert.SentenceTransformer.encode`.
    """

    def __init__(
        self,
        model: Optional[str] = None,
        text_column: str = "text",
        output_column: str = "embedding",
        device: Optional[str] = None,
        precision: str = "f32",
        batch_size: int = 32,
        prompt_name: Optional[str] = None,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
    ) -> None:
        if device is None:
            try:
                import ray  # type: ignore

                device = gpu_adapter(ray.get_gpu_ids())
            except Exception:  # not in a Ray worker, or Ray without GPUs
                device = None
        self.model = SentenceTransformer(model, device=device, precision=precision, truncate_dim=truncate_dim)
        self.text_column = text_column
        self.output_column = output_column
        self.batch_size = batch_size
        self.prompt_name = prompt_name
        self.normalize_embeddings = normalize_embeddings

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        if self.text_column not in batch:
            raise ValueError(
                f"the batch has no column {self.text_column!r} (it has {', '.join(map(str, batch))}); "
                "pass text_column= in fn_constructor_kwargs"
            )
        texts = [str(t) for t in batch[self.text_column]]
        emb = self.model.encode(
            texts,
            batch_size=self.batch_size,
            prompt_name=self.prompt_name,
            normalize_embeddings=self.normalize_embeddings,
        )
        out = dict(batch)
        out[self.output_column] = np.asarray(emb, dtype=np.float32).reshape(len(texts), -1)
        return out
