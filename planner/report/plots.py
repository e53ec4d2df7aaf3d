"""Pictures of a sweep: the PNG (matplotlib, imported only here and only when drawing), and the
panels, letters and labels it shares with frontier.html (`planner.report.frontier_html`).

A *panel* plots price (currency per million output tokens) against one swept axis — TPOT as
interactivity (tokens/s per user = 1/TPOT), TTFT in seconds, or QPS — with the other axes held
at their last (loosest or largest) value. Each curve shows its non-dominated plans; the
optimum's plan changes are lettered on the chart and listed under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.input.files import atomic_write
from planner.input.owned import PNG_METADATA
from planner.input.units import format_time
from planner.report.format import distinct_numbers
from planner.report.mpl import literal
from planner.studies.sweep import ALL, LATENCY_AXES, Row, Sweep, frontier

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
OPTIMUM_COLOUR = "#111111"
X_LABEL = {"tpot": "interactivity (output tokens/s per user = 1 / TPOT)",
           "ttft": "TTFT (s, worst pool of the verified plan)",
           "qps": "load (requests/s)"}
PNG_DPI = 150
PANEL_SIZE_IN = (7.5, 5.0)
CLIP_FACTOR = 2.5   # a curve dearer than this × the optimum's dearest point is clipped (and said so)


@dataclass(frozen=True)
class Series:
    """One curve on one panel: points (x, price, row) sorted by x, and the plan-change letters."""

    curve: str
    points: tuple[tuple[float, float, Row], ...]
    changes: tuple[tuple[str, float, float, Row], ...]  # (letter, x, y, row); optimum only


def x_of(axis: str, r: Row) -> float | None:
    """The panel's x value of a row: 1/TPOT, achieved TTFT, or QPS."""
    if axis == "tpot":
        return r.interactivity
    return r.ttft_s if axis == "ttft" else r.qps


def slice_rows(sweep: Sweep, axis: str, curve: str) -> list[Row]:
    """A curve's rows on the slice of a panel: the other axes at their last value."""
    fixed = {a.name: a.values[-1] for a in sweep.axes if a.name != axis}
    return [r for r in sweep.curve(curve) if all(abs(_value(r, k) - v) <= 1e-12 * v for k, v in fixed.items())]


def panel_series(sweep: Sweep, axis: str, first_letter: int = 0) -> list[Series]:
    """Each curve's rows on the slice where the other axes sit at their last value; the optimum's
    plan changes lettered from `first_letter` on."""
    out = []
    letter = first_letter
    for curve in sweep.curves:
        rows = [r for r in slice_rows(sweep, axis, curve) if r.solved]
        if axis in LATENCY_AXES:
            rows = [rows[i] for i in sorted(frontier(rows, [axis]))]
        pts = sorted(((x_of(axis, r), r.cost_per_million_output_tokens, r) for r in rows
                      if x_of(axis, r) is not None), key=lambda p: p[0])   # a plan without TPOT has no x
        changes = []
        if curve == ALL:
            last = None
            for x, y, r in pts:
                if r.fleet != last:
                    changes.append((change_letter(letter), x, y, r))
                    letter += 1
                    last = r.fleet
        out.append(Series(curve, tuple(pts), tuple(changes)))
    return out


def lettered_panels(sweep: Sweep) -> dict[str, list[Series]]:
    """Every panel's series, the letters going on from one panel to the next: each panel began
    again at A, and the key listed the first panel's changes alone (a TPOT × QPS sweep drew A … AA
    on its QPS panel and explained only the TPOT panel's A, another plan, a hunt)."""
    out: dict[str, list[Series]] = {}
    start = 0
    for axis in panel_axes(sweep):
        out[axis] = panel_series(sweep, axis, start)
        start += sum(len(s.changes) for s in out[axis])
    return out


def empty_note(sweep: Sweep, axis: str, series: list[Series]) -> str | None:
    """What an empty panel says instead of nothing: no limit on its slice has a plan, and why at
    the loosest one (the optimum's reason, without the file name); None when a curve has a point."""
    if any(s.points for s in series):
        return None
    rows = slice_rows(sweep, axis, ALL)
    if any(r.solved for r in rows):   # plans, none with a value on this axis
        return (f"No plan here has a {axis.upper()} to plot" + {
            "tpot": ":\nevery answer is its first token, made by the prompt's pass",
            "ttft": ":\nno pool prefills a prompt"}.get(axis, ""))
    why = rows[-1].reason.splitlines()[0].removeprefix(f"{sweep.source}: ") if rows and rows[-1].reason else ""
    words, lines = why.split(), [""]
    for w in words:   # a few lines of at most ~60 characters, in the middle of the panel
        lines[-1:] = [lines[-1] + " " + w] if len(lines[-1]) + len(w) < 60 else [lines[-1], w]
    return "No plan at any limit swept" + (":\n" + "\n".join(x.strip() for x in lines[:4]) if why else "")


def _value(r: Row, axis: str) -> float:
    return r.qps if axis == "qps" else getattr(r, f"{axis}_limit_s")


def panel_axes(sweep: Sweep) -> list[str]:
    """Which panels to draw: one per swept axis, TPOT first."""
    names = [a.name for a in sweep.axes]
    return [n for n in ("tpot", "ttft", "qps") if n in names]


def swept_words(sweep: Sweep) -> str:
    """What the sweep's x axes measure, for the page's title: latency (TPOT, TTFT), load (QPS).

    >>> from types import SimpleNamespace as N
    >>> [swept_words(N(axes=[N(name=n) for n in ns])) for ns in (["tpot"], ["qps"], ["ttft", "qps"])]
    ['latency', 'load', 'latency and load']
    """
    names = panel_axes(sweep)
    words = (["latency"] if {"tpot", "ttft"} & set(names) else []) + (["load"] if "qps" in names else [])
    return " and ".join(words) or "latency"


def curve_colour(sweep: Sweep, curve: str) -> str:
    return OPTIMUM_COLOUR if curve == ALL else COLOURS[(sweep.curves.index(curve) - 1) % len(COLOURS)]


def curve_label(curve: str) -> str:
    return "optimum (mixed fleet)" if curve == ALL else f"{curve.upper()} only"


def panel_title(sweep: Sweep, axis: str) -> str:
    """'deepseek-qps: price vs TPOT (TTFT ≤ 2 s, 200 req/s)': what the panel holds fixed."""
    r = sweep.rows[0]
    fixed = {"tpot": r.tpot_limit_s, "ttft": r.ttft_limit_s, "qps": r.qps}
    fixed.update({a.name: a.values[-1] for a in sweep.axes})
    held = [f"{k.upper()} ≤ {fmt_axis(k, v)}" if k != "qps" else fmt_axis(k, v, load_labels(sweep))
            for k, v in fixed.items() if k != axis]
    if sweep.horizon_hours is not None:   # a load profile: qps is its reference (workload.qps)
        held = [h + f" ref., {sweep.horizon_hours:g} h profile" if h.endswith("req/s") else h for h in held]
        if axis == "qps":
            held.append(f"{sweep.horizon_hours:g} h profile")
    return f"{sweep.problem}: price vs {axis.upper()} ({', '.join(held)})"


def change_letter(i: int) -> str:
    """The i-th plan change's label: A … Z, then AA, AB … (spreadsheet columns; after Z the labels
    started again at A, so two fleets shared a letter on the chart)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


PNG_CHANGES = 30          # plan changes listed under the PNG chart; frontier.html lists every one
CHANGE_LINE_IN = 0.125    # height of one listed line (7 pt monospace), inches


def fmt_axis(axis: str, v: float | None, loads: dict[float, str] | None = None) -> str:
    """A value of an axis, a load in `loads`' digits (in %g a narrow sweep's tooltips all read 150)."""
    if v is None:   # a plan without that latency (no pool prefills, or none decodes): it was a TypeError
        return "–"
    return f"{(loads or {}).get(v, f'{v:g}')} req/s" if axis == "qps" else format_time(v)


def load_labels(sweep: Sweep) -> dict[float, str]:
    """Each load of the sweep (and its target) in the digits that tell them apart, as the table's."""
    return distinct_numbers([r.qps for r in sweep.rows] + [v for k, v in sweep.target if k == "qps"])


def limits_text(r: Row, loads: dict[float, str]) -> str:
    """A row's limits, e.g. 'TPOT ≤ 50 ms, TTFT ≤ 2 s, 150.00002 req/s' (Row.limits in %g)."""
    return (f"TPOT ≤ {format_time(r.tpot_limit_s)}, TTFT ≤ {format_time(r.ttft_limit_s)}, "
            f"{fmt_axis('qps', r.qps, loads)}")


def achieved_text(r: Row, swept: list[str], loads: dict[float, str] | None = None) -> str:
    """What a row's plan achieves on the swept axes (the charts' x values), e.g. 'TPOT 45.8 ms
    (limit 49.0 ms)': plan changes are labelled where they sit on the chart."""
    got = {"tpot": r.tpot_s, "ttft": r.ttft_s, "qps": r.qps}
    lim = {"tpot": r.tpot_limit_s, "ttft": r.ttft_limit_s}
    return ", ".join(f"{k.upper()} {fmt_axis(k, got[k])} (limit {fmt_axis(k, lim[k])})" if k != "qps"
                     else fmt_axis(k, got[k], loads) for k in swept)


def target_x(sweep: Sweep, axis: str) -> float | None:
    """The problem's own limit on a panel's x axis (1/TPOT for the TPOT panel), or None."""
    t = dict(sweep.target).get(axis)
    if t is None:
        return None
    return 1.0 / t if axis == "tpot" else t


def y_ceiling(series: list[Series]) -> tuple[float | None, list[str]]:
    """Upper y limit that keeps the optimum readable: CLIP_FACTOR × its dearest point when some
    curve goes beyond it (None otherwise), and the curves clipped."""
    opt = [p[1] for s in series if s.curve == ALL for p in s.points]
    if not opt or max(opt) <= 0:   # nothing to clip against a free optimum
        return None, []
    top = CLIP_FACTOR * max(opt)
    clipped = [s.curve for s in series if s.points and max(p[1] for p in s.points) > top]
    return (top, clipped) if clipped else (None, [])


# -------------------------------------------------------------------------------------- PNG
def render_png(sweep: Sweep) -> bytes:
    """The frontier chart as PNG bytes (matplotlib's object API: no pyplot, no global state)."""
    import io

    from planner.report.mpl import import_matplotlib
    import_matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.patheffects import withStroke
    halo = [withStroke(linewidth=2.5, foreground="white")]
    series_of = lettered_panels(sweep)
    axes_names = list(series_of)
    all_changes = [c for ss in series_of.values() for s in ss for c in s.changes]
    loads = load_labels(sweep)
    shown = min(len(all_changes), PNG_CHANGES)
    listed = (shown + 3) * CHANGE_LINE_IN if shown else 0.0   # the list, its two headings and a '… more' line
    # the figure grows with the list: a fixed height left the panels a negative share from ~53 changes on,
    # and matplotlib's layout raised (exit 5, nothing written)
    fig = Figure(figsize=(PANEL_SIZE_IN[0] * len(axes_names), PANEL_SIZE_IN[1] + 1.6 + listed), dpi=PNG_DPI,
                 layout="constrained")
    axs = fig.subplots(1, len(axes_names), squeeze=False)[0]
    for ax, axis in zip(axs, axes_names):
        series = series_of[axis]
        for s in series:
            if not s.points:
                continue
            xs, ys = [p[0] for p in s.points], [p[1] for p in s.points]
            opt = s.curve == ALL
            ax.plot(xs, ys, marker="o", markersize=4 if opt else 3, linewidth=2.4 if opt else 1.3,
                    color=curve_colour(sweep, s.curve), label=curve_label(s.curve), zorder=3 if opt else 2,
                    alpha=1.0 if opt else 0.85)
            for letter, x, y, _row in s.changes:
                ax.annotate(letter, (x, y), xytext=(0, 7), textcoords="offset points", ha="center",
                            fontsize=8, fontweight="bold", zorder=4, path_effects=halo)   # readable over a line
        tx, (lo, hi) = target_x(sweep, axis), ax.get_xlim()   # the curves' range (the HTML panel's ticks)
        if tx is not None:   # a target far off it squeezed a narrow sweep's curves into a corner: named only
            (ax.axvline(tx) if lo <= tx <= hi else ax.plot([], [])[0]).set(color="#555555", linestyle="--", zorder=1,
                linewidth=1.0, label=f"the problem's target ({fmt_axis(axis, dict(sweep.target)[axis], loads)})"
                + ("" if lo <= tx <= hi else ", outside this range"))
        ax.set(xlabel=X_LABEL[axis], ylabel=f"{sweep.currency} per million output tokens")
        empty = empty_note(sweep, axis, series)
        if empty:
            ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize=10,
                    color="#b00020", bbox={"facecolor": "white", "edgecolor": "none"}, zorder=5)
        top, clipped = y_ceiling(series)
        note = f"\n(clipped above {top:,.2f}: " + ", ".join(curve_label(c) for c in clipped) + ")" if clipped else ""
        ax.set_title(literal(panel_title(sweep, axis) + note), fontsize=10)   # above the plot: over no point
        if top is None and not any(p[1] > 0 for s in series for p in s.points):
            top = 1.0   # free cards: every cost 0 (matplotlib warns of an axis from 0 to 0)
        ax.set_ylim(bottom=0, top=top)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")   # "upper left" hid a curve that ran there (a narrow sweep's H20)
    if all_changes:
        swept = [a.name for a in sweep.axes]
        lines = [f"{letter}  {achieved_text(r, swept, loads)}  {r.cost_per_million_output_tokens:6,.2f}  {r.fleet}"
                 for letter, _, _, r in all_changes[:PNG_CHANGES]]
        if len(all_changes) > PNG_CHANGES:
            lines.append(f"… {len(all_changes) - PNG_CHANGES} more in frontier.html")
        fig.text(0.01, 0.0, literal(f"Optimum's fleet changes: achieved (limit), {sweep.currency}/M output tokens,\n"
                 "GPU types of P prefill, D decode, C colocated (plans in frontier.html)\n" + "\n".join(lines)),
                 fontsize=7, va="bottom", family="monospace")
        bottom = (len(lines) + 2.5) * CHANGE_LINE_IN / fig.get_figheight()
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata=PNG_METADATA)
    return buf.getvalue()


def write_png(sweep: Sweep, path: str, protect: tuple[str, ...] = ()) -> None:
    """render_png written atomically to path (temporary file, then rename); never over an input."""
    atomic_write(path, render_png(sweep), protect)
