"""Shared fixtures of the Python package's tests: the repository's model folders, goldens and
the `wgbert` binary (WGBERT_BIN, default target/debug/wgbert, as the repository's scripts)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
MINILM = ROOT / "assets" / "models" / "all-MiniLM-L6-v2"
TINY = DATA / "tiny-bert"


def wgbert_bin() -> str:
    b = os.environ.get("WGBERT_BIN") or str(ROOT / "target" / "debug" / "wgbert")
    if not Path(b).is_file():
        raise FileNotFoundError(f"{b} not found: build it with `cargo build` or set WGBERT_BIN")
    return b


def run_cli(*args: str) -> str:
    r = subprocess.run([wgbert_bin(), *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="session")
def minilm() -> Path:
    assert (MINILM / "config.json").is_file(), "run scripts/fetch-model.sh first (the real model)"
    return MINILM


@pytest.fixture(scope="session")
def golden():
    return json.loads((DATA / "minilm_public.json").read_text())["items"]


@pytest.fixture(scope="session")
def st_model(minilm):
    import wgbert

    return wgbert.SentenceTransformer(str(minilm))


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
