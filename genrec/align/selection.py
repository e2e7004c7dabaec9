"""Model selection for alignment: the policy is validated at each checkpoint of its run (after
each DPO stage, every few policy steps) and the best weights by validation NDCG@10 are kept,
the SFT start included, so a run that only hurts returns its starting point and says so."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from genrec.data.split import EvalSet
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore
from genrec.train.evaluation import evaluate_decoder

KEY = "ndcg@10"


class Selection:
    def __init__(
        self,
        decoder: SIDDecoder,
        store: TokenizerStore,
        valid: EvalSet,
        cold: np.ndarray,
        device: torch.device,
        beam: int = 20,
        slate: bool = False,  # validate generated pages (slate mode) instead of beam search
    ):
        self.decoder, self.store, self.valid, self.cold = decoder, store, valid, cold
        self.device, self.beam, self.slate = device, beam, slate
        self.history: list[dict] = []
        self.best, self.best_step, self.best_state = -1.0, 0, None
        self.start = time.perf_counter()

    def check(self, step: int, **stats: float | str) -> dict:
        """Validate the current weights; remember them if they are the best so far."""
        was_training = self.decoder.training
        metrics = evaluate_decoder(
            self.decoder.eval(), self.store, self.valid, self.device, self.beam, self.cold,
            self.slate,
        )  # fmt: skip
        self.decoder.train(was_training)
        row = {"step": step, **stats, **metrics, "seconds": time.perf_counter() - self.start}
        self.history.append(row)
        if metrics[KEY] > self.best:
            self.best, self.best_step = metrics[KEY], step
            self.best_state = copy.deepcopy(self.decoder.state_dict())
        return row

    def restore(self) -> SIDDecoder:
        if self.best_state is not None:
            self.decoder.load_state_dict(self.best_state)
        return self.decoder.eval()
