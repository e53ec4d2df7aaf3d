"""An exact decomposition of the fleet MILP, measured (a prototype: `plan` does not use it; issue 19).

For fleets whose services are coupled only by whole nodes (no power, budget, GPU-type or
pool-shape limit, no owned nodes, no availability caps: the benchmark's fleets), a plan costs
Σ_s cost_s + Σ_g p_g·waste_g: cost_s = Σ_g p_g·cards_s,g is what service s would cost with
nodes continuous, waste_g the cards of type g bought and not used, which depends only on
y_g mod N_g. With m_s each service's cheapest cost_s and LB = Σ m_s over each model's cheapest
partition of its classes into services (the nodes-continuous optimum), every plan within Δ of LB
has every service within Δ of its own m_s, and every partition within Δ of its model's cheapest.
So, for Δ = one cheapest node-hour, then larger:
  1. per service of a partition within Δ, the minimal card vectors (cards per GPU type) that
     serve it at cost ≤ m_s + what Δ its partition leaves (per type, the Pareto set of
     (prefill, decode) shares reachable with ≤ k cards; a search over types; a k at which the set
     does not grow is skipped: such a vector is dominated by the one with k − 1 cards);
  2. a dynamic programme over models with state (y_g mod N_g)_g picks one option per model;
  3. its best is optimal, proven, once it is ≤ LB + Δ; else Δ grows and 1–2 run again.
It recovers the MILP's optimum on 4x12-issue and 4x12-6gpu; docs/fleet_bench.md ("Forty-ninth
session") has the numbers and what building it into `plan` would take. Run:

    .venv/bin/python bench/fleet_shell.py --case 4x12-issue [--check]

`--check` also solves the fleet through `planner.solve()` and prints both costs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
import fleet_bench as fb  # noqa: E402

TOL = 1e-9
CAP_NODE_HOURS = 4.0   # how far above its classes alone a group's minimum is searched (the Δ reached must stay below)


def pareto(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximal points of (a, b), shares capped at 1 (more than the demand serves nothing)."""
    a, b = np.minimum(a, 1.0), np.minimum(b, 1.0)
    order = np.lexsort((-b, -a))
    a, b = a[order], b[order]
    before = np.maximum.accumulate(np.concatenate(([-1.0], b[:-1])))
    keep = b > before + 1e-12
    return a[keep], b[keep]


class TypeFrontier:
    """One service's candidates on one GPU type: F[k], the Pareto set of (prefill, decode) shares
    of its demand reachable with at most k cards, built on demand; grows[k] whether F[k] ≠ F[k−1]."""

    def __init__(self, gpu: str, price: float, cands: list[tuple[int, float, float]]) -> None:
        self.gpu, self.price = gpu, price
        self.cands = cands
        self.F = [(np.zeros(1), np.zeros(1))]
        self.grows = [False]

    def upto(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        while len(self.F) <= k:
            n = len(self.F)
            a_s, b_s = [self.F[n - 1][0]], [self.F[n - 1][1]]
            for cards, a, b in self.cands:
                if cards <= n:
                    a_s.append(self.F[n - cards][0] + a)
                    b_s.append(self.F[n - cards][1] + b)
            a, b = pareto(np.concatenate(a_s), np.concatenate(b_s))
            pa, pb = self.F[n - 1]
            self.grows.append(not (len(a) == len(pa) and np.array_equal(a, pa) and np.array_equal(b, pb)))
            self.F.append((a, b))
        return self.F[k]


def served(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.any((a >= 1 - TOL) & (b >= 1 - TOL)))


def shell(types: list[TypeFrontier], delta: float,
          cap: float = math.inf) -> tuple[float, list[tuple[float, dict[str, int]]]]:
    """The service's cheapest cost m (RMB/h, nodes continuous) and its minimal card vectors of cost
    ≤ m + delta, each as (cost, {gpu: cards}); with `cap`, only a search up to it: m = cap and no
    vector when the service costs more."""
    ub = cap   # then the cheapest single type: the search's first budget
    for t in types:
        k = 1
        while k * t.price < ub and k <= 4096:
            if served(*t.upto(k)):
                ub = k * t.price
                break
            k += 1
    best_rate = []   # the most share per RMB/h each type gives, at any card count: a bound on what the rest adds
    for t in types:
        t.upto(max(1, int((ub + delta) / t.price)))
        best_rate.append((max((t.F[k][0].max() / (k * t.price) for k in range(1, len(t.F))), default=0.0),
                          max((t.F[k][1].max() / (k * t.price) for k in range(1, len(t.F))), default=0.0)))
    rest = [(max([r[0] for r in best_rate[i:]] + [0.0]), max([r[1] for r in best_rate[i:]] + [0.0]))
            for i in range(len(types) + 1)]
    best, found = [ub], []

    def still_needed(a: np.ndarray, b: np.ndarray, i: int) -> float:
        ra, rb = rest[i]
        na = np.where(a < 1 - TOL, (1 - a) / ra if ra > 0 else np.inf, 0.0)
        nb = np.where(b < 1 - TOL, (1 - b) / rb if rb > 0 else np.inf, 0.0)
        return float(np.min(np.maximum(na, nb)))

    def search(i: int, vec: dict[str, int], a: np.ndarray, b: np.ndarray, cost: float) -> None:
        if i == len(types):
            if served(a, b):
                found.append((cost, dict(vec)))
                best[0] = min(best[0], cost)
            return
        t, k = types[i], 0
        while cost + k * t.price <= best[0] + delta + TOL:
            t.upto(k)
            if k and not t.grows[k]:
                k += 1
                continue
            if k:
                fa, fb = t.F[k]
                na, nb = pareto((a[:, None] + fa[None, :]).ravel(), (b[:, None] + fb[None, :]).ravel())
            else:
                na, nb = a, b
            if cost + k * t.price + still_needed(na, nb, i + 1) <= best[0] + delta + TOL:
                vec[t.gpu] = k
                search(i + 1, vec, na, nb, cost + k * t.price)
                del vec[t.gpu]
            if k and served(na, nb):
                break   # more cards of this type: not minimal
            k += 1

    search(0, {}, np.zeros(1), np.zeros(1), 0.0)
    m = best[0]
    if not found:
        return m, []
    within = [(c, {g: k for g, k in v.items() if k}) for c, v in found if c <= m + delta + TOL]
    minimal = [(c, v) for c, v in within
               if not any(w != v and all(w.get(g, 0) <= v.get(g, 0) for g in w) for _, w in within)]
    return m, minimal


def partitions(classes: list[str], services: list[int], members: list[tuple[str, ...]]):
    """Every way to cover `classes` exactly once by services (their class tuples in `members`)."""
    if not classes:
        yield []
        return
    for j in services:
        if classes[0] in members[j] and all(c in classes for c in members[j]):
            for rest in partitions([c for c in classes if c not in members[j]], services, members):
                yield [j, *rest]


def decompose(case: str) -> None:
    from planner.catalog.schemas import load_gpus
    from planner.plan.dominance import without_dominated_types
    from planner.plan.solve import _services, build

    n_models, n_classes, n_gpus, _gap = fb.CASES[case]
    gpus = list(n_gpus) if isinstance(n_gpus, tuple) else list(load_gpus())[:n_gpus]
    f = fb.fleet(n_models, n_classes, gpus)
    t0 = time.perf_counter()
    usable, _ = without_dominated_types(f, [s for s in _services(f, "bench", None) if s.candidates])
    m = build(f, usable)
    t1 = time.perf_counter()
    opts = {o.id: o for o in usable[0].res.gpus}
    assert not any(o.owned_nodes or o.max_cards is not None for o in opts.values()), "owned nodes or caps"
    price = {g: o.price_per_card_hour for g, o in opts.items()}
    node = {g: o.gpu.node_cards for g, o in opts.items()}
    members, frontiers = [], []
    for s, sv in enumerate(m.services):
        by: dict[str, list[tuple[int, float, float]]] = {}
        for _i, c in m.of_service(s):
            share_p = c.prefill_tok_s / sv.demand.prefill_tok_s if sv.demand.prefill_tok_s else 0.0
            share_d = c.decode_tok_s / sv.demand.decode_tok_s if sv.demand.decode_tok_s else 0.0
            by.setdefault(c.gpu, []).append((c.cards, share_p, share_d))
        frontiers.append([TypeFrontier(g, price[g], cs) for g, cs in sorted(by.items(), key=lambda t: price[t[0]])])
        members.append(sv.classes)
    models: dict[str, list[int]] = {}
    for j, cls in enumerate(members):
        models.setdefault(cls[0].rsplit(".", 1)[0], []).append(j)
    # the classes alone first; a group only as far as it could beat them by CAP_NODE_HOURS cheapest node-hours
    # (its minimum is then a lower bound: enough to leave out its partitions)
    step = min(node[g] * price[g] for g in price)   # the cheapest node-hour
    minima = [shell(ts, 0.0)[0] if len(members[j]) == 1 else math.nan for j, ts in enumerate(frontiers)]
    for sids in models.values():
        alone = sum(minima[j] for j in sids if len(members[j]) == 1)
        for j in sids:
            if len(members[j]) > 1:
                minima[j] = shell(frontiers[j], 0.0, cap=alone + CAP_NODE_HOURS * step)[0]
    t2 = time.perf_counter()
    parts = {}
    for name, sids in models.items():
        classes = sorted({c for j in sids for c in members[j]})
        parts[name] = sorted((sum(minima[j] for j in p), p) for p in partitions(classes, sids, members))
    lb = sum(ps[0][0] for ps in parts.values())
    print(f"case {case}: {len(m.services)} services, {len(m.candidates)} candidates; services and MILP "
          f"built in {t1 - t0:.2f} s; the services' minima {t2 - t1:.2f} s; nodes-continuous bound {lb:,.2f} RMB/h")
    delta, shells = step, {}
    while True:
        t3 = time.perf_counter()
        options = []
        for ps in parts.values():
            cheapest, opts_m = ps[0][0], []
            for cost_p, p in ps:
                if cost_p > cheapest + delta + TOL:
                    break
                left = delta - (cost_p - cheapest)
                lists = []
                for j in p:
                    key = (j, round(left, 9))
                    if key not in shells:
                        shells[key] = shell(frontiers[j], left)[1]
                    lists.append(shells[key])
                for combo in itertools.product(*lists):
                    cost = sum(c for c, _ in combo)
                    if cost <= cheapest + delta + TOL:
                        vec: dict[str, int] = {}
                        for _, w in combo:
                            for g, k in w.items():
                                vec[g] = vec.get(g, 0) + k
                        opts_m.append((cost, vec))
            options.append(opts_m)
        t4 = time.perf_counter()
        gs = sorted({g for o in options for _, v in o for g in v})
        states = {tuple(0 for _ in gs): 0.0}
        for opts_m in options:
            nxt: dict[tuple, float] = {}
            for st, c0 in states.items():
                for c, v in opts_m:
                    ns = tuple((st[i] + v.get(g, 0)) % node[g] for i, g in enumerate(gs))
                    if c0 + c < nxt.get(ns, math.inf) - TOL:
                        nxt[ns] = c0 + c
            states = nxt
        best = min(c + sum(price[g] * ((-st[i]) % node[g]) for i, g in enumerate(gs)) for st, c in states.items())
        t5 = time.perf_counter()
        proven = best <= lb + delta + 1e-6
        print(f"  Δ {delta:8.2f} RMB/h: options per model {[len(o) for o in options]}, {len(states):,} DP states; "
              f"shells {t4 - t3:.2f} s, DP {t5 - t4:.3f} s; best {best:,.2f} RMB/h"
              + (", proven optimal" if proven else ""))
        if proven:
            break
        delta = min(best - lb, delta + step)
        assert delta < CAP_NODE_HOURS * step, "Δ passed the groups' searched range: raise CAP_NODE_HOURS"
    print(f"  decomposition {time.perf_counter() - t1:.2f} s after the MILP's inputs: {best:,.2f} RMB/h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["4x12-issue", "4x12-6gpu"], default="4x12-issue")
    ap.add_argument("--check", action="store_true",
                    help="also solve it with the MILP (planner.solve) and print its cost")
    args = ap.parse_args()
    decompose(args.case)
    if args.check:
        fb.one_case(args.case)


if __name__ == "__main__":
    main()
