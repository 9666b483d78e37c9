"""The translation benchmark's page: seeds averaged per direction, each direction judged against its bar."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import translate  # noqa: E402


def _row(pair: str, seed: int, ab: tuple[float, float], ba: tuple[float, float]) -> dict:
    a, b = translate.PAIRS[pair]
    scores = {}
    for d, (accuracy, baseline) in (("ab", ab), ("ba", ba)):
        scores.update({f"accuracy_{d}": accuracy, f"baseline_{d}": baseline, f"ceiling_{d}": 0.99,
                       f"cycle_l1_{d}": 0.05, f"fid_{d}": 100.0})
    return {"pair": pair, "domain_a": a, "domain_b": b, "seed": seed, "recipe": "cyclegan_cpu", "overrides": [],
            "steps": 5000, "finished": True, "wall_seconds": 60.0, "machine": "test cpu", "scores": scores,
            "command": f"python benchmarks/translate.py --pairs {pair} --first-seed {seed} --seeds 1"}


def test_seeds_are_averaged_and_each_direction_meets_or_misses_its_bar(tmp_path):
    rows = [_row("mnist-digits", 0, (0.60, 0.40), (0.70, 0.20)), _row("mnist-digits", 1, (0.70, 0.40), (0.70, 0.30)),
            _row("mnist-mnistm", 0, (0.91, 0.95), (0.50, 0.20)), _row("mnist-mnistm", 1, (0.93, 0.97), (0.60, 0.20))]
    page = translate.markdown(rows, images=tmp_path)
    assert "| mnist -> digits | `cyclegan_cpu` | 2 | 5000 | 65.0 ± 7.1 % | 40.0 ± 0.0 % |" in page
    assert "- mnist -> digits (`cyclegan_cpu`): translation beats the no-translation baseline (+25.0 points)." in page
    assert "- mnist-m -> mnist (`cyclegan_cpu`): translation beats the no-translation baseline (+35.0 points)." in page
    verdict = next(line for line in page.splitlines() if line.startswith("- mnist -> mnist-m"))
    assert "does **not** beat the no-translation baseline by at least 20 points (-4.0 points)" in verdict
    assert "cannot happen under this protocol" in verdict and "already reads 96.0 %" in verdict
    assert verdict.endswith("reaches 90 % (92.0 %).")


def test_a_reachable_bar_gets_no_excuse(tmp_path):
    rows = [_row("mnist-mnistm", 0, (0.85, 0.55), (0.50, 0.20))]
    verdict = next(line for line in translate.markdown(rows, images=tmp_path).splitlines()
                   if line.startswith("- mnist -> mnist-m"))
    assert "beats the no-translation baseline by at least 20 points (+30.0 points)" in verdict
    assert "cannot happen" not in verdict and "does **not** reach 90 % (85.0 %)" in verdict
