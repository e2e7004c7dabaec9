"""Shared fixtures. Real-data tests read ../shared/data (or $GENREC_DATA_DIR) and are skipped,
with the reason shown, on a machine that has neither; CI always has ../shared/data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from genrec.data import Dataset, default_data_dir, load_dataset
from genrec.data.cache import CACHE_ENV
from genrec.data.synthetic import SyntheticConfig, generate

# The dataset cache of this test session (and of the CLIs it runs): never the checkout's.
os.environ.setdefault(CACHE_ENV, tempfile.mkdtemp(prefix="genrec-datasets-"))
# The Triton beam attention kernel runs on the CPU through Triton's interpreter, which Triton
# reads when it is first imported (tests/engine/test_beam_attention.py).
os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = default_data_dir()
    if root is None:
        pytest.skip("public data not found: set GENREC_DATA_DIR or place it at ../shared/data")
    return root


@pytest.fixture(scope="session")
def real_dataset(data_dir: Path):
    """load_dataset cached per name, so each real dataset is parsed once per session."""
    cache: dict[str, Dataset] = {}

    def get(name: str) -> Dataset:
        if name not in cache:
            cache[name] = load_dataset(name, data_dir)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def small_synthetic() -> Dataset:
    """A smaller catalogue with the default generator, for fast model tests."""
    return generate(SyntheticConfig(n_items=300, n_users=1200, n_clusters=12, seed=7))


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory):
    """RQ-KMeans over text on the embedded default, saved once: (store, its folder)."""
    import torch

    from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
    from genrec.tokenizer.store import TokenizerStore

    root = tmp_path_factory.mktemp("store")
    dataset = load_dataset("synthetic")
    cfg = TokenizeConfig(method="rqkmeans", signals=("text",))
    store, _ = tokenize(dataset, cfg, root / "artifacts", torch.device("cpu"), progress=False)
    path = store.save(root / "tokenizer_store")
    return TokenizerStore.load(path), path


@pytest.fixture(scope="session")
def small_store(small_synthetic, tmp_path_factory):
    """RQ-KMeans over text on `small_synthetic`: (store, its folder)."""
    import torch

    from genrec.tokenizer.pipeline import TokenizeConfig, tokenize

    root = tmp_path_factory.mktemp("small")
    store, _ = tokenize(
        small_synthetic,
        TokenizeConfig(method="rqkmeans", signals=("text",)),
        root / "artifacts",
        torch.device("cpu"),
        progress=False,
    )
    return store, store.save(root / "tokenizer_store")
