"""`solver.node_gap`: stop once no plan can be cheaper by that many hours of the cheapest node.

The objective is scaled so one hour of the cheapest node is 1 (milp.set_objective), so the option
is HiGHS's absolute gap in those units. A plan solved with it costs at most node_gap cheapest
node-hours more than the proven optimum, its optimality check allows that much, and the text says
the gap it proved. Plans over periods refuse it (each period is its own MILP to mip_gap).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.input.fleet import FleetProblem
from planner.input.load import load_any
from planner.input.problem import SolverOptions
from planner.plan import milp
from planner.plan.solve import optimality_checks, solve

ROOT = Path(__file__).resolve().parent.parent


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def with_node_gap(name: str, gap, tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "problems" / name).read_text())
    data.setdefault("solver", {})["node_gap"] = gap
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_fleet_within_one_node_hour_of_the_proven_optimum(tmp_path):
    exact_problem = load_any(ROOT / "problems" / "fleet_mix.yaml")
    loose_problem = load_any(with_node_gap("fleet_mix.yaml", 1, tmp_path))
    assert isinstance(loose_problem, FleetProblem) and loose_problem.solver.node_gap == 1.0
    exact, loose = solve(exact_problem, "exact"), solve(loose_problem, "loose")
    assert exact.verification.passed and loose.verification.passed
    # the objective's unit: cost per hour ÷ objective = the cheapest node's cost per hour
    unit = exact.cost_per_hour / exact.solver.objective_value
    assert exact.cost_per_hour - 1e-6 <= loose.cost_per_hour <= exact.cost_per_hour + unit + 1e-6
    # the loose solve stopped earlier than the exact proof, and its check allowed exactly that
    assert exact.solver.gap <= 1e-4 < loose.solver.gap <= 1.0 / loose.solver.objective_value + 1e-9
    check = next(c for c in loose.verification.checks if c.name == "optimality_gap")
    assert check.limit == pytest.approx(1.0 / loose.solver.objective_value) and check.ok


def test_the_text_says_the_gap_it_proved(tmp_path):
    code, out = run("solve", with_node_gap("fleet_mix.yaml", 1, tmp_path))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Verification:"))
    assert "solver: highs optimal within " in line and " %" in line
    code, out = run("solve", ROOT / "problems" / "fleet_mix.yaml")
    assert "optimal within" not in out                # the default gap proves to 0.01 %: nothing said


def test_optimality_check_limit_is_the_looser_of_the_two():
    report = milp.SolverReport("highs", milp.SolverStatus.optimal, 0.1, 0.02, 800.0, 10, 5, 40.0)
    strict = optimality_checks(report, SolverOptions())
    assert strict[0].limit == 1e-4 and not strict[0].ok
    loose = optimality_checks(report, SolverOptions(node_gap=1))
    assert loose[0].limit == pytest.approx(1 / 40) and loose[0].ok
    tight = optimality_checks(report, SolverOptions(node_gap=0.5))   # 0.5/40 = 1.25 % < 2 % proven
    assert tight[0].limit == pytest.approx(0.0125) and not tight[0].ok


@pytest.mark.parametrize("value, reason", [(-1, "greater than or equal to 0"), (True, "true/false is not a number"),
                                           ("x", "valid number"), (float("nan"), "finite number"),
                                           (5000, "less than or equal to 1000")])
def test_bad_node_gap_is_exit_2_naming_the_field(tmp_path, value, reason):
    code, out = run("solve", with_node_gap("deepseek_qps.yaml", value, tmp_path))
    assert code == 2
    assert "deepseek_qps.yaml: solver.node_gap:" in out and reason in out


def test_plans_over_periods_refuse_it(tmp_path):
    code, out = run("solve", with_node_gap("deepseek_day.yaml", 1, tmp_path))
    assert code == 2
    assert "solver.node_gap: applies to a plan of one period" in out
