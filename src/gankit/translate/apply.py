"""Translate image files with a trained CycleGAN: each output keeps its input's name and size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from gankit import checkpoint
from gankit.config import from_dict
from gankit.data.folder import image_files
from gankit.errors import DataError, GankitError
from gankit.translate.config import TranslateConfig
from gankit.translate.nets import ResnetGenerator

DIRECTIONS = {"a2b": "ab", "b2a": "ba"}


def load_translator(run: str | Path, direction: str) -> tuple[nn.Module, TranslateConfig, Path]:
    """The generator of ``direction`` (a2b or b2a) from a translate run folder or checkpoint, in eval mode."""
    if direction not in DIRECTIONS:
        raise GankitError(f"--direction: expected a2b or b2a, got {direction!r}")
    json_path = checkpoint.find_checkpoint(run)
    record, tensors = checkpoint.read_checkpoint(json_path)
    if record.get("kind") != "translation":
        raise GankitError(f"{json_path} is not a translation checkpoint (make one with `gankit translate train`)")
    try:
        cfg = from_dict(TranslateConfig, record["config"])
    except (KeyError, GankitError) as exc:
        raise GankitError(f"{json_path}: bad config in the JSON: {exc}") from None
    c = cfg.channels
    G = nn.ModuleDict({k: ResnetGenerator(c, c, ngf=cfg.ngf, n_blocks=cfg.n_blocks) for k in ("ab", "ba")})
    checkpoint.load_module(G, tensors, "G", json_path, what="generators")
    return G[DIRECTIONS[direction]].eval().requires_grad_(False), cfg, json_path


@torch.no_grad()
def translate_file(G: nn.Module, cfg: TranslateConfig, source: Path) -> Image.Image:
    """One file through G at the run's frame size, then back to the file's own size."""
    mode = "L" if cfg.channels == 1 else "RGB"
    try:
        with Image.open(source) as opened:
            image = opened.convert(mode)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot read image {source}: {exc}") from None
    size = image.size
    frame = np.asarray(image.resize((cfg.image_size, cfg.image_size), Image.Resampling.LANCZOS), dtype=np.float32)
    x = torch.from_numpy(frame).reshape(cfg.image_size, cfg.image_size, -1).permute(2, 0, 1)[None] / 127.5 - 1
    y = G(x)[0].clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    out = Image.fromarray(y[..., 0] if y.shape[2] == 1 else y)
    return out.resize(size, Image.Resampling.LANCZOS)


def apply_translation(run: str | Path, inputs: list[Path], out_dir: Path, direction: str,
                      writer=None) -> list[Path]:
    """Translate every image of ``inputs`` into ``out_dir`` (same file names and sizes); returns the outputs.

    ``writer``: a gankit.provenance.files.ImageWriter to sign the PNGs it writes (other formats are saved
    as they are)."""
    G, cfg, json_path = load_translator(run, direction)
    files = image_files(inputs)
    names = [f.name for f in files]
    if len(set(names)) < len(names):
        raise DataError(f"two inputs share a file name ({next(n for n in names if names.count(n) > 1)}); "
                        f"outputs keep the names, so translate them into separate folders")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in files:
        image = translate_file(G, cfg, source)
        target = out_dir / source.name
        if writer is not None and target.suffix.lower() == ".png":
            import io
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            writer.write(target, buffer.getvalue(), source=source.name, direction=direction)
        else:
            image.save(target)
        written.append(target)
    return written
