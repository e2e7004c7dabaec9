"""`option`: a dataclass field that is also a command-line option, so each run option is
declared once, where its config lives (`genrec.cli.common.command_with` builds the flags)."""

from __future__ import annotations

from dataclasses import field


def option(default, help: str = ""):
    """A field with its command-line `help` text beside its default."""
    return field(default=default, metadata={"help": help})
