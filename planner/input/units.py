"""Parse quantities with units at the edges; everything inside is SI.

Strings such as ``"50ms"``, ``"2s"``, ``"4.8TB/s"``, ``"141GB"``, ``"400Gb/s"``,
``"989TFLOPS"``, ``"700W"`` become floats in seconds, bytes, bytes/s, FLOP/s or watts.
Decimal prefixes (k = 10^3 … P = 10^15) for bandwidth and FLOP/s, binary ones only when
written (``GiB``). ``B`` is a byte, ``b`` a bit. A watt is ``W`` or ``w`` (``150kw``): no power
prefix is lower-case but ``k``, so none is read as milli. Bare numbers are taken as already SI.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Literal

from planner.errors import shown_json, shown_value, thousands_hint

Dimension = Literal["time", "bytes", "bandwidth", "flops", "power", "count"]

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

# µ is the micro sign (U+00B5), μ the Greek letter mu (U+03BC) a Greek keyboard types: they look the same
_TIME = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}

# digits may be grouped with underscores between them ("1_000ms"), as YAML reads a bare 1_000;
# ASCII digits only, as for a bare number (`re`'s \d and float() would read "١٠ms" as 10 ms)
_DIGITS = r"[0-9]+(?:_[0-9]+)*"
_NUMBER = rf"[-+]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?{_DIGITS})?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([^\s0-9].*?)?\s*$")

# the units `_scale` reads, per dimension, as one regular expression (the schema's string pattern)
UNIT_PATTERNS: dict[Dimension, str] = {
    "time": "|".join(sorted(_TIME, key=len, reverse=True)),
    "count": "[kKMGTP]",
    "flops": "[kKMGTP]?(?:FLOPS|FLOP/s|flops|flop/s)",
    "power": "[kKMG]?[Ww]",
    "bytes": "(?:[kKMGTP]i?)?(?:B|b|bit)",
    "bandwidth": "(?:[kKMGTP]i?)?(?:B|b|bit)(?:/s|ps)|[kKMGTP]?bps",
}


def quantity_pattern(dim: Dimension) -> str:
    """What `parse_quantity` reads as a string of `dim`, as a regular expression of the ECMA-262
    subset JSON Schema uses: a number, then one of the dimension's units or none. Its bounds (a
    duration above 0 …) are the number's; a schema cannot hold them on the string."""
    return rf"^\s*{_NUMBER}\s*(?:{UNIT_PATTERNS[dim]})?\s*$"


PERCENT_PATTERN = rf"^\s*{_NUMBER}\s*%?\s*$"   # "56.3%", "56.3": what values.percent reads


EXAMPLES: dict[Dimension, str] = {
    "time": '"50ms", "2s", "1.5min"',
    "bytes": '"141GB", "80GiB", "512MB"',
    "bandwidth": '"4.8TB/s", "400Gb/s", "900GB/s"',
    "flops": '"989TFLOPS", "1.98PFLOPS"',
    "power": '"700W", "10.2kW", "2MW"',
    "count": '"8", "1.5k"',
}


class UnitError(ValueError):
    """A quantity string that cannot be read in the dimension asked for."""


class QuantityOverflow(UnitError):
    """A quantity string past the largest float ('1e400ms'): read, but no finite number."""


def _prefix(p: str) -> float | None:
    """Multiplier of a decimal (k, M, G, T, P) or binary (Ki … Pi) prefix, or None."""
    if p in _DECIMAL:
        return _DECIMAL[p]
    return _BINARY.get(p)


def _scale(unit: str, dim: Dimension) -> float | None:
    """Multiplier that turns one `unit` into the SI base of `dim`, or None if it is not one."""
    if dim == "time":
        return _TIME.get(unit)
    if dim == "count":
        return _DECIMAL.get(unit)
    if dim == "flops":
        m = re.fullmatch(r"([kKMGTP]?)(?:FLOPS|FLOP/s|flops|flop/s)", unit)
        return _DECIMAL[m.group(1)] if m else None
    if dim == "power":
        m = re.fullmatch(r"([kKMG]?)[Ww]", unit)   # "150kw" as "150kW"; no milli prefix: "mw" is refused
        return _DECIMAL[m.group(1)] if m else None
    if dim == "bytes":
        m = re.fullmatch(r"([kKMGTP]i?|)(B|b|bit)", unit)
        if not m:
            return None
        mult = _prefix(m.group(1))
        if mult is None:
            return None
        return mult if m.group(2) == "B" else mult / 8.0
    if dim == "bandwidth":
        m = re.fullmatch(r"([kKMGTP]i?|)(B|b|bit)(?:/s|ps)", unit)
        if not m:
            m2 = re.fullmatch(r"([kKMGTP]?)bps", unit)
            return _DECIMAL[m2.group(1)] / 8.0 if m2 else None
        mult = _prefix(m.group(1))
        if mult is None:
            return None
        return mult if m.group(2) == "B" else mult / 8.0
    return None


def parse_quantity(value: object, dim: Dimension) -> float:
    """Return `value` in SI units of `dim`; numbers pass through, strings are parsed.

    >>> parse_quantity("50ms", "time")
    0.05
    >>> parse_quantity("4.8TB/s", "bandwidth")
    4800000000000.0
    >>> parse_quantity("400Gb/s", "bandwidth")
    50000000000.0
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a {dim} quantity such as {EXAMPLES[dim]}, got {shown_json(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a {dim} quantity such as {EXAMPLES[dim]}, got {shown_json(value)}")
    m = _PATTERN.match(value)
    if not m:
        raise UnitError(f"cannot read {shown_value(value)} as a {dim} quantity"
                        + (thousands_hint(value) or f"; write it like {EXAMPLES[dim]}"))
    number, unit = float(m.group(1)), (m.group(2) or "")
    scale = _scale(unit, dim) if unit else 1.0
    if scale is None:
        hint = thousands_hint(value)   # '2,000ms': the number stops at the comma
        raise UnitError(f"cannot read {shown_value(value)} as a {dim} quantity{hint}" if hint else
                        f"unknown {dim} unit {shown_value(unit)} in {shown_value(value)}; "
                        f"write it like {EXAMPLES[dim]}")
    if math.isinf(number * scale):   # '1e400ms' was refused as 'got inf', not as written
        raise QuantityOverflow(f"{shown_value(value)} is past the largest number plan reads; "
                               f"write it like {EXAMPLES[dim]}")
    return number if not unit else number * scale


def format_time(seconds: float, extra: int = 0) -> str:
    """Seconds as a short human string: 0.0175 → '17.5 ms'; `extra` more decimals (a sweep's limits
    that read alike, `report.sweep.distinct_times`)."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds >= 1.0:
        return f"{seconds:.{2 + extra}f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.{1 + extra}f} ms"
    if 0 < abs(seconds) < 1e-6:   # under a microsecond: a limit of 1e-9 s read "49.1 ms > 0 µs"
        return f"{seconds:.3g} s"
    return f"{seconds * 1e6:.{extra}f} µs"


def format_bytes(n: float) -> str:
    """Bytes in decimal GB: 84e9 → '84.0 GB'."""
    return f"{n / 1e9:.1f} GB"


# a bare limit in these bounds (seconds) is likely milliseconds meant, and how it reads: `tpot: 50`
# (or `--tpot 20:50`) planned 50 s a token; `ttft: 500` a first token within 500 s (8 minutes), where 2
# or 30 s are real limits (a hunt, 2026-12-06). Beyond the upper bound a limit is refused with its own
# message (inf, 1e400, takes no advice to write 1e400ms; a TTFT above 10⁷ s is out of its domain).
BARE_TTFT_NOTE_S = 100.0
BARE_LIMIT_NOTE = {"tpot": (1.0, sys.float_info.max, "a token"),
                   "ttft": (BARE_TTFT_NOTE_S, 1e7, "to the first token")}


def note_bare_limit(slo: str, where: str, text: str) -> None:
    """A PlannerNotice when the limit `slo` ('tpot' or 'ttft') typed as a bare number falls in its
    `BARE_LIMIT_NOTE` bounds: bare numbers are seconds (as in problem files). The value is kept; the
    notice says how it was read."""
    try:
        v = float(text.strip())
    except ValueError:   # it carries a unit (or is not a number: refused elsewhere)
        return
    low, high, what = BARE_LIMIT_NOTE[slo]
    if low <= v <= high:
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"{where}: {text.strip()!r} is read as {v:g} s {what} (a bare number is seconds); "
                      f"write {text.strip()}ms for milliseconds", PlannerNotice, stacklevel=2)
