"""A run's identity: what keys its checkpoint folder and its report rows."""

from __future__ import annotations

import hashlib
import json


def run_id(config: dict) -> str:
    """The hash of a run's whole configuration in canonical form (sorted keys), so two runs
    that differ in any option get different ids, rows and checkpoint folders."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]
