"""How well the translation works, while it trains (the CyCADA protocol), and pictures of it.

For each direction whose source domain has labels (the digit domains): a classifier trained only
for evaluation, on the target domain's labelled training images, classifies translated source
*test* images; its accuracy against their source labels is the translated accuracy. The same
classifier on untranslated source images is the no-translation baseline, and on the target's own
test images the ceiling. Besides: the cycle-reconstruction L1 on test images, and the FID between
translated and real target test images on that classifier's features (the target domain's own
backbone: mnist-m has no shipped one). Nothing here trains the translator or chooses a checkpoint.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor

from gankit.checkpoint import atomic_write_text
from gankit.loop import LoopSettings, Trainer
from gankit.metrics.backbones import DomainClassifier
from gankit.metrics.quality import fid
from gankit.runs import MetricsLog
from gankit.translate.domains import Domain
from gankit.translate.game import CycleGANGame, to_float
from gankit.viz import read_metrics, save_image_grid

DIRECTIONS = {"ab": ("a", "b"), "ba": ("b", "a")}
NOTHING_DONE = 0.02     # mean |G(x) - x| in [-1, 1] units below which a translation changed almost nothing


def train_eval_classifier(domain: Domain, steps: int, seed: int) -> DomainClassifier:
    """A DomainClassifier trained on ``domain``'s labelled images with the MNIST backbone's recipe,
    for about ``steps`` steps (whole epochs)."""
    from gankit.metrics.train_backbones import BackboneGame, load_backbone_config
    batch = min(128, len(domain))
    epochs = max(1, math.ceil(steps / math.ceil(len(domain) / batch)))
    cfg = load_backbone_config("mnist", [f"epochs={epochs}", f"seed={seed}", f"batch_size={batch}"])
    game = BackboneGame(cfg, images=(domain.x.cpu(), domain.y))
    Trainer(game, None, LoopSettings(steps=game.total, log_every=game.steps_per_epoch)).run(progress=False)
    return game.model.to(memory_format=torch.contiguous_format).eval().requires_grad_(False)


@torch.no_grad()
def classify(model: DomainClassifier, images: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
    """(predicted classes, penultimate features) of images in [-1, 1] or uint8."""
    x = to_float(images) if images.dtype == torch.uint8 else images
    preds, feats = [], []
    for i in range(0, len(x), batch):
        part = x[i:i + batch]
        preds.append(model(part).argmax(1))
        feats.append(model.features(part))
    return torch.cat(preds), torch.cat(feats)


class TranslationScores:
    """A loop callback: the scores every ``eval_every`` steps and at the end, logged to RUN/scores.jsonl."""

    def __init__(self, game: CycleGANGame, run_dir: Path, step: int = 0):
        self.game, self.run_dir = game, Path(run_dir)
        cfg = game.cfg
        self.sources = {d: (game.test_a if d == "ab" else game.test_b) for d in DIRECTIONS}
        self.targets = {d: (game.test_b if d == "ab" else game.test_a) for d in DIRECTIONS}
        trains = {"a": game.train_a, "b": game.train_b}
        self.classifiers: dict[str, DomainClassifier] = {}
        self.fixed: dict[str, dict] = {}
        for direction, (src, tgt) in DIRECTIONS.items():
            source, target = self.sources[direction], self.targets[direction]
            if source.y is None or trains[tgt].y is None:
                continue   # an unlabelled domain: no accuracy, the other scores still apply
            clf = self._classifier(tgt, trains[tgt], cfg)
            self.classifiers[direction] = clf
            base, _ = classify(clf, source.x)
            own, target_feats = classify(clf, target.x)
            self.fixed[direction] = {"baseline": float((base == source.y).float().mean()),
                                     "ceiling": float((own == target.y).float().mean()) if target.y is not None
                                     else None, "target_feats": target_feats}
        self.log = MetricsLog(self.run_dir / "scores.jsonl", step if step else None)
        self.evaluations = sum(1 for _ in read_metrics(self.run_dir / "scores.jsonl"))

    def _classifier(self, side: str, domain: Domain, cfg) -> DomainClassifier:
        """The target domain's evaluation classifier, trained once and kept in RUN/eval/ (resume reuses it)."""
        from safetensors.torch import load_file, save_file
        path = self.run_dir / "eval" / f"classifier_{side}.safetensors"
        if path.is_file():
            record = json.loads(path.with_suffix(".json").read_text())
            model = DomainClassifier(**record["model"])
            model.load_state_dict(load_file(str(path)))
            return model.eval().requires_grad_(False)
        model = train_eval_classifier(domain, cfg.classifier_steps, cfg.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
        atomic_write_text(path.with_suffix(".json"), json.dumps({"model": model.config(), "domain": domain.name,
                                                                   "steps": cfg.classifier_steps}))
        return model

    def __call__(self, step: int, trainer) -> None:
        if step % self.game.cfg.eval_every and not trainer.ending:
            return
        row, warnings = {"step": step}, []
        for direction, (src, tgt) in DIRECTIONS.items():
            source = self.sources[direction]
            back = "ba" if direction == "ab" else "ab"
            fake = self.game.translate(source.x, direction)
            cycle = self.game.translate(fake, back)
            row[f"cycle_l1_{direction}"] = float((cycle - to_float(source.x)).abs().mean())
            change = float((fake - to_float(source.x)).abs().mean())
            row[f"change_{direction}"] = change
            if direction not in self.classifiers:
                continue
            fixed = self.fixed[direction]
            preds, feats = classify(self.classifiers[direction], fake)
            acc = float((preds == source.y).float().mean())
            row.update({f"accuracy_{direction}": acc, f"baseline_{direction}": fixed["baseline"],
                        f"ceiling_{direction}": fixed["ceiling"],
                        f"fid_{direction}": fid(fixed["target_feats"], feats)})
            warnings += self._alarms(direction, acc, change, fixed)
        if warnings:
            row["warning"] = " ".join(warnings)
            for w in warnings:
                if trainer.bar is not None:
                    trainer.bar.console.print(f"[yellow]warning:[/] {w}")
        self.log.append([row])
        self.evaluations += 1
        plot_scores(self.run_dir / "scores.jsonl", self.run_dir / "scores.png")

    def _alarms(self, direction: str, acc: float, change: float, fixed: dict) -> list[str]:
        if self.evaluations < 1:   # the first evaluation comes before the translator has learned anything
            return []
        name = f"{direction[0].upper()} -> {direction[1].upper()}"
        out = []
        if acc < 0.15:
            out.append(f"{name}: translated accuracy {acc:.1%} is near chance (10 %): the translation has collapsed "
                       f"or inverted (look at the sample strips)")
        if change < NOTHING_DONE and fixed["ceiling"] and fixed["baseline"] < fixed["ceiling"] - 0.1:
            out.append(f"{name}: the output is almost the input (mean change {change:.3f}) while the domains differ: "
                       f"the generator does nothing")
        return out


class SampleStrips:
    """A loop callback: A, A->B, A->B->A and B, B->A, B->A->B rows from fixed test images."""

    def __init__(self, game: CycleGANGame, run_dir: Path, every: int, n: int = 8):
        self.game, self.every = game, every
        self.folder = Path(run_dir) / "samples"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.a, self.b = game.test_a.x[:n], game.test_b.x[:n]

    def __call__(self, step: int, trainer) -> None:
        if step % self.every and not trainer.ending:
            return
        g = self.game
        a, b = to_float(self.a), to_float(self.b)
        ab, ba = g.translate(a, "ab"), g.translate(b, "ba")
        rows = [a, ab, g.translate(ab, "ba"), b, ba, g.translate(ba, "ab")]
        save_image_grid(torch.cat(rows), self.folder / f"step_{step:07d}.png", nrow=len(a))


def plot_scores(log: Path, out: Path) -> None:
    """Translated accuracy (with its baseline and ceiling) and cycle L1 over the steps."""
    rows = read_metrics(log)
    if not rows:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (acc, cyc) = plt.subplots(1, 2, figsize=(10, 3.5))
    steps = [r["step"] for r in rows]
    for direction, colour in (("ab", "tab:blue"), ("ba", "tab:orange")):
        label = f"{direction[0].upper()} -> {direction[1].upper()}"
        if f"accuracy_{direction}" in rows[-1]:
            acc.plot(steps, [100 * r[f"accuracy_{direction}"] for r in rows], color=colour, label=f"{label} translated")
            acc.axhline(100 * rows[-1][f"baseline_{direction}"], color=colour, linestyle=":",
                        label=f"{label} untranslated")
            if rows[-1].get(f"ceiling_{direction}") is not None:
                acc.axhline(100 * rows[-1][f"ceiling_{direction}"], color=colour, linestyle="--", linewidth=0.8,
                            label=f"{label} target's own test images")
        cyc.plot(steps, [r[f"cycle_l1_{direction}"] for r in rows], color=colour, label=label)
    acc.set(xlabel="step", ylabel="accuracy (%)", title="translated accuracy (target-domain classifier)")
    cyc.set(xlabel="step", ylabel="mean |x - G(G(x))|", title="cycle reconstruction L1 (test images)")
    for ax in (acc, cyc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
