"""What a pydantic validation error says, in a user's words: one line per problem naming the
file, the field as written in the file (`gpus[0].price_per_gpu_hour`), the reason and the value
given; an unknown key with the closest allowed one. `files.validate` raises these as BadInput."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from planner.errors import folded, shown_json, shown_text, shown_value, thousands_hint

# Error types that only say "this union branch is the wrong kind of value"; dropped when
# another branch of the same field has a real complaint (e.g. a number below its minimum).
_BRANCH_MISMATCH = {"literal_error", "model_type", "model_attributes_type", "dict_type", "float_type", "float_parsing",
                    "int_type", "int_parsing", "string_type", "is_instance_of", "list_type"}


def _field_path(loc: tuple) -> str:
    """('workload', 'qps') → 'workload.qps'; list indices become [i]. A key's control and format
    characters are escaped, as the value's are: `"\\rplan: all good": 1` printed a raw carriage
    return that wrote over the file name, and `"\\e[2Jqps"` cleared the terminal."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + shown_text(part)
    return out or "(top level)"


def _user_loc(model: type[BaseModel], loc: tuple, error_type: str) -> tuple[tuple, int | None]:
    """The path as the user wrote it, without pydantic's union-branch and validator tags.

    Returns (path, depth at which a branch tag was dropped, or None). The last part of an
    'extra_forbidden' error is the user's unknown key, never a tag.
    """
    current: Any = model
    out: list = []
    branch_at = None
    dict_key_next = False  # the part after a dict-typed field is the user's key, not a tag
    for i, part in enumerate(loc):
        if dict_key_next and not (isinstance(part, str) and part.startswith("function-")):
            out.append(part)
            dict_key_next = False
            continue
        fields = getattr(current, "model_fields", None)
        user_key = error_type in ("extra_forbidden", "invalid_key") and i == len(loc) - 1
        # below a field that is not a model (a number, a list), a name can only be pydantic's
        # tag of a union branch ('list[…]', 'constrained-float'): users' keys live in models
        tag = isinstance(part, str) and not user_key and (
            part.startswith("function-") or (fields is not None and part not in fields)
            or (fields is None and i > 0))
        if tag:
            branch_at = len(out) if branch_at is None else branch_at
            continue
        out.append(part)
        if not isinstance(part, int) and fields is not None:
            ann = fields[part].annotation if part in fields else None
            current = _unwrap_model(ann) if ann is not None else None
            dict_key_next = getattr(ann, "__origin__", None) is dict
    return tuple(out), branch_at


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the sub-model at `loc` (for 'did you mean' on unknown keys)."""
    return list(_fields_at(model, loc))


DEFAULT_ADVICE = ", or leave the key out for its default"   # a value check's advice, true of a field with one


def _required(model: type[BaseModel], loc: tuple) -> bool:
    """Whether the field at `loc` has no default (leaving its key out is no way to fix its value)."""
    field = _fields_at(model, loc).get(loc[-1]) if loc else None
    return field is not None and field.is_required()


def _fields_at(model: type[BaseModel], loc: tuple) -> dict:
    """The fields of the sub-model holding `loc`'s last part ({} where none is known)."""
    current: Any = model
    dict_key_next = False
    for part in loc[:-1]:
        if isinstance(part, int) or current is None or dict_key_next:
            dict_key_next = False
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return {}
        ann = fields[part].annotation
        current = _unwrap_model(ann)
        dict_key_next = getattr(ann, "__origin__", None) is dict
    return getattr(current, "model_fields", {}) if current is not None else {}


def _unwrap_model(ann: Any) -> Any:
    """The BaseModel class inside an annotation such as Optional[X] or list[X], if any."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _relevant(errors: list[tuple[tuple, int | None, dict]]) -> list[tuple[tuple, dict]]:
    """Drop union-branch 'wrong kind' errors for a field when another branch says something real,
    or when another branch got inside the value (a mapping whose fields it complains about: the
    user wrote that branch's form, so "should be 'auto'" for `parallelism: {tp: '8'}` is noise)."""
    real_roots = {loc[:b] for loc, b, e in errors if b is not None and e["type"] not in _BRANCH_MISMATCH}
    entered = {loc[:b] for loc, b, e in errors if b is not None and len(loc) > b}
    return [(loc, e) for loc, b, e in errors
            if not (b is not None and e["type"] in _BRANCH_MISMATCH
                    and (loc[:b] in real_roots or (len(loc) == b and loc[:b] in entered)))]


_NAMES_FIELD = re.compile(r"[A-Za-z_][\w]*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*: ")   # 'gpus[0].spot_price: '


_CLASS_NAME = re.compile(r"a valid dictionary or instance of \w+")   # pydantic names the class, not the form


def _form(msg: str) -> str:
    """A union branch's 'Input should be X' as 'X', for 'Input should be A, or X'."""
    msg = _CLASS_NAME.sub("a mapping of its fields", msg)
    return msg[len("Input should be "):] if msg.startswith("Input should be ") else msg


MAX_PROBLEMS = 20   # lines of one file's message: 100,000 unknown keys printed 100,000 lines in 6 s


def _yaml_key(key: Any) -> str:
    """A mapping key YAML did not read as text, as it was written: 7, 1.5, true, null, 2026-01-01."""
    import datetime
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (datetime.date, datetime.datetime)):
        return key.isoformat()
    return shown_value(key)


def describe_validation_error(source: str, err: ValidationError, model: type[BaseModel], at: str = "") -> str:
    """One line per problem: 'file: field: reason', with a suggestion for misspelt keys; `at`: the
    path of the validated part inside its file (e.g. 'workload.trace'), put before every field. A
    value is shown as the file spells it: true, false and null (YAML and JSON), not Python's True,
    False and None.

    A misspelt key gives one line ('unknown key 'qsp'. Did you mean 'qps'?'), not also a
    'required field is missing' line for the key it was meant to be.
    """
    source = shown_text(source)   # a file name holding a newline or an escape sequence
    raw = []
    for e in err.errors():
        user, branch_at = _user_loc(model, tuple(e["loc"]), e["type"])
        raw.append((user, branch_at, e))
    errors = _relevant(raw)
    more = len(errors) - MAX_PROBLEMS
    errors = errors[:MAX_PROBLEMS]
    close: dict[int, list[str]] = {}   # an unknown key's closest allowed key, by error (searched once)
    import difflib  # here: only an invalid file needs it
    for i, (loc, e) in enumerate(errors):
        if e["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            # in any case and compatibility form: `QPS: 5` (as the docs write QPS) was 'unknown key' with no
            # hint beside 'qps: required field is missing', where 'Ttft' was offered 'ttft' (a hunt, 2026-12-07)
            allowed = {folded(k): k for k in reversed(_allowed_keys(model, loc))}
            close[i] = [allowed[k] for k in difflib.get_close_matches(folded(key), list(allowed), n=1, cutoff=0.6)]
    suggested = {errors[i][0][:-1] + (c[0],) for i, c in close.items() if c}
    lines = []
    branch_line: dict[tuple, int] = {}   # a field's line of union-branch mismatches, to join the next into
    for i, (loc, e) in enumerate(errors):
        if e["type"] == "invalid_key":   # a key YAML read as a number, true/false, null or a date: not a name
            where = _field_path(loc[:-1])
            lines.append(f"{source}: {at or where}: key {_yaml_key(e.get('input', loc[-1] if loc else ''))} is not "
                         f"a name; keys are names (quote it if it is meant as one)")
            continue
        field = _field_path(loc)
        if at:
            field = at if field == "(top level)" else at + ("" if field.startswith("[") else ".") + field
        if e["type"] in _BRANCH_MISMATCH and loc in branch_line:   # another accepted form: the same line
            j = branch_line[loc]
            lines[j] = lines[j].replace(" (got ", f", or {_form(e['msg'])} (got ", 1) \
                if " (got " in lines[j] else f"{lines[j]}, or {_form(e['msg'])}"
            continue
        if e["type"] in _BRANCH_MISMATCH:
            branch_line[loc] = len(lines)
        if e["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            hint = f" Did you mean {close[i][0]!r}?" if close[i] else ""
            lines.append(f"{source}: {field}: unknown key {key!r}.{hint}")
        elif e["type"] == "missing":
            if loc not in suggested:
                lines.append(f"{source}: {field}: required field is missing")
        else:
            msg = _CLASS_NAME.sub("a mapping of its fields", e["msg"])
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            if DEFAULT_ADVICE in msg and _required(model, loc):   # `model: ""` has no default to fall back on
                msg = msg.replace(DEFAULT_ADVICE, "")
            got = e.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {shown_json(got)})"
            if msg.endswith(shown[2:-1]):   # the check's own message already says what it got
                shown = ""
            if e["type"] in ("float_parsing", "int_parsing"):   # '1,250': what to write instead
                shown += thousands_hint(got)
            if field == "(top level)" and _NAMES_FIELD.match(msg):   # a model's check names the field itself
                lines.append(f"{source}: {msg}{shown}")
            else:
                lines.append(f"{source}: {field}: {msg}{shown}")
    if more > 0:
        lines.append(f"{source}: … and {more:,} more problem{'s' if more > 1 else ''} (the first {MAX_PROBLEMS} "
                     f"are shown)")
    return "\n".join(dict.fromkeys(lines))
