"""The benchmark's photos: the ones that ship inside scikit-image, as square (C, S, S) floats in [0, 1].

Each photo is cropped to its central square and resized with scikit-image's anti-aliased resize
(the way the classical figures in REFERENCES.md were measured); a photo smaller than the asked
size is refused rather than enlarged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.errors import DataError

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "immunohistochemistry", "moon")


def photo(name: str, size: int) -> Tensor:
    import skimage.data
    from skimage.transform import resize
    if name not in PHOTOS:
        raise DataError(f"unknown photo {name!r}; the benchmark uses {', '.join(PHOTOS)}")
    pixels = np.asarray(getattr(skimage.data, name)(), dtype=np.float64) / 255.0
    h, w = pixels.shape[:2]
    side = min(h, w)
    if side < size:
        raise DataError(f"photo {name} is {w}x{h}: too small for {size} px without enlarging it")
    top, left = (h - side) // 2, (w - side) // 2
    square = pixels[top:top + side, left:left + side]
    if side != size:
        square = resize(square, (size, size), anti_aliasing=True)
    square = square[..., None] if square.ndim == 2 else square
    return torch.from_numpy(np.ascontiguousarray(square.transpose(2, 0, 1))).float()
