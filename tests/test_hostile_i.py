"""Hostile input, tenth round (2026-12-07): plan files edited by hand, duplicate measurement ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_hostile_outputs import run, write


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory) -> dict:
    """`plan init --model llama-3.1-8b` solved: a decode pool beside a prefill pool of H20s, bf16 weights."""
    d = tmp_path_factory.mktemp("plan")
    assert run("init", "--model", "llama-3.1-8b", "--out", d / "s.yaml")[0] == 0
    code, out = run("solve", d / "s.yaml", "--out", d / "s.json")
    assert code == 0, out
    data = json.loads((d / "s.json").read_text(encoding="utf-8"))
    assert data["weight_dtype"] == "bf16" and data["mode"] == "disaggregated", data
    assert sorted(p["role"] for p in data["pools"]) == ["decode", "prefill"], data["pools"]
    return data


def _edited(tmp_path: Path, data: dict, **changes) -> Path:
    return write(tmp_path, json.dumps({**data, **changes}), "e.json")


def _export(path: Path) -> tuple[int, str]:
    return run("export", path, "--target", "vllm", "--out", path.parent / "out")


def _command(command: str, path: Path, requests: str = "2000") -> tuple[int, str]:
    """`plan simulate` (of `requests`) or `plan export` (to vLLM) of the plan file at `path`."""
    return run("simulate", path, "--requests", requests) if command == "simulate" else _export(path)


# ------------------------------------------------------------------------ weight_dtype edited by hand
@pytest.mark.parametrize("dtype", ["fp4", "fp8"])
@pytest.mark.parametrize("command", ["simulate", "export"])
def test_a_weight_dtype_edited_after_sizing_is_refused(tmp_path, small_plan, dtype, command):
    """`weight_dtype: fp4` written into a bf16 plan was simulated with FP4 steps (TPOT 3.1 ms against
    7.2 ms planned, "every SLO statistic met", exit 0); export refused fp4 only as vLLM cannot quantise
    to it, and exported fp8 (--quantization fp8) for pools sized for bf16 weights."""
    e = _edited(tmp_path, small_plan, weight_dtype=dtype)
    code, out = _command(command, e, "300")
    assert code == 2, out
    assert out.strip() == (f"error: {e}: weight_dtype: {dtype}, but the pools were sized for bf16 weights (their "
                           f"memory_per_card_bytes hold the weights at bf16; a hand edit?): write back "
                           f"weight_dtype: bf16, or re-solve the problem with precision.weights: {dtype}"), out


# ------------------------------------------------------------------------ kv_dtype edited by hand
@pytest.mark.parametrize("command", ["simulate", "export"])
def test_a_kv_dtype_edited_after_sizing_is_refused(tmp_path, small_plan, command):
    """`kv_dtype: fp8` written into a plan sized for a bf16 KV cache was simulated ("every SLO
    statistic met") and exported (--kv-cache-dtype fp8) at exit 0: its memory is as whole a number
    of fp8 sequences (twice as many), so the weights' check did not see it; the prefill pool's
    design batch and the decode pool's slots do."""
    e = _edited(tmp_path, small_plan, kv_dtype="fp8")
    code, out = _command(command, e, "300")
    assert code == 2, out
    assert out.strip() == (f"error: {e}: kv_dtype: fp8, but the pools were sized for a bf16 KV cache (their "
                           f"memory_per_card_bytes and slots hold sequences at bf16; a hand edit?): write back "
                           f"kv_dtype: bf16, or re-solve the problem with precision.kv: fp8"), out


def test_a_kv_dtype_edit_is_judged_by_the_slots_alone(tmp_path, small_plan):
    """A decode or colocated pool says its KV precision by its `slots` (the sequences its memory
    holds at the longest prompt and answer): with the prefill pool's memory not said, the edit
    is still refused; and with neither said, nothing judges it (an older plan)."""
    pools = [{**p, "memory_per_card_bytes": None} if p["role"] == "prefill" else p for p in small_plan["pools"]]
    code, out = _export(_edited(tmp_path, small_plan, pools=pools, kv_dtype="fp8"))
    assert code == 2 and "kv_dtype: fp8, but the pools were sized for a bf16 KV cache" in out, out
    older = [{k: v for k, v in p.items() if k != "slots"} for p in pools]
    code, out = _export(_edited(tmp_path, small_plan, pools=older, kv_dtype="fp8"))
    assert code == 0 and "vllm export of" in out, out


@pytest.mark.parametrize("field, value, sized, key, what", [
    ("expert_dtype", "fp8", "fp4", "experts", "routed experts"),
    ("weight_dtype", "bf16", "fp8", "weights", "weights"),   # beside FP4 experts, which stay
])
def test_a_moe_plans_expert_or_weight_dtype_edited_after_sizing_is_refused(tmp_path, field, value, sized, key, what):
    """The same edit of the routed experts' precision (DeepSeek on B200: FP4 experts beside FP8
    weights, edited to FP8) was simulated and exported at the edited precision."""
    golden = Path(__file__).parent / "golden" / "solve" / "deepseek_b200_fp4_experts.json"
    data = json.loads(golden.read_text("utf-8"))
    assert data[field] == sized
    e = _edited(tmp_path, data, **{field: value})
    code, out = _export(e)
    assert code == 2, out
    assert out.strip() == (f"error: {e}: {field}: {value}, but the pools were sized for {sized} {what} (their "
                           f"memory_per_card_bytes hold the {what} at {sized}; a hand edit?): write back {field}: "
                           f"{sized}, or re-solve the problem with precision.{key}: {value}"), out


@pytest.mark.parametrize("name", ["deepseek_b200_fp4_experts", "deepseek_qps", "deepseek_mtp", "llama70b_chat",
                                  "rag_long_context", "small_model_cheap_card", "sxm_or_pcie"])
def test_plans_solved_at_their_precisions_pass(name):
    """The check reads the pools' memory at the plan's own precisions: every golden single plan as plan
    solve wrote it passes (FP8 weights beside FP4 experts on B200, MTP's draft layers, bf16 Llama)."""
    from planner.studies.simulate.planfile import plan_from_dict
    from planner.studies.simulate.tables import check_fits, physics
    golden = Path(__file__).parent / "golden" / "solve" / f"{name}.json"
    plan = plan_from_dict(json.loads(golden.read_text(encoding="utf-8")), str(golden))
    assert any(p.memory_per_card_bytes for p in plan.pools)
    check_fits(physics(plan, str(golden)), str(golden))


def test_an_unedited_plan_and_a_workload_edit_still_simulate(tmp_path, small_plan):
    """A plan as written simulates; a workload edit (simulate's way to see the pools under another
    load) is not taken for a precision edit."""
    e = _edited(tmp_path, small_plan)
    code, out = run("simulate", e, "--requests", "2000")
    assert code == 0 and "Simulation:" in out, out
    w = {**small_plan["workload"], "input_tokens": 900.0, "input_distribution": [[900.0, 1.0]]}
    code, out = run("simulate", _edited(tmp_path, small_plan, workload=w), "--requests", "2000")
    assert code == 0 and "Simulation:" in out, out


# ------------------------------------------------------------------------ mode against the pools' roles
@pytest.mark.parametrize("mode, made", [("colocated", "disaggregated"), ("mixed", "disaggregated")])
@pytest.mark.parametrize("command", ["simulate", "export"])
def test_a_mode_the_pools_roles_contradict_is_refused(tmp_path, small_plan, mode, made, command):
    """`mode: colocated` on prefill and decode pools passed simulate and export and was ignored,
    where `mode: banana` was refused as not what plan solve writes "as its pools' roles make it"."""
    e = _edited(tmp_path, small_plan, mode=mode)
    code, out = _command(command, e)
    assert code == 2, out
    assert out.strip() == (f"error: {e}: mode: '{mode}'; plan solve writes disaggregated, colocated or mixed, as "
                           f"its pools' roles make it: its pools' (decode, prefill) make it {made}"), out


def test_a_mode_the_pools_make_passes_and_a_colocated_plan_keeps_its_own(tmp_path, small_plan):
    """The mode plan solve wrote passes; so does a plan of colocated pools beside decode ones, `mixed`."""
    code, out = _export(_edited(tmp_path, small_plan))
    assert code == 0, out
    mixed = json.loads((Path(__file__).parent / "data" / "plans" / "rag_long_context_mixed.json").read_text("utf-8"))
    assert mixed["mode"] == "mixed"
    from planner.studies.simulate.fleet import check_header
    check_header(mixed, "r.json")
    with pytest.raises(Exception, match="its pools' .* make it mixed"):
        check_header({**mixed, "mode": "colocated"}, "r.json")


# ------------------------------------------------------------------------ calibration's name
@pytest.mark.parametrize("name", ["nosuch", "roofline"])
@pytest.mark.parametrize("command", ["simulate", "export"])
def test_a_calibration_name_edited_away_from_its_source_is_refused(tmp_path, small_plan, name, command):
    """`calibration: nosuch` passed: simulate read the profile of calibration_source (default) and
    export wrote "calibration nosuch" into the README; `roofline` was printed for default's numbers."""
    e = _edited(tmp_path, small_plan, calibration=name)
    code, out = _command(command, e)
    assert code == 2, out
    assert out.strip() == (f"error: {e}: calibration: '{name}', but the profile the plan was solved with "
                           f"(calibration_source 'default') is named 'default'; plan solve writes the name of the "
                           f"profile it read: write it back, or re-solve the problem with the profile you mean"), out
    assert not (tmp_path / "out").exists()


def test_a_plan_of_another_profile_or_with_overrides_passes(tmp_path, small_plan):
    """Both names edited to another profile is a plan of that profile (simulated with it), and a plan
    solved with calibration_overrides carries the name plan solve gives it (`default+overrides`)."""
    code, out = run("simulate", _edited(tmp_path, small_plan, calibration="roofline", calibration_source="roofline"),
                    "--requests", "2000")
    assert code == 0 and "Simulation:" in out, out
    import yaml
    assert run("init", "--model", "llama-3.1-8b", "--out", tmp_path / "o.yaml")[0] == 0
    p = yaml.safe_load((tmp_path / "o.yaml").read_text(encoding="utf-8"))
    write(tmp_path, {**p, "calibration_overrides": {"compute_efficiency": 0.5}}, "o.yaml")
    code, out = run("solve", tmp_path / "o.yaml", "--out", tmp_path / "o.json")
    assert code == 0, out
    assert json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))["calibration"] == "default+overrides"
    code, out = run("export", tmp_path / "o.json", "--target", "vllm", "--out", tmp_path / "x")
    assert code == 0 and "calibration default+overrides" in (tmp_path / "x" / "README.txt").read_text("utf-8"), out


def test_a_plan_solved_at_a_confidence_passes(tmp_path):
    """slo.confidence names the profile `default@90%` (plan.resolve.at_confidence): a plan as solved."""
    import yaml
    assert run("init", "--model", "llama-3.1-8b", "--out", tmp_path / "p.yaml")[0] == 0
    p = yaml.safe_load((tmp_path / "p.yaml").read_text(encoding="utf-8"))
    write(tmp_path, {**p, "slo": {**p["slo"], "confidence": 90}}, "p.yaml")
    code, out = run("solve", tmp_path / "p.yaml", "--out", tmp_path / "p.json")
    assert code == 0, out
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))["calibration"] == "default@90%"
    code, out = run("simulate", tmp_path / "p.json", "--requests", "2000")
    assert code == 0 and "Simulation:" in out, out


# ------------------------------------------------------------------------ measurement ids
PUBLIC = Path(__file__).parent.parent / "catalogs" / "measurements" / "public.yaml"


@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_two_measurement_points_of_one_id_are_refused(tmp_path, command):
    """Two different points under one `id` were both accepted and merged into one cross-validation
    group (`public|id`), and shown under one name; no document makes a repeated id a grouping."""
    import yaml
    data = yaml.safe_load(PUBLIC.read_text(encoding="utf-8"))
    dup = data["points"][1]["id"]
    data["points"][2]["id"] = dup
    m = write(tmp_path, yaml.safe_dump(data, sort_keys=False), "m.yaml")
    extra = ["--out", tmp_path / "c.yaml"] if command == "calibrate" else []
    code, out = run(command, m, "--folds", "0", *extra)
    assert code == 2, out
    assert out.strip().splitlines()[-1] == (f"error: {m}: points[2].id: {dup!r} is also the id of points[1]; each "
                                            f"point has an id of its own (its cross-validation group and its row "
                                            f"in plan validate): rename one"), out
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_one_id_in_two_measurement_files_is_refused(tmp_path, command):
    """The same id in two files given together (each file's own ids distinct) was accepted: both
    points merged into one cross-validation group (`public|id`) and shown under one name."""
    import yaml
    held = yaml.safe_load((PUBLIC.parent / "held_out" / "public_held_out.yaml").read_text(encoding="utf-8"))
    held["points"] = held["points"][:2]
    held["points"][1]["id"] = "deepseek-v3-h800-production-decode"   # a point of public.yaml
    m = write(tmp_path, yaml.safe_dump(held, sort_keys=False), "m.yaml")
    extra = ["--out", tmp_path / "c.yaml"] if command == "calibrate" else []
    code, out = run(command, PUBLIC, m, "--folds", "0", *extra)
    assert code == 2, out
    assert out.strip().splitlines()[-1] == (f"error: {m}: id 'deepseek-v3-h800-production-decode' is also the id of "
                                            f"a point in {PUBLIC}; each point has an id of its own across the files "
                                            f"given together (its cross-validation group and its row in plan "
                                            f"validate): rename one"), out
    assert not (tmp_path / "c.yaml").exists()
    held["points"][1]["id"] = "renamed"
    code, out = run("validate", PUBLIC, write(tmp_path, yaml.safe_dump(held, sort_keys=False), "m.yaml"),
                    "--folds", "0")
    assert code == 0 and "renamed" in out, out


def test_the_shipped_measurement_files_have_distinct_ids():
    for f in (PUBLIC, PUBLIC.parent / "held_out" / "public_held_out.yaml"):
        code, out = run("validate", f, "--folds", "0")
        assert code == 0 and "all: n=" in out, out


# ------------------------------------------------------------------------ a fleet service's checks in simulate
GOLDEN_FLEET = Path(__file__).parent / "golden" / "solve" / "fleet_mix.json"


def test_simulate_names_a_fleet_services_pool_by_the_files_index(tmp_path):
    """plan simulate said `f.json: pools[1]: decode[…]: slots 1,000,000 …` of rag's decode pool, the
    file's pools[2] (pools[1] is rag's prefill pool): the service's own index under the file's name.
    plan export said `service rag: pools[2]`; simulate now says it too."""
    d = json.loads(GOLDEN_FLEET.read_text(encoding="utf-8"))
    assert [(p["service"], p["role"]) for p in d["pools"][1:3]] == [("rag", "prefill"), ("rag", "decode")]
    d["pools"][2]["slots"] = 1_000_000
    f = write(tmp_path, json.dumps(d), "f.json")
    for code, out in (run("simulate", f, "--requests", "2000"), _export(f)):
        assert code == 2, out
        assert out.startswith(f"error: {f}: service rag: pools[2]: decode[h20-TP1·DP8-b32]: slots 1,000,000 but "), out


def test_simulate_names_the_fleet_service_whose_weight_dtype_was_edited(tmp_path):
    d = json.loads(GOLDEN_FLEET.read_text(encoding="utf-8"))
    assert d["services"][1]["key"] == "rag" and d["services"][1]["weight_dtype"] == "bf16"
    d["services"][1]["weight_dtype"] = "fp4"
    f = write(tmp_path, json.dumps(d), "f.json")
    code, out = run("simulate", f, "--requests", "2000")
    assert code == 2 and out.startswith(f"error: {f}: service rag: weight_dtype: fp4, but the pools were sized "
                                        f"for bf16 weights"), out
