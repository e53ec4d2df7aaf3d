"""The axes of `plan sweep`: what `--tpot`, `--ttft` and `--qps` read (a range LOW:HIGH of
`--points` values, or a list), each value in the domain a problem file gives its key, and the axis
a sweep takes without one (studies.sweep runs them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from pydantic import TypeAdapter, ValidationError

from planner.errors import BadInput
from planner.input.problem import SLO, Problem, Workload
from planner.input.units import QuantityOverflow, UnitError, note_bare_limit, parse_quantity
from planner.input.values import MAX_QPS, MAX_SECONDS

AXES = ("tpot", "ttft", "qps")
LATENCY_AXES = ("tpot", "ttft")
MAX_VALUES = 1_000             # values on one axis


@dataclass(frozen=True)
class Axis:
    """One swept quantity and its values, SI units (seconds, requests/s)."""

    name: str
    values: tuple[float, ...]


def _parse_value(name: str, text: str) -> float:
    """'15ms' → 0.015 for the latency axes; '200' → 200.0 requests/s for qps; must be > 0. ASCII
    only, as in a problem file: float() read '１０' (fullwidth) as 10 and '1_000' as 1000."""
    if not text.isascii() or "_" in text:
        hint = 'like "15ms" or "2s"' if name in LATENCY_AXES else "like 200"
        raise BadInput(f"--{name}: cannot read {text!r}; write values {hint} (ASCII digits, no '_')")
    try:
        v = parse_quantity(text, "time") if name in LATENCY_AXES else float(text)
    except QuantityOverflow:   # '1e400s': read, but past the largest float (below, as for '1e400')
        v = math.inf
    except (UnitError, ValueError):
        hint = 'like "15ms" or "2s"' if name in LATENCY_AXES else "like 200"
        raise BadInput(f"--{name}: cannot read {text!r}; write values {hint}") from None
    if not math.isfinite(v):
        raise BadInput(f"--{name}: {text!r} is not a finite number")
    if not v > 0:
        raise BadInput(f"--{name}: {text!r} must be a positive number")
    if name in LATENCY_AXES:   # bare numbers are seconds: `--tpot 20:50`, `--ttft 500` are noted
        note_bare_limit(name, f"--{name}", text)
    try:   # the domain a problem file gives the same key (a range's values lie between its ends)
        _AXIS_DOMAIN[name].validate_python(v)
    except ValidationError as e:
        reason = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise BadInput(f"--{name}: {text!r} is outside the domain of {_AXIS_FIELD[name]}: {reason}") from None
    return v


def _domain(model: type, field: str) -> TypeAdapter:
    """A validator of one field of a problem file's model, with all its constraints."""
    info = model.model_fields[field]
    return TypeAdapter(Annotated[info.annotation, info])


_AXIS_FIELD = {"tpot": "slo.tpot", "ttft": "slo.ttft", "qps": "workload.qps"}
_AXIS_DOMAIN = {"tpot": _domain(SLO, "tpot"), "ttft": _domain(SLO, "ttft"), "qps": _domain(Workload, "qps")}


def parse_axis(name: str, text: str, points: int, spacing: str = "log") -> Axis:
    """'15ms:150ms' → `points` values from 15 to 150 ms (geometric or linear spacing);
    '20ms,50ms,80ms' → those values; '50ms' → one value."""
    if name not in AXES:
        raise BadInput(f"unknown sweep axis {name!r}; choose from {', '.join(AXES)}")
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise BadInput(f"--{name}: {text!r} is not a range; write it like LOW:HIGH")
        lo, hi = (_parse_value(name, p) for p in parts)
        if hi <= lo:
            raise BadInput(f"--{name}: the range {text!r} must rise (LOW < HIGH)")
        if not 2 <= points <= MAX_VALUES:
            raise BadInput(f"--points: a range needs 2 to {MAX_VALUES:,} points, got {points}")
        if len(set(values := _spaced(lo, hi, points, spacing))) < points:   # '1:1.0000000000000004': twice 1
            raise BadInput(f"--{name}: the range {text!r} holds fewer than {points} distinct numbers (a double's "
                           f"precision); widen it or ask fewer --points")
        return Axis(name, tuple(values))
    items = [p.strip() for p in text.split(",")]
    if len(items) > 1 and not all(items):   # '20ms,,50ms' or '20ms,': a value left out
        raise BadInput(f"--{name}: an empty value in {text!r}; separate the values by single commas")
    read = {p: _parse_value(name, p) for p in items if p}   # '30ms,30ms,50ms' swept two limits (a hunt)
    for i, p in enumerate(items):
        if (same := next((q for q in items[:i] if read[q] == read[p]), None)) is not None:
            raise BadInput(f"--{name}: {same!r} " + ("is listed twice" if same == p else f"and {p!r} are one value")
                           + f" in {text!r}; list each value once")
    values = tuple(sorted(read.values()))
    if not values:
        raise BadInput(f"--{name}: no values in {text!r}")
    if len(values) > MAX_VALUES:
        raise BadInput(f"--{name}: {len(values):,} values; at most {MAX_VALUES:,} per axis")
    return Axis(name, values)


def _spaced(lo: float, hi: float, n: int, spacing: str) -> list[float]:
    """n values from lo to hi inclusive: geometric ('log') or arithmetic ('linear')."""
    if spacing == "log":
        r = (hi / lo) ** (1.0 / (n - 1))
        vals = [lo * r**i for i in range(n)]
    else:
        vals = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    vals[-1] = hi
    return vals


def around_limit(problem: Problem, name: str, points: int, spacing: str = "log") -> Axis:
    """The axis a sweep uses when none is given: the problem's own limit (or QPS) from half to
    twice its value, so its plan sits in the middle of the frontier."""
    v = {"tpot": problem.slo.tpot, "ttft": problem.slo.ttft, "qps": problem.workload.qps}[name]
    top = min(v * 2.0, MAX_QPS if name == "qps" else MAX_SECONDS)   # a limit of 1e7 s was swept to 2e7 s
    return Axis(name, tuple(_spaced(v / 2.0, top, points, spacing)) if points > 1 else (v,))
