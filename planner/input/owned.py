"""Which existing files an `--out` may replace without --force: what plan wrote before, never a
file of the user's (a problem file, notes, another tool's page or JSON) that happens to sit at
the path. Each kind of output is recognised by what only plan writes, not by its format alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

from planner.errors import BadInput

# how a CSV table of plan begins (sweep frontier, what-if; the horizon what-if's table too)
OUTPUT_CSV_STARTS = (b"curve,point,", b"scenario,file,status,")
# the mark every HTML page of plan carries in its <head> (report.plots, report.horizon_chart)
HTML_GENERATOR_META = '<meta name="generator" content="planner">'
HTML_GENERATOR = HTML_GENERATOR_META.encode()
# top-level keys that together say which JSON output of plan a file is
OUTPUT_JSON_KEYSETS = (
    frozenset({"schema_version", "status", "problem", "solver", "verification", "calibration"}),  # plan solve --out
    frozenset({"schema_version", "curves", "rows"}),              # plan sweep --out (frontier)
    frozenset({"base", "scenarios", "currency"}),                 # plan whatif --json
    frozenset({"passed", "pools", "violations", "warmup_fraction"}),   # plan simulate --json
    frozenset({"decode_tokens_per_s", "fixed_ttft_s", "breakdown"}),   # plan eval --json
    frozenset({"cv_folds", "files", "points", "summary", "load"}),     # plan validate --json
)
SCHEMA_TITLE_PREFIX = "planner "                                  # plan schema --out
# every PNG plan draws carries this tEXt chunk (report/: savefig(..., metadata=PNG_METADATA))
PNG_METADATA = {"Software": "planner"}
PNG_SOFTWARE = b"Software\x00" + PNG_METADATA["Software"].encode()
# the first line of every calibration profile plan calibrate writes (catalog.calibration)
PROFILE_HEADER = b"# Calibration profile written by `plan calibrate`"
OUTPUT_SCAN_BYTES = 64 << 20   # a plan JSON this large is not one a user wrote by hand


def _json_kind(data: bytes) -> str | None:
    """Which of plan's JSON outputs `data` is ('json:schema', 'json:0' … by OUTPUT_JSON_KEYSETS), or
    None: a JSON object with the top-level keys of one of them, or plan's own schema."""
    try:
        d = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(d, dict):
        return None
    if isinstance(d.get("$schema"), str) and str(d.get("title", "")).startswith(SCHEMA_TITLE_PREFIX):
        return "json:schema"
    return next((f"json:{i}" for i, keys in enumerate(OUTPUT_JSON_KEYSETS) if keys <= d.keys()), None)


def output_kind(data: bytes) -> str | None:
    """The kind of plan's output `data` is: '' (empty), 'csv', 'json:…', 'html', 'png', 'profile';
    None when plan did not write it (`written_by_planner`)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return ""
    if head.startswith(OUTPUT_CSV_STARTS):
        return "csv"
    if head.startswith(b"{"):
        return _json_kind(data)
    if head[:15].lower() == b"<!doctype html>":
        return "html" if HTML_GENERATOR in data[:4096] else None
    if head.startswith(b"\x89PNG"):
        return "png" if PNG_SOFTWARE in data[:4096] else None
    return "profile" if head.startswith(PROFILE_HEADER) else None


def existing_kind(path: Path) -> str | None:
    """The `output_kind` of the file at `path` (read once, at most OUTPUT_SCAN_BYTES), None when
    plan did not write it or it cannot be read."""
    try:
        if path.stat().st_size > OUTPUT_SCAN_BYTES:
            return None
        return output_kind(path.read_bytes())
    except OSError:
        return None


def same_kind(kind: str, new: str | bytes) -> bool:
    """Whether `new` may replace an output of plan of `kind` without --force: the old file is
    empty, or `new` is an output of the same kind. A calibration profile fitted for minutes was
    replaced by `plan schema --out` or a plan JSON, as anything plan had written was replaceable
    by any command (a hostile-input hunt, 2026-12-05)."""
    return kind == "" or kind == output_kind(new.encode(errors="backslashreplace") if isinstance(new, str) else new)


def written_by_planner(path: Path) -> bool:
    """Whether an existing file may be replaced without --force: empty (nothing to lose), or what
    plan writes — a JSON output (plan, frontier, what-if, simulation, eval, schema:
    `output_kind`), a CSV table of sweep or what-if, an HTML chart carrying plan's generator
    mark, a PNG carrying plan's Software chunk, a calibration profile under plan's header line.
    Anything else (a problem file, notes, another tool's page, JSON or figure) is the user's and
    is never replaced by accident."""
    return existing_kind(path) is not None


def check_named(option: str, path: str | Path, suffixes: tuple[str, ...], fix: str, any_case: bool = False) -> None:
    """BadInput when an output's file name is one of `suffixes` alone ('.yaml', '.png'): a hidden
    file without a suffix to Python, so the caller's suffix check told "must end .yaml" of '.yaml'.
    `fix` ends the message; '{name}' in it stands for the name given. `any_case`: '.PNG' too."""
    name = Path(path).name
    if (name.lower() if any_case else name) in suffixes:
        raise BadInput(f"{option} {path}: no name before {name} (a hidden file of that name); "
                       + fix.format(name=name))


def check_format_suffix(option: str, path: str | Path, suffixes: tuple[str, ...], what: str) -> None:
    """BadInput unless an output's file name is NAME plus one of `suffixes` (any case): the format
    `what` ('chart', 'table') is written in ('--plot .png' is `check_named`'s, 'out.json' for a
    CSV this one's)."""
    names = " or ".join(f"NAME{x}" for x in suffixes)
    check_named(option, path, suffixes, f"name the {what} {names}", any_case=True)
    if Path(path).suffix.lower() not in suffixes:
        raise BadInput(f"{option} {path}: the file name must end {' or '.join(suffixes)} (the {what}'s format)")


def check_distinct(outputs: dict[str, str | Path | None]) -> None:
    """BadInput when two output options (name → path; None: not given) name one file: the second
    write would replace the first's output."""
    seen: dict[str, tuple[str, str | Path]] = {}
    for option, path in outputs.items():
        if not path:
            continue
        key = os.path.realpath(path)
        if key in seen:
            first, first_path = seen[key]
            raise BadInput(f"{option} {path}: the same file as {first} {first_path}; give each output "
                           f"its own path")
        seen[key] = (option, path)
