"""`python -m genrec` (and `torchrun -m genrec`) runs the CLI."""

from genrec.cli import main

main()
