"""GAN data augmentation: DiffAugment in the GAN game, and `gankit augment`'s subset, arms and runs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from gankit.augment import load_augment_config, run_augment
from gankit.augment.arms import ArmGame
from gankit.augment.config import ARMS
from gankit.cli import app
from gankit.config import load_config
from gankit.data import Dataset
from gankit.data.augment import DiffAugment, random_affine
from gankit.errors import ConfigError, DataError, GankitError
from gankit.loop import LoopSettings
from gankit.train import train

pytestmark = pytest.mark.usefixtures("one_thread")

# a GAN and a classifier small enough for seconds of CPU
SMALL = ["image_size=8", "channels=1", "gan_steps=4", "steps=6", "batch_size=12", "warmup_steps=1",
         "model.width=8", "model.feature_dim=16", "gan_set=model.g_width=16;model.d_width=16;model.z_dim=16"]


# --- DiffAugment ----------------------------------------------------------------------------------

def test_diffaugment_is_differentiable_and_repeatable_with_a_seeded_generator():
    augment = DiffAugment("translation,cutout,color")
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    out = augment(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and not torch.allclose(out, x)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0          # gradients reach the generator's images
    assert (x.grad == 0).any()                                     # ... except where cutout blanked them
    again = augment(x.detach(), torch.Generator().manual_seed(1))
    assert torch.equal(out.detach(), again)
    assert not torch.equal(again, augment(x.detach(), torch.Generator().manual_seed(2)))


def test_each_diffaugment_policy_is_its_own_transformation_and_off_is_the_identity():
    x = torch.rand(4, 3, 16, 16)
    assert not DiffAugment("") and DiffAugment("color")
    cut = DiffAugment("cutout")(x, torch.Generator().manual_seed(0))
    holes = (cut == 0) & (x != 0)
    assert holes.flatten(1).float().mean(1).gt(0.05).all()          # every image lost a square
    moved = DiffAugment("translation")(x, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and not torch.equal(moved, x)


def test_random_affine_keeps_the_shape_and_fills_the_background():
    x = torch.full((5, 1, 16, 16), -1.0)
    x[:, :, 6:10, 6:10] = 1.0
    out = random_affine(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= -1.0001 and out[:, :, 0, 0].eq(-1).all()
    assert not torch.equal(out, x)


def test_an_unknown_diffaugment_is_named_with_the_choices():
    with pytest.raises(ConfigError, match=r"train.diffaug: unknown augmentation 'flip'; choose from .*translation"):
        load_config("quickstart", ["train.diffaug=translation,flip"])


def _spy_on_diffaugment(monkeypatch):
    seen = []
    original = DiffAugment.__call__

    def spy(self, x, generator=None):
        seen.append((self.policy, x.requires_grad))
        return original(self, x, generator)
    monkeypatch.setattr(DiffAugment, "__call__", spy)
    return seen


TINY_GAN = ["data.image_size=8", "model.g_width=16", "model.d_width=16", "model.z_dim=16", "train.batch_size=16",
            "train.steps=2", "train.log_every=1"]


def test_the_gan_game_augments_real_and_generated_images_alike_in_both_phases(tmp_path, monkeypatch):
    seen = _spy_on_diffaugment(monkeypatch)
    train(load_config("quickstart", TINY_GAN + ["train.diffaug=translation,color"]), run_dir=tmp_path / "on",
          progress=False)
    # per step: D's phase sees the real batch and the generated batch, G's phase a generated batch
    assert len(seen) == 2 * 3
    assert {policy for policy, _ in seen} == {("translation", "color")}
    assert any(grad for _, grad in seen)                # G's images carry gradients through the augmentation
    seen.clear()
    train(load_config("quickstart", TINY_GAN), run_dir=tmp_path / "off", progress=False)
    assert seen == []                                   # off by default


def test_diffaugment_with_a_gradient_penalty_trains(tmp_path, monkeypatch):
    seen = _spy_on_diffaugment(monkeypatch)
    result = train(load_config("quickstart", TINY_GAN + ["train.diffaug=cutout", "train.loss=wgan",
                                                         "train.gp_weight=10"]), run_dir=tmp_path / "gp", progress=False)
    assert result.step == 2 and len(seen) == 2 * 4      # + the penalty's interpolates


# --- arms -----------------------------------------------------------------------------------------

class TinyConditionalG(nn.Module):
    def __init__(self, z_dim=4, classes=3, side=8):
        super().__init__()
        self.embed, self.net, self.side = nn.Embedding(classes, z_dim), nn.Linear(z_dim, side * side), side

    def forward(self, z, y):
        return torch.tanh(self.net(z + self.embed(y))).view(-1, 1, self.side, self.side)


def tiny_images(n_per_class=8, classes=3, side=8, seed=0):
    """Three learnable classes: a bright top half, a bright left half, a bright diagonal; plus noise."""
    g = torch.Generator().manual_seed(seed)
    base = torch.zeros(classes, side, side)
    base[0, : side // 2] = 1
    base[1, :, : side // 2] = 1
    base[2] = torch.eye(side)
    x = base.repeat_interleave(n_per_class, 0) * 200 + torch.rand(classes * n_per_class, side, side, generator=g) * 55
    return Dataset(x=x.to(torch.uint8)[:, None], y=torch.arange(classes).repeat_interleave(n_per_class),
                   num_classes=classes, name="tiny", class_names=["top", "left", "diagonal"])


def arm_config(**changes):
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=mnist", "steps=10"])
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg


def test_every_arm_draws_batches_of_the_same_size_with_its_share_of_generated_images():
    cfg, data = arm_config(), tiny_images()
    reference = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    for arm, (_, ratio, _) in ARMS.items():
        game = ArmGame(cfg, arm, data, torch.device("cpu"), TinyConditionalG(), 4, "normal", reference)
        x, y, stats = game.batch()
        share = cfg.gan_ratio if ratio is None else ratio
        assert x.shape == (cfg.batch_size, 1, 8, 8) and y.shape == (cfg.batch_size,)
        assert game.n_fake == round(cfg.batch_size * share)
        assert ("kept" in stats) == (arm == "classic+gan-filtered")
        assert x.min() >= -1 and x.max() <= 1


def test_every_arm_starts_from_the_same_weights():
    cfg, data = arm_config(), tiny_images()
    first = ArmGame(cfg, "real", data, torch.device("cpu"))
    other = ArmGame(cfg, "gan-only", data, torch.device("cpu"), TinyConditionalG(), 4)
    for p, q in zip(first.model.parameters(), other.model.parameters()):
        assert torch.equal(p, q)


def test_the_filter_keeps_the_generated_images_the_reference_agrees_with_first():
    cfg, data = arm_config(filter_confidence=0.9), tiny_images()

    class SaysTop(nn.Module):   # certain every image is class 0
        def forward(self, x):
            return torch.tensor([10.0, -10.0, -10.0]).expand(len(x), 3)
    game = ArmGame(cfg, "classic+gan-filtered", data, torch.device("cpu"), TinyConditionalG(), 4, "normal", SaysTop())
    x, y, kept = game.generated(8)
    passed = int(round(float(kept) * 4 * 8))
    assert passed > 0 and (y[:min(passed, 8)] == 0).all()   # the agreed ones (asked for class 0) come first


def test_a_stopped_arm_resumes_to_the_weights_of_an_uninterrupted_one(stop_and_resume):
    cfg, data = arm_config(), tiny_images()

    def game():
        torch.manual_seed(3)
        return ArmGame(cfg, "classic+gan", data, torch.device("cpu"), TinyConditionalG(), 4)
    whole, resumed, start = stop_and_resume(game, LoopSettings(steps=10, log_every=2, ckpt_every=4), stop_at=6)
    assert start == 4
    for p, q in zip(whole.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


# --- `gankit augment` end to end, and its bad inputs ----------------------------------------------

def image_folder(root, per_class=(8, 8, 8), side=8):
    data = tiny_images(max(per_class), side=side)
    for k, name in enumerate(data.class_names):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class[k]):
            Image.fromarray(data.x[k * max(per_class) + i, 0].numpy()).save(root / name / f"{i}.png")
    return root


def test_a_folder_run_trains_the_gan_and_every_arm_on_one_budget_and_resumes_without_retraining(tmp_path):
    folder = image_folder(tmp_path / "shapes")
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={folder}", "labels=6",
                                                      "arms=" + ",".join(ARMS)])
    result = run_augment(cfg, run_dir=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    labelled = json.loads((run / "labelled.json").read_text())
    assert labelled["per_class"] == {"diagonal": 2, "left": 2, "top": 2} and len(set(labelled["indices"])) == 6
    assert set(result.arms) == set(ARMS)
    assert {(r["steps"], r["batch_size"]) for r in result.arms.values()} == {(6, 12)}   # one budget for all
    assert {r["test_images"] for r in result.arms.values()} == {24 - 6}   # the images outside the subset
    assert result.arms["gan-only"]["generated_share"] == 1 and result.arms["real"]["generated_share"] == 0
    assert (run / "samples_per_class.png").is_file() and (run / "gan" / "loss_curve.png").is_file()
    assert json.loads((run / "results.json").read_text())["arms"] == result.arms
    assert result.gan_agreement is None   # no backbone judges a folder's classes
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*.safetensors")}
    again = run_augment(cfg, run_dir=run, resume=True, progress=False)      # finished parts are not trained again
    assert again.arms == result.arms and {p: p.stat().st_mtime_ns for p in run.rglob("*.safetensors")} == before
    # each arm is a classifier that `gankit classify` and `gankit attack` read
    png = next((folder / "top").iterdir())
    out = CliRunner().invoke(app, ["classify", str(run / "arms" / "classic+gan"), str(png)])
    assert out.exit_code == 0 and "probability" in out.output, out.output


def test_a_resume_that_would_draw_another_subset_is_refused(tmp_path):
    folder = image_folder(tmp_path / "shapes")
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={folder}", "labels=6",
                                                      "arms=real"])
    run_augment(cfg, run_dir=tmp_path / "run", progress=False)
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file() and p.name != ".lock"}
    cfg.seed = 1
    with pytest.raises(GankitError, match="another labelled subset"):
        run_augment(cfg, run_dir=tmp_path / "run", resume=True, progress=False)
    assert {p: p.read_bytes() for p in before} == before   # the run's config and records untouched


def test_mnist_subset_is_balanced_and_tested_on_the_official_test_split(tmp_path, real_data_root):
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=mnist", "image_size=28", "labels=20",
                                                      f"data_root={real_data_root}", "arms=real,real+gan"])
    result = run_augment(cfg, run_dir=tmp_path / "run", progress=False)
    labelled = json.loads((tmp_path / "run" / "labelled.json").read_text())
    assert list(labelled["per_class"].values()) == [2] * 10
    assert {r["test_images"] for r in result.arms.values()} == {10000}
    assert all(0 <= r["test_errors"] <= 10000 for r in result.arms.values())
    saved = json.loads((tmp_path / "run" / "results.json").read_text())["gan_class_agreement"]
    assert saved == result.gan_agreement and len(saved["per_class"]) == 10 and 0 <= saved["agreement"] <= 1


@pytest.mark.parametrize("per_class, labels, message", [
    ((8, 8, 8), 30, "30 labelled images asked for, but .* holds only 24"),
    ((8, 8, 0), 6, "class folder\\(s\\) 'diagonal' .* hold no images"),
    ((8, 8, 8), 7, "7 cannot be split evenly over 3 classes; give a multiple of 3"),
    ((8, 1, 8), 6, "class 1 .'left'. has only 1 training examples, 2 are needed"),
])
def test_bad_inputs_get_one_clear_error_and_leave_no_run_folder(tmp_path, per_class, labels, message):
    folder = image_folder(tmp_path / "shapes", per_class)
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={folder}", f"labels={labels}"])
    with pytest.raises(DataError, match=message):
        run_augment(cfg, run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_flat_folder_and_a_mismatched_test_folder_are_named(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(flat / f"{i}.png")
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={flat}", "labels=2"])
    with pytest.raises(DataError, match="one sub-folder per class"):
        run_augment(cfg, run_dir=tmp_path / "run", progress=False)
    folder, other = image_folder(tmp_path / "shapes"), image_folder(tmp_path / "other")
    (other / "top").rename(other / "square")
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={folder}", f"test_folder={other}",
                                                      "labels=6"])
    with pytest.raises(DataError, match="test_folder: its classes"):
        run_augment(cfg, run_dir=tmp_path / "run", progress=False)


@pytest.mark.parametrize("override, message", [
    ("arms=real,mixup", "arms: 'mixup'; choose from real"),
    ("diffaug=rotate", "diffaug: unknown augmentation 'rotate'"),
    ("gan_ratio=1", "gan_ratio"),
    ("labels=0", "labels: must be > 0"),
    ("dataset=cifar10", "dataset: expected mnist, fashion-mnist or folder"),
    ("gan_recipe=no_such", "gan_recipe"),
])
def test_bad_settings_are_named_before_anything_runs(override, message):
    with pytest.raises(ConfigError, match=message):
        load_augment_config("augment_cpu", [override])


def test_an_unconditional_gan_recipe_is_refused(tmp_path):
    folder = image_folder(tmp_path / "shapes")
    cfg = load_augment_config("augment_cpu", SMALL + ["dataset=folder", f"folder={folder}", "labels=6",
                                                      "gan_recipe=quickstart"])
    with pytest.raises(GankitError, match="not class-conditional"):
        run_augment(cfg, run_dir=tmp_path / "run", progress=False)


def test_the_cli_refuses_dataset_and_folder_together(tmp_path):
    out = CliRunner().invoke(app, ["augment", "--dataset", "mnist", "--folder", str(tmp_path)])
    assert out.exit_code != 0 and "not both" in str(out.exception) + out.output


def test_an_empty_diffaug_setting_turns_it_off():
    assert load_config("quickstart", ["train.diffaug="]).train.diffaug == ""
    assert load_augment_config("augment_cpu").diffaug == ""   # shipped off: it took the class away at 100 labels
    assert load_augment_config("augment_cpu", ["diffaug=translation"]).diffaug == "translation"


class RealImagesAsGenerator:
    """Stands in for a conditional generator: real test images of the class asked for, or, when
    ``ignores_label``, of whatever class the noise picks."""

    def __init__(self, images, labels, ignores_label):
        self.G, self.num_classes, self.class_names = nn.Linear(1, 1), 10, None
        self.by_class = [images[labels == k] for k in range(10)]
        self.ignores_label = ignores_label

    def noise(self, n, generator=None):
        return torch.randint(0, 10 ** 6, (n,), generator=generator)

    def __call__(self, z, y):
        classes = z % 10 if self.ignores_label else y
        return torch.stack([self.by_class[k][i % len(self.by_class[k])] for k, i in zip(classes.tolist(), z.tolist())])


def test_class_agreement_tells_a_generator_that_obeys_its_label_from_one_that_ignores_it(real_data_root):
    from gankit.augment.fidelity import class_agreement
    from gankit.data import load_dataset
    test = load_dataset("mnist", root=real_data_root, split="test", n=2000)
    images = test.x.float() / 127.5 - 1
    obeys = class_agreement(RealImagesAsGenerator(images, test.y, False), "mnist", per_class=40)
    ignores = class_agreement(RealImagesAsGenerator(images, test.y, True), "mnist", per_class=40)
    assert obeys["agreement"] > 0.95 and min(obeys["per_class"]) > 0.85 and len(obeys["per_class"]) == 10
    assert 0.02 < ignores["agreement"] < 0.2   # about one in ten lands on its class by chance
    assert class_agreement(RealImagesAsGenerator(images, test.y, False), "folder") is None   # no judge for a folder


def test_the_cli_names_the_class_the_gan_draws_worst():
    from gankit.cli.augment import agreement_line
    line = agreement_line({"agreement": 0.5, "per_class": [0.9, 0.1, 0.5], "class_names": ["Shirt", "Bag", "Boot"],
                           "judge": "gankit fashion-mnist backbone"})
    assert "as the class asked for: 50.0 % (lowest, class Bag: 10.0 %)" in line
