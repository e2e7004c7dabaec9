"""`reports/alignment.*`: per dataset, the SFT start and each alignment method from it, on the
test split — accuracy, cold-start exposure and recall, entropy of exposure — with validation
curves per method as PNG."""

from __future__ import annotations

from pathlib import Path

from genrec.bench.report import pyplot, save_figure, write_merged

COLUMNS = (
    "dataset", "method", "recall@5", "recall@10", "ndcg@5", "ndcg@10", "coldstart_share@10",
    "coldstart_recall@10", "entropy@10", "invalid_rate", "best_step", "seconds", "feedback",
    "hardware", "command",
)  # fmt: skip
CURVES = ("ndcg@10", "coldstart_share@10", "entropy@10")


def write_alignment_report(rows: list[dict], path: Path) -> str:
    """Merge rows (keyed by dataset, method, start checkpoint), rewrite the Markdown and the
    dataset's curve plot."""
    header = (
        "# Preference alignment from one SFT checkpoint per dataset (test split, beam 20)\n\n"
        f"Generated from `{path.name}`. Cold-start items: the 20 % of the catalogue least "
        "frequent in the training sequences. `coldstart_share@10`: share of top-10 slots "
        "holding cold-start items; `coldstart_recall@10`: Recall@10 over test users whose "
        "target is cold-start; `entropy@10`: entropy (nats) of the item distribution over "
        "all users' top-10. `best_step`: the validation checkpoint kept (0 = the SFT start). "
        "`feedback`: where DPO's preferences came from. Each row names its command and "
        "hardware.\n\n"
    )
    merged = write_merged(
        path, rows, ("dataset", "method", "start"), header, COLUMNS,
        order=lambda r: (r["dataset"], r["method"] != "sft", r["method"]),
    )  # fmt: skip
    for dataset in {r["dataset"] for r in rows}:
        _plot([r for r in merged if r["dataset"] == dataset and r.get("curve")],
              path.parent / f"alignment_{dataset}.png", dataset)  # fmt: skip
    return path.with_suffix(".md").read_text()


def _plot(rows: list[dict], path: Path, dataset: str) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(CURVES), figsize=(12, 3.3))
    for row in sorted(rows, key=lambda r: r["method"]):
        steps = [c["step"] for c in row["curve"]]
        for ax, metric in zip(axes, CURVES, strict=True):
            ax.plot(steps, [c[metric] for c in row["curve"]], marker=".", label=row["method"])
    for ax, metric in zip(axes, CURVES, strict=True):
        ax.set(xlabel="validation checkpoint (step or stage)", ylabel=f"valid {metric}")
    axes[0].legend()
    fig.suptitle(f"Alignment on {dataset} (validation users; step 0 = SFT start)")
    save_figure(fig, path)
