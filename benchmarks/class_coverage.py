"""Does a trained MNIST-family generator cover all ten classes? A quick mode-collapse check.

    GANKIT_DATA=../shared/data python benchmarks/class_coverage.py RUN_DIR [RUN_DIR ...]

Labels 10,000 generated samples with a 1-nearest-neighbour classifier on raw
pixels fitted to 20,000 real training images (its accuracy on the real test set
is printed beside it), then reports the class histogram and its KL divergence to
uniform (0 = every class equally often; log 10 = 2.30 = one class only). A
stopgap until the evaluation module brings feature-space metrics.
"""

from __future__ import annotations

import argparse
import math

import torch

from gankit.data import load_dataset
from gankit.sampling import load_generator


def nearest_labels(queries: torch.Tensor, refs: torch.Tensor, ref_labels: torch.Tensor) -> torch.Tensor:
    out = []
    for chunk in queries.split(1000):
        out.append(ref_labels[torch.cdist(chunk, refs).argmin(1)])
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args()
    torch.manual_seed(0)
    for run in args.runs:
        gen = load_generator(run)
        name = gen.config.data.name
        train = load_dataset(name, root=gen.config.data.root, split="train")
        test = load_dataset(name, root=gen.config.data.root, split="test")
        refs = train.batch(torch.arange(20_000))[0].flatten(1)
        ref_y = train.y[:20_000]
        test_x = test.batch(torch.arange(len(test)))[0].flatten(1)
        accuracy = (nearest_labels(test_x, refs, ref_y) == test.y).float().mean().item()
        with torch.no_grad():
            samples = torch.cat([gen(gen.noise(1000)).flatten(1) for _ in range(args.n // 1000)])
        counts = torch.bincount(nearest_labels(samples, refs, ref_y), minlength=10).double()
        p = counts / counts.sum()
        kl = sum(pi * math.log(pi * 10) for pi in p.tolist() if pi > 0)
        print(f"{run}: step {gen.step}, {name}, 1-NN accuracy on real test {accuracy:.3f}")
        print("  class share: " + " ".join(f"{i}:{v:.3f}" for i, v in enumerate(p.tolist())))
        print(f"  KL(histogram || uniform) = {kl:.4f}; smallest class {p.min().item():.3f}")


if __name__ == "__main__":
    main()
