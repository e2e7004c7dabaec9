"""`reports/offline_eval.*`: one row per dataset × decoder variant, SASRec from the baselines
report (same harness, same protocol) beside each dataset, and training curves as PNG."""

from __future__ import annotations

import json
from pathlib import Path

from genrec.atomic import locked
from genrec.bench.report import markdown_table, merge_rows, plot_curves

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")
COLUMNS = (
    "dataset", "model", "ids", *METRICS, "invalid_rate", "hallucination_rate", "params",
    "prompt_tokens", "train_seconds", "hardware", "command",
)  # fmt: skip


def _sasrec_rows(baselines: Path, datasets: set[str]) -> list[dict]:
    if not baselines.exists():
        return []
    rows = json.loads(baselines.read_text())["rows"]
    return [r | {"ids": "-"} for r in rows if r["model"] == "sasrec" and r["dataset"] in datasets]


def write_offline_report(
    row: dict, history: list[dict], path: Path, baselines: Path = Path("reports/baselines.json")
) -> str:
    """Merge one decoder row into the JSON report, draw its curves, rewrite the Markdown."""
    with locked(path):
        merged = merge_rows(path, [row], key=("dataset", "model", "ids", "run_id"))
        _write_markdown(merged, path, baselines)
    slug = f"{row['dataset']}_{row['model']}_{row['ids']}".replace(" ", "_").replace(":", "-")
    plot_curves(history, path.parent / f"decoder_{slug}.png", f"{row['model']} on {row['dataset']}")
    return path.with_suffix(".md").read_text()


def _write_markdown(merged: list[dict], path: Path, baselines: Path) -> None:
    shown = sorted(
        merged + _sasrec_rows(baselines, {r["dataset"] for r in merged}),
        key=lambda r: (r["dataset"], r["model"] != "sasrec", r["model"], r["ids"]),
    )
    header = (
        "# Offline evaluation of the decoder (leave-one-out, full catalogue, beam 20 over the "
        "trie)\n\n"
        f"Generated from `{path.name}`; SASRec rows come from `{baselines.name}` (same harness). "
        "`ids` = tokenizer method:signals; `prompt_tokens` = prompt length for a 20-item "
        "history; `hallucination_rate` = share of unconstrained beam-search outputs that name no "
        "item. Each row names its command and hardware.\n\n"
    )
    path.with_suffix(".md").write_text(header + markdown_table(shown, COLUMNS))
