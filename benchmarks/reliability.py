"""The input catalogue: bad and unusual inputs to every command, and what gankit does with each.

    python benchmarks/reliability.py          # run it; writes docs/reliability.md (input, outcome, message)

Each case is a gankit command line on inputs a case builds in a scratch folder. Its outcome is one of

* ok: the command succeeded (for inputs gankit should accept);
* error: gankit's own error type with a one-line message (the command line prints it and exits 2);
* usage: the command line's own usage error (a bad flag), exit 2;
* stopped: a run stopped early and said how to resume (exit 3);
* traceback: any other exception: a defect.

A case passes when its outcome is the expected one, the message names what the case says it must
(the file, key or value), and a failed command left no half-written output behind. The same
catalogue runs in tests/test_reliability.py, with hypothesis-generated inputs besides.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import GankitError

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("GANKIT_DATA", str(ROOT.parent / "shared" / "data"))
TINY_SEMISUP = ["--data-root", DATA, "--set", "image_size=7", "--set", "d_hidden=16", "--set", "g_hidden=16",
                "--set", "z_dim=8", "--set", "init_batch=100", "--no-progress"]
TINY_GAN = ["--set", "data.image_size=8", "--set", "model.g_width=8", "--set", "model.d_width=8",
            "--set", "model.z_dim=8", "--set", "train.batch_size=16", "--set", "train.steps=2",
            "--set", "train.eval_every=0", "--no-progress"]


@dataclass
class Case:
    group: str
    name: str                                   # the input, in words
    argv: list[str]                             # the command line; "{tmp}" is the case's scratch folder
    setup: Callable[[Path], None] | None = None
    expect: str = "error"                       # ok, error, usage or stopped; "ok|error": either will do
    names: str = ""                             # a word the message must contain (the culprit)
    outputs: tuple[str, ...] = ()               # paths (under {tmp}) a failed command must not leave behind


@dataclass
class Outcome:
    case: Case
    kind: str
    message: str
    passed: bool
    why: str = ""
    seconds: float = 0.0


def run_case(case: Case, tmp: Path) -> Outcome:
    """Run one case in ``tmp`` (its scratch folder) and judge what happened."""
    if case.setup:
        case.setup(tmp)
    before = {p: p.stat().st_mtime_ns for p in tmp.rglob("*")}
    argv = [a.replace("{tmp}", str(tmp)) for a in case.argv]
    start, cwd = time.perf_counter(), os.getcwd()
    os.chdir(tmp)
    try:
        result = CliRunner().invoke(app, argv)
    finally:
        os.chdir(cwd)
    seconds = time.perf_counter() - start
    exc = result.exception
    if result.exit_code == 0:
        kind, message = "ok", _last_line(result.output)
    elif isinstance(exc, GankitError):
        kind, message = "error", str(exc)
    elif result.exit_code == 3:
        kind, message = "stopped", _last_line(result.output)
    elif result.exit_code == 2 and not exc or isinstance(exc, SystemExit) and result.exit_code == 2:
        kind, message = "usage", _last_line(result.output.replace("│", " "))
    else:
        kind, message = "traceback", f"{type(exc).__name__}: {exc}"
    why = _judge(case, kind, message, tmp, before)
    return Outcome(case, kind, message.replace(str(tmp), "{tmp}"), not why, why, seconds)


def _judge(case: Case, kind: str, message: str, tmp: Path, before: dict) -> str:
    """'' when the outcome is what the case expects; else what is wrong."""
    if kind == "traceback":
        return "a Python exception, not gankit's own error"
    if kind not in case.expect.split("|"):
        return f"expected {case.expect}, got {kind}"
    if kind == "error" and "\n" in message.strip():
        return "the message spans several lines"
    if case.names and case.names.lower() not in message.lower():
        return f"the message does not name {case.names!r}"
    if kind in ("error", "usage"):
        for out in case.outputs:
            path = tmp / out
            if path.exists() and (path not in before or path.stat().st_mtime_ns != before[path]):
                return f"left {out} behind"
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- inputs the cases build ---------------------------------------------------------

def write(name: str, text: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_text(text)


def trained_run(name: str = "run", *extra: str) -> Callable[[Path], None]:
    """A real (tiny) finished GAN run in tmp/name."""
    def setup(tmp: Path) -> None:
        result = CliRunner().invoke(app, ["train", *TINY_GAN, *extra, "--out", str(tmp / name)])
        assert result.exit_code == 0, result.output
    return setup


def robust_run(name: str = "adv") -> Callable[[Path], None]:
    """A real (tiny) finished robust-train run on the built-in digits, in tmp/name."""
    def setup(tmp: Path) -> None:
        result = CliRunner().invoke(app, ["robust-train", "--dataset", "digits", "--arch", "small", "--n-train", "200",
                                          "--epochs", "0.5", "--out", str(tmp / name),
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
    return setup


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


def image(name: str, mode: str = "L", size: tuple[int, int] = (28, 28)) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        from PIL import Image
        Image.new(mode, size).save(tmp / name)
    return setup


def semisup_classifier(name: str) -> Callable[[Path], None]:
    """A (tiny, untrained) classifier as `gankit semisup` saves it, in tmp/name."""
    def setup(tmp: Path) -> None:
        from gankit.semisup.classifier import save_classifier
        from gankit.semisup.nets import Classifier
        (tmp / name).mkdir()
        meta = {"config": {"d_hidden": "8"}, "class_names": [str(k) for k in range(10)], "image_shape": [1, 28, 28]}
        save_classifier(tmp / name / "classifier", Classifier(784, (8,), 10), meta)
    return setup


def csv(name: str, rows: list[list], header: list[str]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
        (tmp / name).write_text("\n".join(lines) + "\n")
    return setup


def patients(n: int = 60, age=lambda i: 20 + i % 40, bmi=lambda i: 20 + i % 15) -> list[list]:
    """A small patient table: age, bmi, sex, outcome (the outcome depends on age)."""
    return [[age(i), bmi(i), "MF"[i % 2], "yes" if i % 60 > 30 else "no"] for i in range(n)]


PATIENT_COLUMNS = ["age", "bmi", "sex", "outcome"]
FIT = ["--target", "outcome", "-o", "{tmp}/m", "--set", "steps=2", "--set", "batch_size=16", "--no-progress"]


def edit_json(run: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    """Edit the newest checkpoint JSON of tmp/run in place."""
    def setup(tmp: Path) -> None:
        import json
        path = sorted((tmp / run / "checkpoints").glob("ckpt-*.json"))[-1]
        record = json.loads(path.read_text())
        change(record)
        path.write_text(json.dumps(record))
    return setup


def truncate_tensors(run: str, keep: int) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = sorted((tmp / run / "checkpoints").glob("ckpt-*.safetensors"))[-1]
        path.write_bytes(path.read_bytes()[:keep])
    return setup


def swap_tensors(run: str, other: str) -> Callable[[Path], None]:
    """The newest tensor file of tmp/run replaced by that of tmp/other (another model)."""
    def setup(tmp: Path) -> None:
        mine = sorted((tmp / run / "checkpoints").glob("ckpt-*.safetensors"))[-1]
        theirs = sorted((tmp / other / "checkpoints").glob("ckpt-*.safetensors"))[-1]
        mine.write_bytes(theirs.read_bytes())
    return setup


def rename_tensor(run: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        from safetensors.torch import load_file, save_file
        path = sorted((tmp / run / "checkpoints").glob("ckpt-*.safetensors"))[-1]
        tensors = load_file(str(path))
        first = next(k for k in tensors if k.startswith("G/"))
        tensors[first.replace("G/", "G/renamed_")] = tensors.pop(first)
        save_file(tensors, str(path))
    return setup


def synth_cases() -> list[Case]:
    ok_table = csv("p.csv", patients(), PATIENT_COLUMNS)
    return [
        Case("tables", "a 2-row table", ["synth", "fit", "{tmp}/p.csv", *FIT],
             csv("p.csv", patients(2), PATIENT_COLUMNS), names="p.csv", outputs=("m",)),
        Case("tables", "a numeric column holding 1e308 and -1e308", ["synth", "fit", "{tmp}/p.csv", *FIT],
             csv("p.csv", patients(age=lambda i: (1e308, -1e308)[i % 2] if i < 2 else i), PATIENT_COLUMNS),
             names="age", outputs=("m",)),
        Case("tables", "epsilon 1e-6", ["synth", "fit", "{tmp}/p.csv", *FIT, "--epsilon", "1e-6"], ok_table,
             names="smallest epsilon", outputs=("m",)),
        Case("tables", "epsilon NaN", ["synth", "fit", "{tmp}/p.csv", *FIT, "--epsilon", "nan"], ok_table,
             names="epsilon", outputs=("m",)),
        Case("tables", "max-grad-norm -1", ["synth", "fit", "{tmp}/p.csv", *FIT, "--max-grad-norm", "-1"], ok_table,
             names="max_grad_norm", outputs=("m",)),
        Case("tables", "max-grad-norm 0", ["synth", "fit", "{tmp}/p.csv", *FIT, "--max-grad-norm", "0"], ok_table,
             names="max_grad_norm", outputs=("m",)),
        Case("tables", "delta 0", ["synth", "fit", "{tmp}/p.csv", *FIT, "--delta", "0"], ok_table, names="delta",
             outputs=("m",)),
        Case("tables", "fit -o an existing file", ["synth", "fit", "{tmp}/p.csv", "--target", "outcome", "-o",
                                                  "{tmp}/p.csv", "--set", "steps=2"], ok_table, names="is a file"),
        Case("tables", "fit into a model folder that holds a model", ["synth", "fit", "{tmp}/p.csv", *FIT],
             both(ok_table, lambda t: (t / "m").mkdir(), write("m/model.json", "{}")), names="not empty"),
        Case("tables", "sample -o an existing folder", ["synth", "sample", "{tmp}/m", "-o", "{tmp}/m"],
             both(ok_table, fitted("p.csv")), names="folder"),
        Case("tables", "report -n 0", ["synth", "report", "{tmp}/m", "-n", "0"], both(ok_table, fitted("p.csv")),
             names="-n"),
        Case("tables", "no --target", ["synth", "fit", "{tmp}/p.csv", "-o", "{tmp}/m"], ok_table, names="--target",
             outputs=("m",)),
        Case("tables", "a target that is not a column", ["synth", "fit", "{tmp}/p.csv", "--target", "died", "-o",
                                                         "{tmp}/m"], ok_table, names="died", outputs=("m",)),
        Case("tables", "missing values in numbers and categories", ["synth", "fit", "{tmp}/p.csv", *FIT],
             csv("p.csv", [[None if i % 7 == 0 else 20 + i % 50, 25, None if i % 5 == 0 else "MF"[i % 2],
                            "yes" if i % 3 else "no"] for i in range(60)], PATIENT_COLUMNS), expect="ok"),
        Case("tables", "a missing outcome", ["synth", "fit", "{tmp}/p.csv", *FIT],
             csv("p.csv", [[30 + i, 25, "M", None if i == 3 else "yes" if i % 2 else "no"] for i in range(60)],
                 PATIENT_COLUMNS), names="outcome", outputs=("m",)),
        Case("tables", "text placeholders in a numeric column", ["synth", "fit", "{tmp}/p.csv", *FIT],
             csv("p.csv", patients(age=lambda i: "n.d." if i % 10 == 0 else 20 + i), PATIENT_COLUMNS),
             expect="ok|error", names="n.d.", outputs=("m",)),
        Case("tables", "a file that is not CSV", ["synth", "fit", "{tmp}/p.csv", *FIT],
             lambda t: (t / "p.csv").write_bytes(bytes(range(256)) * 4), outputs=("m",)),
        Case("tables", "an empty file", ["synth", "fit", "{tmp}/p.csv", *FIT], write("p.csv", ""), names="p.csv",
             outputs=("m",)),
        Case("tables", "a model folder that is not a model", ["synth", "sample", "{tmp}"], names="model"),
    ]


def fitted(table: str, name: str = "m") -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        result = CliRunner().invoke(app, ["synth", "fit", str(tmp / table), "--target", "outcome", "-o",
                                          str(tmp / name), "--set", "steps=2", "--set", "batch_size=16",
                                          "--no-progress",
                                          "--run", str(tmp / "fit-run")])
        assert result.exit_code == 0, (result.output, result.exception)
    return setup


def checkpoint_cases() -> list[Case]:
    run = trained_run()
    return [
        Case("checkpoints", "a step that is not a number, then resume", ["train", "--resume", "{tmp}/run"],
             both(run, edit_json("run", lambda r: r.update(step="abc"))), names="step"),
        Case("checkpoints", "sample with z_dim edited in the JSON", ["sample", "{tmp}/run", "-o", "{tmp}/g.png"],
             both(run, edit_json("run", lambda r: r["config"]["model"].update(z_dim=32))), names="shape",
             outputs=("g.png",)),
        Case("checkpoints", "sample with the config removed from the JSON", ["sample", "{tmp}/run",
                                                                             "-o", "{tmp}/g.png"],
             both(run, edit_json("run", lambda r: r.pop("config"))), names="config", outputs=("g.png",)),
        Case("checkpoints", "sample with another model's tensor file", ["sample", "{tmp}/run", "-o", "{tmp}/g.png"],
             both(run, trained_run("other", "--set", "model.g_width=16"), swap_tensors("run", "other")),
             names="safetensors", outputs=("g.png",)),
        Case("checkpoints", "sample with a renamed tensor", ["sample", "{tmp}/run", "-o", "{tmp}/g.png"],
             both(run, rename_tensor("run")), names="renamed", outputs=("g.png",)),
        Case("checkpoints", "sample with a truncated tensor file", ["sample", "{tmp}/run", "-o", "{tmp}/g.png"],
             both(run, truncate_tensors("run", 1000)), names=".safetensors", outputs=("g.png",)),
        Case("checkpoints", "resume with a truncated tensor file", ["train", "--resume", "{tmp}/run"],
             both(run, truncate_tensors("run", 1000)), names=".safetensors"),
        Case("checkpoints", "a checkpoint JSON that is not JSON", ["sample", "{tmp}/run", "-o", "{tmp}/g.png"],
             both(run, lambda t: sorted((t / "run" / "checkpoints").glob("*.json"))[-1].write_text("{nope")),
             names="JSON", outputs=("g.png",)),
        Case("checkpoints", "evaluate a run whose weights are NaN", ["evaluate", "{tmp}/run", "-n", "100"],
             both(run, nan_weights("run")), names="NaN"),
    ]


def nan_weights(run: str) -> Callable[[Path], None]:
    """The newest checkpoint's generator weights set to NaN, its JSON record made to match (a diverged save)."""
    def setup(tmp: Path) -> None:
        import json
        from safetensors.torch import load_file, save
        from gankit.checkpoint import describe_tensor
        path = sorted((tmp / run / "checkpoints").glob("ckpt-*.safetensors"))[-1]
        tensors = {k: (v.fill_(float("nan")) if k.startswith("G") and v.is_floating_point() else v)
                   for k, v in load_file(str(path)).items()}
        data = save(tensors)
        path.write_bytes(data)
        record = json.loads(path.with_suffix(".json").read_text())
        record.update(safetensors_bytes=len(data), tensors={k: describe_tensor(v) for k, v in tensors.items()})
        path.with_suffix(".json").write_text(json.dumps(record))
    return setup


def provenance_cases() -> list[Case]:
    return [
        Case("provenance", "verify a file that does not exist", ["verify", "{tmp}/none.png"], names="none.png"),
        Case("provenance", "verify a file of unknown format", ["verify", "{tmp}/x.txt"], write("x.txt", "x"),
             names="x.txt"),
        Case("provenance", "verify an image without a manifest", ["verify", "{tmp}/a.png"], image("a.png"),
             expect="ok"),
        Case("provenance", "verify with a trust list that is not PEM", ["verify", "{tmp}/a.png", "--trust",
                                                                         "{tmp}/x.txt"],
             both(image("a.png"), write("x.txt", "x")), names="x.txt"),
        Case("provenance", "sign with no keys made", ["sample", "{tmp}/run", "--sign", "--cert", "{tmp}/none.pem",
                                                      "--key", "{tmp}/none.key", "-o", "{tmp}/g.png"], trained_run(),
             names="none.pem", outputs=("g.png",)),
        Case("provenance", "sign with a corrupt key", ["sample", "{tmp}/run", "--sign", "--cert", "{tmp}/k/signer.pem",
                                                       "--key", "{tmp}/bad.key", "-o", "{tmp}/g.png"],
             both(trained_run(), keys("k"), write("bad.key", "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")),
             names="bad.key", outputs=("g.png",)),
        Case("provenance", "keys init where keys exist", ["keys", "init", "--dir", "{tmp}/k"], keys("k"),
             names="--force"),
        Case("provenance", "sample -o a folder", ["sample", "{tmp}/run", "-o", "{tmp}"], trained_run(),
             names="folder"),
        Case("provenance", "restore --sign into a JPEG", ["restore", "denoise", "{tmp}/a.png", "-o", "{tmp}/o.jpg",
                                                           "--sign", "--run", "{tmp}/r"],
             image("a.png", "RGB", (32, 32)), names="o.jpg", outputs=("o.jpg", "r")),
        Case("provenance", "restore --sign with no keys made", ["restore", "denoise", "{tmp}/a.png", "-o",
                                                                 "{tmp}/o.png", "--sign", "--cert", "{tmp}/none.pem",
                                                                 "--key", "{tmp}/none.key", "--run", "{tmp}/r"],
             image("a.png", "RGB", (32, 32)), names="none.pem", outputs=("o.png", "r")),
    ]


def class_folders(root: str, counts: dict[str, int]) -> Callable[[Path], None]:
    """tmp/root/CLASS/i.png: ``counts[CLASS]`` small grey images per class (0: an empty class folder)."""
    def setup(tmp: Path) -> None:
        for name, n in counts.items():
            (tmp / root / name).mkdir(parents=True)
            for i in range(n):
                image(f"{root}/{name}/{i}.png", size=(8, 8))(tmp)
    return setup


def augment_cases() -> list[Case]:
    shapes = class_folders("shapes", {"a": 4, "b": 4})
    return [
        Case("augment", "labels not a multiple of the classes", ["augment", "--labels", "15", "--data-root", DATA,
                                                                  "-o", "{tmp}/r"], names="labels", outputs=("r",)),
        Case("augment", "more labels than images", ["augment", "--folder", "{tmp}/shapes", "--labels", "10",
                                                     "-o", "{tmp}/r"], shapes, names="only 8", outputs=("r",)),
        Case("augment", "a class folder with no images", ["augment", "--folder", "{tmp}/shapes", "--labels", "4",
                                                           "-o", "{tmp}/r"], class_folders("shapes", {"a": 4, "b": 0}),
             names="'b'", outputs=("r",)),
        Case("augment", "a folder that does not exist", ["augment", "--folder", "{tmp}/none", "-o", "{tmp}/r"],
             names="none", outputs=("r",)),
        Case("augment", "an arm that does not exist", ["augment", "--set", "arms=real,mixup"], names="mixup"),
        Case("augment", "a DiffAugment that does not exist", ["augment", "--set", "diffaug=rotate"], names="rotate"),
        Case("augment", "--dataset and --folder at once", ["augment", "--dataset", "mnist", "--folder", "{tmp}"],
             names="not both"),
        Case("augment", "an unconditional GAN recipe", ["augment", "--folder", "{tmp}/shapes", "--labels", "4",
                                                         "--set", "gan_recipe=quickstart", "-o", "{tmp}/r"], shapes,
             names="not class-conditional", outputs=("r",)),
        Case("augment", "into a folder that holds a run", ["augment", "--folder", "{tmp}/shapes", "--labels", "4",
                                                           "-o", "{tmp}/run"], both(shapes, trained_run()),
             names="already holds a run"),
    ]


def keys(name: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        from gankit.provenance import init_keys
        init_keys(tmp / name)
    return setup


NO_CUDA = not torch.cuda.is_available()


def catalogue() -> list[Case]:
    """Every fixed case: the issue's list and their neighbours."""
    out = [
        # --- run folders: never mixed, never shared
        Case("run folders", "train into a folder that holds a finished run", ["train", *TINY_GAN, "--out", "{tmp}/run"],
             trained_run(), names="already holds a run"),
        Case("run folders", "train into an existing file", ["train", *TINY_GAN, "--out", "{tmp}/file"],
             write("file", "x"), names="is a file"),
        Case("run folders", "resume a folder that does not exist", ["train", "--resume", "{tmp}/nothing"],
             names="nothing"),
        Case("run folders", "resume a folder with no checkpoint", ["train", "--resume", "{tmp}/empty"],
             both(lambda t: (t / "empty").mkdir(), write("empty/config.yaml", "name: x\n")), names="checkpoint"),
        Case("run folders", "resume and a recipe at once", ["train", "quickstart", "--resume", "{tmp}/run"],
             trained_run(), names="not both"),
        Case("run folders", "semisup into a folder that holds a run",
             ["semisup", "--data-root", DATA, "-o", "{tmp}/run", "--no-progress"], trained_run(),
             names="already holds a run"),
        Case("run folders", "robust-train into a folder that holds a run",
             ["robust-train", "--dataset", "digits", "--out", "{tmp}/run", "--no-progress"], trained_run(),
             names="already holds a run"),
        # --- recipes and overrides
        Case("recipes", "image_size 17 (no DCGAN takes it)", ["train", "quickstart", "--set", "data.image_size=17",
                                                             "--out", "{tmp}/r"], names="data.image_size",
             outputs=("r",)),
        Case("recipes", "a recipe file with image_size 17", ["train", "{tmp}/bad.yaml", "--out", "{tmp}/r"],
             write("bad.yaml", "data: {name: digits, image_size: 17}\n"), names="data.image_size", outputs=("r",)),
        Case("recipes", "learning rate NaN", ["train", "--set", "train.lr_g=.nan", "--out", "{tmp}/r"],
             names="train.lr_g", outputs=("r",)),
        Case("recipes", "learning rate inf", ["train", "--set", "train.lr_d=.inf", "--out", "{tmp}/r"],
             names="train.lr_d", outputs=("r",)),
        Case("recipes", "negative learning rate", ["train", "--set", "train.lr_g=-1", "--out", "{tmp}/r"],
             names="train.lr_g", outputs=("r",)),
        Case("recipes", "steps as text", ["train", "--set", "train.steps=abc", "--out", "{tmp}/r"],
             names="train.steps", outputs=("r",)),
        Case("recipes", "steps 0", ["train", "--set", "train.steps=0", "--out", "{tmp}/r"], names="train.steps",
             outputs=("r",)),
        Case("recipes", "unknown key", ["train", "--set", "train.lr_gg=1", "--out", "{tmp}/r"], names="train.lr_gg",
             outputs=("r",)),
        Case("recipes", "a section given a value", ["train", "--set", "train=3", "--out", "{tmp}/r"], names="train",
             outputs=("r",)),
        Case("recipes", "--set without =", ["train", "--set", "trainsteps", "--out", "{tmp}/r"], names="key=value",
             outputs=("r",)),
        Case("recipes", "an unknown recipe", ["train", "no_such_recipe"], names="no_such_recipe"),
        Case("recipes", "a recipe file that does not exist", ["train", "{tmp}/missing.yaml"], names="missing.yaml"),
        Case("recipes", "a recipe that is not YAML", ["train", "{tmp}/bad.yaml"], write("bad.yaml", "a: [1, 2\n"),
             names="bad.yaml"),
        Case("recipes", "a recipe that is a list", ["train", "{tmp}/list.yaml"], write("list.yaml", "- 1\n- 2\n"),
             names="list.yaml"),
        Case("recipes", "a recipe in Latin-1 bytes", ["train", "{tmp}/latin.yaml"],
             lambda t: (t / "latin.yaml").write_bytes("description: caf\xe9\n".encode("latin-1")), names="latin.yaml"),
        Case("recipes", "a conditional GAN on an image folder without classes",
             ["train", "quickstart", "--set", "model.conditional=projection", "--set", "data.name=folder",
              "--set", "data.path={tmp}/flat", "--out", "{tmp}/r"],
             both(lambda t: (t / "flat").mkdir(), image("flat/a.png", "RGB", (10, 10))),
             names="needs a labeled dataset", outputs=("r",)),
        Case("recipes", "semisup: labels not a multiple of 10", ["semisup", "--labels", "15", "--data-root", DATA],
             names="labels"),
        Case("recipes", "semisup: an unknown dataset", ["semisup", "--dataset", "cifar10"], names="--dataset"),
        Case("recipes", "semisup: NaN input noise", ["semisup", "--set", "input_noise=.nan"], names="input_noise"),
        Case("recipes", "robust-train: epochs 0", ["robust-train", "--dataset", "digits", "--epochs", "0",
                                                   "--out", "{tmp}/r"], names="epochs", outputs=("r",)),
        Case("recipes", "robust-train: a defence that does not exist", ["robust-train", "--defence", "mixup"],
             names="defence"),
        Case("recipes", "robust-train: negative eps", ["robust-train", "--eps", "-1"], names="eps"),
        Case("recipes", "robust-train: --threads 0", ["robust-train", "--threads", "0"], names="--threads"),
        Case("recipes", "backbone: epochs 0", ["backbone", "train", "digits", "--set", "epochs=0"], names="epochs"),
        Case("recipes", "backbone: no recipe", ["backbone", "train"], names="recipe"),
        # --- devices
        Case("devices", "train on a device that does not exist", ["train", "--set", "train.device=tpu"],
             names="tpu"),
        Case("devices", "attack on a device that does not exist", ["attack", "backbone:digits", "--device", "tpu"],
             names="tpu"),
        Case("devices", "robust-train on a device that does not exist", ["robust-train", "--device", "tpu"],
             names="tpu"),
        # --- attacks
        Case("attacks", "attack --batch-size 0", ["attack", "backbone:digits", "--batch-size", "0", "-n", "10"],
             names="--batch-size"),
        Case("attacks", "attack -n 0", ["attack", "backbone:digits", "-n", "0"], names="-n"),
        Case("attacks", "PGD with 0 steps", ["attack", "backbone:digits", "-a", "pgd", "--steps", "0", "-n", "10",
                                            "-o", "{tmp}/rep"], names="steps", outputs=("rep",)),
        Case("attacks", "an unknown attack", ["attack", "backbone:digits", "-a", "fgsmm", "-n", "10",
                                             "-o", "{tmp}/rep"], names="fgsmm", outputs=("rep",)),
        Case("attacks", "eps NaN", ["attack", "backbone:digits", "--eps", "nan", "-n", "10", "-o", "{tmp}/rep"],
             names="eps", outputs=("rep",)),
        Case("attacks", "a folder that is not a run", ["attack", "{tmp}"], names="checkpoint"),
        Case("attacks", "a backbone that does not exist", ["attack", "backbone:cifar10"], names="cifar10"),
        # --- GAN runs and their outputs
        Case("sampling", "sample -n 0", ["sample", "{tmp}/run", "-n", "0"], trained_run(), names="-n"),
        Case("sampling", "a class out of range", ["sample", "{tmp}/run", "--class", "3", "-o", "{tmp}/g.png"],
             trained_run(), names="class", outputs=("g.png",)),
        Case("sampling", "info on a folder that is not a run", ["info", "{tmp}"], names="not a gankit run folder"),
        Case("sampling", "classify an image file that is not an image", ["classify", "{tmp}/clf", "{tmp}/x.png"],
             both(semisup_classifier("clf"), write("x.png", "not a png")), names="x.png"),
        Case("sampling", "classify a missing image", ["classify", "{tmp}/clf", "{tmp}/none.png"],
             semisup_classifier("clf"), names="none.png"),
        Case("sampling", "sample with 1 frame per interpolation row", ["sample", "{tmp}/run", "--interpolate",
                                                                      "--frames", "1"], trained_run(), names="frames"),
        Case("sampling", "sample a missing checkpoint file", ["sample", "{tmp}/ckpt-0000001.json"], names="ckpt-0000001"),
        Case("sampling", "evaluate -n 0", ["evaluate", "{tmp}/run", "-n", "0"], trained_run(), names="-n"),
        Case("sampling", "evaluate with 5 samples", ["evaluate", "{tmp}/run", "-n", "5", "--no-progress"],
             trained_run(), expect="ok|error"),
        Case("sampling", "evaluate with a missing Inception file", ["evaluate", "{tmp}/run", "--inception",
                                                                    "{tmp}/none.pth"], trained_run(), expect="ok|error"),
        Case("sampling", "report on a folder that is not a run", ["report", "{tmp}"], names=""),
        Case("sampling", "resume with fewer steps than the run has done", ["train", "--resume", "{tmp}/run",
                                                                          "--set", "train.steps=1"], trained_run(),
             names="train.steps"),
        Case("data", "a data root that does not exist", ["train", "dcgan_mnist", "--data-root", "{tmp}/nowhere",
                                                         "--out", "{tmp}/r"], names="nowhere", outputs=("r",)),
        Case("data", "an image folder that does not exist", ["train", "--set", "data.name=folder", "--set",
                                                             "data.path={tmp}/none", "--out", "{tmp}/r"],
             names="none", outputs=("r",)),
        Case("data", "an empty image folder", ["train", "--set", "data.name=folder", "--set", "data.path={tmp}/empty",
                                               "--out", "{tmp}/r"], lambda t: (t / "empty").mkdir(), names="empty",
             outputs=("r",)),
        Case("data", "a batch larger than the dataset", ["train", "--set", "train.batch_size=100000",
                                                         "--out", "{tmp}/r"], names="batch_size", outputs=("r",)),
        Case("data", "robust-train: a batch larger than the training subset",
             ["robust-train", "--dataset", "digits", "--n-train", "10", "--batch-size", "50", "--out", "{tmp}/r"],
             names="batch", outputs=("r",)),
        Case("data", "semisup: more labels than the unlabeled pool", ["semisup", "--labels", "1000", "--epochs", "1",
                                                                      *TINY_SEMISUP, "--set", "unlabeled_limit=500",
                                                                      "-o", "{tmp}/r"], expect="ok|error",
             outputs=("r",)),
        Case("data", "semisup: 0 epochs", ["semisup", "--epochs", "0", "--data-root", DATA], names="epochs"),
        Case("data", "semisup: 0 parallel seeds", ["semisup", "--parallel-seeds", "0", "--data-root", DATA],
             names="parallel_seeds"),
        Case("data", "semisup: resume a folder that does not exist", ["semisup", "--resume", "{tmp}/none"],
             names="none"),
        Case("data", "download a dataset gankit does not know", ["download", "bogus", "--data-root", "{tmp}"],
             names="bogus"),
        Case("data", "backbone: a data root that does not exist", ["backbone", "train", "mnist", "--data-root",
                                                                   "{tmp}/nowhere"], names="nowhere"),
        Case("attacks", "attack with eps below 0", ["attack", "backbone:digits", "--eps", "-0.1", "-n", "10"],
             names="eps"),
        Case("attacks", "attack with a norm that does not exist", ["attack", "backbone:digits", "--norm", "L3",
                                                                   "-n", "10"], names="norm"),
        Case("attacks", "attack with 0 restarts", ["attack", "backbone:digits", "--restarts", "0", "-n", "10"],
             names="restarts"),
        Case("attacks", "attack with a parameter that does not exist", ["attack", "backbone:digits", "--param",
                                                                         "stpes=5", "-n", "10"], names="stpes"),
        Case("attacks", "attack with a parameter of the wrong type", ["attack", "backbone:digits", "--param",
                                                                       "alpha=abc", "-n", "10"], names="alpha"),
        Case("attacks", "attack a test set that is not there", ["attack", "backbone:mnist", "--data-root",
                                                                "{tmp}/nowhere", "-n", "10"], names="nowhere"),
        Case("sampling", "info on a robust-train run", ["info", "{tmp}/adv"], robust_run(), expect="ok"),
        Case("sampling", "sample from a classifier run (no generator)", ["sample", "{tmp}/adv"], robust_run(),
             names="generator"),
        Case("sampling", "version and short help", ["--version"], expect="ok"),
        Case("sampling", "a short training run", ["train", *TINY_GAN, "--out", "{tmp}/ok"], expect="ok"),
    ]
    out += synth_cases() + checkpoint_cases() + provenance_cases() + augment_cases()
    if NO_CUDA:  # on a GPU machine these are fine inputs
        out += [Case("devices", "train on CUDA with a CPU-only torch", ["train", "--set", "train.device=cuda"],
                     names="CUDA"),
                Case("devices", "semisup on CUDA with a CPU-only torch", ["semisup", "--set", "device=cuda",
                                                                          "--data-root", DATA], names="CUDA"),
                Case("devices", "attack on CUDA with a CPU-only torch", ["attack", "backbone:digits", "--device",
                                                                         "cuda"], names="CUDA"),
                Case("devices", "evaluate on CUDA with a CPU-only torch", ["evaluate", "{tmp}/run", "--device",
                                                                           "cuda"], trained_run(), names="CUDA")]
    return out


def run_all(cases: list[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            outcomes.append(run_case(case, Path(tmp)))
    return outcomes


def markdown(outcomes: list[Outcome], command: str) -> str:
    counts = {k: sum(o.kind == k for o in outcomes) for k in ("ok", "error", "usage", "stopped", "traceback")}
    failed = [o for o in outcomes if not o.passed]
    lines = ["# Reliability: the input catalogue", "",
             f"Written by `{command}` (the same catalogue runs in tests/test_reliability.py, with "
             f"hypothesis-generated inputs besides). Each row is a gankit command on a bad or unusual input; "
             f"a row passes when the outcome is the expected one, the message names the culprit, and a failed "
             f"command left no half-written output.", "",
             f"**{len(outcomes)} inputs: {counts['ok']} accepted, {counts['error']} clear errors, {counts['usage']} "
             f"usage errors, {counts['stopped']} stopped runs, {counts['traceback']} tracebacks; "
             f"{len(outcomes) - len(failed)} pass, {len(failed)} fail.**", "",
             "| group | input | outcome | message | passes |", "|---|---|---|---|---|"]
    for o in outcomes:
        message = o.message.replace("|", "\\|").replace("\n", " ")
        message = message if len(message) <= 220 else message[:217] + "..."
        lines.append(f"| {o.case.group} | {o.case.name} | {o.kind} | {message} | "
                     f"{'yes' if o.passed else '**no**: ' + o.why} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    outcomes = run_all(catalogue())
    command = "GANKIT_DATA=../shared/data python benchmarks/reliability.py"
    (ROOT / "docs" / "reliability.md").write_text(markdown(outcomes, command))
    bad = [o for o in outcomes if not o.passed]
    for o in bad:
        print(f"FAIL {o.case.group}: {o.case.name}: {o.why} ({o.kind}: {o.message[:200]})", file=sys.stderr)
    print(f"{len(outcomes)} inputs, {len(bad)} fail; wrote docs/reliability.md")


if __name__ == "__main__":
    main()
