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

from genrec.data.source import DataSource
from genrec.errors import GenrecError
from genrec.options import option

STORE = Path("tokenizer_store")  # where `genrec tokenize` writes and `genrec train` looks


@dataclass(frozen=True)
class StoreConfig:
    store: Path | None = option(None, "Tokenizer store version folder [default: the latest]")


@dataclass(frozen=True)
class ModelConfig:
    size: str = option("5m", "Decoder size: tiny, 5m, 26m, 200m, or pretrained smollm2-135m")
    sid_rows: str = option(
        "reuse", "Pretrained sizes: SID tokens reuse vocabulary rows, or add rows"
    )
    merge_to: int = option(0, "Token merger: embeddings per history item (0 = no merger)")
    user_scid: bool = option(False, "Prefix prompts with the user's SCID")
    dropout: float = option(0.2, "Embedding and attention dropout")
    residual_dropout: float = option(0.0, "Dropout on attention and MLP outputs (Qwen2: none)")
    dense: bool = option(True, "Dense head: item embeddings that rerank the beam (hybrid)")
    dense_loss: float = option(0.25, "Weight of the dense head's catalogue cross-entropy")
    dense_input: bool = option(False, "The dense head's item embeddings also enter the prompt")
    dense_candidates: int = option(20, "The dense head's own top items that join the beam")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = option(10, "Most epochs; the cosine schedule decays over this many")
    batch_size: int = option(256, "Examples per step, over all processes")
    lr: float = option(1e-3)
    weight_decay: float = option(0.1)
    patience: int = option(5, "Epochs without a better valid Recall@10")
    eval_users: int = option(2000, "Validation users decoded per epoch")
    seed: int = option(0)
    time_budget: float | None = option(None, "Minutes; then stop as early stopping does")
    page_size: int = option(1, "k of page-wise NTP (1 = next-item NTP)")
    text_tasks: float = option(0.0, "Pretrained sizes: weight of the item text ↔ SID tasks")
    distill: float = option(0.5, "Weight of the protocol SASRec's distribution (0 = none)")
    distill_temperature: float = option(1.0, "Softens the teacher's logits")
    ema: float = option(0.0, "Decay of the weights' moving average that is kept (0 = off)")
    strategy: str = option(
        "ddp", "Under torchrun: ddp, ddp-bf16 (bf16 gradient all-reduce, CUDA) or fsdp"
    )
    device: str = option("auto", "auto, cpu, cuda, ...")


@dataclass(frozen=True)
class DecodeConfig:
    """What the run decodes with after training: `genrec.engine.EngineConfig.served(beam)`,
    the configuration Triton serves."""

    beam: int = option(50, "Beam width of the test decode and the dense weight's choice")
    dense_weights: str = option(
        "0,0.25,0.5,1,2,4", "Comma list of the dense head's decode weights, one chosen on valid"
    )


@dataclass(frozen=True)
class RunConfig:
    data: DataSource = field(default_factory=DataSource)  # what is read, and how
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

        identity = {
            section: {k: plain(v) for k, v in dataclasses.asdict(getattr(self, section)).items()}
            for section in self.sections()
        }
        # The options for reading a user's files came later; left unset they leave every
        # earlier run's id as it was.
        identity["data"] = {k: v for k, v in identity["data"].items() if v is not None}
        return identity

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
