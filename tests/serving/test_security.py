"""`genrec bench-security`'s attacks against two gateways with the bench's settings on the test
stack (the second one for the limits replicas share): every attack holds."""

from __future__ import annotations

from genrec.bench.security import ATTACKS, SETTINGS, Target, run_attacks
from tests.serving.conftest import API_KEY, gateway


def test_every_attack_holds(stack, small_synthetic, tmp_path):
    assert len(ATTACKS) >= 40
    user = next(u for u in small_synthetic.users if len(u))
    settings = SETTINGS | {"GENREC_API_KEY": API_KEY}
    with (
        gateway(stack, tmp_path, **settings) as (port, pid),
        gateway(stack, tmp_path, **settings) as (replica, _),
    ):
        target = Target(
            url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port, api_key=API_KEY,
            user=user.id, item=small_synthetic.items[0].id, redis_url=stack.redis_url,
            cache_redis_url=stack.cache_redis_url, gateway_pid=pid,
            replica_url=f"http://127.0.0.1:{replica}",
        )  # fmt: skip
        rows = run_attacks(target)
    failed = {r["attack"]: r["observed"] for r in rows if not r["passed"]}
    assert not failed, failed
