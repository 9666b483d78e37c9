"""Pictures: sample grids, 2-D scatter plots and loss curves."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.checkpoint import atomic_write_bytes


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, min_cell: int = 56) -> Image.Image:
    """Tile images in [-1, 1] of shape (N, C, H, W) into one PIL image.

    Small images are upscaled by an integer factor (nearest) so each cell is at least
    ``min_cell`` pixels: 8x8 digits are unreadable at their own size.
    """
    images = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    scale = max(1, math.ceil(min_cell / max(h, w)))
    h, w = h * scale, w * scale
    images = images.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    canvas = torch.full((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, top:top + h, left:left + w] = images[i]
    array = canvas.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if c == 1 else array)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def grid_png(images: torch.Tensor, nrow: int | None = None) -> bytes:
    """The PNG bytes of ``image_grid(images, nrow)``."""
    return _png_bytes(image_grid(images, nrow))


def image_png(image: torch.Tensor) -> bytes:
    """One image in [-1, 1] of shape (C, H, W) as PNG bytes, at its own size (grey or RGB)."""
    array = image.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    array = array.permute(1, 2, 0).numpy()
    return _png_bytes(Image.fromarray(array[..., 0] if array.shape[2] == 1 else array))


def save_image_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> None:
    atomic_write_bytes(Path(path), _png_bytes(image_grid(images, nrow)))


def _figure_png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def save_scatter(points: torch.Tensor, path: Path, reference: torch.Tensor | None = None,
                 title: str = "") -> None:
    """Scatter 2-D samples (over the real data or the true modes, when given)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if reference is not None:
        ref = reference.detach().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=4, c="tab:gray", alpha=0.3, label="real")
    pts = points.detach().float().cpu().numpy()
    ax.scatter(pts[:, 0], pts[:, 1], s=4, c="tab:orange", alpha=0.6, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    atomic_write_bytes(Path(path), _figure_png(fig))


def save_sample_picture(samples: torch.Tensor, path: Path, reference: torch.Tensor | None = None,
                        title: str = "") -> None:
    """A grid for images (N, C, H, W), a scatter plot for 2-D points (N, 2)."""
    if samples.dim() == 4:
        save_image_grid(samples, path)
    else:
        save_scatter(samples, path, reference, title)


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def save_loss_curve(metrics_path: Path, path: Path) -> None:
    """Two panels: both losses, and D(x) / D(G(z)), smoothed over a moving window."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = read_metrics(metrics_path)
    if not rows:
        return
    steps = np.array([r["step"] for r in rows])
    window = max(1, len(rows) // 100)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        top.plot(steps[window - 1:], _smooth(np.array([r[key] for r in rows]), window), label=label)
    top.legend(fontsize=8)
    top.set_ylabel("loss")
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        if key in rows[0]:
            bottom.plot(steps[window - 1:], _smooth(np.array([r[key] for r in rows]), window), label=label)
    bottom.set_ylabel("mean sigmoid(D)")
    bottom.set_xlabel("generator step")
    bottom.legend(fontsize=8)
    atomic_write_bytes(Path(path), _figure_png(fig))


def save_fid_curve(evals_path: Path, path: Path) -> None:
    """FID over training steps (log scale), the best one starred."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = read_metrics(evals_path)
    if not rows:
        return
    steps, scores = np.array([r["step"] for r in rows]), np.array([r["fid"] for r in rows])
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(steps, scores, marker="o", ms=3)
    best = int(scores.argmin())
    ax.plot(steps[best], scores[best], "r*", ms=12, label=f"best: {scores[best]:.2f} at step {steps[best]}")
    ax.set_xlabel("generator step")
    ax.set_ylabel("FID (domain backbone)")
    ax.set_yscale("log")
    # plain numbers on the log axis ("300", not "3 x 10^2"); over more than a decade only 2s and 5s
    # among the minor ticks, so that the labels do not pile up
    wide = scores.max() / max(scores.min(), 1e-12) > 10
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if not wide or f"{v:.0e}"[0] in "25" else ""))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.legend(fontsize=8)
    atomic_write_bytes(Path(path), _figure_png(fig))
