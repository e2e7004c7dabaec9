"""One data model for every dataset: an item table and users with ordered interactions.

Item indices are dense, 0-based integers into `Dataset.items`; models that need a padding
id shift them themselves. Optional fields are None when the source does not have them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from genrec.errors import DataError


@dataclass(frozen=True)
class Item:
    id: str  # the source's own id (ASIN, MovieLens id, ...)
    title: str | None = None
    brand: str | None = None
    categories: tuple[str, ...] = ()
    price: float | None = None
    description: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.title or self.brand or self.categories or self.description)


@dataclass(frozen=True)
class User:
    id: str  # the source's own id
    items: np.ndarray  # (L,) int64 item indices in chronological order
    ratings: np.ndarray | None = None  # (L,) float32, 1-5, where the source has them
    timestamps: np.ndarray | None = None  # (L,) int64 Unix seconds, where the source has them

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Dataset:
    name: str
    items: list[Item]
    users: list[User]
    source: str = ""  # where it was read from, for reports
    meta: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_interactions(self) -> int:
        return sum(len(u) for u in self.users)

    @property
    def has_text(self) -> bool:
        return any(item.has_text for item in self.items)

    @property
    def has_ratings(self) -> bool:
        return any(u.ratings is not None for u in self.users)

    @property
    def has_timestamps(self) -> bool:
        return any(u.timestamps is not None for u in self.users)

    def validate(self) -> Dataset:
        """Check the invariants every consumer relies on; return self for chaining."""
        for u in self.users:
            if len(u.items) == 0:
                raise DataError(f"{self.name}: user {u.id} has no interactions")
            if u.items.min() < 0 or u.items.max() >= self.n_items:
                raise DataError(f"{self.name}: user {u.id} refers to an item outside the table")
            for extra in (u.ratings, u.timestamps):
                if extra is not None and len(extra) != len(u.items):
                    raise DataError(f"{self.name}: user {u.id} has misaligned ratings/timestamps")
        return self

    def fingerprint(self) -> str:
        """A hash of the item table's ids and every interaction sequence: artifacts built from
        one version of a dataset refuse to load against another."""
        digest = hashlib.sha256(self.name.encode())
        for item in self.items:
            digest.update(item.id.encode() + b"\x00")
        for user in self.users:
            digest.update(user.items.astype("<i8").tobytes() + b"\xff")
        return digest.hexdigest()[:32]

    def stats(self) -> dict[str, int | bool | str]:
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "items_with_text": sum(item.has_text for item in self.items),
            "ratings": self.has_ratings,
            "timestamps": self.has_timestamps,
        }
