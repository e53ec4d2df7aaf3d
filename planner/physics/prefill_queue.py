"""Time to first token at a prefill server under Poisson arrivals, for one prompt per pass or many.

A server is described by its prompts per pass `B`, pipeline stages `pp`, the pass of a full
batch `D_B` and of one prompt `D_1`; a new batch enters every `T = D/pp` (the entry stage).

* `B = 1`: M/G/1 with service `T` (`queueing`: Pollaczek–Khinchine mean, exponential-tail
  quantiles; `c²` of the prompt length); TTFT = `D·f + W + fixed`, `f` the statistic's prompt
  length over the mean.
* `B ≥ 2`: the greedy batching queue (`bulk_queue`, read from `bulk_table`): mean
  TTFT = `T_B·(w + Δ) + D_ridden + (f − 1)·D_own + fixed` (`w` the mean wait for a pass to start,
  `D_ridden` the mean pass a prompt rides in, Δ = ρ·c²·(1 − r)²/(2B(1 − ρ)) the extra wait from
  unequal prompt lengths, `length_spread`; `D_own` = D_B·(1 − r)/B the part of a pass one
  mean-length prompt adds, `own_part_s`); a quantile = `T_B·(q_p + Δ·w_p/w) + (f − 1)·D_own +
  fixed`, `q_p` the chain's quantile of wait + pp × the pass ridden, `w_p` that of the wait. Exact for fixed-length
  prompts and passes affine in their size (up to the table's reading, 2 %), checked against the
  event simulation (mean within 3 %, p50–p95 within 4 %; tests/test_bulk_queue.py). A prompt of
  f times the mean length lengthens its own pass by its own tokens only: it rides with the
  others' prompts, so a short prompt in a queue of long ones waits about as long as they do
  (until 2026-12-03 the whole ridden pass was scaled by f: fleet_mix's 500-token router prompts
  sharing passes with 4,000-token summaries were planned at 205 ms TTFT and simulated at 257 ms,
  the summaries at 631 and 458 ms).

`ρ = λ·T_B/B` is the utilisation at full passes (load over the capacity of full passes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.physics import bulk_table
from planner.physics.batched import max_utilisation_many, wait_many
from planner.physics.bulk_queue import sorted_unique
from planner.physics.queueing import QUANTILE, max_utilisation

RHO_CEILING = bulk_table.RHO_MAX   # a batching server is not planned above 99 % (the table's end)


@dataclass(frozen=True)
class Servers:
    """Prefill servers as broadcastable arrays: prompts per pass, stages, D_B and D_1 (seconds)."""

    batch: np.ndarray
    stages: np.ndarray
    pass_s: np.ndarray
    pass_one_s: np.ndarray

    @classmethod
    def of(cls, batch, stages, pass_s, pass_one_s) -> Servers:
        b, st, d, d1 = np.broadcast_arrays(np.asarray(batch, dtype=int), np.asarray(stages, dtype=int),
                                           np.asarray(pass_s, dtype=float), np.asarray(pass_one_s, dtype=float))
        return cls(b, st, d, d1)

    @classmethod
    def single(cls, service_s) -> Servers:
        """One prompt per pass, one stage: the M/G/1 server of a colocated chunk schedule."""
        return cls.of(1, 1, service_s, service_s)

    @property
    def entry_s(self) -> np.ndarray:
        return self.pass_s / self.stages


def ttft(stat: str, rho, s: Servers, fixed_s, cv2: float, len_factor: float,
         own_mix: tuple[tuple[float, float], ...] = ()) -> np.ndarray:
    """TTFT of the statistic ('mean', 'p50' … 'p99') at utilisation ρ, per server. `own_mix`: a
    percentile over prompts of several lengths, (work over the mean's, probability) of each
    (`mixture_quantile` for one prompt a pass; `len_factor` stands for it in batching queues)."""
    rho = np.asarray(rho, dtype=float)
    shape = np.broadcast_shapes(rho.shape, s.pass_s.shape)
    rho = np.broadcast_to(rho, shape)
    s = Servers(*(np.broadcast_to(a, shape) for a in (s.batch, s.stages, s.pass_s, s.pass_one_s)))
    out = np.empty(shape)
    one = s.batch == 1
    if one.any() and own_mix and stat != "mean":
        out[one] = mixture_quantile(QUANTILE[stat], rho[one], s.entry_s[one], s.pass_s[one], cv2, own_mix)
    elif one.any():
        out[one] = s.pass_s[one] * len_factor + wait_many(stat, rho[one], s.entry_s[one], cv2)
    many = ~one
    if many.any():
        out[many] = _bulk(stat, rho[many], s.batch[many], s.stages[many], s.pass_s[many],
                          s.pass_one_s[many], cv2, len_factor)
    return out + fixed_s


def mixture_quantile(q: float, rho, entry_s, pass_s, cv2: float, own_mix) -> np.ndarray:
    """q-quantile of TTFT − fixed at a one-prompt-a-pass server (M/G/1) over prompts of several
    lengths: the x with Σᵢ pᵢ·P(W > x − Dᵢ) = 1 − q, Dᵢ = D·fᵢ the pass of prompt i (its work fᵢ
    times the mean's), W the wait in the exponential-tail approximation of `queueing`
    (P(W > t) = ρ·e^(−t/θ), θ = T(1 + c²)/(2(1 − ρ))), independent of the prompt's own length.
    Taking the p90 prompt's pass plus the wait's p90 instead bounds it from above where the
    longest prompts are rarer than 1 − q, and from below where they are more common than that but
    the wait's tail is what reaches the quantile: Llama-3.1-8B colocated with prompts of 200,
    1,000 and 8,000 tokens at 0.5/0.4/0.1 was planned at 183 ms p90 and simulated at 250 ms, and
    llama70b_chat's 800/1,500/3,000 at 377 ms against 267 ms. Against the event simulation of one
    H100 TP1·DP8 prefill server (ρ 0.3–0.85; those two mixes and Qwen3-235B's 2k/16k/60k): p90
    within −3 … +4 %, p99 +3 … +15 %, where the p-quantile prompt plus the wait's p-quantile read
    −26 … +62 % and −12 … +45 % (tests/test_simulate.py). Batching servers (B ≥ 2) keep that
    sum: a prompt there also rides its pass-mates' lengths, which this mixture leaves out (it read
    −13 … −28 % at B = 8, the sum −2 … −24 %). Bisection, per server."""
    rho = np.asarray(rho, dtype=float)
    f = np.array([v for v, _ in own_mix], dtype=float)
    p = np.array([w for _, w in own_mix], dtype=float)
    p = p / p.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(rho < 1, entry_s * (1.0 + cv2) / (2.0 * (1.0 - rho)), np.inf)
    own = pass_s[..., None] * f                                   # each prompt's pass, per server
    tail = 1.0 - q

    def above(x):
        t = x[..., None] - own
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            wait_tail = np.where(t < 0, 1.0, np.minimum(1.0, rho[..., None] * np.exp(-t / theta[..., None])))
        return (wait_tail * p).sum(axis=-1)

    lo = own.min(axis=-1) * (1.0 - 1e-12)                         # P(TTFT − fixed > lo) = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = own.max(axis=-1) + np.where(rho > tail, theta * np.log(np.maximum(rho, tail) / tail), 0.0)
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        ok = above(mid) <= tail
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return np.where(rho < 1, hi, np.inf)


def _bulk(stat: str, rho, batch, stages, pass_s, pass_one, cv2: float, len_factor: float) -> np.ndarray:
    over = rho > RHO_CEILING
    look = bulk_table.lookup(batch, pass_one / pass_s, np.minimum(rho, RHO_CEILING), stages)
    entry = pass_s / stages
    ridden = pass_s * look.ridden                    # the mean pass a prompt rides in (all stages)
    own = (len_factor - 1.0) * own_part_s(batch, pass_s, pass_one) if len_factor != 1.0 else 0.0
    spread = length_spread(rho, batch, pass_one / pass_s, cv2) if cv2 else 0.0
    if stat == "mean":
        val = entry * (look.wait + spread) + ridden + own
    else:
        wait = look.wait
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(wait > 0, look.wait_quantile(stat) / wait, 0.0)
        val = entry * (look.ttft_quantile(stat) + scale * spread) + own
    return np.where(over, np.inf, val)


def own_part_s(batch, pass_s, pass_one_s):
    """The part of a pass (all stages) that one mean-length prompt adds: D_B·(1 − r)/B of the
    affine pass D_k = D_B·(r + (1 − r)·k/B) through D_1 (`bulk_table.fixed_share`); a prompt f
    times the mean length lengthens the pass it rides in by (f − 1) times this."""
    batch = np.asarray(batch)
    return pass_s * (1.0 - bulk_table.fixed_share(batch, pass_one_s / pass_s)) / batch


def length_spread(rho, batch, one, cv2: float):
    """Extra mean wait, in units of T_B, from prompts of unequal length: a pass of k prompts lasts
    T_B·(r + (1 − r)·Σsᵢ/(B·s̄)), so its variance is k·((1 − r)·T_B/B)²·c². Added to the
    arrivals' variance in the queue's random walk (heavy traffic) and to the residual of a pass
    (light traffic) it gives ρ·c²·(1 − r)²/(2B(1 − ρ)), the Pollaczek–Khinchine term of affine
    passes at B = 1. A long pass also gathers more prompts into the next one, which a prompt that
    arrived during it rides: with passes proportional to their work, T' = work arriving during T,
    E[T²]/E[T] carries λ·E[S²]/(1 − ρ²), and a prompt waits out the residual of the pass it arrives
    in (half of that) and rides ρ times it, (1 + 2ρ)/(1 + ρ) times the P–K term in all. Only the
    part of a pass that grows with its prompts, (1 − r), feeds forward, and only while the next
    batch may grow (1 − 1/B; none at B = 1, where the P–K term is exact): the length term is
    1 + ρ/(1 + ρ)·(1 − r)·(1 − 1/B) times the P–K one. Against the event simulation of a 15:1 mix
    of 500- and 4,000-token prompts (c² = 1.39; 80 servers: a fixed part 0.5–50 ms, B = 2 to 32,
    ρ = 0.3 to 0.9) the mean TTFT is within −9.4 % … +5.0 %, median |error| 1.2 % (the P–K term
    alone: −24.4 % … +0.3 %, median 3.5 %, worst where the pass has no fixed part and B is large;
    tests/test_bulk_queue.py); the fixed-length chain alone is up to 31 % short."""
    r = bulk_table.fixed_share(batch, one)
    with np.errstate(divide="ignore", invalid="ignore"):
        pk = rho * cv2 * (1.0 - r) ** 2 / (2.0 * batch * (1.0 - rho))
        feed = 1.0 + rho / (1.0 + rho) * (1.0 - r) * (1.0 - 1.0 / np.asarray(batch, dtype=float))
        return np.where(rho < 1, pk * feed, np.inf)


def max_rho(stat: str, limit_s, s: Servers, fixed_s, cv2: float, len_factor: float,
            ceiling: float, scalar=max_utilisation, own_mix: tuple[tuple[float, float], ...] = ()) -> np.ndarray:
    """Largest ρ ≤ ceiling whose TTFT statistic is within `limit_s`, per server; 0 if none.

    `B = 1`: `queueing.max_utilisation` (closed form for the mean; quantiles through `scalar`, a
    memoised copy where the caller has one); `B ≥ 2`: the table's ρ grid
    scanned, then bisection on the same reading `ttft` uses, so a plan at the returned ρ meets
    the limit when verified."""
    limit = np.broadcast_to(np.asarray(limit_s, dtype=float), s.pass_s.shape)
    fixed = np.broadcast_to(np.asarray(fixed_s, dtype=float), s.pass_s.shape)
    out = np.zeros(s.pass_s.shape)
    one = s.batch == 1
    if one.any() and own_mix and stat != "mean":
        out[one] = _mixture_max_rho(QUANTILE[stat], limit[one] - fixed[one], s.entry_s[one], s.pass_s[one], cv2,
                                    own_mix, ceiling)
    elif one.any():
        budget = limit[one] - s.pass_s[one] * len_factor - fixed[one]
        out[one] = max_utilisation_many(budget, s.entry_s[one], stat, cv2, ceiling, scalar)
    many = ~one
    if many.any():
        sub = Servers(s.batch[many], s.stages[many], s.pass_s[many], s.pass_one_s[many])
        out[many] = _bulk_max_rho(stat, limit[many], sub, fixed[many], cv2, len_factor,
                                  min(ceiling, RHO_CEILING))
    return out


def _mixture_max_rho(q: float, budget, entry_s, pass_s, cv2: float, own_mix, ceiling: float) -> np.ndarray:
    """Largest ρ ≤ ceiling whose `mixture_quantile` is within `budget` (the limit less the fixed
    time), per server; 0 if none (the quantile grows with ρ: bisection)."""
    top = np.full(budget.shape, float(ceiling))
    at_top = mixture_quantile(q, top, entry_s, pass_s, cv2, own_mix) <= budget
    lo, hi = np.zeros(budget.shape), top.copy()
    feasible = mixture_quantile(q, lo, entry_s, pass_s, cv2, own_mix) <= budget
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        ok = mixture_quantile(q, mid, entry_s, pass_s, cv2, own_mix) <= budget
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(at_top, top, np.where(feasible, lo, 0.0))


def _bulk_max_rho(stat, limit, s: Servers, fixed, cv2, len_factor, ceiling) -> np.ndarray:
    def last_ok(rho, at=slice(None)):
        """Per point (of the rows `at`), the index of the last ρ of the row before its first failure (−1: none).
        `ttft` of servers of B ≥ 2 (all of them here) is `_bulk` + fixed, taken without broadcasting the
        servers to the ρ first: each server's terms once per row (the same floats per element)."""
        col = (s.batch[at, None], s.stages[at, None], s.pass_s[at, None], s.pass_one_s[at, None])
        ok = _bulk(stat, rho, *col, cv2, len_factor) + fixed[at, None] <= limit[at, None]
        ok = np.broadcast_to(ok, (len(col[0]), np.shape(rho)[-1]))
        return np.where(ok.all(axis=-1), ok.shape[1], np.argmin(ok, axis=-1)) - 1

    grid = sorted_unique(np.minimum(np.append(1.0 - np.exp(-bulk_table.XS), ceiling), ceiling))
    k = last_ok(grid[None, :])              # TTFT grows with ρ: the limit is crossed after grid[k]
    feasible = k >= 0
    lo = grid[np.maximum(k, 0)]
    # the crossing's cell, refined 16-fold four times, where it lies inside the grid (each point's
    # TTFT is its own: the rows outside it are left out)
    at = np.flatnonzero(feasible & (k < len(grid) - 1))
    lo_at, hi_at = lo[at], grid[k[at] + 1]
    steps = np.linspace(0.0, 1.0, 17)
    for _ in range(4 if len(at) else 0):
        sub = lo_at[:, None] + (hi_at - lo_at)[:, None] * steps[None, :]
        j = np.maximum(last_ok(sub, at), 0)   # sub[:, 0] = lo meets the limit
        lo_at = np.take_along_axis(sub, j[:, None], 1)[:, 0]
        hi_at = np.take_along_axis(sub, np.minimum(j + 1, 16)[:, None], 1)[:, 0]
    lo[at] = lo_at
    return np.where(feasible, lo, 0.0)
