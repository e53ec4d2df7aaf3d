"""A colocated shape's batch × chunk-multiple grid, evaluated before a TPOT limit picks from it.

`table` is one shape's grid in one numpy call per pass (`physics.batched`); `colocated_many`
evaluates the grids of many shapes together (`physics.many`), the same floats point by point.
`candidates.colocated_all` puts the tables' points through the chunk queue and picks from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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
    packed: object = None   # prompts taken whole (`physics.packed`): per point (plain step, lone work, wait
    # before the first token beyond them); None otherwise




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
    several prompt lengths points between, and below one decoding sequence where answers are short."""
    means = colocated_batch_grid(mem_limit)
    if w.prompt_mix:   # TPOT climbs steeply with the load: points between (`tests/test_packed.py`)
        means = sorted(set(means) | {m * f for m in means for f in (1.25, 1.5) if 2 <= m * f < mem_limit})
    if w.s_dec <= 1.0 and mem_limit > 1:
        # a request decodes at most one token after its first on average: at a mean batch of 1 every
        # step would carry b·s_unc/E[L − 1] ≥ s_unc prompt tokens, so the engine runs below a whole
        # decoding sequence most of the time (each decoding alone at the step of batch 1): mean
        # batches up to the one whose own prompts fill the step budget (or 1)
        scale = min(1.0, w.pass_token_budget * w.s_dec / max(w.s_unc, 1e-9))
        means = sorted({f * scale for f in BELOW_ONE_OCCUPANCY} | set(means))
    return means


def table(dep: Deployment, w: WorkloadContext, mem_limit: int) -> ColocatedTable:
    """Every point of a shape's batch × multiple grid at once, whatever the TPOT limit: its steps
    and TPOT, and for the points that fit in memory the chunked prompt service (`colocated_all`
    puts them through the queue)."""
    import numpy as np
    means = grid_means(w, mem_limit)
    runs = np.minimum(np.array(means, dtype=float) + 1.0, mem_limit)   # the batch a request sees (`batch_seen`)
    ks = len(CHUNK_MULTIPLES)
    b_int = [n for n in [max(1, math.ceil(b)) for b in means] for _ in CHUNK_MULTIPLES]
    bs = np.repeat(np.array(means, dtype=float), ks)
    run = np.repeat(runs, ks)
    mult = np.tile(np.array(CHUNK_MULTIPLES), len(means))
    p = np.maximum(1.0, bs * w.s_unc / max(w.s_dec, 1e-9) * mult)
    budget = float(w.pass_token_budget)
    chunk = np.minimum(budget, np.maximum(w.s_unc, p))          # colocated.colocated_chunk
    share = np.minimum(1.0, p / chunk)
    used = np.where(share < 1, chunk, p)                           # prompt tokens of a chunk step
    spread = bool(w.tpot_spread) and mem_limit > 1   # the TPOT statistic: the same prefill per step beside
    b_stat = bs + w.tpot_spread * np.sqrt(bs) if spread else run   # the quantile batch (memory's)
    b_seen = np.minimum(run + b_stat - bs, mem_limit)   # the statistic's request: itself and the others' quantile
    fit = np.flatnonzero(b_stat <= mem_limit)
    chunk_c = np.ceil(chunk[fit])
    # every mixed and every decode-only step of the table in one call each (the same floats as a call each)
    mixed, *rest = batched.mixed_steps_many(dep, [(run, used), *([(b_seen, used)] if spread else []),
                                                  (bs[fit], chunk_c)], w.ctx_decode, w.s_in, w.cv2)
    # and the decode step at the slots (the TPOT while every slot is taken, below)
    dec_m, *dec_rest, at_slots = batched.decode_steps_many(dep, [runs, *([b_seen] if spread else []),
                                                                 np.array([float(mem_limit)])], w.ctx_decode)
    per_mean = np.repeat(np.arange(len(means)), ks)
    dec = dec_m.take(per_mean)
    packs = bool(w.prompt_mix)   # several prompt lengths, taken whole (`physics.packed`)
    n_max = float(w.pass_token_budget) / w.s_unc if packs else None   # the prompts a step holds at most
    if packs:   # each prompt's own work in the chunk step (`packed.lone_chunk_step`, per point)
        lone, inc, ratio = (x.take(per_mean) for x in packed.lone_parts_many(
            dep, runs, w.ctx_decode, dec_m.time_s, w.prompt_mix, float(w.pass_token_budget), w.s_unc, w.s_in, w.cv2))
        d_w = dec.time_s - mixed.time_s + used / w.s_unc * packed.effective_work(lone, inc, p / w.s_unc,
                                                                                 dec.time_s, ratio)
        mixed = replace(mixed, time_s=mixed.time_s + d_w, compute_s=mixed.compute_s + d_w)
        if spread:
            rest[0] = replace(rest[0], time_s=rest[0].time_s + d_w, compute_s=rest[0].compute_s + d_w)
    st = batched.where(share >= 1, mixed, batched.blend(mixed, dec, share))   # the mean step
    pk = (dec.time_s, lone, packed.first_token_wait(st.time_s, dec.time_s, lone, inc, ratio, p / w.s_unc, n_max)) \
        if packs else None
    # what a decoding request sees: its TPOT (and, by Little's law, the decode capacity at batch b)
    if packs:   # over requests (the TPOT) and over tokens (the capacity, below), the bursts once
        seen, tok = packed.seen_shares(np.minimum(share, 1.0), mixed.time_s, dec.time_s, used / w.s_unc, ratio,
                                       (w.decode_lives, packed.token_lives(w.decode_lives)),
                                       perf.tokens_per_step(dep), lone, inc, n_max)
    else:
        seen = chunk_share_seen(share, mixed.time_s, dec.time_s, chunk, w.s_unc, w.decode_lives,
                                perf.tokens_per_step(dep), w.cv2)
    # bursts of chunk steps pile decoding requests up: a request sees more than the Poisson count
    # (`colocated.burst_batch`, as `colocated_steps` with here_share), at most the memory's slots
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(share < 1, share * mixed.time_s / st.time_s, 1.0)
    extra = np.where(share < 1, burst_batch(rho, w.p_dec / mult, w.decode_lives, w.s_unc / chunk,
                                            perf.tokens_per_step(dep), w.cv2), 0.0)
    extra = np.minimum(extra, np.maximum(mem_limit - run, 0.0))
    piled = np.flatnonzero(extra > 0)
    mixed_seen, dec_seen = mixed.time_s, dec.time_s
    if len(piled):
        (m_p,) = batched.mixed_steps_many(dep, [(run[piled] + extra[piled], chunk[piled])], w.ctx_decode, w.s_in,
                                          w.cv2)
        (d_p,) = batched.decode_steps_many(dep, [run[piled] + extra[piled]], w.ctx_decode)
        mixed_seen, dec_seen = mixed_seen.copy(), dec_seen.copy()
        mixed_seen[piled], dec_seen[piled] = m_p.time_s + (d_w[piled] if packs else 0.0), d_p.time_s
    whole = (share >= 1) & (not packs)   # every step a chunk's, and no burst to see (one prompt length)
    t = np.where(whole, mixed.time_s, seen * mixed_seen + (1.0 - seen) * dec_seen) / perf.tokens_per_step(dep)
    t_stat = t   # the TPOT, a mean over requests; with prompts taken whole the capacity (Little) is a mean
    if packs:    # over tokens (`packed.token_lives`), which a long answer's calmer steps weigh more
        t = (tok * mixed_seen + (1.0 - tok) * dec_seen) / perf.tokens_per_step(dep)
    if spread:
        mixed_q, dec_q = rest[0], dec_rest[0]
        st_q = np.where(whole, mixed_q.time_s, batched.blend_time(mixed_q, dec_q, seen))
        t_q = st_q / perf.tokens_per_step(dep)
        batch_sd = feedback_gain(elasticity(bs, t_stat, b_stat, t_q)) * (t_q - t_stat) / w.tpot_spread   # feedback
        per_token = (mixed.time_s - dec.time_s) / used
        # prompts a second (none when every prompt token is cached: 0/0 was NaN, exit 5 under a p90 TPOT)
        cross = chunk_cross(p / st.time_s / (w.s_unc or np.inf), st.time_s, batch_sd / np.sqrt(np.maximum(bs, 1e-12)),
                            per_token * w.s_unc, perf.tokens_per_step(dep))   # the design mix decodes here
        t_stat = t_stat + tpot_offset(w.tpot_statistic, w.tpot_terms, batch_sd,
                                 *chunk_cumulants(p / st.time_s, dec.time_s, per_token, w.s_unc, w.cv2,
                                                  perf.tokens_per_step(dep)), cross,
                                 backlog_cumulants(rho, per_token * w.s_unc, w.cv2))
    if not len(fit):
        none = np.empty(0)
        return ColocatedTable(b_int, bs, p, st, t, t_stat, b_stat, fit, *[none] * 9, np.zeros(0, dtype=bool))
    full = rest[-1].time_s
    service = np.ceil(w.s_unc / chunk_c) * full
    # the TPOT while every slot is taken (`waits.full_slots_tpot`): the decode step at the slots
    t_full = t[fit] + np.maximum(at_slots.time_s[0] - dec.time_s[fit], 0.0) / perf.tokens_per_step(dep)
    pre = 1.0 - dec.time_s[fit] / st.time_s[fit]   # prefill's share of the time (the slots' spread)
    unset = [np.full(len(fit), np.nan) for _ in range(4)]   # slot wait, ρ_max, TTFT alone, limit: `_queue_tables`
    return ColocatedTable(b_int, bs, p, st, t, t_stat, b_stat, fit, chunk_c, full, service, t_full, pre, *unset,
                           np.zeros(len(fit), dtype=bool), pk)
