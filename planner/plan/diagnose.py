"""Why a problem has no plan: the limit no candidate meets, or the caps that bind.

Infeasible (exit 3) always carries the reason and the best value reachable: the fastest
candidate's TPOT/TTFT, the smallest memory overflow, or the largest fraction of the demand the
caps allow (found by re-solving the same model with the served fraction as a variable).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from planner.errors import Infeasible, VerificationFailed
from planner.input.problem import SolverOptions
from planner.plan import milp
from planner.plan.candidates import Candidate, CandidateSet
from planner.plan.lp import pulp
from planner.plan.resolve import Resolved
from planner.plan.verify import Verification

# rows whose relaxation may serve more
CAP_FAMILIES = ("availability", "power_cap", "budget_cap", "gpu_types_cap", "pool_shapes_cap")


def missing_roles(cands: tuple[Candidate, ...] | list[Candidate], prefill_needed: bool = True,
                  decode_needed: bool = True) -> list[str]:
    """'prefill' / 'decode' when no candidate can provide that capacity (prefill only when there is
    some to do: a wholly cached workload has no prompt tokens to prefill; decode only when some
    answer is longer than its first token)."""
    out = []
    if prefill_needed and not any(c.prefill_tok_s > 0 for c in cands):
        out.append("prefill")
    if decode_needed and not any(c.decode_tok_s > 0 for c in cands):
        out.append("decode")
    return out


def explain_no_candidates(res: Resolved, cs: CandidateSet, roles: list[str] | None = None) -> str:
    """Which limit no candidate meets, and the best value any candidate reaches."""
    lines = []
    roles = roles or ["prefill", "decode"]
    rej = cs.rejected
    if rej and all(r.reason == "memory" for r in rej):
        best = min(rej, key=lambda r: r.value - r.limit)
        return (f"the model does not fit: the best shape ({best.gpu} {best.par.label()}) needs "
                f"{best.value/1e9:.1f} GB per card of {best.limit/1e9:.1f} GB usable "
                f"(overflow {(best.value-best.limit)/1e9:.1f} GB); allow more cards per instance "
                f"(serving.parallelism.max_cards_per_instance) or a lower weight precision")
    tp = [r for r in rej if r.reason == "tpot"]
    if "decode" in roles and tp:
        best = min(tp, key=lambda r: r.value)
        lines.append(f"TPOT {res.problem.slo.tpot*1e3:g} ms unreachable: the fastest candidate reaches "
                     f"{best.value*1e3:.1f} ms ({best.par.cards}x{best.gpu} {best.par.label()}, batch 1"
                     + (f"; {best.detail}" if best.slots else "") + ")")
    tt = [r for r in rej if r.reason == "ttft"]
    if "prefill" in roles and tt:
        best = min(tt, key=lambda r: r.value)
        lines.append(f"TTFT {res.problem.slo.ttft:g} s unreachable: the fastest candidate reaches "
                     f"{best.value:.3f} s ({best.par.cards}x{best.gpu} {best.par.label()}, one prompt alone)")
    bud = [r for r in rej if r.reason == "budget"]
    if "prefill" in roles and bud:
        lines.append(f"serving.max_prefill_tokens_per_pass ({bud[0].limit:,.0f} tokens) is below the longest "
                     f"uncached prompt ({bud[0].value:,.0f}): a prefill instance takes whole prompts; raise it, "
                     f"or serve colocated (serving.modes), whose engines split a prompt into chunks")
    if not lines:
        lines.append("no candidate meets the limits (" + ", ".join(roles) + ")")
    return "; ".join(lines)


def _served_fraction(m: milp.Model, alpha: pulp.LpVariable, opts: SolverOptions, name: str,
                     verbose: bool) -> float:
    """Largest fraction of demand the model can serve (0 when even that fails)."""
    rep = milp.solve(m, name, opts.time_limit, opts.mip_gap, verbose)
    ok = rep.status in (milp.SolverStatus.optimal, milp.SolverStatus.feasible_time_limit)
    return (alpha.varValue or 0.0) if ok else 0.0


def binding_caps(m: milp.Model, alpha: pulp.LpVariable, opts: SolverOptions, name: str,
                 verbose: bool) -> tuple[float, list[str]]:
    """On a model whose demand rows ask for the fraction `alpha`: the largest fraction the caps
    allow, and the caps that bind (relaxing one alone serves more). Solved with the problem's
    own time limit and gap."""
    m.prob.sense = pulp.LpMaximize
    m.prob.setObjective(alpha)
    frac = _served_fraction(m, alpha, opts, name, verbose)
    binding = []
    for row_name in m.rows_of(CAP_FAMILIES):
        c = m.rows[row_name]
        saved = c.constant
        c.constant = -1e15
        if _served_fraction(m, alpha, opts, name, verbose) > frac + 1e-6:
            binding.append(row_name)
        c.constant = saved
    if m.rows_of(("redundancy",)) and _relaxed_serves_more(m, ("redundancy",), alpha, opts, name, verbose, frac):
        binding.append(f"serving.redundancy {m_redundancy(m)}")
    return frac, binding


def m_redundancy(m: milp.Model) -> str:
    """How the redundancy rows read in a diagnosis: which unit's loss they survive."""
    return ("node (capacity must survive the loss of any one node with every instance on it)"
            if m.redundancy == "node" else
            "n_plus_1 (capacity must survive the loss of the largest instance of each role)")


def _relaxed_serves_more(m: milp.Model, families: tuple[str, ...], alpha: pulp.LpVariable,
                         opts: SolverOptions, name: str, verbose: bool, frac: float) -> bool:
    """Whether dropping every (≥) row of these families together serves more than `frac`."""
    rows = [m.rows[n] for n in m.rows_of(families)]
    saved = [c.constant for c in rows]
    for c in rows:
        c.constant = 1e15   # expr + constant ≥ 0: always met
    more = _served_fraction(m, alpha, opts, name, verbose) > frac + 1e-6
    for c, k in zip(rows, saved):
        c.constant = k
    return more


def explain_caps(build: Callable[[pulp.LpVariable], milp.Model], opts: SolverOptions, name: str,
                 verbose: bool, what_is_served: Callable[[float], str]) -> str:
    """Caps or budget make the demand impossible: the largest fraction they allow, and which
    limit binds. `build(alpha)` builds the model with demand rows asking for the fraction alpha."""
    alpha = pulp.LpVariable("served_fraction", lowBound=0, upBound=1)
    m = build(alpha)
    frac, binding = binding_caps(m, alpha, opts, name, verbose)
    caps = m.rows_of(CAP_FAMILIES)
    if not caps:   # 'the caps together' was said of a problem without any (a hunt): the plan's own bound
        return (f"the {milp.MAX_INSTANCES:,} instances of one shape a plan may hold (no cap is set): "
                f"{what_is_served(frac)}; lower the load")
    # no cap binds alone when each of several would hold the demand back by itself: name them all
    what = (", ".join(binding) if binding else
            f"the caps together ({', '.join(caps)}: relaxing any one alone serves no more)")
    return f"{what}: {what_is_served(frac)}"


def power_cap_note(cap_w: float | None, gpus, text: str) -> str:
    """Where the power cap binds (`text` names it): that it counts every card of a node the plan
    rents or owns (a 1 kW cap refused a one-card plan on an 8-card H100 node, 5.6 kW, and read as
    if one card's 0.7 kW fit), and the least any listed node (`gpus`: GpuOptions) draws."""
    if cap_w is None or "power_cap" not in text:
        return ""
    least = min(gpus, key=lambda o: o.gpu.node_cards * o.gpu.power_w)
    kw = least.gpu.node_cards * least.gpu.power_w / 1e3
    return (f"; the power cap counts the board power of every card of each node the plan rents or owns, "
            f"used or not: the least any listed node draws is {kw:g} kW ({least.gpu.node_cards} × "
            f"{least.gpu.power_w:g} W, {least.gpu.id})")


def floor_text(x: float, digits: int = 4) -> str:
    """x in `digits` significant digits, rounded down: a fraction served below the target must not
    print as the target ('at most 100.0 % … (192.6 of 192.6 requests/s)' said of an infeasible
    problem; a hunt)."""
    if not math.isfinite(x) or x <= 0:
        return f"{x:.{digits}g}"
    scale = 10 ** (digits - 1 - math.floor(math.log10(x)))
    return f"{math.floor(x * scale * (1 + 1e-12)) / scale:.{digits}g}"


def floor_percent(fraction: float) -> str:
    """A fraction as a percent with one decimal, rounded down (as `floor_text`)."""
    return f"{math.floor(fraction * 1000 * (1 + 1e-12)) / 10:.1f}"


def raise_unless_verified(v: Verification, what: str) -> None:
    """VerificationFailed (exit 4) naming every failed check, value against limit; checks of a plan
    over periods that fail alike in several periods once, with the periods (`failed_text`)."""
    if not v.passed:
        raise VerificationFailed(f"{what} fails verification: " + failed_text(v.failed), v.failed)


# the name of a check of one period of a plan over periods: 'p6/availability_period[h100]',
# 'tpot[p6/colocated[…]]' (groups: what precedes the period, its index, the rest)
PERIOD_CHECK = re.compile(r"(\w*\[?)p(\d+)/(.*)")


def failed_text(failed) -> str:
    """'name = value unit vs limit L' per failed check, joined by '; '. A plan over periods names
    its checks 'p7/…': those that differ only in the period, with the same value and limit as
    printed, are said once with their periods ('in periods 0–23'; a flat day's failing pool was
    listed 24 times over 3,000 characters)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for c in failed:
        m = PERIOD_CHECK.fullmatch(c.name)
        rest = f"{m.group(1)}{m.group(3)}" if m else c.name
        digits = next((k for k in range(4, 13) if f"{c.value:.{k}g}" != f"{c.limit:.{k}g}"), 4)   # not '2 vs 2'
        said = f"{rest} = {c.value:.{digits}g} {c.unit} vs limit {c.limit:.{digits}g}"
        groups.setdefault((said, "p" if m else ""), []).append(int(m.group(2)) if m else -1)
    return "; ".join(f"{said} in period{'s' if len(ps) > 1 else ''} {_ranges(ps)}" if kind else said
                     for (said, kind), ps in groups.items())


def _ranges(ps: list[int]) -> str:
    """'0–3, 7, 9–10' for [0, 1, 2, 3, 7, 9, 10]."""
    out, start = [], None
    ps = sorted(set(ps))
    for i, p in enumerate(ps):
        start = p if start is None else start
        if i + 1 == len(ps) or ps[i + 1] != p + 1:
            out.append(f"{start}" if start == p else f"{start}–{p}")
            start = None
    return ", ".join(out)


def raise_unless_solved(report: milp.SolverReport, source: str, time_limit: float,
                        explain: Callable[[], str]) -> None:
    """Infeasible (exit 3) unless the solver returned a plan: why (explain() names the binding
    caps), or that the time limit or the solver itself stopped it."""
    if report.status in (milp.SolverStatus.infeasible, milp.SolverStatus.unbounded):
        raise Infeasible(f"{source}: " + explain())
    if report.status == milp.SolverStatus.no_solution_time_limit:
        raise Infeasible(f"{source}: the solver found no plan within the time limit of "
                         f"{time_limit:g} s; raise solver.time_limit (or --time-limit, which overrides it)")
    if report.status == milp.SolverStatus.error:
        other = "cbc" if report.name == "highs" else "highs"
        raise Infeasible(f"{source}: the {report.name} solver failed; try --solver {other}")
