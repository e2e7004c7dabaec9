"""BLOGER: gradient surgery, the meta-gradient's second-order path, and the bi-level tokenizer
end to end on the small synthetic catalogue with each switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.data import leave_one_out
from genrec.tokenizer.bloger import BlogerConfig, LatentRecommender, pcgrad, rec_loss
from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
from genrec.tokenizer.train import TokenizerTrainConfig
from tests.tokenizer.test_pipeline import SMALL


def test_pcgrad_removes_only_conflicting_components():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    total, conflicted = pcgrad(a, b)
    assert conflicted
    assert torch.dot(total, a) >= 0 and torch.dot(total, b) >= 0  # neither objective goes up
    same, conflicted = pcgrad(a, torch.tensor([1.0, 1.0]))
    assert not conflicted and torch.equal(same, torch.tensor([2.0, 1.0]))


def test_the_lookahead_adds_a_second_order_path_to_the_tokenizer():
    torch.manual_seed(0)
    z_q = torch.randn(30, 8, requires_grad=True)  # stands for the tokenizer's output
    rec = LatentRecommender(code_dim=8, hidden=16, layers=1, max_len=5)
    seqs = torch.randint(0, 30, (12, 6))
    params = dict(rec.named_parameters())

    def upper_grad(meta: bool) -> torch.Tensor:
        p = params
        if meta:
            grads = torch.autograd.grad(rec_loss(rec, p, z_q, seqs), list(p.values()),
                                        create_graph=True)  # fmt: skip
            p = {k: v - 0.5 * g for (k, v), g in zip(p.items(), grads, strict=True)}
        return torch.autograd.grad(rec_loss(rec, p, z_q, seqs), z_q)[0]

    first, second = upper_grad(False), upper_grad(True)
    assert first.abs().sum() > 0 and not torch.allclose(first, second)


@pytest.mark.parametrize(
    "switches", [{}, {"meta": False}, {"surgery": False}], ids=["bloger", "no-meta", "no-surgery"]
)
def test_bilevel_tokenizer_end_to_end(small_synthetic, artifacts, switches):
    train = TokenizerTrainConfig(recon_epochs=3, align_epochs=1, freeze_resets=0)
    bloger = BlogerConfig(steps=6, warmup_steps=4, batch_size=64, hidden=16, layers=1, **switches)
    common = {"signals": ("text", "collab"), "model": SMALL, "train": train, "bloger": bloger}
    cpu = torch.device("cpu")
    plain, _ = tokenize(small_synthetic, TokenizeConfig(method="rqvae", **common), artifacts, cpu,
                        progress=False)  # fmt: skip
    store, metrics = tokenize(small_synthetic, TokenizeConfig(method="bloger", **common),
                              artifacts, cpu, progress=False)  # fmt: skip
    n = small_synthetic.n_items
    assert store.item_sids.shape == (n, 4) and len(np.unique(store.item_sids, axis=0)) == n
    assert metrics["bloger_seconds"] > 0 and 0 <= metrics["conflict_share"] <= 1
    # The same RQ-VAE start (same seed), then the bi-level phase moves the item codes.
    assert not np.array_equal(plain.item_sids, store.item_sids)
    assert np.array_equal(plain.user_scids, store.user_scids)  # the user half is untouched
    assert store.manifest["config"]["bloger"]["meta"] == switches.get("meta", True)


def test_training_sequences_keep_the_recent_window(small_synthetic):
    from genrec.tokenizer.bloger import training_sequences

    split = leave_one_out(small_synthetic)
    seqs = training_sequences(split.train, max_len=4).numpy()
    assert seqs.shape[1] == 5
    longest = max(split.train, key=len)
    assert longest[-5:].tolist() in seqs.tolist()
