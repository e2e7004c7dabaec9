"""`run_all`: one dataset (named, or a user's files) → a served model, read top to bottom as
RecBole's `run_recbole` reads: data → baselines → tokenizer → decoder → export, then one table
of the decoder's test figures beside Popularity's and SASRec's.

Each stage's outcome goes into `<out>/stages.json` when it ends, so a second call skips what is
done and an interrupted decoder resumes from its state file. The tokenizer's signals are
chosen from the data: item text and the collaborative signal where the items have text, the
collaborative signal alone where they have none.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genrec.errors import GenrecError
from genrec.pipelines.config import STORE, RunConfig, StoreConfig
from genrec.pipelines.tokenize import TokenizeRun

STAGES = ("baselines", "tokenizer", "decoder", "export")
METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")


@dataclass(frozen=True)
class QuickstartPaths:
    """Where each stage writes: not part of any run's identity."""

    out: Path | None = None  # the run's folder; None: runs/<dataset>
    artifacts: Path = Path("artifacts")  # SASRec (the teacher and the tokenizer's signal)
    store: Path = STORE
    model_repo: Path = Path("model_repo")
    data_dir: Path | None = None
    progress: bool = True


@dataclass
class QuickstartOutcome:
    rows: list[dict]  # popularity, sasrec, the decoder: the final table
    stages: dict = field(default_factory=dict)  # every stage's recorded outcome
    ran: list[str] = field(default_factory=list)  # the stages this call ran (others: done before)


def run_all(
    run: RunConfig,
    paths: QuickstartPaths = QuickstartPaths(),
    sasrec_epochs: int = 200,
    tokenizer: TokenizeRun = TokenizeRun(),
    command: str = "",
    announce: Callable[[int, str], None] = lambda n, stage: None,
) -> QuickstartOutcome:
    """Runs the stages not yet done for `run.data` → the final rows and what each stage left.
    `announce(n, stage)` is called before stage n (1-based) runs."""
    from genrec.baselines.artifacts import protocol_sasrec
    from genrec.baselines.popularity import Popularity
    from genrec.baselines.sasrec_trainer import TrainConfig
    from genrec.data import leave_one_out, load_dataset
    from genrec.device import resolve_device
    from genrec.eval import evaluate_scorer
    from genrec.pipelines.export import run_export
    from genrec.pipelines.tokenize import run_tokenize
    from genrec.pipelines.train import TrainOutputs, run_train

    data = load_dataset(run.data, paths.data_dir)  # parsed and cached once, here
    out = paths.out or Path("runs") / data.name
    record = out / "stages.json"
    stages: dict = json.loads(record.read_text()) if record.is_file() else {}
    if stages.get("source", run.data.recorded()) != run.data.recorded():
        raise GenrecError(
            f"{out}: a run of other data ({stages['source']}); pass another --out or delete it"
        )
    stages["source"] = run.data.recorded()
    ran: list[str] = []
    device = resolve_device(run.train.device)

    def done(stage: str, outcome) -> None:
        stages[stage] = outcome
        out.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(stages, indent=2, default=str) + "\n")
        os.replace(tmp, record)  # whole or not at all
        ran.append(stage)

    def due(stage: str) -> bool:
        if stage in stages:
            return False
        announce(STAGES.index(stage) + 1, stage)
        return True

    if due("baselines"):
        # The protocol SASRec is the baseline, the tokenizer's collaborative signal and the
        # decoder's teacher at once: trained here once, into --artifacts.
        split = leave_one_out(data)
        popularity = evaluate_scorer(Popularity(split.train, split.n_items), split.test)
        sasrec = protocol_sasrec(
            data, split, paths.artifacts, device, paths.progress,
            TrainConfig(epochs=sasrec_epochs, seed=run.train.seed),
        )  # fmt: skip
        sasrec_test = json.loads((sasrec / "meta.json").read_text())["test"]
        done("baselines", [
            {"model": "popularity", **popularity},
            {"model": "sasrec", **sasrec_test, "path": str(sasrec)},
        ])  # fmt: skip
    if due("tokenizer"):
        built = run_tokenize(
            run.data,
            tokenizer,
            paths.store,
            paths.artifacts,
            paths.data_dir,
            paths.progress,
            dataset=data,
        )
        done("tokenizer", {"store": str(built.path), "signals": list(built.signals)})
    if due("decoder"):
        checkpoint = out / "decoder"
        trained = run_train(
            dataclasses.replace(run, tokenizer=StoreConfig(Path(stages["tokenizer"]["store"]))),
            TrainOutputs(
                out=checkpoint,
                resume=checkpoint.with_name(checkpoint.name + ".state.pt").exists(),
                data_dir=paths.data_dir,
                progress=paths.progress,
                artifacts=paths.artifacts,
            ),
            command,
            dataset=data,
        )
        done("decoder", {"checkpoint": str(trained.checkpoint), "row": trained.row})
    if due("export"):
        checkpoint = Path(stages["decoder"]["checkpoint"])
        version = run_export(checkpoint, paths.model_repo, data_dir=paths.data_dir)
        done("export", {"version": str(version)})

    rows = [
        {"dataset": data.name, "model": r["model"], **{m: r[m] for m in METRICS}}
        for r in [*stages["baselines"], stages["decoder"]["row"]]
    ]
    return QuickstartOutcome(rows, stages, ran)
