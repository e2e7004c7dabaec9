"""`genrec tokenize`: features → quantizer (RQ-VAE, BLOGER or RQ-KMeans) → unique SIDs, user
SCIDs, trie.

RQ-KMeans (residual k-means on the concatenated features, nothing trained) is the baseline the
learned RQ-VAE must beat. BLOGER continues the RQ-VAE's item half with a recommender in the loop.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from genrec.data.schema import Dataset
from genrec.data.split import leave_one_out
from genrec.device import reproducible
from genrec.errors import GenrecError
from genrec.tokenizer.bloger import BlogerConfig, train_bloger
from genrec.tokenizer.quantizer import ResidualQuantizer
from genrec.tokenizer.rqvae import RQVAEConfig
from genrec.tokenizer.sids import add_collision_level, code_stats
from genrec.tokenizer.signals import build_features, interaction_pairs
from genrec.tokenizer.store import TokenizerStore
from genrec.tokenizer.train import TokenizerTrainConfig, train_dual_rqvae
from genrec.tokenizer.trie import Trie

METHODS = ("rqvae", "rqkmeans", "bloger")


@dataclass(frozen=True)
class TokenizeConfig:
    method: str = "rqvae"
    signals: tuple[str, ...] = ("text", "collab")
    model: RQVAEConfig = field(default_factory=RQVAEConfig)
    train: TokenizerTrainConfig = field(default_factory=TokenizerTrainConfig)
    bloger: BlogerConfig = field(default_factory=BlogerConfig)  # method "bloger" only
    dense_levels: int = 2  # trie depths kept as dense tables


@dataclass
class Quantized:
    item_codes: np.ndarray  # (n_items, levels)
    user_codes: np.ndarray  # (n_users, levels)
    fallback_user: np.ndarray  # (levels,)
    recon_mse: float  # item reconstruction error in feature space
    codebooks: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]
    extra: dict[str, float] = field(default_factory=dict)  # method-specific metrics


def _rqvae(
    item_x: torch.Tensor,
    user_x: torch.Tensor,
    pairs: torch.Tensor,
    next_pairs: torch.Tensor,
    train: list[np.ndarray],
    cfg: TokenizeConfig,
    device: torch.device,
    progress: bool,
) -> Quantized:
    models = train_dual_rqvae(
        item_x, user_x, pairs, next_pairs, cfg.model, cfg.train, device, progress
    )
    item, user = models.item, models.user
    extra = {}
    if cfg.method == "bloger":
        bilevel = train_bloger(item, item_x, train, cfg.bloger, device, progress)
        extra = {
            "bloger_seconds": round(bilevel.seconds, 3),  # a short run takes well under 0.1 s
            "conflict_share": bilevel.conflict_share,
            "rec_loss_start": bilevel.history[0]["rec_loss"] if bilevel.history else 0.0,
            "rec_loss_end": bilevel.history[-1]["rec_loss"] if bilevel.history else 0.0,
        }
    item_x, user_x = item_x.to(device), user_x.to(device)
    item_codes = item.encode(item_x)
    with torch.no_grad():
        recon = torch.nn.functional.mse_loss(item.reconstruct(item_codes), item_x).item()
    weights = {f"item.{k}": v for k, v in item.state_dict().items()}
    weights |= {f"user.{k}": v for k, v in user.state_dict().items()}
    return Quantized(
        item_codes.cpu().numpy(),
        user.encode(user_x).cpu().numpy(),
        user.encode(user_x.mean(0, keepdim=True))[0].cpu().numpy(),
        recon,
        {"item": item.quantizer.codebooks.detach(), "user": user.quantizer.codebooks.detach()},
        weights,
        extra,
    )


def _rqkmeans(
    item_x: torch.Tensor, user_x: torch.Tensor, cfg: TokenizeConfig, device: torch.device
) -> Quantized:
    quantizers = {}
    for name, x in (("item", item_x), ("user", user_x)):
        q = ResidualQuantizer(cfg.model.levels, cfg.model.codebook_size, x.shape[1]).to(device)
        q.init_kmeans(x.to(device), cfg.train.seed)
        quantizers[name] = q
    item_codes = quantizers["item"].encode(item_x.to(device))
    recon = torch.nn.functional.mse_loss(
        quantizers["item"].decode(item_codes), item_x.to(device)
    ).item()
    user = quantizers["user"]
    return Quantized(
        item_codes.cpu().numpy(),
        user.encode(user_x.to(device)).cpu().numpy(),
        user.encode(user_x.to(device).mean(0, keepdim=True))[0].cpu().numpy(),
        recon,
        {k: q.codebooks.detach() for k, q in quantizers.items()},
        {},
    )


def tokenize(
    dataset: Dataset,
    cfg: TokenizeConfig,
    artifacts: Path,
    device: torch.device,
    progress: bool = True,
) -> tuple[TokenizerStore, dict]:
    """→ the store (not yet saved) and its metrics; the same bytes for the same seed on the
    CPU (`reproducible`)."""
    if cfg.method not in METHODS:
        raise GenrecError(f"unknown method {cfg.method!r}; expected one of {', '.join(METHODS)}")
    with reproducible(device):
        return _tokenize(dataset, cfg, artifacts, device, progress)


def _tokenize(
    dataset: Dataset, cfg: TokenizeConfig, artifacts: Path, device: torch.device, progress: bool
) -> tuple[TokenizerStore, dict]:
    split = leave_one_out(dataset)
    features = build_features(dataset, split, cfg.signals, artifacts, device, progress)
    start = time.perf_counter()
    if cfg.method in ("rqvae", "bloger"):
        pairs, next_pairs = interaction_pairs(split)
        q = _rqvae(
            features.item, features.user, pairs, next_pairs, split.train, cfg, device, progress
        )
    else:
        q = _rqkmeans(features.item, features.user, cfg, device)
    seconds = time.perf_counter() - start

    sids = add_collision_level(q.item_codes, cfg.model.codebook_size)
    metrics = {
        **code_stats(q.item_codes, cfg.model.codebook_size),
        "recon_mse": q.recon_mse,
        "seconds": round(seconds, 1),
        **q.extra,
    }
    user_stats = code_stats(q.user_codes, cfg.model.codebook_size)
    metrics["user_distinct_scids"] = user_stats["distinct_codes"]
    manifest = {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint(),
        **({"data_source": dataset.meta["source"]} if "source" in dataset.meta else {}),
        "method": cfg.method,
        "signals": list(features.signals),
        "config": asdict(cfg),
        "metrics": metrics,
    }
    store = TokenizerStore(
        manifest,
        [i.id for i in dataset.items],
        sids,
        [u.id for u in dataset.users],
        q.user_codes.astype(np.int64),
        q.fallback_user.astype(np.int64),
        q.codebooks,
        Trie.build(sids, cfg.model.codebook_size, cfg.dense_levels),
        q.weights,
    )
    return store, metrics


def variant_name(config: dict) -> str:
    """What sets a run apart beyond method and signals (empty for the defaults)."""
    weight = config["train"]["contrastive_weight"]
    if config["method"] == "bloger":
        b = config["bloger"]
        switches = [("no meta", not b["meta"]), ("no surgery", not b["surgery"]),
                    (f"λ {b['rec_weight']:g}", b["rec_weight"] != 1.0)]  # fmt: skip
        return ", ".join(name for name, on in switches if on)
    return f"contrastive {weight:g}" if config["method"] == "rqvae" and weight > 0 else ""
