"""What training several semi-supervised seeds side by side costs, against one seed at a time.

    python benchmarks/semisup_speed.py                       # CPU, 1 thread; writes its section of docs/results.md
    python benchmarks/semisup_speed.py --device cuda --threads 8 [--compile]

Times ``Trainer.train_step`` of the semi-supervised game (D step, G step, EMA) for ``parallel_seeds`` 1 and N
at two sizes: the paper's MNIST nets at batch 100 (arithmetic-bound on a CPU), and
the same loop with tiny nets at batch 2, where nearly all of a step is the fixed
cost of issuing ~300 tensor operations: the regime of the paper's nets on a GPU,
where each operation is a kernel launch that takes longer than its arithmetic.
N separate runs cost N times the one-seed step; a stack of N costs what is measured.
On a CPU the saving is computed from CPU time (one thread), which other jobs sharing the
cores do not inflate as they do wall time; on a GPU from wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from gankit.distributed import pick_device
from gankit.runs import machine_description
from gankit.semisup import load_semisup_config, semisup_trainer
from results_doc import update_section

SIZES = {
    "paper (784-1000-500-250-250-250-10, G 100-500-500-784, batch 100)": [],
    "tiny (784-8-8-8-8-8-10, G 4-8-8-784, batch 2): per-step overhead": [
        "d_hidden=8-8-8-8-8", "g_hidden=8-8", "z_dim=4", "batch_size=2", "init_batch=10"],
}


def ms_per_step(extra: list[str], copies: int, args) -> tuple[float, float]:
    """(wall, CPU) milliseconds per training step."""
    cfg = load_semisup_config("ssgan_mnist100", [f"parallel_seeds={copies}", f"device={args.device}",
                                                 f"compile={args.compile}", "unlabeled_limit=10000", *extra]
                              + ([f"data_root={args.data_root}"] if args.data_root else []))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = semisup_trainer(cfg, run_dir=Path(tmp) / "run")
        trainer.game.D.train()
        trainer.game.G.train()
        for _ in range(args.warmup):
            trainer.train_step()
        sync = torch.cuda.synchronize if trainer.info.device.type == "cuda" else (lambda: None)
        sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            trainer.train_step()
        sync()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return wall / args.steps * 1000, cpu / args.steps * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=5, help="seeds side by side (default 5)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-root", default=None)
    p.add_argument("--compile", action="store_true", help="torch.compile the losses (CUDA graphs on a GPU)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n = args.copies
    device = pick_device(args.device)
    on_cpu = device.type == "cpu"
    cell = (lambda ms: f"{ms[0]:.1f} ({ms[1]:.1f})") if on_cpu else (lambda ms: f"{ms[0]:.1f}")
    measure = 1 if on_cpu else 0  # CPU time on a CPU, wall time on a GPU
    load_before = os.getloadavg()[0]
    rows = []
    for size, extra in SIZES.items():
        one, stack = ms_per_step(extra, 1, args), ms_per_step(extra, n, args)
        rows.append(f"| {size} | {cell(one)} | {cell(tuple(n * x for x in one))} | {cell(stack)} "
                    f"| {n * one[measure] / stack[measure]:.2f}x |")
        print(rows[-1], flush=True)
    load = f"1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    machine = machine_description(device)
    text = "\n".join([
        "## Semi-supervised seeds side by side: cost per training step", "",
        f"Command: `{' '.join(['python', 'benchmarks/semisup_speed.py', *sys.argv[1:]])}`", "",
        f"Machine: {machine}, torch {torch.__version__}{', losses compiled' if args.compile else ''}. "
        f"Each number: mean over {args.steps} steps after "
        f"{args.warmup} warm-up steps of `Trainer.train_step` on the semi-supervised game (D step, G step, EMA), 10,000 unlabeled "
        f"images; {load}." + (" Cells: wall ms (CPU ms); the saving is from CPU time." if on_cpu else ""), "",
        f"| nets | 1 seed (ms/step) | {n} separate runs ({n} x 1 seed) | {n} seeds side by side (ms/step) "
        "| saving |",
        "|---|---|---|---|---|", *rows, "",
        "Reading: with the paper's nets on a CPU a step is arithmetic, which a stack cannot share. The tiny "
        "nets measure the fixed cost of a step, the tensor operations it issues, which a stack pays once for "
        "all its seeds. On a GPU that fixed cost (a kernel launch per operation) is expected to be most of a "
        "step of the paper's nets; that is measured only where the machine line names a GPU.",
    ])
    update_section("semisup_speed", text)
    print(text)


if __name__ == "__main__":
    main()
