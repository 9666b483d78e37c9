"""A rich progress bar for semi-supervised training: step, losses, last test error, time left."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class SemisupProgress:
    def __init__(self, total: int, start: int, enabled: bool, run_dir: Path):
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]semisup"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=self.console, disable=not enabled)
        self._task = self._progress.add_task("semisup", total=total, completed=start, info="")
        self.enabled = enabled
        if enabled:
            self.console.print(f"run folder: [cyan]{run_dir}")

    def __enter__(self) -> "SemisupProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def epoch_done(self, row: dict, test_size: int) -> None:
        info = f"epoch {row['epoch']}  CE {row['loss_lab']:.3f}"
        if "loss_g" in row:
            info += f"  unl {row['loss_unl']:.3f}  FM {row['loss_g']:.3f}"
        if "test_errors" in row:
            info += f"  test errors {row['test_errors']}/{test_size}"
        self._progress.update(self._task, info=info)
