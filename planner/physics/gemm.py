"""Time of the linear layers of one pass at the kernel-efficiency curve of their shape.

A GEMM with M rows runs at η(M) = η_max·M/(M + M_half) of the card's dense peak
(`planner.catalog.kernels`, fitted to per-op measurements); M is tokens/dp for dense GEMMs and
the token-expert pairs per touched expert for grouped routed-expert GEMMs. κ =
gemm_efficiency_scale is the share of the kernel tables' speed an engine reaches end to end; the
product η(M)·κ is capped at 1, so no GEMM runs above the card's peak (κ > 1 would otherwise take
large GEMMs past it: η_max reaches 0.88).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.kernels import GemmCurve, GpuKernels, kernels_for
from planner.catalog.schemas import BYTES_PER_VALUE
from planner.physics.deployment import Deployment, dense_flop_groups, experts_on_card


@dataclass(frozen=True)
class GemmTime:
    """The linear layers of one stage pass: time at the kernel curve, and rows vs ridge."""

    time_s: float          # Σ FLOPs/(F·min(η(M)·κ, 1))
    below_ridge: bool      # the dense GEMMs' rows are below the card's ridge point


def gemm_rows(dep: Deployment, tokens: float) -> tuple[float, float]:
    """(rows of a dense GEMM, rows of one routed expert's GEMM) in a stage pass of `tokens`:
    tokens/dp (each attention-DP rank runs its own tokens), and the token-expert pairs on a card
    over the experts they touch there (a grouped GEMM runs only the experts that got tokens)."""
    dense = tokens / dep.par.dp
    if not dep.arch.is_moe:
        return dense, 0.0
    pairs, touched = experts_on_card(dep, tokens)
    return dense, pairs / touched if touched > 0 else 0.0


CURVE_WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5}


@dataclass(frozen=True)
class CurveAt:
    """A kernel curve as one deployment's GEMMs run on it: η_max, M_half scaled by the weight bytes
    (weights narrower than the curve's precision, e.g. FP4 weights on a BF16 curve, are
    weight-only quantisation: small GEMMs read fewer bytes, so the ridge moves), the peak FLOP/s."""

    eta_max: float
    m_half: float        # M_half · weight bytes / the curve precision's bytes
    peak_flops: float

    def time(self, flops: float, rows: float, kappa: float) -> float:
        """FLOPs of GEMMs with `rows` rows at the curve: FLOPs/(F·min(η(rows)·κ, 1)), never faster than
        the peak."""
        if flops <= 0:
            return 0.0
        eta = self.eta_max * rows / (rows + self.m_half) if rows > 0 else 0.0
        return flops / (self.peak_flops * min(max(eta, 1e-9) * kappa, 1.0))

    def times(self, flops, rows, kappa: float):
        """`time` for numpy arrays of FLOPs and rows (≥ 0), element by element the same floats. No
        denominator is 0 (M_half > 0, η ≥ 1e-9), so nothing needs numpy's warnings silenced."""
        import numpy as np
        eta = np.where(rows > 0, self.eta_max * rows / (rows + self.m_half), 0.0)
        t = flops / (self.peak_flops * np.minimum(np.maximum(eta, 1e-9) * kappa, 1.0))
        return np.where(flops <= 0, 0.0, t)


def curve_at(curve: GemmCurve, peak_flops: float, weight_bytes: float) -> CurveAt:
    """`curve` for weights of `weight_bytes` bytes, at `peak_flops`."""
    return CurveAt(curve.eta_max, curve.m_half * (weight_bytes / CURVE_WEIGHT_BYTES[curve.peak_precision]), peak_flops)


def curve_times(flops, rows, curve: GemmCurve, peak_flops: float, kappa: float, weight_bytes: float):
    """FLOPs of GEMMs with `rows` rows at `curve` for weights of `weight_bytes` bytes (`CurveAt.times`),
    numpy arrays element by element."""
    return curve_at(curve, peak_flops, weight_bytes).times(flops, rows, kappa)


@dataclass(frozen=True)
class GemmTerms:
    """What `gemm_time` looks up for a deployment under kernel curves: κ, the dense parts' curves
    (with their share of the dense FLOPs, or None: one curve for all), the routed experts' curve,
    and the dense GEMMs' ridge in rows."""

    kappa: float
    dense: tuple[tuple[float | None, CurveAt], ...]
    moe: CurveAt
    ridge: float

    def time(self, dense_flops: float, routed_flops: float, m_dense: float, m_expert: float) -> float:
        """`gemm_time`'s seconds of the dense and routed GEMMs at rows m_dense and m_expert."""
        kappa = self.kappa
        if self.dense[0][0] is None:
            t = self.dense[0][1].time(dense_flops, m_dense, kappa)
        else:
            t = sum(cv.time(dense_flops * share, m_dense, kappa) for share, cv in self.dense)
        t += self.moe.time(routed_flops, m_expert, kappa)
        return t


def gemm_terms(dep: Deployment) -> GemmTerms | None:
    """The `GemmTerms` of a deployment; None without kernel curves (the roofline)."""
    g, c = dep.gpu, dep.calib
    if not c.kernel_curves:
        return None
    k = kernels_for(g)
    if dep.dense_split:
        dense = tuple((share, curve_at(cv, g.flops(cv.peak_precision), wb)) for share, cv, wb in dense_groups(dep, k))
    else:
        dc = k.gemm(dep.weight_dtype)
        dense = ((None, curve_at(dc, g.flops(dc.peak_precision), dep.w_bytes)),)
    mc = k.moe(dep.expert_precision)
    return GemmTerms(c.v("gemm_efficiency_scale"), dense, curve_at(mc, g.flops(mc.peak_precision), dep.e_bytes),
                     dense_ridge(dep, k))


def dense_groups(dep: Deployment, k: GpuKernels) -> tuple[tuple[float, GemmCurve, float], ...]:
    """(share of the dense FLOPs, kernel curve, bytes per weight) per precision of the dense parts
    (`dense_flop_groups`): each part runs on the curve of its own precision, with the rule for a
    precision the card lacks (`GpuKernels.gemm`: FP4 on Hopper runs W4A16 on the BF16 curve)."""
    return tuple((share, k.gemm(d), BYTES_PER_VALUE[d]) for d, share in dense_flop_groups(dep))


def dense_ridge(dep: Deployment, k: GpuKernels) -> float:
    """Rows at the ridge point of the dense GEMMs: F·η_max/(2·B)·bytes per weight of the curve of
    the weights' precision, or, with parts stored apart, of the precision with the most FLOPs."""
    g = dep.gpu
    if dep.dense_split:
        _, dc, wb = max(dense_groups(dep, k), key=lambda x: x[0])
    else:
        dc, wb = k.gemm(dep.weight_dtype), dep.w_bytes
    return g.flops(dc.peak_precision) * dc.eta_max / (2.0 * g.memory_bandwidth_bytes_per_s) * wb


def roofline_seconds(dep: Deployment, dense_flops, routed_flops):
    """The linear layers' time under a profile without kernel curves: FLOPs/(F·η_c), each part at
    the peak of its own precision (a number, or arrays element by element: `batched.gemm_times`)."""
    g, eff = dep.gpu, dep.calib.v("compute_efficiency")
    if dep.dense_split:
        t = sum(dense_flops * share / (g.flops(d) * eff) for d, share in dense_flop_groups(dep))
        return t + routed_flops / (g.flops(dep.expert_precision) * eff)
    if dep.mixed_precision:
        return dense_flops / (g.flops(dep.weight_dtype) * eff) + routed_flops / (g.flops(dep.expert_precision) * eff)
    return (dense_flops + routed_flops) / (g.flops(dep.weight_dtype) * eff)


def gemm_time(dep: Deployment, tokens: float, dense_flops: float, routed_flops: float) -> GemmTime:
    """Time of the linear layers of one stage pass on one card (see module docstring). Under a
    profile without kernel curves (the roofline): FLOPs/(F·η_c). The kernels' fixed time per call
    (t0) is not added: engines capture decode steps in CUDA graphs, and the fitted per-layer
    overhead carries what remains."""
    m_dense, m_expert = gemm_rows(dep, tokens)
    return gemm_seconds(dep, gemm_terms(dep), dense_flops, routed_flops, m_dense, m_expert)


def gemm_seconds(dep: Deployment, gt: GemmTerms | None, dense_flops: float, routed_flops: float,
                 m_dense: float, m_expert: float) -> GemmTime:
    """`gemm_time` from the deployment's `GemmTerms` (None: the roofline) and the GEMMs' rows."""
    if gt is None:
        return GemmTime(roofline_seconds(dep, dense_flops, routed_flops), False)
    return GemmTime(gt.time(dense_flops, routed_flops, m_dense, m_expert), m_dense < gt.ridge)
