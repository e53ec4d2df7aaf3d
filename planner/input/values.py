"""The value types of what a user writes: quantities with units, percentages, rates, token
lengths, prices — each declaring its domain (finite, sign, range, no booleans)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from planner.errors import is_control, shown_value
from planner.input.schema import Strict
from planner.input.units import EXAMPLES, PERCENT_PATTERN, UnitError, parse_quantity, quantity_pattern


def quantity(dim):
    def parse(v: Any) -> float:
        try:
            return parse_quantity(v, dim)
        except UnitError as e:
            raise ValueError(str(e)) from None
    text = Annotated[str, Field(pattern=quantity_pattern(dim),
                                description=f"a value with its unit, e.g. {EXAMPLES[dim].replace(chr(34), '')}")]
    return BeforeValidator(parse, json_schema_input_type=float | text)


# a percentage as text: "56.3%" or "56.3" (the schema's string branch of a percent field)
PercentText = Annotated[str, Field(pattern=PERCENT_PATTERN, description='a percentage, e.g. 56.3 or "56.3%"')]


def percent(v: Any) -> float:
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return float(v.strip()[:-1])
        except ValueError:
            raise ValueError(f"cannot read {shown_value(v)} as a percentage; write it like 56.3 or \"56.3%\"") from None
    return v


def once(cls, v: list | None) -> list | None:
    """A model's field_validator of a list of allowed values (modes, parallel degrees) that refuses one
    named twice: `modes: [colocated, colocated]` for [colocated, disaggregated], `tp: [1, 2, 4, 4]` for
    8, searched a narrower space than meant without a word (a hunt, 2026-12-07). Compared as read
    (`Colocated` is colocated)."""
    for i, x in enumerate(v or []):
        if x in v[:i]:
            raise ValueError(f"[{v.index(x)}] and [{i}] both read as {x!r}: list each value once")
    return v


# a duration: positive and at most 10⁷ s (116 days; a larger SLO, period or time limit is a typo)
MAX_SECONDS = 1e7
Seconds = Annotated[float, quantity("time"), Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
# a period of a load profile or trace: at least a second (shorter periods round every cost to 0)
Period = Annotated[float, quantity("time"), Field(ge=1, le=MAX_SECONDS, allow_inf_nan=False)]
# a power cap: at most 1 TW, ~10⁵ times the largest data centres (1e30 W was taken; see MAX_PRICE)
Watts = Annotated[float, quantity("power"), Field(gt=0, le=1e12, allow_inf_nan=False)]
Percent = Annotated[float, BeforeValidator(percent, json_schema_input_type=float | PercentText), Field(ge=0, le=100)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
BelowAll = Annotated[float, BeforeValidator(percent, json_schema_input_type=float | PercentText), Field(ge=0, lt=100)]


def not_a_fraction(v: Any) -> Any:
    """A percent ceiling above 1: `max_utilization_percent: 0.9` (a fraction meant as 90 %) planned
    prefill pools at 0.9 % busy, 37 times the cards, without a word (a hostile-input hunt)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0.01 <= v <= 1:   # below: "greater than 1"
        raise ValueError(f"{v:g} reads as {v:g} % (a fraction? {v * 100:g} % is written {v * 100:g} or "
                         f"\"{v * 100:g}%\")")
    return v


# a utilisation ceiling in percent, "90%" or 90, above 1 (a fraction is refused: `not_a_fraction`)
# (pydantic runs the last BeforeValidator first: the fraction check sees the number as written)
Ceiling = Annotated[float, BeforeValidator(percent, json_schema_input_type=float | PercentText),
                    BeforeValidator(not_a_fraction)]


def at_least_the_median(v: float) -> float:
    """A confidence is a percentile of the model's error, ≥ 50: below the median a plan would count
    on the model being pessimistic, which the planner never does (the scales stay 1), so 0.9 —
    a fraction meant as 90 % — planned at the point estimate without a word."""
    if v < 50:
        raise ValueError(f"{v:g} is the {v:g}th percentile, below the median, where a plan is the point "
                         f"estimate's; a confidence is a percent from 50 to 100 (write 90% for the 90th)")
    return v


Confidence = Annotated[float, BeforeValidator(percent, json_schema_input_type=float | PercentText),
                       Field(gt=0, lt=100, json_schema_extra={"minimum": 50}), AfterValidator(at_least_the_median)]
# requests/s: at least one request in 30 million years (a denormal rate underflows the token
# rates to zero), at most 10⁹ (beyond any fleet)
def not_vanishing(v: float) -> float:
    if v < 1e-15:
        raise ValueError(f"{v:g} requests/s is below 1e-15 (one request in 30 million years); "
                         f"a rate this small underflows the token rates to zero")
    return v


MAX_QPS = 1e9
Rate = Annotated[float, Field(gt=0, le=MAX_QPS, allow_inf_nan=False, json_schema_extra={"minimum": 1e-15}),
                 AfterValidator(not_vanishing)]


# letters that show as blank space (Hangul fillers, the blank Braille cell): `name: "\u3164"` headed
# every output with nothing where a format character was refused (a hunt, 2026-12-05)
BLANK_LETTERS = "\u115f\u1160\u3164\uffa0\u2800"


def _shows_nothing(ch: str) -> bool:
    """Whether `ch` alone draws nothing a reader can see: a space, a format character (the
    joiners, which one_line_name lets inside words), a combining mark with no letter to sit on
    (U+034F, variation selectors), or a blank letter."""
    import unicodedata
    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Me") or ch in BLANK_LETTERS


def one_line_name(v: str) -> str:
    """A name shown in tables and written into generated files: printable, on one line, not empty,
    and without invisible format characters (a right-to-left override U+202E printed the rest of a
    table row reversed; a zero-width space U+200B made two names that look the same differ) or
    blank letters, and with something to see: a joiner or a combining mark alone (U+200D, U+034F),
    which words need inside them, headed a plan with an invisible name."""
    import unicodedata
    bad = [ch for ch in v if is_control(ch)]
    if bad:
        raise ValueError(f"a name is one line of printable text; it holds the control character {bad[0]!r}")
    # a file name's byte that is not UTF-8 (init's and calibrate's --out name the problem or profile)
    # reaches here as a lone surrogate: written, it broke init's YAML (exit 5) and a profile no run reads
    odd = [ch for ch in v if "\udc80" <= ch <= "\udcff"]
    if odd:
        raise ValueError(f"a name is UTF-8 text; it holds the byte 0x{ord(odd[0]) - 0xDC00:02X}, which is not "
                         f"(a file name in another encoding, such as Latin-1?)")
    # format characters, but the joiners that emoji sequences and Persian or Indic words need
    hidden = [ch for ch in v if (unicodedata.category(ch) == "Cf" and ch not in "\u200c\u200d") or ch in BLANK_LETTERS]
    if hidden:
        kind = "blank letter" if hidden[0] in BLANK_LETTERS else "format character"
        raise ValueError(f"a name is printable text; it holds the invisible {kind} "
                         f"U+{ord(hidden[0]):04X} ({unicodedata.name(hidden[0], 'unnamed')})")
    if not v.strip():
        raise ValueError("a name is empty; give one, or leave the key out for its default")
    if all(_shows_nothing(ch) for ch in v):
        ch = v.strip()[0]
        others = " and other characters that show nothing" if len(v.strip()) > 1 else ""
        raise ValueError(f"a name is printable text; it holds nothing visible, only U+{ord(ch):04X} "
                         f"({unicodedata.name(ch, 'unnamed')}){others}: give a name one can read")
    return v


# what a schema can say of a name: one line with something not blank (the invisible characters are the loader's)
NAME_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
Name = Annotated[str, AfterValidator(one_line_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]
# a problem's, fleet's or scenario's name heads every output: a 1 MB one was echoed whole (a hostile hunt)
MAX_TITLE = 256
Title = Annotated[str, Field(max_length=MAX_TITLE, json_schema_extra={"pattern": NAME_PATTERN}),
                  AfterValidator(one_line_name)]
Statistic = Literal["mean", "p50", "p90", "p95", "p99"]


# lengths of a distribution costed one by one (plan.workload.prompt_work …): 1.2 million different
# ones (a 4.8 MB file) took a solve ~60 s; equal lengths are merged first, their weights summed. The
# work grows faster than the count: 10,000 output lengths took 228 s past a 30 s time limit, 3,000
# took 22 s, 1,000 input and 1,000 output lengths on three GPU types 3.4 s (a hunt, 2026-12-05)
MAX_LENGTH_VALUES = 1_000


class LengthDist(Strict):
    """A small discrete distribution of token lengths: values with weights (normalised)."""

    values: list[Annotated[int, Field(ge=1, le=10_000_000)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]] | None = None   # relative

    @model_validator(mode="after")
    def _same_length(self) -> LengthDist:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"weights has {len(self.weights)} entries but values has {len(self.values)}")
        if len(set(self.values)) < len(self.values):   # a list of raw lengths: one pair per length
            merged: dict[int, float] = {}
            for v, x in zip(self.values, self.weights or [1.0] * len(self.values)):
                merged[v] = merged.get(v, 0.0) + x
            object.__setattr__(self, "values", list(merged))   # a frozen model's own, once
            object.__setattr__(self, "weights", list(merged.values()))
        if len(self.values) > MAX_LENGTH_VALUES:
            raise ValueError(f"values: {len(self.values):,} different lengths; at most {MAX_LENGTH_VALUES:,} "
                             f"(each is costed once; bucket them, e.g. to the nearest 10 or 100 tokens, "
                             f"with the counts as weights)")
        return self

    def pairs(self) -> list[tuple[float, float]]:
        """(length, probability) pairs."""
        w = self.weights or [1.0] * len(self.values)
        s = sum(w)
        return [(float(v), x / s) for v, x in zip(self.values, w)]


Length = Annotated[int, Field(ge=1, le=10_000_000)] | LengthDist


def length_pairs(x: int | LengthDist) -> list[tuple[float, float]]:
    """(length, probability) pairs of a fixed length or a distribution."""
    return [(float(x), 1.0)] if isinstance(x, int) else x.pairs()


def length_mean(x: int | LengthDist) -> float:
    """Mean of a fixed length or a distribution, tokens."""
    return sum(v * p for v, p in length_pairs(x))


# Money and power stop where no real value reaches and a plan's cost still prints as a number one
# can read: at 1e300 a card-hour the cost printed with 300 digits (hostile-input hunt, 2026-12-04).
# With at most 10⁶ instances of one shape (plan.milp.MAX_INSTANCES) a plan's cost stays below ~10²⁰.
MAX_PRICE = 1e9            # per card-hour (rent, reserved, spot, owned): ~10⁸ times an H100's rental
MAX_EXCHANGE_RATE = 1e6    # units of a currency per RMB (the weakest today trade at ~10⁴)
MAX_NODE_PRICE = 1e12      # a server bought (what-if buy:), in the problem's currency
MAX_BUDGET = 1e18          # a cost cap per hour: beyond any plan's cost at MAX_PRICE


MIN_PRICE = 1e-12   # a price or rate in (0, 1e-12) underflows the solver's scaled costs (1e-310 gave NaN)
# a selling price per million tokens (10⁹: a thousand a token); 10²⁰⁰, where revenue overflows, printed a
# 200-digit revenue and margin (a hunt)
MAX_SELL_PRICE = 1e9


def _below(limit: float, unit: str, what: str = "price"):
    """A validator refusing a price or rate above `limit` (one `unit`), or so small (but not zero)
    that the solver's scaled costs underflow."""
    def check(v: float) -> float:
        if v > limit:
            raise ValueError(f"{v:g} is above {limit:g} {unit}; no real {what} is that large")
        if 0 < v < MIN_PRICE:
            if what == "rate":   # a rate of 0 is refused: no currency is worth nothing against the RMB
                raise ValueError(f"{v:g} is below {MIN_PRICE:g}; give the currency's units per RMB (USD about 0.14)")
            raise ValueError(f"{v:g} is below {MIN_PRICE:g}; write 0 for free, or a price in the currency's units")
        return v
    return check


below_max_price = _below(MAX_PRICE, "a card-hour")
Price = Annotated[float, Field(ge=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_PRICE}),
                  AfterValidator(below_max_price)]   # per card-hour
ExchangeRate = Annotated[float, Field(gt=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_EXCHANGE_RATE}),
                         AfterValidator(_below(MAX_EXCHANGE_RATE, "per RMB", "rate"))]   # per RMB
NodePrice = Annotated[float, Field(ge=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_NODE_PRICE}),
                      AfterValidator(_below(MAX_NODE_PRICE, "a node"))]
def _budget_at_most(v: float) -> float:
    """A cost cap per hour up to MAX_BUDGET; a tiny one stays valid (the budget row is divided by
    it, so even 5e-324 is held: exit 3, `tests/test_milp.py`)."""
    if v > MAX_BUDGET:
        raise ValueError(f"{v:g} is above {MAX_BUDGET:g} an hour; no real budget is that large")
    return v


Budget = Annotated[float, Field(gt=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_BUDGET}),
                   AfterValidator(_budget_at_most)]


def below_max_sell(v: float) -> float:
    """Refuse a selling price so large that a plan's revenue would overflow to infinity."""
    if v > MAX_SELL_PRICE:
        raise ValueError(f"{v:g} is above {MAX_SELL_PRICE:g} per million tokens; no real price is that large")
    return v


SellPrice = Annotated[float, Field(ge=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_SELL_PRICE}),
                      AfterValidator(below_max_sell)]   # per million tokens
PROFILE_PERIODS = (24, 168)   # a day or a week of periods
NonNegative = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False), AfterValidator(lambda v: v + 0.0)]  # -0 → 0


def spot_confidence_needs_spot(serving: Any, gpus: list[Any]) -> None:
    """ValueError when serving.spot_confidence_percent is set and no GPU has a spot price (a problem's
    and a fleet's: it was ignored without a word, a hunt)."""
    if serving.spot_confidence_percent is not None and not any(g.spot_price_per_gpu_hour is not None for g in gpus):
        raise ValueError("serving.spot_confidence_percent: no GPU has spot_price_per_gpu_hour, so there is no "
                         "spot capacity to hold at a confidence")
