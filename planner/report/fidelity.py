"""Render the fidelity studies: `plan validate` (text, JSON, parity plot) and `plan calibrate`.

Errors arrive as fractions (planner.fidelity); here they become percentages. Matplotlib is
imported inside `parity_png`, so importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.errors import BadInput, one_line
from planner.fidelity.crossval import MIN_GROUP_POINTS, Row, breakdown, group_of
from planner.fidelity.validate import Calibrated, Validation
from planner.input.files import atomic_write
from planner.input.owned import PNG_METADATA, check_named
from planner.report.format import to_json
from planner.report.mpl import literal

WORST_SHOWN = 15          # worst points listed when there are more than ALL_ROWS_UP_TO
ALL_ROWS_UP_TO = 60       # print every point up to this many observations
BANDS = (0.15, 0.30)      # parity-plot bands: ±15 % and ±30 %


def _pct(x: float | None) -> str:
    """0.153 → '15.3%'; None → '—'."""
    return "—" if x is None else f"{100 * x:.1f}%"


def _qty(quantity: str) -> str:
    """decode_tok_s_per_gpu → 'decode', ttft_s → 'ttft', prefill_tok_s_per_gpu → 'prefill'."""
    return quantity.split("_tok")[0].removesuffix("_s")


def _shown(quantity: str, x: float) -> str:
    """A measured or predicted value in the table's units: tokens/s per GPU to 0.1, TTFT in ms to
    0.1 ms (seconds to one decimal printed a 60 ms and a 140 ms TTFT both as 0.1)."""
    return f"{x * 1e3:10.1f}" if quantity == "ttft_s" else f"{x:10.1f}"


def _row_line(r: Row, model_w: int = 13, gpu_w: int = 6) -> str:
    """One observation as a table line; the model and GPU columns `model_w` and `gpu_w` wide."""
    p = r.point   # a file's id or engine label may hold a newline: it split the row in two (a hunt)
    return (f"{one_line(p.id)[:46]:46s} {p.model:{model_w}s} {p.gpu:{gpu_w}s} {one_line(p.engine):8s} "
            f"{_qty(r.quantity):7s} "
            f"{_shown(r.quantity, r.measured)} {_shown(r.quantity, r.predicted)} {_pct(r.error):>8s} "
            f"{_pct(r.cv_error):>8s}")


def render_text(v: Validation) -> str:
    """Human-readable report: load summary, points (or the worst), error summary, breakdown."""
    out = [f"calibration: {v.calibration}", "measurements: " + ", ".join(v.files), *v.load.lines()]
    if v.group_by:
        out.append(f"per-{'/'.join(v.group_by)} profiles (group: profile): "
                   + ", ".join(f"{g}: {n}" for g, n in (v.profiles or {}).items()))
        out.append(f"cross-validation refits one profile per {'/'.join(v.group_by)} with at least "
                   f"{MIN_GROUP_POINTS} training points inside each fold; "
                   "other groups: the fold's shared fit")
    out.append("")
    shown = v.rows
    if len(v.rows) > ALL_ROWS_UP_TO:
        key = (lambda r: abs(r.cv_error)) if v.rows[0].cv_error is not None else (lambda r: abs(r.error))
        shown = sorted(v.rows, key=key, reverse=True)[:WORST_SHOWN]
        out.append(f"{len(v.rows)} observations; the {WORST_SHOWN} worst (tokens/s per GPU; TTFT in ms):")
    else:
        out.append(f"{len(v.rows)} observations (tokens/s per GPU; TTFT in ms):")
    # catalog ids run past the columns' old fixed widths (llama-3.1-405b, h100-pcie): widen to fit
    mw = max([13, *(len(r.point.model) for r in shown)])
    gw = max([6, *(len(r.point.gpu) for r in shown)])
    head = (f"{'point':46s} {'model':{mw}s} {'gpu':{gw}s} {'engine':8s} {'qty':7s} "
            f"{'measured':>10s} {'predicted':>10s} {'error':>8s} {'CV err':>8s}")
    out += [head, *[_row_line(r, mw, gw) for r in shown], ""]
    cv_ran = any(r.cv_error is not None for r in v.rows)
    out.append("by model / GPU / engine / quantity: n, median |error|, median |CV error|, "
               + ("p90 |CV error|" if cv_ran else "p90 |error| (no cross-validation)"))
    for k, (n, med, cvm, p90) in breakdown(v.rows, _group_key).items():
        out.append(f"  {k:52s} {n:5d} {_pct(med):>8s} {_pct(cvm):>8s} {_pct(p90):>8s}")
    out.append("")
    axis = v.group_by or ("engine",)
    out.append(f"by {'/'.join(axis)}: observations, median |error|, median |CV error| per quantity")
    out += group_table(v.rows, axis)
    out.append("")
    for s in v.summary:
        cv = (f"cross-validated ({v.cv_folds}-fold) median |error| {_pct(s.cv_median_abs)}, p90 "
              f"{_pct(s.cv_p90_abs)}, max {_pct(s.cv_max_abs)}" if v.cv_folds > 1 else "no cross-validation")
        out.append(f"{s.quantity}: n={s.n} median |error| {_pct(s.median_abs)}, p90 {_pct(s.p90_abs)}, "
                   f"max {_pct(s.max_abs)}; {cv}; within ±15 % {_pct(s.within_15)}, ±30 % {_pct(s.within_30)}")
    out.append(f"({v.seconds:.1f} s)")
    return "\n".join(out)


GROUP_COLUMNS = (("decode_tok_s_per_gpu", "decode n"), ("ttft_s", "TTFT n"), ("prefill_tok_s_per_gpu", "prefill n"))


def group_table(rs: list[Row], by: tuple[str, ...]) -> list[str]:
    """One line per group and quantity column: n, median |error|, median |CV error|, p90 |CV error|."""
    b = breakdown(rs, lambda r: f"{group_of(r.point, by)}|{r.quantity}")
    cols = [(q, h) for q, h in GROUP_COLUMNS if any(k.endswith(f"|{q}") for k in b)]
    p90 = "CV p90" if any(r.cv_error is not None for r in rs) else "p90"
    out = ["  " + f"{'group':28s} " + "   ".join(f"{h:>9s} {'fit':>7s} {'CV':>7s} {p90:>7s}" for _, h in cols)]
    for g in sorted({k.split('|')[0] for k in b}):
        cells = []
        for q, _ in cols:
            n, med, cvm, p90 = b.get(f"{g}|{q}", (0, None, None, None))
            cells.append(f"{n:9d} {_pct(med):>7s} {_pct(cvm):>7s} {_pct(p90):>7s}" if n
                         else f"{'–':>9s} {'':7s} {'':7s} {'':7s}")
        out.append(f"  {g:28s} " + "   ".join(cells))
    return out


def _group_key(r: Row) -> str:
    """model/gpu/engine/quantity label of an observation."""
    p = r.point
    return f"{p.model}/{p.gpu}/{p.engine}/{_qty(r.quantity)}"


def render_json(v: Validation) -> str:
    """Stable JSON: calibration, load, summary (per quantity) and points."""
    data = {
        "calibration": v.calibration,
        "files": v.files,
        "load": {"read": v.load.read, "kept": v.load.kept, "dropped": v.load.dropped, "reread": v.load.reread},
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
    return to_json(data)   # sorted keys, NaN/inf as null (as every command's JSON)


def write_parity_plot(v: Validation, path: str, force: bool = False, protect: tuple[str, ...] = ()) -> None:
    """The parity plot of `v` written as PNG to `path` (atomically; never over a measurement file or
    another input in `protect`, e.g. the deployment YAML)."""
    check_named("--out-plot", path, (".png",), "name the plot NAME.png", any_case=True)
    if Path(path).suffix.lower() != ".png":
        raise BadInput(f"--out-plot {path}: the plot is written as PNG; use a .png path")
    title = f"calibration {v.calibration}" + (f", per {'/'.join(v.group_by)}" if v.group_by else "")
    atomic_write(path, parity_png(v.rows, title), protect=(*v.files, *protect), force=force)


PANELS = ((("decode_tok_s_per_gpu", "o", "decode"), ("prefill_tok_s_per_gpu", "^", "prefill rate")),
          (("ttft_s", "s", "TTFT"),))


def _parity_panel(ax, rs: list[Row], series, colours, xlabel: str, ylabel: str) -> None:
    """One log-log panel: measured against (cross-validated) predicted, ±15 % and ±30 % bands."""
    import numpy as np
    shown = []
    for q, mk, label in series:
        for m, colour in colours.items():
            sel = [r for r in rs if r.quantity == q and r.point.model == m]
            if not sel:
                continue
            x = [r.measured for r in sel]
            y = [r.cv_predicted if r.cv_predicted is not None else r.predicted for r in sel]
            ax.scatter(x, y, s=9, marker=mk, alpha=0.5, color=colour, label=literal(f"{m} {label}"))
            shown += x + y
    if not shown:
        ax.set_visible(False)
        return
    lo, hi = min(shown) / 2, max(shown) * 2
    line = np.geomspace(lo, hi, 50)
    ax.plot(line, line, "k-", lw=1)
    for b, ls in zip(BANDS, ("--", ":")):
        ax.plot(line, line * (1 + b), "k" + ls, lw=0.8, label=f"±{b:.0%}")
        ax.plot(line, line * (1 - b), "k" + ls, lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, loc="upper left", ncol=2)
    ax.grid(True, which="both", alpha=0.2)


def parity_png(rs: list[Row], title: str) -> bytes:
    """Two log-log panels, measured against predicted (cross-validated when available) with ±15 %
    and ±30 % bands: tokens/s per GPU (decode, published prefill rates) and TTFT in seconds."""
    import io

    from planner.report.mpl import import_matplotlib
    import_matplotlib()
    import matplotlib.pyplot as plt

    pred = ("cross-validated " if rs and rs[0].cv_predicted is not None else "") + "predicted"
    panels = [(series, x, y) for series, x, y in zip(
        PANELS, ("measured tokens/s per GPU", "measured mean TTFT (s), every concurrency"),
        (f"{pred} tokens/s per GPU", f"{pred} TTFT (s)"))
        if any(r.quantity in {q for q, _, _ in series} for r in rs)] or [(PANELS[0], "", "")]
    # only panels with points: an empty second panel was hidden, and the title sat over its blank half
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 6.5), dpi=110, squeeze=False)
    models = sorted({r.point.model for r in rs})
    colours = dict(zip(models, plt.cm.tab10(np.linspace(0, 1, 10))))
    for ax, (series, xlabel, ylabel) in zip(axes[0], panels):
        _parity_panel(ax, rs, series, colours, xlabel, ylabel)
    fig.suptitle(literal(f"Parity, {title}"))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata=PNG_METADATA)
    plt.close(fig)
    return buf.getvalue()


def few_observations(n_observations: int, n_parameters: int) -> list[str]:
    """A note when a fit has no more observations than parameters: it can pass through every point
    (4 observations fitted 14 parameters to a 0.0 % error, a hunt of 2026-12-06), so its error says
    nothing about points it has not seen."""
    if n_observations > n_parameters:
        return []
    return [f"note: {n_observations} observations for {n_parameters} fitted parameters: the fit can pass "
            f"through every point, so its error below says nothing about new ones; add measurements "
            f"(other batches, lengths, layouts) and read the cross-validated error (--folds)"]


def render_calibrate(c: Calibrated) -> str:
    """What `plan calibrate` prints: load summary, fitted values, CV error, output path(s)."""
    lines = [*c.load.lines(), f"fit: {c.fit.n_observations} observations, {c.fit.evaluations} "
             f"evaluations, {c.fit.seconds:.1f} s", *few_observations(c.fit.n_observations, len(c.fit.values))]
    lines += [f"  {k:28s} {v:.4g}" for k, v in c.fit.values.items()]
    for label, g in (c.groups or {}).items():
        lines.append(f"group {label}: {g.fit.n_points} points, {g.fit.evaluations} evaluations")
        lines += [f"  {k:28s} {v:.4g}" for k, v in g.fit.values.items()]
        lines += [f"  {s.quantity}: fit median |error| {_pct(s.median_abs)}; " + (
            f"cross-validated median |error| {_pct(s.cv_median_abs)}" if s.cv_median_abs is not None
            else "no cross-validation") for s in g.summary if s.quantity != "all"]
        lines.append(f"  wrote {g.path}")
    lines += [f"{s.quantity}: fit median |error| {_pct(s.median_abs)}; " + (
        f"cross-validated median |error| {_pct(s.cv_median_abs)}, max {_pct(s.cv_max_abs)}"
        if s.cv_median_abs is not None else "no cross-validation (--folds 0 or 1)") for s in c.summary]
    if c.groups is None:
        lines.append(f"wrote {c.out}")
    elif not c.groups:
        lines.append(f"no group had enough points for a profile of its own; nothing written to {c.out}")
    return "\n".join(lines)
