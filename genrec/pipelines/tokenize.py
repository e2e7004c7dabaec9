"""`run_tokenize`: a dataset → item semantic IDs and user SCIDs (RQ-VAE, BLOGER or RQ-KMeans over
the chosen signals) → a new tokenizer-store version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genrec.pipelines.config import STORE, option

if TYPE_CHECKING:
    import torch

    from genrec.data.schema import Dataset
    from genrec.data.source import DataSource
    from genrec.tokenizer.store import TokenizerStore


@dataclass(frozen=True)
class TokenizeRun:
    """What a tokenizer run does (defaults: `genrec tokenize`'s), on the data a `DataSource`
    names."""

    method: str = option(
        "rqvae", "rqvae (learned), bloger (RQ-VAE + recommender in the loop) or rqkmeans"
    )
    signals: str | None = option(None, "Comma list of text, collab [default: all the dataset has]")
    recon_epochs: int = option(200, "Phase 1: reconstruction epochs")
    align_epochs: int = option(100, "Phase 2: + U2I alignment epochs")
    u2i_weight: float = option(0.1)
    contrastive: float = option(0.0, "HiGR contrastive weight (0 = off)")
    bloger_steps: int = option(400, "BLOGER: bi-level tokenizer updates")
    rec_weight: float = option(1.0, "BLOGER: λ of the recommendation loss")
    meta: bool = option(True, "BLOGER: one-step lookahead (meta-gradient)")
    surgery: bool = option(True, "BLOGER: PCGrad on conflicting gradients")
    seed: int = option(0)
    device: str = option("auto", "auto, cpu, cuda, ...")


@dataclass
class TokenizeOutcome:
    store: TokenizerStore  # the version built
    path: Path  # where it was saved
    signals: tuple[str, ...]  # the signals it was built from
    device: torch.device


def run_tokenize(
    source: DataSource,
    run: TokenizeRun,
    store: Path = STORE,
    artifacts: Path = Path("artifacts"),
    data_dir: Path | None = None,
    progress: bool = True,
    dataset: Dataset | None = None,
) -> TokenizeOutcome:
    """`store`: the tokenizer store root (the version goes to `<store>/<dataset>/vN`);
    `artifacts`: where the collaborative signal's SASRec and the text embeddings are cached;
    `dataset`: `source` already read (by `genrec run`, which reads it once for every stage)."""
    from genrec.data import load_dataset
    from genrec.device import resolve_device
    from genrec.tokenizer.bloger import BlogerConfig
    from genrec.tokenizer.pipeline import TokenizeConfig, tokenize
    from genrec.tokenizer.signals import parse_signals
    from genrec.tokenizer.train import TokenizerTrainConfig

    data = dataset or load_dataset(source, data_dir)
    chosen = parse_signals(run.signals or ("text,collab" if data.has_text else "collab"), data)
    cfg = TokenizeConfig(
        method=run.method, signals=chosen,
        train=TokenizerTrainConfig(
            recon_epochs=run.recon_epochs, align_epochs=run.align_epochs,
            u2i_weight=run.u2i_weight, contrastive_weight=run.contrastive, seed=run.seed,
        ),
        bloger=BlogerConfig(
            steps=run.bloger_steps, rec_weight=run.rec_weight, meta=run.meta,
            surgery=run.surgery, seed=run.seed,
        ),
    )  # fmt: skip
    device = resolve_device(run.device)
    built, _ = tokenize(data, cfg, artifacts, device, progress)
    return TokenizeOutcome(built, built.save(store), chosen, device)
