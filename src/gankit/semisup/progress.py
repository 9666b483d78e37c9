"""The training bar with the semi-supervised numbers beside it: losses and the last test error."""

from __future__ import annotations

from pathlib import Path

from gankit.progress import TrainProgress


class SemisupProgress(TrainProgress):
    def __init__(self, total: int, start: int, enabled: bool, run_dir: Path):
        super().__init__(total, start, enabled, run_dir, label="semisup")

    def epoch_done(self, row: dict, test_size: int) -> None:
        info = f"epoch {row['epoch']}  CE {row['loss_lab']:.3f}"
        if "loss_g" in row:
            info += f"  unl {row['loss_unl']:.3f}  FM {row['loss_g']:.3f}"
        if "test_errors" in row:
            info += f"  test errors {row['test_errors']}/{test_size}"
        self.show(info)
