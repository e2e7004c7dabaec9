"""The one early stopper every trainer uses: best weights, patience, time budget, resume."""

from __future__ import annotations

import torch

from genrec.stopping import EarlyStopper


def test_keeps_the_best_weights_and_counts_patience():
    model = torch.nn.Linear(2, 1)
    stopper = EarlyStopper(patience=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert stopper.update(1, 0.5, model)
    with torch.no_grad():
        model.weight.fill_(2.0)  # later, worse weights
    assert not stopper.update(2, 0.4, model) and not stopper.out_of_patience()
    assert not stopper.update(3, 0.5, model)  # a tie is no improvement
    assert stopper.out_of_patience() and stopper.best_step == 1
    stopper.restore(model)
    assert torch.equal(model.weight, torch.ones_like(model.weight))  # a copy, not a reference


def test_time_budget_and_resume():
    now = [100.0]
    stopper = EarlyStopper(time_budget_s=10, clock=lambda: now[0])
    assert not stopper.over_budget()
    now[0] = 111.0
    assert stopper.over_budget() and not stopper.over_budget(elapsed=5.0)  # rank 0's clock wins
    assert not EarlyStopper().over_budget(1e9) and not EarlyStopper().out_of_patience()
    stopper.update(4, 0.3, {"w": torch.zeros(1)})
    resumed = EarlyStopper(patience=1)
    resumed.load_state_dict(stopper.state_dict())
    assert (resumed.best, resumed.best_step) == (0.3, 4)
    assert not resumed.update(5, 0.2, {"w": torch.ones(1)}) and resumed.out_of_patience()
    model = torch.nn.Module()
    model.register_buffer("w", torch.ones(1))
    resumed.restore(model)
    assert model.w.item() == 0.0
