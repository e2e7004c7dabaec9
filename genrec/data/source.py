"""`DataSource`: what a run reads, a named dataset or a user's own files, and how to read them.
It is the data sub-config of every run (`RunConfig.data`), so its fields are also the
`--dataset`, `--items`, `--columns`, `--k-core`, ... flags of the commands that read data.

A path is RecBole atomic files (a folder holding one `NAME.inter`, or the `.inter` file, with
`NAME.item` beside it when there is one) or a plain table (`.csv`, `.tsv`, `.jsonl`,
`.parquet`) with an optional items table. It is parsed once (`genrec.data.prepare`'s rules)
into the dataset cache, keyed by the files' content hash, the options and the readers' code,
so later commands start from arrays instead of parsing again.

A dataset read from files records this source (`Dataset.meta["source"]`); the tokenizer
store, the checkpoint and the export copy it, so a later command (export, serve) reads the
same data the same way without being told again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from genrec.data import prepare, tables
from genrec.data.cache import cached
from genrec.data.readers import require
from genrec.data.schema import Dataset
from genrec.errors import DataError
from genrec.options import option

GENERIC_STEMS = {"interactions", "inter", "ratings", "events", "data", "log", "train"}
DEFAULT_K_CORE = 5  # the benchmarks' filter, for a user's files (named datasets are as published)
# The readers' code is part of a prepared dataset's identity: changed rules, new cache entry.
READERS_DIGEST = hashlib.sha256(
    b"".join(Path(m.__file__).read_bytes() for m in (tables, prepare))
).hexdigest()[:16]


@dataclass(frozen=True)
class DataSource:
    dataset: str = option(
        "synthetic",
        "A named dataset (genrec datasets lists them) or a path: RecBole atomic files (a "
        "folder or NAME.inter) or a table (.csv .tsv .jsonl .parquet)",
    )
    items: str | None = option(
        None, "A table's items file: item_id, title, brand, categories, description, price"
    )
    columns: str | None = option(
        None, "Column names of your files by role, e.g. user_id=uid,item_id=sku,timestamp=ts"
    )
    delimiter: str | None = option(None, "A CSV's delimiter [default: by suffix]")
    events: str | None = option(None, "Comma list of the event values that count [default: all]")
    k_core: int | None = option(
        None, "Keep users and items with ≥ k interactions [default: 5 for files; 0 keeps all]"
    )
    added: str | None = option(
        None, "Items files appended to the catalogue by `genrec catalog add` (comma list)"
    )

    @property
    def is_named(self) -> bool:
        from genrec.data.registry import SPECS

        return self.dataset in SPECS

    def recorded(self) -> dict:
        """The fields that differ from the defaults, with the path made absolute: what
        artifacts record, and `from_record` reads back."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }
        if not self.is_named:
            out["dataset"] = _absolute(self.dataset)
            if self.items is not None:
                out["items"] = _absolute(self.items)
        if self.added:
            out["added"] = ",".join(_absolute(p) for p in self.added.split(","))
        return out

    @classmethod
    def from_record(cls, record: dict) -> DataSource:
        """An artifact's record (`export.json`, a checkpoint's or store's metadata) → the
        source its data was read from: the recorded source, else its dataset's name."""
        if "data_source" in record:
            return cls(**record["data_source"])
        return cls(dataset=record["dataset"])

    def load(self, data_dir: Path | None = None) -> Dataset:
        from genrec.data.registry import load_named

        if not self.is_named:
            dataset = self.prepared()[0]
        else:
            reading = ("items", "columns", "delimiter", "events", "k_core")  # a file's options
            given = [name for name in reading if getattr(self, name) is not None]
            if given:
                raise DataError(
                    f"--{given[0].replace('_', '-')} reads your own files; {self.dataset!r} is a "
                    f"named dataset, read as published"
                )
            dataset = load_named(self.dataset, data_dir)
        return self._with_added(dataset) if self.added else dataset

    def _with_added(self, dataset: Dataset) -> Dataset:
        """`dataset` with the `added` items files' items after its own, ids kept unique."""
        mapping = tables.parse_columns(self.columns)
        items, seen = list(dataset.items), {item.id for item in dataset.items}
        for name in self.added.split(","):
            path = Path(name).expanduser()
            for item in tables.read_items(path, mapping, self.delimiter):
                if item.id in seen:
                    raise DataError(
                        f"{path}: item {item.id!r} is already in the catalogue; expected new ids"
                    )
                seen.add(item.id)
                items.append(item)
        meta = dataset.meta | {"source": self.recorded()}
        return dataclasses.replace(dataset, items=items, meta=meta)

    def files(self) -> tuple[Path, Path | None]:
        """The interactions file and the items file (None when there is none)."""
        path = Path(self.dataset).expanduser()
        if not path.exists():
            from genrec.data.registry import SPECS

            raise DataError(
                f"unknown dataset {self.dataset!r}: neither a named one ({', '.join(SPECS)}) "
                f"nor a file or folder"
            )
        if path.is_dir():
            inter = sorted(path.glob(f"*{tables.ATOMIC_SUFFIX}"))
            if len(inter) != 1:
                found = ", ".join(p.name for p in inter) or "none"
                raise DataError(
                    f"{path}: expected one NAME{tables.ATOMIC_SUFFIX} file in the folder "
                    f"(found {found}); name the file instead"
                )
            path = inter[0]
        if self.items is not None:
            return path, require(Path(self.items).expanduser(), "the --items table")
        if tables.table_format(path) == "atomic":
            sibling = path.with_suffix(".item")
            return path, sibling if sibling.is_file() else None
        return path, None

    def name(self) -> str:
        """The dataset's name in folders and report rows: the interactions file's stem (its
        folder's name when the stem says only what the file holds), marked when it would be
        taken for a named dataset."""
        from genrec.data.registry import SPECS

        path = self.files()[0]
        stem = path.name.split(".")[0]
        if stem.lower() in GENERIC_STEMS and path.parent.name:
            stem = path.parent.name
        return f"{stem}-file" if stem in SPECS else stem

    def prepared(self) -> tuple[Dataset, prepare.Filtered | None]:
        """The dataset and what preparation dropped (None when it came from the cache)."""
        inter, items_path = self.files()
        name = self.name()
        k = DEFAULT_K_CORE if self.k_core is None else self.k_core
        mapping = tables.parse_columns(self.columns)
        events = tuple(e.strip() for e in (self.events or "").split(",") if e.strip())
        key = {
            "files": [_digest(p) for p in (inter, items_path) if p is not None],
            "k_core": k, "columns": mapping, "delimiter": self.delimiter, "events": events,
            "readers": READERS_DIGEST,
        }  # fmt: skip
        report: list[prepare.Filtered] = []

        def build() -> Dataset:
            rows = tables.read_rows(inter, tables.ROLES, mapping, self.delimiter)
            catalogue = (
                tables.read_items(items_path, mapping, self.delimiter) if items_path else None
            )
            dataset, filtered = prepare.build(
                name, rows, catalogue, k, events, source=str(inter.resolve())
            )
            report.append(filtered)
            dataset.meta["source"] = dataclasses.replace(self, added=None).recorded()
            dataset.meta["filtered"] = dataclasses.asdict(filtered)
            return dataset

        dataset = cached(name, key, build)
        return dataset, (report[0] if report else None)


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
