"""The Locust scenarios run for real against the test stack, and a broken SLO fails the run."""

from __future__ import annotations

from genrec.bench.loadtest import Run, read_rows, run_locust, write_catalog
from tests.serving.conftest import API_KEY


def test_scenarios_run_and_the_slo_decides_the_exit_code(stack, small_synthetic, tmp_path):
    catalog = write_catalog(
        [u.id for u in small_synthetic.users], [i.id for i in small_synthetic.items],
        tmp_path / "catalog.json",
    )  # fmt: skip
    easy = Run(users=3, spawn_rate=3, seconds=8, p99_ms=5000, api_key=API_KEY)
    assert run_locust(stack.url, catalog, easy, tmp_path / "easy") == 0
    rows = {r["scenario"]: r for r in read_rows(tmp_path / "easy", easy)}
    assert {"all", "browse: page 1", "browse: page 2", "events: click"} <= set(rows)
    assert rows["all"]["error_rate"] == 0 and rows["all"]["slo_pass"]

    impossible = Run(users=2, spawn_rate=2, seconds=4, p99_ms=0.01, api_key=API_KEY)  # too fast
    assert run_locust(stack.url, catalog, impossible, tmp_path / "strict") == 1
    assert not read_rows(tmp_path / "strict", impossible)[-1]["slo_pass"]
