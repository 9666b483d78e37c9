"""Data-parallel training over torch.distributed (launched with torchrun).

Gradients are averaged with one all-reduce per update, which is what
DistributedDataParallel does. We do it explicitly instead of wrapping the nets in
DDP because DDP does not support the double backward that gradient penalties
(WGAN-GP, R1) need, and a GAN step calls D on real and fake batches separately.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(preference: str = "auto") -> torch.device:
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def setup(preference: str = "auto") -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1), else run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo(device=pick_device(preference))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world_size, device=device)


def teardown(failed: bool = False) -> None:
    """Leave the process group. After a clean run all ranks first meet at a barrier:
    a rank that tears gloo down while its peer still has traffic in flight can make
    the peer abort ("terminate called without an active exception")."""
    if not dist.is_initialized():
        return
    if not failed:
        dist.barrier()
    dist.destroy_process_group()


def average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Average .grad over ranks in one flat all-reduce."""
    if world_size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_buffers(module: torch.nn.Module, world_size: int) -> None:
    """Average float buffers (BatchNorm running statistics) so all ranks agree before saving."""
    if world_size == 1:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= world_size


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is true on any (so all ranks stop together)."""
    if info.world_size == 1:
        return flag
    t = torch.tensor(float(flag), device=info.device)
    dist.all_reduce(t)
    return bool(t.item() > 0)
