"""Feature backbones: the shipped weights load, are what their records say, and really classify."""

import json
import shutil

import pytest
import torch

from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics.backbones import BACKBONES, WEIGHTS_DIR, DomainClassifier, extract, load_backbone, sha256_file
from gankit.data.augment import random_shift
from gankit.metrics.train_backbones import TARGETS, load_backbone_config, save_backbone, train_backbone

SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "digits": (1, 8, 8)}


def test_all_three_backbones_ship():
    assert BACKBONES == ["mnist", "fashion-mnist", "digits"]


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "digits"])
def test_shipped_backbone_loads_and_matches_its_record(name):
    record = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    assert record["sha256"] == sha256_file(WEIGHTS_DIR / f"{name}.safetensors")
    # the recorded test accuracy meets the target, and agrees with the error count
    assert record["test_accuracy"] >= TARGETS[name]
    assert record["test_errors"] == round((1 - record["test_accuracy"]) * record["test_size"])
    assert record["test_size"] == (297 if name == "digits" else 10_000)
    # the command that made them: the shipped files predate `gankit backbone train`, which runs the same code
    assert record["command"].startswith((f"gankit backbone train {name}",
                                         f"python -m gankit.metrics.train_backbones --dataset {name} "))
    assert (WEIGHTS_DIR / f"{name}.safetensors").stat().st_size < 2_000_000

    net = load_backbone(name)
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())
    assert net.config() == record["model"]
    x = torch.rand(5, *SHAPES[name]) * 2 - 1
    feats = net.features(x)
    assert feats.shape == (5, 128) and (feats >= 0).all()  # after the ReLU
    assert net(x).shape == (5, 10)
    torch.testing.assert_close(net.probs(x).sum(1), torch.ones(5))


def test_modified_weights_file_is_caught(tmp_path):
    for suffix in (".json", ".safetensors"):
        shutil.copy(WEIGHTS_DIR / f"digits{suffix}", tmp_path / f"digits{suffix}")
    load_backbone("digits", weights_dir=tmp_path)  # the copy is fine
    path = tmp_path / "digits.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(GankitError, match="digits.safetensors.*SHA-256"):
        load_backbone("digits", weights_dir=tmp_path)


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(GankitError, match=r"mnist\.json does not exist"):
        load_backbone("mnist", weights_dir=tmp_path)


def test_unknown_dataset_lists_backbones_and_explains_inception():
    with pytest.raises(GankitError) as info:
        load_backbone("cifar10")
    msg = str(info.value)
    assert "'cifar10'" in msg and "mnist, fashion-mnist, digits" in msg
    assert "Inception" in msg and "docs/inception.md" in msg


def test_extract_accepts_uint8_and_float_and_is_batch_size_free():
    net = load_backbone("digits")
    x8 = load_dataset("digits", split="test").x[:50]
    f1, p1 = extract(net, x8, batch_size=7)
    f2, p2 = extract(net, x8.float() / 127.5 - 1.0)
    assert f1.shape == (50, 128) and p1.shape == (50, 10)
    torch.testing.assert_close(f1, f2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p1.sum(1), torch.ones(50))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        extract(net, x8.float())  # 0..255 floats: a scaling mistake
    with pytest.raises(ValueError, match="shape"):
        extract(net, torch.zeros(3, 3, 8, 8))  # wrong channel count
    # other sizes are resized to the backbone's input (a 32x32 DCGAN scored on 8x8 digits)
    big = torch.nn.functional.interpolate(x8.float() / 127.5 - 1.0, size=(32, 32), mode="bilinear")
    assert extract(net, big)[0].shape == (50, 128)
    f0, p0 = extract(net, torch.zeros(0, 1, 8, 8))
    assert f0.shape == (0, 128) and p0.shape == (0, 10)


def _accuracy(name, root, n=None):
    ds = load_dataset(name, root=root, split="test", n=n, seed=0)
    _, probs = extract(load_backbone(name), ds.x)
    return (probs.argmax(1) == ds.y).float().mean().item()


def test_mnist_backbone_classifies_real_test_images(real_data_root):
    assert _accuracy("mnist", real_data_root, n=2000) >= 0.99


def test_fashion_backbone_classifies_real_test_images(real_data_root):
    if not (real_data_root / "fashion-mnist").is_dir():
        pytest.skip("fashion-mnist files not found")
    assert _accuracy("fashion-mnist", real_data_root, n=2000) >= 0.91


def test_digits_backbone_classifies_its_test_split():
    assert _accuracy("digits", None) >= 0.95


def test_classifier_shapes_and_bad_input():
    for size, side in ((28, 7), (8, 2)):
        net = DomainClassifier(image_size=size, width=4, feature_dim=16)
        assert net.embed[1].in_features == 8 * side * side
        assert net.features(torch.zeros(2, 1, size, size)).shape == (2, 16)
    with pytest.raises(ValueError, match="multiple of 4"):
        DomainClassifier(image_size=30)
    with pytest.raises(ValueError, match="shape"):
        DomainClassifier()(torch.zeros(2, 3, 28, 28))


def test_random_shift_moves_content_by_at_most_the_shift():
    x = -torch.ones(200, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    out = random_shift(x, 2, fill=-1.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert ((out == 1.0).sum(dim=(1, 2, 3)) == 1).all()  # nothing lost, nothing duplicated
    pos = (out[:, 0] == 1.0).nonzero()[:, 1:]
    assert (pos - 4).abs().max() == 2  # every offset in [-2, 2] is reachable
    assert len({tuple(p.tolist()) for p in pos}) == 25
    torch.testing.assert_close(random_shift(x, 0, generator=torch.Generator()), x)


TINY = ["epochs=1", "batch_size=100", "model.width=4", "model.feature_dim=8", "model.dropout=0.1"]


def test_training_is_reproducible_and_round_trips(tmp_path):
    cfg = load_backbone_config("digits", TINY + ["seed=3"])
    threads = torch.get_num_threads()
    a = train_backbone(cfg, run_dir=tmp_path / "run-a", threads=1, progress=False)
    b = train_backbone(cfg, run_dir=tmp_path / "run-b", threads=1, progress=False)
    assert torch.get_num_threads() == threads  # restored
    assert a.record["threads"] == 1 and "--threads 1" in a.record["command"]
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert a.record["test_errors"] == b.record["test_errors"]
    json_path = save_backbone(a, tmp_path)
    record = json.loads(json_path.read_text())
    other = json.loads(save_backbone(b, tmp_path / "b").read_text())
    assert record["sha256"] == other["sha256"]  # the files are byte for byte the same
    assert record["sha256"] == sha256_file(tmp_path / "digits.safetensors")
    assert record["seed"] == 3 and record["epochs"] == 1 and record["test_size"] == 297
    net = load_backbone("digits", weights_dir=tmp_path)
    x = load_dataset("digits", split="test").x[:20]
    torch.testing.assert_close(extract(net, x)[1], extract(a.model, x)[1])


def test_holdout_run_reads_no_test_split_and_cannot_be_saved(tmp_path):
    run = train_backbone(load_backbone_config("digits", TINY + ["holdout=300"]), run_dir=tmp_path / "run",
                         threads=1, progress=False)
    assert run.record["train_size"] == 1200 and "test_accuracy" not in run.record
    assert 0 <= run.record["holdout_errors"] <= 300
    with pytest.raises(GankitError, match="holdout"):
        save_backbone(run, tmp_path)


def test_a_stopped_backbone_training_resumes_to_the_same_weights(tmp_path):
    from gankit.loop import LoopSettings, Trainer
    from gankit.metrics.train_backbones import BackboneGame
    from gankit.runs import RunFolder
    cfg = load_backbone_config("digits", TINY + ["epochs=2", "hflip=true"])
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loop = LoopSettings(steps=BackboneGame(cfg).total, ckpt_every=10)
        whole = BackboneGame(cfg)
        with RunFolder(tmp_path / "whole") as run:
            Trainer(whole, run, loop).run(progress=False)

        def crash(step, trainer):
            if step == 23:   # mid-epoch: the batch order and the augmentation stream must resume too
                raise KeyboardInterrupt
        with RunFolder(tmp_path / "split") as run, pytest.raises(KeyboardInterrupt):
            Trainer(BackboneGame(cfg), run, loop).run(progress=False, callbacks=[crash])
        resumed = BackboneGame(cfg)
        with RunFolder(tmp_path / "split", resume=True) as run:
            trainer = Trainer(resumed, run, loop, resume=True)
            assert trainer.step == 20
            trainer.run(progress=False)
    finally:
        torch.set_num_threads(before)
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
