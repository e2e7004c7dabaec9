"""Align3GR's text ↔ SID alignment tasks: row layout, the reused-row filter, and that training
with them lowers their loss while the recommendation task still trains."""

from __future__ import annotations

import pytest
import torch

from genrec.data import Item, leave_one_out
from genrec.model.decoder import PromptConfig, SIDDecoder
from genrec.model.pretrained import llama_to_qwen2, with_sid_rows
from genrec.model.vocab import SIDVocab
from genrec.train.distributed import World
from genrec.train.text_tasks import IGNORE, item_text_tasks
from genrec.train.trainer import DecoderTrainConfig, train_decoder
from tests.train.conftest import NATIVE


def encode(text: str) -> list[int]:
    """A stand-in word tokenizer over a 1,500-token native vocabulary (ids 4..1499)."""
    return [4 + sum(map(ord, word)) % (NATIVE - 4) for word in text.split()]


def test_rows_put_targets_after_sep():
    vocab = SIDVocab(n_special=NATIVE)
    items = [Item(id="a", title="red lipstick"), Item(id="b")]  # b has no text: no rows
    sid = vocab.sid_tokens(torch.tensor([[1, 2, 3, 0], [4, 5, 6, 0]]))
    tasks = item_text_tasks(items, sid, encode, vocab)
    assert len(tasks) == 2
    text = encode("Title: red lipstick")
    ids, labels = tasks.ids.tolist(), tasks.labels.tolist()
    # text → SID: the SID tokens are the only targets
    assert ids[0][: len(text) + 6] == [vocab.bos, *text, vocab.sep, *sid[0].tolist()]
    assert labels[0][: len(text) + 2] == [IGNORE] * (len(text) + 2)
    assert labels[0][len(text) + 2 : len(text) + 6] == sid[0].tolist()
    # SID → text: the text and [EOS] are
    assert ids[1][: len(text) + 7] == [vocab.bos, *sid[0].tolist(), vocab.sep, *text, vocab.eos]
    assert labels[1][:6] == [IGNORE] * 6 and labels[1][6 : len(text) + 7] == [*text, vocab.eos]
    assert tasks.mask.sum(1).tolist() == [len(text) + 6, len(text) + 7]


def test_text_tokens_on_reused_sid_rows_are_dropped():
    vocab = SIDVocab(n_special=100)  # rows 100.. are SID codes
    tasks = item_text_tasks(
        [Item(id="a", title="x")], vocab.sid_tokens(torch.zeros(1, 4, dtype=torch.long)),
        lambda _: [5, 150, 7], vocab,
    )  # fmt: skip
    assert tasks.ids[0, :4].tolist() == [vocab.bos, 5, 7, vocab.sep]


def test_training_with_text_tasks_learns_them(llama, small_synthetic, small_store):
    store, _ = small_store
    lm, vocab = with_sid_rows(llama_to_qwen2(llama), "add")
    decoder = SIDDecoder(lm, vocab, PromptConfig(), store.item_sids)
    tasks = item_text_tasks(small_synthetic.items, decoder.item_tokens, encode, vocab)
    assert len(tasks) == 2 * len(small_synthetic.items)

    def text_loss() -> float:
        with torch.no_grad():
            return decoder.lm(
                input_ids=tasks.ids, attention_mask=tasks.mask, labels=tasks.labels
            ).loss.item()

    before = text_loss()
    with torch.no_grad():  # the decoder's own loss: the head at labelled positions only
        assert decoder.text_loss(tasks.ids, tasks.labels, tasks.mask).item() == pytest.approx(
            before, rel=1e-5
        )
    cfg = DecoderTrainConfig(epochs=2, batch_size=64, lr=2e-3, warmup_steps=5, eval_users=50)
    split = leave_one_out(small_synthetic)
    result = train_decoder(
        decoder, split, store, cfg, World(torch.device("cpu")), progress=False, text=tasks
    )
    assert text_loss() < 0.7 * before
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.history[-1]["invalid_rate"] == 0.0
