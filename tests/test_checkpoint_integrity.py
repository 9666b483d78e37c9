"""Checkpoints record their tensors' sizes, dtypes, shapes and SHA-256; a damaged or mismatched
checkpoint is a one-line error naming the file and the tensor or key, from every command that loads one."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from gankit.checkpoint import (describe_tensor, list_checkpoints, read_checkpoint, restore_latest,
                               save_checkpoint)
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import GankitError, TrainingDiverged
from gankit.sampling import load_generator
from gankit.train import train

TINY = ["data.image_size=8", "model.g_width=16", "model.d_width=16", "model.z_dim=16", "train.batch_size=32",
        "train.steps=4", "train.ckpt_every=2"]


def tiny_run(folder: Path, *overrides: str) -> Path:
    train(load_config("quickstart", [*TINY, *overrides]), run_dir=folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A finished 4-step run with checkpoints at steps 2 and 4 (copy it before damaging it)."""
    return tiny_run(tmp_path_factory.mktemp("integrity") / "run")


@pytest.fixture
def run(pristine, tmp_path):
    return Path(shutil.copytree(pristine, tmp_path / "run"))


def latest(run: Path) -> Path:
    return list_checkpoints(run / "checkpoints")[-1]


def edit_json(json_path: Path, change) -> None:
    record = json.loads(json_path.read_text())
    change(record)
    json_path.write_text(json.dumps(record))


def edit_tensors(json_path: Path, change, *, record_them: bool) -> None:
    """Rewrite the .safetensors; ``record_them``: also update the JSON, as if the checkpoint were saved so."""
    st_path = json_path.with_suffix(".safetensors")
    tensors = load_file(st_path)
    change(tensors)
    save_file(tensors, st_path)
    if record_them:
        def rerecord(record):
            record["safetensors_bytes"] = st_path.stat().st_size
            record["tensors"] = {k: describe_tensor(v) for k, v in tensors.items()}
        edit_json(json_path, rerecord)


def make_format_1(json_path: Path) -> None:
    """What gankit wrote before checkpoints recorded their tensors."""
    def strip(record):
        record["format"] = 1
        del record["safetensors_bytes"], record["tensors"]
    edit_json(json_path, strip)


def gankit_fails(monkeypatch, capsys, *args) -> str:
    """Run `gankit ARGS` in this process: it must fail as a user error (status 2, one line, no traceback)."""
    monkeypatch.setattr(sys, "argv", ["gankit", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps at the terminal's width
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# --- what a checkpoint records -----------------------------------------------------------

def test_a_checkpoint_records_its_file_size_and_every_tensor(pristine):
    json_path = latest(pristine)
    record = json.loads(json_path.read_text())
    tensors = load_file(json_path.with_suffix(".safetensors"))
    assert record["format"] == 2
    assert record["safetensors_bytes"] == json_path.with_suffix(".safetensors").stat().st_size
    assert record["tensors"].keys() == tensors.keys()
    weight = record["tensors"]["G/project.weight"]
    assert weight["dtype"] == "float32" and weight["shape"] == list(tensors["G/project.weight"].shape)
    assert len(weight["sha256"]) == 64 and weight != record["tensors"]["D/head.linear.weight"]


def test_format_1_checkpoints_without_the_record_still_load_and_resume(run):
    before = load_generator(run)
    make_format_1(latest(run))
    after = load_generator(run)
    z = before.noise(4, torch.Generator().manual_seed(0))
    assert torch.equal(before(z), after(z))
    result = train(load_config("quickstart", [*TINY, "train.steps=6"]), run_dir=run, resume=True, progress=False)
    assert result.step == 6


# --- damaged or mismatched checkpoints: the loader names the file and the tensor ---------------

def _flip_one_value(tensors):
    tensors["G/project.weight"][0, 0] += 1


def _rename_a_tensor(tensors):
    tensors["G/project.renamed"] = tensors.pop("G/project.weight")


@pytest.mark.parametrize("damage, message", [
    (_flip_one_value, r"ckpt-0000004\.safetensors: tensor 'G/project\.weight' does not match the SHA-256 "
                      r"ckpt-0000004\.json records"),
    (_rename_a_tensor, r"ckpt-0000004\.safetensors does not hold the tensors ckpt-0000004\.json lists: "
                       r"tensor 'G/project\.weight' is missing; 'G/project\.renamed' is not expected \(renamed\?\)"),
])
def test_edited_tensors_are_named(run, damage, message):
    edit_tensors(latest(run), damage, record_them=False)
    with pytest.raises(GankitError, match=message):
        load_generator(run)


def test_a_renamed_tensor_in_an_old_checkpoint_is_named_too(run):
    make_format_1(latest(run))
    edit_tensors(latest(run), _rename_a_tensor, record_them=False)
    with pytest.raises(GankitError, match=r"ckpt-0000004\.json: the tensors do not fit the generator built from "
                                          r"the config: tensor 'G/project\.weight' is missing; 'G/project\.renamed'"):
        load_generator(run)


@pytest.mark.parametrize("legacy", [False, True], ids=["format-2", "format-1"])
def test_tensors_of_another_model_are_refused(run, tmp_path, legacy):
    other = tiny_run(tmp_path / "wider", "model.g_width=32", "model.d_width=32")
    if legacy:
        make_format_1(latest(run))
    shutil.copy(latest(other).with_suffix(".safetensors"), latest(run).with_suffix(".safetensors"))
    if legacy:  # nothing recorded: the generator built from the JSON's config does not fit
        message = (r"ckpt-0000004\.json: tensor 'G/project\.weight' has shape \[512, 16\], but the generator "
                   r"built from the config needs \[256, 16\]")
    else:
        message = (r"ckpt-0000004\.safetensors: tensor 'G/project\.weight' is float32 \[512, 16\], but "
                   r"ckpt-0000004\.json records float32 \[256, 16\] \(the file belongs to another model\?\)")
    with pytest.raises(GankitError, match=message):
        load_generator(run)


@pytest.mark.parametrize("legacy", [False, True], ids=["format-2", "format-1"])
def test_a_truncated_tensor_file_is_named_not_its_json(run, legacy):
    if legacy:
        make_format_1(latest(run))
    st_path = latest(run).with_suffix(".safetensors")
    size = st_path.stat().st_size
    st_path.write_bytes(st_path.read_bytes()[:size // 2])
    expected = (r"tensors .*ckpt-0000004\.safetensors are not a readable safetensors file \(truncated or corrupt\?\)"
                if legacy else rf"tensors .*ckpt-0000004\.safetensors are truncated: {size // 2} bytes of the {size}")
    with pytest.raises(GankitError, match=expected):
        load_generator(run)


@pytest.mark.parametrize("legacy", [False, True], ids=["format-2", "format-1"])
@pytest.mark.parametrize("key", ["G/project.weight", "D/head.linear.weight", "opt_d/0/exp_avg_sq"])
def test_nan_or_infinite_weights_are_refused(run, key, legacy):
    def poison(tensors):
        tensors[key].view(-1)[:3] = torch.tensor([float("nan"), float("inf"), float("-inf")])
    edit_tensors(latest(run), poison, record_them=True)  # as if a diverged run had saved them
    if legacy:
        make_format_1(latest(run))
    with pytest.raises(GankitError, match=rf"ckpt-0000004\.safetensors: tensor '{key}' holds 3 NaN or infinite "
                                          rf"value\(s\) of \d+; diverged or corrupt weights are not loaded"):
        read_checkpoint(latest(run))


@pytest.mark.parametrize("text, message", [
    ("{\"format\": 2, \"step\": ", r"checkpoint .*ckpt-0000004\.json is not valid JSON: Expecting value"),
    ("[1, 2]", r"checkpoint .*ckpt-0000004\.json: expected a JSON object \{\.\.\.\}, got an array"),
    ("\"ckpt\"", r"checkpoint .*ckpt-0000004\.json: expected a JSON object \{\.\.\.\}, got a string"),
])
def test_a_json_that_is_not_a_json_object_is_named(run, text, message):
    latest(run).write_text(text)
    with pytest.raises(GankitError, match=message):
        load_generator(run)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(format=3), r"checkpoint format 3 is not supported \(this gankit reads formats 1, 2\)"),
    (lambda r: r.update(step=-1), r"'step' must be a whole number >= 0, got -1"),
    (lambda r: r.update(wall_seconds="a while"), r"'wall_seconds' must be a number of seconds >= 0, got 'a while'"),
    (lambda r: r.pop("tensors"), r"the JSON has no 'tensors' \(expected an object: tensor name -> "),
    (lambda r: r.pop("config"), r"the JSON has no 'config' \(expected the run's config"),
    (lambda r: r.update(config=[1]), r"'config' must be the run's config, an object with data, model and train, "
                                     r"got \[1\]"),
    (lambda r: r["config"]["model"].update(z_dim="big"), r"bad config in the JSON: model\.z_dim: expected int, "
                                                         r"got 'big'"),
    (lambda r: r["config"]["model"].update(z_dim=0), r"bad config in the JSON: model\.z_dim: must be > 0, got 0"),
    (lambda r: r["config"]["model"].update(z_dim=32), r"tensor 'G/project\.weight' has shape \[256, 16\], but the "
                                                      r"generator built from the config needs \[256, 32\] \(was "
                                                      r"model\.z_dim or a width edited"),
    (lambda r: r.update(sample_shape="1x8x8"), r"'sample_shape' must be a list of positive whole numbers"),
    (lambda r: r.pop("num_classes"), r"the JSON has no 'num_classes' \(expected a whole number >= 0\)"),
])
def test_edited_json_fields_are_named(run, change, message):
    edit_json(latest(run), change)
    with pytest.raises(GankitError, match=rf"ckpt-0000004\.json: {message}"):
        load_generator(run)


def test_resume_names_an_optimizer_slot_that_does_not_fit_its_parameter(run):
    def reshape(tensors):
        tensors["opt_g/0/exp_avg"] = tensors["opt_g/0/exp_avg"][:5].clone()
    edit_tensors(latest(run), reshape, record_them=True)
    cfg = load_config("quickstart", [*TINY, "train.steps=6"])
    with pytest.raises(GankitError, match=r"ckpt-0000004\.json: tensor 'opt_g/0/exp_avg' has shape \[5, 16\], but "
                                          r"parameter 0 of opt_g has shape \[256, 16\] \(to resume from "
                                          r"ckpt-0000002\.json instead, move ckpt-0000004\.json away\)"):
        train(cfg, run_dir=run, resume=True, progress=False)


def test_restore_names_a_module_that_does_not_fit(tmp_path):
    small, large = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    save_checkpoint(tmp_path, 1, modules={"net": small}, optimizers={}, meta={}, keep=1)
    with pytest.raises(GankitError, match=r"ckpt-0000001\.json: tensor 'net/weight' has shape \[2, 3\], but the net "
                                          r"built from the config needs \[2, 4\]"):
        restore_latest(tmp_path, modules={"net": large}, optimizers={})


def test_saving_refuses_what_loading_would_refuse(tmp_path):
    net = torch.nn.BatchNorm1d(3)
    net.running_var[1] = float("nan")  # buffers are not among the parameters the loop checks
    with pytest.raises(TrainingDiverged, match=r"not saving step 5 to .*: tensor 'net/running_var' holds 1 NaN"):
        save_checkpoint(tmp_path, 5, modules={"net": net}, optimizers={}, meta={}, keep=1)
    assert not list(tmp_path.iterdir())


# --- every command that loads a checkpoint: one line, exit status 2 --------------------------

def test_resume_of_a_checkpoint_whose_step_is_not_a_number(run, monkeypatch, capsys):
    edit_json(latest(run), lambda r: r.update(step="abc"))
    err = gankit_fails(monkeypatch, capsys, "train", "--resume", run, "--no-progress")
    assert "ckpt-0000004.json: 'step' must be a whole number >= 0, got 'abc'" in err
    assert "to resume from ckpt-0000002.json instead, move ckpt-0000004.json away" in err


@pytest.mark.parametrize("damage, message", [
    (lambda ckpt: edit_json(ckpt, lambda r: r["config"]["model"].update(z_dim=32)),
     "ckpt-0000004.json: tensor 'G/project.weight' has shape [256, 16], but the generator built from the config "
     "needs [256, 32]"),
    (lambda ckpt: edit_json(ckpt, lambda r: r.pop("config")), "ckpt-0000004.json: the JSON has no 'config'"),
    (lambda ckpt: edit_tensors(ckpt, _rename_a_tensor, record_them=False),
     "ckpt-0000004.safetensors does not hold the tensors ckpt-0000004.json lists"),
    (lambda ckpt: ckpt.with_suffix(".safetensors").write_bytes(b"\x10\x00\x00\x00"),
     "ckpt-0000004.safetensors are truncated: 4 bytes of the"),
])
def test_sample_on_a_damaged_checkpoint(run, tmp_path, monkeypatch, capsys, damage, message):
    damage(latest(run))
    err = gankit_fails(monkeypatch, capsys, "sample", run, "-n", 4, "-o", tmp_path / "grid.png")
    assert message in err
    assert not (tmp_path / "grid.png").exists()


def test_evaluate_on_a_checkpoint_with_nan_weights(run, monkeypatch, capsys):
    edit_tensors(latest(run), lambda t: t["G/project.weight"].fill_(float("nan")), record_them=True)
    err = gankit_fails(monkeypatch, capsys, "evaluate", latest(run), "-n", 100, "--no-parzen")
    assert "ckpt-0000004.safetensors: tensor 'G/project.weight' holds 4096 NaN or infinite value(s)" in err


@pytest.fixture
def classifier_run(tmp_path):
    """A checkpoint in the format of `gankit robust-train`, small enough to write in a test."""
    from gankit.attacks.models import build_model
    folder = tmp_path / "robust" / "checkpoints"
    model = build_model("small", hidden=8)
    meta = {"kind": "classifier", "arch": "small", "model_args": {"hidden": 8}, "dataset": "mnist"}
    save_checkpoint(folder, 10, modules={"model": model}, optimizers={}, meta=meta, keep=1)
    return folder.parent


def test_attack_loads_an_intact_classifier_checkpoint(classifier_run):
    from gankit.attacks.adapters import read_classifier
    model, record = read_classifier(classifier_run)
    assert record["arch"] == "small" and model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("damage, message", [
    (lambda ckpt: edit_json(ckpt, lambda r: r["model_args"].update(hidden=16)),
     "ckpt-0000010.json: tensor 'model/net.8.weight' has shape [8, 1568], but the small classifier built from the "
     "config needs [16, 1568] (was model_args edited"),
    (lambda ckpt: edit_tensors(ckpt, lambda t: t["model/net.10.bias"].fill_(float("inf")), record_them=True),
     "ckpt-0000010.safetensors: tensor 'model/net.10.bias' holds 10 NaN or infinite value(s)"),
    (lambda ckpt: ckpt.with_suffix(".safetensors").write_bytes(ckpt.with_suffix(".safetensors").read_bytes()[:-9]),
     "ckpt-0000010.safetensors are truncated"),
])
def test_attack_on_a_damaged_classifier_checkpoint(classifier_run, monkeypatch, capsys, damage, message):
    damage(latest(classifier_run))
    err = gankit_fails(monkeypatch, capsys, "attack", classifier_run, "-n", 10, "--no-progress")
    assert message in err


def test_sample_on_a_classifier_checkpoint_says_it_holds_no_generator(classifier_run):
    with pytest.raises(GankitError, match=r"ckpt-0000010\.json holds no generator to sample \(no G/ tensors\): "
                                          r"it is a classifier checkpoint"):
        load_generator(classifier_run)


def test_attack_on_a_damaged_gan_run_names_the_tensor_file(run, monkeypatch, capsys):
    edit_tensors(latest(run), _flip_one_value, record_them=False)
    err = gankit_fails(monkeypatch, capsys, "attack", run, "-n", 10, "--no-progress")
    assert "ckpt-0000004.safetensors: tensor 'G/project.weight' does not match the SHA-256" in err


@pytest.fixture
def semisup_classifier(tmp_path):
    from gankit.semisup.classifier import save_classifier
    from gankit.semisup.nets import Classifier
    save_classifier(tmp_path / "semisup" / "classifier", Classifier(784, (9, 7), 10), {"config": {"d_hidden": "9-7"}})
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    return tmp_path / "semisup"


@pytest.mark.parametrize("damage, message", [
    (lambda json_path: edit_tensors(json_path, lambda t: next(iter(t.values())).fill_(float("nan")),
                                    record_them=False),
     "classifier.safetensors: tensor"),
    (lambda json_path: edit_json(json_path, lambda r: r.update(d_hidden="9-8")),
     "classifier.json: tensor "),
    (lambda json_path: edit_json(json_path, lambda r: r.update(in_features="784")),
     "classifier.json: 'in_features' must be a whole number > 0, got '784'"),
    (lambda json_path: json_path.write_text("{"), "classifier.json is not valid JSON"),
])
def test_classify_with_a_damaged_classifier(semisup_classifier, tmp_path, monkeypatch, capsys, damage, message):
    damage(semisup_classifier / "classifier.json")
    err = gankit_fails(monkeypatch, capsys, "classify", semisup_classifier, tmp_path / "digit.png")
    assert message in err


def test_a_real_process_exits_with_status_2_and_one_line(run):
    edit_tensors(latest(run), _flip_one_value, record_them=False)
    proc = subprocess.run([sys.executable, "-m", "gankit", "sample", str(run), "-o", str(run / "grid.png")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "1000"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "tensor 'G/project.weight' does not match the SHA-256" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
