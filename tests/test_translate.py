"""CycleGAN: the paper's defaults, the history pool, the losses as defined, a short real run, exact resume."""

import json

import pytest
import torch

from gankit.errors import ConfigError
from gankit.loop import LoopSettings
from gankit.distributed import DistInfo
from gankit.translate import CycleGANGame, ImagePool, load_translate_config, train_translation
from gankit.translate.game import cycle_losses, lsgan
from gankit.translate.nets import PatchDiscriminator, ResnetGenerator

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = ["domain_a=digits", "domain_b=mnist", "image_size=16", "channels=1", "limit=200", "ngf=4", "ndf=4",
        "n_blocks=1", "n_layers=2", "batch_size=4", "epochs=1", "eval_every=25", "sample_every=25",
        "eval_samples=100", "classifier_steps=20", "load_size=null", "flip=false"]


def tiny(root, *extra):
    return load_translate_config("cyclegan_paper", TINY + [f"data_root={root}", *extra])


def test_the_paper_recipe_holds_the_papers_defaults():
    c = load_translate_config("cyclegan_paper")
    assert (c.n_blocks, c.n_layers, c.ngf, c.ndf) == (9, 3, 64, 64)
    assert (c.lambda_cycle, c.lambda_identity, c.pool_size) == (10.0, 0.5, 50)
    assert (c.lr, c.beta1, c.batch_size, c.epochs, c.lr_decay_start) == (2e-4, 0.5, 1, 200, 0.5)
    assert (c.load_size, c.image_size, c.flip) == (286, 256, True)
    G, D = ResnetGenerator(n_blocks=9), PatchDiscriminator(n_layers=3)
    assert G(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    assert D(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)   # 70x70 receptive fields, 30x30 patches
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())


def test_the_history_pool_fills_then_swaps_half_the_time():
    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool.images) == 3   # filling: returned as they are
    torch.manual_seed(0)
    new = torch.full((400, 1, 1, 1), 9.0)
    out = pool.query(new)
    old = (out != 9.0).sum().item()
    assert 0 < old <= 3 + 0   # stored images come back (each at most once before it is replaced by a 9)
    assert len(pool.images) == 3 and all(img.item() == 9.0 for img in pool.images)
    assert torch.equal(ImagePool(0).query(first), first)   # size 0: no history
    state = pool.state_dict()
    again = ImagePool(3)
    again.load_state_dict(state)
    assert torch.equal(torch.stack(again.images), torch.stack(pool.images))


def test_losses_are_computed_as_defined():
    torch.manual_seed(0)
    G = torch.nn.ModuleDict({"ab": ResnetGenerator(1, 1, ngf=4, n_blocks=1),
                             "ba": ResnetGenerator(1, 1, ngf=4, n_blocks=1)})
    a, b = torch.rand(2, 1, 8, 8) * 2 - 1, torch.rand(2, 1, 8, 8) * 2 - 1
    out = cycle_losses(G, a, b)
    assert torch.allclose(out["cycle_a"], (G["ba"](G["ab"](a)) - a).abs().mean())
    assert torch.allclose(out["cycle_b"], (G["ab"](G["ba"](b)) - b).abs().mean())
    logits = torch.tensor([0.5, 1.5])
    assert lsgan(logits, True).item() == pytest.approx(0.25) and lsgan(logits, False).item() == pytest.approx(1.25)


def test_a_short_real_run_scores_itself_and_improves(real_data_root, tmp_path):
    result = train_translation(tiny(real_data_root, "epochs=2"), run_dir=tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "scores.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [25, 50, 75, 100]
    assert all(0 <= r["accuracy_ab"] <= 1 and r["cycle_l1_ab"] >= 0 for r in rows)
    assert rows[-1]["cycle_l1_ab"] < rows[0]["cycle_l1_ab"]    # cycle consistency is being learned
    assert result.scores["step"] == 100 and (tmp_path / "run" / "scores.png").is_file()
    assert (tmp_path / "run" / "samples" / "step_0000100.png").is_file()


def test_a_stopped_run_resumes_exactly(real_data_root, stop_and_resume):
    cfg = tiny(real_data_root, "eval_every=1000", "sample_every=1000")
    whole, resumed, start = stop_and_resume(lambda: CycleGANGame(cfg, DistInfo()),
                                            LoopSettings(steps=30, ckpt_every=10), stop_at=17)
    assert start == 10
    for net in ("G", "D"):
        for (k, a), b in zip(getattr(whole, net).state_dict().items(), getattr(resumed, net).state_dict().values()):
            assert torch.equal(a, b), k


def test_bad_inputs_are_named(real_data_root, tmp_path):
    with pytest.raises(ConfigError, match="domain_b"):
        tiny(real_data_root, "domain_b=digits")
    with pytest.raises(ConfigError, match="image_size"):
        tiny(real_data_root, "image_size=18")
    from PIL import Image
    from gankit.errors import DataError
    (tmp_path / "photos" / "trainA").mkdir(parents=True)
    cfg = tiny(real_data_root, f"domain_a={tmp_path / 'photos'}", "domain_b=mnist")
    with pytest.raises(DataError, match="no images in .*trainA"):   # an empty folder
        CycleGANGame(cfg, DistInfo())
    for i in range(4):
        Image.new("L", (20, 20), color=i * 50).save(tmp_path / "photos" / "trainA" / f"{i}.png")
    with pytest.raises(DataError, match="testA is not a folder"):   # a missing folder of the official layout
        CycleGANGame(cfg, DistInfo())
    (tmp_path / "photos" / "testA").mkdir()
    (tmp_path / "photos" / "testA" / "x.png").write_text("not an image")
    with pytest.raises(DataError, match="cannot read image .*x.png"):   # an unreadable image file
        CycleGANGame(cfg, DistInfo())


def test_the_commands_train_then_apply_keeping_names_and_sizes(real_data_root, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner
    from gankit.cli import app
    runner = CliRunner()
    sets = [a for item in TINY + ["eval_every=10", "sample_every=10"] for a in ("--set", item)]
    result = runner.invoke(app, ["translate", "train", "cyclegan_paper", *sets, "--set", "limit=40",
                                 "--data-root", str(real_data_root), "-o", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "A -> B: translated accuracy" in result.output
    (tmp_path / "in").mkdir()
    Image.new("L", (37, 23), 120).save(tmp_path / "in" / "wide.png")
    Image.new("RGB", (12, 12), (200, 10, 10)).save(tmp_path / "single.jpg")
    result = runner.invoke(app, ["translate", "apply", str(tmp_path / "run"), str(tmp_path / "in"),
                                 str(tmp_path / "single.jpg"), "-o", str(tmp_path / "out"), "--direction", "b2a"])
    assert result.exit_code == 0, (result.output, result.exception)
    for name, size in (("wide.png", (37, 23)), ("single.jpg", (12, 12))):
        with Image.open(tmp_path / "out" / name) as out:
            assert out.size == size
    result = runner.invoke(app, ["translate", "apply", str(tmp_path / "run"), str(tmp_path / "in"), "-o",
                                 str(tmp_path / "out2"), "--direction", "sideways"])
    assert result.exit_code != 0 and "a2b or b2a" in str(result.exception)
