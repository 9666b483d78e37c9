"""Does the conditional GAN draw the class it is asked for? Its samples, judged by a classifier trained on
the whole training split (the shipped domain backbone), never by anything trained on the labelled subset.

A generator can make clean digits and still ignore its label; as training data for the arms, such
images carry wrong labels. This number says so before the arms' test errors do.
"""

from __future__ import annotations

import torch

from gankit.metrics.backbones import BACKBONES, extract, load_backbone
from gankit.sampling import LoadedGenerator

__all__ = ["class_agreement"]

NOISE_SEED = 2024   # fixed, so two runs' agreements compare the generators, not the noise


@torch.no_grad()
def class_agreement(gen: LoadedGenerator, dataset: str, per_class: int = 500,
                    batch_size: int = 500) -> dict | None:
    """Share of ``per_class`` samples of each class that the ``dataset`` backbone labels as that class.

    None where no backbone ships for ``dataset`` (an image folder): there is no independent judge.
    """
    if dataset not in BACKBONES:
        return None
    device = next(gen.G.parameters()).device
    judge = load_backbone(dataset, device)
    if judge.num_classes != gen.num_classes:
        raise ValueError(f"the {dataset} backbone knows {judge.num_classes} classes, the generator "
                         f"{gen.num_classes}")
    asked = torch.arange(gen.num_classes, device=device).repeat_interleave(per_class)
    noise = torch.Generator().manual_seed(NOISE_SEED)
    images = torch.cat([gen(gen.noise(len(y), noise), y).float().clamp(-1, 1) for y in asked.split(batch_size)])
    _, probs = extract(judge, images, batch_size)
    hit = (probs.argmax(1) == asked).float().view(gen.num_classes, per_class).mean(1)
    return {"agreement": round(hit.mean().item(), 4), "per_class": [round(h, 4) for h in hit.tolist()],
            "class_names": gen.class_names, "samples_per_class": per_class, "judge": f"gankit {dataset} backbone"}
