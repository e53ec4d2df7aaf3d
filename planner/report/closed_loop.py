"""`plan validate --simulate`: every measured closed-loop benchmark point run event by event
(`studies.simulate.closed`) beside the analytic closed-loop model the fit uses
(`physics.benchmark`), both under the profile that predicts the point, and the measurement.

It checks the mean-value approximation of the analytic TTFT and TPOT (does the loop the model
describes behave as the formula says?) and shows which of the two is nearer the measurements.
Errors are |a/b − 1| as fractions here and percentages in the text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from planner.catalog.schemas import load_gpus, load_models
from planner.fidelity.measurements import benchmark, deployment
from planner.fidelity.validate import Validation
from planner.physics.benchmark import tpot as analytic_tpot
from planner.physics.benchmark import ttft as analytic_ttft
from planner.studies.simulate.closed import MAX_REQUESTS, simulate_benchmark

# clients (lo, hi]: a Little's-law count or a rate run's measured concurrency is no whole number
# (4.875 fell between bands 1–4 and 5–64, so the bands' counts did not add up to all)
CONCURRENCY_BANDS = ((0, 4), (4, 64), (64, 512), (512, math.inf))


@dataclass(frozen=True)
class Case:
    """One measured point: measured, analytic and simulated TTFT and TPOT (seconds)."""

    point_id: str
    engine: str
    mode: str
    clients: float
    measured_ttft_s: float
    analytic_ttft_s: float
    simulated_ttft_s: float
    measured_tpot_s: float | None
    analytic_tpot_s: float
    simulated_tpot_s: float | None


@dataclass(frozen=True)
class Line:
    """Medians of |x/y − 1| over a group of cases."""

    label: str
    n: int
    ttft_sim_vs_analytic: float
    ttft_analytic_vs_measured: float
    ttft_sim_vs_measured: float
    tpot_sim_vs_analytic: float
    tpot_analytic_vs_measured: float
    tpot_sim_vs_measured: float


@dataclass(frozen=True)
class ClosedLoopCheck:
    cases: list[Case]
    skipped: int           # points with more requests than the simulator runs
    seconds: float

    def lines(self) -> list[Line]:
        """All, per engine, per concurrency band."""
        groups: list[tuple[str, list[Case]]] = [("all", self.cases)]
        groups += [(e, [c for c in self.cases if c.engine == e]) for e in sorted({c.engine for c in self.cases})]
        groups += [(band_label(lo, hi), [c for c in self.cases if lo < c.clients <= hi])
                   for lo, hi in CONCURRENCY_BANDS]
        return [_line(label, cs) for label, cs in groups if cs]


def band_label(lo: float, hi: float) -> str:
    """`c ≤ 4`, `4 < c ≤ 64`, …, `c > 512`: the clients of a band (lo, hi]."""
    return f"c ≤ {hi:g}" if lo == 0 else f"c > {lo:g}" if hi == math.inf else f"{lo:g} < c ≤ {hi:g}"


def _med(a: list[float | None], b: list[float | None]) -> float:
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and y > 0]
    return float(np.median([abs(x / y - 1.0) for x, y in pairs])) if pairs else float("nan")


def _line(label: str, cs: list[Case]) -> Line:
    def col(name: str) -> list:
        return [getattr(c, name) for c in cs]
    return Line(label, len(cs),
                _med(col("simulated_ttft_s"), col("analytic_ttft_s")),
                _med(col("analytic_ttft_s"), col("measured_ttft_s")),
                _med(col("simulated_ttft_s"), col("measured_ttft_s")),
                _med(col("simulated_tpot_s"), col("analytic_tpot_s")),
                _med(col("analytic_tpot_s"), col("measured_tpot_s")),
                _med(col("simulated_tpot_s"), col("measured_tpot_s")))


def closed_loop_check(v: Validation) -> ClosedLoopCheck:
    """Simulate every agg/disagg point of `v` that measured a TTFT, under its own profile."""
    assert v.calib_of is not None
    t0 = time.perf_counter()
    models, gpus = load_models(), load_gpus()
    cases, skipped = [], 0
    for r in v.rows:
        p = r.point
        if r.quantity != "ttft_s" or p.mode not in ("agg", "disagg"):
            continue
        cal = v.calib_of(p)
        dep = deployment(p, cal, models, gpus)
        pd = deployment(p, cal, models, gpus, p.prefill_par) if p.prefill_par is not None else dep
        bm = benchmark(p)
        try:
            sim = simulate_benchmark(bm, dep, pd)
        except ValueError:   # more than MAX_REQUESTS requests
            skipped += 1
            continue
        cases.append(Case(p.id, p.engine, p.mode, bm.total_clients, r.measured, analytic_ttft(bm, dep, pd),
                          sim.ttft.mean, p.tpot_s, analytic_tpot(bm, dep),
                          sim.tpot.mean if sim.tpot else None))
    return ClosedLoopCheck(cases, skipped, time.perf_counter() - t0)


def render_text(c: ClosedLoopCheck) -> str:
    """The medians table, with what each column compares."""
    out = ["", f"closed-loop check (plan validate --simulate): {len(c.cases)} benchmark points simulated "
           f"event by event in {c.seconds:.1f} s"
           + (f"; {c.skipped} skipped (more than {MAX_REQUESTS:,} requests)" if c.skipped else ""),
           "median |a/b − 1|: sim = the event simulation, model = the analytic closed-loop formula, "
           "meas = measured",
           f"{'group':12s} {'n':>5s}  {'TTFT sim/model':>14s} {'model/meas':>10s} {'sim/meas':>9s}"
           f"  {'TPOT sim/model':>14s} {'model/meas':>10s} {'sim/meas':>9s}"]
    for ln in c.lines():
        out.append(f"{ln.label:12s} {ln.n:5d}  {_pct(ln.ttft_sim_vs_analytic):>14s} "
                   f"{_pct(ln.ttft_analytic_vs_measured):>10s} {_pct(ln.ttft_sim_vs_measured):>9s}  "
                   f"{_pct(ln.tpot_sim_vs_analytic):>14s} {_pct(ln.tpot_analytic_vs_measured):>10s} "
                   f"{_pct(ln.tpot_sim_vs_measured):>9s}")
    return "\n".join(out)


def as_dict(c: ClosedLoopCheck, timings: bool = False) -> dict:
    """JSON: the medians per group and every case (key `closed_loop` of plan validate --json); the
    wall-clock seconds only with `timings` (else null: the same JSON run after run)."""
    return {"seconds": c.seconds if timings else None, "skipped": c.skipped,
            "summary": [ln.__dict__ for ln in c.lines()],
            "points": [cs.__dict__ for cs in c.cases]}


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}%"
