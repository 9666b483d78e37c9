"""Checkpoints as safetensors (tensors) plus JSON (everything else); nothing is pickled.

A checkpoint ``ckpt-000500`` is two files written atomically (temp file, then
rename): the tensors first, the JSON last. The JSON is the commit marker, so a
run killed mid-write never leaves a checkpoint that looks complete but is not.

Format 2 (format 1, without these fields, is still read, unchecked): the JSON also records
``safetensors_bytes``, the size of the tensor file, and ``tensors``, every tensor's dtype,
shape and SHA-256, so a truncated, edited or swapped tensor file is refused on load, naming
the tensor, instead of loading wrong weights. Every load refuses NaN and infinite floats:
diverged weights would only draw black grids.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load, save
from torch import nn

from gankit.errors import GankitError, TrainingDiverged

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)   # 1: no integrity record; loaded without the tensor checks
_NAME = re.compile(r"^ckpt-(\d+)\.json$")
_REQUIRED = object()


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


# --- flattening state into named tensors -------------------------------------------

def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    state = opt.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for slot, value in slots.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}/{index}/{slot}"] = value
    # a captured step keeps learning rates in 0-d tensors (gankit.capture); the JSON holds their values
    groups = [{k: v.item() if torch.is_tensor(v) else v for k, v in group.items()} for group in state["param_groups"]]
    return tensors, groups


def _optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], groups: list, source: Path) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "/"):
            index, _, slot = key[len(prefix) + 1:].partition("/")
            if not index.isdigit() or not slot or "/" in slot:
                raise GankitError(f"{source}: tensor {key!r} is not an optimizer slot "
                                  f"(expected {prefix}/INDEX/NAME, e.g. {prefix}/0/exp_avg)")
            state.setdefault(int(index), {})[slot] = value
    return {"state": state, "param_groups": groups}


def describe_tensor(t: torch.Tensor) -> dict[str, Any]:
    """What a format-2 JSON records of each tensor: dtype, shape and the SHA-256 of its bytes."""
    raw = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
            "sha256": hashlib.sha256(raw).hexdigest()}


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
    problem = _non_finite(tensors)
    if problem:  # loading would refuse it, and keeping it would delete an older, good checkpoint
        raise TrainingDiverged(f"not saving step {step} to {folder}: {problem}")
    data = save(tensors)
    stem = folder / f"ckpt-{step:07d}"
    atomic_write_bytes(stem.with_suffix(".safetensors"), data)
    # the integrity fields go last: the keys a reader looks for stay at the top of the file
    record = {"format": FORMAT_VERSION, "step": step, "optimizer_groups": groups, **meta,
              "safetensors_bytes": len(data), "tensors": {k: describe_tensor(v) for k, v in tensors.items()}}
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


# --- reading and checking ------------------------------------------------------------

def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (load_state_dict's, for one, spans several)."""
    return " ".join(str(exc).split())


def read_json_record(json_path: Path, what: str = "checkpoint") -> dict[str, Any]:
    """The JSON object in ``json_path``; GankitError naming the file if unreadable, not JSON or not an object."""
    try:
        record = json.loads(json_path.read_text())
    except OSError as exc:
        raise GankitError(f"cannot read {what} {json_path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise GankitError(f"{what} {json_path} is not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise GankitError(f"{what} {json_path}: expected a JSON object {{...}}, got {_json_kind(record)}")
    return record


def read_tensors(path: Path, what: str = "checkpoint", expected_bytes: int | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file; GankitError naming that file (not its JSON) if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GankitError(f"cannot read {what} tensors {path}: {exc.strerror or exc}") from None
    try:
        return load(data)
    except Exception as exc:  # safetensors' own error type
        if expected_bytes is not None and len(data) < expected_bytes:
            raise GankitError(f"{what} tensors {path} are truncated: {len(data)} bytes of the "
                              f"{expected_bytes} its JSON records") from None
        raise GankitError(f"{what} tensors {path} are not a readable safetensors file "
                          f"(truncated or corrupt?): {exc}") from None


def read_record(json_path: Path, what: str = "checkpoint") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A JSON record and the tensors of the .safetensors beside it; GankitError naming ``what`` and the file."""
    return read_json_record(json_path, what), read_tensors(json_path.with_suffix(".safetensors"), what)


def is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def record_field(record: dict[str, Any], key: str, json_path: Path, valid: Callable[[Any], bool],
                 expected: str, default: Any = _REQUIRED) -> Any:
    """``record[key]`` when ``valid``; else (or when absent without a default) a GankitError naming both."""
    if key not in record:
        if default is not _REQUIRED:
            return default
        raise GankitError(f"{json_path}: the JSON has no {key!r} (expected {expected})")
    value = record[key]
    if not valid(value):
        raise GankitError(f"{json_path}: {key!r} must be {expected}, got {_shown(value)}")
    return value


def _is_seconds(value: Any) -> bool:
    return type(value) in (int, float) and 0 <= value < float("inf")


def _key_mismatch(missing: list[str], extra: list[str]) -> str:
    def first(keys: list[str]) -> str:
        return repr(keys[0]) + (f" (and {len(keys) - 1} more)" if len(keys) > 1 else "")
    parts = []
    if missing:
        parts.append(f"tensor {first(missing)} is missing")
    if extra:
        parts.append(f"{first(extra)} is not expected")
    return "; ".join(parts) + (" (renamed?)" if missing and extra else "")


def verify_tensors(listed: dict[str, Any], tensors: dict[str, torch.Tensor], path: Path, json_path: Path) -> None:
    """The tensors are exactly those the JSON lists: same names, dtypes, shapes and SHA-256."""
    missing, extra = [k for k in listed if k not in tensors], [k for k in tensors if k not in listed]
    if missing or extra:
        raise GankitError(f"{path} does not hold the tensors {json_path.name} lists: {_key_mismatch(missing, extra)}")
    for key, spec in listed.items():
        if not isinstance(spec, dict):
            raise GankitError(f"{json_path}: 'tensors' entry {key!r} must be an object {{dtype, shape, sha256}}, "
                              f"got {_shown(spec)}")
        found = describe_tensor(tensors[key])
        if (spec.get("dtype"), spec.get("shape")) != (found["dtype"], found["shape"]):
            raise GankitError(f"{path}: tensor {key!r} is {found['dtype']} {found['shape']}, but {json_path.name} "
                              f"records {spec.get('dtype')} {spec.get('shape')} (the file belongs to another model?)")
        if spec.get("sha256") != found["sha256"]:
            raise GankitError(f"{path}: tensor {key!r} does not match the SHA-256 {json_path.name} records for it; "
                              f"the file was modified or is corrupt")


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """'tensor KEY holds N NaN or infinite value(s) of M' for the first such float tensor, else None."""
    for key, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            return f"tensor {key!r} holds {int((~torch.isfinite(t)).sum())} NaN or infinite value(s) of {t.numel()}"
    return None


def check_finite(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse NaN and infinite floats: diverged or corrupt weights must not be loaded (or drawn as black grids)."""
    problem = _non_finite(tensors)
    if problem:
        raise GankitError(f"{path}: {problem}; diverged or corrupt weights are not loaded")


def read_checkpoint(json_path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A checkpoint's JSON record and tensors, checked: a GankitError names the file and the key or tensor."""
    record = read_json_record(json_path)
    fmt = record.get("format")
    if type(fmt) is not int or fmt not in READABLE_FORMATS:
        raise GankitError(f"{json_path}: checkpoint format {_shown(fmt)} is not supported "
                          f"(this gankit reads formats {', '.join(map(str, READABLE_FORMATS))})")
    record_field(record, "step", json_path, is_count, "a whole number >= 0")
    # the loop reads it on resume; validated here so that resuming never fails half-way
    record_field(record, "wall_seconds", json_path, _is_seconds, "a number of seconds >= 0", default=None)
    st_path = json_path.with_suffix(".safetensors")
    if fmt == 1:
        tensors = read_tensors(st_path)
    else:
        size = record_field(record, "safetensors_bytes", json_path, is_count, "the size of the .safetensors file")
        listed = record_field(record, "tensors", json_path, lambda v: isinstance(v, dict),
                              "an object: tensor name -> {dtype, shape, sha256}")
        tensors = read_tensors(st_path, expected_bytes=size)
        verify_tensors(listed, tensors, st_path, json_path)
    check_finite(tensors, st_path)
    return record, tensors


def module_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


# --- loading into modules and optimizers ------------------------------------------------

MISFIT_HINT = "was the config edited, or the .safetensors copied from another run?"


def load_state(module: nn.Module, state: dict[str, torch.Tensor], source: Path, what: str, prefix: str = "",
               hint: str = MISFIT_HINT) -> None:
    """``module.load_state_dict(state)``, but a missing, extra or misshapen tensor is a one-line GankitError
    naming ``source`` and the tensor (``prefix`` + key): the config that built ``module`` and the tensors disagree."""
    wanted = module.state_dict()
    missing, extra = [prefix + k for k in wanted if k not in state], [prefix + k for k in state if k not in wanted]
    if missing or extra:
        raise GankitError(f"{source}: the tensors do not fit the {what} built from the config: "
                          f"{_key_mismatch(missing, extra)}")
    for key, current in wanted.items():  # in the module's order: the first layer that differs is named
        value, need = state[key], list(current.shape)
        if list(value.shape) != need:
            raise GankitError(f"{source}: tensor {prefix + key!r} has shape {list(value.shape)}, but the {what} "
                              f"built from the config needs {need} ({hint})")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:  # anything the checks above missed, on one line
        raise GankitError(f"{source}: cannot load the {what}: {one_line(exc)}") from None


def load_module(module: nn.Module, tensors: dict[str, torch.Tensor], name: str, source: Path,
                what: str | None = None, hint: str = MISFIT_HINT) -> None:
    """Load the ``name/...`` tensors of a checkpoint into ``module`` (see load_state)."""
    load_state(module, module_state(tensors, name), source, what or name, prefix=f"{name}/", hint=hint)


def _load_object(obj: Any, tensors: dict[str, torch.Tensor], name: str, source: Path) -> None:
    """A module, or another object with a state_dict (random streams, a privacy ledger)."""
    if isinstance(obj, nn.Module):
        load_module(obj, tensors, name, source)
        return
    try:
        obj.load_state_dict(module_state(tensors, name))
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise GankitError(f"{source}: cannot restore {name}: {type(exc).__name__} {one_line(exc)}") from None


def _check_optimizer_shapes(name: str, opt: torch.optim.Optimizer, state: dict, source: Path) -> None:
    """Every saved slot belongs to a parameter and has its shape (load_state_dict checks neither)."""
    params = [p for group in opt.param_groups for p in group["params"]]
    for index, slots in state["state"].items():
        if index >= len(params):
            raise GankitError(f"{source}: tensors {name}/{index}/... belong to no parameter "
                              f"({name} optimizes {len(params)}, numbered from 0)")
        for slot, value in slots.items():
            if value.dim() and value.shape != params[index].shape:
                raise GankitError(f"{source}: tensor '{name}/{index}/{slot}' has shape {list(value.shape)}, but "
                                  f"parameter {index} of {name} has shape {list(params[index].shape)}")


def _restore_optimizer(name: str, opt: torch.optim.Optimizer, record: dict, tensors: dict[str, torch.Tensor],
                       source: Path) -> None:
    groups = record.get("optimizer_groups")
    if not isinstance(groups, dict) or not isinstance(groups.get(name), list):
        raise GankitError(f"{source}: 'optimizer_groups' must hold a list of parameter groups for {name!r}, "
                          f"got {_shown(groups)}")
    state = _optimizer_state(name, tensors, groups[name], source)
    _check_optimizer_shapes(name, opt, state, source)
    try:
        opt.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise GankitError(f"{source}: cannot restore optimizer {name}: {type(exc).__name__} {one_line(exc)}") from None


def restore_latest(folder: Path, *, modules: dict[str, torch.nn.Module],
                   optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore the newest checkpoint in ``folder`` (for --resume); return its JSON record."""
    found = list_checkpoints(folder)
    if not found:
        raise GankitError(f"cannot resume: no checkpoint in {folder}")
    try:
        record, tensors = read_checkpoint(found[-1])
        restore(record, tensors, modules=modules, optimizers=optimizers, source=found[-1])
    except GankitError as exc:
        if len(found) < 2:
            raise
        raise GankitError(f"{exc} (to resume from {found[-2].name} instead, move {found[-1].name} "
                          f"away)") from None
    return record


def restore(record: dict, tensors: dict[str, torch.Tensor], *, modules: dict[str, torch.nn.Module],
            optimizers: dict[str, torch.optim.Optimizer], source: Path | str = "checkpoint") -> None:
    """Load modules and optimizers saved by save_checkpoint (for exact resume); ``source`` names the file in errors."""
    for name, module in modules.items():
        _load_object(module, tensors, name, Path(source))
    for name, opt in optimizers.items():
        _restore_optimizer(name, opt, record, tensors, Path(source))
