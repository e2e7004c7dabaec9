"""reports/recipe.*: the default recipe and its ablations against the same-run SASRec, as the
mean and spread over seeds.

Inputs are what the runs leave behind, so the report is rebuilt from them at any time: each
decoder run's checkpoint (`genrec.json` holds its test row, with the full command), named
`<dataset>-<variant>-s<seed>`, and SASRec's rows per seed (`genrec baselines --seed S --report
…`). Rows are keyed by (dataset, variant), so one variant's seeds make one row and no variant
overwrites another.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from genrec.bench.report import mean_std, pyplot, save_figure, write_merged

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")
# The test row's other figures (`genrec.train.evaluation.test_metrics`), averaged where every
# seed has them.
EXTRA = tuple(f"{prefix}_{m}" for prefix in ("served", "sid_only", "dense_only", "beam20")
              for m in ("recall@10", "ndcg@10"))  # fmt: skip
COLUMNS = [
    "dataset", "variant", "seeds", "valid_recall@10", "valid_ndcg@10", *METRICS,
    "recall@10_std", "ndcg@10_std",
    "sasrec_recall@10", "sasrec_ndcg@10", "sasrec_recall@10_std", "sasrec_ndcg@10_std",
    "sasrec_h50_recall@10", "sasrec_h50_ndcg@10", "teacher_recall@10", *EXTRA,
    "dense_weight", "stopped_by", "invalid_rate", "params", "train_seconds", "hardware",
]  # fmt: skip


def decoder_runs(checkpoints: list[Path]) -> dict[tuple[str, str], list[dict]]:
    """Checkpoint folders `<dataset>-<variant>-s<seed>` → (dataset, variant) → test rows."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(checkpoints):
        meta = json.loads((path / "genrec.json").read_text())
        dataset, stem = meta["dataset"], path.name
        cut = stem.rindex("-s")
        variant, seed = stem[len(dataset) + 1 : cut], int(stem[cut + 2 :])
        runs.setdefault((dataset, variant), []).append(
            meta["test"] | {"seed": seed, "valid": _validation(meta)}
        )
    return runs


def _validation(meta: dict) -> dict:
    """The validation figures of the kept weights, the ones a variant is chosen on: a trained
    run's best epoch (`valid`), an aligned run's kept step of its curve (`history`)."""
    if "valid" in meta:
        return meta["valid"]
    kept = meta["test"]["best_step"]
    return next(h for h in meta["history"] if h["step"] == kept)


SASRECS = {"sasrec": "sasrec", "sasrec h50": "sasrec_h50"}  # model row → column prefix


def sasrec_runs(rows_files: list[Path]) -> dict[tuple[str, str], list[dict]]:
    """`genrec baselines --report` files, one per seed → (dataset, model) → SASRec test rows:
    the protocol's (history ≤ 20, the bar) and the history ≤ 50 reference (`--max-history
    50`, model `sasrec h50`), a figure beside the bar, never the bar."""
    out: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(rows_files):
        for row in json.loads(path.read_text())["rows"]:
            if row["model"] in SASRECS:
                out.setdefault((row["dataset"], row["model"]), []).append(row)
    return out


def recipe_rows(
    runs: dict[tuple[str, str], list[dict]],
    sasrec: dict[tuple[str, str], list[dict]],
    command: str,
) -> list[dict]:
    rows = []
    for (dataset, variant), tests in runs.items():
        row: dict = {"dataset": dataset, "variant": variant, "seeds": len(tests)}
        for m in ("recall@10", "ndcg@10"):
            row[f"valid_{m}"] = statistics.fmean(t["valid"][m] for t in tests)
        for m in METRICS:
            row[m], spread = mean_std([t[m] for t in tests])
            if m in ("recall@10", "ndcg@10"):
                row[f"{m}_std"] = spread
        for m in EXTRA:
            if all(m in t for t in tests):
                row[m] = statistics.fmean(t[m] for t in tests)
        if all("teacher" in t for t in tests):  # distilled runs: their SASRec's own figure
            row["teacher_recall@10"] = statistics.fmean(t["teacher"]["recall@10"] for t in tests)
        if all("dense_weight" in t for t in tests):
            row["dense_weight"] = "/".join(f"{t['dense_weight']:g}" for t in tests)
        row["stopped_by"] = "/".join(f"{t['stopped_by']} @ {t['best_epoch']}" for t in tests)
        for model, prefix in SASRECS.items():
            base = sasrec.get((dataset, model), [])
            for m in ("recall@10", "ndcg@10"):
                if base:
                    row[f"{prefix}_{m}"], row[f"{prefix}_{m}_std"] = mean_std([b[m] for b in base])
            row[f"{prefix}_seeds"] = len(base)
        row["invalid_rate"] = max(t["invalid_rate"] for t in tests)
        row["params"] = tests[0]["params"]
        row["train_seconds"] = round(statistics.fmean(t["train_seconds"] for t in tests), 1)
        row["hardware"] = tests[0]["hardware"]
        row["ids"] = tests[0]["ids"]
        row["command"] = command
        row["runs"] = [t["command"] for t in tests]  # each seed's full configuration
        rows.append(row)
    return rows


HEADER = (
    "# The default recipe against the same-run SASRec (leave-one-out, full ranking, history ≤ "
    "20)\n\n"
    "Generated from the JSON file of the same name by the command in each row; every figure "
    "is the mean over `seeds` runs (`_std`: their standard deviation), SASRec's over its own "
    "seeds in the same run; `valid_*`: the kept weights on the validation users, what a "
    "variant is chosen on (test figures never choose); `sasrec_h50_*`: SASRec with history "
    "≤ 50 (`genrec baselines --max-history 50`), a reference beside the bar, not the bar. "
    "`served_*`: the same checkpoints through the engine configuration Triton serves (bf16, "
    "CUDA graphs, fused kernels); the headline columns are float32 eager. `sid_only_*`: the "
    "same dense-head checkpoints ranked by their SID log-probabilities alone; `dense_only_*`: "
    "by their dense head alone over the whole catalogue (a diagnostic, no serving mode); "
    "`beam20_*`: "
    "decoded at beam 20 (the width of the earlier reports; the headline is beam 50, what "
    "serving decodes). `stopped_by`: per seed, why training ended @ the best validation "
    "epoch. `runs` in the JSON holds each seed's full `genrec train` command.\n\n"
    "The default distils the protocol SASRec into the decoder (`--distill 0.5`; "
    "`teacher_recall@10`: the teachers' own test figure, seed s's SASRec teaching decoder "
    "seed s). A variant is named by how it differs from the default: `kd0` without "
    "distillation, `dc0` without the dense head's candidates, `kd0.8` another distill weight, "
    "`kdt2` a teacher softened at temperature 2, `no-dense` the SID decoder alone; "
    "`screen-*`: one-seed screens of later levers, each beside `screen-default`, the recipe "
    "rerun in the same sweep with its own teacher and tokenizer store. Rows trained "
    "before distillation was the default have `--distill 0` (and `--dense-candidates 0`) "
    "written into their commands, so each reruns as it ran.\n\n"
)


def write_recipe_report(rows: list[dict], path: Path) -> list[dict]:
    merged = write_merged(
        path, rows, ("dataset", "variant"), HEADER, COLUMNS,
        order=lambda r: (r["dataset"], r["variant"] != "default", r["variant"]),
    )  # fmt: skip
    plot_recipe(merged, path.with_suffix(".png"))
    return merged


def plot_recipe(rows: list[dict], path: Path) -> None:
    """Recall@10 and NDCG@10 of the default recipe beside SASRec's, per dataset, with error bars
    of one standard deviation."""
    plt = pyplot()
    shown = sorted((r for r in rows if r["variant"] == "default"), key=lambda r: r["dataset"])
    if not shown:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = range(len(shown))
    for ax, m in zip(axes, ("recall@10", "ndcg@10"), strict=True):
        for offset, label, key in ((-0.2, "SASRec", f"sasrec_{m}"), (0.2, "genrec decoder", m)):
            ax.bar(
                [i + offset for i in x],
                [r.get(key, 0) for r in shown],
                0.4,
                yerr=[r.get(f"{key}_std", 0) for r in shown],
                label=label,
                capsize=3,
            )
        ax.set_xticks(list(x), [r["dataset"] for r in shown])
        ax.set(ylabel=f"test {m}", title=m)
        ax.legend()
    fig.suptitle("default recipe vs same-run SASRec (mean ± std over seeds)")
    save_figure(fig, path)
