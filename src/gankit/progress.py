"""A rich progress bar for training: step, losses, speed and time left."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainProgress:
    """Shows step / total, D and G loss, steps per second; silent when disabled."""

    def __init__(self, total: int, start: int, enabled: bool, run_dir: Path, label: str = "train"):
        self.console = Console(stderr=True)
        self.enabled = enabled
        self._progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
            console=self.console, disable=not enabled)
        self._task = self._progress.add_task("train", total=total, completed=start, losses="", speed="")
        if enabled:
            self.console.print(f"run folder: [cyan]{run_dir}")

    def __enter__(self) -> "TrainProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def update(self, row: dict) -> None:
        self.show(f"D {row['d_loss']:.3f}  G {row['g_loss']:.3f}")

    def show(self, text: str) -> None:
        """Replace the text beside the bar (losses, errors) and refresh the speed."""
        speed = self._progress.tasks[self._task].speed
        self._progress.update(self._task, losses=text, speed=f"{speed:.1f} it/s" if speed else "")
