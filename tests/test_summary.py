"""The summary table of docs/results.md: every number comes from a record, every verdict from a rule."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import results_doc  # noqa: E402
import summary  # noqa: E402


def _records(folder: Path, pgd_accuracy: float, gan_tstr: float) -> None:
    folder.mkdir()
    (folder / "attacks.json").write_text(json.dumps({
        "hardware": "test cpu", "evaluation_command": "python benchmarks/attacks_mnist.py",
        "models": {"pgd": {"clean_error": 0.01, "fgsm_error": 0.05, "n_fgsm": 100, "pgd_accuracy": pgd_accuracy,
                           "n_pgd": 50, "epochs": 3.0, "minutes": 1.0, "command": "gankit robust-train --defence pgd"}},
        "pgd_speed": {"n": 50, "gankit": {"robust_accuracy": 0.5, "seconds": 2.0, "cpu_seconds": 2.0},
                      "torchattacks": {"robust_accuracy": 0.5, "seconds": 3.0, "cpu_seconds": 3.0}}}))
    (folder / "privacy.json").write_text(json.dumps({
        "command": "python benchmarks/privacy_tables.py", "hardware": "test cpu",
        "tables": {"toy": {"train_rows": 10, "holdout_rows": 5, "trtr_auroc": 0.9, "tstr_auroc": {
            "3.0": {"spent": 2.99, "GAN": [gan_tstr, 0.01, 5], "hist": [0.6, 0.1, 5], "hist|y": [0.8, 0.1, 5]}}}}}))


def test_rows_carry_the_recorded_numbers_and_computed_verdicts(tmp_path, monkeypatch):
    _records(tmp_path / "good", pgd_accuracy=0.9137, gan_tstr=0.8512)
    monkeypatch.setattr(summary, "RECORDS", tmp_path / "good")
    text = summary.summary_markdown()
    pgd = next(line for line in text.splitlines() if "PGD-40 eps 0.3 robust accuracy" in line)
    assert "91.37 %" in pgd and "| met |" in pgd
    dp = next(line for line in text.splitlines() if "DP synthetic toy table" in line)
    assert "0.851" in dp and "beats hist; beats hist\\|y" in dp
    speed = next(line for line in text.splitlines() if "CPU seconds" in line)
    assert "met (1.50x)" in speed

    _records(tmp_path / "bad", pgd_accuracy=0.5, gan_tstr=0.7)
    monkeypatch.setattr(summary, "RECORDS", tmp_path / "bad")
    text = summary.summary_markdown()
    assert "**not met**" in next(line for line in text.splitlines() if "robust accuracy" in line and "PGD-40 eps" in line)
    assert "beats hist; **does not beat hist\\|y**" in text


def test_the_page_keeps_its_sections_in_a_fixed_order_under_the_summary(tmp_path):
    page = tmp_path / "results.md"
    results_doc.update_section("privacy", "## P", page)
    results_doc.update_section("gans", "## G", page)
    results_doc.update_section("summary", "## S", page)
    results_doc.update_section("gans", "## G2", page)   # a rerun replaces its own section only
    text = page.read_text()
    assert text.startswith(results_doc.HEADER)
    assert text.index("## S") < text.index("## G2") < text.index("## P") and "## G\n" not in text


def test_the_committed_page_opens_with_the_summary_of_the_committed_records():
    sections = results_doc.read_sections()
    assert list(sections)[0] == "summary"
    assert sections["summary"].strip() == summary.summary_markdown().strip()


def test_augment_rows_compare_the_gan_arm_with_classic_augmentation_on_the_same_runs(tmp_path, monkeypatch):
    def run(seed, classic, gan):
        arms = {a: {"test_error_rate": e} for a, e in (("classic", classic), ("classic+gan", gan))}
        return {"dataset": "mnist", "labels": 100, "seed": seed, "arms": arms, "machine": "test cpu"}
    def fid(fraction, steps, policy, value):
        return {"dataset": "mnist", "fraction": fraction, "diffaug": policy, "fid": value, "steps": steps,
                "machine": "test cpu", "command": "python benchmarks/augment.py diffaug"}
    # 10 %: a longer run with both arms is the one shown; 1 %: a longer run missing an arm is not
    diffaug = [fid(0.1, 10, "", 9.0), fid(0.1, 10, "color", 7.5), fid(0.1, 40, "", 6.0), fid(0.1, 40, "color", 8.0),
               fid(0.01, 10, "", 9.0), fid(0.01, 10, "color", 7.5), fid(0.01, 40, "", 3.0)]
    tmp_path.joinpath("augment.json").write_text(json.dumps(
        {"arms": [run(0, 0.20, 0.18), run(1, 0.22, 0.21), {**run(0, 0.5, 0.9), "overrides": ["diffaug="]}],
         "diffaug": diffaug}))   # a run with other settings stays out of the row
    monkeypatch.setattr(summary, "RECORDS", tmp_path)
    gan, one_percent, ten_percent = summary.augment_rows()
    assert "19.50 ± 2.12 (2 seeds)" in gan and "classic augmentation alone 21.00 ± 1.41" in gan and "| met |" in gan
    assert "DCGAN on 1 % of mnist" in one_percent and "9.00 -> 7.50 (10 steps)" in one_percent
    assert "met (lowers)" in one_percent
    assert "DCGAN on 10 % of mnist" in ten_percent and "6.00 -> 8.00 (40 steps)" in ten_percent
    assert "**not met** (does not lower)" in ten_percent
    tmp_path.joinpath("augment.json").write_text(json.dumps({"arms": [run(0, 0.18, 0.20)]}))
    assert "**not met** (+2.00)" in summary.augment_rows()[0]


def test_translate_restore_and_provenance_rows_follow_their_bars(tmp_path, monkeypatch):
    def pair(a, b, acc_ab, base_ab, seed=0):
        return {"pair": f"{a}-{b}", "domain_a": a, "domain_b": b, "recipe": "r", "overrides": [],
                "machine": "test cpu", "seed": seed,
                "command": f"translate --pairs {a}-{b} --first-seed {seed} --seeds 1",
                "scores": {"accuracy_ab": acc_ab, "baseline_ab": base_ab, "accuracy_ba": 0.5, "baseline_ba": 0.6}}
    tmp_path.joinpath("translate.json").write_text(json.dumps([pair("mnist", "mnist-m", 0.91, 0.70),
                                                               pair("mnist", "digits", 0.6, 0.4),
                                                               pair("mnist", "digits", 0.6, 0.4, seed=1)]))

    def fit(cell, seed, es, best, size=8):
        return {"image": "a", "size": size, "cell": cell, "method": "dip", "seed": seed, "recipe": "cpu_x",
                "psnr_es": es, "psnr_best": best, "hardware": "test cpu"}
    rows = [fit("text", 0, 30.0, 30.2), fit("text", 1, 32.0, 32.2), fit("noise25", 0, 27.0, 28.0),
            fit("noise25", 1, 27.2, 28.2), fit("noise25", 1, 20.0, 28.2),   # a repeated fit: the first counts
            fit("text", 0, 98.0, 99.0, size=16),                              # another size: a row of its own
            {**fit("text", 0, 50.0, 60.0), "overrides": ["iterations=9"]},    # not the recipe as shipped: left out
            {"image": "a", "size": 8, "cell": "text", "method": "biharmonic", "psnr": 30.5},
            {"image": "a", "size": 8, "cell": "noise25", "method": "cbm3d", "psnr": 27.5},
            {"image": "a", "size": 16, "cell": "text", "method": "biharmonic", "psnr": 99.0}]
    tmp_path.joinpath("restore_rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp_path.joinpath("provenance.json").write_text(json.dumps({"machine": "test cpu", "command": "prov",
        "per_image": {"28 x 28 gray (DCGAN samples)": {"sign_s": {"p95": 0.25, "median": 0.1}, "added_bytes": 2048}}}))
    monkeypatch.setattr(summary, "RECORDS", tmp_path)
    mnistm, digits_to_mnist, mnist_to_digits = (next(r for r in summary.translate_rows() if name in r) for name in
                                                ("mnist -> mnist-m", "digits -> mnist", "mnist -> digits"))
    assert "91.0 (1 seed; untranslated 70.0)" in mnistm and "| met |" in mnistm   # +21 points and over 90 %
    assert "50.0" in digits_to_mnist and "**not met** (-10.0 points)" in digits_to_mnist
    assert "beats untranslated (+20.0 points)" in mnist_to_digits and "(2 seeds;" in mnist_to_digits
    # the command of all the seeds a row averages
    assert "translate.py --recipe r --pairs mnist-digits --first-seed 0 --seeds 2" in mnist_to_digits
    assert "--first-seed 0 --seeds 1" in mnistm
    text, text16, noise, es = summary.restore_rows()
    assert "31.00 ± 1.41 (2 fits)" in text and "biharmonic 30.50" in text and "met (+0.50)" in text
    assert "8 px" in text
    assert "`python benchmarks/restore.py --size 8 --images a --cells text --seeds 2`" in text   # this row's fits
    assert "98.00 (1 fit)" in text16 and "biharmonic 99.00" in text16 and "**not met** (-1.00)" in text16
    assert "16 px" in text16
    assert "`python benchmarks/restore.py --size 16 --images a --cells text --seeds 1`" in text16
    assert "cbm3d 27.50" in noise and "met (-0.40)" in noise   # within the 0.5 dB allowed
    assert "0.68 (mean of 5 fits; 8 px: 0.60 over 4, 16 px: 1.00 over 1; worst 1.00)" in es and "**not met**" in es
    # the pooled rule cites the runs of both sizes
    assert es.endswith("`python benchmarks/restore.py --size 8 --images a --cells text,noise25 --seeds 2`; "
                       "`python benchmarks/restore.py --size 16 --images a --cells text --seeds 1` |")
    (sign,) = summary.provenance_rows()
    assert "0.250 (median 0.100, +2.0 KiB a file)" in sign and "**not met**" in sign


def test_detect_rows_check_the_own_generator_and_the_spectrum_baseline(tmp_path, monkeypatch):
    def cell(row, own, held, spectrum):
        def by_source(values):
            return {"clean": {s: {"ap": values[0] if s == row else values[1]} for s in ("dcgan", "wgangp")}}
        return {"dataset": "mnist", "row": row, "seed": 0, "machine": "test cpu",
                "results": {"CNN": by_source((own, held)), "spectrum LR": by_source((0.9, spectrum))}}
    record = {"cells": [cell("dcgan", 0.995, 0.80, 0.70), cell("wgangp", 0.999, 0.90, 0.70)]}
    tmp_path.joinpath("detect.json").write_text(json.dumps(record))
    monkeypatch.setattr(summary, "RECORDS", tmp_path)
    (row,) = summary.detect_rows()
    assert "lowest 99.50 / 85.0 (2 detectors, 1 seed)" in row and "spectrum baseline (70.0)" in row
    assert "own met; held-out met" in row
    record["cells"][0]["results"]["CNN"]["clean"]["dcgan"]["ap"] = 0.98
    record["cells"][0]["results"]["spectrum LR"]["clean"]["wgangp"]["ap"] = 0.95
    record["cells"][1]["results"]["spectrum LR"]["clean"]["dcgan"]["ap"] = 0.95
    tmp_path.joinpath("detect.json").write_text(json.dumps(record))
    assert "own **not met**; held-out **not met**" in summary.detect_rows()[0]
