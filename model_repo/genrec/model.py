"""Triton Python backend for the genrec decoder: parse the request tensors, call
`genrec.serving.ServedModel`, pack the responses. All logic lives in the library; the tensors'
names and dtypes, and the STATS layout, are `genrec.contract`'s, which the gateway shares.

`genrec export` copies this file into each version folder (`<N>/model.py`) next to the
decoder and tokenizer store it serves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import triton_python_backend_utils as pb_utils
from torch.utils.dlpack import to_dlpack

from genrec.contract import (
    EXCLUDE,
    HISTORY,
    ITEMS,
    SCORES,
    SLATE,
    STATS,
    STORE_PIN,
    USER_SCID,
    K,
    Stats,
    TensorSpec,
)
from genrec.engine.engine import EngineConfig
from genrec.serving import (
    BatchTimings,
    DecodeRequest,
    DecodeResult,
    ServedModel,
    cpu_threads,
    parse_buckets,
    scid_given,
)


def _tensors(request) -> dict[str, np.ndarray]:
    """A request's input tensors by name, each with its rows (a gateway may send several
    pages' inputs in one request, -1-padded to the longest)."""
    return {t.name(): t.as_numpy() for t in request.inputs()}


def _rows(tensors: dict[str, np.ndarray]) -> list[DecodeRequest]:
    """One DecodeRequest per row; a USER_SCID row of -1 padding is a row without one
    (`scid_given`)."""
    history, k = tensors[HISTORY.name], tensors[K.name]
    exclude, scid, slate = (tensors.get(s.name) for s in (EXCLUDE, USER_SCID, SLATE))
    none = np.empty(0, EXCLUDE.dtype)
    given = None if scid is None else scid_given(scid)
    return [
        DecodeRequest(
            history=history[row],
            exclude=none if exclude is None else exclude[row],
            k=int(k[row, 0]),
            user_scid=scid[row] if given is not None and given[row] else None,
            slate=slate is not None and bool(slate[row, 0]),
        )
        for row in range(len(history))
    ]


def _reason(model: ServedModel, tensors: dict[str, np.ndarray]) -> str | None:
    """Why a request cannot be served (its first bad row, named when it has several), or
    None."""
    why = model.check_rows(
        tensors[HISTORY.name], tensors.get(EXCLUDE.name), tensors[K.name][:, 0],
        tensors.get(USER_SCID.name),
    )  # fmt: skip
    if not why:
        return None
    row, reason = next(iter(why.items()))
    return reason if len(tensors[HISTORY.name]) == 1 else f"row {row}: {reason}"


def _output(spec: TensorSpec, values: np.ndarray) -> pb_utils.Tensor:
    """Outputs go through DLPack: under numpy 2, numpy-built output tensors fail Triton's
    size check."""
    return pb_utils.Tensor.from_dlpack(spec.name, to_dlpack(torch.from_numpy(values)))


def _response(results: list[DecodeResult], timings: BatchTimings, batch: int) -> list:
    """One request's outputs, a row per page: items -1-padded (and scores -inf) to the
    request's largest k."""
    k = max(len(r.items) for r in results)
    items = np.full((len(results), k), -1, ITEMS.dtype)
    scores = np.full((len(results), k), -np.inf, SCORES.dtype)
    for row, r in enumerate(results):
        items[row, : len(r.items)], scores[row, : len(r.scores)] = r.items, r.scores
    stats = Stats.pack(
        [Stats(r.prompt_tokens, timings.prompt_us, timings.decode_us, batch) for r in results]
    )
    return [_output(ITEMS, items), _output(SCORES, scores), _output(STATS, stats)]


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        device = params.get("device", "auto")
        if args["model_instance_kind"] == "GPU":
            device = f"cuda:{args['model_instance_device_id']}"
        elif args["model_instance_kind"] == "CPU":
            device = "cpu"
            instances = sum(g.get("count", 1) for g in config.get("instance_group", []))
            torch.set_num_threads(cpu_threads(instances))
        version = Path(args["model_repository"]) / args["model_version"]
        engine = EngineConfig.served(
            int(params.get("beam", "50")), parse_buckets(params.get("batch_buckets", ""))
        )
        self.model = ServedModel.load(version, device, engine, params.get(STORE_PIN, ""))

    def execute(self, requests: list) -> list:
        """Every row of every request in one engine call. A request with a row that fails
        `check_rows` fails whole, with the row named; the others are served."""
        decodes, spans, errors = [], {}, {}
        for i, request in enumerate(requests):
            tensors = _tensors(request)
            if why := _reason(self.model, tensors):
                errors[i] = why
                continue
            rows = _rows(tensors)
            spans[i] = (len(decodes), len(decodes) + len(rows))
            decodes.extend(rows)
        results, timings = self.model.recommend(decodes) if decodes else ([], None)
        responses = []
        for i in range(len(requests)):
            if i in errors:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(errors[i])))
            else:
                start, end = spans[i]
                outputs = _response(results[start:end], timings, len(decodes))
                responses.append(pb_utils.InferenceResponse(outputs))
        return responses
