"""Calls that wait in one worker at the same time, made together: one backend round trip for
many requests' work (Triton inference, Redis reads).

A call joins the batch of the next round trip, which leaves as soon as the event loop comes
round, or when one of the `max_calls` round trips in flight returns. An idle worker so sends a
lone call at once, with no timer to wait out; a busy one sends fewer, larger batches, and the
cost of a round trip (syscalls, framing, the client library's own work: most of a gateway's
CPU per page) is paid once per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """`await coalescer(item)` → `run(batch)`'s answer for it. `run` gets at most `max_batch`
    items that share a `key` and returns one answer per item, in order: a result, or an
    exception that is raised to that item's caller alone."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
        max_batch: int,
        max_calls: int,
        key: Callable[[T], Hashable] = lambda _: None,
    ):
        self.run, self.max_batch, self.max_calls, self.key = run, max_batch, max_calls, key
        self._waiting: list[tuple[T, asyncio.Future]] = []
        self._calls: set[asyncio.Task] = set()
        self._flush_due = False

    async def __call__(self, item: T) -> R:
        answer = asyncio.get_running_loop().create_future()
        # Shielded below: a caller that goes away leaves its item to its batch, whose answer
        # for it nobody reads (so an exception there is marked read).
        answer.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting.append((item, answer))
        self._schedule()
        return await asyncio.shield(answer)

    def _schedule(self) -> None:
        if not self._flush_due and self._waiting and len(self._calls) < self.max_calls:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Start round trips for the waiting items, one key to a batch, while calls are free."""
        self._flush_due = False
        while self._waiting and len(self._calls) < self.max_calls:
            key = self.key(self._waiting[0][0])
            batch, rest = [], []
            for entry in self._waiting:
                fits = len(batch) < self.max_batch and self.key(entry[0]) == key
                (batch if fits else rest).append(entry)
            self._waiting = rest
            task = asyncio.create_task(self._call(batch))
            self._calls.add(task)
            task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task) -> None:
        self._calls.discard(task)
        self._schedule()

    async def _call(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        try:
            answers = await self.run([item for item, _ in batch])
        except Exception as e:  # `run` failed as a whole: every item's caller hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(e)
            return
        except BaseException:  # cancelled (shutdown): nobody waits forever
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
