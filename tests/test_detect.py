"""The real-vs-generated detector: perturbations against reference codecs, the metrics, the
baselines, the config's checks, and the game on the one loop (exact resume, evaluation discipline)."""

import io
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import average_precision_score
from sklearn.neighbors import KNeighborsClassifier

from gankit.config import load_config
from gankit.data import load_dataset
from gankit.data.transform import resize_uint8
from gankit.detect import (CNN, EVAL_NOISE_SEED, PERTURBATIONS, CNNScorer, DetectorGame, PixelNearestNeighbours,
                           SpectrumLogistic, blur_jpeg, detection_scores, evaluate_detector, evaluate_scorers,
                           gaussian_blur, generated_images, jpeg, load_detect_config, load_detector,
                           load_fake_source, resize, train_detector, training_images)
from gankit.errors import ConfigError, DataError, GankitError
from gankit.train import train

TINY_GAN = ["data.image_size=8", "model.g_width=8", "model.d_width=8", "train.steps=20", "train.eval_every=0",
            "train.sample_every=1000", "train.ckpt_every=1000", "train.batch_size=32"]


def tiny_detector(runs, *more):
    return load_detect_config("wang2020_small", ["real=digits", f"fake={json.dumps([str(r) for r in runs])}",
                                                 "n_train=200", "steps=30", "warmup_steps=5", "batch_size=32",
                                                 "model.width=4", "model.feature_dim=8", *more])


@pytest.fixture(scope="module")
def gans(tmp_path_factory):
    """Two tiny GANs on the 8x8 digits: the detector learns one and is tested on the other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gans")
    try:
        for name, seed in (("first", 0), ("second", 1)):
            train(load_config("quickstart", TINY_GAN + [f"train.seed={seed}"]), run_dir=root / name, progress=False)
    finally:
        torch.set_num_threads(before)
    return root / "first", root / "second"


@pytest.fixture(scope="module")
def detector(gans, tmp_path_factory):
    out = tmp_path_factory.mktemp("detector") / "run"
    trained = train_detector(tiny_detector(gans[:1]), out=out, progress=False)
    assert trained.finished and trained.step == 30
    return out


def digits(n=16):
    return load_dataset("digits", split="test").x[:n]


# --- perturbations -------------------------------------------------------------------

def test_blur_is_opencvs_gaussian_blur():
    x = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    ours = gaussian_blur(x, 1.0)
    for image, blurred in zip(x, ours):
        ref = cv2.GaussianBlur(image[0].numpy().astype(np.float32), (7, 7), 1.0, borderType=cv2.BORDER_REFLECT_101)
        assert np.array_equal(blurred[0].numpy(), np.round(ref).astype(np.uint8))


def test_blur_sigma_per_image_and_zero_is_identity():
    x = torch.randint(0, 256, (3, 3, 12, 12), dtype=torch.uint8)
    assert torch.equal(gaussian_blur(x, 0.0), x)
    mixed = gaussian_blur(x, torch.tensor([0.0, 0.7, 1.3]))
    assert torch.equal(mixed[0], x[0])
    assert torch.equal(mixed[2:], gaussian_blur(x[2:], 1.3))
    assert (mixed[1] != x[1]).any()


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_is_libjpeg_as_pillow_writes_it(channels):
    x = torch.randint(0, 256, (4, channels, 16, 16), dtype=torch.uint8)
    ours = jpeg(x, torch.tensor([90, 75, 50, 30]))
    for image, quality, compressed in zip(x, (90, 75, 50, 30), ours):
        arr = image.numpy()
        buffer = io.BytesIO()
        Image.fromarray(arr[0] if channels == 1 else arr.transpose(1, 2, 0)).save(buffer, "JPEG", quality=quality)
        ref = np.array(Image.open(io.BytesIO(buffer.getvalue())))
        assert np.array_equal(compressed.numpy(), ref[None] if channels == 1 else ref.transpose(2, 0, 1))


def test_resize_keeps_the_size_and_constant_images():
    x = torch.full((2, 1, 28, 28), 77, dtype=torch.uint8)
    assert torch.equal(resize(x, 0.5), x)
    y = digits()
    assert resize(y, 0.5).shape == y.shape and not torch.equal(resize(y, 0.5), y)


def test_every_evaluation_perturbation_keeps_uint8_and_shape():
    x = digits(5)
    for name, perturb in PERTURBATIONS.items():
        out = perturb(x)
        assert out.dtype == torch.uint8 and out.shape == x.shape, name
    assert torch.equal(PERTURBATIONS["clean"](x), x)


def test_the_augmentation_draws_the_same_randomness_whatever_it_decides():
    x = digits(32)
    states = []
    for p in (0.0, 1.0):
        g = torch.Generator().manual_seed(3)
        out = blur_jpeg(x, g, blur_prob=p, blur_sigma_max=1.5, jpeg_prob=p, jpeg_quality=(30, 100))
        assert torch.equal(out, x) == (p == 0.0)
        states.append(g.get_state())
    assert torch.equal(*states)   # a resumed run's stream stays in step
    again = [blur_jpeg(x, torch.Generator().manual_seed(5), blur_prob=0.5, blur_sigma_max=1.5, jpeg_prob=0.5,
                       jpeg_quality=(30, 100)) for _ in range(2)]
    assert torch.equal(*again)


# --- metrics and baselines -----------------------------------------------------------

def test_detection_scores_generated_is_positive_and_threshold_is_one_half():
    real, fake = np.array([0.1, 0.2, 0.6]), np.array([0.5, 0.9, 0.3])
    s = detection_scores(real, fake)
    assert s["ap"] == pytest.approx(average_precision_score([0, 0, 0, 1, 1, 1], np.r_[real, fake]))
    assert s["real_accuracy"] == pytest.approx(2 / 3) and s["fake_accuracy"] == pytest.approx(2 / 3)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert detection_scores(np.zeros(4), np.ones(4)) == {"ap": 1.0, "accuracy": 1.0, "real_accuracy": 1.0,
                                                         "fake_accuracy": 1.0}


class Recorder:
    """A scorer that remembers what it was shown and calls bright images generated."""

    def __init__(self):
        self.seen = []

    def scores(self, images):
        self.seen.append(images.clone())
        return (images.float().mean((1, 2, 3)) / 255).numpy()


def test_a_perturbation_reaches_real_and_generated_images_alike():
    real, fake = digits(8), 255 - digits(8)
    recorder = Recorder()
    out = evaluate_scorers({"r": recorder}, real, {"g": fake}, {"blur": lambda x: gaussian_blur(x, 1.0)})
    assert torch.equal(recorder.seen[0], gaussian_blur(real, 1.0))
    assert torch.equal(recorder.seen[1], gaussian_blur(fake, 1.0))
    assert set(out["r"]["blur"]["g"]) == {"ap", "accuracy", "real_accuracy", "fake_accuracy"}


def test_the_spectrum_baseline_sees_a_periodic_trace():
    """Upsampling artefacts are periodic: a faint checkerboard is invisible to the eye and obvious in the spectrum."""
    # digits upscaled to 16x16 are smooth, as real photographs and MNIST are; the trace adds 4 of 255
    train_x = resize_uint8(load_dataset("digits", split="train").x[:600], 16)
    test_x = resize_uint8(digits(200), 16)
    board = ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2 * 4).to(torch.uint8)

    def traced(x):
        return (x.int() + board).clamp(0, 255).to(torch.uint8)
    labels = torch.cat([torch.zeros(300), torch.ones(300)])
    model = SpectrumLogistic().fit(torch.cat([train_x[:300], traced(train_x[300:])]), labels)
    assert detection_scores(model.scores(test_x[:100]), model.scores(traced(test_x[100:])))["ap"] > 0.95


def test_pixel_neighbours_agree_with_sklearn():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 1, 8, 8), dtype=torch.uint8, generator=gen)
    y = (torch.rand(300, generator=gen) < 0.5).float()
    q = torch.randint(0, 256, (50, 1, 8, 8), dtype=torch.uint8, generator=gen)
    ours = PixelNearestNeighbours(chunk=7).fit(x, y).scores(q)
    ref = KNeighborsClassifier(5, algorithm="brute").fit(x.flatten(1).numpy() / 255, y.numpy().astype(int))
    np.testing.assert_allclose(ours, ref.predict_proba(q.flatten(1).numpy() / 255)[:, 1], atol=1e-6)


# --- config --------------------------------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("colour=red", "unknown key 'colour'"),
    ("noise_seed=0", "noise_seed: 0 draws the evaluation samples"),
    ("fake=[]", "fake: name at least one GAN run folder"),
    ("fake=runs/a", "fake: expected list"),
    ("fake=[1]", "fake: expected a list of GAN run folders"),
    ("augment.jpeg_quality_min=90", "jpeg_quality_max: expected 1 <= min <= max <= 100"),
    ("augment.blur_prob=2", "augment.blur_prob: must be in [0, 1], got 2"),
    ("steps=0", "steps: must be > 0"),
])
def test_bad_settings_are_named(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_detect_config("wang2020_small", ['fake=["runs/a"]', "augment.jpeg_quality_max=80", override])


# --- the game ------------------------------------------------------------------------

def test_the_training_set_is_real_train_images_against_generated_ones(gans):
    cfg = tiny_detector(gans, "n_train=101")
    x, y = training_images(cfg)
    assert x.dtype == torch.uint8 and x.shape == (202, 1, 8, 8)
    assert y[:101].sum() == 0 and y[101:].sum() == 101
    train_split = {bytes(im.numpy()) for im in load_dataset("digits", split="train").x}
    assert all(bytes(im.numpy()) in train_split for im in x[:101])
    # the generated half: 51 + 50 samples of the two runs, from the training noise seed, not the evaluation one
    first = generated_images(load_fake_source(gans[0]), 51, cfg.noise_seed * 1000)
    assert torch.equal(x[101:152], first)
    assert not torch.equal(first, generated_images(load_fake_source(gans[0]), 51, EVAL_NOISE_SEED))


def test_a_stopped_detector_training_resumes_to_the_same_weights(gans, tmp_path, one_thread):
    from gankit.loop import LoopSettings, Trainer
    from gankit.runs import RunFolder
    cfg = tiny_detector(gans[:1], "steps=24")
    loop = LoopSettings(steps=24, ckpt_every=5)
    whole = DetectorGame(cfg)
    with RunFolder(tmp_path / "whole") as run:
        Trainer(whole, run, loop).run(progress=False)

    def crash(step, trainer):
        if step == 13:   # mid-epoch: batch order and augmentation stream must resume too
            raise KeyboardInterrupt
    with RunFolder(tmp_path / "split") as run, pytest.raises(KeyboardInterrupt):
        Trainer(DetectorGame(cfg), run, loop).run(progress=False, callbacks=[crash])
    resumed = DetectorGame(cfg)
    with RunFolder(tmp_path / "split", resume=True) as run:
        trainer = Trainer(resumed, run, loop, resume=True)
        assert trainer.step == 10
        trainer.run(progress=False)
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_bad_fake_run_leaves_no_run_folder(gans, tmp_path):
    with pytest.raises(GankitError, match="fake: .*nowhere does not exist"):
        train_detector(tiny_detector([tmp_path / "nowhere"]), out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_generated_images_of_another_shape_are_refused(gans, tmp_path, real_data_root):
    cfg = tiny_detector(gans[:1], "real=fashion-mnist", f"data_root={json.dumps(str(real_data_root))}")
    with pytest.raises(DataError, match=r"makes images of shape \(1, 8, 8\), but fashion-mnist images are "
                                        r"\(1, 28, 28\)"):
        train_detector(cfg, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_gan_run_is_not_a_detector(gans):
    with pytest.raises(GankitError, match="is not a detector checkpoint"):
        load_detector(gans[0])


def test_the_report_scores_every_source_clean_and_perturbed(detector, gans):
    report = evaluate_detector(detector, [gans[1]], n=60, baselines=True)
    assert json.loads((detector / "report.json").read_text()) == report
    assert report["trained_on"] == ["first"] and set(report["sources"]) == {"first", "second"}
    assert report["eval_noise_seed"] == EVAL_NOISE_SEED == 0
    assert set(report["results"]) == {CNN, "spectrum LR", "pixel 5-NN"}
    for by_perturbation in report["results"].values():
        assert list(by_perturbation) == list(PERTURBATIONS)
        for by_source in by_perturbation.values():
            for r in by_source.values():
                assert 0 <= r["ap"] <= 1 and r["accuracy"] == pytest.approx((r["real_accuracy"] + r["fake_accuracy"]) / 2)


def test_the_loaded_detector_scores_as_the_trained_one(detector, gans):
    model, record = load_detector(detector)
    assert record["kind"] == "detector" and record["real"] == "digits" and record["fake"] == [str(gans[0])]
    trained_cfg = tiny_detector(gans[:1])
    game = DetectorGame(trained_cfg)
    game.model.load_state_dict(model.state_dict())
    x = digits(20)
    np.testing.assert_allclose(CNNScorer(model).scores(x), CNNScorer(game.model).scores(x), rtol=1e-6)
    assert ((CNNScorer(model).scores(x) >= 0) & (CNNScorer(model).scores(x) <= 1)).all()


def test_a_folder_of_images_is_a_held_out_source(detector, gans, tmp_path):
    from gankit.detect.images import folder_images, real_images
    folder = tmp_path / "translated"
    folder.mkdir()
    for i, image in enumerate(generated_images(load_fake_source(gans[1]), 30, 5)):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:03d}.png")
    report = evaluate_detector(detector, [folder], n=20, out=tmp_path / "report.json")
    assert report["images"] == {"first": 20, "translated": 20}   # a random 20 of the 30
    model, _ = load_detector(detector)
    scorer = CNNScorer(model)
    shown = folder_images(folder, 20, (1, 8, 8), EVAL_NOISE_SEED)
    assert len({tuple(x.flatten().tolist()) for x in shown}) == 20
    expected = detection_scores(scorer.scores(real_images("digits", "test", 20, 0, None)), scorer.scores(shown))
    assert report["results"][CNN]["clean"]["translated"] == pytest.approx(expected)
    fewer = evaluate_detector(detector, [folder], n=40, out=tmp_path / "report.json")
    assert fewer["images"] == {"first": 40, "translated": 30}
    r = fewer["results"][CNN]["clean"]["translated"]
    assert r["accuracy"] == pytest.approx((r["real_accuracy"] + r["fake_accuracy"]) / 2)   # balanced, 40 vs 30
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "odd.png")
    with pytest.raises(DataError, match="1 of 31 images are not 8x8"):
        evaluate_detector(detector, [folder], n=20, out=tmp_path / "report.json")
