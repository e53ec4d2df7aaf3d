"""Calibration profiles: the named efficiency and latency parameters of the analytic model
(catalogs/calibration/NAME.yaml, each value with its source), overrides, and loading by name.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from planner.catalog.cache import cached_load
from planner.errors import BadInput, suggest
from planner.input.files import read_yaml, validate
from planner.input.load import other_kind
from planner.input.schema import Strict
from planner.input.values import Name
from planner.input.yamltext import is_yaml_name

CALIBRATION_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "calibration"


class CalibParam(Strict):
    value: float
    source: str = Field(min_length=3)
    note: str | None = None


def _default(value: float, source: str) -> CalibParam:
    """A field's default CalibParam, built without validation (`model_construct`; the same object
    `CalibParam(...)` makes from these values): validating one at import built CalibParam's
    validator in every `plan solve`, whose profiles come validated from the catalog cache."""
    return CalibParam.model_construct(value=value, source=source)


BAND_PERCENTILES = (5, 10, 25, 50, 75, 90, 95)   # quantiles kept of a profile's error


class ErrorBand(Strict):
    """How far a profile's predictions are off, cross-validated on the measurements it was fitted
    to (docs/model.md): percentiles of r = log(predicted / measured), for decode tokens/s per GPU
    (so a pool's real TPOT is the predicted × e^r) and for TTFT (real TTFT = predicted × e^−r)."""

    source: str = Field(min_length=3)
    as_of: str
    decode: dict[int, float]
    ttft: dict[int, float]
    # GPU types (catalog ids) of the runs the band was measured on; None: not recorded (a profile
    # written before 2026-12-06). A plan on other GPUs is told the band is no bound there.
    gpus: tuple[str, ...] | None = Field(None, min_length=1)   # a band is measured on some runs

    @field_validator("decode", "ttft")
    @classmethod
    def _all_percentiles(cls, v: dict[int, float]) -> dict[int, float]:
        if sorted(v) != list(BAND_PERCENTILES):
            raise ValueError(f"give the percentiles {', '.join(map(str, BAND_PERCENTILES))}")
        xs = [v[p] for p in BAND_PERCENTILES]
        if any(b < a for a, b in zip(xs, xs[1:])) or not all(-10 < x < 10 for x in xs):
            raise ValueError("percentiles must rise, each a log ratio between −10 and 10")
        return v

    def at(self, quantity: str, percent: float) -> float:
        """The `percent`-th percentile of r for 'decode' or 'ttft', interpolated linearly between
        the kept ones (and held at the ends beyond p5 and p95)."""
        q = getattr(self, quantity)
        ps = BAND_PERCENTILES
        if percent <= ps[0]:
            return q[ps[0]]
        for a, b in zip(ps, ps[1:]):
            if percent <= b:
                return q[a] + (q[b] - q[a]) * (percent - a) / (b - a)
        return q[ps[-1]]

    def tpot_factor(self, percent: float) -> float:
        """Real TPOT ÷ predicted at that percentile of the error: e^{r_decode(p)}."""
        return math.exp(self.at("decode", percent))

    def ttft_factor(self, percent: float) -> float:
        """Real TTFT ÷ predicted at that percentile: e^{−r_ttft(100 − p)} (a TTFT under-predicted
        is a high one)."""
        return math.exp(-self.at("ttft", 100.0 - percent))


MAX_OVERHEAD_S = 3600.0   # no fixed time of a pass, collective or request is an hour


_TIME = (0.0, MAX_OVERHEAD_S, "a time in seconds")
# (lowest, highest, what it is) of each scalar parameter
DOMAINS: dict[str, tuple[float, float, str]] = {
    **dict.fromkeys(("compute_efficiency", "memory_efficiency", "network_efficiency", "memory_usable_fraction"),
                    (1e-3, 1.0, "a fraction of the peak")),
    "gemm_efficiency_scale": (0.01, 3.0, "a factor on the kernel tables' speed (η·κ capped at 1)"),
    "kv_bandwidth_scale": (0.01, 10.0, "a factor on the KV read bandwidth (never above the nominal)"),
    # from 0.25: a step a hundredth of the fitted one (0.01) planned a TPOT of 73 µs where reading the
    # weights alone takes 4.8 ms; the error bands' p10 factors, which --band plans with, are 0.6–0.8
    **dict.fromkeys(("decode_time_scale", "prefill_time_scale"), (0.25, 100.0, "a factor on step times")),
    "comm_overlap": (0.0, 1.0, "a fraction"),
    **dict.fromkeys(("collective_latency_intra_s", "collective_latency_inter_s", "layer_overhead_s",
                     "moe_layer_overhead_s", "step_overhead_s", "sequence_overhead_s", "request_overhead_s",
                     "prefill_layer_overhead_s", "prefill_moe_layer_overhead_s", "prompt_overhead_s"), _TIME),
    "moe_imbalance": (1.0, 1000.0, "the busiest rank's load over the mean"),
    "decode_tokens_per_step": (1.0, 64.0, "accepted tokens per decode step"),
    "benchmark_requests_per_client": (1.0, 1e6, "requests per benchmark client"),
}


class Calibration(Strict):
    """Named efficiency and latency parameters of the analytic model (docs/model.md)."""

    name: Name   # printed in every plan's header and written into plan files: one line
    description: str
    compute_efficiency: CalibParam
    memory_efficiency: CalibParam
    network_efficiency: CalibParam
    collective_latency_intra_s: CalibParam
    collective_latency_inter_s: CalibParam
    layer_overhead_s: CalibParam
    moe_layer_overhead_s: CalibParam
    step_overhead_s: CalibParam
    # the KV cache is read at memory_efficiency × this, at most the nominal bandwidth (attention
    # kernels stream paged KV blocks, not the long weight tensors memory_efficiency is fitted on)
    kv_bandwidth_scale: CalibParam = _default(value=1.0, source="none assumed (fitted by plan calibrate)")
    # host time per sequence a scheduler handles in a step (scheduling, sampling, detokenising)
    sequence_overhead_s: CalibParam = _default(value=0.0, source="none assumed (fitted by plan calibrate)")
    # a pass that carries prefill tokens runs eagerly (engines capture only decode-only steps in CUDA
    # graphs): extra host/launch time per layer and per MoE layer of such a pass
    prefill_layer_overhead_s: CalibParam = _default(value=0.0, source="none assumed (fitted by plan calibrate)")
    prefill_moe_layer_overhead_s: CalibParam = _default(value=0.0, source="none assumed (fitted by plan calibrate)")
    # host time per prompt (or chunk of one) a pass prefills: admission, block tables, inputs
    prompt_overhead_s: CalibParam = _default(value=0.0, source="none assumed (fitted by plan calibrate)")
    request_overhead_s: CalibParam
    moe_imbalance: CalibParam
    gemm_efficiency_scale: CalibParam
    comm_overlap: CalibParam
    memory_usable_fraction: CalibParam
    decode_tokens_per_step: CalibParam
    # describes the measured benchmarks, not the engine: requests each closed-loop client sent
    # (the first wave of simultaneous prompts weighs 1/k of a point's mean TTFT); plans never use it
    benchmark_requests_per_client: CalibParam = _default(value=10.0, source="assumed; fitted by plan calibrate")
    # fixed TTFT per architecture family (HF model_type): replaces request_overhead_s for it
    request_overhead_by_family_s: dict[str, CalibParam] = {}
    # slo.confidence (never fitted): decode steps and prefill passes (with the fixed TTFT) run this
    # many times slower, the model's error at that confidence (ErrorBand)
    decode_time_scale: CalibParam = _default(value=1.0, source="none: the point estimate")
    prefill_time_scale: CalibParam = _default(value=1.0, source="none: the point estimate")
    error_band: ErrorBand | None = None
    # GEMMs at the kernel tables' efficiency curve η(M)·gemm_efficiency_scale (catalogs/kernels.yaml);
    # false: at compute_efficiency whatever their shape (the roofline profile)
    kernel_curves: StrictBool = True

    # every parameter's domain (DOMAINS): finite and physically meaningful, so that an override or
    # a profile written by hand cannot make a time negative, zero or infinite (an efficiency of
    # 5e-324 made every pass take longer than a float holds). The fit's bounds (fidelity.fit) lie inside.
    @field_validator(*DOMAINS)
    @classmethod
    def _in_domain(cls, v: CalibParam, info: ValidationInfo) -> CalibParam:
        lo, hi, what = DOMAINS[info.field_name]
        if not (math.isfinite(v.value) and lo <= v.value <= hi):
            raise ValueError(f"must be {what}: in [{lo:g}, {hi:g}], got {v.value}")
        return v

    @field_validator("request_overhead_by_family_s")
    @classmethod
    def _nonneg_each(cls, v: dict[str, CalibParam]) -> dict[str, CalibParam]:
        lo, hi, what = _TIME   # each family's value is a request_overhead_s
        bad = [f"{k} = {p.value}" for k, p in v.items() if not lo <= p.value <= hi]
        if bad:
            raise ValueError(f"must be {what} in [{lo:g}, {hi:g}], got {', '.join(bad)}")
        return v

    def with_overrides(self, overrides: dict[str, float]) -> Calibration:
        """A copy with some parameter values replaced (problem-level overrides). Overriding
        request_overhead_s sets the fixed TTFT of every model (the per-family table is dropped)."""
        unknown = [k for k in overrides if k not in SCALAR_PARAMS]
        if unknown:
            raise BadInput("unknown calibration parameter(s): " + ", ".join(unknown) + "."
                           + suggest(unknown[0], list(SCALAR_PARAMS)))
        data = self.model_dump()
        if "request_overhead_s" in overrides:
            data["request_overhead_by_family_s"] = {}
        for k, v in overrides.items():
            data[k] = {"value": float(v), "source": "problem override"}
        data["name"] = self.name + "+overrides"
        try:
            return validate(Calibration, data, "calibration overrides")
        except BadInput as e:   # the caller names the file and its field (calibration_overrides) once
            raise BadInput("\n".join(line.removeprefix("calibration overrides: ")
                                     for line in str(e).splitlines())) from None

    def v(self, name: str) -> float:
        """Value of parameter `name`."""
        return getattr(self, name).value

    def scalar_values(self) -> tuple[float, ...]:
        """Every scalar parameter's value in `SCALAR_PARAMS` order: what results derived from the
        profile depend on (a cache key by value, `physics.terms`)."""
        return tuple(getattr(self, n).value for n in SCALAR_PARAMS)

    def request_overhead_for(self, family: str) -> tuple[float, bool]:
        """(fixed TTFT of a model of architecture `family`, whether it is the family's own
        fitted value rather than the shared request_overhead_s)."""
        own = self.request_overhead_by_family_s.get(family)
        return (own.value, True) if own is not None else (self.request_overhead_s.value, False)

    def fixed_ttft_dict(self, family: str) -> dict[str, float | str]:
        """JSON keys fixed_ttft_s and fixed_ttft_basis ('<family> fit' or 'shared') of a model family:
        the fixed TTFT the plan uses (× prefill_time_scale under slo.confidence, as
        perf.request_overhead_s charges it)."""
        value, own = self.request_overhead_for(family)
        return {"fixed_ttft_s": value * self.v("prefill_time_scale"),
                "fixed_ttft_basis": f"{family} fit" if own else "shared"}


# the scalar parameters of a profile (what a problem may override)
SCALAR_PARAMS: tuple[str, ...] = tuple(k for k, f in Calibration.model_fields.items()
                                       if f.annotation is CalibParam)


def profile_dirs() -> list[Path]:
    """Where a profile name is looked up, in order: the shipped profiles, then
    catalogs/calibration/ in the working directory, where `plan calibrate --out
    catalogs/calibration/NAME.yaml` puts a user's own (a shipped name is never shadowed)."""
    dirs = [CALIBRATION_DIR]
    here = Path.cwd() / "catalogs" / "calibration"
    if here.is_dir() and here.resolve() != CALIBRATION_DIR:
        dirs.append(here)
    return dirs


def load_calibration(name_or_path: str = "default") -> Calibration:
    """Calibration profile by name (NAME.yaml in `profile_dirs()`) or by path to a YAML file."""
    p = Path(name_or_path)
    if (p.suffix or "/" in name_or_path) and not is_yaml_name(p) and p.exists():
        # not "unknown profile 'x.json'" (or '/etc/passwd', '/dev/null': a path that exists)
        raise BadInput(f"{name_or_path}: a calibration profile is a .yaml file (written by plan calibrate)")
    found = profile_file(name_or_path)
    if found is None and "/" not in name_or_path:   # 'unknown profile ff; available: ff' of a pipe ff.yaml
        odd = next((q for d in profile_dirs() if (q := d / f"{name_or_path}.yaml").exists() or q.is_symlink()), None)
        if odd is not None and not odd.exists():   # a link in a loop, or to nothing: 'unknown profile' said
            raise BadInput(f"{odd}: a symbolic link that leads to no file (to a missing path, or round a loop "
                           f"of links); a calibration profile is a YAML file written by plan calibrate")
        if odd is not None:
            raise BadInput(f"{odd}: not a regular file (a directory, pipe or device); a calibration profile "
                           f"is a YAML file written by plan calibrate")
    if found is None and (is_yaml_name(p) or "/" in name_or_path):   # a path: a name has neither
        raise BadInput(f"{name_or_path}: file not found (from {os.getcwd()}); a calibration profile is named "
                       f"by its name or by the path of its .yaml file")
    if found is None:
        names = sorted({q.stem for d in profile_dirs() for q in d.glob("*.yaml") if q.is_file()})
        raise BadInput(f"unknown calibration profile {name_or_path!r}; available: "
                       + ", ".join(names) + " (shipped, and catalogs/calibration/ in the working directory)."
                       + suggest(name_or_path, names))
    calib = _load_calibration_file(str(found))
    if found.stem == name_or_path and calib.name != name_or_path:   # by name: the file's stem and its name: agree
        # the problem said `calibration: mine` and every plan printed the inner name, which no problem could name
        raise BadInput(f"{found}: name: {calib.name!r} differs from the file's name {found.stem!r}; problems name "
                       f"a profile by its file (calibration: {found.stem}) and plans print its name: write "
                       f"name: {found.stem}, or rename the file to {calib.name}.yaml")
    return calib


def profile_file(name_or_path: str) -> Path | None:
    """The file `load_calibration` reads for a name or path, or None when there is none: a path
    to a .yaml that exists, else NAME.yaml in the first of `profile_dirs()` that has it (what an
    output must never overwrite, whichever way the problem named it)."""
    p = Path(name_or_path)
    if is_yaml_name(p) and p.exists():   # any case: a profile.YAML was 'not a .yaml file'
        return p
    if "/" in name_or_path:
        return None
    return next((d / f"{name_or_path}.yaml" for d in profile_dirs() if (d / f"{name_or_path}.yaml").is_file()), None)


@functools.lru_cache(maxsize=16)
def _load_calibration_file(path: str) -> Calibration:
    return cached_load(path, "calibration", lambda: validate(Calibration, _profile_data(path), path))


def is_profile_data(data: object) -> bool:
    """Whether YAML data reads as a calibration profile: a mapping with its parameters."""
    return isinstance(data, dict) and "compute_efficiency" in data


def _profile_data(path: str) -> object:
    """The YAML of a calibration profile; a file of another kind (a problem file, say) is one
    message, not a line per missing parameter."""
    data = read_yaml(path)
    if isinstance(data, dict) and not is_profile_data(data):   # a measurements file listed 17 lines of keys
        kind = other_kind(data) or ("a problem file" if {"model", "workload", "classes"} & set(data) else None)
        if kind is not None:
            raise BadInput(f"{path}: not a calibration profile (it reads as {kind}); give a profile "
                           f"name ({', '.join(sorted(q.stem for q in CALIBRATION_DIR.glob('*.yaml')))}) or a "
                           f"file written by plan calibrate")
    return data
