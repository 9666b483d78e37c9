"""Semi-supervised GAN test error: MNIST 100 labels, Fashion-MNIST 100 and 1,000 labels, with the
supervised-only baseline on the same labels. Results go to their section of docs/results.md.

    GANKIT_DATA=../shared/data python benchmarks/semisup_mnist.py                      # 5 seeds, 300 epochs, all tasks
    GANKIT_DATA=../shared/data python benchmarks/semisup_mnist.py --device cuda --threads 8
    GANKIT_DATA=../shared/data python benchmarks/semisup_mnist.py --tasks mnist100 --methods ssgan \
        --device cuda --parallel-seeds 5 --compile   # the 5 MNIST seeds side by side, CUDA-graphed
    python benchmarks/semisup_mnist.py --tasks mnist100 --methods ssgan --seeds 1 --epochs 60
    python benchmarks/semisup_mnist.py --collect                                     # only rewrite the doc

Each run lives in RUNS/<task>-<method>-e<epochs>-s<seed>/ (default RUNS: benchmarks/runs/semisup);
seeds trained side by side share RUNS/<task>-<method>-e<epochs>-s<first>-<last>/, one seed-K/ each.
A finished run (result.json) is collected, not retrained; an unfinished one resumes from its last
checkpoint. So the script can be stopped at any time and started again, on another machine too
(copy RUNS). Test errors are counted on the official 10,000 test images with the Polyak-averaged
classifier after the last epoch; they never choose a model or an epoch.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import torch

from gankit.semisup import load_semisup_config, train_semisup
from gankit.semisup.train import machine_description, pick_device
from results_doc import RESULTS, update_section

TASKS = {  # name -> (recipe, labels)
    "mnist100": ("ssgan_mnist100", 100),
    "fashion100": ("ssgan_fashion", 100),
    "fashion1000": ("ssgan_fashion", 1000),
}
PUBLISHED = ("Salimans et al. 2016 (arXiv 1606.03498), Table 1: **93 ± 6.5** errors / 10,000 (0.93 %), 100 labels; "
             "Bad GAN (Dai et al. 2017, arXiv 1705.09783): **79.5 ± 9.8** (0.795 %)")
DOC = RESULTS


FOLDER = re.compile(r"^(?P<task>.+)-(?P<method>ssgan|supervised)-e(?P<epochs>\d+)-s(?P<seeds>\d+(?:-\d+)?)$")


def run_dir(root: Path, task: str, method: str, epochs: int, seeds: tuple[int, ...]) -> Path:
    """RUNS/<task>-<method>-e<epochs>-s<seed>, or ...-s<first>-<last> for seeds trained side by side."""
    name = f"s{seeds[0]}" if len(seeds) == 1 else f"s{seeds[0]}-{seeds[-1]}"
    return root / f"{task}-{method}-e{epochs}-{name}"


def run_one(root: Path, task: str, method: str, epochs: int, seeds: tuple[int, ...], args) -> None:
    folder = run_dir(root, task, method, epochs, seeds)
    outputs = [folder] if len(seeds) == 1 else [folder / f"seed-{s}" for s in seeds]
    if all((out / "result.json").is_file() for out in outputs):
        print(f"{folder.name}: done, collected")
        return
    recipe, labels = TASKS[task]
    overrides = [f"labels={labels}", f"method={method}", f"epochs={epochs}", f"seed={seeds[0]}",
                 f"parallel_seeds={len(seeds)}", f"device={args.device}", f"compile={args.compile}"]
    overrides += [f"data_root={args.data_root}"] if args.data_root else []
    cfg = load_semisup_config(recipe, overrides)
    resume = (folder / "checkpoints").is_dir() and any((folder / "checkpoints").glob("ckpt-*.json"))
    print(f"{folder.name}: {'resuming' if resume else 'training'}", flush=True)
    result = train_semisup(cfg, run_dir=folder, resume=resume, progress=args.progress)
    if result.test_errors is None:  # stopped by Ctrl-C / SIGTERM: it saved a checkpoint
        raise SystemExit(f"{folder.name}: stopped after {result.epochs} epochs; run the same command "
                         f"again to resume")
    errors = ", ".join(f"seed {s}: {e}" for s, e in zip(result.seeds, result.test_errors))
    print(f"{folder.name}: {errors} errors / {result.test_size} in {result.wall_seconds:.0f} s", flush=True)


# where a run was made, or which seeds: not what was trained; may differ between runs of one benchmark
RUN_ENVIRONMENT = {"device", "data_root", "out_dir", "eval_every", "seed", "parallel_seeds", "compile",
                   "save_every_minutes"}


def deviations(folder: Path, task: str, method: str, epochs: int) -> str:
    """Settings in which the run's config.yaml differs from today's recipe ('' when none).

    A recipe changed after a run was made must not silently mix old and new runs in one mean.
    """
    import yaml
    path = folder / "config.yaml"
    if not path.is_file() or task not in TASKS:
        return ""
    used = yaml.safe_load(path.read_text()) or {}
    recipe, labels = TASKS[task]
    today = load_semisup_config(recipe, [f"labels={labels}", f"method={method}", f"epochs={epochs}"]).to_dict()
    diff = {k: used.get(k, "(not recorded)") for k in today if k not in RUN_ENVIRONMENT and used.get(k) != today[k]}
    return ", ".join(f"{k}={v}" for k, v in sorted(diff.items()))


def _tested(folder: Path) -> list[dict]:
    """The metrics.jsonl rows of the epochs where the test error was measured."""
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip() and "test_errors" in line]


def read_runs(root: Path) -> list[dict]:
    """One row per seed: the final result, or the last tested epoch of an unfinished run."""
    rows = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        match = FOLDER.match(folder.name)
        if not match or not folder.is_dir():
            continue
        task, method, epochs = match["task"], match["method"], int(match["epochs"])
        deviates = deviations(folder, task, method, epochs)
        meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
        stacked = sorted(folder.glob("seed-*"), key=lambda f: int(f.name[5:]))
        for out in stacked or [folder]:
            if not (out / "labeled_indices.json").is_file():
                continue
            seed = json.loads((out / "labeled_indices.json").read_text())["seed"]
            name = folder.name + (f"/{out.name}" if stacked else "")
            base = {"task": task, "method": method, "epochs": epochs, "seed": seed, "dir": out, "name": name,
                    "deviates": deviates}
            if (out / "result.json").is_file():
                r = json.loads((out / "result.json").read_text())
                rows.append({**base, "done": True, "errors": r["test_errors"], "wall": r["wall_seconds"],
                             "machine": r["machine"], "reached": epochs,
                             "stack": len(r.get("trained_with_seeds", [seed]))})
            elif tested := _tested(out):
                rows.append({**base, "done": False, "errors": tested[-1]["test_errors"],
                             "wall": tested[-1]["wall_seconds"], "machine": meta.get("machine", "?"),
                             "reached": tested[-1]["epoch"]})
    return rows


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def summary_table(rows: list[dict]) -> list[str]:
    lines = ["| task | method | epochs | seeds | test errors / 10,000 (mean ± std) | per seed | "
             "wall time per run | machine |", "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["done"] and not r["deviates"]:
            group = groups.setdefault((r["task"], r["method"], r["epochs"]), [])
            if r["seed"] not in {g["seed"] for g in group}:  # a seed trained twice counts once
                group.append(r)
    for (task, method, epochs), rs in sorted(groups.items()):
        errs = [r["errors"] for r in rs]
        per_seed = ", ".join(f"s{r['seed']}: {r['errors']}" for r in rs)
        wall = statistics.mean(r["wall"] for r in rs)
        stacks = sorted({r["stack"] for r in rs})
        machines = "; ".join(sorted({r["machine"] for r in rs}))
        if stacks != [1]:  # seeds trained side by side: the time is the stack's, all its seeds at once
            machines += f" ({' / '.join(map(str, stacks))} seeds per process, wall time per process)"
        lines.append(f"| {task} | {method} | {epochs} | {len(rs)} | {_mean_std(errs)} "
                     f"({statistics.mean(errs) / 100:.2f} %) | {per_seed} | {wall / 60:.1f} min | {machines} |")
    return lines


def unfinished_table(rows: list[dict]) -> list[str]:
    rs = [r for r in rows if not r["done"] or r["deviates"]]
    if not rs:
        return []
    lines = ["", "Unfinished runs (last tested epoch; the learning rate has not decayed to 0, so these are "
             "not final numbers) and runs whose settings differ from today's recipe (not in the table above):",
             "", "| run | epoch reached / planned | test errors / 10,000 | wall time | machine | differs from "
             "the recipe in |", "|---|---|---|---|---|---|"]
    for r in rs:
        lines.append(f"| {r['name']} | {r['reached']} / {r['epochs']} | {r['errors']} | "
                     f"{r['wall'] / 60:.1f} min | {r['machine']} | {r['deviates'] or '-'} |")
    return lines


def curves(rows: list[dict]) -> list[str]:
    """Per-epoch test errors of MNIST-100 semi-supervised runs (diagnostic only: never used to select)."""
    out = []
    for r in rows:
        if r["task"] != "mnist100" or r["method"] != "ssgan":
            continue
        pts = ", ".join(f"{row['epoch']}: {row['test_errors']}" for row in _tested(r["dir"]))
        differs = f" (differs from the recipe in {r['deviates']})" if r["deviates"] else ""
        out += ["", f"`{r['name']}`{differs} test errors by epoch (EMA classifier): {pts}"]
    return out


def plot_curves(rows: list[dict], path: Path) -> bool:
    """Test errors by epoch of every run, one line each (diagnostic: never used to select)."""
    if not rows:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in rows:
        tested = _tested(r["dir"])
        ax.plot([t["epoch"] for t in tested], [t["test_errors"] for t in tested], marker=".", label=r["name"])
    ax.set(xlabel="epoch", ylabel="test errors / 10,000", yscale="log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_doc(rows: list[dict], commands: list[str], notes: list[str], path: Path, section: str = "semisup") -> str:
    datasets = sorted({"Fashion-MNIST" if r["task"].startswith("fashion") else "MNIST" for r in rows})
    text = "\n".join([
        f"# Semi-supervised GAN: test errors with few labels ({', '.join(datasets) or 'no runs yet'})", "",
        "Produced by `benchmarks/semisup_mnist.py`. Test errors are counted on the official 10,000 test "
        "images with the Polyak-averaged (EMA) classifier after the last epoch; the test set never chooses "
        "a model or an epoch. The labeled subset is drawn per seed, balanced per class, and saved in each "
        "run folder (`labeled_indices.json`); the unlabeled pool is the full 60,000-image training set.", "",
        f"Published, MNIST 100 labels: {PUBLISHED}.", "",
        "Setup (`src/gankit/configs/semisup/`): D 784-1000-500-250-250-250-10 weight-normalized with "
        "data-dependent init, Gaussian noise std 0.3 on the input and 0.5 after hidden layers; G "
        "100-500-500-784 (softplus + batch norm, weight-normalized sigmoid output), feature matching on D's "
        "last hidden layer; Adam lr 0.003, beta1 0.5, batch 100, lr constant for the first two thirds of the "
        "run then linearly to 0; EMA 0.999 of D's weights. Not used: minibatch discrimination, Bad-GAN "
        "terms. `supervised` is the same D (noise, init, optimizer, schedule, EMA) trained on the labeled "
        "batches alone for the same number of steps.", "",
        *summary_table(rows), *unfinished_table(rows), *curves(rows), "",
        *([f"![test errors by epoch](img/{section}_curves.png)", ""]
          if plot_curves(rows, path.parent / "img" / f"{section}_curves.png") else []),
        *(["Notes:", "", *[f"- {n}" for n in notes], ""] if notes else []),
        "Commands that trained these runs (each resumes or collects what exists; "
        "`--collect` only rewrites this page):", "", *[f"    {c}" for c in commands], ""])
    # one level down: the page becomes a section of docs/results.md
    update_section(section, text.replace("\n## ", "\n### ").replace("# ", "## ", 1), path)
    return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--parallel-seeds", type=int, default=1,
                   help="train this many seeds side by side in one process (one set of kernels: for GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the losses (CUDA graphs on a GPU)")
    p.add_argument("--epochs", type=int, default=300, help="epochs per run (paper: 300)")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list of {', '.join(TASKS)}")
    p.add_argument("--methods", default="ssgan,supervised", help="comma list of ssgan, supervised")
    p.add_argument("--runs", type=Path, default=Path("benchmarks/runs/semisup"), help="folder of run folders")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--collect", action="store_true", help="train nothing; only rewrite the doc")
    p.add_argument("--progress", action="store_true", help="show a progress bar per run")
    p.add_argument("--doc", type=Path, default=DOC)
    p.add_argument("--section", default="semisup",
                   help="the section of --doc to write (one per runs folder: a section lists the runs in --runs)")
    p.add_argument("--note", action="append", default=[], help="a line for the doc's notes (kept in RUNS/notes.txt)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    tasks, methods = args.tasks.split(","), args.methods.split(",")
    for name in tasks:
        if name not in TASKS:
            p.error(f"--tasks: unknown task {name!r}; choose from {', '.join(TASKS)}")
    log = args.runs / "commands.txt"
    command = "GANKIT_DATA=../shared/data python " + " ".join(
        ["benchmarks/semisup_mnist.py", *(argv if argv is not None else sys.argv[1:])])
    if not args.collect:
        args.runs.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(command + "\n")
        print(f"machine: {machine_description(pick_device(args.device))}", flush=True)
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        chunks = [tuple(seeds[i:i + args.parallel_seeds]) for i in range(0, len(seeds), args.parallel_seeds)]
        for task in tasks:
            for chunk in chunks:
                for method in methods:
                    run_one(args.runs, task, method, args.epochs, chunk, args)
    commands = list(dict.fromkeys(log.read_text().splitlines())) if log.is_file() else [command]
    notes_file = args.runs / "notes.txt"
    if args.note:
        args.runs.mkdir(parents=True, exist_ok=True)
        with notes_file.open("a") as f:
            f.writelines(n + "\n" for n in args.note)
    notes = list(dict.fromkeys(notes_file.read_text().splitlines())) if notes_file.is_file() else []
    rows = read_runs(args.runs)
    if not rows:  # run folders do not survive between sessions: never blank a section that holds results
        raise SystemExit(f"{args.runs}: no runs found; the {args.section!r} section of {args.doc} was left as it is")
    print(write_doc(rows, commands, notes, args.doc, args.section))


if __name__ == "__main__":
    main()
