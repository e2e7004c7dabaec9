"""What a dataset holds before anything is trained on it: counts, how long the users'
sequences are, how much item text there is, and what preparation dropped (`genrec data
inspect`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from genrec.data.source import DataSource


def inspect(source: DataSource, data_dir: Path | None = None) -> dict:
    """One flat row: the dataset's counts, sequence-length statistics, text coverage, the
    filters' drops, and how long reading it took (and whether it came from the cache)."""
    start = time.perf_counter()
    if source.is_named:
        dataset, filtered = source.load(data_dir), None
    else:
        dataset, filtered = source.prepared()
    seconds = time.perf_counter() - start
    lengths = np.array([len(u) for u in dataset.users])
    items = dataset.items
    row: dict = {
        **dataset.stats(),
        "evaluated_users": int((lengths >= 3).sum()),  # leave-one-out needs 3 (split.py)
        "seq_len_min": int(lengths.min()),
        "seq_len_median": float(np.median(lengths)),
        "seq_len_mean": round(float(lengths.mean()), 2),
        "seq_len_p90": round(float(np.percentile(lengths, 90)), 1),
        "seq_len_max": int(lengths.max()),
        "density": round(dataset.n_interactions / (dataset.n_users * dataset.n_items), 6),
        "text_coverage": round(sum(i.has_text for i in items) / len(items), 4),
        **{
            f"with_{field}": sum(bool(getattr(i, field)) for i in items)
            for field in ("title", "brand", "categories", "description")
        },
        "with_price": sum(i.price is not None for i in items),
        "tokenizer_signals": "text+collab" if dataset.has_text else "collab",
        "read_seconds": round(seconds, 3),
    }
    kept = dataset.meta.get("filtered")
    if kept is not None:
        row |= kept | {"from_cache": filtered is None}
    return row
