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
from genrec.serving import DecodeRequest, ServedModel, cpu_threads


def _input(request, spec: TensorSpec) -> np.ndarray | None:
    """One request's tensor without its batch dimension."""
    tensor = pb_utils.get_input_tensor_by_name(request, spec.name)
    return None if tensor is None else tensor.as_numpy()[0]


def _output(spec: TensorSpec, values: np.ndarray) -> pb_utils.Tensor:
    """Outputs go through DLPack: under numpy 2, numpy-built output tensors fail Triton's
    size check."""
    batched = np.array(values, spec.dtype)[None]  # a copy, in the contract's dtype
    return pb_utils.Tensor.from_dlpack(spec.name, to_dlpack(torch.from_numpy(batched)))


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
        self.model = ServedModel.load(
            version, device, int(params.get("beam", "50")), params.get(STORE_PIN, "")
        )

    def execute(self, requests: list) -> list:
        parsed, errors = [], {}
        for i, request in enumerate(requests):
            exclude, slate = _input(request, EXCLUDE), _input(request, SLATE)
            decode = DecodeRequest(
                history=_input(request, HISTORY),
                exclude=np.empty(0, EXCLUDE.dtype) if exclude is None else exclude,
                k=int(_input(request, K)[0]),
                user_scid=_input(request, USER_SCID),
                slate=slate is not None and bool(slate[0]),
            )
            reason = self.model.check(decode)
            if reason is None:
                parsed.append((i, decode))
            else:
                errors[i] = reason
        results, timings = self.model.recommend([d for _, d in parsed]) if parsed else ([], None)
        by_index = dict(zip((i for i, _ in parsed), results, strict=True))
        responses = []
        for i in range(len(requests)):
            if i in errors:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(errors[i])))
                continue
            r = by_index[i]
            stats = Stats(r.prompt_tokens, timings.prompt_us, timings.decode_us, len(parsed))
            outputs = [
                _output(ITEMS, r.items),
                _output(SCORES, r.scores),
                _output(STATS, stats.to_array()),
            ]
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
