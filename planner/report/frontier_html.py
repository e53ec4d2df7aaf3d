"""frontier.html: a sweep as a self-contained page (inline SVG panels, a few lines of JS for tooltips, a
clickable legend, zoom and a sortable table; no network, no CDN). The panels show what frontier.png
shows (`planner.report.plots`: the same series, letters and labels)."""

from __future__ import annotations

import html

from planner.input.owned import HTML_GENERATOR_META
from planner.report import html_assets
from planner.report.format import distinct_numbers, fewest_decimals, per_million
from planner.report.json import sweep_json, to_json
from planner.report.plots import (
    X_LABEL,
    Series,
    achieved_text,
    curve_colour,
    curve_label,
    empty_note,
    fmt_axis,
    lettered_panels,
    limits_text,
    load_labels,
    panel_title,
    swept_words,
    target_x,
    y_ceiling,
)
from planner.studies.sweep import ALL, Row, Sweep

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


def legend_corner(lines: list[list[tuple[float, float]]], w: float, h: float,
                  plot: tuple[float, float, float, float]) -> tuple[float, float]:
    """Top-left (x, y) of a w × h legend in the corner of the plot (x, y, width, height) that the
    fewest of `lines` (polylines in SVG coordinates: curves, the target line and its label) run through, counted
    every 2 px along them; top left among equals. A legend fixed at the top left hid the curves and
    letters that ran there, as matplotlib's loc="best" does not.

    >>> legend_corner([[(0, 0), (50, 50)]], 20, 10, (0, 0, 100, 100))   # a curve through the top left
    (74, 6)
    >>> legend_corner([], 20, 10, (0, 0, 100, 100))
    (6, 6)
    """
    x, y, pw, ph = plot
    pad = 6
    corners = [(x + pad, y + pad), (x + pw - pad - w, y + pad), (x + pad, y + ph - pad - h),
               (x + pw - pad - w, y + ph - pad - h)]
    samples = []
    for line in lines:
        samples += line[:1]
        for (ax, ay), (bx, by) in zip(line, line[1:]):
            n = max(1, int(max(abs(bx - ax), abs(by - ay)) / 2))
            samples += [(ax + (bx - ax) * i / n, ay + (by - ay) * i / n) for i in range(1, n + 1)]

    def crossings(corner: tuple[float, float]) -> int:
        cx, cy = corner
        return sum(cx - 4 <= px <= cx + w + 4 and cy - 4 <= py <= cy + h + 4 for px, py in samples)
    return min(corners, key=crossings)


def _tooltip(r: Row, currency: str, loads: dict[float, str]) -> str:
    tpot = f"{r.tpot_s * 1e3:.1f} ms ({r.interactivity:.1f} tok/s/user)" if r.tpot_s else "- (no decode)"
    ttft = f"{r.ttft_s:.2f} s" if r.ttft_s is not None else "-"
    return (f"{curve_label(r.curve)}\n{limits_text(r, loads)}\nachieved TPOT {tpot}, TTFT {ttft}\n"
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
    # the axis ends at the round tick above the ceiling: a curve is cut only above that (the note said 'clipped
    # above 52.08: H200 only' of a point at 58 drawn below the axis's 60)
    clipped = [c for c in clipped if any(p[1] > y1 for s in series if s.curve == c for p in s.points)]
    pw, ph = SVG_W - MARGIN["l"] - MARGIN["r"], SVG_H - MARGIN["t"] - MARGIN["b"]

    def sx(x: float) -> float:
        return MARGIN["l"] + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return MARGIN["t"] + ph - (y - y0) / (y1 - y0) * ph

    e, loads = html.escape, load_labels(sweep)
    out = [f'<svg class="panel" xmlns="http://www.w3.org/2000/svg" width="{SVG_W}" height="{SVG_H}" '
           f'viewBox="0 0 {SVG_W} {SVG_H}" font-family="sans-serif" font-size="12">',
           f'<text x="{SVG_W/2}" y="20" text-anchor="middle" font-size="14">{e(panel_title(sweep, axis))}</text>']
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
                   f'clipped above {y1:,.2f}: {e(", ".join(curve_label(c) for c in clipped))}</text>')   # above
    empty = empty_note(sweep, axis, series)
    for i, line in enumerate(empty.split("\n") if empty else []):
        out.append(f'<text class="empty" x="{MARGIN["l"] + pw / 2:.1f}" y="{MARGIN["t"] + ph / 2 + 16 * i:.1f}" '
                   f'text-anchor="middle" fill="#b00020">{e(line)}</text>')
    tx = target_x(sweep, axis)
    if tx is not None and x0 <= tx <= x1:
        # the label on the side of the line with room: right of a line in the left half, else left of it
        # (a target at the sweep's last point put it past the panel's edge, cut to "the")
        side = (sx(tx) + 4, "start") if tx <= (x0 + x1) / 2 else (sx(tx) - 4, "end")
        label = f"the problem's target ({fmt_axis(axis, dict(sweep.target)[axis], loads)})"
        out.append(f'<line class="target" x1="{sx(tx):.1f}" x2="{sx(tx):.1f}" y1="{MARGIN["t"]}" '
                   f'y2="{MARGIN["t"]+ph}" stroke="#555" stroke-dasharray="5,4"/>'
                   f'<text x="{side[0]:.1f}" y="{MARGIN["t"]+ph-6}" text-anchor="{side[1]}" fill="#555">'
                   f'{e(label, quote=False)}</text>')
    out.append(f'<text x="{MARGIN["l"]+pw/2}" y="{SVG_H-10}" text-anchor="middle">{e(X_LABEL[axis])}</text>')
    out.append(f'<text transform="translate(16,{MARGIN["t"]+ph/2}) rotate(-90)" text-anchor="middle">'
               f'{e(sweep.currency)} per million output tokens</text>')
    for s in sorted(series, key=lambda s: s.curve == ALL):   # the optimum last, its points and letters on top
        c = curve_colour(sweep, s.curve)
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
            out.append(f'<text x="{sx(x):.1f}" y="{sy(y)-9:.1f}" text-anchor="{anchor}" font-weight="bold" '
                       f'stroke="#fff" stroke-width="3" paint-order="stroke">{letter}</text>')   # a halo over lines
        out.append("</g>")
    lines = [[(sx(x), sy(y)) for x, y, _ in s.points] for s in series]
    if tx is not None and x0 <= tx <= x1:
        lines.append([(sx(tx), MARGIN["t"]), (sx(tx), MARGIN["t"] + ph)])
        end = side[0] + 6.5 * len(label) * (1 if side[1] == "start" else -1)   # its label, ~6.5 px a character
        lines.append([(side[0], MARGIN["t"] + ph - 10), (end, MARGIN["t"] + ph - 10)])
    box_w = 40 + max((7 * len(curve_label(s.curve)) for s in series), default=0)
    lx, ly0 = legend_corner(lines, box_w, 16 * len(series) + 4, (MARGIN["l"], MARGIN["t"], pw, ph))
    for k, s in enumerate(series):
        c, width, ly = curve_colour(sweep, s.curve), 3 if s.curve == ALL else 1.5, ly0 + 14 + 16 * k
        out.append(f'<g class="legend" data-curve="{e(s.curve)}" style="cursor:pointer">'
                   f'<rect x="{lx}" y="{ly-12}" width="{box_w}" height="15" fill="#fff" opacity="0.8"/>'
                   f'<line x1="{lx+4}" x2="{lx+24}" y1="{ly-4}" y2="{ly-4}" stroke="{c}" '
                   f'stroke-width="{width}"/><text x="{lx+30}" y="{ly}">{e(curve_label(s.curve))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _key(sweep: Sweep) -> str:
    """The optimum's plan changes, lettered as on the charts: what each achieves, its price, its
    GPU types per role (the key the PNG prints under the chart)."""
    e, loads, swept = html.escape, load_labels(sweep), [a.name for a in sweep.axes]
    changes = [c for ss in lettered_panels(sweep).values() for s in ss for c in s.changes]
    if not changes:
        return ""
    items = "".join(f"<li><b>{letter}</b> {e(achieved_text(r, swept, loads))}: "
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
