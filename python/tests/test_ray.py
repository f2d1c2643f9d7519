"""Scale-out on Ray Data: a local Ray cluster, two actors each with its own engine, a few
thousand lines; every vector equals the single-process answer and no row is lost or repeated."""

import os
import sys

import numpy as np
import ray
import ray.cloudpickle

import wgbert
from wgbert.ray import Embedder, gpu_adapter
from conftest import TINY

N = 3000


def test_map_batches_with_two_actors_gives_every_row_once_and_the_single_process_vectors(tmp_path):
    texts = [f"line {i}: " + " ".join(["fair", "trial", "county", "judge"][j % 4] for j in range(i % 23)) for i in range(N)]
    want = wgbert.SentenceTransformer(str(TINY)).encode(texts, batch_size=256)
    # The test's own Embedder subclass travels to the workers by value (they cannot import tests).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
        ds = ds.map_batches(
            _Marked,
            fn_constructor_kwargs={"model": str(TINY), "batch_size": 128, "marks": str(tmp_path)},
            concurrency=2,
            num_cpus=1,
            batch_size=200,
        )
        rows = ds.take_all()
    finally:
        ray.shutdown()
    ids = sorted(r["id"] for r in rows)
    assert ids == list(range(N)), "rows lost or repeated"
    got = np.zeros_like(want)
    for r in rows:
        assert r["text"] == texts[r["id"]]
        got[r["id"]] = r["embedding"]
    assert np.abs(got - want).max() < 1e-6
    # Two actors, each a process of its own that opened its own engine.
    assert len(list(tmp_path.iterdir())) == 2


class _Marked(Embedder):
    """An Embedder that leaves a file named after its process when it has opened its engine."""

    def __init__(self, marks, **kwargs):
        super().__init__(**kwargs)
        open(os.path.join(marks, str(os.getpid())), "w").close()


def test_gpu_ids_map_to_adapters_in_bus_order(monkeypatch):
    listed = [
        {"name": "NVIDIA H100", "device_type": "DiscreteGpu", "pci_bus_id": "0000:3b:00.0", "backend": "vulkan", "driver": ""},
        {"name": "NVIDIA H100", "device_type": "DiscreteGpu", "pci_bus_id": "0000:18:00.0", "backend": "vulkan", "driver": ""},
        {"name": "llvmpipe", "device_type": "Cpu", "pci_bus_id": "", "backend": "vulkan", "driver": ""},
    ]
    monkeypatch.setattr("wgbert.ray.adapters", lambda: listed)
    assert gpu_adapter([]) is None
    assert gpu_adapter(["0"]) == "0000:18:00.0"
    assert gpu_adapter([1]) == "0000:3b:00.0"
    assert gpu_adapter([2]) is None
