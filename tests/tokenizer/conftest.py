"""Fixtures of the tokenizer tests."""

from __future__ import annotations

import pytest
import torch

from genrec.baselines.artifacts import save_sasrec
from genrec.baselines.sasrec import SASRecConfig
from genrec.baselines.sasrec_trainer import TrainConfig, train_sasrec
from genrec.data import leave_one_out


@pytest.fixture(scope="session")
def artifacts(small_synthetic, tmp_path_factory):
    """A quickly trained SASRec artifact, so collab signals do not train a full one."""
    root = tmp_path_factory.mktemp("artifacts")
    split = leave_one_out(small_synthetic)
    result = train_sasrec(
        split,
        SASRecConfig(n_items=split.n_items, d_model=16),
        TrainConfig(epochs=2),
        torch.device("cpu"),
        progress=False,
    )
    save_sasrec(root / small_synthetic.name / "sasrec", result.model, small_synthetic, {})
    return root
