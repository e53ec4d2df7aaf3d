"""The passes of `perf` over many operating points of one deployment in one numpy call.

Twins of `perf.decode_step`, `perf.mixed_step`, `perf.prefill_pass` and `colocated.blend` that
take arrays of batches / chunk tokens / prompts and return a `PhaseArrays`, one element per
point. Candidate generation evaluates a shape's whole batch × chunk grid with them, and the grids
of many shapes at once (`physics.many`: the same formulas, `decode_pass`, `mixed_pass` and
`prefill_pass`, over each point's deployment's terms); the scalar functions stay the reference
(verification, `plan eval`), and tests/test_batched.py checks that both agree. Each formula keeps
the scalar one's order of operations, so every element is the very float the scalar function
returns (IEEE +, −, ×, ÷, min, max and ceil are exact per element; powers are taken one element
at a time with Python's `**`, like the scalar code).
Glossary as in `perf`: `b` batch, `m` tokens of one stage pass, `n_s = tp·dp`.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from planner.physics.deployment import (
    ACT_BYTES,
    Deployment,
    PhaseTime,
    draft_share,
    indexer_flops,
    indexer_reads,
    kv_bytes_per_sequence,
)
from planner.physics.gemm import roofline_seconds
from planner.physics.perf import prompt_attention_flops
from planner.physics.queueing import wait
from planner.physics.terms import stage_terms


@dataclass(frozen=True)
class PhaseArrays:
    """`PhaseTime` of many points: one array per field."""

    time_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    comm_s: np.ndarray
    overhead_s: np.ndarray
    flops_per_card: np.ndarray
    bytes_per_card: np.ndarray
    below_ridge: np.ndarray

    @property
    def timed(self) -> bool:
        """Whether only `time_s` was computed (a pass asked with `time_only`: the others None)."""
        return self.compute_s is None

    def at(self, i: int) -> PhaseTime:
        """The scalar PhaseTime of point i."""
        return PhaseTime(float(self.time_s[i]), float(self.compute_s[i]), float(self.memory_s[i]),
                         float(self.comm_s[i]), float(self.overhead_s[i]), float(self.flops_per_card[i]),
                         float(self.bytes_per_card[i]), bool(self.below_ridge[i]))

    def take(self, idx: np.ndarray) -> PhaseArrays:
        """The points `idx` (an index array or a slice), field by field."""
        if self.timed:
            return timed(self.time_s[idx])
        return PhaseArrays(self.time_s[idx], self.compute_s[idx], self.memory_s[idx], self.comm_s[idx],
                           self.overhead_s[idx], self.flops_per_card[idx], self.bytes_per_card[idx],
                           self.below_ridge[idx])


    def repeat(self, counts) -> PhaseArrays:
        """Each point repeated `counts` times (a number, or one per point), field by field (`np.repeat`:
        the values `take` of the repeated indices gives, without a gather)."""
        r = np.repeat
        if self.timed:
            return timed(r(self.time_s, counts))
        return PhaseArrays(r(self.time_s, counts), r(self.compute_s, counts), r(self.memory_s, counts),
                           r(self.comm_s, counts), r(self.overhead_s, counts), r(self.flops_per_card, counts),
                           r(self.bytes_per_card, counts), r(self.below_ridge, counts))


def timed(time_s: np.ndarray) -> PhaseArrays:
    """A `PhaseArrays` of the step times alone: what the passes give with `time_only` (the points whose
    other fields nothing reads: the colocated grids' piled passes and lone prompts' steps), each time
    by the very operations of the whole pass, the other fields' operations left out."""
    return PhaseArrays(time_s, None, None, None, None, None, None, None)


BOUNDS = ("compute", "memory", "communication", "overhead")   # `PhaseTime.bound`'s order of parts


def bounds(t: PhaseArrays, idx: np.ndarray | None = None) -> list[str]:
    """`PhaseTime.bound` of every point (of the points `idx`: `bounds(t.take(idx))` without taking the
    fields it does not read): the largest of compute, memory, communication and overhead (the first
    of equals, as `max` takes it), compute below the ridge counted as memory."""
    fields = (t.compute_s, t.memory_s, t.comm_s, t.overhead_s)
    if idx is None:
        parts, below = np.stack(fields), t.below_ridge
    else:   # the points' values alone, stacked (not every point's stacked and then taken)
        parts, below = np.stack([f[idx] for f in fields]), t.below_ridge[idx]
    if np.isnan(parts).any():   # `max` and `argmax` treat NaN differently: each point's own
        return [t.at(i).bound for i in (range(len(t.time_s)) if idx is None else idx.tolist())]
    top = np.argmax(parts, axis=0)
    top[(top == 0) & below] = 1
    return [BOUNDS[k] for k in top.tolist()]


def memory_totals(dep: Deployment, batches: np.ndarray, context_tokens: float) -> np.ndarray:
    """`deployment.memory_use(dep, b, context_tokens).total_bytes` of every whole batch b: the weights
    (with the draft's) plus b sequences' KV, the same operations per element."""
    weights = dep.weights_bytes_per_card * (1 + draft_share(dep))
    return weights + np.asarray(batches, dtype=np.int64) * kv_bytes_per_sequence(dep, context_tokens)


def where(mask: np.ndarray, a: PhaseArrays, b: PhaseArrays) -> PhaseArrays:
    """a where mask, else b, field by field."""
    w = np.where
    if a.timed:
        return timed(w(mask, a.time_s, b.time_s))
    return PhaseArrays(w(mask, a.time_s, b.time_s), w(mask, a.compute_s, b.compute_s), w(mask, a.memory_s, b.memory_s),
                       w(mask, a.comm_s, b.comm_s), w(mask, a.overhead_s, b.overhead_s),
                       w(mask, a.flops_per_card, b.flops_per_card), w(mask, a.bytes_per_card, b.bytes_per_card),
                       w(mask, a.below_ridge, b.below_ridge))


def blend(a: PhaseArrays, b: PhaseArrays, f: np.ndarray) -> PhaseArrays:
    """`colocated.blend` per point: f·a + (1 − f)·b; below_ridge of a where f ≥ 0.5."""
    def mix(x, y):
        return f * x + (1.0 - f) * y
    return PhaseArrays(mix(a.time_s, b.time_s), mix(a.compute_s, b.compute_s), mix(a.memory_s, b.memory_s),
                       mix(a.comm_s, b.comm_s), mix(a.overhead_s, b.overhead_s),
                       mix(a.flops_per_card, b.flops_per_card), mix(a.bytes_per_card, b.bytes_per_card),
                       np.where(f >= 0.5, a.below_ridge, b.below_ridge))


def blend_time(a: PhaseArrays, b: PhaseArrays, f: np.ndarray) -> np.ndarray:
    """`blend(a, b, f).time_s` alone."""
    return f * a.time_s + (1.0 - f) * b.time_s


def _pow_pairs(bases, exponents: np.ndarray) -> np.ndarray:
    """bases[i] ** exponents[i] (or bases ** exponents[i], one base) with Python's float power (the
    scalar code's: the builtin `pow` of two floats is `**`), taken once for a run of pairs equal bit
    for bit (a grid's chunk multiples often share a pass's tokens) and repeated. Fewer than 64 pairs
    one by one: the search for runs costs about what 64 powers do."""
    n = len(exponents)
    if n < 64:
        return _pow_list(bases, exponents)
    bits = np.ascontiguousarray(exponents, dtype=float).view(np.int64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(bits[1:], bits[:-1], out=new[1:])
    if isinstance(bases, np.ndarray):
        b_bits = np.ascontiguousarray(bases, dtype=float).view(np.int64)
        new[1:] |= b_bits[1:] != b_bits[:-1]
    starts = np.flatnonzero(new)
    if len(starts) == n:
        return _pow_list(bases, exponents)
    firsts = _pow_list(bases[starts] if isinstance(bases, np.ndarray) else bases, exponents[starts])
    return np.repeat(firsts, np.diff(np.append(starts, n)))


def _pow_list(bases, exponents: np.ndarray) -> np.ndarray:
    """bases[i] ** exponents[i] (or bases ** exponents[i]) one pair at a time, with `math.pow`: for
    finite floats both it and `**` return the C library's pow(x, y) (they differ only in the errors
    they raise, for a negative base or 0 to a negative power, which a share of experts never is),
    and it is a third cheaper a call; read into the array without a list between."""
    n = len(exponents)
    if isinstance(bases, np.ndarray):
        return np.fromiter(map(math.pow, bases.tolist(), exponents.tolist()), dtype=float, count=n)
    return np.fromiter(map(functools.partial(math.pow, float(bases)), exponents.tolist()), dtype=float, count=n)


def experts_on_card(t, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`deployment.experts_on_card` per point (tokens > 0), from the terms: (pairs, experts touched)."""
    touched = t.experts * (1.0 - _pow_pairs(t.untouched, tokens / t.replicas))
    p_touched = touched / t.experts
    return (tokens * t.top_k / t.n_s * t.imbalance,
            np.minimum(t.epc, t.epc * p_touched * t.imbalance) / t.moe_tp)


def gemm_times(s, t, m_dense: np.ndarray, dense: np.ndarray, routed,
               pairs_touched) -> tuple[np.ndarray, np.ndarray]:
    """`gemm.gemm_time` per point, the dense GEMMs at rows `m_dense` (tokens/dp): (time, below_ridge)."""
    gt = t.gemm
    if gt is None:   # the roofline: one deployment (a group's have kernel curves)
        return roofline_seconds(s, dense, routed), np.zeros(len(m_dense), dtype=bool)
    kappa = gt.kappa
    if gt.dense[0][0] is None:
        time = gt.dense[0][1].times(dense, m_dense, kappa)
    else:
        time = sum(cv.times(dense * share, m_dense, kappa) for share, cv in gt.dense)
    if pairs_touched is not None:
        pairs, touched = pairs_touched
        with np.errstate(divide="ignore", invalid="ignore"):
            m_expert = np.where(touched > 0, pairs / touched, 0.0)
        time = time + gt.moe.times(routed, m_expert, kappa)
    return time, m_dense < gt.ridge


def stage_pass(s, t, tokens: np.ndarray, attn_flops: np.ndarray, kv_read_bytes: np.ndarray,
               logits: np.ndarray, head_share=1.0, time_only: bool = False) -> PhaseArrays:
    """`perf._stage_pass` per point (`head_share`: a number, or one per point); `time_only`: its time
    alone (`timed`)."""
    # linear layers and the LM head (perf._linear_flops_per_card)
    lin_flops = t.dense2 * tokens / t.n_s + t.head2 * logits * head_share / t.n_s
    m_dense = np.maximum(tokens, logits) / t.dp   # `perf._stage_pass`'s
    routed: np.ndarray | float = 0.0
    wbytes = t.wbytes_dense + t.head_bytes * head_share + np.minimum(tokens, t.vocab) * t.embed_row_bytes / t.pp
    pt = None
    if t.is_moe:
        pt = experts_on_card(t, tokens)
        pairs, touched = pt
        routed = t.routed2 * pairs
        wbytes = wbytes + t.moe_pp * touched * t.expert_params * t.e_bytes
    gt, below = gemm_times(s, t, m_dense, lin_flops, routed, pt)
    compute = gt + attn_flops / t.attn_peak
    act_bytes = m_dense * t.hidden * ACT_BYTES * 2 * t.layers / t.pp
    memory = (wbytes + kv_read_bytes / t.kv_scale + act_bytes) / t.mem_peak
    roof = np.maximum(compute, memory)
    comm = t.comm.times(tokens)
    overlap = t.overlap
    if not isinstance(overlap, np.ndarray) and overlap == 0.0:
        # comm − 0·min(comm, roof) is comm (finite, ≥ 0): the default profile
        exposed = comm if isinstance(comm, np.ndarray) else np.full(len(tokens), comm)
    else:
        exposed = comm - overlap * np.minimum(comm, roof)
    overhead = t.overhead   # a number, or one per point
    if time_only:
        return timed(roof + exposed + overhead)
    return PhaseArrays(roof + exposed + overhead, compute, memory, exposed,
                       overhead.copy() if isinstance(overhead, np.ndarray) else np.full(len(tokens), overhead),
                       lin_flops + routed + attn_flops, wbytes + kv_read_bytes + act_bytes, below)


def pipeline(t, stage: PhaseArrays, tokens_per_stage: np.ndarray, seqs: np.ndarray) -> PhaseArrays:
    """`perf._pipeline` per point: pp·stage + (pp−1) hand-offs + step overhead. One stage (pp = 1):
    1·x is x and x + 0 is x (no time is −0), so the stage's arrays are taken as they are (where
    pp = 1, when `t` holds one per point)."""
    pp = t.pp
    step = t.step_s + seqs * t.sequence_s
    one_stage = pp == 1
    if one_stage is not False:   # True, or one per point
        single = timed(stage.time_s + step) if stage.timed else PhaseArrays(
            stage.time_s + step, stage.compute_s, stage.memory_s, stage.comm_s, stage.overhead_s + step,
            stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)
        if one_stage is True:
            return single
    handoff = (pp - 1) * (tokens_per_stage / t.dp * t.hidden * ACT_BYTES / t.hand_bw + t.hand_lat)
    many = timed(pp * stage.time_s + handoff + step) if stage.timed else PhaseArrays(
        pp * stage.time_s + handoff + step, pp * stage.compute_s, pp * stage.memory_s, pp * stage.comm_s + handoff,
        pp * stage.overhead_s + step, stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)
    if not isinstance(one_stage, np.ndarray) or not one_stage.any():
        return many
    return where(one_stage, single, many)   # flops, bytes and below_ridge are the stage's on both sides


def _slices(sizes) -> list[slice]:
    """Consecutive slices of `sizes` elements each, from 0."""
    edges = [0, *itertools.accumulate(sizes)]
    return [slice(lo, hi) for lo, hi in zip(edges, edges[1:])]


def parts(a: np.ndarray, sizes) -> list[np.ndarray]:
    """`a` cut into consecutive views of `sizes` elements (which sum to its length): `np.split` at
    their running sums, without its two axis swaps per piece (29,000 of them on the 4 × 12 fleet)."""
    return [a[s] for s in _slices(sizes)]


def split(t: PhaseArrays, sizes: list[int]) -> list[PhaseArrays]:
    """`t` cut into consecutive parts of `sizes` points."""
    return [t.take(s) for s in _slices(sizes)]


def decode_steps_many(dep: Deployment, batches: list[np.ndarray], context_tokens: float) -> list[PhaseArrays]:
    """`decode_steps` of each array of `batches`, in one call: every formula is element by element,
    so each point is the float its own call gives."""
    return split(decode_steps(dep, np.concatenate(batches), context_tokens), [len(b) for b in batches])


def decode_steps(dep: Deployment, batch: np.ndarray, context_tokens: float, time_only: bool = False) -> PhaseArrays:
    """`perf.decode_step` for every batch in `batch` (each ≥ 1); `time_only`: its time alone."""
    return decode_pass(dep, stage_terms(dep), batch, context_tokens, time_only)


def mixed_steps(dep: Deployment, batch: np.ndarray, context_tokens: float, chunk_tokens: np.ndarray,
                prompt_tokens: float, length_cv2: float = 0.0, time_only: bool = False) -> PhaseArrays:
    """`perf.mixed_step` per point: batch[i] decodes plus chunk_tokens[i] of prefill."""
    return mixed_pass(dep, stage_terms(dep), batch, context_tokens, chunk_tokens, prompt_tokens, length_cv2,
                      time_only)


def prefill_passes(dep: Deployment, prompts: np.ndarray, uncached_tokens: float,
                   cached_tokens: float = 0.0, length_cv2: float = 0.0) -> PhaseArrays:
    """`perf.prefill_pass` for every prompt count in `prompts` (uncached_tokens > 0)."""
    return prefill_pass(dep, stage_terms(dep), prompts, uncached_tokens, cached_tokens, length_cv2)


# The passes proper. `s` is what they run on: a `Deployment`, or a `physics.many.ShapeGroup` (whose
# deployments share the architecture and the speculation); `t` its terms: the deployment's
# `StageTerms`, or the group's terms at each point's deployment (`ShapeGroup.at`: numbers all its
# deployments share, one per point otherwise). Each point goes through the same operations either way.
def decode_pass(s, t, batch: np.ndarray, context_tokens: float, time_only: bool = False) -> PhaseArrays:
    """`perf.decode_step` per point (`time_only`: its time alone, `timed`)."""
    return _slower(_decode_raw(s, t, batch, context_tokens, time_only), t.decode_scale)


def _slower(t: PhaseArrays, s) -> PhaseArrays:
    """`perf.slower` per point (`s` a number, or one per point: x·1 is x)."""
    return t if not isinstance(s, np.ndarray) and s == 1.0 else scaled(t, s)


def scaled(t: PhaseArrays, s) -> PhaseArrays:
    """Every time, flop and byte of `t` times s (a number, or one per point); below_ridge as it is."""
    if t.timed:
        return timed(t.time_s * s)
    return PhaseArrays(t.time_s * s, t.compute_s * s, t.memory_s * s, t.comm_s * s, t.overhead_s * s,
                       t.flops_per_card * s, t.bytes_per_card * s, t.below_ridge)


def stage_batch(batch: np.ndarray, pp) -> np.ndarray:
    """`perf.stage_batch` per point."""
    return np.maximum(batch, np.minimum(batch, 1.0) * pp)


def _decode_raw(s, t, batch: np.ndarray, context_tokens: float, time_only: bool = False) -> PhaseArrays:
    """`perf._decode_raw` per point."""
    m = stage_batch(batch, t.pp) / t.pp
    qm = t.q * m
    ctx = s.arch.attended_tokens(context_tokens)
    attn = qm * ctx * t.pair_decode * t.layers / t.pp / t.n_s
    kv_read = m / t.dp * (ctx * t.kv_card + t.state_card)
    if s.arch.index_topk:   # one deployment (a group's have no indexer)
        attn = attn + indexer_flops(s, qm, context_tokens)
        kv_read = kv_read + indexer_reads(s, m, context_tokens, ctx)
    step = pipeline(t, stage_pass(s, t, qm, attn, kv_read, qm, time_only=time_only), qm, batch / t.dp)
    return step if s.spec is None else plus(step, _drafts(s, t, batch, context_tokens, time_only))


def _drafts(s, t, batch: np.ndarray, context_tokens: float, time_only: bool = False) -> PhaseArrays:
    """`perf.draft_pass` × k per point: the plain decode steps scaled to the draft's layers."""
    if isinstance(s, Deployment):
        plain = replace(s, spec=None)
        plain_t = stage_terms(plain)
    else:
        plain = s.plain()
        plain_t = plain.at(t.idx)
    # as the scalar `perf.drafts`, at the batch itself (a mean below one sequence too; it took one
    # there, 3.5e-4 apart at b = 0.5, a hunt); 1 where there is none, whose drafts f zeroes
    steps = _decode_raw(plain, plain_t, np.where(batch > 0, batch, 1.0), context_tokens, time_only)
    f = s.spec.draft_tokens * s.spec.draft_layers / s.arch.layers * (batch > 0)   # none without decodes
    return scaled(steps, f)


def plus(a: PhaseArrays, b: PhaseArrays) -> PhaseArrays:
    """`perf.plus` per point."""
    if a.timed:
        return timed(a.time_s + b.time_s)
    return PhaseArrays(a.time_s + b.time_s, a.compute_s + b.compute_s, a.memory_s + b.memory_s,
                       a.comm_s + b.comm_s, a.overhead_s + b.overhead_s, a.flops_per_card + b.flops_per_card,
                       a.bytes_per_card + b.bytes_per_card, a.below_ridge)


def mixed_pass(s, t, batch: np.ndarray, context_tokens: float, chunk_tokens: np.ndarray, prompt_tokens: float,
               length_cv2: float = 0.0, time_only: bool = False) -> PhaseArrays:
    """`perf.mixed_step` per point: batch[i] decodes plus chunk_tokens[i] of prefill (`time_only`: its
    time alone, `timed`)."""
    a, pp = s.arch, t.pp
    sb = stage_batch(batch, pp)
    m = (t.q * sb + chunk_tokens) / pp
    ctx = a.attended_tokens(context_tokens)
    dec_attn = t.q * sb * ctx * t.pair_decode
    pre_attn = chunk_tokens * a.prefill_keys_per_query(prompt_tokens) * (1.0 + length_cv2) * t.pair_prefill
    attn = (dec_attn + pre_attn) / pp * t.layers / pp / t.n_s
    b_pp = sb / pp
    kv_read = ((b_pp * ctx + chunk_tokens / pp) * t.kv_card + b_pp * t.state_card) / t.dp
    logits = (t.q * sb + chunk_tokens / max(prompt_tokens, 1.0)) / pp   # `perf.mixed_step`'s
    if a.index_topk:   # `perf.mixed_step`'s indexer (one deployment: a group's have none)
        attn = attn + indexer_flops(s, (t.q * sb * context_tokens
                                        + chunk_tokens * prompt_tokens / 2.0 * (1.0 + length_cv2)) / pp, 1.0)
        kv_read = kv_read + indexer_reads(s, sb / pp, context_tokens, ctx)
    step = pipeline(t, stage_pass(s, t, m, attn, kv_read, logits, time_only=time_only), m, (batch + 1.0) / t.dp)
    prompts = np.maximum(chunk_tokens / max(prompt_tokens, 1.0), 1.0)
    step = with_eager(step, t, prompts, chunk_tokens > 0)
    if s.spec is not None:
        step = plus(step, _drafts(s, t, batch, context_tokens, time_only))
    return _slower(step, t.decode_scale)


def with_eager(step: PhaseArrays, t, prompts: np.ndarray, where_prefill) -> PhaseArrays:
    """`perf.with_eager` per point: the eager-pass overhead of passes prefilling prompts[i] prompts,
    added where `where_prefill` holds (True: at every point)."""
    e = t.eager_pass_s + np.maximum(prompts / t.dp, 1.0) * t.prompt_s   # per pass, then per prompt
    if where_prefill is not True:
        e = np.where(where_prefill, e, 0.0)
    if step.timed:
        return timed(step.time_s + e)
    return PhaseArrays(step.time_s + e, step.compute_s, step.memory_s, step.comm_s, step.overhead_s + e,
                       step.flops_per_card, step.bytes_per_card, step.below_ridge)


def prefill_pass(s, t, prompts: np.ndarray, uncached_tokens: float, cached_tokens: float = 0.0,
                 length_cv2: float = 0.0) -> PhaseArrays:
    """`perf.prefill_pass` per point, prompts[i] prompts."""
    u, c = uncached_tokens, cached_tokens
    tokens = prompts * u
    attn = prompt_attention_flops(s.arch, prompts, u, c, length_cv2, t.pp, t.n_s)
    kv_io = prompts / t.dp * (u + c) * t.kv_card
    stage = stage_pass(s, t, tokens, attn, kv_io, prompts, 1.0 / t.pp)
    step = with_eager(pipeline(t, stage, tokens, prompts / t.dp), t, prompts, True)
    return _slower(step, t.prefill_scale)


# ------------------------------------------------------------------------------- queueing
def wait_many(statistic: str, rho: np.ndarray, service_s: np.ndarray, cv2: float) -> np.ndarray:
    """`queueing.wait` per point: the mean in one numpy call, quantiles (a logarithm) one by one."""
    if statistic != "mean":
        return np.array([wait(statistic, r, d, cv2) for r, d in zip(rho.tolist(), service_s.tolist())],
                        dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = rho * service_s * (1.0 + cv2) / (2.0 * (1.0 - rho))
    return np.where(rho <= 0, 0.0, np.where(rho >= 1, np.inf, w))


def max_utilisation_many(budget_s: np.ndarray, service_s: np.ndarray, statistic: str, cv2: float,
                         ceiling: float, scalar) -> np.ndarray:
    """`queueing.max_utilisation` per point: the mean's closed form in one numpy call, quantiles
    (a bisection) through `scalar`, the memoised scalar function."""
    if statistic != "mean":
        return np.array([scalar(b, d, statistic, cv2, ceiling) for b, d in zip(budget_s.tolist(), service_s.tolist())],
                        dtype=float)
    a = service_s * (1.0 + cv2) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(a > 0, np.minimum(ceiling, budget_s / (a + budget_s)), ceiling)
    return np.where(budget_s < 0, 0.0, rho)
