"""Decode instances: the largest batch that fits in memory, meets the TPOT limit and leaves the
wait for a batch slot within it; a shape whose memory holds one sequence runs below a whole batch.

Glossary: `b` the decode batch (sequences in flight, the mean over time), `slots` the sequences
its KV memory admits at the longest context, `m` the mean batch of a one-slot instance (< 1).
"""

from __future__ import annotations

import math

from planner.physics import batched, perf
from planner.physics.batch_spread import (
    batch_seen,
    mean_batch_within,
    poisson_skew,
    seen_statistic_batch,
    statistic_batch,
)
from planner.physics.many import ShapeGroup, group_key, shape_group
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.physics.queueing import no_wait_below
from planner.plan.candidate import Candidate, Rejected, deployment, kv_nic_limit_tok_s, memoised, recall, remember
from planner.plan.decode_tables import final_steps_all, slot_table, slot_tables_all
from planner.plan.resolve import GPUOption, Resolved
from planner.plan.waits import decoded_first_token_s
from planner.plan.workload import WorkloadContext


def _max_batch_within(dep: Deployment, ctx: float, limit_b: int, tpot_limit: float) -> int:
    """Largest b ≤ limit_b with TPOT(b) ≤ tpot_limit (TPOT is increasing in b); 0 if none.
    A search over [1, limit_b] that evaluates up to SEARCH_POINTS batches per round in one numpy
    call (`batched.decode_steps`): two or three rounds instead of a dozen bisection steps."""
    known = _without_search(dep, ctx, limit_b, tpot_limit)
    if known is not None:
        return known
    lo, hi = 1, limit_b          # TPOT(lo) ≤ limit < TPOT(hi)
    while hi - lo > 1:
        step = _round_step(lo, hi)
        pts, t = _search_round(dep, ctx, lo, hi, step)
        lo, hi = _narrow(lo, hi, pts, t, tpot_limit)
        if step == 1:
            break
    return lo


SEARCH_POINTS = 48


def _without_search(dep: Deployment, ctx: float, limit_b: int, tpot_limit: float) -> int | None:
    """`_max_batch_within` where it needs no search: 0 when no batch is within the limit (or memory
    holds none), limit_b when memory's is; None otherwise."""
    if limit_b < 1 or memoised(perf.tpot, dep, 1, ctx) > tpot_limit:
        return 0
    if memoised(perf.tpot, dep, limit_b, ctx) <= tpot_limit:
        return limit_b
    return None


def _round_step(lo: int, hi: int) -> int:
    """The spacing of a search round's batches between lo and hi: at most SEARCH_POINTS of them."""
    return -(-(hi - lo) // SEARCH_POINTS)


def _narrow(lo: int, hi: int, pts, t, tpot_limit: float) -> tuple[int, int]:
    """The bracket after a round: the last batch within the limit, the first beyond it (a NaN is
    neither). By the masks' `argmax` (the first True; the first element where there is none, which is
    then False), without the index arrays `flatnonzero` builds or `any`, both through Python wrappers
    (~9,400 rounds on the 4 × 12 fleet)."""
    if not len(t):
        return lo, hi
    within = t <= tpot_limit
    k = len(within) - 1 - int(within[::-1].argmax())
    if within[k]:
        lo = int(pts[k])
    beyond = t > tpot_limit
    k = int(beyond.argmax())
    if beyond[k]:
        hi = int(pts[k])
    return lo, hi


def _search_round(dep: Deployment, ctx: float, lo: int, hi: int, step: int):
    """(batches, TPOT at each) of one round of `_max_batch_within` between lo and hi, memoised:
    a round depends on its bracket, not on the TPOT limit, so a sweep over TPOT limits repeats
    the first round of every shape and many later ones (the same floats as computing them again)."""
    hit = recall("_search_round", dep, (ctx, lo, hi, step))
    if hit is None:
        import numpy as np
        pts = np.arange(lo + step, hi, step)
        hit = (pts, batched.decode_steps(dep, pts.astype(float), ctx, True).time_s / perf.tokens_per_step(dep))
        remember("_search_round", dep, (ctx, lo, hi, step), hit)
    return hit


def search_all(res: Resolved, items: list[tuple[GPUOption, Parallelism, Speculation | None]],
               w: WorkloadContext) -> None:
    """The batch searches (`_max_batch_within`) of the decode instances of every (GPU, layout,
    speculation) of `items` in lock-step, each round of all searches that is not memoised in one numpy
    call per `physics.many.group_key` (`ShapeGroup.decode_steps`, the floats of `batched.decode_steps`),
    and each round remembered as `_search_round` would: `decode_candidate` then reads them. A search
    here ends where `decode_candidate`'s does; one that did not would be computed again there."""
    import numpy as np
    searches = []
    caps = []   # (deployment, slots, largest batch within the limit, or the search that finds it)
    deps = [deployment(res, opt, par, spec) for opt, par, spec in items]
    slots = [memoised(perf.max_batch, dep, w.ctx_peak) for dep in deps]
    built: dict[tuple, tuple[ShapeGroup, dict[int, int]]] = {}   # a group's deployments and their positions
    _first_tpots([(d, c) for d, c in zip(deps, slots) if c >= 1], w.ctx_decode, built)
    for dep, limit_b in zip(deps, slots):
        if limit_b < 1:
            continue
        limit = w.tpot_limit / _join(dep, w)
        known = _without_search(dep, w.ctx_decode, limit_b, limit) if limit_b > 2 else None
        if limit_b > 2 and known is None:   # a bracket to search
            searches.append([dep, 1, limit_b, limit])
        caps.append((dep, limit_b, searches[-1] if limit_b > 2 and known is None else known))
    while searches:
        todo: dict[tuple, list] = {}   # the searches whose round is not memoised (a sweep's mostly are), by group
        for search in searches:
            dep, lo, hi = search[:3]
            if recall("_search_round", dep, (w.ctx_decode, lo, hi, _round_step(lo, hi))) is None:
                key = group_key(dep)
                if key is not None:   # else `_search_round` computes it alone, below
                    todo.setdefault((key, perf.tokens_per_step(dep)), []).append(search)
        for key, group in todo.items():
            if key not in built or any(id(s[0]) not in built[key][1] for s in group):
                built[key] = (shape_group([s[0] for s in group]), {id(s[0]): i for i, s in enumerate(group)})
            g, pos = built[key]
            pts = [np.arange(lo + _round_step(lo, hi), hi, _round_step(lo, hi)) for _, lo, hi, _ in group]
            t = g.decode_steps(np.repeat([pos[id(s[0])] for s in group], [len(p) for p in pts]),
                               np.concatenate(pts).astype(float), w.ctx_decode, time_only=True).time_s
            for (dep, lo, hi, _), p, part in zip(group, pts, batched.parts(t, [len(p) for p in pts])):
                remember("_search_round", dep, (w.ctx_decode, lo, hi, _round_step(lo, hi)),
                         (p, part / key[1]))
        left = []
        for search in searches:
            dep, lo, hi, limit = search
            step = _round_step(lo, hi)
            search[1:3] = _narrow(lo, hi, *_search_round(dep, w.ctx_decode, lo, hi, step), limit)
            if step > 1 and search[2] - search[1] > 1:
                left.append(search)
        searches = left
    if not w.first_token_decoded:   # the slot tables the candidates' slot searches read (a mean batch
        # below the largest batch within the limit, at or above the no-wait bound: `_within_slot_wait`)
        slot_tables_all([(dep, c) for dep, c, b_cap in caps
                         if _cap_of(dep, w, c, b_cap) - 1 >= max(1.0, no_wait_below(c))], w)


def _first_tpots(items: list[tuple[Deployment, int]], ctx: float, built: dict) -> None:
    """`perf.tpot` at one sequence and at the slots of each (deployment, slots) of `items` (what each
    batch search starts from, `_without_search`) where not yet memoised, remembered as
    `memoised(perf.tpot, ...)` would: a group's in one `ShapeGroup.decode_steps` call (the floats of
    `batched`, which are `perf`'s: tests/test_batched.py), its `ShapeGroup` of all the group's shapes
    kept in `built` for the search rounds. Shapes without a group are left to `memoised`."""
    import numpy as np
    groups: dict[tuple, list[tuple[Deployment, int]]] = {}
    for dep, c in items:
        key = group_key(dep)
        if key is not None:
            groups.setdefault((key, perf.tokens_per_step(dep)), []).append((dep, c))
    for key, group in groups.items():
        todo = [(k, b) for k, (dep, c) in enumerate(group) for b in (1, c) if recall("tpot", dep, (b, ctx)) is None]
        if not todo:   # a sweep's later points: all memoised, no group built
            continue
        if key not in built:
            built[key] = (shape_group([dep for dep, _ in group]), {id(dep): i for i, (dep, _) in enumerate(group)})
        t = built[key][0].decode_steps(np.array([k for k, _ in todo]), np.array([b for _, b in todo], dtype=float),
                                       ctx, time_only=True).time_s / key[1]
        for (k, b), v in zip(todo, t.tolist()):
            remember("tpot", group[k][0], (b, ctx), v)


def _cap_of(dep: Deployment, w: WorkloadContext, slots: int, found) -> int:
    """`_max_batch_within` of a shape from what `search_all` found: its value, its ended search's
    bracket, or (None: two slots or fewer) the function itself."""
    if found is None:
        return _max_batch_within(dep, w.ctx_decode, slots, w.tpot_limit / _join(dep, w))
    return found[1] if isinstance(found, list) else found


def _join(dep: Deployment, w: WorkloadContext) -> float:
    """The TPOT factor of the wait to join the running batch, at the TPOT statistic (1 when every
    prompt token is cached: the decode step makes the first token, and the waits come before it)."""
    return 1.0 if w.first_token_decoded else w.join_factor_at_statistic(perf.tokens_per_step(dep))


def _within_slot_wait(dep: Deployment, w: WorkloadContext, b: int, slots: int, join: float = 1.0) -> int:
    """Largest mean batch ≤ b whose TPOT statistic, with the wait for one of the `slots` memory
    admits spread over the output (`WorkloadContext.slot_tpot_s`), stays within the TPOT limit:
    at a mean batch equal to the slots the slot queue never empties. The wait is nil below
    c − 6√c − 6 (`queueing.no_wait_below`), so only the top of that range is searched: its steps in
    one numpy call, the waits by bisection (both terms grow with the batch). `join`: the TPOT
    factor of the wait to join the running batch (`WorkloadContext.join_factor`)."""
    floor = no_wait_below(slots)
    if b < 1 or b < floor:
        return b
    start, t, t_stat, slot_terms = slot_table(dep, w, slots)
    n = b - start + 1                    # the batches start … b

    def ok(i: int) -> bool:
        term = slot_terms.get(i)
        if term is None:
            term = slot_terms[i] = w.slot_tpot_at_statistic_s(float(start + i), slots, t[i], t[-1])
        return t_stat[i] * join + term <= w.tpot_limit

    if ok(n - 1):
        return b
    lo = _last_ok(-1, n - 1, ok)
    return start + lo if lo >= 0 else 0


def _last_ok(lo: int, hi: int, ok) -> int:
    """The largest i in (lo, hi) with ok(i), `ok` holding up to a point and failing after it and at
    hi; lo when it holds nowhere in between (bisection)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def decode_candidates(res: Resolved, items: list[tuple[GPUOption, Parallelism, Speculation | None]],
                      w: WorkloadContext) -> list[Candidate | Rejected]:
    """`decode_candidate` of every (GPU, layout, speculation) of `items`, in order: each shape's batch
    found as there, then the steps at each batch found and at the batch a request sees there, of all
    shapes in one call per group (`decode_tables.final_steps_all`, remembered as `memoised` would:
    the same floats), then each candidate from them."""
    found = [_batch_of(res, opt, par, w, spec) for opt, par, spec in items]
    final_steps_all([(f[0], f[-1], f[4]) for f in found if isinstance(f, tuple) and f[-1] > 0], w)
    return [_candidate_at(w, *f) if isinstance(f, tuple) else f for f in found]


def decode_candidate(res: Resolved, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                     spec: Speculation | None = None) -> Candidate | Rejected:
    """Decode instance at the largest batch that fits in memory and meets the TPOT limit."""
    found = _batch_of(res, opt, par, w, spec)
    return _candidate_at(w, *found) if isinstance(found, tuple) else found


def _batch_of(res: Resolved, opt: GPUOption, par: Parallelism, w: WorkloadContext, spec: Speculation | None):
    """`decode_candidate`'s rejection for memory, or what it found before its final steps: (deployment,
    GPU, layout, speculation, slots, every prompt token cached, join factor, largest batch within the
    limit, largest mean batch whose statistic fits it, the mean batch within the waits)."""
    dep = deployment(res, opt, par, spec)
    mem_limit = memoised(perf.max_batch, dep, w.ctx_peak)
    if mem_limit < 1:
        mem = memoised(perf.memory_use, dep, 1, w.ctx_peak)
        return Rejected("decode", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                        f"weights+KV of one sequence need {mem.total_bytes/1e9:.1f} GB of "
                        f"{mem.usable_bytes/1e9:.1f} GB usable per card")
    # every prompt token cached: this instance makes the first token, so the waits to join the batch and
    # for a slot come before it (TTFT), not between first and second; else the wait to join, per token,
    # at the TPOT statistic (the candidate's TPOT is the statistic's)
    cached = w.first_token_decoded
    join = _join(dep, w)
    # the largest batch a request may see within the limit; it sees itself and the mean batch of the
    # others (`batch_seen`), so the mean batch stays one below it
    b_cap = _max_batch_within(dep, w.ctx_decode, mem_limit, w.tpot_limit / join)
    b_fit = min(_fit_mean_batch(dep, w, b_cap), b_cap - 1) if w.tpot_spread else b_cap - 1
    b = _within_first_token(dep, w, b_fit, mem_limit) if cached else _within_slot_wait(dep, w, b_fit, mem_limit, join)
    return dep, opt, par, spec, mem_limit, cached, join, b_cap, b_fit, b


def _candidate_at(w: WorkloadContext, dep: Deployment, opt: GPUOption, par: Parallelism, spec: Speculation | None,
                  mem_limit: int, cached: bool, join: float, b_cap: int, b_fit: int, b: int) -> Candidate | Rejected:
    """`decode_candidate` from what `_batch_of` found."""
    stat = None   # the TPOT statistic at b (with the waits), as the candidate reads it
    if not cached and b > 0:
        stat = _tpot_statistic(dep, w, b, mem_limit, join)
    if stat is not None and stat[2] > w.tpot_limit:
        # below the slot search's floor c − 6√c − 6 the wait is nil only for a constant hold; with the
        # hold growing to full slots' it is not (Llama-3.1-8B on H100 TP8, 3,173 of 3,559 slots: 50.23
        # ms against 50, a candidate the MILP took at 10⁹ req/s and verification refused, exit 4)
        b = _last_ok(0, b, lambda m: _tpot_statistic(dep, w, m, mem_limit, join)[2] <= w.tpot_limit)
        stat = None
    if b == 0 and b_cap >= 1 and not (cached and b_fit > 0):   # below a mean batch of one
        return _below_one_decode(dep, w, opt, par, spec, join, mem_limit)
    if b == 0 < b_fit and cached:   # the step is fast enough; the first token is not
        v = _first_token_s(dep, w, 1.0, mem_limit)
        return Rejected("decode", opt.id, par, "ttft", v, w.ttft_limit,
                        f"every prompt token cached, its decode step makes the first token: at batch 1 "
                        f"that takes {v*1e3:.1f} ms")
    if b <= 0:   # −1: not even one sequence's step is within the limit (b_cap 0; a candidate of batch −1
        # and negative capacity hid this rejection, and the floor said was another shape's)
        b_one = _statistic_batch(dep, w, 1.0)
        t1 = memoised(perf.tpot, dep, b_one, w.ctx_decode) * join
        return Rejected("decode", opt.id, par, "tpot", t1, w.tpot_limit,
                        f"batch 1 already takes {t1*1e3:.1f} ms per token" + (
                            f" at the TPOT statistic's batch {b_one:.1f}" if w.tpot_spread else ""))
    st = memoised(perf.decode_step, dep, b, w.ctx_decode)
    t, b_stat, t_stat = stat if stat is not None else _tpot_statistic(dep, w, b, mem_limit, None if cached else join)
    mem = memoised(perf.memory_use, dep, math.ceil(b_stat), w.ctx_peak)
    limited = "ttft" if cached and b < b_fit else "memory" if b_cap == mem_limit else "tpot"
    return _decode_at(dep, w, opt, spec, b, b / t, limited, t_stat, mem.total_bytes, st.bound)


def _tpot_statistic(dep: Deployment, w: WorkloadContext, b: int, slots: int,
                    join: float | None) -> tuple[float, float, float]:
    """(TPOT a request sees, the batch memory holds at the statistic's quantile, the candidate's
    TPOT) at mean batch b: the step at the batch a request sees (`batch_seen`) or the statistic's
    request's (`_seen_statistic_batch`), and with `join` (None: every prompt token cached, no wait
    after the first token) the waits to join the batch and for one of `slots` spread over the output."""
    seen = batch_seen(float(b), slots)
    t = memoised(perf.tpot, dep, seen, w.ctx_decode)
    b_stat: float = b
    t_stat = t
    if w.tpot_spread:   # the TPOT statistic: the step at the life-averaged batch's quantile, which the
        b_q = _statistic_batch(dep, w, float(b))   # statistic's request sees beside itself (`_seen_statistic_batch`)
        b_stat = min(b_q, float(slots))
        t_stat = memoised(perf.tpot, dep, seen_statistic_batch(float(b), seen, b_q, w.tpot_statistic, slots),
                          w.ctx_decode)
    if join is not None:   # to join, for a slot
        t_stat = t_stat * join + float(w.slot_tpot_at_statistic_s(b, slots, t, memoised(perf.tpot, dep, slots,
                                                                                         w.ctx_decode)))
    return t, b_stat, t_stat


def _statistic_batch(dep: Deployment, w: WorkloadContext, b: float) -> float:
    """The life-averaged batch's quantile at mean batch b: m + ζ·gain·√m, the gain from the step's
    elasticity in the batch (`batch_spread.statistic_batch`)."""
    return statistic_batch(b, w.tpot_spread, lambda x: memoised(perf.tpot, dep, x, w.ctx_decode))


def _seen_statistic_batch(dep: Deployment, w: WorkloadContext, b: float, slots: int) -> float:
    """The batch the TPOT statistic's request sees: itself and the others' quantile, batch_seen(m) +
    ζ·gain·√m + the Poisson skew (`batch_spread.poisson_skew`), at most the slots (alone with one
    slot). Taken around m alone, as until the twenty-third session, it left the request out:
    Llama-3.1-8B on L40S at a mean of 0.93 planned a p90 TPOT of 33.4 ms that simulated at 38.1 (a
    36 ms SLO broken)."""
    return seen_statistic_batch(b, batch_seen(b, slots), _statistic_batch(dep, w, b), w.tpot_statistic, slots)


def _fit_mean_batch(dep: Deployment, w: WorkloadContext, b_cap: int) -> int:
    """Largest whole mean batch whose TPOT statistic's batch stays within b_cap, the largest batch
    meeting the TPOT limit: at most the batch without feedback (`mean_batch_within`, gain 1),
    below it by bisection (the statistic's batch grows with the mean)."""
    b0 = int(mean_batch_within(b_cap, w.tpot_spread))

    def ok(m: int) -> bool:
        return _statistic_batch(dep, w, float(m)) + 1.0 + poisson_skew(w.tpot_statistic) <= b_cap   # and itself

    if b0 < 1 or ok(b0):
        return b0
    return _last_ok(0, b0, ok)


def _first_token_s(dep: Deployment, w: WorkloadContext, b: float, slots: int) -> float:
    """A wholly cached request's TTFT on a decode instance at mean batch b (`waits.decoded_first_token_s`):
    the fixed time, the wait for one of `slots`, the step in progress and its own."""
    # as verification reads it (`verify.pool_state`): the step at the batch a request sees and the slot
    # hold growing to the step at full slots; a constant hold passed a pool of 8,000-token answers at
    # 0.17 s that verification read at 0.24 s against 0.2 (exit 4; a hostile-input hunt, third round)
    seen = batch_seen(b, slots)
    t = memoised(perf.tpot, dep, seen, w.ctx_decode)
    step = memoised(perf.decode_step, dep, seen, w.ctx_decode).time_s
    t_slots = memoised(perf.tpot, dep, slots, w.ctx_decode)
    return decoded_first_token_s(dep, w, b, step, float(w.decode_slot_wait_s(b, slots, t, t_slots)))


def _within_first_token(dep: Deployment, w: WorkloadContext, b: int, slots: int) -> int:
    """Largest mean batch ≤ b whose wholly cached requests reach their first token within the
    TTFT limit (it grows with the batch: a longer step, a longer wait for a slot); 0 if none."""
    if b < 1:
        return b
    if _first_token_s(dep, w, float(b), slots) <= w.ttft_limit:
        return b
    return _last_ok(0, b, lambda m: _first_token_s(dep, w, float(m), slots) <= w.ttft_limit)


def _decode_at(dep: Deployment, w: WorkloadContext, opt: GPUOption, spec: Speculation | None, batch: int,
               cap: float, limited: str, tpot_s: float, mem_bytes: float, bound: str) -> Candidate:
    """The decode Candidate of an operating point: design batch, capacity (output tokens/s) and
    what limits it, capped by the KV its NICs can receive per token it generates."""
    ratio = w.kv_prompt_per_decode_token
    nic_cap = kv_nic_limit_tok_s(dep, ratio) if ratio > 0 else math.inf
    if nic_cap < cap:
        cap, limited = nic_cap, "nic"
    return Candidate("decode", opt.id, dep.par, batch, 0.0, 0.0, 0.0, cap, 0.0, 0.0, 0.0, tpot_s, 0.0,
                     dep.par.cards * opt.gpu.nic_bytes_per_s, mem_bytes, bound, limited, spec)


BELOW_ONE_OCCUPANCY = tuple(k / 20 for k in range(1, 20))   # mean batches below one: 0.05 … 0.95


def _below_one_decode(dep: Deployment, w: WorkloadContext, opt: GPUOption, par: Parallelism,
                      spec: Speculation | None, join: float, slots: int) -> Candidate | Rejected:
    """A decode instance at a mean batch m < 1: where a request seeing one other sequence already
    breaks the TPOT limit, or memory holds one sequence. A request sees itself and the mean
    batch of the others, 1 + m (`batch_seen`; 1 when one slot makes the others wait), and the
    slot queue is M/G/c at offered load m (its wait spread over the output,
    `WorkloadContext.slot_tpot_s`). The largest m on a 0.05 grid whose TPOT (or statistic: the
    others' quantile beside itself, `_seen_statistic_batch`) meets the limit: capacity
    m / TPOT(seen). The design batch stays 1; the plan's pool state solves the mean."""
    def tpot_at(m: float) -> float:
        return memoised(perf.tpot, dep, batch_seen(m, slots), w.ctx_decode)

    def statistic_at(m: float) -> float:   # the TPOT statistic's step (the mean's without a spread)
        if not w.tpot_spread:
            return tpot_at(m)
        return memoised(perf.tpot, dep, _seen_statistic_batch(dep, w, m, slots), w.ctx_decode)

    t_full = memoised(perf.tpot, dep, slots, w.ctx_decode)
    if w.first_token_decoded:   # the wait for the slot delays the first token, not the second
        tpot = {m: statistic_at(m) for m in BELOW_ONE_OCCUPANCY}
        ok = [m for m in BELOW_ONE_OCCUPANCY
              if tpot[m] <= w.tpot_limit and _first_token_s(dep, w, m, slots) <= w.ttft_limit]
        if not ok and tpot[BELOW_ONE_OCCUPANCY[0]] <= w.tpot_limit:
            v = _first_token_s(dep, w, BELOW_ONE_OCCUPANCY[0], slots)
            return Rejected("decode", opt.id, par, "ttft", v, w.ttft_limit,
                            f"its memory holds {slots} sequences of {w.ctx_peak:g} tokens: even at a 5 % "
                            f"occupancy a wholly cached request's first token takes {v*1e3:.1f} ms")
    else:
        tpot = {m: statistic_at(m) * join + float(w.slot_tpot_at_statistic_s(m, slots, tpot_at(m), t_full))
                for m in BELOW_ONE_OCCUPANCY}
        ok = [m for m in BELOW_ONE_OCCUPANCY if tpot[m] <= w.tpot_limit]
    if not ok:
        m = BELOW_ONE_OCCUPANCY[0]
        v, step = tpot[m], statistic_at(m) * (1.0 if w.first_token_decoded else join)
        if step > w.tpot_limit:
            return Rejected("decode", opt.id, par, "tpot", step, w.tpot_limit,
                            f"batch 1 already takes {step*1e3:.1f} ms per token" if slots == 1 else
                            f"even at a 5 % occupancy a request's steps take {step*1e3:.1f} ms per token "
                            f"(itself and {m:g} others on average)", slots=slots > 1)
        return Rejected("decode", opt.id, par, "tpot", v, w.tpot_limit,
                        f"its memory holds {slots} sequence{'s' if slots > 1 else ''} of {w.ctx_peak:g} tokens: "
                        f"even at a 5 % occupancy the wait for a batch slot takes TPOT to {v*1e3:.1f} ms",
                        slots=True)
    m = ok[-1]
    return _decode_at(dep, w, opt, spec, 1, m / tpot_at(m), "memory" if slots == 1 else "tpot", tpot[m],
                      memoised(perf.memory_use, dep, 1, w.ctx_peak).total_bytes,
                      memoised(perf.decode_step, dep, 1, w.ctx_decode).bound)
