"""The decode instances' slot tables (`slot_table`, read by `decode._within_slot_wait`), one shape's
alone or of many shapes at once (`slot_tables_all`: the shapes of one `physics.many.group_key` in
one `ShapeGroup.decode_steps` call per pass), each table remembered as the shape's own, the same
floats.
"""

from __future__ import annotations

from planner.physics import batched, perf
from planner.physics.batch_spread import batch_seen, feedback_batch, seen_statistic_batch
from planner.physics.many import OneShape, ShapeGroup, group_key, shape_group
from planner.physics.perf import Deployment
from planner.physics.queueing import no_wait_below
from planner.plan.candidate import recall, remember
from planner.plan.workload import WorkloadContext


def slot_table(dep: Deployment, w: WorkloadContext, slots: int):
    """(first batch, TPOT a request sees, TPOT statistic, slot terms found so far) of
    `_within_slot_wait` for every mean batch from the no-wait bound to the slots, memoised per shape
    and workload but not per TPOT limit: the steps in one numpy call, the slot terms
    (`WorkloadContext.slot_tpot_s`) filled in as the bisections of successive limits ask for them.
    Elementwise arithmetic, so each entry is the float a search up to a lower batch computes."""
    hit = recall("_slot_table", dep, slot_key(w, slots))
    return hit if hit is not None else _tables(OneShape(dep), [slots], w)[0]


def slot_key(w: WorkloadContext, slots: int) -> tuple:
    """What a `slot_table` depends on beyond its deployment: the workload's decode side and the slots."""
    return (w.ctx_decode, w.tpot_spread, w.s_dec, w.p_dec, w.s_out_var, w.decode_lives, slots)


def slot_tables_all(items: list[tuple[Deployment, int]], w: WorkloadContext) -> None:
    """`slot_table` of every (deployment, slots) of `items` not yet memoised, remembered as it would
    be: the deployments of one `physics.many.group_key` (and tokens per step) in one `ShapeGroup`
    call per pass; others each alone."""
    todo: dict[tuple, list[tuple[Deployment, int]]] = {}
    for dep, slots in items:
        if recall("_slot_table", dep, slot_key(w, slots)) is None:
            key = group_key(dep)
            if key is None:
                slot_table(dep, w, slots)
            else:
                todo.setdefault((key, perf.tokens_per_step(dep)), []).append((dep, slots))
    for group in todo.values():
        _tables(shape_group([dep for dep, _ in group]), [c for _, c in group], w)


def _tables(g: ShapeGroup | OneShape, slots_of: list[int], w: WorkloadContext) -> list[tuple]:
    """The slot table of each deployment of `g` at its slots, remembered: every mean batch of each from
    its no-wait bound (`queueing.no_wait_below`) to its slots, the steps of all in one call per pass
    (the statistic's batches beside them), each point at its deployment's slots."""
    import numpy as np
    per_step = perf.tokens_per_step(g.deps[0])
    starts = [max(1, int(no_wait_below(c))) for c in slots_of]
    sizes = [c + 1 - s for s, c in zip(starts, slots_of)]
    idx = np.repeat(np.arange(len(slots_of)), sizes)
    pts = np.concatenate([np.arange(s, c + 1, dtype=float) for s, c in zip(starts, slots_of)])
    slots = np.repeat(np.array(slots_of, dtype=float), sizes)
    seen = np.minimum(pts + 1.0, slots)        # the batch a request sees (`batch_seen`)
    b0 = [pts + w.tpot_spread * np.sqrt(pts)] if w.tpot_spread else []   # the statistic's batch without feedback
    grids = [pts, *b0]
    steps = batched.split(g.decode_steps(np.tile(idx, len(grids)), np.concatenate(grids), w.ctx_decode, True),
                          [len(pts)] * len(grids))   # their times alone are read
    t = steps[0].time_s / per_step
    # the batch seen is the next point's (the last point's own at the slots): its step read there, not again
    ends = np.cumsum(sizes)
    nxt = np.arange(1, len(pts) + 1)
    nxt[ends - 1] -= 1
    t_seen = t_stat = t.take(nxt)
    if w.tpot_spread:   # the statistic's batch with the step's feedback (batch_spread.statistic_batch)
        b_q = seen_statistic_batch(pts, seen, feedback_batch(pts, w.tpot_spread, t, steps[-1].time_s / per_step),
                                   w.tpot_statistic, slots)   # itself and the others' quantile
        t_stat = g.decode_steps(idx, b_q, w.ctx_decode, True).time_s / per_step
    out = []
    cut = batched.parts
    for dep, c, start, a, b in zip(g.deps, slots_of, starts, cut(t_seen, sizes), cut(t_stat, sizes)):
        out.append((start, a.tolist(), b.tolist(), {}))
        remember("_slot_table", dep, slot_key(w, c), out[-1])
    return out


def final_steps_all(items: list[tuple[Deployment, int, int]], w: WorkloadContext) -> None:
    """The memo entries a decode candidate at mean batch b reads last (`decode._candidate_at`): the
    step at b (`perf.decode_step`) and the TPOT at the batch a request sees (`perf.tpot` at
    `batch_seen(b, slots)`), for every (deployment, b, slots) of `items` not yet memoised; the
    deployments of one `physics.many.group_key` (and tokens per step) in one `ShapeGroup.decode_steps`
    call, remembered under the keys `memoised` gives them (the floats of `batched`, which are
    `perf`'s: tests/test_batched.py). Others are left to `memoised`."""
    import numpy as np
    ctx = w.ctx_decode
    groups: dict[tuple, list[tuple[Deployment, str, object]]] = {}
    for dep, b, slots in items:
        key = group_key(dep)
        if key is None:
            continue
        todo = groups.setdefault((key, perf.tokens_per_step(dep)), [])
        seen = batch_seen(float(b), slots)
        if recall("tpot", dep, (seen, ctx)) is None:
            todo.append((dep, "tpot", seen))
        if recall("decode_step", dep, (b, ctx)) is None:
            todo.append((dep, "decode_step", b))
    for (_, per_step), todo in groups.items():
        if not todo:
            continue
        deps = list({id(d): d for d, _, _ in todo}.values())
        pos = {id(d): i for i, d in enumerate(deps)}
        steps = shape_group(deps).decode_steps(np.array([pos[id(d)] for d, _, _ in todo]),
                                               np.array([float(x) for _, _, x in todo]), ctx)
        tpots = (steps.time_s / per_step).tolist()
        for i, (dep, name, x) in enumerate(todo):
            remember(name, dep, (x, ctx), tpots[i] if name == "tpot" else steps.at(i))
