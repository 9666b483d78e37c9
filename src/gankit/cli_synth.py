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


def _load_training_table(data: str, target: Optional[str], schema: Optional[Path], holdout: float, seed: int):
    from gankit.privacy import EXAMPLES, infer_schema, load_example, load_schema, read_csv, split_table
    if data in EXAMPLES and not Path(data).exists():
        if schema is not None:
            raise GankitError(f"{data} is a built-in example with its own declared schema; drop --schema")
        train, hold = load_example(data)
        if target not in (None, train.schema.target):
            raise GankitError(f"the {data} example's target is {train.schema.target!r}, not {target!r}")
        return train, hold, {"example": data}
    path = Path(data)
    if not path.is_file():
        raise GankitError(f"{data} is neither a CSV file nor a built-in example ({', '.join(EXAMPLES)})")
    spec = load_schema(schema) if schema else infer_schema(path, target)
    if target is not None:
        if spec.target not in (None, target):
            raise GankitError(f"--target {target!r} differs from the schema's target {spec.target!r}")
        spec.target = target
        spec.check(str(schema or path))
    if spec.target is None:
        raise GankitError("name the outcome column with --target COLUMN (or 'target:' in the schema)")
    spec.column(spec.target)
    train, hold = split_table(read_csv(path, spec), holdout, seed)
    return train, hold, {"csv": str(path.resolve()), "holdout": holdout, "split_seed": seed,
                         "schema": str(Path(schema).resolve()) if schema else None}


@synth_app.command(epilog="""Examples:

* `gankit synth fit breast-cancer --epsilon 1 -o model/` : the built-in breast-cancer table (declared schema)

* `gankit synth fit patients.csv --target outcome --schema schema.yaml --epsilon 3 --delta 1e-6 -o model/`

* `gankit synth fit patients.csv --target outcome --epsilon inf -o nodp/` : no privacy, for comparison

Without --schema the bounds and categories are read off the data (a warning says they are not
covered by epsilon) and written to MODEL/schema.yaml for you to edit and declare.
""")
def fit(
    data: Annotated[str, typer.Argument(help="A CSV file with a header line, or a built-in example: "
                                             "breast-cancer, diabetes.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write.")],
    target: Annotated[Optional[str], typer.Option(help="Outcome column (categorical) to condition on.")] = None,
    epsilon: Annotated[str, typer.Option(help="Privacy budget; inf trains without DP.")] = "1",
    delta: Annotated[float, typer.Option(help="Delta of (epsilon, delta)-DP; keep it below 1/rows.")] = 1e-5,
    schema: Annotated[Optional[Path], typer.Option(help="YAML schema: column types, bounds, categories.")] = None,
    steps: Annotated[int, typer.Option(help="Discriminator/generator steps.")] = 400,
    batch_size: Annotated[int, typer.Option(help="Expected real rows per step (Poisson sampling).")] = 64,
    max_grad_norm: Annotated[float, typer.Option(help="Per-sample gradient clipping bound.")] = 1.0,
    holdout: Annotated[float, typer.Option(help="Share of a CSV's rows kept out of training for the report.")] = 0.2,
    accountant: Annotated[str, typer.Option(help="rdp or prv.")] = "rdp",
    seed: Annotated[int, typer.Option(help="Seed of the split, the initialisation and the DP noise "
                                          "(anyone who knows it can replay the noise: keep it secret for a "
                                          "real release).")] = 0,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Fit a (differentially private) conditional tabular GAN to a table; write the model folder."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from gankit.privacy import SynthConfig, fit as fit_model, save_schema

    with _shown_warnings():
        train, hold, source = _load_training_table(data, target, schema, holdout, seed)
    config = SynthConfig(epsilon=_epsilon(epsilon), delta=delta, steps=steps, batch_size=batch_size,
                         max_grad_norm=max_grad_norm, accountant=accountant, seed=seed)
    bar = Progress(TextColumn("[bold]fit"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
                   TimeRemainingColumn(), console=Console(stderr=True), disable=not progress)
    with bar, _shown_warnings():
        task = bar.add_task("fit", total=steps, losses="")

        def on_step(step: int, losses: dict) -> None:
            bar.update(task, advance=1, losses=f"D {losses['d_loss']:.3f}  G {losses['g_loss']:.3f}")
        model = fit_model(train, config, on_step=on_step)
    model.source = source
    model.save(output)
    save_schema(train.schema, output / "schema.yaml")
    spent = model.privacy["epsilon_spent"]
    what = "no differential privacy (epsilon = inf)" if spent == "inf" else \
        f"epsilon spent {spent:.3f} at delta {delta:g} (accountant: {accountant})"
    console.print(f"fitted on {len(train)} rows ({len(hold)} held out): {what}; model in [cyan]{output}")


@synth_app.command(epilog="Example: `gankit synth sample model/ -n 10000 -o synthetic.csv`")
def sample(
    model: Annotated[Path, typer.Argument(help="A model folder from `gankit synth fit`.")],
    n: Annotated[int, typer.Option("-n", help="Number of rows.")] = 1000,
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV to write.")] = Path("synthetic.csv"),
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Draw synthetic rows from a fitted model into a CSV (same columns as the training table)."""
    from gankit.privacy import Synthesizer
    synthesizer = Synthesizer.load(model)
    synthesizer.sample(n, seed=seed).to_csv(output)
    console.print(f"wrote {n} synthetic rows to [cyan]{output}")


def load_report_data(model, data: Optional[Path]):
    """The training and held-out tables a model was fitted on (the split is re-made from its record)."""
    from gankit.privacy import load_example, read_csv, split_table
    source = model.source or {}
    if "example" in source:
        return load_example(source["example"])
    path = data or (Path(source["csv"]) if "csv" in source else None)
    if path is None or not Path(path).is_file():
        raise GankitError(f"the training CSV {path} is not there; pass it with --data")
    table = read_csv(path, model.schema)
    train, hold = split_table(table, source["holdout"], source["split_seed"])
    if len(train) != model.n_train:
        raise GankitError(f"{path} gives {len(train)} training rows, the model was fitted on {model.n_train}; "
                          f"is it the same file?")
    return train, hold


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

    synthesizer = Synthesizer.load(model)
    with _shown_warnings():
        train, hold = load_report_data(synthesizer, data)
    with console.status("measuring fidelity, utility and membership leakage"):
        result = synth_report(synthesizer, train, hold, n=n, seed=seed)
    html_path, json_path = write_report(result, output or model)
    spent = result["privacy"]["epsilon_spent"]
    lr = result["utility"]["logistic regression"]
    console.print(f"epsilon {spent if spent == 'inf' else f'{spent:.3f}'}; TSTR AUROC (logistic regression) "
                  f"{_num(lr['tstr']['auroc'])} vs TRTR {_num(lr['trtr']['auroc'])}; detection AUROC "
                  f"{result['fidelity']['detection_auroc']:.3f}; membership-inference AUROC "
                  f"{result['audit']['mia_auroc']:.3f}")
    console.print(f"wrote [cyan]{html_path}[/] and [cyan]{json_path}")


def _num(value: Optional[float]) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``gankit`` app."""
    app.add_typer(synth_app, name="synth")
