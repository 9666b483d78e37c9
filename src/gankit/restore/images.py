"""Photos and masks in and out: float tensors (C, H, W) in [0, 1], with the checks a user's file needs.

Conversions (documented in the CLI help):

* 8-bit images are divided by 255; 16-bit images (PNG/TIFF "I;16", "I") by 65535, never clipped;
* an RGBA or LA image whose alpha is fully opaque loses its alpha; a transparent one is refused
  (flatten it, or give the transparency as the mask);
* palette and CMYK images become RGB; everything else that PIL reads becomes RGB or gray;
* a mask is read as gray and thresholded at half: white (>= 128 of 255) = keep, black = fill in.

Five scales of 2x downsampling need a canvas whose sides are multiples of 32: ``pad_to`` mirrors
the photo out to the next multiple and the restored image is cropped back (``crop``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from gankit.checkpoint import atomic_write_bytes
from gankit.errors import DataError

MIN_SIDE = 8


def open_picture(path: str | Path, what: str = "image") -> Image.Image:
    """The decoded file; DataError naming it when it is missing or not an image PIL can read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            return im
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{what} {path}: not an image file that can be read ({type(exc).__name__}); "
                        f"give a PNG, JPEG or TIFF") from None


def picture_array(im: Image.Image, path: str | Path, what: str = "image") -> np.ndarray:
    """(H, W, C) float32 in [0, 1] with C = 1 or 3, by the conversions listed in the module docstring."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32)[..., None]
    if mode == "I":
        values = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 else 255.0
        return (values / peak).clip(0, 1).astype(np.float32)[..., None]
    if mode == "F":
        values = np.asarray(im, dtype=np.float32)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise DataError(f"{what} {path}: a floating-point image must hold values in [0, 1]")
        return values[..., None]
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA" if mode != "LA" else "LA")
        alpha = np.asarray(rgba)[..., -1]
        if alpha.min() < 255:
            raise DataError(f"{what} {path}: has transparent pixels ({(alpha < 255).mean():.0%}); flatten it onto a "
                            f"background first, or save the transparency as a mask PNG (white = keep) for --mask")
        im = rgba.convert("RGB" if mode != "LA" else "L")
        mode = im.mode
    if mode not in ("L", "RGB"):
        im = im.convert("L" if mode in ("1", "L") else "RGB")
    values = np.asarray(im, dtype=np.float32) / 255.0
    return values[..., None] if values.ndim == 2 else values


def read_image(path: str | Path, what: str = "image") -> Tensor:
    """A photo as (C, H, W) floats in [0, 1]; C = 1 (gray) or 3 (RGB)."""
    values = picture_array(open_picture(path, what), path, what)
    h, w = values.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise DataError(f"{what} {path}: {w}x{h} pixels is too small; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))


def read_mask(path: str | Path, size: tuple[int, int], image_path: str | Path = "the image") -> Tensor:
    """A mask as (1, H, W) floats, 1 = keep (white), 0 = to fill in (black); checked against the image's
    (H, W) ``size``."""
    im = open_picture(path, "mask")
    if im.size != (size[1], size[0]):
        raise DataError(f"mask {path}: {im.size[0]}x{im.size[1]} pixels, but {image_path} is {size[1]}x{size[0]}; "
                        f"the mask must have the image's size")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA").convert("RGB")   # a mask's own alpha carries nothing: its colour decides
    gray = picture_array(im, path, "mask").mean(axis=2)
    keep = torch.from_numpy((gray >= 0.5).astype(np.float32))[None]
    if keep.sum() == 0:
        raise DataError(f"mask {path}: all black, so no pixel is kept and there is nothing to fit; "
                        f"white marks the pixels to keep, black the ones to fill in")
    if keep.min() == 1:
        raise DataError(f"mask {path}: all white, so every pixel is kept and there is nothing to fill in; "
                        f"black marks the pixels to fill in")
    return keep


def to_pil(x: Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] -> an 8-bit gray or RGB picture (rounded, clipped)."""
    values = (x.detach().float().clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(values[0] if values.shape[0] == 1 else values.transpose(1, 2, 0))


def save_image(x: Tensor, path: str | Path) -> Path:
    """Write (C, H, W) in [0, 1] as an 8-bit PNG (or whatever the suffix says), atomically."""
    import io
    path = Path(path)
    buffer = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}.get(path.suffix.lower(),
                                                                                                "PNG")
    to_pil(x).save(buffer, format=fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def padding_for(height: int, width: int, multiple: int, smallest: int = 0) -> tuple[int, int]:
    """Rows and columns to add (at the bottom and right) so both sides become multiples of ``multiple``
    and at least ``smallest``."""
    def extra(side: int) -> int:
        return max(side + (-side) % multiple, smallest + (-smallest) % multiple) - side
    return extra(height), extra(width)


def pad_to(x: Tensor, rows: int, cols: int) -> Tensor:
    """(C, H, W) mirrored out by ``rows`` at the bottom and ``cols`` at the right (repeated reflections
    when the padding is larger than the photo)."""
    if rows == 0 and cols == 0:
        return x
    out = x[None]
    while rows or cols:   # reflection pads by less than the side; repeat for large pads
        r, c = min(rows, out.shape[-2] - 1), min(cols, out.shape[-1] - 1)
        out = F.pad(out, (0, c, 0, r), mode="reflect")
        rows, cols = rows - r, cols - c
    return out[0]


def crop(x: Tensor, height: int, width: int) -> Tensor:
    return x[..., :height, :width]
