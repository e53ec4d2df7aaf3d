"""A fleet problem: several request classes (and models) served by one GPU fleet.

Glossary: a *class* is one kind of request (its model, QPS, lengths, SLOs). The settings every
problem has (GPUs, serving, limits, prices, solver, calibration) are shared by the classes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, field_validator, model_validator

from planner.input.problem import SLO, PlanSettings, Precisions, Pricing, Workload
from planner.input.schema import Strict
from planner.input.values import MAX_QPS, Name, Title, spot_confidence_needs_spot


def _class_name(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v):
        raise ValueError("a class name is 1–64 ASCII letters (a–z, A–Z), digits, '_', '.' or '-' "
                         "('+' joins the names of classes that share pools)")
    return v


ClassName = Annotated[str, AfterValidator(_class_name), Field(json_schema_extra={"pattern": "^[A-Za-z0-9_.-]{1,64}$"})]
MAX_CLASSES = 256   # request classes in one fleet: each adds a service and its candidates


class RequestClass(Strict):
    """One kind of request: its model, precision, workload, SLOs and (optionally) selling prices."""

    name: ClassName
    model: Name
    precision: Precisions = Precisions.model_construct()
    workload: Workload
    slo: SLO
    pricing: Pricing | None = None   # default: the fleet's pricing


class FleetProblem(PlanSettings):
    """Several request classes on one fleet, plus the settings every problem has."""

    name: Title = "fleet"
    classes: list[RequestClass] = Field(min_length=1, max_length=MAX_CLASSES)
    sharing: Literal["auto", "none"] = "auto"   # may classes of one model share pools?
    prune_dominated: StrictBool = True   # true or false: not "yes" in quotes, not 1

    @model_validator(mode="before")
    @classmethod
    def _classes_as_written(cls, v: Any) -> Any:
        """A hint for two ways of writing classes that read naturally but are not the schema: a
        mapping of names (`classes: {chat: {…}}`) and a fleet setting inside a class
        (`classes[0].gpus`); they read 'Input should be a valid list' and 'unknown key' alone."""
        classes = v.get("classes") if isinstance(v, dict) else None
        if isinstance(classes, dict):
            names = ", ".join(map(str, list(classes)[:3]))
            raise ValueError(f"classes: a list, one entry per class with its name, not a mapping of names ({names}): "
                             f"write `- name: {str(next(iter(classes), 'chat'))[:64]}` and the class's keys under it")
        shared = sorted(set(PlanSettings.model_fields) - set(RequestClass.model_fields) - {"description"})
        for i, k in enumerate(classes if isinstance(classes, list) else []):
            key = next((key for key in shared if isinstance(k, dict) and key in k), None)
            if key is not None:
                raise ValueError(f"classes[{i}].{key}: a setting of the fleet, shared by its classes: write {key} at "
                                 f"the top level of the file, beside classes")
        return v

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, v: list[RequestClass]) -> list[RequestClass]:
        seen: dict[str, str] = {}
        for k in v:
            if k.name in seen.values():
                raise ValueError(f"class {k.name!r} is listed twice")
            if k.name.lower() in seen:   # exported pod, service and script names are lower case: they would collide
                raise ValueError(f"classes {seen[k.name.lower()]!r} and {k.name!r} differ only in case; "
                                 f"name them apart")
            seen[k.name.lower()] = k.name
        return v

    @property
    def horizon(self) -> bool:
        """Whether a class has a load profile: the fleet is then planned over its periods."""
        return any(k.workload.profile is not None for k in self.classes)

    def periods(self) -> tuple[int, float] | None:
        """(number of periods, period length in seconds) of the classes' profiles, None without."""
        for k in self.classes:
            if k.workload.profile is not None:
                return len(k.workload.period_qps()), k.workload.profile.period
        return None

    @model_validator(mode="after")
    def _profiles_agree(self) -> FleetProblem:
        """Classes with a profile share its periods (count and length); a class without one is flat
        over them. Reserved and spot capacity and per-period caps need a profile."""
        shape = self.periods()
        for i, k in enumerate(self.classes):
            if k.workload.trace is not None and k.workload.profile is None:
                raise ValueError(f"classes[{i}].workload.trace: read into the class's profile when the fleet "
                                 f"file is loaded (plan solve FILE)")
            if k.workload.profile is not None and (len(k.workload.period_qps()), k.workload.profile.period) != shape:
                raise ValueError(f"classes[{i}].workload.profile: {len(k.workload.period_qps())} periods of "
                                 f"{k.workload.profile.period:g} s, but classes[0..] with a profile have "
                                 f"{shape[0]} of {shape[1]:g} s; every profile of a fleet has the same periods")
        for key, why in (("instance_start", "what starting an instance costs between periods"),
                         ("spot_confidence_percent", "spot capacity at a confidence")):
            if shape is None and getattr(self.serving, key) is not None:   # each class's Problem refused it: exit 5
                raise ValueError(f"serving.{key}: {why} needs a load profile in a class (classes[].workload.profile); "
                                 f"a single QPS rents on demand and starts nothing")
        spot_confidence_needs_spot(self.serving, self.gpus)
        for i, g in enumerate(self.gpus):
            per_period = [key for key in ("max_cards_per_period", "on_demand_max_cards_per_period",
                                          "spot_max_cards_per_period") if getattr(g, key)]
            per_period += ["spot_price_per_gpu_hour"] if isinstance(g.spot_price_per_gpu_hour, list) else []
            if shape is None and (g.reserved_price_per_gpu_hour is not None or g.spot_price_per_gpu_hour is not None):
                raise ValueError(f"gpus[{i}]: reserved and spot capacity need a load profile in a class "
                                 f"(classes[].workload.profile); a single QPS rents on demand")
            for key in per_period:
                if shape is None:
                    raise ValueError(f"gpus[{i}].{key}: per-period values need a load profile in a class")
                if len(getattr(g, key)) != shape[0]:
                    raise ValueError(f"gpus[{i}].{key}: {len(getattr(g, key))} values; the profiles have "
                                     f"{shape[0]} periods")
        return self

    @model_validator(mode="after")
    def _combined_rate(self) -> FleetProblem:
        """Classes of one model may share pools, which then serve their summed rate: it must stay
        within a workload's domain (at most 10⁹ requests/s)."""
        total: dict[str, float] = {}
        for k in self.classes:
            total[k.model] = total.get(k.model, 0.0) + k.workload.qps
        for model, qps in total.items():
            if qps > MAX_QPS:
                raise ValueError(f"the classes of model {model!r} ask for {qps:,.0f} requests/s together, "
                                 f"above {MAX_QPS:,.0f} (pools shared by them would serve that sum)")
        return self

    @model_validator(mode="after")
    def _one_currency(self) -> FleetProblem:
        """A class's pricing holds its selling prices; the currency, exchange rate and GPU market are
        the fleet's (the classes share its GPUs). Each message names the class's field."""
        for i, k in enumerate(self.classes):
            at = f"classes[{i}].pricing"
            if k.pricing is not None and k.pricing.currency != self.pricing.currency:
                raise ValueError(f"{at}.currency: {k.pricing.currency}, where the fleet prices in "
                                 f"{self.pricing.currency} (pricing.currency): a fleet has one currency; leave it "
                                 f"out of the class, or write the fleet's")
            if k.pricing is not None and k.pricing.exchange_rate_per_rmb not in (
                    None, self.pricing.exchange_rate_per_rmb):
                raise ValueError(f"{at}.exchange_rate_per_rmb: it is the fleet's "
                                 f"(pricing.exchange_rate_per_rmb); leave it out of the class")
            if k.pricing is not None and k.pricing.gpu_market not in (None, self.pricing.gpu_market):
                raise ValueError(f"{at}.gpu_market: it is the fleet's (pricing.gpu_market: the "
                                 f"classes share its GPUs); leave it out of the class")
        return self
