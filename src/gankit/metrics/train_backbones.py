"""Train the feature backbones that ship in ``gankit/metrics/weights/``.

    python -m gankit.metrics.train_backbones --dataset mnist --data-root ../shared/data
    python -m gankit.metrics.train_backbones --dataset all

One fixed recipe per dataset (RECIPES below), a fixed seed, batches indexed from
in-memory tensors in a seeded random order. The official test split is touched
once, after the last epoch, to record the accuracy; nothing is selected on it.
Recipes were chosen with ``--holdout N``: that trains on the train split minus N
held-out images, reports the accuracy on those N and writes nothing.

Each run writes ``<dataset>.safetensors`` and ``<dataset>.json`` atomically (the
JSON last, with the tensor file's SHA-256) and refreshes docs/backbones.md when
run from a source checkout.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from safetensors.torch import save_file

import gankit
from gankit.checkpoint import atomic_write_bytes, atomic_write_text
from gankit.data import load_dataset, resolve_data_root
from gankit.errors import GankitError
from gankit.metrics.backbones import FORMAT_VERSION, KNOWN, WEIGHTS_DIR, DomainClassifier, sha256_file
from gankit.runs import cpu_name

__all__ = ["RECIPES", "Recipe", "TrainedBackbone", "save_backbone", "train_backbone", "write_docs"]

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DOCS = REPO_ROOT / "docs" / "backbones.md"
TARGETS = {"mnist": 0.993, "fashion-mnist": 0.92, "digits": 0.95}  # test accuracy the weights must reach


@dataclass
class Recipe:
    """Everything that decides a training run besides the seed and the data."""

    epochs: int
    batch_size: int = 128
    lr: float = 2e-3            # peak learning rate of AdamW
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to 0
    shift: int = 2              # random translation by up to this many pixels (padding with -1 = black)
    hflip: bool = False         # random horizontal flips
    model: dict = field(default_factory=dict)  # DomainClassifier arguments besides the data's shape


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(epochs=8, shift=2,
                    model=dict(width=32, feature_dim=128, convs_per_block=1, dropout=0.3)),
    "fashion-mnist": Recipe(epochs=10, shift=1, hflip=True,
                            model=dict(width=32, feature_dim=128, convs_per_block=1, dropout=0.3)),
    "digits": Recipe(epochs=60, batch_size=64, shift=1,
                     model=dict(width=32, feature_dim=128, convs_per_block=1, dropout=0.3)),
}


@dataclass
class TrainedBackbone:
    model: DomainClassifier
    record: dict  # what goes into the JSON (without sha256 until saved)


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-max_shift, max_shift]; black fills in."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = dy[:, None] + torch.arange(h)  # (n, h)
    cols = dx[:, None] + torch.arange(w)  # (n, w)
    out = padded[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def random_hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@torch.no_grad()
def predict(model: DomainClassifier, x_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    out = [model(x_uint8[i:i + batch_size].float() / 127.5 - 1.0).argmax(1)
           for i in range(0, x_uint8.shape[0], batch_size)]
    return torch.cat(out)


def _data_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(x.contiguous().numpy().tobytes())
    h.update(y.contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not on every platform
        return None


def _machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}"


def command_line(dataset: str, epochs: int, seed: int, data_root: str | None, threads: int | None = None) -> str:
    cmd = f"python -m gankit.metrics.train_backbones --dataset {dataset} --epochs {epochs} --seed {seed}"
    if threads:
        cmd += f" --threads {threads}"
    if data_root:
        cmd += f" --data-root {data_root}"
    return cmd


def train_backbone(dataset: str, *, data_root: str | Path | None = None, epochs: int | None = None,
                   seed: int = 0, holdout: int = 0, recipe: Recipe | None = None,
                   threads: int | None = None, progress: bool = True,
                   console: Console | None = None) -> TrainedBackbone:
    """Train the backbone for ``dataset`` with its recipe; return the model and its record.

    holdout > 0: train on the train split minus ``holdout`` images (a seeded random
    choice) and score on those; the test split is not read. holdout = 0: train on
    the whole train split and score on the official test split, once, at the end.
    threads: torch's CPU thread count during training (default: leave it as it is);
    the previous count is restored afterwards.
    """
    if threads is not None and threads < 1:
        raise GankitError(f"threads must be at least 1, got {threads}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(dataset, data_root=data_root, epochs=epochs, seed=seed, holdout=holdout,
                      recipe=recipe, threads=threads, progress=progress, console=console)
    finally:
        torch.set_num_threads(before)


def _train(dataset: str, *, data_root: str | Path | None, epochs: int | None, seed: int, holdout: int,
           recipe: Recipe | None, threads: int | None, progress: bool,
           console: Console | None) -> TrainedBackbone:
    if dataset not in RECIPES:
        raise GankitError(f"no backbone recipe for {dataset!r}; choose from {', '.join(RECIPES)}")
    recipe = dataclasses.replace(recipe or RECIPES[dataset])
    if epochs is not None:
        recipe.epochs = epochs
    if recipe.epochs < 1:
        raise GankitError(f"epochs must be at least 1, got {recipe.epochs}")
    console = console or Console(stderr=True)
    root = None if dataset == "digits" else resolve_data_root(data_root)

    train = load_dataset(dataset, root=root, split="train")
    x_all, y_all = train.x, train.y
    if holdout:
        if not 0 < holdout < len(train):
            raise GankitError(f"holdout must be between 1 and {len(train) - 1}, got {holdout}")
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(10_000 + seed))
        x_train, y_train = x_all[order[:-holdout]], y_all[order[:-holdout]]
        x_eval, y_eval = x_all[order[-holdout:]], y_all[order[-holdout:]]
        eval_name = f"held-out {holdout} of train"
    else:
        x_train, y_train = x_all, y_all
        eval_name = "test"

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    c, h, _ = train.sample_shape
    model = DomainClassifier(in_channels=c, image_size=h, num_classes=train.num_classes, **recipe.model)
    model = model.to(memory_format=torch.channels_last)  # about 30 % faster convolutions on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    warm = max(1, int(recipe.warmup_epochs * steps_per_epoch))

    def lr_factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    columns = (TextColumn(f"[bold]{dataset}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("epoch {task.fields[epoch]}"), TextColumn("{task.fields[stats]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    load_before = _load_average()
    start = time.perf_counter()
    with Progress(*columns, console=console, disable=not progress) as bar:
        task = bar.add_task(dataset, total=total, epoch=f"1/{recipe.epochs}", stats="")
        for epoch in range(recipe.epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            loss_sum, correct, seen = 0.0, 0, 0
            for i in range(steps_per_epoch):
                idx = perm[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                x = x_train[idx].float() / 127.5 - 1.0
                y = y_train[idx]
                x = random_shift(x, recipe.shift, gen)
                if recipe.hflip:
                    x = random_hflip(x, gen)
                x = x.contiguous(memory_format=torch.channels_last)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if not math.isfinite(loss.item()):
                    raise GankitError(f"{dataset}: training loss became {loss.item()} at epoch {epoch + 1}")
                loss_sum += loss.item() * len(idx)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(idx)
                bar.update(task, advance=1, epoch=f"{epoch + 1}/{recipe.epochs}",
                           stats=f"loss {loss_sum / seen:.4f}  train acc {correct / seen:.4f}")
            if not progress:
                console.print(f"{dataset} epoch {epoch + 1}/{recipe.epochs}: loss {loss_sum / seen:.4f}, "
                              f"train acc (augmented) {correct / seen:.4f}, {time.perf_counter() - start:.0f} s")
    train_seconds = time.perf_counter() - start
    load_after = _load_average()

    if not holdout:  # the official test split, read once, after training
        test = load_dataset(dataset, root=root, split="test")
        x_eval, y_eval = test.x, test.y
    model = model.to(memory_format=torch.contiguous_format)
    errors = int((predict(model, x_eval) != y_eval).sum())
    accuracy = 1.0 - errors / len(y_eval)
    model.eval().requires_grad_(False)
    record = {
        "format": FORMAT_VERSION,
        "dataset": dataset,
        "model": model.config(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "eval_split": eval_name,
        "test_accuracy": accuracy if not holdout else None,
        "test_errors": errors if not holdout else None,
        "test_size": len(y_eval) if not holdout else None,
        "holdout_accuracy": accuracy if holdout else None,
        "holdout_errors": errors if holdout else None,
        "target_accuracy": TARGETS[dataset],
        "seed": seed,
        "epochs": recipe.epochs,
        "recipe": dataclasses.asdict(recipe),
        "train_size": n,
        "train_data_sha256": _data_digest(x_train, y_train),
        "train_seconds": round(train_seconds, 1),
        # 1-minute load averages around the training loop: other work on the machine slows it down
        "load_average": {"before": load_before, "after": load_after},
        "command": command_line(dataset, recipe.epochs, seed, None if data_root is None else str(data_root),
                                threads),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "gankit_version": gankit.__version__,
        "python_version": platform.python_version(),
        "machine": _machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if holdout:
        for key in ("test_accuracy", "test_errors", "test_size"):
            del record[key]
    else:
        for key in ("holdout_accuracy", "holdout_errors"):
            del record[key]
    return TrainedBackbone(model=model, record=record)


def save_backbone(trained: TrainedBackbone, out_dir: Path) -> Path:
    """Write ``<dataset>.safetensors`` then ``<dataset>.json`` (with the SHA-256) atomically."""
    record = dict(trained.record)
    if "test_accuracy" not in record:
        raise GankitError("refusing to save a holdout run: shipped weights are trained on the full train split")
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in trained.model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tensors.")
    os.close(fd)
    try:
        # no metadata: safetensors writes a metadata dict in arbitrary key order, which would make
        # the bytes (and the SHA-256) of identical weights differ between runs; the JSON has it all
        save_file(tensors, tmp)
        data = Path(tmp).read_bytes()
    finally:
        Path(tmp).unlink(missing_ok=True)
    st_path = out_dir / f"{record['dataset']}.safetensors"
    atomic_write_bytes(st_path, data)
    record["sha256"] = hashlib.sha256(data).hexdigest()
    record["weights_bytes"] = len(data)
    assert sha256_file(st_path) == record["sha256"]
    json_path = st_path.with_suffix(".json")
    atomic_write_text(json_path, json.dumps(record, indent=1) + "\n")
    for p in (st_path, json_path):  # the temp files are private (0600); package data is world-readable
        p.chmod(0o644)
    return json_path


# The held-out runs behind RECIPES (train_backbone(..., holdout=N) on one thread, seed 0).
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
python -m gankit.metrics.train_backbones --dataset all --data-root ../shared/data --threads 1
# one dataset, another seed, into a scratch folder
python -m gankit.metrics.train_backbones --dataset digits --seed 1 --out /tmp/bb
# recipe search: trains on train minus 5,000 images, scores on them, writes nothing
python -m gankit.metrics.train_backbones --dataset mnist --data-root ../shared/data --holdout 5000
```

Same seed, same machine and thread count, same weights, byte for byte (checked
here by retraining digits: the SHA-256 matched the shipped file); other CPUs or
thread counts may differ in the last bits of the floating point and so in a
handful of test errors. `--out DIR` writes somewhere other than the package folder and
`load_backbone(name, weights_dir=DIR)` loads from it; the docs page is only
refreshed for the package folder (or with `--docs PATH`).
"""
    atomic_write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gankit.metrics.train_backbones",
                                     description="Train gankit's feature backbones (MNIST, Fashion-MNIST, digits).")
    parser.add_argument("--dataset", required=True, choices=[*RECIPES, "all"])
    parser.add_argument("--data-root", default=None,
                        help="folder holding mnist/ and fashion-mnist/ (default: $GANKIT_DATA, else the user cache)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice); results can differ "
                             "in the last bits between thread counts")
    parser.add_argument("--holdout", type=int, default=0,
                        help="recipe search: train on train minus N images, score on those N; "
                             "the test split is not read and nothing is written")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="weights folder (default: the package's)")
    parser.add_argument("--docs", type=Path, default=None,
                        help="Markdown page to refresh (default: docs/backbones.md of a source checkout "
                             "when writing to the package's weights folder)")
    parser.add_argument("--no-docs", action="store_true", help="do not write the docs page")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    out = Console()
    names = list(RECIPES) if args.dataset == "all" else [args.dataset]
    try:
        for name in names:
            trained = train_backbone(name, data_root=args.data_root, epochs=args.epochs, seed=args.seed,
                                     holdout=args.holdout, threads=args.threads, progress=not args.no_progress,
                                     console=console)
            r = trained.record
            if args.holdout:
                out.print(f"{name}: held-out accuracy {100 * r['holdout_accuracy']:.2f} % "
                          f"({r['holdout_errors']} errors / {args.holdout}), {r['epochs']} epochs, "
                          f"{r['train_seconds']:.0f} s; nothing written")
                continue
            json_path = save_backbone(trained, args.out)
            mark = "" if r["test_accuracy"] >= r["target_accuracy"] else \
                f"  [red]below the target {100 * r['target_accuracy']:.1f} %"
            out.print(f"{name}: test accuracy {100 * r['test_accuracy']:.2f} % "
                      f"({r['test_errors']} errors / {r['test_size']}), {r['epochs']} epochs, "
                      f"{r['train_seconds']:.0f} s -> {json_path}{mark}")
        if not args.holdout and not args.no_docs:
            docs = args.docs
            if docs is None and args.out.resolve() == WEIGHTS_DIR and (REPO_ROOT / "pyproject.toml").is_file():
                docs = DEFAULT_DOCS
            if docs is not None:
                write_docs(args.out, docs)
                out.print(f"docs: {docs}")
    except GankitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
