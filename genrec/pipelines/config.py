"""`RunConfig`: one frozen configuration of a decoder run, made of sub-configs (data, tokenizer,
model, train, engine) passed down to the layers that own them. It is the one owner of the
options' defaults (the default recipe: `genrec train -d NAME` with nothing else), reads a run
file (TOML, one table per sub-config), takes command-line overrides by option name, and its
canonical form is the run's identity (`run_id`), stored in every report row.

Torch-free, so reading a config (a sweep file, `genrec --help`) starts no torch."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from genrec.errors import GenrecError

STORE = Path("tokenizer_store")  # where `genrec tokenize` writes and `genrec train` looks


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "synthetic"  # a named dataset


@dataclass(frozen=True)
class StoreConfig:
    store: Path | None = None  # tokenizer store version folder; None: the dataset's latest


@dataclass(frozen=True)
class ModelConfig:
    size: str = "5m"  # tiny, 5m, 26m, 200m, or pretrained smollm2-135m
    sid_rows: str = "reuse"  # pretrained sizes: SID tokens reuse vocabulary rows, or add rows
    merge_to: int = 0  # token merger: embeddings per history item (0 = none)
    user_scid: bool = False  # prefix prompts with the user's SCID
    dropout: float = 0.2  # input embeddings and attention
    residual_dropout: float = 0.0  # attention and MLP outputs (Qwen2 has none)
    dense: bool = True  # the dense head (LIGER / COBRA-style hybrid)
    dense_loss: float = 0.25  # weight of its catalogue cross-entropy
    dense_input: bool = False  # its item embeddings also enter the prompt (tied)
    dense_candidates: int = 20  # its own top items that join the beam's candidates


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 10  # the cosine schedule decays over this many
    batch_size: int = 256  # examples per step, over all processes
    lr: float = 1e-3
    weight_decay: float = 0.1
    patience: int = 5  # epochs without a better validation Recall@10
    eval_users: int = 2000  # validation users decoded per epoch
    seed: int = 0
    time_budget: float | None = None  # minutes
    page_size: int = 1  # k of page-wise NTP
    text_tasks: float = 0.0  # pretrained sizes: weight of the item text ↔ SID tasks
    distill: float = 0.5  # weight of the protocol SASRec's next-item distribution (teacher)
    distill_temperature: float = 1.0  # softens the teacher's logits
    ema: float = 0.0  # decay of the weights' moving average that is validated and kept (0: off)
    strategy: str = "ddp"  # under torchrun: ddp, ddp-bf16 or fsdp
    device: str = "auto"


@dataclass(frozen=True)
class DecodeConfig:
    """What the run decodes with after training: `genrec.engine.EngineConfig.served(beam)`,
    the configuration Triton serves."""

    beam: int = 50  # of the test decode and the dense weight's choice
    dense_weights: str = "0,0.25,0.5,1,2,4"  # the dense head's decode weights, one chosen on valid


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: StoreConfig = field(default_factory=StoreConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainingConfig = field(default_factory=TrainingConfig)
    engine: DecodeConfig = field(default_factory=DecodeConfig)

    @classmethod
    def sections(cls) -> dict[str, type]:
        return {f.name: f.default_factory for f in dataclasses.fields(cls)}

    @classmethod
    def options(cls) -> dict[str, str]:
        """Every option name (a field of one sub-config; names are unique) → its sub-config."""
        return {
            f.name: section
            for section, kind in cls.sections().items()
            for f in dataclasses.fields(kind)
        }

    @classmethod
    def from_options(cls, base: RunConfig | None = None, **options) -> RunConfig:
        """`base` (the defaults) with options given by name (`dropout=0.4`), as the command
        line names them."""
        base, where = base or cls(), cls.options()
        if unknown := sorted(set(options) - set(where)):
            raise GenrecError(f"unknown option {unknown[0]!r}")
        if options.get("store") is not None:
            options["store"] = Path(options["store"])
        parts = {
            section: dataclasses.replace(
                getattr(base, section), **{k: v for k, v in options.items() if where[k] == section}
            )
            for section in cls.sections()
        }
        return cls(**parts)

    @classmethod
    def from_toml(cls, path: Path, **overrides) -> RunConfig:
        """A run file, one table per sub-config (`[model]` `dropout = 0.4`), then `overrides`
        by option name on top; unknown tables and keys are refused, so a typo never trains a
        default."""
        try:
            tables = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise GenrecError(f"{path}: {e}") from None
        options: dict = {}
        for section, values in tables.items():
            if section not in cls.sections() or not isinstance(values, dict):
                known = ", ".join(f"[{s}]" for s in cls.sections())
                raise GenrecError(f"{path}: unknown table {section!r}; expected {known}")
            names = {f.name for f in dataclasses.fields(cls.sections()[section])}
            if unknown := sorted(set(values) - names):
                raise GenrecError(f"{path}: [{section}] has no key {unknown[0]!r}")
            options |= values
        return cls.from_options(cls.from_options(**options), **overrides)

    def identity(self) -> dict:
        """The canonical form hashed into the run id: every sub-config, paths as strings."""

        def plain(value):
            return str(value) if isinstance(value, Path) else value

        return {
            section: {k: plain(v) for k, v in dataclasses.asdict(getattr(self, section)).items()}
            for section in self.sections()
        }

    def label(self) -> str:
        """The row's model label: the size and the options that most often set runs apart,
        when they differ from the recipe (the run id tells every run apart)."""
        from genrec.model.config import SIZES  # here: reading a config needs no torch

        m, t, e, d = self.model, self.train, self.engine, RunConfig()
        parts = (
            (f" sid-{m.sid_rows}", m.size not in SIZES),
            (f" text{t.text_tasks:g}", t.text_tasks > 0),
            (f" page{t.page_size}", t.page_size > 1),
            (f" merge{m.merge_to}", m.merge_to > 0),
            (" uscid", m.user_scid),
            (" no-dense", not m.dense),
            (f" dl{m.dense_loss:g}", m.dense and m.dense_loss != d.model.dense_loss),
            (f" dw{e.dense_weights}", m.dense and e.dense_weights != d.engine.dense_weights),
            (
                f" dc{m.dense_candidates}",
                m.dense and m.dense_candidates != d.model.dense_candidates,
            ),
            (" di", m.dense and m.dense_input),
            (f" beam{e.beam}", e.beam != d.engine.beam),
            (f" bs{t.batch_size}", t.batch_size != d.train.batch_size),
            (f" lr{t.lr:g}", t.lr != d.train.lr),
            (f" do{m.dropout:g}", m.dropout != d.model.dropout),
            (f" rd{m.residual_dropout:g}", m.residual_dropout > 0),
            (f" wd{t.weight_decay:g}", t.weight_decay != d.train.weight_decay),
            (f" e{t.epochs}", t.epochs != d.train.epochs),
            (f" kd{t.distill:g}", t.distill != d.train.distill),
            (
                f" kdt{t.distill_temperature:g}",
                t.distill_temperature != d.train.distill_temperature,
            ),
            (f" ema{t.ema:g}", t.ema != d.train.ema),
        )
        return f"decoder-{m.size}" + "".join(part for part, on in parts if on)
