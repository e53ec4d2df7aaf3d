"""Benchmark: simulate 10^5 requests of the plan for problems/deepseek_qps.yaml (and of two
colocated-only variants, at 50 and at 0.5 requests/s), timing the simulation alone and `plan
simulate` end to end.

    .venv/bin/python bench/simulate_bench.py [--requests 100000] [--repeat 3] [--compare]

`--compare` also times each simulation with the plain decode steps run through the event loop
(`engine._plain_steps` off, as before 2026-12-05), in the same run, and prints the ratio.
Prints seconds; no assertions (machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = ROOT / "problems" / "deepseek_qps.yaml"
PLAN = str(Path(sys.executable).parent / "plan")


def _plans() -> dict[str, dict]:
    """The example plan and colocated-only variants at 50 and 0.5 requests/s (the last one a lone
    instance at 5 % load: most of its steps are plain decode steps)."""
    sys.path.insert(0, str(ROOT))
    from planner.input.load import load_problem
    from planner.plan.solve import solve
    from planner.report.json import plan_json
    out = {"deepseek_qps": plan_json(solve(load_problem(PROBLEM), str(PROBLEM)))}
    text = PROBLEM.read_text().replace("modes: [disaggregated, colocated]", "modes: [colocated]")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "colocated.yaml"
        for qps in ("50", "0.5"):
            p.write_text(text.replace("qps: 200", f"qps: {qps}"))
            out[f"deepseek_colocated_{qps}qps"] = plan_json(solve(load_problem(p), str(p)))
    return out


def _timed(plan, requests: int, repeat: int):
    """(median seconds, last result) of `repeat` simulations."""
    from planner.studies.simulate import simulate
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = simulate(plan, requests=requests, seed=0)
        times.append(time.perf_counter() - t)
    return statistics.median(times), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", action="store_true", help="also time the steps through the event loop alone")
    args = ap.parse_args()
    from planner.studies.simulate import engine, plan_from_dict
    print(f"{'plan':28s} {'requests':>9s} {'simulate s':>10s} {'CLI s':>7s} {'sim seconds':>11s} {'SLO':>6s}"
          + (f" {'loop only s':>11s} {'ratio':>6s}" if args.compare else ""))
    for name, data in _plans().items():
        plan = plan_from_dict(data, name)
        seconds, res = _timed(plan, args.requests, args.repeat)
        slow = ""
        if args.compare:
            fast = engine._plain_steps
            engine._plain_steps = lambda *a: None
            try:
                loop_s, loop_res = _timed(plan, args.requests, args.repeat)
            finally:
                engine._plain_steps = fast
            assert loop_res.as_dict() == res.as_dict(), "the plain-step path changed the simulation"
            slow = f" {loop_s:11.3f} {loop_s / seconds:6.2f}"
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(data, f)
        t = time.perf_counter()
        subprocess.run([PLAN, "simulate", f.name, "--requests", str(args.requests)], check=True,
                       capture_output=True)
        cli = time.perf_counter() - t
        Path(f.name).unlink()
        print(f"{name:28s} {args.requests:9d} {seconds:10.3f} {cli:7.3f} "
              f"{res.simulated_seconds:11.0f} {'met' if res.passed else 'BROKEN':>6s}{slow}")


if __name__ == "__main__":
    main()
