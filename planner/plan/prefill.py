"""Prefill candidates: for each shape, the prompts per pass B that gives the most usable prefill
tokens/s, max over B of ρ_max(B)·B·pp·s/D(B), ρ_max the largest utilisation whose TTFT stays
within the limit (the batching queue, `physics.prefill_queue`).

All shapes of a problem are evaluated together: each shape's passes at B = 1, 2, 4, … in one
numpy call, then the queue's ρ_max and TTFT of every (shape, B) of the problem in one call. The
arithmetic per (shape, B) is the one `prefill_candidate` does for a shape alone, so the chosen
candidates are the same floats. A shape's result depends only on the deployment and the
workload's prefill side (lengths, TTFT targets, utilisation ceiling, pass budget), never on the
TPOT limit, and is memoised on exactly that: a TPOT sweep or a price what-if computes each
prefill candidate once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.physics import batched, perf
from planner.physics.bulk_table import BATCHES
from planner.physics.many import group_key, shape_group
from planner.physics.perf import Deployment, Parallelism
from planner.physics.prefill_queue import RHO_CEILING, Servers
from planner.plan.candidate import Candidate, Rejected, deployment, kv_nic_limit_tok_s, memoised, recall, remember
from planner.plan.resolve import GPUOption, Resolved
from planner.plan.workload import WorkloadContext, queue_limits, rho_max, worst_ttft, worst_ttft_many


def prefill_side(w: WorkloadContext) -> tuple:
    """What of the workload a prefill candidate depends on (its memo key)."""
    return (w.s_in, w.s_unc, w.s_cached, w.ctx_peak, w.cv2, w.work_cv2, w.targets, w.util_ceiling,
            w.pass_token_budget, w.s_unc_max, w.pass_budget_set)


def prefill_candidate(res: Resolved, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                      disaggregated: bool = True) -> Candidate | Rejected:
    """Best prompts-per-pass B for one prefill instance (`prefill_candidates` of one shape)."""
    return prefill_candidates(res, [(opt, par)], w, disaggregated)[0]


@dataclass
class _Grid:
    """One shape's passes at B = 1, 2, 4, …: what the joint queue evaluation needs and returns."""

    dep: Deployment
    kv_s: float
    bs: list[int]
    mems: list
    passes: object          # batched.prefill_passes of bs
    raw: object             # prompt tokens/s at full utilisation, per B
    rho: object = None      # ρ_max per B (filled by the joint call)
    alone: object = None    # worst TTFT at ρ = 0 per B, and its limit
    limit: object = None


def prefill_candidates(res: Resolved, shapes: list[tuple[GPUOption, Parallelism]], w: WorkloadContext,
                       disaggregated: bool = True) -> list[Candidate | Rejected]:
    """`prefill_candidate` of every shape, in order (module docstring)."""
    import numpy as np
    side = (prefill_side(w), disaggregated)
    out: list[Candidate | Rejected | None] = []
    pending: dict[int, tuple[Deployment, float]] = {}   # shapes whose passes are evaluated together, below
    new: dict[int, Deployment] = {}     # shapes not in the memo: remembered at the end
    for i, (opt, par) in enumerate(shapes):
        dep = deployment(res, opt, par)
        hit = recall("prefill_candidate", dep, side)
        if hit is not None:
            out.append(hit)
            continue
        new[i] = dep
        mem = memoised(perf.memory_use, dep, 1, w.ctx_peak)
        if not mem.fits:
            out.append(Rejected("prefill", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                                f"weights+KV need {mem.total_bytes/1e9:.1f} GB of {mem.usable_bytes/1e9:.1f} GB "
                                f"usable per card"))
            continue
        if w.pass_budget_set and w.s_unc_max > w.pass_token_budget:   # a pass takes whole prompts: one past
            # the budget the problem set has none (a hostile-input hunt: a 1,500-token prompt ran in passes of
            # a 1,024-token budget, exported so); the default budget grows to the prompt in a prefill engine
            out.append(Rejected("prefill", opt.id, par, "budget", w.s_unc_max, w.pass_token_budget,
                                f"a prompt of {w.s_unc_max:,.0f} uncached tokens passes the pass budget"))
            continue
        # fixed time to first token beyond the pass: KV transfer (disaggregated) + per-request overhead
        kv_s = (memoised(perf.kv_transfer_time, dep, w.s_in) if disaggregated else 0.0) + perf.request_overhead_s(dep)
        if w.s_unc <= 0:
            out.append(_finish(dep, w, disaggregated, _prefill_scan(dep, opt, par, w, kv_s)))
            continue
        pending[i] = (dep, kv_s)
        out.append(None)
    grids = dict(zip(pending, _passes_all(list(pending.values()), w)))
    if grids:
        _queue_all(list(grids.values()), w, np)
        for i, found in zip(grids, _choose_all(list(grids.values()), w)):
            out[i] = _finish(grids[i].dep, w, disaggregated, found)
    for i, dep in new.items():
        remember("prefill_candidate", dep, side, out[i])
    return out  # type: ignore[return-value]


def _prompt_counts(dep: Deployment, w: WorkloadContext) -> tuple[list[int], list]:
    """B = 1, 2, 4, … up to the pass token budget, the first B that does not fit or 256 prompts
    (the batching queue's table), with the memory each takes."""
    bs, mems = [], []
    b = 1
    while True:
        bs.append(b)
        mems.append(memoised(perf.memory_use, dep, b, w.s_in))
        b *= 2
        if b * w.s_unc > w.pass_token_budget or not mems[-1].fits or b > BATCHES[-1]:
            break
    return bs, mems


def _passes_all(shapes: list[tuple[Deployment, float]], w: WorkloadContext) -> list[_Grid]:
    """The `_Grid` of each (deployment, fixed time) of `shapes`, in order: every pass of the shapes of one
    `physics.many.group_key` in one numpy call (`ShapeGroup.prefill_passes`, the floats of
    `batched.prefill_passes`), of any other shape in one call of its own."""
    import numpy as np
    counts = [_prompt_counts(dep, w) for dep, _ in shapes]
    passes: list = [None] * len(shapes)
    groups: dict[tuple, list[int]] = {}
    for k, (dep, _) in enumerate(shapes):
        key = group_key(dep)
        if key is None:
            passes[k] = batched.prefill_passes(dep, np.array(counts[k][0], dtype=float), w.s_unc, w.s_cached, w.cv2)
        else:
            groups.setdefault(key, []).append(k)
    for ks in groups.values():
        sizes = [len(counts[k][0]) for k in ks]
        ph = shape_group([shapes[k][0] for k in ks]).prefill_passes(
            np.repeat(np.arange(len(ks)), sizes), np.array([b for k in ks for b in counts[k][0]], dtype=float),
            w.s_unc, w.s_cached, w.cv2)
        for k, part in zip(ks, batched.split(ph, sizes)):
            passes[k] = part
    out = []
    for (dep, kv_s), (bs, mems), ph in zip(shapes, counts, passes):
        raw = np.array(bs, dtype=float) * dep.par.pp * w.s_unc / ph.time_s
        out.append(_Grid(dep, kv_s, bs, mems, ph, raw))
    return out


def _queue_all(grids: list[_Grid], w: WorkloadContext, np) -> None:
    """ρ_max and the TTFT alone of every (shape, B) of `grids` in one call of the queue."""
    bs = np.concatenate([np.array(g.bs) for g in grids])
    stages = np.concatenate([np.full(len(g.bs), g.dep.par.pp) for g in grids])
    pass_s = np.concatenate([g.passes.time_s for g in grids])
    one = np.concatenate([np.full(len(g.bs), g.passes.time_s[0]) for g in grids])
    fixed = np.concatenate([np.full(len(g.bs), g.kv_s) for g in grids])
    limits = queue_limits(w, Servers.of(bs, stages, pass_s, one), fixed, [len(g.bs) for g in grids])
    for g, (rho, alone, limit) in zip(grids, limits):
        g.rho, g.alone, g.limit = rho, alone, limit


def _best_b(g: _Grid) -> int | None:
    """Index of the B with the most usable tokens/s among those that fit and meet the TTFT limit
    (the first of equals), or None."""
    best, best_tok_s = None, 0.0
    for i, (r, x, mem_b) in enumerate(zip(g.rho.tolist(), g.raw.tolist(), g.mems)):
        if r > 0 and mem_b.fits and (best is None or r * x > best_tok_s):
            best, best_tok_s = i, r * x
    return best


def _choose_all(grids: list[_Grid], w: WorkloadContext) -> list[tuple[Candidate | None, float, float]]:
    """Per shape, (best prefill candidate or None, worst TTFT alone and its limit at the least
    slack); the TTFT of every chosen operating point in one call of the queue."""
    import numpy as np
    bests = [_best_b(g) for g in grids]
    chosen = [(g, i) for g, i in zip(grids, bests) if i is not None]
    if chosen:
        servers = Servers.of([g.bs[i] for g, i in chosen], [g.dep.par.pp for g, _ in chosen],
                             [float(g.passes.time_s[i]) for g, i in chosen],
                             [float(g.passes.time_s[0]) for g, _ in chosen])
        ttfts = worst_ttft_many(w, np.array([float(g.rho[i]) for g, i in chosen]), servers,
                                np.array([g.kv_s for g, _ in chosen]))[0].tolist()
    out, k = [], 0
    for g, best in zip(grids, bests):
        i_min = int(np.argmin(g.alone - g.limit))
        alone, limit = float(g.alone[i_min]), float(g.limit[i_min])
        if best is None:
            out.append((None, alone, limit))
            continue
        dep, par = g.dep, g.dep.par
        r, x = float(g.rho[best]), float(g.raw[best])
        out.append((Candidate("prefill", dep.gpu.id, par, g.bs[best], 0.0, r * x, x, 0.0, r,
                              float(g.passes.time_s[best]), ttfts[k], 0.0, g.kv_s,
                              par.cards * dep.gpu.nic_bytes_per_s, g.mems[best].total_bytes,
                              g.passes.at(best).bound, pass_one_s=float(g.passes.time_s[0])), alone, limit))
        k += 1
    return out


def _finish(dep: Deployment, w: WorkloadContext, disaggregated: bool,
            found: tuple[Candidate | None, float, float]) -> Candidate | Rejected:
    """The shape's candidate with what limits it (TTFT, the utilisation ceiling, or the NIC), or
    Rejected when even one prompt alone misses the TTFT limit."""
    best, best_ttft, best_limit = found
    if best is None:
        return Rejected("prefill", dep.gpu.id, dep.par, "ttft", best_ttft, best_limit,
                        f"one prompt alone takes {best_ttft*1e3:.0f} ms to first token")
    ratio = w.kv_prompt_per_prefill_token   # the KV of the prompts that go on to decode
    nic_cap = kv_nic_limit_tok_s(dep, ratio) if disaggregated and ratio > 0 else math.inf
    if nic_cap < best.prefill_tok_s:
        return replace(best, prefill_tok_s=nic_cap, limited_by="nic")
    at_ceiling = best.rho_max >= min(w.util_ceiling, RHO_CEILING) - 1e-9
    return replace(best, limited_by="utilization" if at_ceiling else "ttft")


def _prefill_scan(dep: Deployment, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                  kv_s: float) -> tuple[Candidate | None, float, float]:
    """`_passes` + `_choose` point by point with the scalar passes (prompts wholly cached: no tokens
    to prefill, where the batched collectives would charge their latency to empty messages)."""
    best: Candidate | None = None
    best_ttft, best_limit = math.inf, 0.0
    b, one = 1, None
    while True:
        ph = memoised(perf.prefill_pass, dep, b, w.s_unc, w.s_cached, w.cv2)
        one = ph.time_s if one is None else one
        server = Servers.of(b, par.pp, ph.time_s, one)
        raw = b * par.pp * w.s_unc / ph.time_s
        rho = rho_max(w, server, kv_s)
        ttft_alone, limit = worst_ttft(w, 0.0, server, kv_s)
        if ttft_alone - limit < best_ttft - best_limit:
            best_ttft, best_limit = ttft_alone, limit
        mem_b = memoised(perf.memory_use, dep, b, w.s_in)
        if rho > 0 and mem_b.fits and (best is None or rho * raw > best.prefill_tok_s):
            best = Candidate("prefill", opt.id, par, b, 0.0, rho * raw, raw, 0.0, rho, ph.time_s,
                             worst_ttft(w, rho, server, kv_s)[0], 0.0,
                             kv_s, par.cards * opt.gpu.nic_bytes_per_s, mem_b.total_bytes, ph.bound,
                             pass_one_s=one)
        b *= 2
        if b * w.s_unc > w.pass_token_budget or not mem_b.fits or b > BATCHES[-1]:
            break
    return best, best_ttft, best_limit
