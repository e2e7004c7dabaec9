"""`run_train`: one decoder run read top to bottom: config → data and tokenizer store → decoder
→ training → test metrics → checkpoint. The CLI (`genrec train`), the sweeps and the tests call
it; `TrainRun` is the one owner of the options and their defaults, the recipe's included."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from genrec.errors import GenrecError
from genrec.pipelines.identity import run_id

STORE = Path("tokenizer_store")  # where `genrec tokenize` writes and `genrec train` looks
RECIPE_DENSE_WEIGHTS = "0,0.25,0.5,1,2,4"


@dataclass(frozen=True)
class TrainRun:
    """What a decoder run trains: every field is part of its identity (`run_id`), so two runs
    that differ in any of them never share a checkpoint folder or a report row. The defaults
    are the default recipe (README, "Decoder")."""

    dataset: str = "synthetic"
    size: str = "5m"  # tiny, 5m, 26m, 200m, or pretrained smollm2-135m
    sid_rows: str = "reuse"  # pretrained sizes: SID tokens reuse vocabulary rows, or add rows
    text_tasks: float = 0.0  # pretrained sizes: weight of the item text ↔ SID tasks
    store: Path | None = None  # tokenizer store version folder; None: the dataset's latest
    page_size: int = 1  # k of page-wise NTP
    merge_to: int = 0  # token merger: embeddings per history item (0 = none)
    user_scid: bool = False
    dense: bool = True  # the dense head (LIGER / COBRA-style hybrid)
    dense_loss: float = 0.25
    dense_weights: str = RECIPE_DENSE_WEIGHTS  # decode weights chosen from on validation
    dense_candidates: int = 0
    dense_input: bool = False
    beam: int = 50  # of the test decode and the dense weight's choice (what Triton serves)
    device: str = "auto"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    dropout: float = 0.2
    residual_dropout: float = 0.0  # on attention and MLP outputs (Qwen2 has none)
    patience: int = 5
    eval_users: int = 2000
    seed: int = 0
    time_budget: float | None = None  # minutes
    strategy: str = "ddp"

    @classmethod
    def from_toml(cls, path: Path, **overrides) -> TrainRun:
        """A run file (TOML keys = field names), then `overrides` (what the command line set)
        on top; unknown keys are refused, so a typo never trains a default."""
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise GenrecError(f"{path}: {e}") from None
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(values) - names):
            raise GenrecError(f"{path}: unknown key {unknown[0]!r}")
        if "store" in values:
            values["store"] = Path(values["store"])
        return cls(**(values | overrides))

    def identity(self) -> dict:
        """The canonical form hashed into the run id (paths as strings)."""
        return {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
        }

    def label(self) -> str:
        """The row's model label: the size and every non-default option that tells rows of
        one report apart at a glance (the run id tells all of them apart)."""
        return f"decoder-{self.size}" + "".join(
            part
            for part, on in (
                (f" sid-{self.sid_rows}", self.size not in _sizes()),
                (f" text{self.text_tasks:g}", self.text_tasks > 0),
                (f" page{self.page_size}", self.page_size > 1),
                (f" merge{self.merge_to}", self.merge_to > 0),
                (" uscid", self.user_scid),
                (" no-dense", not self.dense),
                (f" dl{self.dense_loss:g}", self.dense and self.dense_loss != 0.25),
                (
                    f" dw{self.dense_weights}",
                    self.dense and self.dense_weights != RECIPE_DENSE_WEIGHTS,
                ),
                (f" dc{self.dense_candidates}", self.dense and self.dense_candidates > 0),
                (" di", self.dense and self.dense_input),
                (f" beam{self.beam}", self.beam != 50),
                (f" bs{self.batch_size}", self.batch_size != 256),
                (f" lr{self.lr:g}", self.lr != 1e-3),
                (f" do{self.dropout:g}", self.dropout != 0.2),
                (f" rd{self.residual_dropout:g}", self.residual_dropout > 0),
                (f" wd{self.weight_decay:g}", self.weight_decay != 0.1),
                (f" e{self.epochs}", self.epochs != 10),
            )
            if on
        )


@dataclass(frozen=True)
class TrainOutputs:
    """Where a run's outputs go and how it reports them: not part of its identity."""

    out: Path | None = None  # checkpoint folder; None: checkpoints/<dataset>/<label>-<run id>
    resume: bool = False
    data_dir: Path | None = None
    hallucination_users: int = 500
    progress: bool = True


@dataclass
class TrainOutcome:
    row: dict  # the test row (with command, hardware, run id and config); {} off the main rank
    test: dict  # its metrics alone
    checkpoint: Path
    history: list[dict]


def _sizes() -> tuple[str, ...]:
    from genrec.model.config import SIZES

    return tuple(SIZES)


def _check(run: TrainRun) -> tuple[float, ...]:
    """Refuses an impossible run before anything loads → the dense decode weights."""
    from genrec.device import resolve_device
    from genrec.model.pretrained import PRETRAINED
    from genrec.train.distributed import STRATEGIES, device_error

    if run.size not in _sizes() and run.size not in PRETRAINED:
        known = ", ".join([*_sizes(), *PRETRAINED])
        raise GenrecError(f"unknown size {run.size!r}; expected one of {known}")
    if run.page_size < 1:
        raise GenrecError(f"--page-size must be ≥ 1, got {run.page_size}")
    if run.strategy not in STRATEGIES:
        raise GenrecError(f"unknown --strategy {run.strategy!r}; expected {', '.join(STRATEGIES)}")
    if error := device_error(run.strategy, resolve_device(run.device).type):
        raise GenrecError(error)
    if run.text_tasks and run.size not in PRETRAINED:
        raise GenrecError("--text-tasks needs text tokens: a pretrained size (smollm2-135m)")
    if run.dense_candidates < 0:
        raise GenrecError(f"--dense-candidates must be ≥ 0, got {run.dense_candidates}")
    try:
        return tuple(float(w) for w in run.dense_weights.split(","))
    except ValueError:
        raise GenrecError(f"--dense-weights must be numbers, got {run.dense_weights!r}") from None


def run_train(
    run: TrainRun, where: TrainOutputs = TrainOutputs(), command: str = ""
) -> TrainOutcome:
    """Trains, tests and saves one decoder (under torchrun: data-parallel, the main rank tests
    and saves) → its test row and checkpoint folder."""
    from genrec.data import leave_one_out, load_dataset
    from genrec.device import describe_hardware, resolve_device
    from genrec.model.checkpoint import save_checkpoint
    from genrec.model.config import build_decoder
    from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
    from genrec.model.pretrained import PRETRAINED, pretrained_decoder, text_encoder
    from genrec.model.vocab import SIDVocab
    from genrec.tokenizer.pipeline import variant_name
    from genrec.tokenizer.store import TokenizerStore, latest
    from genrec.train.distributed import close_world, init_world
    from genrec.train.evaluation import test_metrics
    from genrec.train.text_tasks import item_text_tasks
    from genrec.train.trainer import DecoderTrainConfig, train_decoder

    weights = _check(run)
    if where.resume and run.strategy == "fsdp":
        raise GenrecError("--resume needs --strategy ddp (fsdp runs write no state file)")
    data = load_dataset(run.dataset, where.data_dir)
    if run.text_tasks and not data.has_text:
        raise GenrecError(f"--text-tasks: dataset {run.dataset!r} has no item text")
    store_path = run.store or latest(STORE, run.dataset)
    tokenizer = TokenizerStore.load(store_path, data.fingerprint())
    manifest = tokenizer.manifest
    if not 0 <= run.merge_to < manifest["sid_depth"]:
        raise GenrecError(
            f"--merge-to must be in 0..{manifest['sid_depth'] - 1}, got {run.merge_to}"
        )
    ids = f"{manifest['method']}:{'+'.join(manifest['signals'])}"
    if tokenizer_variant := variant_name(manifest["config"]):
        ids += f" ({tokenizer_variant})"
    config = run.identity() | {"store": f"{manifest['dataset']}/{manifest['version']}"}
    rid, label = run_id(config), run.label()
    out = where.out or Path("checkpoints") / run.dataset / f"{label.replace(' ', '-')}-{rid}"
    state_path = out.with_name(out.name + ".state.pt")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if state_path.exists() != where.resume:
        raise GenrecError(
            f"{state_path}: an interrupted run; pass --resume or delete it"
            if not where.resume
            else f"{state_path}: no interrupted run to resume"
        )

    world = init_world(resolve_device(run.device))
    user_levels = tokenizer.user_scids.shape[1] if run.user_scid else 0
    if run.size in PRETRAINED:
        lm, vocab = pretrained_decoder(run.size, run.sid_rows, user_levels, run.dropout)
    else:
        vocab = SIDVocab(user_levels=user_levels)
        lm = build_decoder(run.size, vocab, run.seed, run.dropout)
    prompt = PromptConfig(user_scid=run.user_scid, merge_to=run.merge_to)
    dense = DenseConfig(
        enabled=run.dense, loss_weight=run.dense_loss, candidates=run.dense_candidates,
        in_prompt=run.dense_input,
    )  # fmt: skip
    decoder = SIDDecoder(
        lm, vocab, prompt, tokenizer.item_sids, run.dropout, dense, run.residual_dropout
    )
    tasks = None
    if run.text_tasks:
        tasks = item_text_tasks(data.items, decoder.item_tokens, text_encoder(run.size), vocab)
    split = leave_one_out(data)
    cfg = DecoderTrainConfig(
        epochs=run.epochs, batch_size=run.batch_size, lr=run.lr, weight_decay=run.weight_decay,
        patience=run.patience, eval_users=run.eval_users, serve_beam=run.beam,
        dense_weights=weights, seed=run.seed, page_size=run.page_size,
        text_weight=run.text_tasks, strategy=run.strategy,
        time_budget_s=None if run.time_budget is None else run.time_budget * 60,
    )  # fmt: skip
    result = train_decoder(decoder, split, tokenizer, cfg, world, where.progress, state_path, tasks)
    row: dict = {}
    test: dict = {}
    if world.main:
        test = test_metrics(
            result.decoder, tokenizer, split.test, world.device, run.beam,
            where.hallucination_users,
        )  # fmt: skip
        hardware = describe_hardware(world.device) + (f" x{world.size}" if world.size > 1 else "")
        row = {
            "dataset": run.dataset, "model": label, "ids": ids, **test,
            "params": sum(p.numel() for p in result.decoder.parameters()),
            "prompt_tokens": prompt.length(vocab, split.max_history),
            "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
            "train_seconds": round(result.train_seconds, 1), "hardware": hardware,
            "command": command, "run_id": rid, "config": config,
        }  # fmt: skip
        save_checkpoint(
            result.decoder, tokenizer, store_path, out,
            {"size": run.size, "valid": result.valid, "test": row, "history": result.history,
             "dense_valid": result.dense_valid},
        )  # fmt: skip
        state_path.unlink(missing_ok=True)
    close_world(world)
    return TrainOutcome(row, test, out, result.history)
