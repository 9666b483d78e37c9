"""The one progress bar: training steps, attack jobs, anything counted; silent when disabled."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """label, bar, done / total, a text (losses, errors), speed and time left, on stderr."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True, label: str = "train",
                 run_dir: Path | None = None, transient: bool = False):
        self.console = Console(stderr=True)
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
            console=self.console, disable=not enabled, transient=transient)
        self._task = self._progress.add_task(label, total=total, completed=start, info="", speed="")
        if enabled and run_dir is not None:
            self.console.print(f"run folder: [cyan]{run_dir}")

    def __enter__(self) -> "ProgressBar":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def label(self, text: str) -> None:
        """Replace the label at the left of the bar (e.g. the job now running)."""
        self._progress.update(self._task, description=text)

    def show(self, text: str) -> None:
        """Replace the text beside the bar (losses, errors) and refresh the speed."""
        speed = self._progress.tasks[self._task].speed
        self._progress.update(self._task, info=text, speed=f"{speed:.1f} it/s" if speed else "")
