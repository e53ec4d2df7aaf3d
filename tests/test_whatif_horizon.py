"""`plan whatif` on a base with a load profile: each scenario planned over the horizon.

Oracles: an empty scenario is the base's horizon plan; a scenario that changes the reserved
price gives the same plan as solving the edited problem directly; qps_multiplier scales a
profile given in requests/s; Δ is the difference of the two horizon costs; the JSON, table and
CSV say the same; single-QPS-only options and `buy:` exit 2 naming the reason.
"""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from planner.input.problem import Problem
from planner.input.scenario import Scenario
from planner.plan.horizon import solve_horizon
from planner.studies.scenarios import apply
from planner.studies.whatif import run_horizon_whatif

DAY = [0.3] * 8 + [1.0] * 16
BASE = {"name": "day", "model": "llama-3.1-8b",
        "workload": {"qps": 300, "input_tokens": 2000, "output_tokens": 300,
                     "profile": {"qps": [q * 300 for q in DAY]}},
        "slo": {"ttft": "1s", "tpot": "30ms"}, "serving": {"modes": ["disaggregated"]},
        "gpus": [{"id": "h100", "price_per_gpu_hour": 10, "reserved_price_per_gpu_hour": 9}, {"id": "h20"}]}


@pytest.fixture
def files(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    (tmp_path / "empty.yaml").write_text("name: same\n")
    (tmp_path / "cheap.yaml").write_text("name: reserve-at-6\ngpus:\n  update:\n"
                                         "    h100: {reserved_price_per_gpu_hour: 6}\n")
    (tmp_path / "double.yaml").write_text("name: double\nworkload: {qps_multiplier: 2}\n")
    (tmp_path / "buy.yaml").write_text("name: buy\nbuy: {gpu: h100, nodes: 1, price_per_node: 1000000, months: 36, "
                                        "electricity_per_kwh: 0.8}\n")
    return tmp_path


def test_scenarios_over_the_horizon(files):
    base = Problem.model_validate(BASE)
    out = run_horizon_whatif(base, str(files / "base.yaml"),
                             [str(files / n) for n in ("empty.yaml", "cheap.yaml", "double.yaml")])
    assert [o.name for o in out] == ["base", "same", "reserve-at-6", "double"]
    assert all(o.plan is not None and o.plan.verification.passed for o in out)
    base_cost = solve_horizon(base).cost
    assert out[0].plan.cost == pytest.approx(base_cost) and out[1].plan.cost == pytest.approx(base_cost)
    cheap = copy.deepcopy(BASE)
    cheap["gpus"][0]["reserved_price_per_gpu_hour"] = 6
    assert out[2].plan.cost == pytest.approx(solve_horizon(Problem.model_validate(cheap)).cost)
    assert out[2].plan.cost < base_cost and sum(out[2].plan.reserved.values()) >= sum(out[0].plan.reserved.values())
    doubled = apply(base, Scenario.model_validate({"workload": {"qps_multiplier": 2}}))
    assert doubled.workload.profile.qps == [2 * q for q in BASE["workload"]["profile"]["qps"]]
    assert out[3].plan.periods[-1].qps == pytest.approx(600)
    d, pct = out[2].delta(out[0])
    assert d == pytest.approx(out[2].plan.cost - base_cost) and pct == pytest.approx(100 * d / base_cost)


def test_cli_table_json_csv_agree(files):
    args = ["whatif", str(files / "base.yaml"), str(files / "cheap.yaml"), "--csv", str(files / "w.csv")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "RMB/24 h" in r.output and "reserve-at-6" in r.output and "vs static peak" in r.output
    j = CliRunner().invoke(main, [*args[:3], "--json"])
    d = json.loads(j.output)
    assert d["kind"] == "horizon" and d["horizon_hours"] == 24
    base, cheap = d["scenarios"]
    assert cheap["delta_cost"] == pytest.approx(cheap["cost"] - base["cost"])
    assert cheap["cost_per_hour_mean"] == pytest.approx(cheap["cost"] / 24)
    assert cheap["plan"]["kind"] == "horizon" and cheap["reserved_nodes"] == cheap["plan"]["reserved_nodes"]
    rows = list(csv.DictReader(io.StringIO((files / "w.csv").read_text())))
    assert [r["scenario"] for r in rows] == ["base", "reserve-at-6"]
    assert float(rows[1]["cost"]) == pytest.approx(cheap["cost"])


@pytest.mark.parametrize("extra, message", [
    (["--breakeven"], "--breakeven is priced for a single QPS"),
    (["--sensitivity"], "--sensitivity is priced for a single QPS"),
    (["--plot", "x.png"], "--plot is priced for a single QPS"),
])
def test_single_qps_options_exit_2(files, extra, message):
    r = CliRunner().invoke(main, ["whatif", str(files / "base.yaml"), *extra])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_buy_and_kinds_on_a_single_qps_base_exit_2(files, tmp_path):
    r = CliRunner().invoke(main, ["whatif", str(files / "base.yaml"), str(files / "buy.yaml")])
    assert r.exit_code == 2 and "buy.yaml: buy: rent-or-buy is priced for a single QPS" in r.output
    single = copy.deepcopy(BASE)
    del single["workload"]["profile"]
    single["gpus"] = [{"id": "h100"}]
    (tmp_path / "single.yaml").write_text(yaml.safe_dump(single))
    r = CliRunner().invoke(main, ["whatif", str(tmp_path / "single.yaml"), str(files / "cheap.yaml")])
    assert r.exit_code == 2 and "reserved and spot capacity need a load profile" in r.output


def test_a_scenario_prices_instance_starts_and_sets_per_period_spot_prices_and_caps():
    """A scenario could not set serving.instance_start, spot_confidence_percent or speculative,
    nor a spot price or a card cap per period (unknown keys, exit 2): the day's what-ifs about
    restarts and spot markets could not be asked. Each now merges into the base as the same keys
    written in the problem file do."""
    base = Problem.model_validate(BASE)
    spot = [6.0 + 0.1 * p for p in range(24)]
    caps = [0] * 8 + [64] * 16
    s = Scenario.model_validate({
        "serving": {"instance_start": {"overhead": "120s"}, "spot_confidence_percent": 90,
                    "speculative": {"method": "eagle", "acceptance": 0.7}},
        "gpus": {"update": {"h100": {"spot_price_per_gpu_hour": spot, "max_cards_per_period": caps}}}})
    merged = apply(base, s)
    written = copy.deepcopy(BASE)
    written["serving"].update({"instance_start": {"overhead": "120s"}, "spot_confidence_percent": 90,
                               "speculative": {"method": "eagle", "acceptance": 0.7}})
    written["gpus"][0].update({"spot_price_per_gpu_hour": spot, "max_cards_per_period": caps})
    assert merged == Problem.model_validate(written)
    assert merged.serving.instance_start.overhead == 120 and merged.gpus[0].spot_price_per_gpu_hour == spot


def test_a_scenario_s_per_period_value_that_does_not_fit_is_named_as_the_scenario_wrote_it():
    """'s.yaml (applied to the base): gpus[0].max_cards_per_period: 3 values …' named the merged
    list's index; the scenario wrote gpus.update.h100.max_cards_per_period (a hunt)."""
    from planner.errors import BadInput
    base = Problem.model_validate(BASE)
    for update, message in (({"max_cards_per_period": [8, 8, 8]},
                             r"s.yaml: gpus.update.h100.max_cards_per_period: 3 values; the profile has 24 periods"),
                            ({"spot_max_cards_per_period": [8] * 24},
                             r"s.yaml: gpus.update.h20: spot_max_cards_per_period needs spot_price_per_gpu_hour")):
        gid = "h20" if "spot" in next(iter(update)) else "h100"
        with pytest.raises(BadInput, match=message):
            apply(base, Scenario.model_validate({"gpus": {"update": {gid: update}}}), "s.yaml")
