"""Commands for adversarial examples: `gankit attack`, `gankit robust-train`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console()

ROBUST_TRAIN_EPILOG = """Examples:

* `gankit robust-train --data-root ../shared/data` : an undefended MNIST CNN, 1 epoch

* `gankit robust-train --recipe madry_pgd_mnist --device cuda` : Madry et al. 2018 as published

* `gankit robust-train --recipe goodfellow_fgsm_mnist --set epochs=2` : a recipe with an override

* `gankit robust-train --defence fgsm --eps 0.25 --epochs 2` : Goodfellow et al. 2015 adversarial training

* `gankit robust-train --defence pgd --eps 0.3 --pgd-steps 40 --pgd-alpha 0.01 --epochs 83 --device cuda` :
  Madry et al. 2018 (100k steps of batch 50)

* `gankit robust-train --defence pgd --width 0.5 --hidden 512 --pgd-steps 7 --epochs 2 --eps-warmup 0.3
  --max-minutes 70` : what fits an hour of one CPU core

* `gankit robust-train --resume runs/adv-pgd-mnist-20261204-101500` : continue a stopped run
"""


def robust_train(
    recipe: Annotated[Optional[str], typer.Option(help="Recipe name (see `gankit recipes`) or YAML path; the "
                                                       "flags below override it.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), "
                                                      "e.g. --set lr_schedule=constant.")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="mnist or fashion-mnist [default: mnist].")] = None,
    defence: Annotated[Optional[str], typer.Option(help="none (clean training), fgsm (Goodfellow 2015) or pgd "
                                                        "(Madry 2018) [default: none].")] = None,
    eps: Annotated[Optional[float], typer.Option(help="Linf radius of the training attack, in [0, 1] pixel units "
                                                      "[default: 0.3].")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Passes over the training set (may be fractional) "
                                                         "[default: 1].")] = None,
    arch: Annotated[Optional[str], typer.Option(help="madry (conv32-conv64-fc1024, Madry et al.) or small "
                                                     "[default: madry].")] = None,
    width: Annotated[Optional[float], typer.Option(help="madry only: channel multiplier (1 = 32/64 channels as "
                                                        "published).")] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Hidden fc units (default: 1024 for madry, 128 for small).")] = None,
    pgd_steps: Annotated[Optional[int], typer.Option(help="PGD steps per training batch [default: 40].")] = None,
    pgd_alpha: Annotated[Optional[float], typer.Option(help="PGD step size [default: 0.01].")] = None,
    fgsm_mix: Annotated[Optional[float], typer.Option(help="Weight of the clean loss in FGSM training (0.5 in "
                                                           "the paper).")] = None,
    eps_warmup: Annotated[Optional[float], typer.Option(help="Epochs over which eps ramps up from 0.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Images per step [default: 50].")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (cosine decay to 0) [default: 0.001].")] = None,
    n_train: Annotated[Optional[int], typer.Option(help="Train on a random subset of this size.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop and checkpoint after this much wall time.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed: weights, batches, random starts [default: 0].")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1, mps ... [default: cpu].")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run folder (default: runs/adv-DEFENCE-DATASET-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder from its last checkpoint.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a classifier on MNIST or Fashion-MNIST, clean or adversarially (FGSM or PGD).

    Prints the clean test accuracy; attack the result with `gankit attack RUN`.
    """
    import torch

    from gankit.attacks.train import load_robust_config, read_robust_config, train_classifier
    from gankit.cli.train import stopped
    from gankit.config import override
    from gankit.errors import GankitError

    if threads is not None:
        if threads < 1:
            raise GankitError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    flags = dict(dataset=dataset, defence=defence, eps=eps, epochs=epochs, arch=arch, width=width, hidden=hidden,
                 pgd_steps=pgd_steps, pgd_alpha=pgd_alpha, fgsm_mix=fgsm_mix, eps_warmup=eps_warmup,
                 batch_size=batch_size, lr=lr, n_train=n_train, max_minutes=max_minutes, seed=seed, device=device,
                 data_root=None if data_root is None else str(data_root))
    overrides = [override(k, v) for k, v in flags.items() if v is not None] + list(set_ or [])
    if resume is not None:
        if recipe:
            raise GankitError("--resume RUN continues that run: give no --recipe with it")
        cfg = read_robust_config(resume, overrides)
        out = resume
    else:
        cfg = load_robust_config(recipe, overrides)
    result = train_classifier(cfg, out=out, resume=resume is not None, progress=progress)
    console.print(f"step {result.step}, clean test accuracy {100 * result.test_accuracy:.2f} % "
                  f"on {min(cfg.eval_n, 10000)} test images; checkpoint [cyan]{result.checkpoint}")
    if not result.finished:
        stopped(f"gankit robust-train --resume {result.checkpoint.parent.parent}")


ATTACK_EPILOG = """Examples:

* `gankit attack runs/adv-pgd-mnist --attack pgd --eps 0.3` : PGD-40 at eps 0.3 on 1,000 test images

* `gankit attack runs/adv-none-mnist -a fgsm -a pgd --eps 0.05 --eps 0.1 --eps 0.2 --eps 0.3 -n 10000`

* `gankit attack runs/adv-pgd-mnist -a pgd --steps 100 --restarts 5 --param alpha=0.01`

* `gankit attack runs/adv-none-mnist -a deepfool -a cw --eps 1 --eps 2 --param search_steps=3`

* `gankit attack backbone:mnist -a pgd --eps 0.1` : gankit's own MNIST feature backbone

Attacks: fgsm, pgd, apgd (norm-bounded); cw, deepfool (minimum-norm: robust at eps means
the smallest perturbation found is larger than eps). Any checkpoint whose JSON describes a
classifier can be attacked (see gankit.attacks.adapters).
"""


def _parse_params(items: list[str]) -> dict:
    import json

    from gankit.errors import GankitError
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GankitError(f"--param expects NAME=VALUE, got {item!r}")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value  # a bare string such as L2
    return params


def attack(
    checkpoint: Annotated[str, typer.Argument(help="A run folder, a ckpt-*.json, or backbone:mnist / backbone:fashion-mnist.")],
    attack_: Annotated[Optional[list[str]], typer.Option("--attack", "-a", help="Attack (repeatable): fgsm, pgd, apgd, cw, deepfool.")] = None,
    eps: Annotated[Optional[list[float]], typer.Option(help="Perturbation budget (repeatable), in [0, 1] pixel units.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Iterations of iterative attacks (default: each attack's).")] = None,
    norm: Annotated[Optional[str], typer.Option(help="Linf or L2 for pgd, apgd, deepfool (default Linf; deepfool L2).")] = None,
    restarts: Annotated[Optional[int], typer.Option(help="Random restarts for pgd / apgd.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="Other attack argument NAME=VALUE (repeatable), e.g. alpha=0.01.")] = None,
    n: Annotated[int, typer.Option("-n", help="Test images to attack (the first n of the test split).")] = 1000,
    dataset: Annotated[Optional[str], typer.Option(help="Test set (default: the one the checkpoint was trained on).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding mnist/ and fashion-mnist/.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per attack batch.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the random starts.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda, ...")] = "cpu",
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Report folder (default: CHECKPOINT_RUN/robustness, "
                                                "or robustness-NAME for backbones).")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Attack a classifier and print and save a robustness report.

    Clean accuracy, then per attack and eps: robust accuracy, attack success rate and the mean
    perturbation norm of the successful examples. The report folder gets report.json, a
    robust-accuracy-against-eps curve and a clean / adversarial / perturbation image grid per attack.
    """
    from rich.table import Table

    from gankit.attacks.adapters import attack_target
    from gankit.attacks.report import robustness_report
    from gankit.data import load_dataset
    from gankit.errors import GankitError

    if n < 1:
        raise GankitError(f"-n must be at least 1, got {n}")
    if batch_size < 1:
        raise GankitError(f"--batch-size must be at least 1, got {batch_size}")
    target = attack_target(checkpoint, device, dataset, out)
    model, dataset, out = target.model, target.dataset, target.report_dir
    test = load_dataset(dataset, root=data_root, split="test")
    device = next(model.parameters()).device
    x = test.x[:n].float().div(255).to(device)
    y = test.y[:n].to(device)
    params = _parse_params(param or [])
    params.update({k: v for k, v in (("steps", steps), ("norm", norm), ("restarts", restarts)) if v is not None})
    report = robustness_report(model, x, y, attacks=attack_ or ["pgd"], eps=eps or [0.3], params=params,
                               seed=seed, batch_size=batch_size, out=out, progress=progress)
    table = Table(title=f"{checkpoint} on {len(x)} {dataset} test images: clean accuracy "
                        f"{100 * report['clean_accuracy']:.2f} %")
    for column in ("attack", "eps", "robust acc %", "success %", "mean Linf", "mean L2", "seconds"):
        table.add_column(column, justify="left" if column == "attack" else "right")
    for name, entry in report["attacks"].items():
        for e, row in entry["by_eps"].items():
            table.add_row(f"{name} ({entry['norm']})", e, f"{100 * row['robust_accuracy']:.2f}",
                          f"{100 * row['success_rate']:.2f}", f"{row['mean_linf']:.4f}", f"{row['mean_l2']:.3f}",
                          f"{row['seconds']:.1f}")
    console.print(table)
    console.print(f"report: [cyan]{out / 'report.json'}[/], curve [cyan]{out / 'robust_accuracy.png'}")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
    app.command(name="attack", epilog=ATTACK_EPILOG)(attack)
    app.command(name="robust-train", epilog=ROBUST_TRAIN_EPILOG)(robust_train)
