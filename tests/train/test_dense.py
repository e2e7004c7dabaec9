"""The dense head (LIGER / COBRA-style hybrid): training, the engine's reranking of the beam
against a by-hand reference, the weight chosen on validation, and the checkpoint round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genrec.data import leave_one_out
from genrec.engine.engine import EngineConfig, decoder_engine
from genrec.model.checkpoint import load_checkpoint, save_checkpoint
from genrec.model.config import build_decoder
from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
from genrec.model.vocab import SIDVocab
from genrec.train.distributed import World
from genrec.train.evaluation import DenseScorer, batch_prompts
from genrec.train.trainer import DecoderTrainConfig, train_decoder

CPU = World(device=torch.device("cpu"))


def _dense_decoder(store, weight: float = 1.0, in_prompt: bool = False) -> SIDDecoder:
    vocab = SIDVocab()
    lm = build_decoder("tiny", vocab, seed=0)
    dense = DenseConfig(True, 0.25, weight, in_prompt=in_prompt)
    return SIDDecoder(lm, vocab, PromptConfig(), store.item_sids, dense=dense).eval()


def test_engine_reranks_the_beam_by_user_dot_item(small_store):
    store, _ = small_store
    decoder = _dense_decoder(store, weight=3.0)
    with torch.no_grad():  # item embeddings far from their init, so the rerank moves beams
        decoder.item_head.weight.normal_(std=1.0)
    rng = np.random.default_rng(0)
    histories = [rng.integers(0, len(store.item_ids), n) for n in rng.integers(1, 21, 64)]
    users = np.arange(len(histories))
    embeds, valid = batch_prompts(decoder, store, users, histories, torch.device("cpu"))
    plain = decoder_engine(decoder.with_dense_weight(0.0), store, "cpu", EngineConfig.reference(20))
    hybrid = decoder_engine(
        decoder.with_dense_weight(3.0), store, "cpu", EngineConfig.reference(20)
    )
    base = plain.recommend_embeds(embeds, valid, k=20)
    got = hybrid.recommend_embeds(embeds, valid, k=20)

    # By hand: the Hugging Face forward's last prompt hidden state is the user's vector.
    with torch.no_grad():
        positions = (valid.long().cumsum(1) - 1).clamp_min(0)
        out = decoder.lm.model(
            inputs_embeds=embeds, attention_mask=valid.long(), position_ids=positions
        )
        user = out.last_hidden_state[:, -1]
        extra = 3.0 * (user[:, None] * decoder.item_head.weight[base.items]).sum(-1)
    want_scores, order = (base.scores + extra).sort(dim=1, descending=True)
    want_items = base.items.gather(1, order)
    assert torch.allclose(got.scores, want_scores, atol=1e-4)
    agree = (got.items == want_items).float().mean()
    assert agree > 0.99  # near-ties may swap under float rounding
    assert not torch.equal(got.items, base.items)  # the rerank changed some order
    for g, b in zip(got.items.tolist(), base.items.tolist(), strict=True):
        assert sorted(g) == sorted(b)  # same candidates: only the beam is reranked
    # The dense head alone over the whole catalogue (an ablation's scorer) reads the same user.
    full = DenseScorer(decoder, store, torch.device("cpu")).score(users, histories)
    assert torch.allclose(full, user @ decoder.item_head.weight.T, atol=1e-4)


@pytest.mark.parametrize("in_prompt", [False, True])
def test_dense_candidates_join_the_beam_scored_on_their_sid_paths(small_store, in_prompt):
    """With extra dense candidates, every returned item is scored exactly as a beam item would
    be: its SID log-probability given the prompt (teacher-forced) + weight x user · item; the
    same when the item embeddings also enter the prompt."""
    store, _ = small_store
    decoder = _dense_decoder(store, weight=3.0, in_prompt=in_prompt)
    with torch.no_grad():
        decoder.item_head.weight.normal_(std=1.0)
    rng = np.random.default_rng(1)
    histories = [rng.integers(0, len(store.item_ids), n) for n in rng.integers(1, 21, 32)]
    embeds, valid = batch_prompts(decoder, store, np.arange(32), histories, torch.device("cpu"))
    decoder.dense = replace(decoder.dense, candidates=8)
    got = decoder_engine(decoder, store, "cpu", EngineConfig.reference(10)).recommend_embeds(
        embeds, valid, k=10
    )
    decoder.dense = replace(decoder.dense, candidates=0)
    beam_only = decoder_engine(decoder, store, "cpu", EngineConfig.reference(10)).recommend_embeds(
        embeds, valid, k=10
    )
    history = torch.full((32, 20), -1)
    for row, h in enumerate(histories):
        history[row, 20 - len(h) :] = torch.from_numpy(h[-20:])
    with torch.no_grad():
        sid = decoder.token_logprobs(history, got.items).sum(-1)  # (32, 10)
        positions = (valid.long().cumsum(1) - 1).clamp_min(0)
        user = decoder.lm.model(
            inputs_embeds=embeds, attention_mask=valid.long(), position_ids=positions
        ).last_hidden_state[:, -1]
        dense = 3.0 * (user[:, None] * decoder.item_head.weight[got.items]).sum(-1)
    assert torch.allclose(got.scores, sid + dense, atol=1e-3)
    assert (got.scores[:, :-1] >= got.scores[:, 1:]).all()
    assert (got.scores >= beam_only.scores - 1e-4).all()  # a larger pool never scores lower
    assert any(
        set(g) - set(b) for g, b in zip(got.items.tolist(), beam_only.items.tolist(), strict=True)
    )  # the dense head brought items the beam had not found
    assert all(len(set(g)) == len(g) for g in got.items.tolist())  # no item twice


def test_dense_training_picks_a_weight_and_round_trips(small_synthetic, small_store, tmp_path):
    store, store_path = small_store
    split = leave_one_out(small_synthetic)
    decoder = _dense_decoder(store)
    cfg = DecoderTrainConfig(
        epochs=2, batch_size=128, lr=3e-3, warmup_steps=20, eval_users=200,
        dense_weights=(0.0, 1.0),
    )  # fmt: skip
    result = train_decoder(decoder, split, store, cfg, CPU, progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert set(result.dense_valid) == {0.0, 1.0}
    best = max(result.dense_valid, key=result.dense_valid.__getitem__)
    assert result.decoder.dense.weight == best

    out = save_checkpoint(result.decoder, store, store_path, tmp_path / "ckpt", {"size": "tiny"})
    loaded, meta = load_checkpoint(out, store)
    assert meta["dense"] == {
        "enabled": True,
        "loss_weight": 0.25,
        "weight": best,
        "candidates": 0,
        "in_prompt": False,
    }
    assert torch.equal(loaded.item_head.weight, result.decoder.item_head.weight)
    history, page = torch.tensor([[-1, 3, 4], [5, 6, 7]]), torch.tensor([[8], [1]])
    assert torch.allclose(loaded(history, page), result.decoder.eval()(history, page))


def test_item_embeddings_in_the_prompt_are_the_dense_heads(small_store):
    """in_prompt: each history item's SID token embeddings plus its (tied) dense embedding;
    the padding and the head are untouched, so the mask and positions stay the same."""
    store, _ = small_store
    plain, tied = _dense_decoder(store), _dense_decoder(store, in_prompt=True)
    with torch.no_grad():
        tied.item_head.weight.normal_(std=1.0)
        plain.item_head.weight.copy_(tied.item_head.weight)
    history = torch.tensor([[-1, 3, 4], [5, 6, 7]])
    base, valid = plain.prompt_embeds(history)
    got, got_valid = tied.prompt_embeds(history)
    assert torch.equal(valid, got_valid)
    depth = plain.vocab.sid_depth
    items = torch.zeros_like(base)  # what the prompt gains: real items' positions only, last
    for row, h in enumerate(history):
        real = h[h >= 0]
        items[row, -len(real) * depth :] = tied.item_head.weight[real].repeat_interleave(depth, 0)
    assert torch.allclose(got, base + items, atol=1e-6)


def test_time_budget_stops_inside_an_epoch(small_synthetic, small_store):
    store, _ = small_store
    split = leave_one_out(small_synthetic)
    vocab = SIDVocab()
    decoder = SIDDecoder(build_decoder("tiny", vocab), vocab, PromptConfig(), store.item_sids)
    cfg = DecoderTrainConfig(epochs=5, batch_size=8, eval_users=50, time_budget_s=0.0)
    result = train_decoder(decoder, split, store, cfg, CPU, progress=False)
    assert result.stopped_by == "time budget" and len(result.history) == 1
    finished = train_decoder(
        decoder, split, store, replace(cfg, epochs=1, batch_size=512, time_budget_s=1e-9),
        CPU, progress=False,
    )  # fmt: skip
    # One epoch of 512-row steps has fewer steps than a budget check: it runs to the end,
    # and a run that completed every epoch says so.
    assert finished.stopped_by == "epochs"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_dense_candidates_capture_in_cuda_graphs(small_store):
    """The served engine (bf16, CUDA graphs, fused kernels) runs the dense candidates' pass
    inside its captured search, and finds what the float32 eager reference finds."""
    store, _ = small_store
    decoder = _dense_decoder(store, weight=3.0, in_prompt=True)
    with torch.no_grad():
        decoder.item_head.weight.normal_(std=1.0)
    decoder.dense = replace(decoder.dense, candidates=8)
    rng = np.random.default_rng(2)
    histories = [rng.integers(0, len(store.item_ids), n) for n in rng.integers(1, 21, 32)]
    embeds, valid = batch_prompts(decoder, store, np.arange(32), histories, torch.device("cpu"))
    eager = decoder_engine(decoder, store, "cpu", EngineConfig.reference(10))
    want = eager.recommend_embeds(embeds, valid, k=10).items
    served = decoder_engine(decoder.to("cuda"), store, "cuda", EngineConfig.served(10))
    got = served.recommend_embeds(embeds.cuda(), valid.cuda(), k=10).items
    overlap = np.mean(
        [len(set(g) & set(w)) / 10 for g, w in zip(got.tolist(), want.tolist(), strict=True)]
    )
    assert overlap > 0.9  # bf16 may swap near-ties at the edge of the top 10
