"""One self-contained HTML page per run: config, provenance, curves, samples, metrics with floors.

    from gankit.report import render_report
    render_report("runs/dcgan_mnist-20261124-101500")   # -> RUN/report.html

Everything is inside the one file: pictures as base64 PNG data URIs, the CSS inline,
no JavaScript, no network. Open it from disk, mail it, archive it.

``metric_rows`` turns a metrics.json dict (gankit.evaluate) into the table rows that
both this page and ``gankit evaluate`` print: metric, value, floor, what it means.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gankit import __version__
from gankit.checkpoint import atomic_write_text
from gankit.errors import GankitError

__all__ = ["MetricRow", "copying_verdict", "floor_label", "metric_rows", "render_report"]

STRIP_FRAMES = 5  # earlier sample grids shown under the latest one


@dataclass(frozen=True)
class MetricRow:
    metric: str
    value: str
    floor: str     # the same metric with real training images in place of samples
    meaning: str   # one line: what it measures, which direction is better


def fmt(value: Any, spread: Any = None) -> str:
    """A number for a table: 4 significant digits, "value ± spread" when a spread is given."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return text if spread is None else f"{text} ± {fmt(spread)}"


def copying_verdict(z_u: float | None) -> str:
    """Plain words for the data-copying statistic (Meehan et al. 2020 flag Z_U well below 0, e.g. < -3)."""
    if z_u is None:
        return "copying test not computed"
    if z_u <= -3:
        return (f"Z_U = {z_u:.2f}: evidence of data copying (samples sit closer to training images "
                f"than unseen real images do)")
    if z_u < 3:
        return f"Z_U = {z_u:.2f}: no evidence of copying"
    return (f"Z_U = {z_u:.2f}: no copying; samples are farther from the training images than unseen "
            f"real images are (the model underfits)")


_QUALITY = [  # (label, key, spread key, meaning)
    ("FID", "fid", None, "lower is better: Frechet distance between Gaussians fitted to backbone features "
                         "of samples and of test images"),
    ("KID", "kid_mean", "kid_std", "lower is better: unbiased kernel MMD² on backbone features "
                                   "(can dip below 0 when the sets match)"),
    ("precision", "precision", None, "higher is better: share of samples on the real data's manifold "
                                     "(they look real)"),
    ("recall", "recall", None, "higher is better: share of real test images on the samples' manifold "
                               "(the variety is there)"),
    ("density", "density", None, "about 1 when samples spread like real data; above 1 when they crowd "
                                 "its dense regions, below when they stray"),
    ("coverage", "coverage", None, "higher is better: share of real test images with a sample nearby"),
    ("classifier score", "classifier_score_mean", "classifier_score_std",
     "higher is better, at most the number of classes: confident and varied predictions of the "
     "domain classifier (the Inception Score formula)"),
    ("class accuracy", "class_accuracy", None,
     "conditional generators, higher is better: share of samples the domain classifier names as the "
     "class they were asked for (floor: its accuracy on real test images)"),
    ("class KL to uniform", "class_kl_to_uniform", None,
     "lower is better for balanced data: 0 when all classes are equally frequent, log K when one "
     "class takes all (mode dropping)"),
]


def floor_label(metrics: dict) -> str:
    """The floor column's heading: real training images against the test set, or real toy points."""
    return "floor (real points)" if "modes" in metrics else "floor (train vs test)"


def metric_rows(metrics: dict) -> list[MetricRow]:
    """The headline rows of a metrics.json dict, each with its floor and a one-line meaning."""
    rows = []
    q = metrics.get("quality")
    if q:
        for label, key, spread, meaning in _QUALITY:
            g, f = q["generated"], q["floor"]
            if g.get(key) is not None:
                rows.append(MetricRow(label, fmt(g[key], g.get(spread) if spread else None),
                                      fmt(f.get(key), f.get(spread) if spread else None), meaning))
    p = metrics.get("parzen")
    if p:
        g, f = p["generated"], p["floor"]
        rows.append(MetricRow("Parzen log-likelihood", f"{fmt(g['mean'], g['std_error'])} (σ {g['sigma']:.3g})",
                              f"{fmt(f['mean'], f['std_error'])} (σ {f['sigma']:.3g})",
                              "higher is better: mean log-density (nats) of test images under a Gaussian "
                              "window on the samples, ± standard error (Goodfellow et al. 2014)"))
    mem = metrics.get("memorization") or {}
    nn = mem.get("nn_distance")
    if nn:
        g, f = nn["generated"], nn["floor"]
        rows.append(MetricRow("NN distance ratio", fmt(g["median_ratio"]), fmt(f["median_ratio"]),
                              "about 1 is right: median distance to the nearest training image, over "
                              "that of unseen real images; well below 1 = samples hug training images"))
        rows.append(MetricRow("closer than held-out 5 %", fmt(g["fraction_below_heldout_q05"]),
                              fmt(f["fraction_below_heldout_q05"]),
                              "about 0.05 is right: share of samples nearer a training image than the "
                              "closest 5 % of unseen real images; near 1 = copying"))
    cp = mem.get("copying")
    if cp:
        rows.append(MetricRow("copying Z_U", fmt(cp["generated"].get("z_u")), fmt(cp["floor"].get("z_u")),
                              "about 0 is right: below -3 = data copying, strongly positive = samples "
                              f"farther from the training set than real data (underfitting); on {cp['space']}"))
    m = metrics.get("modes")
    if m:
        g, f = m["generated"], m["floor"]
        rows.append(MetricRow("modes hit", f"{g['modes_hit']} / {g['num_modes']}",
                              f"{f['modes_hit']} / {f['num_modes']}",
                              "higher is better: modes with at least one sample within 3 std of the centre"))
        rows.append(MetricRow("high-quality fraction", fmt(g["high_quality_fraction"]),
                              fmt(f["high_quality_fraction"]),
                              "higher is better: share of samples within 3 std of a mode (0.989 for real data)"))
    return rows


# --- HTML ------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto;
       max-width: 1080px; padding: 1.2em 1.6em 3em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ddd; margin-top: 1.8em; }
.muted { color: #666; } .small { font-size: 0.88em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; height: auto; } img.grid { image-rendering: pixelated; }
figure { display: inline-block; margin: 0.4em 0.8em 0.4em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; }
.strip img { width: auto; height: auto; max-width: 190px; max-height: 190px; } .verdict { font-weight: 600; }
tbody th { background: none; font-weight: 600; color: #444; }
.side { display: flex; flex-wrap: wrap; gap: 0 3em; }
details summary { cursor: pointer; font-weight: 600; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _img(path: Path, alt: str, css: str = "") -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cls = f' class="{css}"' if css else ""
    return f'<img{cls} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _figure(path: Path, caption: str, css: str = "") -> str:
    return f"<figure>{_img(path, caption, css)}<figcaption>{_e(caption)}</figcaption></figure>"


def _table(header: list[str] | None, rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A table of escaped text; header None: a key-value table (first column as row headers)."""
    head = "" if header is None else "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>"
    body = "".join("<tr>" + "".join(
        f"<th>{_e(c)}</th>" if header is None and i == 0 else f'<td{" class=num" if i in numeric else ""}>{_e(c)}</td>'
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except ValueError as exc:
        raise GankitError(f"{path} is not valid JSON: {exc}") from None


def _last_step(run_dir: Path) -> int | None:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1])["step"] if lines else None


def _overview(run_dir: Path, cfg: dict, meta: dict | None) -> str:
    data, model, train = cfg.get("data", {}), cfg.get("model", {}), cfg.get("train", {})
    done = _last_step(run_dir)
    facts = [("data", data.get("name")), ("architecture", model.get("arch")),
             ("conditional", model.get("conditional")), ("objective", train.get("loss")),
             ("steps", f"{done if done is not None else '?'} / {train.get('steps', '?')}")]
    parts = ['<div class="side"><div><h3>Setup</h3>'
             + _table(None, [[k, str(v)] for k, v in facts if v is not None]) + "</div>"]
    if meta:
        keys = ("seed", "gankit", "torch", "python", "git_commit", "device", "world_size", "started", "command")
        rows = [[k, " ".join(meta[k]) if isinstance(meta[k], list) else str(meta[k])] for k in keys if k in meta]
        parts.append("<div><h3>Provenance (meta.json)</h3>" + _table(None, rows) + "</div>")
    parts.append("</div>")
    config_text = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").is_file() else ""
    if config_text:
        parts.append(f"<details><summary>config.yaml (a valid recipe: train it again with it)</summary>"
                     f"<pre>{_e(config_text)}</pre></details>")
    return "<h2>Run</h2>" + "".join(parts)


def _step_of(grid: Path) -> int:
    return int(grid.stem.split("_")[-1])  # samples/step_0001500.png


def _training(run_dir: Path) -> str:
    parts = ["<h2>Training</h2>"]
    if (run_dir / "loss_curve.png").is_file():
        parts.append(_figure(run_dir / "loss_curve.png", "losses and mean D outputs, smoothed"))
    if (run_dir / "fid_curve.png").is_file():
        parts.append(_figure(run_dir / "fid_curve.png", "FID during training (train.eval_every); "
                             "the starred checkpoint is kept in best/"))
    grids = sorted((run_dir / "samples").glob("step_*.png")) if (run_dir / "samples").is_dir() else []
    if grids:
        latest, earlier = grids[-1], grids[:-1]
        parts.append("<div>" + _figure(latest, f"samples at step {_step_of(latest)} (fixed noise)", "grid") + "</div>")
        if earlier:
            k = min(STRIP_FRAMES, len(earlier))  # evenly spaced, first and last included
            picks = sorted({round(i * (len(earlier) - 1) / max(k - 1, 1)) for i in range(k)})
            frames = "".join(_figure(earlier[i], f"step {_step_of(earlier[i])}") for i in picks)
            parts.append(f'<div class="strip"><p class="muted small">Earlier frames, same noise:</p>{frames}</div>')
    if len(parts) == 1:
        parts.append('<p class="muted">No curves or samples in this folder yet.</p>')
    return "".join(parts)


def _evaluation(run_dir: Path, metrics: dict | None) -> str:
    if metrics is None:
        return ('<h2>Evaluation</h2><p class="muted">Not evaluated yet: run '
                f"<code>gankit evaluate {_e(run_dir)}</code> for metrics, floors and the copying check.</p>")
    bb = metrics.get("backbone")
    backbone = "none"
    if bb:
        acc = bb.get("test_accuracy")
        backbone = f"{bb['name']} domain classifier" + (f" (test accuracy {100 * acc:.2f} %)" if acc else "")
        if bb.get("resized_from"):
            backbone += f", images resized from {bb['resized_from']} to {bb['input_size']} px for it"
    splits = metrics.get("splits", {})
    toy = "modes" in metrics
    what = "points" if toy else "images"
    head = (f"<p>{_e(Path(metrics['checkpoint']).name)} (step {_e(metrics['step'])}): {_e(metrics['n'])} samples, "
            f"seed {_e(metrics['seed'])}; real data: {_e(splits.get('train'))} training, {_e(splits.get('test'))} test "
            f"{what}{'' if toy else '; backbone: ' + _e(backbone)}; {_e(metrics.get('elapsed_s', '?'))} s on "
            f"{_e(metrics.get('device'))}.</p>")
    if toy:
        head += (f'<p class="muted small">The floor is the same metric on {_e(metrics["n"])} real points drawn '
                 "from the mixture: what a perfect generator scores.</p>")
    else:
        head += ('<p class="muted small">The floor is the same metric with real images in place of samples: a '
                 "random training subset of the same size, scored against the test set (for the distance checks: "
                 "half the test set against the other half). A score at the floor is as good as this many "
                 "samples can show.</p>")
    rows = metric_rows(metrics)
    table = _table(["metric", "generated", floor_label(metrics), "what it means"],
                   [[r.metric, r.value, r.floor, r.meaning] for r in rows], numeric={1, 2}) if rows else ""
    parts = ["<h2>Evaluation</h2>", head, table]
    parzen = metrics.get("parzen")
    if parzen:
        notes = "".join(f"<li>{_e(n)}</li>" for n in parzen.get("notes", []))
        parts.append(f"<h3>Parzen window</h3><p class=\"small\">{_e(parzen['n_validation'])} validation, "
                     f"{_e(parzen['n_test'])} test images, {_e(parzen['space'])}.</p><ul class=\"small\">{notes}</ul>")
    parts.append(_memorization(run_dir, metrics))
    if metrics.get("modes") and (run_dir / "eval" / "scatter.png").is_file():
        parts.append("<h3>Mode coverage</h3>" + _figure(run_dir / "eval" / "scatter.png",
                                                         "generated (orange) over real test points (grey)"))
    skipped = metrics.get("skipped") or {}
    if skipped:
        items = "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in skipped.items())
        parts.append(f"<h3>Not computed</h3><ul class=\"small\">{items}</ul>")
    return "".join(parts)


def _memorization(run_dir: Path, metrics: dict) -> str:
    mem = metrics.get("memorization") or {}
    grid = run_dir / "eval" / "nn_grid.png"
    if not mem and not grid.is_file():
        return ""
    parts = ["<h3>Memorization</h3>"]
    cp = mem.get("copying")
    if cp:
        z = cp["generated"].get("z_u")
        parts.append(f'<p class="verdict">{_e(copying_verdict(z))}</p>')
        rows = [[who, fmt(r.get("z_u")), r.get("skipped") or f"{r['cells_used']} of {r['n_cells']} cells"]
                for who, r in (("generated", cp["generated"]), ("unseen real images (floor)", cp["floor"]),
                               ("training images (pure copier)", cp["copier"]))]
        parts.append(f"<p class=\"small\">Data-copying test of Meehan et al. 2020 on {_e(cp['space'])}:</p>"
                     + _table(["samples", "Z_U", "cells"], rows, numeric={1}))
    nn = mem.get("nn_distance")
    if nn:
        rows = [[who, fmt(r["generated_median"]), fmt(r["heldout_median"]), fmt(r["median_ratio"]),
                 fmt(r["p_value"])] for who, r in (("generated", nn["generated"]),
                                                   ("unseen real images (floor)", nn["floor"]))]
        parts.append(f"<p class=\"small\">Distance to the nearest training image ({_e(nn['space'])}); "
                     "p: one-sided Mann-Whitney test for \"samples are closer than held-out images\":</p>"
                     + _table(["samples", "median distance", "held-out median", "ratio", "p"], rows,
                              numeric={1, 2, 3, 4}))
    if grid.is_file():
        parts.append(_figure(grid, "each row: a generated sample, then its 5 nearest training images "
                                   "(pixel distance)", "grid"))
    return "".join(parts)


def render_report(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write one self-contained HTML page for a run folder (default RUN/report.html); return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GankitError(f"{run_dir} is not a folder")
    cfg_path = run_dir / "config.yaml"
    metrics = _read_json(run_dir / "metrics.json")
    if not cfg_path.is_file() and metrics is None:
        raise GankitError(f"{run_dir} is not a gankit run folder (no config.yaml, no metrics.json)")
    cfg = (yaml.safe_load(cfg_path.read_text()) or {}) if cfg_path.is_file() else {}
    meta = _read_json(run_dir / "meta.json")
    name = cfg.get("name") or run_dir.name
    body = [f"<h1>{_e(name)}</h1>",
            f'<p class="muted">{_e(cfg.get("description", ""))}<br><span class="small">{_e(run_dir.resolve())}'
            f"</span></p>",
            _overview(run_dir, cfg, meta), _training(run_dir), _evaluation(run_dir, metrics),
            f'<p class="muted small">Written by gankit {_e(__version__)} on {_e(time.strftime("%Y-%m-%d %H:%M"))}.</p>']
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(name)}: gankit report</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    out = Path(output) if output is not None else run_dir / "report.html"
    atomic_write_text(out, page)
    return out
