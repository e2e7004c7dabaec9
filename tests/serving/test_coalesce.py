"""The coalescer's promises, with a backend that records its batches: calls that wait together
go together (one key to a batch, at most max_batch), an idle worker sends at once, each caller
gets its own answer or its own error, and a failed round trip reaches everyone in it."""

from __future__ import annotations

import asyncio

import pytest

from service.coalesce import Coalescer


class Backend:
    def __init__(self, delay_s: float = 0.01):
        self.batches: list[list] = []
        self.in_flight = self.most_in_flight = 0
        self.delay_s = delay_s

    async def run(self, items: list) -> list:
        self.batches.append(items)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        if "down" in items:
            raise ConnectionError("backend down")
        return [ValueError(f"bad {i}") if str(i).startswith("bad") else f"<{i}>" for i in items]


def test_calls_waiting_together_share_batches_by_key_within_the_limits():
    backend = Backend()
    coalescer = Coalescer(backend.run, max_batch=3, max_calls=2, key=lambda i: i[0])

    async def run():
        return await asyncio.gather(*(coalescer(i) for i in ["a1", "b1", "a2", "a3", "a4", "b2"]))

    answers = asyncio.run(run())
    assert answers == ["<a1>", "<b1>", "<a2>", "<a3>", "<a4>", "<b2>"]
    assert backend.batches[:2] == [["a1", "a2", "a3"], ["b1", "b2"]]  # two calls in flight
    assert backend.batches[2:] == [["a4"]]  # then the one left over
    assert backend.most_in_flight == 2


def test_an_idle_coalescer_sends_a_lone_call_at_once():
    backend = Backend(delay_s=0)
    coalescer = Coalescer(backend.run, max_batch=8, max_calls=1)

    async def run():
        return [await coalescer(i) for i in range(3)]

    assert asyncio.run(run()) == ["<0>", "<1>", "<2>"]
    assert backend.batches == [[0], [1], [2]]


def test_each_caller_gets_its_own_error_and_a_failed_round_trip_reaches_all_in_it():
    backend = Backend()
    coalescer = Coalescer(backend.run, max_batch=2, max_calls=1)

    async def run():
        return await asyncio.gather(
            *(coalescer(i) for i in ["ok", "bad1", "down", "x"]), return_exceptions=True
        )

    ok, bad, down, x = asyncio.run(run())
    assert ok == "<ok>" and isinstance(bad, ValueError) and str(bad) == "bad bad1"
    assert isinstance(down, ConnectionError) and isinstance(x, ConnectionError)


def test_a_caller_that_goes_away_leaves_its_batch_to_finish():
    backend = Backend(delay_s=0.05)
    coalescer = Coalescer(backend.run, max_batch=4, max_calls=1)

    async def run():
        leaving = asyncio.create_task(coalescer("gone"))
        staying = asyncio.create_task(coalescer("here"))
        await asyncio.sleep(0.01)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(run()) == "<here>"
    assert backend.batches == [["gone", "here"]]
