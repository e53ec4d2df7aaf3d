"""Enumerate instance shapes and operating points; each candidate carries capacity, latency, cost.

Glossary: a *shape* is (GPU type, Parallelism); a *candidate* is a shape in a role
(prefill, decode, colocated) at an operating point (decode batch `b`, prefill prompts per
pass `B`, colocated chunk `C` tokens per step). Capacities are tokens/s of one instance;
prefill capacity is already derated by ρ_max, the largest utilisation whose queueing
keeps TTFT within its limit. Candidates that break an SLO or do not fit are *rejected* and
kept, with the value they reach, for the infeasibility explanation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from planner.physics import batched, perf
from planner.physics.batch_spread import batch_at_statistic, chunk_variance, mean_batch_within, tpot_offset
from planner.physics.bulk_table import BATCHES
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.physics.prefill_queue import RHO_CEILING, Servers
from planner.plan.pareto import pareto_front
from planner.plan.redundancy import loses_no_more
from planner.plan.resolve import GPUOption, Resolved
from planner.plan.shapes import shapes_for
from planner.plan.speculative import speculations
from planner.plan.workload import (
    WorkloadContext,
    rho_max,
    rho_max_many,
    workload_context,
    worst_ttft,
    worst_ttft_many,
)

Role = Literal["prefill", "decode", "colocated"]


@dataclass(frozen=True)
class Candidate:
    """One way to run one instance, with its capacity and latency at the design point."""

    role: Role
    gpu: str
    par: Parallelism
    batch: int                 # decode: sequences in flight; prefill: prompts per pass
    chunk_tokens: float        # colocated: prefill tokens per step; else 0
    prefill_tok_s: float       # usable prefill capacity (= ρ_max · raw), uncached tokens/s
    prefill_raw_tok_s: float   # prefill capacity at 100 % utilisation
    decode_tok_s: float        # output tokens/s at the design batch
    rho_max: float             # largest prefill utilisation meeting the TTFT limit
    pass_s: float              # prefill service time of one pass (D)
    ttft_s: float              # TTFT at ρ_max for the SLO statistic
    tpot_s: float              # TPOT of the SLO's statistic at the design (mean) batch (decode, colocated)
    kv_transfer_s: float       # disaggregated prefill only
    nic_bytes_per_s: float     # NIC bandwidth of the whole instance
    memory_per_card_bytes: float
    bound: str
    limited_by: str = ""       # what stops this operating point going further: tpot, memory, ttft, nic,
                               # utilization (prefill at serving.max_utilization_percent)
    spec: Speculation | None = None   # speculative decoding of the instance (decode, colocated)
    pass_one_s: float = 0.0    # prefill: the pass of one prompt (D_1, for the batching queue); else 0

    def server(self) -> Servers:
        """The prefill server this candidate's TTFT is computed on (`physics.prefill_queue`)."""
        if self.role == "prefill":
            return Servers.of(self.batch, self.par.pp, self.pass_s, self.pass_one_s or self.pass_s)
        return Servers.single(self.pass_s)

    @property
    def cards(self) -> int:
        return self.par.cards

    @property
    def name(self) -> str:
        """Row name for the MILP and reports, e.g. 'decode[h200-TP8-b305]'."""
        op = f"b{self.batch}" if self.role != "prefill" else f"B{self.batch}"
        if self.role == "colocated":
            op += f"-c{int(self.chunk_tokens)}"
        if self.spec is not None:
            op += f"-{self.spec.label()}"
        return f"{self.role}[{self.gpu}-{self.par.label()}-{op}]"


@dataclass(frozen=True)
class Rejected:
    """A shape/role that cannot serve: why, the best value it reaches, and the limit."""

    role: Role
    gpu: str
    par: Parallelism
    reason: Literal["memory", "tpot", "ttft"]
    value: float
    limit: float
    detail: str


@dataclass(frozen=True)
class CandidateSet:
    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejected, ...]
    shapes: int = 0


# ---------------------------------------------------------------------------- operating points
# ------------------------------------------------------------------------------ memoisation
MEMO_MAX_ENTRIES = 200_000  # a 4-GPU DeepSeek problem needs ~12k per TTFT limit
_memo: dict[tuple, tuple] = {}


def clear_memo() -> None:
    """Forget memoised physics results (benchmarks time candidate generation from scratch)."""
    _memo.clear()


def _perf(fn, dep: Deployment, *args):
    """fn(dep, *args) of a pure `perf` function, memoised for sweeps that re-solve one problem.

    Keyed by the identity of the deployment's catalog objects (loaded once per process and
    never mutated) and the values and types of everything else; each entry keeps its objects alive, so
    an id cannot be reused while its entry exists. Results are the very values fn returns.
    """
    key = (fn.__name__, id(dep.model), id(dep.gpu), id(dep.calib), dep.par, dep.weight_dtype,
           dep.expert_dtype, dep.kv_dtype, dep.spec, args, tuple(map(type, args)))  # 1 and 1.0 stay apart
    hit = _memo.get(key)
    if hit is not None:
        return hit[1]
    if len(_memo) >= MEMO_MAX_ENTRIES:
        _memo.clear()
    value = fn(dep, *args)
    _memo[key] = ((dep.model, dep.gpu, dep.calib), value)
    return value


def deployment(res: Resolved, opt: GPUOption, par: Parallelism, spec: Speculation | None = None) -> Deployment:
    """One instance of the problem's model on GPU type `opt` with layout `par` (what perf evaluates)."""
    return Deployment(res.model, opt.gpu, par, res.calib, res.weight_dtype, res.kv_dtype, spec, res.expert_dtype)


def prefill_candidate(res: Resolved, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                      disaggregated: bool = True) -> Candidate | Rejected:
    """Best prompts-per-pass B for a prefill instance: max ρ_max(B)·B·pp·s/D(B) within the TTFT limit."""
    dep = deployment(res, opt, par)
    mem = _perf(perf.memory_use, dep, 1, w.ctx_peak)
    if not mem.fits:
        return Rejected("prefill", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                        f"weights+KV need {mem.total_bytes/1e9:.1f} GB of {mem.usable_bytes/1e9:.1f} GB "
                        f"usable per card")
    # fixed time to first token beyond the pass: KV transfer (disaggregated) + per-request overhead
    kv_s = (_perf(perf.kv_transfer_time, dep, w.s_in) if disaggregated else 0.0) + perf.request_overhead_s(dep)
    if w.s_unc <= 0:
        best, best_ttft, best_limit = _prefill_scan(dep, opt, par, w, kv_s)
    else:
        best, best_ttft, best_limit = _prefill_grid(dep, w, kv_s)
    if best is None:
        return Rejected("prefill", opt.id, par, "ttft", best_ttft, best_limit,
                        f"one prompt alone takes {best_ttft*1e3:.0f} ms to first token")
    nic_cap = kv_nic_limit_tok_s(dep, w.s_in / max(w.s_unc, 1e-9)) if disaggregated else math.inf
    if nic_cap < best.prefill_tok_s:
        return replace(best, prefill_tok_s=nic_cap, limited_by="nic")
    at_ceiling = best.rho_max >= min(w.util_ceiling, RHO_CEILING) - 1e-9
    return replace(best, limited_by="utilization" if at_ceiling else "ttft")


def _prefill_grid(dep: Deployment, w: WorkloadContext, kv_s: float) -> tuple[Candidate | None, float, float]:
    """(best prefill candidate or None, worst TTFT alone and its limit at the least slack) over
    B = 1, 2, 4, … up to the pass token budget, the first B that does not fit or 256 prompts (the
    batching queue's table): every pass in one numpy call, then the point-by-point choice of
    `prefill_candidate`'s scan."""
    import numpy as np
    par = dep.par
    bs, mems = [], []
    b = 1
    while True:
        bs.append(b)
        mems.append(_perf(perf.memory_use, dep, b, w.s_in))
        b *= 2
        if b * w.s_unc > w.pass_token_budget or not mems[-1].fits or b > BATCHES[-1]:
            break
    ph = batched.prefill_passes(dep, np.array(bs, dtype=float), w.s_unc, w.s_cached)
    raw = np.array(bs, dtype=float) * par.pp * w.s_unc / ph.time_s
    servers = Servers.of(bs, par.pp, ph.time_s, ph.time_s[0])
    rho = rho_max_many(w, servers, kv_s)
    alone, limit = worst_ttft_many(w, 0.0, servers, kv_s)
    i_min = int(np.argmin(alone - limit))
    best, best_tok_s = None, 0.0
    for i, (r, x, mem_b) in enumerate(zip(rho.tolist(), raw.tolist(), mems)):
        if r > 0 and mem_b.fits and (best is None or r * x > best_tok_s):
            best, best_tok_s = i, r * x
    if best is None:
        return None, float(alone[i_min]), float(limit[i_min])
    pass_s, r, x = float(ph.time_s[best]), float(rho[best]), float(raw[best])
    one = float(ph.time_s[0])
    cand = Candidate("prefill", dep.gpu.id, par, bs[best], 0.0, r * x, x, 0.0, r, pass_s,
                     worst_ttft(w, r, Servers.of(bs[best], par.pp, pass_s, one), kv_s)[0], 0.0, kv_s,
                     par.cards * dep.gpu.nic_bytes_per_s, mems[best].total_bytes, ph.at(best).bound,
                     pass_one_s=one)
    return cand, float(alone[i_min]), float(limit[i_min])


def _prefill_scan(dep: Deployment, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                  kv_s: float) -> tuple[Candidate | None, float, float]:
    """`_prefill_grid` point by point with the scalar passes (prompts wholly cached: no tokens to
    prefill, where the batched collectives would charge their latency to empty messages)."""
    best: Candidate | None = None
    best_ttft, best_limit = math.inf, 0.0
    b, one = 1, None
    while True:
        ph = _perf(perf.prefill_pass, dep, b, w.s_unc, w.s_cached)
        one = ph.time_s if one is None else one
        server = Servers.of(b, par.pp, ph.time_s, one)
        raw = b * par.pp * w.s_unc / ph.time_s
        rho = rho_max(w, server, kv_s)
        ttft_alone, limit = worst_ttft(w, 0.0, server, kv_s)
        if ttft_alone - limit < best_ttft - best_limit:
            best_ttft, best_limit = ttft_alone, limit
        mem_b = _perf(perf.memory_use, dep, b, w.s_in)
        if rho > 0 and mem_b.fits and (best is None or rho * raw > best.prefill_tok_s):
            best = Candidate("prefill", opt.id, par, b, 0.0, rho * raw, raw, 0.0, rho, ph.time_s,
                             worst_ttft(w, rho, server, kv_s)[0], 0.0,
                             kv_s, par.cards * opt.gpu.nic_bytes_per_s, mem_b.total_bytes, ph.bound,
                             pass_one_s=one)
        b *= 2
        if b * w.s_unc > w.pass_token_budget or not mem_b.fits or b > BATCHES[-1]:
            break
    return best, best_ttft, best_limit


def kv_nic_limit_tok_s(dep: Deployment, kv_tokens_per_token: float) -> float:
    """Tokens/s whose KV the instance's NICs can ship: cards·NIC·η_n / (kv_bytes_per_token·ratio)."""
    per_token = perf.kv_bytes_per_token(dep.arch, dep.kv_dtype) * kv_tokens_per_token
    return dep.cards * dep.gpu.nic_bytes_per_s * dep.calib.v("network_efficiency") / per_token


def _max_batch_within(dep: Deployment, ctx: float, limit_b: int, tpot_limit: float) -> int:
    """Largest b ≤ limit_b with TPOT(b) ≤ tpot_limit (TPOT is increasing in b); 0 if none.
    A search over [1, limit_b] that evaluates up to SEARCH_POINTS batches per round in one numpy
    call (`batched.decode_steps`): two or three rounds instead of a dozen bisection steps."""
    if limit_b < 1 or _perf(perf.tpot, dep, 1, ctx) > tpot_limit:
        return 0
    if _perf(perf.tpot, dep, limit_b, ctx) <= tpot_limit:
        return limit_b
    import numpy as np
    lo, hi = 1, limit_b          # TPOT(lo) ≤ limit < TPOT(hi)
    per_step = perf.tokens_per_step(dep)
    while hi - lo > 1:
        step = -(-(hi - lo) // SEARCH_POINTS)
        pts = np.arange(lo + step, hi, step)
        t = batched.decode_steps(dep, pts.astype(float), ctx).time_s / per_step
        within = np.flatnonzero(t <= tpot_limit)
        if len(within):
            lo = int(pts[within[-1]])
        beyond = np.flatnonzero(t > tpot_limit)
        if len(beyond):
            hi = int(pts[beyond[0]])
        if step == 1:
            break
    return lo


SEARCH_POINTS = 48


def decode_candidate(res: Resolved, opt: GPUOption, par: Parallelism, w: WorkloadContext,
                     spec: Speculation | None = None) -> Candidate | Rejected:
    """Decode instance at the largest batch that fits in memory and meets the TPOT limit."""
    dep = deployment(res, opt, par, spec)
    mem_limit = _perf(perf.max_batch, dep, w.ctx_peak)
    if mem_limit < 1:
        mem = _perf(perf.memory_use, dep, 1, w.ctx_peak)
        return Rejected("decode", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                        f"weights+KV of one sequence need {mem.total_bytes/1e9:.1f} GB of "
                        f"{mem.usable_bytes/1e9:.1f} GB usable per card")
    b_cap = _max_batch_within(dep, w.ctx_decode, mem_limit, w.tpot_limit)
    b = int(mean_batch_within(b_cap, w.tpot_spread)) if w.tpot_spread else b_cap
    if b == 0:
        b_one = batch_at_statistic(1.0, w.tpot_spread)
        t1 = _perf(perf.tpot, dep, b_one, w.ctx_decode)
        return Rejected("decode", opt.id, par, "tpot", t1, w.tpot_limit,
                        f"batch 1 already takes {t1*1e3:.1f} ms per token" + (
                            f" at the TPOT statistic's batch {b_one:.1f}" if w.tpot_spread else ""))
    st = _perf(perf.decode_step, dep, b, w.ctx_decode)
    t = _perf(perf.tpot, dep, b, w.ctx_decode)
    b_stat = b
    if w.tpot_spread:   # the TPOT statistic: the step at the life-averaged batch's quantile
        b_stat = batch_at_statistic(b, w.tpot_spread)
        t_stat = _perf(perf.tpot, dep, b_stat, w.ctx_decode)
    else:
        t_stat = t
    mem = _perf(perf.memory_use, dep, math.ceil(b_stat), w.ctx_peak)
    cap, limited = b / t, ("memory" if b_cap == mem_limit else "tpot")
    nic_cap = kv_nic_limit_tok_s(dep, w.s_in / w.s_out)  # KV arriving per output token served
    if nic_cap < cap:
        cap, limited = nic_cap, "nic"
    return Candidate("decode", opt.id, par, b, 0.0, 0.0, 0.0, cap, 0.0, 0.0, 0.0, t_stat, 0.0,
                     par.cards * opt.gpu.nic_bytes_per_s, mem.total_bytes, st.bound, limited, spec)


CHUNK_MULTIPLES = (1.0, 1.25, 1.5, 2.0, 3.0)  # prefill share per step relative to the workload's ratio


def colocated_candidates(res: Resolved, opt: GPUOption, par: Parallelism,
                         w: WorkloadContext, spec: Speculation | None = None) -> list[Candidate] | Rejected:
    """Chunked-prefill instances (`colocated.colocated_step`): `b` decodes every step, and on a share
    f of the steps a chunk of C = min(budget, max(s_unc, p)) prompt tokens; keep the Pareto set.

    The prefill tokens per step p are tried at multiples of b·s_unc/s_out (the ratio that serves
    prefill and decode of the same requests). TTFT = ⌈s/C⌉ chunk steps + queueing at the share
    of time spent in chunk steps; TPOT is the mean step. The whole batch × multiple grid of a
    shape is evaluated in one numpy call per pass (`physics.batched`, the same floats as `perf`).
    """
    dep = deployment(res, opt, par, spec)
    mem_limit = _perf(perf.max_batch, dep, w.ctx_peak)
    if mem_limit < 1:
        mem = _perf(perf.memory_use, dep, 1, w.ctx_peak)
        return Rejected("colocated", opt.id, par, "memory", mem.total_bytes, mem.usable_bytes,
                        f"weights+KV of one sequence need {mem.total_bytes/1e9:.1f} GB")
    return _perf(_colocated_grid, dep, w, mem_limit)


def _colocated_grid(dep: Deployment, w: WorkloadContext, mem_limit: int) -> list[Candidate] | Rejected:
    """The colocated candidates of one shape (see `colocated_candidates`), every point of the grid
    at once; the order of points, of ties and of operations is the point-by-point loop's."""
    import numpy as np
    par, gpu_id = dep.par, dep.gpu.id
    grid = perf.batch_grid(mem_limit)
    ks = len(CHUNK_MULTIPLES)
    b_int = [b for b in grid for _ in CHUNK_MULTIPLES]
    bs = np.array(b_int, dtype=float)
    mult = np.tile(np.array(CHUNK_MULTIPLES), len(grid))
    p = np.maximum(1.0, bs * w.s_unc / w.s_out * mult)
    budget = float(w.pass_token_budget)
    chunk = np.minimum(budget, np.maximum(w.s_unc, p))          # colocated.colocated_chunk
    share = np.minimum(1.0, p / chunk)
    used = np.where(share < 1, chunk, p)                           # prompt tokens of a chunk step
    mixed = batched.mixed_steps(dep, bs, w.ctx_decode, used, w.s_in)
    dec = batched.decode_steps(dep, np.array(grid, dtype=float), w.ctx_decode).take(np.repeat(np.arange(len(grid)), ks))
    st = batched.where(share >= 1, mixed, batched.blend(mixed, dec, share))
    t = st.time_s / perf.tokens_per_step(dep)
    t_stat, b_stat = t, bs
    if w.tpot_spread:   # the TPOT statistic: the same prefill per step beside the quantile batch
        b_stat = bs + w.tpot_spread * np.sqrt(bs)
        mixed_q = batched.mixed_steps(dep, b_stat, w.ctx_decode, used, w.s_in)
        dec_q = batched.decode_steps(dep, b_stat, w.ctx_decode)
        st_q = batched.where(share >= 1, mixed_q, batched.blend(mixed_q, dec_q, share))
        batch_sd = (st_q.time_s / perf.tokens_per_step(dep) - t) / w.tpot_spread
        t_stat = t + tpot_offset(w.tpot_statistic, w.tpot_terms, batch_sd,
                                 chunk_variance(p / st.time_s, dec.time_s, (mixed.time_s - dec.time_s) / used,
                                                w.s_unc, w.cv2, perf.tokens_per_step(dep)))
    best_tpot = float(t_stat.min())
    ok = np.flatnonzero(~(t_stat > w.tpot_limit) & (b_stat <= mem_limit))
    if not len(ok):
        return Rejected("colocated", gpu_id, par, "tpot", best_tpot, w.tpot_limit,
                        f"the lightest mixed step takes {best_tpot*1e3:.1f} ms")
    chunk_c = np.ceil(chunk[ok])
    full = batched.mixed_steps(dep, bs[ok], w.ctx_decode, chunk_c, w.s_in).time_s
    service = np.ceil(w.s_unc / chunk_c) * full
    fixed = perf.request_overhead_s(dep)
    rho = rho_max_many(w, Servers.single(service), fixed)
    alone, limit = worst_ttft_many(w, 0.0, Servers.single(service), fixed)
    live = rho > 0
    if not live.any():
        i = int(np.argmin(alone - limit))
        return Rejected("colocated", gpu_id, par, "ttft", float(alone[i]), float(limit[i]),
                        f"a prompt needs {float(alone[i])*1e3:.0f} ms of chunked steps")
    at = ok[live]
    raw = chunk_c[live] / full[live]                              # prompt tokens/s if every step carried a chunk
    prefill = np.minimum(p[at] / st.time_s[at], rho[live] * raw)  # the design mix, within the TTFT limit
    decode = bs[at] / t[at]
    keep = pareto_front(prefill, decode)
    ttft = worst_ttft_many(w, prefill[keep] / raw[keep], Servers.single(service[live][keep]), fixed)[0]
    nic = par.cards * dep.gpu.nic_bytes_per_s
    out = []
    for j, i in enumerate(keep.tolist()):
        pt = int(at[i])
        b = b_int[pt]
        out.append(Candidate("colocated", gpu_id, par, b, float(chunk_c[live][i]), float(prefill[i]),
                             float(raw[i]), float(decode[i]), float(rho[live][i]), float(service[live][i]),
                             float(ttft[j]), float(t_stat[pt]), 0.0, nic,
                             _perf(perf.memory_use, dep, math.ceil(b_stat[pt]), w.ctx_peak).total_bytes,
                             st.at(pt).bound, "memory" if math.ceil(b_stat[pt]) >= mem_limit else "slo", dep.spec))
    return out


def generate(res: Resolved) -> CandidateSet:
    """All candidates of the problem: every GPU type × shape × allowed role."""
    w = workload_context(res)
    modes = res.problem.serving.modes
    specs = speculations(res)
    out: list[Candidate] = []
    rejected: list[Rejected] = []
    n_shapes = 0
    for opt in res.gpus:
        for par in shapes_for(res, opt):
            n_shapes += 1
            results: list = []
            if "disaggregated" in modes:
                results += [prefill_candidate(res, opt, par, w)]
                results += [decode_candidate(res, opt, par, w, s) for s in specs]
            if "colocated" in modes:
                for s in specs:
                    r = colocated_candidates(res, opt, par, w, s)
                    results += r if isinstance(r, list) else [r]
            for r in results:
                (out if isinstance(r, Candidate) else rejected).append(r)
    return CandidateSet(tuple(out), tuple(rejected), n_shapes)


def prune_dominated(cands: tuple[Candidate, ...] | list[Candidate],
                    node_cards: dict[str, int] | None = None) -> tuple[Candidate, ...]:
    """Drop candidates that k copies of another of the same GPU type and role replace at no
    extra cost: o dominates c when k = cards_c / cards_o is whole and k·capacity_o ≥ capacity_c
    for prefill and decode (same cards, no more nodes or power); of exact ties the first is kept.
    Any plan using c maps to one as cheap without it, so the optimum is unchanged (with N+1 too:
    the capacity left after losing an instance does not shrink). With `node_cards` (redundancy
    against the loss of a node) o must also lose no more with a node than c
    (`redundancy.unit_loss_of`), or the swap could make a node's loss larger."""

    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cands):
        groups.setdefault((c.gpu, c.role), []).append(i)
    dropped: set[int] = set()
    for idx in groups.values():
        for i in idx:
            c = cands[i]
            for j in idx:
                o = cands[j]
                if j == i or j in dropped or c.cards % o.cards:
                    continue
                k = c.cards // o.cards
                p, d = k * o.prefill_tok_s, k * o.decode_tok_s
                if p >= c.prefill_tok_s and d >= c.decode_tok_s and loses_no_more(o, c, node_cards) and \
                        (p > c.prefill_tok_s or d > c.decode_tok_s or k > 1 or j < i):
                    dropped.add(i)
                    break
    return tuple(c for i, c in enumerate(cands) if i not in dropped)
