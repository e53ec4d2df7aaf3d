"""Read a problem file of either kind: a single workload (`Problem`) or a fleet (`FleetProblem`).

Errors name the file, the field path and the reason (BadInput, exit 2).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.errors import BadInput, PlannerNotice, unexpanded
from planner.input.files import read_yaml, validate
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem, TraceSpec
from planner.input.trace import TraceLoad, read_trace
from planner.input.units import note_bare_limit
from planner.input.yamltext import YAML_SUFFIXES


def is_fleet(data: Any) -> bool:
    """A problem file describes a fleet when it lists `classes`."""
    return isinstance(data, dict) and "classes" in data


def expand_trace(data: Any, path: str | Path, at: str = "") -> TraceLoad | None:
    """Read `workload.trace` of a problem's data into its profile, in place (module trace.py):
    profile = the trace's QPS per period (and, with `lengths: period`, each period's length
    distributions); qps, input_tokens and output_tokens, when not written, = its busiest period and
    the whole trace's length distributions. Lengths written in the problem win. Errors name the
    problem file and field."""
    w = data.get("workload") if isinstance(data, dict) else None
    if not isinstance(w, dict) or "trace" not in w:
        return None
    spec = validate(TraceSpec, w["trace"], str(path), at="workload.trace")
    if w.get("profile") is not None:
        raise BadInput(f"{path}: workload: give either profile or trace; the trace makes the profile")
    file = Path(spec.file) if Path(spec.file).is_absolute() else Path(path).parent / spec.file
    try:
        load = read_trace(file, spec.period, spec.scale, spec.fold)
    except BadInput as e:
        raise BadInput(f"{path}: workload.trace.file: {e}") from None
    if max(load.qps) < 1e-15:   # else blamed on workload.qps, a field the user did not write
        raise BadInput(f"{path}: workload.trace.scale: {spec.scale:g} makes the busiest period {max(load.qps):g} "
                       f"requests/s, below 1e-15 (one request in 30 million years)")
    w["profile"] = {"period": spec.period, "qps": load.qps}
    if spec.lengths == "period":   # each period's own distribution, unless the problem writes lengths
        for key, per in (("input_tokens", load.period_input), ("output_tokens", load.period_output)):
            if key not in w:
                w["profile"][key] = [{"values": v, "weights": x} for v, x in per]
    load = replace(load, lengths_written=tuple(k for k in ("input_tokens", "output_tokens") if k in w))
    if load.lengths_written:   # planned as written, while the trace's summary line showed the trace's (a hunt)
        warnings.warn(f"{path}: {at}workload.{' and '.join(load.lengths_written)}: written beside workload.trace, so "
                      f"every period plans {'them' if len(load.lengths_written) > 1 else 'it'} as written; the "
                      f"trace's lengths are not used there (remove {' and '.join(load.lengths_written)} to plan "
                      f"them)", PlannerNotice, stacklevel=3)
    w.setdefault("qps", max(load.qps))
    w.setdefault("input_tokens", {"values": load.input_values, "weights": load.input_weights})
    w.setdefault("output_tokens", {"values": load.output_values, "weights": load.output_weights})
    return load


HF_PAGE = re.compile(r"(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/([\w.-]+/[\w.-]+)/?(?:[/?#].*)?")


def hf_page_id(name: str) -> str | None:
    """The model id in the address of a Hugging Face page (`https://huggingface.co/ORG/NAME/…`, as
    pasted from a browser), or None: `model:` and `--model` of one read 'unknown model' beside the
    catalog's list, or 'file not found' ending config.json, though the id was in the catalog.

    >>> hf_page_id("https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json")
    'meta-llama/Llama-3.1-8B'
    """
    page = HF_PAGE.fullmatch(name.strip())
    return page[1] if page else None


def beside(data: Any, key: str, path: str | Path, at: str = "") -> None:
    """A file a problem names in `data[key]` (a model's config.json or its folder, a calibration
    profile), read as a trace is: relative to the problem file; else from the current directory
    (where it alone was looked for until 2026-12-03). Rewritten in place to the path this process opens (so the plan's
    `model_source` works from here); a name that is no file in either place (a catalog or Hugging
    Face id, a profile name) is left alone, except a path ending in .json or .yaml, which is an
    error naming both places. A bare name (no '/', no such suffix) stays a catalog id or profile
    name, as it always was."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip() or "\0" in value or Path(value).is_absolute():
        return   # (a NUL byte is no path: the schema's Name refuses it with a message)
    suffixes = (".json",) if key == "model" else YAML_SUFFIXES
    if "/" not in value and os.sep not in value and Path(value).suffix.lower() not in suffixes:
        return   # a bare name is a catalog id or profile name first, as it always was
    here = Path(path).parent
    near = here / value
    if here != Path(".") and near.exists():
        data[key] = str(near)
        return
    if not Path(value).exists() and Path(value).suffix.lower() in suffixes and "\n" not in value \
            and not (key == "model" and hf_page_id(value)):   # the model's reader names the id
        raise BadInput(f"{path}: {at}{key}: {value}: file not found beside the problem file ({here}) "
                       f"nor in the current directory ({Path.cwd()}){unexpanded(value)}")


def note_bare_limits(data: Any, where: str) -> None:
    """A note when `slo.tpot` is a bare number of a second or more, or `slo.ttft` one of 100 or more
    (`units.note_bare_limit`; a bare number is seconds: `tpot: 50` planned 50 s a token and `ttft:
    500` a first token within 500 s, where `plan init` and `plan sweep` said so; `tpot: "50"`,
    quoted, said nothing)."""
    slo = data.get("slo") if isinstance(data, dict) else None
    for key in ("tpot", "ttft"):
        v = slo.get(key) if isinstance(slo, dict) else None
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):   # "50" quoted is a bare number too
            note_bare_limit(key, f"{where}slo.{key}", str(v))


def _note_percent(field: str, v: Any, what: str) -> None:
    """A note when a percent field holds a bare number between 0 and 1: it is read as a percentage,
    0.5 as half a per cent, where a fraction meant half (`slo.confidence: 0.9` is refused so; a
    cache hit or a spot share of 0.5 % is a real one, so these stand, with a word)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1:
        warnings.warn(f"{field}: {v:g} is read as {v:g} % {what} (a percentage, not a fraction); write "
                      f"{v * 100:g} for {v * 100:g} %", PlannerNotice, stacklevel=3)


def note_small_percent(data: Any, where: str) -> None:
    """`_note_percent` of `workload.prefix_cache_hit_percent`."""
    w = data.get("workload") if isinstance(data, dict) else None
    if isinstance(w, dict):
        _note_percent(f"{where}workload.prefix_cache_hit_percent", w.get("prefix_cache_hit_percent"),
                      "of prompt tokens cached")


def note_gpu_percents(data: Any, where: str) -> None:
    """`_note_percent` of each GPU's spot share and interruption (`spot_max_share_percent: 0.5` was
    0.5 % without a word)."""
    gpus = data.get("gpus") if isinstance(data, dict) else None
    for i, g in enumerate(gpus if isinstance(gpus, list) else []):
        if isinstance(g, dict):
            _note_percent(f"{where}gpus[{i}].spot_max_share_percent", g.get("spot_max_share_percent"),
                          "of the nodes spot at most")
            _note_percent(f"{where}gpus[{i}].spot_interruption_percent", g.get("spot_interruption_percent"),
                          "of the spot nodes interrupted")


def note_slips(data: Any, where: str) -> None:
    """The notes of values that stand but were likely meant otherwise (`note_bare_limits`,
    `note_bare_power`, `note_small_percent`, `note_gpu_percents`, `note_percent_fractions`), once
    the data is valid: of a value out of its domain the error speaks."""
    note_bare_limits(data, where)
    note_bare_power(data, where)
    note_small_percent(data, where)
    note_gpu_percents(data, where)
    note_percent_fractions(data, where)


BARE_POWER_NOTE_W = 10_000.0   # a bare limits.power below this (about two nodes' draw) reads like kilowatts


def note_bare_power(data: Any, where: str) -> None:
    """A note when `limits.power` is a bare number below 10,000: a bare number is watts, so `power:
    150`, meant as 150 kW, was a 150 W cap no node fits, refused as infeasible with no word of how
    it was read (a hunt, 2026-12-07). The value stands; a power with its unit says nothing."""
    limits = data.get("limits") if isinstance(data, dict) else None
    v = limits.get("power") if isinstance(limits, dict) else None
    x = _as_float(v)   # None for a boolean, a word, a list
    if x is not None and 0 < x < BARE_POWER_NOTE_W:
        warnings.warn(f"{where}limits.power: {str(v).strip()!r} is read as {x:g} W (a bare number is watts); "
                      f"write {str(v).strip()}kW for kilowatts", PlannerNotice, stacklevel=2)


PERCENT_LIKE_FRACTION = 10.0   # a busiest qps_fraction from here to 100 reads like a percentage


def note_percent_fractions(data: Any, where: str) -> None:
    """A note when `workload.profile.qps_fraction` peaks between 10 and 100: fractions written as
    percentages (`[55, …, 100]`) planned a day at 100 × workload.qps without a word (a hunt,
    2026-12-07). A peak above workload.qps is a real one (1 is workload.qps), so it stands."""
    w = data.get("workload") if isinstance(data, dict) else None
    profile = w.get("profile") if isinstance(w, dict) else None
    fractions = profile.get("qps_fraction") if isinstance(profile, dict) else None
    values = [_as_float(f) for f in fractions] if isinstance(fractions, list) else []
    if not values or None in values:   # valid by now: numbers, or numbers YAML 1.1 left as text
        return
    peak = max(values)
    if PERCENT_LIKE_FRACTION <= peak <= 100:
        qps = _as_float(w.get("qps"))
        rate = f", {peak * qps:,.6g} req/s" if qps is not None else ""
        warnings.warn(f"{where}workload.profile.qps_fraction: the busiest period is {peak:g} × workload.qps{rate} "
                      f"(1 is workload.qps itself); if these are percentages, divide them by 100", PlannerNotice,
                      stacklevel=3)


def _as_float(x: Any) -> float | None:
    """x as a number, or None (a boolean, a word)."""
    try:
        return None if isinstance(x, bool) else float(x)
    except (TypeError, ValueError):
        return None


SCENARIO_ONLY = ("buy",)   # top-level keys only a what-if scenario has
SCENARIO_EDITS = {"gpus": ("update", "add", "remove", "set"), "workload": ("qps_multiplier",)}


def is_scenario(data: Any) -> bool:
    """Whether a file without `model:` reads as a what-if scenario (docs/studies.md): it buys, edits
    the GPU list (update/add/remove/set) or scales the load (qps_multiplier)."""
    if not isinstance(data, dict) or "model" in data or "classes" in data:
        return False
    return any(k in data for k in SCENARIO_ONLY) or any(
        isinstance(data.get(section), dict) and any(k in data[section] for k in keys)
        for section, keys in SCENARIO_EDITS.items())


def other_kind(data: Any) -> str | None:
    """What a file given as a problem is instead, when it is plainly another of the project's files
    (a plan, profile, schema, catalog or measurements: each listed up to twenty missing and unknown
    keys, a hunt), with what reads it; None otherwise."""
    if not isinstance(data, dict):
        return None
    if ("pools" in data or "periods" in data) and ("verification" in data or "kind" in data):
        return "a plan file (written by plan solve --out): plan simulate and plan export read it"
    if "model" in data or "classes" in data:
        return None
    if is_scenario(data):   # given as a profile or measurements it listed each missing key (a hunt, 2026-12-07)
        return "a what-if scenario: plan whatif BASE.yaml SCENARIO.yaml reads it after its base"
    if "compute_efficiency" in data:   # catalog.calibration.is_profile_data's test: input/ imports no catalog
        return "a calibration profile: a problem names it as calibration: NAME or PATH"
    if "$schema" in data or "$defs" in data:
        return "a JSON schema (plan schema): editors read it"
    if set(data) in ({"gpus"}, {"models"}) or {"families", "unknown_family_reference"} <= set(data):
        return "a catalog file (catalogs/): plan reads it on every run"
    if set(data) == {"points"}:
        return "a measurements file: plan validate and plan calibrate read it"
    if {"base", "scenarios"} <= set(data) or {"axes", "curves", "rows"} <= set(data):
        return "a study's results (plan whatif --json, or a sweep's frontier.json): no command reads them back"
    return None


def _refuse_other_kind(data: Any, path: str | Path) -> None:
    """BadInput in one line when `other_kind` knows the file."""
    if (kind := other_kind(data)) is not None:
        raise BadInput(f"{path}: {kind}; a problem file is YAML with model, workload and slo (plan init "
                       f"writes one)")


def _problem(data: Any, path: str | Path) -> Problem:
    """Validate a single-workload problem, its trace read first."""
    if is_scenario(data):   # it listed every missing field of a problem (a hunt, 2026-12-05)
        raise BadInput(f"{path}: a what-if scenario (it edits a base problem: gpus.update/add/remove/set, "
                       f"qps_multiplier or buy), given as a problem; run plan whatif BASE.yaml {path}")
    _refuse_other_kind(data, path)
    for key in ("model", "calibration"):
        beside(data, key, path)
    written_qps = _writes_qps(data)
    load = expand_trace(data, path)
    problem = validate(Problem, data, str(path))
    note_slips(data, f"{path}: ")
    problem.workload._trace_load = load
    if written_qps:
        _note_unused_qps(problem.workload, f"{path}: workload")
    return problem


def _writes_qps(data: Any) -> bool:
    """Whether a problem's (or a class's) data writes workload.qps itself (read before a trace
    fills it in)."""
    return isinstance(data, dict) and isinstance(data.get("workload"), dict) and "qps" in data["workload"]


def _note_unused_qps(w, where: str) -> None:
    """A note (stderr) when the qps a user wrote is not the one planned for: a profile given in
    requests/s (`profile.qps`, or a trace read into it) sets every period's QPS itself."""
    if w.profile is None or w.profile.qps is None or w.qps == max(w.profile.qps):
        return
    source = "the trace" if w.trace is not None else "profile.qps"
    scale = "workload.trace.scale" if w.trace is not None else "profile.qps_fraction"   # a trace takes no fractions
    warnings.warn(f"{where}.qps: {w.qps:g} req/s is not used; {source} gives each period's requests/s "
                  f"(busiest {max(w.profile.qps):g}): remove qps, or use {scale} to scale it",
                  PlannerNotice, stacklevel=3)


def load_problem(path: str | Path) -> Problem:
    """Read and validate a single-workload problem YAML."""
    data = read_yaml(path)
    if is_fleet(data):
        raise BadInput(f"{path}: classes: this file describes a fleet (several request classes); "
                       f"fleets are solved by `plan solve` — this command takes a single-workload problem")
    return _problem(data, path)


def _fleet(data: Any, path: str | Path) -> FleetProblem:
    """Validate a fleet, every class's trace read into its profile first."""
    _refuse_other_kind(data, path)   # a fleet's or a day's plan lists classes too
    loads = []
    beside(data, "calibration", path)
    classes = data.get("classes") if isinstance(data, dict) else None
    for i, k in enumerate(classes if isinstance(classes, list) else []):
        beside(k, "model", path, f"classes[{i}].")
        try:
            loads.append(expand_trace(k, path, f"classes[{i}].") if isinstance(k, dict) else None)
        except BadInput as e:
            raise BadInput(str(e).replace(f"{path}: workload", f"{path}: classes[{i}].workload", 1)) from None
    written = [_writes_qps(k) for k in (classes if isinstance(classes, list) else [])]
    try:
        fleet = validate(FleetProblem, data, str(path))
    except BadInput as e:
        raise BadInput(_class_keys_hint(str(e), str(path))) from None
    note_bare_power(data, f"{path}: ")   # the fleet's own limits (its classes' slips below)
    for i, k in enumerate(classes if isinstance(classes, list) else []):
        note_slips(k, f"{path}: classes[{i}].")
    note_gpu_percents(data, f"{path}: ")   # the fleet's GPUs (its classes have none)
    for i, (k, load) in enumerate(zip(fleet.classes, loads)):
        k.workload._trace_load = load
        if written[i]:
            _note_unused_qps(k.workload, f"{path}: classes[{i}].workload")
    return fleet


CLASS_KEYS = ("model", "precision", "workload", "slo")   # a single problem's keys a fleet has per class


def _class_keys_hint(message: str, path: str) -> str:
    """A fleet's message with a hint after each unknown top-level key that belongs in a class: a
    single problem's `model:` left at the top said only `unknown key 'model'`."""
    for key in CLASS_KEYS:
        message = message.replace(f"{path}: {key}: unknown key {key!r}.",
                                  f"{path}: {key}: unknown key {key!r}. A fleet's {key} is given in each class "
                                  f"(classes[i].{key}); move it there.")
    return message


def load_fleet(path: str | Path) -> FleetProblem:
    """Read and validate a fleet problem YAML."""
    return _fleet(read_yaml(path), path)


def load_any(path: str | Path) -> Problem | FleetProblem:
    """A problem file of either kind: a fleet (it lists `classes`) or a single workload."""
    data = read_yaml(path)
    return _fleet(data, path) if is_fleet(data) else _problem(data, path)
