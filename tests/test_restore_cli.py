"""`gankit restore inpaint | denoise | superres` end to end on tiny photos, their errors, and resume."""

from __future__ import annotations

import json
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app, main
from gankit.restore.corrupt import add_noise, low_resolution, make_mask
from gankit.restore.images import save_image
from gankit.restore.photos import photo

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_thread")
TINY = ["--set", "channels_down=[8, 8, 8, 8, 8]", "--set", "channels_up=[8, 8, 8, 8, 8]",
        "--set", "channels_skip=[4, 4, 4, 4, 4]", "--set", "input_channels=8", "--set", "es_window=10",
        "--set", "log_every=10", "--iterations", "30", "--device", "cpu", "--no-progress"]


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def fail(monkeypatch, capsys, *args) -> str:
    monkeypatch.setattr(sys, "argv", ["gankit", *[str(a) for a in args]])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())   # rich wraps long lines: join them
    assert err.startswith("error:") and err.count("error:") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    clean = photo("astronaut", 32)
    mask = make_mask("text", 32, 32)
    save_image(clean, folder / "clean.png")
    save_image(mask, folder / "mask.png")
    save_image(clean * mask, folder / "holes.png")
    save_image(add_noise(clean, 25 / 255, seed=0, clip=True), folder / "noisy.png")
    save_image(low_resolution(clean, 4), folder / "small.png")
    return folder


@pytest.mark.parametrize("task, args", [
    ("inpaint", ["holes.png", "--mask", "mask.png"]),
    ("denoise", ["noisy.png", "--sigma", "25"]),
    ("superres", ["small.png", "--scale", "4"]),
])
def test_each_command_writes_the_image_the_strip_and_the_record(files, tmp_path, task, args):
    args = [files / a if a.endswith(".png") else a for a in args]
    out = invoke("restore", task, *args, "-o", tmp_path / "out.png", "--reference", files / "clean.png", "--compare",
                 "--recipe", f"cpu_{task}", *TINY, "--run", tmp_path / "run")
    assert "PSNR" in out and "wrote" in out
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (32, 32) and im.mode == "RGB"
    with Image.open(tmp_path / "out_strip.png") as strip:
        assert strip.width > 4 * 32
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["task"] == task and record["iterations"]["planned"] == 30 and record["config"]["name"] == f"cpu_{task}"
    assert [row["step"] for row in record["log"]] == [10, 20, 30] and all("psnr" in row for row in record["log"])
    assert record["output"]["psnr"] > 0 and record["wall_seconds"] > 0 and "hardware" in record
    assert set(record["baselines"]) >= {"inpaint": {"biharmonic"}, "denoise": {"cbm3d"}, "superres": {"bicubic"}}[task]
    assert (tmp_path / "run" / "checkpoints").is_dir() and (tmp_path / "run" / "inputs.json").is_file()


def test_resume_continues_a_run_with_more_iterations(files, tmp_path):
    common = [files / "noisy.png", "-o", tmp_path / "out.png", "--recipe", "cpu_denoise", *TINY,
              "--set", "early_stop=none"]
    invoke("restore", "denoise", *common, "--run", tmp_path / "run")
    out = invoke("restore", "denoise", files / "noisy.png", "-o", tmp_path / "out.png", "--iterations", 40,
                 "--no-progress", "--resume", tmp_path / "run")
    assert "40 of 40 steps" in out
    assert [r["step"] for r in json.loads((tmp_path / "out.json").read_text())["log"]] == [10, 20, 30, 40]
    again = invoke("restore", "denoise", files / "noisy.png", "-o", tmp_path / "again.png", "--no-progress",
                   "--resume", tmp_path / "run")   # nothing left to do: the outputs are written again
    assert "40 of 40 steps" in again and (tmp_path / "again.png").is_file()


def test_resuming_with_another_photo_is_refused(files, tmp_path, monkeypatch, capsys):
    invoke("restore", "denoise", files / "noisy.png", "-o", tmp_path / "out.png", "--recipe", "cpu_denoise", *TINY,
           "--run", tmp_path / "run")
    err = fail(monkeypatch, capsys, "restore", "denoise", files / "clean.png", "-o", tmp_path / "out.png",
               "--iterations", 40, "--resume", tmp_path / "run")
    assert "was fitted to another photo" in err


def test_user_errors_are_one_line_and_leave_no_run_folder(files, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    assert "notes.png: not an image file" in fail(monkeypatch, capsys, "restore", "denoise", notes, "-o",
                                                  tmp_path / "o.png", "--run", run)
    black = tmp_path / "black.png"
    Image.new("L", (32, 32), 0).save(black)
    assert "all black" in fail(monkeypatch, capsys, "restore", "inpaint", files / "holes.png", "--mask", black,
                               "-o", tmp_path / "o.png", "--run", run)
    assert "unknown key 'iteration'" in fail(monkeypatch, capsys, "restore", "denoise", files / "noisy.png", "-o",
                                             tmp_path / "o.png", "--set", "iteration=5", "--run", run)
    assert "give an image file name" in fail(monkeypatch, capsys, "restore", "denoise", files / "noisy.png", "-o",
                                             tmp_path / "o.txt", "--run", run)
    assert "--sigma must be between 0 and 255" in fail(monkeypatch, capsys, "restore", "denoise", files / "noisy.png",
                                                       "--sigma", 0, "-o", tmp_path / "o.png", "--run", run)
    assert "bf16 runs on CUDA only" in fail(monkeypatch, capsys, "restore", "denoise", files / "noisy.png", "-o",
                                            tmp_path / "o.png", "--device", "cpu", "--set", "precision=bf16",
                                            "--run", run)
    assert not run.exists()


@pytest.mark.parametrize("command", [["restore"], ["restore", "inpaint"], ["restore", "denoise"],
                                     ["restore", "superres"]])
def test_help(command):
    assert "Usage" in invoke(*command, "--help")
