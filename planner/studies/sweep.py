"""`plan sweep`: the price of latency, by the epsilon-constraint method.

Glossary: an *axis* is a swept value — an SLO limit (`tpot`, `ttft`, seconds) or the load
(`qps`, requests/s); a *grid point* is one combination of axis values; a *curve* is the fleet
allowed — `all` (every GPU type of the problem: the optimum) or one GPU id; a *row* is one
(curve, grid point) solve. The MILP is re-solved at each limit (the epsilon constraint is the
SLO itself, applied when candidates are generated); non-dominated rows form the frontier.

One grid point is one task: its curves share the analytic model's numbers, and points handled
by the same process share them too (memoised in `candidates`). Tasks run in a local process
pool or on a Dask cluster; rows are ordered by (curve, grid point) whatever finishes first, and
carry no wall-clock time, so every executor gives identical results.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from planner.catalog.schemas import gpu_key
from planner.errors import BadInput, Infeasible, Interrupted, VerificationFailed
from planner.input.problem import Problem
from planner.input.units import format_time
from planner.plan.candidates import CandidateSet
from planner.plan.resolve import resolve
from planner.plan.solve import solve
from planner.plan.verify import PoolState
from planner.studies.axes import AXES, LATENCY_AXES, MAX_VALUES, Axis, around_limit, parse_axis  # noqa: F401
from planner.studies.execute import run_dask, run_local

ALL = "all"                    # the curve that may use every GPU type of the problem
ROLE_LETTER = {"prefill": "P", "decode": "D", "colocated": "C"}
MAX_SOLVES = 10_000            # grid points × curves in one sweep: about a day of solves at worst


def grid(axes: Sequence[Axis]) -> list[dict[str, float]]:
    """Every combination of axis values, first axis slowest."""
    return [dict(zip((a.name for a in axes), combo)) for combo in
            itertools.product(*(a.values for a in axes))]


def problem_at(problem: Problem, point: dict[str, float], curve: str = ALL) -> Problem:
    """A copy of the problem with the point's limits and load; a single-GPU curve keeps only that GPU.
    With a load profile of fractions the qps axis is workload.qps; with one in requests/s (written,
    or read from a trace) it is the busiest period's requests/s, the others keeping their ratios
    to it (it was their ratio to workload.qps, which such a profile does not use: a point of 1
    req/s planned 0.01 beside an unused `qps: 50`)."""
    slo = problem.slo.model_copy(update={k: v for k, v in point.items() if k in LATENCY_AXES})
    update: dict = {"qps": point["qps"]} if "qps" in point else {}
    prof = problem.workload.profile
    if "qps" in point and prof is not None and prof.qps is not None and max(prof.qps) > 0:
        factor = point["qps"] / max(prof.qps)
        update["profile"] = prof.model_copy(update={"qps": [q * factor for q in prof.qps]})
    workload = problem.workload.model_copy(update=update)
    gpus = problem.gpus if curve == ALL else [g for g in problem.gpus if gpu_key(g.id) == curve]
    return problem.model_copy(update={"slo": slo, "workload": workload, "gpus": gpus})


# ------------------------------------------------------------------------------------ rows
@dataclass(frozen=True)
class Row:
    """One solve of the sweep: limits, outcome, achieved latency and price of the verified plan."""

    curve: str
    point: int                     # index into the grid
    tpot_limit_s: float
    ttft_limit_s: float
    qps: float
    status: str                    # optimal, feasible, infeasible, verification_failed
    tpot_s: float | None = None    # worst pool of the verified plan
    ttft_s: float | None = None
    cost_per_hour: float | None = None
    cost_per_million_output_tokens: float | None = None
    cost_per_million_tokens: float | None = None
    pools: str = ""                # e.g. "P 3×8 H800 | D 12×8 H20"
    fleet: str = ""                # GPU types per role, e.g. "P H800 | D H20"
    plan: str = ""                 # pools with parallelism and batch, for tooltips
    reason: str = ""               # why infeasible / not verified
    on_frontier: bool = False

    @property
    def solved(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def interactivity(self) -> float | None:
        """Tokens/s one user sees while decoding: 1 / TPOT."""
        return 1.0 / self.tpot_s if self.tpot_s else None

    def limits(self) -> str:
        """'TPOT ≤ 50 ms, TTFT ≤ 2 s, 200 req/s'."""
        return (f"TPOT ≤ {format_time(self.tpot_limit_s)}, TTFT ≤ {format_time(self.ttft_limit_s)}, "
                f"{self.qps:g} req/s")

    def summary(self) -> str:
        """One line for progress output: limits → price and pools, or why not."""
        if not self.solved:
            return f"{self.limits()}: {self.status}"
        return f"{self.limits()}: {self.cost_per_million_output_tokens:,.3f}/M out  {self.pools}"


def pool_summary(pools: Iterable[PoolState], detail: bool = False) -> str:
    """'P 3×8 H800 | D 12×8 H20': role letter, instances × cards per instance, GPU; with `detail`
    the parallelism and the design batch too ('C 1×16 L40S TP8·PP2 b40 | C 2×16 L40S TP8·PP2 b60':
    merged under the last pool's batch, three instances read b60, a hunt)."""
    merged: dict[tuple, int] = {}
    for p in pools:   # with detail, pools of one shape at other design batches stay apart
        c = p.candidate
        key = (list(ROLE_LETTER).index(c.role), c.gpu, c.cards, c.par.label() if detail else "",
               c.batch if detail and c.role != "prefill" else None)
        merged[key] = merged.get(key, 0) + p.instances
    parts = []
    for key in sorted(merged, key=lambda k: (*k[:4], k[4] or 0)):
        role, gpu, cards, label, batch = key
        s = f"{list(ROLE_LETTER.values())[role]} {merged[key]}×{cards} {gpu.upper()}"
        parts.append(s + (f" {label}" + (f" b{batch}" if batch is not None else "") if detail else ""))
    return " | ".join(parts)


def fleet_summary(pools: Iterable[PoolState]) -> str:
    """'P H100+H200 | D H20': which GPU types serve each role (plan changes worth a label)."""
    roles: dict[str, set[str]] = {}
    for p in pools:
        roles.setdefault(p.candidate.role, set()).add(p.candidate.gpu.upper())
    return " | ".join(f"{ROLE_LETTER[r]} {'+'.join(sorted(roles[r]))}" for r in ROLE_LETTER if r in roles)


def worst_latency(pools: Iterable[PoolState], which: str) -> float | None:
    """The slowest pool's TTFT ('ttft': prefill and colocated pools, and decode pools that make the
    first token: a decode-only plan's TTFT was missing) or TPOT ('tpot': decode and colocated
    pools), or None when no pool has one."""
    skip = "decode" if which == "ttft" else "prefill"
    vals = [v for p in pools if (v := getattr(p, f"{which}_s")) > 0 or p.candidate.role != skip]
    return max(vals) if vals else None


def restrict(cs: CandidateSet, gpu: str) -> CandidateSet:
    """The candidates of one GPU type: what `generate` gives for the problem with only that GPU
    (it treats GPU types independently; `shapes`, which nothing downstream reads, is left 0)."""
    return CandidateSet(tuple(c for c in cs.candidates if c.gpu == gpu),
                        tuple(r for r in cs.rejected if r.gpu == gpu), 0)


def solve_row(problem: Problem, source: str, point: dict[str, float], index: int, curve: str,
              candidates: CandidateSet | None = None) -> Row:
    """Solve one (curve, grid point); an infeasible or unverified point is a row, not an error.
    A load profile is planned over its horizon (without the comparisons): cost per hour is the
    horizon's mean, the latencies the worst pool of any period, the pools those of the busiest."""
    p = problem_at(problem, point, curve)
    base = dict(curve=curve, point=index, tpot_limit_s=p.slo.tpot, ttft_limit_s=p.slo.ttft, qps=p.workload.rate)
    try:
        if p.workload.profile is not None:
            from planner.plan.horizon import solve_horizon
            h = solve_horizon(p, source, compare=False)
            every = [st for per in h.periods for st in per.pools]
            return _solved_row(base, h.status, every, max(h.periods, key=lambda per: per.qps).pools,
                               h.cost / h.hours, h.cost_per_million_output_tokens, h.cost_per_million_tokens)
        plan = solve(p, source, candidates=candidates)
    except Infeasible as e:
        return Row(**base, status="infeasible", reason=str(e))
    except VerificationFailed as e:
        return Row(**base, status="verification_failed", reason=str(e))
    pools = plan.verification.pools
    return _solved_row(base, plan.status, pools, pools, plan.cost_per_hour, plan.cost_per_million_output_tokens,
                       plan.cost_per_million_tokens)


def _solved_row(base: dict, status: str, pools, shown, cost_per_hour: float, per_m_out: float,
                per_m: float) -> Row:
    """The row of a verified plan: latencies the worst of `pools`, the summary of `shown`."""
    return Row(**base, status=status, tpot_s=worst_latency(pools, "tpot"), ttft_s=worst_latency(pools, "ttft"),
               cost_per_hour=cost_per_hour, cost_per_million_output_tokens=per_m_out,
               cost_per_million_tokens=per_m, pools=pool_summary(shown), fleet=fleet_summary(pools),
               plan=pool_summary(shown, detail=True))


def solve_point(task: tuple[Problem, str, dict[str, float], int, tuple[str, ...]]) -> list[Row]:
    """Worker: every curve at one grid point, candidates generated once for all of them
    (top-level so that process pools and Dask can pickle it); a load profile plans each curve
    over its horizon (candidates per length group, inside solve_horizon)."""
    from planner.plan.candidates import generate
    problem, source, point, index, curves = task
    if problem.workload.profile is not None:
        return [solve_row(problem, source, point, index, c) for c in curves]
    cs = generate(resolve(problem_at(problem, point), source))
    return faster_of_equal_cost([solve_row(problem, source, point, index, c, cs if c == ALL else restrict(cs, c))
                                 for c in curves], point)


def faster_of_equal_cost(rows: list[Row], point: dict[str, float]) -> list[Row]:
    """The point's rows, the optimum's replaced by a single-GPU curve's plan of the same cost that
    reaches a shorter latency (the swept one first, then TPOT, then TTFT). That plan is among the
    optimum's candidates and costs what it does, so it is an optimum too; HiGHS returns one of
    equal-cost plans without regard to latency, and the chart then drew the optimum above a
    single-GPU curve at the same price (a first-hour walkthrough: 6.75 RMB/M at 28.2 ms where H100
    alone reached 20 ms)."""
    i = next((k for k, r in enumerate(rows) if r.curve == ALL), None)
    if i is None or not rows[i].solved:
        return rows
    a = rows[i]
    order = [ax for ax in point if ax in LATENCY_AXES] + [ax for ax in LATENCY_AXES if ax not in point]

    def key(r: Row) -> tuple[float, ...]:
        return tuple(_achieved(r, ax) for ax in order)
    best = min((r for r in rows if r.solved and _cost_key(r) == _cost_key(a)), key=key)
    if key(best) < key(a):
        rows = [*rows[:i], replace(best, curve=ALL, status=a.status), *rows[i + 1:]]
    return rows


# -------------------------------------------------------------------------------- frontier
COST_TOLERANCE = 1e-6  # relative; solver round-off between equal-cost fleets is far below it


def _cost_key(r: Row) -> float:
    """Cost per hour rounded to COST_TOLERANCE, so equal fleets compare equal."""
    c = r.cost_per_hour
    return 0.0 if c == 0 else round(c, -int(math.floor(math.log10(abs(c) * COST_TOLERANCE))))


def dominates(a: Row, b: Row, axes: Sequence[str]) -> bool:
    """a is at least as cheap and as fast as b on every latency axis, and better in one."""
    pairs = [(_cost_key(a), _cost_key(b))] + [(_achieved(a, x), _achieved(b, x)) for x in axes]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def _achieved(r: Row, axis: str) -> float:
    """The achieved latency on `axis`, to LATENCY_DIGITS significant digits: one plan sized at two
    limits achieves the same TPOT up to the last bits of a float (6e-17 s apart), which decided
    which of its rows was on the frontier instead of the first."""
    v = r.tpot_s if axis == "tpot" else r.ttft_s
    if v is None:   # no pool has one (every answer its first token; every prompt cached): none to wait
        return 0.0
    return v if v == 0 or not math.isfinite(v) else round(v, LATENCY_DIGITS - 1 - int(math.floor(math.log10(abs(v)))))


LATENCY_DIGITS = 9


def frontier(rows: Sequence[Row], axes: Sequence[str]) -> set[int]:
    """Indices (into rows) of solved rows no other row dominates; of identical plans the first."""
    solved = [(i, r) for i, r in enumerate(rows) if r.solved]
    keep = set()
    seen: set[tuple] = set()
    for i, r in solved:
        if any(dominates(o, r, axes) for _, o in solved):
            continue
        sig = (_cost_key(r), *(_achieved(r, x) for x in axes))
        if sig not in seen:
            seen.add(sig)
            keep.add(i)
    return keep


def mark_frontier(rows: Sequence[Row], axes: Sequence[Axis]) -> list[Row]:
    """New rows with `on_frontier` set, per curve and per load (qps is a condition, not a goal)."""
    lat = [a.name for a in axes if a.name in LATENCY_AXES]
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.curve, r.qps), []).append(i)
    on: set[int] = set()
    for idx in groups.values():
        on |= {idx[j] for j in frontier([rows[i] for i in idx], lat)}
    return [replace(r, on_frontier=i in on) for i, r in enumerate(rows)]


# ---------------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class Sweep:
    """A finished sweep: the axes, the curves and every row, ordered by (curve, grid point)."""

    problem: str
    source: str
    currency: str
    axes: tuple[Axis, ...]
    curves: tuple[str, ...]
    rows: tuple[Row, ...]
    target: tuple[tuple[str, float], ...] = ()   # the problem's own tpot/ttft (s) and qps, marked on charts
    horizon_hours: float | None = None           # a load profile's horizon (rows are its plans); None: one QPS

    def curve(self, name: str) -> list[Row]:
        return [r for r in self.rows if r.curve == name]


def problem_at_peak(problem: Problem) -> Problem:
    """A problem with a load profile as a single QPS at its busiest period (for checking it)."""
    wl = problem.workload.model_copy(update={"qps": max(problem.workload.period_qps()), "profile": None, "trace": None})
    return problem.model_copy(update={"workload": wl})


def curves_of(problem: Problem, per_gpu: bool) -> tuple[str, ...]:
    """'all', then each GPU type alone when there is more than one."""
    singles = [gpu_key(g.id) for g in problem.gpus] if per_gpu and len(problem.gpus) > 1 else []   # candidates' ids
    return (ALL, *singles)


def run_sweep(problem: Problem, source: str, axes: Sequence[Axis], *, per_gpu: bool = True,
              workers: int | None = None, dask: str | None = None,
              on_point: Callable[[list[Row]], None] | None = None) -> Sweep:
    """Solve every grid point on every curve (in parallel), mark the frontier, return the Sweep;
    `on_point` is called with each grid point's rows as it finishes (progress, streaming)."""
    names = [a.name for a in axes]
    if len(set(names)) != len(names) or not axes:
        raise BadInput("sweep: give each of --tpot, --ttft, --qps at most once, and at least one")
    # bad catalog references fail here, once, as BadInput
    resolve(problem if problem.workload.profile is None else problem_at_peak(problem), source)
    curves = curves_of(problem, per_gpu)
    n_points = math.prod(len(a.values) for a in axes)
    if n_points * len(curves) > MAX_SOLVES:
        raise BadInput(f"sweep: {n_points:,} grid points × {len(curves)} curve(s) = {n_points * len(curves):,} "
                       f"solves; at most {MAX_SOLVES:,} (fewer --points or values, or --no-per-gpu)")
    tasks = [(problem, source, pt, i, curves) for i, pt in enumerate(grid(axes))]
    done: list[Row] = []

    def collect(rows: list[Row]) -> None:
        done.extend(rows)
        if on_point:
            on_point(rows)

    def finished() -> Sweep:
        order = {c: k for k, c in enumerate(curves)}
        rows = sorted(done, key=lambda r: (order[r.curve], r.point))
        target = (("tpot", problem.slo.tpot), ("ttft", problem.slo.ttft), ("qps", problem.workload.rate))
        prof = problem.workload.profile
        hours = None if prof is None else prof.period / 3600.0 * len(problem.workload.period_qps())
        return Sweep(problem.name, source, problem.pricing.currency, tuple(axes), curves,
                     tuple(mark_frontier(rows, axes)), target, hours)

    try:
        if dask:
            run_dask(solve_point, dask, tasks, collect)
        else:
            run_local(solve_point, tasks, collect, workers)
    except KeyboardInterrupt:
        points = len({r.point for r in done})
        raise Interrupted(f"interrupted: {points} of {len(tasks)} grid points had finished",
                          partial=finished()) from None
    return finished()


def nothing_solved(sweep: Sweep) -> str | None:
    """Why no point of the optimum's curve (every curve's, without one) has a plan, each distinct
    reason once; None when one has."""
    rows = [r for r in sweep.rows if r.curve == "all"] or list(sweep.rows)
    if not rows or any(r.solved for r in rows):
        return None
    reasons = list(dict.fromkeys(r.reason.splitlines()[0] for r in rows if r.reason))
    return (f"sweep: none of its {len(rows)} points has a plan"
            + (": " + "; ".join(reasons[:3]) + ("; …" if len(reasons) > 3 else "") if reasons else ""))
