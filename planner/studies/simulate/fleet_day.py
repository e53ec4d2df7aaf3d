"""Which (period, class) runs `plan simulate` makes of a fleet over a day (`fleet.simulate_services`).

The file holds each class's lengths at its own busiest period (the static peak plan's service) and
only the means of the others: a class is simulated where its lengths are the file's. At 'peak', the
fleet's busiest period, a class with a trace has other lengths, and was refused there, so `plan
solve --simulate` threw the solved plan away with exit 2 (a hostile-input hunt, 2026-12-07): it is
now simulated in its own busiest period."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from planner.errors import BadInput, PlannerNotice

PeriodPlans = Callable[..., list[tuple[str, dict[str, Any]]]]   # fleet.fleet_period_plans (passed in: no cycle)


def class_peaks(d: dict[str, Any]) -> dict[str, int]:
    """Each class's busiest period (the first of equal ones)."""
    best: dict[str, tuple[float, int]] = {}
    for i, per in enumerate(d["periods"]):
        for c in per.get("classes") or [] if isinstance(per, dict) else []:
            q = c.get("qps") if isinstance(c, dict) else None
            if isinstance(q, (int, float)) and q > best.get(c.get("name"), (0.0, -1))[0]:
                best[c["name"]] = (q, i)
    return {k: i for k, (_, i) in best.items()}


def fleet_day_runs(d: dict[str, Any], indices: list[int], period: str, source: str,
                   plans_of: PeriodPlans) -> list[tuple[int, str, dict[str, Any]]]:
    """(period, class, the class's plan then) to simulate: every class with traffic in the periods
    `indices` (of --period `period`) whose lengths there are the file's, the others named on stderr;
    at 'peak' (the fleet's busiest period) a class of other lengths there is simulated in its own
    busiest period instead. BadInput when nothing is left. `plans_of`: `fleet.fleet_period_plans`."""
    skipped: list[str] = []
    runs = []
    for i in indices:
        left: list[str] = []
        runs += [(i, k, p) for k, p in plans_of(d, i, source, skipped=left)]
        if period.strip().lower() == "peak":
            peaks = class_peaks(d)
            for k in left:   # its own busiest period, where the file holds its lengths
                own: list[str] = []
                runs += [(peaks[k], k2, p) for k2, p in plans_of(d, peaks[k], source, skipped=own)
                         if k2 == k]
                skipped += [f"{k} in period {peaks[k]}"] if k in own else []
        else:
            skipped += [f"{k} in period {i}" for k in left]
    listed = f"{', '.join(skipped[:6])}{' …' if len(skipped) > 6 else ''}"
    if skipped and not runs:
        raise BadInput(f"{source}: {listed}: lengths of their own, whose distributions are not in the plan file: "
                       f"nothing left to simulate")
    if skipped:
        warnings.warn(f"{source}: {listed}: lengths of their own, whose distributions are not in the plan file: "
                      f"not simulated", PlannerNotice, stacklevel=3)
    return runs
