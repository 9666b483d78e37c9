"""The summary table that opens docs/results.md: one row per headline claim, read off the records.

    python benchmarks/summary.py          # rebuild it (every benchmark also does after writing its section)

Each row's number comes from a benchmark's committed record (docs/records/*.json), never from
this file; the published numbers and the rule that decides "met" are written here, next to
their sources.
"""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

from results_doc import RESULTS, update_section

RECORDS = Path(__file__).resolve().parents[1] / "docs" / "records"

HEADER = ["| claim | gankit | published / peer | met? | hardware | command |", "|---|---|---|---|---|---|"]


def _read(name: str) -> dict | list | None:
    path = RECORDS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _row(claim: str, ours: str, theirs: str, met: str, hardware: str, command: str | list[str], link: str) -> str:
    """One summary line; several commands (a claim that pools several runs) are listed one after another."""
    commands = [command] if isinstance(command, str) else command
    return f"| [{claim}](#{link}) | {ours} | {theirs} | {met} | {hardware} | {'; '.join(f'`{c}`' for c in commands)} |"


def gan_rows() -> list[str]:
    rows = _read("gan_table.json") or []
    out = []
    parzen = next((r for r in rows if r["label"] == "gan2014" and r["dataset"] == "mnist"
                   and (r["metrics"].get("parzen") or {}).get("generated")), None)
    if parzen:
        p = parzen["metrics"]["parzen"]["generated"]
        met = "met" if p["mean"] + p["std_error"] >= 225 - 2 else "**not met**"
        out.append(_row("2014 GAN, Parzen log-likelihood on MNIST (nats)", f"{p['mean']:.1f} ± {p['std_error']:.1f}",
                        "225 ± 2 (Goodfellow et al. 2014, Table 1)", met, parzen["machine"], parzen["command"],
                        "gan-recipes-on-mnist-and-fashion-mnist"))
    for dataset in ("mnist", "fashion-mnist"):
        scored = [r for r in rows if r["dataset"] == dataset and r["metrics"]["quality"]["generated"].get("fid")]
        if not scored:
            continue
        best = min(scored, key=lambda r: r["metrics"]["quality"]["generated"]["fid"])
        fid, floor = best["metrics"]["quality"]["generated"]["fid"], best["metrics"]["quality"]["floor"]["fid"]
        out.append(_row(f"Best FID on {dataset} (domain backbone): `{best['label']}`, {best['steps']} steps",
                        f"{fid:.1f}", f"floor {floor:.2f} (real train vs real test)",
                        f"no target ({fid / floor:.0f}x the floor)", best["machine"], best["command"],
                        "gan-recipes-on-mnist-and-fashion-mnist"))
    return out


SALIMANS, BAD_GAN = (93, 6.5), (79.5, 9.8)   # MNIST, 100 labels: test errors / 10,000


def semisup_rows() -> list[str]:
    from semisup_mnist import deviations, finished_groups
    section = (_read("semisup_runs.json") or {}).get("semisup", {})
    rows = [{**r, "deviates": deviations(r)} for r in section.get("rows", [])]
    groups = [(key, rs) for key, rs in finished_groups(rows).items()
              if key[0].startswith("mnist100") and key[1] == "ssgan" and len(rs) >= 5]
    if not groups:
        return []
    (task, _, epochs), rs = min(groups, key=lambda g: statistics.mean(r["errors"] for r in g[1]))
    errors = [r["errors"] for r in rs]
    mean, std = statistics.mean(errors), statistics.stdev(errors)
    ours = f"{mean:.1f} ± {std:.1f} (`{task}`, {epochs} epochs, {len(rs)} seeds)"
    machine = "; ".join(sorted({r["machine"] for r in rs}))
    command = f"python benchmarks/semisup_mnist.py --tasks {task} --methods ssgan --seeds {len(rs)}"
    out = []
    for (value, spread), source in ((SALIMANS, "Salimans et al. 2016"), (BAD_GAN, "Bad GAN, Dai et al. 2017")):
        met = "met" if mean <= value else f"**not met** (+{mean - value:.1f})"
        out.append(_row("Semi-supervised MNIST, 100 labels: test errors / 10,000", ours,
                        f"{value} ± {spread} ({source})", met, machine, command,
                        "semi-supervised-gan-test-errors-with-few-labels-mnist"))
    return out


def attack_rows() -> list[str]:
    r = _read("attacks.json")
    if not r:
        return []
    models, hw, command, out = r["models"], r["hardware"], r["evaluation_command"], []
    link = "adversarial-examples-on-mnist"
    if "none" in models:
        m = models["none"]
        out.append(_row("FGSM eps 0.25 on an undefended CNN: test error", f"{100 * m['fgsm_error']:.2f} % "
                        f"(n={m['n_fgsm']})", "89.4 % (Goodfellow et al. 2015, maxout)",
                        "met" if m["fgsm_error"] >= 0.894 else "**not met**", hw, command, link))
    if "fgsm" in models:
        m = models["fgsm"]
        out.append(_row("FGSM adversarial training: FGSM eps 0.25 test error", f"{100 * m['fgsm_error']:.2f} % "
                        f"(n={m['n_fgsm']})", "17.9 % (Goodfellow et al. 2015)",
                        "met" if m["fgsm_error"] <= 0.179 else "**not met**", hw, command, link))
    if "pgd" in models and models["pgd"].get("pgd_accuracy") is not None:
        m = models["pgd"]
        out.append(_row("PGD adversarial training: PGD-40 eps 0.3 robust accuracy",
                        f"{100 * m['pgd_accuracy']:.2f} % (n={m['n_pgd']}, {m['epochs']:g} epochs)",
                        "about 89 % (Madry et al. 2018)", "met" if m["pgd_accuracy"] >= 0.89 else "**not met**",
                        hw, m["command"], link))
    speed = r.get("pgd_speed")
    if speed:
        g, t = speed["gankit"], speed["torchattacks"]
        faster = g["cpu_seconds"] < t["cpu_seconds"] and g["robust_accuracy"] <= t["robust_accuracy"]
        out.append(_row(f"PGD-40 on {speed['n']} images: CPU seconds (robust accuracy)",
                        f"{g['cpu_seconds']:.1f} s ({100 * g['robust_accuracy']:.2f} %)",
                        f"torchattacks {t['cpu_seconds']:.1f} s ({100 * t['robust_accuracy']:.2f} %)",
                        f"met ({t['cpu_seconds'] / g['cpu_seconds']:.2f}x)" if faster else "**not met**",
                        hw, command, link))
    return out


def privacy_rows(epsilon: str = "3.0") -> list[str]:
    r = _read("privacy.json")
    if not r:
        return []
    out = []
    for name, table in r["tables"].items():
        cell = table["tstr_auroc"].get(epsilon)
        if not cell:
            continue
        gan = cell["GAN"]
        verdicts = [f"{'beats' if gan[0] > cell[b][0] + 0.01 else 'does not beat'} {b.replace('|', chr(92) + '|')}"
                    for b in ("hist", "hist|y")]
        out.append(_row(f"DP synthetic {name} table, epsilon {float(epsilon):g}: TSTR AUROC",
                        f"{gan[0]:.3f} ± {gan[1]:.3f} ({gan[2]} seeds)",
                        f"hist {cell['hist'][0]:.3f}, hist\\|y {cell['hist|y'][0]:.3f} (same epsilon); "
                        f"real data {table['trtr_auroc']:.3f}",
                        "; ".join(v if v.startswith("beats") else f"**{v}**" for v in verdicts),
                        r["hardware"], r["command"], "private-synthetic-tables-dp-ac-gan-vs-noisy-histograms"))
    return out


def augment_rows(labels: int = 100) -> list[str]:
    from augment import as_shipped   # runs with --set overrides stay out, as on the page
    record = _read("augment.json") or {}
    out = []
    for dataset in ("mnist", "fashion-mnist"):
        rows = [r for r in as_shipped(record.get("arms", [])) if (r["dataset"], r["labels"]) == (dataset, labels)
                and {"classic", "classic+gan"} <= set(r["arms"])]
        if not rows:
            continue
        gan, classic = ([100 * r["arms"][a]["test_error_rate"] for r in rows] for a in ("classic+gan", "classic"))
        spread = lambda v: f" ± {statistics.stdev(v):.2f}" if len(v) > 1 else ""   # noqa: E731
        diff = statistics.mean(gan) - statistics.mean(classic)
        out.append(_row(f"GAN samples on top of classic augmentation, {dataset}, {labels} labels: test error %",
                        f"{statistics.mean(gan):.2f}{spread(gan)} ({len(rows)} seeds)",
                        f"classic augmentation alone {statistics.mean(classic):.2f}{spread(classic)} (same runs); "
                        f"DAGAN: Omniglot 69 -> 82 % accuracy", "met" if diff < 0 else f"**not met** ({diff:+.2f})",
                        "; ".join(sorted({r["machine"] for r in rows})),
                        f"python benchmarks/augment.py arms --datasets {dataset} --labels {labels}",
                        "gan-data-augmentation-generated-images-as-training-data-diffaugment-for-few-images"))
    for dataset in ("mnist", "fashion-mnist"):
        for fraction in (0.01, 0.1):   # the shares the issue names; the longest run with both arms
            pair = diffaug_pair(record.get("diffaug", []), dataset, fraction)
            if not pair:
                continue
            plain, aug = pair
            out.append(_row(f"DiffAugment, DCGAN on {100 * fraction:g} % of {dataset}: FID (domain backbone)",
                            f"{plain['fid']:.2f} -> {aug['fid']:.2f} ({aug['steps']} steps)",
                            "StyleGAN2 on 10 % of CIFAR-10: 36.02 -> 14.50 (Zhao et al. 2020)",
                            "met (lowers)" if aug["fid"] < plain["fid"] else "**not met** (does not lower)",
                            aug["machine"], aug["command"],
                            "gan-data-augmentation-generated-images-as-training-data-diffaugment-for-few-images"))
    return out


def diffaug_pair(rows: list[dict], dataset: str, fraction: float) -> tuple[dict, dict] | None:
    """(without, with DiffAugment) for one dataset and share, from the longest run that has both."""
    from augment import diffaug_runs, paired_steps
    runs = diffaug_runs(rows).get((dataset, fraction), {})
    both = paired_steps(runs)
    return (runs[both[-1]][False], runs[both[-1]][True]) if both else None


CYCADA = {("mnist", "digits"): "another pair: MNIST -> USPS 95.6 % (CyCADA, Hoffman et al. 2018)",
          ("digits", "mnist"): "another pair: USPS -> MNIST 96.5 % (CyCADA)",
          ("mnist", "mnist-m"): "bar: 90 % and +20 points over untranslated (issue 25)",
          ("mnist-m", "mnist"): "another pair: SVHN -> MNIST 90.4 % (CyCADA)"}


def _seeds_command(row: dict, seeds: list[int]) -> str:
    """One run's command widened to the seeds a row averages, when they run on."""
    from translate import run_command
    seeds = sorted(set(seeds))
    if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
        return row["command"]
    return run_command(row["recipe"], row["pair"], seeds[0], len(seeds), row["overrides"])


def translate_rows() -> list[str]:
    """Translated accuracy per direction (CyCADA's protocol) against the untranslated baseline."""
    rows = [r for r in _read("translate.json") or [] if not r["overrides"]]
    out = []
    for (src, tgt), anchor in CYCADA.items():
        mine = [(r, d) for r in rows for d, pair in (("ab", (src, tgt)), ("ba", (tgt, src)))
                if (r["domain_a"], r["domain_b"]) == pair and f"accuracy_{d}" in r["scores"]]
        if not mine:
            continue
        acc = [100 * r["scores"][f"accuracy_{d}"] for r, d in mine]
        base = statistics.mean(100 * r["scores"][f"baseline_{d}"] for r, d in mine)
        gain = statistics.mean(acc) - base
        if (src, tgt) == ("mnist", "mnist-m"):
            met = "met" if gain >= 20 and statistics.mean(acc) >= 90 else f"**not met** ({gain:+.1f} points)"
        else:
            met = f"beats untranslated ({gain:+.1f} points)" if gain > 0 else f"**not met** ({gain:+.1f} points)"
        spread = f" ± {statistics.stdev(acc):.1f}" if len(acc) > 1 else ""
        out.append(_row(f"CycleGAN {src} -> {tgt}: translated accuracy %", f"{statistics.mean(acc):.1f}{spread} "
                        f"({len(mine)} seed{'s' if len(mine) > 1 else ''}; untranslated {base:.1f})", anchor, met,
                        "; ".join(sorted({r["machine"] for r, _ in mine})), _seeds_command(mine[0][0],
                                                                           [r["seed"] for r, _ in mine]),
                        "unpaired-translation-cyclegan-on-the-digit-domains"))
    return out


RESTORE_BARS = {"text": ("biharmonic", 0.0), "pixels50": ("biharmonic", 0.0), "noise25": ("cbm3d", -0.5)}


def restore_rows() -> list[str]:
    """DIP (the early-stopping pick) against the strongest classical method, and the rule against the best PSNR."""
    # read_rows keeps the first of any repeated fit, as the restore page counts them
    from restore_page import es_gaps, es_gaps_by_size, size_command, size_commands
    from restore_rows import DEFAULT_SIZE, as_shipped, read_rows
    rows = read_rows(RECORDS / "restore_rows.jsonl")
    dip = as_shipped(rows)
    out, link = [], "deep-image-prior-against-the-classical-tools"
    command = "python benchmarks/restore.py --threads 1"
    for (cell, (rival, margin)), size in itertools.product(RESTORE_BARS.items(), sorted({r["size"] for r in dip})):
        mine = [r for r in dip if r["cell"] == cell and r["size"] == size]
        images = {r["image"] for r in mine}
        theirs = [r["psnr"] for r in rows if r["cell"] == cell and r["method"] == rival
                  and r["size"] == size and r["image"] in images]
        if not mine or not theirs:
            continue
        ours = [r["psnr_es"] for r in mine]
        gap = statistics.mean(ours) - statistics.mean(theirs)
        spread = f" ± {statistics.stdev(ours):.2f}" if len(ours) > 1 else ""
        fits = f"{len(mine)} fit{'s' if len(mine) > 1 else ''}"
        out.append(_row(f"Deep Image Prior, {cell} ({', '.join(sorted(images))}, {size} px): PSNR dB",
                        f"{statistics.mean(ours):.2f}{spread} ({fits})",
                        f"{rival} {statistics.mean(theirs):.2f} (same photos)"
                        + ("; bar: within 0.5 dB" if margin else ""),
                        ("met" if gap > margin else "**not met**") + f" ({gap:+.2f})",
                        "; ".join(sorted({r["hardware"] for r in mine})),
                        command if size == DEFAULT_SIZE else size_command(mine),
                        link))
    if dip:
        gaps = es_gaps(dip)
        # the rule's mean pools every size, so it cites the commands of every size
        commands = [c for size in sorted({r["size"] for r in dip})
                    for c in ([command] if size == DEFAULT_SIZE else size_commands([r for r in dip if r["size"] == size]))]
        out.append(_row("Deep Image Prior early stopping: dB below the best PSNR along the run",
                        f"{statistics.mean(gaps):.2f} ("
                        + "; ".join(filter(None, [f"mean of {len(gaps)} fits", es_gaps_by_size(dip),
                                                  f"worst {max(gaps):.2f}"])) + ")",
                        "bar 0.5 (issue 26); the rule: Wang et al. 2021 (ES-WMV)",
                        "met" if statistics.mean(gaps) <= 0.5 else "**not met**",
                        "; ".join(sorted({r["hardware"] for r in dip})), commands, link))
    return out


def provenance_rows() -> list[str]:
    record = _read("provenance.json")
    if not record:
        return []
    small = record["per_image"]["28 x 28 gray (DCGAN samples)"]
    return [_row("C2PA signing of a 28x28 sample: seconds (p95)", f"{small['sign_s']['p95']:.3f} "
                 f"(median {small['sign_s']['median']:.3f}, +{small['added_bytes'] / 1024:.1f} KiB a file)",
                 "bar 0.2 s (issue 28)", "met" if small["sign_s"]["p95"] <= 0.2 else "**not met**",
                 record["machine"], record["command"], "signed-provenance-what-signing-and-verifying-cost")]


def detect_rows() -> list[str]:
    """Issue 28's detector bars per dataset: AP >= 99 on its own generator, and above the spectrum baseline
    on the mean held-out AP (clean images)."""
    from detect import OWN_AP_BAR, bars
    record = _read("detect.json") or {}
    out = []
    for dataset in ("mnist", "fashion-mnist"):
        cells = [c for c in record.get("cells", []) if c["dataset"] == dataset]
        measured = bars(cells)
        if measured is None:
            continue
        worst, held, spectrum = measured
        seeds = len({c["seed"] for c in cells})
        met = [f"own {'met' if worst >= OWN_AP_BAR else '**not met**'}",
               f"held-out {'met' if held > spectrum else '**not met**'}"]
        out.append(_row(f"Real-vs-generated CNN on {dataset}: AP % on its own generator / mean held-out",
                        f"lowest {100 * worst:.2f} / {100 * held:.1f} ({len(cells)} detectors, "
                        f"{seeds} seed{'s' if seeds > 1 else ''})",
                        f"bars: >= 99 / above the spectrum baseline ({100 * spectrum:.1f}); Wang et "
                        "al. 2020: 98.5 on StyleGAN from ProGAN", "; ".join(met),
                        "; ".join(sorted({c["machine"] for c in cells})),
                        f"python benchmarks/detect.py matrix --datasets {dataset} --seeds 0 1 2",
                        "real-vs-generated-detection-leave-one-generator-out-mnist-fashion-mnist"))
    return out


def summary_markdown() -> str:
    rows = (gan_rows() + semisup_rows() + attack_rows() + privacy_rows() + translate_rows() + restore_rows()
            + provenance_rows() + detect_rows() + augment_rows())
    provenance = sorted({f"`docs/records/{n}`" for n in ("attacks.json", "privacy.json", "gan_table.json", "augment.json")
                         if '"provenance"' in ((RECORDS / n).read_text() if (RECORDS / n).is_file() else "")})
    return "\n".join([
        "## Summary: gankit against the published numbers", "",
        "One row per headline claim. Each number is read off the committed record a benchmark wrote "
        "(`docs/records/`); the claim links to its section below, where the setup and the caveats are. "
        "'met' follows the rule in `benchmarks/summary.py` for that row.", "",
        *HEADER, *rows, "",
        *([f"Some rows were recovered from pages written by earlier runs whose folders are gone: see the "
           f"`provenance` fields of {', '.join(provenance)}.", ""] if provenance else []),
        "Experiment logs (unfinished runs, ablations, epochs-to-level tables, per-class errors, curves) are in "
        "[docs/experiments/](experiments/).", ""])


def write_summary(path: Path = RESULTS) -> Path:
    return update_section("summary", summary_markdown(), path, summary=False)


if __name__ == "__main__":
    print(f"wrote {write_summary()}")
