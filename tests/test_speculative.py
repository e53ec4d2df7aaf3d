"""Speculative decoding (serving.speculative; docs/optimisation.md, "Speculative decoding").

Oracles: the expected tokens per step by hand; a step as the verify pass plus k draft passes of
one layer's share of the plain step; the numpy twins equal to the scalar step with it; the MILP
turning MTP on in the example and the saving against the best plan without it (the seed's own
plan); `use: on` everywhere; the simulator advancing each pool's sequences by its own tokens
per step; the exports' flags; bad input exit 2 naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.catalog.calibration import load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.input.load import load_fleet, load_problem
from planner.physics import batched, perf
from planner.physics.deployment import Deployment, Parallelism, Speculation, memory_use, weights_per_card_bytes
from planner.plan.solve import solve

ROOT = Path(__file__).resolve().parents[1]
MTP1 = Speculation("mtp", 1, 0.85)


TP8 = Parallelism(tp=8)


def dep(spec=None, model="deepseek-r1", gpu="h200", par=TP8) -> Deployment:
    return Deployment(load_models()[model], load_gpus()[gpu], par, load_calibration("default"), "fp8", "bf16", spec)


@pytest.mark.parametrize("k, a, expected", [(1, 0.85, 1.85), (3, 0.7, 1 + 0.7 + 0.49 + 0.343), (2, 0.5, 1.75)])
def test_expected_tokens_per_step_by_hand(k, a, expected):
    s = Speculation("mtp", k, a)
    assert s.accepted_per_step == pytest.approx(expected)
    assert perf.tokens_per_step(dep(s)) == pytest.approx(expected)
    assert perf.tokens_per_step(dep()) == load_calibration("default").v("decode_tokens_per_step")


def test_a_step_is_the_verify_pass_plus_the_drafts():
    """Drafts: k passes of one layer's share of the plain step. Verify: the pass over b·(k+1)
    tokens with the KV of b sequences — more than the plain step, less than a plain step of
    b·(k+1) sequences (which would read (k+1)× the KV). TPOT = step / tokens per step."""
    plain, spec = dep(), dep(Speculation("mtp", 2, 0.8))
    layers = plain.arch.layers
    for b in (1, 16, 256):
        d = perf.drafts(spec, b, 1500).time_s
        assert d == pytest.approx(perf.decode_step(plain, b, 1500).time_s * 2 / layers)
        verify = perf.decode_step(spec, b, 1500).time_s - d
        assert perf.decode_step(plain, b, 1500).time_s < verify < perf.decode_step(plain, 3 * b, 1500).time_s
        assert perf.tpot(spec, b, 1500) == pytest.approx(perf.decode_step(spec, b, 1500).time_s / (1 + 0.8 + 0.64))
    m0, m1 = memory_use(plain, 64, 2000), memory_use(spec, 64, 2000)
    assert m1.weights_bytes == pytest.approx(weights_per_card_bytes(plain) * (1 + 1 / layers))
    assert m1.kv_bytes == pytest.approx(m0.kv_bytes * (1 + 1 / layers))


@pytest.mark.parametrize("model, par", [("deepseek-r1", Parallelism(tp=8)), ("deepseek-r1", Parallelism(1, 2, 8)),
                                        ("llama-3.1-70b", Parallelism(tp=4))])
def test_the_twins_with_speculation(model, par):
    d = dep(Speculation("eagle", 3, 0.7), model=model, par=par)
    bs = np.array([1, 2, 17, 64, 255], dtype=float)
    dec = batched.decode_steps(d, bs, 1500.0)
    mix = batched.mixed_steps(d, bs, 1500.0, np.array([1.0, 64.0, 513.0, 1000.0, 8192.0]), 1000.0)
    for i, b in enumerate(bs.tolist()):
        assert dec.at(i).time_s == pytest.approx(perf.decode_step(d, b, 1500.0).time_s, rel=1e-12)
        assert mix.at(i).time_s == pytest.approx(
            perf.mixed_step(d, b, 1500.0, [1.0, 64.0, 513.0, 1000.0, 8192.0][i], 1000.0).time_s, rel=1e-12)


def test_the_milp_turns_mtp_on_and_says_what_it_saved():
    plan = solve(load_problem(ROOT / "problems/deepseek_mtp.yaml"))
    seed = solve(load_problem(ROOT / "problems/deepseek_qps.yaml"))
    assert plan.verification.passed and any(c.spec is not None for c in plan.chosen)
    assert plan.cost_per_hour < seed.cost_per_hour
    assert plan.cost_without_speculation == pytest.approx(seed.cost_per_hour)
    for st in plan.verification.pools:
        if st.candidate.spec is not None and st.candidate.role != "prefill":
            assert st.tpot_s <= 0.050 + 1e-9
    r = CliRunner().invoke(cli.main, ["solve", "problems/deepseek_mtp.yaml", "--json"])
    d = json.loads(r.output)
    s = d["speculative"]
    assert s["tokens_per_step"] == pytest.approx(1.85)
    assert s["cost_without_per_hour"] == pytest.approx(seed.cost_per_hour)
    assert s["saving_fraction"] == pytest.approx(1 - plan.cost_per_hour / seed.cost_per_hour)
    assert any(p["speculative"] == {"method": "mtp", "draft_tokens": 1, "acceptance": 0.85, "tokens_per_step": 1.85}
               for p in d["pools"])
    text = CliRunner().invoke(cli.main, ["solve", "problems/deepseek_mtp.yaml"]).output
    assert "decode+mtp1" in text and "Speculative decoding (mtp, 1 draft token" in text and "saves" in text


def test_use_on_puts_it_in_every_decoding_pool(tmp_path):
    d = yaml.safe_load((ROOT / "problems/deepseek_mtp.yaml").read_text())
    d["serving"]["speculative"]["use"] = "on"
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    plan = solve(load_problem(f))
    assert all(c.spec is not None for c in plan.chosen if c.role != "prefill")
    assert plan.cost_without_speculation is None


def test_the_simulator_steps_each_pool_at_its_own_rate(tmp_path):
    """The plan's pools with MTP advance 1.85 tokens per step in the simulation: the simulated
    TPOT matches the plan's within the simulator's tolerance."""
    out = tmp_path / "plan.json"
    r = CliRunner().invoke(cli.main, ["solve", "problems/deepseek_mtp.yaml", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli.main, ["simulate", str(out), "--requests", "50000", "--json"])
    assert r.exit_code == 0, r.output
    sim = json.loads(r.output)
    checked = 0
    for p in sim["pools"]:
        if p["role"] != "prefill" and "mtp1" in p["name"]:
            assert p["simulated"]["tpot_s"]["mean"] == pytest.approx(p["analytic"]["tpot_s"], rel=0.1)
            checked += 1
    assert checked >= 1 and sim["passed"]


@pytest.mark.parametrize("engine, needle", [
    ("vllm", '--speculative-config \'{"method":"deepseek_mtp","num_speculative_tokens":1}\''),
    ("sglang", "--speculative-algorithm EAGLE --speculative-num-steps 1 --speculative-eagle-topk 1 "
               "--speculative-num-draft-tokens 2"),
    ("trtllm", "decoding_type: MTP"),
])
def test_exports_realise_it(tmp_path, engine, needle):
    """deepseek_mtp's MTP decode pools exported for each engine. Since the embedding and LM-head
    physics (physics-edges) the example's own plan, at the same 1,138.64 RMB/h, puts a colocated
    pool beside its prefill/decode pools, which sglang and TensorRT-LLM refuse to export, so a copy
    asks for serving.modes [disaggregated] (3 of 4 pools decode+mtp1)."""
    d = yaml.safe_load((ROOT / "problems/deepseek_mtp.yaml").read_text())
    d["serving"]["modes"] = ["disaggregated"]
    prob = tmp_path / "deepseek_mtp.yaml"
    prob.write_text(yaml.safe_dump(d, sort_keys=False))
    r = CliRunner().invoke(cli.main, ["solve", str(prob), "--export", engine,
                                      "--export-dir", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    text = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert needle in text


@pytest.mark.parametrize("spec, field", [
    ({"method": "medusa"}, "serving.speculative.method"),
    ({"method": "mtp", "acceptance": 1.0}, "serving.speculative.acceptance"),
    ({"method": "mtp", "acceptance": 0}, "serving.speculative.acceptance"),
    ({"method": "mtp", "draft_tokens": 0}, "serving.speculative.draft_tokens"),
    ({"method": "mtp", "draft_tokens": 1.5}, "serving.speculative.draft_tokens"),
    ({"method": "eagle", "draft_tokens": 2}, "serving.speculative: acceptance: required for eagle"),
    ({"method": "mtp", "use": "maybe"}, "serving.speculative.use"),
    ({"method": "mtp", "use": False}, "serving.speculative.use: off (YAML reads an unquoted on/off"),
])
def test_bad_speculative_exits_2(tmp_path, spec, field):
    d = yaml.safe_load((ROOT / "problems/deepseek_mtp.yaml").read_text())
    d["serving"]["speculative"] = spec
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and field in r.output and "Traceback" not in r.output, r.output


def test_use_on_unquoted_as_the_docs_write_it(tmp_path):
    """`use: on`, as docs/problem-files.md writes it, is YAML 1.1's true: it was refused as 'true/false
    is not a number or a name here' (hostile-input hunt, 2026-12-04); it now reads as 'on'."""
    text = (ROOT / "problems/deepseek_mtp.yaml").read_text()
    assert "use: auto" in text
    f = tmp_path / "p.yaml"
    f.write_text(text.replace("use: auto", "use: on"))
    assert load_problem(f).serving.speculative.use == "on"


def test_mtp_needs_the_models_mtp_layers(tmp_path):
    d = yaml.safe_load((ROOT / "problems/llama70b_chat.yaml").read_text())
    d.setdefault("serving", {})["speculative"] = {"method": "mtp"}
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and "serving.speculative.method: mtp needs the model's multi-token" in r.output
    d["serving"]["speculative"] = {"method": "eagle", "draft_tokens": 2, "acceptance": 0.7}
    f.write_text(yaml.safe_dump(d))
    plan = solve(load_problem(f))
    assert plan.verification.passed


def test_a_fleet_prices_its_plan_without_speculation_from_all_its_candidates():
    """A fleet prunes each service's candidates with the speculative ones among them; the cost
    without speculation is then found among the candidates without it, pruned again from all
    (a no-MTP decode candidate pruned for an MTP one must come back): it equals the same fleet
    solved with speculation off."""
    from planner.input.fleet import FleetProblem

    def fleet(mtp: bool):
        spec = {"speculative": {"method": "mtp", "draft_tokens": 1, "use": "auto"}} if mtp else {}
        return FleetProblem.model_validate({
            "name": "mtp-fleet", "gpus": [{"id": "h200", "price_per_gpu_hour": 20.83}, "h20"],
            "serving": {"modes": ["disaggregated"], **spec},
            "classes": [{"name": "chat", "model": "deepseek-r1", "precision": {"weights": "fp8"},
                         "workload": {"qps": 60, "input_tokens": 1000, "output_tokens": 1000},
                         "slo": {"ttft": "2s", "tpot": "50ms"}}]})

    # 60 req/s: MTP saves a node here (499.92 against 619.92 RMB/h under the profile of
    # 2026-12-04; at 50 req/s, this test's load before, both fit the same nodes)
    auto, off = solve(fleet(True)), solve(fleet(False))
    assert any(c.spec is not None for c in auto.chosen)
    assert auto.cost_per_hour < off.cost_per_hour
    assert auto.cost_without_speculation == pytest.approx(off.cost_per_hour)


@pytest.mark.parametrize("gpu, par", [("h200", TP8), ("h200", Parallelism(tp=1, dp=8, pp=2)),
                                      ("h100", Parallelism(tp=1, dp=8, pp=2)), ("h100", Parallelism(tp=1, dp=8, pp=4))])
def test_the_largest_batch_fits_with_the_drafts_kv(gpu, par):
    """max_batch counts the draft's layers' KV as memory_use does: it sized a TP1·DP8·PP2 H100 decode
    instance of DeepSeek-R1 with MTP at 2,554 sequences, 72.05 GB a card against 72.0 GB usable, and
    the plan failed its verification (exit 4)."""
    d = dep(MTP1, gpu=gpu, par=par)
    ctx = 1500.0
    b = perf.max_batch(d, ctx)
    assert b > 0
    fits = memory_use(d, b, ctx)
    over = memory_use(d, b + d.par.dp, ctx)
    assert fits.weights_bytes + fits.kv_bytes <= fits.usable_bytes
    assert over.weights_bytes + over.kv_bytes > over.usable_bytes


def test_the_cost_without_speculation_is_a_verified_plans(tmp_path):
    """The saving a plan reports is against the cheapest plan without speculation that passes
    verification, solved as the plan is (`solve._solve_verified`: with the re-solves without
    colocated candidates that break TPOT by the requests they import); until 2026-12-04 it was
    the MILP's optimum alone, never verified. deepseek_mtp colocated at 50 req/s and 4-token
    answers: MTP 194.40 RMB/h, without it 777.60 (666.56 before the physics-edges refit), the
    problem solved with no speculative block."""
    d = yaml.safe_load((ROOT / "problems/deepseek_mtp.yaml").read_text())
    d["workload"].update(qps=50, output_tokens=4)
    d["serving"]["modes"] = ["colocated"]
    auto = tmp_path / "auto.yaml"
    auto.write_text(yaml.safe_dump(d, sort_keys=False))
    del d["serving"]["speculative"]
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump(d, sort_keys=False))
    plan, plain = solve(load_problem(auto)), solve(load_problem(off))
    assert any(c.spec is not None for c in plan.chosen) and all(c.spec is None for c in plain.chosen)
    assert plan.cost_per_hour == pytest.approx(194.40)
    assert plan.cost_without_speculation == pytest.approx(plain.cost_per_hour) == pytest.approx(777.60)


def test_a_day_whose_plan_without_speculation_has_no_decode_candidate_still_plans(tmp_path):
    """EAGLE at 50-token answers over a day: the comparison's plan without speculation had no decode
    candidate, its MILP's empty decode row raised BadInput ('no candidate can decode', no file
    named) and the whole day plan ended with exit 2 (a hostile-input hunt, third round). No plan
    without speculation is now 'none' (no saving reported), as an infeasible one was."""
    p = tmp_path / "day.yaml"
    p.write_text("name: r08\nmodel: llama-3.1-8b\nworkload:\n  qps: 40\n  input_tokens: 1000\n  output_tokens: 50\n"
                 "  profile: {qps_fraction: [" + ", ".join(["1"] * 12 + ["0.5"] * 12) + "]}\n"
                 "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n"
                 "serving: {speculative: {method: eagle, acceptance: 0.7}}\n")
    from click.testing import CliRunner

    from cli import main
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 0, r.output
    assert "Verification: PASSED" in r.output


def _mixed_fleet(tmp_path, models=("deepseek-r1", "llama-3.1-8b")) -> Path:
    """A fleet of DeepSeek-R1 chat beside a Llama-3.1-8B router, MTP fleet-wide."""
    classes = [{"name": "chat", "model": models[0],
                "workload": {"qps": 60, "input_tokens": 1000, "output_tokens": 1000},
                "slo": {"ttft": "2s", "tpot": "50ms"}},
               {"name": "router", "model": models[1], "workload": {"qps": 30, "input_tokens": 500, "output_tokens": 20},
                "slo": {"ttft": "300ms", "tpot": "30ms"}}]
    f = tmp_path / "fleet.yaml"
    f.write_text(yaml.safe_dump({"name": "mixed", "classes": classes,
                                 "gpus": [{"id": "h200", "price_per_gpu_hour": 20.83}, "h20"],
                                 "serving": {"speculative": {"method": "mtp"}}}))
    return f


def test_a_fleet_plans_mtp_where_its_models_have_the_layers(tmp_path):
    """MTP is a fleet's setting; a model without MTP layers beside one with them (Llama beside
    DeepSeek) made the whole fleet exit 2 (a hostile-input hunt of 2026-12-07). Its classes are
    now planned without it, with a note naming them: the router's candidates have no speculation,
    the chat's have, the plan uses it on DeepSeek pools alone, costs no more than with it off
    (the same fleet without serving.speculative, which is also the price it reports without),
    and the JSON names the class left out."""
    f = _mixed_fleet(tmp_path)
    out = tmp_path / "plan.json"
    r = CliRunner().invoke(cli.main, ["solve", str(f), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert ("serving.speculative: mtp needs a model's multi-token-prediction layers, which llama-3.1-8b has not: "
            "class router is planned without speculative decoding") in r.output
    d = json.loads(out.read_text())
    assert d["speculative"]["classes_without"] == ["router"]
    assert {p["model"] for p in d["pools"] if p["speculative"]} == {"deepseek-r1"}
    assert d["speculative"]["pools_using"] >= 1
    plan = solve(load_fleet(f))
    for s in plan.services:
        kinds = {c.spec is not None for c in s.cs.candidates if c.role != "prefill"}
        assert kinds == ({False, True} if s.res.model.id == "deepseek-r1" else {False}), s.key
    raw = yaml.safe_load(f.read_text())
    del raw["serving"]
    f.write_text(yaml.safe_dump(raw))
    off = solve(load_fleet(f))
    assert plan.cost_per_hour <= off.cost_per_hour
    assert plan.cost_without_speculation == pytest.approx(off.cost_per_hour)
    assert d["speculative"]["cost_without_per_hour"] == pytest.approx(off.cost_per_hour)


def test_a_fleet_of_models_without_mtp_layers_exits_2(tmp_path):
    """With no class able to use it, MTP is refused as on a single problem (exit 2 naming the field)."""
    f = _mixed_fleet(tmp_path, ("llama-3.1-8b", "qwen3-235b-a22b"))
    r = CliRunner().invoke(cli.main, ["solve", str(f)])
    assert r.exit_code == 2 and "serving.speculative.method: mtp needs the model's multi-token" in r.output
    assert "planned without" not in r.output
