"""`genrec <command>`: the command-line entry point. Each command is a thin shell over the library.

Input problems (a missing file, an unknown dataset) print one line and exit with code 2.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from genrec.errors import GenrecError

app = typer.Typer(
    help="Generative recommendation over semantic IDs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
ARTIFACTS = Path("artifacts")
STORE = Path("tokenizer_store")

DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder holding the public datasets [env: GENREC_DATA_DIR; "
        "default: ../shared/data when present]"
    ),
]


ModelRepo = Annotated[Path, typer.Option(help="Triton model repository")]
Gpu = Annotated[bool, typer.Option(help="Triton's GPU configuration (config.pbtxt)")]


def _command() -> str:
    """The command line as typed, for the `command` column of every report row."""
    return "genrec " + shlex.join(sys.argv[1:])


def _print_rows(title: str, rows: list[dict], columns: list[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in ("dataset", "model") else "right")
    for row in rows:
        table.add_row(
            *(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns)
        )
    console.print(table)


@app.command()
def datasets(data_dir: DataDir = None) -> None:
    """List the datasets with their user / item / interaction counts."""
    from genrec.data import SPECS, default_data_dir, load_dataset

    root = data_dir or default_data_dir()
    rows = []
    for name, spec in SPECS.items():
        if spec.folder is not None and (root is None or not (root / spec.folder).is_dir()):
            console.print(f"[dim]{name}: not found under {root} ({spec.description})[/dim]")
            continue
        rows.append(load_dataset(name, root).stats())
    _print_rows("datasets", rows, list(rows[0]))


@app.command()
def baselines(
    dataset: Annotated[list[str], typer.Option("--dataset", "-d", help="Repeatable")] = [
        "synthetic"
    ],
    model: Annotated[list[str], typer.Option(help="popularity / sasrec; repeatable")] = [
        "popularity",
        "sasrec",
    ],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    epochs: Annotated[int, typer.Option(help="Most SASRec epochs")] = 200,
    patience: Annotated[int, typer.Option(help="Epochs without a better valid NDCG@10")] = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    d_model: int = 64,
    layers: int = 2,
    heads: int = 2,
    dropout: float = 0.5,
    seed: int = 0,
    max_history: Annotated[
        int, typer.Option(help="Items a model sees (the protocol's 20; e.g. 50 for a reference)")
    ] = 20,
    report: Annotated[Path | None, typer.Option(help="Merge rows into this JSON (+ .md)")] = None,
    artifacts: Annotated[Path, typer.Option(help="Where SASRec embeddings go")] = ARTIFACTS,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Train and evaluate Popularity and SASRec (leave-one-out, full ranking); print the metrics."""
    from genrec.baselines.sasrec_trainer import TrainConfig
    from genrec.bench.baselines import COLUMNS, MODELS, BaselineRun, run_dataset, write_report
    from genrec.device import resolve_device

    if max_history < 1:
        raise GenrecError(f"--max-history must be ≥ 1, got {max_history}")
    unknown = sorted(set(model) - set(MODELS))
    if unknown:
        raise GenrecError(f"unknown model {unknown[0]!r}; expected one of {', '.join(MODELS)}")
    run = BaselineRun(
        models=tuple(model),
        sasrec={"d_model": d_model, "n_layers": layers, "n_heads": heads, "dropout": dropout},
        train=TrainConfig(
            epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed
        ),
        artifacts_dir=artifacts,
        curves_dir=report.parent if report else None,
        progress=progress,
        max_history=max_history,
    )
    command = _command()
    rows = []
    for name in dataset:
        rows += run_dataset(name, data_dir, run, resolve_device(device), command)
    _print_rows(
        "baselines (test split)", rows, [c for c in COLUMNS if c not in ("command", "hardware")]
    )
    if report is not None:
        write_report(rows, report)
        console.print(f"report: {report} and {report.with_suffix('.md')}")


@app.command()
def tokenize(
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = "synthetic",
    method: Annotated[
        str,
        typer.Option(help="rqvae (learned), bloger (RQ-VAE + recommender in the loop) or rqkmeans"),
    ] = "rqvae",
    signals: Annotated[
        str | None, typer.Option(help="Comma list of text, collab [default: all the dataset has]")
    ] = None,
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    recon_epochs: Annotated[int, typer.Option(help="Phase 1: reconstruction epochs")] = 200,
    align_epochs: Annotated[int, typer.Option(help="Phase 2: + U2I alignment epochs")] = 100,
    u2i_weight: float = 0.1,
    contrastive: Annotated[float, typer.Option(help="HiGR contrastive weight (0 = off)")] = 0.0,
    bloger_steps: Annotated[int, typer.Option(help="BLOGER: bi-level tokenizer updates")] = 400,
    rec_weight: Annotated[float, typer.Option(help="BLOGER: λ of the recommendation loss")] = 1.0,
    meta: Annotated[bool, typer.Option(help="BLOGER: one-step lookahead (meta-gradient)")] = True,
    surgery: Annotated[bool, typer.Option(help="BLOGER: PCGrad on conflicting gradients")] = True,
    seed: int = 0,
    store: Annotated[Path, typer.Option(help="Tokenizer store root")] = STORE,
    artifacts: Annotated[Path, typer.Option(help="SASRec embeddings and caches")] = ARTIFACTS,
    report: Annotated[Path | None, typer.Option(help="Merge a row into this JSON (+ .md)")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Build item semantic IDs and user SCIDs into a new tokenizer-store version."""
    from genrec.bench.tokenizer import tokenizer_row, write_tokenizer_report
    from genrec.data import load_dataset
    from genrec.device import resolve_device
    from genrec.tokenizer.bloger import BlogerConfig
    from genrec.tokenizer.pipeline import TokenizeConfig
    from genrec.tokenizer.pipeline import tokenize as run_tokenize
    from genrec.tokenizer.signals import parse_signals
    from genrec.tokenizer.train import TokenizerTrainConfig

    data = load_dataset(dataset, data_dir)
    chosen = parse_signals(signals or ("text,collab" if data.has_text else "collab"), data)
    cfg = TokenizeConfig(
        method=method,
        signals=chosen,
        train=TokenizerTrainConfig(
            recon_epochs=recon_epochs,
            align_epochs=align_epochs,
            u2i_weight=u2i_weight,
            contrastive_weight=contrastive,
            seed=seed,
        ),
        bloger=BlogerConfig(
            steps=bloger_steps, rec_weight=rec_weight, meta=meta, surgery=surgery, seed=seed
        ),
    )
    torch_device = resolve_device(device)
    built, _ = run_tokenize(data, cfg, artifacts, torch_device, progress)
    path = built.save(store)
    row = tokenizer_row(built, path, torch_device, _command())
    table = Table(title=f"tokenizer: {dataset} / {method} / {'+'.join(chosen)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in row.items():
        if (
            key not in ("dataset", "method", "signals", "command", "hardware", "store")
            and value != ""
        ):
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"store: {path}")
    if report is not None:
        write_tokenizer_report([row], report)
        console.print(f"report: {report} and {report.with_suffix('.md')}")


# Options that say where a run's outputs go or how it shows progress, not what it trains.
NOT_IDENTITY = ("out", "report", "progress", "resume", "data_dir", "hallucination_users", "ctx")


@app.command()
def train(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option("--dataset", "-d")] = "synthetic",
    size: Annotated[
        str, typer.Option(help="Decoder size: tiny, 5m, 26m, 200m, or pretrained smollm2-135m")
    ] = "5m",
    sid_rows: Annotated[
        str, typer.Option(help="Pretrained sizes: SID tokens reuse vocabulary rows, or add rows")
    ] = "reuse",
    text_tasks: Annotated[
        float,
        typer.Option(help="Pretrained sizes: weight of the item text ↔ SID tasks (0 = off)"),
    ] = 0.0,
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version folder [default: latest]")
    ] = None,
    page_size: Annotated[int, typer.Option(help="k of page-wise NTP (1 = next-item NTP)")] = 1,
    merge_to: Annotated[
        int, typer.Option(help="Token merger: embeddings per history item (0 = no merger)")
    ] = 0,
    user_scid: Annotated[bool, typer.Option(help="Prefix prompts with the user's SCID")] = False,
    dense: Annotated[
        bool, typer.Option(help="Dense head: item embeddings that rerank the beam (hybrid)")
    ] = True,
    dense_loss: Annotated[float, typer.Option(help="Weight of the dense head's loss")] = 0.25,
    dense_weights: Annotated[
        str, typer.Option(help="Comma list of decode weights of the dense head, chosen on valid")
    ] = "0,0.25,0.5,1,2,4",
    dense_candidates: Annotated[
        int, typer.Option(help="The dense head's own top items that join the beam's candidates")
    ] = 0,
    dense_input: Annotated[
        bool, typer.Option(help="The dense head's item embeddings also enter the prompt (tied)")
    ] = False,
    beam: Annotated[
        int, typer.Option(help="Beam width of the test decode and the dense weight's choice")
    ] = 50,
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    epochs: Annotated[
        int, typer.Option(help="Most epochs; the cosine schedule decays over this many")
    ] = 10,
    batch_size: Annotated[int, typer.Option(help="Examples per step, over all processes")] = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    dropout: Annotated[float, typer.Option(help="Embedding and attention dropout")] = 0.2,
    patience: Annotated[int, typer.Option(help="Epochs without a better valid Recall@10")] = 5,
    eval_users: Annotated[int, typer.Option(help="Validation users decoded per epoch")] = 2000,
    seed: int = 0,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run of the same --out from its state")
    ] = False,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes of training; then stop as early stopping does")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Merge the test row into this JSON (+ .md, + PNG)")
    ] = None,
    hallucination_users: Annotated[
        int, typer.Option(help="Test users for the unconstrained-decode hallucination rate")
    ] = 500,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
    strategy: Annotated[
        str,
        typer.Option(
            help="Under torchrun: ddp (replicas), ddp-bf16 (bf16 gradient all-reduce, CUDA) or "
            "fsdp (sharded parameters)"
        ),
    ] = "ddp",
) -> None:
    """Train the decoder; with no options, the default recipe (README, "Decoder"): a 5m
    decoder with a dense head, dropout 0.2, weight decay 0.1, a 10-epoch cosine schedule, beam
    50. Under `torchrun --nproc_per_node N -m genrec train` data-parallel. Prints test metrics
    of constrained decoding and writes a checkpoint."""

    from genrec.bench.report import run_id
    from genrec.bench.tokenizer import variant_name
    from genrec.data import leave_one_out, load_dataset
    from genrec.device import describe_hardware, resolve_device
    from genrec.model.checkpoint import save_checkpoint
    from genrec.model.config import SIZES, build_decoder
    from genrec.model.decoder import DenseConfig, PromptConfig, SIDDecoder
    from genrec.model.pretrained import PRETRAINED, pretrained_decoder, text_encoder
    from genrec.model.vocab import SIDVocab
    from genrec.tokenizer.store import TokenizerStore, latest
    from genrec.train.distributed import STRATEGIES, close_world, device_error, init_world
    from genrec.train.evaluation import test_metrics
    from genrec.train.text_tasks import item_text_tasks
    from genrec.train.trainer import DecoderTrainConfig, train_decoder

    if size not in SIZES and size not in PRETRAINED:
        known = ", ".join([*SIZES, *PRETRAINED])
        raise GenrecError(f"unknown size {size!r}; expected one of {known}")
    if page_size < 1:
        raise GenrecError(f"--page-size must be ≥ 1, got {page_size}")
    if strategy not in STRATEGIES:
        raise GenrecError(f"unknown --strategy {strategy!r}; expected {', '.join(STRATEGIES)}")
    if error := device_error(strategy, resolve_device(device).type):
        raise GenrecError(error)
    if resume and strategy == "fsdp":
        raise GenrecError("--resume needs --strategy ddp (fsdp runs write no state file)")
    if text_tasks and size not in PRETRAINED:
        raise GenrecError("--text-tasks needs text tokens: a pretrained size (smollm2-135m)")
    try:
        weights = tuple(float(w) for w in dense_weights.split(","))
    except ValueError:
        raise GenrecError(f"--dense-weights must be numbers, got {dense_weights!r}") from None
    if dense_candidates < 0:
        raise GenrecError(f"--dense-candidates must be ≥ 0, got {dense_candidates}")
    data = load_dataset(dataset, data_dir)
    if text_tasks and not data.has_text:
        raise GenrecError(f"--text-tasks: dataset {dataset!r} has no item text")
    store_path = store or latest(STORE, dataset)
    tokenizer = TokenizerStore.load(store_path, data.fingerprint())
    manifest = tokenizer.manifest
    if not 0 <= merge_to < manifest["sid_depth"]:
        raise GenrecError(f"--merge-to must be in 0..{manifest['sid_depth'] - 1}, got {merge_to}")
    variant = f"decoder-{size}" + "".join(
        part
        for part, on in (
            (f" sid-{sid_rows}", size in PRETRAINED),
            (f" text{text_tasks:g}", text_tasks > 0),
            (f" page{page_size}", page_size > 1),
            (f" merge{merge_to}", merge_to > 0),
            (" uscid", user_scid),
            (" no-dense", not dense),
            (f" dl{dense_loss:g}", dense and dense_loss != 0.25),
            (f" dw{dense_weights}", dense and dense_weights != "0,0.25,0.5,1,2,4"),
            (f" dc{dense_candidates}", dense and dense_candidates > 0),
            (" di", dense and dense_input),
            (f" beam{beam}", beam != 50),
            (f" bs{batch_size}", batch_size != 256),  # non-default hyperparameters, so rows
            (f" lr{lr:g}", lr != 1e-3),  # of one report do not overwrite each other
            (f" do{dropout:g}", dropout != 0.2),
            (f" wd{weight_decay:g}", weight_decay != 0.1),
            (f" e{epochs}", epochs != 10),
        )
        if on
    )
    ids = f"{manifest['method']}:{'+'.join(manifest['signals'])}"
    if tokenizer_variant := variant_name(manifest["config"]):
        ids += f" ({tokenizer_variant})"
    config = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in ctx.params.items()
        if k not in NOT_IDENTITY
    }
    config["store"] = f"{manifest['dataset']}/{manifest['version']}"  # as resolved
    rid = run_id(config)
    out = out or Path("checkpoints") / dataset / f"{variant.replace(' ', '-')}-{rid}"
    state_path = out.with_name(out.name + ".state.pt")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if state_path.exists() != resume:
        raise GenrecError(
            f"{state_path}: an interrupted run; pass --resume or delete it"
            if not resume
            else f"{state_path}: no interrupted run to resume"
        )
    world = init_world(resolve_device(device))
    user_levels = tokenizer.user_scids.shape[1] if user_scid else 0
    if size in PRETRAINED:
        lm, vocab = pretrained_decoder(size, sid_rows, user_levels, dropout)
    else:
        vocab = SIDVocab(user_levels=user_levels)
        lm = build_decoder(size, vocab, seed, dropout)
    prompt = PromptConfig(user_scid=user_scid, merge_to=merge_to)
    dense_cfg = DenseConfig(
        enabled=dense, loss_weight=dense_loss, candidates=dense_candidates, in_prompt=dense_input
    )
    decoder = SIDDecoder(lm, vocab, prompt, tokenizer.item_sids, dropout, dense_cfg)
    tasks = None
    if text_tasks:
        tasks = item_text_tasks(data.items, decoder.item_tokens, text_encoder(size), vocab)
    split = leave_one_out(data)
    cfg = DecoderTrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        eval_users=eval_users,
        serve_beam=beam,
        dense_weights=weights,
        seed=seed,
        page_size=page_size,
        text_weight=text_tasks,
        time_budget_s=None if time_budget is None else time_budget * 60,
        strategy=strategy,
    )
    result = train_decoder(decoder, split, tokenizer, cfg, world, progress, state_path, tasks)
    if world.main:
        test = test_metrics(result.decoder, tokenizer, split.test, world.device, beam,
                            hallucination_users)  # fmt: skip
        row = {
            "dataset": dataset,
            "model": variant,
            "ids": ids,
            **test,
            "params": sum(p.numel() for p in result.decoder.parameters()),
            "prompt_tokens": prompt.length(vocab, split.max_history),
            "best_epoch": result.best_epoch,
            "stopped_by": result.stopped_by,
            "train_seconds": round(result.train_seconds, 1),
            "hardware": describe_hardware(world.device)
            + (f" x{world.size}" if world.size > 1 else ""),
            "command": _command(),
            "run_id": rid,
            "config": config,
        }
        save_checkpoint(
            result.decoder, tokenizer, store_path, out,
            {"size": size, "valid": result.valid, "test": row, "history": result.history,
             "dense_valid": result.dense_valid},
        )  # fmt: skip
        state_path.unlink(missing_ok=True)
        _print_rows(
            f"{variant} on {dataset} ({ids}; test split, beam {beam})",
            [test],
            list(test),
        )
        console.print(f"checkpoint: {out}")
        if report is not None:
            from genrec.bench.offline import write_offline_report

            write_offline_report(row, result.history, report)
            console.print(f"report: {report} and {report.with_suffix('.md')}")
    close_world(world)


@app.command()
def align(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    method: Annotated[str, typer.Option(help="sdpo, grpo-sr, sage or gbpo")] = "sdpo",
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    lr: float = 1e-4,
    epochs: Annotated[int, typer.Option(help="Passes over the prompts (per DPO stage)")] = 1,
    batch_size: Annotated[int, typer.Option(help="Prompts per step")] = 128,
    beta: Annotated[float, typer.Option(help="DPO temperature")] = 0.1,
    group: Annotated[int, typer.Option(help="Policy methods: candidates per prompt")] = 16,
    eval_every: Annotated[int, typer.Option(help="Policy methods: steps per validation")] = 50,
    aux_weight: Annotated[
        float, typer.Option(help="GBPO / SAGE: weight of the cold-start and diversity rewards")
    ] = 0.5,
    nll_weight: Annotated[
        float | None, typer.Option(help="Policy methods: NLL on the ground truth [method's]")
    ] = None,
    eval_users: Annotated[int, typer.Option(help="Validation users decoded per check")] = 2000,
    seed: int = 0,
    artifacts: Annotated[
        Path, typer.Option(help="Where `genrec baselines` put SASRec (the reward model)")
    ] = ARTIFACTS,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes; stop at the first validation past it")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Merge SFT and aligned test rows into this JSON (+ .md, + PNG)"),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Align an SFT decoder with user preferences: progressive Softmax-DPO (sdpo), GRPO-SR,
    SAGE or GBPO. Writes a checkpoint that exports like any SFT one."""
    from genrec.align.dpo import DPOConfig
    from genrec.align.policy_gradient import PGConfig
    from genrec.align.trainer import METHODS, AlignConfig
    from genrec.align.trainer import align as run_align
    from genrec.baselines.artifacts import load_sasrec
    from genrec.data import leave_one_out, load_dataset
    from genrec.device import describe_hardware, resolve_device
    from genrec.model.checkpoint import load_checkpoint, read_meta, save_checkpoint
    from genrec.tokenizer.store import TokenizerStore
    from genrec.train.evaluation import evaluate_decoder

    if method not in METHODS:
        raise GenrecError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    meta = read_meta(checkpoint)
    dataset = meta["dataset"]
    label = method + "".join(  # non-default settings, so rows of one report stay apart
        part
        for part, on in (
            (f" lr{lr:g}", lr != 1e-4),
            (f" beta{beta:g}", beta != 0.1),
            (f" aux{aux_weight:g}", aux_weight != 0.5),
            (f" nll{nll_weight or 0:g}", nll_weight is not None),
        )
        if on
    )
    out = out or checkpoint.with_name(f"{checkpoint.name}-{label.replace(' ', '-')}")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    data = load_dataset(dataset, data_dir)
    store_path = Path(meta["tokenizer_store"])
    tokenizer = TokenizerStore.load(store_path, data.fingerprint())
    decoder, _ = load_checkpoint(checkpoint, tokenizer)
    sasrec = None
    if method != "sdpo":
        if not (artifacts / dataset / "sasrec" / "meta.json").is_file():
            raise GenrecError(
                f"{artifacts / dataset / 'sasrec'}: no SASRec reward model; run "
                f"`genrec baselines --dataset {dataset}` first"
            )
        sasrec = load_sasrec(artifacts / dataset / "sasrec")
    torch_device = resolve_device(device)
    split = leave_one_out(data)
    cfg = AlignConfig(
        method=method, lr=lr, eval_users=eval_users, seed=seed,
        time_budget_s=None if time_budget is None else time_budget * 60,
        dpo=DPOConfig(beta=beta, epochs=epochs, batch_size=batch_size),
        pg=PGConfig(
            group=group, batch_size=batch_size, epochs=epochs, eval_every=eval_every,
            weights={"accuracy": 1.0, "coldstart": aux_weight, "diversity": aux_weight},
        ),
        nll_weight=nll_weight,
    )  # fmt: skip
    result = run_align(decoder, tokenizer, data, split, cfg, torch_device, sasrec, progress)
    common = {"dataset": dataset, "start": checkpoint.name,
              "hardware": describe_hardware(torch_device), "command": _command()}  # fmt: skip

    def test_row(model, **extra) -> dict:
        test = evaluate_decoder(
            model.to(torch_device), tokenizer, split.test, torch_device, cold=result.cold
        )
        return {**common, **test, **extra}

    feedback = "self-play + real ratings" if data.has_ratings else "self-play only (no ratings)"
    rows = [
        test_row(load_checkpoint(checkpoint, tokenizer)[0], method="sft", best_step=0, seconds=0.0),
        test_row(
            result.decoder, method=label, best_step=result.best_step,
            seconds=round(result.seconds, 1), curve=result.history,
            feedback=feedback if method == "sdpo" else "rewards (SASRec + gate)",
        ),
    ]  # fmt: skip
    save_checkpoint(
        result.decoder, tokenizer, store_path, out,
        {"size": meta.get("size"), "aligned_from": str(checkpoint), "method": method,
         "test": rows[-1], "history": result.history},
    )  # fmt: skip
    columns = ["method", "recall@10", "ndcg@10", "coldstart_share@10", "coldstart_recall@10",
               "entropy@10", "invalid_rate"]  # fmt: skip
    _print_rows(
        f"{method} from {checkpoint.name} on {dataset} (test split, beam 20)", rows, columns
    )
    console.print(f"checkpoint: {out} (stopped: {result.stopped_by}, kept step {result.best_step})")
    if report is not None:
        from genrec.bench.alignment import write_alignment_report

        write_alignment_report(rows, report)
        console.print(f"report: {report} and {report.with_suffix('.md')}")


def _load_trained(checkpoint: Path, data_dir: Path | None):
    """A checkpoint with its dataset, tokenizer store and leave-one-out split."""
    from genrec.data import leave_one_out, load_dataset
    from genrec.model.checkpoint import load_checkpoint, read_meta
    from genrec.tokenizer.store import TokenizerStore

    meta = read_meta(checkpoint)
    data = load_dataset(meta["dataset"], data_dir)
    store_path = Path(meta["tokenizer_store"])
    store = TokenizerStore.load(store_path, data.fingerprint())
    decoder, _ = load_checkpoint(checkpoint, store)
    return decoder, meta, store, store_path, leave_one_out(data)


@app.command()
def slate(
    checkpoint: Annotated[Path, typer.Argument(help="The SFT checkpoint (`genrec train`)")],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    slots: Annotated[int, typer.Option(help="Items per page")] = 10,
    epochs: int = 5,
    batch_size: int = 256,
    lr: float = 3e-4,
    orpo_weight: Annotated[float, typer.Option(help="Listwise odds-ratio term (0 = off)")] = 0.5,
    ntp_weight: Annotated[float, typer.Option(help="Page-wise NTP term (keeps beam mode)")] = 1.0,
    dropout: Annotated[float, typer.Option(help="Input-embedding dropout")] = 0.1,
    complete_pages: Annotated[
        bool, typer.Option(help="Fill short pages with the starting model's beam top items")
    ] = False,
    eval_users: Annotated[int, typer.Option(help="Validation users decoded per check")] = 2000,
    seed: int = 0,
    out: Annotated[Path | None, typer.Option(help="Checkpoint folder (must not exist)")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes; stop at the first validation past it")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Teach a decoder whole-page generation (HiGR: plan, then slots in parallel, with a
    listwise ORPO term). The checkpoint serves both modes and exports like any other."""
    from genrec.align.slate import SlateConfig, train_slates
    from genrec.device import resolve_device
    from genrec.model.checkpoint import save_checkpoint

    out = out or checkpoint.with_name(f"{checkpoint.name}-slate")
    if out.exists():
        raise GenrecError(f"{out}: already exists; choose another --out")
    if not 1 <= slots <= 20:
        raise GenrecError(f"--slots must be in 1..20 (the beam width), got {slots}")
    decoder, meta, store, store_path, split = _load_trained(checkpoint, data_dir)
    cfg = SlateConfig(
        slots=slots, epochs=epochs, batch_size=batch_size, lr=lr, orpo_weight=orpo_weight,
        ntp_weight=ntp_weight, dropout=dropout, complete_pages=complete_pages,
        eval_users=eval_users, seed=seed,
        time_budget_s=None if time_budget is None else time_budget * 60,
    )  # fmt: skip
    result = train_slates(decoder, store, split, cfg, resolve_device(device), progress)
    save_checkpoint(
        result.decoder, store, store_path, out,
        {"size": meta.get("size"), "slate_from": str(checkpoint), "slots": slots,
         "slate_command": _command(), "history": result.history},
    )  # fmt: skip
    columns = ["step", "recall@10", "ndcg@10", "invalid_rate"]
    _print_rows(f"slate training on {meta['dataset']} (validation pages)", result.history, columns)
    console.print(f"checkpoint: {out} (stopped: {result.stopped_by}, kept step {result.best_step})")


@app.command("bench-slate")
def bench_slate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint trained by `genrec slate`")],
    data_dir: DataDir = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    k: Annotated[int, typer.Option(help="Items per page")] = 10,
    batches: Annotated[str, typer.Option(help="Comma list of batch sizes timed")] = "1,64",
    repeats: Annotated[int, typer.Option(help="Timed calls per batch size")] = 20,
    test_users: Annotated[int, typer.Option(help="Test users scored (0 = all)")] = 0,
    caps: Annotated[str, typer.Option(help="Comma list of per-code slot caps (1..4)")] = "4",
    report: Annotated[Path, typer.Option(help="JSON report (+ .md)")] = Path("reports/slate.json"),
) -> None:
    """Pages three ways from one checkpoint — beam top-k, item by item, HiGR slate — quality
    on the test split and latency, in one run."""
    from genrec.bench.slate import bench_slates, write_slate_report
    from genrec.device import describe_hardware, resolve_device
    from genrec.train.trainer import subset

    torch_device = resolve_device(device)
    decoder, meta, store, _, split = _load_trained(checkpoint, data_dir)
    test = subset(split.test, test_users, 0) if test_users else split.test
    sizes = tuple(int(b) for b in batches.split(","))
    code_caps = tuple(int(c) for c in caps.split(","))
    if not all(1 <= c <= 4 for c in code_caps):
        raise GenrecError(f"--caps must be in 1..4 (the slot beam width), got {caps}")
    rows = bench_slates(
        decoder, store, test, torch_device, k, sizes, repeats, split.max_history, code_caps
    )
    common = {"dataset": meta["dataset"], "checkpoint": checkpoint.name, "test_users": len(test),
              "trained_by": meta.get("slate_command", ""),
              "hardware": describe_hardware(torch_device), "command": _command()}  # fmt: skip
    console.print(write_slate_report([common | r for r in rows], report))


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A `genrec train` checkpoint folder")],
    repo: ModelRepo = Path("model_repo"),
    name: Annotated[str, typer.Option(help="Model name in the repository")] = "genrec",
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version [default: the one it recorded]")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy a checkpoint, its tokenizer-store version and the catalogue the gateway shows into
    the next version of a Triton model, and pin that store in the model's configurations."""
    from genrec.data import load_dataset
    from genrec.export import export as export_version
    from genrec.model.checkpoint import read_meta

    dataset = load_dataset(read_meta(checkpoint)["dataset"], data_dir)
    console.print(f"exported: {export_version(checkpoint, repo, dataset, name, store)}")


def _exported(model_repo: Path, data_dir: Path | None):
    """The latest exported version of the model, its export.json and its dataset: what the
    serving commands start the stack with."""
    from genrec.data import load_dataset
    from genrec.stack import latest_export

    version, info = latest_export(model_repo)
    return version, info, load_dataset(info["dataset"], data_dir)


@app.command()
def serve(
    model_repo: ModelRepo = Path("model_repo"),
    gpu: Gpu = False,
    port: Annotated[int, typer.Option(help="Gateway port on 127.0.0.1")] = 8000,
    workers: Annotated[int, typer.Option(help="Gateway worker processes")] = 1,
    workdir: Annotated[Path, typer.Option(help="Logs, Redis data, backends")] = Path("build/stack"),
    data_dir: DataDir = None,
) -> None:
    """Start redis-server, tritonserver (the latest exported model) and the gateway on loopback,
    load the dataset's histories into Redis, and serve until Ctrl-C, which stops all three."""
    import signal
    import time

    from genrec.stack import running_stack

    version, _, dataset = _exported(model_repo, data_dir)
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console.print(f"starting redis-server, tritonserver ({'GPU' if gpu else 'CPU'}), gateway...")
    with running_stack(model_repo, workdir, dataset, gpu, workers, port) as stack:
        user = dataset.users[0].id
        console.print(
            f"\n[bold]genrec is serving[/] {dataset.name} model {version.name} at {stack.url}"
            f"  (docs: {stack.url}/docs, metrics: {stack.url}/metrics, Triton metrics: "
            f"http://127.0.0.1:{stack.triton_metrics}/metrics)\n\ntry:\n"
            f"  curl -s -X POST {stack.url}/v1/recommendations "
            f"-H 'content-type: application/json' "
            f'-d \'{{"user_id": "{user}", "page_size": 5}}\'\n\n'
            f"logs: {workdir}/logs/   stop: Ctrl-C"
        )
        while not stopping:
            for service in stack.services:
                if service.process.poll() is not None:
                    raise GenrecError(f"{service.name} exited; see {service.log}")
            time.sleep(0.5)
        console.print("stopping gateway, tritonserver, redis-server...")
    console.print("stopped")


@app.command("bench-serve")
def bench_serve(
    rate: Annotated[
        list[float],
        typer.Option(help="Open-loop rates to measure, req/s (repeatable; 20 if no point given)"),
    ] = [],
    concurrency: Annotated[
        list[int], typer.Option(help="Closed-loop concurrencies to measure (repeatable)")
    ] = [],
    duration: Annotated[float, typer.Option(help="Seconds measured per point")] = 30.0,
    clients: Annotated[int, typer.Option(help="Load-generating processes")] = 1,
    workers: Annotated[list[int], typer.Option(help="Gateway worker counts (repeatable)")] = [1],
    gpu: Gpu = False,
    gpus: Annotated[
        list[int],
        typer.Option(help="Triton on the first N GPUs (repeatable): also writes the scale-out"),
    ] = [],
    triton_per_gpu: Annotated[
        bool,
        typer.Option(help="With --gpus N: N Triton servers, one per GPU (default: one on all N)"),
    ] = False,
    slo_p99_ms: Annotated[float, typer.Option(help="p99 bound of the scale-out report")] = 50.0,
    search_from: Annotated[
        int,
        typer.Option(
            help="Closed loop: from this many requests in flight, double until a point breaks "
            "the p99 bound, then bisect between the last within and the first past (0: off)"
        ),
    ] = 0,
    refine: Annotated[int, typer.Option(help="Bisections of --search-from")] = 2,
    model_repo: ModelRepo = Path("model_repo"),
    setting: Annotated[str, typer.Option(help="Row label, e.g. 'embedded default, CPU'")] = "",
    report: Annotated[Path, typer.Option(help="JSON report (+ .md)")] = Path(
        "reports/serving_bench.json"
    ),
    workdir: Annotated[Path, typer.Option(help="Logs and Redis data")] = Path("build/bench-serve"),
    data_dir: DataDir = None,
) -> None:
    """Start the stack on the latest exported model, load the dataset's histories, and measure
    end-to-end latency (p50/p95/p99), throughput and the time split per request. With `--gpus`,
    once per GPU count, and `serving_scaling.json` says what each count served within the SLO."""
    from genrec.bench.serve import (
        Load,
        measure_point,
        search_levels,
        within_slo,
        write_report,
        write_scaling_report,
    )
    from genrec.device import describe_hardware, resolve_device
    from genrec.stack import LOOPBACK_LOAD, running_stack

    if gpus:
        import torch

        if not gpu or max(gpus) > torch.cuda.device_count() or min(gpus) < 1:
            have = torch.cuda.device_count()
            raise GenrecError(f"--gpus {gpus} needs --gpu and 1..{have} GPUs (this machine)")
    if not rate and not concurrency and not search_from:
        rate = [20.0]
    if triton_per_gpu and not gpus:
        raise GenrecError("--triton-per-gpu needs --gpus")
    _, info, dataset = _exported(model_repo, data_dir)
    users = [u.id for u in dataset.users]
    hardware = describe_hardware(resolve_device("cuda" if gpu else "cpu"))
    label = setting or f"{dataset.name}, {'GPU' if gpu else 'CPU'}"
    label += ", one Triton per GPU" if triton_per_gpu else ""
    measured = []

    def sweep(stack, head: dict, n_gpus: int | None) -> None:
        """Every point on one running stack, each row written at once (a cut-off run keeps
        its points)."""

        def measure(load: Load) -> dict:
            point = measure_point(stack.url, stack.triton_metrics_urls, users, load)
            row = head | point | {"hardware": hardware, "command": _command()}
            write_report([row], report)
            console.print(row)
            measured.append(row | {"gpus": n_gpus})
            return row

        def closed_loop(c: int) -> dict:
            return measure(Load(duration_s=duration, rate=None, concurrency=c, clients=clients))

        for r in rate:
            measure(Load(duration_s=duration, rate=r, clients=clients))
        for c in concurrency:
            closed_loop(c)
        if search_from:
            search_levels(lambda c: within_slo(closed_loop(c), slo_p99_ms), search_from, refine)

    for n_gpus, n_workers in [(g, w) for g in gpus or [None] for w in workers]:
        with running_stack(
            model_repo,
            workdir,
            dataset,
            gpu,
            n_workers,
            gateway_env=LOOPBACK_LOAD,
            triton_gpus=n_gpus,
            triton_servers=n_gpus if triton_per_gpu else 1,
        ) as stack:
            head = {
                "setting": label if n_gpus is None else f"{label}, {n_gpus} GPU(s)",
                "model": f"{info['dataset']} {info.get('size', '')}".strip(),
                "gateway_workers": n_workers,
            }
            sweep(stack, head, n_gpus)
    console.print(report.with_suffix(".md").read_text())
    if gpus:
        scaling = report.with_name("serving_scaling.json")
        console.print(write_scaling_report(measured, label, slo_p99_ms, scaling))


@app.command()
def loadtest(
    users: Annotated[
        str,
        typer.Option(help="Steady Locust users (a burst triples them); a comma list sweeps"),
    ] = "15",
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 5.0,
    run_time: Annotated[int, typer.Option(help="Seconds per run")] = 60,
    p99_ms: Annotated[float, typer.Option(help="SLO: p99 latency, all requests")] = 150.0,
    error_rate: Annotated[float, typer.Option(help="SLO: share of failed requests")] = 0.0,
    processes: Annotated[int, typer.Option(help="Locust load processes")] = 1,
    burst: Annotated[
        float, typer.Option(help="Users multiplier for the middle fifth of each run (1 = none)")
    ] = 3.0,
    gpu: Gpu = False,
    workers: Annotated[int, typer.Option(help="Gateway worker processes")] = 1,
    model_repo: ModelRepo = Path("model_repo"),
    setting: Annotated[str, typer.Option(help="Row label")] = "",
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + PNG)")] = Path(
        "reports/loadtest.json"
    ),
    workdir: Annotated[Path, typer.Option(help="Logs, Redis data, CSVs")] = Path("build/loadtest"),
    data_dir: DataDir = None,
) -> None:
    """Start the stack, run the Locust scenarios headless against it for a bounded time (once
    per user count of a sweep, on the same stack), and write the report; exit 1 when an SLO
    broke (in a sweep: at every user count)."""
    from genrec.bench import loadtest as lt
    from genrec.bench.serve import scrape
    from genrec.device import describe_hardware, resolve_device
    from genrec.stack import LOOPBACK_LOAD, running_stack

    levels = [int(u) for u in users.split(",")]
    _, _, dataset = _exported(model_repo, data_dir)
    catalog = lt.write_catalog(
        [u.id for u in dataset.users], [i.id for i in dataset.items], workdir / "catalog.json"
    )
    runs = [
        lt.Run(n, spawn_rate, run_time, p99_ms, error_rate, None, processes, burst) for n in levels
    ]
    label = setting or f"{dataset.name}, {'GPU' if gpu else 'CPU'}, {workers} gateway worker(s)"
    codes, server = [], []  # per run: (its server-side p99s, CPU seconds before and after)
    # (bench-reliability tests the per-address limit that LOOPBACK_LOAD lifts)
    with running_stack(
        model_repo, workdir, dataset, gpu, workers, gateway_env=LOOPBACK_LOAD
    ) as stack:
        for r in runs:
            before, cpu_before = scrape(f"{stack.url}/metrics"), lt.cpu_seconds(stack)
            codes.append(lt.run_locust(stack.url, catalog, r, workdir / f"locust-{r.users}"))
            p99s = lt.server_p99s(before, scrape(f"{stack.url}/metrics"))
            server.append((p99s, cpu_before, lt.cpu_seconds(stack)))
    hardware = describe_hardware(resolve_device("cuda" if gpu else "cpu"))
    rows = []
    for r, (p99s, cpu_before, cpu_after) in zip(runs, server, strict=True):
        for row in lt.read_rows(workdir / f"locust-{r.users}", r):
            if row["scenario"] == "all":  # the server's view covers all requests
                row |= p99s | lt.cpu_ms_per_request(cpu_before, cpu_after, row["requests"])
            rows.append({"setting": label, **row, "hardware": hardware, "command": _command()})
    slug = label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    png = report.parent / f"loadtest_{slug}.png"
    if len(runs) == 1:
        lt.plot_history(workdir / f"locust-{levels[0]}", png, label)
    else:
        lt.plot_knee(rows, png.with_name(f"loadtest_{slug}_knee.png"), label)
    console.print(lt.write_report(rows, report))
    if all(code != 0 for code in codes):
        raise typer.Exit(1)


@app.command("bench-reliability")
def bench_reliability(
    model_repo: ModelRepo = Path("model_repo"),
    report: Annotated[Path, typer.Option(help="JSON report (+ .md)")] = Path(
        "reports/reliability.json"
    ),
    workdir: Annotated[Path, typer.Option(help="Logs and Redis data")] = Path(
        "build/bench-reliability"
    ),
    data_dir: DataDir = None,
) -> None:
    """Cause faults on the local stack under steady traffic (Triton killed and stalled, Redis
    killed, a flooding client, malformed bodies), then Schemathesis; write what users saw."""
    import secrets

    from genrec.bench.reliability import run_faults, run_schemathesis, write_report
    from genrec.device import describe_hardware, resolve_device
    from genrec.stack import running_stack

    _, _, dataset = _exported(model_repo, data_dir)
    key = secrets.token_hex(16)
    settings = {  # a rate limit a 2-core flooder can exceed while steady traffic stays under
        "GENREC_API_KEY": key,
        "GENREC_BREAKER_RESET_S": "1",
        "GENREC_RATE_LIMIT_RPS": "50",
        "GENREC_RATE_LIMIT_BURST": "100",
    }
    with running_stack(model_repo, workdir, dataset, gateway_env=settings) as stack:
        users, items = [u.id for u in dataset.users], [i.id for i in dataset.items]
        rows = run_faults(stack, users, items, key)
        schemathesis = run_schemathesis(stack.url, key)
    meta = {"command": _command(), "hardware": describe_hardware(resolve_device("cpu"))}
    console.print(write_report(rows, schemathesis, meta, report))


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML; see genrec.sweep)")],
    runs: Annotated[
        Path | None, typer.Option(help="Run folders and logs [default: build/sweep/<file stem>]")
    ] = None,
    parallel: Annotated[int, typer.Option(help="Runs side by side")] = 1,
    time_budget: Annotated[
        float | None, typer.Option(help="Minutes of training per train run")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Run a grid of `genrec train` variants x datasets x seeds (and their SASRec baselines)
    side by side; finished runs are skipped, cut-off ones resumed."""
    from genrec.sweep import plan, run_sweep

    if parallel < 1:
        raise GenrecError(f"--parallel must be ≥ 1, got {parallel}")
    folder = runs or Path("build/sweep") / file.stem
    outcomes = run_sweep(plan(file, folder, time_budget), folder, parallel, progress)
    table = Table(title=f"sweep {file} → {folder}")
    for column in ("run", "status", "exit", "seconds"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for o in outcomes:
        table.add_row(o.job.name, o.status, str(o.code), f"{o.seconds:.0f}")
    console.print(table)
    if failed := [o.job.name for o in outcomes if o.code != 0]:
        console.print(f"{len(failed)} failed; logs in {folder / 'logs'}")
        raise typer.Exit(1)


@app.command("bench-recipe")
def bench_recipe(
    runs: Annotated[
        Path,
        typer.Argument(
            help="Folder of run records: <dataset>-<variant>-s<seed>/genrec.json per decoder "
            "run and sasrec-<dataset>-s<seed>.json (`genrec baselines --report`) per SASRec run"
        ),
    ] = Path("reports/recipe_runs"),
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/recipe.json"
    ),
) -> None:
    """Aggregate decoder runs over seeds against the same-run SASRec into reports/recipe.*."""
    from genrec.bench.recipe import decoder_runs, recipe_rows, sasrec_runs, write_recipe_report

    if not runs.is_dir():
        raise GenrecError(f"{runs}: no such folder of run records")
    decoders = decoder_runs([p.parent for p in runs.glob("*/genrec.json")])
    rows = recipe_rows(decoders, sasrec_runs(list(runs.glob("sasrec-*.json"))), _command())
    write_recipe_report(rows, report)
    console.print(f"report: {report} and {report.with_suffix('.md')}")


@app.command("bench-decode")
def bench_decode(
    sizes: Annotated[
        str, typer.Option(help="Comma list of decoder sizes (tiny, 26m, 200m)")
    ] = "26m,200m",
    batches: Annotated[str, typer.Option(help="Comma list of batch sizes")] = "1,16,64,256",
    beam: int = 20,
    k: Annotated[int, typer.Option(help="Items returned per request")] = 10,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, ...")] = "auto",
    engine_iters: int = 50,
    hf_requests: Annotated[
        int, typer.Option(help="Requests the HF reference decodes per point")
    ] = 512,
    exact_prompts: Annotated[
        int, typer.Option(help="Prompts checked against HF (0 = skip)")
    ] = 1000,
    profile: Annotated[
        bool,
        typer.Option(help="CUDA: also profile one search by kernel family (decode_profile.json)"),
    ] = False,
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/decode_bench.json"
    ),
) -> None:
    """Benchmark the constrained beam-search engine against HF generate in the same run."""
    from genrec.bench.decode import DecodeBench, run_bench, write_decode_report
    from genrec.bench.decode_profile import write_profile_report
    from genrec.device import describe_hardware, resolve_device

    torch_device = resolve_device(device)
    if profile and torch_device.type != "cuda":
        raise GenrecError("--profile reads CUDA kernel times: run it with a CUDA device")
    cfg = DecodeBench(
        sizes=tuple(sizes.split(",")),
        batches=tuple(int(b) for b in batches.split(",")),
        beam=beam,
        k=k,
        engine_iters=engine_iters,
        hf_requests=hf_requests,
        exact_prompts=exact_prompts,
        profile=profile,
    )
    gpu = describe_hardware(torch_device)
    rows, exact, profiled = run_bench(cfg, torch_device, gpu, _command())
    if profiled:
        write_profile_report(profiled, report.with_name("decode_profile.json"))
    text = write_decode_report(rows, exact, report, gpu, exact_model=cfg.sizes[0])
    console.print(text)


@app.command("bench-scaling")
def bench_scaling(
    datasets: Annotated[str, typer.Option(help="Comma list of datasets")] = "synthetic",
    sizes: Annotated[str, typer.Option(help="Comma list of decoder sizes")] = "26m,200m",
    strategies: Annotated[str, typer.Option(help="Comma list: ddp, fsdp")] = "ddp,fsdp",
    gpus: Annotated[
        str, typer.Option(help="Comma list of process counts (one GPU each on CUDA)")
    ] = "1,2,4",
    steps: Annotated[int, typer.Option(help="Timed optimizer steps per row")] = 50,
    warmup: Annotated[int, typer.Option(help="Untimed steps before them")] = 5,
    batch_size: Annotated[int, typer.Option(help="Global batch: examples per step")] = 512,
    compile: Annotated[
        bool, typer.Option("--compile/--no-compile", help="torch.compile the whole decoder")
    ] = False,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile", help="CUDA: profile a few more steps on rank 0 (compute, comm, idle)"
        ),
    ] = False,
    device: Annotated[str, typer.Option(help="cuda (one process per GPU) or cpu (gloo)")] = "cuda",
    store: Annotated[
        Path | None, typer.Option(help="Tokenizer store version folder [default: latest]")
    ] = None,
    report: Annotated[Path, typer.Option(help="JSON report (+ .md, + .png)")] = Path(
        "reports/scaling.json"
    ),
    data_dir: DataDir = None,
) -> None:
    """Training scale-out: for each dataset × size × strategy × N, `torchrun --nproc_per_node
    N` trains the same seeded decoder on the same global batches and times it; speed-up,
    efficiency and final loss against N = 1 go into the report."""
    from rich.progress import track

    from genrec.bench.scaling import launch, runs_for, write_report
    from genrec.device import resolve_device
    from genrec.train.distributed import STRATEGIES, device_error

    counts = sorted({int(n) for n in gpus.split(",")})
    kinds = strategies.split(",")
    if unknown := set(kinds) - set(STRATEGIES):
        raise GenrecError(f"unknown strategies {sorted(unknown)}; expected {', '.join(STRATEGIES)}")
    for kind in kinds:
        if error := device_error(kind, resolve_device(device).type):
            raise GenrecError(error)
    if min(counts) < 1:
        raise GenrecError(f"--gpus takes process counts ≥ 1, got {gpus}")
    if batch_size % max(counts):
        raise GenrecError(f"--batch-size {batch_size} must split evenly over {max(counts)}")
    if device.startswith("cuda"):
        import torch

        have = torch.cuda.device_count()
        if max(counts) > have:
            raise GenrecError(f"--gpus asks for {max(counts)} GPUs; this machine has {have}")
    runs = runs_for(
        datasets.split(","),
        sizes.split(","),
        kinds,
        counts,
        steps=steps,
        warmup=warmup,
        batch_size=batch_size,
        compile=compile,
        profile=profile,
        device=device,
        store=None if store is None else str(store),
        data_dir=None if data_dir is None else str(data_dir),
    )
    table = ""
    for run in track(runs, description="scaling runs"):
        # Row by row: a run cut off by a time limit keeps the rows it measured.
        table = write_report([launch(run, _command())], report)
    console.print(table)


def main() -> None:
    try:
        app()
    except GenrecError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
