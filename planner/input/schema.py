"""Building blocks of every file a user writes (and of the catalogs): a strict, frozen base model
and the precisions a number can be stored in. Unknown keys are errors everywhere.

Every number in every schema is finite (`allow_inf_nan=False`: NaN and ±inf are refused) and a
boolean is never a number (`qps: true` is an error, not 1): YAML and JSON write `true` where a
user meant neither, and Python would silently count it as 1. Each field adds its own sign, range
and integrality with `Field(...)`.
"""

from __future__ import annotations

import functools
import types
import typing
import warnings
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from planner.errors import PlannerDeprecation

Precision = Literal["bf16", "fp16", "fp8", "int8", "fp4"]


def admits(annotation: Any, t: type) -> bool:
    """Whether a field's type names `t` (or Any) anywhere: Annotated, unions, lists, dicts; a nested
    model's own fields do not count (a bare value is never a valid model)."""
    if annotation is t or annotation is Any:
        return True
    return any(admits(a, t) for a in typing.get_args(annotation) if not isinstance(a, (str, int, float)))


def admits_bool(annotation: Any) -> bool:
    """Whether a field's type names `bool` (or Any) anywhere: a boolean is then a value, not a mistake."""
    return admits(annotation, bool)


def _first_bool(value: Any, annotation: Any) -> str | None:
    """Where a boolean hides in a number-only value: '' for the value itself, '[2]' or '.key'."""
    if isinstance(value, bool):
        return ""
    origin = typing.get_origin(annotation)
    if isinstance(value, (list, tuple)) and origin not in (dict, None, Literal):
        for i, x in enumerate(value):
            if isinstance(x, bool):
                return f"[{i}]"
    if isinstance(value, dict) and origin is dict:
        for k, x in value.items():
            if isinstance(x, bool):
                return f".{k}"
    if origin in (typing.Union, types.UnionType):
        for a in typing.get_args(annotation):
            where = _first_bool(value, a) if typing.get_origin(a) in (list, dict) else None
            if where:
                return where
    return None


HUGE_INT = 10**18   # beyond it a whole number is no count, price or size planner takes


def _huge_int(value: Any, annotation: Any = None) -> int:
    """Bits of the first whole number in `value` (itself, an element of a list, or a value of a
    mapping-typed field; a nested model checks its own fields) too large for any planner field
    (HiGHS and floats cannot hold it exactly), else 0."""
    mapping = isinstance(value, dict) and typing.get_origin(annotation) is dict
    items = value if isinstance(value, (list, tuple)) else value.values() if mapping else (value,)
    for x in items:
        if isinstance(x, int) and not isinstance(x, bool) and abs(x) > HUGE_INT:   # as the message says
            return x.bit_length()
    return 0


def _whole_numbers(annotation: Any) -> bool:
    """A field of whole numbers (a float field reads a huge int as a float, and pydantic refuses
    one beyond the float range itself)."""
    return admits(annotation, int) and not admits(annotation, float)


def _bounded_above(field: Any) -> bool:
    """Whether a field declares its own upper bound (le/lt), whose message names the limit."""
    return any(getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None for m in field.metadata)


@functools.cache
def _number_checks(cls: type[BaseModel], name: str) -> tuple[Any, bool] | None:
    """What `Strict` checks of field `name` of `cls`, worked out once per class and field (the
    annotation walk was a third of validating a catalog): None when a boolean is a value there (or
    there is no such field), else its annotation and whether a whole number above 10^18 is refused
    (a field of whole numbers with no upper bound of its own)."""
    field = cls.model_fields.get(name)
    if field is None or admits_bool(field.annotation):
        return None
    return field.annotation, _whole_numbers(field.annotation) and not _bounded_above(field)


@functools.cache
def _literal_names(cls: type[BaseModel], name: str) -> tuple[dict[str, str], bool]:
    """The values field `name` of `cls` takes from a Literal (through Annotated, unions, lists and a
    mapping's keys and values; a nested model checks its own fields), by their lower case → as
    written, and whether the field is a mapping (whose keys and values are such names)."""
    field = cls.model_fields.get(name)
    names: dict[str, str] = {}
    mapping = False

    def walk(a: Any) -> None:
        nonlocal mapping
        if typing.get_origin(a) is Literal:
            names.update((x.lower(), x) for x in typing.get_args(a) if isinstance(x, str))
            return
        if isinstance(a, type) and issubclass(a, BaseModel):
            return
        mapping = mapping or typing.get_origin(a) is dict
        for x in typing.get_args(a):
            if not isinstance(x, (str, int, float)):
                walk(x)
    if field is not None:
        walk(field.annotation)
    return names, mapping


def _canonical(names: dict[str, str], v: Any) -> Any:
    """`v` as the Literal writes it when it is one of `names` in other (ASCII) case, else as given."""
    return names.get(v.lower(), v) if isinstance(v, str) and v.isascii() else v


def canonical_case(cls: type[BaseModel], name: str, v: Any) -> Any:
    """A value of a field with named values (a Literal: `precision: FP8`, `statistic: P90`, `mode:
    AGG`) read in any case, as the field writes it ('fp8'); a list's names and a mapping's keys and
    values alike. Until 2026-12-07 every such field refused its names in capitals."""
    names, mapping = _literal_names(cls, name)
    if not names:
        return v
    if isinstance(v, list):
        return [_canonical(names, x) for x in v]
    if isinstance(v, dict) and mapping:
        out = {_canonical(names, k): _canonical(names, x) for k, x in v.items()}
        if len(out) < len(v):   # 'FP8' and 'fp8' both given: one would be dropped without a word
            same = sorted(k for k in v if isinstance(k, str) and sum(_canonical(names, j) == _canonical(names, k)
                                                                   for j in v) > 1)
            raise ValueError(f"{' and '.join(map(repr, same))} name the same key (names are read in any case): "
                             f"give it once")
        return out
    return _canonical(names, v)


class Strict(BaseModel):
    """Frozen model that rejects unknown keys, NaN and infinities, and booleans given as numbers, and
    reads a Literal's names in any case (`canonical_case`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)
    RENAMED: ClassVar[dict[str, str]] = {}   # a deprecated key → the key that replaced it

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, v: Any) -> Any:
        """Read a deprecated key as its new name (a PlannerDeprecation warning says so); both at
        once is an error, since they would be two values for one setting."""
        if not cls.RENAMED or not isinstance(v, dict):
            return v
        out = dict(v)
        for old, new in cls.RENAMED.items():
            if old in out:
                if new in out:
                    raise ValueError(f"give {new} or the deprecated {old}, not both")
                out[new] = out.pop(old)
                warnings.warn(f"{old} is deprecated; write {new} (same value, in the problem's currency)",
                              PlannerDeprecation, stacklevel=2)
        return out

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, v: Any, info: ValidationInfo) -> Any:
        v = canonical_case(cls, info.field_name or "", v)
        checks = _number_checks(cls, info.field_name or "")
        if checks is None:
            return v
        annotation, refuse_huge = checks
        if refuse_huge and _huge_int(v, annotation):
            raise ValueError("too large; no planner value is above 10^18")
        where = _first_bool(v, annotation)
        if where is not None:   # a mapping's key reads 'field: key: …', a list's element 'field: element [i]: …'
            at = where[1:] + ": " if where.startswith(".") else "element " + where + ": " if where else ""
            raise ValueError(f"{at}true/false is not a number "
                             f"or a name here; write the value itself (YAML also reads yes/no/on/off "
                             f"as booleans)")
        return v
