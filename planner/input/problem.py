"""The problem a user writes (YAML), validated strictly, and its resolution against the catalogs.

Validation does no I/O; `resolve()` looks up the model, GPUs and calibration afterwards.
Units: times accept "50ms", "2s"; power "2MW", "500kW"; everything is SI after parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from planner.catalog.schemas import (GPU, Calibration, Model, Precision, Strict, get_gpu, get_model,
                             load_calibration, load_gpus)
from planner.errors import BadInput
from planner.input.units import UnitError, parse_quantity
from planner.input.files import read_yaml, validate


def _quantity(dim):
    def parse(v: Any) -> float:
        try:
            return parse_quantity(v, dim)
        except UnitError as e:
            raise ValueError(str(e)) from None
    return BeforeValidator(parse)


def _percent(v: Any) -> float:
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return float(v.strip()[:-1])
        except ValueError:
            raise ValueError(f"cannot read {v!r} as a percentage; write it like 56.3 or \"56.3%\"") from None
    return v


Seconds = Annotated[float, _quantity("time"), Field(gt=0, allow_inf_nan=False)]
Watts = Annotated[float, _quantity("power"), Field(gt=0, allow_inf_nan=False)]
Percent = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=100)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Statistic = Literal["mean", "p50", "p90", "p95", "p99"]


class LengthDist(Strict):
    """A small discrete distribution of token lengths: values with weights (normalised)."""

    values: list[Annotated[int, Field(ge=1, le=10_000_000)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(gt=0)]] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> "LengthDist":
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"weights has {len(self.weights)} entries but values has {len(self.values)}")
        return self

    def pairs(self) -> list[tuple[float, float]]:
        """(length, probability) pairs."""
        w = self.weights or [1.0] * len(self.values)
        s = sum(w)
        return [(float(v), x / s) for v, x in zip(self.values, w)]


Length = Annotated[int, Field(ge=1, le=10_000_000)] | LengthDist


class Workload(Strict):
    qps: Positive = Field(description="target requests per second")
    input_tokens: Length
    output_tokens: Length
    prefix_cache_hit_percent: Percent = 0.0


class SLO(Strict):
    ttft: Seconds
    tpot: Seconds
    ttft_statistic: Statistic = "mean"
    tpot_statistic: Statistic = "mean"


class GPUChoice(Strict):
    """A GPU type the plan may use, with optional price override, caps and owned inventory."""

    id: str
    price_rmb_per_gpu_hour: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    max_cards: Annotated[int, Field(ge=0)] | None = None
    max_nodes: Annotated[int, Field(ge=0)] | None = None
    owned_nodes: Annotated[int, Field(ge=0)] = 0
    owned_cost_rmb_per_gpu_hour: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, v: Any) -> Any:
        return {"id": v} if isinstance(v, str) else v


Mode = Literal["disaggregated", "colocated"]


class ParallelismOptions(Strict):
    """Allowed degrees; omitted lists mean 'any that fits' (auto)."""

    tp: list[Annotated[int, Field(ge=1)]] | None = None
    pp: list[Annotated[int, Field(ge=1)]] | None = None
    dp: list[Annotated[int, Field(ge=1)]] | None = None
    max_cards_per_instance: Annotated[int, Field(ge=1, le=4096)] = 64


class Serving(Strict):
    modes: list[Mode] = Field(default_factory=lambda: ["disaggregated", "colocated"], min_length=1)
    parallelism: Literal["auto"] | ParallelismOptions = "auto"
    max_utilization_percent: Annotated[float, Field(gt=0, lt=100)] = 95.0
    max_decode_utilization_percent: Annotated[float, Field(gt=0, le=100)] = 100.0
    max_prefill_tokens_per_pass: Annotated[int, Field(ge=1)] = 16384

    def options(self) -> ParallelismOptions:
        return self.parallelism if isinstance(self.parallelism, ParallelismOptions) else ParallelismOptions()


class Limits(Strict):
    power: Watts | None = None
    budget_rmb_per_hour: Positive | None = None


class Pricing(Strict):
    currency: Literal["RMB"] = "RMB"
    sell_per_million_input_tokens: Annotated[float, Field(ge=0)] = 0.0
    sell_per_million_output_tokens: Annotated[float, Field(ge=0)] | None = None


class SolverOptions(Strict):
    name: Literal["highs", "cbc"] = "highs"
    time_limit: Seconds = 30.0
    mip_gap: Annotated[float, Field(ge=0, le=1)] = 1e-4


class Precisions(Strict):
    weights: Precision | None = None  # default: the model's published checkpoint precision
    kv: Precision = "bf16"


class PlanSettings(Strict):
    """What a single-workload problem and a fleet share: GPU choices, serving options, limits,
    prices, solver and calibration."""

    name: str = "problem"
    description: str = ""
    gpus: list[GPUChoice] = Field(min_length=1)
    serving: Serving = Serving()
    limits: Limits = Limits()
    pricing: Pricing = Pricing()
    solver: SolverOptions = SolverOptions()
    calibration: str = "default"
    calibration_overrides: dict[str, float] = {}

    @field_validator("gpus")
    @classmethod
    def _unique_gpus(cls, v: list[GPUChoice]) -> list[GPUChoice]:
        """A GPU type may be listed once (its caps and prices would otherwise be ambiguous)."""
        seen = set()
        for g in v:
            if g.id.lower() in seen:
                raise ValueError(f"GPU {g.id!r} is listed twice")
            seen.add(g.id.lower())
        return v


class Problem(PlanSettings):
    """A capacity-planning problem: model, workload, SLOs, plus the shared settings."""

    model: str
    precision: Precisions = Precisions()
    workload: Workload
    slo: SLO


def load_problem(path: str | Path) -> Problem:
    """Read and validate a single-workload problem YAML; errors name the file, field path and reason."""
    data = read_yaml(path)
    if isinstance(data, dict) and "classes" in data:
        raise BadInput(f"{path}: classes: this file describes a fleet (several request classes); "
                       f"fleets are solved by `plan solve` — this command takes a single-workload problem")
    return validate(Problem, data, str(path))


def load_any(path: str | Path):
    """A problem file of either kind: a fleet (it lists `classes`) or a single workload."""
    data = read_yaml(path)
    if isinstance(data, dict) and "classes" in data:
        from planner.plan.fleet import FleetProblem
        return validate(FleetProblem, data, str(path))
    return validate(Problem, data, str(path))


# --------------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class GPUOption:
    """A GPU type as this problem sees it: catalog entry plus effective price, caps and inventory."""

    gpu: GPU
    price_per_card_hour: float
    max_cards: int | None
    owned_nodes: int
    owned_cost_per_card_hour: float

    @property
    def id(self) -> str:
        return self.gpu.id


@dataclass(frozen=True)
class ClassLoad:
    """One request class inside a pooled workload (fleets): its own lengths and SLO."""

    name: str
    workload: Workload
    slo: SLO


@dataclass(frozen=True)
class Resolved:
    """A problem joined with its catalogs: everything downstream stages need, SI units.

    `classes` is empty for a single workload; for pools shared by several request classes
    (fleets) `problem.workload` is their mixture, `problem.slo` the strictest limits, and
    `classes` keeps each class so that TTFT and decode context are computed per class.
    """

    problem: Problem
    model: Model
    gpus: tuple[GPUOption, ...]
    calib: Calibration
    weight_dtype: str
    kv_dtype: str
    source: str
    classes: tuple[ClassLoad, ...] = ()

    def option(self, gpu_id: str) -> GPUOption:
        """The problem's option for GPU type `gpu_id` (candidates only carry the id)."""
        return next(o for o in self.gpus if o.id == gpu_id)

    @property
    def qps(self) -> float:
        return self.problem.workload.qps

    @property
    def input_dist(self) -> list[tuple[float, float]]:
        return _dist(self.problem.workload.input_tokens)

    @property
    def output_dist(self) -> list[tuple[float, float]]:
        return _dist(self.problem.workload.output_tokens)

    @property
    def input_mean(self) -> float:
        return sum(v * p for v, p in self.input_dist)

    @property
    def output_mean(self) -> float:
        return sum(v * p for v, p in self.output_dist)

    @property
    def hit(self) -> float:
        return self.problem.workload.prefix_cache_hit_percent / 100.0

    @property
    def uncached_mean(self) -> float:
        return self.input_mean * (1.0 - self.hit)

    @property
    def decode_context_mean(self) -> float:
        """Mean context of a sequence in a decode batch (see `decode_context`)."""
        if not self.classes:
            return self.input_mean + self.output_mean / 2.0
        return decode_context([(k.workload.qps, _mean(k.workload.input_tokens), _mean(k.workload.output_tokens))
                               for k in self.classes])


def _dist(x: int | LengthDist) -> list[tuple[float, float]]:
    return [(float(x), 1.0)] if isinstance(x, int) else x.pairs()


def _mean(x: int | LengthDist) -> float:
    return sum(v * p for v, p in _dist(x))


def decode_context(classes: list[tuple[float, float, float]]) -> float:
    """Mean context in a decode batch shared by classes (qps, mean s_in, mean s_out): s_in + s_out/2
    weighted by the output tokens each spends in the batch, Σ q·s_out·(s_in + s_out/2) / Σ q·s_out."""
    return (sum(q * s_out * (s_in + s_out / 2.0) for q, s_in, s_out in classes)
            / sum(q * s_out for q, _, s_out in classes))


def resolve(problem: Problem, source: str = "problem") -> Resolved:
    """Look up model, GPUs and calibration; check cross-field consistency (caps vs inventory)."""
    model = _in(source, "model", lambda: get_model(problem.model))
    catalog = load_gpus()
    options = []
    for i, choice in enumerate(problem.gpus):
        gpu = _in(source, f"gpus[{i}].id", lambda: get_gpu(choice.id, catalog))
        cap = choice.max_cards
        if choice.max_nodes is not None:
            node_cap = choice.max_nodes * gpu.node_cards
            cap = node_cap if cap is None else min(cap, node_cap)
        if cap is not None and choice.owned_nodes * gpu.node_cards > cap:
            raise BadInput(f"{source}: gpus[{i}].owned_nodes: owned inventory of {choice.owned_nodes} node(s) "
                           f"({choice.owned_nodes * gpu.node_cards} cards) exceeds the availability cap "
                           f"of {cap} cards; raise max_cards/max_nodes or lower owned_nodes")
        price = gpu.price_per_card_hour if choice.price_rmb_per_gpu_hour is None else choice.price_rmb_per_gpu_hour
        options.append(GPUOption(gpu, price, cap, choice.owned_nodes, choice.owned_cost_rmb_per_gpu_hour))
    calib = _in(source, "calibration", lambda: load_calibration(problem.calibration))
    if problem.calibration_overrides:
        calib = _in(source, "calibration_overrides",
                    lambda: calib.with_overrides(problem.calibration_overrides))
    weights = problem.precision.weights or model.weight_dtype
    return Resolved(problem, model, tuple(options), calib, weights, problem.precision.kv, source)


def _in(source: str, field: str, fn):
    """Run a catalog look-up, prefixing any BadInput with the file and field it came from."""
    try:
        return fn()
    except BadInput as e:
        raise BadInput("\n".join(f"{source}: {field}: {line}" for line in str(e).splitlines())) from None
