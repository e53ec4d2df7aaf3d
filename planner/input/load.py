"""Read a problem file of either kind: a single workload (`Problem`) or a fleet (`FleetProblem`).

Errors name the file, the field path and the reason (BadInput, exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import BadInput
from planner.input.files import read_yaml, validate
from planner.input.fleet import FleetProblem
from planner.input.problem import Problem


def is_fleet(data: Any) -> bool:
    """A problem file describes a fleet when it lists `classes`."""
    return isinstance(data, dict) and "classes" in data


def load_problem(path: str | Path) -> Problem:
    """Read and validate a single-workload problem YAML."""
    data = read_yaml(path)
    if is_fleet(data):
        raise BadInput(f"{path}: classes: this file describes a fleet (several request classes); "
                       f"fleets are solved by `plan solve` — this command takes a single-workload problem")
    return validate(Problem, data, str(path))


def load_fleet(path: str | Path) -> FleetProblem:
    """Read and validate a fleet problem YAML."""
    return validate(FleetProblem, read_yaml(path), str(path))


def load_any(path: str | Path) -> Problem | FleetProblem:
    """A problem file of either kind: a fleet (it lists `classes`) or a single workload."""
    data = read_yaml(path)
    return validate(FleetProblem if is_fleet(data) else Problem, data, str(path))
