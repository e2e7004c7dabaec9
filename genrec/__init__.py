"""genrec: generative recommendation over semantic IDs."""

__version__ = "0.1.0"
