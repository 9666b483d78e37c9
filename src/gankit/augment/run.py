"""`gankit augment`: a conditional GAN trained on a labelled subset, then one classifier per arm, tested.

    RUN/config.yaml, meta.json   the settings and where they ran
    RUN/labelled.json            the labelled subset: its indices, per-class counts, where it came from
    RUN/gan/                     the class-conditional GAN's run (checkpoints, samples, loss curve)
    RUN/samples_per_class.png    one row of generated images per class
    RUN/arms/ARM/                each arm's classifier run; its checkpoint is what `gankit attack` and
                                 `gankit classify` read; result.json once tested
    RUN/results.json             every arm's test errors, beside each other, and how often the GAN's
                                 samples are the class asked for (mnist, fashion-mnist: gankit.augment.fidelity)

Each part is a run on the one loop: Ctrl-C and `--resume RUN` continue where it stopped, and a
finished part (the GAN, an arm) is never trained again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit import distributed
from gankit.augment.arms import ArmGame, test_errors
from gankit.augment.config import ARMS, AugmentConfig
from gankit.augment.data import LabelledData, load_labelled
from gankit.augment.fidelity import class_agreement
from gankit.checkpoint import atomic_write_text, list_checkpoints
from gankit.config import Config, load_config
from gankit.errors import GankitError
from gankit.loop import LoopSettings, Trainer
from gankit.runs import RunFolder, new_run_dir
from gankit.distributed import pick_device
from gankit.sampling import LoadedGenerator, load_generator
from gankit.train import train
from gankit.viz import save_image_grid

__all__ = ["AugmentResult", "gan_config", "run_augment"]


@dataclass
class AugmentResult:
    run_dir: Path
    arms: dict[str, dict]        # arm -> its result.json (test errors, seconds, ...)
    interrupted: bool = False    # stopped early (Ctrl-C): resume with --resume RUN
    gan_agreement: dict | None = None   # class_agreement of the GAN's samples; None for an image folder


def gan_config(cfg: AugmentConfig, data: LabelledData) -> Config:
    """The GAN recipe with this run's steps, seed, DiffAugment and device; its data is the labelled subset."""
    c, h, _ = data.train.sample_shape
    source = [f"data.name={cfg.dataset}"] if cfg.dataset != "folder" else \
        ["data.name=folder", f"data.path={cfg.folder}", f"data.image_size={h}", f"data.channels={c}"]
    overrides = [*source, f"train.steps={cfg.gan_steps}", f"train.seed={cfg.seed}", f"train.diffaug={cfg.diffaug}",
                 f"train.batch_size={min(64, len(data.train))}", "train.eval_every=0",
                 f"train.ckpt_every={max(1, cfg.gan_steps // 4)}", f"train.sample_every={max(1, cfg.gan_steps // 4)}",
                 f"train.device={cfg.device}", *cfg.gan_overrides]
    gan = load_config(cfg.gan_recipe, overrides)
    if gan.model.conditional == "none":
        raise GankitError(f"gan_recipe: {cfg.gan_recipe!r} is not class-conditional (model.conditional: none); "
                          f"the arms need images of a chosen class: use cgan_mnist or set model.conditional")
    return gan


def run_augment(cfg: AugmentConfig, *, run_dir: str | Path | None = None, resume: bool = False,
                progress: bool = True) -> AugmentResult:
    """Train the GAN, then every arm, into ``run_dir`` (new by default); test each arm once, at its end."""
    info = distributed.setup(cfg.device)
    path = Path(run_dir) if run_dir else new_run_dir(cfg.out_dir, f"{cfg.name}-{cfg.dataset}-{cfg.labels}-s{cfg.seed}")
    RunFolder.check(path, resume)
    data = load_labelled(cfg)   # bad input is named before any folder is made
    gan_cfg = gan_config(cfg, data)
    with RunFolder(path, resume=resume) as run:
        _record_subset(path, data, resume)   # first: a resume with other settings must change nothing
        run.write_config(cfg.to_dict())
        if not resume:
            run.write_meta(cfg.seed, info.device)
        G = _gan(gan_cfg, path / "gan", data, progress)
        if G is None:
            return AugmentResult(path, {}, interrupted=True)
        _per_class_grid(G, data, path / "samples_per_class.png")
        agreement = class_agreement(G, cfg.dataset)
        results: dict[str, dict] = {}
        names = cfg.arm_names
        if any(ARMS[a][2] for a in names) and "real" not in names:   # the filter is the real arm's classifier
            names = ["real", *names]
        for arm in sorted(names, key=lambda a: a != "real"):
            reference = _classifier(path / "arms" / "real") if ARMS[arm][2] else None
            result = _arm(cfg, arm, path / "arms" / arm, data, info, G, reference, progress)
            if result is None:
                return AugmentResult(path, results, interrupted=True, gan_agreement=agreement)
            results[arm] = result
        atomic_write_text(path / "results.json", json.dumps(
            {"dataset": cfg.dataset, "labels": cfg.labels, "seed": cfg.seed, "test": data.test_source,
             "test_images": len(data.test), "gan_class_agreement": agreement, "arms": results}, indent=1))
    return AugmentResult(path, results, gan_agreement=agreement)


def _record_subset(path: Path, data: LabelledData, resume: bool) -> None:
    """RUN/labelled.json; on resume, the subset drawn again must be the recorded one."""
    file = path / "labelled.json"
    counts = torch.bincount(data.train.y, minlength=data.train.num_classes).tolist()
    record = {"pool": data.pool, "indices": data.indices, "per_class": dict(zip(data.train.class_names or
                                                                                map(str, range(len(counts))), counts)),
              "test": data.test_source}
    if resume and file.is_file():
        before = json.loads(file.read_text())
        if before.get("indices") != data.indices:
            raise GankitError(f"{file}: this run was trained on another labelled subset than the settings draw now "
                              f"(was the dataset, seed or number of labels changed?); start a new run")
        return
    atomic_write_text(file, json.dumps(record, indent=1))


def _gan(gan_cfg: Config, folder: Path, data: LabelledData, progress: bool) -> LoadedGenerator | None:
    """The trained generator (its EMA copy when the recipe keeps one); None when stopped early."""
    found = list_checkpoints(folder / "checkpoints")
    finished = bool(found) and int(json.loads(found[-1].read_text())["step"]) >= gan_cfg.train.steps
    if not finished and train(gan_cfg, run_dir=folder, resume=bool(found), progress=progress,
                              data=data.train).interrupted:
        return None
    return load_generator(folder, device=pick_device(gan_cfg.train.device))


def _per_class_grid(gen: LoadedGenerator, data: LabelledData, out: Path, per_class: int = 10) -> None:
    """One row per class: ``per_class`` images of it, from fixed noise."""
    device = next(gen.G.parameters()).device
    y = torch.arange(data.train.num_classes, device=device).repeat_interleave(per_class)
    save_image_grid(gen(gen.noise(len(y), torch.Generator().manual_seed(12345)), y).float(), out, nrow=per_class)


def _arm(cfg: AugmentConfig, arm: str, folder: Path, data: LabelledData, info: distributed.DistInfo,
         gen: LoadedGenerator, reference: torch.nn.Module | None, progress: bool) -> dict | None:
    """Train and test one arm (or read its result when it finished before); None when stopped early."""
    done = folder / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    uses_gan, device = ARMS[arm][1] != 0.0, info.device
    game = ArmGame(cfg, arm, data.train, device, gen.G if uses_gan else None, gen.config.model.z_dim,
                   gen.config.model.noise, reference)
    resume = bool(list_checkpoints(folder / "checkpoints"))
    with RunFolder(folder, resume=resume) as run:
        if not resume:
            run.write_meta(cfg.seed, device, arm=arm)
        settings = LoopSettings(steps=cfg.steps, log_every=50, ckpt_every=cfg.steps, ckpt_minutes=5.0, keep_ckpts=1,
                                label=arm, resume_command="gankit augment --resume {run}")
        result = Trainer(game, run, settings, info, resume).run(progress)
    if result.interrupted:
        return None
    errors = test_errors(game.model, data.test, device)
    record = {"arm": arm, "test_errors": errors, "test_error_rate": errors / len(data.test),
              "test_images": len(data.test), "steps": cfg.steps, "batch_size": cfg.batch_size,
              "generated_share": game.n_fake / cfg.batch_size, "seconds": round(result.wall_seconds, 1)}
    atomic_write_text(done, json.dumps(record, indent=1))
    return record


def _classifier(folder: Path) -> torch.nn.Module:
    """A finished arm's classifier (the filter of the filtered arm), [-1, 1] images in, logits out."""
    from gankit.attacks.adapters import read_classifier
    adapter, _ = read_classifier(folder)   # maps [0, 1] to the net's [-1, 1]; the arms already feed [-1, 1]
    return adapter.net
