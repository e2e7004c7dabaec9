"""Slate training (HiGR, seed 004): teach an SFT decoder to generate whole pages.

Each training example is a prompt and the page of the next k items the user took (a shorter
page at the end of a sequence). Three terms, from the same batch:
- the page in the slate layout (`SIDDecoder.slate_logprobs`: plan, then slots): its NLL;
- the listwise preference term: ORPO's odds ratio of that page against the page the model
  itself generates for the prompt (regenerated every epoch, cut to the true page's length);
  a model that already generates the true page has no pair;
- page-wise NTP on the same page, so beam-search mode keeps what SFT taught it.
Most pages of sparse data are shorter than k, so the plan's later slots would learn from few
examples; `complete_pages` fills a short page's empty slots, after its real items, with the
starting model's own beam-search top items (a teacher completion; page-wise NTP still sees only
the real items).
Unlike preference alignment, this is supervised training on a new layout, so it runs with
dropout on. The weights are validated on generated pages (slate NDCG@10), the start included;
the best are kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genrec.align.losses import orpo_loss
from genrec.align.policy import Policy
from genrec.align.prompts import Prompts
from genrec.align.rollouts import beam_candidates
from genrec.align.selection import Selection
from genrec.data.split import Split
from genrec.eval.metrics import cold_start_mask
from genrec.model.decoder import SIDDecoder
from genrec.tokenizer.store import TokenizerStore
from genrec.train.examples import page_examples
from genrec.train.trainer import subset


@dataclass(frozen=True)
class SlateConfig:
    slots: int = 10  # k: items per page
    epochs: int = 5
    batch_size: int = 256
    lr: float = 3e-4
    orpo_weight: float = 0.5  # weight of the listwise odds-ratio term
    ntp_weight: float = 1.0  # weight of page-wise NTP (keeps beam-search mode)
    dropout: float = 0.1  # on the input embeddings; attention dropout is the checkpoint's
    complete_pages: bool = False  # fill short pages with the starting model's beam top items
    eval_users: int = 2000
    beam: int = 20
    seed: int = 0
    time_budget_s: float | None = None  # stop at the first validation past it


@dataclass
class SlateResult:
    decoder: SIDDecoder
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    seconds: float = 0.0
    stopped_by: str = "epochs"


def complete_pages(page: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """page (N, k) right-padded with -1, candidates (N, c) distinct, best first → each page with its
    empty slots filled, in order, by the first candidates not already on it."""
    k = page.shape[1]
    fresh = candidates.masked_fill((candidates[..., None] == page[:, None, :]).any(-1), -1)
    fresh = fresh.gather(1, torch.sort((fresh < 0).to(torch.int8), dim=1, stable=True).indices)
    slot, filled = torch.arange(k)[None], (page >= 0).sum(1, keepdim=True)
    fill = fresh.gather(1, (slot - filled).clamp(0, fresh.shape[1] - 1))
    return torch.where(slot < filled, page, fill)


def slate_step(
    policy: Policy, cfg: SlateConfig, users: torch.Tensor, history: torch.Tensor,
    page: torch.Tensor, rejected: torch.Tensor, real: torch.Tensor,
) -> dict[str, float]:  # fmt: skip
    """One update on a batch (`page` the slate target, `real` its observed items only) → its
    loss terms."""
    decoder, dev = policy.decoder, policy.device
    history, page, rejected, real = history.to(dev), page.to(dev), rejected.to(dev), real.to(dev)
    scids = None if policy.user_scids is None else policy.user_scids[users.to(dev)]
    rejected = rejected.masked_fill(page < 0, -1)  # compare pages of equal length
    depth = decoder.vocab.sid_depth
    with policy.autocast:
        chosen_logp = decoder.slate_logprobs(history, page, scids).sum((1, 2))
        n_tokens = ((page >= 0).sum(1) * depth).clamp_min(1)
        nll = -chosen_logp.sum() / n_tokens.sum()
        loss = nll
        stats = {"slate_nll": nll.item()}
        pairs = (rejected != page).any(1) & (page >= 0).any(1)
        if cfg.orpo_weight > 0 and pairs.any():
            rejected_logp = decoder.slate_logprobs(
                history[pairs], rejected[pairs], None if scids is None else scids[pairs]
            ).sum((1, 2))
            odds = orpo_loss(
                chosen_logp[pairs] / n_tokens[pairs], rejected_logp / n_tokens[pairs]
            ).mean()
            loss = loss + cfg.orpo_weight * odds
            stats["orpo"] = odds.item()
        if cfg.ntp_weight > 0:
            ntp = decoder(history, real, scids)
            loss = loss + cfg.ntp_weight * ntp
            stats["ntp"] = ntp.item()
    stats["loss"] = policy.step(loss)
    return stats


def train_slates(
    decoder: SIDDecoder,
    store: TokenizerStore,
    split: Split,
    cfg: SlateConfig,
    device: torch.device,
    progress: bool = True,
) -> SlateResult:
    torch.manual_seed(cfg.seed)
    policy = Policy(decoder, store, device, cfg.lr, cfg.seed)
    decoder.dropout.p = cfg.dropout
    cold = cold_start_mask(split.train, split.n_items)
    selection = Selection(
        policy.decoder, store, subset(split.valid, cfg.eval_users, cfg.seed), cold, device,
        cfg.beam, slate=True, time_budget_s=cfg.time_budget_s,
    )  # fmt: skip
    examples = page_examples(split, cfg.slots)
    prompts = Prompts(examples.users, examples.history, examples.page[:, 0])
    pages = examples.page
    if cfg.complete_pages:
        teacher = beam_candidates(decoder, store, prompts, max(cfg.beam, cfg.slots), device)
        pages = complete_pages(examples.page, teacher.cpu())
    start, stopped_by = time.perf_counter(), "epochs"
    selection.check(0, stage="start")
    columns = [TextColumn("slate"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn()]  # fmt: skip
    batches = -(-len(examples) // cfg.batch_size)
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=batches * cfg.epochs, status="")
        for epoch in range(1, cfg.epochs + 1):
            rejected = None
            if cfg.orpo_weight > 0:  # the pages the current weights generate
                rejected = beam_candidates(decoder, store, prompts, cfg.slots, device, slate=True)
            sums: dict[str, float] = {}
            decoder.train()  # dropout on for the updates (Policy starts it in eval mode)
            for rows in policy.batches(len(examples), cfg.batch_size):
                stats = slate_step(
                    policy, cfg, examples.users[rows], examples.history[rows], pages[rows],
                    pages[rows] if rejected is None else rejected[rows.to(rejected.device)],
                    examples.page[rows],
                )  # fmt: skip
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0.0) + value
                bar.advance(task)
            means = {key: value / batches for key, value in sums.items()}
            row = selection.check(epoch, stage="slate", **means)
            status = f"loss {means['loss']:.3f} valid slate NDCG@10 {row['ndcg@10']:.4f}"
            bar.update(task, status=status)
            if not progress:
                print(f"epoch {epoch} {status}", flush=True)
            if selection.over_budget():
                stopped_by = "time budget"
                break
    return SlateResult(
        selection.restore(), selection.history, selection.best_step,
        time.perf_counter() - start, stopped_by,
    )  # fmt: skip
