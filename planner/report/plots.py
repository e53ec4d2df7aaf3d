"""Pictures of a sweep: a PNG (matplotlib, imported only here and only when drawing) and a
self-contained HTML page (inline SVG, a few lines of JS for tooltips; no network, no CDN).

A *panel* plots price (currency per million output tokens) against one swept axis — TPOT as
interactivity (tokens/s per user = 1/TPOT), TTFT in seconds, or QPS — with the other axes held
at their last (loosest or largest) value. Each curve shows its non-dominated plans; the
optimum's plan changes are lettered on the chart and listed under it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from planner.input.files import atomic_write
from planner.input.owned import HTML_GENERATOR_META, PNG_METADATA
from planner.input.units import format_time
from planner.report import html_assets
from planner.report.format import distinct_numbers, fewest_decimals, per_million
from planner.report.json import sweep_json, to_json
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


def _colour(sweep: Sweep, curve: str) -> str:
    return OPTIMUM_COLOUR if curve == ALL else COLOURS[(sweep.curves.index(curve) - 1) % len(COLOURS)]


def _label(curve: str) -> str:
    return "optimum (mixed fleet)" if curve == ALL else f"{curve.upper()} only"


def _title(sweep: Sweep, axis: str) -> str:
    """'deepseek-qps: price vs TPOT (TTFT ≤ 2 s, 200 req/s)': what the panel holds fixed."""
    r = sweep.rows[0]
    fixed = {"tpot": r.tpot_limit_s, "ttft": r.ttft_limit_s, "qps": r.qps}
    fixed.update({a.name: a.values[-1] for a in sweep.axes})
    held = [f"{k.upper()} ≤ {_fmt_axis(k, v)}" if k != "qps" else _fmt_axis(k, v, load_labels(sweep))
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


def _fmt_axis(axis: str, v: float | None, loads: dict[float, str] | None = None) -> str:
    """A value of an axis, a load in `loads`' digits (in %g a narrow sweep's tooltips all read 150)."""
    if v is None:   # a plan without that latency (no pool prefills, or none decodes): it was a TypeError
        return "–"
    return f"{(loads or {}).get(v, f'{v:g}')} req/s" if axis == "qps" else format_time(v)


def load_labels(sweep: Sweep) -> dict[float, str]:
    """Each load of the sweep (and its target) in the digits that tell them apart, as the table's."""
    return distinct_numbers([r.qps for r in sweep.rows] + [v for k, v in sweep.target if k == "qps"])


def _limits(r: Row, loads: dict[float, str]) -> str:
    """A row's limits, e.g. 'TPOT ≤ 50 ms, TTFT ≤ 2 s, 150.00002 req/s' (Row.limits in %g)."""
    return (f"TPOT ≤ {format_time(r.tpot_limit_s)}, TTFT ≤ {format_time(r.ttft_limit_s)}, "
            f"{_fmt_axis('qps', r.qps, loads)}")


def _achieved(r: Row, swept: list[str], loads: dict[float, str] | None = None) -> str:
    """What a row's plan achieves on the swept axes (the charts' x values), e.g. 'TPOT 45.8 ms
    (limit 49.0 ms)': plan changes are labelled where they sit on the chart."""
    got = {"tpot": r.tpot_s, "ttft": r.ttft_s, "qps": r.qps}
    lim = {"tpot": r.tpot_limit_s, "ttft": r.ttft_limit_s}
    return ", ".join(f"{k.upper()} {_fmt_axis(k, got[k])} (limit {_fmt_axis(k, lim[k])})" if k != "qps"
                     else _fmt_axis(k, got[k], loads) for k in swept)


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
                    color=_colour(sweep, s.curve), label=_label(s.curve), zorder=3 if opt else 2,
                    alpha=1.0 if opt else 0.85)
            for letter, x, y, _row in s.changes:
                ax.annotate(letter, (x, y), xytext=(0, 7), textcoords="offset points", ha="center",
                            fontsize=8, fontweight="bold", zorder=4)
        tx, (lo, hi) = target_x(sweep, axis), ax.get_xlim()   # the curves' range (the HTML panel's ticks)
        if tx is not None:   # a target far off it squeezed a narrow sweep's curves into a corner: named only
            (ax.axvline(tx) if lo <= tx <= hi else ax.plot([], [])[0]).set(color="#555555", linestyle="--", zorder=1,
                linewidth=1.0, label=f"the problem's target ({_fmt_axis(axis, dict(sweep.target)[axis], loads)})"
                + ("" if lo <= tx <= hi else ", outside this range"))
        ax.set(xlabel=X_LABEL[axis], ylabel=f"{sweep.currency} per million output tokens")
        empty = empty_note(sweep, axis, series)
        if empty:
            ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize=10,
                    color="#b00020", bbox={"facecolor": "white", "edgecolor": "none"}, zorder=5)
        top, clipped = y_ceiling(series)
        note = f"\n(clipped above {top:,.2f}: " + ", ".join(_label(c) for c in clipped) + ")" if clipped else ""
        ax.set_title(literal(_title(sweep, axis) + note), fontsize=10)   # above the plot: over no point
        if top is None and not any(p[1] > 0 for s in series for p in s.points):
            top = 1.0   # free cards: every cost 0 (matplotlib warns of an axis from 0 to 0)
        ax.set_ylim(bottom=0, top=top)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")   # "upper left" hid a curve that ran there (a narrow sweep's H20)
    if all_changes:
        swept = [a.name for a in sweep.axes]
        lines = [f"{letter}  {_achieved(r, swept, loads)}  {r.cost_per_million_output_tokens:6,.2f}  {r.fleet}"
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


# ------------------------------------------------------------------------------------- HTML
SVG_W, SVG_H = 860, 460
MARGIN = {"l": 70, "r": 20, "t": 36, "b": 52}
TICKS = 6


def nice_ticks(lo: float, hi: float, n: int = TICKS) -> list[float]:
    """About n round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k)."""
    import math
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int(math.ceil((hi - start) / step)) + 1)]


def tick_anchor(x: float, label: str) -> str:
    """Centred on its tick, or ending at it where centred it would run past the SVG's right edge (a
    narrow sweep's last tick was cut to '150.000'); 0.65 em a character, over a digit's 0.636."""
    return "end" if x + 0.65 * 12 * len(label) / 2 > SVG_W - 2 else "middle"


def _tooltip(r: Row, currency: str, loads: dict[float, str]) -> str:
    tpot = f"{r.tpot_s * 1e3:.1f} ms ({r.interactivity:.1f} tok/s/user)" if r.tpot_s else "- (no decode)"
    ttft = f"{r.ttft_s:.2f} s" if r.ttft_s is not None else "-"
    return (f"{_label(r.curve)}\n{_limits(r, loads)}\nachieved TPOT {tpot}, TTFT {ttft}\n"
            f"{per_million(r.cost_per_million_output_tokens)} {currency}/M output tokens, "
            f"{r.cost_per_hour:,.0f} {currency}/h\n{r.plan}")


def _svg_panel(sweep: Sweep, axis: str, lettered: list[Series]) -> str:
    """One panel as inline SVG: axes, ticks, a polyline and hoverable circles per curve."""
    series = [s for s in lettered if s.points]
    xs = [p[0] for s in series for p in s.points] or [0.0, 1.0]
    ys = [p[1] for s in series for p in s.points] or [0.0, 1.0]
    top, clipped = y_ceiling(series)
    xt, yt = nice_ticks(min(xs), max(xs)), nice_ticks(0.0, top or max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pw, ph = SVG_W - MARGIN["l"] - MARGIN["r"], SVG_H - MARGIN["t"] - MARGIN["b"]

    def sx(x: float) -> float:
        return MARGIN["l"] + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return MARGIN["t"] + ph - (y - y0) / (y1 - y0) * ph

    e, loads = html.escape, load_labels(sweep)
    out = [f'<svg class="panel" xmlns="http://www.w3.org/2000/svg" width="{SVG_W}" height="{SVG_H}" '
           f'viewBox="0 0 {SVG_W} {SVG_H}" font-family="sans-serif" font-size="12">',
           f'<text x="{SVG_W/2}" y="20" text-anchor="middle" font-size="14">{e(_title(sweep, axis))}</text>']
    xl, yl = distinct_numbers(xt), distinct_numbers(yt)   # a narrow sweep's ticks all read '150' in %g
    for t in xt:
        out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{MARGIN["t"]}" y2="{MARGIN["t"]+ph}" stroke="#eee"/>'
                   f'<text class="xtick" x="{sx(t):.1f}" y="{MARGIN["t"]+ph+16}" '
                   f'text-anchor="{tick_anchor(sx(t), xl[t])}">{xl[t]}</text>')
    for t in yt:
        out.append(f'<line x1="{MARGIN["l"]}" x2="{MARGIN["l"]+pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eee"/>'
                   f'<text x="{MARGIN["l"]-6}" y="{sy(t)+4:.1f}" text-anchor="end">{yl[t]}</text>')
    out.append(f'<rect x="{MARGIN["l"]}" y="{MARGIN["t"]}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    clip = f"plot-{axis}"
    out.append(f'<clipPath id="{clip}"><rect x="{MARGIN["l"]}" y="{MARGIN["t"]}" width="{pw}" height="{ph}"/>'
               f'</clipPath>')
    if clipped:
        out.append(f'<text x="{MARGIN["l"]+pw}" y="{MARGIN["t"]-4}" text-anchor="end" font-size="11" fill="#555">'
                   f'clipped above {top:,.2f}: {e(", ".join(_label(c) for c in clipped))}</text>')   # above the frame
    empty = empty_note(sweep, axis, series)
    for i, line in enumerate(empty.split("\n") if empty else []):
        out.append(f'<text class="empty" x="{MARGIN["l"] + pw / 2:.1f}" y="{MARGIN["t"] + ph / 2 + 16 * i:.1f}" '
                   f'text-anchor="middle" fill="#b00020">{e(line)}</text>')
    tx = target_x(sweep, axis)
    if tx is not None and x0 <= tx <= x1:
        # the label on the side of the line with room: right of a line in the left half, else left of it
        # (a target at the sweep's last point put it past the panel's edge, cut to "the")
        side = (sx(tx) + 4, "start") if tx <= (x0 + x1) / 2 else (sx(tx) - 4, "end")
        out.append(f'<line class="target" x1="{sx(tx):.1f}" x2="{sx(tx):.1f}" y1="{MARGIN["t"]}" '
                   f'y2="{MARGIN["t"]+ph}" stroke="#555" stroke-dasharray="5,4"/>'
                   f'<text x="{side[0]:.1f}" y="{MARGIN["t"]+ph-6}" text-anchor="{side[1]}" fill="#555">'
                   f'the problem\'s target ({e(_fmt_axis(axis, dict(sweep.target)[axis], loads))})</text>')
    out.append(f'<text x="{MARGIN["l"]+pw/2}" y="{SVG_H-10}" text-anchor="middle">{e(X_LABEL[axis])}</text>')
    out.append(f'<text transform="translate(16,{MARGIN["t"]+ph/2}) rotate(-90)" text-anchor="middle">'
               f'{e(sweep.currency)} per million output tokens</text>')
    for k, s in enumerate(series):
        c = _colour(sweep, s.curve)
        width = 3 if s.curve == ALL else 1.5
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in s.points)
        out.append(f'<g class="curve" data-curve="{e(s.curve)}" clip-path="url(#{clip})"><polyline points="{pts}" '
                   f'fill="none" stroke="{c}" stroke-width="{width}"/>')
        for x, y, r in s.points:
            tip = e(_tooltip(r, sweep.currency, loads))
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{5 if s.curve == ALL else 4}" fill="{c}" '
                       f'data-tip="{tip}"><title>{tip}</title></circle>')
        for letter, x, y, _ in s.changes:   # a letter at the panel's edge toward the inside (the clip cut it)
            anchor = "start" if sx(x) - MARGIN["l"] < 8 else "end" if MARGIN["l"] + pw - sx(x) < 8 else "middle"
            out.append(f'<text x="{sx(x):.1f}" y="{sy(y)-9:.1f}" text-anchor="{anchor}" '
                       f'font-weight="bold">{letter}</text>')
        out.append("</g>")
        ly = MARGIN["t"] + 14 + 16 * k
        out.append(f'<g class="legend" data-curve="{e(s.curve)}" style="cursor:pointer">'
                   f'<rect x="{MARGIN["l"]+6}" y="{ly-12}" width="170" height="15" fill="#fff" opacity="0.01"/>'
                   f'<line x1="{MARGIN["l"]+10}" x2="{MARGIN["l"]+30}" y1="{ly-4}" y2="{ly-4}" stroke="{c}" '
                   f'stroke-width="{width}"/><text x="{MARGIN["l"]+36}" y="{ly}">{e(_label(s.curve))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _key(sweep: Sweep) -> str:
    """The optimum's plan changes, lettered as on the charts: what each achieves, its price, its
    GPU types per role (the key the PNG prints under the chart)."""
    e, loads, swept = html.escape, load_labels(sweep), [a.name for a in sweep.axes]
    changes = [c for ss in lettered_panels(sweep).values() for s in ss for c in s.changes]
    if not changes:
        return ""
    items = "".join(f"<li><b>{letter}</b> {e(_achieved(r, swept, loads))}: "
                    f"{per_million(r.cost_per_million_output_tokens)} {e(sweep.currency)}/M output tokens; "
                    f"{e(r.fleet)}</li>" for letter, _, _, r in changes)
    return (f"<h2>Key: where the optimum's plan changes</h2><ul class=\"key\">{items}</ul>"
            "<p>P prefill, D decode, C colocated (aggregated); GPU types per role.</p>")


def render_html(sweep: Sweep) -> str:
    """A self-contained page: one SVG panel per swept axis, hover tooltips, the data as JSON and a table."""
    e = html.escape
    panels = "\n".join(_svg_panel(sweep, a, series) for a, series in lettered_panels(sweep).items())
    head = ["curve", "TPOT limit (ms)", "TTFT limit (s)", "QPS", "status", "TPOT (ms)", "TTFT (s)",
            f"{sweep.currency}/h", f"{sweep.currency}/M out", "frontier", "plan"]
    body = []
    tpot_d = fewest_decimals([r.tpot_limit_s * 1e3 for r in sweep.rows], 1)
    ttft_d = fewest_decimals([r.ttft_limit_s for r in sweep.rows], 2)
    loads = distinct_numbers([r.qps for r in sweep.rows])
    for r in sweep.rows:
        ok = r.solved
        cells = [r.curve, f"{r.tpot_limit_s*1e3:.{tpot_d}f}", f"{r.ttft_limit_s:.{ttft_d}f}", loads[r.qps], r.status,
                 f"{r.tpot_s*1e3:.1f}" if ok and r.tpot_s is not None else "",
                 f"{r.ttft_s:.2f}" if ok and r.ttft_s is not None else "",
                 f"{r.cost_per_hour:,.0f}" if ok else "",
                 per_million(r.cost_per_million_output_tokens) if ok else "", "*" if r.on_frontier else "",
                 r.plan if ok else r.reason]
        tds = "".join(f'<td class="l">{e(c)}</td>' if i in (0, 4, 10) else f"<td>{e(c)}</td>"
                      for i, c in enumerate(cells))
        body.append(f'<tr class="{"front" if r.on_frontier else ""}">{tds}</tr>')
    # every '<' as \u003c (JSON reads it back): '</' alone was escaped, and a problem named '<!--<script>'
    # held the block open past its </script> (HTML's escaped script states), so the page's script never ran
    data = to_json(sweep_json(sweep)).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{HTML_GENERATOR_META}
<title>{e(sweep.problem)}: price vs {swept_words(sweep)}</title>
<style>{html_assets.CSS}</style></head><body>
<h1>{e(sweep.problem)}: {e(sweep.currency)} per million output tokens against {swept_words(sweep)}</h1>
<p>Each curve keeps its non-dominated verified plans; hover a point to see its plan
(P prefill, D decode, C colocated; instances×cards GPU, parallelism, design batch).
Click a curve's legend entry to hide or show it; scroll to zoom, drag to pan, double-click to reset;
click a column heading to sort the table. The dashed line is the problem's own target.</p>
{panels}
<div id="tip"></div>
{_key(sweep)}
<h2>Every point</h2>
<table><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script type="application/json" id="frontier-data">{data}</script>
<script>{html_assets.SCRIPT}</script>
</body></html>
"""
