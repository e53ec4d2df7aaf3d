"""Benchmark of the colocated step model against the simulator: one colocated instance of a few
workloads, loaded to a grid of shares of time in chunk steps, its planned TPOT (verification's
`pool_state`) beside the simulated one.

    .venv/bin/python bench/colocated_bench.py [--requests 40000] [--loads 0.2,0.4,0.6,0.8]

Why: a plan's colocated TPOT rests on the share of chunk steps a decoding request sees
(`physics.colocated.chunk_share_seen`); with the queue's busy runs taken as geometric it was up
to 38 % optimistic at a high share of time in long chunk steps, with the residual busy run
(shipped 2026-12-03) within 15 % over this grid (docs/model.md, "The chunk steps a decoding
request sees, at high load"). This prints the error over loads and workloads in one command, the
check any change to that term must pass. No assertions (the simulator is seeded; the machine's
speed does not matter here).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

from one_instance import arguments, grid, problem_file, simulate_pools

from planner.input.load import load_any
from planner.plan import verify
from planner.plan.solve import solve
from planner.report.json import plan_json

# (label, model, weights, gpu, tp, prompt tokens, output tokens): short and long prompts, short and
# long outputs, a dense model on one small card and on two large ones
WORKLOADS = [
    ("8B H20 1k/400", "llama-3.1-8b", "bf16", "h20", 1, 1000, 400),
    ("8B H20 6k/400", "llama-3.1-8b", "bf16", "h20", 1, 6000, 400),
    ("8B H20 500/20", "llama-3.1-8b", "bf16", "h20", 1, 500, 20),
    ("70B H100 TP2 1.6k/400", "llama-3.1-70b", "fp8", "h100", 2, 1600, 400),
]
PROBLEM = partial(problem_file, name="colocated-bench", mode="colocated")   # one colocated instance per workload


def one(path: Path, load: float, requests: int) -> tuple[float, float, float, float, float] | None:
    """(planned chunk-time share, simulated, planned TPOT, simulated TPOT, simulated batch) of the
    plan's first colocated candidate at `load` × its raw prompt capacity; None where that load
    holds more sequences than the instance has slots (its planned TTFT is unbounded)."""
    plan = solve(load_any(path), str(path))
    d = plan_json(plan)
    c = next(c for c in plan.chosen if c.role == "colocated")   # a single plan's candidates → instances
    res = plan.resolved
    s_unc, s_out = res.uncached_mean, res.output_mean
    pre = load * c.prefill_raw_tok_s
    st = verify.pool_state(res, c, 1, pre, pre * s_out / s_unc)
    if not math.isfinite(st.ttft_s) or not math.isfinite(st.tpot_s):
        return None
    sim = simulate_pools(d, [st], pre / s_unc, requests).pools[0]
    return st.utilization, sim.utilization, st.tpot_s, sim.tpot.mean, sim.batch


def main() -> None:
    loads, requests = arguments(__doc__, "0.2,0.4,0.6,0.8", 40_000, "shares of the raw prompt capacity")
    print(f"{'workload':24s} {'load':>5s} {'chunk time plan':>15s} {'sim':>6s} {'TPOT plan':>10s} "
          f"{'sim':>9s} {'error':>7s} {'batch sim':>9s}")
    for label, path, load in grid(WORKLOADS, PROBLEM, loads):
        row = one(path, load, requests)
        if row is None:
            print(f"{label:24s} {load:5.2f}  beyond the instance's batch slots: no steady state")
            continue
        u, u_sim, t, t_sim, b_sim = row
        print(f"{label:24s} {load:5.2f} {u:15.1%} {u_sim:6.1%} {t * 1e3:8.1f} ms {t_sim * 1e3:6.1f} ms "
              f"{t / t_sim - 1:+7.1%} {b_sim:9.1f}", flush=True)


if __name__ == "__main__":
    main()
