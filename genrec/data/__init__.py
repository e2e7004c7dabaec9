"""Datasets under one schema, and the leave-one-out protocol."""

from genrec.data.registry import SPECS, default_data_dir, load_dataset, load_recorded
from genrec.data.schema import Dataset, Item, User
from genrec.data.source import DataSource
from genrec.data.split import EvalSet, Split, leave_one_out

__all__ = [
    "SPECS",
    "DataSource",
    "Dataset",
    "EvalSet",
    "Item",
    "Split",
    "User",
    "default_data_dir",
    "leave_one_out",
    "load_dataset",
    "load_recorded",
]
