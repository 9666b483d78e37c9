"""The training bar with the semi-supervised numbers beside it: losses and the last test errors."""

from __future__ import annotations

import statistics
from pathlib import Path

from gankit.progress import TrainProgress


class SemisupProgress(TrainProgress):
    def __init__(self, total: int, start: int, enabled: bool, run_dir: Path):
        super().__init__(total, start, enabled, run_dir, label="semisup")

    def epoch_done(self, rows: list[dict], seeds: tuple[int, ...], test_size: int) -> None:
        """rows: one per seed. Losses are shown as the mean over the seeds, test errors per seed."""
        mean = {k: statistics.mean(r[k] for r in rows) for k in ("loss_lab", "loss_unl", "loss_g") if k in rows[0]}
        info = f"epoch {rows[0]['epoch']}  CE {mean['loss_lab']:.3f}"
        if "loss_g" in mean:
            info += f"  unl {mean['loss_unl']:.3f}  FM {mean['loss_g']:.3f}"
        if "test_errors" in rows[0]:
            errors = [r["test_errors"] for r in rows]
            info += f"  test errors {errors[0]}/{test_size}" if len(rows) == 1 else \
                "  test errors " + " ".join(f"s{s}:{e}" for s, e in zip(seeds, errors)) + f" /{test_size}"
        self.show(info)
