"""The augment benchmark's DiffAugment page: several run lengths of one share are compared, only where both arms ran."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import augment as bench  # noqa: E402


def _row(fraction, steps, policy, fid):
    return {"dataset": "mnist", "fraction": fraction, "steps": steps, "diffaug": policy, "fid": fid}


def test_longer_runs_say_how_each_arm_and_the_gap_moved():
    rows = [_row(0.01, 3000, "", 240.0), _row(0.01, 3000, "color", 340.0),
            _row(0.01, 12000, "", 170.0), _row(0.01, 12000, "color", 150.0),
            _row(0.1, 3000, "", 250.0), _row(0.1, 3000, "color", 330.0),          # one length only
            _row(1.0, 3000, "", 260.0), _row(1.0, 3000, "color", 350.0), _row(1.0, 12000, "", 200.0)]   # one arm
    lines = bench.longer_runs(rows)
    said = [line for line in lines if line.startswith("- ")]
    assert said == ["- mnist, 1 %, 3000 -> 12000 steps: FID without DiffAugment 240.00 -> 170.00, with it "
                    "340.00 -> 150.00; the gap goes from +100.00 to -20.00."]
    assert bench.longer_runs(rows[4:]) == []


def _arms_row(seed, gan_error, overrides=()):
    arms = {arm: {"test_error_rate": gan_error if "gan" in arm else 0.1, "test_images": 100, "generated_share": 0.0,
                  "seconds": 60.0} for arm in bench.ARMS}
    return {"dataset": "mnist", "labels": 100, "seed": seed, "recipe": "augment_cpu", "overrides": list(overrides),
            "arms": arms, "gan_agreement": {"agreement": 1 - gan_error, "judge": "gankit mnist backbone"},
            "gan_steps": 10, "gan_seconds": 60.0, "train_seconds": 120.0, "wall_seconds": 130.0,
            "machine": "test cpu", "command": "python benchmarks/augment.py arms" + "".join(f" --set {o}" for o in overrides)}


def test_a_run_with_other_settings_is_kept_apart_from_the_recipes(tmp_path, monkeypatch):
    record = tmp_path / "augment.json"
    key = ("dataset", "labels", "seed", "recipe")
    for row in (_arms_row(0, 0.3), _arms_row(1, 0.5), _arms_row(0, 0.2, ["diffaug="])):
        bench.add_row("arms", row, key, record)
    bench.add_row("arms", _arms_row(0, 0.1, ["diffaug="]), key, record)   # the same settings again: replaces
    rows = bench.read_record(record)["arms"]
    assert sorted((r["seed"], r["overrides"], r["arms"]["real+gan"]["test_error_rate"]) for r in rows) == [
        (0, [], 0.3), (0, ["diffaug="], 0.1), (1, [], 0.5)]
    assert bench.run_name("mnist", 100, 0, "augment_cpu", ["diffaug="]) != bench.run_name("mnist", 100, 0, "augment_cpu")

    bench.add_row("arms", _arms_row(2, 0.2, ["gan_steps=5"]), key, record)   # a seed the recipe has not run
    monkeypatch.setattr(bench, "semisup_beside", lambda dataset, labels: [])
    monkeypatch.setattr(bench, "IMAGES", tmp_path)
    # seed 0's per-class grid of the GAN with other settings; another arm list trains the same GAN
    assert bench.picture_name("mnist", 100, ["diffaug=", "arms=real"]) == bench.picture_name("mnist", 100, ["diffaug="])
    assert bench.picture_name("mnist", 100, ["arms=real"]) == bench.picture_name("mnist", 100) == "augment_mnist_100.png"
    (tmp_path / bench.picture_name("mnist", 100, ["diffaug="])).write_bytes(b"png")
    page = bench.markdown(bench.read_record(record))
    assert "![generated images per class, seed 0, diffaug=](img/augment_mnist_100_diffaug.png)" in page
    assert "### mnist, 100 labels (2 seed(s): 0, 1;" in page   # the recipe as shipped only
    assert "| real+gan | 40.00 ± 14.14 |" in page
    other = next(line for line in page.splitlines() if "| diffaug= |" in line)
    assert other.startswith("| mnist | 100 | `augment_cpu` | diffaug= | 0 | 90.0 / 70.0 | 10.00 / 10.00 | 10.00 / 10.00 "
                            "| 10.00 / 30.00 |")
    assert "| gan_steps=5 | 2 (shipped: none) | 80.0 / – |" in page   # nothing to compare with, and it says so
    # how often the GAN drew the class asked for, over the seeds of the recipe as shipped
    assert "asked for 60.0 ± 14.1 % of the time (seed(s) 0, 1; judged by the gankit mnist backbone" in page
