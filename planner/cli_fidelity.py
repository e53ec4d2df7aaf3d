"""Click commands `plan calibrate` and `plan validate` (registered on the group in cli.py).

They parse arguments and print; the work is in planner.fidelity.validate. Errors are the project's own
(BadInput → exit 2), mapped to exit codes by cli.py.
"""

from __future__ import annotations

import click

from planner.fidelity import validate as fidelity
from planner.report import fidelity as report


@click.command("calibrate")
@click.argument("measurements", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(),
              help="Profile to write, e.g. catalogs/calibration/NAME.yaml (with --group-by: a "
                   "directory, e.g. catalogs/calibration).")
@click.option("--base", default="default", show_default=True,
              help="Profile whose values start the fit and fill the parameters not fitted.")
@click.option("--name", default=None, help="Profile name (default: the --out file's stem).")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(0, 50),
              help="Cross-validation folds for the error written into the profile (0: none).")
@click.option("--group-by", "group_by", default=None, metavar="AXES",
              help="Also fit one profile per group: engine, gpu, model, or a comma-separated "
                   "combination; --out is then a directory and each profile is LABEL.yaml there.")
def calibrate_cmd(measurements: tuple[str, ...], out: str, base: str, name: str | None, folds: int,
                  group_by: str | None) -> None:
    """Fit the calibration parameters to MEASUREMENTS (default: catalogs/measurements/*)."""
    by = _axes(group_by)
    c = fidelity.run_calibrate(list(measurements), out, base, name, folds, by)
    click.echo(report.render_calibrate(c))


def _axes(text: str | None) -> tuple[str, ...]:
    """'engine,gpu' → ('engine', 'gpu'); None → ()."""
    return tuple(a.strip() for a in text.split(",")) if text else ()


@click.command("validate")
@click.argument("measurements", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--calibration", default="default", show_default=True,
              help="Calibration profile name or path.")
@click.option("--out-plot", default=None, type=click.Path(dir_okay=False),
              help="Write a log-log parity plot (PNG) with ±15 % and ±30 % bands.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(0, 50),
              help="k of the grouped k-fold cross-validation (0 or 1: no CV).")
@click.option("--group-by", "group_by", default=None, metavar="AXES",
              help="Predict each point with its group's profile (catalogs/calibration/LABEL.yaml, "
                   "else --calibration) and cross-validate per group: engine, gpu, model, or a "
                   "comma-separated combination.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def validate_cmd(measurements: tuple[str, ...], calibration: str, out_plot: str | None, folds: int,
                 group_by: str | None, as_json: bool) -> None:
    """Predicted against measured for every point, with the cross-validated error."""
    v = fidelity.run_validate(list(measurements), calibration, folds, _axes(group_by))
    if out_plot:
        report.write_parity_plot(v, out_plot)
    click.echo(report.render_json(v) if as_json else report.render_text(v))
