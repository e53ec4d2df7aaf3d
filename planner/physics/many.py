"""The decode and mixed steps of many deployments in one numpy call.

`batched` evaluates one deployment's passes over many operating points; a colocated candidate
search asks the same passes of dozens of deployments (every GPU type, layout and speculation of a
service), each at a grid of 20–60 points, so most of its time was numpy's per-call overhead. Here a
`ShapeGroup` holds the `StageTerms` of several deployments as arrays (one value per deployment),
and each pass takes a per-point index of the deployment it runs on: every scalar of a deployment
is broadcast to its points, and each point goes through the very operations `batched` (and so
`perf`) applies to it, in the same order, so every element is the same float (IEEE +, −, ×, ÷,
min, max are exact per element; a product of two deployment scalars is taken in Python first where
the per-deployment formula takes it first; powers one element at a time with Python's `**`).
Branches on a deployment's layout (one pipeline stage or several, which collectives it runs) are
taken per point by selection; the branches a group's deployments must share (the architecture,
the speculation, kernel curves or the roofline, the overlap of compute and communication) are
its `group_key`. tests/test_many_shapes.py checks each pass against `batched` point by point.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.physics.batched import (
    PhaseArrays,
    decode_steps,
    mixed_inputs,
    mixed_steps,
    plus,
    scaled,
    stage_batch,
    with_eager,
)
from planner.physics.deployment import ACT_BYTES, Deployment
from planner.physics.terms import StageTerms, stage_terms

_SCALARS = ("pp", "dp", "n_s", "hidden", "layers", "dense2", "head2", "vocab", "embed_row_bytes", "moe_pp",
            "routed2", "expert_params", "e_bytes", "experts", "top_k", "imbalance", "epc", "replicas", "untouched",
            "moe_tp", "attn_peak", "kv_scale", "mem_peak", "overlap", "overhead", "step_s", "sequence_s", "hand_bw",
            "hand_lat", "eager_pass_s", "prompt_s", "decode_scale", "q", "kv_card", "state_card", "pair_decode",
            "pair_prefill")
_COSTS = ("tp", "ns", "ep", "etp")   # `StageComm`'s collective groups


def group_key(dep: Deployment) -> tuple | None:
    """What deployments evaluated together must share (their passes take the same branches): the
    architecture (by identity: one service's deployments share its object), the speculation, and of
    the terms MoE or dense, kernel curves (their dense groups) or none, and whether compute hides
    communication. None: a deployment this module does not take (indexer attention, no kernel
    curves), which `batched` evaluates alone."""
    t = stage_terms(dep)
    if dep.arch.index_topk or t.gemm is None:
        return None
    return (id(dep.arch), dep.spec, t.is_moe, tuple(s is None for s, _ in t.gemm.dense), t.overlap == 0.0,
            t.decode_scale == 1.0)


def _columns(terms: list[StageTerms]) -> dict[str, np.ndarray]:
    """One array per scalar a pass reads, one element per deployment (of each one's `terms`)."""
    col = {f: np.array([getattr(t, f) for t in terms]) for f in (*_SCALARS, "prefill_scale")}
    col["wbytes_head"] = np.array([t.wbytes_dense + t.head_bytes * 1.0 for t in terms])   # head_share 1
    col["pp1"] = col["pp"] == 1
    gts = [t.gemm for t in terms]
    col["kappa"] = np.array([g.kappa for g in gts])
    col["ridge"] = np.array([g.ridge for g in gts])
    for j in range(len(gts[0].dense)):
        col[f"share{j}"] = np.array([g.dense[j][0] or 0.0 for g in gts])
        for f in ("eta_max", "m_half", "peak_flops"):
            col[f"d{j}_{f}"] = np.array([getattr(g.dense[j][1], f) for g in gts])
    for f in ("eta_max", "m_half", "peak_flops"):
        col[f"moe_{f}"] = np.array([getattr(g.moe, f) for g in gts])
    comms = [t.comm for t in terms]
    for f in ("layers", "dense", "moe2", "moe", "dp", "n_s", "moe_tp", "act", "experts_per_token", "imbalance"):
        col[f"c_{f}"] = np.array([getattr(c, f) for c in comms])
    for name in _COSTS:
        costs = [getattr(c, f"{name}_cost") for c in comms]
        col[f"{name}_none"] = np.array([c is None for c in costs])
        col[f"{name}_alpha"] = np.array([0.0 if c is None else c.alpha_s for c in costs])
        col[f"{name}_coef"] = np.array([1.0 if c is None else c.coef for c in costs])
        col[f"{name}_bw"] = np.array([1.0 if c is None else c.bytes_per_s for c in costs])
        col[f"{name}_lat"] = np.array([0.0 if c is None else c.latency_s for c in costs])
    return col


class ShapeGroup:
    """Deployments of one `group_key`, their passes evaluated together (`decode_steps`,
    `mixed_steps`); `idx` arrays name each point's deployment by its position in `deps`."""

    def __init__(self, deps: list[Deployment]):
        self.deps = deps
        self.arch = deps[0].arch
        self.spec = deps[0].spec
        t0 = stage_terms(deps[0])
        self.is_moe, self.overlap0, self.scale1 = t0.is_moe, t0.overlap == 0.0, t0.decode_scale == 1.0
        self.dense_one = t0.gemm.dense[0][0] is None
        self.n_dense = len(t0.gemm.dense)
        self.terms = [stage_terms(d) for d in deps]
        self.col = _columns(self.terms)
        self.same = {k: v[0].item() for k, v in self.col.items() if (v == v[0]).all()}   # shared by all
        self.all_pp1 = bool(self.col["pp1"].all())
        self.no_pp1 = not self.col["pp1"].any()
        self.comm_flags = {n: (bool(self.col[f"{n}_none"].all()), bool(self.col[f"{n}_none"].any())) for n in _COSTS}
        self.all_dp1 = bool((self.col["c_dp"] == 1).all())
        self._plain = None
        if self.spec is not None:   # the draft's factor per deployment (`batched._drafts`)
            self.col["draft_f"] = np.array([d.spec.draft_tokens * d.spec.draft_layers / d.arch.layers for d in deps])

    def plain(self) -> ShapeGroup:
        """The group of the same deployments without speculation (the drafts' plain steps)."""
        if self._plain is None:
            self._plain = ShapeGroup([replace(d, spec=None) for d in self.deps])
        return self._plain

    def at(self, idx: np.ndarray) -> _Points:
        """The scalars of each point's deployment."""
        return _Points(self.col, idx, self.same)

    # ---------------------------------------------------------------------- passes
    def decode_steps(self, idx: np.ndarray, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
        """`batched.decode_steps` of point i on deployment idx[i] at batch[i]."""
        pt = self.at(idx)
        return self._slower(self._decode_raw(pt, idx, batch, context_tokens), pt)

    def _slower(self, t: PhaseArrays, pt: _Points) -> PhaseArrays:
        """`batched._slower` per point."""
        return t if self.scale1 else scaled(t, pt.decode_scale)

    def _decode_raw(self, pt: _Points, idx: np.ndarray, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
        """`batched._decode_raw` per point."""
        pp = pt.pp
        m = stage_batch(batch, pp) / pp
        qm = pt.q * m
        ctx = self.arch.attended_tokens(context_tokens)
        attn = qm * ctx * pt.pair_decode * pt.layers / pp / pt.n_s
        # (ctx·kv_card + state_card) is one number per deployment in `batched`: taken per deployment
        per_seq = np.array([ctx * kc + sc for kc, sc in zip(self.col["kv_card"].tolist(),
                                                               self.col["state_card"].tolist())])
        kv_read = m / pt.dp * per_seq[idx]
        step = self._pipeline(pt, self._stage_pass(pt, qm, attn, kv_read, qm), qm, batch / pt.dp)
        return step if self.spec is None else plus(step, self._drafts(idx, batch, context_tokens))

    def _drafts(self, idx: np.ndarray, batch: np.ndarray, context_tokens: float) -> PhaseArrays:
        """`batched._drafts` per point."""
        g = self.plain()
        plain = g._decode_raw(g.at(idx), idx, np.where(batch > 0, batch, 1.0), context_tokens)
        f = self.col["draft_f"][idx] * (batch > 0)
        return scaled(plain, f)

    def mixed_steps(self, idx: np.ndarray, batch: np.ndarray, context_tokens: float, chunk_tokens: np.ndarray,
                    prompt_tokens: float, length_cv2: float = 0.0) -> PhaseArrays:
        """`batched.mixed_steps` of point i on deployment idx[i]: batch[i] decodes and chunk_tokens[i]
        of prefill."""
        pt = self.at(idx)
        _, m, _, attn, kv_read, logits = mixed_inputs(pt, self.arch, batch, context_tokens, chunk_tokens,
                                                      prompt_tokens, length_cv2)
        step = self._pipeline(pt, self._stage_pass(pt, m, attn, kv_read, logits), m, (batch + 1.0) / pt.dp)
        prompts = np.maximum(chunk_tokens / max(prompt_tokens, 1.0), 1.0)
        step = with_eager(step, pt, prompts, chunk_tokens > 0)
        if self.spec is not None:
            step = plus(step, self._drafts(idx, batch, context_tokens))
        return self._slower(step, pt)

    def prefill_passes(self, idx: np.ndarray, prompts: np.ndarray, uncached_tokens: float,
                       cached_tokens: float = 0.0, length_cv2: float = 0.0) -> PhaseArrays:
        """`batched.prefill_passes` of point i on deployment idx[i] with prompts[i] prompts (the
        deployments without speculation: a prefill pass drafts nothing)."""
        pt, s, c = self.at(idx), uncached_tokens, cached_tokens
        pp = pt.pp
        tokens = prompts * s
        attn = prompts * (1.0 + length_cv2) * self.arch.prompt_attention_flops(s, c) / pp / pt.n_s
        kv_io = prompts / pt.dp * (s + c) * pt.kv_card
        heads = [1.0 / p for p in self.col["pp"].tolist()]   # the LM head's share of a stage: 1/pp
        wbytes = np.array([t.wbytes_dense + t.head_bytes * h for t, h in zip(self.terms, heads)])
        stage = self._stage_pass(pt, tokens, attn, kv_io, prompts, np.array(heads)[idx], wbytes[idx])
        step = self._pipeline(pt, stage, tokens, prompts / pt.dp)
        step = with_eager(step, pt, prompts, True)
        scale = self.col["prefill_scale"]
        # `batched._slower` (x·1 is x where a deployment's scale is 1)
        return step if (scale == 1.0).all() else scaled(step, scale[idx])

    def _pipeline(self, pt: _Points, stage: PhaseArrays, tokens_per_stage: np.ndarray,
                  seqs: np.ndarray) -> PhaseArrays:
        """`batched.pipeline` per point: one stage's arrays as they are where pp = 1."""
        step = pt.step_s + seqs * pt.sequence_s
        one = PhaseArrays(stage.time_s + step, stage.compute_s, stage.memory_s, stage.comm_s,
                          stage.overhead_s + step, stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)
        if self.all_pp1:
            return one
        pp = pt.pp
        handoff = (pp - 1) * (tokens_per_stage / pt.dp * pt.hidden * ACT_BYTES / pt.hand_bw + pt.hand_lat)
        many = PhaseArrays(pp * stage.time_s + handoff + step, pp * stage.compute_s, pp * stage.memory_s,
                           pp * stage.comm_s + handoff, pp * stage.overhead_s + step,
                           stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)
        if self.no_pp1:
            return many
        one_pp = pt.pp1
        return PhaseArrays(*(np.where(one_pp, getattr(one, f), getattr(many, f)) for f in one.__dataclass_fields__))

    def _stage_pass(self, pt: _Points, tokens: np.ndarray, attn_flops: np.ndarray, kv_read_bytes: np.ndarray,
                    logits: np.ndarray, head_share=1.0, wbytes_head=None) -> PhaseArrays:
        """`batched.stage_pass` per point; `head_share` per point (or 1) with `wbytes_head`, each point's
        weight bytes but the routed experts' and the embedding rows at it (as `batched` sums them)."""
        lin_flops = pt.dense2 * tokens / pt.n_s + pt.head2 * logits * head_share / pt.n_s
        m_dense = np.maximum(tokens, logits) / pt.dp
        routed: np.ndarray | float = 0.0
        wbytes = (pt.wbytes_head if wbytes_head is None else wbytes_head) \
            + np.minimum(tokens, pt.vocab) * pt.embed_row_bytes / pt.pp
        pairs = touched = None
        if self.is_moe:
            touched = pt.experts * (1.0 - _pow_pairs(pt.untouched, tokens / pt.replicas))
            p_touched = touched / pt.experts
            pairs = tokens * pt.top_k / pt.n_s * pt.imbalance
            touched = np.minimum(pt.epc, pt.epc * p_touched * pt.imbalance) / pt.moe_tp
            routed = pt.routed2 * pairs
            wbytes = wbytes + pt.moe_pp * touched * pt.expert_params * pt.e_bytes
        gt, below = self._gemm_times(pt, m_dense, lin_flops, routed, pairs, touched)
        compute = gt + attn_flops / pt.attn_peak
        act_bytes = m_dense * pt.hidden * ACT_BYTES * 2 * pt.layers / pt.pp
        nbytes = wbytes + kv_read_bytes + act_bytes
        memory = (wbytes + kv_read_bytes / pt.kv_scale + act_bytes) / pt.mem_peak
        roof = np.maximum(compute, memory)
        comm = self._comm_times(pt, tokens)
        if self.overlap0:
            exposed = comm if isinstance(comm, np.ndarray) else np.full(len(tokens), comm)
        else:
            exposed = comm - pt.overlap * np.minimum(comm, roof)
        return PhaseArrays(roof + exposed + pt.overhead, compute, memory, exposed,
                           np.full(len(tokens), pt.overhead) if np.ndim(pt.overhead) == 0 else pt.overhead.copy(),
                           lin_flops + routed + attn_flops, nbytes, below)

    def _gemm_times(self, pt: _Points, m_dense, dense, routed, pairs, touched):
        """`batched.gemm_times` per point, each deployment's kernel curves broadcast to its points."""
        kappa = pt.kappa
        if self.dense_one:
            time = _curve_times(pt, "d0", dense, m_dense, kappa)
        else:
            time = sum(_curve_times(pt, f"d{j}", dense * pt.get(f"share{j}"), m_dense, kappa)
                       for j in range(self.n_dense))
        if pairs is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                m_expert = np.where(touched > 0, pairs / touched, 0.0)
            time = time + _curve_times(pt, "moe", routed, m_expert, kappa)
        return time, m_dense < pt.ridge

    def _comm_times(self, pt: _Points, tokens):
        """`StageComm.times` per point, a collective a deployment does not run taken as 0 (as there)."""
        act = pt.c_act
        attn = self._allreduce(pt, "tp", tokens / pt.c_dp * act)
        t = pt.c_layers * attn
        if self.all_dp1:
            dense = attn
        else:
            dense = np.where(pt.c_dp == 1, attn, self._allreduce(pt, "ns", tokens * act))
        t = t + pt.c_dense * dense
        if not self.comm_flags["ep"][0]:
            per_card = tokens / pt.c_n_s * pt.c_experts_per_token * act * pt.c_imbalance
            more = t + pt.c_moe2 * _cost(pt, "ep", per_card)
            t = np.where(pt.ep_none, t, more) if self.comm_flags["ep"][1] else more
        if not self.comm_flags["etp"][0]:
            more = t + pt.c_moe * self._allreduce(pt, "etp", tokens * pt.c_moe_tp / pt.c_n_s * act)
            t = np.where(pt.etp_none, t, more) if self.comm_flags["etp"][1] else more
        return t

    def _allreduce(self, pt: _Points, name: str, nbytes):
        """A collective's time per point, 0.0 where the deployment has none (one card)."""
        every, some = self.comm_flags[name]
        if every:
            return np.zeros(len(nbytes))
        cost = _cost(pt, name, nbytes)
        return np.where(pt.get(f"{name}_none"), 0.0, cost) if some else cost


def _cost(pt: _Points, name: str, nbytes):
    """`CollectiveCost.time` per point: α + coef·bytes/bw + latency (coef 1 where measured, the
    same float as bytes/bw)."""
    return pt.get(f"{name}_alpha") + pt.get(f"{name}_coef") * nbytes / pt.get(f"{name}_bw") + pt.get(f"{name}_lat")


def _curve_times(pt: _Points, curve: str, flops, rows, kappa):
    """`CurveAt.times` per point, each point at its deployment's curve."""
    eta = np.where(rows > 0, pt.get(f"{curve}_eta_max") * rows / (rows + pt.get(f"{curve}_m_half")), 0.0)
    t = flops / (pt.get(f"{curve}_peak_flops") * np.minimum(np.maximum(eta, 1e-9) * kappa, 1.0))
    return np.where(flops <= 0, 0.0, t)


def _pow_pairs(bases, exponents: np.ndarray) -> np.ndarray:
    """bases[i] ** exponents[i] (or bases ** exponents[i], one base) with Python's float power
    (`batched._pow_each`'s: the builtin `pow` of two floats is `**`), taken once for a run of pairs
    equal bit for bit (a grid's chunk multiples often share a pass's tokens) and repeated."""
    n = len(exponents)
    if n < 2:
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
    """bases[i] ** exponents[i] (or bases ** exponents[i]) one pair at a time, with Python's `pow`."""
    if isinstance(bases, np.ndarray):
        return np.array(list(map(pow, bases.tolist(), exponents.tolist())), dtype=float)
    return np.array(list(map(float(bases).__pow__, exponents.tolist())), dtype=float)


class OneShape:
    """One deployment's passes through `batched`, with the interface of a `ShapeGroup` (every point's
    deployment index is 0): code written for a group runs one deployment, including those a group
    does not take (indexer attention, no kernel curves), with `batched`'s floats."""

    def __init__(self, dep: Deployment):
        self.deps = [dep]

    def mixed_steps(self, idx, batch, context_tokens: float, chunk_tokens, prompt_tokens: float,
                    length_cv2: float = 0.0):
        return mixed_steps(self.deps[0], batch, context_tokens, chunk_tokens, prompt_tokens, length_cv2)

    def decode_steps(self, idx, batch, context_tokens: float):
        return decode_steps(self.deps[0], batch, context_tokens)


class _Points:
    """Each point's value of a deployment scalar (`ShapeGroup.col` taken at the points' deployments),
    read as attributes and taken once; a scalar all the group's deployments share is that number
    (a Python int, float or bool, as `StageTerms` holds it: the same operation on every element)."""

    def __init__(self, col: dict[str, np.ndarray], idx: np.ndarray, same: dict):
        self._col, self._idx, self._same = col, idx, same

    def get(self, name: str):
        v = self.__dict__.get(name)
        if v is None:
            v = self._same.get(name)
            if v is None:
                v = self._col[name][self._idx]
            self.__dict__[name] = v
        return v

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

