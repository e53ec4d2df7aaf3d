"""The decode, mixed and prefill passes of many deployments in one numpy call.

`batched` evaluates one deployment's passes over many operating points; a colocated candidate
search asks the same passes of dozens of deployments (every GPU type, layout and speculation of a
service), each at a grid of 20–60 points, so most of its time was numpy's per-call overhead. Here a
`ShapeGroup` holds the `StageTerms` of several deployments as arrays (one value per deployment),
and each pass takes a per-point index of the deployment it runs on. The passes are `batched`'s
formulas themselves, given each point's deployment's terms in place of one deployment's (`_Points`:
a number where all the group's deployments share it, else one per point), so each point goes
through the very operations its deployment alone would and every element is the same float (IEEE
+, −, ×, ÷, min, max are exact per element; powers one element at a time with Python's `**`).
Branches on a deployment's layout (one pipeline stage or several, which collectives it runs) are
taken per point by selection; the branches a group's deployments must share (the architecture,
the speculation, kernel curves or the roofline, the overlap of compute and communication) are
its `group_key`. tests/test_many_shapes.py checks each pass against `batched` point by point.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.physics import batched
from planner.physics.batched import PhaseArrays, decode_steps, mixed_steps
from planner.physics.comm import CollectiveCost, StageComm
from planner.physics.deployment import Deployment
from planner.physics.gemm import CurveAt, GemmTerms
from planner.physics.terms import StageTerms, stage_terms

_SCALARS = ("pp", "dp", "n_s", "hidden", "layers", "dense2", "wbytes_dense", "head2", "head_bytes", "vocab",
            "embed_row_bytes", "moe_pp", "routed2", "expert_params", "e_bytes", "experts", "top_k", "imbalance",
            "epc", "replicas", "untouched", "moe_tp", "attn_peak", "kv_scale", "mem_peak", "overlap", "overhead",
            "step_s", "sequence_s", "hand_bw", "hand_lat", "eager_pass_s", "prompt_s", "decode_scale",
            "prefill_scale", "q", "kv_card", "state_card", "pair_decode", "pair_prefill")
_COMM = ("layers", "dense", "moe2", "moe", "dp", "n_s", "moe_tp", "act", "experts_per_token", "imbalance")
_COSTS = ("tp", "ns", "ep", "etp")   # `StageComm`'s fields: the above and its collective groups' costs


def group_key(dep: Deployment) -> tuple | None:
    """What deployments evaluated together must share (their passes take the same branches): the
    architecture (by identity: one service's deployments share its object), the speculation, and of
    the terms MoE or dense, kernel curves (their dense groups) or none, and whether compute hides
    communication. None: a deployment this module does not take (indexer attention, no kernel
    curves), which `batched` evaluates alone."""
    derived = dep.derived
    if "group_key" not in derived:   # kept with the deployment (asked once per shape and pass)
        t = stage_terms(dep)
        derived["group_key"] = None if dep.arch.index_topk or t.gemm is None else (
            id(dep.arch), dep.spec, t.is_moe, tuple(s is None for s, _ in t.gemm.dense), t.overlap == 0.0,
            t.decode_scale == 1.0)
    return derived["group_key"]


def _columns(terms: list[StageTerms]) -> dict[str, np.ndarray]:
    """One array per scalar a pass reads, one element per deployment (of each one's `terms`)."""
    col = {f: np.array([getattr(t, f) for t in terms]) for f in _SCALARS}
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
    for f in _COMM:
        col[f"c_{f}"] = np.array([getattr(c, f) for c in comms])
    for name in _COSTS:
        costs = [getattr(c, f"{name}_cost") for c in comms]
        col[f"{name}_none"] = np.array([c is None for c in costs])
        col[f"{name}_alpha"] = np.array([0.0 if c is None else c.alpha_s for c in costs])
        col[f"{name}_coef"] = np.array([1.0 if c is None else c.coef for c in costs])
        col[f"{name}_bw"] = np.array([1.0 if c is None else c.bytes_per_s for c in costs])
        col[f"{name}_lat"] = np.array([0.0 if c is None else c.latency_s for c in costs])
    return col


GROUPS_MAX_ENTRIES = 1024   # a 28-service fleet on 11 GPU types asks for ~120 groups, ~60 of them distinct
groups_table: dict[tuple, ShapeGroup] = {}


def shape_group(deps: list[Deployment]) -> ShapeGroup:
    """The `ShapeGroup` of `deps`, built once for every caller that asks for the same deployments (by
    identity, in order: a fleet's services of one model group the same shapes). A group holds only its
    deployments' terms, never a workload's, and keeps its deployments alive, so an id cannot be reused
    while its entry exists."""
    key = tuple(map(id, deps))
    got = groups_table.get(key)
    if got is None:
        if len(groups_table) >= GROUPS_MAX_ENTRIES:
            groups_table.clear()
        got = groups_table[key] = ShapeGroup(list(deps))
    return got


class ShapeGroup:
    """Deployments of one `group_key`, their passes evaluated together by `batched`'s formulas over
    each point's deployment's terms (`decode_steps`, `mixed_steps`, `prefill_passes`); `idx` arrays
    name each point's deployment by its position in `deps`."""

    def __init__(self, deps: list[Deployment]):
        self.deps = deps
        self.arch = deps[0].arch
        self.spec = deps[0].spec
        t0 = stage_terms(deps[0])
        self.dense_one = t0.gemm.dense[0][0] is None
        self.n_dense = len(t0.gemm.dense)
        self.col = _columns([stage_terms(d) for d in deps])
        self.same = {k: v[0].item() for k, v in self.col.items() if (v == v[0]).all()}   # shared by all
        self.same["is_moe"] = t0.is_moe
        self.comm_flags = {n: (bool(self.col[f"{n}_none"].all()), bool(self.col[f"{n}_none"].any())) for n in _COSTS}
        self._plain = None

    def plain(self) -> ShapeGroup:
        """The group of the same deployments without speculation (the drafts' plain steps)."""
        if self._plain is None:
            self._plain = ShapeGroup([replace(d, spec=None) for d in self.deps])
        return self._plain

    def at(self, idx: np.ndarray) -> _Points:
        """The terms of each point's deployment."""
        return _Points(self, idx)

    def decode_steps(self, idx: np.ndarray, batch: np.ndarray, context_tokens: float,
                     time_only: bool = False) -> PhaseArrays:
        """`batched.decode_steps` of point i on deployment idx[i] at batch[i] (`time_only`: the times alone)."""
        return batched.decode_pass(self, self.at(idx), batch, context_tokens, time_only)

    def mixed_steps(self, idx: np.ndarray, batch: np.ndarray, context_tokens: float, chunk_tokens: np.ndarray,
                    prompt_tokens: float, length_cv2: float = 0.0, time_only: bool = False) -> PhaseArrays:
        """`batched.mixed_steps` of point i on deployment idx[i]: batch[i] decodes and chunk_tokens[i]
        of prefill (`time_only`: the times alone)."""
        return batched.mixed_pass(self, self.at(idx), batch, context_tokens, chunk_tokens, prompt_tokens,
                                  length_cv2, time_only)

    def prefill_passes(self, idx: np.ndarray, prompts: np.ndarray, uncached_tokens: float,
                       cached_tokens: float = 0.0, length_cv2: float = 0.0) -> PhaseArrays:
        """`batched.prefill_passes` of point i on deployment idx[i] with prompts[i] prompts (the
        deployments without speculation: a prefill pass drafts nothing)."""
        return batched.prefill_pass(self, self.at(idx), prompts, uncached_tokens, cached_tokens, length_cv2)


class OneShape:
    """One deployment's passes through `batched`, with the interface of a `ShapeGroup` (every point's
    deployment index is 0): code written for a group runs one deployment, including those a group
    does not take (indexer attention, no kernel curves), with `batched`'s floats."""

    def __init__(self, dep: Deployment):
        self.deps = [dep]

    def mixed_steps(self, idx, batch, context_tokens: float, chunk_tokens, prompt_tokens: float,
                    length_cv2: float = 0.0, time_only: bool = False):
        return mixed_steps(self.deps[0], batch, context_tokens, chunk_tokens, prompt_tokens, length_cv2, time_only)

    def decode_steps(self, idx, batch, context_tokens: float, time_only: bool = False):
        return decode_steps(self.deps[0], batch, context_tokens, time_only)


class _Points:
    """Each point's value of its deployment's terms (`ShapeGroup.col` taken at the points' deployments),
    read as attributes and taken once; a scalar all the group's deployments share is that number
    (a Python int, float or bool, as `StageTerms` holds it: the same operation on every element).
    `gemm` and `comm` are the kernel curves and collectives of each point's deployment."""

    def __init__(self, g: ShapeGroup, idx: np.ndarray):
        self._g, self.idx = g, idx
        self._runs = None

    def get(self, name: str):
        v = self.__dict__.get(name)
        if v is None:
            v = self._g.same.get(name)
            if v is None:   # each run of equal indices repeats its deployment's value: the same values as
                # a gather (`take`), an order of magnitude faster where the points come shape by shape
                if self._runs is None:
                    self._runs = _runs_of(np.asarray(self.idx))
                first, lengths = self._runs
                v = np.repeat(self._g.col[name].take(first), lengths)
            self.__dict__[name] = v
        return v

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "gemm":   # the kernel curves of each point's deployment
            v = self.__dict__[name] = self._gemm()
        elif name == "comm":   # its collectives
            v = self.__dict__[name] = StageComm(*(self.get(f"c_{f}") for f in _COMM), *map(self._cost, _COSTS))
        else:
            v = self.get(name)
        return v

    def _gemm(self) -> GemmTerms:
        def curve(c: str) -> CurveAt:
            return CurveAt(self.get(f"{c}_eta_max"), self.get(f"{c}_m_half"), self.get(f"{c}_peak_flops"))
        g = self._g
        dense = ((None, curve("d0")),) if g.dense_one else \
            tuple((self.get(f"share{j}"), curve(f"d{j}")) for j in range(g.n_dense))
        return GemmTerms(self.kappa, dense, curve("moe") if self.is_moe else None, self.ridge)   # dense: no experts

    def _cost(self, group: str) -> CollectiveCost | None:
        """The `CollectiveCost` of a collective group at each point: None where no deployment runs it,
        `absent` where some do not."""
        every, some = self._g.comm_flags[group]
        if every:
            return None
        get = self.get
        return CollectiveCost(False, get(f"{group}_alpha"), get(f"{group}_coef"), get(f"{group}_bw"),
                              get(f"{group}_lat"), get(f"{group}_none") if some else None)


def _runs_of(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the value of each run of equal consecutive elements of `idx`, its length)."""
    if not len(idx):
        return idx, np.zeros(0, dtype=np.int64)
    new = np.empty(len(idx), dtype=bool)
    new[0] = True
    np.not_equal(idx[1:], idx[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return idx.take(starts), np.diff(starts, append=len(idx))
