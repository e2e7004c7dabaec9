"""The engine against the Hugging Face reference, on the CPU with the tiny decoder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from genrec.bench.decode import random_prompts, random_store
from genrec.engine.engine import DecodeEngine, EngineConfig, EngineError
from genrec.engine.reference import PrefixTrie, hf_beam_search
from genrec.model.config import build_decoder
from genrec.model.vocab import SIDVocab

VOCAB = SIDVocab()


@pytest.fixture(scope="module")
def model():
    return build_decoder("tiny", VOCAB, seed=0)


@pytest.fixture(scope="module")
def store(synthetic_store):
    return synthetic_store[0]


@pytest.fixture(scope="module")
def engine(model, store):
    return DecodeEngine(model, store, VOCAB, "cpu", EngineConfig(beam=20))


def _prompts(store, n: int, seed: int = 0) -> list[list[int]]:
    """Histories of 1 to 20 random items: mixed prompt lengths in one batch."""
    rng = np.random.default_rng(seed)
    return [
        VOCAB.history_prompt(
            torch.from_numpy(store.item_sids[rng.integers(0, len(store.item_ids), n_items)])
        )
        for n_items in rng.integers(1, 21, n)
    ]


def test_matches_hf_reference(engine, model, store):
    prompts = _prompts(store, 200)
    rec = engine.recommend(prompts, k=10)
    items, scores = hf_beam_search(
        model, PrefixTrie(store.item_sids, VOCAB), VOCAB, prompts, 20, 10
    )
    assert np.array_equal(rec.items.numpy(), items)
    assert np.allclose(rec.scores.numpy(), scores, atol=1e-4)
    assert (rec.items >= 0).all()
    # every returned SID is the item's SID
    assert np.array_equal(store.item_sids[rec.items.numpy()], rec.sids.numpy())


def test_mixed_lengths_equal_single_requests(engine, store):
    prompts = _prompts(store, 6, seed=1)
    batched = engine.recommend(prompts, k=10)
    for row, prompt in enumerate(prompts):
        single = engine.recommend([prompt], k=10)
        assert torch.equal(single.items[0], batched.items[row])
        assert torch.allclose(single.scores[0], batched.scores[row], atol=1e-5)


def test_eager_batches_run_unpadded_in_chunks_of_the_last_bucket(engine, model, store):
    """Buckets are CUDA graphs' sizes: eager, a batch runs as it is (a 3-row rest stays 3
    rows), split at the largest bucket, with the same answers."""
    small = DecodeEngine(model, store, VOCAB, "cpu", EngineConfig(beam=20, batch_buckets=(1, 2, 4)))
    sizes, search = [], small._search
    small._search = lambda inputs, *args: sizes.append(len(inputs)) or search(inputs, *args)
    prompts = _prompts(store, 7, seed=2)
    rec = small.recommend(prompts, k=5)
    assert sizes == [4, 3]
    assert torch.equal(rec.items, engine.recommend(prompts, k=5).items)


def test_embeddings_path_equals_token_path(engine, store):
    prompts = _prompts(store, 4, seed=2)
    by_ids = engine.recommend(prompts, k=5)
    P = max(len(p) for p in prompts)
    ids = torch.tensor([[VOCAB.pad] * (P - len(p)) + p for p in prompts])
    valid = torch.tensor([[False] * (P - len(p)) + [True] * len(p) for p in prompts])
    by_embeds = engine.recommend_embeds(engine.runner.embed_tokens(ids), valid, k=5)
    assert torch.equal(by_ids.items, by_embeds.items)


def test_exclusions_skip_items_and_keep_order(engine, store):
    prompts = _prompts(store, 8, seed=3)
    full = engine.recommend(prompts, k=20).items
    exclude = [[*row[:3].tolist(), int(row[7])] for row in full]
    page = engine.recommend(prompts, k=10, exclude=exclude).items
    for row, shown in enumerate(exclude):
        assert not set(page[row].tolist()) & set(shown)
        expected = [i for i in full[row].tolist() if i not in shown][:10]
        assert page[row].tolist()[: len(expected)] == expected


def test_beam_wider_than_the_catalogue(model):
    tiny_store = random_store(5, VOCAB, seed=0)
    engine = DecodeEngine(model, tiny_store, VOCAB, "cpu", EngineConfig(beam=20))
    rec = engine.recommend(random_prompts(tiny_store, VOCAB, 3, 2, seed=0), k=10)
    for row in range(3):
        found = rec.items[row][rec.items[row] >= 0]
        assert sorted(found.tolist()) == list(range(5))  # all five items, nothing invalid
        assert torch.isinf(rec.scores[row][5:]).all() and (rec.items[row][5:] == -1).all()


def test_mismatches_are_refused(model, store):
    other_vocab = SIDVocab(sid_depth=3)
    with pytest.raises(EngineError, match="SIDs of 4 levels x 256 codes"):
        DecodeEngine(model, store, other_vocab, "cpu")
    wrong = build_decoder("tiny", SIDVocab(n_special=6), seed=0)
    with pytest.raises(EngineError, match="model vocabulary has 1030 tokens"):
        DecodeEngine(wrong, store, VOCAB, "cpu")
    with pytest.raises(EngineError, match="exceeds the beam width"):
        DecodeEngine(model, store, VOCAB, "cpu", EngineConfig(beam=4)).recommend(
            [[VOCAB.bos]], k=10
        )


def test_bench_decode_cli(tmp_path):
    report = tmp_path / "decode_bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "bench-decode", "--sizes", "tiny", "--batches", "1,4",
         "--beam", "5", "--k", "5", "--engine-iters", "2", "--hf-requests", "4",
         "--exact-prompts", "8", "--device", "cpu", "--report", str(report)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(report.read_text())["rows"]
    assert [r["batch"] for r in rows] == [1, 4]
    assert all(r["engine_rps"] > 0 and r["hf_rps"] > 0 and r["mask_share"] >= 0 for r in rows)
    exact = json.loads((tmp_path / "decode_exactness.json").read_text())["rows"][0]
    assert exact["exact_lists"] == 1.0 and exact["invalid_ids"] == 0
    assert exact["command"].startswith("genrec bench-decode --sizes tiny")
    assert (tmp_path / "decode_bench.png").stat().st_size > 0


def test_fused_path_matches_eager(engine, model, store):
    """`fuse` (what CUDA runs: Inductor kernels over a bounded dynamic token count, here its C++
    backend) decodes what the eager path decodes: mixed and equal prompt lengths, a slate whose
    plan steps feed one token (a size Inductor specialises)."""
    fused = DecodeEngine(model, store, VOCAB, "cpu", EngineConfig(beam=20, fuse=True))
    mixed, equal = _prompts(store, 12), random_prompts(store, VOCAB, 4, 20, seed=1)
    for prompts, slate in ((mixed, False), (equal, False), (mixed[:1], True)):
        want = engine.recommend(prompts, k=10, slate=slate)
        got = fused.recommend(prompts, k=10, slate=slate)
        assert torch.equal(got.items, want.items)
        assert torch.allclose(got.scores, want.scores, atol=1e-4)
