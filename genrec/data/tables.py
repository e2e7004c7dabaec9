"""A user's own files → rows: RecBole atomic files (`NAME.inter`, `NAME.item`) and plain tables
(CSV, TSV, JSON Lines, Parquet) of interactions and of items.

Every reader checks what it was given and fails with one line naming the file, the line or
column, and what was expected. Columns are found by their role's name (`user_id`, `item_id`,
`timestamp`, `rating`, `event`; `title`, `brand`, `categories`, `description`, `price`), or by
the column a `--columns role=name` mapping gives it. Atomic-file headers carry a type after
the name (`user_id:token`), which is dropped; RecBole's usual names for item text
(`movie_title`, `class`, `genre`, `release_year`) are understood too.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from genrec.data.readers import parse_float, require
from genrec.data.schema import Dataset, Item
from genrec.errors import DataError

ROLES = ("user_id", "item_id", "timestamp", "rating", "event")  # of an interactions file
ITEM_ROLES = ("item_id", "title", "brand", "categories", "description", "price")
REQUIRED = ("user_id", "item_id")
# Other names a role goes by in RecBole's atomic files; the role's own name is tried first.
ALIASES = {
    "title": ("movie_title", "name"),
    "categories": ("class", "genre", "genres", "category"),
    "year": ("release_year", "year"),
}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None, ".parquet": None}
ATOMIC_SUFFIX = ".inter"


@dataclass
class Rows:
    """One file's rows by role: every column a list of strings (None where a row has no
    value), and each row's line in the file (its row number for Parquet), for messages."""

    path: Path
    columns: dict[str, list[str | None]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.lines)


def parse_columns(mapping: str | None) -> dict[str, str]:
    """`"user_id=uid,item_id=sku"` → {role: column name in the file}."""
    out: dict[str, str] = {}
    for part in (mapping or "").split(","):
        if not part.strip():
            continue
        role, sep, column = (p.strip() for p in part.partition("="))
        if not sep or not column:
            raise DataError(f"--columns: {part.strip()!r} is not role=column")
        known = ROLES + ITEM_ROLES[1:]
        if role not in known:
            raise DataError(f"--columns: unknown role {role!r}; expected one of {', '.join(known)}")
        out[role] = column
    return out


def table_format(path: Path) -> str:
    """'atomic' or the table's suffix; anything else is refused by name."""
    suffix = path.suffix.lower()
    if suffix == ATOMIC_SUFFIX or suffix == ".item":
        return "atomic"
    if suffix in TABLE_SUFFIXES:
        return suffix
    known = ", ".join([ATOMIC_SUFFIX, *TABLE_SUFFIXES])
    raise DataError(f"{path}: unknown file type {path.suffix or '(none)'!r}; expected {known}")


def read_rows(
    path: Path,
    roles: tuple[str, ...],
    mapping: dict[str, str],
    delimiter: str | None = None,
    required: tuple[str, ...] = REQUIRED,
) -> Rows:
    """The columns of `path` that `roles` name (those in `required` must be there), by role."""
    require(path, "an interactions or items table")
    kind = table_format(path)
    if kind == ".parquet":
        header, records, lines = _parquet(path)
    elif kind in (".jsonl", ".ndjson"):
        header, records, lines = _jsonl(path)
    else:
        sep = delimiter or ("\t" if kind == "atomic" else TABLE_SUFFIXES[kind])
        header, records, lines = _delimited(path, sep, quoted=kind != "atomic")
        if kind == "atomic":  # `user_id:token` → `user_id`
            header = [h.split(":", 1)[0] for h in header]
    where = {name: i for i, name in enumerate(header)}
    columns: dict[str, list[str | None]] = {}
    for role in roles:
        names = [mapping.get(role, role), *ALIASES.get(role, ())]
        found = next((n for n in names if n in where), None)
        if found is None:
            if role in required or role in mapping:
                hint = "" if role in mapping else f"; map it with --columns {role}=NAME"
                raise DataError(
                    f"{path}: no column {names[0]!r} (columns: {', '.join(header)}){hint}"
                )
            continue
        i = where[found]
        columns[role] = [r[i] if i < len(r) else None for r in records]
    return Rows(path, columns, lines)


def _decoded(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: byte 0x{data[e.start]:02x} is not UTF-8; expected UTF-8 text"
        ) from None
    if not text.strip():
        raise DataError(f"{path}: empty file; expected a header line and rows")
    return text


def _delimited(path: Path, sep: str, quoted: bool):
    reader = csv.reader(
        io.StringIO(_decoded(path), newline=""),
        delimiter=sep,
        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
    )
    header = [h.strip() for h in next(reader)]
    if len(header) == 1:
        other = next((d for d in ",;\t|" if d != sep and d in header[0]), None)
        if other is not None:
            raise DataError(
                f"{path}:1: one column {header[0]!r}: the file looks {other!r}-separated, expected "
                f"{sep!r}; pass --delimiter {other!r} (or name a tab-separated file .tsv)"
            )
    records, lines = [], []
    try:
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) > len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}"
                )
            records.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: {e}") from None
    return header, records, lines


def _jsonl(path: Path):
    header: dict[str, None] = {}
    records, lines = [], []
    for lineno, line in enumerate(_decoded(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path}:{lineno}: not JSON ({e.msg}); expected one object a line"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        header |= dict.fromkeys(obj)
        records.append(obj)
        lines.append(lineno)
    names = list(header)
    return names, [[_text(r.get(n)) for n in names] for r in records], lines


def _parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow's errors have no common base beyond this
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    if table.num_rows == 0:
        raise DataError(f"{path}: empty file; expected rows")
    names = table.column_names
    cols = [[_text(v) for v in table.column(n).to_pylist()] for n in names]
    return names, [list(r) for r in zip(*cols, strict=True)], list(range(1, table.num_rows + 1))


def _text(value: Any) -> str | None:
    """A JSON or Parquet value as the text a CSV cell would hold (lists stay JSON)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return str(value)


def parse_time(value: str | None, path: Path, line: int) -> float:
    """Unix seconds, or an ISO 8601 date or time (`2014-03-01`, `2014-03-01T10:00:00Z`)."""
    if value is None or value.strip() == "":
        raise DataError(f"{path}:{line}: empty timestamp; expected Unix seconds or an ISO date")
    try:
        seconds = float(value)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise DataError(
                f"{path}:{line}: timestamp {value!r} is neither Unix seconds nor an ISO date"
            ) from None
        seconds = stamp.timestamp()
    if not math.isfinite(seconds):
        raise DataError(f"{path}:{line}: timestamp {value!r} is not finite")
    return seconds


def parse_number(value: str | None, path: Path, line: int, what: str) -> float | None:
    """`readers.parse_float` (None when empty), refusing NaN and infinities too."""
    number = parse_float(value or "", path, line, what)
    if number is not None and not math.isfinite(number):
        raise DataError(f"{path}:{line}: {what} {value!r} is not a finite number")
    return number


def _categories(value: str | None, atomic: bool) -> tuple[str, ...]:
    """A JSON list (`["Beauty", "Face"]`), `a|b|c`, or (atomic `token_seq`) `a b c`."""
    value = (value or "").strip()
    if not value:
        return ()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return tuple(str(c).strip() for c in parsed if str(c).strip())
    parts = value.split() if atomic else value.split("|")
    return tuple(p.strip() for p in parts if p.strip())


def read_items(path: Path, mapping: dict[str, str], delimiter: str | None = None) -> list[Item]:
    """The items table, in file order; an id listed twice must carry the same fields."""
    rows = read_rows(path, (*ITEM_ROLES, "year"), mapping, delimiter, required=("item_id",))
    atomic = table_format(path) == "atomic"
    cols, n = rows.columns, len(rows)

    def column(role: str) -> list[str | None]:
        return cols.get(role, [None] * n)

    items: dict[str, tuple[Item, int]] = {}
    fields = zip(
        cols["item_id"], column("title"), column("year"), column("brand"),
        column("categories"), column("description"), column("price"), rows.lines, strict=True,
    )  # fmt: skip
    for item_id, title, year, brand, cats, description, price, line in fields:
        if item_id is None or not item_id.strip():
            raise DataError(f"{path}:{line}: empty item_id")
        title = (title or "").strip()
        if title and year and year.strip():
            title = f"{title} ({year.strip()})"
        item = Item(
            id=item_id.strip(),
            title=title or None,
            brand=(brand or "").strip() or None,
            categories=_categories(cats, atomic),
            description=(description or "").strip() or None,
            price=parse_number(price, path, line, "price"),
        )
        if item.id in items:
            before, first = items[item.id]
            if before != item:
                raise DataError(
                    f"{path}:{line}: item {item.id!r} is listed again with other fields than on "
                    f"line {first}; expected one row per item"
                )
            continue
        items[item.id] = (item, line)
    return [item for item, _ in items.values()]


def write_tables(dataset: Dataset, folder: Path) -> tuple[Path, Path]:
    """`dataset` as the plain tables a user would bring (`interactions.csv` in each user's
    order, `items.csv` with categories as a JSON list): what `genrec bench-data` and the tests
    read back to check that the table path gives what the named loader gives."""
    folder.mkdir(parents=True, exist_ok=True)
    inter, items = folder / "interactions.csv", folder / "items.csv"
    extra = [f for f in ("timestamps", "ratings") if getattr(dataset, f"has_{f}")]
    with inter.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", *(f.removesuffix("s") for f in extra)])
        for user in dataset.users:
            cols = [getattr(user, f).tolist() for f in extra]
            for n, item in enumerate(user.items.tolist()):
                writer.writerow([user.id, dataset.items[item].id, *(c[n] for c in cols)])
    with items.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ITEM_ROLES)
        for i in dataset.items:
            cats = json.dumps(list(i.categories), ensure_ascii=False) if i.categories else ""
            price = "" if i.price is None else repr(i.price)
            writer.writerow([i.id, i.title or "", i.brand or "", cats, i.description or "", price])
    return inter, items
