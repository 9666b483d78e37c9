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
