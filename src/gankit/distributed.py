"""Data-parallel training over torch.distributed (launched with torchrun).

Gradients are averaged with one all-reduce per update, which is what
DistributedDataParallel does. We do it explicitly instead of wrapping the nets in
DDP because DDP does not support the double backward that gradient penalties
(WGAN-GP, R1) need, and a GAN step calls D on real and fake batches separately.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gankit.errors import GankitError


@dataclass(frozen=True)
class DistInfo:
    """Where this process trains: its rank among world_size processes, its device, its precision."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    bf16: bool = False   # forward passes under bf16 autocast

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on this device when the run asked for it, else nothing."""
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: cuda, then mps, then cpu. A named device must exist here (GankitError otherwise)."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(preference)
    except (RuntimeError, TypeError):
        raise GankitError(f"device {preference!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GankitError(f"device {preference!r}: this torch ({torch.__version__}) sees no CUDA GPU; "
                              f"use --device cpu (or install a CUDA build of torch on a machine with a GPU)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GankitError(f"device {preference!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not _mps_available():
        raise GankitError(f"device {preference!r}: Apple's MPS backend is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise GankitError(f"device {preference!r}: gankit runs on cpu, cuda or mps, not {device.type}")
    return device


def use_bf16(precision: str, device: torch.device) -> bool:
    """``auto``: bf16 autocast on CUDA, fp32 elsewhere; ``bf16`` / ``fp32`` as asked."""
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def setup(preference: str = "auto", precision: str = "fp32") -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1), else run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        device = pick_device(preference)
        return DistInfo(device=device, bf16=use_bf16(precision, device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world_size, device=device, bf16=use_bf16(precision, device))


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
