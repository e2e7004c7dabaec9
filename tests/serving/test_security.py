"""`genrec bench-security`'s attacks against a gateway with the bench's settings on the test
stack: every attack holds except those on what is not built yet (`OPEN`), which still fail."""

from __future__ import annotations

from genrec.bench.security import ATTACKS, OPEN, SETTINGS, Target, run_attacks
from tests.serving.conftest import API_KEY, gateway


def test_every_attack_holds_but_the_open_ones(stack, small_synthetic, tmp_path):
    assert len(ATTACKS) >= 40 and {a.name for a in ATTACKS} >= OPEN
    user = next(u for u in small_synthetic.users if len(u))
    with gateway(stack, tmp_path, **SETTINGS, GENREC_API_KEY=API_KEY) as (port, pid):
        target = Target(
            url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port, api_key=API_KEY,
            user=user.id, item=small_synthetic.items[0].id, redis_url=stack.redis_url,
            gateway_pid=pid,
        )  # fmt: skip
        rows = run_attacks(target)
    failed = {r["attack"]: r["observed"] for r in rows if not r["passed"]}
    assert set(failed) == OPEN, failed
