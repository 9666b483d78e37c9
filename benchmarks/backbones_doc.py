"""Render docs/backbones.md from the JSON records next to the shipped backbone weights.

    python benchmarks/backbones_doc.py            # after `gankit backbone train ...`

Every number on the page comes from a record (``src/gankit/metrics/weights/<dataset>.json``),
which `gankit backbone train` writes beside the weights it trained.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.checkpoint import atomic_write_text
from gankit.metrics.backbones import KNOWN, WEIGHTS_DIR

REPO = Path(__file__).resolve().parents[1]


# The held-out runs behind the recipes (holdout=N on one thread, seed 0).
RECIPE_SEARCH = """\
| dataset | held out | recipe tried | held-out accuracy |
|---|---|---|---|
| mnist | 5,000 | shift 2, 5 epochs | 99.38 % (31 errors) |
| fashion-mnist | 5,000 | shift 2 + h-flip, 10 epochs | 92.82 % (359 errors) |
| fashion-mnist | 5,000 | shift 1 + h-flip, 10 epochs | 93.40 % (330 errors), kept |
| digits | 300 | shift 1, 60 epochs | 99.67 % (1 error) |

MNIST ships with 8 epochs rather than the 5 that were validated, for margin over
the 99.3 % target; the 8-epoch schedule itself was not run on a held-out slice."""


def _fmt_time(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def write_docs(weights_dir: Path, path: Path) -> None:
    """(Re)write the backbone page from the JSON records in ``weights_dir``."""
    records = []
    for name in KNOWN:
        p = weights_dir / f"{name}.json"
        if p.is_file():
            records.append(json.loads(p.read_text()))
    rows = []
    for r in records:
        load = r.get("load_average") or {}
        load = f" (load {load['before']} / {load['after']})" if load.get("before") is not None else ""
        rows.append(f"| {r['dataset']} | {100 * r['test_accuracy']:.2f} % (target {100 * r['target_accuracy']:.1f} %) "
                    f"| {r['test_errors']} / {r['test_size']:,} | {r['epochs']} | {_fmt_time(r['train_seconds'])}{load} "
                    f"| {r['parameters']:,} | {r['weights_bytes'] / 1024:.0f} KiB | `{r['command']}` |")
    recipe_rows = []
    for r in records:
        rc, m = r["recipe"], r["model"]
        recipe_rows.append(f"| {r['dataset']} | {r['epochs']} | {rc['batch_size']} | {rc['lr']:g} | "
                           f"{rc['weight_decay']:g} | {rc['shift']} px | {'yes' if rc['hflip'] else 'no'} | "
                           f"{m['width']} / {2 * m['width']} | {m['convs_per_block']} | {m['feature_dim']} | "
                           f"{m['dropout']:g} | {r['train_size']:,} |")
    machines = sorted({r["machine"] for r in records})
    versions = sorted({f"torch {r['torch_version']}, Python {r['python_version']}" for r in records})
    text = f"""# Feature backbones

FID, KID, precision/recall, density/coverage and the classifier score need a
network that turns an image into features. For MNIST-like data gankit ships its
own: one small CNN per built-in dataset, trained by gankit with a fixed seed,
stored in `src/gankit/metrics/weights/` as `<dataset>.safetensors` (tensors)
plus `<dataset>.json` (constructor arguments, recipe, accuracy, command,
versions, date and the SHA-256 of the tensor file, verified on every load).
Nothing is unpickled.

```python
from gankit.data import load_dataset
from gankit.metrics.backbones import BACKBONES, extract, load_backbone

net = load_backbone("mnist")                  # eval mode, gradients off
real = load_dataset("mnist", split="test").x  # uint8 (N, 1, 28, 28) is accepted
feats, probs = extract(net, real)             # (N, 128) features, (N, 10) probabilities
feats_fake, probs_fake = extract(net, generator_output)  # float in [-1, 1]
```

The features are the penultimate layer after its ReLU; `probs` is the softmax of
the logits. Any other dataset name raises an error listing the backbones that
exist. Natural images (CIFAR-10, image folders) need an Inception-style
backbone whose weights gankit cannot ship; loading a user-provided weights file
for it is future work.

## Architecture

`DomainClassifier(in_channels, image_size, num_classes, width=32, feature_dim=128,
convs_per_block=1, dropout=0.3)`: two blocks of
(conv 3x3 -> BatchNorm -> ReLU) x `convs_per_block` -> max-pool 2, with `width` and
`2 * width` channels, then flatten -> linear(`feature_dim`) -> ReLU (the
features) -> dropout -> linear(`num_classes`). A 28x28 image leaves the
convolutions as 64 x 7 x 7, an 8x8 digit as 64 x 2 x 2.

## Recorded accuracy

Accuracy on the official test split (10,000 images; 297 for digits), measured
once after the last epoch. No model selection, early stopping or tuning used the
test split: the recipes were chosen with `--holdout`, which trains on the train
split minus a held-out slice and scores on that slice. Train time is the
training loop on this machine ({"; ".join(machines) or "-"}; {"; ".join(versions) or "-"}),
with the 1-minute load average before / after it: a load above the thread count
means other work shared the CPU and the time is longer than on an idle machine.

| dataset | test accuracy | test errors | epochs | train time | parameters | weights | command |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Every number comes from the JSON next to the weights. The command in a row
retrains that one file (run it from the repository root, with `GANKIT_DATA` or
`--data-root` pointing at the folder holding `mnist/` and `fashion-mnist/`;
digits is built in and ignores the data root); the shipped files came from the
single `--dataset all` command under Retraining, which runs the same three
trainings one after the other.

## Recipe

AdamW, linear warm-up over half an epoch then cosine decay to zero,
cross-entropy. Augmentation: random translation by up to `shift` pixels
(padding with black) and, for Fashion-MNIST, random horizontal flips. Batches
are drawn from the in-memory uint8 tensor in an order fixed by the seed;
`torch.manual_seed(seed)` fixes the initialisation and dropout. Each file's
exact recipe is in its JSON (`recipe`).

| dataset | epochs | batch | peak lr | weight decay | shift | h-flip | channels | convs / block | features | dropout | train images |
|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(recipe_rows)}

## How the recipes were chosen

With `--holdout` (train on the train split minus a seeded random slice, score on
the slice; the test split is not read), one thread, seed 0:

{RECIPE_SEARCH}

## Retraining

```
# what produced the shipped weights (from the repository root)
gankit backbone train all --data-root ../shared/data --threads 1
# one dataset, another seed, into a scratch folder
gankit backbone train digits --set seed=1 --out /tmp/bb
# recipe search: trains on train minus 5,000 images, scores on them, writes no weights
gankit backbone train mnist --data-root ../shared/data --set holdout=5000
# then refresh this page from the records
python benchmarks/backbones_doc.py
```

The recipes are `src/gankit/configs/backbones/*.yaml`; any key can be overridden with
`--set key=value`. Training runs in a run folder (`runs/backbone-DATASET-TIME/`, checkpoints
and log), so Ctrl-C keeps the work: `gankit backbone train --resume RUN`.

The shipped files were made with `python -m gankit.metrics.train_backbones --dataset all ...`,
the earlier spelling of the same training; their records keep the command that made them. When
training moved onto gankit's one loop, a retrain of digits gave the same SHA-256 under both
commands on one machine (2-core AMD EPYC, 1 thread, 2026-12-04).

Same seed, same machine and thread count, same weights, byte for byte (tests/test_backbones.py
trains a small recipe twice and compares the files). Other CPUs or thread counts may differ in
the last bits of the floating point and so in a handful of test errors: on that AMD EPYC the
digits retrain gave another SHA-256 than the shipped file, with the same 0 / 297 test errors.
`--out DIR` writes somewhere other than the package folder and `load_backbone(name,
weights_dir=DIR)` loads from it.
"""
    atomic_write_text(path, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="folder of the <dataset>.json records")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "backbones.md")
    args = parser.parse_args()
    write_docs(args.weights, args.doc)
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
