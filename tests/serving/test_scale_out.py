"""Serving scale-out with one Triton per GPU: the gateway's Triton address names every
server, and it sends calls to them in turn. Here two CPU Tritons stand in for two
GPUs (the GPU split itself is `CUDA_VISIBLE_DEVICES` per server, see `genrec.local_stack`)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from genrec.bench.serve import scrape, scrape_all
from genrec.errors import GenrecError
from genrec.local_stack import Stack, running_stack, triton_target
from service.breaker import Breaker
from service.decoder import TritonDecoder

SUCCESS = "nv_inference_request_success_total"


def _successes(samples: dict) -> float:
    return sum(v for (name, labels), v in samples.items() if name == SUCCESS)


def _settled(urls: list[str], expected: int, deadline_s: float = 10.0) -> list[float]:
    """Each server's success count once they add up to `expected`: Triton bumps the counter
    after it has sent the response, so a scrape right after the last page can miss it."""
    give_up = time.monotonic() + deadline_s
    while True:
        counts = [_successes(scrape(url)) for url in urls]
        if sum(counts) >= expected or time.monotonic() > give_up:
            return counts
        time.sleep(0.05)


def test_the_gateway_spreads_pages_over_every_triton(exported, small_synthetic, tmp_path):
    users = [u.id for u in small_synthetic.users[:40]]
    with running_stack(exported, tmp_path, small_synthetic, triton_servers=2) as stack:
        assert stack.settings_env()["GENREC_TRITON_URL"].count("127.0.0.1:") == 2
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            for user in users:
                r = client.post("/v1/recommendations", json={"user_id": user, "page_size": 5})
                assert r.status_code == 200 and not r.json()["fallback"], r.text
        per_server = _settled(stack.triton_metrics_urls, len(users))
        # The chart's form of the address (a DNS name listing every server) reaches them too.
        assert asyncio.run(_ready(f"localhost:{stack.triton_ports[1].http}"))
        summed = _successes(scrape_all(stack.triton_metrics_urls))
    assert len(per_server) == 2 and all(n >= 5 for n in per_server), per_server
    assert summed == sum(per_server) == len(users)


async def _ready(target: str) -> bool:
    decoder = TritonDecoder(target, "genrec", 5.0, Breaker(5, 1.0))
    try:
        return await decoder.ready()
    finally:
        await decoder.close()


def test_one_triton_keeps_a_plain_target():
    assert triton_target([8000]) == "127.0.0.1:8000"
    assert triton_target([8000, 8100]) == "127.0.0.1:8000,127.0.0.1:8100"


def test_gpus_must_split_evenly_over_the_tritons(tmp_path):
    with pytest.raises(GenrecError, match="do not split evenly"):
        Stack(tmp_path / "repo", tmp_path / "work", gpu=True, triton_gpus=3, triton_servers=2)
