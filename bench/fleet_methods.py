"""Generated fleets solved by `plan`'s default and by the MILP alone: build+solve seconds and costs, summed.

The default is the exact decomposition where it applies, within its work budget; the MILP alone is
`solver.method: milp`; both at the default gaps, in one process, in turn.

The fleets are generated as the fiftieth session's differential hunt generated them (docs/fleet_bench.md;
seeds 100000–100069 and 100100–100123 are its fleets): seed → 1–4 catalog
models, 1–8 classes each (1–5,000 req/s, prompts of 1–100,000 tokens, outputs of 1–4,000), 1–6 GPU
types, some at a price of their own, `sharing` and `prune_dominated` either way. Infeasible ones are
counted, not timed.

    .venv/bin/python bench/fleet_methods.py                      # seeds 100000-100123 (~8 min)
    .venv/bin/python bench/fleet_methods.py --seeds 100000-100009 --show

No assertions on time: compare the two columns of one run, and state the machine's load.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODELS = ["llama-3.1-8b", "llama-3.1-70b", "qwen3-32b", "gpt-oss-20b", "gpt-oss-120b", "qwen3-235b-a22b",
          "deepseek-r1", "llama-3.1-405b", "minimax-m2.5", "llama-4-maverick", "glm-4.5", "kimi-k2.5"]
GPUS = ["h100", "h200", "h800", "h20", "b200", "gb200", "b300", "h100-pcie", "a100-pcie", "h200-nvl", "a100-80g",
        "l40s", "rtx4090", "mi300x", "mi325x", "ascend-910b"]


def fleet(seed: int) -> dict:
    """The generated fleet of `seed` (a problem file's content)."""
    r = random.Random(seed)
    how_many = r.choice([1, 1, 2, 2, 3, 4])
    models = r.sample(MODELS[:7] if r.random() < 0.7 else MODELS, how_many)
    classes = []
    for mi, model in enumerate(models):
        for ci in range(r.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8])):
            qps = 10 ** r.uniform(-2, math.log10(5000)) if r.random() < 0.8 else r.choice([0.01, 0.1, 1, 5000])
            k = {"name": f"m{mi}c{ci}", "model": model,
                 "workload": {"qps": float(f"{qps:.4g}"),
                              "input_tokens": r.choice([1, 50, 500, 1000, 2000, 8000, 32000, 100000]),
                              "output_tokens": r.choice([1, 1, 10, 200, 1000, 4000])},
                 "slo": {"ttft": r.choice(["300ms", "1s", "2s", "2s", "5s", "30s"]),
                         "tpot": r.choice(["20ms", "30ms", "50ms", "50ms", "80ms", "200ms"])}}
            if k["workload"]["input_tokens"] >= 32000:
                k["slo"]["ttft"] = r.choice(["10s", "30s", "60s"])
            classes.append(k)
    gpus = [{"id": g, "price_per_gpu_hour": float(f"{10 ** r.uniform(-2, 3):.4g}")} if r.random() < 0.3 else g
            for g in r.sample(GPUS, r.choice([1, 2, 3, 4, 5, 6]))]
    return {"name": f"f{seed}", "classes": classes, "gpus": gpus, "sharing": r.choice(["auto", "none"]),
            "prune_dominated": r.choice([True, False])}


def seeds(text: str) -> list[int]:
    """'1-23,100000-100123' → the seeds (ranges inclusive)."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="100000-100123", help="seeds, ranges inclusive (default: the hunt's)")
    ap.add_argument("--show", action="store_true", help="print every fleet's row")
    args = ap.parse_args()
    from planner.errors import Infeasible
    from planner.input.fleet import FleetProblem
    from planner.plan import candidates
    from planner.plan.solve import solve
    warnings.simplefilter("ignore")
    sums, n, infeasible, differ, by = {"auto": 0.0, "milp": 0.0}, 0, 0, [], {"decomposition": 0, "milp": 0}
    rows = []
    for seed in seeds(args.seeds):
        got = {}
        for method in ("auto", "milp"):
            candidates.clear_memo()
            p = FleetProblem.model_validate({**fleet(seed), "solver": {"time_limit": "120s", "method": method}})
            try:
                plan = solve(p, "fleet")
            except Infeasible:
                got = None
                break
            t = plan.timings
            got[method] = (t["build_s"] + t["solve_s"], plan.cost_per_hour, plan.solver.method, len(plan.services))
        if got is None:
            infeasible += 1
            continue
        n += 1
        for k in sums:
            sums[k] += got[k][0]
        by[got["auto"][2]] += 1
        if abs(got["auto"][1] - got["milp"][1]) > 1e-4 * max(1.0, got["milp"][1]):
            differ.append(seed)
        rows.append((seed, *got["auto"], got["milp"][0]))
        if args.show:
            print(f"seed {seed:>6}: default {got['auto'][0]:7.3f} s ({got['auto'][2]}), MILP {got['milp'][0]:7.3f} s, "
                  f"{got['auto'][1]:,.2f} / {got['milp'][1]:,.2f} per hour", flush=True)
    worst = max(rows, key=lambda r: r[1] - r[-1], default=None)   # the default's largest excess
    print(f"{n} fleets solved both ways ({infeasible} infeasible), at {time.strftime('%H:%M')}: build and solve "
          f"phases summed {sums['auto']:.2f} s by default ({by['decomposition']} by the decomposition) against "
          f"{sums['milp']:.2f} s by the MILP alone ({sums['auto'] / max(sums['milp'], 1e-9):.2f}×); "
          f"costs differing beyond 10⁻⁴: {differ or 'none'}")
    if worst is not None:
        print(f"largest excess: seed {worst[0]}, {worst[1]:.3f} s ({worst[3]}) against {worst[-1]:.3f} s")


if __name__ == "__main__":
    main()
