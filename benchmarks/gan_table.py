"""Train every GAN recipe on MNIST and Fashion-MNIST, evaluate each, and write the table.

    GANKIT_DATA=../shared/data python benchmarks/gan_table.py                  # full length (GPU hours)
    GANKIT_DATA=../shared/data python benchmarks/gan_table.py --steps 2000 -n 2000 --only dcgan lsgan

For each (recipe, dataset): train with the recipe's own settings (``--steps`` caps
the length, and the table says so), then ``gankit.evaluate`` the final generator on
``-n`` samples: FID and KID on the domain backbone, precision/recall, the Meehan et
al. copying statistic, each beside its train-vs-test floor, and on MNIST the
Parzen-window log-likelihood of the 2014 protocol (the paper's Table 1: 225 +- 2).

Work is resumable: a finished training (its final checkpoint exists) is not redone,
and an evaluation already in metrics.json with the same n is reused, so an
interrupted benchmark picks up where it stopped. Runs go to ``--runs`` (default
benchmarks/runs/gan_table); the table to its section of docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from gankit.checkpoint import list_checkpoints
from gankit.config import load_config
from gankit.evaluate import evaluate
from gankit.train import train
from results_doc import update_section

# label -> (recipe, extra overrides); the dataset is set per run with data.name
RECIPES = {
    "gan2014": ("gan2014_mnist", []),
    "dcgan": ("dcgan_mnist", []),
    "wgangp": ("wgangp_fashion", []),
    "lsgan": ("dcgan_mnist", ["train.loss=lsgan"]),
    # Miyato et al. 2018's standard-CNN setting: Adam 2e-4, betas (0.5, 0.999), n_dis 1
    "hinge_sn": ("dcgan_mnist", ["train.loss=hinge", "model.spectral_norm=true"]),
    "conditional": ("cgan_mnist", []),
}
DATASETS = ("mnist", "fashion-mnist")
PAPER_PARZEN = "225 ± 2"


def run_one(label: str, dataset: str, args) -> dict:
    recipe, extra = RECIPES[label]
    overrides = [f"data.name={dataset}", *extra]
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.steps:
        overrides.append(f"train.steps={args.steps}")
    cfg = load_config(recipe, overrides)
    run_dir = Path(args.runs) / f"{label}-{dataset}"
    done = list_checkpoints(run_dir / "checkpoints")
    started = time.perf_counter()
    if not done or json.loads(done[-1].read_text())["step"] < cfg.train.steps:
        train(cfg, run_dir=run_dir, resume=bool(done), progress=not args.quiet)
    train_s = time.perf_counter() - started
    metrics_path = run_dir / "metrics.json"
    old = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    if old and old.get("n") == args.n and old.get("step") == cfg.train.steps:
        metrics = old
    else:
        metrics = evaluate(run_dir, n=args.n, data_root=args.data_root, progress=not args.quiet,
                           parzen=dataset == "mnist")
    recipe_steps = load_config(recipe, [f"data.name={dataset}", *extra]).train.steps
    return {"label": label, "dataset": dataset, "recipe": recipe, "overrides": extra, "steps": cfg.train.steps,
            "recipe_steps": recipe_steps, "train_s": round(train_s, 1), "metrics": metrics}


def _num(x, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def row(r: dict) -> str:
    m = r["metrics"]
    q = m.get("quality", {})
    gen, floor = q.get("generated", {}), q.get("floor", {})
    cop = m.get("memorization", {}).get("copying", {})
    parzen, parzen_floor = (m.get("parzen", {}).get(k) for k in ("generated", "floor"))
    cells = [
        r["label"], r["dataset"],
        str(r["steps"]) + ("" if r["steps"] == r.get("recipe_steps", r["steps"]) else f" of {r['recipe_steps']}"),
        f"{_num(gen.get('fid'))} ({_num(floor.get('fid'))})",
        f"{_num(gen.get('kid_mean'), '.3g')} ± {_num(gen.get('kid_std'), '.2g')} ({_num(floor.get('kid_mean'), '.3g')})",
        f"{_num(gen.get('precision'))} / {_num(gen.get('recall'))} "
        f"({_num(floor.get('precision'))} / {_num(floor.get('recall'))})",
        f"{_num(cop.get('generated', {}).get('z_u'))} ({_num(cop.get('floor', {}).get('z_u'))})",
        "" if not parzen else f"{parzen['mean']:.1f} ± {parzen['std_error']:.1f} ({parzen_floor['mean']:.1f})",
    ]
    return "| " + " | ".join(cells) + " |"


def paper_comparison(results: list[dict]) -> list[str]:
    """The 2014 paper's Table 1 row: Parzen on MNIST for gan2014 and for the best recipe by FID, said plainly."""
    mnist = [r for r in results if r["dataset"] == "mnist" and r["metrics"].get("parzen")]
    if not mnist:
        return []
    best = min(mnist, key=lambda r: r["metrics"]["quality"]["generated"]["fid"])
    lines = ["Goodfellow et al. 2014, Table 1 (Parzen-window log-likelihood on MNIST, 10,000 samples): "
             f"paper {PAPER_PARZEN} nats.", ""]
    shown = [r for r in mnist if r["label"] == "gan2014"]
    for r in shown + ([best] if best not in shown else []):
        p = r["metrics"]["parzen"]["generated"]
        n = r["metrics"].get("n")
        verdict = "above" if p["mean"] - p["std_error"] > 225 + 2 else \
            "below" if p["mean"] + p["std_error"] < 225 - 2 else "level with"
        why = " (best FID of the MNIST rows)" if r is best else ""
        lines.append(f"- `{r['label']}`{why}: {p['mean']:.1f} ± {p['std_error']:.1f} after {r['steps']} steps, "
                     f"{n} samples: **{verdict} the paper**"
                     + ("" if n == 10_000 else "; not the paper's 10,000 samples, so not its protocol") + ".")
    return lines + [""]


def write_table(results: list[dict], args, elapsed: float) -> str:
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else \
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    lines = [
        "# GAN recipes on MNIST and Fashion-MNIST",
        "",
        f"Command: `{' '.join(['python', 'benchmarks/gan_table.py', *sys.argv[1:]])}`",
        f"Machine: {device}; total {elapsed / 60:.1f} min; n = {args.n} samples per evaluation.",
        "",
        "Each cell: generated (floor = the same metric for real training images against the real "
        "test set, same n). FID/KID/precision/recall on gankit's domain backbone (docs/backbones.md). "
        "Copying: Meehan et al. 2020 C_T on backbone features (negative = closer to the training set "
        "than held-out data; below -3 flags copying). Parzen: mean test log-likelihood in nats, the "
        f"2014 protocol (paper: {PAPER_PARZEN} for its MNIST GAN).",
        "",
        "| recipe | data | steps (of the recipe's) | FID (floor) | KID (floor) | precision / recall (floor) "
        "| copying C_T (floor) | Parzen LL (floor) |",
        "|---|---|---|---|---|---|---|---|",
        *[row(r) for r in results],
        "",
        *paper_comparison(results),
    ]
    text = "\n".join(lines)
    update_section("gans", text.replace("# GAN recipes", "## GAN recipes", 1))
    if args.out:
        Path(args.out).write_text(text)
    (Path(args.runs) / "results.json").write_text(json.dumps(results, indent=1))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--steps", type=int, default=None, help="cap every run at this many G steps")
    parser.add_argument("-n", type=int, default=10_000, help="samples per evaluation")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--runs", default="benchmarks/runs/gan_table")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    results = []
    for dataset in args.datasets:
        for label in args.only:
            results.append(run_one(label, dataset, args))
            text = write_table(results, args, time.perf_counter() - start)  # after every run: nothing lost
    print(text)


if __name__ == "__main__":
    main()
