"""Slate training end to end on the small synthetic catalogue, its listwise objective, and the
`genrec slate` / `genrec bench-slate` commands as a user runs them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from genrec.align.losses import orpo_loss
from genrec.align.slate import SlateConfig, complete_pages, train_slates
from genrec.data import leave_one_out
from genrec.model.checkpoint import save_checkpoint
from genrec.model.config import build_decoder
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab


def _decoder(store) -> SIDDecoder:
    vocab = SIDVocab()
    return SIDDecoder(build_decoder("tiny", vocab, seed=0), vocab, PromptConfig(), store.item_sids)


def test_orpo_prefers_the_chosen_page():
    chosen = torch.tensor([-2.0, -1.0], requires_grad=True)
    rejected = torch.tensor([-2.0, -3.0], requires_grad=True)
    loss = orpo_loss(chosen, rejected)
    assert loss[0].item() == pytest.approx(math.log(2))  # equal pages: no preference yet
    assert loss[1] < loss[0]  # the chosen page already more likely: smaller loss
    loss.sum().backward()
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()  # raise chosen, lower rejected


def test_short_pages_are_completed_by_unused_candidates_in_order():
    page = torch.tensor([[5, -1, -1, -1], [1, 2, 3, 4], [-1, -1, -1, -1], [2, 3, -1, -1]])
    candidates = torch.tensor(
        [[5, 7, 8, 9, 10], [9, 8, 7, 6, 5], [3, 4, 5, 6, 7], [3, 2, -1, -1, -1]]
    )
    assert complete_pages(page, candidates).tolist() == [
        [5, 7, 8, 9], [1, 2, 3, 4], [3, 4, 5, 6], [2, 3, -1, -1],  # too few: stays short
    ]  # fmt: skip


def test_training_validates_pages_and_keeps_its_best(small_synthetic, small_store):
    store, _ = small_store
    decoder = _decoder(store)
    split = leave_one_out(small_synthetic)
    split = replace(split, train=split.train[:300])  # a quarter of the users: a faster test
    cfg = SlateConfig(epochs=2, batch_size=256, lr=3e-3, eval_users=64, complete_pages=True)
    result = train_slates(decoder, store, split, cfg, torch.device("cpu"), progress=False)
    steps = [h["step"] for h in result.history]
    assert steps == [0, 1, 2]
    assert all(h["invalid_rate"] == 0 for h in result.history)
    assert {"slate_nll", "orpo", "ntp"} <= set(result.history[1])
    assert result.history[2]["slate_nll"] < result.history[1]["slate_nll"]
    assert result.best_step == max(result.history, key=lambda h: h["ndcg@10"])["step"]


def _genrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args], capture_output=True, text=True, timeout=600
    )


def test_cli_refuses_bad_input(tmp_path):
    missing = _genrec("slate", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a genrec checkpoint" in missing.stderr
    assert not any(tmp_path.iterdir())


def test_cli_benches_three_page_decoders(synthetic_store, tmp_path):
    store, path = synthetic_store
    checkpoint = save_checkpoint(_decoder(store), store, path, tmp_path / "sft", {"size": "tiny"})
    bad = _genrec("slate", str(checkpoint), "--slots", "0")
    assert bad.returncode == 2 and "--slots must be in 1..20" in bad.stderr
    report = tmp_path / "slate.json"
    result = _genrec(
        "bench-slate", str(checkpoint), "--device", "cpu", "--test-users", "64", "--batches", "1,8",
        "--repeats", "2", "--report", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {r["mode"]: r for r in json.loads(report.read_text())["rows"]}
    assert set(rows) == {"beam", "item-by-item", "slate"}
    assert all(r["duplicates@10"] == 0 and r["invalid_rate"] == 0 for r in rows.values())
    assert rows["item-by-item"]["speedup_vs_item_by_item_b1"] == 1.0
    assert (
        rows["slate"]["test_users"] == 64 and "| slate |" in report.with_suffix(".md").read_text()
    )
