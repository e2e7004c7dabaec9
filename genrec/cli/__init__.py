"""`genrec <command>`: the command-line entry point, one small module per command group, each
delegating to its library function (`genrec.pipelines`, `genrec.bench`, `genrec.local_stack`).

Input problems (a missing file, an unknown dataset) print one line and exit with code 2.
"""

from __future__ import annotations

import os
import sys

from genrec.cli.common import app
from genrec.errors import GenrecError

# isort: off
# Registration order is the order `genrec --help` lists the commands in.
from genrec.cli import datasets, data, run, tokenize, train, align, slate, serve  # noqa: F401
from genrec.cli import catalog, client_key  # noqa: F401
from genrec.cli import bench_serve, loadtest, bench_security, experiments, bench_model  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    # One progress style, genrec's own: Hugging Face's bars (the text encoder's weights
    # loading) would interleave with it. Read when huggingface_hub is imported, which no
    # command does before this line.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        app()
    except GenrecError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
