"""Benchmark of the prefill queue against the simulator: one disaggregated prefill instance of a
few workloads (fixed prompt lengths and two-length mixes), loaded to a grid of shares of its raw
capacity, its planned mean TTFT and busy share (verification's `pool_state`) beside the
simulated ones.

    .venv/bin/python bench/prefill_bench.py [--requests 20000] [--loads 0.3,0.5,0.7,0.9]

Why: a plan's prefill pools rest on the batching queue (`physics.prefill_queue`) fed with passes
the performance model computes; prompts of unequal length change both the pass (attention is
quadratic in each prompt's own length, `perf.prefill_pass(length_cv2=…)`) and the queue (the
length term of `prefill_queue.length_spread`). Until 2026-12-03 the pass of a mix was the pass of
its mean prompt and a Llama-70B service of 800- and 6,000-token prompts was planned at 927 ms
mean TTFT against 1.27 s simulated (docs/model.md). This prints the error over loads and
workloads in one command, the check any change to those terms must pass. No assertions (the
simulator is seeded; the machine's speed does not matter here).
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

# (label, model, weights, gpu, tp, prompt tokens (one length or {length: weight}), output tokens)
WORKLOADS = [
    ("8B H20 1k", "llama-3.1-8b", "bf16", "h20", 1, "1000", 200),
    ("8B H20 500/4000 15:1", "llama-3.1-8b", "bf16", "h20", 1, "{values: [500, 4000], weights: [15, 1]}", 200),
    ("70B H100 TP2 2k", "llama-3.1-70b", "fp8", "h100", 2, "2000", 300),
    ("70B H100 800/6000 10:3", "llama-3.1-70b", "fp8", "h100", 1, "{values: [800, 6000], weights: [10, 3]}", 300),
]
PROBLEM = partial(problem_file, name="prefill-bench", mode="disaggregated", kv="fp8")   # FP8 KV


def one(path: Path, load: float, requests: int) -> tuple[int, float, float, float, float] | None:
    """(prompts per pass, planned busy share (the batching queue's, above the load), simulated,
    planned mean TTFT, simulated) of the plan's
    prefill candidate at `load` × its raw capacity, beside decode instances enough for the load;
    None where the queue has no steady state at that load."""
    plan = solve(load_any(path), str(path))
    d = plan_json(plan)
    pre_c = next(c for c in plan.chosen if c.role == "prefill")
    dec_c = next(c for c in plan.chosen if c.role == "decode")
    res = plan.resolved
    s_unc, s_out = res.uncached_mean, res.output_mean
    pre = load * pre_c.prefill_raw_tok_s
    qps = pre / s_unc
    st = verify.pool_state(res, pre_c, 1, pre, 0.0)
    if not math.isfinite(st.ttft_s):
        return None
    n_dec = max(1, math.ceil(qps * s_out / (0.8 * dec_c.decode_tok_s)))
    dec = verify.pool_state(res, dec_c, n_dec, 0.0, qps * s_out / n_dec)
    sim = simulate_pools(d, [st, dec], qps, requests).pools[0]
    return pre_c.batch, sim.analytic_utilization, sim.utilization, st.ttft_s, sim.ttft.mean


def main() -> None:
    loads, requests = arguments(__doc__, "0.3,0.5,0.7,0.9", 20_000, "shares of the raw prefill capacity")
    print(f"{'workload':24s} {'B':>3s} {'load':>5s} {'busy plan':>9s} {'sim':>6s} {'TTFT plan':>10s} "
          f"{'sim':>9s} {'error':>7s}")
    for label, path, load in grid(WORKLOADS, PROBLEM, loads):
        row = one(path, load, requests)
        if row is None:
            print(f"{label:24s}     {load:5.2f}  no steady state")
            continue
        b, u, u_sim, t, t_sim = row
        print(f"{label:24s} {b:3d} {load:5.2f} {u:9.1%} {u_sim:6.1%} {t * 1e3:8.1f} ms "
              f"{t_sim * 1e3:6.1f} ms {t / t_sim - 1:+7.1%}", flush=True)


if __name__ == "__main__":
    main()
