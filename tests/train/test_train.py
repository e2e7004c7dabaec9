"""Decoder training on small data: examples, learning, checkpoints, CLI errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genrec.baselines.popularity import Popularity
from genrec.data import Dataset, Item, User, leave_one_out
from genrec.errors import GenrecError
from genrec.eval import evaluate_scorer
from genrec.model.config import build_decoder
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
from genrec.train.checkpoint import load_checkpoint, save_checkpoint
from genrec.train.examples import IGNORE, next_item_examples
from genrec.train.trainer import DecoderTrainConfig, train_decoder

VOCAB = SIDVocab()


def test_examples_layout():
    items = [Item(id=str(i)) for i in range(4)]
    users = [User(id="u", items=np.array([0, 1, 2, 3, 0]))]
    split = leave_one_out(Dataset(name="toy", items=items, users=users))  # train = [0, 1, 2]
    sids = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]])
    ex = next_item_examples(split, sids, VOCAB)
    assert len(ex) == 2  # targets 1 and 2
    L = 1 + 21 * 4
    assert ex.input_ids.shape == (2, L)
    first = ex.input_ids[0][ex.attention_mask[0].bool()].tolist()
    assert first == [
        VOCAB.bos,
        *VOCAB.sid_tokens(torch.tensor([0, 0, 0, 0])).tolist(),
        *VOCAB.sid_tokens(torch.tensor([1, 0, 0, 0])).tolist(),
    ]
    assert (ex.labels[0, :-4] == IGNORE).all()
    assert ex.labels[0, -4:].tolist() == VOCAB.sid_tokens(torch.tensor([1, 0, 0, 0])).tolist()
    assert ex.position_ids(torch.tensor([0]))[0, -9:].tolist() == list(range(9))


@pytest.fixture(scope="module")
def small_store(small_synthetic, tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    store, _ = tokenize(
        small_synthetic,
        TokenizeConfig(method="rqkmeans", signals=("text",)),
        root / "artifacts",
        torch.device("cpu"),
        progress=False,
    )
    return store, store.save(root / "tokenizer_store")


def test_decoder_learns_beyond_popularity(small_synthetic, small_store, tmp_path):
    store, store_path = small_store
    split = leave_one_out(small_synthetic)
    cfg = DecoderTrainConfig(epochs=4, batch_size=128, lr=3e-3, warmup_steps=20, eval_users=300)
    result = train_decoder(
        build_decoder("tiny", VOCAB), split, store, VOCAB, cfg, torch.device("cpu"), progress=False
    )
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert all(h["invalid_rate"] == 0.0 for h in result.history)
    popularity = evaluate_scorer(Popularity(split.train, split.n_items), split.valid)
    assert result.valid["recall@10"] > popularity["recall@10"]

    out = save_checkpoint(
        result.model, store, store_path, VOCAB, tmp_path / "ckpt", {"size": "tiny"}
    )
    model, meta = load_checkpoint(out)
    assert meta["store_version"] == "v1" and meta["dataset"] == small_synthetic.name
    ids = torch.tensor([[VOCAB.bos, 4, 260, 516, 772]])
    assert torch.allclose(model(ids).logits, result.model(ids).logits, atol=1e-5)
    with pytest.raises(GenrecError, match="already exists"):
        save_checkpoint(result.model, store, store_path, VOCAB, out, {})


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "huge"], "unknown size 'huge'"),
    (["--store", "/nonexistent/v1"], "manifest.json: not found"),
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
