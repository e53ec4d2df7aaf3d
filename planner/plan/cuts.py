"""Plans that fail verification on a colocated pool's routed mix, and how the solve goes on without them.

A colocated candidate's TPOT holds at its design mix of prompts and decodes; the MILP may route it
another mix (`colocated_over_tpot`). The solve then goes on the lazy-constraint way, in two steps:

1. **Exact**: the failing plan itself (its pools and instance counts) is excluded by a no-good cut
   (`add_no_goods`) and the MILP solved again, up to NO_GOOD_RETRIES times. Only plans that failed
   are removed, so the first plan that passes is the cheapest the verification accepts: the
   solver's status and gap stand.
2. **Heuristic**, when that budget is spent: the failing candidates are removed (`kept_by_cut`),
   up to CUT_RETRIES times. A removed candidate is not infeasible, only its routed mix was, so the
   re-solve's optimum is over the candidates left, not over the problem; the plan says so
   (`Plan.cuts`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

import pulp

from planner.plan import milp
from planner.plan.candidates import Candidate
from planner.plan.diagnose import PERIOD_CHECK
from planner.plan.verify import Verification

# A failing plan as instance counts by (service key, candidate).
Point = dict[tuple[str, Candidate], int]

# exact exclusions before candidates are removed: a re-solve of a single problem takes tens of
# milliseconds; on Llama-3.1-8B at 240 req/s on H100 (docs/optimisation.md, "What the cut gives
# up") the first plan of one node fails and the second, of one node too, passes
NO_GOOD_RETRIES = 12

# re-solves without colocated candidates whose routed mix broke TPOT. A colocated pool routed below
# its design load can read a higher percentile TPOT (short answers see more chunk steps), so over an
# output-length mixture each cut's plan may fail on the next shape: three problems of a hunt ended
# in exit 4 after 4 cuts and found verified plans within 8 (docs/model.md, "What is left out")
CUT_RETRIES = 8


def kept_by_cut(v: Verification, broken: set[Candidate]):
    """A predicate: whether a candidate survives the lazy cut of `broken` (`colocated_over_tpot`).
    With a failing colocated candidate go its siblings of other chunk sizes (the same shape and
    batch, which the same routing breaks the same way: one re-solve, not one per sibling), or, when
    a TTFT is among the failures (a pool whose chunk queue ran past its design), its own chunk size
    only. Used by the single solve and by plans over periods."""
    key = (lambda c: c) if any(ch.name.startswith("ttft[") for ch in v.failed) else _shape
    cut = {key(c) for c in broken}
    return lambda c: key(c) not in cut


def none_left_after_cut(gone: list[str], broken: set[Candidate]) -> str:
    """Why no plan is left once the cut took a role's last candidates."""
    return (f"no candidate can {' or '.join(gone)}: the only ones that could "
            f"({', '.join(sorted({c.name for c in broken}))}) break their TPOT at the mix a plan routes them")


def none_left_after_no_goods(n: int) -> str:
    """Why no plan is left once the failing plans were excluded: the MILP has none but them."""
    return (f"every plan within the limits breaks a colocated pool's TPOT at the mix it routes it "
            f"({n} plan{'s' if n > 1 else ''} tried and excluded); allow other GPU types or serving "
            f"modes, or relax the TPOT limit")


def _shape(c: Candidate) -> tuple:
    """A colocated candidate's shape and design batch, whatever its chunk (`colocated_over_tpot`)."""
    return c.role, c.gpu, c.par, c.batch, c.spec


def colocated_over_tpot(v: Verification) -> set[Candidate]:
    """The colocated candidates of a plan that fails verification only on the TPOT (or the share of
    steps carrying a chunk, `utilization`) of colocated pools, else nothing. A colocated
    candidate's TPOT holds at its design mix of prompts and decodes; the MILP may route it another
    mix, which the candidate cannot know: requests other instances prefilled
    (`verify.imported_tpot_s`; two colocated MTP shapes at 3-token answers: one decoded 45 %
    imported requests at 53.5 ms against the 50 ms limit), or fewer prompts than its design, so
    that steps no longer all carry a chunk and decodes pile up behind bursts of them
    (`colocated.burst_batch`; in the fleet benchmark a DeepSeek-R1 GB200 TP1·DP8 instance designed
    at 24.4k prompt tokens/s and 50.0 ms, routed 20k: 52.5 ms). The solve is run again without
    them, the lazy-constraint way: the MILP then finds the cheapest plan among the rest. A TTFT
    that fails with them is the same pool's chunk queue run past its design (a hunt: Llama-3.1-8B
    at 1,000 req/s on H100 and H200, a colocated H100 pool at 96.7 % of its steps carrying a chunk
    and 2.85 s TTFT against 2 s, the plan exit 4). A colocated pool whose TTFT alone fails is cut
    too, its own chunk size only (`kept_by_cut`): the mix it was routed is not its design's either (a
    hunt: gpt-oss-20b at 5,000 req/s with a p90 TTFT at 90 % confidence, 166 TP1 batch-1
    instances prefilling for decode pools, 207 ms against 200, exit 4 until 2026-12-05). A colocated
    pool's memory that fails is its routed mix too: the candidate's memory holds at its design batch,
    and the verified batch (Little's law at the routed load) grows past it where the routed mix slows
    the steps (a hunt: Llama-3.1-8B at 315 req/s on MI300X, colocated only, a TP1 b389 pool at
    173.5 GB against 172.8, exit 4 while a plan of the same 294.24 RMB/h verifies)."""
    failed = [c.name for c in v.failed]
    if not failed or not all(n.startswith(("tpot[", "utilization[", "ttft[", "memory[")) for n in failed):
        return set()
    bad: set[Candidate] = set()
    for name in failed:   # a fleet's check names carry the service before the pool's name
        sts = [st for st in v.pools if name.endswith(f"{st.name}]") and st.candidate.role == "colocated"]
        if not sts:
            return set()
        bad |= {st.candidate for st in sts}
    return bad


def points_of(chosen: dict[str, dict[Candidate, int]], v: Verification) -> list[Point]:
    """The failing services' instance counts, each a point to exclude (`add_no_goods`). A service's
    pools are routed its own requests only, so its TPOT at the routed mix is its selection's alone:
    a fleet excludes the failing service's selection, whatever the other services run (a fleet's
    check names carry the service: 'tpot[chat/colocated[…]]', a TTFT also the class before it,
    'ttft[rag:chat+rag/colocated[…]]'; a single problem's service is '')."""
    failed = [c.name for c in v.failed]
    keys = [k for k in chosen if not k or any(f"[{k}/" in name or f":{k}/" in name for name in failed)]
    return [{(k, c): n for c, n in chosen[k].items() if n > 0} for k in keys]


def add_no_goods(m: milp.Model, points: Sequence[Point]) -> None:
    """The MILP without the failing selections `points` (`exclude`), each over its service's counts."""
    if not points:
        return
    xs: dict[str, dict[Hashable, pulp.LpVariable]] = {}
    for i, c in enumerate(m.candidates):
        key = m.services[m.service_of[i]].key
        xs.setdefault(key, {})[(key, c)] = m.x[i]
    for k, point in enumerate(points):
        services = {key for key, _ in point}
        if len(services) == 1 and (key := services.pop()) in xs:
            exclude(m.prob, xs[key], [point], f"_{k}")


def exclude(prob: pulp.LpProblem, xs: dict[Hashable, pulp.LpVariable], points: Sequence[dict[Hashable, int]],
            tag: str) -> None:
    """Exclude each failing plan P = {c: n_c} of the instance counts `xs` and nothing else: some count
    must differ,

        Σ_{c ∈ P} (lo_c + hi_c) + Σ_{c ∉ P} x_c ≥ 1,
        x_c ≤ n_c − 1 + (ub_c − n_c + 1)·(1 − lo_c),   x_c ≥ (n_c + 1)·hi_c,   lo_c, hi_c ∈ {0, 1}

    (lo_c: fewer instances of c, hi_c: more; x_c of other candidates are whole numbers, so their sum
    is ≥ 1 exactly when one is used). A point with a candidate the model does not offer is skipped:
    no plan of the model is that one. Rows are named 'no_good…' and kept out of a Model's `rows`: no
    limit of the problem, they are never reported as binding. `tag` keeps names unique (a period)."""
    for k, point in enumerate(points):
        if not all(key in xs for key in point):
            continue
        flips = []
        for j, (key, n) in enumerate(point.items()):
            x = xs[key]
            ub = int(x.upBound)
            if n > 0:
                lo = pulp.LpVariable(f"nogood{tag}_lo_{k}_{j}", cat="Binary")
                prob += x <= n - 1 + (ub - n + 1) * (1 - lo), f"no_good{tag}_lo_{k}_{j}"
                flips.append(lo)
            if n < ub:
                hi = pulp.LpVariable(f"nogood{tag}_hi_{k}_{j}", cat="Binary")
                prob += x >= (n + 1) * hi, f"no_good{tag}_hi_{k}_{j}"
                flips.append(hi)
        others = [x for key, x in xs.items() if key not in point]
        prob += pulp.lpSum(flips) + pulp.lpSum(others) >= 1, f"no_good{tag}_{k}"


def failing_periods(v: Verification) -> set[int]:
    """The periods of a plan over periods with a failed check ('tpot[p6/colocated[…]]')."""
    return {int(m.group(2)) for c in v.failed if (m := PERIOD_CHECK.fullmatch(c.name))}


def period_points(v: Verification, selection: list[dict[Candidate, int]]) -> dict[int, tuple]:
    """The plans of a single problem's failing periods (`failing_periods`), to exclude (`with_excluded`)."""
    return {p: (tuple((("", c), n) for c, n in selection[p].items() if n > 0),) for p in failing_periods(v)}


def load_points(v: Verification, counts: list[dict[int, int]], cands: Sequence[Candidate], periods: tuple,
                sets: Sequence[Sequence[int]]) -> dict[int, tuple]:
    """The plans of a fleet's failing periods, one per failing class (load: its pools are routed its
    own requests only; check names 'tpot[p3/chat/colocated[…]]'), its instances by candidate index of
    its group (`sets`), to exclude (`with_excluded`)."""
    failed = [c.name for c in v.failed]
    return {p: tuple(tuple(((ld.key, cands[i]), n) for i in sets[ld.group] if (n := counts[p].get(i, 0)) > 0)
                     for ld in periods[p].all_loads() if any(f"p{p}/{ld.key}/" in name for name in failed))
            for p in failing_periods(v)}


def excluded_count(rounds: Sequence[dict[int, tuple]]) -> int:
    """Period plans excluded over the rounds of `period_points` or `load_points`."""
    return sum(len([pt for pt in pts if pt]) for r in rounds for pts in r.values())


def with_excluded(periods: tuple, points: dict[int, tuple]) -> tuple:
    """The horizon's periods (`horizon_milp.Period`), each failing one with its failing plans `points[p]`
    (each of ((load key, candidate), instances) pairs) added to those its rows exclude (`exclude`). A
    period's TPOT at its routed mix is its own pools' alone, so the cut is exact per period."""
    return tuple(replace(per, excluded=per.excluded + tuple(pt for pt in points.get(per.index, ()) if pt))
                 for per in periods)
