"""The files a loaded problem was read from (catalog files it names included): what no output of a
command may overwrite, --force or not."""

from __future__ import annotations

import os
from pathlib import Path

from planner.catalog.calibration import profile_file
from planner.catalog.hf_cache import cached_config, looks_like_hf_id
from planner.catalog.schemas import load_models
from planner.errors import BadInput
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem


def inputs_of(problem: Problem | FleetProblem, path: str | Path) -> tuple[tuple[str, str], ...]:
    """Every file a loaded problem was read from, as (path, what it is) pairs no output may
    overwrite, --force or not (`files.check_writable`'s protect): the problem file, each trace
    its workloads read, each model given as a config.json (or a folder holding one) or read from
    the Hugging Face cache, and the calibration profile, named by path or by name (`--out
    catalogs/calibration/mine.yaml --force` replaced the profile `calibration: mine` read)."""
    out = [(str(path), "the input file")]
    workloads = [problem.workload] if isinstance(problem, Problem) else [k.workload for k in problem.classes]
    for w in workloads:
        if w.trace_load is not None:
            out.append((w.trace_load.file, "the trace this problem reads"))
    models = [problem.model] if isinstance(problem, Problem) else [k.model for k in problem.classes]
    for m in models:
        p = Path(m)
        # os.path's checks are False for a name that cannot be a path (a 256-character model id made
        # Path.is_dir raise 'File name too long' here, before the problem's own check named the field)
        p = p / "config.json" if os.path.isdir(p) else p
        if os.path.isfile(p):
            out.append((str(p), "the model config this problem reads"))
        elif (cached := _cached_config(m)) is not None:   # a Hugging Face id read from the local cache
            out.append((str(cached), "the model config this problem reads"))
    if (profile := profile_file(problem.calibration)) is not None:   # by path, or by name (--force overwrote it)
        out.append((str(profile), "the calibration profile this problem reads"))
    return tuple(dict.fromkeys(out))


def _cached_config(model: str) -> Path | None:
    """The cached config.json a model id outside the catalog is read from, or None."""
    if model.strip().lower() in load_models() or not looks_like_hf_id(model):
        return None
    try:
        return cached_config(model)
    except BadInput:
        return None
