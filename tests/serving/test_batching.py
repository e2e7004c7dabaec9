"""A gateway worker sends the pages waiting at the same time to Triton as the rows of one
request (service.decoder): against the test stack's real Triton, batched pages get exactly
the answers they get alone, in fewer requests, and a page Triton refuses fails alone."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from genrec.bench.serve import scrape
from service.breaker import Breaker
from service.decoder import DecoderUnavailable, TritonDecoder

SUCCESS = "nv_inference_request_success_total"


def _requests(stack, at_least: float = 0.0) -> float:
    """Triton's answered requests, once they reach `at_least`: Triton counts a request after
    it has sent the response, so a scrape right after the last answer can miss it."""

    def count() -> float:
        samples = scrape(stack.triton_metrics_urls[0]).items()
        return sum(v for (name, _), v in samples if name == SUCCESS)

    give_up = time.monotonic() + 10
    while count() < at_least and time.monotonic() < give_up:
        time.sleep(0.05)
    time.sleep(0.2)  # and nothing more arrives
    return count()


def _pages(store, n: int) -> list[dict]:
    """Pages unlike each other: history lengths, exclusions, k, with and without a SCID."""
    rng = np.random.default_rng(0)
    items, scids = len(store.item_ids), np.asarray(store.user_scids)
    return [
        {
            "history": rng.choice(items, size=1 + i % 7, replace=False).tolist(),
            "exclude": rng.choice(items, size=i % 3, replace=False).tolist(),
            "k": 3 + i % 5,
            "user_scid": scids[i] if i % 2 else None,
        }
        for i in range(n)
    ]


async def _decode(stack, pages: list[dict], together: bool, max_batch: int = 8, calls: int = 1):
    target = stack.settings_env()["GENREC_TRITON_URL"]
    decoder = TritonDecoder(target, "genrec", 30.0, Breaker(50, 1.0), max_batch, calls)
    try:
        if together:
            calls = (decoder.recommend(**p) for p in pages)
            return await asyncio.gather(*calls, return_exceptions=True)
        return [await decoder.recommend(**p) for p in pages]
    finally:
        await decoder.close()


def test_pages_waiting_together_share_a_request_and_get_their_own_answers(stack, small_store):
    store, _ = small_store
    pages = _pages(store, 12)
    before = _requests(stack)
    alone = asyncio.run(_decode(stack, pages, together=False))
    sent_alone = _requests(stack, before + 12) - before
    together = asyncio.run(_decode(stack, pages, together=True))
    sent_together = _requests(stack, before + 14) - before - sent_alone
    assert sent_alone == 12
    assert sent_together == 2  # one call in flight at a time: 8 pages, then the 4 left
    for page, a, b in zip(pages, alone, together, strict=True):
        assert len(b.items) >= page["k"] and (b.items[page["k"] :] == -1).all()
        assert b.items[: page["k"]].tolist() == a.items.tolist()
        np.testing.assert_allclose(b.scores[: page["k"]], a.scores, rtol=1e-5, atol=1e-5)
        assert not set(b.items.tolist()) & set(page["exclude"])


def test_a_page_triton_refuses_fails_alone(stack, small_store):
    store, _ = small_store
    pages = _pages(store, 5)
    pages[2] = pages[2] | {"k": 10_000}  # beyond the beam: the model refuses it
    results = asyncio.run(_decode(stack, pages, together=True))
    assert isinstance(results[2], DecoderUnavailable) and results[2].refused
    assert "K must be in" in str(results[2])
    for i in (0, 1, 3, 4):
        assert not isinstance(results[i], BaseException), results[i]
        assert len(results[i].items) >= pages[i]["k"]


@pytest.mark.parametrize("calls", [1, 3])
def test_every_page_is_answered_whatever_the_calls_in_flight(stack, small_store, calls):
    store, _ = small_store
    pages = _pages(store, 40)
    results = asyncio.run(_decode(stack, pages, together=True, max_batch=16, calls=calls))
    assert [len(r.items) >= p["k"] for r, p in zip(results, pages, strict=True)] == [True] * 40
