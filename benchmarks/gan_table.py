"""Train every GAN recipe on MNIST and Fashion-MNIST, evaluate each, and write the table.

    GANKIT_DATA=../shared/data python benchmarks/gan_table.py                  # full length (GPU hours)
    GANKIT_DATA=../shared/data python benchmarks/gan_table.py --steps 2000 -n 2000 --only dcgan lsgan
    GANKIT_DATA=../shared/data python benchmarks/gan_table.py --datasets mnist --cap wgangp=2000 --threads 1 &
    GANKIT_DATA=../shared/data python benchmarks/gan_table.py --datasets fashion-mnist --cap wgangp=2000 --threads 1
    python benchmarks/gan_table.py --datasets mnist --first-seed 1 --compile   # seed 1, steps captured (GPU)

For each (recipe, dataset): train with the recipe's own settings (``--steps`` caps
every run, ``--cap LABEL=STEPS`` one recipe, and the table says so), then
``gankit.evaluate`` the final generator (not the best-FID one: that choice looked at
test images) on
``-n`` samples: FID and KID on the domain backbone, precision/recall, the Meehan et
al. copying statistic, each beside its train-vs-test floor, and on MNIST the
Parzen-window log-likelihood of the 2014 protocol (the paper's Table 1: 225 +- 2).

Work is resumable: a finished training (its final checkpoint exists) is not redone,
and an evaluation already in metrics.json with the same n is reused, so an
interrupted benchmark picks up where it stopped. Runs go to ``--runs`` (default
benchmarks/runs/gan_table), each with a ``table_row.json`` (steps, training time,
machine, command). The table is built from every finished row in ``--runs`` (so two
invocations running side by side, one per dataset, write one table) together with
the rows of docs/records/gan_table.json, the committed record of every row measured so far:
run folders are git-ignored and may be gone by the next session, so a row whose
folder is absent is taken from the record (a row in ``--runs`` replaces it). The
table goes to its section of docs/results.md, the rows to docs/records/gan_table.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from gankit.checkpoint import atomic_write_text, list_checkpoints
from gankit.config import load_config
from gankit.evaluate import evaluate
from gankit.distributed import pick_device
from gankit.runs import machine_description
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
RECORD = Path(__file__).resolve().parents[1] / "docs" / "records" / "gan_table.json"


def machine() -> str:
    return machine_description(pick_device("auto"))


def run_one(label: str, dataset: str, seed: int, args) -> None:
    recipe, extra = RECIPES[label]
    overrides = [f"data.name={dataset}", *extra, f"train.seed={seed}"]
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    steps = args.cap.get(label, args.steps)
    if steps:
        overrides.append(f"train.steps={steps}")
    if args.compile:
        overrides.append("train.compile=true")
    cfg = load_config(recipe, overrides)
    run_dir = Path(args.runs) / (f"{label}-{dataset}" + (f"-s{seed}" if seed else ""))
    row_path = run_dir / "table_row.json"
    done = list_checkpoints(run_dir / "checkpoints")
    old_row = json.loads(row_path.read_text()) if row_path.is_file() else {}
    if not done or json.loads(done[-1].read_text())["step"] < cfg.train.steps:
        started = time.perf_counter()
        result = train(cfg, run_dir=run_dir, resume=bool(done), progress=not args.quiet)
        if result.interrupted:
            raise SystemExit(f"{run_dir}: stopped at step {result.steps}; run the same command again to resume")
        old_row = {"train_s": round(time.perf_counter() - started, 1), "resumed": bool(done),
                   "machine": machine(), "command": command_line()}
    metrics_path = run_dir / "metrics.json"
    old = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    if old and old.get("n") == args.n and old.get("step") == cfg.train.steps:
        metrics = old
    else:
        metrics = evaluate(run_dir, n=args.n, data_root=args.data_root, progress=not args.quiet,
                           parzen=dataset == "mnist")
    recipe_steps = load_config(recipe, [f"data.name={dataset}", *extra]).train.steps
    row = {"label": label, "dataset": dataset, "seed": seed, "recipe": recipe, "overrides": extra,
           "steps": cfg.train.steps,
           "recipe_steps": recipe_steps, **old_row, "eval_s": metrics.get("elapsed_s")}
    atomic_write_text(row_path, json.dumps(row, indent=1))


def finished_rows(runs: Path) -> list[dict]:
    """Every (recipe, dataset) of ``runs`` whose table_row.json and metrics.json exist."""
    rows = []
    for folder in sorted(runs.glob("*-*")):
        if (folder / "table_row.json").is_file() and (folder / "metrics.json").is_file():
            row = json.loads((folder / "table_row.json").read_text())
            rows.append({**row, "metrics": compact(json.loads((folder / "metrics.json").read_text()))})
    return rows


def compact(metrics: dict) -> dict:
    """The numbers the table shows (the record keeps these, not the whole metrics.json)."""
    q, cop, parzen = metrics.get("quality", {}), metrics.get("memorization", {}).get("copying", {}), \
        metrics.get("parzen", {})
    keep = ("fid", "kid_mean", "kid_std", "precision", "recall", "class_accuracy")
    out = {"n": metrics.get("n"), "step": metrics.get("step"),
           "quality": {side: {k: q.get(side, {}).get(k) for k in keep} for side in ("generated", "floor")},
           "memorization": {"copying": {side: {"z_u": cop.get(side, {}).get("z_u")}
                                        for side in ("generated", "floor")}}}
    if parzen.get("generated"):
        out["parzen"] = {side: {k: parzen[side][k] for k in ("mean", "std_error")} for side in ("generated", "floor")}
    return out


def _key(r: dict) -> tuple[str, str, int]:
    return r["label"], r["dataset"], r.get("seed", 0)   # rows recorded before seeds were added: seed 0


def table_rows(runs: Path, record: Path = RECORD) -> list[dict]:
    """The record's rows, each replaced by its run folder's row where that exists, in table order."""
    by_key = {_key(r): r for r in (json.loads(record.read_text()) if record.is_file() else [])}
    by_key.update({_key(r): r for r in finished_rows(runs)})
    return sorted(by_key.values(), key=lambda r: (DATASETS.index(r["dataset"]), list(RECIPES).index(r["label"]),
                                                  r.get("seed", 0)))


def command_line() -> str:
    return " ".join(["python", "benchmarks/gan_table.py", *sys.argv[1:]])


def _num(x, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _minutes(r: dict) -> str:
    if r.get("train_s") is None:
        return "n/a"
    minutes = r["train_s"] / 60
    text = f"{minutes:.0f}" if minutes >= 10 else f"{minutes:.1f}"
    return text + (" (last resume)" if r.get("resumed") else "")


def row(r: dict) -> str:
    m = r["metrics"]
    q = m.get("quality", {})
    gen, floor = q.get("generated", {}), q.get("floor", {})
    cop = m.get("memorization", {}).get("copying", {})
    parzen, parzen_floor = (m.get("parzen", {}).get(k) for k in ("generated", "floor"))
    cells = [
        r["label"] + (f" (seed {r['seed']})" if r.get("seed") else ""), r["dataset"],
        str(r["steps"]) + ("" if r["steps"] == r.get("recipe_steps", r["steps"]) else f" of {r['recipe_steps']}"),
        f"{_num(gen.get('fid'))} ({_num(floor.get('fid'))})",
        f"{_num(gen.get('kid_mean'), '.3g')} ± {_num(gen.get('kid_std'), '.2g')} ({_num(floor.get('kid_mean'), '.3g')})",
        f"{_num(gen.get('precision'))} / {_num(gen.get('recall'))} "
        f"({_num(floor.get('precision'))} / {_num(floor.get('recall'))})",
        f"{_num(cop.get('generated', {}).get('z_u'))} ({_num(cop.get('floor', {}).get('z_u'))})",
        "" if not parzen else f"{parzen['mean']:.1f} ± {parzen['std_error']:.1f} ({parzen_floor['mean']:.1f})",
        "" if gen.get("class_accuracy") is None else
        f"{100 * gen['class_accuracy']:.1f} % ({100 * floor['class_accuracy']:.1f} %)",
        _minutes(r),
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


def flags(results: list[dict]) -> list[str]:
    """Say in words which rows dropped modes (recall under 0.10) or copy their training set (C_T < -3)."""
    lines = []
    for r in results:
        m = r["metrics"]
        recall = m.get("quality", {}).get("generated", {}).get("recall")
        z_u = m.get("memorization", {}).get("copying", {}).get("generated", {}).get("z_u")
        name = f"`{r['label']}` on {r['dataset']}"
        if recall is not None and recall < 0.10:
            lines.append(f"- {name}: **mode collapse**, recall {recall:.2f}: its samples cover almost none of "
                         "the real data.")
        if z_u is not None and z_u < -3:
            lines.append(f"- {name}: **copies its training set**, C_T {z_u:.2f}.")
    return lines + [""] if lines else []


def provenance_notes(results: list[dict]) -> list[str]:
    """Say which rows come from the record rather than from a run folder of this machine."""
    old = [f"{r['label']}/{r['dataset']}" for r in results if r.get("provenance")]
    if not old:
        return []
    return [f"Rows {', '.join(old)}: measured in an earlier session whose run folders are gone; their numbers "
            "come from the record docs/records/gan_table.json (see its `provenance` fields).", ""]


def write_table(results: list[dict], args) -> str:
    commands = sorted({r["command"] for r in results if r.get("command")})
    machines = sorted({r["machine"] for r in results if r.get("machine")})
    lines = [
        "# GAN recipes on MNIST and Fashion-MNIST",
        "",
        "Commands (each resumes what exists; two can run side by side, one per dataset):",
        "",
        *[f"    GANKIT_DATA=../shared/data {c}" for c in commands],
        "",
        f"Machine: {'; '.join(machines) or 'n/a'}; n = {args.n} samples per evaluation.",
        "",
        "Each cell: generated (floor = the same metric for real training images against the real "
        "test set, same n), for the generator after the last step. FID/KID/precision/recall on "
        "gankit's domain backbone (docs/backbones.md). "
        "Copying: Meehan et al. 2020 C_T on backbone features (negative = closer to the training set "
        "than held-out data; below -3 flags copying). Parzen: mean test log-likelihood in nats, the "
        f"2014 protocol (paper: {PAPER_PARZEN} for its MNIST GAN). Class acc.: conditional recipes, share "
        "of samples the backbone names as the class asked for (floor: its accuracy on real test images). "
        "Train min: wall time of the training, in minutes.",
        "",
        "| recipe | data | steps (of the recipe's) | FID (floor) | KID (floor) | precision / recall (floor) "
        "| copying C_T (floor) | Parzen LL (floor) | class acc. (floor) | train min |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[row(r) for r in results],
        "",
        *flags(results),
        *provenance_notes(results),
        *paper_comparison(results),
    ]
    text = "\n".join(lines)
    update_section("gans", text.replace("# GAN recipes", "## GAN recipes", 1))
    if args.out:
        Path(args.out).write_text(text)
    atomic_write_text(args.record, json.dumps(results, indent=1) + "\n")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--steps", type=int, default=None, help="cap every run at this many G steps")
    parser.add_argument("--cap", nargs="+", default=[], metavar="LABEL=STEPS",
                        help="cap one recipe, e.g. wgangp=2000 (its 5 critic steps per G step cost 5x)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per run (default 1) ...")
    parser.add_argument("--first-seed", type=int, default=0, help="... from this one (default 0)")
    parser.add_argument("--compile", action="store_true", help="capture each training step (train.compile)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("-n", type=int, default=10_000, help="samples per evaluation")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--runs", default="benchmarks/runs/gan_table")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    parser.add_argument("--record", type=Path, default=RECORD, help="the committed record of measured rows")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--collect", action="store_true",
                        help="train nothing: rewrite the table from --runs and the record")
    args = parser.parse_args()
    args.cap = parse_caps(args.cap, parser)
    if args.threads:
        torch.set_num_threads(args.threads)
    text = ""
    if not args.collect:
        for dataset in args.datasets:
            for label in args.only:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    run_one(label, dataset, seed, args)
                text = write_table(table_rows(Path(args.runs), args.record), args)  # after every run: nothing lost
    text = write_table(table_rows(Path(args.runs), args.record), args)
    print(text)


def parse_caps(items: list[str], parser: argparse.ArgumentParser) -> dict[str, int]:
    caps = {}
    for item in items:
        label, _, steps = item.partition("=")
        if label not in RECIPES or not steps.isdigit() or int(steps) <= 0:
            parser.error(f"--cap {item!r}: expected LABEL=STEPS with LABEL one of {', '.join(RECIPES)}")
        caps[label] = int(steps)
    return caps


if __name__ == "__main__":
    main()
