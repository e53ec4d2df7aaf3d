"""The Pareto set of operating points of one shape (candidates keep only these)."""

from __future__ import annotations


def pareto_front(prefill, decode):
    """Indices (in their order) of the points no other matches or beats on both prefill and decode
    capacity (same shape, so same cost); of exact ties the first is kept. Sort by prefill then
    decode, both descending, ties by index: a point is dominated exactly when one before it in
    that order has at least its decode capacity."""
    import numpy as np
    n = len(prefill)
    order = np.lexsort((np.arange(n), -decode, -prefill))
    d = decode[order]
    best_before = np.maximum.accumulate(np.concatenate(([-np.inf], d[:-1])))
    return np.sort(order[~(best_before >= d)])
