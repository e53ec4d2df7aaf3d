"""A prefill server that batches: Poisson arrivals, greedy batching of up to B prompts per pass.

When the server's entry stage frees it takes every waiting prompt, up to `B`, into one pass; an
idle server starts a pass with the first prompt that arrives. A pass of `k` prompts occupies the
entry stage for `T_k` (the whole pass `D_k = pp·T_k` with `pp` pipeline stages, a new batch
entering every `T_k`) and each of its prompts gets its first token when the pass ends. `T_k` is
taken affine between the pass of one prompt and the pass of a full batch,
`T_k = T_B·(r + (1 − r)·k/B)` with `r = (B·T_1/T_B − 1)/(B − 1)`: `r = 1` is a pass whose time
does not depend on its size (reading weights), `r = 0` one that grows with every prompt
(compute-bound). Prefill passes are convex in k (memory-bound, then compute-bound), so the chord
through `T_1` and `T_B` lies above them: the affine pass is the conservative side.

The queue is solved exactly as a Markov chain embedded at pass starts (state: prompts waiting,
`N ≥ 1`; a pass takes `k = min(N, B)`; `Poisson(λ·T_k)` arrive during it; an empty queue idles to
the next arrival). Renewal-reward over passes gives the mean wait for a pass to start,
`W = E[(N − k)·T_k + λ·T_k²/2] / E[k]` (the prompts left waiting wait the whole pass, those that
arrive wait half of it), the mean pass a prompt rides in `E[k·T_k]/E[k]`, and the share of time
the entry stage is busy. The wait distribution follows from where an arrival finds the server
(PASTA: idle, or `τ` into a pass that started with `N` waiting; the prompt is then served in the
⌈(N − k + arrivals in τ + 1)/B⌉-th pass from the current one, the later ones full).

This is the model of a batching prefill pool the planner uses for `B > 1` (`bulk_table`
tabulates it); the M/G/1 of `queueing` charged every prompt the full pass as its own service,
an upper bound 2.5–3.6× above the simulated mean TTFT on the examples' batched pools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILES = (0.50, 0.90, 0.95, 0.99)
STAGES = (1, 2, 4, 8, 16)      # pipeline stages the TTFT quantiles are computed for


@dataclass(frozen=True)
class BulkWait:
    """The chain's answer in units of the full batch's entry-stage time `T_B`."""

    wait: float                  # mean wait for the pass to start, ÷ T_B
    pass_ridden: float           # mean entry-stage time of the pass a prompt rides in, ÷ T_B
    busy: float                  # share of time the entry stage is busy (P(an arrival waits))
    mean_batch: float            # mean prompts per pass
    wait_quantiles: tuple[float, ...]   # wait at QUANTILES, ÷ T_B
    ttft_quantiles: dict[int, tuple[float, ...]]   # wait + pp × pass ridden at QUANTILES, ÷ T_B, per pp
    tail_mass: float             # stationary probability at the truncation (should be ~0)


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, ascending: np.unique without its first-call import of
    numpy.ma (about 15 ms of every process that plans)."""
    s = np.sort(np.ravel(a))
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


def poisson_pmf(mean: float, n: int) -> np.ndarray:
    """P(A = a), a = 0 … n−1, for A ~ Poisson(mean), by the recurrence p(a) = p(a−1)·mean/a.

    >>> poisson_pmf(2.0, 4).round(4).tolist()
    [0.1353, 0.2707, 0.2707, 0.1804]
    """
    a = np.arange(1, n, dtype=float)
    return np.exp(-mean) * np.concatenate([[1.0], np.cumprod(mean / a)])


def states_needed(rho: float, batch: int) -> int:
    """Queue lengths the chain keeps: B plus a tail that holds its stationary mass (the queue left
    behind a full pass is about ρ/(2(1 − ρ)) prompts, with a geometric tail of that scale)."""
    return batch + 40 + int(np.ceil(14.0 / (1.0 - rho)))


def solve_chain(rho: float, batch: int, r: float, n_states: int | None = None) -> BulkWait:
    """Exact stationary solution (up to truncation) of the greedy batching queue at utilisation
    ρ = λ·T_B/B, batch limit B and fixed share r; times in units of T_B = 1."""
    if not 0.0 < rho < 1.0 or batch < 1 or not 0.0 <= r <= 1.0:
        raise ValueError(f"need 0 < rho < 1, batch >= 1, 0 <= r <= 1; got {rho}, {batch}, {r}")
    n = n_states or states_needed(rho, batch)
    lam = rho * batch
    cycle = r + (1.0 - r) * np.arange(1, batch + 1) / batch          # T_k, k = 1 … B
    waiting = np.arange(1, n + 1)                                      # state N
    take = np.minimum(waiting, batch)
    t_k = cycle[take - 1]
    left = waiting - take
    pmf = np.stack([poisson_pmf(lam * t, n + 1) for t in cycle])       # [k−1, arrivals]
    probs = pmf[take - 1]                                              # [state, arrivals]
    nxt = left[:, None] + np.arange(n + 1)[None, :]                    # N' (0 → idle → 1)
    col = np.clip(nxt, 1, n) - 1                                       # beyond n: lumped at n
    p = np.zeros((n, n))
    np.add.at(p, (np.repeat(np.arange(n), n + 1), col.ravel()), probs.ravel())
    p[:, n - 1] += 1.0 - p.sum(axis=1)                                 # the tail beyond the pmf
    a = p.T - np.eye(n)
    a[-1, :] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    pi = np.clip(np.linalg.solve(a, rhs), 0.0, None)
    pi /= pi.sum()
    served = float(pi @ take)
    wait = float(pi @ (left * t_k + lam * t_k**2 / 2.0)) / served
    ridden = float(pi @ (take * t_k)) / served
    idle = float(pi @ np.where(left == 0, np.exp(-lam * t_k), 0.0)) / lam
    busy_time = float(pi @ t_k)
    busy = busy_time / (busy_time + idle)
    keep = pi > 1e-14 * pi.max()          # the quantiles need only the states that carry mass
    law = _Law(pi[keep], left[keep], t_k[keep], lam, batch, r, busy_time + idle)
    qs = tuple(law.quantile(q, 0) for q in QUANTILES)
    ttft = {pp: tuple(law.quantile(q, pp) for q in QUANTILES) for pp in STAGES}
    return BulkWait(wait, ridden, busy, served, qs, ttft, float(pi[-1]))


class _Law:
    """Where a Poisson arrival finds the server, and when it gets its first token.

    Busy cycles are weighted by their length, the arrival uniform in the cycle (midpoint rule
    over `nodes` points); an idle server starts it alone at once. Arriving τ into a pass that
    started with N waiting, L = N − k + A(λτ) prompts are ahead of it at the next start. If
    L < B it rides the next pass with everyone waiting then, min(B, L + 1 + A′) prompts (A′ the
    arrivals in the rest of the current pass; A + A′ is the cycle's Poisson(λ·T_k)); else it
    waits ⌊L/B⌋ full passes more and rides a full one. TTFT = wait + pp × its pass; `pp = 0`
    gives the wait alone."""

    def __init__(self, pi, left, t_k, lam: float, batch: int, share: float, cycle_mean: float,
                 nodes: int = 32):
        frac = (np.arange(nodes) + 0.5) / nodes
        self.residual = t_k[:, None] * (1.0 - frac[None, :])            # [state, node]
        self.left = left[:, None]
        self.batch, self.share = batch, share
        self.weights = pi * t_k / cycle_mean / nodes
        cycle = sorted_unique(t_k)
        # arrivals before the prompt at each node, and (as node `nodes`) in the whole cycle
        means = lam * np.concatenate([cycle[:, None] * frac[None, :], cycle[:, None]], axis=1)
        # beyond mean + 12 standard deviations (+ 30) the probability is below 1e-25: counted as 0
        self.top = int(means.max() + 12.0 * float(np.sqrt(means.max())) + 30.0) + 1
        a = np.arange(self.top, dtype=float)
        log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, self.top, dtype=float)))])
        with np.errstate(divide="ignore"):
            logpmf = a * np.log(means[..., None]) - means[..., None] - log_fact
        self.cdf = np.cumsum(np.exp(logpmf), axis=-1)                       # [pass size, node, a]
        size = np.searchsorted(cycle, t_k)[:, None]
        self.at_tau = (size, np.arange(nodes)[None, :])
        self.whole = (size, np.full((1, nodes), nodes))

    def _at_least(self, which, need) -> np.ndarray:
        """P(Poisson ≥ need) for the arrivals before the prompt (`at_tau`) or in the whole cycle."""
        need = np.broadcast_to(need, self.residual.shape).astype(int)
        sf = 1.0 - self.cdf[which[0], which[1], np.clip(need - 1, 0, self.top - 1)]
        return np.where(need <= 0, 1.0, np.where(need > self.top, 0.0, np.clip(sf, 0.0, 1.0)))

    def survival(self, t: float, pp: int) -> float:
        """P(TTFT > t) with TTFT = wait + pp × the pass ridden, t in units of T_B (= 1)."""
        res, b, left = self.residual, self.batch, self.left
        # a later pass (L ≥ B): res + (j − 1) + pp > t with j − 1 = ⌊L/B⌋ ≥ 1
        y = t - res - pp
        far = np.where(y < 0, b, (np.floor(np.maximum(y, 0.0)) + 1.0) * b)
        p = self._at_least(self.at_tau, far - left)
        # the next pass (L < B): res + pp·(r + (1 − r)·min(B, L + 1 + A′)/B) > t
        if pp == 0 or self.share >= 1.0 - 1e-12:
            near = (res + pp > t).astype(float) * (1.0 - self._at_least(self.at_tau, b - left))
        else:
            k_t = ((t - res) / pp - self.share) * b / (1.0 - self.share)   # exceed iff min(B, L+1+A′) > k_t
            m = np.floor(k_t)                                               # ⇔ L + A′ ≥ ⌊k_t⌋ (when k_t < B)
            near = np.where(k_t < b, np.maximum(self._at_least(self.whole, m - left)
                                                - self._at_least(self.at_tau, b - left), 0.0), 0.0)
        return float(self.weights @ (p + near).sum(axis=1))

    def quantile(self, q: float, pp: int) -> float:
        """The q-quantile of wait + pp × pass (bisection on the survival function), ÷ T_B; an
        arrival at an idle server (probability 1 − busy) rides alone at once: TTFT pp·T_1."""
        alone = pp * (self.share + (1.0 - self.share) / self.batch)
        idle = 1.0 - float(self.weights.sum()) * self.residual.shape[1]

        def above(t):
            return self.survival(t, pp) + (idle if alone > t else 0.0)
        if above(0.0) <= 1.0 - q:
            return 0.0
        lo, hi = 0.0, 1.0
        while above(hi) > 1.0 - q:
            lo, hi = hi, 2.0 * hi
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            if above(mid) > 1.0 - q:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)
