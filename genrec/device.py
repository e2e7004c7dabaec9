"""Device choice shared by every trainer: an explicit flag wins, else CUDA when present."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextmanager
def reproducible(device: torch.device) -> Iterator[None]:
    """Same seed, same bytes on the CPU: torch's deterministic kernels for the block. Without
    them multi-threaded CPU kernels (gradients accumulated by index, as in a codebook lookup)
    add in a varying order, and the tokenizer's codes differed from run to run with 2 threads;
    with them they are identical, at no measured cost. On a GPU, left as it is: deterministic
    CUDA kernels cost speed and some ops have none, so GPU runs agree in metrics, not bytes."""
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def wait(device: torch.device) -> None:
    """Until the work queued on the device's current stream is done, asleep: a stream's or
    the device's `synchronize` spins a core for the whole wait, and a served model waits out
    every decode (two instances per GPU spun two of a serving box's cores, which the gateway
    and the load needed)."""
    if device.type != "cuda":
        return
    done = torch.cuda.Event(blocking=True)
    done.record(torch.cuda.current_stream(device))
    done.synchronize()


def describe_hardware(device: torch.device) -> str:
    """A hardware label for reports: 'NVIDIA H100 80GB HBM3' or 'cpu: <model> (2 cores)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {_cpu_model()} ({os.cpu_count()} cores)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
