import subprocess
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app

runner = CliRunner()
TINY = ["--set", "data.image_size=8", "--set", "model.g_width=16", "--set", "model.d_width=16",
        "--set", "train.batch_size=32", "--set", "train.log_every=5"]


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    invoke("train", *TINY, "--set", "train.steps=10", "--out", out, "--no-progress")
    return out


def test_train_with_no_recipe_runs_the_quickstart(run_dir):
    assert (run_dir / "config.yaml").read_text().startswith("name: quickstart")
    assert list((run_dir / "checkpoints").glob("ckpt-0000010.safetensors"))


def test_sample_writes_a_grid(run_dir, tmp_path):
    invoke("sample", run_dir, "-n", 16, "-o", tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size[0] > 4 * 8 and im.mode == "L"


def test_interpolation_rows(run_dir, tmp_path):
    invoke("sample", run_dir, "--interpolate", "--frames", 5, "-n", 10, "-o", tmp_path / "walk.png")
    with Image.open(tmp_path / "walk.png") as im:
        assert im.size[0] > im.size[1]  # 2 rows of 5 frames: wider than tall


def test_resume_extends_a_finished_run(run_dir):
    invoke("train", "--resume", run_dir, "--set", "train.steps=15", "--no-progress")
    assert list((run_dir / "checkpoints").glob("ckpt-0000015.json"))
    assert "steps: 15" in (run_dir / "config.yaml").read_text()  # the resolved config follows


def test_info_and_recipes(run_dir):
    out = invoke("info", run_dir)
    assert "quickstart" in out and "ckpt-0000010" in out
    listed = invoke("recipes")
    assert "gan2014_mnist" in listed and "ssgan_mnist100" in listed


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["recipes"], ["info"]])
def test_help_everywhere(command):
    assert "Usage" in invoke(*command, "--help")


def test_user_errors_are_one_clear_line_and_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "--set", "train.lr_gg=1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown key 'train.lr_gg'" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "gankit", "sample", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no checkpoint found" in proc.stderr


@pytest.mark.parametrize("command", [
    ["train", "quickstart"], ["semisup"], ["robust-train"], ["synth", "fit", "breast-cancer", "-o", "m"],
    ["backbone", "train", "digits"]])
def test_every_training_command_takes_set_on_a_recipe_and_names_an_unknown_key(command, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", *command, "--set", "no_such_key=1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "unknown key 'no_such_key'" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())  # nothing was written


def test_version_and_short_help():
    assert invoke("--version").startswith("gankit ")
    assert "Usage" in invoke("-h") and "Usage" in invoke("synth", "fit", "-h")


def test_a_new_run_into_an_existing_run_folder_is_refused_and_changes_nothing(run_dir):
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["train", *TINY, "--set", "train.steps=20", "--set", "train.ckpt_every=10",
                                 "--out", str(run_dir), "--no-progress"])
    assert result.exit_code != 0 and "already holds a run" in str(result.exception)
    assert "--resume" in str(result.exception)
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before


def test_a_stopped_run_exits_with_status_3(tmp_path):
    import textwrap
    # SIGINT to itself after the 3rd step: the run saves, says how to resume, exits 3
    script = textwrap.dedent(f"""
        import os, signal, sys
        from gankit.cli import app, main
        from gankit import train as gtrain
        real = gtrain.train
        def stop_early(cfg, **kw):
            kw["callbacks"] = [lambda step, t: step == 3 and os.kill(os.getpid(), signal.SIGINT)]
            return real(cfg, **kw)
        import gankit.train
        gankit.train.train = stop_early
        sys.argv = ["gankit", "train", "--set", "train.steps=50", "--set", "data.image_size=8",
                    "--set", "model.g_width=8", "--set", "model.d_width=8", "--out", {str(tmp_path / 'run')!r},
                    "--no-progress"]
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "gankit train --resume" in proc.stderr and (tmp_path / "run" / "checkpoints").is_dir()
