"""Benchmark: simulate 10^5 requests of the plan for problems/deepseek_qps.yaml (and of a
colocated-only variant), timing the simulation alone and `plan simulate` end to end.

    .venv/bin/python bench/simulate_bench.py [--requests 100000] [--repeat 3]

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
    """The example plan and a colocated-only variant at 50 requests/s."""
    sys.path.insert(0, str(ROOT))
    from planner.input.load import load_problem
    from planner.plan.solve import solve
    from planner.report.json import plan_json
    out = {"deepseek_qps": plan_json(solve(load_problem(PROBLEM), str(PROBLEM)))}
    text = PROBLEM.read_text().replace("modes: [disaggregated, colocated]", "modes: [colocated]")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "colocated.yaml"
        p.write_text(text.replace("qps: 200", "qps: 50"))
        out["deepseek_colocated_50qps"] = plan_json(solve(load_problem(p), str(p)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from planner.studies.simulate import plan_from_dict, simulate
    print(f"{'plan':28s} {'requests':>9s} {'simulate s':>10s} {'CLI s':>7s} {'sim seconds':>11s} {'SLO':>6s}")
    for name, data in _plans().items():
        plan = plan_from_dict(data, name)
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = simulate(plan, requests=args.requests, seed=0)
            times.append(time.perf_counter() - t)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(data, f)
        t = time.perf_counter()
        subprocess.run([PLAN, "simulate", f.name, "--requests", str(args.requests)], check=True,
                       capture_output=True)
        cli = time.perf_counter() - t
        Path(f.name).unlink()
        print(f"{name:28s} {args.requests:9d} {statistics.median(times):10.3f} {cli:7.3f} "
              f"{res.simulated_seconds:11.0f} {'met' if res.passed else 'BROKEN':>6s}")


if __name__ == "__main__":
    main()
