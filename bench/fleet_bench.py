"""Fleet scaling benchmark: how the fleet MILP grows and how fast it solves.

Series (each row one solve, all in this process so ratios compare like with like):
  * GPU types: 1, 3, 6, all catalog GPUs, for 4 models × 3 classes;
  * request classes: 1, 3, 6, 12 (models added as classes grow), all GPUs;
  * pruning of dominated candidates on/off at the largest size;
  * exhaustive enumeration of the same candidates where it is still possible (tiny fleets),
    checking both give the same optimum and printing the ratio of times.

Prints variables, constraints, candidates (before → after pruning), candidate, build and
solve seconds, the optimality gap and the cost. Run: .venv/bin/python bench/fleet_bench.py
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner import milp  # noqa: E402
from planner.catalog import load_gpus  # noqa: E402
from planner.fleet import FleetProblem, build, resolve_classes, services  # noqa: E402

# three request classes per model: interactive chat, long-output reasoning, long-prompt RAG
SHAPES = [
    ("chat", 1000, 1000, "2s", "50ms"),
    ("reason", 1000, 4000, "3s", "30ms"),
    ("rag", 8000, 300, "3s", "50ms"),
]
MODELS = [("deepseek-r1", 20.0, "fp8"), ("qwen3-235b-a22b", 10.0, None), ("llama-3.1-70b", 10.0, None),
          ("llama-3.1-8b", 30.0, None)]


def fleet(n_models: int, n_classes: int, gpus: list[str], prune: bool = True) -> FleetProblem:
    classes = []
    for m, (model, qps, w) in enumerate(MODELS[:n_models]):
        for name, s_in, s_out, ttft, tpot in SHAPES[: max(1, min(3, n_classes - 3 * m))]:
            if len(classes) >= n_classes:
                break
            k = {"name": f"{model}.{name}", "model": model, "workload": {
                "qps": qps if name == "chat" else qps / 4, "input_tokens": s_in, "output_tokens": s_out},
                "slo": {"ttft": ttft, "tpot": tpot}}
            if w:
                k["precision"] = {"weights": w}
            classes.append(k)
    return FleetProblem.model_validate({"name": "bench", "classes": classes, "gpus": gpus,
                                        "prune_dominated": prune, "solver": {"time_limit": "60s"}})


def run(label: str, f: FleetProblem) -> tuple[float, milp.Model, list]:
    t0 = time.perf_counter()
    svcs = [s for s in services(f, resolve_classes(f, "bench")) if s.candidates]
    t1 = time.perf_counter()
    m = build(f, svcs)
    t2 = time.perf_counter()
    rep = milp.solve(m, "highs", 60.0, 1e-4)
    before = sum(len(s.cs.candidates) for s in svcs)
    gap = f"{rep.gap * 100:.3f}%" if rep.gap is not None else "-"
    print(f"{label:<34} {len(f.classes):>3} {len(f.gpus):>3} {len(svcs):>4} {before:>6} → {len(m.candidates):<5}"
          f"{rep.variables:>6} {rep.constraints:>6} {t1 - t0:>7.2f} {t2 - t1:>6.3f} {rep.seconds:>7.2f} "
          f"{gap:>8} {rep.status.value:>8} {rep.objective or float('nan'):>11,.2f}")
    return rep.objective or math.inf, m, svcs


def enumerate_optimum(m: milp.Model, f: FleetProblem) -> float:
    """Cheapest plan by brute force over the same candidates: every choice of service per class
    and every instance-count vector within the MILP's bounds; nodes forced by ⌈cards / N⌉."""
    opts = {o.id: o for o in (o for o in m.services[0].candidates[:0]) } or None
    gpus = {g.id: g for g in load_gpus().values()}
    price = {o.id: o.price_per_card_hour for o in resolve_classes(f, "bench")[0].gpus}
    classes = [k.name for k in f.classes]
    best = math.inf
    owners = {k: [s for s, sv in enumerate(m.services) if k in sv.classes] for k in classes}
    for choice in itertools.product(*owners.values()):
        chosen = sorted(set(choice))
        if any(sum(1 for s in chosen if k in m.services[s].classes) != 1 for k in classes):
            continue
        idx = [i for i in range(len(m.candidates)) if m.service_of[i] in chosen]
        bounds = [range(int(m.x[i].upBound) + 1) for i in idx]
        for x in itertools.product(*bounds):
            ok = True
            for s in chosen:
                d = m.services[s].demand
                pre = sum(n * m.candidates[i].prefill_tok_s for n, i in zip(x, idx) if m.service_of[i] == s)
                dec = sum(n * m.candidates[i].decode_tok_s for n, i in zip(x, idx) if m.service_of[i] == s)
                if pre < d.prefill_tok_s * (1 - 1e-9) or dec < d.decode_tok_s * (1 - 1e-9):
                    ok = False
                    break
            if not ok:
                continue
            cost = 0.0
            for g in price:
                cards = sum(n * m.candidates[i].cards for n, i in zip(x, idx) if m.candidates[i].gpu == g)
                cost += math.ceil(cards / gpus[g].node_cards) * gpus[g].node_cards * price[g]
            best = min(best, cost)
    del opts
    return best


def main() -> None:
    all_gpus = list(load_gpus())
    print(f"{'case':<34} {'cls':>3} {'gpu':>3} {'svc':>4} {'candidates':>14}{'vars':>6} {'rows':>6} "
          f"{'cand s':>7} {'build':>6} {'solve s':>7} {'gap':>8} {'status':>8} {'RMB/h':>11}")
    print("GPU types (4 models × 3 classes):")
    for n in (1, 3, 6, len(all_gpus)):
        run(f"  {n} GPU types", fleet(4, 12, all_gpus[:n] if n > 1 else ["h200"]))
    print("request classes and models (all GPU types):")
    for n_models, n_classes in ((1, 1), (1, 3), (2, 6), (4, 12)):
        run(f"  {n_models} models × {n_classes} classes", fleet(n_models, n_classes, all_gpus))
    print("pruning of dominated candidates (4 models × 3 classes, all GPU types):")
    run("  pruned", fleet(4, 12, all_gpus, True))
    run("  not pruned", fleet(4, 12, all_gpus, False))
    print("MILP against exhaustive enumeration (same candidates):")
    for n_classes, gpus in ((1, ["rtx4090"]), (2, ["rtx4090"]), (2, ["l40s"])):
        f = fleet(4, 12, gpus)
        f = f.model_copy(update={"classes": [k for k in f.classes if k.model == "llama-3.1-8b"][:n_classes]})
        t0 = time.perf_counter()
        cost, m, _ = run(f"  llama-8b × {n_classes} on {gpus[0]}", f)
        t1 = time.perf_counter()
        brute = enumerate_optimum(m, f)
        t2 = time.perf_counter()
        same = "same optimum" if abs(brute - cost) <= 1e-6 * max(1, cost) else f"DIFFERENT ({brute:,.2f})"
        print(f"    enumeration {t2 - t1:.2f} s vs MILP (whole run) {t1 - t0:.2f} s: ×{(t2 - t1) / (t1 - t0):.1f}; {same}")


if __name__ == "__main__":
    main()
