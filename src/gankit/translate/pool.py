"""The history of generated images that D is shown (Shrivastava et al. 2017; CycleGAN's pool of 50).

Until the pool is full, every generated image goes in and is returned. Then each image, with
probability 1/2, is swapped with a random stored one (the stored one is returned, the new one kept);
otherwise it is returned as is. D thus sees fakes from past generators too, which damps oscillation.
Draws come from torch's stream (the loop reseeds it each step); the contents are checkpointed.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[Tensor] = []

    def query(self, batch: Tensor) -> Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()) < 0.5:
                k = int(torch.randint(len(self.images), ()))
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Tensor]:
        stored = torch.stack(self.images) if self.images else torch.zeros(0)
        return {"images": stored.cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        stored = state["images"]
        self.images = list(stored.unbind(0)) if stored.numel() else []
