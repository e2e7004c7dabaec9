"""Bulk-load users' histories into Redis: `python -m service.load_histories FILE.jsonl`.

Each line is `{"user_id": ..., "items": [item ids, oldest first]}`. A user whose history Redis
already holds keeps it: what the gateway recorded since (acknowledged events) is never
overwritten, so restarting a stack that reloads its dataset loses nothing. `--replace` writes
every user's list anew (for a new catalogue whose item ids the old lists no longer match).
`genrec serve` writes such a file from a dataset; production systems write it from their logs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import orjson
from redis import Redis

from service.history import history_key
from service.settings import get_settings, redis_password

# Seed a history only where none exists, atomically per user: → 1 seeded, 0 kept.
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[1], unpack(ARGV))
return 1
"""


def _records(path: Path, keep: int) -> Iterator[tuple[str, list[str]]]:
    with open(path, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            if record["items"]:
                yield history_key(record["user_id"]), record["items"][-keep:]


def load(
    path: Path, redis: Redis, keep: int, replace: bool = False, batch: int = 1000
) -> tuple[int, int]:
    """→ (users written, users whose history Redis already held and kept)."""
    seed = redis.register_script(_SEED)
    written = kept = 0
    lines = _records(path, keep)
    while records := list(islice(lines, batch)):
        pipe = redis.pipeline(transaction=replace)
        for key, items in records:
            if replace:
                pipe.delete(key)
                pipe.rpush(key, *items)
            else:
                seed(keys=[key], args=items, client=pipe)
        results = pipe.execute()
        seeded = len(records) if replace else sum(results)
        written, kept = written + seeded, kept + len(records) - seeded
    return written, kept


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service.load_histories")
    parser.add_argument("file", type=Path, help="JSON lines: user_id, items (oldest first)")
    parser.add_argument("--replace", action="store_true", help="overwrite existing histories")
    args = parser.parse_args()
    settings = get_settings()
    redis = Redis.from_url(settings.redis_url, password=redis_password(settings))
    written, kept = load(args.file, redis, settings.history_max, args.replace)
    print(f"{settings.redis_url}: wrote {written} histories, kept {kept} already there")


if __name__ == "__main__":
    main()
