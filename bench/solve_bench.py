"""Time `plan solve` on the example problems: process start to printed plan, and its stages.

Run: .venv/bin/python bench/solve_bench.py   (prints seconds; no assertions — machines are noisy)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAN = str(Path(sys.executable).parent / "plan")


def wall(args: list[str], repeat: int = 5) -> float:
    """Median wall-clock seconds of a command over `repeat` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description="Time `plan solve` on every example problem: process start to "
                                                 "printed plan (median of 5), and its stages in-process.")
    parser.add_argument("--repeat", type=int, default=5, help="runs per problem for the median (default 5)")
    repeat = parser.parse_args().repeat
    print(f"{'problem':32s} {'end-to-end s':>12s} {'candidates s':>12s} {'milp s':>8s} {'verify s':>8s}")
    sys.path.insert(0, str(ROOT))
    from planner.input.load import load_any
    from planner.plan.solve import solve
    for p in sorted((ROOT / "problems").glob("*.yaml")):
        e2e = wall([PLAN, "solve", str(p)], repeat)
        problem = load_any(p)
        over_periods = getattr(getattr(problem, "workload", None), "profile", None) is not None
        if over_periods or getattr(problem, "horizon", False):   # a single problem's or a fleet's load profile
            print(f"{p.name:32s} {e2e:12.3f} {'(a load profile: bench/horizon_bench.py)':>30s}")
            continue
        plan = solve(problem, str(p))
        t = plan.timings
        print(f"{p.name:32s} {e2e:12.3f} {t['candidates_s']:12.3f} {t['solve_s']:8.3f} {t['verify_s']:8.3f}")
    imp = wall([sys.executable, "-c", "import planner.plan.solve"])
    base = wall([sys.executable, "-c", "pass"])
    print(f"import planner.plan.solve: {imp - base:.3f} s over a bare interpreter ({base:.3f} s)")


if __name__ == "__main__":
    main()
