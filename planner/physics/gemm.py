"""Time of the linear layers of one pass at the kernel-efficiency curve of their shape.

A GEMM with M rows runs at η(M) = η_max·M/(M + M_half) of the card's dense peak
(`planner.catalog.kernels`, fitted to per-op measurements); M is tokens/dp for dense GEMMs and
the token-expert pairs per touched expert for grouped routed-expert GEMMs. κ =
gemm_efficiency_scale is the share of the kernel tables' speed an engine reaches end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.kernels import GemmCurve, GpuKernels, kernels_for
from planner.catalog.schemas import BYTES_PER_VALUE
from planner.physics.deployment import Deployment, dense_flop_groups, experts_on_card


@dataclass(frozen=True)
class GemmTime:
    """The linear layers of one stage pass: time at the kernel curve, and rows vs ridge."""

    time_s: float          # Σ FLOPs/(F·η(M)·κ)
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


def _curve_time(flops: float, rows: float, curve: GemmCurve, peak_flops: float, kappa: float,
                weight_bytes: float) -> float:
    """FLOPs of GEMMs with `rows` rows at the kernel curve: FLOPs/(F·η(rows)·κ). Weights narrower
    than the curve's precision (FP4 weights on a BF16 curve: weight-only quantisation) move the
    ridge, so M_half scales with the weight bytes: small GEMMs read fewer bytes."""
    if flops <= 0:
        return 0.0
    scale = weight_bytes / CURVE_WEIGHT_BYTES[curve.peak_precision]
    eta = curve.eta_max * rows / (rows + curve.m_half * scale) if rows > 0 else 0.0
    return flops / (peak_flops * max(eta, 1e-9) * kappa)


def curve_times(flops, rows, curve: GemmCurve, peak_flops: float, kappa: float, weight_bytes: float):
    """`_curve_time` for numpy arrays of FLOPs and rows, element by element the same floats."""
    import numpy as np
    scale = weight_bytes / CURVE_WEIGHT_BYTES[curve.peak_precision]
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(rows > 0, curve.eta_max * rows / (rows + curve.m_half * scale), 0.0)
        t = flops / (peak_flops * np.maximum(eta, 1e-9) * kappa)
    return np.where(flops <= 0, 0.0, t)


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
    g, c = dep.gpu, dep.calib
    if not c.kernel_curves:
        return GemmTime(roofline_seconds(dep, dense_flops, routed_flops), False)
    k = kernels_for(g)
    kappa = c.v("gemm_efficiency_scale")
    m_dense, m_expert = gemm_rows(dep, tokens)
    dc, mc = k.gemm(dep.weight_dtype), k.moe(dep.expert_precision)
    if dep.dense_split:
        t = sum(_curve_time(dense_flops * share, m_dense, cv, g.flops(cv.peak_precision), kappa, wb)
                for share, cv, wb in dense_groups(dep, k))
    else:
        t = _curve_time(dense_flops, m_dense, dc, g.flops(dc.peak_precision), kappa, dep.w_bytes)
    t += _curve_time(routed_flops, m_expert, mc, g.flops(mc.peak_precision), kappa, dep.e_bytes)
    return GemmTime(t, m_dense < dense_ridge(dep, k))
