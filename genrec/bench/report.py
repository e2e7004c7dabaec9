"""Benchmark reports: rows merged into a JSON file by key, mirrored as a Markdown table.

Merging lets runs on different machines (a GPU run for Beauty, a CPU run for the rest) fill one
report without erasing each other; every row says which command and hardware produced it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from genrec.atomic import locked


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """The mean and sample standard deviation of seeds' figures (0 spread for one seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def merge_rows(path: Path, rows: list[dict], key: Sequence[str]) -> list[dict]:
    """Replace rows of `path` that share `key` with `rows`, keep the rest, write and return all.
    A key a row lacks counts as "" (rows written before that key existed)."""
    existing = json.loads(path.read_text())["rows"] if path.exists() else []

    def ident(r: dict) -> tuple:
        return tuple(r.get(k, "") for k in key)

    fresh = {ident(r) for r in rows}
    merged = [r for r in existing if ident(r) not in fresh] + rows
    merged.sort(key=lambda r: tuple(_sortable(v) for v in ident(r)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": merged}, indent=2) + "\n")
    return merged


def write_merged(
    path: Path,
    rows: list[dict],
    key: Sequence[str],
    header: str,
    columns: Sequence[str],
    order: Callable[[dict], tuple] | None = None,
) -> list[dict]:
    """Under the lock: merge `rows` into `path` (JSON) and rewrite its Markdown as `header` plus
    the table of every row (in `order`, if given) → all merged rows."""
    with locked(path):
        merged = merge_rows(path, rows, key)
        shown = merged if order is None else sorted(merged, key=order)
        path.with_suffix(".md").write_text(header + markdown_table(shown, columns))
    return merged


def _sortable(value: object) -> tuple:
    """Numbers before strings, numbers by value (so batch 16 sorts before batch 256)."""
    return (0, value, "") if isinstance(value, int | float) else (1, 0, str(value))


def markdown_table(rows: list[dict], columns: Sequence[str]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported on first use: only the
    plots need it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Lay the figure out, write it as a PNG (creating its folder) and free it."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def plot_curves(history: list[dict], path: Path, title: str) -> None:
    """Training loss and validation NDCG@10 per epoch, side by side."""
    plt = pyplot()

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_ndcg) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_loss.plot(epochs, [h["loss"] for h in history])
    ax_loss.set(xlabel="epoch", ylabel="train cross-entropy", title="loss")
    ax_ndcg.plot(epochs, [h["ndcg@10"] for h in history], color="tab:orange")
    ax_ndcg.set(xlabel="epoch", ylabel="valid NDCG@10", title="validation")
    fig.suptitle(title)
    save_figure(fig, path)
