"""Catalog numbers with their source and as-of date, each parsed from its unit and checked for
its domain (a card's memory, bandwidths, FLOP/s, power, counts and prices)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from planner.input.schema import Strict
from planner.input.units import Dimension, UnitError, parse_quantity
from planner.input.values import MAX_PRICE, below_max_price

DIM_WORDS = {"bytes": "size", "flops": "FLOP/s", "count": "number"}   # a dimension in a message


class _Sourced(Strict):
    value: float
    source: str = Field(min_length=3)
    as_of: str = Field(min_length=4)
    note: str | None = None

    _dim: Dimension = "count"

    @field_validator("value", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> float:
        try:
            return parse_quantity(v, cls._dim.default)  # type: ignore[attr-defined]
        except UnitError as e:
            raise ValueError(str(e)) from None

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_as_text(cls, v: Any) -> str:
        return str(v)

    @field_validator("value")
    @classmethod
    def _in_domain(cls, v: float) -> float:
        """A card's memory, bandwidths, FLOP/s and power are finite and above 0 (0 TB/s divided by
        zero, exit 5; −80 GB planned 'of −72.0 GB usable'); counts are whole and at least 1 (2.5 cards
        a node was read as 2 and priced as 2); prices `SourcedPrice._in_domain` (an edited catalog
        is reloaded on the next run, a hunt)."""
        dim = cls._dim.default  # type: ignore[attr-defined]
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{v:g}: expected a finite {DIM_WORDS.get(dim, dim)} above 0")
        if dim == "count" and v != int(v):
            raise ValueError(f"{v:g} is not a whole number")
        return v


class SourcedBytes(_Sourced):
    _dim: Dimension = "bytes"


class SourcedBandwidth(_Sourced):
    _dim: Dimension = "bandwidth"


class SourcedFlops(_Sourced):
    _dim: Dimension = "flops"


class SourcedPower(_Sourced):
    _dim: Dimension = "power"


class SourcedCount(_Sourced):
    _dim: Dimension = "count"


class SourcedTime(_Sourced):
    _dim: Dimension = "time"


class SourcedPrice(_Sourced):
    """A rental price and the market it was read in (or, for an assumption, the market of the
    figure it was derived from): `china` (China contracts and clouds) or `global` (US/EU clouds'
    on-demand prices). The two are not comparable: a plan that mixes them says so."""
    _dim: Dimension = "count"
    market: Literal["china", "global"]

    @field_validator("value")
    @classmethod
    def _in_domain(cls, v: float) -> float:
        """A price per card-hour: finite, ≥ 0 and at most MAX_PRICE (−12.15 planned a cost of −97.20
        RMB/h; 1e300 printed 300 digits), and 0 or at least MIN_PRICE, as a problem file's
        (`below_max_price`: 1e-310 underflows the solver's scaled costs)."""
        if not (math.isfinite(v) and 0 <= v <= MAX_PRICE):
            raise ValueError(f"{v:g} is not a price per card-hour (from 0 to {MAX_PRICE:g})")
        return below_max_price(v)
