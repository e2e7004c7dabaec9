"""SASRec: causal, padding-invariant, learns the synthetic data; its artifact round-trips."""

from __future__ import annotations

import numpy as np
import torch

from genrec.baselines.artifacts import load_embeddings, load_sasrec, save_sasrec
from genrec.baselines.popularity import Popularity
from genrec.baselines.sasrec import SASRec, SASRecConfig, pad_left
from genrec.baselines.sasrec_trainer import TrainConfig, train_sasrec, training_windows
from genrec.data import leave_one_out
from genrec.eval import evaluate_scorer


def _model(n_items: int = 50) -> SASRec:
    torch.manual_seed(0)
    return SASRec(SASRecConfig(n_items=n_items, max_len=8, d_model=16, n_heads=2)).eval()


def test_pad_left():
    out = pad_left([np.array([4, 5]), np.array([], np.int64), np.arange(10)], 4)
    assert out.tolist() == [[0, 0, 5, 6], [0, 0, 0, 0], [7, 8, 9, 10]]


def test_causal_and_padding_invariant():
    model = _model()
    seq = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8]])
    changed = seq.clone()
    changed[0, -1] = 20
    with torch.no_grad():
        a, b = model(seq), model(changed)
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6)  # the future does not leak back
    assert not torch.allclose(a[:, -1], b[:, -1])
    with torch.no_grad():
        short = model.encode_histories([np.array([2, 3, 4])])
        # the same history with more padding in front gives the same state
        longer_pad = model(torch.tensor([[0, 0, 0, 0, 0, 3, 4, 5]]))[:, -1]
    assert torch.allclose(short, longer_pad, atol=1e-6)
    assert torch.isfinite(model(torch.zeros(1, 8, dtype=torch.long))).all()


def test_training_windows_cover_every_target_once():
    seqs = [np.arange(1, 12), np.array([3, 4])]
    inputs, targets = training_windows(seqs, max_len=4)
    real_targets = sorted((targets[targets > 0] - 1).tolist())
    assert real_targets == sorted([*range(2, 12), 4])
    # each input is the target shifted right by one within its window
    assert torch.equal(inputs[:, 1:][targets[:, :-1] > 0], targets[:, :-1][targets[:, :-1] > 0])


def test_learns_beyond_popularity_and_saves(small_synthetic, tmp_path):
    split = leave_one_out(small_synthetic)
    cfg = SASRecConfig(n_items=split.n_items, d_model=32, dropout=0.2)
    result = train_sasrec(
        split, cfg, TrainConfig(epochs=12, patience=12, lr=3e-3), torch.device("cpu"), False
    )
    sasrec = evaluate_scorer(result.model, split.test)
    popularity = evaluate_scorer(Popularity(split.train, split.n_items), split.test)
    assert sasrec["recall@10"] > 2 * popularity["recall@10"]
    assert sasrec["ndcg@10"] > 2 * popularity["ndcg@10"]
    assert len(result.history) == 12 and result.best_epoch >= 1

    save_sasrec(tmp_path, result.model, small_synthetic, sasrec)
    emb = load_embeddings(tmp_path)
    assert emb["item"].shape == (small_synthetic.n_items, 32)
    assert emb["user"].shape == (small_synthetic.n_users, 32)
    reloaded = load_sasrec(tmp_path)
    assert evaluate_scorer(reloaded, split.test) == sasrec
