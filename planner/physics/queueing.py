"""Queueing delay of a prefill server at utilisation ρ (M/G/1, Poisson arrivals).

Mean wait (Pollaczek–Khinchine): W = ρ·D·(1 + c²) / (2(1 − ρ)), with D the mean service
time and c² its squared coefficient of variation (0 for fixed-length prompts: M/D/1).
Tail (stated approximation, exponential tail of M/G/1 with the P–K decay rate):
P(W > t) ≈ ρ·exp(−2(1 − ρ)t / (D(1 + c²))), so the p-quantile is
W_p = D(1 + c²)/(2(1 − ρ)) · ln(ρ/(1 − p)) when ρ > 1 − p, else 0.
"""

from __future__ import annotations

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
