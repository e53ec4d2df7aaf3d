"""One service's cheapest card vectors: the per-service search of the fleet decomposition
(`planner.plan.decompose`).

A service's candidates on GPU type g serve shares (a, b) of its prefill and decode demand per
instance of `cards` cards. A *card vector* k = (k_g) serves the service when instances within it
reach a ≥ 1 and b ≥ 1; its cost is Σ_g π_g·k_g (π_g the objective's price per card). The search
finds, for a budget m + Δ over the service's cheapest cost m, every *minimal* serving vector (no
vector below it in every type serves) of cost ≤ m + Δ: a plan in whole nodes costs no more with a
minimal vector than with any vector above it, so these are all a fleet plan within Δ needs.

Per type, F[k] is the Pareto set of shares reachable with at most k cards (a knapsack over the
candidates, shares capped at 1: more than the demand serves nothing); a k at which F does not grow
is skipped (its vectors are dominated by k − 1 cards). Types are searched dearest first; a partial
vector that serves already is recorded and not extended; the last type's fewest serving cards are
found by bisection; the rest is bounded by the dual of the 2-row LP (what any cards of the types
left must cost at least to add the missing shares), whose vertices are computed once per service.
Pure numpy; no solver. `TooLarge` when a deterministic work cap is passed (the caller then solves
the MILP instead).
"""

from __future__ import annotations

import math

import numpy as np

TOL = 1e-9            # a share within this of 1 serves (the MILP's rows: within HiGHS's 1e-7)
MAX_CARDS = 2048      # of one type in one service's search: beyond, the MILP plans the fleet
MAX_VECTORS = 5_000   # serving vectors of one service within its budget: beyond, the MILP
MAX_FRONTIER_POINTS = 10_000_000   # summed in one decomposition (the 4x12 fleets: 1-4.4 million); beyond: MILP
POINTS_PER_COLUMN = 1_000          # … and at most this many per MILP column (`frontier_budget`)
MIN_FRONTIER_POINTS = 250_000


class TooLarge(Exception):
    """The search would pass a work cap: the caller falls back to the MILP."""


def pareto(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximal points of (a, b), shares capped at 1, sorted by a descending."""
    return maximal(np.minimum(a, 1.0), np.minimum(b, 1.0), 1e-12)


def maximal(x: np.ndarray, y: np.ndarray, eps: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The points of (x, y) ≥ 0 no other is above in both, x descending: sorted by x, then y, both
    descending, a point is kept when its y passes every y before it by more than `eps`."""
    order = np.lexsort((-y, -x))
    x, y = x[order], y[order]
    before = np.maximum.accumulate(np.concatenate(([-1.0], y[:-1])))
    keep = y > before + eps
    return x[keep], y[keep]


def served(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether some point of (a, b) meets both demand rows."""
    return bool(np.any((a >= 1 - TOL) & (b >= 1 - TOL)))


def frontier_budget(columns: int) -> int:
    """The frontier points one decomposition may sum for a MILP of `columns` candidates: 1,000 a column,
    within 250,000 … 10 million (~0.1 µs a point). The decomposition pays where HiGHS's proof is long,
    which grows with the MILP (the 4 × 12 fleets: 2,086–5,625 columns, 1.1–4.4 million points, against
    HiGHS's 6–7 s); a small MILP is solved in milliseconds, and a fixed budget of 10 million made
    fleets whose search does not close spend ~1 s before a MILP of 0.05 s (docs/fleet_bench.md)."""
    return max(MIN_FRONTIER_POINTS, min(MAX_FRONTIER_POINTS, POINTS_PER_COLUMN * columns))


class Budget:
    """Work left for one decomposition, in points summed into frontiers: past it, `TooLarge`."""

    def __init__(self, points: int = 0) -> None:
        self.points = points or MAX_FRONTIER_POINTS
        self.left = self.points

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise TooLarge(f"more than {self.points:,} frontier points")


class TypeFrontier:
    """One service's candidates on one GPU type: F[k], the Pareto set of (prefill, decode) shares
    reachable with at most k cards, built on demand; grows[k] whether F[k] differs from F[k − 1].
    The candidates of one card count enter as their Pareto set only (a dominated one's sums are
    dominated by its dominator's), as arrays."""

    def __init__(self, gpu: str, price: float, cands: list[tuple[int, float, float]],
                 budget: Budget | None = None) -> None:
        self.gpu, self.price, self.cands = gpu, price, cands
        self.budget = budget or Budget()
        by: dict[int, tuple[list[float], list[float]]] = {}
        for cards, a, b in cands:
            by.setdefault(cards, ([], []))[0].append(a)
            by[cards][1].append(b)
        self.steps = sorted((c, *pareto(np.array(a), np.array(b))) for c, (a, b) in by.items())
        self.F = [(np.zeros(1), np.zeros(1))]
        self.grows = [False]

    def upto(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k > MAX_CARDS:
            raise TooLarge(f"more than {MAX_CARDS} cards of {self.gpu} in one service")
        while len(self.F) <= k:
            n = len(self.F)
            a_s, b_s = [self.F[n - 1][0]], [self.F[n - 1][1]]
            for cards, a, b in self.steps:
                if cards > n:
                    break
                fa, fb = self.F[n - cards]
                a_s.append((fa[:, None] + a[None, :]).ravel())
                b_s.append((fb[:, None] + b[None, :]).ravel())
            a_all = np.concatenate(a_s)
            self.budget.spend(len(a_all))
            a, b = pareto(a_all, np.concatenate(b_s))
            pa, pb = self.F[n - 1]
            self.grows.append(not (len(a) == len(pa) and np.array_equal(a, pa) and np.array_equal(b, pb)))
            self.F.append((a, b))
        return self.F[k]


def could_serve(t: TypeFrontier, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether enough cards of type t would serve some point (a, b): t adds every share it lacks."""
    ca, cb = any(x > 0 for _, x, _ in t.cands), any(y > 0 for *_, y in t.cands)
    return bool(np.any((ca | (a >= 1 - TOL)) & (cb | (b >= 1 - TOL))))


def dual_vertices(cols: list[tuple[float, float, float]]) -> np.ndarray | None:
    """The vertices (u, v) of {a·u + b·v ≤ w for each column (w, a, b); u, v ≥ 0}, or None without
    columns. A direction no column bounds (no a > 0, or no b > 0) gets a vertex far out on its axis:
    no share of that kind can be bought there."""
    if not cols:
        return None
    w, a, b = hull_columns(cols)
    big = 1e12
    with np.errstate(over="ignore"):   # a share of 1e-300 a column: that axis is as good as unbounded
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


def hull_columns(cols: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns that bound the dual, as (1, a/w, b/w): a constraint (a/w)·u + (b/w)·v ≤ 1 over
    u, v ≥ 0 is implied by others when its point lies under their upper-right concave hull, so
    only the hull's points are kept (the vertices then cost a few pairs, not every pair)."""
    w, a, b = (np.array(x, dtype=float) for x in zip(*cols))
    x, y = maximal(a / w, b / w)          # x descending, y ascending
    x, y = x[::-1], y[::-1]               # x ascending, y descending
    hull: list[tuple[float, float]] = []
    for p in zip(x.tolist(), y.tolist()):
        while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])
                                  - (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])) >= 0:
            hull.pop()                    # hull[-1] is on or under the segment hull[-2] → p
        hull.append(p)
    h = np.array(hull)
    return np.ones(len(h)), h[:, 0], h[:, 1]


class ServiceSearch:
    """One service's frontiers per GPU type (dearest first) and where its shares start: a demand
    row the service does not have (no prefill, or no decode) starts met."""

    def __init__(self, types: list[TypeFrontier], start: tuple[float, float]) -> None:
        self.types = types
        self.start = (np.array([start[0]]), np.array([start[1]]))
        self._duals: list[np.ndarray | None] | None = None
        self.cached: tuple[float, float, list[tuple[float, dict[str, int]]]] | None = None

    def duals(self) -> list[np.ndarray | None]:
        """The 2-row LP's dual vertices for the types from i on, for each i (computed once)."""
        if self._duals is None:
            self._duals = [dual_vertices([(t.price * k, a, b) for t in self.types[i:] for k, a, b in t.cands])
                           for i in range(len(self.types) + 1)]
        return self._duals

    def within(self, delta: float) -> tuple[float, list[tuple[float, dict[str, int]]]]:
        """The service's cheapest cost m and its minimal vectors of cost ≤ m + delta, each as
        (cost, {gpu: cards}); a search at a larger delta before is filtered, not repeated (a vector
        below a vector of cost ≤ m + delta costs no more, so the minimal ones are the same)."""
        if self.cached is None or self.cached[0] < delta:
            m, vectors = minimal_vectors(self, delta)
            self.cached = (delta, m, vectors)
        _, m, vectors = self.cached
        return m, [(c, v) for c, v in vectors if c <= m + delta + TOL]


def minimal_vectors(svc: ServiceSearch, delta: float) -> tuple[float, list[tuple[float, dict[str, int]]]]:
    """The search itself (see the module's docstring); `TooLarge` past a work cap."""
    types, (a0, b0) = svc.types, svc.start
    # the most share a row gains from k cards of a type: k × its best share per card
    per_card = [[max((c[r] / c[0] for c in t.cands), default=0.0) for r in (1, 2)] for t in types]
    for r, start in enumerate((a0[0], b0[0])):
        if start < 1 - TOL and sum(MAX_CARDS * p[r] for p in per_card) < 1 - start - TOL:
            # no vector within the cap serves: the search would pass it (checked before building frontiers)
            raise TooLarge(f"more than {MAX_CARDS} cards of a GPU type in one service")
    ub = math.inf   # the cheapest single type: the search's first budget
    fits = [all(s >= 1 - TOL or MAX_CARDS * q >= 1 - s - TOL for s, q in zip((a0[0], b0[0]), p)) for p in per_card]
    for t, fit in zip(types, fits):
        k = 1
        alone = fit and could_serve(t, a0, b0)   # a type that cannot serve alone within the cap is not tried alone
        while alone and k * t.price < ub and k <= MAX_CARDS:
            if served(a0[:, None] + t.upto(k)[0][None, :], b0[:, None] + t.F[k][1][None, :]):
                ub = k * t.price
                break
            k += 1
    if not math.isfinite(ub):   # no single type serves within the cap: a budget past it (a search that
        ub = sum(t.price * (MAX_CARDS + 1) for t in types)   # would need more cards is then TooLarge, not inf)
    duals = svc.duals()
    best, found = [ub], []

    def still_needed(a: np.ndarray, b: np.ndarray, i: int) -> float:
        v = duals[i]
        if v is None:
            return 0.0 if served(a, b) else math.inf
        na, nb = np.maximum(1 - a, 0.0), np.maximum(1 - b, 0.0)
        return float(np.min(np.max(na[:, None] * v[None, :, 0] + nb[:, None] * v[None, :, 1], axis=1)))

    last = types[-1]   # the search's first leaf, no card of the others, would pass the cap on the last type
    if not fits[-1] and could_serve(last, a0, b0) and (ub + delta + TOL) / last.price >= MAX_CARDS + 1 \
            and still_needed(a0, b0, len(types) - 1) <= ub + delta + TOL:
        raise TooLarge(f"more than {MAX_CARDS} cards of {last.gpu} in one service")
    for t in types:
        t.upto(max(1, min(MAX_CARDS, int((ub + delta) / t.price))))

    def record(vec: dict[str, int], cost: float) -> None:
        found.append((cost, dict(vec)))
        best[0] = min(best[0], cost)
        if len(found) > MAX_VECTORS:
            raise TooLarge(f"more than {MAX_VECTORS} serving vectors in one service")

    def last_type(i: int, vec: dict[str, int], a: np.ndarray, b: np.ndarray, cost: float) -> None:
        t = types[i]   # its fewest serving cards, by bisection (serving grows with k)
        ks = [k for k in range(1, min(MAX_CARDS, int((best[0] + delta + TOL - cost) / t.price)) + 1)
              if t.upto(k) and t.grows[k]]
        lo, hi = 0, len(ks)
        while lo < hi:
            mid = (lo + hi) // 2
            fa, fb = t.F[ks[mid]]
            if served(a[:, None] + fa[None, :], b[:, None] + fb[None, :]):
                hi = mid
            else:
                lo = mid + 1
        if lo < len(ks):
            record({**vec, t.gpu: ks[lo]}, cost + ks[lo] * t.price)
        elif (best[0] + delta + TOL - cost) / t.price >= MAX_CARDS + 1 and could_serve(t, a, b):
            # more cards than the cap, within the budget, might serve (and be the cheapest): not searched
            raise TooLarge(f"more than {MAX_CARDS} cards of {t.gpu} in one service")

    def search(i: int, vec: dict[str, int], a: np.ndarray, b: np.ndarray, cost: float) -> None:
        if served(a, b):   # served already: any card more, of any type left, is not minimal
            record(vec, cost)
            return
        if i == len(types):
            return
        if i == len(types) - 1:
            last_type(i, vec, a, b, cost)
            return
        t, k = types[i], 0
        while cost + k * t.price <= best[0] + delta + TOL:
            t.upto(k)
            if k and not t.grows[k]:
                k += 1
                continue
            if k:
                fa, fb = t.F[k]
                t.budget.spend(len(a) * len(fa))   # the search's sums count against the same budget
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

    search(0, {}, a0, b0, 0.0)
    m = best[0]
    within = [(c, {g: k for g, k in v.items() if k}) for c, v in found if c <= m + delta + TOL]
    within.sort(key=lambda cv: (cv[0], sorted(cv[1].items())))
    return (m if found else math.inf), only_minimal(within, [t.gpu for t in types])


def only_minimal(vectors: list[tuple[float, dict[str, int]]], gpus: list[str]) -> list[tuple[float, dict[str, int]]]:
    """The vectors no other one is below (≤ in every type, unequal), in their order."""
    if not vectors:
        return []
    k = np.array([[v.get(g, 0) for g in gpus] for _, v in vectors])
    keep = []
    for i in range(len(k)):
        below = np.all(k <= k[i], axis=1) & np.any(k != k[i], axis=1)
        keep.append(not below.any())
    out, seen = [], set()
    for (c, v), ok in zip(vectors, keep):
        key = tuple(sorted(v.items()))
        if ok and key not in seen:
            seen.add(key)
            out.append((c, v))
    return out
