"""`plan calibrate` and `plan validate`: load points, fit or evaluate, render text/JSON/plot.

The click commands in `cli.py` only parse arguments and call `run_calibrate` / `run_validate`.
Matplotlib is imported inside `parity_plot`, SciPy inside `fit.fit`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.catalog.schemas import CATALOG_DIR, Calibration, load_calibration
from planner.errors import BadInput
from planner.fidelity.crossval import (MIN_GROUP_POINTS, CVResult, Row, Summary, breakdown, check_group_by,
                                       cross_validate, fit_grouped, group_of, rows, summarise)
from planner.fidelity.fit import FitResult, fit, free_params, param_value, without_families
from planner.fidelity.measurements import LoadReport, default_measurement_files, load_points
from planner.fidelity.profile import profile_yaml
from planner.input.files import atomic_write

WORST_SHOWN = 15          # worst points listed when there are more than ALL_ROWS_UP_TO
ALL_ROWS_UP_TO = 60       # print every point up to this many observations
BANDS = (0.15, 0.30)      # parity-plot bands: ±15 % and ±30 %


@dataclass(frozen=True)
class Validation:
    """Everything `plan validate` reports."""

    calibration: str
    files: list[str]
    load: LoadReport
    rows: list[Row]
    summary: list[Summary]
    cv_folds: int
    seconds: float
    group_by: tuple[str, ...] = ()
    profiles: dict[str, str] | None = None   # group label → profile that predicts its points


def _files(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Given measurement files, or the catalog's when none are given."""
    return [str(p) for p in (paths or default_measurement_files())]


def run_calibrate(paths: list[str], out: str, base_name: str = "default", name: str | None = None,
                  folds: int = 5, group_by: tuple[str, ...] = ()
                  ) -> tuple[FitResult, list[Summary], LoadReport,
                             dict[str, tuple[FitResult, list[Summary], str]] | None]:
    """Fit to `paths`, cross-validate, and write the profile to `out` (never over an input).

    With `group_by` (e.g. ("engine",)), `out` is a directory and one profile per group with
    enough points is written there as LABEL.yaml (e.g. sglang.yaml); the shared fit is not
    written. Returns the shared fit, the CV summary over all points (each predicted by its
    group's profile), the load report, and per written group (fit, its CV summary, path), or
    None without grouping."""
    files = _files(paths)
    by = check_group_by(group_by) if group_by else ()
    out_p = Path(out)
    if by:
        if not out_p.is_dir():
            raise BadInput(f"--out {out}: with --group-by, --out is the directory the profiles go to")
    elif out_p.suffix not in (".yaml", ".yml"):
        raise BadInput(f"--out {out}: the profile must be a .yaml file")
    points, report = load_points(files)
    base = without_families(load_calibration(base_name))
    base_file = Path(base_name) if Path(base_name).suffix in (".yaml", ".yml") else \
        Path(CATALOG_DIR / "calibration" / f"{base_name}.yaml")
    result = fit(points, base)
    grouped = fit_grouped(points, base, by, shared=result) if by else None
    cv = cross_validate(points, base, k=folds, start=result.values, by=by) if folds > 1 else None
    all_rows = rows(points, grouped.calibration_for if grouped else result.calibration, cv)
    summary = summarise(all_rows)
    protect = (*files, base_file)
    if grouped is None:
        atomic_write(out_p, profile_yaml(result, base, name or out_p.stem, files, summary), protect=protect)
        return result, summary, report, None
    written: dict[str, tuple[FitResult, list[Summary], str]] = {}
    for label, res in grouped.groups.items():
        g_summary = summarise([r for r in all_rows if group_of(r.point, by) == label])
        path = out_p / f"{label}.yaml"
        text = profile_yaml(res, base, label, files, g_summary, group=(by, label), shared=result)
        atomic_write(path, text, protect=protect)
        written[label] = (res, g_summary, str(path))
    return result, summary, report, written


def group_profiles(points: list, by: tuple[str, ...], fallback: Calibration) -> tuple[dict[str, Calibration], dict[str, str]]:
    """Per group label among `points`: the catalog profile named after it (catalogs/calibration/
    LABEL.yaml, written by `plan calibrate --group-by`), else `fallback`; and the names used."""
    cal: dict[str, Calibration] = {}
    names: dict[str, str] = {}
    for label in sorted({group_of(p, by) for p in points}):
        if (CATALOG_DIR / "calibration" / f"{label}.yaml").exists():
            cal[label], names[label] = load_calibration(label), label
        else:
            cal[label], names[label] = fallback, fallback.name
    return cal, names


def run_validate(paths: list[str], calibration: str = "default", folds: int = 5,
                 plot: str | None = None, group_by: tuple[str, ...] = ()) -> Validation:
    """Predicted vs measured under `calibration`, with k-fold CV refits started from it.

    With `group_by`, each point is predicted by its group's catalog profile (fallback:
    `calibration`), and the CV refits per group inside each fold (calibrate.cross_validate)."""
    t0 = time.perf_counter()
    files = _files(paths)
    by = check_group_by(group_by) if group_by else ()
    points, report = load_points(files)
    calib = load_calibration(calibration)
    cv: CVResult | None = None
    if folds > 1:
        start = {k: param_value(calib, k) for k in free_params(points)}
        cv = cross_validate(points, calib, k=folds, start=start, by=by)
    profiles: dict[str, str] | None = None
    if by:
        cal, profiles = group_profiles(points, by, calib)
        rs = rows(points, lambda p: cal[group_of(p, by)], cv)
    else:
        rs = rows(points, calib, cv)
    v = Validation(calib.name, files, report, rs, summarise(rs), folds, time.perf_counter() - t0,
                   by, profiles)
    if plot:
        title = f"calibration {calib.name}" + (f", per {'/'.join(by)}" if by else "")
        parity_plot(rs, plot, title, protect=files)
    return v


# ------------------------------------------------------------------------------ rendering
def _pct(x: float | None) -> str:
    """0.153 → '15.3%'; None → '—'."""
    return "—" if x is None else f"{100 * x:.1f}%"


def _row_line(r: Row) -> str:
    """One observation as a table line."""
    p = r.point
    return (f"{p.id[:46]:46s} {p.model:13s} {p.gpu:6s} {p.engine:8s} {r.quantity[:7]:7s} "
            f"{r.measured:10.1f} {r.predicted:10.1f} {_pct(r.error):>8s} {_pct(r.cv_error):>8s}")


def render_text(v: Validation) -> str:
    """Human-readable report: load summary, points (or the worst), error summary, breakdown."""
    out = [f"calibration: {v.calibration}", "measurements: " + ", ".join(v.files), *v.load.lines()]
    if v.group_by:
        out.append(f"per-{'/'.join(v.group_by)} profiles (group: profile): "
                   + ", ".join(f"{g}: {n}" for g, n in (v.profiles or {}).items()))
        out.append(f"cross-validation refits one profile per {'/'.join(v.group_by)} with at least "
                   f"{MIN_GROUP_POINTS} training points inside each fold; other groups: the fold's shared fit")
    out.append("")
    head = (f"{'point':46s} {'model':13s} {'gpu':6s} {'engine':8s} {'qty':7s} "
            f"{'measured':>10s} {'predicted':>10s} {'error':>8s} {'CV err':>8s}")
    shown = v.rows
    if len(v.rows) > ALL_ROWS_UP_TO:
        key = (lambda r: abs(r.cv_error)) if v.rows[0].cv_error is not None else (lambda r: abs(r.error))
        shown = sorted(v.rows, key=key, reverse=True)[:WORST_SHOWN]
        out.append(f"{len(v.rows)} observations; the {WORST_SHOWN} worst (tokens/s per GPU):")
    out += [head, *[_row_line(r) for r in shown], ""]
    out.append("by model / GPU / engine / quantity: n, median |error|, median |CV error|")
    for k, (n, med, cvm) in breakdown(v.rows, _group_key).items():
        out.append(f"  {k:52s} {n:5d} {_pct(med):>8s} {_pct(cvm):>8s}")
    out.append("")
    axis = v.group_by or ("engine",)
    out.append(f"by {'/'.join(axis)}: observations, median |error|, median |CV error| per quantity")
    out += group_table(v.rows, axis)
    out.append("")
    for s in v.summary:
        out.append(f"{s.quantity}: n={s.n} median |error| {_pct(s.median_abs)}, max {_pct(s.max_abs)}; "
                   f"cross-validated ({v.cv_folds}-fold) median |error| {_pct(s.cv_median_abs)}, "
                   f"max {_pct(s.cv_max_abs)}; within ±15 % {_pct(s.within_15)}, ±30 % {_pct(s.within_30)}")
    out.append(f"({v.seconds:.1f} s)")
    return "\n".join(out)


def group_table(rs: list[Row], by: tuple[str, ...]) -> list[str]:
    """One line per group: decode and prefill (n, median |error|, median |CV error|)."""
    b = breakdown(rs, lambda r: f"{group_of(r.point, by)}|{r.quantity}")
    out = [f"  {'group':28s} {'decode n':>8s} {'fit':>7s} {'CV':>7s}   {'prefill n':>9s} {'fit':>7s} {'CV':>7s}"]
    for g in sorted({k.split('|')[0] for k in b}):
        cells = []
        for q, w in (("decode_tok_s_per_gpu", 8), ("prefill_tok_s_per_gpu", 9)):
            n, med, cvm = b.get(f"{g}|{q}", (0, None, None))
            cells.append(f"{n:{w}d} {_pct(med):>7s} {_pct(cvm):>7s}" if n else f"{'–':>{w}s} {'':7s} {'':7s}")
        out.append(f"  {g:28s} {cells[0]}   {cells[1]}")
    return out


def _group_key(r: Row) -> str:
    """model/gpu/engine/quantity label of an observation."""
    p = r.point
    return f"{p.model}/{p.gpu}/{p.engine}/{r.quantity.split('_tok')[0]}"


def render_json(v: Validation) -> str:
    """Stable JSON: calibration, load, summary (per quantity) and points."""
    data = {
        "calibration": v.calibration,
        "files": v.files,
        "load": {"read": v.load.read, "kept": v.load.kept, "dropped": v.load.dropped},
        "cv_folds": v.cv_folds,
        "group_by": list(v.group_by),
        "profiles": v.profiles,
        "summary": [s.__dict__ for s in v.summary],
        "points": [{"id": r.point.id, "model": r.point.model, "gpu": r.point.gpu,
                    "engine": r.point.engine, "mode": r.point.mode,
                    "group": group_of(r.point, v.group_by) if v.group_by else None, "kind": r.point.kind,
                    "quantity": r.quantity, "measured": r.measured, "predicted": r.predicted,
                    "error": r.error, "cv_predicted": r.cv_predicted, "cv_error": r.cv_error,
                    "source": r.point.source} for r in v.rows],
    }
    return json.dumps(data, indent=2)


def parity_plot(rs: list[Row], path: str, title: str, protect: list[str] = ()) -> None:
    """Log-log measured vs predicted (CV prediction when available) with ±15 % and ±30 % bands."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if Path(path).suffix.lower() != ".png":
        raise BadInput(f"--out-plot {path}: the plot is written as PNG; use a .png path")
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    markers = {"decode_tok_s_per_gpu": "o", "prefill_tok_s_per_gpu": "^"}
    models = sorted({r.point.model for r in rs})
    colours = dict(zip(models, plt.cm.tab10(np.linspace(0, 1, 10))))
    for q, mk in markers.items():
        for m in models:
            sel = [r for r in rs if r.quantity == q and r.point.model == m]
            if not sel:
                continue
            x = [r.measured for r in sel]
            y = [r.cv_predicted if r.cv_predicted is not None else r.predicted for r in sel]
            ax.scatter(x, y, s=10, marker=mk, alpha=0.55, color=colours[m],
                       label=f"{m} {q.split('_tok')[0]}")
    vals = [r.measured for r in rs] + [r.predicted for r in rs]
    lo, hi = min(vals) / 2, max(vals) * 2
    line = np.geomspace(lo, hi, 50)
    ax.plot(line, line, "k-", lw=1)
    for b, ls in zip(BANDS, ("--", ":")):
        ax.plot(line, line * (1 + b), "k" + ls, lw=0.8, label=f"±{b:.0%}")
        ax.plot(line, line * (1 - b), "k" + ls, lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    cv = rs and rs[0].cv_predicted is not None
    ax.set_xlabel("measured tokens/s per GPU")
    ax.set_ylabel(("cross-validated " if cv else "") + "predicted tokens/s per GPU")
    ax.set_title(f"Parity, {title} (o decode, ^ prefill)")
    ax.legend(fontsize=6, loc="upper left", ncol=2)
    ax.grid(True, which="both", alpha=0.2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    _write_bytes(Path(path), buf.getvalue(), protect)


def _write_bytes(p: Path, data: bytes, protect: list[str]) -> None:
    """Write binary output via a temporary file; refuse to overwrite an input file."""
    import os
    import tempfile
    for q in protect:
        if Path(q).exists() and p.exists() and os.path.samefile(p, q):
            raise BadInput(f"{p}: refusing to overwrite an input file")
    if not p.parent.is_dir():
        raise BadInput(f"{p}: directory {p.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, p)


def render_calibrate(result: FitResult, summary: list[Summary], report: LoadReport, out: str,
                     written: dict[str, tuple[FitResult, list[Summary], str]] | None = None) -> str:
    """What `plan calibrate` prints: load summary, fitted values, CV error, output path(s)."""
    lines = [*report.lines(), f"fit: {result.n_observations} observations, {result.evaluations} "
             f"evaluations, {result.seconds:.1f} s"]
    lines += [f"  {k:28s} {v:.4g}" for k, v in result.values.items()]
    for label, (res, g_summary, path) in (written or {}).items():
        lines.append(f"group {label}: {res.n_points} points, {res.evaluations} evaluations")
        lines += [f"  {k:28s} {v:.4g}" for k, v in res.values.items()]
        lines += [f"  {s.quantity}: fit median |error| {_pct(s.median_abs)}; cross-validated median "
                  f"|error| {_pct(s.cv_median_abs)}" for s in g_summary if s.quantity != "all"]
        lines.append(f"  wrote {path}")
    lines += [f"{s.quantity}: fit median |error| {_pct(s.median_abs)}; cross-validated median "
              f"|error| {_pct(s.cv_median_abs)}, max {_pct(s.cv_max_abs)}" for s in summary]
    if written is None:
        lines.append(f"wrote {out}")
    elif not written:
        lines.append(f"no group had enough points for a profile of its own; nothing written to {out}")
    return "\n".join(lines)


def check_calibration_name(name: str) -> Calibration:
    """The profile, or BadInput naming the available ones (delegates to load_calibration)."""
    return load_calibration(name)
