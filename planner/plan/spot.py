"""Spot nodes under interruptions: how many are down at a chosen confidence.

Each of n spot nodes is down (interrupted, awaiting a replacement) with probability q,
independently, so the number down is Binomial(n, q). At confidence c the plan holds its cards on
the nodes still up when the number down is at its c-quantile. Pure functions.
"""

from __future__ import annotations

import math

MAX_SPOT_NODES = 256   # spot nodes of one type in one period modelled with a confidence


def down_quantile(n: int, q: float, confidence: float) -> int:
    """Smallest d with P(Binomial(n, q) ≤ d) ≥ confidence: the nodes down at that confidence.

    >>> down_quantile(10, 0.1, 0.5), down_quantile(10, 0.1, 0.9), down_quantile(0, 0.1, 0.9)
    (1, 2, 0)
    """
    if n <= 0 or q <= 0:
        return 0
    cdf = 0.0
    for d in range(n + 1):
        cdf += math.comb(n, d) * q**d * (1.0 - q) ** (n - d)
        if cdf >= confidence - 1e-12:
            return d
    return n


def up_at(n: int, q: float, confidence: float) -> int:
    """Spot nodes up at that confidence: n − down_quantile(n, q, confidence)."""
    return n - down_quantile(n, q, confidence)


def nodes_for(up: int, q: float, confidence: float, cap: int = MAX_SPOT_NODES) -> int:
    """Fewest spot nodes with at least `up` of them up at that confidence (at most `cap`: beyond
    it, `cap`)."""
    n = up
    while n < cap and up_at(n, q, confidence) < up:
        n += 1
    return min(n, cap)
