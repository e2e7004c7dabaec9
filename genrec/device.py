"""Device choice shared by every trainer: an explicit flag wins, else CUDA when present."""

from __future__ import annotations

import os
import platform

import torch


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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
