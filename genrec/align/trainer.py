"""`align`: one SFT checkpoint in, the aligned decoder out, by any of the four methods.

Every method starts from the same weights, trains on prompts from the training split only,
is validated on a fixed subset of validation users (NDCG@10, plus the cold-start and exposure
metrics), and keeps its best validated weights — the SFT start included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genrec.align.dpo import DPOConfig, progressive_dpo, stages
from genrec.align.losses import METHODS as PG_METHODS
from genrec.align.policy import Policy
from genrec.align.policy_gradient import PGConfig, group_policy_optimisation
from genrec.align.prompts import last_positions, rated_prompts
from genrec.align.rewards import RewardModel
from genrec.align.selection import Selection
from genrec.baselines.sasrec import SASRec
from genrec.data.schema import Dataset
from genrec.data.split import Split
from genrec.eval.metrics import cold_start_mask
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore
from genrec.train.trainer import subset

METHODS = ("sdpo", *PG_METHODS)


@dataclass(frozen=True)
class AlignConfig:
    method: str
    lr: float = 1e-4
    eval_users: int = 2000  # validation users decoded at each validation
    beam: int = 20
    cold_share: float = 0.2  # cold-start = this share of items, least frequent in training
    seed: int = 0
    time_budget_s: float | None = None  # stop at the first validation past it
    nll_weight: float | None = None  # policy methods: overrides the method's NLL weight
    dpo: DPOConfig = field(default_factory=DPOConfig)
    pg: PGConfig = field(default_factory=PGConfig)


@dataclass
class AlignResult:
    decoder: SIDDecoder
    cold: np.ndarray  # (n_items,) bool: the cold-start items of this run
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    seconds: float = 0.0
    stopped_by: str = "done"


def align(
    decoder: SIDDecoder,
    store: TokenizerStore,
    dataset: Dataset,
    split: Split,
    cfg: AlignConfig,
    device: torch.device,
    sasrec: SASRec | None = None,
    progress: bool = True,
) -> AlignResult:
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; expected one of {', '.join(METHODS)}")
    torch.manual_seed(cfg.seed)
    cold = cold_start_mask(split.train, split.n_items, cfg.cold_share)
    valid = subset(split.valid, cfg.eval_users, cfg.seed)
    selection = Selection(
        decoder.to(device), store, valid, cold, device, cfg.beam, time_budget_s=cfg.time_budget_s
    )
    policy = Policy(decoder, store, device, cfg.lr, cfg.seed)
    prompts = last_positions(split)
    start, stopped = time.perf_counter(), ["done"]

    def validate(step: int, **stats) -> bool:
        row = selection.check(step, **stats)
        if not progress:  # unattended runs log each validation
            print(f"step {step} {stats} valid ndcg@10 {row['ndcg@10']:.4f}", flush=True)
        over = selection.over_budget()
        if over:
            stopped[0] = "time budget"
        return not over

    validate(0, stage="sft")
    columns = [TextColumn(cfg.method), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, disable=not progress) as bar:
        if cfg.method == "sdpo":
            feedback = rated_prompts(dataset, split, cfg.dpo.rejected)
            per_stage = -(-len(prompts) // cfg.dpo.batch_size) * cfg.dpo.epochs
            task = bar.add_task("dpo", total=per_stage * len(stages(feedback)))
            count = [0]

            def after_stage(name: str, loss: float, pairs: int) -> bool:
                count[0] += 1
                return validate(count[0], stage=name, train_loss=loss, pairs=pairs)

            progressive_dpo(
                policy, prompts, feedback, cfg.dpo, after_stage, lambda: bar.advance(task)
            )
        else:
            if sasrec is None:
                raise ValueError(f"{cfg.method} needs the SASRec reward model")
            pg = cfg.pg
            if cfg.method == "grpo-sr":  # GenRec's reward is the hybrid accuracy reward alone
                pg = replace(pg, weights={"accuracy": 1.0})
            objective = PG_METHODS[cfg.method]
            if cfg.nll_weight is not None:
                objective = replace(objective, nll_weight=cfg.nll_weight)
            task = bar.add_task("pg", total=-(-len(prompts) // pg.batch_size) * pg.epochs)
            group_policy_optimisation(
                policy, prompts, RewardModel(sasrec, device, pg.rewards.rm_top),
                torch.from_numpy(cold), objective, pg,
                lambda step, stats: validate(step, stage="pg", **stats),
                lambda: bar.advance(task),
            )  # fmt: skip
    return AlignResult(
        selection.restore(), cold, selection.history, selection.best_step,
        time.perf_counter() - start, stopped[0],
    )  # fmt: skip
