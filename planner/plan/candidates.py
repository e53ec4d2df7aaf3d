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
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.physics.prefill_queue import Servers
from planner.plan import colocated_many
from planner.plan.candidate import (  # noqa: F401  (the types and the memo, importable from here as before)
    MEMO_MAX_ENTRIES,
    Candidate,
    CandidateSet,
    Rejected,
    Role,
    clear_memo,
    deployment,
    gc_paused,
    kv_nic_limit_tok_s,
    memo_table,
    memoised,
    recall,
    remember,
)
from planner.plan.colocated_table import CHUNK_MULTIPLES, ColocatedTable, colocated_batch_grid  # noqa: F401
from planner.plan.decode import BELOW_ONE_OCCUPANCY, decode_candidate, decode_candidates, search_all  # noqa: F401  (importable from here as before)
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
    """`colocated_candidates` of every (GPU, layout, speculation) in `items`, in order: the grids not yet memoised
    together (`colocated_many`: each the floats of the shape's own `colocated_table.table`; cut at the TPOT limit
    and memoised with the limit it was cut at, which serves every limit up to it; a looser one gets the whole
    grid, so a TPOT sweep computes each at most twice: `_grids`), the chunk queue of every grid's points
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
            new.append(k)
        tables.append(table)
    _grids(deps, limits, tables, new, w0, w.tpot_limit)
    # the whole grid where one was cut at a tighter limit, or has no point within this one (its rejection
    # names the lightest point of the whole grid)
    _grids(deps, limits, tables, [k for k, t in enumerate(tables) if t is not None and t.cut_s < math.inf and (
        t.cut_s < w.tpot_limit or (t.t_stat[t.fit] > w.tpot_limit).all())], w0, math.inf)
    rows = {k: _unqueued(t, w.tpot_limit, np) for k, t in enumerate(tables) if t is not None}
    todo = [k for k, r in rows.items() if len(r)]
    if todo:
        _queue_tables([tables[k] for k in todo], [deps[k] for k in todo], [limits[k] for k in todo],
                      [rows[k] for k in todo], w0, np)
    picks = _colocated_picks(deps, w, limits, tables, np)
    kept = [q for q in picks if isinstance(q, _Pick)]
    if kept and w.packed_ttft:   # at each point's own load (`_queue_tables`)
        for q, t in ((q, tables[k]) for k, q in enumerate(picks) if isinstance(q, _Pick)):
            q.ttft = t.alone[q.sel]
    elif kept:
        ttfts = worst_ttft_many(w, np.concatenate([q.rho for q in kept]),
                                Servers.single(np.concatenate([q.service for q in kept])),
                                np.concatenate([q.fixed for q in kept]))[0]
        for q, t in zip(kept, batched.parts(ttfts, [len(q.rho) for q in kept])):
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


def _grids(deps: list[Deployment], limits: list[int], tables: list, ks: list[int], w0: WorkloadContext,
           tpot_cut_s: float) -> None:
    """The colocated grids of the shapes `ks`, cut at `tpot_cut_s`, into `tables` and the memo."""
    if not ks:
        return
    for k, t in zip(ks, colocated_many.tables([deps[k] for k in ks], w0, [limits[k] for k in ks], tpot_cut_s)):
        tables[k] = t
        remember("_colocated_table", deps[k], (w0, limits[k]), t)


def _unqueued(t: ColocatedTable, tpot_limit: float, np):
    """Rows (among the fitting points) of a table's points within `tpot_limit` whose chunk queue is
    not yet filled in: the points `_colocated_pick` reads it at."""
    return np.flatnonzero(~t.queued & ~(t.t_stat[t.fit] > tpot_limit))


def _queue_tables(tables: list[ColocatedTable], deps: list[Deployment], slots: list[int], rows: list,
                  w: WorkloadContext, np) -> None:
    """The wait for a batch slot, ρ_max and the TTFT alone of the fitting points `rows` of each of
    `tables` in one call each (the chunk queue: one prompt per 'pass', M/G/1), in place. Every
    formula is point by point, so a point's values do not depend on the others queued with it."""
    at = [t.fit[r] for t, r in zip(tables, rows)]   # the rows' grid points
    sizes = [len(r) for r in rows]
    queue = (np.concatenate([t.bs[i] for t, i in zip(tables, at)]),
             np.concatenate([np.full(len(r), c, dtype=float) for r, c in zip(rows, slots)]),
             np.concatenate([t.service[r] for t, r in zip(tables, rows)]),
             np.concatenate([t.t[i] for t, i in zip(tables, at)]),
             np.concatenate([t.t_full[r] for t, r in zip(tables, rows)]),
             np.concatenate([t.pre[r] for t, r in zip(tables, rows)]))
    slot_s = w.slot_wait_for_ttft_s(w.slot_wait_s(*queue), *queue)
    for t, r, s in zip(tables, rows, batched.parts(slot_s, sizes)):
        t.slot_s[r] = s
        t.queued[r] = True
    if w.packed_ttft:   # ρ_max and TTFT alone from whole prompts' steps instead of the chunk queue
        _packed_limits(tables, deps, rows, at, sizes, slot_s, w, np)
        return
    fixed = np.concatenate([perf.request_overhead_s(d) + t.slot_s[r]
                            + colocated_first_step_s(w, t.bs[i], t.st.time_s[i],
                                                     t.st.time_s[i] + decode_growth_s(d, w, t.bs[i]))
                            for t, d, i, r in zip(tables, deps, at, rows)])
    for t, r, (rho, alone, limit) in zip(tables, rows, queue_limits(w, Servers.single(queue[2]), fixed, sizes)):
        t.rho[r], t.alone[r], t.limit[r] = rho, alone, limit


def _packed_limits(tables: list[ColocatedTable], deps: list[Deployment], rows: list, at: list, sizes: list[int],
                   slot_s, w: WorkloadContext, np) -> None:
    """ρ_max, the TTFT alone and its limit of the rows of `tables` (their grid points `at`) whose prompts
    are taken whole (`packed.first_token_wait`), at each point's own load, in place: every table's rows
    concatenated, each formula once (point by point: the floats of each table's own)."""
    limits = np.array([tg.limit for tg in w.targets])
    plain, lone, inc, ratio = (np.concatenate([t.packed[j][i] for t, i in zip(tables, at)]) for j in range(4))
    p, step = (np.concatenate([x[i] for x, i in zip(xs, at)]) for xs in ([t.p for t in tables],
                                                                        [t.st.time_s for t in tables]))
    # the wait before the first token beyond the lone work (`packed.first_token_wait`, point by point), at
    # the queued points only: those beyond the TPOT limit never need it
    wait = packed.first_token_wait(step, plain, lone, inc, ratio, p / w.s_unc, float(w.pass_token_budget) / w.s_unc)
    base = np.repeat([perf.request_overhead_s(d) for d in deps], sizes) + slot_s + plain + wait
    vals = np.array([base + lone * tg.len_factor for tg in w.targets])
    k = np.argmin(limits[:, None] - vals, axis=0)   # the target with the least slack
    load = p / step / np.concatenate([t.chunk_c[r] / t.full[r] for t, r in zip(tables, rows)])   # prefill ÷ raw
    ok = (vals <= limits[:, None]).all(axis=0)
    parts = (np.where(ok, np.minimum(load, w.util_ceiling), 0.0), vals[k, np.arange(len(base))], limits[k])
    for t, r, rho, alone, limit in zip(tables, rows, *(batched.parts(x, sizes) for x in parts)):
        t.rho[r], t.alone[r], t.limit[r] = rho, alone, limit


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
                   g: ColocatedTable) -> list[Candidate]:
        """The kept points as `Candidate`s, each field the float the point's own arithmetic gives (memory
        and what bounds the step: `batched.memory_totals`, `batched.bounds`)."""
        import numpy as np
        par, gpu_id, spec = dep.par, dep.gpu.id, dep.spec
        nic = par.cards * dep.gpu.nic_bytes_per_s
        b_mem = np.ceil(g.b_stat[self.at]).astype(np.int64)   # the batch memory holds at the statistic
        mem = batched.memory_totals(dep, b_mem, w.ctx_peak).tolist()
        bound = batched.bounds(g.st, self.at)
        b_int, chunk, rho, service, t_stat = g.b_int, g.chunk_c[self.sel], g.rho[self.sel], g.service[self.sel], \
            g.t_stat[self.at]
        return [Candidate("colocated", gpu_id, par, b_int[pt], c, p, x, d, r, s, tt, ts, 0.0, nic, m, bd,
                          "memory" if bm >= mem_limit else "slo", spec)
                for pt, c, p, x, d, r, s, tt, ts, m, bd, bm in zip(
                    self.at.tolist(), chunk.tolist(), self.prefill.tolist(), self.raw.tolist(), self.decode.tolist(),
                    rho.tolist(), service.tolist(), self.ttft.tolist(), t_stat.tolist(), mem, bound, b_mem.tolist())]


def _colocated_pick(dep: Deployment, w: WorkloadContext, mem_limit: int, g: ColocatedTable,
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


def _colocated_picks(deps: list[Deployment], w: WorkloadContext, mem_limits: list[int], tables: list,
                     np) -> list[_Pick | Rejected | None]:
    """`_colocated_pick` of every shape whose memory holds a sequence (None for the others), in order: the
    points of all tables in one pass of each formula and their Pareto fronts in one sort (by shape first,
    then as `pareto_front`, each shape's running maximum in a row of its own), each shape's pick cut from
    them. Every float is a point's own arithmetic and every choice a shape's own, so the picks are the
    same; a shape with none is rejected by `_colocated_pick` itself (a few, not worth their arrays)."""
    ks = [k for k in range(len(deps)) if mem_limits[k] >= 1]
    out: list[_Pick | Rejected | None] = [None] * len(deps)
    if not ks:
        return out
    ts = [tables[k] for k in ks]
    n_pts, n_fit = np.array([len(t.t_stat) for t in ts]), np.array([len(t.fit) for t in ts])
    offs, f_offs = np.cumsum(n_pts) - n_pts, np.cumsum(n_fit) - n_fit   # each table's first point and row

    def cat(field: str):   # a per-point or per-row field of every table, end to end
        return np.concatenate([getattr(t, field) for t in ts])
    seg = np.repeat(np.arange(len(ts)), n_pts)
    ok = np.flatnonzero(~(cat("t_stat") > w.tpot_limit)
                        & (cat("b_stat") <= np.repeat(np.array([mem_limits[k] for k in ks], dtype=float), n_pts)))
    pos = np.searchsorted(np.concatenate([t.fit + o for t, o in zip(ts, offs.tolist())]), ok)   # ok ⊂ fit
    rho = cat("rho")
    live = rho[pos] > 0
    n_live = np.bincount(seg[ok[live]], minlength=len(ts))
    at, rows = ok[live], pos[live]
    sl = seg[at]
    raw = cat("chunk_c")[rows] / cat("full")[rows]
    prefill = np.minimum(cat("p")[at] / np.concatenate([t.st.time_s for t in ts])[at], rho[rows] * raw)
    decode = cat("bs")[at] / cat("t")[at]
    # `pareto_front`'s order, shape by shape, ties by position: lexsort's sort is stable, so no key of positions
    order = np.lexsort((-decode, -prefill, sl))
    starts = np.cumsum(n_live) - n_live
    # the shapes keep their places in that order (sorted by shape first, as `at` is), so sl is also the
    # shape of each sorted position, and col its place among its shape's
    col = np.arange(len(at)) - starts[sl]
    before = np.full((len(ts), int(n_live.max()) + 1), -np.inf)
    before[sl, col + 1] = decode[order]
    before = np.maximum.accumulate(before, axis=1)[sl, col]   # the best decode before it in its shape
    kept = np.sort(order[~(before >= decode[order])])
    fixed = np.repeat(np.array([perf.request_overhead_s(deps[k]) for k in ks]), n_live)[kept] \
        + cat("slot_s")[rows[kept]]
    parts = (at[kept] - offs[sl[kept]], rows[kept] - f_offs[sl[kept]], prefill[kept], decode[kept], raw[kept],
             prefill[kept] / raw[kept], cat("service")[rows[kept]], fixed)
    sizes = np.bincount(sl[kept], minlength=len(ts)).tolist()
    for j, (k, t, *pick) in enumerate(zip(ks, ts, *(batched.parts(x, sizes) for x in parts))):
        out[k] = _Pick(*pick) if n_live[j] else _colocated_pick(deps[k], w, mem_limits[k], t, np)
    return out


def generate(res: Resolved) -> CandidateSet:
    """All candidates of the problem: every GPU type × shape × allowed role (prefill instances of
    all shapes evaluated together, `prefill.prefill_candidates`), the garbage collector paused
    (`candidate.gc_paused`)."""
    with gc_paused():
        return _generate(res)


def _generate(res: Resolved) -> CandidateSet:
    """`generate`'s candidates."""
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
    decodes: list = []
    if "disaggregated" in modes and w.s_dec > 0:   # the decode instances' batch searches together
        items = [(opt, par, s) for opt, par in shapes for s in specs]
        search_all(res, items, w)
        decodes = decode_candidates(res, items, w)
    out: list[Candidate] = []
    rejected: list[Rejected] = []
    for i in range(len(shapes)):
        results: list = []
        if "disaggregated" in modes:
            results += [prefill[i]]
            if w.s_dec > 0:   # no decode instance for answers of one token
                results += decodes[i * len(specs):(i + 1) * len(specs)]
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
    # Dominance is transitive, so "dominated by some other candidate" (a comparison of every pair of a
    # group) drops exactly what a scan dropping them one at a time would. The pairs of all groups end to
    # end, in one array pass (a fleet's service has ~30 groups of a few to ~80 candidates)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cands):
        groups.setdefault((c.gpu, c.role, c.par if same_shape else None), []).append(i)
    members = np.array([i for idx in groups.values() for i in idx], dtype=np.int64)   # group by group, in order
    sizes = np.array([len(idx) for idx in groups.values()], dtype=np.int64)
    size_of, first_of = np.repeat(sizes, sizes), np.repeat(np.cumsum(sizes) - sizes, sizes)
    c = np.repeat(members, size_of)                       # each pair (o, c): c, and in turn each of its group as o
    o = members[np.repeat(first_of, size_of) + np.arange(len(c)) - np.repeat(np.cumsum(size_of) - size_of, size_of)]
    cards = np.array([x.cards for x in cands], dtype=np.int64)
    p = np.array([x.prefill_tok_s for x in cands], dtype=float)
    d = np.array([x.decode_tok_s for x in cands], dtype=float)
    whole = cards[c] % cards[o] == 0                      # cards_c / cards_o whole
    k = np.where(whole, cards[c] // cards[o], 0)
    kp, kd, pc, dc = k * p[o], k * d[o], p[c], d[c]
    dom = whole & (kp >= pc) & (kd >= dc) & ((kp > pc) | (kd > dc) | (k > 1) | (o < c))   # o before c: ties
    if node_cards is not None:   # loses_no_more(o, c) for every pair, from each one's node loss
        lp = np.array([unit_loss_of(x, x.prefill_tok_s, "node", node_cards[x.gpu]) for x in cands], dtype=float)
        ld = np.array([unit_loss_of(x, x.decode_tok_s, "node", node_cards[x.gpu]) for x in cands], dtype=float)
        dom &= (lp[o] <= lp[c]) & (ld[o] <= ld[c])
    dropped = np.bincount(c[dom], minlength=len(cands)) > 0
    return tuple(c for c, out in zip(cands, dropped) if not out)
