"""Derive catalogs/kernels.yaml (GEMM/MoE efficiency curves, collective costs) from the per-op latency
tables of NVIDIA AIConfigurator (aiconfigurator-core 0.12.0, Apache-2.0).

    python -m planner.fidelity.kernels WHEEL_DIR [--out catalogs/kernels.yaml]
    python -m planner.fidelity.kernels --from-installed [--out ...]

WHEEL_DIR is an unpacked aiconfigurator-core wheel; --from-installed uses the installed package
(`pip install -e '.[kernels]'` in the checkout, which also brings pyarrow and scipy). Files named
silicon_sample*.csv are refused and never opened (see kernel_tables).

Model of one kernel call (dense GEMM, or the grouped routed-expert op of one MoE layer)::

    t = t0 + FLOPs / (F_peak · η(M)),     η(M) = η_max · M / (M + M_half)

M is rows per GEMM: tokens for dense GEMMs, max(1, tokens·topk/E) per expert for MoE. The hyperbola
is t = t_weights + t_flops (the weights are read once, then compute runs at η_max), so M_half is the
card's ridge point in rows. t0 is a fixed per-call time (launch, activation quantisation, routing),
kept only when it cuts the p90 time error by ≥ FLOOR_MIN_GAIN. Fits minimise squared log time
ratios (each row counts by its relative error); errors are |t_pred/t_meas − 1| over the rows fitted.
Collectives: t = α + bytes/bw per group size, NNLS on relative errors.

Reading and writing sit in `main`/`derive`; the fits are pure functions of arrays (numpy + scipy,
scipy imported inside the fitting functions).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from planner.catalog.schemas import CATALOG_DIR, GPU, load_gpus
from planner.errors import BadInput
from planner.fidelity.kernel_tables import (
    KernelRows,
    Wheel,
    collective_rows,
    dense_gemm_rows,
    installed_wheel_root,
    moe_rows,
    open_wheel,
    read_table,
    require_columns,
)
from planner.input.files import atomic_write

FRAMEWORK = "trtllm"  # the backend with the widest per-op coverage in the wheel
FLOOR_MIN_GAIN = 0.20  # t0 is kept only if it cuts the p90 time error by ≥ 20 %
MOE_MAX_EP = 8  # the MoE curve pools EP 1…8 (one node); efficiency falls at wider EP
ATTRIBUTION = ("Kernel-efficiency curves derived from per-op latency tables in NVIDIA AIConfigurator "
               "(aiconfigurator-core 0.12.0, https://github.com/ai-dynamo/aiconfigurator), Copyright (c) "
               "2025-2026 NVIDIA CORPORATION & AFFILIATES, licensed under the Apache License 2.0. The tables "
               "were refitted (changed): only fitted parameters are shipped, not the tables.")

#: wheel system folder → planner GPU id (only GPUs of catalogs/gpus.yaml are fitted: η is relative to its peaks)
SYSTEMS = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200", "b300_sxm": "b300", "gb200": "gb200",
           "gb300": "gb300", "a100_sxm": "a100-80g", "l40s": "l40s"}
#: table dtype → (curve key, precision of the peak η is relative to)
DTYPES = {"bfloat16": ("bf16", "bf16"), "fp8": ("fp8", "fp8"), "fp8_block": ("fp8_block", "fp8"),
          "nvfp4": ("fp4", "fp4")}
#: architecture families (curated): members, reference with data, whether the curves apply only by analogy
FAMILIES: dict[str, dict] = {
    "hopper": {"name": "NVIDIA Hopper", "members": ["h100", "h200", "h800", "h20", "h100-pcie", "h200-nvl"],
               "reference": "h200", "member_references": {"h800": "h100"}, "by_analogy": False,
               "note": "h20, h100-pcie and h200-nvl have no tables: they take the h200 curves with m_half "
                       "scaled by the ridge point (h20's is ~5x lower than h200's); h800, the h100's die and "
                       "memory with 8 NVLinks instead of 18, takes the h100 curves and collectives (bandwidth "
                       "scaled by the link rate)"},
    "blackwell": {"name": "NVIDIA Blackwell", "members": ["b200", "b300", "gb200", "gb300"], "reference": "b200",
                  "by_analogy": False, "note": "b200, b300, gb200 and gb300 measured (each GPU with tables uses its "
                                               "own curves; the family reference serves members without tables)"},
    "ampere": {"name": "NVIDIA Ampere", "members": ["a100-80g", "a100-pcie"], "reference": "a100-80g",
               "by_analogy": False,
               "note": "a100-80g measured (bf16 only: no fp8 units; MoE rows use power_law_1.01 routing, "
                       "the table has no balanced rows); a100-pcie (no tables in the wheel) takes its curves"},
    "ada": {"name": "NVIDIA Ada", "members": ["l40s", "rtx4090"], "reference": "l40s", "by_analogy": False,
            "note": "rtx4090 takes the l40s curves scaled by the ridge point; l40s collectives are PCIe "
                    "without P2P on the measured host (~1 GB/s at 8 GPUs): host-specific"},
    "cdna3": {"name": "AMD CDNA3", "members": ["mi300x", "mi325x"], "reference": "h200", "by_analogy": True,
              "note": "no kernel data exists for AMD CDNA3 (the tables measure NVIDIA GPUs only): h200 curves "
                      "by analogy, m_half scaled by the ridge point; no collectives"},
    "cdna4": {"name": "AMD CDNA4", "members": ["mi355x"], "reference": "b200", "by_analogy": True,
              "note": "no kernel data exists for AMD CDNA4: b200 curves by analogy (the measured card with fp4 "
                      "curves, the part MI355X is positioned against), m_half scaled by the ridge point; no "
                      "collectives"},
    "ascend": {"name": "Huawei Ascend", "members": ["ascend-910b"], "reference": "h200", "by_analogy": True,
               "note": "no kernel data exists for Huawei Ascend: h200 curves by analogy, m_half scaled by the "
                       "ridge point; no collectives"},
}
UNKNOWN_FAMILY_REFERENCE = "h200"


# ------------------------------------------------------------------------------ pure fitting
@dataclass(frozen=True)
class CurveFit:
    eta_max: float
    m_half: float
    t0_s: float
    err_median: float
    err_p90: float
    n_rows: int


@dataclass(frozen=True)
class CollectiveFit:
    alpha_s: float
    bytes_per_s: float
    err_median: float
    err_p90: float
    n_rows: int


def eta_curve(m: np.ndarray | float, eta_max: float, m_half: float) -> np.ndarray:
    """η(M) = η_max·M/(M + M_half)."""
    m = np.asarray(m, dtype=float)
    return eta_max * m / (m + m_half)


def predict_time(m: np.ndarray, flops: np.ndarray, peak: float, eta_max: float, m_half: float,
                 t0: float = 0.0) -> np.ndarray:
    """t = t0 + FLOPs / (peak · η(M)) in seconds."""
    return t0 + np.asarray(flops, float) / (peak * eta_curve(m, eta_max, m_half))


def time_errors(t_pred: np.ndarray, t_meas: np.ndarray) -> np.ndarray:
    """|t_pred/t_meas − 1|."""
    return np.abs(np.asarray(t_pred, float) / np.asarray(t_meas, float) - 1.0)


def _fit_form(m: np.ndarray, flops: np.ndarray, t: np.ndarray, peak: float,
              with_floor: bool) -> tuple[float, float, float]:
    """Least squares on log t in log-parameter space; (η_max, M_half, t0)."""
    from scipy.optimize import least_squares

    log_t = np.log(t)
    eta = flops / (t * peak)
    x0 = [np.log(max(float(np.quantile(eta, 0.95)), 1e-4)), np.log(float(np.median(m)))]
    lo, hi = [np.log(1e-5), np.log(1e-3)], [np.log(1.5), np.log(1e7)]
    if with_floor:  # t0 searched in log space below the smallest measured time
        x0.append(np.log(0.3 * float(t.min())))
        lo.append(np.log(1e-9))
        hi.append(np.log(float(t.min())))

    def resid(theta: np.ndarray) -> np.ndarray:
        t0 = float(np.exp(theta[2])) if with_floor else 0.0
        return np.log(predict_time(m, flops, peak, np.exp(theta[0]), np.exp(theta[1]), t0)) - log_t

    x0 = np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    sol = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", method="trf")
    return float(np.exp(sol.x[0])), float(np.exp(sol.x[1])), float(np.exp(sol.x[2])) if with_floor else 0.0


def fit_time_curve(m: np.ndarray, flops: np.ndarray, t: np.ndarray, peak: float,
                   allow_floor: bool = True, min_gain: float = FLOOR_MIN_GAIN) -> CurveFit:
    """Fit t = t0 + FLOPs/(peak·η(M)). The 2-parameter form (t0 = 0) is kept unless adding t0 cuts the
    p90 time error by at least `min_gain` (relative)."""
    m, flops, t = (np.asarray(a, float) for a in (m, flops, t))
    ok = np.isfinite(m) & np.isfinite(flops) & np.isfinite(t) & (m > 0) & (flops > 0) & (t > 0)
    m, flops, t = m[ok], flops[ok], t[ok]
    if m.size < 3:
        raise ValueError(f"need at least 3 valid points to fit a curve, got {m.size}")
    chosen = _fit_form(m, flops, t, peak, with_floor=False)
    err = time_errors(predict_time(m, flops, peak, *chosen), t)
    if allow_floor:
        three = _fit_form(m, flops, t, peak, with_floor=True)
        err3 = time_errors(predict_time(m, flops, peak, *three), t)
        if np.quantile(err3, 0.9) <= (1.0 - min_gain) * np.quantile(err, 0.9):
            chosen, err = three, err3
    return CurveFit(eta_max=chosen[0], m_half=chosen[1], t0_s=chosen[2], err_median=float(np.median(err)),
                    err_p90=float(np.quantile(err, 0.9)), n_rows=int(m.size))


def fit_collective(nbytes: np.ndarray, seconds: np.ndarray) -> CollectiveFit:
    """t = α + bytes/bw with α, 1/bw ≥ 0, minimising relative errors: 1 ≈ α/t + β·x/t is linear (NNLS)."""
    from scipy.optimize import nnls

    x, t = np.asarray(nbytes, float), np.asarray(seconds, float)
    if x.size < 2:
        raise ValueError(f"need at least 2 points to fit a collective, got {x.size}")
    (alpha, beta), _ = nnls(np.column_stack([1.0 / t, x / t]), np.ones_like(t))
    err = time_errors(alpha + beta * x, t)
    return CollectiveFit(alpha_s=float(alpha), bytes_per_s=1.0 / beta if beta > 0 else float("inf"),
                         err_median=float(np.median(err)), err_p90=float(np.quantile(err, 0.9)), n_rows=int(x.size))


def _r(x: float, digits: int = 4) -> float:
    """`digits` significant figures, for a readable YAML."""
    return 0.0 if x == 0 else float(f"{float(x):.{digits}g}")


def curve_entry(fit: CurveFit, selection: str, file: str) -> dict:
    return {"eta_max": _r(fit.eta_max), "m_half": _r(fit.m_half), "t0_us": _r(fit.t0_s * 1e6),
            "err_median": _r(fit.err_median, 3), "err_p90": _r(fit.err_p90, 3), "n_rows": fit.n_rows,
            "selection": selection, "file": file}


def collective_entries(groups: np.ndarray, nbytes: np.ndarray, seconds: np.ndarray) -> dict[int, dict]:
    out = {}
    for g in sorted(set(groups.tolist())):
        s = groups == g
        if s.sum() >= 2 and g >= 2:
            f = fit_collective(nbytes[s], seconds[s])
            out[int(g)] = {"alpha_us": _r(f.alpha_s * 1e6), "bw_GBps": _r(f.bytes_per_s / 1e9),
                           "err_median": _r(f.err_median, 3), "err_p90": _r(f.err_p90, 3), "n_rows": f.n_rows}
    return out


# ------------------------------------------------------------------------------ one GPU
def fit_gpu(wheel: Wheel, system: str, gpu: GPU, log) -> dict:
    """kernels.yaml entry of one wheel system measured on catalog GPU `gpu`."""
    version = wheel.current_version(system, FRAMEWORK)
    peaks = {p: gpu.dense_flops[p].value for p in ("bf16", "fp8", "fp4") if p in gpu.dense_flops}
    entry: dict = {"wheel_system": system,
                   "peak_tflops": {p: _r(v / 1e12) for p, v in peaks.items()},
                   "memory_bandwidth_TBps": _r(gpu.memory_bandwidth_bytes_per_s / 1e12),
                   "gemm": {}, "moe": {}}
    for kind, op, table, rows_of in (("gemm", "gemm", "gemm_perf", dense_gemm_rows), ("moe", "moe", "moe_perf", None)):
        path = wheel.table(system, op, FRAMEWORK, table, version)
        tab = read_table(path)
        dcol = "gemm_dtype" if kind == "gemm" else "moe_dtype"
        require_columns(tab, (dcol,), path)
        present = set(np.asarray(tab[dcol]).astype(str))
        for dtype, (key, peak_prec) in DTYPES.items():
            if dtype not in present or peak_prec not in peaks:
                continue
            rows: KernelRows = dense_gemm_rows(tab, dtype, path) if rows_of else moe_rows(tab, dtype, path)
            selection = rows.selection
            if kind == "moe":
                rows, selection = rows.subset(rows.ep <= MOE_MAX_EP), f"{selection}, EP<={MOE_MAX_EP} pooled"
            if rows.m.size < 3:
                log(f"  {gpu.id} {kind} {key}: fewer than 3 rows, skipped")
                continue
            fit = fit_time_curve(rows.m, rows.flops, rows.seconds, peaks[peak_prec])
            entry[kind][key] = curve_entry(fit, selection, wheel.relative(path))
            log(f"  {gpu.id} {kind:4} {key:9} eta_max={fit.eta_max:.3f} m_half={fit.m_half:.0f} "
                f"t0={fit.t0_s * 1e6:.1f}us p90={fit.err_p90:.0%} rows={fit.n_rows}")
    nccl = wheel.table(system, "comm", "nccl", "nccl_perf", None)
    ntab = read_table(nccl)
    try:
        custom = wheel.table(system, "comm", FRAMEWORK, "custom_allreduce_perf", version)
        groups = collective_rows(read_table(custom), custom, "allreduce_dtype")
        entry["all_reduce"] = {"kernel": "TRT-LLM custom all-reduce", "file": wheel.relative(custom),
                               "groups": collective_entries(*groups)}
    except BadInput as e:
        log(f"  {gpu.id}: no custom all-reduce ({e}); NCCL all_reduce instead")
        entry["all_reduce"] = {"kernel": "NCCL all_reduce", "file": wheel.relative(nccl),
                               "groups": collective_entries(*collective_rows(ntab, nccl, "nccl_dtype", "all_reduce"))}
    entry["all_to_all"] = {"kernel": "NCCL alltoall", "file": wheel.relative(nccl),
                           "groups": collective_entries(*collective_rows(ntab, nccl, "nccl_dtype", "alltoall"))}
    return entry


def derive(wheel: Wheel, gpus: dict[str, GPU], log=lambda s: None) -> dict:
    """The kernels.yaml document: every wheel system that is a catalog GPU, fitted."""
    measured = {}
    for system, gpu_id in SYSTEMS.items():
        if not (wheel.data_dir / system).is_dir():
            log(f"  {system}: not in the wheel, skipped")
            continue
        if gpu_id not in gpus:
            log(f"  {system}: {gpu_id} is not in the GPU catalog, skipped")
            continue
        measured[gpu_id] = fit_gpu(wheel, system, gpus[gpu_id], log)
    if not measured:
        raise BadInput(f"{wheel.data_dir}: no system of the wheel matches a catalog GPU ({', '.join(SYSTEMS)})")
    families = {k: {**v, "member_references": {g: r for g, r in v.get("member_references", {}).items()
                                               if r in measured}}
                if "member_references" in v else dict(v)
                for k, v in FAMILIES.items() if v["reference"] in measured}
    return {
        "schema_version": 1,
        "source": {"wheel": wheel.name, "version": wheel.version, "license": wheel.license,
                   "url": "https://github.com/ai-dynamo/aiconfigurator", "framework": FRAMEWORK,
                   "as_of": wheel.as_of or "unknown",
                   "as_of_basis": "build timestamp of the wheel's SBOM (dist-info/sboms)",
                   "peaks": "catalogs/gpus.yaml dense_flops (η is relative to these; recorded per GPU)",
                   "generated_by": "python -m planner.fidelity.kernels",
                   "attribution": ATTRIBUTION},
        "unknown_family_reference": UNKNOWN_FAMILY_REFERENCE,
        "families": families,
        "gpus": measured,
    }


HEADER = """\
# Kernel-efficiency curves and collective costs per GPU, derived from NVIDIA AIConfigurator per-op
# tables (see source.attribution, NOTICE and docs/kernels.md). Generated: do not edit by hand;
# regenerate with `python -m planner.fidelity.kernels WHEEL_DIR --out catalogs/kernels.yaml`.
#   kernel call: t = t0 + FLOPs / (F_peak * eta(M)),  eta(M) = eta_max * M / (M + m_half)
#   M: rows per GEMM (tokens; per expert max(1, tokens*topk/E) for MoE). Errors: |t_pred/t_meas - 1|.
#   collectives: t = alpha + bytes / bw (bw = algorithm bandwidth), per group size, inside one node.
# Each entry's `file` is the table inside the wheel (source block) it was fitted on.
"""


def render(doc: dict) -> str:
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True)


# ------------------------------------------------------------------------------ CLI
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m planner.fidelity.kernels", description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel_dir", nargs="?", type=Path, help="unpacked aiconfigurator-core wheel")
    ap.add_argument("--from-installed", action="store_true", help="use the installed aiconfigurator-core")
    ap.add_argument("--out", type=Path, default=CATALOG_DIR / "kernels.yaml")
    ap.add_argument("--force", action="store_true", help="replace the shipped catalogs/kernels.yaml")
    args = ap.parse_args(argv)
    try:
        if (args.wheel_dir is None) == (not args.from_installed):
            raise BadInput("give either WHEEL_DIR or --from-installed (exactly one)")
        wheel = open_wheel(installed_wheel_root() if args.from_installed else args.wheel_dir)
        doc = derive(wheel, load_gpus(), log=lambda s: sys.stderr.write(s + "\n"))
        atomic_write(args.out, render(doc), force=args.force, catalog="kernels.yaml")
    except BadInput as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write(f"wrote {args.out}: {len(doc['gpus'])} GPUs from {wheel.name} {wheel.version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
