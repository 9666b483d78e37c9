"""Commands for fairness through an adversary: `gankit fair fit | report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from gankit.cli.synth import _shown_warnings, check_model_output

fair_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                       help="Predictions that do not give away a sensitive attribute: adversarial debiasing and "
                            "fair representations.")
console = Console()

RECIPE_OF = {"debias": "adversarial_debiasing", "representation": "fair_representation"}


@fair_app.command(epilog="""Examples:

* `gankit fair fit patients.csv --target outcome --sensitive sex -o model/` : Zhang et al.'s adversarial debiasing
for demographic parity

* `gankit fair fit patients.csv --target outcome --sensitive race --criterion odds -o model/` : equalized odds; any
number of groups

* `gankit fair fit whas500 --sensitive gender --method representation -o rep/` : a fair representation of a
built-in patient table (flchain, whas500, actg320)

* `gankit fair fit flchain -o model/ --set choose_weight=true --set gap_target=0.01` : the adversary's weight chosen
on validation rows

* `gankit fair fit patients.csv --target outcome --sensitive sex -o model/ --resume runs/fair-patients-...` : after
Ctrl-C

The table is split once (--seed) into fitting, validation and held-out rows, stratified by group and
outcome; the held-out rows are only measured, never used to fit or choose. Each group needs at least
20 rows and 5 of each outcome (min_group_rows, min_cell_rows). The trade-off curve (recipe key
`curve`) trains one more model per adversary weight.
""")
def fit(
    data: Annotated[str, typer.Argument(help="A CSV file with a header line, or a built-in patient table: "
                                             "flchain, whas500, actg320.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder to write (new or empty).")],
    target: Annotated[Optional[str], typer.Option(help="Outcome column (two outcomes) to predict.")] = None,
    sensitive: Annotated[Optional[str], typer.Option(help="Column of the groups the predictions must not give "
                                                          "away (a built-in table has a default).")] = None,
    criterion: Annotated[Optional[str], typer.Option(help="parity (demographic parity) or odds (equalized odds) "
                                                          "[default: parity].")] = None,
    method: Annotated[Optional[str], typer.Option(help="debias (Zhang et al.) or representation (Edwards & "
                                                       "Storkey) [default: debias].")] = None,
    adversary_weight: Annotated[Optional[float], typer.Option(help="The adversary's weight (alpha) at the end of "
                                                                   "its schedule [default: the recipe's].")] = None,
    positive: Annotated[Optional[str], typer.Option(help="The outcome that counts as selected (default: the "
                                                         "last of the sorted outcomes).")] = None,
    recipe: Annotated[Optional[str], typer.Option(help="Recipe name or YAML path (default: adversarial_debiasing, "
                                                       "or fair_representation for --method representation).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override: key=value (repeatable), "
                                                      "e.g. --set steps=4000.")] = None,
    schema: Annotated[Optional[Path], typer.Option(help="YAML schema: column types, bounds, categories.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training steps [default: the recipe's].")] = None,
    holdout: Annotated[Optional[float], typer.Option(help="Share of rows held out for the report "
                                                          "[default: 0.3].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the split, the initialization and the batches.")] = None,
    run: Annotated[Optional[Path], typer.Option(help="Run folder for checkpoints and the training log "
                                                     "(default: runs/fair-NAME-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the fit whose run folder this is.")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Fit a predictor (or a representation) against an adversary that tries to recover a sensitive attribute."""
    from gankit.cli.train import stopped
    from gankit.config import override
    from gankit.errors import GankitError
    from gankit.fair import PATIENT_TABLES, FitInterrupted, fit as fit_model, load_fair_config, read_fair_config
    from gankit.fair.source import load_table
    from gankit.runs import new_run_dir

    flags = dict(criterion=criterion, method=method, adversary_weight=adversary_weight, steps=steps, holdout=holdout,
                 seed=seed)
    overrides = [override(k, v) for k, v in flags.items() if v is not None] + list(set_ or [])
    config = read_fair_config(resume, overrides) if resume else \
        load_fair_config(recipe or RECIPE_OF.get(method or "debias", "adversarial_debiasing"), overrides)
    check_model_output(output)
    with _shown_warnings():
        table, source = load_table(data, target, schema)
    if sensitive is None:
        if data not in PATIENT_TABLES:
            raise GankitError("name the sensitive column with --sensitive COLUMN")
        sensitive = PATIENT_TABLES[data].sensitive[0]
    run_dir = resume or run or new_run_dir("runs", f"fair-{Path(data).stem}")
    try:
        with _shown_warnings():
            model = fit_model(table, sensitive, config, positive=positive, run_dir=run_dir, resume=resume is not None,
                              progress=progress, source=source)
    except FitInterrupted:
        stopped(f"gankit fair fit {data} --sensitive {sensitive} -o {output} ... --resume {run_dir}")
    model.save(output)
    t = model.record["test"]
    console.print(f"fitted {config.method} ({config.criterion}) on {model.record['rows']['fit']} rows, adversary "
                  f"weight {model.record['weight']:g}; held-out ({t['rows']} rows): accuracy {t['accuracy']:.3f}, "
                  f"demographic-parity difference {t['demographic_parity_difference']:.3f}, equalized-odds "
                  f"difference {t['equalized_odds_difference']:.3f}, adversary accuracy "
                  f"{t['adversary_accuracy']:.3f} (chance {t['adversary_chance']:.3f}); model in [cyan]{output}[/] "
                  f"(run folder {run_dir})")


@fair_app.command(epilog="""Examples:

* `gankit fair report model/` : prints the numbers; writes model/report.json and model/tradeoff.png

* `gankit fair report model/ --data moved/patients.csv -o reports/`
""")
def report(
    model: Annotated[Path, typer.Argument(help="A model folder from `gankit fair fit`.")],
    data: Annotated[Optional[Path], typer.Option(help="The training CSV, if it moved since the fit.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder for report.json and "
                                                   "tradeoff.png (default: the model folder).")] = None,
) -> None:
    """Accuracy, AUROC, parity and equalized-odds differences, per-group rates and the adversary's accuracy on the
    held-out rows; the trade-off curve over the adversary's weight as a picture."""
    from gankit.fair import FairModel
    from gankit.fair.report import fair_report, write_report
    from gankit.fair.source import reload_table
    from gankit.privacy.schema import Schema

    fitted = FairModel.load(model)
    with _shown_warnings():
        table = reload_table(fitted.record.get("source", {}), Schema.from_dict(fitted.record["schema"]), data)
    result = fair_report(fitted, table)
    json_path, picture = write_report(result, output or model)
    t = result["test"]
    console.print(f"{result['method']} ({result['criterion']}), adversary weight {result['weight']:g}: "
                  f"{result['target']} = {result['positive']!r} against {result['sensitive']!r}, "
                  f"{t['rows']} held-out rows")
    console.print(f"accuracy {t['accuracy']:.3f}  AUROC {t['auroc']:.3f}  demographic-parity difference "
                  f"{t['demographic_parity_difference']:.3f}  equalized-odds difference "
                  f"{t['equalized_odds_difference']:.3f}")
    console.print(f"the adversary recovers {result['sensitive']!r} with accuracy {t['adversary_accuracy']:.3f} "
                  f"(chance: the largest group's share, {t['adversary_chance']:.3f}); a fresh probe with balanced "
                  f"accuracy {t['probe_balanced_accuracy']:.3f} (chance {t['probe_chance']:.3f})")
    groups = Table("group", "rows", "selection rate", "true-positive rate", "false-positive rate", "accuracy",
                   box=None)
    for name, g in t["groups"].items():
        groups.add_row(name, f"{g['count']:.0f}", f"{g['selection_rate']:.3f}", f"{g['true_positive_rate']:.3f}",
                       f"{g['false_positive_rate']:.3f}", f"{g['accuracy']:.3f}")
    console.print(groups)
    console.print(f"wrote [cyan]{json_path}[/]" + (f" and [cyan]{picture}[/]" if picture else ""))


def register(app: typer.Typer) -> None:
    """Add this command group to the ``gankit`` app."""
    if fair_app.registered_commands:
        app.add_typer(fair_app, name="fair")
