"""Alignment end to end on the small synthetic catalogue (a tiny decoder, a tiny SASRec reward
model, the real engine for rollouts), and `genrec align` as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genrec.align.dpo import DPOConfig
from genrec.align.policy_gradient import PGConfig
from genrec.align.prompts import last_positions
from genrec.align.rollouts import beam_candidates
from genrec.align.trainer import METHODS, AlignConfig, align
from genrec.baselines.sasrec import SASRec, SASRecConfig
from genrec.data import leave_one_out
from genrec.model.checkpoint import save_checkpoint
from genrec.model.config import build_decoder
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab

CPU = torch.device("cpu")


def _decoder(store, user_scid: bool = False) -> SIDDecoder:
    vocab = SIDVocab(user_levels=store.user_scids.shape[1] if user_scid else 0)
    return SIDDecoder(
        build_decoder("tiny", vocab, seed=0), vocab,
        PromptConfig(user_scid=user_scid, merge_to=2 if user_scid else 0), store.item_sids,
    )  # fmt: skip


def test_rollouts_are_always_real_items(small_synthetic, small_store):
    store, _ = small_store
    prompts = last_positions(leave_one_out(small_synthetic)).take(torch.arange(64))
    cands = beam_candidates(_decoder(store), store, prompts, beam=32, device=CPU)
    assert cands.shape == (64, 32)
    assert ((cands >= 0) & (cands < small_synthetic.n_items)).all()
    assert all(len(set(row)) == 32 for row in cands.tolist())  # distinct items per group


def test_prompts_use_training_items_only(small_synthetic):
    split = leave_one_out(small_synthetic)
    prompts = last_positions(split)
    for row in range(0, len(prompts), 97):
        u = int(prompts.users[row])
        assert prompts.target[row] == split.train[u][-1]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_validates_and_keeps_its_best(method, small_synthetic, small_store):
    store, _ = small_store
    split = leave_one_out(small_synthetic)
    decoder = _decoder(store, user_scid=method == "sage")  # SCID + merger prompt path too
    start = {k: v.clone() for k, v in decoder.state_dict().items()}
    sasrec = SASRec(SASRecConfig(n_items=small_synthetic.n_items))
    cfg = AlignConfig(
        method=method, lr=1e-3, eval_users=64,
        dpo=DPOConfig(rollout_beam=16, rejected=4, batch_size=256),
        pg=PGConfig(group=8, batch_size=256, eval_every=2),
    )  # fmt: skip
    result = align(decoder, store, small_synthetic, split, cfg, CPU, sasrec, progress=False)
    steps = [h["step"] for h in result.history]
    assert steps[0] == 0 and result.history[0]["stage"] == "sft" and len(steps) >= 3
    assert all(h["invalid_rate"] == 0 for h in result.history)
    assert all({"coldstart_share@10", "entropy@10"} <= set(h) for h in result.history)
    best = max(result.history, key=lambda h: h["ndcg@10"])
    assert result.best_step == best["step"]
    changed = any(not torch.equal(start[k], v) for k, v in result.decoder.state_dict().items())
    assert changed == (result.best_step != 0)  # the kept weights are the best checkpoint's
    assert result.cold.sum() == round(0.2 * small_synthetic.n_items)
    if method == "sdpo":  # the synthetic data has ratings: RF-DPO stages run after self-play
        assert [h["stage"] for h in result.history][1:] == [
            "sp-easy", "sp-medium", "sp-hard", "rf-easy", "rf-hard"
        ]  # fmt: skip


def _genrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def checkpoint(synthetic_store, tmp_path_factory):
    store, path = synthetic_store
    out = tmp_path_factory.mktemp("align") / "sft"
    return save_checkpoint(_decoder(store), store, path, out, {"size": "tiny"})


def test_cli_refuses_bad_input(checkpoint, tmp_path):
    bad = _genrec("align", str(checkpoint), "--method", "ppo")
    assert bad.returncode == 2 and "unknown method 'ppo'" in bad.stderr
    no_rm = _genrec("align", str(checkpoint), "--method", "sage", "--artifacts", str(tmp_path))
    assert no_rm.returncode == 2 and "no SASRec reward model" in no_rm.stderr
    assert not any(tmp_path.iterdir()) and not (checkpoint.parent / "sft-sage").exists()


def test_cli_aligns_and_reports(checkpoint, tmp_path):
    report = tmp_path / "alignment.json"
    out = tmp_path / "aligned"
    result = _genrec(
        "align", str(checkpoint), "--method", "sdpo", "--eval-users", "100", "--batch-size",
        "512", "--time-budget", "0", "--no-progress", "--report", str(report), "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "time budget" in result.stdout  # stopped at the first validation past the budget
    rows = {r["method"]: r for r in __import__("json").loads(report.read_text())["rows"]}
    assert set(rows) == {"sft", "sdpo"}
    assert rows["sdpo"]["curve"][0]["stage"] == "sft" and rows["sdpo"]["invalid_rate"] == 0
    assert np.isfinite(rows["sdpo"]["entropy@10"])
    assert (out / "genrec.json").is_file() and (tmp_path / "alignment_synthetic.png").is_file()
    # The aligned checkpoint carries a full test row (what `genrec bench-recipe` reads) naming
    # both stages, decoded at the start's width.
    test = __import__("json").loads((out / "genrec.json").read_text())["test"]
    assert test["stopped_by"].endswith("then sdpo time budget") and test["beam"] == 20
    assert test["recall@10"] == rows["sdpo"]["recall@10"] and "hallucination_rate" in test
    assert "| sdpo |" in report.with_suffix(".md").read_text()
