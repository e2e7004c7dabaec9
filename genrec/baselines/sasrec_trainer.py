"""SASRec training: all-position next-item cross-entropy, early stopping on valid NDCG@10."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genrec.baselines.sasrec import SASRec, SASRecConfig, pad_left
from genrec.data.split import Split
from genrec.eval import evaluate_scorer
from genrec.stopping import EarlyStopper


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200  # upper bound; early stopping usually ends sooner
    batch_size: int = 256  # training windows per step
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    patience: int = 20  # epochs without a better valid NDCG@10 before stopping
    seed: int = 0  # model init and batch order


@dataclass
class TrainResult:
    model: SASRec
    best_epoch: int
    valid: dict[str, float]
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, valid ndcg@10


def training_windows(train: list[np.ndarray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut each training sequence into windows of ≤ max_len+1 items, so every item after the first
    is a target exactly once. → inputs and targets (N, max_len), shifted ids, 0 = padding."""
    inputs, targets = [], []
    for seq in train:
        for end in range(len(seq), 1, -max_len):
            window = seq[max(0, end - max_len - 1) : end]
            inputs.append(window[:-1])
            targets.append(window[1:])
    return pad_left(inputs, max_len), pad_left(targets, max_len)


def train_sasrec(
    split: Split,
    model_cfg: SASRecConfig,
    cfg: TrainConfig,
    device: torch.device,
    progress: bool = True,
) -> TrainResult:
    torch.manual_seed(cfg.seed)
    model = SASRec(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    inputs, targets = (t.to(device) for t in training_windows(split.train, model_cfg.max_len))
    gen = torch.Generator().manual_seed(cfg.seed)

    stopper = EarlyStopper(cfg.patience)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    columns = [
        TextColumn("SASRec"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("train", total=cfg.epochs, status="")
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(inputs), generator=gen).to(device)
            total, count = 0.0, 0
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                x, y = inputs[idx], targets[idx]
                hidden = model(x)[y > 0]  # (n_targets, d)
                loss = F.cross_entropy(model.logits(hidden), y[y > 0] - 1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(hidden)
                count += len(hidden)
            valid = evaluate_scorer(model, split.valid)
            history.append({"epoch": epoch, "loss": total / max(count, 1), **valid})
            stopper.update(epoch, valid["ndcg@10"], model)
            bar.update(
                task,
                advance=1,
                status=f"loss {history[-1]['loss']:.3f} valid ndcg@10 {valid['ndcg@10']:.4f} "
                f"(best {stopper.best:.4f} @ {stopper.best_step})",
            )
            if stopper.out_of_patience():
                break
    stopper.restore(model)
    best_epoch = stopper.best_step
    seconds = time.perf_counter() - start
    best_valid = {k: v for k, v in history[best_epoch - 1].items() if k not in ("epoch", "loss")}
    return TrainResult(model, best_epoch, best_valid, seconds, history)
