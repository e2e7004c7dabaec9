"""From semantic codes to unique semantic IDs, and the statistics that say how good codes are."""

from __future__ import annotations

import numpy as np

from genrec.errors import GenrecError


def add_collision_level(codes: np.ndarray, codebook_size: int = 256) -> np.ndarray:
    """TIGER's extra level: items sharing all `L` codes get 0, 1, 2, ... (in item order) as an
    (L+1)-th token, so every item's SID is unique. codes (N, L) → sids (N, L+1)."""
    _, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    rank = np.empty(len(codes), np.int64)
    group_start = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
    sizes = np.diff(np.r_[group_start, len(codes)])
    rank[order] = np.arange(len(codes)) - np.repeat(group_start, sizes)
    if len(rank) and rank.max() >= codebook_size:
        raise GenrecError(
            f"{rank.max() + 1} items share one code, more than the collision level's "
            f"{codebook_size} tokens: the quantizer has collapsed"
        )
    return np.concatenate([codes, rank[:, None]], 1).astype(np.int64)


def code_stats(codes: np.ndarray, codebook_size: int = 256) -> dict[str, float]:
    """collision_rate: share of items whose full code is shared with another item;
    per level: utilization (distinct codes / K) and perplexity (exp of the usage entropy)."""
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    per_item = counts[inverse.reshape(-1)]
    stats: dict[str, float] = {
        "collision_rate": float(np.mean(per_item > 1)),
        "max_items_per_code": int(counts.max()),
        "distinct_codes": len(counts),
    }
    for level in range(codes.shape[1]):
        usage = np.bincount(codes[:, level], minlength=codebook_size) / len(codes)
        nz = usage[usage > 0]
        stats[f"utilization_l{level + 1}"] = float(np.mean(usage > 0))
        stats[f"perplexity_l{level + 1}"] = float(np.exp(-(nz * np.log(nz)).sum()))
    return stats
