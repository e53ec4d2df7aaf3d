"""`plan sweep` on a problem with a load profile: every row is a horizon plan.

Oracles: a row's cost per hour is the horizon plan's cost over its hours, solved directly at that
limit; the qps axis scales a profile written in requests/s with workload.qps; frontier.json says
the horizon; the chart title names the profile.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from planner.input.problem import Problem
from planner.plan.horizon import solve_horizon
from planner.report.plots import panel_title
from planner.studies.sweep import Axis, problem_at, run_sweep
from tests.test_whatif_horizon import BASE, DAY


def test_rows_are_horizon_plans():
    p = Problem.model_validate(BASE)
    sweep = run_sweep(p, "day.yaml", [Axis("tpot", (0.02, 0.05))], per_gpu=True, workers=1)
    assert sweep.horizon_hours == 24 and sweep.curves == ("all", "h100", "h20")
    for r in sweep.rows:
        at = problem_at(p, {"tpot": r.tpot_limit_s}, r.curve)
        h = solve_horizon(at, compare=False)
        assert r.solved and r.cost_per_hour == pytest.approx(h.cost / 24)
        assert r.cost_per_million_output_tokens == pytest.approx(h.cost_per_million_output_tokens)
        assert r.tpot_s <= r.tpot_limit_s + 1e-12
    assert "24 h profile" in panel_title(sweep, "tpot")


def test_qps_axis_scales_the_profile():
    p = Problem.model_validate(BASE)
    at = problem_at(p, {"qps": 600})
    assert at.workload.qps == 600 and at.workload.profile.qps == [2 * q for q in BASE["workload"]["profile"]["qps"]]
    frac = copy.deepcopy(BASE)
    frac["workload"]["profile"] = {"qps_fraction": DAY}
    at = problem_at(Problem.model_validate(frac), {"qps": 600})
    assert at.workload.period_qps() == pytest.approx([600 * f for f in DAY])
    # a profile in requests/s does not use workload.qps: the axis is its busiest period, whatever
    # workload.qps says (an unused 50 made a point of 600 plan 3,600 at the peak) or when it is absent
    for qps in (50, None):
        other = copy.deepcopy(BASE)
        other["workload"].pop("qps") if qps is None else other["workload"].update(qps=qps)
        at = problem_at(Problem.model_validate(other), {"qps": 600})
        assert at.workload.period_qps() == pytest.approx([600 * f for f in DAY])


def test_cli_writes_the_horizon_frontier(tmp_path):
    f = tmp_path / "day.yaml"
    f.write_text(yaml.safe_dump(BASE))
    r = CliRunner().invoke(main, ["sweep", str(f), "--tpot", "20ms,50ms", "--no-per-gpu", "--workers", "1",
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "out" / "frontier.json").read_text())
    assert d["horizon_hours"] == 24 and len(d["rows"]) == 2 and all(x["status"] == "optimal" for x in d["rows"])
