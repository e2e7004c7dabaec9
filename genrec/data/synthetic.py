"""The embedded default dataset: seeded, deterministic, and learnable.

Items belong to latent interest clusters, each with its own category path, brands, price
level and a Zipf popularity curve. Users mix a few clusters; each step either follows the
previous item's successors (Markov structure a sequential model can learn), stays in the
current cluster, or jumps to another preferred cluster. A slice of items is cold (rarely seen).
Ratings follow the user's affinity for the item's cluster. Same config + seed → same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrec.data.schema import Dataset, Item, User

DEPARTMENTS = ["Beauty", "Home", "Sports", "Garden", "Music", "Office", "Toys", "Kitchen"]
KINDS = [
    "Skin Care",
    "Hair Care",
    "Makeup",
    "Fragrance",
    "Bedding",
    "Lighting",
    "Running",
    "Cycling",
    "Camping",
    "Tools",
    "Planters",
    "Guitars",
    "Drums",
    "Paper",
    "Desks",
    "Puzzles",
    "Blocks",
    "Cookware",
    "Knives",
    "Coffee",
    "Bath",
    "Storage",
    "Yoga",
    "Audio",
]
ADJECTIVES = [
    "Classic",
    "Premium",
    "Compact",
    "Deluxe",
    "Natural",
    "Pro",
    "Ultra",
    "Essential",
    "Gentle",
    "Vintage",
    "Smart",
    "Travel",
    "Organic",
    "Heavy-Duty",
    "Mini",
    "Signature",
]
NOUNS = ["Set", "Kit", "Pack", "Bundle", "Edition", "Series", "Collection", "Model"]
SYLLABLES = ["ka", "lo", "mi", "ra", "ve", "no", "zu", "ti", "sa", "be", "do", "xi"]


@dataclass(frozen=True)
class SyntheticConfig:
    n_items: int = 2000  # catalogue size
    n_users: int = 5000  # number of user sequences
    n_clusters: int = 24  # latent interest clusters
    successors: int = 3  # Markov successors per item
    p_follow: float = 0.55  # P(next item is a successor of the previous one)
    p_stay: float = 0.25  # P(next item is drawn from the same cluster by popularity)
    min_length: int = 5  # every user has at least this many interactions (5-core like)
    mean_extra_length: float = 7.0  # mean of the geometric length beyond min_length
    max_length: int = 60  # longest sequence
    cold_fraction: float = 0.05  # share of items that are rarely interacted with
    seed: int = 0


def _brand(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))).capitalize()


def _make_items(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[list[Item], np.ndarray]:
    cluster_of = rng.permutation(np.arange(cfg.n_items) % cfg.n_clusters)
    brands = [[_brand(rng) for _ in range(4)] for _ in range(cfg.n_clusters)]
    price_level = rng.uniform(5, 80, size=cfg.n_clusters)
    items = []
    for i in range(cfg.n_items):
        c = int(cluster_of[i])
        department = DEPARTMENTS[c % len(DEPARTMENTS)]
        kind = KINDS[c % len(KINDS)]
        brand = str(rng.choice(brands[c]))
        title = f"{brand} {rng.choice(ADJECTIVES)} {kind} {rng.choice(NOUNS)} {i % 97 + 1}"
        price = round(float(price_level[c] * rng.lognormal(0, 0.3)), 2)
        items.append(
            Item(
                id=f"SYN{i:05d}",
                title=title,
                brand=brand,
                categories=(department, kind),
                price=price,
            )
        )
    return items, cluster_of


def _cdf(p: np.ndarray) -> np.ndarray:
    cdf = p.cumsum()
    return cdf / cdf[-1]


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """`rng.choice(len(cdf), p=...)` with the CDF built once: the same draw from the same
    stream (choice takes one uniform and bisects its CDF), without rebuilding it per call."""
    return int(cdf.searchsorted(rng.random(), side="right"))


SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
"""This generator's code, for caches of what it made."""

# Ten times the embedded default, for scale-out benchmarks (`-d synthetic-x10`).
X10 = SyntheticConfig(n_items=20_000, n_users=50_000)


def generate(cfg: SyntheticConfig | None = None, name: str = "synthetic") -> Dataset:
    cfg = cfg or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    items, cluster_of = _make_items(cfg, rng)

    members = [np.flatnonzero(cluster_of == c) for c in range(cfg.n_clusters)]
    weight = 1.0 / np.arange(1, cfg.n_items + 1) ** 0.8  # Zipf by a random rank
    weight = weight[rng.permutation(cfg.n_items)]
    cold = rng.choice(cfg.n_items, size=int(cfg.cold_fraction * cfg.n_items), replace=False)
    weight[cold] *= 0.02
    cluster_probs = [weight[m] / weight[m].sum() for m in members]
    successors = np.stack(
        [
            rng.choice(members[cluster_of[i]], size=cfg.successors, p=cluster_probs[cluster_of[i]])
            for i in range(cfg.n_items)
        ]
    )
    cluster_cdfs = [_cdf(p) for p in cluster_probs]

    def draw(c: int) -> int:
        return int(members[c][_pick(rng, cluster_cdfs[c])])

    users = []
    for u in range(cfg.n_users):
        pref = rng.dirichlet(np.full(cfg.n_clusters, 0.15))
        length = min(
            cfg.max_length, cfg.min_length + int(rng.geometric(1 / (1 + cfg.mean_extra_length))) - 1
        )
        pref_cdf = _cdf(pref)
        seq = [draw(_pick(rng, pref_cdf))]
        while len(seq) < length:
            r = rng.random()
            if r < cfg.p_follow:
                # = rng.choice(successors[seq[-1]]): the same draw, without choice's overhead
                seq.append(int(successors[seq[-1], rng.integers(cfg.successors, dtype=np.int64)]))
            elif r < cfg.p_follow + cfg.p_stay:
                seq.append(draw(int(cluster_of[seq[-1]])))
            else:
                seq.append(draw(_pick(rng, pref_cdf)))
        affinity = pref[cluster_of[seq]] * cfg.n_clusters  # > 1: the user likes that cluster
        ratings = np.clip(
            np.rint(3.2 + 0.9 * np.log(affinity + 1e-3) / 2 + rng.normal(0, 0.7, len(seq))), 1, 5
        )
        start = 1_600_000_000 + int(rng.integers(0, 30 * 86_400))
        gaps = rng.exponential(86_400, len(seq)).astype(np.int64) + 1
        users.append(
            User(
                id=f"U{u:05d}",
                items=np.asarray(seq, np.int64),
                ratings=ratings.astype(np.float32),
                timestamps=start + np.cumsum(gaps),
            )
        )
    return Dataset(
        name=name,
        items=items,
        users=users,
        source=f"generated (seed {cfg.seed})",
        meta={"config": cfg.__dict__},
    ).validate()
