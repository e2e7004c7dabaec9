"""Decoder training: page-wise NTP with AdamW, warm-up + cosine schedule, bf16 autocast on CUDA,
data-parallel under torchrun, early stopping on validation Recall@10 of the constrained-decoding
engine, an optional time budget, and a state file written every epoch, from which a killed run
resumes where it was. Optionally distilled from a SASRec teacher (its distribution computed per
batch, in the same step) and validated on a moving average of the weights (`ema`)."""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genrec.baselines.sasrec import SASRec
from genrec.data.split import EvalSet, Split
from genrec.model.decoder import SIDDecoder
from genrec.stopping import BUDGET, PATIENCE, EarlyStopper
from genrec.tokenizer.store import TokenizerStore
from genrec.train.distributed import World, all_sum, from_main, parallelize, whole_state_dict
from genrec.train.evaluation import evaluate_decoder
from genrec.train.examples import Examples, page_examples
from genrec.train.text_tasks import TextTasks


@dataclass(frozen=True)
class DecoderTrainConfig:
    epochs: int = 50  # upper bound; early stopping usually ends sooner
    batch_size: int = 256  # examples per optimizer step, over all processes
    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up, then cosine decay to 10 % of the peak
    patience: int = 5  # epochs without a better valid Recall@10
    eval_users: int = 2000  # validation users decoded per epoch (a fixed random subset)
    beam: int = 20  # of the per-epoch validation decode (early stopping)
    serve_beam: int = 50  # the width serving decodes with; the dense weight is chosen at it
    seed: int = 0
    page_size: int = 1  # k of page-wise NTP (1 = next-item NTP)
    text_weight: float = 1.0  # of the text ↔ SID alignment loss, when text tasks are given
    time_budget_s: float | None = None  # stop after the epoch that passes it (like patience)
    strategy: str = "ddp"  # under torchrun: ddp (replicas) or fsdp (parameters sharded)
    # A dense head's decode weight, chosen on validation after training (0 = SID scores alone).
    dense_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    # Distillation from a teacher's next-item distribution (SID tokens and dense head alike):
    # the weight of the teacher's soft targets against the observed item's, and the
    # temperature that softens the teacher's logits.
    distill: float = 0.0
    distill_temperature: float = 1.0
    # Decay of an exponential moving average of the weights, updated every step; the average
    # is what is validated, kept and returned (0 = off: the weights as trained).
    ema: float = 0.0


@dataclass
class DecoderTrainResult:
    decoder: SIDDecoder
    best_epoch: int
    valid: dict[str, float]
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by: str = "epochs"  # epochs, patience or time budget
    dense_valid: dict[float, float] = field(default_factory=dict)  # weight → valid Recall@10


BUDGET_CHECK_STEPS = 50  # steps between time-budget checks inside an epoch (one broadcast each)


def subset(data: EvalSet, n: int, seed: int) -> EvalSet:
    if n >= len(data):
        return data
    pick = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    return data.take(pick)


def _save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel per step on CUDA: the unfused update of a 200M decoder is a
    fixed cost per step that more GPUs do not shrink (each DDP replica updates every weight)."""
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=fused)


@torch.no_grad()
def teacher_probs(teacher: SASRec, history: torch.Tensor, temperature: float) -> torch.Tensor:
    """history (B, H) item indices left-padded with -1 → the teacher's next-item distribution
    (B, n_items) at `temperature`; SASRec reads the same history, ids shifted by one."""
    logits = teacher.logits(teacher(history + 1)[:, -1]).float()
    return (logits / temperature).softmax(-1)


def optimizer_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    examples: Examples,
    mine: torch.Tensor,
    user_scids: torch.Tensor | None,
    tasks: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    cfg: DecoderTrainConfig,
    autocast: torch.autocast,
    teacher: SASRec | None = None,
) -> torch.Tensor:
    """One AdamW step on this process's examples `mine` of a global batch (+ text-task rows):
    forward, backward (DDP/FSDP reduce the gradients), clip, step → this process's mean loss,
    still on the device. Nothing here waits for the GPU (no `.item()`, no blocking copy), so the
    host queues the next step while this one runs: with a wait per step, the kernel-launch time
    of each step is a fixed cost that more GPUs do not shrink."""
    device = next(model.parameters()).device
    rows = mine.to(device, non_blocking=True)  # `examples` live on the device (Examples.to)
    history = examples.history[rows]
    with autocast:
        soft = None if teacher is None else teacher_probs(teacher, history, cfg.distill_temperature)
        loss = model(
            history,
            examples.page[rows],
            None if user_scids is None else user_scids[examples.users[rows]],
            tasks,
            cfg.text_weight,
            soft,
            cfg.distill,
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return loss.detach()


def train_decoder(
    decoder: SIDDecoder,
    split: Split,
    store: TokenizerStore,
    cfg: DecoderTrainConfig,
    world: World,
    progress: bool = True,
    state_path: Path | None = None,
    text: TextTasks | None = None,
    teacher: SASRec | None = None,
) -> DecoderTrainResult:
    """`text`: alignment-task rows (multi-task SFT); each step adds as many of them, drawn at
    random, as it has recommendation examples. `teacher`: the SASRec whose distribution the
    decoder is distilled from (with `cfg.distill` > 0), trained on the same training split."""
    if (teacher is None) != (cfg.distill == 0):
        raise ValueError("distillation needs both a teacher and a distill weight > 0")
    device = world.device
    torch.manual_seed(cfg.seed)
    decoder.to(device).train()
    if teacher is not None:
        teacher.to(device).eval()
    sharded = world.size > 1 and cfg.strategy == "fsdp"
    if sharded and state_path is not None and state_path.exists():
        raise ValueError(f"{state_path}: resuming is for ddp runs (fsdp writes no state file)")
    if sharded and cfg.ema:
        raise ValueError("a weight average is kept for ddp runs (fsdp shards the weights)")
    # Rank 0 validates on whole weights: under FSDP on a plain copy it loads them into.
    evaluator = copy.deepcopy(decoder) if sharded and world.main else decoder
    model = parallelize(decoder, world, cfg.strategy)
    averaged = None
    if cfg.ema:
        averaged = AveragedModel(decoder, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema))
    examples = page_examples(split, cfg.page_size).to(device)
    user_scids = torch.from_numpy(store.user_scids).to(device) if decoder.prompt.user_scid else None
    valid = subset(split.valid, cfg.eval_users, cfg.seed)
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        done = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    state = {"epoch": 0, "history": [], "seconds": 0.0}
    # Patience and the time budget (this session's: a resumed run gets it afresh).
    stopper = EarlyStopper(cfg.patience, cfg.time_budget_s)
    if state_path is not None and state_path.exists():
        saved = torch.load(state_path, map_location=device, weights_only=False)
        if saved["config"] != asdict(cfg) | {"time_budget_s": None}:
            raise ValueError(f"{state_path}: saved by a run with another configuration")
        decoder.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        stopper.load_state_dict(saved["stopper"])
        if averaged is not None:
            averaged.load_state_dict(saved["ema"])
        state = saved["progress"]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    start = time.perf_counter() - state["seconds"]
    columns = [
        TextColumn("decoder"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    ]
    stopped_by = "epochs"
    with Progress(*columns, disable=not (progress and world.main)) as bar:
        task = bar.add_task("train", total=cfg.epochs, completed=state["epoch"], status="")
        for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
            decoder.train()
            order = torch.randperm(
                len(examples), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            )
            loss_sum = 0.0
            draw = torch.Generator().manual_seed((cfg.seed * 100_003 + epoch) * 1_000 + world.rank)
            seen = 0
            for step, i in enumerate(range(0, len(order), cfg.batch_size)):
                # Every few steps rank 0's clock decides (all ranks reach the same steps); past
                # the budget the epoch stops there and what it did is validated.
                check = cfg.time_budget_s is not None and step and step % BUDGET_CHECK_STEPS == 0
                if check and stopper.over_budget(from_main(world, stopper.elapsed())):
                    stopped_by = BUDGET
                    break
                mine = order[i : i + cfg.batch_size][world.rank :: world.size]
                seen += len(order[i : i + cfg.batch_size])
                tasks = None
                if text is not None:
                    rows = text.take(torch.randint(len(text), (len(mine),), generator=draw))
                    tasks = (rows.ids.to(device), rows.labels.to(device), rows.mask.to(device))
                loss = optimizer_step(
                    model, opt, sched, examples, mine, user_scids, tasks, cfg, autocast, teacher
                )
                if averaged is not None:
                    averaged.update_parameters(decoder)
                loss_sum += loss * len(mine)
            loss_mean = all_sum(world, float(loss_sum)) / max(1, seen)
            if averaged is None:
                validated = evaluator
                weights = whole_state_dict(decoder, world, cfg.strategy)  # every rank takes part
            else:  # the average is what is validated and kept (never sharded)
                validated = averaged.module
                weights = validated.state_dict()
            metrics = {}
            if world.main:
                if sharded:
                    evaluator.load_state_dict(weights)
                validated.eval()
                metrics = evaluate_decoder(validated, store, valid, device, cfg.beam)
            recall = from_main(world, metrics.get("recall@10", 0.0))
            state["history"].append({"epoch": epoch, "loss": loss_mean, **metrics})
            state["epoch"] = epoch
            stopper.update(epoch, recall, weights)
            state["seconds"] = time.perf_counter() - start
            status = (
                f"loss {loss_mean:.3f} valid R@10 {recall:.4f} "
                f"(best {stopper.best:.4f} @ {stopper.best_step})"
            )
            bar.update(task, advance=1, status=status)
            if world.main and not progress:  # logs of unattended runs still show each epoch
                print(f"epoch {epoch} {status} {state['seconds']:.0f}s", flush=True)
            # A state file holds whole epochs only: a run the budget stopped inside one ends
            # here (tested, saved), and one killed later resumes from the last whole epoch.
            if state_path is not None and world.main and not sharded and stopped_by != BUDGET:
                _save_state(
                    state_path,
                    {
                        "config": asdict(cfg) | {"time_budget_s": None},
                        "model": decoder.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "stopper": stopper.state_dict(),
                        "ema": None if averaged is None else averaged.state_dict(),
                        "progress": state,
                    },
                )
            if stopped_by == BUDGET:  # stopped inside this epoch
                break
            if epoch < cfg.epochs and stopper.out_of_patience():
                stopped_by = PATIENCE
                break
            elapsed = from_main(world, stopper.elapsed())  # rank 0 decides
            if epoch < cfg.epochs and stopper.over_budget(elapsed):
                stopped_by = BUDGET
                break
    if world.main or not sharded:  # FSDP: rank 0 holds the best weights
        stopper.restore(evaluator)
    evaluator.eval()
    history = state["history"]
    best = history[stopper.best_step - 1] if stopper.best_step else {}
    valid_best = {k: v for k, v in best.items() if k not in ("epoch", "loss")}
    dense_valid = {}
    if evaluator.item_head is not None and world.main:
        dense_valid = choose_dense_weight(evaluator, store, valid, device, cfg)
    return DecoderTrainResult(
        evaluator, stopper.best_step, valid_best, state["seconds"], history, stopped_by,
        dense_valid,
    )  # fmt: skip


def choose_dense_weight(
    decoder: SIDDecoder, store: TokenizerStore, valid: EvalSet, device, cfg: DecoderTrainConfig
) -> dict[float, float]:
    """Sets the decoder's dense weight to the one of `cfg.dense_weights` with the best
    validation Recall@10 (NDCG@10 breaks ties) → each weight's validation Recall@10."""
    scores = {}
    for weight in cfg.dense_weights:
        decoder.with_dense_weight(weight)
        m = evaluate_decoder(decoder, store, valid, device, cfg.serve_beam)
        scores[weight] = (m["recall@10"], m["ndcg@10"])
    decoder.with_dense_weight(max(scores, key=scores.__getitem__))
    return {w: r for w, (r, _) in scores.items()}
