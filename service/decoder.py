"""The Triton-hosted decoder as the gateway calls it (`service.triton_http`), with a deadline.
Inputs are item indices; the token merger, user-SCID prefix and constrained beam search (or
slate generation) all run inside the model (see `model_repo/genrec/model.py`). The tensors'
names and dtypes, and the STATS layout, are `genrec.contract`'s, which the model shares.

Pages that wait in one worker at the same time go to Triton as the rows of one request
(`service.coalesce`): a call's cost, the gateway's largest per page, and Triton's
per-request work are paid once per batch. A batch Triton refuses is retried page by page, so
one bad page fails alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from genrec.contract import (
    EXCLUDE,
    HISTORY,
    ITEMS,
    OUTPUTS,
    SCORES,
    SLATE,
    STATS,
    USER_SCID,
    K,
    Stats,
    TensorSpec,
)
from service.breaker import Breaker
from service.coalesce import Coalescer
from service.metrics import (
    DECODER_BATCH,
    DECODER_STAGE,
    PROMPT_TOKENS,
    TRITON_CALL_PAGES,
    TRITON_LATENCY,
)
from service.triton_http import TritonError, TritonHTTP


class DecoderUnavailable(RuntimeError):
    """Triton did not answer in time, refused the request, or the breaker is open."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused  # Triton answered, and refused these inputs


@dataclass(frozen=True)
class Decoded:
    items: np.ndarray  # item indices, best first; -1 where fewer exist
    scores: np.ndarray
    prompt_tokens: int
    model_version: str


@dataclass(frozen=True)
class _Page:
    """One page's inputs."""

    history: list[int]
    exclude: list[int]
    k: int
    user_scid: np.ndarray | None
    slate: bool
    version: str


def _tensor(spec: TensorSpec, rows: list) -> tuple[TensorSpec, np.ndarray]:
    """One input of a batch: a row per page, -1-padded to the longest (K and SLATE rows are
    one value each, so they are never padded)."""
    width = max(1, max(len(r) for r in rows))
    values = np.full((len(rows), width), -1, spec.dtype)
    for i, r in enumerate(rows):
        values[i, : len(r)] = r
    return spec, values


def _inputs(pages: list[_Page]) -> list[tuple[TensorSpec, np.ndarray]]:
    inputs = [
        _tensor(HISTORY, [p.history or [-1] for p in pages]),
        _tensor(EXCLUDE, [p.exclude or [-1] for p in pages]),
        _tensor(K, [[p.k] for p in pages]),
    ]
    if any(p.user_scid is not None for p in pages):  # rows of -1 for pages without
        scids = [[] if p.user_scid is None else p.user_scid for p in pages]
        inputs.append(_tensor(USER_SCID, scids))
    if any(p.slate for p in pages):
        inputs.append(_tensor(SLATE, [[p.slate] for p in pages]))
    return inputs


class TritonDecoder:
    def __init__(
        self,
        url: str,
        model: str,
        timeout_s: float,
        breaker: Breaker,
        max_batch: int = 32,
        max_calls: int = 4,
    ):
        self.client = TritonHTTP(url)
        self.model, self.timeout_s, self.breaker = model, timeout_s, breaker
        # One model version to a request: indices belong to a version's catalogue.
        self._pages = Coalescer(self._call, max_batch, max_calls, key=lambda p: p.version)

    async def close(self) -> None:
        await self.client.close()

    async def ready(self) -> bool:
        return await self.client.model_ready(self.model, self.timeout_s)

    async def served_version(self) -> str | None:
        """The version Triton serves now (the highest ready one), or None."""
        try:
            index = await self.client.repository_index(self.timeout_s)
        except TritonError:
            return None
        ready = [
            m.get("version", "") for m in index
            if m.get("name") == self.model and m.get("state") == "READY"
        ]  # fmt: skip
        return max(ready, key=int, default=None)

    async def recommend(
        self,
        history: list[int],
        exclude: list[int],
        k: int,
        user_scid: np.ndarray | None,
        slate: bool = False,
        version: str = "",
    ) -> Decoded:
        """`version`: the model version whose catalogue the indices belong to ("" = Triton's
        latest); a version Triton no longer serves is a DecoderUnavailable like any failure."""
        if not self.breaker.allow():
            raise DecoderUnavailable("circuit open after repeated Triton failures")
        start = time.perf_counter()
        try:
            return await self._pages(_Page(history, exclude, k, user_scid, slate, version))
        finally:
            TRITON_LATENCY.observe(time.perf_counter() - start)

    async def _call(self, pages: list[_Page]) -> list[Decoded | DecoderUnavailable]:
        """One batch's answers; a batch Triton refuses, page by page."""
        try:
            decoded = await self._infer(pages)
        except DecoderUnavailable as e:
            if e.refused and len(pages) > 1:  # one bad page must not fail the others
                return [(await self._call([page]))[0] for page in pages]
            self.breaker.failed()
            return [e] * len(pages)
        except asyncio.CancelledError:
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        return decoded

    async def _infer(self, pages: list[_Page]) -> list[Decoded]:
        """One call for `pages` → each page's answer, in order."""
        try:
            outputs, version = await self.client.infer(
                self.model, pages[0].version, _inputs(pages), list(OUTPUTS), self.timeout_s
            )
        except TritonError as e:
            raise DecoderUnavailable(str(e), e.refused) from e
        items, scores = outputs[ITEMS.name], outputs[SCORES.name]
        decoded = []
        for row, values in enumerate(outputs[STATS.name]):
            stats = Stats.from_array(values)
            PROMPT_TOKENS.observe(stats.prompt_tokens)
            decoded.append(Decoded(items[row], scores[row], stats.prompt_tokens, version))
        # A request's rows ran in one execution and carry its figures: counted once per call,
        # so a many-page call does not weigh as many executions.
        DECODER_STAGE.labels("prompt").observe(stats.prompt_us / 1e6)
        DECODER_STAGE.labels("decode").observe(stats.decode_us / 1e6)
        DECODER_BATCH.observe(stats.batch)
        TRITON_CALL_PAGES.observe(len(pages))
        return decoded
