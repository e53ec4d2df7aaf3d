"""Queueing delay of a prefill server at utilisation ρ (M/G/1, Poisson arrivals).

Mean wait (Pollaczek–Khinchine): W = ρ·D·(1 + c²) / (2(1 − ρ)), with D the mean service
time and c² its squared coefficient of variation (0 for fixed-length prompts: M/D/1).
Tail (stated approximation, exponential tail of M/G/1 with the P–K decay rate):
P(W > t) ≈ ρ·exp(−2(1 − ρ)t / (D(1 + c²))), so the p-quantile is
W_p = D(1 + c²)/(2(1 − ρ)) · ln(ρ/(1 − p)) when ρ > 1 − p, else 0.
"""

from __future__ import annotations

import functools
import math

QUANTILE = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def wait_mean(rho: float, service_s: float, cv2: float = 0.0) -> float:
    """M/G/1 mean wait: ρ·D·(1 + c²)/(2(1 − ρ)); infinite at ρ ≥ 1.

    >>> wait_mean(0.5, 1.0)
    0.5
    """
    if rho <= 0:
        return 0.0
    if rho >= 1:
        return math.inf
    return rho * service_s * (1.0 + cv2) / (2.0 * (1.0 - rho))


def wait_quantile(rho: float, service_s: float, p: float, cv2: float = 0.0) -> float:
    """p-quantile of the wait: D(1 + c²)/(2(1 − ρ))·ln(ρ/(1 − p)) if ρ > 1 − p, else 0."""
    if rho <= 0 or rho <= 1.0 - p:
        return 0.0
    if rho >= 1:
        return math.inf
    return service_s * (1.0 + cv2) / (2.0 * (1.0 - rho)) * math.log(rho / (1.0 - p))


def wait(statistic: str, rho: float, service_s: float, cv2: float = 0.0) -> float:
    """Waiting time for a statistic name: 'mean' or 'p50'…'p99'."""
    if statistic == "mean":
        return wait_mean(rho, service_s, cv2)
    return wait_quantile(rho, service_s, QUANTILE[statistic], cv2)


def max_utilisation(budget_s: float, service_s: float, statistic: str, cv2: float = 0.0,
                    ceiling: float = 0.98) -> float:
    """Largest ρ ≤ ceiling with wait(ρ) ≤ budget_s; 0 if none.

    Mean: ρ·a/(1 − ρ) ≤ B with a = D(1 + c²)/2 gives ρ = B/(a + B); quantiles by bisection
    (the wait is increasing in ρ)."""
    if budget_s < 0:
        return 0.0
    if statistic == "mean":
        a = service_s * (1.0 + cv2) / 2.0
        return min(ceiling, budget_s / (a + budget_s)) if a > 0 else ceiling
    if wait(statistic, ceiling, service_s, cv2) <= budget_s:
        return ceiling
    lo, hi = 0.0, ceiling
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if wait(statistic, mid, service_s, cv2) <= budget_s:
            lo = mid
        else:
            hi = mid
    return lo


def closed_loop_response(clients: float, alone_s: float, busy_s: float, think_s: float) -> float:
    """Mean response time of a server cycled by `clients` requests in a closed loop (a serving
    benchmark at fixed concurrency): each request is served (prefill), then 'thinks' for
    `think_s` (its decode) and returns at once as a new request.

    Mean value analysis of the finite-source queue with service `busy_s` per request when
    requests queue (prompts packed into full passes) and `alone_s` for a request served alone:
        R(n) = alone + busy·Q(n−1),  X(n) = n/(R(n) + Z),  Q(n) = X(n)·R(n),  n = 1 … clients
    It tends to max(alone, clients·busy − Z) at both ends (the asymptotic bounds): no wait while
    the loop is decode-bound, the whole cycle spent queueing once prefill is the bottleneck.

    >>> closed_loop_response(1, 0.2, 0.1, 5.0)
    0.2
    >>> round(closed_loop_response(200, 0.2, 0.1, 5.0), 1)   # prefill-bound: 200·0.1 − 5 = 15 s
    15.1
    """
    n_full = int(clients)
    q, r = 0.0, alone_s
    for n in range(1, n_full + 1):
        r = alone_s + busy_s * q
        q = n * r / (r + think_s)
    frac = clients - n_full   # a fractional client count (per-worker shares): interpolate
    if frac > 0:
        r_next = alone_s + busy_s * q
        r = r + frac * (r_next - r) if n_full else alone_s
    return r


def slot_wait_s(offered, slots, hold_s, hold_cv2=1.0, hold_full_s=None, peak=1.0):
    """Mean wait for a batch slot (arrays or scalars): requests hold one of an engine's `slots`
    (the sequences its KV memory admits; vLLM `max_num_seqs`, SGLang `max_running_requests`)
    from their first prefill chunk to their last token, `hold_s` on average, and a prompt that
    finds every slot taken waits before it is prefilled, so the wait is part of its TTFT.

    M/G/c: Erlang C, P(wait) = c·B / (c − a(1 − B)) from the Erlang B recursion
    B_k = a·B_{k−1} / (k + a·B_{k−1}), mean wait W_M = P(wait)·hold / (c − a) (M/M/c). Fixed
    holds (M/D/c, Cosmetatos 1976): W_D = W_M/2 · (1 + (1 − ρ)(c − 1)(√(4 + 5c) − 2)/(16ρc)),
    ρ = a/c; between them cv²·W_M + (1 − cv²)·W_D, above cv² = 1 the Lee–Longton (1 + cv²)/2·W_M.
    Against a direct M/D/c simulation (4·10⁵ arrivals) at (a, c) = (12, 17), (16, 17), (65, 70),
    (8, 12), (1, 2), (3, 4), and M/M/c at the same points: within 7 %. `offered` a = arrival
    rate × hold (Erlangs); a ≥ c is an unstable queue (inf). Where a < c − 6√c − 6
    (`no_wait_below`) the chance to wait is below 1e-9 (Halfin–Whitt: φ(6)/6) and 0 is returned
    without computing Erlang B.

    `hold_full_s`: the mean hold while every slot is taken, when it is longer than `hold_s` (the
    hold at the mean load): an engine's step grows with its batch, so its requests leave more
    slowly the fuller it is, and more so while a backlog of prompts is prefilled. The queue is
    then the birth–death chain whose offered load a_n = λ·H(n) grows linearly from a at n = a
    to a_c = λ·hold_full at n = c and stays there above c (`state_dependent_wait_mm`); its M/M
    wait replaces W_M above, the M/D and cv² corrections unchanged. a_c ≥ c is unstable (inf):
    when full, requests leave more slowly than they come. The seed problem colocated on one H20
    TP8 instance at 0.7 req/s (a mean of 11.8 of its 17 slots, 17.0 s holds): its simulation waits
    0.92 s for a slot; the constant hold said 0.23 s, this 0.90 s (tests/test_slot_wait.py).

    `peak` z ≥ 1 (with `hold_full_s`): the occupancy's variance over its mean where Poisson's is 1
    (`slot_peakedness`); the queue is taken as z times a queue of c/z slots offered a/z Erlangs
    with the same holds (Hayward's approximation for peaked traffic: the same mean wait, its
    conditional wait z·H/(c − a)), the slots' count left fractional; the holds' cv² enters for the
    Poisson share of the variance, 1 + (cv² − 1)/z: the excess drains as M/M. Four simulated pools
    near their slots, their blocked prompts' extra wait measured over two seeds (Llama-3.1-70B on
    H200 and 8B on L40S, holds of 9–33 s, cv² 0.4–1.4; Qwen3-235B and gpt-oss-120b, 0.6–1.5 s,
    cv² 4): 0.81–1.14 times z·H/(c − a), where Lee–Longton's (1 + cv²)/2 on it read 2.6 times theirs.

    >>> round(float(slot_wait_s(1.0, 2, 1.0)), 4)   # M/M/2 at a = 1: C = 1/3, W = C/(c − a)
    0.3333
    >>> round(float(slot_wait_s(1.0, 2, 1.0, 1.0, 1.0)), 4)   # a constant hold: the same queue
    0.3333
    """
    if hold_full_s is not None:
        args = (offered, slots, hold_s, hold_cv2, hold_full_s, peak)
        if all(isinstance(x, (int, float)) and math.isfinite(x) for x in args):   # one queue (a decode
            return _state_dependent_scalar(*map(float, args))   # shape's batch search): its floats alone
        return _state_dependent(*args)
    if all(isinstance(x, (int, float)) for x in (offered, slots, hold_s, hold_cv2)):
        return _slot_wait_scalar(float(offered), float(slots), float(hold_s), float(hold_cv2))
    import numpy as np
    a = np.asarray(offered, dtype=float)
    c = np.asarray(slots, dtype=float)
    a, c, hold, cv2 = np.broadcast_arrays(a, np.floor(c), np.asarray(hold_s, dtype=float),
                                          np.asarray(hold_cv2, dtype=float))
    out = np.where(a >= c, np.inf, 0.0)
    near = np.flatnonzero((a < c) & (a > no_wait_below(c, np.sqrt)) & (a > 0))
    if len(near):
        an, cn = a.flat[near], np.floor(c.flat[near])
        lee, mixed = _mgc_waits(an, cn, erlang_b(an, cn), hold.flat[near], cv2.flat[near], np.sqrt)
        out.flat[near] = np.where(cv2.flat[near] >= 1.0, lee, mixed)
    return out if out.ndim else float(out)


NO_WAIT_SIGMAS = 6.0   # below c − 6√c − 6 offered Erlangs the chance to wait is under 1e-9 (φ(6)/6)


def no_wait_below(slots, sqrt=math.sqrt, growth=0.0):
    """Offered load below which `slot_wait_s` is 0: c − 6√c − 6 (floats, or arrays with np.sqrt).
    `growth` s ∈ [0, 1): the most the offered load grows per slot filled (`slot_wait_s` with
    `hold_full_s`, s = (a_full − a)/(c − a)), which widens the occupancy's spread to √(c/(1 − s)):
    c − 6√(c/(1 − s)) − 6 (at s = 0 the same floats: c/1.0 is c)."""
    return slots - NO_WAIT_SIGMAS * sqrt(slots / (1.0 - growth)) - NO_WAIT_SIGMAS


def slot_peakedness(prefill_share, lives: tuple[tuple[float, float], ...]):
    """Variance over mean of a colocated engine's busy slots (1 for Poisson's M/G/∞ count) that
    its wait for a slot sees, from the prompts' prefill work, which slows every sequence's steps
    (numpy arrays or floats).

    A prompt that arrives adds its prefill to the steps of every sequence in flight, so a burst of
    arrivals both adds sequences and makes all of them live longer, which lets more arrive before
    they leave. With ρ the share of the engine's time in prefill work (1 − decode step ÷ mean
    step), a life meeting δN more arrivals than the mean holds their prefill too, which meets more
    again: the count in flight moves by δN/(1 − ρ), over-dispersed by D = 1/(1 − ρ)² = 1 + 2ρ + 3ρ²
    + … (the bursts of `colocated.burst_batch`, without their prompt-length term). The waits do
    not show its first-order part 2ρ: the seed problem colocated on one H20 TP8 instance (ρ = 0.06,
    12.5 of 17 slots) waits 0.95 s in simulation, 0.93 s planned without it and 1.27 s with it (at
    the slots a prompt that finds them taken does not prefill, so a burst stops lengthening lives
    where the queue forms). The second-order part, grown by the same cascade, 3ρ²·D, is counted;
    lives of different lengths share it as two sequences share a window, g = E[min(L, L′)]/E[L]
    (1 for one length): z = 1 + 3g·ρ²/(1 − ρ)². Fitted against 19 simulated pools near their slots
    (of Llama-3.1-8B/70B, Qwen3-32B/235B, gpt-oss-120b): Llama-3.1-70B on H200 TP4 at 1,000/4,000-
    token prompts and 200/1,000-token answers (ρ = 0.48, g = 2/3, 174 of 223 slots) has z = 2.7
    and waits 104 ms for a slot where the simulation waits 144 ms and the Poisson count 1 ms.

    >>> round(float(slot_peakedness(0.5, ((100.0, 1.0),))), 3)   # 3·¼/¼ = 3 beyond Poisson's 1
    4.0
    """
    import numpy as np
    rho = np.clip(np.asarray(prefill_share, dtype=float), 0.0, 0.95)
    out = 1.0 + 3.0 * rho**2 / (1.0 - rho) ** 2 * _life_overlap(tuple(lives))
    return out if out.ndim else float(out)


@functools.lru_cache(maxsize=256)
def _life_overlap(lives: tuple[tuple[float, float], ...]) -> float:
    """E[min(L, L′)]/E[L] over `lives` ((length, share)), two lengths drawn independently: the
    integral of the survival function squared over its integral (1 for one length, ½ exponential)."""
    ordered = sorted((n, p) for n, p in lives if p > 0)
    total = sum(p for _, p in ordered)
    if total <= 0 or ordered[-1][0] <= 0:
        return 1.0
    surv, prev, both, mean = 1.0, 0.0, 0.0, 0.0
    for n, p in ordered:   # S(x) is constant between consecutive lengths
        both += surv * surv * (n - prev)
        mean += surv * (n - prev)
        surv, prev = max(surv - p / total, 0.0), n
    return both / mean


def state_dependent_wait_mm(a: float, c: float, hold: float, a_full: float) -> float:
    """Mean wait of the M/M/c-like birth–death chain whose offered load grows with occupancy:
    arrivals at λ = a/hold, departures at n/H(n) in state n ≤ c and c/H(c) above, with
    a_n = λ·H(n) = a + s·(n − a), s = (a_full − a)/(c − a) ∈ [0, 1). Relative to state c,
    p_{c−j}/p_c = Π_{i<j} (c − i)/a_{c−i} (summed to 1/B' as `erlang_b` sums Erlang B) and
    p_{c+k} = p_c·ρ^k with ρ = a_full/c, so p_c = 1/(1/B' − 1 + 1/(1 − ρ)) and the mean queue
    L_q = p_c·ρ/(1 − ρ)², W = L_q/λ. With a_full = a it is Erlang C's C·hold/(c − a).

    >>> round(state_dependent_wait_mm(1.0, 2.0, 1.0, 1.0), 4)   # Erlang C: M/M/2 at a = 1
    0.3333
    """
    if a <= 0:
        return 0.0
    rho = a_full / c
    if a >= c or rho >= 1.0:
        return math.inf
    s = (a_full - a) / (c - a)
    terms = int(min(c, math.ceil(c - a + 9.0 * math.sqrt(a / (1.0 - s)) + 10.0)))
    if terms > CHAIN_LOOP_TERMS:   # the same operations in numpy, whose accumulations run in order, on one
        # array in place (~1,700 terms a chain, 5,600 chains in the 4 × 12 fleet)
        import numpy as np
        n = c - _counts(terms)
        r = n - a
        r *= s
        r += a                      # a + s·(n − a)
        np.maximum(r, 0.1 * a, out=r)
        np.divide(n, r, out=r)
        np.multiply.accumulate(r, out=r)
        total = float(np.add.accumulate(r, out=r)[-1])
    else:
        total, term = 0.0, 1.0
        for i in range(terms):
            n = c - i
            term *= n / max(a + s * (n - a), 0.1 * a)
            total += term
    inv_b = 1.0 + total
    p_c = 1.0 / (inv_b - 1.0 + 1.0 / (1.0 - rho))
    return p_c * rho / (1.0 - rho) ** 2 * hold / a


CHAIN_LOOP_TERMS = 32   # a shorter chain of `state_dependent_wait_mm` runs faster as a float loop
_counts_kept: dict = {}


def _counts(n: int):
    """0., 1., …, n − 1. as a float array: a read-only view of one kept array, grown as chains ask for more."""
    kept = _counts_kept.get("all")
    if kept is None or len(kept) < n:
        import numpy as np
        kept = _counts_kept["all"] = np.arange(max(n, 4096, 2 * len(kept) if kept is not None else 0), dtype=float)
        kept.flags.writeable = False
    return kept[:n]


def _state_dependent(offered, slots, hold_s, hold_cv2, hold_full_s, peak=1.0):
    """`slot_wait_s` with a hold that grows to `hold_full_s` at full slots, per element."""
    import numpy as np
    a, c, hold, cv2, full, z = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                                     (offered, slots, hold_s, hold_cv2, hold_full_s, peak)))
    c = np.floor(c)
    out = np.where(a >= c, np.inf, 0.0)
    az, cz = a / z, c / z   # the peaked queue's equivalent (`_state_dependent_scalar`)
    # the chain only where a wait is possible (the scalar's own tests, at once): most points of a
    # candidate grid are far from their slots
    with np.errstate(divide="ignore", invalid="ignore"):
        a_full = np.maximum(a, a * full / np.where(hold > 0, hold, np.inf))
        s = np.where(c > a, (a_full - a) / (c - a), 0.0)
        near = (a < c) & (a > 0) & (hold > 0) & ((a_full >= c) | (az > no_wait_below(cz, np.sqrt, s)))
    k = np.flatnonzero(near)
    if len(k):
        out.flat[k] = state_dependent_many(a.flat[k], c.flat[k], hold.flat[k], cv2.flat[k], full.flat[k], z.flat[k])
    return out if out.ndim else float(out)


def state_dependent_many(a, c, hold, cv2, full, peak):
    """`_state_dependent_scalar` of every element (1-D arrays of finite floats, as `_state_dependent`
    passes them): each queue's tests, its peaked equivalent and its chain (`state_dependent_wait_mm`)
    in the scalar's operations and order, the chains of all queues as rows of one cumulative product
    and sum (blocked by their term counts, as `erlang_b`), so each element is the float the scalar
    returns. A fleet's colocated chunk queue asks ~23,000 such chains at once, which one by one
    were a tenth of a cold run's candidates."""
    import numpy as np
    c = np.floor(c)
    out = np.where(a >= c, np.inf, 0.0)
    live = (a < c) & (a > 0) & (hold > 0)
    z = peak[live]
    one = z == 1.0   # z times the queue of c/z slots at a/z Erlangs (Hayward), as the scalar takes it
    a, c, hold = np.where(one, a[live], a[live] / z), np.where(one, c[live], c[live] / z), hold[live]
    cv2 = np.where(one, cv2[live], 1.0 + (cv2[live] - 1.0) / z)
    a_full = np.maximum(a, a * full[live] / hold)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(c > a, (a_full - a) / (c - a), 0.0)
        rho = a_full / c
        wait = (a_full < c) & ~(a <= no_wait_below(c, np.sqrt, s))   # else inf, or 0 (no wait)
        val = np.where(a_full >= c, np.inf, 0.0)
        val[wait & (rho >= 1.0)] = np.inf   # `state_dependent_wait_mm`'s own test
        chain = np.flatnonzero(wait & (rho < 1.0))
    if len(chain):
        ac, cc, sc, rc = a[chain], c[chain], s[chain], rho[chain]
        total = _chain_sums(ac, cc, sc, np.minimum(cc, np.ceil(cc - ac + 9.0 * np.sqrt(ac / (1.0 - sc)) + 10.0)))
        inv_b = 1.0 + total
        p_c = 1.0 / (inv_b - 1.0 + 1.0 / (1.0 - rc))
        free2 = np.array([x ** 2 for x in (1.0 - rc).tolist()], dtype=float)   # Python's power, as the scalar's
        lee, mixed = _held_waits(p_c * rc / free2 * hold[chain] / ac, ac, cc, cv2[chain], np.sqrt)
        val[chain] = np.where(cv2[chain] >= 1.0, lee, mixed)
    out[live] = val
    return out


def _chain_sums(a, c, s, terms):
    """Σ_{j<terms} Π_{i≤j} (c − i)/max(a + s·(c − i − a), 0.1·a) of each row: the sum of
    `state_dependent_wait_mm`, a row's products and sums in order (its own terms only)."""
    import numpy as np

    def ratio_of(sl, i):   # the operations above on one array in place: a + s·(n − a) as (n − a)·s + a
        n, a_sl = c[sl, None] - i, a[sl, None]
        r = n - a_sl
        r *= s[sl, None]
        r += a_sl
        np.maximum(r, 0.1 * a_sl, out=r)
        return np.divide(n, r, out=r)
    return blocked_chain_sums(ratio_of, terms)


def blocked_chain_sums(ratio_of, terms):
    """Σ_{j<terms[r]} Π_{i≤j} ratio[r, i] of each row r (0 for a row of no terms), `ratio_of(rows, i)`
    giving the ratios of rows `rows` at i = 0, 1, …: each row's products and sums in order, so its
    value does not depend on the rows beside it, in blocks of ERLANG_ROWS_PER_BLOCK rows sorted by
    their term counts (a 17-term row beside a 51,607-term one was 2,900 columns wide). A product
    past the largest float is inf, and so is its sum."""
    import numpy as np
    terms = np.asarray(terms).astype(np.int64)
    out = np.zeros(len(terms))
    order = np.argsort(terms, kind="stable")
    order = order[terms[order] > 0]
    for lo in range(0, len(order), ERLANG_ROWS_PER_BLOCK):
        sl = order[lo:lo + ERLANG_ROWS_PER_BLOCK]
        sums = ratio_of(sl, _counts(int(terms[sl].max())))   # a new array, accumulated in place
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply.accumulate(sums, axis=1, out=sums)
            np.add.accumulate(sums, axis=1, out=sums)
        out[sl] = sums[np.arange(len(sl)), terms[sl] - 1]
    return out


@functools.lru_cache(maxsize=65536)
def _state_dependent_scalar(a: float, c: float, hold: float, cv2: float, full: float, peak: float = 1.0) -> float:
    c = math.floor(c)
    if a >= c:
        return math.inf
    if a <= 0 or hold <= 0:
        return 0.0
    if peak != 1.0:   # z times the queue of c/z slots at a/z Erlangs: the same mean wait (Hayward); the
        # holds' spread counts for the Poisson share 1/z of the occupancy's variance alone
        a, c, cv2 = a / peak, c / peak, 1.0 + (cv2 - 1.0) / peak
    a_full = max(a, a * full / hold)
    if a_full >= c:
        return math.inf
    s = (a_full - a) / (c - a) if c > a else 0.0
    if a <= no_wait_below(c, growth=s):
        return 0.0
    lee, mixed = _held_waits(state_dependent_wait_mm(a, c, hold, a_full), a, c, cv2, math.sqrt)
    return lee if cv2 >= 1.0 else mixed


def _mgc_waits(a, c, b, hold, cv2, sqrt):
    """(Lee–Longton wait, M/M–M/D interpolated wait) from Erlang B `b`: the formulas of
    `slot_wait_s`, the same operations for floats and arrays."""
    return _held_waits(c * b / (c - a * (1.0 - b)) * hold / (c - a), a, c, cv2, sqrt)


def _held_waits(w_m, a, c, cv2, sqrt):
    """(Lee–Longton wait, M/M–M/D interpolated wait) from the M/M wait `w_m` (Erlang C's, or the
    growing-hold chain's): the hold's spread cv² and the Cosmetatos correction for fixed holds."""
    rho = a / c
    w_d = w_m / 2.0 * (1.0 + (1.0 - rho) * (c - 1.0) * (sqrt(4.0 + 5.0 * c) - 2.0) / (16.0 * rho * c))
    return (1.0 + cv2) / 2.0 * w_m, cv2 * w_m + (1.0 - cv2) * w_d


def _slot_wait_scalar(a: float, c: float, hold: float, cv2: float) -> float:
    """`slot_wait_s` of one queue in floats (the candidates' batch search calls it per batch)."""
    c = math.floor(c)   # whole slots first: 2.5 slots at 2.3 Erlangs is 2 slots, unstable
    if a >= c:
        return math.inf
    if a <= 0 or a <= no_wait_below(c):
        return 0.0
    terms = int(min(c, math.ceil(max(c - a, 0.0) + 9.0 * math.sqrt(a) + 10.0)))   # as `erlang_b` cuts its sum
    lee, mixed = _mgc_waits(a, c, _erlang_b_sum(a, c, terms), hold, cv2, math.sqrt)
    return lee if cv2 >= 1.0 else mixed


def erlang_b(offered, slots):
    """Erlang B blocking probability B(c, a) per element (arrays of a > 0 and whole c ≥ 1), from
    1/B = Σ_{j=0..c} Π_{i<j} (c − i)/a (the recursion B_k = a·B_{k−1}/(k + a·B_{k−1}) unrolled).
    The terms rise while c − i > a and then fall as a Gaussian of width √a, so the sum stops
    9√a + 10 terms past c − a (the rest is below e^(−40) of it): for a near c that is ~15√c terms
    however many slots a wide instance has, summed as a cumulative product in blocks of rows
    instead of a loop of c steps. Rows are blocked in order of their term count, so that a block
    pads few of its rows (a 17-slot row beside a 51,607-slot one was 2,900 columns wide).

    >>> [round(float(x), 6) for x in erlang_b([1.0, 100.0], [2.0, 110.0])]   # 1/5 by hand; the full recursion
    [0.2, 0.027463]
    """
    import numpy as np
    a = np.asarray(offered, dtype=float).ravel()
    c = np.asarray(slots, dtype=float).ravel()
    terms = np.minimum(c, np.ceil(np.maximum(c - a, 0.0) + 9.0 * np.sqrt(a) + 10.0))
    # each row's products and sums in order (those of the float loop `_erlang_b_sum`), its own terms only:
    # padded with zeros to its block's longest row, a row whose product passed the largest float read
    # inf·0 = NaN (B(200 slots, 1 Erlang) was NaN beside a 400-slot row, 0 alone)
    total = blocked_chain_sums(lambda sl, i: (c[sl, None] - i) / a[sl, None], terms)
    return (1.0 / (1.0 + total)).reshape(np.shape(offered))


ERLANG_ROWS_PER_BLOCK = 64    # rows of `erlang_b`'s cumulative product at once (memory ~ rows × 15√c floats)


ERLANG_LOOP_TERMS = 128   # a shorter sum runs faster as a float loop than as two numpy calls


@functools.lru_cache(maxsize=65536)
def _erlang_b_sum(a: float, c: float, terms: int) -> float:
    """`erlang_b` of one element, the same operations in the same order: a float loop, or for a
    long sum the same cumulative product and sum in numpy (whose accumulations run in order).
    Memoised by its arguments' values (a decode shape's batch search asks the same queue again
    under each TPOT limit)."""
    if terms > ERLANG_LOOP_TERMS:
        import numpy as np
        ratio = (c - np.arange(terms, dtype=float)) / a
        return 1.0 / (1.0 + float(np.cumsum(np.cumprod(ratio))[-1]))
    total, term = 0.0, 1.0
    for i in range(terms):
        term *= (c - i) / a
        total += term
    return 1.0 / (1.0 + total)
