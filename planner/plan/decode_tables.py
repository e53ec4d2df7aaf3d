"""The decode instances' slot tables (`slot_table`, read by `decode._within_slot_wait`), one shape's
alone or of many shapes at once (`slot_tables_all`: the shapes of one `physics.many.group_key` in
one `ShapeGroup.decode_steps` call per pass), each table remembered as the shape's own, the same
floats.
"""

from __future__ import annotations

from planner.physics import batched, perf
from planner.physics.batch_spread import feedback_batch, seen_statistic_batch
from planner.physics.many import ShapeGroup, group_key
from planner.physics.perf import Deployment
from planner.physics.queueing import no_wait_below
from planner.plan.candidate import recall, remember
from planner.plan.workload import WorkloadContext


def slot_table(dep: Deployment, w: WorkloadContext, slots: int, floor: float):
    """(first batch, TPOT a request sees, TPOT statistic, slot terms found so far) of
    `_within_slot_wait` for every mean batch from the no-wait bound to the slots, memoised per shape
    and workload but not per TPOT limit: the steps in one numpy call, the slot terms
    (`WorkloadContext.slot_tpot_s`) filled in as the bisections of successive limits ask for them.
    Elementwise arithmetic, so each entry is the float a search up to a lower batch computes."""
    key = slot_key(w, slots)
    hit = recall("_slot_table", dep, key)
    if hit is None:
        import numpy as np
        start = max(1, int(floor))
        pts = np.arange(start, slots + 1, dtype=float)
        per_step = perf.tokens_per_step(dep)
        seen = np.minimum(pts + 1.0, slots)       # the batch a request sees (`batch_seen`)
        b0 = pts + w.tpot_spread * np.sqrt(pts)   # the statistic's batch without feedback (ε's secant)
        steps = batched.decode_steps_many(dep, [pts, seen, *([b0] if w.tpot_spread else [])],
                                          w.ctx_decode)   # with the TPOT statistic's batches: one call
        t = steps[0].time_s / per_step
        t_seen = t_stat = steps[1].time_s / per_step
        if w.tpot_spread:   # the statistic's batch with the step's feedback (batch_spread.statistic_batch)
            b_q = seen_statistic_batch(pts, seen, feedback_batch(pts, w.tpot_spread, t, steps[-1].time_s / per_step),
                                       w.tpot_statistic, slots)   # itself and the others' quantile
            t_stat = batched.decode_steps(dep, b_q, w.ctx_decode).time_s / per_step
        hit = (start, t_seen.tolist(), t_stat.tolist(), {})
        remember("_slot_table", dep, key, hit)
    return hit


def slot_key(w: WorkloadContext, slots: int) -> tuple:
    """What a `slot_table` depends on beyond its deployment: the workload's decode side and the slots."""
    return (w.ctx_decode, w.tpot_spread, w.s_dec, w.p_dec, w.s_out_var, w.decode_lives, slots)


def slot_tables_all(items: list[tuple[Deployment, int]], w: WorkloadContext) -> None:
    """`slot_table` of every (deployment, slots) of `items` not yet memoised, remembered as it would
    be: the steps of the deployments of one `physics.many.group_key` (and tokens per step) in one
    `ShapeGroup.decode_steps` call per pass, each point the float of the deployment's own table (the
    same elementwise arithmetic, each point at its deployment's slots); others each alone."""
    import numpy as np
    todo: dict[tuple, list[tuple[Deployment, int]]] = {}
    for dep, slots in items:
        if recall("_slot_table", dep, slot_key(w, slots)) is None:
            key = group_key(dep)
            if key is None:
                slot_table(dep, w, slots, no_wait_below(slots))
            else:
                todo.setdefault((key, perf.tokens_per_step(dep)), []).append((dep, slots))
    for (_, per_step), group in todo.items():
        g = ShapeGroup([dep for dep, _ in group])
        starts = [max(1, int(no_wait_below(c))) for _, c in group]
        sizes = [c + 1 - s for s, (_, c) in zip(starts, group)]
        idx = np.repeat(np.arange(len(group)), sizes)
        pts = np.concatenate([np.arange(s, c + 1, dtype=float) for s, (_, c) in zip(starts, group)])
        slots = np.repeat(np.array([c for _, c in group], dtype=float), sizes)
        seen = np.minimum(pts + 1.0, slots)        # the batch a request sees (`batch_seen`)
        grids = [pts, seen, *([pts + w.tpot_spread * np.sqrt(pts)] if w.tpot_spread else [])]
        steps = batched.split(g.decode_steps(np.tile(idx, len(grids)), np.concatenate(grids), w.ctx_decode),
                              [len(pts)] * len(grids))
        t = steps[0].time_s / per_step
        t_seen = t_stat = steps[1].time_s / per_step
        if w.tpot_spread:   # as `slot_table`: the statistic's batch with the step's feedback
            b_q = seen_statistic_batch(pts, seen, feedback_batch(pts, w.tpot_spread, t, steps[-1].time_s / per_step),
                                       w.tpot_statistic, slots)
            t_stat = g.decode_steps(idx, b_q, w.ctx_decode).time_s / per_step
        cuts = np.cumsum(sizes)[:-1]
        for (dep, c), start, a, b in zip(group, starts, np.split(t_seen, cuts), np.split(t_stat, cuts)):
            remember("_slot_table", dep, slot_key(w, c), (start, a.tolist(), b.tolist(), {}))
