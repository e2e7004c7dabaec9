"""Data-parallel training on torch.distributed, as `torchrun` launches it.

`torchrun --nproc_per_node N -m genrec train ...` sets RANK / WORLD_SIZE / LOCAL_RANK; each
process then joins one group (NCCL on GPUs, gloo on CPUs), trains on its slice of every global
batch under DistributedDataParallel (`ddp`: a replica per process) or FSDP (`fsdp`: each
transformer block's parameters, gradients and optimizer state sharded across processes), and
rank 0 alone evaluates and writes files. Without torchrun everything here is a no-op for one
process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel

STRATEGIES = ("ddp", "ddp-bf16", "fsdp")  # ddp-bf16: DDP that all-reduces bf16 gradients


@dataclass(frozen=True)
class World:
    device: torch.device
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """Join the torchrun process group if there is one; on CUDA each rank takes its local GPU."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(device=device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(rank=dist.get_rank(), size=dist.get_world_size(), device=device)


def close_world(world: World) -> None:
    """Tear the process group down together: after the barrier no rank has collective work
    in flight, so none closes its connections while another still uses them (a rank that
    did so under load aborted at exit)."""
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_sum(world: World, value: float) -> float:
    if world.size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=world.device)
    dist.all_reduce(t)
    return float(t.item())


def from_main(world: World, value: float) -> float:
    """Rank 0's value on every rank (e.g. the validation metric that decides early stopping)."""
    if world.size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=world.device)
    dist.broadcast(t, src=0)
    return float(t.item())


def device_error(strategy: str, device_type: str) -> str | None:
    """Why `strategy` cannot run on `device_type` devices, or None."""
    if strategy == "ddp-bf16" and device_type != "cuda":  # PyTorch's bf16 hook needs NCCL
        return "ddp-bf16 all-reduces through NCCL: it needs --device cuda"
    return None


def parallelize(decoder: nn.Module, world: World, strategy: str) -> nn.Module:
    """The module to train: the decoder itself for one process; under torchrun a DDP wrapper
    (`ddp-bf16`: its gradients all-reduced in bf16), or the decoder with FSDP2 (`fully_shard`)
    on each transformer block and then on the rest."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if world.size == 1:
        return decoder
    if strategy.startswith("ddp"):
        # Gradients live in DDP's all-reduce buckets: no copy into and out of them each step.
        model = DistributedDataParallel(decoder, gradient_as_bucket_view=True)
        if strategy == "ddp-bf16":  # half the all-reduce bytes
            if error := device_error(strategy, world.device.type):
                raise ValueError(error)
            model.register_comm_hook(None, default_hooks.bf16_compress_hook)
        return model
    from torch.distributed.fsdp import fully_shard

    for block in decoder.lm.model.layers:
        fully_shard(block)
    return fully_shard(decoder)


def whole_state_dict(decoder: nn.Module, world: World, strategy: str) -> dict:
    """The decoder's whole weights on rank 0 (others may get {}). Under FSDP every rank must
    call it: the shards are gathered (to CPU, so rank 0's GPU holds no second copy)."""
    if world.size == 1 or strategy != "fsdp":
        return decoder.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(
        decoder, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
