"""Next-item NTP training of the decoder: AdamW, warm-up + cosine schedule, bf16 autocast on
CUDA, early stopping on validation Recall@10 measured with the constrained-decoding engine."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import Qwen2ForCausalLM

from genrec.data.split import EvalSet, Split
from genrec.model.vocab import SIDVocab
from genrec.tokenizer.store import TokenizerStore
from genrec.train.evaluation import evaluate_decoder
from genrec.train.examples import next_item_examples


@dataclass(frozen=True)
class DecoderTrainConfig:
    epochs: int = 50  # upper bound; early stopping usually ends sooner
    batch_size: int = 256  # examples per step
    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up, then cosine decay to 10 % of the peak
    patience: int = 5  # epochs without a better valid Recall@10
    eval_users: int = 2000  # validation users decoded per epoch (a fixed random subset)
    beam: int = 20
    seed: int = 0


@dataclass
class DecoderTrainResult:
    model: Qwen2ForCausalLM
    best_epoch: int
    valid: dict[str, float]
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def _subset(data: EvalSet, n: int, seed: int) -> EvalSet:
    if n >= len(data):
        return data
    pick = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    return EvalSet(data.users[pick], [data.histories[i] for i in pick], data.targets[pick])


def train_decoder(
    model: Qwen2ForCausalLM,
    split: Split,
    store: TokenizerStore,
    vocab: SIDVocab,
    cfg: DecoderTrainConfig,
    device: torch.device,
    progress: bool = True,
) -> DecoderTrainResult:
    torch.manual_seed(cfg.seed)
    model.to(device).train()
    examples = next_item_examples(split, store.item_sids, vocab)
    valid = _subset(split.valid, cfg.eval_users, cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress_ = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_epoch, best_state, bad = -1.0, 0, None, 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    columns = [
        TextColumn("decoder"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=cfg.epochs, status="")
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            order = torch.randperm(len(examples), generator=gen)
            loss_sum = 0.0
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                with autocast:
                    out = model(
                        input_ids=examples.input_ids[idx].to(device),
                        attention_mask=examples.attention_mask[idx].to(device),
                        position_ids=examples.position_ids(idx).to(device),
                        labels=examples.labels[idx].to(device),
                    )
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                loss_sum += out.loss.item() * len(idx)
            model.eval()
            metrics = evaluate_decoder(model, store, vocab, valid, device, cfg.beam)
            history.append({"epoch": epoch, "loss": loss_sum / len(examples), **metrics})
            if metrics["recall@10"] > best:
                best, best_epoch, bad = metrics["recall@10"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
            bar.update(
                task,
                advance=1,
                status=f"loss {history[-1]['loss']:.3f} valid R@10 "
                f"{metrics['recall@10']:.4f} (best {best:.4f} @ {best_epoch})",
            )
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    seconds = time.perf_counter() - start
    valid_best = {k: v for k, v in history[best_epoch - 1].items() if k not in ("epoch", "loss")}
    return DecoderTrainResult(model, best_epoch, valid_best, seconds, history)
