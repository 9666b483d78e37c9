"""Seconds per epoch: gankit's in-memory batching vs a DataLoader loop doing the same work.

    GANKIT_DATA=../shared/data python benchmarks/epoch_speed.py            # full epochs
    GANKIT_DATA=../shared/data python benchmarks/epoch_speed.py --steps 200  # quick estimate

Both loops run the same gankit.loop.Trainer.train_step on the GAN game (same nets, losses,
optimizers, batch size); only where real batches come from differs. The baseline is the usual
PyTorch pattern: a map-style Dataset that converts one uint8 image to a normalised
float tensor per item, and a shuffling DataLoader that collates them. Results go
to docs/speed.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from gankit import distributed
from gankit.config import load_config
from gankit.game import GANGame
from gankit.loop import Trainer
from gankit.train import loop_settings
from results_doc import update_section

HEADER = ("# Training speed\n\nEach table below was written by the benchmark script named in it; rerun that "
          "command to reproduce it.\n")   # docs/speed.md: one section per script (and device)


class PerSampleImages(torch.utils.data.Dataset):
    """What torchvision-style loaders do: one sample at a time, converted on access."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x.cpu(), y.cpu()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i].float().div(255).sub(0.5).div(0.5), self.y[i]


class DataLoaderGame(GANGame):
    """The same game, fed by a DataLoader instead of tensor indexing."""

    def start_loader(self, workers: int) -> None:
        ds = PerSampleImages(self.data.x, self.data.y)
        self._loader = DataLoader(ds, batch_size=self.cfg.train.batch_size, shuffle=True,
                                  drop_last=True, num_workers=workers)
        self._it = iter(self._loader)

    def real_batch(self, t: int):
        try:
            x, y = next(self._it)
        except StopIteration:
            self._it = iter(self._loader)
            x, y = next(self._it)
        return x.to(self.info.device), y.to(self.info.device)


def time_data_path(game: GANGame, steps: int) -> float:
    """Only the batches: what the data path alone costs per `steps` batches."""
    start = time.perf_counter()
    for t in range(steps):
        x, _ = game.real_batch(t)
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def time_steps(trainer: Trainer, steps: int) -> float:
    for _ in range(3):  # warm-up: allocator, first-call overheads
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["gan2014_mnist", "dcgan_mnist"])
    parser.add_argument("--steps", type=int, default=None, help="time this many steps (default: one epoch)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs" / "speed.md")
    args = parser.parse_args()
    info = distributed.DistInfo(device=distributed.pick_device("auto"))
    rows = []
    for name in args.recipes:
        cfg = load_config(name)
        results, data_only = {}, {}
        for label, cls in (("in-memory", GANGame), ("DataLoader", DataLoaderGame)):
            game = cls(cfg, info)
            if isinstance(game, DataLoaderGame):
                game.start_loader(args.workers)
            trainer = Trainer(game, None, loop_settings(cfg), info)   # no run folder: nothing written
            per_epoch = len(game.data) // (cfg.train.batch_size * cfg.train.n_dis)
            steps = args.steps or per_epoch
            data_only[label] = time_data_path(game, per_epoch * cfg.train.n_dis)
            seconds = time_steps(trainer, steps)
            results[label] = seconds / steps * per_epoch
            print(f"{name:16s} {label:11s} {steps} steps in {seconds:.1f} s -> "
                  f"{results[label]:.1f} s/epoch; batches alone {data_only[label]:.2f} s/epoch", flush=True)
        rows.append((name, per_epoch, steps, results["in-memory"], results["DataLoader"],
                     data_only["in-memory"], data_only["DataLoader"]))
    write_report(args, info, rows)


def write_report(args, info, rows) -> None:
    command = "GANKIT_DATA=../shared/data python benchmarks/epoch_speed.py " + " ".join(sys.argv[1:])
    lines = [
        "## Seconds per epoch: in-memory batches vs a DataLoader",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"device {info.device}, torch {torch.__version__}. DataLoader workers: {args.workers}.",
        "",
        "| recipe | steps per epoch | steps timed | in-memory (s/epoch) | DataLoader (s/epoch) | speed-up "
        "| batches alone, in-memory (s/epoch) | batches alone, DataLoader (s/epoch) | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, per_epoch, steps, fast, slow, data_fast, data_slow in rows:
        lines.append(f"| {name} | {per_epoch} | {steps} | {fast:.1f} | {slow:.1f} | {slow / fast:.2f}x "
                     f"| {data_fast:.3f} | {data_slow:.3f} | {data_slow / data_fast:.0f}x |")
    lines += ["", "Steps timed < steps per epoch means the epoch time is extrapolated from the timed steps. "
              "'Batches alone' draws one epoch of real batches (n_dis per step) with no training: "
              "the cost of the data path itself.", ""]
    update_section("epochs", "\n".join(lines), path=args.out, summary=False, header=HEADER)
    print(f"wrote its section of {args.out}")


if __name__ == "__main__":
    main()
