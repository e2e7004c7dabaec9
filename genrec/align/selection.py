"""Model selection for alignment: the policy is validated at each checkpoint of its run (after
each DPO stage, every few policy steps) and the best weights by validation NDCG@10 are kept,
the SFT start included, so a run that only hurts returns its starting point and says so."""

from __future__ import annotations

import numpy as np
import torch

from genrec.data.split import EvalSet
from genrec.model.decoder import SIDDecoder
from genrec.stopping import EarlyStopper
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
        time_budget_s: float | None = None,  # `over_budget` after this many seconds
    ):
        self.decoder, self.store, self.valid, self.cold = decoder, store, valid, cold
        self.device, self.beam, self.slate = device, beam, slate
        self.history: list[dict] = []
        self.stopper = EarlyStopper(time_budget_s=time_budget_s)  # no patience: runs are short

    @property
    def best_step(self) -> int:
        return self.stopper.best_step

    def check(self, step: int, **stats: float | str) -> dict:
        """Validate the current weights; remember them if they are the best so far."""
        was_training = self.decoder.training
        metrics = evaluate_decoder(
            self.decoder.eval(), self.store, self.valid, self.device, self.beam, self.cold,
            self.slate,
        )  # fmt: skip
        self.decoder.train(was_training)
        row = {"step": step, **stats, **metrics, "seconds": self.stopper.elapsed()}
        self.history.append(row)
        self.stopper.update(step, metrics[KEY], self.decoder)
        return row

    def over_budget(self) -> bool:
        return self.stopper.over_budget()

    def restore(self) -> SIDDecoder:
        return self.stopper.restore(self.decoder).eval()
