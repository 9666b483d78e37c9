"""The settings of one Deep Image Prior fit; a recipe in gankit/configs/restore/ maps onto them one-to-one.

    >>> from gankit.restore import load_restore_config
    >>> cfg = load_restore_config("dip_inpaint", ["iterations=3000", "early_stop=watch"])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from gankit.config import RECIPES_DIR as GAN_RECIPES, load_recipe, raise_problems, read_run_config

RECIPES_DIR = GAN_RECIPES / "restore"
TASKS = ("inpaint", "denoise", "superres")
Widths = tuple[int, int, int, int, int]   # one per scale of the hourglass, finest first


@dataclass
class RestoreConfig:
    """Deep Image Prior settings (the paper's names in brackets where they differ)."""

    name: str = "dip"
    description: str = ""
    iterations: int = 3000                # Adam steps at most [num_iter]
    lr: float = 0.01                      # Adam learning rate [LR]
    input: Literal["noise", "meshgrid"] = "noise"   # the fixed input z [INPUT]
    input_channels: int = 32              # channels of a noise input [input_depth]; meshgrid has 2
    reg_noise_std: float = 0.03           # fresh Gaussian noise of this std added to z every step
    channels_down: Widths = (128, 128, 128, 128, 128)
    channels_up: Widths = (128, 128, 128, 128, 128)
    channels_skip: Widths = (4, 4, 4, 4, 4)   # 0: no skip connection at that scale
    kernel: int = 3                       # convolution size in the down and up branches
    upsample: Literal["nearest", "bilinear"] = "bilinear"
    pad: Literal["reflection", "zero"] = "reflection"
    average: float = 0.0                  # exponential averaging of outputs [exp_weight]: 0.99; 0 = off
    keep_known: bool = True               # inpainting: the kept (white) pixels are pasted into the output, as
                                          # the classical inpainters do; false: the net's output alone (the paper)
    backtrack_db: float = 5.0             # a fitted PSNR this far below the last check's: back to that state
    backtrack_every: int = 100            # steps between those checks (one device sync each); 0 = off
    early_stop: Literal["stop", "watch", "none"] = "stop"   # Wang et al. 2021's running-variance rule:
                                          # stop at it, watch (run on, keep its pick) or none
    es_window: int = 100                  # outputs in the running variance [W]
    es_patience: int = 1000               # steps without a new variance minimum before it stops [P]
    log_every: int = 50                   # steps between log rows (PSNR, SSIM on the progress bar)
    snapshots: int = 3                    # outputs at intermediate steps in the picture strip
    seed: int = 0
    device: str = "auto"                  # auto: cuda, then mps, then cpu
    precision: Literal["fp32", "bf16"] = "fp32"   # bf16: autocast on CUDA (faster, slightly different)
    compile: bool = False                 # capture each step (gankit.capture: torch.compile, CUDA graphs on a GPU)
    checkpoint_minutes: float = 5.0       # checkpoint this often (and at the end) when there is a run folder

    def check(self) -> None:
        errors = []
        for key in ("iterations", "input_channels", "kernel", "es_window", "es_patience", "log_every"):
            if getattr(self, key) < 1:
                errors.append(f"{key}: must be >= 1, got {getattr(self, key)}")
        for key in ("lr", "checkpoint_minutes"):
            if not getattr(self, key) > 0:
                errors.append(f"{key}: must be > 0, got {getattr(self, key)}")
        for key in ("reg_noise_std", "backtrack_db", "backtrack_every", "snapshots"):
            if getattr(self, key) < 0:
                errors.append(f"{key}: must be >= 0, got {getattr(self, key)}")
        if not 0 <= self.average < 1:
            errors.append(f"average: must be in [0, 1) (0.99 in the paper; 0 = off), got {self.average}")
        if self.kernel % 2 == 0:
            errors.append(f"kernel: must be odd (a centred convolution), got {self.kernel}")
        for key in ("channels_down", "channels_up"):
            if min(getattr(self, key)) < 1:
                errors.append(f"{key}: every width must be >= 1, got {list(getattr(self, key))}")
        if min(self.channels_skip) < 0:
            errors.append(f"channels_skip: widths must be >= 0 (0 = no skip), got {list(self.channels_skip)}")
        raise_problems(errors, "restore configuration")


def load_restore_config(recipe: str | Path | None = None, overrides: Sequence[str] = ()) -> RestoreConfig:
    """A restore recipe (built-in name or YAML path; None: the defaults) with ``key=value`` overrides."""
    return load_recipe(RestoreConfig, recipe, overrides, recipes_dir=RECIPES_DIR, kind="restore recipe")


def read_restore_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> RestoreConfig:
    """The config of a restore run folder (RUN/config.yaml), with overrides."""
    return read_run_config(run_dir, RestoreConfig, overrides)


def default_recipe(task: str, device_type: str) -> str:
    """The paper's recipe on a GPU; the CPU-sized one elsewhere (the paper's nets take hours on a CPU)."""
    return f"dip_{task}" if device_type == "cuda" else f"cpu_{task}"
