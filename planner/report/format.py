"""The formatting every command shares, with no planner imports: deterministic JSON
and plain fixed-width tables. Commands that print catalogs or schemas use it without importing the solver."""

from __future__ import annotations

import json
import math
from typing import Any

# digits a number keeps in JSON and CSV: sums of a float's few terms carry noise in the 16th–17th
# (a cost of 8·12·12.15 read back from the solver printed 1166.3999999999962); twelve keep every
# figure the planner computes (its inputs have at most a handful) and drop that noise
SIGNIFICANT_DIGITS = 12


def to_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, floats to SIGNIFICANT_DIGITS, NaN/inf as null, trailing newline."""
    return json.dumps(json_safe(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rounded(x: float) -> float:
    """`x` to SIGNIFICANT_DIGITS significant digits, as the shortest float that prints them.

    >>> rounded(1166.3999999999962), rounded(0.1 + 0.2), rounded(2.5e-7), rounded(123456789.0123456)
    (1166.4, 0.3, 2.5e-07, 123456789.012)
    """
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def json_safe(x: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None and round finite floats (`rounded`), recursively."""
    if isinstance(x, float):
        return rounded(x) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP "CSV injection"):
# `=HYPERLINK(…)` in a scenario name would run when the CSV is opened in Excel or LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: object) -> object:
    """A CSV cell as written: text that a spreadsheet would read as a formula gets a leading
    apostrophe (shown as text, never evaluated); floats are `rounded`; None and other text are unchanged.

    >>> csv_cell("=1+1"), csv_cell("@SUM(A1)"), csv_cell(-1.5), csv_cell("h200:8")
    ("'=1+1", "'@SUM(A1)", -1.5, 'h200:8')
    """
    if isinstance(v, float):
        return rounded(v) if math.isfinite(v) else v
    return "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v


def csv_text(header: tuple[str, ...], rows) -> str:
    """CSV of `header` and `rows` (iterables of cells), every cell through `csv_cell`, '\\n' lines."""
    import csv  # here, not at import: every command imports this module, few write a CSV
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([csv_cell(v) for v in r])
    return buf.getvalue()


def table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A plain fixed-width table; `align` is a string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def parts_text(parts: dict[str, str]) -> str:
    """', bf16 attention, fp8 dense mlp': the dense parts stored apart from the weights, as the plan
    and the model listing print them after the weights' precision ('' when there are none)."""
    return "".join(f", {v} {k.replace('_', ' ')}" for k, v in parts.items())


def fewest_decimals(values: list[float], base: int) -> int:
    """Decimals, `base` or up to six more, that write every distinct value apart (the sweep page's
    limits of 30.001 and 30.002 ms both read 30.0)."""
    distinct = set(values)
    return next((d for d in range(base, base + 7) if len({f"{v:.{d}f}" for v in distinct}) == len(distinct)),
                base + 6)


def per_million(x: float) -> str:
    """A cost or price per million tokens, as every table and line prints it: '2.623',
    '41,666,666.667' (three decimals, thousands grouped like `money`); from a billion on, four
    significant digits and a power of ten (`qps: 1e-15` cost '270,000,000,000,000,000.000' per
    million output tokens, an 18-digit number no one reads; the JSON keeps the float).

    >>> [per_million(v) for v in (2.6234, 41666666.6667, 2.7e17, -1.5e12)]
    ['2.623', '41,666,666.667', '2.700e+17', '-1.500e+12']
    """
    return f"{x:.3e}" if abs(x) >= 1e9 else f"{x:,.3f}"


def rate(x: float) -> str:
    """A request rate as the tables print it: two decimals at most, trailing zeros dropped ('87.65',
    '120', '0.5'; a trace's hour printed '87.6456'), three significant digits below 1 ('0.00123').

    >>> [rate(v) for v in (87.6456, 193.808, 120.0, 0.5, 0.001234, 12345.0)]
    ['87.65', '193.81', '120', '0.5', '0.00123', '12,345']
    """
    if abs(x) < 1:
        return f"{x:.3g}"
    text = f"{x:,.2f}"
    return text.rstrip("0").rstrip(".")


def money(x: float | None, cur: str) -> str:
    """'1,888.56 RMB', or 'n/a' for a missing value."""
    return "n/a" if x is None else f"{x:,.2f} {cur}"


def excluded_text(solver: dict[str, Any], what: str = "plan") -> str:
    """', 2 plans excluded that failed verification' (the plans the MILP found first whose colocated
    pools broke their TPOT at the mix routed them, `planner.plan.cuts`), or nothing.

    >>> excluded_text({"verification_cuts": {"plans_excluded": 1, "candidate_cuts": 0}})
    ', 1 plan excluded that failed verification'
    """
    n = (solver.get("verification_cuts") or {}).get("plans_excluded", 0)
    return f", {n} {what}{'s' if n > 1 else ''} excluded that failed verification" if n else ""


def status_text(d: dict[str, Any]) -> str:
    """'OPTIMAL', or 'FEASIBLE, NOT PROVEN OPTIMAL (gap 2.86 %)' for a plan the solver stopped on
    (the gap as a percentage, 'unknown' where the solver reports none), or 'OPTIMAL OVER THE
    CANDIDATES LEFT AFTER 2 VERIFICATION CUTS' (`planner.plan.cuts`: not proven over the problem).

    >>> status_text({"status": "optimal", "solver": {"verification_cuts": {"candidate_cuts": 1}}})
    'OPTIMAL OVER THE CANDIDATES LEFT AFTER 1 VERIFICATION CUT'
    >>> status_text({"status": "feasible_time_limit", "solver": {"gap": 0.0286}})
    'FEASIBLE, NOT PROVEN OPTIMAL (gap 2.86 %)'
    """
    cut = (d["solver"].get("verification_cuts") or {}).get("candidate_cuts", 0)
    if d["status"] == "optimal":   # after candidate cuts the optimum is over the candidates left
        return f"OPTIMAL OVER THE CANDIDATES LEFT AFTER {cut} VERIFICATION CUT{'S' if cut > 1 else ''}" if cut \
            else "OPTIMAL"
    gap = d["solver"]["gap"]
    return f"FEASIBLE, NOT PROVEN OPTIMAL (gap {'unknown' if gap is None else f'{gap * 100:.2f} %'})"


def distinct_numbers(values: list[float]) -> dict[float, str]:
    """Each value in 6 significant digits ('%g'), more where that writes two values alike (loads
    of 5, 5.0000005 and 5.000001 req/s all read '5')."""
    distinct = sorted(set(values))
    for digits in range(6, 18):
        labels = {v: f"{v:.{digits}g}" for v in distinct}
        if len(set(labels.values())) == len(distinct):
            return labels
    return {v: repr(v) for v in distinct}
