"""Missing or malformed files and unknown names: one clear line, exit code 2, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genrec.data import load_dataset
from genrec.data.cache import CACHE_ENV
from genrec.errors import DataError, GenrecError


def _genrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args], capture_output=True, text=True, timeout=120
    )


def _copy(data_dir: Path, folder: str, tmp_path: Path) -> Path:
    shutil.copytree(data_dir / folder, tmp_path / folder)
    for path in (tmp_path / folder).rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return tmp_path / folder


def test_unknown_dataset_cli():
    result = _genrec("baselines", "--dataset", "nope", "--model", "popularity")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown dataset 'nope': neither a named one (synthetic, synthetic-x10, beauty, "
        "instruments, scientific, ml-100k) nor a file or folder"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_model_cli():
    result = _genrec("baselines", "--model", "bert4rec")
    assert result.returncode == 2
    assert "unknown model 'bert4rec'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_names_it(data_dir, tmp_path):
    root = _copy(data_dir, "movielens-100k", tmp_path)
    (root / "ml-100k.inter").unlink()
    with pytest.raises(DataError, match=r"ml-100k\.inter: file not found \(expected"):
        load_dataset("ml-100k", tmp_path)
    result = _genrec("baselines", "-d", "ml-100k", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ml-100k.inter: file not found" in result.stderr


def test_malformed_line_names_file_and_line(data_dir, tmp_path):
    root = _copy(data_dir, "amazon-beauty-2014-p5", tmp_path)
    seq = root / "p5" / "sequential_data.txt"
    lines = seq.read_text().splitlines()
    lines[2] = "3 4 twelve 13"
    seq.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"sequential_data\.txt:3: item index 'twelve'"):
        load_dataset("beauty", tmp_path)


def test_wrong_header(data_dir, tmp_path):
    root = _copy(data_dir, "amazon-scientific-2018-unisrec", tmp_path)
    text = root / "Scientific.text"
    text.write_text("asin\tblurb\n" + text.read_text().split("\n", 1)[1])
    with pytest.raises(DataError, match=r"Scientific\.text: header"):
        load_dataset("scientific", tmp_path)


def test_invalid_json(data_dir, tmp_path):
    root = _copy(data_dir, "amazon-instruments-2018-lcrec", tmp_path)
    (root / "Instruments.inter.json").write_text('{"0": [1, 2,')
    with pytest.raises(DataError, match=r"Instruments\.inter\.json: not valid JSON"):
        load_dataset("instruments", tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        load_dataset("beauty", tmp_path)


def test_unknown_name_is_input_error():
    with pytest.raises(GenrecError, match="unknown dataset"):
        load_dataset("amazon")


ITEMS = "item_id,title\na,Alpha\nb,Beta\n"
BAD_OWN_FILES = {
    # case: (interactions file name, its bytes, items table or None, extra flags, message)
    "misnamed column": (
        "log.csv", b"uid,item_id\n1,a\n", None, (),
        "log.csv: no column 'user_id' (columns: uid, item_id); map it with --columns user_id=NAME",
    ),
    "unknown delimiter": (
        "log.csv", b"user_id;item_id\n1;a\n", None, (),
        "log.csv:1: one column 'user_id;item_id': the file looks ';'-separated",
    ),
    "not UTF-8": (
        "log.csv", b"user_id,item_id\n1,a\n2,\xff\n", None, (),
        "log.csv:3: byte 0xff is not UTF-8; expected UTF-8 text",
    ),
    "empty file": ("log.csv", b"", None, (), "log.csv: empty file"),
    "conflicting item": (
        "log.csv", b"user_id,item_id\n1,a\n", ITEMS + "a,Another alpha\n", ("--k-core", "0"),
        "items.csv:4: item 'a' is listed again with other fields than on line 2",
    ),
    "below the k-core": (
        "log.csv", b"user_id,item_id\n1,a\n1,b\n2,a\n", None, (),
        "log.csv: no users left after the 5-core filter (the longest user has 2 interactions)",
    ),
    "item not in the items table": (
        "log.csv", b"user_id,item_id\n1,a\n1,zz\n", ITEMS, ("--k-core", "0"),
        "log.csv:3: item 'zz' is not in the items table",
    ),
    "unknown format": ("log.xlsx", b"PK", None, (), "log.xlsx: unknown file type '.xlsx'"),
    "bad timestamp": (
        "log.csv", b"user_id,item_id,timestamp\n1,a,yesterday\n", None, ("--k-core", "0"),
        "log.csv:2: timestamp 'yesterday' is neither Unix seconds nor an ISO date",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_OWN_FILES, ids=list(BAD_OWN_FILES))
def test_bad_own_files_one_line_exit_2_nothing_written(case, tmp_path):
    name, content, items, flags, message = BAD_OWN_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    args = ["data", "inspect", str(path), *flags]
    if items is not None:
        (tmp_path / "items.csv").write_text(items)
        args += ["--items", str(tmp_path / "items.csv")]
    cache = tmp_path / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "genrec", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, CACHE_ENV: str(cache)},
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written
