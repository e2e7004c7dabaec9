"""Bulk-load users' histories into Redis: `python -m service.load_histories FILE.jsonl`.

Each line is `{"user_id": ..., "items": [item ids, oldest first]}`; a user's list is replaced
as a whole (in one MULTI per batch), keeping the last `GENREC_HISTORY_MAX` items, so a re-run
gives the same state. `genrec serve` writes such a file from a dataset; production systems
write it from their own logs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from redis import Redis

from service.history import history_key
from service.settings import get_settings


def load(path: Path, redis: Redis, keep: int, batch: int = 1000) -> int:
    """→ users written."""
    users = 0
    pipe = redis.pipeline(transaction=True)
    with open(path, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            key = history_key(record["user_id"])
            pipe.delete(key)
            if record["items"]:
                pipe.rpush(key, *record["items"][-keep:])
            users += 1
            if users % batch == 0:
                pipe.execute()
    pipe.execute()
    return users


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m service.load_histories FILE.jsonl")
    settings = get_settings()
    n = load(Path(sys.argv[1]), Redis.from_url(settings.redis_url), settings.history_max)
    print(f"loaded the histories of {n} users into {settings.redis_url}")


if __name__ == "__main__":
    main()
