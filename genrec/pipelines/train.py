"""`run_train`: one decoder run read top to bottom: config → data and tokenizer store → decoder
→ training → test metrics → checkpoint. The CLI (`genrec train`), the sweeps and the tests call
it with a `RunConfig` (`genrec.pipelines.config`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genrec.errors import GenrecError
from genrec.pipelines.config import STORE, RunConfig
from genrec.pipelines.identity import run_id

if TYPE_CHECKING:
    from genrec.data.schema import Dataset
    from genrec.model.decoder import SIDDecoder
    from genrec.tokenizer.store import TokenizerStore


@dataclass(frozen=True)
class TrainOutputs:
    """Where a run's outputs go and how it reports them: not part of its identity."""

    out: Path | None = None  # checkpoint folder; None: checkpoints/<dataset>/<label>-<run id>
    resume: bool = False
    data_dir: Path | None = None
    hallucination_users: int = 500
    progress: bool = True
    artifacts: Path = Path("artifacts")  # where the distillation teacher is (or goes)


@dataclass
class TrainOutcome:
    row: dict  # the test row (with command, hardware, run id and config); {} off the main rank
    test: dict  # its metrics alone
    checkpoint: Path
    history: list[dict]


def _check(run: RunConfig) -> tuple[float, ...]:
    """Refuses an impossible run before anything loads → the dense decode weights."""
    from genrec.device import resolve_device
    from genrec.model.config import SIZES
    from genrec.model.pretrained import PRETRAINED
    from genrec.train.distributed import STRATEGIES, device_error

    if run.model.size not in SIZES and run.model.size not in PRETRAINED:
        known = ", ".join([*SIZES, *PRETRAINED])
        raise GenrecError(f"unknown size {run.model.size!r}; expected one of {known}")
    if run.train.page_size < 1:
        raise GenrecError(f"--page-size must be ≥ 1, got {run.train.page_size}")
    if run.train.strategy not in STRATEGIES:
        raise GenrecError(
            f"unknown --strategy {run.train.strategy!r}; expected {', '.join(STRATEGIES)}"
        )
    if error := device_error(run.train.strategy, resolve_device(run.train.device).type):
        raise GenrecError(error)
    if run.train.text_tasks and run.model.size not in PRETRAINED:
        raise GenrecError("--text-tasks needs text tokens: a pretrained size (smollm2-135m)")
    if not 0 <= run.train.distill < 1 or run.train.distill_temperature <= 0:
        raise GenrecError(
            "--distill must be in [0, 1) and --distill-temperature > 0, got "
            f"{run.train.distill:g} and {run.train.distill_temperature:g}"
        )
    if not 0 <= run.train.ema < 1:
        raise GenrecError(f"--ema must be in [0, 1), got {run.train.ema:g}")
    if run.model.dense_candidates < 0:
        raise GenrecError(f"--dense-candidates must be ≥ 0, got {run.model.dense_candidates}")
    try:
        return tuple(float(w) for w in run.engine.dense_weights.split(","))
    except ValueError:
        raise GenrecError(
            f"--dense-weights must be numbers, got {run.engine.dense_weights!r}"
        ) from None


def build_run_decoder(run: RunConfig, tokenizer: TokenizerStore) -> SIDDecoder:
    """The decoder a run trains, freshly initialised from its seed: `run_train`'s, and what
    the scaling benchmark times, so both build the same network."""
    from genrec.model.config import build_decoder
    from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
    from genrec.model.pretrained import PRETRAINED, pretrained_decoder
    from genrec.model.vocab import SIDVocab

    m = run.model
    user_levels = tokenizer.user_scids.shape[1] if m.user_scid else 0
    if m.size in PRETRAINED:
        lm, vocab = pretrained_decoder(m.size, m.sid_rows, user_levels, m.dropout)
    else:
        vocab = SIDVocab(user_levels=user_levels)
        lm = build_decoder(m.size, vocab, run.train.seed, m.dropout)
    dense = DenseConfig(
        enabled=m.dense, loss_weight=m.dense_loss, candidates=m.dense_candidates,
        in_prompt=m.dense_input,
    )  # fmt: skip
    prompt = PromptConfig(user_scid=m.user_scid, merge_to=m.merge_to)
    return SIDDecoder(lm, vocab, prompt, tokenizer.item_sids, m.dropout, dense, m.residual_dropout)


def run_train(
    run: RunConfig,
    where: TrainOutputs = TrainOutputs(),
    command: str = "",
    dataset: Dataset | None = None,
) -> TrainOutcome:
    """Trains, tests and saves one decoder (under torchrun: data-parallel, the main rank tests
    and saves) → its test row and checkpoint folder. `dataset`: `run.data` already read."""
    from genrec.baselines.artifacts import load_sasrec, protocol_sasrec
    from genrec.data import leave_one_out, load_dataset
    from genrec.device import describe_hardware, reproducible, resolve_device
    from genrec.model.checkpoint import save_checkpoint
    from genrec.model.pretrained import text_encoder
    from genrec.tokenizer.pipeline import variant_name
    from genrec.tokenizer.store import TokenizerStore, latest
    from genrec.train.distributed import close_world, init_world
    from genrec.train.evaluation import test_metrics
    from genrec.train.text_tasks import item_text_tasks
    from genrec.train.trainer import DecoderTrainConfig, train_decoder

    weights = _check(run)
    if where.resume and run.train.strategy == "fsdp":
        raise GenrecError("--resume needs --strategy ddp (fsdp runs write no state file)")
    data = dataset or load_dataset(run.data, where.data_dir)
    if run.train.text_tasks and not data.has_text:
        raise GenrecError(f"--text-tasks: dataset {data.name!r} has no item text")
    store_path = run.tokenizer.store or latest(STORE, data.name)
    tokenizer = TokenizerStore.load(store_path, data.fingerprint())
    manifest = tokenizer.manifest
    if not 0 <= run.model.merge_to < manifest["sid_depth"]:
        raise GenrecError(
            f"--merge-to must be in 0..{manifest['sid_depth'] - 1}, got {run.model.merge_to}"
        )
    ids = f"{manifest['method']}:{'+'.join(manifest['signals'])}"
    if tokenizer_variant := variant_name(manifest["config"]):
        ids += f" ({tokenizer_variant})"
    config = run.identity()
    config["tokenizer"]["store"] = f"{manifest['dataset']}/{manifest['version']}"  # resolved
    rid, label = run_id(config), run.label()
    out = where.out or Path("checkpoints") / data.name / f"{label.replace(' ', '-')}-{rid}"
    state_path = out.with_name(out.name + ".state.pt")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if state_path.exists() != where.resume:
        raise GenrecError(
            f"{state_path}: an interrupted run; pass --resume or delete it"
            if not where.resume
            else f"{state_path}: no interrupted run to resume"
        )

    m, t = run.model, run.train
    world = init_world(resolve_device(t.device))
    decoder = build_run_decoder(run, tokenizer)
    vocab, prompt = decoder.vocab, decoder.prompt
    tasks = None
    if t.text_tasks:
        tasks = item_text_tasks(data.items, decoder.item_tokens, text_encoder(m.size), vocab)
    split = leave_one_out(data)
    cfg = DecoderTrainConfig(
        epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, weight_decay=t.weight_decay,
        patience=t.patience, eval_users=t.eval_users, serve_beam=run.engine.beam,
        dense_weights=weights, seed=t.seed, page_size=t.page_size, text_weight=t.text_tasks,
        strategy=t.strategy, time_budget_s=None if t.time_budget is None else t.time_budget * 60,
        distill=t.distill, distill_temperature=t.distill_temperature, ema=t.ema,
    )  # fmt: skip
    teacher, teacher_row = None, {}
    if t.distill > 0:
        path = protocol_sasrec(data, split, where.artifacts, world.device, where.progress)
        teacher = load_sasrec(path)
        meta = json.loads((path / "meta.json").read_text())
        teacher_row = {"path": str(path), "recall@10": meta["test"].get("recall@10")}
    with reproducible(world.device):  # the same seed, the same weights on the CPU
        result = train_decoder(
            decoder, split, tokenizer, cfg, world, where.progress, state_path, tasks, teacher
        )
    row: dict = {}
    test: dict = {}
    if world.main:
        test = test_metrics(
            result.decoder, tokenizer, split.test, world.device, run.engine.beam,
            where.hallucination_users,
        )  # fmt: skip
        hardware = describe_hardware(world.device) + (f" x{world.size}" if world.size > 1 else "")
        row = {
            "dataset": data.name, "model": label, "ids": ids, **test,
            "params": sum(p.numel() for p in result.decoder.parameters()),
            "prompt_tokens": prompt.length(vocab, split.max_history),
            "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
            "train_seconds": round(result.train_seconds, 1), "hardware": hardware,
            "command": command, "run_id": rid, "config": config,
        }  # fmt: skip
        if teacher_row:
            row["teacher"] = teacher_row
        save_checkpoint(
            result.decoder, tokenizer, store_path, out,
            {"size": m.size, "valid": result.valid, "test": row, "history": result.history,
             "dense_valid": result.dense_valid},
        )  # fmt: skip
        state_path.unlink(missing_ok=True)
    close_world(world)
    return TrainOutcome(row, test, out, result.history)
