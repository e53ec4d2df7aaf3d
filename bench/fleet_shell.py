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
     does not grow is skipped: such a vector is dominated by the one with k − 1 cards; types
     dearest first, a partial plan that serves already is not extended, the last type's fewest
     serving cards by bisection; the rest bounded by the 2-row LP's dual);
  2. each model's options (one vector per service of a partition) are kept as the cheapest per
     residue vector (y_g mod N_g)_g, and a dynamic programme over models with that state picks one;
  3. its best is optimal, proven, once it is ≤ LB + Δ; else Δ grows and 1–2 run again;
  4. each chosen service's instance counts come from a small MILP within its vector's cards, and the
     plan is checked against the fleet MILP's demand rows and priced in whole nodes.
It recovers the MILP's optimum on every fleet_bench case (4x12-issue, 4x12-6gpu, 4x12-all: a cheaper
one than HiGHS's default search, small), proven exactly; docs/fleet_bench.md ("Forty-ninth
session") has the numbers and what building it into `plan` would take. Run:

    .venv/bin/python bench/fleet_shell.py --case 4x12-issue [--check]

`--check` also solves the fleet through `planner.solve()` and prints both costs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
import fleet_bench as fb  # noqa: E402

TOL = 1e-9
DUALS: dict[tuple, list] = {}   # a service's dual polygons, by its frontiers' identities


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


def dual_vertices(cols: list[tuple[float, float, float]]) -> np.ndarray | None:
    """The vertices (u, v) of {a·u + b·v ≤ w for each column (w, a, b); u, v ≥ 0}, or None without
    columns (nothing can be added). Unbounded directions (no column with a > 0, or b > 0) get a
    vertex far out on that axis: no share of that kind can be bought."""
    if not cols:
        return None
    w, a, b = (np.array(x, dtype=float) for x in zip(*cols))
    big = 1e12
    u_max = np.min(np.where(a > 0, w / np.where(a > 0, a, 1), big))
    v_max = np.min(np.where(b > 0, w / np.where(b > 0, b, 1), big))
    pts = [(0.0, 0.0), (u_max, 0.0), (0.0, v_max)]
    det = a[:, None] * b[None, :] - b[:, None] * a[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (w[:, None] * b[None, :] - b[:, None] * w[None, :]) / det
        v = (a[:, None] * w[None, :] - w[:, None] * a[None, :]) / det
    ok = np.isfinite(u) & np.isfinite(v) & (u >= -1e-12) & (v >= -1e-12)
    pts += list(zip(u[ok], v[ok]))
    p = np.array(pts)
    feasible = np.all(a[None, :] * p[:, :1] + b[None, :] * p[:, 1:] <= w[None, :] * (1 + 1e-9) + 1e-12, axis=1)
    return p[feasible]


def served(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.any((a >= 1 - TOL) & (b >= 1 - TOL)))


def shell(types: list[TypeFrontier], delta: float) -> tuple[float, list[tuple[float, dict[str, int]]]]:
    """The service's cheapest cost m (RMB/h, nodes continuous) and its minimal card vectors of cost
    ≤ m + delta, each as (cost, {gpu: cards})."""
    ub = math.inf   # the cheapest single type: the search's first budget
    for t in types:
        k = 1
        while k * t.price < ub and k <= 4096:
            if served(*t.upto(k)):
                ub = k * t.price
                break
            k += 1
    for t in types:
        t.upto(max(1, int((ub + delta) / t.price)))
    # what the types from i on must cost at least to add shares (na, nb): the 2-row LP's dual,
    # max na·u + nb·v over {a_c·u + b_c·v ≤ w_c, u, v ≥ 0}, whose optimum is at a vertex computed once per i
    key = tuple(id(t) for t in types)   # the same for every Δ: computed once per service
    if key not in DUALS:
        DUALS[key] = [dual_vertices([(t.price * k, a, b) for t in types[i:] for k, a, b in t.cands])
                      for i in range(len(types) + 1)]
    duals = DUALS[key]
    best, found = [ub], []

    def still_needed(a: np.ndarray, b: np.ndarray, i: int) -> float:
        v = duals[i]
        if v is None:
            return 0.0 if served(a, b) else math.inf
        na, nb = np.maximum(1 - a, 0.0), np.maximum(1 - b, 0.0)
        return float(np.min(np.max(na[:, None] * v[None, :, 0] + nb[:, None] * v[None, :, 1], axis=1)))

    def record(vec: dict[str, int], cost: float) -> None:
        found.append((cost, dict(vec)))
        best[0] = min(best[0], cost)

    def search(i: int, vec: dict[str, int], a: np.ndarray, b: np.ndarray, cost: float) -> None:
        if served(a, b):   # served already: any card more, of any type left, is not minimal
            record(vec, cost)
            return
        if i == len(types):
            return
        t, k = types[i], 0
        if i == len(types) - 1:   # the last type: its fewest cards that serve, by bisection (served grows with k)
            ks = [k for k in range(1, int((best[0] + delta + TOL - cost) / t.price) + 1) if t.upto(k) and t.grows[k]]
            lo, hi = 0, len(ks)
            while lo < hi:
                mid = (lo + hi) // 2
                fa, fb = t.F[ks[mid]]
                if served(a[:, None] + fa[None, :], b[:, None] + fb[None, :]):   # no Pareto filter needed
                    hi = mid
                else:
                    lo = mid + 1
            if lo < len(ks):
                vec[t.gpu] = ks[lo]
                record(vec, cost + ks[lo] * t.price)
                del vec[t.gpu]
            return
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
    within = [(c, {g: k for g, k in v.items() if k}) for c, v in found if c <= m + delta + TOL]
    minimal = [(c, v) for c, v in within
               if not any(w != v and all(w.get(g, 0) <= v.get(g, 0) for g in w) for _, w in within)]
    return m, minimal


def service_minimum(types: list[TypeFrontier]) -> float:
    """The service's cheapest cost with nodes continuous: a small MILP (its instances, its two demand
    rows), solved by HiGHS to a zero gap."""
    import highspy
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9)
    cands = [(t.price * cards, a, b) for t in types for cards, a, b in t.cands]
    rows = [r for r in (1, 2) if any(c[r] > 0 for c in cands)]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cands), len(rows)
    lp.col_cost_ = np.array([c[0] for c in cands])
    lp.col_lower_, lp.col_upper_ = np.zeros(len(cands)), np.full(len(cands), highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = np.ones(len(rows)), np.full(len(rows), highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    start, index, value = [0], [], []
    for c in cands:
        for i, r in enumerate(rows):
            if c[r] > 0:
                index.append(i)
                value.append(c[r])
        start.append(len(index))
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = start, index, value
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(cands)
    h.passModel(lp)
    h.run()
    return h.getInfo().objective_function_value


def partitions(classes: list[str], services: list[int], members: list[tuple[str, ...]]):
    """Every way to cover `classes` exactly once by services (their class tuples in `members`)."""
    if not classes:
        yield []
        return
    for j in services:
        if classes[0] in members[j] and all(c in classes for c in members[j]):
            for rest in partitions([c for c in classes if c not in members[j]], services, members):
                yield [j, *rest]


def residue_dp(options: list[dict[tuple, tuple[float, tuple]]], radix: list[int],
               price: list[float]) -> tuple[float, tuple, int]:
    """One option per model, the cheapest plan in whole nodes: a DP over the models whose state is the
    residue vector (y_g mod N_g), in numpy (each model's options against every state, chunked), with
    back-pointers to the options taken. Returns the cost, the picks and the last model's state count."""
    n = np.array(radix, dtype=np.int64)
    mult = np.concatenate(([1], np.cumprod(n)[:-1]))
    digits, cost, backs = np.zeros((1, len(radix)), dtype=np.int64), np.zeros(1), []
    for opts_m in options:
        od = np.array(list(opts_m), dtype=np.int64).reshape(len(opts_m), len(radix))
        oc = np.array([c for c, _ in opts_m.values()])
        chunk = max(1, 2_000_000 // max(1, len(oc)))
        codes, costs, idx = [], [], []
        for a in range(0, len(cost), chunk):
            d = (digits[a:a + chunk, None, :] + od[None, :, :]) % n
            codes.append(((d * mult).sum(-1)).ravel())
            costs.append((cost[a:a + chunk, None] + oc[None, :]).ravel())
            idx.append(np.arange(a * len(oc), min(len(cost), a + chunk) * len(oc)))
        code, c, flat = np.concatenate(codes), np.concatenate(costs), np.concatenate(idx)
        order = np.lexsort((c, code))
        keep = order[np.concatenate(([True], code[order][1:] != code[order][:-1]))]
        backs.append((flat[keep] // len(oc), flat[keep] % len(oc), list(opts_m.values())))
        code, cost = code[keep], c[keep]
        digits = (code[:, None] // mult[None, :]) % n[None, :]
    total = cost + ((-digits) % n * np.array(price)[None, :]).sum(-1)
    at = int(np.argmin(total))
    picks: tuple = ()
    for state_of, option_of, values in reversed(backs):
        picks = values[option_of[at]][1] + picks
        at = int(state_of[at])
    return float(total.min()), picks, len(cost)


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
        frontiers.append([TypeFrontier(g, price[g], cs) for g, cs in sorted(by.items(), key=lambda t: -price[t[0]])])
        members.append(sv.classes)
    step = min(node[g] * price[g] for g in price)   # the cheapest node-hour
    models: dict[str, list[int]] = {}
    for j, cls in enumerate(members):
        models.setdefault(cls[0].rsplit(".", 1)[0], []).append(j)
    minima = [service_minimum(ts) for ts in frontiers]
    t2 = time.perf_counter()
    parts = {}
    for name, sids in models.items():
        classes = sorted({c for j in sids for c in members[j]})
        parts[name] = sorted((sum(minima[j] for j in p), p) for p in partitions(classes, sids, members))
    lb = sum(ps[0][0] for ps in parts.values())
    print(f"case {case}: {len(m.services)} services, {len(m.candidates)} candidates; services and MILP "
          f"built in {t1 - t0:.2f} s; the services' minima {t2 - t1:.2f} s; nodes-continuous bound {lb:,.2f} RMB/h")
    delta, shells = step, {}
    gs = sorted(price)
    zero = tuple(0 for _ in gs)
    while True:
        t3 = time.perf_counter()
        # each model's options, kept as the cheapest cost per residue vector (y_g mod N_g): two options of
        # one residue vector leave the same waste whatever the other models take, so the dearer is never needed
        options = []
        for ps in parts.values():
            cheapest, opts_m = ps[0][0], {}
            for cost_p, p in ps:
                if cost_p > cheapest + delta + TOL:
                    break
                left = delta - (cost_p - cheapest)
                partial: dict[tuple, tuple[float, tuple]] = {zero: (0.0, ())}   # residues → cost, picks
                for n, j in enumerate(p):
                    key = (j, round(left, 9))
                    if key not in shells:
                        shells[key] = [(c, tuple(v.get(g, 0) % node[g] for g in gs), v)
                                       for c, v in shell(frontiers[j], left)[1]]
                    later = sum(minima[i] for i in p[n + 1:])   # what the partition's other services cost at least
                    nxt: dict[tuple, tuple[float, tuple]] = {}
                    for r0, (c0, picks) in partial.items():
                        for c, r, v in shells[key]:
                            if c0 + c + later <= cheapest + delta + TOL:
                                nr = tuple((x + y) % node[g] for x, y, g in zip(r0, r, gs))
                                if c0 + c < nxt.get(nr, (math.inf,))[0]:
                                    nxt[nr] = (c0 + c, (*picks, (j, v)))
                    partial = nxt
                for r, (c, picks) in partial.items():
                    if c < opts_m.get(r, (math.inf,))[0]:
                        opts_m[r] = (c, picks)
            options.append(opts_m)
        t4 = time.perf_counter()
        best, chosen, n_states = residue_dp(options, [node[g] for g in gs], [price[g] for g in gs])
        t5 = time.perf_counter()
        proven = best <= lb + delta + 1e-6
        print(f"  Δ {delta:8.2f} RMB/h: residue vectors per model {[len(o) for o in options]}, "
              f"{n_states:,} DP states; "
              f"shells {t4 - t3:.2f} s, DP {t5 - t4:.3f} s; best {best:,.2f} RMB/h"
              + (", proven optimal" if proven else ""))
        if proven:
            break
        delta = min(best - lb, delta + step)
    print(f"  decomposition {time.perf_counter() - t1:.2f} s after the MILP's inputs: {best:,.2f} RMB/h")
    check_plan(m, chosen, price, node, best)


def check_plan(m, chosen: tuple, price: dict[str, float], node: dict[str, int], best: float) -> None:
    """Instance counts for each chosen (service, card vector): a small MILP per service (its demand rows, its
    cards of each type at most the vector's); then every demand row of the fleet MILP checked with them and
    the whole nodes priced: the plan must cost what the DP said."""
    import highspy
    cards: dict[str, int] = {}
    instances = 0
    for j, vec in chosen:
        sv, cs = m.services[j], [(i, c) for i, c in m.of_service(j) if c.gpu in vec]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", 0.0)
        x = [h.addIntegral(lb=0, ub=highspy.kHighsInf) for _ in cs]
        h.changeColsCost(len(x), np.arange(len(x), dtype=np.int32),
                         np.array([price[c.gpu] * c.cards for _, c in cs], dtype=float))
        for kind in ("prefill", "decode"):
            need = getattr(sv.demand, f"{kind}_tok_s")
            if need > 0:
                h.addConstr(sum(getattr(c, f"{kind}_tok_s") / need * v for (_, c), v in zip(cs, x)) >= 1)
        for g, k in vec.items():
            h.addConstr(sum(c.cards * v for (_, c), v in zip(cs, x) if c.gpu == g) <= k)
        h.run()
        values = h.getSolution().col_value
        picked = {i: round(v) for (i, _), v in zip(cs, values) if round(v) > 0}
        for kind in ("prefill", "decode"):
            need = getattr(sv.demand, f"{kind}_tok_s")
            got = sum(getattr(m.candidates[i], f"{kind}_tok_s") * n for i, n in picked.items())
            assert need <= 0 or got >= need * (1 - 1e-9), (sv.key, kind, got, need)
        for i, n in picked.items():
            cards[m.candidates[i].gpu] = cards.get(m.candidates[i].gpu, 0) + m.candidates[i].cards * n
            instances += n
    nodes = {g: -(-k // node[g]) for g, k in cards.items()}
    cost = sum(n * node[g] * price[g] for g, n in nodes.items())
    assert abs(cost - best) < 1e-6 * max(1.0, best), (cost, best)
    print(f"  the plan: {len(chosen)} services, {instances} instances, whole nodes "
          f"{', '.join(f'{g} {n}' for g, n in sorted(nodes.items()))}; every demand row met; {cost:,.2f} RMB/h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(fb.CASES), default="4x12-issue")
    ap.add_argument("--check", action="store_true",
                    help="also solve it with the MILP (planner.solve) and print its cost")
    args = ap.parse_args()
    decompose(args.case)
    if args.check:
        fb.one_case(args.case)


if __name__ == "__main__":
    main()
