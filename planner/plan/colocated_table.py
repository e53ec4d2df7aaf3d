"""A colocated shape's batch × chunk-multiple grid, evaluated before a TPOT limit picks from it.

`grid_tables` evaluates the grids of one deployment (`table`, through `physics.batched`) or of
many together (`colocated_many`, through `physics.many`) with one code: the same floats point by
point. `candidates.colocated_all` puts the tables' points through the chunk queue and picks.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

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
from planner.physics.batched import PhaseArrays
from planner.physics.colocated import burst_batch, chunk_share_seen
from planner.physics.many import OneShape, ShapeGroup
from planner.physics.perf import Deployment
from planner.plan.decode import BELOW_ONE_OCCUPANCY
from planner.plan.workload import WorkloadContext

CHUNK_MULTIPLES = (1.0, 1.25, 1.5, 2.0, 3.0)  # prefill share per step relative to the workload's ratio



@dataclass
class ColocatedTable:
    """A shape's colocated grid before the TPOT limit picks from it (`_colocated_table`): per point
    of the batch × multiple grid, and per point that fits in memory (`fit`) its chunk schedule
    (the slot wait, ρ_max and TTFT alone filled by `_queue_tables` where `queued`, NaN elsewhere)."""

    b_int: list[int]
    bs: object          # batch per point
    p: object           # prompt tokens per step
    st: object          # the mean step (batched.Steps)
    t: object           # TPOT at the mean batch
    t_stat: object      # TPOT of the statistic
    b_stat: object      # batch of the statistic
    fit: object         # indices of the points whose statistic's batch fits in memory
    chunk_c: object     # per fitting point: whole chunk tokens, a full chunk step, a prompt's
    full: object        # chunked service, the wait for a batch slot, ρ_max, and TTFT alone
    service: object     # with its limit (these four filled by `_queue_tables`)
    t_full: object = None   # per fitting point: TPOT while every slot is taken
    pre: object = None      # … and prefill's share of the time (`WorkloadContext.slot_peak`)
    slot_s: object = None
    rho: object = None
    alone: object = None
    limit: object = None
    queued: object = None   # per fitting point: its four queue values are filled in
    packed: object = None   # prompts taken whole (`physics.packed`): per point (plain step, lone work, its
    # increment, E[W²]/E[W]²), from which `candidates._packed_limits` reads the wait before the first token
    # of the points it queues; None otherwise
    cut_s: float = math.inf   # the TPOT limit its grid was cut at (`grid_tables`): it serves limits up to it




def colocated_batch_grid(slots: int) -> list[float]:
    """The mean batches a colocated shape is tried at: `perf.batch_grid` plus the batches ½, ¾, 1,
    1½, 2 and 4 times ⌈√c⌉ (rounded up) below the c slots memory admits: a pool at its slots has
    an unbounded wait for one ([batch slots](docs/optimisation.md)), and the headroom that wait
    needs grows as √c, so without these points the largest usable batch would fall back to the
    grid point below (170 slots: 128, a quarter of the capacity). The steps of ¼·√c matter at a few
    slots: the seed's H20 TP8 instance at 0.7 req/s (17 slots) meets its TTFT at a mean of 12.4
    and not at 15; with 12 as the largest point below 15 its capacity at a request's batch
    (`batch_seen`, 12/TPOT(13)) fell 2 % short of the load and the plan took two nodes. One slot:
    the mean batches 0.05 … 0.95 below it (the instance busy that share of the time, each request
    alone at the step of batch 1), and 1.

    >>> colocated_batch_grid(170)[-10:], colocated_batch_grid(17), colocated_batch_grid(1)[-3:]
    ([64, 96, 114, 128, 142, 149, 156, 159, 163, 170], [1, 2, 3, 4, 6, 7, 8, 9, 12, 13, 14, 16, 17], [0.9, 0.95, 1])
    """
    if slots == 1:
        return [*BELOW_ONE_OCCUPANCY, 1]
    step = math.isqrt(max(slots - 1, 0)) + 1
    heads = sorted({-(-num * step // den) for num, den in ((1, 2), (3, 4), (1, 1), (3, 2), (2, 1), (4, 1))})
    near = [slots - h for h in heads if slots - h > 1]
    return sorted(set(perf.batch_grid(slots)) | set(near))


def grid_means(w: WorkloadContext, mem_limit: int) -> list[float]:
    """The mean batches of a shape's grid at `mem_limit` memory slots: `colocated_batch_grid`, with
    several prompt lengths points between, and below one decoding sequence where answers are short.
    Kept per (slots, what of the workload it reads): a fleet's shapes and services ask the same
    grids again (~2,900 grids of the 4 × 12 fleet, built from sets in Python)."""
    return list(_grid_means(mem_limit, bool(w.prompt_mix), w.s_dec, w.pass_token_budget, w.s_unc))


@functools.lru_cache(maxsize=4096, typed=True)
def _grid_means(mem_limit: int, mix: bool, s_dec: float, pass_token_budget: float, s_unc: float) -> tuple:
    """`grid_means` of the workload's fields it reads."""
    means = colocated_batch_grid(mem_limit)
    if mix:   # TPOT climbs steeply with the load: points between (`tests/test_packed.py`)
        means = sorted(set(means) | {m * f for m in means for f in (1.25, 1.5) if 2 <= m * f < mem_limit})
    if s_dec <= 1.0 and mem_limit > 1:
        # a request decodes at most one token after its first on average: at a mean batch of 1 every
        # step would carry b·s_unc/E[L − 1] ≥ s_unc prompt tokens, so the engine runs below a whole
        # decoding sequence most of the time (each decoding alone at the step of batch 1): mean
        # batches up to the one whose own prompts fill the step budget (or 1)
        scale = min(1.0, pass_token_budget * s_dec / max(s_unc, 1e-9))
        means = sorted({f * scale for f in BELOW_ONE_OCCUPANCY} | set(means))
    return tuple(means)


def table(dep: Deployment, w: WorkloadContext, mem_limit: int, tpot_cut_s: float = math.inf) -> ColocatedTable:
    """One shape's colocated table at `mem_limit` memory slots (`grid_tables`)."""
    return grid_tables(OneShape(dep), w, [mem_limit], tpot_cut_s)[0]


def grid_tables(g: ShapeGroup | OneShape, w: WorkloadContext, limits: list[int],
                tpot_cut_s: float = math.inf) -> list[ColocatedTable]:
    """The colocated table of each deployment of `g` at its memory slots `limits[k]` (each ≥ 1): every
    point of its batch × multiple grid at once, its steps and TPOT, and for the points that fit in
    memory the chunked prompt service (`colocated_all` puts them through the queue). The grids of
    all of `g`'s deployments are concatenated and each formula runs once over their points: a
    `ShapeGroup` broadcasts each deployment's terms to its points, a `OneShape` is one deployment
    through `batched`; every point sees the same operations either way. `tpot_cut_s` (a TPOT limit;
    inf: none) leaves out the mean batches whose points cannot meet it (`_within_cut`)."""
    ks = len(CHUNK_MULTIPLES)
    n = len(limits)
    tps = perf.tokens_per_step(g.deps[0])
    per_shape = [grid_means(w, c) for c in limits]
    cuts, dec_m = [math.inf] * n, None
    if tpot_cut_s < math.inf:   # the kept means and their decode steps
        per_shape, cuts, dec_m = _within_cut(g, w, limits, per_shape, tps, tpot_cut_s)
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
    # the steps at the points' own batches whole; those at the statistic's and of full chunks, read for their
    # times alone, without the other fields (`batched.timed`)
    (mixed,) = _mixed(g, [(shape, run, used)], w.ctx_decode, w.s_in, w.cv2)
    rest = _mixed(g, [*([(shape, b_seen, used)] if spread else []), (shape[fit], bs[fit], chunk_c)], w.ctx_decode,
                  w.s_in, w.cv2, time_only=True)
    if dec_m is None:
        (dec_m,) = _decode(g, [(m_shape, runs)], w.ctx_decode)
    *dec_rest, at_slots = _decode(g, [*([(shape, b_seen)] if spread else []),
                                      (np.arange(n), np.array(limits, dtype=float))], w.ctx_decode, time_only=True)
    dec = dec_m.repeat(ks)   # each mean's step at its ks points
    packs = bool(w.prompt_mix)
    n_max = float(w.pass_token_budget) / w.s_unc if packs else None
    if packs:
        def mixed_times(chunks, prompt, cv2):
            return [s.time_s for s in _mixed(g, [(m_shape, runs, c) for c in chunks], w.ctx_decode, prompt, cv2,
                                             time_only=True)]
        lone, inc, ratio = (np.repeat(x, ks) for x in packed.lone_parts_by(
            mixed_times, len(runs), dec_m.time_s, w.prompt_mix, float(w.pass_token_budget), w.s_unc, w.s_in, w.cv2))
        d_w = dec.time_s - mixed.time_s + used / w.s_unc * packed.effective_work(lone, inc, p / w.s_unc,
                                                                                 dec.time_s, ratio)
        mixed = replace(mixed, time_s=mixed.time_s + d_w, compute_s=mixed.compute_s + d_w)
        if spread:
            rest[0] = replace(rest[0], time_s=rest[0].time_s + d_w)   # its time alone is read
    st = batched.where(share >= 1, mixed, batched.blend(mixed, dec, share))
    pk = (dec.time_s, lone, inc, ratio) if packs else None   # the first token's wait: at the queued points alone
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
        (m_p,) = _mixed(g, [(shape[piled], run[piled] + extra[piled], chunk[piled])], w.ctx_decode, w.s_in, w.cv2,
                        time_only=True)
        (d_p,) = _decode(g, [(shape[piled], run[piled] + extra[piled])], w.ctx_decode, time_only=True)
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
    return _cut(per_shape, counts * ks, fit, bs, p, st, t, t_stat, b_stat, (chunk_c, full, service, t_full, pre), pk,
                cuts)


def _within_cut(g: ShapeGroup | OneShape, w: WorkloadContext, limits: list[int], per_shape: list[list[float]],
                tps: float, tpot_cut_s: float) -> tuple[list[list[float]], list[float], PhaseArrays]:
    """Each shape's mean batches whose points may meet a TPOT limit of `tpot_cut_s`, the limit each
    shape's grid is cut at, and the kept means' decode steps (`grid_tables` reads them, not again).
    A point's TPOT (and its statistic's, which lies above the mean's: `tpot_offset` ≥ 0) blends the
    chunk step and the decode step at the batch a request sees or above (the piled batch); a step
    takes no less time at a larger batch or with more tokens, and a chunk step carries the decode
    step's tokens and more, so the TPOT is at least the decode step at the mean's batch seen over the
    tokens a step makes, and a mean whose decode step alone passes the limit has no point within it
    (issue 19: 140,000 of the 520,000 points of the 4 × 12 fleet on 11 GPU types;
    tests/test_candidate_reuse.py checks the cut against whole grids). The steps are the grid's own
    (`_decode` at the same batches: the same floats). A shape left with no mean keeps its whole grid
    (cut at inf): it is rejected, and the rejection names its lightest point."""
    counts = [len(m) for m in per_shape]
    means = np.array([x for m in per_shape for x in m], dtype=float)
    runs = np.minimum(means + 1.0, np.repeat(np.array(limits), counts))   # as `grid_tables`' runs
    (dec,) = _decode(g, [(np.repeat(np.arange(len(limits)), counts), runs)], w.ctx_decode)
    keep = ~(dec.time_s / tps > tpot_cut_s)
    out, cuts, rows, lo = [], [], [], 0
    for m in per_shape:
        mask = keep[lo:lo + len(m)]
        cut = bool(mask.any())   # else the whole grid
        out.append([x for x, k in zip(m, mask.tolist()) if k] if cut else m)
        cuts.append(tpot_cut_s if cut else math.inf)
        rows.append(np.flatnonzero(mask) + lo if cut else np.arange(lo, lo + len(m)))
        lo += len(m)
    return out, cuts, dec.take(np.concatenate(rows))


def _cut(per_shape, sizes, fit, bs, p, st, t, t_stat, b_stat, fitting, pk, cuts) -> list[ColocatedTable]:
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
            out.append(ColocatedTable(*head, *[none] * 9, np.zeros(0, dtype=bool), cut_s=cuts[k]))
            continue
        m = fhi - flo
        out.append(ColocatedTable(*head, *(x[flo:fhi] for x in fitting), *np.full((4, m), np.nan),   # 4 rows to fill
                                  np.zeros(m, dtype=bool), None if pk is None else tuple(x[cut] for x in pk),
                                  cuts[k]))
    return out


def _mixed(g: ShapeGroup, grids, context_tokens: float, prompt_tokens: float, cv2: float, time_only: bool = False):
    """`ShapeGroup.mixed_steps` of each (shape index, batches, chunk tokens) of `grids`, in one call,
    each run of equal neighbours evaluated once (`_each_run`: 3.4 million points of the 4 × 12 fleet on
    11 GPU types, 2.0 million runs; a third less time). `time_only`: the step times alone (`batched.timed`:
    the piled passes and the lone prompts' steps, ~56 % of the fleet's passes, read nothing else)."""
    whole = _each_run(lambda i, b, c: g.mixed_steps(i, b, context_tokens, c, prompt_tokens, cv2, time_only),
                      *(np.concatenate([x[j] for x in grids]) for j in range(3)))
    return batched.split(whole, [len(b) for _, b, _ in grids])


def _each_run(evaluate, *columns):
    """`evaluate(*columns)` (a pass, point by point) at the first point of each run of consecutive points
    equal bit for bit in every column, repeated over the run. A batch's chunk multiples share their pass
    where the chunk is the whole prompt (the same batch, the same tokens), and the statistic's decode
    batches are a mean's over its multiples: every formula is point by point, so each point is the
    float its own evaluation gives."""
    n = len(columns[0])
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for c in columns:
            bits = np.ascontiguousarray(c, dtype=float).view(np.int64)
            same &= bits[1:] == bits[:-1]
        new[1:] = ~same
    firsts = np.flatnonzero(new)
    if len(firsts) == n:   # no two neighbours equal
        return evaluate(*columns)
    return evaluate(*(c[firsts] for c in columns)).repeat(np.diff(firsts, append=n))


def _decode(g: ShapeGroup, grids, context_tokens: float, time_only: bool = False):
    """`ShapeGroup.decode_steps` of each (shape index, batches) of `grids`, in one call, each run of
    equal neighbours evaluated once (`_each_run`; `time_only`: the step times alone)."""
    whole = _each_run(lambda i, b: g.decode_steps(i, b, context_tokens, time_only),
                      np.concatenate([i for i, _ in grids]), np.concatenate([b for _, b in grids]))
    return batched.split(whole, [len(b) for _, b in grids])
