"""GAN data augmentation, both ways round: GAN samples as training data, and DiffAugment for GANs on few images.

    GANKIT_DATA=../shared/data python benchmarks/augment.py arms --datasets fashion-mnist --labels 100 --seeds 1
    GANKIT_DATA=../shared/data python benchmarks/augment.py diffaug --datasets mnist --fractions 0.01 --steps 1500
    python benchmarks/augment.py doc                       # only rewrite the page from the record

`arms`: `gankit augment` (gankit.augment.run_augment) per dataset, label count and seed: a conditional
GAN on the labelled subset (how often its samples are the class asked for is measured), then one
classifier per arm on one step budget, tested on the official test split. Beside it, the semi-supervised
GAN's classifier on the same labels, read from docs/records/semisup_runs.json (`gankit semisup` draws
the same subset for the same seed).

`diffaug`: DCGAN (the dcgan_mnist / dcgan_fashion recipe) on a random 1 %, 10 % or 100 % of the
training split, with and without DiffAugment (translation,cutout,color), scored by FID on the domain
backbone against the test split, beside its floor (real training images in the generator's place).

Every finished run is a row of the committed record docs/records/augment.json; the page (section
"augment" of docs/results.md) is rebuilt from the record alone. An `arms` run with --set overrides
(`--set diffaug=`, say) is another run than its recipe's: its own folder and row, and a table of its
own beside the recipe as shipped, out of the tables and verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import torch

from gankit.augment import load_augment_config, run_augment
from gankit.augment.config import ARMS
from gankit.checkpoint import atomic_write_text, list_checkpoints
from gankit.config import load_config
from gankit.data import load_dataset
from gankit.distributed import pick_device
from gankit.evaluate import evaluate
from gankit.runs import machine_description
from gankit.train import train
from results_doc import RESULTS, settings_slug, update_section

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "records" / "augment.json"
SEMISUP_RECORD = ROOT / "docs" / "records" / "semisup_runs.json"
IMAGES = ROOT / "docs" / "img"   # the page (docs/results.md) links them as img/...
DCGAN = {"mnist": "dcgan_mnist", "fashion-mnist": "dcgan_fashion"}
POLICY = "translation,cutout,color"


# --- the record ---------------------------------------------------------------------------------

def read_record(path: Path = RECORD) -> dict[str, list[dict]]:
    record = json.loads(path.read_text()) if path.is_file() else {}
    return {"arms": record.get("arms", []), "diffaug": record.get("diffaug", [])}


def add_row(kind: str, row: dict, key: tuple[str, ...], path: Path = RECORD) -> None:
    """Put ``row`` in the record, replacing the row with the same ``key`` fields (and the same --set overrides:
    a run with other settings never replaces the recipe's)."""
    record = read_record(path)
    ident = lambda r: tuple(r.get(k) for k in key) + _overrides(r)   # noqa: E731
    record[kind] = [r for r in record[kind] if ident(r) != ident(row)]
    record[kind].append(row)
    record[kind].sort(key=lambda r: tuple(str(r.get(k)) for k in key))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def _overrides(row: dict) -> tuple[str, ...]:
    return tuple(row.get("overrides") or ())


def as_shipped(rows: list[dict]) -> list[dict]:
    """The rows of recipes run as shipped (no --set overrides): the ones the tables and verdicts use."""
    return [r for r in rows if not _overrides(r)]


def machine(device: str) -> str:
    return machine_description(pick_device(device))


def last_checkpoint(run: Path) -> dict:
    """The JSON record of ``run``'s newest checkpoint (its step and the loop's wall seconds)."""
    return json.loads(list_checkpoints(run / "checkpoints")[-1].read_text())


# --- arms ---------------------------------------------------------------------------------------

def run_name(dataset: str, labels: int, seed: int, recipe: str, overrides=()) -> str:
    """A run's folder; one with --set overrides is kept apart, so it never continues the recipe's run."""
    changed = settings_slug(overrides)
    return f"{dataset}-{labels}-s{seed}-{recipe}" + (f"-{changed}" if changed else "")


def gan_overrides(overrides=()) -> list[str]:
    """The --set overrides that change the GAN: all but the arms, which train only the classifiers."""
    return [o for o in overrides if not o.startswith("arms=")]


def picture_name(dataset: str, labels: int, overrides=()) -> str:
    """Seed 0's generated images per class, in docs/img/; those of a GAN with other settings kept apart (a run
    with other arms shares its picture)."""
    changed = settings_slug(gan_overrides(overrides))
    return f"augment_{dataset}_{labels}" + (f"_{changed}" if changed else "") + ".png"


def run_arms(dataset: str, labels: int, seed: int, args) -> dict:
    overrides = [f"dataset={dataset}", f"labels={labels}", f"seed={seed}", f"device={args.device}",
                 f"arms={','.join(args.arms)}", *args.set]
    if args.data_root:
        overrides.append(f"data_root={args.data_root}")
    cfg = load_augment_config(args.recipe, overrides)
    run = args.runs / run_name(dataset, labels, seed, args.recipe, args.set)
    started = time.perf_counter()
    resumed = run.is_dir()
    result = run_augment(cfg, run_dir=run, resume=resumed, progress=args.progress)
    if result.interrupted:
        raise SystemExit(f"{run}: stopped early; run the same command again to continue")
    if seed == 0:   # the page shows seed 0's generated images per class
        picture = IMAGES / picture_name(dataset, labels, args.set)
        picture.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "samples_per_class.png", picture)
    gan_last = last_checkpoint(run / "gan")
    return {"dataset": dataset, "labels": labels, "seed": seed, "recipe": args.recipe, "overrides": args.set,
            "arms": result.arms, "gan_agreement": result.gan_agreement, "gan_steps": cfg.gan_steps,
            "diffaug": cfg.diffaug, "gan_seconds": round(gan_last["wall_seconds"], 1),
            "train_seconds": round(gan_last["wall_seconds"] + sum(a["seconds"] for a in result.arms.values()), 1),
            # the whole command, data loading and testing included; not meaningful when it continued a run
            "wall_seconds": None if resumed else round(time.perf_counter() - started, 1), "machine": machine(args.device),
            "threads": torch.get_num_threads(),
            "command": f"python benchmarks/augment.py arms --recipe {args.recipe} --datasets {dataset} "
                       f"--labels {labels} --first-seed {seed} --seeds 1"
                       + (f" --arms {' '.join(args.arms)}" if args.arms != list(ARMS) else "")
                       + "".join(f" --set {s}" for s in args.set)}


# --- DiffAugment --------------------------------------------------------------------------------

def run_diffaug(dataset: str, fraction: float, diffaug: bool, args) -> dict:
    overrides = [f"train.steps={args.steps}", f"train.diffaug={POLICY if diffaug else ''}", "train.eval_every=0",
                 f"train.seed={args.first_seed}", f"train.device={args.device}", f"train.ckpt_every={args.steps}",
                 f"train.sample_every={args.steps}"]
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    cfg = load_config(DCGAN[dataset], overrides)
    full = load_dataset(dataset, root=args.data_root, split="train")
    k = round(fraction * len(full))
    idx = torch.randperm(len(full), generator=torch.Generator().manual_seed(args.first_seed))[:k].sort().values
    run = args.runs / f"dcgan-{dataset}-{fraction:g}-{'diffaug' if diffaug else 'plain'}-{args.steps}"
    done = list_checkpoints(run / "checkpoints")
    if not done or json.loads(done[-1].read_text())["step"] < args.steps:
        if train(cfg, run_dir=run, resume=bool(done), progress=args.progress, data=full.subset(idx)).interrupted:
            raise SystemExit(f"{run}: stopped early; run the same command again to continue")
    last = last_checkpoint(run)
    scored = run / "metrics.json"   # a finished run already scored with this n is not scored again
    old = json.loads(scored.read_text()) if scored.is_file() else {}
    metrics = old if (old.get("n"), old.get("step")) == (args.n, last["step"]) else \
        evaluate(run, n=args.n, data_root=args.data_root, parzen=False, progress=args.progress,
                 device=str(pick_device(args.device)))
    q = metrics["quality"]
    return {"dataset": dataset, "fraction": fraction, "images": k, "diffaug": POLICY if diffaug else "",
            "recipe": DCGAN[dataset], "steps": args.steps, "seed": args.first_seed, "n": args.n,
            "fid": q["generated"]["fid"], "fid_floor": q["floor"]["fid"], "backbone": metrics.get("backbone"),
            "train_seconds": round(last["wall_seconds"], 1), "machine": machine(args.device), "threads": torch.get_num_threads(),
            "command": f"python benchmarks/augment.py diffaug --datasets {dataset} --fractions {fraction:g} "
                       f"--steps {args.steps} --n {args.n}"}


# --- the page -----------------------------------------------------------------------------------

def _ms(values: list[float], scale: float = 100.0, fmt: str = ".2f") -> str:
    if not values:
        return "–"
    mean = statistics.mean(values) * scale
    if len(values) == 1:
        return f"{mean:{fmt}} (1 seed)"
    return f"{mean:{fmt}} ± {statistics.stdev(values) * scale:{fmt}}"


def semisup_beside(dataset: str, labels: int, record: Path = SEMISUP_RECORD) -> list[dict]:
    """Finished semi-supervised GAN runs on the same labels (same draw per seed) that match today's recipe,
    per (task, epochs), the group with the most seeds first."""
    from semisup_mnist import deviations, finished_groups   # the semisup page's own rule for "today's recipe"
    if not record.is_file():
        return []
    prefix = {"mnist": "mnist", "fashion-mnist": "fashion"}[dataset] + str(labels)
    rows = [{**r, "deviates": deviations(r)} for section in json.loads(record.read_text()).values()
            for r in section["rows"]]
    groups = [{"task": task, "epochs": epochs, "errors": [r["errors"] for r in rs],
               "seeds": sorted(r["seed"] for r in rs)}
              for (task, method, epochs), rs in finished_groups(rows).items()
              if method == "ssgan" and task.split("-")[0] == prefix]
    return sorted(groups, key=lambda g: (-len(g["seeds"]), statistics.mean(g["errors"])))


def arms_markdown(rows: list[dict]) -> list[str]:
    out = []
    for dataset, labels in sorted({(r["dataset"], r["labels"]) for r in rows}):
        mine = [r for r in rows if (r["dataset"], r["labels"]) == (dataset, labels)]
        seeds = sorted(r["seed"] for r in mine)
        tested = mine[0]["arms"][next(iter(mine[0]["arms"]))]["test_images"]
        picture = picture_name(dataset, labels)
        out += [f"### {dataset}, {labels} labels ({len(seeds)} seed(s): {', '.join(map(str, seeds))}; "
                f"{tested} test images)", "",
                *([f"![generated images per class, seed 0](img/{picture}) one row per class, from the GAN of seed 0",
                   ""] if (IMAGES / picture).is_file() else []),
                "| arm | test error % (mean ± std over seeds) | generated share | classifier minutes |",
                "|---|---|---|---|"]
        errors, shares = {}, {}
        for arm in ARMS:
            got = [r["arms"][arm] for r in mine if arm in r["arms"]]
            if not got:
                continue
            errors[arm] = [g["test_error_rate"] for g in got]
            shares[arm] = got[0]["generated_share"]
            out.append(f"| {arm} | {_ms(errors[arm])} | {got[0]['generated_share']:.2f} | "
                       f"{statistics.mean(g['seconds'] for g in got) / 60:.1f} |")
        gan_min = [r["gan_seconds"] / 60 for r in mine if r.get("gan_seconds")]
        walls = [r["wall_seconds"] / 60 for r in mine if r.get("wall_seconds")]
        policies = sorted({r.get("diffaug", "unrecorded") or "off" for r in mine})
        out += ["", f"The GAN: {mine[0]['gan_steps']} steps, DiffAugment {' / '.join(policies)}, "
                f"{statistics.mean(gan_min):.1f} min per seed. Training "
                f"(GAN and every arm) {statistics.mean(r['train_seconds'] for r in mine) / 60:.1f} min per seed"
                + (f"; the whole command, data and testing included, {statistics.mean(walls):.1f} min" if walls else "")
                + f". Ran on {'; '.join(sorted({r['machine'] for r in mine}))}.", ""]
        out += agreement_lines(mine)
        out += verdicts(errors, labels, len(seeds))
        semi = semisup_beside(dataset, labels)
        if semi and errors:
            best_arm = min(errors, key=lambda a: statistics.mean(errors[a]))
            best = statistics.mean(errors[best_arm])
            lines = [f"`gankit semisup` ({s['task']}, {s['epochs']} epochs, seed(s) {', '.join(map(str, s['seeds']))}): "
                     f"{_ms([e / tested for e in s['errors']])} %" for s in semi[:3]]
            top = semi[0]
            semi_mean = statistics.mean(top["errors"]) / tested
            winner = ("the semi-supervised GAN (its classifier trained on the unlabelled images too)" if semi_mean < best
                      else f"the GAN as a sample source ({best_arm})" if shares[best_arm] > 0
                      else f"neither use of a GAN: the best arm, {best_arm}, has no generated images")
            out += ["**The semi-supervised GAN on the same labels** (docs/records/semisup_runs.json; the same "
                    "balanced draw per seed): " + "; ".join(lines) + f". Which use wins here: **{winner}** "
                    f"({100 * semi_mean:.2f} % against the best arm's ({best_arm}) {100 * best:.2f} %; seeds differ where the "
                    f"lists do).", ""]
        else:
            out += [f"No semi-supervised GAN run on {dataset} with {labels} labels is in "
                    f"docs/records/semisup_runs.json yet, so the two uses are not compared here.", ""]
    return out


def _agreements(rows: list[dict]) -> list[float]:
    return [r["gan_agreement"]["agreement"] for r in rows if r.get("gan_agreement")]


def agreement_lines(rows: list[dict]) -> list[str]:
    """How often the GAN drew the class asked for, where the rows measured it (gankit.augment.fidelity)."""
    agree = _agreements(rows)
    if not agree:
        return []
    judge = next(r["gan_agreement"]["judge"] for r in rows if r.get("gan_agreement"))
    spread = f" ± {100 * statistics.stdev(agree):.1f}" if len(agree) > 1 else ""
    return [f"The GAN's samples are the class they were asked for {100 * statistics.mean(agree):.1f}{spread} % of the "
            f"time (seed(s) {', '.join(str(r['seed']) for r in rows if r.get('gan_agreement'))}; judged by the "
            f"{judge}, trained on the whole training split). Generated images of another class than their label "
            f"teach the arms wrong labels.", ""]


def _agreement_cell(rows: list[dict], seeds: int) -> str:
    """Mean class agreement of ``rows``, with how many seeds measured it where not all ``seeds`` did."""
    agree = _agreements(rows)
    if not agree:
        return "–"
    return f"{100 * statistics.mean(agree):.1f}" + (f" ({len(agree)} of {seeds} seeds)" if len(agree) < seeds else "")


def other_settings(changed: list[dict], shipped: list[dict]) -> list[str]:
    """Runs with --set overrides, each arm beside the recipe as shipped on the same dataset, labels and seeds."""
    out = ["### Runs with other settings than their recipe's", "",
           "Each beside the recipe as shipped on the same labels and seeds; not in the tables and verdicts above. "
           "Test error %, mean over the seeds listed.", "",
           "| dataset | labels | recipe | --set | seeds | GAN samples of their class %: this / shipped | "
           + " | ".join(f"{arm}: this / shipped" for arm in ARMS) + " |",
           "|---" * (6 + len(ARMS)) + "|"]
    groups: dict[tuple, list[dict]] = {}
    for r in changed:
        groups.setdefault((r["dataset"], r["labels"], r["recipe"], _overrides(r)), []).append(r)
    for (dataset, labels, recipe, overrides), mine in sorted(groups.items()):
        seeds = sorted(r["seed"] for r in mine)
        twins = [r for r in shipped if (r["dataset"], r["labels"], r["recipe"]) == (dataset, labels, recipe)
                 and r["seed"] in seeds]
        cells = [" / ".join(_agreement_cell(rs, len(seeds)) for rs in (mine, twins))]
        for arm in ARMS:
            this = [100 * r["arms"][arm]["test_error_rate"] for r in mine if arm in r["arms"]]
            them = [100 * r["arms"][arm]["test_error_rate"] for r in twins if arm in r["arms"]]
            cells.append(" / ".join(f"{statistics.mean(v):.2f}" if v else "–" for v in (this, them)))
        twin_seeds = sorted(r["seed"] for r in twins)
        seen = ", ".join(map(str, seeds)) + (f" (shipped: {', '.join(map(str, twin_seeds)) or 'none'})"
                                             if twin_seeds != seeds else "")
        out.append(f"| {dataset} | {labels} | `{recipe}` | {' '.join(overrides)} | {seen} | " + " | ".join(cells) + " |")
    shown = {picture_name(d, n) for d, n, _, _ in groups}   # the recipe's own GANs: in their tables above
    for dataset, labels, _, overrides in sorted(groups):
        name, gan = picture_name(dataset, labels, overrides), gan_overrides(overrides)
        if name not in shown and (IMAGES / name).is_file():
            shown.add(name)
            out += ["", f"![generated images per class, seed 0, {' '.join(gan)}](img/{name}) {dataset}, {labels} "
                        f"labels, the GAN with `--set {' --set '.join(gan)}`: one row per class, seed 0"]
    firsts = [min(mine, key=lambda r: r["seed"])["command"] for _, mine in sorted(groups.items())]
    return out + ["", "Commands (one per seed; the other seeds' differ only in --first-seed): "
                  + "; ".join(f"`{c}`" for c in firsts) + ".", ""]


def verdicts(errors: dict[str, list[float]], labels: int, seeds: int) -> list[str]:
    lines = []

    def compare(a: str, b: str, what: str) -> None:
        if a in errors and b in errors:
            da, db = statistics.mean(errors[a]), statistics.mean(errors[b])
            word = "beats" if da < db else "does not beat"
            spread = max((statistics.stdev(e) for e in (errors[a], errors[b]) if len(e) > 1), default=None)
            within = "" if spread is None or abs(da - db) > spread else ", within the seed spread"
            lines.append(f"- {what}: **{a} {word} {b}**: {100 * da:.2f} % against {100 * db:.2f} % "
                         f"({100 * (da - db):+.2f} points{within}; {seeds} seed(s)).")
    compare("classic+gan", "classic", "Generated images on top of classic augmentation")
    compare("real+gan", "real", "Generated images on top of the real ones")
    compare("classic+gan-filtered", "classic+gan", "Filtering the generated images by the real arm's confidence")
    compare("gan-only", "real", "Generated images alone (classification accuracy score) against real ones")
    return lines + [""] if lines else []


def diffaug_markdown(rows: list[dict]) -> list[str]:
    out = ["| dataset | share of training split (images) | steps | FID without DiffAugment | FID with DiffAugment "
           "| floor | train min (without / with) |", "|---|---|---|---|---|---|---|"]
    lowered = []
    for dataset, fraction, steps in sorted({(r["dataset"], r["fraction"], r["steps"]) for r in rows}):
        pair = {bool(r["diffaug"]): r for r in rows if (r["dataset"], r["fraction"], r["steps"]) == (dataset, fraction, steps)}
        plain, aug = pair.get(False), pair.get(True)
        any_row = plain or aug
        cell = lambda r: f"{r['fid']:.2f}" if r else "–"   # noqa: E731
        minutes = lambda r: f"{r['train_seconds'] / 60:.1f}" if r else "–"   # noqa: E731
        out.append(f"| {dataset} | {100 * fraction:g} % ({any_row['images']}) | {steps} | {cell(plain)} | {cell(aug)} "
                   f"| {any_row['fid_floor']:.2f} | {minutes(plain)} / {minutes(aug)} |")
        if plain and aug:
            lowered.append((dataset, fraction, steps, aug["fid"] < plain["fid"], aug["fid"] - plain["fid"]))
    out.append("")
    for dataset, fraction, steps, better, delta in lowered:
        out.append(f"- {dataset}, {100 * fraction:g} %, {steps} steps: DiffAugment "
                   f"**{'lowers' if better else 'does not lower'}** FID ({delta:+.2f}).")
    out += longer_runs(rows)
    machines = sorted({r["machine"] for r in rows})
    return out + ["", f"n = {rows[0]['n']} samples per FID; floor: as many real training images scored the same "
                      f"way. Seed {rows[0]['seed']} draws the subset and seeds training. Ran on "
                      f"{'; '.join(machines)}.", ""]


def diffaug_runs(rows: list[dict]) -> dict[tuple, dict[int, dict[bool, dict]]]:
    """The DiffAugment rows by (dataset, share), then step count, then with / without DiffAugment."""
    runs: dict[tuple, dict[int, dict[bool, dict]]] = {}
    for r in rows:
        runs.setdefault((r["dataset"], r["fraction"]), {}).setdefault(r["steps"], {})[bool(r["diffaug"])] = r
    return runs


def paired_steps(runs: dict[int, dict[bool, dict]]) -> list[int]:
    """The step counts, shortest first, at which both arms (with and without DiffAugment) ran."""
    return sorted(steps for steps, arms in runs.items() if len(arms) == 2)


def longer_runs(rows: list[dict]) -> list[str]:
    """Where one dataset and share ran for several step counts with both arms: how each arm's FID and the gap
    between them moved from the shortest run to the longest (DiffAugment's gains are reported on long runs)."""
    out = []
    for (dataset, fraction), runs in sorted(diffaug_runs(rows).items()):
        both = paired_steps(runs)
        if len(both) < 2:
            continue
        (short_plain, short_aug), (long_plain, long_aug) = ((runs[s][False]["fid"], runs[s][True]["fid"])
                                                            for s in (both[0], both[-1]))
        out.append(f"- {dataset}, {100 * fraction:g} %, {both[0]} -> {both[-1]} steps: FID without DiffAugment "
                   f"{short_plain:.2f} -> {long_plain:.2f}, with it {short_aug:.2f} -> {long_aug:.2f}; the gap "
                   f"goes from {short_aug - short_plain:+.2f} to {long_aug - long_plain:+.2f}.")
    return ["", "Longer runs:", ""] + out if out else []


def markdown(record: dict[str, list[dict]]) -> str:
    out = ["## GAN data augmentation: generated images as training data, DiffAugment for few images", "",
           "`python benchmarks/augment.py arms|diffaug|doc` (the commands of every row are in "
           "docs/records/augment.json). Test errors on the official test split, never used to train or choose. "
           "Every arm trains the same small CNN from the same initial weights for the same steps on batches of "
           "the same size (`gankit augment`, recipe in the rows); only where a batch comes from differs. "
           "Published anchors: DAGAN raised a vanilla Omniglot classifier from 69 % to 82 % with 5 samples per "
           "class (Antoniou et al. 2018); Ravuri & Vinyals (2019) found BigGAN samples alone lose 27.9 points of "
           "ImageNet top-1 and help 'at best marginally' beside real data.", ""]
    shipped = as_shipped(record["arms"])
    if shipped:
        out += ["### Generated images as training data", ""] + arms_markdown(shipped)
    changed = [r for r in record["arms"] if _overrides(r)]
    if changed:
        out += other_settings(changed, shipped)
    missing = [f"{d}, {n} labels" for d in DCGAN for n in (100, 1000)
               if not any((r["dataset"], r["labels"]) == (d, n) for r in shipped)]
    missing += [f"DiffAugment at {100 * f:g} % of {d}" for d in DCGAN for f in (0.01, 0.1, 1.0)
                if not any((r["dataset"], r["fraction"]) == (d, f) for r in record["diffaug"])]
    if missing:
        out += [f"**Not measured yet:** {'; '.join(missing)}. `bash benchmarks/device_augment.sh` is prepared to run the whole "
                f"of both tables on one GPU in one call of at most 8 minutes (see its header); it has not run on a GPU yet.", ""]
    if record["diffaug"]:
        out += ["### DiffAugment (Zhao et al. 2020) when a GAN has few images", "",
                "Published anchor: StyleGAN2 on 10 % of CIFAR-10, FID 36.02 without and 14.50 with DiffAugment.", ""]
        out += diffaug_markdown(record["diffaug"])
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["arms", "diffaug", "doc"])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=list(DCGAN))
    parser.add_argument("--labels", nargs="+", type=int, default=[100, 1000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--recipe", default="augment_cpu")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="augment recipe override")
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--steps", type=int, default=5000, help="diffaug: DCGAN steps")
    parser.add_argument("--n", type=int, default=10000, help="diffaug: samples per FID")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root", default=os.environ.get("GANKIT_DATA"))
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "augment")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--doc", type=Path, default=RESULTS)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "arms":
        for dataset in args.datasets:
            for labels in args.labels:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    row = run_arms(dataset, labels, seed, args)
                    add_row("arms", row, ("dataset", "labels", "seed", "recipe"), args.record)
                    print(json.dumps({k: row[k] for k in ("dataset", "labels", "seed", "train_seconds")}),
                          {a: r["test_errors"] for a, r in row["arms"].items()}, flush=True)
    elif args.what == "diffaug":
        for dataset in args.datasets:
            for fraction in args.fractions:
                for diffaug in (False, True):
                    row = run_diffaug(dataset, fraction, diffaug, args)
                    add_row("diffaug", row, ("dataset", "fraction", "diffaug", "steps", "seed"), args.record)
                    print(json.dumps({k: row[k] for k in ("dataset", "fraction", "diffaug", "fid", "fid_floor")}),
                          flush=True)
    text = markdown(read_record(args.record))
    update_section("augment", text, path=args.doc)
    print(text)


if __name__ == "__main__":
    main()
