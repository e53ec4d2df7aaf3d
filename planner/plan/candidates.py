"""Enumerate instance shapes and operating points; each candidate carries capacity, latency, cost.

Glossary: a *shape* is (GPU type, Parallelism); a *candidate* is a shape in a role (prefill, decode,
colocated) at an operating point (decode batch `b`, prefill prompts per pass `B`, colocated chunk `C` tokens
per step). Capacities are tokens/s of one instance; prefill capacity is already derated by ρ_max, the largest
utilisation whose queueing keeps TTFT within its limit. Candidates that break an SLO or do not fit are
*rejected* and kept, with the value they reach, for the infeasibility explanation. The types and the memo are
in `candidate`, prefill instances in `prefill`, decode instances in `decode`; colocated instances here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.errors import BadInput
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
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.physics.prefill_queue import Servers
from planner.plan.candidate import (  # noqa: F401  (the types and the memo, importable from here as before)
    MEMO_MAX_ENTRIES,
    Candidate,
    CandidateSet,
    Rejected,
    Role,
    clear_memo,
    deployment,
    kv_nic_limit_tok_s,
    memo_table,
    memoised,
    recall,
    remember,
)
from planner.plan.decode import BELOW_ONE_OCCUPANCY, decode_candidate  # noqa: F401  (importable from here as before)
from planner.plan.pareto import pareto_front
from planner.plan.prefill import prefill_candidate, prefill_candidates  # noqa: F401
from planner.plan.redundancy import unit_loss_of
from planner.plan.resolve import GPUOption, Resolved
from planner.plan.shapes import shapes_for, why_no_shapes
from planner.plan.speculative import speculations
from planner.plan.waits import decode_growth_s
from planner.plan.workload import (
    WorkloadContext,
    colocated_first_step_s,
    queue_limits,
    workload_context,
    worst_ttft_many,
)

CHUNK_MULTIPLES = (1.0, 1.25, 1.5, 2.0, 3.0)  # prefill share per step relative to the workload's ratio


def colocated_candidates(res: Resolved, opt: GPUOption, par: Parallelism,
                         w: WorkloadContext, spec: Speculation | None = None) -> list[Candidate] | Rejected:
    """Chunked-prefill instances (`colocated.colocated_step`): `b` decodes every step, and on a share
    f of the steps a chunk of C = min(budget, max(s_unc, p)) prompt tokens; keep the Pareto set.

    The prefill tokens per step p are tried at multiples of b·s_unc/E[L − 1] (the ratio that serves
    prefill and decode of the same requests: a request decodes its L − 1 tokens after the first,
    which its prompt's last chunk step makes). TTFT = ⌈s/C⌉ chunk steps + queueing at the share
    of time spent in chunk steps + the wait for one of the batch slots memory admits (a prompt
    holds its slot from its first chunk); TPOT is the mean step. The whole batch × multiple grid of a
    shape is evaluated in one numpy call per pass (`physics.batched`, the same floats as `perf`).
    """
    return colocated_all(res, [(opt, par, spec)], w)[0]


def colocated_all(res: Resolved, items: list[tuple[GPUOption, Parallelism, Speculation | None]],
                  w: WorkloadContext) -> list[list[Candidate] | Rejected]:
    """`colocated_candidates` of every (GPU, layout, speculation) in `items`, in order: each shape's grid on its
    own (memoised without the TPOT limit: a TPOT sweep computes it once), the chunk queue of every grid's points
    within the TPOT limit in one call, and the TTFT of every kept point in one call. The arithmetic per point is
    a shape's alone, so the candidates are the same floats. A point goes through the chunk queue once, when a
    limit first admits it: the points above the limit were most of the queue's work (a slot wait sums ~1,000
    terms for a point near its slots; the seed problem has 927 such points, none within its TPOT limit)."""
    import numpy as np
    w0 = replace(w, tpot_limit=0.0)
    deps, limits, tables, new = [], [], [], []
    for k, (opt, par, spec) in enumerate(items):
        dep = deployment(res, opt, par, spec)
        mem_limit = memoised(perf.max_batch, dep, w.ctx_peak)
        deps.append(dep)
        limits.append(mem_limit)
        table = recall("_colocated_table", dep, (w0, mem_limit)) if mem_limit >= 1 else None
        if mem_limit >= 1 and table is None:
            table = _colocated_table(dep, w0, mem_limit)
            new.append(k)
        tables.append(table)
    for k in new:
        remember("_colocated_table", deps[k], (w0, limits[k]), tables[k])
    rows = {k: _unqueued(t, w.tpot_limit, np) for k, t in enumerate(tables) if t is not None}
    todo = [k for k, r in rows.items() if len(r)]
    if todo:
        _queue_tables([tables[k] for k in todo], [deps[k] for k in todo], [limits[k] for k in todo],
                      [rows[k] for k in todo], w0, np)
    picks = [_colocated_pick(deps[k], w, limits[k], tables[k], np) if limits[k] >= 1 else None
             for k in range(len(items))]
    kept = [q for q in picks if isinstance(q, _Pick)]
    if kept and w.packed_ttft:   # at each point's own load (`_queue_tables`)
        for q, t in ((q, tables[k]) for k, q in enumerate(picks) if isinstance(q, _Pick)):
            q.ttft = t.alone[q.sel]
    elif kept:
        ttfts = worst_ttft_many(w, np.concatenate([q.rho for q in kept]),
                                Servers.single(np.concatenate([q.service for q in kept])),
                                np.concatenate([q.fixed for q in kept]))[0]
        for q, t in zip(kept, np.split(ttfts, np.cumsum([len(q.rho) for q in kept])[:-1])):
            q.ttft = t
    out: list[list[Candidate] | Rejected] = []
    for k, (opt, par, _) in enumerate(items):
        if limits[k] < 1:
            mem = memoised(perf.memory_use, deps[k], 1, w.ctx_peak)
            out.append(Rejected("colocated", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                                f"weights+KV of one sequence need {mem.total_bytes/1e9:.1f} GB"))
        else:
            pick = picks[k]
            out.append(pick.candidates(deps[k], w, limits[k], tables[k]) if isinstance(pick, _Pick) else pick)
    return out


@dataclass
class _ColocatedTable:
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


def _unqueued(t: _ColocatedTable, tpot_limit: float, np):
    """Rows (among the fitting points) of a table's points within `tpot_limit` whose chunk queue is
    not yet filled in: the points `_colocated_pick` reads it at."""
    return np.flatnonzero(~t.queued & ~(t.t_stat[t.fit] > tpot_limit))


def _queue_tables(tables: list[_ColocatedTable], deps: list[Deployment], slots: list[int], rows: list,
                  w: WorkloadContext, np) -> None:
    """The wait for a batch slot, ρ_max and the TTFT alone of the fitting points `rows` of each of
    `tables` in one call each (the chunk queue: one prompt per 'pass', M/G/1), in place. Every
    formula is point by point, so a point's values do not depend on the others queued with it."""
    at = [t.fit[r] for t, r in zip(tables, rows)]   # the rows' grid points
    waits = w.slot_wait_s(np.concatenate([t.bs[i] for t, i in zip(tables, at)]),
                          np.concatenate([np.full(len(r), c, dtype=float) for r, c in zip(rows, slots)]),
                          np.concatenate([t.service[r] for t, r in zip(tables, rows)]),
                          np.concatenate([t.t[i] for t, i in zip(tables, at)]),
                          np.concatenate([t.t_full[r] for t, r in zip(tables, rows)]),
                          np.concatenate([t.pre[r] for t, r in zip(tables, rows)]))
    for t, i, r, sw, c in zip(tables, at, rows, np.split(waits, np.cumsum([len(r) for r in rows])[:-1]), slots):
        t.slot_s[r] = w.slot_wait_for_ttft_s(sw, t.bs[i], float(c), t.service[r], t.t[i], t.t_full[r], t.pre[r])
    fixed = np.concatenate([perf.request_overhead_s(d) + t.slot_s[r]
                            + colocated_first_step_s(w, t.bs[i], t.st.time_s[i],
                                                     t.st.time_s[i] + decode_growth_s(d, w, t.bs[i]))
                            for t, d, i, r in zip(tables, deps, at, rows)])
    servers = Servers.single(np.concatenate([t.service[r] for t, r in zip(tables, rows)]))
    for t, r, (rho, alone, limit) in zip(tables, rows, queue_limits(w, servers, fixed, [len(r) for r in rows])):
        t.rho[r], t.alone[r], t.limit[r] = rho, alone, limit
        t.queued[r] = True
    if w.packed_ttft:   # the TTFT of whole prompts at each point's own load (`packed.first_token_wait`)
        limits = np.array([tg.limit for tg in w.targets])
        for t, d, i, r in zip(tables, deps, at, rows):
            plain, lone, wait = (x[i] for x in t.packed)
            base = perf.request_overhead_s(d) + t.slot_s[r] + plain + wait
            vals = np.array([base + lone * tg.len_factor for tg in w.targets])
            k = np.argmin(limits[:, None] - vals, axis=0)   # the target with the least slack
            load = t.p[i] / t.st.time_s[i] / (t.chunk_c[r] / t.full[r])   # the point's prefill ÷ raw
            ok = (vals <= limits[:, None]).all(axis=0)
            t.rho[r] = np.where(ok, np.minimum(load, w.util_ceiling), 0.0)
            t.alone[r], t.limit[r] = vals[k, np.arange(len(r))], limits[k]


@dataclass
class _Pick:
    """A shape's colocated points within the TPOT and TTFT limits, on their Pareto front."""

    at: object          # grid index of each kept point
    sel: object         # its row among the table's fitting points
    prefill: object     # usable prefill tokens/s, decode tokens/s, raw chunk capacity
    decode: object
    raw: object
    rho: object         # prefill ÷ raw: the utilisation the kept point runs at
    service: object
    fixed: object       # per kept point: the request's fixed time and its wait for a batch slot
    ttft: object = None

    def candidates(self, dep: Deployment, w: WorkloadContext, mem_limit: int,
                   g: _ColocatedTable) -> list[Candidate]:
        par, gpu_id = dep.par, dep.gpu.id
        nic = par.cards * dep.gpu.nic_bytes_per_s
        out = []
        for j, (pt, r) in enumerate(zip(self.at.tolist(), self.sel.tolist())):
            b = g.b_int[pt]
            out.append(Candidate("colocated", gpu_id, par, b, float(g.chunk_c[r]), float(self.prefill[j]),
                                 float(self.raw[j]), float(self.decode[j]), float(g.rho[r]), float(g.service[r]),
                                 float(self.ttft[j]), float(g.t_stat[pt]), 0.0, nic,
                                 memoised(perf.memory_use, dep, math.ceil(g.b_stat[pt]), w.ctx_peak).total_bytes,
                                 g.st.at(pt).bound, "memory" if math.ceil(g.b_stat[pt]) >= mem_limit else "slo",
                                 dep.spec))
        return out


def _colocated_pick(dep: Deployment, w: WorkloadContext, mem_limit: int, g: _ColocatedTable,
                    np) -> _Pick | Rejected:
    """The points of a shape's grid within the TPOT limit and meeting the TTFT limit, on their
    Pareto front (usable prefill against decode tokens/s), or why there are none. The order of
    points, of ties and of operations is the point-by-point loop's."""
    par, gpu_id = dep.par, dep.gpu.id
    best_tpot = float(g.t_stat.min())
    ok = np.flatnonzero(~(g.t_stat > w.tpot_limit) & (g.b_stat <= mem_limit))
    if not len(ok):
        return Rejected("colocated", gpu_id, par, "tpot", best_tpot, w.tpot_limit,
                        f"the lightest mixed step takes {best_tpot*1e3:.1f} ms")
    pos = np.searchsorted(g.fit, ok)             # ok ⊂ fit: the points' rows in the chunk arrays
    live = g.rho[pos] > 0
    if not live.any():
        alone, limit = g.alone[pos], g.limit[pos]
        i = int(np.argmin(alone - limit))
        return Rejected("colocated", gpu_id, par, "ttft", float(alone[i]), float(limit[i]),
                        f"a prompt needs {float(alone[i])*1e3:.0f} ms of chunked steps")
    at, rows = ok[live], pos[live]
    raw = g.chunk_c[rows] / g.full[rows]                            # prompt tokens/s if every step carried a chunk
    prefill = np.minimum(g.p[at] / g.st.time_s[at], g.rho[rows] * raw)  # the design mix, within the TTFT limit
    decode = g.bs[at] / g.t[at]
    keep = pareto_front(prefill, decode)
    return _Pick(at[keep], rows[keep], prefill[keep], decode[keep], raw[keep], prefill[keep] / raw[keep],
                 g.service[rows[keep]], perf.request_overhead_s(dep) + g.slot_s[rows[keep]])


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


def _colocated_table(dep: Deployment, w: WorkloadContext, mem_limit: int) -> _ColocatedTable:
    """Every point of a shape's batch × multiple grid at once, whatever the TPOT limit: its steps
    and TPOT, and for the points that fit in memory the chunked prompt service (`colocated_all`
    puts them through the queue)."""
    import numpy as np
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
        return _ColocatedTable(b_int, bs, p, st, t, t_stat, b_stat, fit, *[none] * 9, np.zeros(0, dtype=bool))
    full = rest[-1].time_s
    service = np.ceil(w.s_unc / chunk_c) * full
    # the TPOT while every slot is taken (`waits.full_slots_tpot`): the decode step at the slots
    t_full = t[fit] + np.maximum(at_slots.time_s[0] - dec.time_s[fit], 0.0) / perf.tokens_per_step(dep)
    pre = 1.0 - dec.time_s[fit] / st.time_s[fit]   # prefill's share of the time (the slots' spread)
    unset = [np.full(len(fit), np.nan) for _ in range(4)]   # slot wait, ρ_max, TTFT alone, limit: `_queue_tables`
    return _ColocatedTable(b_int, bs, p, st, t, t_stat, b_stat, fit, chunk_c, full, service, t_full, pre, *unset,
                           np.zeros(len(fit), dtype=bool), pk)


def generate(res: Resolved) -> CandidateSet:
    """All candidates of the problem: every GPU type × shape × allowed role (prefill instances of
    all shapes evaluated together, `prefill.prefill_candidates`)."""
    w = workload_context(res)
    modes = res.problem.serving.modes
    if w.s_dec <= 0:   # every answer is its first token: instances that run prompt passes alone,
        # whatever the modes (a colocated engine with nothing to decode is one; exported as a server)
        modes = ["disaggregated"]
    specs = speculations(res)
    shapes = [(opt, par) for opt in res.gpus for par in shapes_for(res, opt)]
    if not shapes and res.problem.serving.parallelism != "auto":
        raise BadInput(f"{res.source}: serving.parallelism: {why_no_shapes(res)}")
    prefill = prefill_candidates(res, shapes, w) if "disaggregated" in modes else []
    coloc = colocated_all(res, [(opt, par, s) for opt, par in shapes for s in specs], w) \
        if "colocated" in modes else []
    out: list[Candidate] = []
    rejected: list[Rejected] = []
    for i, (opt, par) in enumerate(shapes):
        results: list = []
        if "disaggregated" in modes:
            results += [prefill[i]]
            if w.s_dec > 0:   # no decode instance for answers of one token
                results += [decode_candidate(res, opt, par, w, s) for s in specs]
        if "colocated" in modes:
            for r in coloc[i * len(specs):(i + 1) * len(specs)]:
                results += r if isinstance(r, list) else [r]
        for r in results:
            (out if isinstance(r, Candidate) else rejected).append(r)
    return CandidateSet(tuple(out), tuple(rejected), len(shapes))


def prune_dominated(cands: tuple[Candidate, ...] | list[Candidate],
                    node_cards: dict[str, int] | None = None, same_shape: bool = False) -> tuple[Candidate, ...]:
    """Drop candidates that k copies of another of the same GPU type and role replace at no
    extra cost: o dominates c when k = cards_c / cards_o is whole and k·capacity_o ≥ capacity_c
    for prefill and decode (same cards, no more nodes or power); of exact ties the first is kept.
    Any plan using c maps to one as cheap without it, so the optimum is unchanged (with N+1 too:
    the capacity left after losing an instance does not shrink). With `node_cards` (redundancy
    against the loss of a node) o must also lose no more with a node than c
    (`redundancy.unit_loss_of`), or the swap could make a node's loss larger. With `same_shape`
    (limits.max_pool_shapes) o must have c's parallelism, or the swap could add a pool shape."""

    import numpy as np
    # Dominance is transitive, so "dominated by some other candidate" (one array comparison of every
    # pair of a group) drops exactly what a scan dropping them one at a time would.
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cands):
        groups.setdefault((c.gpu, c.role, c.par if same_shape else None), []).append(i)
    dropped = np.zeros(len(cands), dtype=bool)
    for idx in groups.values():
        g = [cands[i] for i in idx]
        cards = np.array([c.cards for c in g])
        p = np.array([c.prefill_tok_s for c in g])
        d = np.array([c.decode_tok_s for c in g])
        whole = cards[None, :] % cards[:, None] == 0                   # [o, c]: cards_c / cards_o whole
        k = np.where(whole, cards[None, :] // cards[:, None], 0)
        kp, kd = k * p[:, None], k * d[:, None]
        order = np.arange(len(g))
        dom = (whole & (kp >= p[None, :]) & (kd >= d[None, :])
               & ((kp > p[None, :]) | (kd > d[None, :]) | (k > 1) | (order[:, None] < order[None, :])))
        if node_cards is not None:   # loses_no_more(o, c) for every pair, from each one's node loss
            n = node_cards[g[0].gpu]
            lp = np.array([unit_loss_of(c, c.prefill_tok_s, "node", n) for c in g])
            ld = np.array([unit_loss_of(c, c.decode_tok_s, "node", n) for c in g])
            dom &= (lp[:, None] <= lp[None, :]) & (ld[:, None] <= ld[None, :])
        dropped[idx] = dom.any(axis=0)
    return tuple(c for c, out in zip(cands, dropped) if not out)
