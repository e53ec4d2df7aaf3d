"""The JSON contract round trip: a solved Plan → plan_json → to_json → a file → load_plan (the
simulator's reader) gives back the Plan's pools, workload, SLO, model, dtypes and calibration;
a fleet plan splits (service_plan + plan_from_dict) into one plan file per service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.input.fleet import FleetProblem
from planner.plan.solve import solve
from planner.report.json import plan_json, to_json
from planner.studies.simulate import load_plan, plan_from_dict, service_plan

ROOT = Path(__file__).resolve().parent.parent


def assert_pools_match(pools, states):
    """Plan-file pools against the verified pool states, in order."""
    assert len(pools) == len(states)
    for p, st in zip(pools, states):
        c = st.candidate
        assert (p.name, p.role, p.gpu, p.instances) == (c.name, c.role, c.gpu, st.instances)
        assert (p.parallelism.tp, p.parallelism.pp, p.parallelism.dp) == (c.par.tp, c.par.pp, c.par.dp)
        assert (p.design_batch, p.chunk_tokens) == (c.batch, c.chunk_tokens)
        assert p.capacity_prefill_tokens_per_s == pytest.approx(c.prefill_tok_s * st.instances, rel=1e-11)
        assert p.capacity_decode_tokens_per_s == pytest.approx(c.decode_tok_s * st.instances, rel=1e-11)
        assert p.utilization == pytest.approx(st.utilization, rel=1e-11)
        assert p.batch == pytest.approx(st.batch, rel=1e-11)
        assert p.ttft_s == (None if c.role == "decode" else pytest.approx(st.ttft_s, rel=1e-11))
        assert p.tpot_s == (None if c.role == "prefill" else pytest.approx(st.tpot_s, rel=1e-11))


def assert_workload_slo_match(pf, res):
    w, slo = pf.workload, res.problem.slo
    assert w.qps == res.qps
    assert w.input_tokens == pytest.approx(res.input_mean) and w.output_tokens == pytest.approx(res.output_mean)
    assert w.prefix_cache_hit == pytest.approx(res.hit)
    assert [tuple(map(float, x)) for x in w.input_distribution] == [tuple(map(float, x)) for x in res.input_dist]
    assert [tuple(map(float, x)) for x in w.output_distribution] == [tuple(map(float, x)) for x in res.output_dist]
    assert (pf.slo.ttft_s, pf.slo.tpot_s) == (slo.ttft, slo.tpot)
    assert (pf.slo.ttft_statistic, pf.slo.tpot_statistic) == (slo.ttft_statistic, slo.tpot_statistic)


def test_single_plan_round_trips_through_a_file(tmp_path, llama70b_chat_plan):
    plan = llama70b_chat_plan
    path = tmp_path / "plan.json"
    path.write_text(to_json(plan_json(plan)), encoding="utf-8")
    pf = load_plan(path)
    res = plan.resolved
    assert pf.problem == "llama70b-chat" == res.problem.name
    assert pf.model == res.model.id == "llama-3.1-70b" and pf.model_source == res.problem.model
    assert (pf.weight_dtype, pf.kv_dtype) == (res.weight_dtype, res.kv_dtype) == ("fp8", "fp8")
    assert pf.calibration == res.calib.name and pf.calibration_source == res.problem.calibration
    assert pf.calibration_overrides == dict(res.problem.calibration_overrides)
    assert pf.classes == []
    assert_workload_slo_match(pf, res)
    assert (pf.workload.input_tokens, pf.workload.prefix_cache_hit, pf.slo.ttft_statistic) == (1590, 0.4, "p90")
    assert_pools_match(pf.pools, plan.verification.pools)


def test_fleet_plan_splits_into_one_plan_file_per_service(tmp_path):
    """Two classes that cannot share pools (different models) give two services; each service's
    plan file holds that service's pools, workload, SLO and model."""
    def cls(name, model, qps, s_in, s_out, ttft):
        return {"name": name, "model": model, "workload": {"qps": qps, "input_tokens": s_in, "output_tokens": s_out},
                "slo": {"ttft": ttft, "tpot": "50ms"}}
    f = FleetProblem.model_validate({"name": "t", "gpus": ["h20"], "classes": [
        cls("chat", "llama-3.1-8b", 4, 1000, 200, "1s"), cls("bulk", "qwen3-32b", 1, 2000, 400, "3s")]})
    plan = solve(f, "t.yaml")
    path = tmp_path / "fleet.json"
    path.write_text(to_json(plan_json(plan)), encoding="utf-8")
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["kind"] == "fleet"
    assert sorted(plan.chosen_by_service) == sorted(s["key"] for s in d["services"]) == ["bulk", "chat"]
    for key, states in plan.pools.items():
        svc = plan.service(key)
        pf = plan_from_dict(service_plan(d, key), f"t: service {key}")
        assert pf.problem == f"t:{key}"
        assert pf.model == svc.res.model.id == {"chat": "llama-3.1-8b", "bulk": "qwen3-32b"}[key]
        assert (pf.weight_dtype, pf.kv_dtype) == (svc.res.weight_dtype, svc.res.kv_dtype)
        assert pf.calibration == svc.res.calib.name
        assert_workload_slo_match(pf, svc.res)
        assert_pools_match(pf.pools, states)
        assert {p.name for p in pf.pools} == {c.name for c in plan.chosen_by_service[key]}
