"""A what-if scenario: a strict overlay on a base problem, and its resolution into a new Problem.

Only the keys a scenario names change; everything else is the base's. Sections that are
mappings in the problem (workload, slo, serving, limits, pricing) merge key by key. The GPU
list has its own syntax: `gpus: {set: [...]}` replaces it, `gpus: {add: [...], remove: [...],
update: {id: {...}}}` edits it (remove, then update, then add). `buy:` turns a purchase into
owned nodes whose hourly cost is amortisation plus electricity. This module is the schema
only: validation does no I/O and reads no catalog. Applying a scenario to a problem, which
reads the GPU catalog (for percentage price changes and power), is
planner.studies.scenarios.apply.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from planner.errors import BadInput, PlannerDeprecation, one_line
from planner.input.files import describe_validation_error, read_yaml, validate
from planner.input.load import is_scenario, note_slips, other_kind
from planner.input.problem import (
    Confidence,
    ExchangeRate,
    GPUChoice,
    InstanceStart,
    Length,
    Mode,
    ParallelismOptions,
    Percent,
    Price,
    Rate,
    Seconds,
    Statistic,
    Watts,
)
from planner.input.schema import Strict
from planner.input.speculative import Speculative
from planner.input.values import (
    MAX_PRICE,
    BelowAll,
    Budget,
    Ceiling,
    NodePrice,
    PercentText,
    SellPrice,
    Title,
    once,
    percent,
)

HOURS_PER_MONTH = 30 * 24  # the seed note's month (30 days), as in the catalog's rent prices
PRICE_CHANGE_FLOOR_PERCENT = -100.0  # a price cannot fall below zero

MAX_COUNT = 1_000_000   # nodes or cards: a million is beyond any fleet
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class GPUUpdate(Strict):
    """Changes to one GPU type already in the list; omitted keys keep the base value."""

    RENAMED = {"price_rmb_per_gpu_hour": "price_per_gpu_hour",
               "owned_cost_rmb_per_gpu_hour": "owned_cost_per_gpu_hour"}

    price_per_gpu_hour: Price | None = None   # in the base problem's currency
    price_change_percent: Annotated[float, BeforeValidator(percent, json_schema_input_type=float | PercentText),
                                    Field(ge=PRICE_CHANGE_FLOOR_PERCENT, le=1e6,   # ≤ ×10,001
                                          allow_inf_nan=False)] | None = None
    max_cards: Count | None = None
    max_nodes: Count | None = None
    owned_nodes: Count | None = None
    owned_cost_per_gpu_hour: Price | None = None
    # capacity kinds of a load profile (docs/horizon.md); a single-QPS base refuses them
    reserved_price_per_gpu_hour: Price | None = None
    spot_price_per_gpu_hour: Price | list[Price] | None = None   # one per period: spot markets move
    spot_max_share_percent: Percent | None = None
    spot_interruption_percent: BelowAll | None = None   # "20%" as in a problem's gpus[]
    max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = None   # replace the base's lists
    on_demand_max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = None
    spot_max_cards_per_period: list[Annotated[int, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _one_price(self) -> GPUUpdate:
        if self.price_per_gpu_hour is not None and self.price_change_percent is not None:
            raise ValueError("give price_per_gpu_hour or price_change_percent, not both")
        return self


class GPUEdit(Strict):
    """`set` replaces the list; `remove`, `update`, `add` edit it (applied in that order)."""

    set: list[GPUChoice] | None = Field(default=None, min_length=1)
    add: list[GPUChoice] = []
    remove: list[str] = []
    update: dict[str, GPUUpdate] = {}

    @field_validator("set", mode="before")
    @classmethod
    def _set_not_empty(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:   # pydantic's 'at least 1 item after validation, not 0'
            raise ValueError("an empty list leaves no GPU type to plan on; list at least one (or leave gpus out)")
        return v

    @model_validator(mode="after")
    def _set_alone(self) -> GPUEdit:
        if self.set is not None and (self.add or self.remove or self.update):
            raise ValueError("'set' replaces the whole list; do not combine it with add/remove/update")
        return self


class Buy(Strict):
    """Buy `nodes` servers of `gpu`: amortised over `months`, plus electricity for the power drawn.
    Money in the base problem's currency.

    Owned cost per card-hour = price_per_node / (months·720 h) / cards_per_node
    + power_w·pue / 1000 · electricity_per_kwh.
    """

    RENAMED = {"price_rmb_per_node": "price_per_node", "electricity_rmb_per_kwh": "electricity_per_kwh"}

    gpu: str
    nodes: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    price_per_node: NodePrice
    months: Annotated[int, Field(ge=1, le=240)]
    electricity_per_kwh: Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]   # per kWh
    pue: Annotated[float, Field(ge=1, le=3)] = 1.0


class WorkloadEdit(Strict):
    qps: Rate | None = None
    qps_multiplier: Annotated[float, Field(ge=1e-6, le=1e6)] | None = None   # a factor on the base QPS
    input_tokens: Length | None = None
    output_tokens: Length | None = None
    prefix_cache_hit_percent: Percent | None = None


class SLOEdit(Strict):
    ttft: Seconds | None = None
    tpot: Seconds | None = None
    ttft_statistic: Statistic | None = None
    tpot_statistic: Statistic | None = None
    confidence: Confidence | None = None


class ServingEdit(Strict):
    modes: list[Mode] | None = Field(default=None, min_length=1)
    _once = field_validator("modes")(once)
    parallelism: Literal["auto"] | ParallelismOptions | None = None  # replaces the base's wholesale
    max_utilization_percent: Annotated[Ceiling, Field(gt=1, lt=100)] | None = None
    max_decode_utilization_percent: Annotated[Ceiling, Field(gt=1, le=100, allow_inf_nan=False)] | None = None
    max_prefill_tokens_per_pass: Annotated[int, Field(ge=1)] | None = None
    redundancy: Literal["none", "n_plus_1", "node"] | None = None
    # as in a problem file (replacing the base's; a scenario cannot turn them off); until
    # 2026-12-05 refused as unknown keys, so no scenario could price instance starts
    speculative: Speculative | None = None
    instance_start: InstanceStart | None = None
    spot_confidence_percent: Annotated[float, BeforeValidator(percent, json_schema_input_type=float | str),
                                       Field(gt=0, lt=100)] | None = None


class LimitsEdit(Strict):
    RENAMED = {"budget_rmb_per_hour": "budget_per_hour"}

    power: Watts | None = None
    budget_per_hour: Budget | None = None
    max_gpu_types: Annotated[int, Field(ge=1)] | None = None
    max_pool_shapes: Annotated[int, Field(ge=1)] | None = None


class PricingEdit(Strict):
    exchange_rate_per_rmb: ExchangeRate | None = None
    sell_per_million_input_tokens: SellPrice | None = None
    sell_per_million_output_tokens: SellPrice | None = None


class Scenario(Strict):
    """What changes against the base problem; an empty scenario changes nothing."""

    name: Title | None = None
    description: str = ""
    workload: WorkloadEdit = WorkloadEdit()
    slo: SLOEdit = SLOEdit()
    gpus: GPUEdit = GPUEdit()
    serving: ServingEdit = ServingEdit()
    limits: LimitsEdit = LimitsEdit()
    pricing: PricingEdit = PricingEdit()
    buy: Buy | None = None


# a problem's keys a scenario leaves to the base, and why: `precision` was 'unknown key. Did you mean
# 'pricing'?', a change of KV precision being a natural what-if (a hunt, 2026-12-06)
BASE_ONLY = {
    "precision": "the base's precisions hold in every scenario; to compare precisions, solve a copy of the "
                 "base problem with the others (or give it as another base)",
    "calibration": "the base's calibration holds in every scenario (plan whatif compares plans under one model)",
    "solver": "the base's solver settings hold in every scenario (plan whatif --time-limit sets the limit)",
    "workload.trace": "the base's load shape holds in every scenario; scale it with workload.qps_multiplier",
    "workload.profile": "the base's load shape holds in every scenario; scale it with workload.qps_multiplier",
    "pricing.currency": "plan whatif compares costs in the base's currency",
    "pricing.gpu_market": "the base's card prices hold; change a GPU's with gpus.update (price_per_gpu_hour)",
}


def _base_only_hint(message: str, path: str) -> str:
    """`message` with each unknown key of BASE_ONLY told why, instead of a look-alike key."""
    for key, why in BASE_ONLY.items():
        line = f"{path}: {key}: unknown key {key.rsplit('.', 1)[-1]!r}."
        message = "\n".join(f"{path}: {key}: a scenario does not change it: {why}" if m.startswith(line) else m
                            for m in message.split("\n"))
    return message


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. An empty file is refused as a problem file is (it was
    taken as the unchanged scenario: a file left empty by mistake compared the base with itself);
    `{}` or a `name:` alone is the scenario that changes nothing."""
    data = read_yaml(path)
    if not is_scenario(data) and (kind := other_kind(data)) is not None:   # a plan was 'a problem file', a profile
        raise BadInput(f"{path}: {kind}; given as a scenario, which edits the base (gpus, workload, slo, "  # 21 lines
                       f"serving, limits, pricing, buy: docs/studies.md)")
    if isinstance(data, dict) and ("model" in data or "classes" in data):   # not a pydantic key list
        kind = "fleet" if "classes" in data else "problem"
        raise BadInput(f"{path}: a {kind} file ({'classes' if kind == 'fleet' else 'model'}:), given as a scenario; "
                       f"a scenario edits the base (gpus, workload, slo, serving, limits, pricing, buy: "
                       f"docs/studies.md); the base is the first file")
    _check_gpu_updates(data, str(path))
    try:
        scenario = validate(Scenario, data, str(path))   # first: a misspelt key is named as one
    except BadInput as e:
        raise BadInput(_base_only_hint(str(e), str(path))) from None
    _refuse_nulls(data, str(path))
    note_slips(data, f"{path}: ")   # as a problem file's: `tpot: 50` is 50 s a token
    return scenario


def _refuse_nulls(data: object, source: str, path: str = "") -> None:
    """BadInput for a key set to null anywhere but `limits`: a scenario names what changes, and a
    null was read as 'unchanged' without a word (`serving: {redundancy: null}` kept the base's N+1,
    `workload: {qps: null}` its QPS; a 2026-12-06 hunt). Under `limits` null lifts the base's cap."""
    items = (data.items() if isinstance(data, dict) else
             ((f"[{i}]", v) for i, v in enumerate(data)) if isinstance(data, list) else ())
    for key, value in items:
        where = f"{path}{key}" if str(key).startswith("[") else f"{path}.{one_line(key)}" if path else one_line(key)
        if value is None and not where.startswith("limits."):
            raise BadInput(f"{source}: {where}: null; a scenario names only what changes: leave the key "
                           f"out to keep the base's value, or give the new one (a limit lifts with null: "
                           f"limits: {{power: null}})")
        _refuse_nulls(value, source, where)


def _check_gpu_updates(data: object, source: str) -> None:
    """Validate each `gpus.update.<id>` entry alone, so that errors name the GPU id.

    yamlio's field paths drop mapping keys of dict-typed fields (it takes them for pydantic's
    union tags), which would turn 'gpus.update.h200.prise' into 'gpus.update.prise'.
    """
    upd = data.get("gpus", {}).get("update") if isinstance(data, dict) and \
        isinstance(data.get("gpus"), dict) else None
    if not isinstance(upd, dict):
        return
    for key, entry in upd.items():
        if not isinstance(entry, dict):
            continue
        try:
            with warnings.catch_warnings():   # validate() reports deprecated keys, naming the file
                warnings.simplefilter("ignore", PlannerDeprecation)
                GPUUpdate.model_validate(entry)
        except ValidationError as e:
            marker = "@@gpu-update@@"   # printable: messages escape control characters of file names
            text = describe_validation_error(marker, e, GPUUpdate)
            raise BadInput(text.replace(f"{marker}: (top level)", f"{source}: gpus.update.{key}")
                           .replace(f"{marker}: ", f"{source}: gpus.update.{key}.")) from None


def scenario_name(s: Scenario, path: str | Path) -> str:
    """The scenario's `name`, else its file name without extension."""
    return s.name or Path(path).stem


__all__ = ["Buy", "GPUEdit", "GPUUpdate", "HOURS_PER_MONTH", "Scenario", "load_scenario", "scenario_name"]
