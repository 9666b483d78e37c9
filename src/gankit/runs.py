"""The run folder: resolved config, provenance, metrics log, samples, checkpoints.

    RUN/config.yaml        the resolved config (a valid recipe: train it again with it)
    RUN/meta.json          seed, versions, git commit, device, command line
    RUN/metrics.jsonl      one line per generator step
    RUN/samples/*.png      sample grids from fixed noise, every sample_every steps
    RUN/loss_curve.png
    RUN/checkpoints/ckpt-*.safetensors + .json
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

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.config import Config, from_dict
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


def new_run_dir(cfg: Config) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(cfg.train.out_dir) / f"{cfg.name}-{stamp}"
    path, i = base, 1
    while path.exists():  # two runs started in the same second
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


def write_config(run_dir: Path, cfg: Config) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def write_provenance(run_dir: Path, cfg: Config, device: str, world_size: int) -> None:
    """meta.json: what is needed to trust and repeat the run besides its config."""
    import numpy
    import torch
    meta = {
        "seed": cfg.train.seed,
        "gankit": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "git_commit": git_commit(), "device": device, "world_size": world_size,
        "command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(run_dir / "meta.json", json.dumps(meta, indent=1))


def read_run_config(run_dir: Path) -> Config:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run folder (no config.yaml)")
    cfg = from_dict(Config, yaml.safe_load(path.read_text()))
    cfg.check()
    return cfg


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
