"""Commands for private synthetic data: `gankit synth fit|sample|report`."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console

from gankit.errors import GankitError

synth_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                        help="Private synthetic tables: a differentially private conditional GAN and its report.")
console = Console()


@contextmanager
def _shown_warnings() -> Iterator[None]:
    """Library warnings (inferred schema, clipped values) printed as yellow lines, not Python noise."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        if w.category.__module__.startswith("gankit") or str(w.filename).find("gankit") >= 0:
            text = str(w.message)
            if text not in seen:
                seen.add(text)
                Console(stderr=True).print(f"[yellow]warning:[/] {text}", highlight=False)


def _epsilon(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GankitError(f"--epsilon must be a number or inf, got {text!r}") from None
    return value


@synth_app.command(epilog="""Examples:

* `gankit synth fit breast-cancer --epsilon 1 -o model/` : the built-in breast-cancer table (declared schema)

* `gankit synth fit patients.csv --target outcome --schema schema.yaml --epsilon 3 --delta 1e-6 -o model/`

* `gankit synth fit patients.csv --target outcome --epsilon inf -o nodp/` : no privacy, for comparison

* `gankit synth fit breast-cancer -o model/ --set hidden=128 --set steps=800` : recipe overrides

* `gankit synth fit breast-cancer -o model/ --resume runs/synth-breast-cancer-20261204-101500` : after Ctrl-C

Without --schema the bounds, categories and which columns have missing values are read off the
data (a warning says they are not covered by epsilon) and written to MODEL/schema.yaml for you to
edit and declare.

Missing values (empty cells, NA, N/A, NaN, null, none, ?) are modelled, not imputed: a categorical
column's missing value is one more category, a numeric column gets a missingness indicator beside
its value, and synthetic rows have missing cells at the learnt rate. A declared schema allows them
with `missing: true` on the column. The target column must not be missing. A fit needs at least 20
training rows.
""")
def fit(
    data: Annotated[str, typer.Argument(help="A CSV file with a header line, or a built-in example: "
                                             "breast-cancer, diabetes.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write (new or empty).")],
    target: Annotated[Optional[str], typer.Option(help="Outcome column (categorical) to condition on.")] = None,
    recipe: Annotated[str, typer.Option(help="Recipe name (see `gankit recipes`) or YAML path; the flags "
                                             "below override it.")] = "dp_acgan",
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), "
                                                      "e.g. --set hidden=128.")] = None,
    epsilon: Annotated[Optional[str], typer.Option(help="Privacy budget; inf trains without DP [default: 1].")] = None,
    delta: Annotated[Optional[float], typer.Option(help="Delta of (epsilon, delta)-DP; keep it below 1/rows "
                                                        "[default: 1e-5].")] = None,
    schema: Annotated[Optional[Path], typer.Option(help="YAML schema: column types, bounds, categories.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Discriminator/generator steps [default: 400].")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Expected real rows per step (Poisson sampling) "
                                                           "[default: 64].")] = None,
    max_grad_norm: Annotated[Optional[float], typer.Option(help="Per-sample gradient clipping bound "
                                                               "[default: 1].")] = None,
    holdout: Annotated[float, typer.Option(help="Share of a CSV's rows kept out of training for the report.")] = 0.2,
    accountant: Annotated[Optional[str], typer.Option(help="rdp or prv [default: rdp].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the split, the initialisation and the DP noise "
                                                     "(anyone who knows it can replay the noise: keep it secret "
                                                     "for a real release) [default: 0].")] = None,
    run: Annotated[Optional[Path], typer.Option(help="Run folder for checkpoints and the training log "
                                                     "(default: runs/synth-NAME-TIME); keep it private: its "
                                                     "log is not covered by epsilon.")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the fit whose run folder this is.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Fit a (differentially private) conditional tabular GAN to a table; write the model folder."""
    from gankit.config import override
    from gankit.privacy import save_schema
    from gankit.privacy.source import load_training_table
    from gankit.privacy.synth import fit as fit_model, load_synth_config, read_synth_config
    from gankit.runs import new_run_dir

    flags = dict(epsilon=None if epsilon is None else _epsilon(epsilon), delta=delta, steps=steps,
                 batch_size=batch_size, max_grad_norm=max_grad_norm, accountant=accountant, seed=seed)
    overrides = [override(k, v) for k, v in flags.items() if v is not None] + list(set_ or [])
    config = read_synth_config(resume, overrides) if resume else load_synth_config(recipe, overrides)
    check_model_output(output)
    with _shown_warnings():
        train, hold, source = load_training_table(data, target, schema, holdout, config.seed)
    run_dir = resume or run or new_run_dir("runs", f"synth-{Path(data).stem}")
    with _shown_warnings():
        model = fit_model(train, config, run_dir=run_dir, resume=resume is not None, progress=progress)
    model.source = source
    model.save(output)
    save_schema(train.schema, output / "schema.yaml")
    spent = model.privacy["epsilon_spent"]
    what = "no differential privacy (epsilon = inf)" if spent == "inf" else \
        f"epsilon spent {spent:.3f} at delta {config.delta:g} (accountant: {config.accountant})"
    console.print(f"fitted on {len(train)} rows ({len(hold)} held out): {what}; model in [cyan]{output}[/] "
                  f"(run folder {run_dir})")


def check_model_output(output: Path) -> None:
    """A model folder is written new: an existing file, or a folder holding anything, is refused."""
    if output.exists() and not output.is_dir():
        raise GankitError(f"-o {output}: is a file; give a folder name for the model")
    if output.is_dir() and any(output.iterdir()):
        raise GankitError(f"-o {output}: the folder is not empty (it may hold an earlier model and its report); "
                          f"choose a new folder or delete this one")


@synth_app.command(epilog="Example: `gankit synth sample model/ -n 10000 -o synthetic.csv`")
def sample(
    model: Annotated[Path, typer.Argument(help="A model folder from `gankit synth fit`.")],
    n: Annotated[int, typer.Option("-n", help="Number of rows.")] = 1000,
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV to write.")] = Path("synthetic.csv"),
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Draw synthetic rows from a fitted model into a CSV (same columns as the training table).

    Missing values are written as empty cells."""
    from gankit.privacy import Synthesizer
    if output.is_dir():
        raise GankitError(f"-o {output}: is a folder; give a file name for the CSV, e.g. -o {output / 'synthetic.csv'}")
    synthesizer = Synthesizer.load(model)
    synthesizer.sample(n, seed=seed).to_csv(output)
    console.print(f"wrote {n} synthetic rows to [cyan]{output}")


@synth_app.command(epilog="""Examples:

* `gankit synth report model/` : writes model/report.html and model/report.json

* `gankit synth report model/ --data moved/patients.csv -o reports/`
""")
def report(
    model: Annotated[Path, typer.Argument(help="A model folder from `gankit synth fit`.")],
    data: Annotated[Optional[Path], typer.Option(help="The training CSV, if it moved since the fit.")] = None,
    n: Annotated[Optional[int], typer.Option("-n", help="Synthetic rows to draw (default: as many as "
                                                       "training rows).")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder for report.html and "
                                                   "report.json (default: the model folder).")] = None,
    seed: Annotated[int, typer.Option(help="Sampling and classifier seed.")] = 0,
) -> None:
    """Privacy spent, fidelity, utility (TSTR vs TRTR) and a privacy audit, as HTML and JSON."""
    from gankit.privacy import Synthesizer
    from gankit.privacy.report import synth_report, write_report
    from gankit.privacy.source import load_fitted_tables

    if n is not None and n < 1:
        raise GankitError(f"-n must be >= 1 synthetic rows, got {n}")
    synthesizer = Synthesizer.load(model)
    with _shown_warnings():
        train, hold = load_fitted_tables(synthesizer, data)
    with console.status("measuring fidelity, utility and membership leakage"):
        result = synth_report(synthesizer, train, hold, n=n, seed=seed)
    html_path, json_path = write_report(result, output or model)
    spent = result["privacy"]["epsilon_spent"]
    lr = result["utility"]["logistic regression"]
    console.print(f"epsilon {spent if spent == 'inf' else f'{spent:.3f}'}; TSTR AUROC (logistic regression) "
                  f"{_num(lr['tstr']['auroc'])} vs TRTR {_num(lr['trtr']['auroc'])}; detection AUROC "
                  f"{_num(result['fidelity']['detection_auroc'])}; membership-inference AUROC "
                  f"{result['audit']['mia_auroc']:.3f}")
    console.print(f"wrote [cyan]{html_path}[/] and [cyan]{json_path}")


def _num(value: Optional[float]) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
    app.add_typer(synth_app, name="synth")
