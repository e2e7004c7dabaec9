"""File readers that fail with one line naming the file and what was expected."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genrec.errors import DataError

csv.field_size_limit(1 << 24)


def require(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {expected})")
    return path


def read_json(path: Path, expected: str) -> Any:
    require(path, expected)
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e}); expected {expected}") from None


def read_tsv(
    path: Path, header: list[str], expected: str, quoted: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of a RecBole-style tab-separated file after checking its header.

    Most of these files use quotes as plain characters (`quoted=False`); a few quote fields
    that hold tabs or newlines (`quoted=True`).
    """
    require(path, expected)
    with path.open(encoding="utf-8", newline="") as f:
        quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
        reader = csv.reader(f, delimiter="\t", quoting=quoting)
        first = next(reader, None)
        if first is None or [h.strip() for h in first[: len(header)]] != header:
            raise DataError(f"{path}: header {first!r}, expected {expected} with header {header}")
        for row in reader:
            lineno = reader.line_num
            if not row:
                continue
            if len(row) < len(header):
                raise DataError(f"{path}:{lineno}: {len(row)} fields, expected {len(header)}")
            yield lineno, row


def parse_int(value: str, path: Path, lineno: int, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{path}:{lineno}: {what} {value!r} is not an integer") from None


def parse_float(value: str, path: Path, lineno: int, what: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{path}:{lineno}: {what} {value!r} is not a number") from None


def read_id_map(path: Path, expected: str) -> dict[int, str]:
    """`<ASIN or reviewerID>\\t<idx>` lines → {idx: source id}."""
    require(path, expected)
    mapping: dict[int, str] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.rstrip("\n").split("\t")
            if fields == [""]:
                continue
            if len(fields) != 2:
                raise DataError(f"{path}:{lineno}: expected '<id>\\t<index>', got {line!r}")
            mapping[parse_int(fields[1], path, lineno, "index")] = fields[0]
    return mapping
