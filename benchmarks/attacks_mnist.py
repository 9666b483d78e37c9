"""Adversarial examples on MNIST: the published rows, and gankit's PGD against torchattacks' PGD.

Reproduces (on whatever the three training runs reached):

* Goodfellow et al. 2015: FGSM eps = 0.25 error of an undefended net (they report 89.4 %)
  and of an FGSM-trained one (17.9 %), with the clean errors;
* Madry et al. 2018: robust accuracy of a PGD-trained CNN under PGD-40 at eps = 0.3
  (about 89 % in their paper, after 100k steps of PGD-40 training on a GPU);
* gankit PGD vs torchattacks PGD on the same model, images, eps, steps, step size and random
  starts: both robust accuracies, wall and CPU times (batches interleaved, so that load from
  other processes hits both alike).

Train the three models first (commands in docs/results.md, section attacks), then:

    python benchmarks/attacks_mnist.py --runs runs --n-pgd 1000

It prints the tables and writes its section of docs/results.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch

from gankit.attacks import FGSM, PGD, load_classifier
from gankit.attacks.train import read_robust_config
from results_doc import update_section
from gankit.checkpoint import atomic_write_text
from gankit.data import load_dataset
from gankit.runs import machine_description

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "records" / "attacks.json"


@torch.no_grad()
def accuracy(model, x, y, batch: int = 1000) -> float:
    return sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
               for i in range(0, len(x), batch)) / len(x)


def attacked_accuracy(model, attack, x, y, batch: int = 500) -> float:
    hits = 0
    for i in range(0, len(x), batch):
        x_adv = attack(model, x[i:i + batch], y[i:i + batch])
        hits += accuracy(model, x_adv, y[i:i + batch]) * len(x_adv)
    return hits / len(x)


def run_info(run: Path) -> dict:
    """The training command (rebuilt from the run's config), its wall time and steps."""
    cfg = dataclasses.asdict(read_robust_config(run))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    flags = [f"--defence {cfg['defence']}", f"--epochs {cfg['epochs']:g}", f"--arch {cfg['arch']}"]
    if cfg.get("width", 1.0) != 1.0:
        flags.append(f"--width {cfg['width']:g}")
    if cfg.get("hidden") is not None:
        flags.append(f"--hidden {cfg['hidden']}")
    if cfg["defence"] != "none":
        flags.append(f"--eps {cfg['eps']:g}")
    if cfg["defence"] == "pgd":
        flags.append(f"--pgd-steps {cfg['pgd_steps']}")
        if cfg["pgd_alpha"] is not None:
            flags.append(f"--pgd-alpha {cfg['pgd_alpha']:g}")
        if cfg["eps_warmup"]:
            flags.append(f"--eps-warmup {cfg['eps_warmup']:g}")
    if cfg.get("batch_size", 50) != 50:
        flags.append(f"--batch-size {cfg['batch_size']}")
    if cfg.get("lr", 1e-3) != 1e-3:
        flags.append(f"--lr {cfg['lr']:g}")
    if cfg["max_minutes"] is not None:
        flags.append(f"--max-minutes {cfg['max_minutes']:g}")
    command = f"gankit robust-train {' '.join(flags)} --threads 1 --out runs/{run.name}"
    last = rows[-1] if rows else {"step": 0, "seconds": 0.0}
    windows = [[r["train_acc"] for r in rows if a < r["step"] <= a + 400] for a in range(0, last["step"], 400)]
    return {"command": command, "minutes": last["seconds"] / 60, "steps": last["step"],
            "train_acc_400": [sum(w) / len(w) for w in windows if w],
            "epochs": last["step"] * cfg["batch_size"] / 60000, "config": cfg}


def semisup_row(run: Path, x, y, args) -> dict:
    """The semi-supervised GAN's classifier (gankit semisup), attacked like the others."""
    model = load_classifier(run)
    result = json.loads((run / "result.json").read_text())
    n, n_pgd = min(args.n_fgsm, len(x)), min(args.n_pgd, len(x))
    clean = accuracy(model, x, y)
    fgsm = attacked_accuracy(model, FGSM(eps=0.25), x[:n], y[:n], args.batch)
    pgd = attacked_accuracy(model, PGD(eps=0.3, alpha=0.01, steps=40, seed=args.seed), x[:n_pgd], y[:n_pgd],
                            args.batch)
    print(f"semisup clean error {100 * (1 - clean):.2f} %  FGSM(0.25) error {100 * (1 - fgsm):.2f} %  "
          f"PGD-40(0.3) accuracy {100 * pgd:.2f} %")
    command = (f"gankit semisup --dataset {result['dataset']} --labels {result['labels']} --seed {result['seed']} "
               f"--epochs {result['epochs']}")
    return {"model": f"semi-supervised GAN classifier ({result['labels']} labels)", "clean_error": 1 - clean,
            "fgsm_error": 1 - fgsm, "n_fgsm": n, "pgd_accuracy": pgd, "n_pgd": n_pgd, "command": command,
            "minutes": result["wall_seconds"] / 60, "epochs": result["epochs"], "config": {}}


def compare_pgd(model, x, y, batch: int, steps: int, eps: float, alpha: float, seed: int) -> dict:
    """Same model, images, eps, steps, step size and the same random starts; batches interleaved."""
    import torchattacks
    ours = PGD(eps=eps, alpha=alpha, steps=steps, seed=seed)
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
    result = {"gankit": [0.0, 0.0, 0], "torchattacks": [0.0, 0.0, 0]}

    def torchattacks_run(xb, yb, batch_seed):
        torch.manual_seed(batch_seed)  # torchattacks draws its start from the global generator:
        return theirs(xb, yb)          # seeded alike, both libraries start from the same points

    for b, i in enumerate(range(0, len(x), batch)):
        xb, yb = x[i:i + batch], y[i:i + batch]
        ours.seed = seed + b
        order = [("gankit", lambda: ours(model, xb, yb)),
                 ("torchattacks", lambda: torchattacks_run(xb, yb, seed + b))]
        for name, run in (order if b % 2 == 0 else order[::-1]):
            wall, cpu = time.perf_counter(), time.process_time()
            x_adv = run()
            result[name][0] += time.perf_counter() - wall
            result[name][1] += time.process_time() - cpu  # CPU time: fair under other jobs' load
            with torch.no_grad():
                result[name][2] += (model(x_adv).argmax(1) == yb).sum().item()
    return {k: {"seconds": v[0], "cpu_seconds": v[1], "robust_accuracy": v[2] / len(x)} for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder with adv-{none,fgsm,pgd}-mnist")
    parser.add_argument("--data-root", default=os.environ.get("GANKIT_DATA"))
    parser.add_argument("--n-fgsm", type=int, default=10000, help="test images for the FGSM rows")
    parser.add_argument("--n-pgd", type=int, default=1000, help="test images for the PGD-40 rows")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--semisup", type=Path, default=None,
                        help="also attack this gankit semisup run's classifier (a finished run folder)")
    parser.add_argument("--out", type=Path, default=None, help="also write the page to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = load_dataset("mnist", root=args.data_root, split="test")
    x_all, y_all = test.x.float() / 255, test.y
    started, load_start = time.time(), os.getloadavg()[0]

    rows, trained = [], {}
    for name in ("none", "fgsm", "pgd"):
        run = args.runs / f"adv-{name}-mnist"
        if not (run / "config.yaml").is_file() and not (run / "config.json").is_file():
            print(f"skipping {run}: not trained", file=sys.stderr)
            continue
        model = load_classifier(run)
        info = run_info(run)
        n = min(args.n_fgsm, len(x_all))
        clean = accuracy(model, x_all, y_all)
        fgsm = attacked_accuracy(model, FGSM(eps=0.25), x_all[:n], y_all[:n], args.batch)
        trained[name] = (model, info)
        n_pgd = min(args.n_pgd, len(x_all))
        pgd = None  # the PGD-trained model's PGD number comes from the side-by-side run below
        if name != "pgd":
            pgd = attacked_accuracy(model, PGD(eps=0.3, alpha=0.01, steps=40, seed=args.seed),
                                    x_all[:n_pgd], y_all[:n_pgd], args.batch)
        rows.append({"model": name, "clean_error": 1 - clean, "fgsm_error": 1 - fgsm, "n_fgsm": n,
                     "pgd_accuracy": pgd, "n_pgd": n_pgd, **info})
        print(f"{name:5s} clean error {100 * (1 - clean):.2f} %  FGSM(0.25) error {100 * (1 - fgsm):.2f} % "
              f"({info['epochs']:.2f} epochs, {info['minutes']:.0f} min)"
              + ("" if pgd is None else f"  PGD-40(0.3) accuracy {100 * pgd:.2f} %"))

    if args.semisup:
        rows.append(semisup_row(args.semisup, x_all, y_all, args))

    cmp = None
    if "pgd" in trained:
        n = min(args.n_pgd, len(x_all))
        cmp = compare_pgd(trained["pgd"][0], x_all[:n], y_all[:n], args.batch, steps=40, eps=0.3,
                          alpha=0.01, seed=args.seed)
        cmp["n"] = n
        next(r for r in rows if r["model"] == "pgd")["pgd_accuracy"] = cmp["gankit"]["robust_accuracy"]
        for k, v in cmp.items():
            if k != "n":
                print(f"PGD-40 eps 0.3 on {n} images, {k}: robust accuracy {100 * v['robust_accuracy']:.2f} %, "
                      f"{v['seconds']:.1f} s wall, {v['cpu_seconds']:.1f} s CPU")
    write_markdown(args, rows, cmp, time.time() - started, (load_start, os.getloadavg()[0]))


def pgd_cell(row: dict) -> str:
    acc = row.get("pgd_accuracy")
    return "-" if acc is None else f"{100 * acc:.2f} % (n={row['n_pgd']})"


def notes(rows: list[dict]) -> list[str]:
    """What the numbers do and do not show (kept next to the tables they qualify)."""
    by = {r["model"]: r for r in rows}
    out = ["", "## Notes", ""]
    if "pgd" in by and by["pgd"]["pgd_accuracy"] is not None:
        r, c = by["pgd"], by["pgd"]["config"]
        met = "reaches" if r["pgd_accuracy"] >= 0.89 else "does **not** reach"
        net = "a half-width" if c.get("width", 1.0) != 1.0 else "the full-width"
        acc = r["train_acc_400"]
        out.append(f"- The PGD-trained model {met} Madry et al.'s 89 %: {100 * r['pgd_accuracy']:.2f} % after "
                   f"{r['steps']} steps of batch {c['batch_size']} ({r['epochs']:.2f} epochs, {r['minutes']:.0f} "
                   f"min on one CPU core) of PGD-{c['pgd_steps']} training of {net} net, against their 100k "
                   f"steps of batch 50 (83 epochs) of PGD-40 training of the full net on a GPU. Its adversarial "
                   f"training accuracy (400-step means in runs/{r['command'].rsplit('/', 1)[-1]}/metrics.jsonl) "
                   f"went from {100 * acc[0]:.0f} % to {100 * acc[-1]:.0f} % (highest {100 * max(acc):.0f} %). "
                   f"The published recipe is `gankit robust-train --defence pgd --eps 0.3 --pgd-steps 40 "
                   f"--pgd-alpha 0.01 --epochs 83 --lr 1e-4 --device cuda`; it was not run here.")
    if "fgsm" in by and by["fgsm"]["pgd_accuracy"] is not None:
        out.append("- FGSM training (Goodfellow et al.'s mix of clean and adversarial loss) brings the FGSM error "
                   f"down to {100 * by['fgsm']['fgsm_error']:.2f} % (paper: 17.9 %) but leaves "
                   f"{100 * by['fgsm']['pgd_accuracy']:.2f} % accuracy under PGD-40: it defends against the "
                   "attack it was trained on, not against a stronger one (Madry et al.; Tramer et al. 2018). "
                   "Its FGSM error may be lowered by 'label leaking' (Kurakin et al. 2017).")
    if "none" in by:
        out.append(f"- The undefended clean error ({100 * by['none']['clean_error']:.2f} % after "
                   f"{by['none']['epochs']:.2f} epochs) is above the paper's 0.94 % (a fully trained maxout "
                   f"net); its FGSM error {'passes' if by['none']['fgsm_error'] >= 0.85 else 'misses'} "
                   "the 85 % bar set for this benchmark.")
    semi = [r for r in rows if r["model"].startswith("semi-supervised")]
    for r in semi:
        out.append(f"- The semi-supervised GAN's classifier (an MLP with Gaussian noise layers, trained "
                   f"{r['epochs']} epochs on 100 labels and the unlabeled training set; no adversarial training) "
                   f"has {100 * r['clean_error']:.2f} % clean error, {100 * r['fgsm_error']:.2f} % FGSM error "
                   f"and {100 * r['pgd_accuracy']:.2f} % PGD-40 accuracy"
                   + (": like the undefended CNN, it is not robust (its noise layers are off at test time)."
                      if r["pgd_accuracy"] < 0.10 else "."))
    out.append("- CPU time (one thread) is the measure to compare when other jobs share the cores; wall time "
               "is shown too.")
    return out


def write_markdown(args, rows: list[dict], cmp: dict | None, seconds: float, load: tuple[float, float]) -> None:
    import torchattacks
    bench = (f"python benchmarks/attacks_mnist.py --n-fgsm {args.n_fgsm} --n-pgd {args.n_pgd} "
             f"--batch {args.batch} --seed {args.seed}" + (f" --semisup {args.semisup}" if args.semisup else ""))
    lines = [
        "# Adversarial examples on MNIST",
        "",
        f"Hardware: {machine_description('cpu')}, on a {os.cpu_count()}-core machine (1-minute load "
        f"average {load[0]:.1f} when this evaluation started, {load[1]:.1f} when it ended: where it exceeds "
        f"the cores, wall times exceed CPU times); no GPU. torch {torch.__version__}, torchattacks {torchattacks.__version__}. "
        f"Test images in [0, 1], normalization inside the model. Architecture `madry`: conv32 5x5, "
        f"pool, conv64 5x5, pool, fc1024, fc10 (Madry et al. 2018); `--width 0.5 --hidden 512` halves "
        f"it to conv16, conv32, fc512 (their capacity scale 8), a third of the cost per step. "
        f"Evaluation command (took {seconds / 60:.0f} min): `GANKIT_DATA=../shared/data {bench}`.",
        "",
        "## FGSM (Goodfellow et al. 2015, eps = 0.25)",
        "",
        "| model | training | clean error | FGSM eps=0.25 error | paper (clean / FGSM error) | "
        "PGD-40 eps=0.3 accuracy | training command |",
        "|---|---|---|---|---|---|---|",
    ]
    paper = {"none": "0.94 % / 89.4 % (maxout)", "fgsm": "0.84 % / 17.9 % (maxout, adv. trained)"}
    for r in rows:
        lines.append(f"| {r['model']} | {r['epochs']:.2f} epochs, {r['minutes']:.0f} min | "
                     f"{100 * r['clean_error']:.2f} % | {100 * r['fgsm_error']:.2f} % (n={r['n_fgsm']}) | "
                     f"{paper.get(r['model'], '-')} | {pgd_cell(r)} | `{r['command']}` |")
    if cmp is not None:
        g, t = cmp["gankit"], cmp["torchattacks"]
        pgd_row = next(r for r in rows if r["model"] == "pgd")
        lines += [
            "",
            "## PGD-40, eps = 0.3 (Madry et al. 2018: about 89 %)",
            "",
            f"PGD-trained CNN (`{pgd_row['command']}`: {pgd_row['epochs']:.2f} epochs of "
            f"PGD-{pgd_row['config']['pgd_steps']} training, "
            f"{pgd_row['minutes']:.0f} min on one CPU core; Madry et al. trained 100k steps of batch 50, "
            f"83 epochs, with PGD-40): clean accuracy {100 * (1 - pgd_row['clean_error']):.2f} %, "
            f"**PGD-40 robust accuracy {100 * g['robust_accuracy']:.2f} %** on the first {cmp['n']} test "
            f"images (step 0.01, random start, 1 restart).",
            "",
            "## gankit PGD vs torchattacks PGD (same model, images, eps 0.3, 40 steps, step 0.01, same random starts)",
            "",
            "| implementation | robust accuracy | wall time | CPU time |",
            "|---|---|---|---|",
            f"| gankit `PGD(eps=0.3, alpha=0.01, steps=40)` | {100 * g['robust_accuracy']:.2f} % | "
            f"{g['seconds']:.1f} s | {g['cpu_seconds']:.1f} s |",
            f"| torchattacks `PGD(model, eps=0.3, alpha=0.01, steps=40, random_start=True)` | "
            f"{100 * t['robust_accuracy']:.2f} % | {t['seconds']:.1f} s | {t['cpu_seconds']:.1f} s |",
            "",
            "Batches alternate which library runs first; CPU time (one thread) is the fair measure on a "
            "loaded machine. Lower robust accuracy = stronger attack. "
            "Both start from the same random points (gankit's generator and torch's global one, which "
            "torchattacks uses, are seeded alike and draw the same numbers), so both walk the same "
            "iterates (tests/test_attacks.py::test_torchattacks_pgd_walks_the_same_iterates). gankit "
            "returns, per image, the first iterate that fools the model and stops attacking that image "
            "(torchattacks returns the last iterate and attacks every image for all 40 steps), and "
            "computes no weight gradients: stronger and cheaper by construction.",
        ]
    lines += notes(rows)
    text = "\n".join(lines) + "\n"
    hardware = (f"{machine_description('cpu')} ({os.cpu_count()} cores, load average {load[0]:.1f}-{load[1]:.1f}), "
                f"torch {torch.__version__}, torchattacks {torchattacks.__version__}")
    write_record(rows, cmp, hardware, f"GANKIT_DATA=../shared/data {bench}")
    # one level down: the page becomes the "attacks" section of docs/results.md
    print(f"wrote {update_section('attacks', text.replace(chr(10) + '## ', chr(10) + '### ').replace('# ', '## ', 1))}")
    if args.out:
        args.out.write_text(text)


def write_record(rows: list[dict], cmp: dict | None, hardware: str, command: str) -> None:
    """docs/records/attacks.json: the measured numbers, which the summary table reads."""
    keys = ("clean_error", "fgsm_error", "n_fgsm", "pgd_accuracy", "n_pgd", "epochs", "minutes", "command")
    record = {"hardware": hardware, "evaluation_command": command,
              "models": {r["model"]: {k: r[k] for k in keys} for r in rows if r["model"] in ("none", "fgsm", "pgd")},
              "pgd_speed": cmp}
    atomic_write_text(RECORD, json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
