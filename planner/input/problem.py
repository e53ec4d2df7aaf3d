"""The problem a user writes (YAML), validated strictly: model, workload, SLOs and settings.

Validation does no I/O and no catalog look-up (`planner.plan.resolve` does that afterwards).
Units: times accept "50ms", "2s"; power "2MW", "500kW"; everything is SI after parsing.
Percentages are written as percent and read back as fractions through properties
(`Workload.prefix_cache_hit`, `Serving.max_utilization`): the one place that converts.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from planner.input.currency import RMB_CODES, Currency
from planner.input.schema import Precision, Strict
from planner.input.speculative import MTP_ACCEPTANCE, Speculative  # noqa: F401  (importable from here)
from planner.input.trace import TraceLoad
from planner.input.values import (
    MAX_QPS,
    PROFILE_PERIODS,
    BelowAll,
    Budget,
    Ceiling,
    Confidence,
    ExchangeRate,
    Length,
    LengthDist,
    Name,
    NonNegative,
    Percent,
    Period,
    Price,
    Rate,
    Seconds,
    SellPrice,
    Statistic,
    Title,
    Watts,
    once,
    percent,
    quantity,
    spot_confidence_needs_spot,
)


class Profile(Strict):
    """Load over a horizon (docs/horizon.md): one QPS per period, given as requests/s (`qps`) or
    as fractions of `workload.qps` (`qps_fraction`); 24 periods (a day) or 168 (a week)."""

    period: Period = Field(3600.0, description="length of one period (default 1h)")
    qps: list[NonNegative] | None = Field(None, description="requests/s in each period")
    qps_fraction: list[NonNegative] | None = Field(
        None, description="each period's QPS as a fraction of workload.qps (1 = workload.qps)")
    input_tokens: list[Length] | None = Field(
        None, description="each period's prompt length (a number or {values, weights}); default workload.input_tokens")
    output_tokens: list[Length] | None = Field(
        None, description="each period's output length; default workload.output_tokens")

    @field_validator("qps", "qps_fraction")
    @classmethod
    def _period_count(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and len(v) not in PROFILE_PERIODS:
            raise ValueError(f"{len(v)} values; a profile has 24 (a day) or 168 (a week) periods")
        if v is not None and max(v) <= 0:
            raise ValueError("every period has zero QPS; at least one period needs load")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Profile:
        if (self.qps is None) == (self.qps_fraction is None):
            raise ValueError("give the QPS of every period as exactly one of qps (requests/s) "
                             "or qps_fraction (of workload.qps)")
        n = len(self.qps if self.qps is not None else self.qps_fraction or [])
        for key in ("input_tokens", "output_tokens"):
            v = getattr(self, key)
            if v is not None and len(v) != n:
                raise ValueError(f"{key}: {len(v)} values; the profile has {n} periods")
        return self


class TraceSpec(Strict):
    """A request-level trace read into the profile when the problem is loaded (input/trace.py):
    the file (relative to the problem file), the period length, a rate multiplier, and whether to
    fold a longer trace onto one day or week."""

    file: str = Field(min_length=1, description="CSV: TIMESTAMP,ContextTokens,GeneratedTokens (Azure) "
                                                "or timestamp,input_tokens,output_tokens")
    period: Period = Field(3600.0, description="length of one period (default 1h)")
    scale: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = Field(
        1.0, description="multiply the trace's request rate (a sample replayed at production scale)")
    fold: Literal["none", "day", "week"] = Field(
        "none", description="none: consecutive periods; day/week: every day/week of the trace laid on one")
    lengths: Literal["period", "horizon"] = Field(
        "period", description="period: each period plans with its own requests' length distribution; "
                              "horizon: one distribution of the whole trace")


def _as_number(x: Any) -> float | None:
    """x as the profile's number fields read it (a numeric string too: YAML 1.1 reads `1e8` as
    text), or None when it is none (a boolean, NaN, a word)."""
    if isinstance(x, bool):
        return None
    try:
        f = float(x) if isinstance(x, int | float | str) else None
    except ValueError:
        return None
    return f if f is not None and math.isfinite(f) else None


class Workload(Strict):
    qps: Rate = Field(description="target requests per second")
    input_tokens: Length
    output_tokens: Length
    prefix_cache_hit_percent: Percent = 0.0
    profile: Profile | None = Field(None, description="load per period; plan solve then plans the horizon")
    trace: TraceSpec | None = Field(
        None, description="request-level trace binned into the profile (sets profile; qps, input_tokens and "
                          "output_tokens default to its peak and its length distributions)")
    _trace_load: TraceLoad | None = PrivateAttr(None)   # what the loader read from `trace`

    @model_validator(mode="before")
    @classmethod
    def _qps_from_profile(cls, v: Any) -> Any:
        """With a profile in requests/s (`profile.qps`) `qps` may be left out: it is the busiest
        period's (a written one that differs is noted by the loader: it is not planned for)."""
        if isinstance(v, dict) and "qps" not in v and isinstance(v.get("profile"), dict):
            q = v["profile"].get("qps")
            nums = [_as_number(x) for x in q] if isinstance(q, list) else []
            if nums and None not in nums and max(nums) > 0:   # numbers as the profile reads them ("3", 1e8)
                return {**v, "qps": max(nums)}
        return v

    @model_validator(mode="after")
    def _profile_in_domain(self) -> Workload:
        """qps × qps_fraction is held to 10⁹ req/s (10¹⁰ was planned as infeasible), a period with load
        to 1e-15 as a single QPS (1e-300 planned an idle hour); a trace is read in by the loader."""
        qps = self.period_qps() if self.profile is not None else []
        if (top := max(qps, default=0.0)) > MAX_QPS:
            raise ValueError(f"profile: the busiest period asks for {top:,.0f} requests/s, above {MAX_QPS:,.0f}")
        if (low := next(((i, q) for i, q in enumerate(qps) if 0 < q < 1e-15), None)) is not None:
            i, q = low
            raise ValueError(f"profile: period {i} asks for {q:g} requests/s, below 1e-15 (one request in 30 million "
                             f"years), which underflows the token rates to zero; write 0 for a period without load")
        if self.trace is not None and self.profile is None:   # the loader reads a trace into the profile
            raise ValueError("workload.trace is read into workload.profile when a single problem file is loaded "
                             "(plan solve FILE); fleets do not take traces yet")
        return self

    @property
    def trace_load(self) -> TraceLoad | None:
        """The trace read into the profile when the problem file was loaded (None otherwise)."""
        return self._trace_load

    def period_lengths(self, p: int) -> tuple[int | LengthDist, int | LengthDist]:
        """(input, output) lengths of period p: the profile's own, else the workload's."""
        prof = self.profile
        inp = prof.input_tokens[p] if prof is not None and prof.input_tokens is not None else self.input_tokens
        out = prof.output_tokens[p] if prof is not None and prof.output_tokens is not None else self.output_tokens
        return inp, out

    @property
    def rate(self) -> float:
        """workload.qps, or a profile's busiest requests/s where it gives them (a sweep row's load)."""
        return max(self.profile.qps) if self.profile is not None and self.profile.qps is not None else self.qps

    def period_qps(self) -> list[float]:
        """QPS of every period of the profile (requests/s); [qps] without a profile."""
        if self.profile is None:
            return [self.qps]
        if self.profile.qps is not None:
            return list(self.profile.qps)
        return [f * self.qps for f in self.profile.qps_fraction or []]

    @property
    def prefix_cache_hit(self) -> float:
        """Fraction of prompt tokens served from the prefix cache."""
        return self.prefix_cache_hit_percent / 100.0


class SLO(Strict):
    ttft: Seconds
    tpot: Seconds
    ttft_statistic: Statistic = "mean"
    tpot_statistic: Statistic = "mean"
    confidence: Confidence | None = Field(
        None, description="meet the SLOs even when the model is wrong by its cross-validated error at "
                          "this percentile (\"90%\"): steps and passes run that much slower (docs/model.md)")


class GPUChoice(Strict):
    """A GPU type the plan may use, with optional price override, caps and owned inventory.
    Prices are in the problem's currency (`pricing.currency`)."""

    RENAMED = {"price_rmb_per_gpu_hour": "price_per_gpu_hour",
               "owned_cost_rmb_per_gpu_hour": "owned_cost_per_gpu_hour"}

    id: str = Field(description="GPU catalog id (plan catalog gpus)")
    price_per_gpu_hour: Price | None = Field(
        None, description="rental price per card-hour in the problem's currency; default: the catalog's "
                          "RMB price converted with pricing.exchange_rate_per_rmb")
    max_cards: Annotated[int, Field(ge=0)] | None = None
    max_nodes: Annotated[int, Field(ge=0)] | None = None
    owned_nodes: Annotated[int, Field(ge=0)] = 0
    owned_cost_per_gpu_hour: Price = Field(
        0.0, description="cost per card-hour of an owned card (amortisation + power), problem's currency")
    reserved_price_per_gpu_hour: Price | None = Field(
        None, description="committed price per card-hour (count fixed over a profile's horizon)")
    spot_price_per_gpu_hour: Price | list[Price] | None = Field(
        None, description="spot price per card-hour (count per period, capped by spot_max_share_percent); "
                          "one number, or one per period of the profile (spot prices move over the day)")
    spot_max_share_percent: Percent | None = Field(
        None, description="at most this share of the type's nodes may be spot in a period (default 100)")
    spot_interruption_percent: BelowAll | None = Field(
        None, description="share of the spot nodes interrupted (down, awaiting a replacement) at any time: "
                          "the plan counts 1 − share of its spot nodes as capacity (default 0)")
    max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, description="cards of this type in service in each period of the profile (every kind; "
                          "reserved or owned nodes above it sit idle that period, still paid)")
    on_demand_max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, description="on-demand cards of this type available in each period of the profile")
    spot_max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, description="spot cards of this type available in each period of the profile")

    @model_validator(mode="after")
    def _share_needs_spot(self) -> GPUChoice:
        for key in ("spot_max_share_percent", "spot_interruption_percent", "spot_max_cards_per_period"):
            if getattr(self, key) is not None and self.spot_price_per_gpu_hour is None:
                raise ValueError(f"{key} needs spot_price_per_gpu_hour")
        return self

    @property
    def spot_interruption(self) -> float:
        """Share of the spot nodes down at any time, as a fraction."""
        return 0.0 if self.spot_interruption_percent is None else self.spot_interruption_percent / 100.0

    @property
    def spot_max_share(self) -> float:
        """Largest share of the type's nodes that may be spot in a period, as a fraction."""
        return 1.0 if self.spot_max_share_percent is None else self.spot_max_share_percent / 100.0

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, v: Any) -> Any:
        return {"id": v} if isinstance(v, str) else v


def _mode_name(v: Any) -> Any:
    """'aggregated' (what vLLM, SGLang and Dynamo call it) is the colocated mode."""
    return "colocated" if isinstance(v, str) and v.strip().lower() == "aggregated" else v


Mode = Annotated[Literal["disaggregated", "colocated"], BeforeValidator(_mode_name)]


class ParallelismOptions(Strict):
    """Allowed degrees; omitted lists mean 'any that fits' (auto)."""

    tp: list[Annotated[int, Field(ge=1)]] | None = Field(None, min_length=1)   # [] allows nothing: refused
    pp: list[Annotated[int, Field(ge=1)]] | None = Field(None, min_length=1)
    dp: list[Annotated[int, Field(ge=1)]] | None = Field(None, min_length=1)
    _once = field_validator("tp", "pp", "dp")(once)
    max_cards_per_instance: Annotated[int, Field(ge=1, le=4096)] = 64


class InstanceStart(Strict):
    """What starting an instance costs in a load profile's plan (docs/horizon.md): its cards are
    paid at the on-demand price while the engine starts and loads its weights. Without this
    section instances start and stop between periods for free."""

    overhead: Annotated[float, quantity("time"), Field(ge=0, le=86_400, allow_inf_nan=False)] = Field(
        0.0, description="engine start beyond loading the weights (CUDA graphs, compilation): \"90s\"")
    # at least 1 MB/s (a 16 GB shard in 4.4 h): 1 B/s was taken and priced starts at 1.6e9 RMB
    load_bandwidth_per_card: Annotated[float, quantity("bandwidth"), Field(ge=1e6, allow_inf_nan=False)] | None = Field(
        None, description="bytes/s at which each card reads its weight shard (default: the card's NIC, "
                          "a networked store); a local NVMe drive or a cache reads at its own speed")


class Serving(Strict):
    modes: list[Mode] = Field(default_factory=lambda: ["disaggregated", "colocated"], min_length=1)
    _once = field_validator("modes")(once)
    parallelism: Literal["auto"] | ParallelismOptions = "auto"
    max_utilization_percent: Annotated[Ceiling, Field(gt=1, lt=100)] = 95.0
    max_decode_utilization_percent: Annotated[Ceiling, Field(gt=1, le=100, allow_inf_nan=False)] = 100.0
    max_prefill_tokens_per_pass: Annotated[int, Field(ge=1)] = 16384
    speculative: Speculative | None = Field(
        None, description="speculative decoding for decode and colocated pools (off without it)")
    instance_start: InstanceStart | None = Field(
        None, description="with a load profile: what starting an instance costs (switching between periods)")
    spot_confidence_percent: Annotated[float, BeforeValidator(percent, json_schema_input_type=float | str),
                                       Field(gt=0, lt=100)] | None = Field(
        None, description="with spot interruptions: hold the cards with as many spot nodes down as at this "
                          "percentile (binomial); default: the expected share down")
    redundancy: Literal["none", "n_plus_1", "node"] = Field(
        "none", description="n_plus_1: for prefill and for decode capacity, losing the largest used "
                            "instance still leaves capacity for the demand at the SLO; node: losing "
                            "any one node (with every instance on it) does")

    @property
    def max_utilization(self) -> float:
        """Ceiling on a prefill pool's utilisation ρ, as a fraction."""
        return self.max_utilization_percent / 100.0

    @property
    def max_decode_utilization(self) -> float:
        """Ceiling on a decode pool's load against its design capacity, as a fraction."""
        return self.max_decode_utilization_percent / 100.0

    def options(self) -> ParallelismOptions:
        return self.parallelism if isinstance(self.parallelism, ParallelismOptions) else ParallelismOptions()


class Limits(Strict):
    """Fleet-wide caps; each is optional. `max_gpu_types` and `max_pool_shapes` keep the plan simple
    to operate: at most N GPU types, at most M pool shapes (role, GPU type, parallelism)."""

    RENAMED = {"budget_rmb_per_hour": "budget_per_hour"}

    power: Watts | None = None
    budget_per_hour: Budget | None = Field(None, description="cost cap per hour, problem's currency")
    max_gpu_types: Annotated[int, Field(ge=1)] | None = None
    max_pool_shapes: Annotated[int, Field(ge=1)] | None = None


class Pricing(Strict):
    """Money: the problem's currency, the rate that converts the catalog's RMB prices into it, and
    optional selling prices (per million tokens, in the currency)."""

    currency: Currency = Field("RMB", description="ISO 4217 code of every price and cost of the problem")
    exchange_rate_per_rmb: ExchangeRate | None = Field(
        None, description="units of `currency` per RMB, for the catalog's RMB prices "
                          "(required unless currency is RMB/CNY or every GPU has price_per_gpu_hour)")
    sell_per_million_input_tokens: SellPrice = 0.0
    sell_per_million_output_tokens: SellPrice | None = None
    gpu_market: Literal["china", "global"] | None = Field(
        None, description="take each GPU's catalog rental price from this market where the catalog has "
                          "one (catalogs/gpus.yaml other_prices), else its default")

    @model_validator(mode="after")
    def _rate_for_rmb(self) -> Pricing:
        if self.currency in RMB_CODES and self.exchange_rate_per_rmb not in (None, 1.0):
            raise ValueError(f"exchange_rate_per_rmb: the currency is {self.currency}, so the rate is 1; "
                             f"leave it out or change the currency")
        return self

    @property
    def sells(self) -> bool:
        """A selling price is given (output, or input alone: output tokens then sell at 0), so
        the plan reports revenue and margin."""
        return self.sell_per_million_output_tokens is not None or self.sell_per_million_input_tokens > 0

    @property
    def output_price(self) -> float:
        """Selling price per million output tokens, 0 when only the input price is given."""
        return self.sell_per_million_output_tokens or 0.0

    def rate_per_rmb(self) -> float | None:
        """Units of the currency per RMB: 1 for RMB/CNY, else the stated rate (None if not given)."""
        return 1.0 if self.currency in RMB_CODES else self.exchange_rate_per_rmb


class SolverOptions(Strict):
    name: Literal["highs", "cbc"] = "highs"
    time_limit: Seconds = 30.0
    mip_gap: Annotated[float, Field(ge=0, le=1)] = 1e-4
    # absolute gap in hours of the cheapest node (the objective's unit): stop once no plan can be
    # cheaper by this much; 0 = the relative mip_gap alone (docs/optimisation.md)
    node_gap: Annotated[float, Field(ge=0, le=1e3, allow_inf_nan=False)] = 0.0
    # HiGHS's parallel MIP search with this many workers (threads); the plan is the same on every
    # run and machine for a given count, and may be another of equal or lower cost within the gap
    # for another count (docs/optimisation.md#threads-highss-parallel-search)
    threads: Annotated[int, Field(ge=1, le=64)] = 1
    # 'auto': a fleet whose services share nothing but whole nodes is solved exactly by a decomposition
    # (docs/optimisation.md#the-fleet-decomposition), anything else by the MILP; 'milp': the MILP always
    method: Literal["auto", "milp"] = "auto"


class Precisions(Strict):
    weights: Precision | None = None  # default: the model's published checkpoint precision
    experts: Precision | None = None  # routed experts' weights apart (default: as `weights`)
    attention: Precision | None = None       # attention projections apart (default: as `weights`)
    dense_mlp: Precision | None = None       # the dense layers' MLP apart (default: as `weights`)
    shared_experts: Precision | None = None  # MoE layers' shared experts apart (default: as `weights`)
    kv: Precision = "bf16"


class PlanSettings(Strict):
    """What a single-workload problem and a fleet share: GPU choices, serving options, limits,
    prices, solver and calibration."""

    name: Title = "problem"
    description: str = ""
    gpus: list[GPUChoice] = Field(min_length=1)
    serving: Serving = Serving.model_construct()
    limits: Limits = Limits.model_construct()
    pricing: Pricing = Pricing.model_construct()
    solver: SolverOptions = SolverOptions.model_construct()
    calibration: Name = "default"   # a profile name or path, shown and written into plans: one line
    calibration_overrides: dict[str, float] = {}

    @field_validator("gpus")
    @classmethod
    def _unique_gpus(cls, v: list[GPUChoice]) -> list[GPUChoice]:
        """A GPU type may be listed once (its caps and prices would otherwise be ambiguous)."""
        seen = set()
        for g in v:
            if g.id.strip().lower() in seen:   # as the catalog reads it (schemas.gpu_key)
                raise ValueError(f"GPU {g.id!r} is listed twice")
            seen.add(g.id.strip().lower())
        return v


class Problem(PlanSettings):
    """A capacity-planning problem: model, workload, SLOs, plus the shared settings."""

    model: Name   # a catalog or Hugging Face id, or a config.json path: one line
    precision: Precisions = Precisions.model_construct()
    workload: Workload
    slo: SLO

    @model_validator(mode="after")
    def _kinds_need_profile(self) -> Problem:
        """Reserved and spot capacity are priced over a horizon: without a profile there is none;
        nor are instance starts (between periods) or spot confidence (until 2026-12-05 both were
        accepted and ignored without a word)."""
        if self.workload.profile is None:
            for key, why in (("instance_start", "what starting an instance costs between periods"),
                             ("spot_confidence_percent", "spot capacity at a confidence")):
                if getattr(self.serving, key) is not None:
                    raise ValueError(f"serving.{key}: {why} needs a load profile (workload.profile); a single "
                                     f"QPS rents on demand and starts nothing")
            for i, g in enumerate(self.gpus):
                for key in ("reserved_price_per_gpu_hour", "spot_price_per_gpu_hour"):
                    if getattr(g, key) is not None:
                        raise ValueError(f"gpus[{i}].{key}: reserved and spot capacity need a load "
                                         f"profile (workload.profile); a single QPS rents on demand")
        spot_confidence_needs_spot(self.serving, self.gpus)
        periods = len(self.workload.period_qps()) if self.workload.profile is not None else None
        for i, g in enumerate(self.gpus):
            for key in ("max_cards_per_period", "on_demand_max_cards_per_period", "spot_max_cards_per_period",
                        "spot_price_per_gpu_hour"):
                v = getattr(g, key)
                if v is None or (key == "spot_price_per_gpu_hour" and not isinstance(v, list)):
                    continue
                if periods is None:
                    raise ValueError(f"gpus[{i}].{key}: per-period caps need a load profile (workload.profile)")
                if len(v) != periods:
                    raise ValueError(f"gpus[{i}].{key}: {len(v)} values; the profile has {periods} periods")
        return self
