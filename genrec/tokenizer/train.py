"""Training of the dual (item + user) RQ-VAE in Align3GR's two phases.

Phase 1 trains reconstruction + quantization only; phase 2 adds the U2I in-batch softmax
between user and item SC embeddings of observed (user, item) pairs. HiGR's contrastive term
on consecutively consumed items is optional (weight 0 = off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genrec.tokenizer.losses import contrastive, in_batch_softmax
from genrec.tokenizer.rqvae import RQVAE, RQVAEConfig


@dataclass(frozen=True)
class TokenizerTrainConfig:
    recon_epochs: int = 200  # phase 1: reconstruction + quantization
    align_epochs: int = 100  # phase 2: + U2I alignment
    batch_size: int = 1024  # items (and user-item pairs) per step
    lr: float = 1e-3  # AdamW
    u2i_weight: float = 0.1  # α of the U2I term in phase 2
    contrastive_weight: float = 0.0  # HiGR contrastive term; 0 disables it
    temperature: float = 0.1  # of both alignment terms
    freeze_resets: int = 20  # stop re-seeding dead codes this many epochs before the end
    seed: int = 0


@dataclass
class DualRQVAE:
    item: RQVAE
    user: RQVAE | None
    history: list[dict[str, float]] = field(default_factory=list)


def _sample(n: int, size: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(n, (size,), generator=gen).to(device)


def train_dual_rqvae(
    item_x: torch.Tensor,
    user_x: torch.Tensor | None,
    pairs: torch.Tensor,
    next_pairs: torch.Tensor,
    model_cfg: RQVAEConfig,
    cfg: TokenizerTrainConfig,
    device: torch.device,
    progress: bool = True,
) -> DualRQVAE:
    """item_x (n_items, Di), user_x (n_users, Du) or None, pairs (P, 2) observed (user, item),
    next_pairs (Q, 2) consecutive (item, next item) → trained models and per-epoch losses."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    item_x = item_x.to(device)
    item = RQVAE(item_x.shape[1], model_cfg).to(device)
    user = RQVAE(user_x.shape[1], model_cfg).to(device) if user_x is not None else None
    user_x = user_x.to(device) if user_x is not None else None
    pairs, next_pairs = pairs.to(device), next_pairs.to(device)
    with torch.no_grad():
        item.quantizer.init_kmeans(item.encoder(item_x), cfg.seed)
        if user is not None:
            user.quantizer.init_kmeans(user.encoder(user_x), cfg.seed)
    params = list(item.parameters()) + (list(user.parameters()) if user else [])
    opt = torch.optim.AdamW(params, lr=cfg.lr)

    epochs = cfg.recon_epochs + cfg.align_epochs
    steps = max(1, -(-len(item_x) // cfg.batch_size))
    history: list[dict[str, float]] = []
    columns = [
        TextColumn("RQ-VAE"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=epochs, status="")
        for epoch in range(epochs):
            align = epoch >= cfg.recon_epochs
            item.train()
            totals: dict[str, float] = {}
            order = torch.randperm(len(item_x), generator=gen).to(device)
            for step in range(steps):
                out = item(item_x[order[step * cfg.batch_size : (step + 1) * cfg.batch_size]])
                terms = {"item_recon": out.recon_loss, "item_vq": out.vq_loss}
                if user is not None and len(pairs):
                    batch = pairs[_sample(len(pairs), cfg.batch_size, gen, device)]
                    u_out = user(user_x[batch[:, 0]])
                    terms |= {"user_recon": u_out.recon_loss, "user_vq": u_out.vq_loss}
                    if align:
                        i_z = item.encoder(item_x[batch[:, 1]])
                        terms["u2i"] = cfg.u2i_weight * in_batch_softmax(
                            u_out.z, i_z, cfg.temperature
                        )
                if cfg.contrastive_weight > 0 and len(next_pairs):
                    batch = next_pairs[_sample(len(next_pairs), cfg.batch_size, gen, device)]
                    a, b = item.encoder(item_x[batch[:, 0]]), item.encoder(item_x[batch[:, 1]])
                    terms["contrastive"] = cfg.contrastive_weight * contrastive(
                        a, b, cfg.temperature
                    )
                loss = sum(terms.values())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for k, v in terms.items():
                    totals[k] = totals.get(k, 0.0) + v.item() / steps
            if epoch < epochs - cfg.freeze_resets:
                with torch.no_grad():
                    totals["reset_codes"] = item.quantizer.reset_dead(item.encoder(item_x), gen)
                    if user is not None:
                        user.quantizer.reset_dead(user.encoder(user_x), gen)
            history.append({"epoch": epoch + 1, **totals})
            bar.update(
                task,
                advance=1,
                status=f"{'align' if align else 'recon'} "
                f"recon {totals['item_recon']:.4f} vq {totals['item_vq']:.4f}",
            )
    item.eval()
    if user is not None:
        user.eval()
    return DualRQVAE(item, user, history)
