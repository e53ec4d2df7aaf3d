"""How noisy the measurements are by themselves: the floor any model of them meets.

Two views, both model-free:
- smoothness in concurrency: inside one configuration (everything but the concurrency equal),
  each interior point against the log-log interpolation of its two neighbours in concurrency,
  |interpolated/measured − 1|. A smooth curve gives 0; it measures the point-to-point scatter a
  model that is right for the configuration would still see (an upper bound: real curvature
  counts too).
- repeats: the same configuration at the same concurrency measured more than once (e.g. under
  two labels the loader keeps), |later/first − 1|.

What the cross-validated error adds beyond these is between configurations (levels that the
recorded columns do not explain), docs/model.md "The error".
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from planner.fidelity.points import Point, Quantity


def _config(p: Point) -> tuple:
    """Everything recorded about a point's configuration except its concurrency and batch."""
    return (p.model, p.gpu, p.engine, p.weight_dtype, p.mode, p.par, p.prefill_par, p.isl, p.osl,
            p.cached_fraction, p.tokens_per_step, p.prefill_workers)


def concurrency_smoothness(points: list[Point], quantity: Quantity) -> np.ndarray:
    """|interpolated/measured − 1| of every interior point of each configuration's concurrency
    curve (the log-log line through its two neighbours); repeated concurrencies count once (the
    first).

    >>> from planner.fidelity.points import Point
    >>> from planner.physics.perf import Parallelism
    >>> def pt(c, v): return Point(f"x{c}", "", "", "measured", "m", "g", "e", "", "bf16", "bf16", "agg",
    ...                          Parallelism(1, 1, 1), 1024.0, 128.0, c, c, measured={"ttft_s": v})
    >>> concurrency_smoothness([pt(1, 0.1), pt(4, 0.2), pt(16, 0.4)], "ttft_s")   # v ∝ √c: smooth
    array([0.])
    >>> concurrency_smoothness([pt(1, 0.1), pt(4, 0.25), pt(16, 0.4)], "ttft_s").round(3)
    array([0.2])
    """
    curves: dict[tuple, dict[float, float]] = defaultdict(dict)
    for p in points:
        v = p.measured.get(quantity)
        if v is not None and v > 0:
            curves[_config(p)].setdefault(p.concurrency, v)
    out: list[float] = []
    for curve in curves.values():
        cs = sorted(curve)
        for c0, c1, c2 in zip(cs, cs[1:], cs[2:]):
            t = (math.log(c1) - math.log(c0)) / (math.log(c2) - math.log(c0))
            interp = math.exp(math.log(curve[c0]) + t * (math.log(curve[c2]) - math.log(curve[c0])))
            out.append(abs(interp / curve[c1] - 1.0))
    return np.array(out)


def repeat_spread(points: list[Point], quantity: Quantity) -> np.ndarray:
    """|later/first − 1| over the repeated measurements of one configuration at one concurrency."""
    first: dict[tuple, float] = {}
    out: list[float] = []
    for p in points:
        v = p.measured.get(quantity)
        if v is None or v <= 0:
            continue
        key = (*_config(p), p.concurrency, p.batch)
        if key in first:
            out.append(abs(v / first[key] - 1.0))
        else:
            first[key] = v
    return np.array(out)
