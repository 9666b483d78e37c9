"""The run folder, the same for every game: resolved config, provenance, metrics log, checkpoints.

    RUN/config.yaml        the resolved config (a valid recipe: train it again with it)
    RUN/meta.json          seed, versions, git commit, device, machine, command line
    RUN/metrics.jsonl      the training log (one line per step, or per epoch for some games)
    RUN/checkpoints/ckpt-*.safetensors + .json
    RUN/.lock              held while a process trains into the folder

Games add their own outputs beside these (GAN sample grids, a semi-supervised classifier, ...).
"""

from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

import torch

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.errors import GankitError


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one), for provenance records."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@contextmanager
def stop_on_signal():
    """First Ctrl-C / SIGTERM asks the loop to stop after the current step (and save)."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    def handler(signum, frame):
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def machine_description(device: torch.device | str) -> str:
    """The hardware a run used, for provenance and benchmark tables."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"{cpu_name()}, {torch.get_num_threads()} torch thread(s)"


def new_run_dir(out_dir: str | Path, name: str) -> Path:
    """``out_dir/name-YYYYmmdd-HHMMSS`` (with -1, -2 ... when two runs start in the same second)."""
    base = Path(out_dir) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def git_commit() -> str | None:
    """The commit of the gankit source tree, when it is a git checkout."""
    try:
        here = Path(__file__).parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (commit + ("-dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(seed: int, device: torch.device | str, world_size: int = 1, **extra: Any) -> dict[str, Any]:
    """What is needed to trust and repeat a run besides its config."""
    import numpy
    return {"seed": seed, **extra,
            "gankit": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": git_commit(), "device": str(device), "machine": machine_description(device),
            "world_size": world_size, "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


_HELD: dict[Path, list] = {}   # run folders this process holds: [lock file, holders]


class RunFolder:
    """One run's folder: config.yaml, meta.json, metrics.jsonl, checkpoints/ (and what the game adds).

    A new run refuses a folder that already holds something: runs are never mixed. A run holds
    an exclusive lock on RUN/.lock while it lives, so a second process cannot train into the
    same folder; the operating system drops the lock when the process dies, however it dies.
    """

    def __init__(self, path: str | Path, *, resume: bool = False, main: bool = True):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self._locked = False
        if not main:  # another DDP rank: rank 0 checks, creates, locks and writes
            return
        self.check(self.path, resume)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()

    @staticmethod
    def check(path: Path, resume: bool = False) -> None:
        """Refuse a folder that cannot take this run (before any work, so the user hears at once)."""
        path = Path(path)
        if resume and not path.is_dir():
            raise GankitError(f"cannot resume: {path} is not a run folder")
        if not resume and path.exists():
            if not path.is_dir():
                raise GankitError(f"{path} is a file, not a run folder; choose another output folder")
            if any(path.iterdir()):
                raise GankitError(f"{path} already holds a run; continue it with --resume {path}, "
                                  f"or choose another output folder (or delete this one)")

    def _lock(self) -> None:
        key = self.path.resolve()
        if key not in _HELD:
            handle = open(self.path / ".lock", "a")
            try:
                import fcntl
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:   # no fcntl (Windows): no lock
                pass
            except OSError:
                handle.close()
                raise GankitError(f"{self.path} is in use by another gankit process (it holds {self.path / '.lock'}); "
                                  f"wait for it to finish or stop it first") from None
            _HELD[key] = [handle, 0]
        _HELD[key][1] += 1
        self._locked = True

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Let other processes use the folder (the end of training; also when this process exits)."""
        if not self._locked:
            return
        self._locked = False
        key = self.path.resolve()
        entry = _HELD.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                entry[0].close()
                del _HELD[key]

    def write_config(self, values: dict[str, Any]) -> None:
        """RUN/config.yaml: the resolved config, itself a valid recipe."""
        atomic_write_text(self.path / "config.yaml", yaml.safe_dump(values, sort_keys=False))

    def write_meta(self, seed: int, device: torch.device | str, world_size: int = 1, **extra: Any) -> None:
        """RUN/meta.json: provenance (versions, commit, machine, command line)."""
        atomic_write_text(self.path / "meta.json", json.dumps(provenance(seed, device, world_size, **extra), indent=1))


class MetricsLog:
    """Appends one JSON line per step; on resume, drops lines past the checkpoint."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.is_file():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= resume_step]
            atomic_write_text(path, "".join(line + "\n" for line in kept))

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self.path.open("a") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
