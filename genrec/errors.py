"""Errors the CLI turns into one clear line and exit code 2 instead of a traceback."""


class GenrecError(Exception):
    """A problem with the user's input (a file, a name, a flag), not a bug in genrec."""


class DataError(GenrecError):
    """A dataset file is missing or not in the format its loader expects."""
