"""End to end on small data: both methods, both signals, and the learned quantizer's phases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genrec.tokenizer.kmeans import kmeans
from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
from genrec.tokenizer.quantizer import ResidualQuantizer
from genrec.tokenizer.rqvae import RQVAEConfig
from genrec.tokenizer.train import TokenizerTrainConfig

SMALL = RQVAEConfig(codebook_size=16, code_dim=8, hidden=(64,))


def test_kmeans_finds_separated_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + 0.1 * torch.randn(50, 2, generator=gen) for c in centres])
    found = kmeans(x, 3, seed=0)
    assert torch.cdist(centres, found).min(1).values.max() < 0.2


def test_residual_quantizer_reduces_error_per_level():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=gen)
    q = ResidualQuantizer(levels=3, codebook_size=16, dim=8)
    q.init_kmeans(x)
    codes = q.encode(x)
    errors = [
        (x - sum(q.codebooks[lv][codes[:, lv]] for lv in range(n))).square().mean()
        for n in (1, 2, 3)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert torch.allclose(q.decode(codes), sum(q.codebooks[lv][codes[:, lv]] for lv in range(3)))
    z_q, _, _loss = q(x.requires_grad_())
    z_q.sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))  # straight-through


@pytest.mark.parametrize("contrastive", [0.0, 0.5])
def test_rqvae_two_phases(small_synthetic, artifacts, contrastive):
    train = TokenizerTrainConfig(
        recon_epochs=3, align_epochs=2, contrastive_weight=contrastive, freeze_resets=0
    )
    cfg = TokenizeConfig(method="rqvae", signals=("text", "collab"), model=SMALL, train=train)
    store, metrics = tokenize(small_synthetic, cfg, artifacts, torch.device("cpu"), progress=False)
    n = small_synthetic.n_items
    assert store.item_sids.shape == (n, 4) and len(np.unique(store.item_sids, axis=0)) == n
    assert store.user_scids.shape == (small_synthetic.n_users, 3)
    assert set(store.weights) >= {"item.encoder.0.weight", "user.quantizer.codebooks"}
    assert 0 <= metrics["collision_rate"] <= 1 and metrics["recon_mse"] > 0
    assert metrics["utilization_l1"] >= 0.75  # dead codes were re-seeded after the last epoch


def test_rqkmeans_collab_only(small_synthetic, artifacts):
    cfg = TokenizeConfig(method="rqkmeans", signals=("collab",), model=SMALL)
    store, metrics = tokenize(small_synthetic, cfg, artifacts, torch.device("cpu"), progress=False)
    assert store.codebooks["item"].shape == (3, 16, 16)  # codebooks live in the 16-d SASRec space
    assert store.manifest["signals"] == ["collab"] and metrics["utilization_l1"] == 1.0


def _genrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_tokenize(tmp_path):
    result = _genrec(
        "tokenize",
        "--method",
        "rqkmeans",
        "--signals",
        "text",
        "--no-progress",
        "--store",
        str(tmp_path / "store"),
        "--artifacts",
        str(tmp_path / "art"),
        "--report",
        str(tmp_path / "tokenizer.json"),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "store" / "synthetic" / "v1" / "manifest.json").exists()
    assert "| synthetic | rqkmeans | text |" in (tmp_path / "tokenizer.md").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--signals", "pixels"], "unknown signals 'pixels'"),
    (["--method", "vqgan"], "unknown method 'vqgan'"),
])  # fmt: skip
def test_cli_bad_input(args, message, tmp_path):
    result = _genrec("tokenize", *args, "--store", str(tmp_path), "--artifacts", str(tmp_path))
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_text_on_dataset_without_text(data_dir, tmp_path):
    result = _genrec(
        "tokenize",
        "-d",
        "instruments",
        "--signals",
        "text,collab",
        "--data-dir",
        str(data_dir),
        "--store",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert "instruments has no item text; use --signals collab" in result.stderr
