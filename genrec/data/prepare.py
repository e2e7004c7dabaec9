"""Interaction rows → a `Dataset`: keep the chosen events, drop duplicates, order each user's
events by time, filter to the k-core, and fix the order of users and items.

The rules, in order (each is a choice a user could otherwise not see):
- **Events:** with `events` given, only rows whose `event` is one of them count.
- **Duplicates:** a row repeating a user's (item, timestamp) is dropped; without timestamps, a
  row repeating the user's previous item is (a double click, not a second purchase).
- **Order:** each user's events by timestamp, ties (and files without timestamps) in file order.
- **k-core:** users and items with fewer than k interactions are dropped, repeatedly, until
  none is left (k = 0 keeps everything, listed items that nobody interacted with included).
- **Ids:** users in numeric order when every user id is an integer, else in order of first
  appearance; items in the items table's order, else the same rule as users.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from genrec.data.schema import Dataset, Item, User
from genrec.data.tables import Rows, parse_number, parse_time
from genrec.errors import DataError


@dataclass(frozen=True)
class Filtered:
    """What preparation kept and dropped, for `genrec data inspect`."""

    rows: int
    events_dropped: int
    duplicates: int
    k_core: int
    kcore_users_dropped: int
    kcore_items_dropped: int
    kcore_interactions_dropped: int


def _id_order(ids: list[str]) -> list[str]:
    """Distinct ids, numerically when all are integers, else by first appearance."""
    distinct = list(dict.fromkeys(ids))
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return distinct


def _k_core(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """The mask of rows left when users and items with < k rows are dropped until none is."""
    keep = np.ones(len(users), bool)
    if k <= 1:
        return keep
    while True:
        u_count = np.bincount(users[keep], minlength=users.max() + 1)
        i_count = np.bincount(items[keep], minlength=items.max() + 1)
        drop = keep & ((u_count[users] < k) | (i_count[items] < k))
        if not drop.any():
            return keep
        keep &= ~drop


def build(
    name: str,
    rows: Rows,
    catalogue: list[Item] | None,
    k_core: int,
    events: tuple[str, ...] = (),
    source: str = "",
) -> tuple[Dataset, Filtered]:
    """The dataset `rows` make under the rules above, and what each rule dropped."""
    cols, path = rows.columns, rows.path
    n_rows = len(rows)
    if n_rows == 0:
        raise DataError(f"{path}: no interaction rows under the header")
    keep = np.ones(n_rows, bool)
    if events:
        if "event" not in cols:
            raise DataError(f"{path}: --events given but the file has no 'event' column")
        wanted = set(events)
        keep &= np.array([e in wanted for e in cols["event"]], bool)
    events_dropped = int(n_rows - keep.sum())

    for role in ("user_id", "item_id"):
        for value, line in zip(cols[role], rows.lines, strict=True):
            if value is None or not value.strip():
                raise DataError(f"{path}:{line}: empty {role}")
    user_ids = [u.strip() for u in cols["user_id"]]
    item_ids = [i.strip() for i in cols["item_id"]]
    has_time = "timestamp" in cols
    times = None
    if has_time:
        stamps = zip(cols["timestamp"], rows.lines, strict=True)
        times = np.array([parse_time(t, path, ln) for t, ln in stamps])
    ratings = None
    if "rating" in cols:
        values = [
            parse_number(r, path, ln, "rating")
            for r, ln in zip(cols["rating"], rows.lines, strict=True)
        ]
        ratings = np.array([np.nan if v is None else v for v in values], np.float32)

    if catalogue is not None:
        listed = {item.id for item in catalogue}
        missing = [
            (i, ln)
            for i, ln, k in zip(item_ids, rows.lines, keep, strict=True)
            if k and i not in listed
        ]
        if missing:
            item, line = missing[0]
            more = f" (and {len(missing) - 1} more rows)" if len(missing) > 1 else ""
            raise DataError(
                f"{path}:{line}: item {item!r} is not in the items table{more}; expected every "
                f"interacted item listed there (leave out --items to use ids only)"
            )
        order = [item.id for item in catalogue]
    else:
        order = _id_order([i for i, k in zip(item_ids, keep, strict=True) if k])
    item_index = {item: n for n, item in enumerate(order)}
    user_order = _id_order([u for u, k in zip(user_ids, keep, strict=True) if k])
    user_index = {user: n for n, user in enumerate(user_order)}
    u = np.array([user_index.get(x, -1) for x in user_ids], np.int64)
    i = np.array([item_index.get(x, -1) for x in item_ids], np.int64)

    # Stable order: by user, then timestamp, then file position.
    position = np.arange(n_rows)
    keys = (position, times, u) if has_time else (position, u)
    sort = np.lexsort(keys)
    sort = sort[keep[sort]]
    su, si = u[sort], i[sort]
    same_user = np.r_[False, su[1:] == su[:-1]]
    if has_time:
        # Equal (user, item, timestamp) rows need not be adjacent among equal timestamps:
        # group them (a stable sort keeps file order inside a group), then mark all but the first.
        st = times[sort]
        group = np.lexsort((si, st, su))
        same = (su[group][1:] == su[group][:-1]) & (si[group][1:] == si[group][:-1])
        same &= st[group][1:] == st[group][:-1]
        dup = np.zeros(len(sort), bool)
        dup[group[1:][same]] = True
    else:
        dup = same_user & np.r_[False, si[1:] == si[:-1]]
    sort = sort[~dup]
    duplicates = int(dup.sum())

    core = _k_core(u[sort], i[sort], k_core)
    kept = sort[core]
    if len(kept) == 0:
        longest = int(np.bincount(u[sort]).max()) if len(sort) else 0
        raise DataError(
            f"{path}: no users left after the {k_core}-core filter (the longest user has "
            f"{longest} interactions); pass --k-core 0 to keep everything, or a smaller k"
        )
    # Renumber what is left, keeping the order fixed above.
    left_users = np.unique(u[kept])
    left_items = np.unique(i[kept]) if k_core > 1 else np.arange(len(order))
    new_user = np.full(len(user_order), -1)
    new_user[left_users] = np.arange(len(left_users))
    new_item = np.full(len(order), -1)
    new_item[left_items] = np.arange(len(left_items))
    items_table = catalogue if catalogue is not None else [Item(id=x) for x in order]
    items = [items_table[n] for n in left_items]

    ku, ki = new_user[u[kept]], new_item[i[kept]]
    bounds = np.flatnonzero(np.r_[True, ku[1:] != ku[:-1], True])
    users = []
    for a, b in itertools.pairwise(bounds):
        span = kept[a:b]
        users.append(
            User(
                id=user_order[left_users[ku[a]]],
                items=ki[a:b].copy(),
                ratings=None if ratings is None else ratings[span],
                timestamps=None if times is None else times[span].astype(np.int64),
            )
        )
    dataset = Dataset(name=name, items=items, users=users, source=source).validate()
    filtered = Filtered(
        rows=n_rows,
        events_dropped=events_dropped,
        duplicates=duplicates,
        k_core=k_core,
        kcore_users_dropped=len(np.unique(u[sort])) - len(left_users),
        kcore_items_dropped=len(np.unique(i[sort])) - len(left_items) if k_core > 1 else 0,
        kcore_interactions_dropped=int(len(sort) - len(kept)),
    )
    return dataset, filtered
