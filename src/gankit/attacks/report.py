"""The robustness report: clean and robust accuracy per attack and per eps, with pictures.

    >>> from gankit.attacks.report import robustness_report
    >>> report = robustness_report(model, x, y, attacks=["fgsm", "pgd"], eps=[0.1, 0.2, 0.3], out="report/")

For each norm-bounded attack (FGSM, PGD, APGD) and each eps the attack is run on
all images; for each minimum-norm attack (CW, DeepFool) it is run once and "robust
at eps" means: classified right and either not fooled or fooled only by a
perturbation larger than eps (in the attack's own norm). Per attack and eps the
report gives

* robust accuracy: fraction of all images still classified right;
* success rate: fraction of the images classified right on clean input that the
  attack makes wrong;
* mean perturbation norm (Linf and L2) over the successful adversarial examples;
* the wall time of the attack.

``out`` receives ``report.json``, ``robust_accuracy.png`` (accuracy against eps,
one curve per attack) and ``examples_<attack>.png`` (rows: clean images,
adversarial images, perturbations scaled to the full gray range; mid-gray = no
change).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from gankit.progress import ProgressBar
from torch import Tensor, nn

from gankit.attacks.base import ATTACKS, Attack, AttackError, lp_norm
from gankit.checkpoint import atomic_write_bytes, atomic_write_text

__all__ = ["make_attack", "run_attack", "robustness_report", "save_curve", "save_examples"]


def make_attack(name: str, eps: float | None, seed: int, params: dict[str, Any] | None = None) -> Attack:
    """Build registered attack ``name``; ``params`` keys its constructor does not take are ignored."""
    import inspect
    if name not in ATTACKS:
        raise AttackError(f"unknown attack {name!r}; choose from {', '.join(sorted(ATTACKS))}")
    cls = ATTACKS[name]
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in (params or {}).items() if k in accepted}
    if cls.bounded:
        kwargs["eps"] = eps
    return cls(seed=seed, **kwargs)


def run_attack(attack: Attack, model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500,
               target: Tensor | None = None) -> Tensor:
    """``attack`` over ``x`` in batches (each batch seeded ``attack.seed + batch index``)."""
    base_seed = attack.seed
    parts = []
    try:
        for b, i in enumerate(range(0, len(x), batch_size)):
            if base_seed is not None:
                attack.seed = base_seed + b
            t = None if target is None else target[i:i + batch_size]
            parts.append(attack(model, x[i:i + batch_size], y[i:i + batch_size], target=t))
    finally:
        attack.seed = base_seed
    return torch.cat(parts)


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    was = model.training
    model.eval()
    pred = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    model.train(was)
    return pred


def _row(correct: Tensor, robust: Tensor, delta: Tensor, seconds: float) -> dict[str, float]:
    """One table row from per-image clean correctness, robustness and perturbations."""
    fooled = correct & ~robust
    linf, l2 = lp_norm(delta, "Linf"), lp_norm(delta, "L2")
    n_ok = int(correct.sum())
    return {"robust_accuracy": robust.float().mean().item(),
            "success_rate": fooled.sum().item() / n_ok if n_ok else 0.0,
            "mean_linf": linf[fooled].mean().item() if fooled.any() else 0.0,
            "mean_l2": l2[fooled].mean().item() if fooled.any() else 0.0,
            "seconds": round(seconds, 2)}


def robustness_report(model: nn.Module, x: Tensor, y: Tensor, *, attacks: Sequence[str], eps: Sequence[float],
                      params: dict[str, Any] | None = None, seed: int = 0, batch_size: int = 500,
                      out: str | Path | None = None, examples: int = 8, progress: bool = False) -> dict:
    """Attack ``model`` on images ``x`` (in [0, 1]) with labels ``y``; return (and save) the report dict."""
    if not attacks:
        raise AttackError("attacks is empty: name at least one of " + ", ".join(sorted(ATTACKS)))
    eps = sorted(float(e) for e in eps)
    if not eps or eps[0] < 0:
        raise AttackError(f"eps must be a non-empty list of numbers >= 0, got {eps}")
    correct = _predict(model, x, batch_size) == y
    report: dict[str, Any] = {"n": len(x), "clean_accuracy": correct.float().mean().item(), "eps": eps,
                              "seed": seed, "params": params or {}, "attacks": {}}
    shown: dict[str, tuple[Tensor, float | None]] = {}
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise AttackError(f"unknown attack {unknown[0]!r}; choose from {', '.join(sorted(ATTACKS))}")
    _check_params(params or {}, attacks)
    jobs = [(name, e) for name in attacks for e in (eps if ATTACKS[name].bounded else [None])]
    with ProgressBar(len(jobs), enabled=progress, label="attacking", transient=True) as bar:
        for name, e in jobs:
            attack = make_attack(name, e, seed, params)
            bar.label(f"{name} eps={e}" if e is not None else name)
            start = time.perf_counter()
            x_adv = run_attack(attack, model, x, y, batch_size)
            seconds = time.perf_counter() - start
            still = _predict(model, x_adv, batch_size) == y
            delta = x_adv - x
            entry = report["attacks"].setdefault(name, {"norm": attack.norm, "bounded": attack.bounded,
                                                        "config": _config(attack), "by_eps": {}})
            if e is not None:
                entry["by_eps"][f"{e:g}"] = _row(correct, correct & still, delta, seconds)
            else:  # minimum-norm attack: threshold its perturbation norms at each eps
                size = lp_norm(delta, attack.norm)
                entry["overall"] = _row(correct, correct & still, delta, seconds)
                for t in eps:
                    entry["by_eps"][f"{t:g}"] = _row(correct, correct & (still | (size > t)), delta, seconds)
            shown[name] = (x_adv, e)
            bar.advance()
    if out is not None:
        out = Path(out)
        save_curve(report, out / "robust_accuracy.png")
        for name, (x_adv, e) in shown.items():
            save_examples(x[:examples], x_adv[:examples], out / f"examples_{name}.png")
            report["attacks"][name]["examples"] = f"examples_{name}.png"
        atomic_write_text(out / "report.json", json.dumps(report, indent=1))
    return report


def _check_params(params: dict[str, Any], attacks: Sequence[str]) -> None:
    """Every parameter must be an argument of at least one of the attacks (catches typos)."""
    import inspect
    accepted = {p for a in attacks for p in inspect.signature(ATTACKS[a].__init__).parameters} - {"self", "eps", "seed"}
    for key in params:
        if key not in accepted:
            raise AttackError(f"attack parameter {key!r} is not an argument of {', '.join(attacks)}; "
                              f"they take: {', '.join(sorted(accepted))}")


def _config(attack: Attack) -> dict:
    return {k: v for k, v in vars(attack).items() if not k.startswith("_") and k != "seed"}


def save_curve(report: dict, path: Path) -> None:
    """Robust accuracy against eps, one line per attack, the clean accuracy dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gankit.viz import _figure_png
    fig, ax = plt.subplots(figsize=(5, 3.5))
    eps = report["eps"]
    for name, entry in report["attacks"].items():
        acc = [100 * entry["by_eps"][f"{e:g}"]["robust_accuracy"] for e in eps]
        ax.plot(eps, acc, marker="o", label=f"{name} ({entry['norm']})")
    ax.axhline(100 * report["clean_accuracy"], color="gray", linestyle="--", label="clean")
    ax.set_xlabel("eps")
    ax.set_ylabel("robust accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"robust accuracy on {report['n']} images", fontsize=9)
    atomic_write_bytes(Path(path), _figure_png(fig))


def save_examples(x: Tensor, x_adv: Tensor, path: Path) -> None:
    """Three rows: clean, adversarial, perturbation (each scaled by its own max |delta|)."""
    from gankit.viz import save_image_grid
    delta = x_adv - x
    scale = lp_norm(delta, "Linf").clamp_min(1e-12).reshape(-1, *([1] * (x.ndim - 1)))
    rows = torch.cat([x * 2 - 1, x_adv * 2 - 1, delta / scale])
    save_image_grid(rows.detach().cpu(), Path(path), nrow=len(x))
