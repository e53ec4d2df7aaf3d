"""A chart of a horizon plan (`plan solve PROBLEM --chart FILE`, docs/horizon.md): a PNG, or a
self-contained HTML page with the same figure as inline SVG and the per-period table.

Top panel: cards rented per period, stacked by capacity kind, the load (req/s) on a second axis
and the static peak fleet's cards dashed. Bottom panel: cost per hour of each period against the
static peak fleet's. matplotlib is imported only inside the drawing function (never by
`import planner`); the numbers come from `chart_data`, a pure function of the plan.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

from planner.input.files import atomic_write
from planner.input.owned import HTML_GENERATOR_META, PNG_METADATA, check_format_suffix
from planner.plan.horizon import HorizonPlan
from planner.plan.horizon_milp import KINDS
from planner.report import html_assets
from planner.report.format import money
from planner.report.mpl import literal

SUFFIXES = (".png", ".html")
KIND_LABEL = {"owned": "owned", "reserved": "reserved", "on_demand": "on demand", "spot": "spot"}
KIND_COLOUR = {"owned": "#6b6b6b", "reserved": "#1f77b4", "on_demand": "#ff7f0e", "spot": "#2ca02c"}
STACK_ORDER = ("owned", "reserved", "on_demand", "spot")   # committed capacity at the bottom
LOAD_COLOUR = "#222222"
STATIC_COLOUR = "#d62728"
FIG_SIZE_IN = (12.0, 8.0)
PNG_DPI = 100   # 1200 × 800 px


@dataclass(frozen=True)
class ChartData:
    """The numbers drawn: per period its x, load, cards by kind and cost per hour; the static line."""

    problem: str
    currency: str
    x: tuple[float, ...]                        # hour of the day (24 periods of 1 h) or period index
    x_label: str
    qps: tuple[float, ...]
    cards: dict[str, tuple[int, ...]]           # kind → cards rented per period (all GPU types)
    cost_per_hour: tuple[float, ...]
    static_cards: int                           # cards of the static peak fleet
    static_fleet: str                           # its nodes by GPU type, e.g. "14 h200 nodes"
    static_cost_per_hour: float | None          # None: no static fleet (its line is not drawn)
    cost: float                                 # the horizon's cost
    static_cost: float | None                   # the static peak fleet over the horizon
    static_reason: str | None = None            # why there is none (`HorizonPlan.static_reason`)

    @property
    def saving(self) -> float:
        return (self.static_cost or 0.0) - self.cost

    @property
    def saving_fraction(self) -> float:
        return self.saving / self.static_cost if self.static_cost else 0.0

    def rented(self, i: int) -> int:
        """All cards rented in period i (the sum of its kinds)."""
        return sum(v[i] for v in self.cards.values())


def check_chart_path(path: str) -> None:
    """BadInput naming --chart unless the file name ends .png or .html."""
    check_format_suffix("--chart", path, SUFFIXES, "chart")


def x_axis(h: HorizonPlan) -> tuple[tuple[float, ...], str]:
    """Hour of the day for a day of hourly periods, else the period index."""
    if len(h.periods) == 24 and all(p.hours == 1 for p in h.periods):
        return tuple(float(p.index) for p in h.periods), "hour of the day (period starting at)"
    return tuple(float(p.index) for p in h.periods), f"period ({h.periods[0].hours:g} h each)"


def static_cards(h: HorizonPlan) -> int:
    """Cards of the static peak fleet: its rented and owned nodes × cards per node."""
    node_cards = {k.id: k.node_cards for k in h.kinds}
    return 0 if h.static_peak is None else \
        sum((rn + on) * node_cards[g] for g, (rn, on) in h.static_peak.nodes.items())


def static_fleet(h: HorizonPlan) -> str:
    """The static peak fleet's nodes by GPU type, for its legend entry."""
    used = {} if h.static_peak is None else {g: rn + on for g, (rn, on) in sorted(h.static_peak.nodes.items())
                                             if rn + on}
    return ", ".join(f"{n} {g} node{'s' if n != 1 else ''}" for g, n in used.items()) or "no nodes"


def chart_data(h: HorizonPlan) -> ChartData:
    """The chart's numbers for a horizon plan (pure: no drawing, no I/O)."""
    node_cards = {k.id: k.node_cards for k in h.kinds}
    cards = {kind: tuple(sum(getattr(n, kind) * node_cards[g] for g, n in p.nodes.items()) for p in h.periods)
             for kind in KINDS}
    x, label = x_axis(h)
    return ChartData(problem=h.problem.name, currency=h.problem.pricing.currency, x=x, x_label=label,
                     qps=tuple(p.qps for p in h.periods), cards=cards,
                     cost_per_hour=tuple(p.cost_per_hour for p in h.periods), static_cards=static_cards(h),
                     static_fleet=static_fleet(h),
                     static_cost_per_hour=None if h.static_peak is None else h.static_peak.cost_per_hour,
                     cost=h.cost, static_cost=h.static_cost, static_reason=h.static_reason)


def title(d: ChartData) -> str:
    """Problem name, the horizon's cost and its saving against the static peak fleet (as in the text)."""
    if d.static_cost is None:
        return f"{d.problem}: {money(d.cost, d.currency)} over {len(d.x)} periods; no static peak fleet"
    return (f"{d.problem}: {money(d.cost, d.currency)} over {len(d.x)} periods; static peak fleet "
            f"{money(d.static_cost, d.currency)}, saving {money(d.saving, d.currency)} "
            f"({d.saving_fraction * 100:.1f} %)")


def kinds_drawn(d: ChartData) -> list[str]:
    """The kinds with any cards, in stacking order (an absent kind gets no legend entry)."""
    return [k for k in STACK_ORDER if any(d.cards[k])]


def _figure(d: ChartData):
    """The two-panel matplotlib Figure (object API: no pyplot, no global state)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    fig = Figure(figsize=FIG_SIZE_IN, dpi=PNG_DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    base = [0] * len(d.x)
    for kind in kinds_drawn(d):
        top.bar(d.x, d.cards[kind], bottom=base, width=0.8, color=KIND_COLOUR[kind], label=KIND_LABEL[kind],
                edgecolor="white", linewidth=0.4, zorder=2)
        base = [b + c for b, c in zip(base, d.cards[kind])]
    if d.static_cost_per_hour is not None:
        top.axhline(d.static_cards, color=STATIC_COLOUR, linestyle="--", linewidth=1.6, zorder=3,
                    label=f"static peak fleet: {d.static_cards} cards ({d.static_fleet})")
    top.set_ylabel("cards rented (all GPU types)")
    top.set_ylim(0, max(max(base), d.static_cards) * 1.15)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.grid(True, axis="y", alpha=0.3, zorder=0)
    load = top.twinx()
    load.plot(d.x, d.qps, color=LOAD_COLOUR, marker="o", markersize=3, linewidth=1.6, label="load (req/s)")
    load.set_ylabel("load (requests/s)")
    load.set_ylim(0, max(d.qps) * 1.15)
    handles, labels = top.get_legend_handles_labels()
    h2, l2 = load.get_legend_handles_labels()
    top.legend(handles + h2, labels + l2, loc="upper left", fontsize=9, ncol=3, framealpha=0.9)
    top.set_title(literal(title(d)), fontsize=11)
    bottom.bar(d.x, d.cost_per_hour, width=0.8, color="#9467bd", label="this plan, per period", zorder=2)
    if d.static_cost_per_hour is not None:
        bottom.axhline(d.static_cost_per_hour, color=STATIC_COLOUR, linestyle="--", linewidth=1.6, zorder=3,
                       label=f"static peak fleet ({money(d.static_cost_per_hour, d.currency)}/h)")
    bottom.set_ylabel(f"cost per hour ({d.currency}/h)")
    bottom.set_ylim(0, max(max(d.cost_per_hour), d.static_cost_per_hour or 0.0) * 1.2)
    bottom.grid(True, axis="y", alpha=0.3, zorder=0)
    bottom.legend(loc="upper left", fontsize=9, ncol=2, framealpha=0.9)
    bottom.set_xlabel(d.x_label)
    if len(d.x) <= 24:
        bottom.set_xticks(d.x)
    else:
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=14))
    return fig


def render(d: ChartData, fmt: str) -> bytes:
    """The figure as 'png' or 'svg' bytes; the same plan gives the same bytes (no date, fixed ids)."""
    from planner.report.mpl import import_matplotlib
    matplotlib = import_matplotlib()
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else PNG_METADATA
    with matplotlib.rc_context({"svg.hashsalt": "planner", "svg.fonttype": "path"}):
        _figure(d).savefig(buf, format=fmt, metadata=meta)
    return buf.getvalue()


def _svg_body(svg: bytes) -> str:
    """matplotlib's SVG without its XML prolog, DOCTYPE and RDF metadata (to sit inside a page)."""
    text = svg.decode("utf-8")
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg"):], count=1, flags=re.S)


def period_table(d: ChartData) -> str:
    """The per-period numbers as an HTML table."""
    kinds = kinds_drawn(d)
    head = "".join(f"<th>{h}</th>" for h in ["period", "req/s"] + [f"cards {KIND_LABEL[k]}" for k in kinds]
                   + ["cards rented", f"{d.currency}/h"])
    rows = []
    for i, x in enumerate(d.x):
        cells = [f"{x:g}", f"{d.qps[i]:g}"] + [str(d.cards[k][i]) for k in kinds] \
            + [str(d.rented(i)), f"{d.cost_per_hour[i]:,.2f}"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>"


def render_html(d: ChartData) -> str:
    """A self-contained page (no network): title, the figure as inline SVG, the per-period table."""
    name = html.escape(d.problem)
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>{HTML_GENERATOR_META}"
            f"<title>{name}: horizon plan</title>"
            f"<style>{html_assets.CSS}</style></head><body>\n<h2>{html.escape(title(d))}</h2>\n"
            + (f"<p>Static peak fleet: {d.static_cards} cards ({html.escape(d.static_fleet)}), "
               f"{html.escape(money(d.static_cost_per_hour, d.currency))}/h.</p>\n"
               if d.static_cost_per_hour is not None else
               f"<p>No static peak fleet: {html.escape(d.static_reason or 'none could be sized')}.</p>\n") +
            f"{_svg_body(render(d, 'svg'))}\n{period_table(d)}\n</body></html>\n")


def write_chart(h: HorizonPlan, path: str, protect: tuple[str, ...] = (), force: bool = False) -> None:
    """The chart of `h` written atomically to `path` (.png or .html); never over an input file."""
    check_chart_path(path)
    d = chart_data(h)
    body: bytes | str = render(d, "png") if path.lower().endswith(".png") else render_html(d)
    atomic_write(path, body, protect, force)
