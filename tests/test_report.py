"""gankit.report: one self-contained HTML page per run folder."""

import base64
import json
import re

import pytest
from typer.testing import CliRunner

from gankit.cli import app
from gankit.config import load_config
from gankit.errors import GankitError
from gankit.report import copying_verdict, fmt, metric_rows, render_report
from gankit.train import train


def quality(fid, precision):
    return {"fid": fid, "kid_mean": 0.01, "kid_std": 0.002, "precision": precision, "recall": 0.5,
            "density": 0.9, "coverage": 0.7, "classifier_score_mean": 8.1, "classifier_score_std": 0.1,
            "class_kl_to_uniform": 0.02}


def copying(z):
    return {"z_u": z, "cells_used": 40, "n_cells": 50, "tau": 0.002, "n_generated": 10000, "n_heldout": 10000}


def nn(ratio):
    return {"generated_median": 6.0 * ratio, "heldout_median": 6.0, "median_ratio": ratio,
            "fraction_below_heldout_q05": 0.04, "p_value": 0.6}


METRICS = {  # the shape gankit.evaluate writes, with made-up numbers
    "gankit": "0.1.0", "checkpoint": "RUN/checkpoints/ckpt-0000010.json", "run_dir": "RUN", "step": 10,
    "dataset": "digits", "n": 10000, "seed": 0, "device": "cpu", "elapsed_s": 12.5,
    "splits": {"train": 1500, "test": 297, "train_subset": 1500},
    "backbone": {"name": "digits", "test_accuracy": 0.981, "input_size": 8, "resized_from": 16},
    "quality": {"generated": quality(31.5, 0.61), "floor": quality(2.25, 0.83)},
    "parzen": {"space": "pixels in [0, 1], flattened", "n_validation": 300, "n_test": 297,
               "notes": ["validation = training images 1200..1499 (seen in training)"],
               "generated": {"mean": 225.4, "std_error": 2.1, "sigma": 0.17},
               "floor": {"mean": 238.0, "std_error": 1.9, "sigma": 0.16}},
    "memorization": {
        "nn_distance": {"space": "pixels in [-1, 1], flattened, Euclidean",
                        "generated": nn(1.2), "floor": nn(1.0)},
        "copying": {"space": "backbone features", "generated": copying(-0.3), "floor": copying(0.4),
                    "copier": copying(-25.0)},
    },
    "skipped": {"something": "a reason with <angle brackets> & ampersands"},
    "figures": {},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "run"
    cfg = load_config("quickstart", ["data.image_size=8", "model.g_width=16", "model.d_width=16",
                                     "model.z_dim=16", "train.batch_size=32", "train.steps=6",
                                     "train.sample_every=1", "train.log_every=2",
                                     "description=digits <b>bold</b> & more"])
    train(cfg, run_dir=run, progress=False)
    return run


def images(page):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_a_trained_run_without_metrics(run):
    path = render_report(run)
    assert path == run / "report.html"
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    pictures = images(page)
    assert len(pictures) == 1 + 1 + 5  # loss curve, latest grid, a strip of 5 earlier frames
    assert all(base64.b64decode(p).startswith(b"\x89PNG") for p in pictures)
    assert "step 6" in page and "step 1" in page and "step 5" in page
    assert "<details>" in page and "config.yaml" in page and "Provenance" in page
    assert "Not evaluated yet" in page
    assert "digits &lt;b&gt;bold&lt;/b&gt; &amp; more" in page and "<b>bold</b>" not in page


def test_metrics_table_with_floors_and_verdict(run, tmp_path):
    (run / "metrics.json").write_text(json.dumps(METRICS))
    try:
        page = render_report(run, tmp_path / "page.html").read_text()
    finally:
        (run / "metrics.json").unlink()
    for name in ("FID", "KID", "precision", "recall", "density", "coverage", "classifier score",
                 "Parzen log-likelihood", "NN distance ratio", "copying Z_U"):
        assert f"<td>{name}</td>" in page, name
    assert "floor (train vs test)" in page and "lower is better" in page and "higher is better" in page
    assert "31.5" in page and "2.25" in page  # generated and floor side by side
    assert "225.4 ± 2.1" in page
    assert "Z_U = -0.30: no evidence of copying" in page
    assert "-25" in page  # the pure copier's Z_U for comparison
    assert "98.10 %" in page and "resized from 16 to 8" in page
    assert "&lt;angle brackets&gt; &amp; ampersands" in page


def test_offline_and_script_free(run):
    page = render_report(run).read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()


def test_metric_rows_and_words():
    rows = {r.metric: r for r in metric_rows(METRICS)}
    assert rows["FID"].value == "31.5" and rows["FID"].floor == "2.25"
    assert rows["KID"].value == "0.01 ± 0.002"
    assert "lower is better" in rows["FID"].meaning
    toy = {"modes": {"generated": {"modes_hit": 6, "num_modes": 8, "high_quality_fraction": 0.7},
                     "floor": {"modes_hit": 8, "num_modes": 8, "high_quality_fraction": 0.989}}}
    rows = {r.metric: r for r in metric_rows(toy)}
    assert rows["modes hit"].value == "6 / 8" and rows["modes hit"].floor == "8 / 8"
    assert fmt(None) == "n/a" and fmt(12345.678) == "12345.7" and fmt(0.123456) == "0.1235"
    assert "evidence of data copying" in copying_verdict(-4.2)
    assert "underfits" in copying_verdict(5.0)
    assert "no evidence" in copying_verdict(0.1)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(GankitError, match="not a gankit run folder"):
        render_report(tmp_path)
    with pytest.raises(GankitError, match="not a folder"):
        render_report(tmp_path / "missing")


def test_cli_report(run, tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(run), "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.is_file() and "r.html" in result.output
