"""The passes of `perf` over many operating points of one deployment in one numpy call.

Twins of `perf.decode_step`, `perf.mixed_step`, `perf.prefill_pass` and `colocated.blend` that
take arrays of batches / chunk tokens / prompts and return a `PhaseArrays`, one element per
point. Candidate generation evaluates a shape's whole batch × chunk grid with them; the scalar
functions stay the reference (verification, `plan eval`), and tests/test_batched.py checks that
both agree. Each formula keeps the scalar one's order of operations, so every element is the
very float the scalar function returns (IEEE +, −, ×, ÷, min, max and ceil are exact per
element; powers are taken one element at a time with Python's `**`, like the scalar code).
Glossary as in `perf`: `b` batch, `m` tokens of one stage pass, `n_s = tp·dp`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from planner.catalog.kernels import kernels_for
from planner.physics.comm import p2p_time, stage_comm_times
from planner.physics.deployment import (
    ACT_BYTES,
    Deployment,
    PhaseTime,
    experts_per_card,
    kv_bytes_per_token_per_card,
    kv_scale,
    linear_state_traffic_per_sequence_per_card,
    routed_experts_per_card,
    verify_tokens,
)
from planner.physics.gemm import curve_times, dense_groups, dense_ridge, roofline_seconds
from planner.physics.perf import eager_terms
from planner.physics.queueing import wait


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

    def at(self, i: int) -> PhaseTime:
        """The scalar PhaseTime of point i."""
        return PhaseTime(float(self.time_s[i]), float(self.compute_s[i]), float(self.memory_s[i]),
                         float(self.comm_s[i]), float(self.overhead_s[i]), float(self.flops_per_card[i]),
                         float(self.bytes_per_card[i]), bool(self.below_ridge[i]))

    def take(self, idx: np.ndarray) -> PhaseArrays:
        return PhaseArrays(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


def where(mask: np.ndarray, a: PhaseArrays, b: PhaseArrays) -> PhaseArrays:
    """a where mask, else b, field by field."""
    return PhaseArrays(*(np.where(mask, getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__))


def blend(a: PhaseArrays, b: PhaseArrays, f: np.ndarray) -> PhaseArrays:
    """`colocated.blend` per point: f·a + (1 − f)·b; below_ridge of a where f ≥ 0.5."""
    def mix(x, y):
        return f * x + (1.0 - f) * y
    return PhaseArrays(mix(a.time_s, b.time_s), mix(a.compute_s, b.compute_s), mix(a.memory_s, b.memory_s),
                       mix(a.comm_s, b.comm_s), mix(a.overhead_s, b.overhead_s),
                       mix(a.flops_per_card, b.flops_per_card), mix(a.bytes_per_card, b.bytes_per_card),
                       np.where(f >= 0.5, a.below_ridge, b.below_ridge))


def _pow_each(base: float, exponents: np.ndarray) -> np.ndarray:
    """base ** e for every e, with Python's float power (the scalar code's)."""
    return np.array([base ** e for e in exponents.tolist()], dtype=float)


def experts_on_card(dep: Deployment, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`deployment.experts_on_card` per point (tokens > 0): (pairs, experts touched)."""
    a, par = dep.arch, dep.par
    imb = dep.calib.v("moe_imbalance") if par.moe_ep > 1 else 1.0
    epc = experts_per_card(a, par.moe_ep)
    replicas = max(par.moe_ep / a.experts, 1.0)
    t = tokens / replicas
    touched = a.experts * (1.0 - _pow_each(1.0 - a.experts_per_token / a.experts, t))
    p_touched = touched / a.experts
    return (tokens * a.experts_per_token / par.stage_cards * imb,
            np.minimum(epc, epc * p_touched * imb) / par.moe_tp)


def gemm_times(dep: Deployment, tokens: np.ndarray, dense: np.ndarray, routed,
               pairs_touched) -> tuple[np.ndarray, np.ndarray]:
    """`gemm.gemm_time` per point: (time, below_ridge)."""
    g, c = dep.gpu, dep.calib
    if not c.kernel_curves:
        return roofline_seconds(dep, dense, routed), np.zeros(len(tokens), dtype=bool)
    k = kernels_for(g)
    kappa = c.v("gemm_efficiency_scale")
    m_dense = tokens / dep.par.dp
    dc, mc = k.gemm(dep.weight_dtype), k.moe(dep.expert_precision)
    if dep.dense_split:
        t = sum(curve_times(dense * share, m_dense, cv, g.flops(cv.peak_precision), kappa, wb)
                for share, cv, wb in dense_groups(dep, k))
    else:
        t = curve_times(dense, m_dense, dc, g.flops(dc.peak_precision), kappa, dep.w_bytes)
    if pairs_touched is not None:
        pairs, touched = pairs_touched
        with np.errstate(divide="ignore", invalid="ignore"):
            m_expert = np.where(touched > 0, pairs / touched, 0.0)
        t = t + curve_times(routed, m_expert, mc, g.flops(mc.peak_precision), kappa, dep.e_bytes)
    else:
        t = t + 0.0
    return t, m_dense < dense_ridge(dep, k)


def stage_pass(dep: Deployment, tokens: np.ndarray, attn_flops: np.ndarray,
               kv_read_bytes: np.ndarray) -> PhaseArrays:
    """`perf._stage_pass` per point."""
    g, c, par, a = dep.gpu, dep.calib, dep.par, dep.arch
    pp = par.pp
    n_s = par.stage_cards
    # linear layers (perf._linear_flops_per_card)
    dense_params = (a.layers * a.attn_params + a.dense_layers * a.dense_mlp_params
                    + a.moe_layers * (a.shared_params + a.router_params)) / pp + a.lm_head_params / pp
    lin_flops = 2.0 * dense_params * tokens / n_s
    routed: np.ndarray | float = 0.0
    routed_bytes = a.moe_layers / pp * routed_experts_per_card(a, par) * a.expert_params * dep.e_bytes
    wbytes = dep.weights_bytes_per_card - routed_bytes
    pt = None
    if a.is_moe:
        pt = experts_on_card(dep, tokens)
        pairs, touched = pt
        routed = a.moe_layers / pp * 2.0 * a.expert_params * pairs
        wbytes = wbytes + a.moe_layers / pp * touched * a.expert_params * dep.e_bytes
    else:
        wbytes = np.full(len(tokens), wbytes)
    gt, below = gemm_times(dep, tokens, lin_flops, routed, pt)
    compute = gt + attn_flops / (g.flops("bf16") * c.v("compute_efficiency"))
    act_bytes = tokens / par.dp * a.hidden * ACT_BYTES * 2 * a.layers / pp
    nbytes = wbytes + kv_read_bytes + act_bytes
    memory = (wbytes + kv_read_bytes / kv_scale(c) + act_bytes) / (
        g.memory_bandwidth_bytes_per_s * c.v("memory_efficiency"))
    roof = np.maximum(compute, memory)
    comm = stage_comm_times(dep, tokens)
    exposed = comm - c.v("comm_overlap") * np.minimum(comm, roof)
    overhead = (a.layers * c.v("layer_overhead_s") + a.moe_layers * c.v("moe_layer_overhead_s")) / pp
    n = len(tokens)
    return PhaseArrays(roof + exposed + overhead, compute, memory, exposed, np.full(n, overhead),
                       lin_flops + routed + attn_flops, nbytes, below)


def pipeline(dep: Deployment, stage: PhaseArrays, tokens_per_stage: np.ndarray, seqs: np.ndarray) -> PhaseArrays:
    """`perf._pipeline` per point: pp·stage + (pp−1) hand-offs + step overhead."""
    par, c = dep.par, dep.calib
    pp = par.pp
    handoff: np.ndarray | float = 0.0
    if pp > 1:
        across = par.cards > dep.gpu.domain_cards
        handoff = (pp - 1) * p2p_time(dep, tokens_per_stage / par.dp * dep.arch.hidden * ACT_BYTES, across)
    step = c.v("step_overhead_s") + seqs * c.v("sequence_overhead_s")
    return PhaseArrays(pp * stage.time_s + handoff + step, pp * stage.compute_s, pp * stage.memory_s,
                       pp * stage.comm_s + handoff, pp * stage.overhead_s + step,
                       stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)


def decode_steps(dep: Deployment, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
    """`perf.decode_step` for every batch in `batch` (each ≥ 1)."""
    return _slower(_decode_raw(dep, batch, context_tokens), dep.calib.v("decode_time_scale"))


def _slower(t: PhaseArrays, s: float) -> PhaseArrays:
    """`perf.slower` per point."""
    if s == 1.0:
        return t
    return PhaseArrays(t.time_s * s, t.compute_s * s, t.memory_s * s, t.comm_s * s, t.overhead_s * s,
                       t.flops_per_card * s, t.bytes_per_card * s, t.below_ridge)


def _decode_raw(dep: Deployment, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
    """`perf._decode_raw` per point."""
    a, par = dep.arch, dep.par
    q = verify_tokens(dep)
    m = batch / par.pp
    ctx = a.attended_tokens(context_tokens)
    attn = q * m * ctx * a.attn_flops_per_pair(absorbed=True) * a.layers / par.pp / par.stage_cards
    kv_read = m / par.dp * (ctx * kv_bytes_per_token_per_card(dep) + linear_state_traffic_per_sequence_per_card(dep))
    step = pipeline(dep, stage_pass(dep, q * m, attn, kv_read), q * m, batch / par.dp)
    return step if dep.spec is None else _plus(step, _drafts(dep, batch, context_tokens))


def _drafts(dep: Deployment, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
    """`perf.draft_pass` × k per point: the plain decode steps scaled to the draft's layers."""
    plain = _decode_raw(replace(dep, spec=None), np.maximum(batch, 1.0), context_tokens)
    f = dep.spec.draft_tokens * dep.spec.draft_layers / dep.arch.layers * (batch > 0)   # none without decodes
    return PhaseArrays(plain.time_s * f, plain.compute_s * f, plain.memory_s * f, plain.comm_s * f,
                       plain.overhead_s * f, plain.flops_per_card * f, plain.bytes_per_card * f, plain.below_ridge)


def _plus(a: PhaseArrays, b: PhaseArrays) -> PhaseArrays:
    """`perf.plus` per point."""
    return PhaseArrays(a.time_s + b.time_s, a.compute_s + b.compute_s, a.memory_s + b.memory_s,
                       a.comm_s + b.comm_s, a.overhead_s + b.overhead_s, a.flops_per_card + b.flops_per_card,
                       a.bytes_per_card + b.bytes_per_card, a.below_ridge)


def mixed_steps(dep: Deployment, batch: np.ndarray, context_tokens: float, chunk_tokens: np.ndarray,
                prompt_tokens: float) -> PhaseArrays:
    """`perf.mixed_step` per point: batch[i] decodes plus chunk_tokens[i] of prefill."""
    a, par = dep.arch, dep.par
    q = verify_tokens(dep)
    m = (q * batch + chunk_tokens) / par.pp
    ctx = a.attended_tokens(context_tokens)
    dec_attn = q * batch * ctx * a.attn_flops_per_pair(absorbed=True)
    pre_attn = chunk_tokens * a.attended_tokens(prompt_tokens / 2.0) * a.attn_flops_per_pair(absorbed=False)
    attn = (dec_attn + pre_attn) / par.pp * a.layers / par.pp / par.stage_cards
    kv_read = ((batch / par.pp * ctx + chunk_tokens / par.pp) * kv_bytes_per_token_per_card(dep)
               + batch / par.pp * linear_state_traffic_per_sequence_per_card(dep)) / par.dp
    step = pipeline(dep, stage_pass(dep, m, attn, kv_read), m, (batch + 1.0) / par.dp)
    prompts = np.maximum(chunk_tokens / max(prompt_tokens, 1.0), 1.0)
    step = _with_eager(step, dep, prompts, chunk_tokens > 0)
    if dep.spec is not None:
        step = _plus(step, _drafts(dep, batch, context_tokens))
    return _slower(step, dep.calib.v("decode_time_scale"))


def _with_eager(t: PhaseArrays, dep: Deployment, prompts: np.ndarray, where_prefill) -> PhaseArrays:
    """`perf.with_eager` per point: the eager-pass overhead of passes prefilling prompts[i] prompts,
    added where `where_prefill` holds."""
    layers, moe, _ = eager_terms(dep, 1.0)   # the per-pass terms; the per-prompt one per point
    e = layers + moe + np.maximum(prompts / dep.par.dp, 1.0) * dep.calib.v("prompt_overhead_s")
    e = np.where(where_prefill, e, 0.0)
    return PhaseArrays(t.time_s + e, t.compute_s, t.memory_s, t.comm_s, t.overhead_s + e, t.flops_per_card,
                       t.bytes_per_card, t.below_ridge)


def prefill_passes(dep: Deployment, prompts: np.ndarray, uncached_tokens: float,
                   cached_tokens: float = 0.0) -> PhaseArrays:
    """`perf.prefill_pass` for every prompt count in `prompts` (uncached_tokens > 0)."""
    a, par = dep.arch, dep.par
    s, c = uncached_tokens, cached_tokens
    tokens = prompts * s
    pairs = prompts * (s * s / 2.0 + s * c) * a.attended_tokens(s + c) / max(s + c, 1.0)
    attn = pairs * a.attn_flops_per_pair(absorbed=False) * a.layers / par.pp / par.stage_cards
    kv_io = prompts / par.dp * (s + c) * kv_bytes_per_token_per_card(dep)
    step = _with_eager(pipeline(dep, stage_pass(dep, tokens, attn, kv_io), tokens, prompts / par.dp), dep,
                       prompts, True)
    return _slower(step, dep.calib.v("prefill_time_scale"))


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
