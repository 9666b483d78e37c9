"""Checkpoints as safetensors (tensors) plus JSON (everything else); nothing is pickled.

A checkpoint ``ckpt-000500`` is two files written atomically (temp file, then
rename): the tensors first, the JSON last. The JSON is the commit marker, so a
run killed mid-write never leaves a checkpoint that looks complete but is not.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gankit.errors import GankitError

FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d+)\.json$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; run outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- flattening state into named tensors -------------------------------------------

def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    state = opt.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for slot, value in slots.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}/{index}/{slot}"] = value
    return tensors, state["param_groups"]


def _optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], groups: list) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "/"):
            index, slot = key[len(prefix) + 1:].split("/")
            state.setdefault(int(index), {})[slot] = value
    return {"state": state, "param_groups": groups}


def save_checkpoint(folder: Path, step: int, *, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer], meta: dict[str, Any],
                    keep: int) -> Path:
    """Write ``folder/ckpt-{step}.safetensors/.json`` and delete all but the newest ``keep``."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value
    groups = {}
    for name, opt in optimizers.items():
        opt_tensors, groups[name] = _optimizer_tensors(name, opt)
        tensors.update(opt_tensors)
    # safetensors refuses shared or non-contiguous storage; copies are cheap at these sizes
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    stem = folder / f"ckpt-{step:07d}"
    _atomic_save_tensors(stem.with_suffix(".safetensors"), tensors)
    record = {"format": FORMAT_VERSION, "step": step, "optimizer_groups": groups, **meta}
    atomic_write_text(stem.with_suffix(".json"), json.dumps(record, indent=1))
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".safetensors").unlink(missing_ok=True)
    return stem.with_suffix(".json")


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints (their JSON paths), oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name) and p.with_suffix(".safetensors").is_file()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def find_checkpoint(path: str | Path) -> Path:
    """Accept a run folder, a checkpoints folder, or either file of a checkpoint; return its JSON."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        json_path = path.with_suffix(".json")
        if not json_path.is_file() or not json_path.with_suffix(".safetensors").is_file():
            raise GankitError(f"checkpoint {path} is incomplete or missing (need both .json and .safetensors)")
        return json_path
    for folder in (path / "checkpoints", path):
        found = list_checkpoints(folder)
        if found:
            return found[-1]
    raise GankitError(f"no checkpoint found in {path} (expected ckpt-*.json with its .safetensors)")


def read_record(json_path: Path, what: str = "checkpoint") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A JSON record and the tensors of the .safetensors beside it; GankitError naming ``what`` and the file."""
    try:
        record = json.loads(json_path.read_text())
        tensors = load_file(json_path.with_suffix(".safetensors"))
    except Exception as exc:  # OSError, JSON errors, safetensors' own error type
        raise GankitError(f"cannot read {what} {json_path}: {exc}") from None
    return record, tensors


def read_checkpoint(json_path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    record, tensors = read_record(json_path)
    if record.get("format") != FORMAT_VERSION:
        raise GankitError(f"{json_path}: checkpoint format {record.get('format')} is not supported "
                          f"(this gankit reads format {FORMAT_VERSION})")
    return record, tensors


def module_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def restore_latest(folder: Path, *, modules: dict[str, torch.nn.Module],
                   optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore the newest checkpoint in ``folder`` (for --resume); return its JSON record."""
    found = list_checkpoints(folder)
    if not found:
        raise GankitError(f"cannot resume: no checkpoint in {folder}")
    record, tensors = read_checkpoint(found[-1])
    restore(record, tensors, modules=modules, optimizers=optimizers)
    return record


def restore(record: dict, tensors: dict[str, torch.Tensor], *, modules: dict[str, torch.nn.Module],
            optimizers: dict[str, torch.optim.Optimizer]) -> None:
    """Load modules and optimizers saved by save_checkpoint (for exact resume)."""
    for name, module in modules.items():
        module.load_state_dict(module_state(tensors, name))
    for name, opt in optimizers.items():
        opt.load_state_dict(_optimizer_state(name, tensors, record["optimizer_groups"][name]))
