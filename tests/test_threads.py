"""`solver.threads`: HiGHS's parallel MIP search with that many workers.

HiGHS 1.16's parallel search gives the same result for a given worker count whatever the machine
and the run (its `mip_search_simulate_concurrency` runs the same search on one thread), so a plan
at `threads: 2` is the same plan on every run, and of the proven optimum's cost within the gap.
HiGHS keeps one process-wide thread pool sized by its first run; a run asking another count failed
('the highs solver failed'), so planner makes the pool again when the count changes. CBC and plans
over periods refuse more than one thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner.input.load import load_any
from planner.plan.solve import solve
from planner.report.json import plan_json
from tests.test_node_gap import run

ROOT = Path(__file__).resolve().parent.parent


def with_solver(name: str, tmp_path: Path, **solver) -> Path:
    data = yaml.safe_load((ROOT / "problems" / name).read_text())
    data.setdefault("solver", {}).update(solver)
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_a_fleet_on_two_workers_is_the_same_plan_every_run_at_the_optimums_cost(tmp_path):
    one = solve(load_any(ROOT / "problems" / "fleet_mix.yaml"), "one")
    problem = load_any(with_solver("fleet_mix.yaml", tmp_path, threads=2))
    assert problem.solver.threads == 2
    a, b = solve(problem, "two"), solve(problem, "two")
    assert a.verification.passed and a.solver.status.value == "optimal"
    assert json.dumps(plan_json(a), sort_keys=True) == json.dumps(plan_json(b), sort_keys=True)
    # both proven within mip_gap of the same optimum: equal costs up to that gap
    assert a.cost_per_hour == pytest.approx(one.cost_per_hour, rel=2 * problem.solver.mip_gap)


def test_a_problem_at_one_thread_after_a_fleet_at_two_in_one_process(tmp_path):
    """The pool sized by the two-worker fleet made the next one-thread solve fail ('the highs solver
    failed', HighsStatus error) until planner made the pool again."""
    two = solve(load_any(with_solver("fleet_mix.yaml", tmp_path, threads=2)), "two")
    single = solve(load_any(ROOT / "problems" / "deepseek_qps.yaml"), "one")
    again = solve(load_any(with_solver("deepseek_qps.yaml", tmp_path, threads=2)), "two")
    assert two.verification.passed and single.verification.passed and again.verification.passed
    assert single.solver.status.value == again.solver.status.value == "optimal"
    assert again.cost_per_hour == pytest.approx(single.cost_per_hour, rel=2e-4)


@pytest.mark.parametrize("value, reason", [(0, "greater than or equal to 1"), (True, "true/false is not a number"),
                                           (2.5, "valid integer, got a number with a fractional part"),
                                           (65, "less than or equal to 64")])
def test_bad_threads_is_exit_2_naming_the_field(tmp_path, value, reason):
    code, out = run("solve", with_solver("deepseek_qps.yaml", tmp_path, threads=value))
    assert code == 2, out
    assert "deepseek_qps.yaml: solver.threads:" in out and reason in out, out


def test_cbc_and_plans_over_periods_refuse_more_than_one(tmp_path):
    f = with_solver("deepseek_qps.yaml", tmp_path, threads=2)
    code, out = run("solve", f, "--solver", "cbc")
    assert code == 2
    assert out.strip() == (f"error: {f}: solver.threads: 2 with the cbc solver: planner runs CBC on one thread (its "
                           "parallel search gives another plan run to run); use highs, or threads: 1")
    code, out = run("solve", with_solver("deepseek_day.yaml", tmp_path, threads=2))
    assert code == 2
    assert "solver.threads: applies to a plan of one period" in out


def test_two_threads_ask_highs_for_its_parallel_search_and_one_does_not():
    from planner.plan.solver import _solver
    two, one = _solver("highs", 10.0, 1e-4, False, threads=2), _solver("highs", 10.0, 1e-4, False)
    assert (two.threads, two.optionsDict.get("parallel")) == (2, "on")
    assert (one.threads, one.optionsDict.get("parallel")) == (1, None)
