"""Plans over a day and a week (issue 18): time of the horizon solve against the targets.

Cases (each one `solve_horizon` in this process, as `plan solve` runs it, candidates included):
  * day: problems/deepseek_day.yaml, 24 hourly periods (target ≤ 10 s on 2 cores);
  * week-repeated: the same day seven times, 168 periods (periods of equal QPS share solves);
  * week-distinct: 168 periods, the day scaled per weekday (Mon–Fri 100 %, Sat 80 %, Sun 65 %)
    so most periods have their own QPS (target ≤ 60 s);
  * day-n+1: problems/deepseek_day_n1.yaml (the day with 5 % of the spot nodes down and N+1 in
    every hour: binaries per candidate and period make each single-period MILP several times
    slower); day-node: the day with serving.redundancy node.
Each row prints periods, distinct QPS values, the method ('commitment': exact decomposition over
reserved/owned counts; 'joint': one MILP), single-period MILPs solved, phase seconds, the cost over
the horizon and the savings against a static peak fleet and independent per-period plans. The
`--process` flag also times `plan solve problems/deepseek_day.yaml` from process start.
No assertions on time: state the machine's load (printed) beside the numbers.
Run: .venv/bin/python -u bench/horizon_bench.py [--case day|week-repeated|week-distinct] [--process]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.input.load import load_problem
from planner.plan.horizon import solve_horizon

WEEKDAY_SCALE = (1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.65)


def _week(problem, scales):
    """The day's profile repeated over seven days, day d scaled by scales[d]."""
    day = problem.workload.profile.qps_fraction
    frac = [round(f * s, 4) for s in scales for f in day]
    prof = problem.workload.profile.model_copy(update={"qps_fraction": frac})
    return problem.model_copy(update={"workload": problem.workload.model_copy(update={"profile": prof})})


def cases() -> dict:
    day = load_problem(ROOT / "problems" / "deepseek_day.yaml")
    return {"day": day, "week-repeated": _week(day, (1.0,) * 7), "week-distinct": _week(day, WEEKDAY_SCALE),
            "day-n+1": load_problem(ROOT / "problems" / "deepseek_day_n1.yaml"), "day-node": _redundant(day, "node")}


def _redundant(problem, redundancy: str):
    """The problem with serving.redundancy set."""
    return problem.model_copy(update={"serving": problem.serving.model_copy(update={"redundancy": redundancy})})


def run(name: str, problem) -> None:
    t0 = time.perf_counter()
    h = solve_horizon(problem, name)
    wall = time.perf_counter() - t0
    distinct = len({round(p.qps, 9) for p in h.periods})
    phases = "  ".join(f"{k} {v:.2f}s" for k, v in h.timings.items())
    static, indep = h.static_cost, h.independent_cost
    print(f"{name:14s} periods {len(h.periods):3d}  distinct QPS {distinct:3d}  {h.method:10s} "
          f"MILPs {h.subproblems:4d}  status {h.status:8s} wall {wall:6.2f} s")
    print(f"{'':14s} {phases}")
    line = f"{'':14s} cost {h.cost:,.2f}  static peak {static:,.2f} (saving {1 - h.cost / static:.1%})"
    if indep:
        line += f"  independent {indep:,.2f} (saving {1 - h.cost / indep:.1%})"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["day", "week-repeated", "week-distinct", "day-n+1", "day-node"], default=None)
    ap.add_argument("--process", action="store_true", help="also time plan solve from process start")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name, problem in cases().items():
        if a.case in (None, name):
            run(name, problem)
    if a.process:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "solve", "problems/deepseek_day.yaml"],
                       cwd=ROOT, check=True, capture_output=True)
        print(f"plan solve problems/deepseek_day.yaml from process start: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
