"""`plan whatif --sensitivity`: each limit relaxed by one step and re-solved.

Every row must equal a direct solve of the problem with that limit relaxed by hand (the row is a
re-solve, not a dual), and relaxing a limit never makes the optimum dearer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from planner.input.load import load_problem
from planner.plan.solve import solve
from planner.studies.whatif import sensitivity

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "deepseek_qps.yaml"


def seed_with(**limits):
    p = load_problem(SEED)
    return p.model_copy(update={"limits": p.limits.model_copy(update=limits)})


@pytest.fixture(scope="module")
def capped():
    """The seed with one GPU type and three pool shapes allowed, and a 100 kW power cap."""
    p = seed_with(max_gpu_types=1, max_pool_shapes=3, power=100_000.0)
    plan = solve(p, "capped")
    return p, plan, {s.limit: s for s in sensitivity(plan, "capped")}


def test_rows_are_the_caps_the_problem_sets_and_the_slos(capped):
    _, plan, rows = capped
    assert set(rows) == {"gpu_types_cap", "pool_shapes_cap", "power_cap", "tpot", "ttft"}
    assert len(plan.verification.pools) <= 3
    assert len({p.candidate.gpu for p in plan.verification.pools}) == 1
    for s in rows.values():
        assert s.cost_before == plan.cost_per_hour
        assert s.cost_after is not None and s.cost_after <= s.cost_before * (1 + 1e-9)


@pytest.mark.parametrize("limit, relaxed", [("gpu_types_cap", {"max_gpu_types": 2}),
                                            ("pool_shapes_cap", {"max_pool_shapes": 4}),
                                            ("power_cap", {"power": 200_000.0})])
def test_each_row_equals_a_direct_solve_with_the_limit_relaxed(capped, limit, relaxed):
    p, _, rows = capped
    direct = solve(p.model_copy(update={"limits": p.limits.model_copy(update=relaxed)}), "direct")
    assert rows[limit].cost_after == pytest.approx(direct.cost_per_hour, rel=1e-9)


def test_one_more_gpu_type_is_worth_something_here(capped):
    """With one GPU type the seed decodes and prefills on H200 alone; a second type lets prefill
    move to H100 (the unrestricted plan's choice), so the row has a real saving."""
    _, plan, rows = capped
    row = rows["gpu_types_cap"]
    assert row.binding
    assert row.cost_after < row.cost_before - 1.0
    assert row.delta_per_unit == pytest.approx(row.cost_after - row.cost_before)
    assert row.unit == "GPU type" and row.step == "+1 GPU type"


def test_tpot_row_equals_a_solve_at_one_more_millisecond(capped):
    p, _, rows = capped
    direct = solve(p.model_copy(update={"slo": p.slo.model_copy(update={"tpot": p.slo.tpot + 0.001})}), "d")
    assert rows["tpot"].cost_after == pytest.approx(direct.cost_per_hour, rel=1e-9)


def test_cli_prints_the_new_rows(tmp_path):
    text = SEED.read_text().replace("serving:", "limits: {max_gpu_types: 1}\nserving:", 1)
    base = tmp_path / "base.yaml"
    base.write_text(text)
    r = CliRunner().invoke(cli.main, ["whatif", str(base), "--sensitivity"])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if "gpu_types_cap" in x)
    assert "+1 GPU type" in line


def test_equal_costs_summed_apart_change_by_zero_not_minus_zero():
    """1,888.5599999999997 against 1,888.56: the sensitivity read '-0.0 per ms' and 1.14e-12."""
    from planner.studies.whatif import Sensitivity
    s = Sensitivity("tpot", False, "+1 ms", 1.0, "ms", 1888.56, 1888.5599999999997)
    assert s.delta_per_unit == 0.0 and str(s.delta_per_unit) == "0.0"
    assert Sensitivity("tpot", False, "+1 ms", 2.0, "ms", 10.0, 7.0).delta_per_unit == -1.5
