"""The Triton-hosted decoder as the gateway calls it: one gRPC inference per page, with a
deadline. Inputs are item indices; the token merger, user-SCID prefix and constrained beam
search (or slate generation) all run inside the model (see `model_repo/genrec/model.py`). The
tensors' names and dtypes, and the STATS layout, are `genrec.contract`'s, which the model shares."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

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
from service.metrics import (
    DECODER_BATCH,
    DECODER_STAGE,
    PROMPT_TOKENS,
    TRITON_LATENCY,
)


class DecoderUnavailable(RuntimeError):
    """Triton did not answer in time, refused the request, or the breaker is open."""


@dataclass(frozen=True)
class Decoded:
    items: np.ndarray  # item indices, best first; -1 where fewer exist
    scores: np.ndarray
    prompt_tokens: int
    model_version: str


def _tensor(spec: TensorSpec, values: ArrayLike) -> InferInput:
    """One request's input: the values in the contract's dtype, behind a batch dimension."""
    batched = np.asarray(values, spec.dtype)[None]
    t = InferInput(spec.name, list(batched.shape), spec.datatype)
    t.set_data_from_numpy(batched)
    return t


class TritonDecoder:
    CHANNEL_ARGS = (
        # Reconnect within a second once Triton is back (gRPC's default backoff grows to minutes).
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 1000),
        # A target with several servers (one Triton per GPU) spreads calls over all of them.
        ("grpc.lb_policy_name", "round_robin"),
    )

    def __init__(self, url: str, model: str, timeout_s: float, breaker: Breaker):
        self.client = InferenceServerClient(url, channel_args=list(self.CHANNEL_ARGS))
        self.model, self.timeout_s, self.breaker = model, timeout_s, breaker

    async def close(self) -> None:
        await self.client.close()

    async def ready(self) -> bool:
        try:
            return await self.client.is_model_ready(self.model)
        except InferenceServerException:
            return False

    async def served_version(self) -> str | None:
        """The version Triton serves now (the highest ready one), or None."""
        try:
            index = await self.client.get_model_repository_index(as_json=True)
        except InferenceServerException:
            return None
        ready = [
            m.get("version", "") for m in index.get("models", [])
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
        inputs = [
            _tensor(HISTORY, history or [-1]),
            _tensor(EXCLUDE, exclude or [-1]),
            _tensor(K, [k]),
        ]
        if user_scid is not None:
            inputs.append(_tensor(USER_SCID, user_scid))
        if slate:
            inputs.append(_tensor(SLATE, [True]))
        if not self.breaker.allow():
            raise DecoderUnavailable("circuit open after repeated Triton failures")
        start = time.perf_counter()
        try:
            result = await self.client.infer(
                self.model,
                inputs,
                model_version=version,
                outputs=[InferRequestedOutput(spec.name) for spec in OUTPUTS],
                client_timeout=self.timeout_s,
            )
        except InferenceServerException as e:
            self.breaker.failed()
            raise DecoderUnavailable(e.message() or str(e)) from e
        except BaseException:
            self.breaker.abandoned()
            raise
        finally:
            TRITON_LATENCY.observe(time.perf_counter() - start)
        self.breaker.succeeded()
        stats = Stats.from_array(result.as_numpy(STATS.name)[0])
        PROMPT_TOKENS.observe(stats.prompt_tokens)
        DECODER_STAGE.labels("prompt").observe(stats.prompt_us / 1e6)
        DECODER_STAGE.labels("decode").observe(stats.decode_us / 1e6)
        DECODER_BATCH.observe(stats.batch)
        return Decoded(
            items=result.as_numpy(ITEMS.name)[0],
            scores=result.as_numpy(SCORES.name)[0],
            prompt_tokens=stats.prompt_tokens,
            model_version=result.get_response().model_version,
        )
