"""Dataset names → loaders, and where the public data lives.

The data directory comes from a flag, else `$GENREC_DATA_DIR`, else `../shared/data` beside
the checkout (or the working directory) when it exists. `synthetic` needs no directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genrec.data import beauty, instruments, movielens, scientific, synthetic
from genrec.data.cache import cached
from genrec.data.schema import Dataset
from genrec.data.source import DataSource
from genrec.errors import DataError, GenrecError

DATA_DIR_ENV = "GENREC_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str | None  # folder under the data directory; None for generated data
    load: Callable[[Path], Dataset] | None
    description: str


SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("synthetic", None, None, "embedded default: seeded synthetic catalogue"),
        DatasetSpec("synthetic-x10", None, None, "the synthetic catalogue ten times larger"),
        DatasetSpec("beauty", beauty.FOLDER, beauty.load, "Amazon 2014 Beauty (P5 split), text"),
        DatasetSpec(
            "instruments",
            instruments.FOLDER,
            instruments.load,
            "Amazon 2018 Instruments (LC-Rec), ids only",
        ),
        DatasetSpec(
            "scientific",
            scientific.FOLDER,
            scientific.load,
            "Amazon 2018 Scientific (UniSRec), text",
        ),
        DatasetSpec(
            "ml-100k",
            movielens.FOLDER,
            movielens.load,
            "MovieLens-100k, ratings + timestamps, text",
        ),
    ]
}


def default_data_dir() -> Path | None:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    for candidate in (REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


def load_dataset(dataset: str | DataSource, data_dir: Path | None = None) -> Dataset:
    """A named dataset or a path (`DataSource` has the options for reading a path)."""
    source = dataset if isinstance(dataset, DataSource) else DataSource(dataset=dataset)
    return source.load(data_dir)


def load_recorded(record: dict, data_dir: Path | None = None) -> Dataset:
    """The dataset an artifact (export.json, a checkpoint's or store's metadata) was built
    from, read as it was then."""
    return DataSource.from_record(record).load(data_dir)


def load_named(name: str, data_dir: Path | None = None) -> Dataset:
    spec = SPECS.get(name)
    if spec is None:
        raise GenrecError(f"unknown dataset {name!r}; expected one of {', '.join(SPECS)}")
    if spec.load is None:
        cfg = synthetic.X10 if name == "synthetic-x10" else synthetic.SyntheticConfig()
        # Keyed by the generator's source too: a changed generator is a new dataset.
        key = {"config": cfg.__dict__, "generator": synthetic.SOURCE_DIGEST}
        return cached(name, key, lambda: synthetic.generate(cfg, name))
    data_dir = data_dir or default_data_dir()
    if data_dir is None:
        raise DataError(
            f"dataset {name!r} needs the public data: pass --data-dir or set {DATA_DIR_ENV} "
            f"to the folder holding {spec.folder}/"
        )
    root = data_dir / spec.folder
    if not root.is_dir():
        raise DataError(f"{root}: folder not found (expected the {name} files from {spec.folder})")
    return spec.load(root)
