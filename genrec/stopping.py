"""One early stopper for every trainer (SASRec, the decoder, alignment, slates): it keeps the
best weights by a validation score, counts validations without improvement against a patience,
and watches a time budget, so each loop only asks it after each validation.

Its progress is a plain dict (`state_dict`), so a trainer that writes a resumable state file
saves it beside the model's and optimiser's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch

PATIENCE, BUDGET = "patience", "time budget"


class EarlyStopper:
    def __init__(
        self,
        patience: int | None = None,
        time_budget_s: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        """patience: validations without a better score before stopping (None: never);
        time_budget_s: seconds from now after which to stop (None: never)."""
        self.patience, self.time_budget_s, self.clock = patience, time_budget_s, clock
        self.start = clock()
        self.best, self.best_step, self.bad = float("-inf"), 0, 0
        self.best_state: dict | None = None

    def update(self, step: int, score: float, weights: dict | torch.nn.Module) -> bool:
        """After a validation: keep a copy of `weights` (a module or its state dict) if `score`
        is the best so far → whether it was."""
        if score > self.best:
            state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
            self.best, self.best_step, self.bad = score, step, 0
            self.best_state = copy.deepcopy(state)
            return True
        self.bad += 1
        return False

    def elapsed(self) -> float:
        return self.clock() - self.start

    def over_budget(self, elapsed: float | None = None) -> bool:
        """Past the time budget? `elapsed` overrides this process's clock (under torchrun rank
        0's, so every rank stops at the same step)."""
        seconds = self.elapsed() if elapsed is None else elapsed
        return self.time_budget_s is not None and seconds > self.time_budget_s

    def out_of_patience(self) -> bool:
        return self.patience is not None and self.bad >= self.patience

    def restore(self, model: torch.nn.Module) -> torch.nn.Module:
        """The best weights back into `model` (unchanged if no validation ever ran)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        return model

    def state_dict(self) -> dict:
        """Progress for a resumable state file (the clock restarts on resume)."""
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad,
                "best_state": self.best_state}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_step, self.bad = state["best"], state["best_step"], state["bad"]
        self.best_state = state["best_state"]
