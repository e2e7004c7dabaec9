"""The Locust scenarios run for real against the test stack, and a broken SLO fails the run."""

from __future__ import annotations

import math

from genrec.bench.loadtest import (
    Run,
    histogram_quantile_ms,
    read_rows,
    run_locust,
    server_p99s,
    write_catalog,
)
from genrec.bench.serve import REC, cpu_ms_per_request, cpu_seconds, scrape
from tests.serving.conftest import API_KEY


def test_scenarios_run_and_the_slo_decides_the_exit_code(stack, small_synthetic, tmp_path):
    users = [u.id for u in small_synthetic.users[400:800]]  # its clicks land on these alone
    catalog = write_catalog(users, [i.id for i in small_synthetic.items], tmp_path / "catalog.json")
    easy = Run(users=3, spawn_rate=3, seconds=8, p99_ms=5000, api_key=API_KEY)
    before, cpu_before = scrape(stack.metrics_url), cpu_seconds(stack, "locust")
    assert run_locust(stack.url, catalog, easy, tmp_path / "easy") == 0
    server = server_p99s(before, scrape(stack.metrics_url))
    # the gateway's own view of the same requests, of its Triton calls and Redis round trips
    assert 0 < server["gateway_rec_p99_ms"] < 2500
    assert 0 < server["triton_p99_ms"] < 2500 and 0 < server["redis_p99_ms"] < 2500
    rows = {r["scenario"]: r for r in read_rows(tmp_path / "easy", easy)}
    assert {"all", "browse: page 1", "browse: page 2", "events: click"} <= set(rows)
    assert rows["all"]["error_rate"] == 0 and rows["all"]["slo_pass"]
    cpu = cpu_ms_per_request(cpu_before, cpu_seconds(stack, "locust"), rows["all"]["requests"])
    assert set(cpu) == {"gateway_cpu_ms", "triton_cpu_ms", "redis_cpu_ms", "locust_cpu_ms"}
    assert cpu["gateway_cpu_ms"] > 0 and cpu["triton_cpu_ms"] > 0 and cpu["locust_cpu_ms"] > 0

    impossible = Run(users=2, spawn_rate=2, seconds=4, p99_ms=0.01, api_key=API_KEY)  # too fast
    assert run_locust(stack.url, catalog, impossible, tmp_path / "strict") == 1
    assert not read_rows(tmp_path / "strict", impossible)[-1]["slo_pass"]


def test_histogram_quantile_reads_bucket_deltas():
    """Bucket deltas between two scrapes, summed over methods, interpolated within a bucket."""
    name, route = "genrec_http_request_duration_seconds_bucket", ("route", REC)

    def scrape_of(counts: dict[str, float], method: str = "POST") -> dict:
        return {(name, (("le", le), ("method", method), route)): n for le, n in counts.items()}

    before = scrape_of({"0.01": 50, "0.1": 100, "+Inf": 100})
    after = scrape_of({"0.01": 140, "0.1": 200, "+Inf": 200})  # +90 under 10 ms, +10 in 10-100
    after |= {(name, (("le", "0.1"), ("method", "GET"), ("route", "/other"))): 1e6}  # ignored
    p99 = histogram_quantile_ms(before, after, name.removesuffix("_bucket"), route=REC)
    assert math.isclose(p99, 10 + 90 * (99 - 90) / 10)
    assert math.isnan(histogram_quantile_ms(after, after, name.removesuffix("_bucket")))
