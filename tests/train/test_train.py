"""Decoder training on small data: examples, learning, checkpoints, CLI errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from genrec.baselines.popularity import Popularity
from genrec.data import Dataset, Item, User, leave_one_out
from genrec.errors import GenrecError
from genrec.eval import evaluate_scorer
from genrec.model.checkpoint import load_checkpoint, save_checkpoint
from genrec.model.config import build_decoder
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore
from genrec.train.distributed import World
from genrec.train.examples import page_examples
from genrec.train.trainer import DecoderTrainConfig, train_decoder

REPO = Path(__file__).resolve().parents[2]

CPU = World(device=torch.device("cpu"))


def test_page_examples_layout():
    items = [Item(id=str(i)) for i in range(5)]
    users = [User(id="u", items=np.array([0, 1, 2, 3, 4, 0]))]
    split = leave_one_out(Dataset(name="toy", items=items, users=users))  # train = [0, 1, 2, 3]
    ex = page_examples(split, page_size=2)
    assert len(ex) == 3  # one example per position after the first
    assert ex.history.shape == (3, 20) and (ex.history[:, :-3] == -1).all()
    assert ex.history[2, -3:].tolist() == [0, 1, 2]
    assert ex.page.tolist() == [[1, 2], [2, 3], [3, -1]]  # the last page runs out
    assert ex.users.tolist() == [0, 0, 0]


def _decoder(store, page=False, merge_to=0, user_scid=False) -> SIDDecoder:
    vocab = SIDVocab(user_levels=store.user_scids.shape[1] if user_scid else 0)
    lm = build_decoder("tiny", vocab)
    return SIDDecoder(
        lm, vocab, PromptConfig(user_scid=user_scid, merge_to=merge_to), store.item_sids
    )


CFG = DecoderTrainConfig(epochs=3, batch_size=128, lr=3e-3, warmup_steps=20, eval_users=300)


def test_decoder_learns_beyond_popularity(small_synthetic, small_store, tmp_path):
    store, store_path = small_store
    split = leave_one_out(small_synthetic)
    decoder = _decoder(store, merge_to=2, user_scid=True)
    result = train_decoder(decoder, split, store, replace(CFG, page_size=2), CPU, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert all(h["invalid_rate"] == 0.0 for h in result.history)
    popularity = evaluate_scorer(Popularity(split.train, split.n_items), split.valid)
    assert result.valid["recall@10"] > popularity["recall@10"]

    out = save_checkpoint(result.decoder, store, store_path, tmp_path / "ckpt", {"size": "tiny"})
    loaded, meta = load_checkpoint(out, store)
    assert meta["store_version"] == "v1" and meta["prompt"] == {"user_scid": True, "merge_to": 2}
    history, page = torch.tensor([[-1, 3, 4], [5, 6, 7]]), torch.tensor([[8, 9], [1, -1]])
    scids = torch.from_numpy(store.user_scids[:2])
    assert torch.allclose(loaded(history, page, scids), result.decoder(history, page, scids))
    with pytest.raises(GenrecError, match="already exists"):
        save_checkpoint(result.decoder, store, store_path, out, {})


def test_checkpoint_refuses_another_store(small_store, synthetic_store, tmp_path):
    store, store_path = small_store
    out = save_checkpoint(_decoder(store), store, store_path, tmp_path / "ckpt", {})
    with pytest.raises(GenrecError, match="trained against tokenizer store"):
        load_checkpoint(out, synthetic_store[0])


def test_page_loss_is_each_target_alone(small_store):
    """Page-wise NTP in one sequence equals separate next-item NTP on each page item."""
    store, _ = small_store
    decoder = _decoder(store, user_scid=True).eval()
    vocab, lm = decoder.vocab, decoder.lm
    history, page = (
        torch.tensor([[-1, -1, 3, 4], [1, 2, 3, 4]]),
        torch.tensor([[5, 6, -1], [7, 8, 9]]),
    )
    scids = torch.from_numpy(store.user_scids[:2])
    losses = []
    for b in range(2):
        for item in page[b][page[b] >= 0]:
            ids = [
                vocab.bos,
                *vocab.user_tokens(scids[b]).tolist(),
                *decoder.item_tokens[history[b][history[b] >= 0]].flatten().tolist(),
                *decoder.item_tokens[item].tolist(),
            ]
            labels = torch.tensor([ids]).masked_fill(torch.arange(len(ids)) < len(ids) - 4, -100)
            losses.append(lm(input_ids=torch.tensor([ids]), labels=labels).loss)
    assert torch.allclose(decoder(history, page, scids), torch.stack(losses).mean(), atol=1e-6)


def test_merger_halves_the_prompt(small_store):
    store, _ = small_store
    plain, merged = _decoder(store), _decoder(store, merge_to=2)
    history = torch.tensor([[-1, 3, 4]])
    embeds, valid = merged.prompt_embeds(history)
    assert embeds.shape[1] == 1 + 3 * 2 and valid[0].tolist() == [False] * 2 + [True] * 5
    assert (
        plain.prompt.length(plain.vocab, 20) == 81 and merged.prompt.length(merged.vocab, 20) == 41
    )
    # the merger starts as mean pooling over each half of an item's SID tokens
    tokens = merged.lm.get_input_embeddings()(merged.item_tokens[3])  # (depth, C)
    expected = tokens.view(2, 2, -1).mean(1)
    assert torch.allclose(merged.merger(tokens), expected, atol=1e-6)


def test_resume_continues_exactly(small_synthetic, small_store, tmp_path, monkeypatch):
    store, _ = small_store
    # The budget is checked only between epochs here, so the cut run ends after a whole epoch.
    monkeypatch.setattr("genrec.train.trainer.BUDGET_CHECK_STEPS", 10**9)
    split = leave_one_out(small_synthetic)
    cfg = replace(CFG, epochs=2, eval_users=100)
    whole = train_decoder(_decoder(store), split, store, cfg, CPU, progress=False)
    state = tmp_path / "run.state.pt"
    cut = train_decoder(  # stands for a run killed after epoch 1
        _decoder(store), split, store, replace(cfg, time_budget_s=0.0), CPU, False, state
    )
    assert cut.stopped_by == "time budget" and len(cut.history) == 1
    resumed = train_decoder(_decoder(store), split, store, cfg, CPU, False, state)
    assert resumed.stopped_by == "epochs"
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in whole.history])
    assert resumed.valid == pytest.approx(whole.valid)


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "huge"], "unknown size 'huge'"),
    (["--store", "/nonexistent/v1"], "manifest.json: not found"),
    (["--text-tasks", "1"], "--text-tasks needs text tokens"),
    (["--strategy", "zero3"], "unknown --strategy 'zero3'"),
    (["--strategy", "fsdp", "--resume"], "--resume needs --strategy ddp"),
    (["--strategy", "ddp-bf16", "--device", "cpu"], "ddp-bf16 all-reduces through NCCL"),
    (["--distill", "1"], "--distill must be in [0, 1)"),
    (["--ema", "1.5"], "--ema must be in [0, 1)"),
])  # fmt: skip
def test_cli_bad_input(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "train", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_export_writes_the_next_self_contained_version(
    small_synthetic, small_store, synthetic_store, tmp_path
):
    from genrec.export import export

    store, store_path = small_store
    model_dir = tmp_path / "repo" / "genrec"
    exported = shutil.ignore_patterns("[0-9]*")  # the template only, not local exports
    shutil.copytree(REPO / "model_repo" / "genrec", model_dir, ignore=exported)
    configs = {p.relative_to(model_dir): p.read_bytes() for p in model_dir.rglob("*.pbtxt")}
    ckpt = save_checkpoint(_decoder(store), store, store_path, tmp_path / "ckpt", {})
    first = export(ckpt, tmp_path / "repo", small_synthetic)
    second = export(ckpt, tmp_path / "repo", small_synthetic)
    assert (first.name, second.name) == ("1", "2")
    copied = TokenizerStore.load(first / "tokenizer_store")
    loaded, _ = load_checkpoint(first / "decoder", copied)
    assert loaded.vocab == SIDVocab() and loaded.prompt == PromptConfig()
    # Each version runs the model folder's entry point, the one of the library installed: a
    # link, so an upgrade never leaves a version calling an API that is gone.
    assert (first / "model.py").is_symlink()
    assert (first / "model.py").resolve() == (model_dir / "model.py").resolve()
    catalog = json.loads((first / "catalog.json").read_text())
    assert len(catalog["titles"]) == small_synthetic.n_items
    # The store pin is the version's own; the configurations (tracked in git) stay as they were.
    info = json.loads((first / "export.json").read_text())
    assert info["store_version"] == f"{small_synthetic.name}/v1"
    assert {p: model_dir.joinpath(p).read_bytes() for p in configs} == configs
    assert len(configs) == 2
    with pytest.raises(GenrecError, match="built for another version of dataset"):
        export(ckpt, tmp_path / "repo", small_synthetic, store=synthetic_store[1])
    versions = sorted(p.name for p in model_dir.iterdir() if p.name.isdigit())
    assert versions == ["1", "2"]


def test_a_weight_average_is_what_is_kept_and_saved(
    small_synthetic, small_store, tmp_path, monkeypatch
):
    """With `ema`, the run validates and returns the moving average of its weights, not the
    last step's, and its state file keeps the average for a resumed run."""
    store, _ = small_store
    monkeypatch.setattr("genrec.train.trainer.BUDGET_CHECK_STEPS", 10**9)  # whole epochs only
    state = tmp_path / "run.state.pt"
    cfg = replace(CFG, epochs=2, eval_users=50, ema=0.9, time_budget_s=0.0)  # cut after epoch 1
    split = leave_one_out(small_synthetic)
    result = train_decoder(_decoder(store), split, store, cfg, CPU, False, state)
    assert len(result.history) == 1
    saved = torch.load(state, weights_only=False)
    kept = result.decoder.state_dict()
    average = {k.removeprefix("module."): v for k, v in saved["ema"].items() if k != "n_averaged"}
    assert all(torch.equal(kept[k], average[k]) for k in kept)
    assert any(not torch.equal(kept[k], saved["model"][k]) for k in kept)  # not the raw weights
