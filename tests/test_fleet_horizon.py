"""A fleet whose classes have load profiles, planned over the horizon (docs/horizon.md, "Fleets").

Oracles: on demand only, nothing is shared between periods, so the horizon's cost is the sum of
each period's own fleet plan (= the independent plans); a class without a profile is flat; the
verification names every class in every period; bad combinations exit 2 naming the field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.input.fleet import FleetProblem
from planner.plan.horizon_fleet import solve_fleet_horizon
from planner.plan.solve import solve

ROOT = Path(__file__).resolve().parents[1]

DAY = [0.3] * 8 + [1.0] * 16
NIGHT = [1.0] * 8 + [0.2] * 16
FLEET = {"name": "two", "sharing": "none",
         "classes": [
             {"name": "chat", "model": "llama-3.1-8b",
              "workload": {"qps": 60, "input_tokens": 1000, "output_tokens": 200, "profile": {"qps_fraction": DAY}},
              "slo": {"ttft": "1s", "tpot": "30ms"}},
             {"name": "batch", "model": "llama-3.1-8b",
              "workload": {"qps": 30, "input_tokens": 4000, "output_tokens": 300, "profile": {"qps_fraction": NIGHT}},
              "slo": {"ttft": "5s", "tpot": "100ms"}}],
         "gpus": [{"id": "h100", "price_per_gpu_hour": 10}]}


def fleet(**changes) -> FleetProblem:
    d = copy.deepcopy(FLEET)
    d.update(changes)
    return FleetProblem.model_validate(d)


def test_on_demand_is_the_sum_of_the_periods_own_fleet_plans():
    f = fleet()
    h = solve_fleet_horizon(f)
    assert h.status == "optimal" and h.verification.passed
    assert h.cost == pytest.approx(h.independent_cost)
    by_hand = 0.0
    for fr in sorted(set(zip(DAY, NIGHT))):
        classes = []
        for k, x in zip(FLEET["classes"], fr):
            wl = {key: v for key, v in k["workload"].items() if key != "profile"} | {"qps": k["workload"]["qps"] * x}
            classes.append({**k, "workload": wl})
        one = solve(FleetProblem.model_validate({**FLEET, "classes": classes})).cost_per_hour
        by_hand += one * sum(1 for d, n in zip(DAY, NIGHT) if (d, n) == fr)
    assert h.cost == pytest.approx(by_hand)
    names = {c.name for c in h.verification.checks}
    assert "p0/chat/prefill_capacity" in names and "p23/batch/decode_capacity" in names
    assert h.periods[0].classes[0][:2] == ("chat", pytest.approx(18.0))


def test_a_class_without_a_profile_is_flat_and_reserved_capacity_pays():
    d = copy.deepcopy(FLEET)
    del d["classes"][1]["workload"]["profile"]
    d["gpus"] = [{"id": "h100", "price_per_gpu_hour": 10, "reserved_price_per_gpu_hour": 6}]
    h = solve_fleet_horizon(FleetProblem.model_validate(d), compare=False)
    assert h.verification.passed
    assert all(dict((n, q) for n, q, _ in per.classes)["batch"] == 30 for per in h.periods)
    assert h.reserved.get("h100", 0) > 0


def test_cli_text_and_json(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(FLEET))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 0, r.output
    assert "2 classes (llama-3.1-8b; each class on pools of its own)" in r.output
    d = json.loads(CliRunner().invoke(cli.main, ["solve", str(f), "--json"]).output)
    assert d["kind"] == "horizon" and d["sharing"] == "none" and d["candidates_at"] == "each_class"
    assert [c["name"] for c in d["classes"]] == ["chat", "batch"] and d["classes"][1]["peak_qps"] == 30
    assert {p["class"] for p in d["periods"][0]["pools"]} == {"chat", "batch"}
    assert d["comparison"]["static_peak_plan"]["kind"] == "fleet"


def test_a_fleet_over_a_day_gives_each_class_its_precisions():
    """fleet_day.yaml's JSON said weight_dtype fp8 for the fleet, DeepSeek-R1's, though its
    Llama-3.1-8B class runs BF16 weights: each class carries its own; the fleet's are null."""
    r = CliRunner().invoke(cli.main, ["solve", str(ROOT / "problems" / "fleet_day.yaml"), "--json"])
    d = json.loads(r.stdout)
    assert (d["weight_dtype"], d["expert_dtype"], d["kv_dtype"]) == (None, None, None)
    got = {c["model"]: (c["weight_dtype"], c["kv_dtype"]) for c in d["classes"]}
    assert got == {"deepseek-r1": ("fp8", "bf16"), "llama-3.1-8b": ("bf16", "bf16")}
    static = {s["model"]: s["weight_dtype"] for s in d["comparison"]["static_peak_plan"]["services"]}
    assert static == {m: w for m, (w, _) in got.items()}


@pytest.mark.parametrize("change, message", [
    ({"classes.1.workload.profile": {"qps_fraction": [1.0] * 168}},
     "classes[1].workload.profile: 168 periods of 3600 s, but"),
    ({"serving": {"redundancy": "n_plus_1"}}, "serving.redundancy: n_plus_1 is not yet supported on fleets"),
    ({"serving": {"instance_start": {"overhead": "60s"}}}, "serving.instance_start: instance starts are priced"),
    ({"gpus": [{"id": "h100", "max_cards_per_period": [8] * 23}]}, "gpus[0].max_cards_per_period: 23 values"),
])
def test_bad_fleet_horizons_exit_2(tmp_path, change, message):
    d = copy.deepcopy(FLEET)
    for path, v in change.items():
        node, *rest = path.split(".")
        if not rest:
            d[node] = v
        else:
            d[node][int(rest[0])][rest[1]][rest[2]] = v
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output


def test_reserved_prices_need_a_profile_in_some_class(tmp_path):
    d = copy.deepcopy(FLEET)
    for k in d["classes"]:
        del k["workload"]["profile"]
    d["gpus"] = [{"id": "h100", "reserved_price_per_gpu_hour": 6}]
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and "gpus[0]: reserved and spot capacity need a load profile in a class" in r.output


def test_a_class_reads_its_trace(tmp_path):
    """classes[i].workload.trace is read into that class's profile (relative to the fleet file);
    errors name the class."""
    rows = ["timestamp,input_tokens,output_tokens"]
    for h in range(24):
        rows += [f"{h * 3600 + 3600 * (i + 0.5) / (5 + h)},{800 + h},{100 + h}" for i in range(5 + h)]
    rows += ["0,800,100", f"{24 * 3600 - 1e-3},800,100"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    d = copy.deepcopy(FLEET)
    d["classes"][0]["workload"] = {"trace": {"file": "t.csv", "scale": 2}}
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(d))
    from planner.input.load import load_any
    fp = load_any(f)
    assert fp.classes[0].workload.profile.qps[5] == pytest.approx(2 * 10 / 3600)
    assert fp.classes[0].workload.trace_load is not None
    # and the fleet is planned: its peak and per-period plans are single-QPS problems of the class,
    # which keep neither the profile nor the trace (the trace made them exit 5 until 2026-12-03)
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 0 and "Verification: PASSED" in r.output, r.output
    d["classes"][0]["workload"] = {"trace": {"file": "missing.csv"}}
    f.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and "classes[0].workload.trace.file" in r.output, r.output


def test_the_chart_draws_a_fleet(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(FLEET))
    out = tmp_path / "day.png"
    r = CliRunner().invoke(cli.main, ["solve", str(f), "--chart", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from planner.report.horizon_chart import chart_data
    h = solve_fleet_horizon(fleet(), compare=False)
    d = chart_data(h)
    assert d.static_cards == sum((rn + on) * 8 for rn, on in h.static_peak.nodes.values())


def test_a_fleet_day_re_solves_without_colocated_candidates_its_routing_breaks():
    """As a single problem's day: one class of gpt-oss-20b on L40S at 20 req/s every hour ended
    with exit 4 in all 24 periods (a colocated TP1 batch-512 pool routed a mix at which its TPOT is
    59.0 ms against 50 ms); the fleet horizon now solves again without that shape, at the
    single-QPS plan's 79.28 RMB/h. Since 2026-12-05's physics that shape holds there and no
    gpt-oss-20b day tried needs the cut: the class is now DeepSeek-R1 with MTP and 3-token answers,
    colocated only (`test_colocated_seen`), whose first day plan routes
    colocated[h100-TP1·DP8·PP2-b12-c6000-mtp1] a mix at 52.2 ms; re-solved, 583.20 RMB/h, the
    single-QPS plan's."""
    f = FleetProblem.model_validate({
        "name": "r05f", "sharing": "none", "gpus": [{"id": "h200", "price_per_gpu_hour": 20.83}, "h800", "h20", "h100"],
        "serving": {"modes": ["colocated"], "speculative": {"method": "mtp", "draft_tokens": 1, "use": "auto"}},
        "classes": [{"name": "a", "model": "deepseek-r1", "precision": {"weights": "fp8", "kv": "bf16"},
                     "slo": {"ttft": "2s", "tpot": "50ms"},
                     "workload": {"qps": 200, "input_tokens": 1000, "output_tokens": 3,
                                  "profile": {"qps_fraction": [1] * 24}}}]})
    h = solve_fleet_horizon(f, "f.yaml", compare=False)
    assert h.verification.passed
    assert h.cost == pytest.approx(24 * 583.20)
    assert all(st.tpot_s <= 0.05 for st in h.verification.pools)
    assert not any(c.name == "colocated[h100-TP1·DP8·PP2-b12-c6000-mtp1]" for p in h.periods for c in p.chosen)


def test_a_fleet_day_whose_static_fleet_cannot_exist_is_still_planned(tmp_path):
    """Two classes peaking apart (300 and 10 req/s, swapping at 08:00 and 18:00) on H100 capped at
    8 cards: every hour asks 310 req/s, which one node serves, but the static fleet holds every
    class at its own peak at once (600 req/s), which the cap cannot. Its solve raised, after the
    day plan was found and verified: exit 3 for a feasible day (a hunt's finding). The day is now
    planned and the static fleet said to be none, with why (text, JSON, chart)."""
    day = [10] * 8 + [300] * 10 + [10] * 6
    night = [300] * 8 + [10] * 10 + [300] * 6
    work = {"input_tokens": 500, "output_tokens": 150}
    slo = {"ttft": "500ms", "tpot": "30ms"}
    d = {"name": "apart", "gpus": [{"id": "h100", "max_cards": 8}], "classes": [
        {"name": "day", "model": "llama-3.1-8b", "workload": {**work, "profile": {"qps": day}}, "slo": slo},
        {"name": "night", "model": "llama-3.1-8b", "workload": {**work, "profile": {"qps": night}}, "slo": slo}]}
    f = tmp_path / "f.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    r = CliRunner().invoke(cli.main, ["solve", str(f), "--json", "--chart", str(tmp_path / "c.html")])
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)["comparison"]
    assert c["static_peak_cost"] is None and c["static_peak_plan"] is None
    assert c["static_peak_none_because"].startswith("every class at its own peak at once, held all horizon: ")
    assert "No static peak fleet: every class at its own peak at once, held all horizon: " in \
        (tmp_path / "c.html").read_text()
    text = CliRunner().invoke(cli.main, ["solve", str(f)]).output
    assert "Static fleet for the peak: none (every class at its own peak at once" in text



def test_a_fleets_static_pools_are_checked_at_every_load_of_their_class(monkeypatch):
    """`fleet_static_shortfall` verifies a class's static pools at each of its loads but its peak
    (once per length group and QPS), not only at other length groups' busiest periods: with one
    length group and a check that fails below 0.6 of the peak, the first such hour is named."""
    import planner.plan.horizon_fleet as hf
    f = fleet()
    h = solve_fleet_horizon(f, compare=False)
    seen = []

    def check(res, chosen):
        seen.append(res.qps)
        return "tpot[x]" if res.qps < 0.6 * 60 else None
    monkeypatch.setattr(hf, "first_failed_check", check)
    groups = [[0] * 24, [0] * 24]
    short = hf.fleet_static_shortfall(f, h.static_peak, [h.class_res[0]], groups,
                                      [[60 * x for x in DAY], [30 * x for x in NIGHT]])
    assert short == (0, "chat: tpot[x]")          # hour 0: chat at 18 req/s
    assert seen == [pytest.approx(18.0)]            # the first load checked fails; nothing after it
    monkeypatch.setattr(hf, "first_failed_check", lambda res, chosen: seen.append(res.qps))
    seen.clear()
    assert hf.fleet_static_shortfall(f, h.static_peak, [h.class_res[0]], groups,
                                     [[60 * x for x in DAY], [30 * x for x in NIGHT]]) is None
    assert sorted(seen) == pytest.approx(sorted([18.0, 6.0]))   # chat at 0.3 of 60, batch at 0.2 of 30


def test_a_fleet_day_over_its_caps_names_the_first_hour_and_its_classes_rates():
    """'some period's demand cannot be met within the caps', as a model's day named its hour: here
    the night (48 req/s, batch 30 of it) fails with H100 capped at 0 cards although the day (66 req/s)
    is busier; each class's rate is said beside it. (It was capped at four cards, which leave no whole
    node either: a cap below one node is refused since 2026-12-07.)"""
    from planner.errors import Infeasible
    with pytest.raises(Infeasible, match=r"^two.yaml: period 0 \(48 req/s: chat 18, batch 30\) cannot be met within "
                                         r"the caps \(availability"):
        solve_fleet_horizon(fleet(gpus=[{"id": "h100", "price_per_gpu_hour": 10, "max_cards": 0}]), "two.yaml")


def test_a_fleet_day_with_spot_at_a_confidence_is_planned_and_its_misuses_named():
    """problems/fleet_day.yaml with `serving.spot_confidence_percent: 90` ended in exit 5: its static
    fleet's classes, single-QPS problems, refused the setting (a re-check of a hunt). The setting
    on a fleet without profiles, or without a spot price, is refused in the fleet's own words."""
    from planner.errors import BadInput
    from planner.input.files import validate
    d = yaml.safe_load((ROOT / "problems" / "fleet_day.yaml").read_text(encoding="utf-8"))
    d["serving"] = {"spot_confidence_percent": 90}
    h = solve_fleet_horizon(FleetProblem.model_validate(d), "f.yaml")
    assert h.status == "optimal" and h.verification.passed and h.static_cost is not None
    no_spot = {**d, "gpus": [g for g in d["gpus"] if not (isinstance(g, dict) and "spot_price_per_gpu_hour" in g)]}
    with pytest.raises(BadInput, match=r"f.yaml: serving.spot_confidence_percent: no GPU has spot_price_per_gpu_hour"):
        validate(FleetProblem, no_spot, "f.yaml")
    flat = copy.deepcopy(no_spot)
    for k in flat["classes"]:
        k["workload"].pop("profile")
    with pytest.raises(BadInput, match=r"f.yaml: serving.spot_confidence_percent: spot capacity at a confidence needs "
                                       r"a load profile in a class"):
        validate(FleetProblem, flat, "f.yaml")



def _two_classes(fraction: list[float], qps: float, **top) -> FleetProblem:
    cls = {"model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"},
           "workload": {"qps": qps, "input_tokens": 1000, "output_tokens": 200, "profile": {"qps_fraction": fraction}}}
    return FleetProblem.model_validate({"name": "f", "classes": [{"name": "a", **cls}, {"name": "b", **cls}],
                                        "solver": {"time_limit": "20s"}, **top})


def test_per_period_plans_over_the_budget_are_not_compared_on_a_fleet():
    """An owned H100 node (5 a card-hour) capped at 0 cards in the twelve quiet hours, where one L40S
    node (79.28 an hour) serves both classes beside the idle owned node: 119.28 an hour over a budget
    of 100. The fleet's comparison left the budget out (1,911.36, 'saving −10.8 %' against a day of
    2,117.76, a hunt); a single problem's already did not compare it."""
    h = solve_fleet_horizon(_two_classes([1.0] * 12 + [0.25] * 12, 40, limits={"budget_per_hour": 100}, gpus=[
        {"id": "h100", "owned_nodes": 1, "owned_cost_per_gpu_hour": 5, "max_cards_per_period": [64] * 12 + [0] * 12},
        "l40s"]))
    assert h.verification.passed and h.cost == pytest.approx(2117.76, abs=1e-6)
    assert h.independent_cost is None


def test_per_period_plans_renting_past_the_on_demand_cap_are_not_compared():
    """One owned H100 node at 20 a card-hour, renting at 10 but 0 on-demand cards in every hour: the
    day holds the owned node (3,840); each hour's own single-QPS plan capped owned and rented cards
    together and rented a node (1,920, 'saving −100 %', a hunt), as a fleet's did."""
    gpus = [{"id": "h100", "price_per_gpu_hour": 10, "owned_nodes": 1, "owned_cost_per_gpu_hour": 20,
             "on_demand_max_cards_per_period": [0] * 24}]
    h = solve_fleet_horizon(_two_classes([1.0] * 24, 5, gpus=gpus))
    assert h.cost == pytest.approx(3840.0, abs=1e-6) and h.independent_cost is None
    from planner.input.problem import Problem
    from planner.plan.horizon import solve_horizon
    p = Problem.model_validate({"name": "t1", "model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"},
                                "workload": {"qps": 10, "input_tokens": 1000, "output_tokens": 200,
                                             "profile": {"qps_fraction": [1.0] * 24}}, "gpus": gpus})
    h = solve_horizon(p, "t1.yaml")
    assert h.cost == pytest.approx(3840.0, abs=1e-6) and h.independent_cost is None


def test_a_day_fleet_an_hour_of_which_no_plan_serves_is_infeasible_not_out_of_time(tmp_path):
    """A hunt (2026-12-07): problems/fleet_day.yaml under `limits: {power: 20kW}` ran the joint MILP to its
    time limit (200 s with --time-limit 200) and then blamed it ('found no plan within the time limit …;
    raise solver.time_limit'), though hour 21 alone cannot be served within 20 kW: no time limit helps.
    After a time limit without a plan, the hours are tried alone and the first one no plan serves is named."""
    data = yaml.safe_load((ROOT / "problems" / "fleet_day.yaml").read_text())
    data.setdefault("limits", {})["power"] = "20kW"
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    r = CliRunner().invoke(cli.main, ["solve", str(p), "--time-limit", "4s"])   # below conftest's SLACK_FROM_S
    assert r.exit_code == 3, r.output
    assert "period 21 (46.8 req/s: chat 38.8, batch-summaries 8) cannot be met within the caps" in r.output, r.output
    assert "time limit" not in r.output
