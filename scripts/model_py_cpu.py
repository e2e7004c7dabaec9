"""The Python that `model_repo/genrec/model.py` and `genrec.serving.ServedModel` run around the
engine for one dynamic batch, on the CPU, without Triton: `execute` over R requests of P pages
each, with the engine's and the merger's outputs replayed from a first call, so what is timed
is parsing rows, checking them, and packing the responses (reports/README.md, "Batching pages,
and the whole box's CPU"). A stand-in for `triton_python_backend_utils` hands the tensors over;
Triton's own copies into and out of the stub are not in it (`genrec bench-serve` reports those
as `triton_input_ms` and `triton_output_ms`).

Usage: .venv/bin/python scripts/model_py_cpu.py [R×P ...]   (default 1x92 17x5 92x1; the latest
exported version of model_repo/genrec, e.g. `make demo`'s)
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1] / "model_repo" / "genrec"


class _Tensor:
    """pb_utils.Tensor's surface that model.py uses."""

    def __init__(self, name: str, value):
        self._name, self._value = name, value

    def name(self) -> str:
        return self._name

    def as_numpy(self):
        return self._value

    @staticmethod
    def from_dlpack(name: str, capsule) -> _Tensor:
        return _Tensor(name, torch.from_dlpack(capsule))


class _Request:
    def __init__(self, inputs: list[_Tensor]):
        self._inputs = inputs

    def inputs(self) -> list[_Tensor]:
        return self._inputs


def _stand_in() -> None:
    pb = types.ModuleType("triton_python_backend_utils")
    pb.Tensor = _Tensor
    pb.InferenceResponse = lambda outputs=None, error=None: (outputs, error)
    pb.TritonError = str
    sys.modules["triton_python_backend_utils"] = pb


def _model():
    spec = importlib.util.spec_from_file_location("genrec_triton_model", REPO / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    version = max(int(p.name) for p in REPO.iterdir() if p.name.isdigit())
    model = module.TritonPythonModel()
    model.initialize({
        "model_config": json.dumps({"parameters": {}}), "model_instance_kind": "CPU",
        "model_repository": str(REPO), "model_version": str(version),
    })  # fmt: skip
    return model


def _replayed(served) -> None:
    """The engine and the merger answer each batch shape from their first call."""
    engine, decoder = served.engine, served.decoder
    search, merge, seen = engine.recommend_embeds, decoder.prompt_embeds, {}

    def recommend(embeds, valid, k, *rest):
        key = ("search", len(embeds), k)
        if key not in seen:
            seen[key] = search(embeds, valid, k, *rest)
        return seen[key]

    def prompt(history, scids=None):
        key = ("prompt", len(history))
        if key not in seen:
            seen[key] = merge(history, scids)
        return seen[key]

    engine.recommend_embeds, decoder.prompt_embeds = recommend, prompt


def main(shapes: list[str]) -> None:
    _stand_in()
    model = _model()
    _replayed(model.model)
    n_items, rng = len(model.model.store.item_ids), np.random.default_rng(0)
    for shape in shapes:
        requests, pages = (int(x) for x in shape.lower().split("x"))
        batch = []
        for _ in range(requests):
            history = rng.integers(0, n_items, (pages, 20))
            history[:, 15:] = -1  # -1-padded, as the gateway sends shorter histories
            batch.append(_Request([
                _Tensor("HISTORY", history),
                _Tensor("EXCLUDE", rng.integers(0, n_items, (pages, 30))),
                _Tensor("K", np.full((pages, 1), 10, np.int32)),
            ]))  # fmt: skip
        for _ in range(3):
            model.execute(batch)
        calls = 200
        start = time.perf_counter()
        for _ in range(calls):
            model.execute(batch)
        ms = (time.perf_counter() - start) / calls * 1e3
        print(f"{requests} requests x {pages} pages: {ms:.3f} ms of Python per execute")


if __name__ == "__main__":
    main(sys.argv[1:] or ["1x92", "17x5", "92x1"])
