"""The picture strip: corrupted | the output at a few steps | final | reference, labelled, in one PNG.

Intermediate outputs are caught by a loop callback (``Snapshots``) at steps spread geometrically
over the run; with a run folder they are also written to RUN/snapshots/, so a resumed run still
has the ones taken before it stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from gankit.restore.corrupt import default_font
from gankit.restore.images import read_image, save_image, to_pil

LABEL_HEIGHT = 28   # two lines: what the panel is, its PSNR
GAP = 4


def snapshot_steps(iterations: int, count: int) -> list[int]:
    """``count`` steps spread geometrically from iterations/40 to iterations/2 (the early ones change most)."""
    if count == 0 or iterations < 4:
        return []
    steps = np.geomspace(max(1, iterations / 40), max(1, iterations / 2), count)
    return sorted({max(1, int(round(s))) for s in steps})


class Snapshots:
    """A loop callback keeping the restoration at the chosen steps: {step: (C, H, W) on the CPU}."""

    def __init__(self, game, steps: list[int], folder: Path | None = None):
        self.game, self.steps, self.folder = game, set(steps), folder
        self.pictures: dict[int, Tensor] = {}
        if folder is not None and folder.is_dir():   # a resumed run: what was caught before it stopped
            for path in sorted(folder.glob("step_*.png")):
                step = int(path.stem.removeprefix("step_"))
                if step in self.steps:
                    self.pictures[step] = read_image(path)

    def __call__(self, step: int, trainer) -> None:
        if step not in self.steps:
            return
        picture = self.game.restored()
        self.pictures[step] = picture
        if self.folder is not None:
            save_image(picture, self.folder / f"step_{step:07d}.png")


def _label(panel: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (panel.width, panel.height + LABEL_HEIGHT), "white")
    out.paste(panel.convert("RGB"), (0, 0))
    font = default_font(11)
    ImageDraw.Draw(out).multiline_text((2, panel.height + 1), text, fill="black", font=font, spacing=1)
    return out


def picture_strip(panels: list[tuple[str, Tensor]], path: str | Path, min_width: int = 128) -> Path:
    """Write the labelled pictures side by side; small photos are enlarged (nearest) to ``min_width``."""
    images = []
    for text, picture in panels:
        im = to_pil(picture)
        if im.width < min_width:
            factor = -(-min_width // im.width)
            im = im.resize((im.width * factor, im.height * factor), Image.Resampling.NEAREST)
        images.append(_label(im, text))
    height = max(im.height for im in images)
    strip = Image.new("RGB", (sum(im.width for im in images) + GAP * (len(images) - 1), height), "white")
    x = 0
    for im in images:
        strip.paste(im, (x, 0))
        x += im.width + GAP
    array = torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return save_image(array, path)
