"""The tokenizer's inputs: per item and per user, text and/or collaborative vectors, each block
L2-normalised so neither dominates the concatenation the fusion MLP reads.

Items: text = MiniLM of title / brand / categories / price; collab = SASRec's item embedding.
Users: text = mean text embedding of the items in their history; collab = SASRec's user vector.
A user's history here is everything before the test item, as at serving time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genrec.baselines.artifacts import load_embeddings, protocol_sasrec
from genrec.data.schema import Dataset
from genrec.data.split import Split
from genrec.errors import GenrecError
from genrec.tokenizer.text import embed_texts, item_text

SIGNALS = ("text", "collab")


@dataclass(frozen=True)
class Features:
    item: torch.Tensor  # (n_items, D_item)
    user: torch.Tensor  # (n_users, D_user)
    signals: tuple[str, ...]


def parse_signals(spec: str, dataset: Dataset) -> tuple[str, ...]:
    signals = tuple(s.strip() for s in spec.split(",") if s.strip())
    unknown = [s for s in signals if s not in SIGNALS]
    if unknown or not signals:
        raise GenrecError(
            f"unknown signals {spec!r}; expected a comma list of {', '.join(SIGNALS)}"
        )
    if "text" in signals and not dataset.has_text:
        raise GenrecError(f"{dataset.name} has no item text; use --signals collab")
    return signals


def build_features(
    dataset: Dataset,
    split: Split,
    signals: tuple[str, ...],
    artifacts: Path,
    device: torch.device,
    progress: bool = True,
) -> Features:
    item_blocks, user_blocks = [], []
    if "text" in signals:
        text = embed_texts(
            [item_text(i) for i in dataset.items], artifacts / "cache" / "text", device, progress
        )
        item_blocks.append(text)
        histories = [u.items[:-1] for u in dataset.users]
        user_blocks.append(F.normalize(torch.stack([text[h].mean(0) for h in histories]), dim=-1))
    if "collab" in signals:
        emb = load_embeddings(protocol_sasrec(dataset, split, artifacts, device, progress))
        item_blocks.append(F.normalize(emb["item"].float(), dim=-1))
        user_blocks.append(F.normalize(emb["user"].float(), dim=-1))
    return Features(torch.cat(item_blocks, 1), torch.cat(user_blocks, 1), signals)


def interaction_pairs(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Training interactions only: (user, item) pairs (P, 2) and (item, next item) pairs (Q, 2)."""
    users = np.concatenate([np.full(len(s), u) for u, s in enumerate(split.train)])
    items = np.concatenate(split.train)
    nxt = [np.stack([s[:-1], s[1:]], 1) for s in split.train if len(s) > 1]
    next_pairs = np.concatenate(nxt) if nxt else np.zeros((0, 2), np.int64)
    return torch.from_numpy(np.stack([users, items], 1)), torch.from_numpy(next_pairs)
