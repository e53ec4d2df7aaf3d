"""Kernel-efficiency curves and collective costs per GPU (catalogs/kernels.yaml).

The curves were fitted (planner.fidelity.kernels) on the per-op latency tables of NVIDIA
AIConfigurator, aiconfigurator-core 0.12.0, Apache-2.0 (attribution in the file's source block,
NOTICE and docs/kernels.md). One kernel call — a dense GEMM, or the grouped routed-expert op of a
MoE layer — takes

    t = t0 + FLOPs / (F_peak · η(M)),     η(M) = η_max · M / (M + M_half)

with M the rows per GEMM (tokens for dense GEMMs; tokens·topk/num_experts per expert for grouped MoE
GEMMs) and F_peak = GPU.flops(curve.peak_precision). Collectives: t = α + bytes / bw per group size,
measured inside one node only (no inter-node data).

Precision rules (the precision the weights are stored in → the curve used):

* bf16, fp16 → the bf16 curve, peak 'bf16'.
* fp8 dense → the per-tensor 'fp8' GEMM curve, peak 'fp8'. fp8 MoE → the 'fp8_block' curve (DeepSeek
  shape, EP ≤ 8 pooled) where the data has it, else 'fp8'.
* int8 → the same curve as fp8, with peak 'int8' (the card's int8 rate; equal to fp8 on Hopper).
* fp4 on a card with fp4 units (GPU.dense_flops has 'fp4') → the 'fp4' curve, peak 'fp4'. On a card
  without fp4 → the bf16 curve with peak 'bf16': weight-only FP4 (W4A16), as Hopper runs MXFP4.
* Likewise fp8/int8 on a card without those units (A100, Ascend 910B), or where the data has no curve
  for the precision: the bf16 curve, peak 'bf16' (weight-only). `basis` says so whenever it happens.

Family fallback: a GPU with its own tables uses them ('measured (h200)'). A catalog GPU without
tables takes its family reference's curves (families in kernels.yaml) with m_half scaled by the ratio
of ridge points, (F_peak/B)_gpu / (F_peak/B)_reference at the curve's precision — M_half is the ridge
point in rows. AMD (mi300x, mi325x) and Huawei Ascend (ascend-910b) take the Hopper (h200) curves BY
ANALOGY: no kernel data exists for them. A GPU id in no family gets the same, with basis 'unknown
family: hopper curves by analogy'. A card without tables whose scale-up link is the same NVLink
generation at the same rate as its family reference's (h20 and h200-nvl beside h200: the same
NVLink 4 ports, switched or bridged) takes the reference's collective tables for the groups inside
its own domain; on every other card without tables allreduce/alltoall return None (the link's
bandwidth model in physics.comm). PCIe links are never shared: P2P support and switch topology
differ between servers.
For a measured card whose catalog peak differs from the peak the fit used, η_max is rescaled so
that the achieved FLOP/s stay the measured ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from planner.catalog.cache import cached_load
from planner.catalog.schemas import CATALOG_DIR, GPU, load_gpus
from planner.errors import BadInput
from planner.input.files import read_yaml, validate
from planner.input.schema import Strict

CurveKey = Literal["bf16", "fp8", "fp8_block", "fp4"]
PeakKey = Literal["bf16", "fp8", "fp4"]
PRECISIONS = ("bf16", "fp16", "fp8", "int8", "fp4")
CURVE_PEAK = {"bf16": "bf16", "fp8": "fp8", "fp8_block": "fp8", "fp4": "fp4"}


# ---------------------------------------------------------------------------- the file
class CurveEntry(Strict):
    eta_max: float = Field(gt=0, le=1)
    m_half: float = Field(gt=0)
    t0_us: float = Field(ge=0)
    err_median: float = Field(ge=0)
    err_p90: float = Field(ge=0)
    n_rows: int = Field(ge=3)
    selection: str = Field(min_length=3)
    file: str = Field(min_length=3)


class GroupEntry(Strict):
    alpha_us: float = Field(ge=0)
    bw_GBps: float = Field(gt=0)
    err_median: float = Field(ge=0)
    err_p90: float = Field(ge=0)
    n_rows: int = Field(ge=2)


class CollectiveEntry(Strict):
    kernel: str = Field(min_length=3)
    file: str = Field(min_length=3)
    groups: dict[int, GroupEntry]


class MeasuredGpu(Strict):
    wheel_system: str
    peak_tflops: dict[PeakKey, float]
    memory_bandwidth_TBps: float = Field(gt=0)
    gemm: dict[CurveKey, CurveEntry]
    moe: dict[CurveKey, CurveEntry]
    all_reduce: CollectiveEntry | None = None
    all_to_all: CollectiveEntry | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MeasuredGpu:
        if any(v <= 0 for v in self.peak_tflops.values()):
            raise ValueError("peak_tflops must be > 0")
        for kind, curves in (("gemm", self.gemm), ("moe", self.moe)):
            if "bf16" not in curves:
                raise ValueError(f"{kind} needs a bf16 curve (the weight-only fallback)")
        for kind, curves in (("gemm", self.gemm), ("moe", self.moe)):
            for key in curves:
                if CURVE_PEAK[key] not in self.peak_tflops:
                    raise ValueError(f"{kind}.{key} needs peak_tflops.{CURVE_PEAK[key]}")
        return self


class Family(Strict):
    name: str
    members: list[str] = Field(min_length=1)
    reference: str
    # a member without tables whose silicon is another member's (the H800: the H100's die and memory
    # with fewer NVLinks) takes that member's curves and collectives instead of the reference's
    member_references: dict[str, str] = Field(default_factory=dict)
    by_analogy: bool
    note: str

    @model_validator(mode="after")
    def _members_only(self) -> Family:
        for g, r in self.member_references.items():
            if g not in self.members or r not in self.members:
                raise ValueError(f"member_references: {g} → {r}: both must be members of the family")
        return self


class Source(Strict):
    wheel: str
    version: str
    license: str
    url: str
    framework: str
    as_of: str = Field(min_length=4)
    as_of_basis: str
    peaks: str
    generated_by: str
    attribution: str = Field(min_length=20)


class KernelCatalog(Strict):
    schema_version: Literal[1]
    source: Source
    unknown_family_reference: str
    families: dict[str, Family]
    gpus: dict[str, MeasuredGpu]

    @model_validator(mode="after")
    def _references_exist(self) -> KernelCatalog:
        for name, fam in self.families.items():
            if fam.reference not in self.gpus:
                raise ValueError(f"families.{name}.reference {fam.reference!r} has no entry under gpus")
            for g, r in fam.member_references.items():
                if r not in self.gpus:
                    raise ValueError(f"families.{name}.member_references.{g}: {r!r} has no entry under gpus")
        if self.unknown_family_reference not in self.gpus:
            raise ValueError(f"unknown_family_reference {self.unknown_family_reference!r} has no entry under gpus")
        seen: dict[str, str] = {}
        for name, fam in self.families.items():
            for m in fam.members:
                if m in seen:
                    raise ValueError(f"families: {m!r} is a member of both {seen[m]} and {name}")
                seen[m] = name
        orphans = sorted(set(self.gpus) - set(seen))
        if orphans:
            raise ValueError(f"gpus {orphans} belong to no family")
        return self

    def family_of(self, gpu_id: str) -> str | None:
        return next((n for n, f in self.families.items() if gpu_id in f.members), None)


@functools.lru_cache(maxsize=8)
def load_kernel_catalog(path: str | None = None) -> KernelCatalog:
    """catalogs/kernels.yaml (or `path`), validated; BadInput naming the file and field otherwise."""
    p = Path(path) if path else CATALOG_DIR / "kernels.yaml"
    return cached_load(p, "kernels", lambda: validate(KernelCatalog, read_yaml(p), str(p)))


# ---------------------------------------------------------------------------- the interface
@dataclass(frozen=True)
class GemmCurve:
    eta_max: float          # fraction of peak at large M
    m_half: float           # rows at which η = η_max/2
    t0_s: float             # fixed time per call (launch, quantisation), seconds
    peak_precision: str     # the GPU precision whose dense peak η is relative to ('bf16', 'fp8', 'int8', 'fp4')
    err_median: float       # |t_pred/t_meas − 1| over the table rows fitted
    err_p90: float
    basis: str              # which GPU's table, kernel, and any fallback applied

    def efficiency(self, rows: float) -> float:
        """η_max·rows/(rows + m_half); 0.0 for rows ≤ 0."""
        return 0.0 if rows <= 0 else self.eta_max * rows / (rows + self.m_half)


@dataclass(frozen=True)
class Collective:
    alpha_s: float          # latency per call
    bytes_per_s: float      # algorithm bandwidth
    basis: str


@dataclass(frozen=True, eq=False)
class GpuKernels:
    gpu: str
    family: str
    basis: str
    _gemm: dict[str, GemmCurve] = field(repr=False, default_factory=dict)
    _moe: dict[str, GemmCurve] = field(repr=False, default_factory=dict)
    _allreduce: dict[int, Collective] = field(repr=False, default_factory=dict)
    _alltoall: dict[int, Collective] = field(repr=False, default_factory=dict)
    # cards without tables of their own: the per-call latency α(g) of the family reference's measured
    # NVLink tables, by kind ('allreduce', 'alltoall'), beside the link model's bandwidth
    _alpha_by_analogy: dict[str, dict[int, float]] = field(repr=False, default_factory=dict)

    def gemm(self, precision: str) -> GemmCurve:
        """Dense GEMM curve for weights stored in `precision` (bf16, fp16, fp8, int8, fp4)."""
        return self._curve(self._gemm, precision)

    def moe(self, precision: str) -> GemmCurve:
        """Grouped routed-expert GEMM curve for expert weights stored in `precision`."""
        return self._curve(self._moe, precision)

    def allreduce(self, group: int) -> Collective | None:
        """All-reduce over `group` GPUs of one node; None when there is no data for that group size."""
        return self._allreduce.get(int(group))

    def alltoall(self, group: int) -> Collective | None:
        """All-to-all over `group` GPUs of one node; None when there is no data for that group size."""
        return self._alltoall.get(int(group))

    def alpha_by_analogy(self, kind: str, group: int) -> float | None:
        """A card without collective tables: the measured latency α of a `kind` collective over
        `group` GPUs on its family reference's NVLink, which the link model adds to its own
        bandwidth term; None with tables, or without a reference measured over NVLink."""
        return self._alpha_by_analogy.get(kind, {}).get(int(group))

    def _curve(self, table: dict[str, GemmCurve], precision: str) -> GemmCurve:
        try:
            return table[precision]
        except KeyError:
            raise BadInput(f"unknown precision {precision!r} for kernel curves of {self.gpu}; "
                           f"known: {', '.join(PRECISIONS)}") from None


_CACHE: dict[str, GpuKernels] = {}


def kernels_for(gpu: GPU) -> GpuKernels:
    """Kernel curves and collectives of `gpu` (cached per GPU id), with the fallback applied said in `basis`."""
    got = _CACHE.get(gpu.id)
    if got is None:
        got = _CACHE[gpu.id] = build_kernels(gpu, load_kernel_catalog(), load_gpus())
    return got


def same_nvlink_generation(gpu: GPU, ref: GPU | None) -> bool:
    """Whether `gpu`'s scale-up link is `ref`'s NVLink generation, at any rate per direction (the
    H800: NVLink 4 with 8 links where the H100 and H200 have 18): the same switch and kernels, so
    the measured latency holds and the bandwidth scales with the rate (`build_kernels`). PCIe, xGMI
    and HCCS links never count: their topology differs between servers."""
    return (ref is not None and gpu.scale_up.kind.startswith("nvlink") and gpu.scale_up.kind == ref.scale_up.kind)


# ---------------------------------------------------------------------------- resolution
def _has(gpu: GPU, precision: str) -> bool:
    return precision in gpu.dense_flops


def _choice(kind: str, precision: str, gpu: GPU, data: MeasuredGpu) -> tuple[str, str, str]:
    """(curve key, peak precision, note) for weights in `precision` on `gpu`, using `data`'s curves."""
    curves = data.gemm if kind == "gemm" else data.moe
    if precision in ("bf16", "fp16"):
        return "bf16", "bf16", ""
    if precision in ("fp8", "int8"):
        keys = ["fp8_block", "fp8"] if kind == "moe" else ["fp8"]
        key = next((k for k in keys if k in curves), None)
        units = _has(gpu, precision) or (precision == "int8" and _has(gpu, "fp8"))
        if units and key is not None:
            peak = "int8" if precision == "int8" and _has(gpu, "int8") else "fp8"
            return key, peak, "" if precision == "fp8" else f"; int8 weights use the {key} curve"
        why = f"no {precision} units on {gpu.id}" if not units else f"no fp8 {kind} curve in the data"
        return "bf16", "bf16", f"; {why}: bf16 curve with peak bf16 (weight-only {precision}, W8A16)"
    if _has(gpu, "fp4") and "fp4" in curves:
        return "fp4", "fp4", ""
    why = f"no fp4 units on {gpu.id}" if not _has(gpu, "fp4") else f"no fp4 {kind} curve in the data"
    return "bf16", "bf16", f"; {why}: bf16 curve with peak bf16 (weight-only FP4, W4A16, as Hopper runs MXFP4)"


def _ridge_ratio(gpu: GPU, peak: str, data: MeasuredGpu, data_peak: str) -> float:
    """(F/B) of `gpu` at `peak` over (F/B) of the measured card at `data_peak`."""
    ridge_gpu = gpu.flops(peak) / gpu.memory_bandwidth_bytes_per_s
    ridge_ref = data.peak_tflops[data_peak] * 1e12 / (data.memory_bandwidth_TBps * 1e12)
    return ridge_gpu / ridge_ref


def _curve(kind: str, precision: str, gpu: GPU, ref: str, data: MeasuredGpu, measured: bool) -> GemmCurve:
    key, peak, note = _choice(kind, precision, gpu, data)
    e = (data.gemm if kind == "gemm" else data.moe)[key]
    data_peak = CURVE_PEAK[key]
    eta_max, m_half = e.eta_max, e.m_half
    if measured:
        f_fit, f_card = data.peak_tflops[data_peak] * 1e12, gpu.flops(peak)
        if abs(f_card / f_fit - 1.0) > 1e-3:
            eta_max *= f_fit / f_card
            note += f"; eta_max ×{f_fit / f_card:.3f}: the catalog {peak} peak differs from the fitted one"
        where = f"measured ({ref})"
    else:
        scale = _ridge_ratio(gpu, peak, data, data_peak)
        m_half *= scale
        note += f"; m_half scaled ×{scale:.2f} by ridge point ({peak} on {gpu.id} vs {data_peak} on {ref})"
        where = f"{ref} curve"
    basis = f"{where}: {kind} {key} ({e.selection}; {e.file}){note}"
    return GemmCurve(eta_max=eta_max, m_half=m_half, t0_s=e.t0_us * 1e-6, peak_precision=peak,
                     err_median=e.err_median, err_p90=e.err_p90, basis=basis)


def _collectives(entry: CollectiveEntry | None, ref: str, link_ratio: float = 1.0) -> dict[int, Collective]:
    """The measured collectives of `ref` by group size; `link_ratio` (a card of the same NVLink
    generation with fewer links: its rate per direction over `ref`'s) scales the bandwidth and
    keeps the latency α(g), which is the kernel's and the switch's, not the links' count."""
    if entry is None:
        return {}
    scaled = f", bandwidth ×{link_ratio:.2f} by the link rate" if link_ratio != 1.0 else ""
    return {g: Collective(alpha_s=v.alpha_us * 1e-6, bytes_per_s=v.bw_GBps * 1e9 * link_ratio,
                          basis=f"measured ({ref}): {entry.kernel}, {g} GPUs, err p90 {v.err_p90:.0%} "
                                f"({entry.file}){scaled}")
            for g, v in entry.groups.items()}


def build_kernels(gpu: GPU, cat: KernelCatalog, catalog_gpus: dict[str, GPU] | None = None) -> GpuKernels:
    """GpuKernels of `gpu` from a validated catalog (kernels_for caches this). `catalog_gpus`: the
    GPU catalog, to compare a card's link with its family reference's (None: never shared)."""
    family = cat.family_of(gpu.id)
    measured = gpu.id in cat.gpus
    if measured:
        ref = gpu.id
    elif family is not None:
        fam = cat.families[family]
        ref = fam.member_references.get(gpu.id, fam.reference)
    else:
        ref = cat.unknown_family_reference
    data = cat.gpus[ref]
    ref_family = cat.family_of(ref) or ref
    if measured:
        basis = f"measured ({gpu.id})"
    else:
        scale = f"m_half scaled ×{_ridge_ratio(gpu, 'bf16', data, 'bf16'):.2f} by ridge point"
        if family is None:
            basis = f"unknown family: {ref_family} curves by analogy ({ref} data), {scale}"
            family = "unknown"
        elif cat.families[family].by_analogy:
            basis = f"{ref} curves by analogy (no kernel data for {cat.families[family].name}), {scale}"
        else:
            basis = f"{ref} curves ({family} family; no kernel data for {gpu.id}), {scale}"
    gemm = {p: _curve("gemm", p, gpu, ref, data, measured) for p in PRECISIONS}
    moe = {p: _curve("moe", p, gpu, ref, data, measured) for p in PRECISIONS}
    ref_gpu = (catalog_gpus or {}).get(ref)
    shared = (not measured and family in cat.families and not cat.families[family].by_analogy
              and same_nvlink_generation(gpu, ref_gpu))
    link_ratio = gpu.scale_up_bytes_per_s / ref_gpu.scale_up_bytes_per_s if shared else 1.0
    if shared and link_ratio == 1.0:
        basis += f"; collectives: {ref} tables (the same {gpu.scale_up.kind} link)"
    elif shared:
        basis += (f"; collectives: {ref} tables, bandwidth ×{link_ratio:.2f} (the same {gpu.scale_up.kind} "
                  f"generation with fewer links: the latency stays, the bandwidth goes with the link rate)")
    # tables measured over PCIe hold the measuring host's topology (the L40S host had no peer-to-peer:
    # ~1 GB/s at 8 GPUs, six times slower than the RTX 4090's nominal link): PCIe cards take the link model
    host_specific = measured and not gpu.scale_up.kind.startswith("nvlink")
    if host_specific:
        basis += "; collectives: the PCIe link model (the measured tables are the measuring host's)"
    with_tables = (measured and not host_specific) or shared
    analogy: dict[str, dict[int, float]] = {}
    if not with_tables and ref_gpu is not None and ref_gpu.scale_up.kind.startswith("nvlink"):
        # a collective's per-call latency is the kernel's launch and synchronisation, which the link
        # model has none of: without it an MI300X or PCIe all-reduce of a decode step cost 5 µs where
        # the measured NVLink cards pay 9–11 µs, so those cards decoded faster than the tables allow
        analogy = {kind: {g: v.alpha_us * 1e-6 for g, v in entry.groups.items()}
                   for kind, entry in (("allreduce", data.all_reduce), ("alltoall", data.all_to_all)) if entry}
        if analogy:
            basis += f"; collectives: the link model plus {ref}'s measured latency α(g), by analogy"
    return GpuKernels(gpu=gpu.id, family=family, basis=basis, _gemm=gemm, _moe=moe,
                      _allreduce=_collectives(data.all_reduce, ref, link_ratio) if with_tables else {},
                      _alltoall=_collectives(data.all_to_all, ref, link_ratio) if with_tables else {},
                      _alpha_by_analogy=analogy)
