"""Artifacts appear whole or not at all: every folder the library writes (checkpoints, tokenizer
store versions, exported model versions) is built in a hidden sibling and renamed into place, so
a reader never sees half of one and a crash leaves nothing under the final name."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yields an empty hidden folder beside `final` to fill; renamed to `final` when the block
    ends, removed when it raises (Ctrl-C included)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path`, so processes finishing together (several
    trainings on one GPU) neither lose each other's report rows between read and write nor
    build the same artifact twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
