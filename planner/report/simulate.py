"""Text rendering of a plan simulation (`plan simulate`, `plan solve --simulate`)."""

from __future__ import annotations

from planner.input.units import format_time
from planner.report.text import table
from planner.studies.simulate import SimResult


def render_simulation(res: SimResult) -> str:
    """The simulation beside the plan's analytic values, with SLO breaks flagged."""

    def t(x: float | None) -> str:
        return "-" if x is None else format_time(x)

    slo = res.slo
    out = [f"Simulation of {res.problem}: {res.requests:,} requests ({res.measured_requests:,} measured, "
           f"warm-up and drain left out), seed {res.seed}, "
           f"{res.simulated_seconds:,.0f} s simulated",
           f"SLO: TTFT ≤ {format_time(slo.ttft_s)} ({slo.ttft_statistic}), "
           f"TPOT ≤ {format_time(slo.tpot_s)} ({slo.tpot_statistic})", ""]
    broken = {(v.scope, v.metric) for v in res.violations}
    rows = []
    scopes = [(p.name, p.ttft, p.tpot, p.analytic_ttft_s, p.analytic_tpot_s) for p in res.pools]
    scopes.append(("all requests", res.ttft, res.tpot, None, None))
    scopes += [(f"class {c.name}", c.ttft, c.tpot, None, None) for c in res.classes]
    for name, s_ttft, s_tpot, a_ttft, a_tpot in scopes:
        scope = "all" if name == "all requests" else name
        for metric, s, a in (("TTFT", s_ttft, a_ttft), ("TPOT", s_tpot, a_tpot)):
            if s is None:
                continue
            if res.classes and not scope.startswith("class "):
                flag = "per class"   # shared pools: each class is held to its own SLO below
            else:
                flag = "SLO BROKEN" if (scope, metric.lower()) in broken else "ok"
            rows.append([name, metric, t(a), t(s.mean), t(s.p50), t(s.p90), t(s.p99), flag])
    out.append(table(["pool", "metric", "plan", "mean", "p50", "p90", "p99", "SLO"], rows, "llrrrrrl"))
    rows = []
    for p in res.pools:
        rows.append([p.name, p.role, str(p.instances), f"{p.analytic_utilization:.1%}",
                     "-" if p.utilization is None else f"{p.utilization:.1%}",
                     "-" if p.role == "prefill" else f"{p.analytic_batch:.0f}",
                     "-" if p.batch is None else f"{p.batch:.0f}",
                     t(None if p.queue_wait is None else p.queue_wait.mean)])
    out += ["", table(["pool", "role", "inst", "util plan", "util sim", "batch plan", "batch sim",
                       "queue wait"], rows, "llrrrrrr")]
    out.append("")
    if res.passed:
        out.append("Simulation: every SLO statistic met")
    else:
        out.append("Simulation: SLO BROKEN — " + "; ".join(
            f"{v.scope} {v.metric.upper()} {v.statistic} " + " > ".join(apart(v.value_s, v.limit_s)) + _noise(v)
            for v in res.violations))
        if any(v.within_noise for v in res.violations):
            out.append("  (±: the statistic's standard error in this run, by batch means; a break within two of "
                       "them may be this run's noise: simulate more requests, or other seeds, to settle it)")
    return "\n".join(out)


def _noise(v) -> str:
    """' (± 0.41 s: within noise)' after a violation within two standard errors of its limit;
    ' (noise not estimated: too few requests)' where its scope has too few to tell."""
    if v.stderr_s is None:
        return " (noise not estimated: too few requests)"
    if not v.within_noise:
        return ""
    return f" (± {format_time(v.stderr_s)}: within noise)"


def apart(value_s: float, limit_s: float) -> tuple[str, str]:
    """A value above its limit and the limit as text, with as many decimals as it takes to tell
    them apart (50.02 ms over 50 ms read '50.0 ms > 50.0 ms').

    >>> apart(0.05002, 0.05), apart(0.0612, 0.05)
    (('50.02 ms', '50.00 ms'), ('61.2 ms', '50.0 ms'))
    """
    a, b = format_time(value_s), format_time(limit_s)
    for digits in (2, 3, 4):
        if a != b or not (1e-3 <= limit_s < 1.0 and 1e-3 <= value_s < 1.0):
            break
        a, b = f"{value_s * 1e3:.{digits}f} ms", f"{limit_s * 1e3:.{digits}f} ms"
    return a, b


def slo_warnings(res: SimResult) -> list[str]:
    """One stderr line per SLO statistic the simulation finds above its limit, for a plan the
    analytic model passed (`plan solve --simulate`): the statistic asked for, simulated value, limit."""
    return [f"warning: simulation of {res.problem}: {v.metric.upper()} {v.statistic} "
            f"({'all requests' if v.scope == 'all' else v.scope}) is {value}, above the "
            f"{v.metric.upper()} limit of {limit}" + (
                f", by less than two of its standard errors in this run (± {format_time(v.stderr_s)}): "
                f"more requests or other seeds settle whether the plan meets it" if v.within_noise else
                "; the plan meets it only in the analytic model")
            for v in res.violations for value, limit in [apart(v.value_s, v.limit_s)]]
