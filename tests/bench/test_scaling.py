"""`genrec bench-scaling` on the CPU: torchrun with 1 and 2 gloo processes, DDP and FSDP, on the
same global batches; the report says speed-up and the final loss's gap to 1 process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from genrec.bench.scaling import ScalingRun, kernel_split, launch, write_report


def test_one_and_two_processes_train_the_same_model(synthetic_store, tmp_path):
    _, store_path = synthetic_store
    common = dict(steps=3, warmup=1, batch_size=32, device="cpu", store=str(store_path))
    runs = [
        ScalingRun("synthetic", "tiny", strategy, n, **common)
        for strategy in ("ddp", "fsdp")
        for n in (1, 2)
    ]
    rows = [launch(run, "genrec bench-scaling ...", timeout_s=300) for run in runs]
    assert [(r["strategy"], r["gpus"]) for r in rows] == [
        ("ddp", 1), ("ddp", 2), ("fsdp", 1), ("fsdp", 2),
    ]  # fmt: skip
    assert all(r["samples_per_s"] > 0 and r["tokens_per_s"] > r["samples_per_s"] for r in rows)
    report = tmp_path / "scaling.json"
    write_report(rows, report)
    saved = json.loads(report.read_text())["rows"]
    for r in saved:
        assert r["loss_vs_1"] < 1e-3  # same batches, no dropout: the same optimisation
        assert r["efficiency"] == pytest.approx(r["speedup"] / r["gpus"], abs=1e-3)
    assert report.with_suffix(".md").exists() and (tmp_path / "scaling.png").exists()


def test_the_compiled_decoder_trains_the_same_model(synthetic_store, tmp_path):
    _, store_path = synthetic_store
    common = dict(steps=3, warmup=1, batch_size=32, device="cpu", store=str(store_path))
    eager, compiled = (
        launch(ScalingRun("synthetic", "tiny", "ddp", 1, compile=c, **common), "c", 300)
        for c in (False, True)
    )
    assert (eager["compile"], compiled["compile"]) == (False, True)
    assert compiled["final_loss"] == pytest.approx(eager["final_loss"], rel=1e-3)
    report = tmp_path / "scaling.json"
    write_report([eager, compiled], report)
    rows = json.loads(report.read_text())["rows"]
    assert len(rows) == 2 and all(r["speedup"] == 1.0 for r in rows)  # each its own series


def test_kernel_split_says_what_the_gpu_did_per_step():
    kernels = [
        ("ampere_gemm", 0, 40),
        ("ncclDevKernel_AllReduce", 30, 60),  # 30..40 hidden under the GEMM, 40..60 exposed
        ("elementwise", 70, 80),
        ("elementwise", 75, 90),  # overlapping kernels count once
    ]
    split = kernel_split(kernels, wall_us=2 * 50_000, steps=2)  # 2 steps of 50 ms
    assert split == {
        "step_ms": 50.0,
        "compute_ms": 0.03,  # (40 + 20) µs / 2 steps
        "comm_ms": 0.015,
        "exposed_comm_ms": 0.01,
        "idle_ms": pytest.approx(49.96),
    }


def test_a_launch_that_overruns_is_stopped_with_all_its_ranks(synthetic_store):
    import psutil

    _, store_path = synthetic_store
    run = ScalingRun("synthetic", "tiny", "ddp", 2, device="cpu", store=str(store_path))

    def ranks() -> list[int]:  # wherever they are: a rank left behind is reparented to init
        return [
            p.pid for p in psutil.process_iter(["cmdline", "status"])
            if "genrec.bench.scaling" in (p.info["cmdline"] or [])
            and str(store_path) in " ".join(p.info["cmdline"])
            and p.info["status"] != psutil.STATUS_ZOMBIE
        ]  # fmt: skip

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    # 1 s stops the launcher before it starts the ranks, 8 s once they have started
    for timeout_s in (1, 8):
        with pytest.raises(RuntimeError, match=f"still running after {timeout_s} s"):
            launch(run, "genrec bench-scaling ...", timeout_s=timeout_s)
        assert ranks() == []
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


@pytest.mark.parametrize(("args", "message"), [
    (["--strategies", "zero3"], "unknown strategies"),
    (["--strategies", "ddp-bf16", "--device", "cpu"], "needs --device cuda"),
    (["--gpus", "1,3", "--batch-size", "512"], "must split evenly over 3"),
    (["--gpus", "64", "--batch-size", "512", "--device", "cuda"], "asks for 64 GPUs"),
])  # fmt: skip
def test_cli_bad_input(args, message, tmp_path):
    report = tmp_path / "scaling.json"
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "bench-scaling", *args, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not report.exists()


def test_serving_scaling_keeps_the_best_rate_within_the_slo(tmp_path):
    from genrec.bench.serve import write_scaling_report

    def point(gpus, rps, p99, errors=0):
        return {
            "setting": f"beauty, GPU, {gpus} GPU(s)", "gpus": gpus, "gateway_workers": 8,
            "mode": "closed", "rps": rps, "p99_ms": p99, "errors": errors, "hardware": "H100",
            "command": "c",
        }  # fmt: skip

    rows = [
        point(1, 1000, 20),
        point(1, 2000, 45),
        point(1, 2600, 90),  # 2600 breaks the SLO
        point(2, 2000, 20),
        point(2, 3800, 48),
        point(2, 4100, 49, errors=3),  # errors: out
    ]
    path = tmp_path / "serving_scaling.json"
    write_scaling_report(rows, "beauty, GPU", 50.0, path)
    saved = {r["gpus"]: r for r in json.loads(path.read_text())["rows"]}
    assert saved[1]["rps_at_slo"] == 2000 and saved[2]["rps_at_slo"] == 3800
    assert saved[2]["speedup"] == pytest.approx(1.9) and saved[1]["setting"] == "beauty, GPU"
    assert (tmp_path / "serving_scaling.png").stat().st_size > 0  # p99 against req/s


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpu", "--gpus", "2"], "--gpus [2] needs --gpu"),
        (["--triton-per-gpu"], "--triton-per-gpu needs --gpus"),
    ],
)
def test_bench_serve_gpus_needs_the_gpus(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "genrec", "bench-serve", *args,
         "--report", str(tmp_path / "serve.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "serve.json").exists()


@pytest.mark.parametrize(("crossing", "levels"), [
    (300, [32, 64, 128, 256, 512, 384, 320]),  # doubles past 300, then 384 → 320 bracket it
    (20, [32, 16, 24]),  # the first level already breaks the bound: bisect below it
    (10_000, [32, 64, 128, 256, 512, 1024, 2048, 4096]),  # never breaks it: stop at the top
])  # fmt: skip
def test_slo_search_brackets_the_crossing(crossing, levels):
    from genrec.bench.serve import search_levels

    assert search_levels(lambda c: c <= crossing, start=32, refine=2) == levels
