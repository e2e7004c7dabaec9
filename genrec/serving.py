"""The model Triton serves: one exported version folder (`genrec export`) behind the decode engine.

Triton's dynamic batcher hands `model.py` a list of requests; this module turns them into one
engine call per decode mode: histories (item indices) → prompt embeddings through the decoder's
token merger and user-SCID prefix → constrained beam search with per-request exclusions → the k
best items of each; or, for requests that ask for a slate, a whole generated page (HiGR mode).
Keeping it here, not in `model.py`, lets the tests run the exact serving path without a Triton
server.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genrec.contract import (
    EXCLUDE,
    HISTORY,
    MAX_HISTORY,
    STORE_PIN,
    USER_SCID,
    VERSION_FILES,
    store_label,
)
from genrec.device import resolve_device, wait
from genrec.engine.engine import BATCH_BUCKETS, EngineConfig, bucket, decoder_engine
from genrec.errors import GenrecError
from genrec.model.checkpoint import load_checkpoint
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore


@dataclass(frozen=True)
class DecodeRequest:
    history: np.ndarray  # item indices, oldest first; -1 entries are padding
    exclude: np.ndarray  # item indices that must not come back (-1 entries are padding)
    k: int
    user_scid: np.ndarray | None = None  # (levels,), for decoders that read user SCIDs
    slate: bool = False  # a generated page (plan, then slots) instead of the beam's top k


@dataclass(frozen=True)
class DecodeResult:
    items: np.ndarray  # (k,) item indices, best first; -1 where fewer than k exist
    scores: np.ndarray  # (k,) summed SID log-probabilities (+ the dense head's user·item term)
    prompt_tokens: int  # prompt positions after the token merger


@dataclass(frozen=True)
class BatchTimings:
    prompt_us: int  # history → merged prompt embeddings, for the whole batch
    decode_us: int  # constrained beam search, for the whole batch


def cpu_threads(instances: int, cores: int | None = None) -> int:
    """Torch threads for one CPU model instance (each Triton instance is its own process):
    the cores left after one for Triton's own threads and the gateway, shared out. More
    threads than cores make OpenMP's spinning workers fight the server's threads for the CPU,
    which on 2 cores stalled one request in ~30 for 100-250 ms (reports/README.md, "Stalls")."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, (cores - 1) // max(1, instances))


def scid_given(user_scid: np.ndarray) -> np.ndarray:
    """(R,) which rows of a -1-padded USER_SCID (R, L) carry a SCID: a row of only -1 has none,
    and the model reads the average user's, so rows with and without one share a request."""
    return (user_scid >= 0).any(axis=1)


def parse_buckets(text: str) -> tuple[int, ...]:
    """The model configuration's optional `batch_buckets` parameter ("1,2,4,...,256"; empty:
    `BATCH_BUCKETS`): increasing sizes (a batch beyond the last decodes in chunks of it)."""
    if not text:
        return BATCH_BUCKETS
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or sizes[0] < 1 or list(sizes) != sorted(set(sizes)):
        raise GenrecError(f"batch_buckets {text!r}: increasing batch sizes, e.g. 1,2,4,8")
    return sizes


class ServedModel:
    def __init__(
        self, decoder: SIDDecoder, store: TokenizerStore, device: torch.device, config: EngineConfig
    ):
        if device.type == "cuda" and device.index is not None:
            # One served model per process (each Triton instance is one): its GPU becomes the
            # current device, so nothing in the stack falls back to GPU 0's streams.
            torch.cuda.set_device(device)
        self.decoder = decoder.to(device).eval()
        self.store, self.device = store, device
        self.engine = decoder_engine(decoder, store, device, config)
        self.max_history = MAX_HISTORY
        # Slates decode a fixed number of slots per captured graph: the smallest bucket that
        # holds the batch's largest K (the first k slots of a longer slate are the k-slot slate,
        # up to the fill's fallback).
        beam = config.beam
        self.slate_slots = (*(s for s in (10, 20, 50) if s < beam), beam)
        if self.engine.use_graphs:
            self.warm_up()

    def warm_up(self) -> None:
        """Capture the CUDA graphs serving needs before the model reports ready: each batch
        bucket, with full and with short histories (the two prefill variants), for beam search
        and for slates of the first slot bucket (other slot counts capture on first use).
        Otherwise the first requests of each shape wait seconds for a capture and time out."""
        for size in self.engine.config.batch_buckets:
            for history_len in (self.max_history, 1):
                for slate in (False, True):
                    history = np.zeros(history_len, np.int64)
                    request = DecodeRequest(history, np.zeros(1, np.int64), 1, None, slate)
                    self.recommend([request] * size)

    @classmethod
    def load(
        cls,
        version: Path,
        device: str = "auto",
        config: EngineConfig = EngineConfig.served(),
        store_version: str = "",
    ) -> ServedModel:
        """An exported version folder. The tokenizer store it holds must be the one its
        export.json records (`STORE_PIN`, written by `genrec export`): the gateway reads item ids
        and user SCIDs from that store, so a folder whose store was swapped never serves. The
        pin lives in each version, not in the model configuration, which applies to every
        version and is tracked in git. `store_version` (e.g. `synthetic/v1`: the configuration's
        optional `store_version` parameter), when set, must name the store too, so a deployment
        that must keep its catalogue refuses a rollout to a version exported on another one."""
        store = TokenizerStore.load(version / VERSION_FILES.tokenizer_store)
        held = store_label(store.manifest)
        info = json.loads((version / VERSION_FILES.export).read_text())
        pins = {VERSION_FILES.export: info[STORE_PIN]}
        if store_version:
            pins["the model configuration"] = store_version
        for where, pinned in pins.items():
            if pinned != held:
                raise GenrecError(f"{version}: holds tokenizer store {held}, {where} pins {pinned}")
        decoder, _ = load_checkpoint(version / VERSION_FILES.decoder, store)
        return cls(decoder, store, resolve_device(device), config)

    @property
    def beam(self) -> int:
        return self.engine.beam

    def check_rows(
        self,
        history: np.ndarray,
        exclude: np.ndarray | None,
        k: np.ndarray,
        user_scid: np.ndarray | None,
    ) -> dict[int, str]:
        """Why rows cannot be served, by row index: the rows of one Triton request as its
        arrays (history (R, H), exclude (R, E), user_scid (R, L), -1-padded; k (R,)); a USER_SCID
        row without one (`scid_given`) is not checked. Checked as
        arrays, so valid rows cost a few numpy reductions, not Python per row; a bad row fails
        alone, named."""
        n_items, codes = len(self.store.item_ids), self.store.codebook_size
        levels = self.decoder.vocab.user_levels
        why: dict[int, str] = {}

        def flag(bad: np.ndarray, values: np.ndarray, reason: str) -> None:
            if bad.any():  # `reason`'s {} is the row's offending value
                for row in np.flatnonzero(bad):
                    why.setdefault(int(row), reason.format(int(values[row])))

        beam = self.beam
        flag((k < 1) | (k > beam), k, f"K must be in 1..{beam} (the beam width), got {{}}")
        for spec, ids in ((HISTORY, history), (EXCLUDE, exclude)):
            if ids is not None:
                top = ids.max(axis=1, initial=-1)
                reason = f"{spec.name} holds item {{}}; the catalogue has {n_items}"
                flag(top >= n_items, top, reason)
        if user_scid is not None:
            given = scid_given(user_scid)
            wrong = ((user_scid < 0) | (user_scid >= codes)).any(axis=1)
            wrong |= user_scid.shape[1] != levels
            flag(given & wrong, k, f"{USER_SCID.name} must be {levels} codes in 0..{codes - 1}")
        return dict(sorted(why.items()))

    def recommend(self, requests: list[DecodeRequest]) -> tuple[list[DecodeResult], BatchTimings]:
        """Requests must have passed `check_rows`. Beam and slate requests decode as two batches."""
        results: list[DecodeResult | None] = [None] * len(requests)
        prompt_us = decode_us = 0
        for slate in (False, True):
            rows = [i for i, r in enumerate(requests) if r.slate == slate]
            if rows:
                out, timings = self._decode([requests[i] for i in rows], slate)
                for i, result in zip(rows, out, strict=True):
                    results[i] = result
                prompt_us += timings.prompt_us
                decode_us += timings.decode_us
        return results, BatchTimings(prompt_us, decode_us)

    @torch.no_grad()
    def _decode(
        self, requests: list[DecodeRequest], slate: bool
    ) -> tuple[list[DecodeResult], BatchTimings]:
        start = time.perf_counter()
        history = np.full((len(requests), self.max_history), -1, dtype=np.int64)
        for row, r in enumerate(requests):
            h = r.history[r.history >= 0][-self.max_history :]
            history[row, self.max_history - len(h) :] = h
        scids = None
        if self.decoder.prompt.user_scid:
            scids = torch.from_numpy(
                np.stack([self._scid(r) for r in requests]).astype(np.int64)
            ).to(self.device)
        embeds, valid = self.decoder.prompt_embeds(torch.from_numpy(history).to(self.device), scids)
        wait(self.device)  # the prompt's time is its own
        built = time.perf_counter()
        k = max(r.k for r in requests)
        if slate:
            k = bucket(k, self.slate_slots)
        exclude = [r.exclude[r.exclude >= 0] for r in requests]
        out = self.engine.recommend_embeds(embeds, valid, k, exclude, slate)
        done = time.perf_counter()
        # Whole arrays once, then numpy views per row: a torch slice per row costs ~10 µs.
        prompt_tokens = valid.sum(1).cpu().tolist()
        items, scores = out.items.numpy(), out.scores.float().numpy()
        results = [
            DecodeResult(items[row, : r.k], scores[row, : r.k], prompt_tokens[row])
            for row, r in enumerate(requests)
        ]
        return results, BatchTimings(int((built - start) * 1e6), int((done - built) * 1e6))

    def _scid(self, request: DecodeRequest) -> np.ndarray:
        if request.user_scid is None or request.user_scid.size == 0:
            return self.store.fallback_user_scid
        return request.user_scid
