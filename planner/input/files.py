"""Read user-written YAML/JSON and turn pydantic errors into one message naming file, field, reason."""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import BadInput


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing file or a syntax error is BadInput with line and column."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: file not found")
    if p.is_dir():
        raise BadInput(f"{p}: is a directory, expected a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{p}: cannot read the file ({e})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise BadInput(f"{p}: YAML syntax error{where}: {problem}{_yaml_context(e)}") from None


def _yaml_context(e: yaml.YAMLError) -> str:
    """' (in the flow sequence started at line 10, column 8)' when PyYAML knows where it began."""
    ctx, mark = getattr(e, "context", None), getattr(e, "context_mark", None)
    if not ctx or mark is None:
        return ""
    return f" ({ctx.removeprefix('while ')} started at line {mark.line + 1}, column {mark.column + 1})"


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing file or a syntax error is BadInput with line and column."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BadInput(f"{p}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{p}: cannot read the file ({e})") from None


# Error types that only say "this union branch is the wrong kind of value"; dropped when
# another branch of the same field has a real complaint (e.g. a number below its minimum).
_BRANCH_MISMATCH = {"literal_error", "model_type", "model_attributes_type", "dict_type",
                    "int_type", "int_parsing", "string_type", "is_instance_of", "list_type"}


def _field_path(loc: tuple) -> str:
    """('workload', 'qps') → 'workload.qps'; list indices become [i]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
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
        user_key = error_type == "extra_forbidden" and i == len(loc) - 1
        tag = isinstance(part, str) and (part.startswith("function-") or (
            fields is not None and part not in fields and not user_key))
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
    current: Any = model
    dict_key_next = False
    for part in loc[:-1]:
        if isinstance(part, int) or current is None or dict_key_next:
            dict_key_next = False
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        ann = fields[part].annotation
        current = _unwrap_model(ann)
        dict_key_next = getattr(ann, "__origin__", None) is dict
    fields = getattr(current, "model_fields", {}) if current is not None else {}
    return list(fields)


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
    """Drop union-branch 'wrong kind' errors for a field when another branch says something real."""
    real_roots = {loc[:b] for loc, b, e in errors if b is not None and e["type"] not in _BRANCH_MISMATCH}
    return [(loc, e) for loc, b, e in errors
            if not (b is not None and e["type"] in _BRANCH_MISMATCH and loc[:b] in real_roots)]


def describe_validation_error(source: str, err: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem: 'file: field: reason', with a suggestion for misspelt keys.

    A misspelt key gives one line ('unknown key 'qsp'. Did you mean 'qps'?'), not also a
    'required field is missing' line for the key it was meant to be.
    """
    raw = []
    for e in err.errors():
        user, branch_at = _user_loc(model, tuple(e["loc"]), e["type"])
        raw.append((user, branch_at, e))
    errors = _relevant(raw)
    suggested = set()
    lines = []
    for loc, e in errors:
        if e["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            close = difflib.get_close_matches(key, _allowed_keys(model, loc), n=1, cutoff=0.6)
            if close:
                suggested.add(loc[:-1] + (close[0],))
    for loc, e in errors:
        field = _field_path(loc)
        if e["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            close = difflib.get_close_matches(key, _allowed_keys(model, loc), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{source}: {field}: unknown key {key!r}.{hint}")
        elif e["type"] == "missing":
            if loc not in suggested:
                lines.append(f"{source}: {field}: required field is missing")
        else:
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            got = e.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            lines.append(f"{source}: {field}: {msg}{shown}")
    return "\n".join(dict.fromkeys(lines))


def validate(model: type[BaseModel], data: Any, source: str):
    """model.model_validate(data), with errors raised as BadInput naming `source`."""
    if data is None:
        raise BadInput(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected a mapping of keys at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise BadInput(describe_validation_error(source, e, model)) from None


def check_writable(path: str | Path, protect: tuple[str | Path, ...] = ()) -> Path:
    """BadInput unless `path` may be written: its directory exists and it is not an input file.
    Returns the directory. Called before long work, so a bad --out fails fast."""
    p = Path(path)
    for q in protect:
        if Path(q).exists() and p.exists() and os.path.samefile(p, q):
            raise BadInput(f"{p}: refusing to overwrite the input file; choose another --out path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"{p}: directory {parent} does not exist")
    return parent


def atomic_write(path: str | Path, text: str | bytes, protect: tuple[str | Path, ...] = ()) -> None:
    """Write `text` (str or bytes) to `path` via a temporary file and rename; refuse to overwrite
    `protect`ed inputs, so a crash leaves the old file or the new one, never half of one."""
    p = Path(path)
    parent = check_writable(p, protect)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8")) as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
