"""The colocated grids of many shapes of a service in one pass over arrays.

One shape's batch × chunk-multiple grid (20–60 points) costs some hundred small numpy calls, so a
fleet's ~1,600 grids cost their calls' overhead, not arithmetic. `tables` hands the shapes that
share a `physics.many.group_key` and whose memory slots take the same branches to
`colocated_table.grid_tables` as one `ShapeGroup` (each shape's scalars — its deployment's terms,
its memory slots — broadcast to its points), which runs each formula once over all their points
and cuts the result into each shape's table: the code `table` runs for one shape, so every value
is the same float (tests/test_many_shapes.py). Shapes `physics.many` does not take go through
`table` alone.
"""

from __future__ import annotations

import math

from planner.physics import perf
from planner.physics.many import group_key, shape_group
from planner.physics.perf import Deployment
from planner.plan.colocated_table import ColocatedTable, grid_tables, table
from planner.plan.workload import WorkloadContext


def tables(deps: list[Deployment], w: WorkloadContext, mem_limits: list[int],
           tpot_cut_s: float = math.inf) -> list[ColocatedTable]:
    """`table(deps[k], w, mem_limits[k], tpot_cut_s)` of every k (each mem_limits[k] ≥ 1), in order: shapes
    of one `group_key`, the same speculation's tokens per step and the same side of one memory slot
    evaluated together."""
    out: list[ColocatedTable | None] = [None] * len(deps)
    groups: dict[tuple, list[int]] = {}
    for k, dep in enumerate(deps):
        key = group_key(dep)
        if key is None:
            out[k] = table(dep, w, mem_limits[k], tpot_cut_s)
        else:
            groups.setdefault((key, perf.tokens_per_step(dep), mem_limits[k] > 1), []).append(k)
    for ks in groups.values():
        for k, t in zip(ks, grid_tables(shape_group([deps[k] for k in ks]), w, [mem_limits[k] for k in ks],
                                               tpot_cut_s)):
            out[k] = t
    return out
