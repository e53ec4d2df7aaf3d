"""The colocated grids of many shapes of a service in one pass over arrays.

`colocated_table.table` evaluates one shape's batch × chunk-multiple grid (20–60 points) with some
hundred small numpy calls, so a fleet's ~1,600 grids cost their calls' overhead, not arithmetic.
`tables` concatenates the grids of every shape that shares a `physics.many.group_key` and whose
memory slots take the same branches, runs each formula once over all their points (each shape's
scalars — its deployment's terms, its memory slots — broadcast to its points by `ShapeGroup`) and
cuts the result into the tables `table` returns: every point sees the operations `table` applies
to it, in the same order, so every value is the same float (tests/test_many_shapes.py). Shapes
`physics.many` does not take are evaluated by `table` alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.physics import batched, packed, perf
from planner.physics.batch_spread import (
    backlog_cumulants,
    chunk_cross,
    chunk_cumulants,
    elasticity,
    feedback_gain,
    tpot_offset,
)
from planner.physics.colocated import burst_batch, chunk_share_seen
from planner.physics.many import ShapeGroup, group_key
from planner.physics.perf import Deployment
from planner.plan.colocated_table import CHUNK_MULTIPLES, ColocatedTable, grid_means, table
from planner.plan.workload import WorkloadContext


def tables(deps: list[Deployment], w: WorkloadContext, mem_limits: list[int]) -> list[ColocatedTable]:
    """`table(deps[k], w, mem_limits[k])` of every k (each mem_limits[k] ≥ 1), in order: shapes of one
    `group_key`, the same speculation's tokens per step and the same side of one memory slot
    evaluated together."""
    out: list[ColocatedTable | None] = [None] * len(deps)
    groups: dict[tuple, list[int]] = {}
    for k, dep in enumerate(deps):
        key = group_key(dep)
        if key is None:
            out[k] = table(dep, w, mem_limits[k])
        else:
            groups.setdefault((key, perf.tokens_per_step(dep), mem_limits[k] > 1), []).append(k)
    for ks in groups.values():
        for k, t in zip(ks, _group_tables(ShapeGroup([deps[k] for k in ks]), w, [mem_limits[k] for k in ks])):
            out[k] = t
    return out


def _group_tables(g: ShapeGroup, w: WorkloadContext, limits: list[int]) -> list[ColocatedTable]:
    """`table` of each deployment of `g` at its memory slots, the grids evaluated together."""
    ks = len(CHUNK_MULTIPLES)
    n = len(limits)
    tps = perf.tokens_per_step(g.deps[0])
    per_shape = [grid_means(w, c) for c in limits]
    counts = np.array([len(m) for m in per_shape])
    means = np.array([x for m in per_shape for x in m], dtype=float)
    m_shape = np.repeat(np.arange(n), counts)               # each mean's shape
    lim_m = np.repeat(np.array(limits), counts)
    runs = np.minimum(means + 1.0, lim_m)                   # the batch a request sees (`batch_seen`)
    bs = np.repeat(means, ks)
    run = np.repeat(runs, ks)
    lim = np.repeat(lim_m, ks)
    shape = np.repeat(m_shape, ks)                          # each point's shape
    mult = np.tile(np.array(CHUNK_MULTIPLES), len(means))
    p = np.maximum(1.0, bs * w.s_unc / max(w.s_dec, 1e-9) * mult)
    budget = float(w.pass_token_budget)
    chunk = np.minimum(budget, np.maximum(w.s_unc, p))
    share = np.minimum(1.0, p / chunk)
    used = np.where(share < 1, chunk, p)
    spread = bool(w.tpot_spread) and limits[0] > 1
    b_stat = bs + w.tpot_spread * np.sqrt(bs) if spread else run
    b_seen = np.minimum(run + b_stat - bs, lim)
    fit = np.flatnonzero(b_stat <= lim)
    chunk_c = np.ceil(chunk[fit])
    mixed, *rest = _mixed(g, [(shape, run, used), *([(shape, b_seen, used)] if spread else []),
                              (shape[fit], bs[fit], chunk_c)], w.ctx_decode, w.s_in, w.cv2)
    dec_m, *dec_rest, at_slots = _decode(g, [(m_shape, runs), *([(shape, b_seen)] if spread else []),
                                             (np.arange(n), np.array(limits, dtype=float))], w.ctx_decode)
    per_mean = np.repeat(np.arange(len(means)), ks)
    dec = dec_m.take(per_mean)
    packs = bool(w.prompt_mix)
    n_max = float(w.pass_token_budget) / w.s_unc if packs else None
    if packs:
        def mixed_times(chunks, prompt, cv2):
            return [s.time_s for s in _mixed(g, [(m_shape, runs, c) for c in chunks], w.ctx_decode, prompt, cv2)]
        lone, inc, ratio = (x.take(per_mean) for x in packed.lone_parts_by(
            mixed_times, len(runs), dec_m.time_s, w.prompt_mix, float(w.pass_token_budget), w.s_unc, w.s_in, w.cv2))
        d_w = dec.time_s - mixed.time_s + used / w.s_unc * packed.effective_work(lone, inc, p / w.s_unc,
                                                                                 dec.time_s, ratio)
        mixed = replace(mixed, time_s=mixed.time_s + d_w, compute_s=mixed.compute_s + d_w)
        if spread:
            rest[0] = replace(rest[0], time_s=rest[0].time_s + d_w, compute_s=rest[0].compute_s + d_w)
    st = batched.where(share >= 1, mixed, batched.blend(mixed, dec, share))
    pk = (dec.time_s, lone, packed.first_token_wait(st.time_s, dec.time_s, lone, inc, ratio, p / w.s_unc, n_max)) \
        if packs else None
    if packs:
        seen, tok = packed.seen_shares(np.minimum(share, 1.0), mixed.time_s, dec.time_s, used / w.s_unc, ratio,
                                       (w.decode_lives, packed.token_lives(w.decode_lives)), tps, lone, inc, n_max)
    else:
        seen = chunk_share_seen(share, mixed.time_s, dec.time_s, chunk, w.s_unc, w.decode_lives, tps, w.cv2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(share < 1, share * mixed.time_s / st.time_s, 1.0)
    extra = np.where(share < 1, burst_batch(rho, w.p_dec / mult, w.decode_lives, w.s_unc / chunk, tps, w.cv2), 0.0)
    extra = np.minimum(extra, np.maximum(lim - run, 0.0))
    piled = np.flatnonzero(extra > 0)
    mixed_seen, dec_seen = mixed.time_s, dec.time_s
    if len(piled):
        (m_p,) = _mixed(g, [(shape[piled], run[piled] + extra[piled], chunk[piled])], w.ctx_decode, w.s_in, w.cv2)
        (d_p,) = _decode(g, [(shape[piled], run[piled] + extra[piled])], w.ctx_decode)
        mixed_seen, dec_seen = mixed_seen.copy(), dec_seen.copy()
        mixed_seen[piled], dec_seen[piled] = m_p.time_s + (d_w[piled] if packs else 0.0), d_p.time_s
    whole = (share >= 1) & (not packs)
    t = np.where(whole, mixed.time_s, seen * mixed_seen + (1.0 - seen) * dec_seen) / tps
    t_stat = t
    if packs:
        t = (tok * mixed_seen + (1.0 - tok) * dec_seen) / tps
    if spread:
        mixed_q, dec_q = rest[0], dec_rest[0]
        st_q = np.where(whole, mixed_q.time_s, batched.blend_time(mixed_q, dec_q, seen))
        t_q = st_q / tps
        batch_sd = feedback_gain(elasticity(bs, t_stat, b_stat, t_q)) * (t_q - t_stat) / w.tpot_spread
        per_token = (mixed.time_s - dec.time_s) / used
        cross = chunk_cross(p / st.time_s / (w.s_unc or np.inf), st.time_s, batch_sd / np.sqrt(np.maximum(bs, 1e-12)),
                            per_token * w.s_unc, tps)
        t_stat = t_stat + tpot_offset(w.tpot_statistic, w.tpot_terms, batch_sd,
                                 *chunk_cumulants(p / st.time_s, dec.time_s, per_token, w.s_unc, w.cv2, tps), cross,
                                 backlog_cumulants(rho, per_token * w.s_unc, w.cv2))
    full = rest[-1].time_s
    service = np.ceil(w.s_unc / chunk_c) * full
    t_full = t[fit] + np.maximum(at_slots.time_s[shape[fit]] - dec.time_s[fit], 0.0) / tps
    pre = 1.0 - dec.time_s[fit] / st.time_s[fit]
    return _cut(per_shape, counts * ks, fit, bs, p, st, t, t_stat, b_stat, (chunk_c, full, service, t_full, pre), pk)


def _cut(per_shape, sizes, fit, bs, p, st, t, t_stat, b_stat, fitting, pk) -> list[ColocatedTable]:
    """The group's arrays cut into each shape's `ColocatedTable` (as `table` builds it)."""
    out = []
    edges = np.concatenate([[0], np.cumsum(sizes)])
    f_edges = np.searchsorted(fit, edges)
    # each point's whole batch, max(1, ⌈mean⌉) (`table`'s, from the grid's means: the same floats)
    b_ints = np.maximum(np.ceil(bs), 1.0).astype(np.int64).tolist()
    for k in range(len(per_shape)):
        lo, hi, flo, fhi = int(edges[k]), int(edges[k + 1]), int(f_edges[k]), int(f_edges[k + 1])
        cut = slice(lo, hi)
        head = (b_ints[lo:hi], bs[cut], p[cut], st.take(cut), t[cut], t_stat[cut], b_stat[cut], fit[flo:fhi] - lo)
        if fhi == flo:
            none = np.empty(0)
            out.append(ColocatedTable(*head, *[none] * 9, np.zeros(0, dtype=bool)))
            continue
        m = fhi - flo
        out.append(ColocatedTable(*head, *(x[flo:fhi] for x in fitting), *[np.full(m, np.nan) for _ in range(4)],
                                  np.zeros(m, dtype=bool), None if pk is None else tuple(x[cut] for x in pk)))
    return out


def _mixed(g: ShapeGroup, grids, context_tokens: float, prompt_tokens: float, cv2: float):
    """`ShapeGroup.mixed_steps` of each (shape index, batches, chunk tokens) of `grids`, in one call."""
    whole = g.mixed_steps(np.concatenate([i for i, _, _ in grids]), np.concatenate([b for _, b, _ in grids]),
                          context_tokens, np.concatenate([c for _, _, c in grids]), prompt_tokens, cv2)
    return batched.split(whole, [len(b) for _, b, _ in grids])


def _decode(g: ShapeGroup, grids, context_tokens: float):
    """`ShapeGroup.decode_steps` of each (shape index, batches) of `grids`, in one call."""
    whole = g.decode_steps(np.concatenate([i for i, _ in grids]), np.concatenate([b for _, b in grids]),
                           context_tokens)
    return batched.split(whole, [len(b) for _, b in grids])
