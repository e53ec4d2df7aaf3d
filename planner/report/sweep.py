"""Render a sweep: the terminal table, frontier.csv, frontier.json (the JSON contract) and, through
`planner.report.plots`, frontier.png and frontier.html."""

from __future__ import annotations

from planner.input.files import check_set, write_set
from planner.input.units import format_time
from planner.report import frontier_html, plots
from planner.report.format import csv_text, distinct_numbers, per_million
from planner.report.json import sweep_json, to_json
from planner.report.text import table
from planner.studies.sweep import ALL, Sweep

CSV_COLUMNS = ("curve", "point", "tpot_limit_s", "ttft_limit_s", "qps", "status", "tpot_s",
               "interactivity_tokens_per_s_per_user", "ttft_s", "cost_per_hour",
               "cost_per_million_output_tokens", "cost_per_million_tokens", "pools", "fleet", "on_frontier",
               "reason")


def to_csv(sweep: Sweep) -> str:
    """One line per row; empty cells where a value does not exist (infeasible points); floats as the
    JSON writes them (`csv_text` rounds every cell, `format.rounded`)."""
    rows = sweep_json(sweep)["rows"]
    return csv_text(CSV_COLUMNS, (["" if d[c] is None else d[c] for c in CSV_COLUMNS] for d in rows))


def render_table(sweep: Sweep) -> str:
    """The optimum at each grid point with its pools, and each GPU type's price alongside."""
    swept = [a.name for a in sweep.axes]
    singles = [c for c in sweep.curves if c != ALL]
    by = {(r.curve, r.point): r for r in sweep.rows}
    # a latency is a limit; QPS is the load swept, not a limit (a first-hour walkthrough read it as one)
    headers = [f"{n} limit" if n != "qps" else "load req/s" for n in swept]
    headers += ["TPOT", "TTFT", f"{sweep.currency}/M out"]
    headers += [f"{g} only" for g in singles] + ["frontier", "pools (optimum)"]
    rows = []
    labels = {n: distinct_times([getattr(r, f"{n}_limit_s") for r in sweep.curve(ALL)]) for n in swept if n != "qps"}
    loads = distinct_numbers([r.qps for r in sweep.curve(ALL)]) if "qps" in swept else {}
    for r in sweep.curve(ALL):
        cells = [loads[r.qps] if n == "qps" else labels[n][getattr(r, f"{n}_limit_s")] for n in swept]
        if r.solved:
            cells += [format_time(r.tpot_s) if r.tpot_s is not None else "-",   # None: no pool decodes (prefills)
                      format_time(r.ttft_s) if r.ttft_s is not None else "-",
                      per_million(r.cost_per_million_output_tokens)]
        else:
            cells += ["-", "-", r.status]
        for g in singles:
            o = by[(g, r.point)]
            cells.append(per_million(o.cost_per_million_output_tokens) if o.solved else "-")
        cells += ["*" if r.on_frontier else "", r.pools]
        rows.append(cells)
    align = "r" * (len(headers) - 1) + "l"
    return table(headers, rows, align)


def distinct_times(values: list[float]) -> dict[float, str]:
    """Each value as format_time writes it, with more decimals where that writes two values alike
    (limits of 30.001, 30.002 and 30.0031 ms all read '30.0 ms')."""
    distinct = sorted(set(values))
    for extra in range(7):
        labels = {v: format_time(v, extra) for v in distinct}
        if len(set(labels.values())) == len(distinct):
            return labels
    return {v: f"{v!r} s" for v in distinct}


OUTPUT_FILES = ("frontier.csv", "frontier.json", "frontier.png", "frontier.html")
# what frontier.json will be, for the check before the solves (files.check_set's `new`)
OUTPUT_KINDS = {"frontier.json": '{"schema_version": 0, "curves": [], "rows": []}'}


def write_outputs(sweep: Sweep, out_dir: str, inputs: tuple[str, ...] = (),
                  force: bool = False) -> tuple[list[str], list[tuple[str, Exception]]]:
    """Write the four frontier files into out_dir (created if missing) as one set: never the
    new CSV beside the old chart. A chart that cannot be drawn (a bug, or out of memory) does not
    take the solves with it: the other files are written, an older file of its name is removed,
    and (name, exception) is returned among the failures for the caller to report. Returns the
    paths written and the failures."""
    contents: dict[str, str | bytes] = {"frontier.csv": to_csv(sweep), "frontier.json": to_json(sweep_json(sweep))}
    failed: list[tuple[str, Exception]] = []
    for name, render in (("frontier.png", plots.render_png), ("frontier.html", frontier_html.render_html)):
        try:
            contents[name] = render(sweep)
        except Exception as e:  # noqa: BLE001 - reported by the caller; KeyboardInterrupt is not an Exception
            failed.append((name, e))
    paths = write_set(out_dir, contents, protect=inputs, force=force)
    for name, _ in failed:   # the check before the solves allowed replacing it; it must not stay beside new points
        (check_set(out_dir, (name,), inputs, force) / name).unlink(missing_ok=True)
    return paths, failed
