"""Benchmark: a 50-point TPOT sweep of problems/deepseek_qps.yaml (optimum plus each GPU type
alone, 250 solves), serial then on a local process pool, in the same run.

    .venv/bin/python bench/sweep_bench.py [--points 50] [--workers N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from planner.input.load import load_problem
from planner.plan import candidates
from planner.studies.execute import default_workers
from planner.studies.sweep import parse_axis, run_sweep

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "deepseek_qps.yaml"


def timed(fn):
    """(result, wall-clock seconds) of fn()."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=50)
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()
    problem = load_problem(PROBLEM)
    axes = [parse_axis("tpot", "15ms:150ms", args.points)]
    candidates.clear_memo()  # a cold start, as a fresh `plan sweep` process sees it
    serial, t_serial = timed(lambda: run_sweep(problem, str(PROBLEM), axes, workers=1))
    candidates.clear_memo()  # the pool forks this process: no warm memo inherited either
    parallel, t_par = timed(lambda: run_sweep(problem, str(PROBLEM), axes, workers=args.workers))
    assert serial.rows == parallel.rows, "parallel rows differ from serial rows"
    n = len(serial.rows)
    print(f"{args.points}-point TPOT sweep, {len(serial.curves)} curves, {n} solves")
    print(f"serial            {t_serial:6.2f} s  ({t_serial / n * 1e3:.0f} ms per solve)")
    print(f"{args.workers} workers         {t_par:6.2f} s  speed-up {t_serial / t_par:.2f}x")


if __name__ == "__main__":
    main()
