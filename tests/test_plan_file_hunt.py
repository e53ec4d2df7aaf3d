"""Hostile plan files and export directories (a hunt of 2026-12-05): a plan JSON edited by hand
reached the engine commands, the simulation's tables and the export's files, and `--force`
deleted a user's directory. Each case now exits 2 with one message naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def plan_data(tmp_path_factory) -> dict:
    """The plan of problems/small_model_cheap_card.yaml (llama-3.1-8b on RTX 4090s), served
    disaggregated: prefill[rtx4090-TP1-B4] ×6 beside decode[rtx4090-TP8-b547] since HiGHS's lighter
    search (forty-fifth session; before it prefill[rtx4090-TP1-B4] ×4, prefill[rtx4090-TP4-B16],
    decode[rtx4090-TP4-b386] ×2, at the same cost). The hunt's plan was prefill and decode pools;
    since the embedding and LM-head physics (physics-edges) the example's own plan, at the same
    19.84 RMB/h, is a decode pool beside a colocated one, which sglang refuses to export and which
    has no third pool, so the copy here asks for serving.modes [disaggregated]."""
    d = tmp_path_factory.mktemp("plan")
    out, prob = d / "S.json", d / "small_model_cheap_card.yaml"
    problem = yaml.safe_load((ROOT / "problems" / "small_model_cheap_card.yaml").read_text(encoding="utf-8"))
    prob.write_text(yaml.safe_dump({**problem, "serving": {"modes": ["disaggregated"]}}, sort_keys=False),
                    encoding="utf-8")
    code, text = run("solve", prob, "--out", out)
    assert code == 0, text
    return json.loads(out.read_text(encoding="utf-8"))


def edited(tmp_path: Path, plan_data: dict, **changes) -> Path:
    """The plan with top-level keys changed, written as r.json."""
    p = tmp_path / "r.json"
    p.write_text(json.dumps({**plan_data, **changes}), encoding="utf-8")
    return p


# ------------------------------------------------------------------------ the model's name
@pytest.mark.parametrize("target", ["vllm", "sglang", "dynamo", "k8s"])
@pytest.mark.parametrize("model", ["--trust-remote-code", "llama 3.1"])
def test_model_is_no_engine_flag(tmp_path, plan_data, target, model):
    """A hunt found `model: --trust-remote-code` exported as `--served-model-name
    --trust-remote-code`: the plan's model became a flag of every engine command."""
    code, out = run("export", edited(tmp_path, plan_data, model=model), "--target", target, "--out", tmp_path / "o")
    assert code == 2, out
    assert "r.json: model: not a model name an engine serves (one word, not starting with '-')" in out
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("model", ["llama-9", "qwen3-32b"])
def test_model_is_the_model_of_its_source(tmp_path, plan_data, model):
    """A hunt found `model: llama-9` (or another catalog model) beside model_source llama-3.1-8b
    exported and simulated: the served name and load test named a model the plan was not for."""
    plan = edited(tmp_path, plan_data, model=model)
    why = (f"r.json: model: '{model}', but its model_source 'llama-3.1-8b' is model 'llama-3.1-8b'; "
           f"plan solve writes the model it planned")
    for args in (("export", plan, "--target", "vllm", "--out", tmp_path / "o"),
                 ("simulate", plan, "--requests", "2000")):
        code, out = run(*args)
        assert code == 2 and why in out, out


def test_model_source_is_no_engine_flag(tmp_path, plan_data):
    """A hunt found that `model_source`, the path the scripts load, may start with '-' too."""
    code, out = run("export", edited(tmp_path, plan_data, model_source="--trust-remote-code"), "--target", "vllm",
                    "--out", tmp_path / "o")
    assert code == 2 and "r.json: model_source: starts with '-', which the engines would read as a flag" in out


# ------------------------------------------------------------------------ --force
def _export_with_user_folder(tmp_path: Path, plan_data: dict, folder: str, list_it: bool) -> tuple[Path, Path]:
    """A previous export in o5 with a user's folder `folder` holding notes.txt (listed in the
    manifest when `list_it`; else it takes the place of the export's own file of that name)."""
    plan, out = edited(tmp_path, plan_data), tmp_path / "o5"
    code, text = run("export", plan, "--target", "vllm", "--out", out)
    assert code == 0, text
    if (out / folder).exists():
        (out / folder).unlink()
    (out / folder).mkdir()
    (out / folder / "notes.txt").write_text("precious\n", encoding="utf-8")
    if list_it:
        with open(out / ".planner-export", "a", encoding="utf-8") as f:
            f.write(f"{folder}\n")
    return plan, out


@pytest.mark.parametrize("folder, list_it", [("slo.json", False), ("sub", True)])
def test_force_never_deletes_a_folder_of_the_users(tmp_path, plan_data, folder, list_it):
    """A hunt found `plan export --force` deleting a user's folder with its files: one made where
    the export's slo.json was, or one whose name was appended to the .planner-export manifest."""
    plan, out = _export_with_user_folder(tmp_path, plan_data, folder, list_it)
    code, text = run("export", plan, "--target", "vllm", "--out", out, "--force")
    assert code == 2, text
    assert f"o5/{folder}: is a directory, and an export writes files only" in text
    assert (out / folder / "notes.txt").read_text(encoding="utf-8") == "precious\n"


def test_force_still_replaces_a_previous_export(tmp_path, plan_data):
    """What --force is for still works: a previous export of files only is replaced."""
    plan, out = edited(tmp_path, plan_data), tmp_path / "o5"
    assert run("export", plan, "--target", "vllm", "--out", out)[0] == 0
    code, text = run("export", plan, "--target", "sglang", "--out", out, "--force")
    assert code == 0, text
    assert "sglang" in (out / "README.txt").read_text(encoding="utf-8")


# ------------------------------------------------------------------------ a failed verification
def test_a_plan_that_failed_its_verification_is_not_exported(tmp_path, plan_data):
    """A hunt found a plan whose `verification.passed` is false exported with exit 0, while a
    plan of `status: infeasible` is refused: its pools break a limit and would be deployed."""
    v = json.loads(json.dumps(plan_data["verification"]))
    v["passed"], v["checks"][2]["ok"] = False, False
    code, out = run("export", edited(tmp_path, plan_data, verification=v), "--target", "vllm", "--out", tmp_path / "o")
    assert code == 2, out
    assert ("r.json: verification.passed: the plan failed its verification (ttft[prefill[rtx4090-TP1-B4]] failed); "
            "export a plan that passed") in out
    assert not (tmp_path / "o").exists()
    v["checks"][2]["ok"] = True   # no check named: the flag alone
    code, out = run("export", edited(tmp_path, plan_data, verification=v), "--target", "k8s", "--out", tmp_path / "o")
    assert code == 2 and "the plan failed its verification (passed: false)" in out, out


def test_a_plan_that_failed_its_verification_is_simulated_with_a_warning(tmp_path, plan_data):
    """plan simulate is a check, so it still runs such a plan; until 2026-12-06 it said nothing of the
    failed verification that plan export refuses the plan for."""
    v = json.loads(json.dumps(plan_data["verification"]))
    v["passed"], v["checks"][2]["ok"] = False, False
    p = edited(tmp_path, plan_data, verification=v)
    r = CliRunner().invoke(cli.main, ["simulate", str(p), "--requests", "2000"])
    assert r.exit_code == 0, r.output
    assert r.stderr == (f"warning: {p}: verification.passed: the plan failed its verification "
                        f"(ttft[prefill[rtx4090-TP1-B4]] failed); simulated as written, which plan export refuses\n")
    assert r.stdout.startswith("Simulation of ")
    r = CliRunner().invoke(cli.main, ["simulate", str(edited(tmp_path, plan_data)), "--requests", "2000"])
    assert r.exit_code == 0 and r.stderr == "", r.output


# ------------------------------------------------------------------------ names of any length
def test_a_pools_name_is_capped_as_a_problems(tmp_path, plan_data):
    """A hunt found a pool named with 4 million characters printed whole by plan simulate (48 MB);
    a problem file's name stops at 256 characters, and so now does a plan file's pool name."""
    pools = json.loads(json.dumps(plan_data["pools"]))
    pools[1]["name"] = "a" * 4_000_000
    plan = edited(tmp_path, plan_data, pools=pools)
    for args in (("simulate", plan, "--requests", "20000"),
                 ("export", plan, "--target", "k8s", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and "r.json: pools[1].name: String should have at most 256 characters" in out, out[:300]
        assert len(out) < 1000
    pools[1]["name"] = "a" * 256   # the cap itself is a name
    assert run("simulate", edited(tmp_path, plan_data, pools=pools), "--requests", "2000")[0] == 0


def test_a_plans_problem_name_is_capped_as_a_problems(tmp_path, plan_data):
    """A hunt found `problem` of 4 million characters written into a 31 MB k8s export."""
    plan = edited(tmp_path, plan_data, problem="p" * 4_000_000)
    why = "r.json: problem: 4,000,000 characters; a problem's name is at most 256"
    for args in (("simulate", plan, "--requests", "20000"),
                 ("export", plan, "--target", "k8s", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and why in out and len(out) < 1000, out[:300]
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ numbers out of their domain
@pytest.mark.parametrize("change, why", [
    ({"fixed_ttft_s": float("nan")}, "r.json: fixed_ttft_s: NaN; a plan file holds finite numbers"),
    ({"cost_per_hour": float("-inf")}, "r.json: cost_per_hour: -Infinity; a plan file holds finite numbers"),
    ({"cost_per_hour": -3.5}, "r.json: cost_per_hour: -3.5; a cost or latency is a number, 0 or more"),
    ({"fixed_ttft_s": -0.05}, "r.json: fixed_ttft_s: -0.05; a cost or latency is a number, 0 or more"),
])
def test_numbers_out_of_their_domain_are_refused(tmp_path, plan_data, change, why):
    """A hunt found `fixed_ttft_s: NaN` and `cost_per_hour: -Infinity` in a plan file simulated
    and exported with exit 0 (the readers' schemas skipped the keys they do not read)."""
    plan = edited(tmp_path, plan_data, **change)
    for args in (("simulate", plan, "--requests", "2000"),
                 ("export", plan, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and why in out, out


def test_a_nan_deep_in_the_file_is_named_by_its_path(tmp_path, plan_data):
    """Also found: NaN in a pool's or a check's numbers (`pools[2].tpot_mean_s`, the last pool),
    which no reader reads but the file carries as the plan's."""
    pools = json.loads(json.dumps(plan_data["pools"]))
    k = len(pools) - 1
    assert k >= 1
    pools[k]["tpot_mean_s"], pools[k]["cost_per_hour"] = float("inf"), 1.0
    code, out = run("export", edited(tmp_path, plan_data, pools=pools), "--target", "vllm", "--out", tmp_path / "o")
    assert code == 2 and f"r.json: pools[{k}].tpot_mean_s: Infinity; a plan file holds finite numbers" in out, out
    pools[k]["tpot_mean_s"], pools[k]["cost_per_hour"] = 0.02, -1
    code, out = run("simulate", edited(tmp_path, plan_data, pools=pools), "--requests", "2000")
    assert code == 2 and f"r.json: pools[{k}].cost_per_hour: -1; a cost or latency is a number, 0 or more" in out, out


# ------------------------------------------------------------------------ slots
def test_slots_below_the_batch_are_refused_by_simulate_and_export(tmp_path, plan_data):
    """A hunt found `slots: 10` beside a mean batch of 68.6 simulated at 69 sequences an instance
    (it checked the batch against the larger of slots and the design batch) and exported
    `--max-num-seqs 10`; a batch above slots named the design batch as 'slots'."""
    pools = json.loads(json.dumps(plan_data["pools"]))
    k = next(i for i, p in enumerate(pools) if p.get("slots"))
    pools[k]["slots"] = 10
    p = edited(tmp_path, plan_data, pools=pools)
    for args in (("simulate", p, "--requests", "2000"), ("export", p, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and f"pools[{k}]: slots 10 is below design_batch {pools[k]['design_batch']}" in out, out
    pools[k]["slots"] = pools[k]["design_batch"]
    pools[k]["batch"] = pools[k]["design_batch"] + 0.5
    code, out = run("simulate", edited(tmp_path, plan_data, pools=pools), "--requests", "2000")
    assert code == 2 and f"batch {pools[k]['batch']:g} is above slots {pools[k]['design_batch']}" in out, out
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ files of another kind
def test_a_problem_given_as_a_plan_and_a_plan_given_as_a_problem_are_one_line_each(tmp_path, plan_data):
    """A hunt found a problem YAML given to simulate or export read 'not valid JSON at line 1,
    column 1', and a plan, profile, schema, catalog or measurements file given to solve listed 20
    missing and unknown keys with '… and 18 more problems'."""
    problem = ROOT / "problems" / "deepseek_qps.yaml"
    for args in (("simulate", problem), ("export", problem, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and out.strip() == (f"error: {problem}: a problem file, given as a plan; solve it first: "
                                             f"plan solve {problem} --out plan.json"), out
    plan = edited(tmp_path, plan_data)
    schema = tmp_path / "schema.json"
    assert run("schema", "--out", schema)[0] == 0
    for path, kind in ((plan, "a plan file (written by plan solve --out)"),
                       (ROOT / "catalogs" / "calibration" / "default.yaml", "a calibration profile"),
                       (schema, "a JSON schema (plan schema)"),
                       (ROOT / "catalogs" / "gpus.yaml", "a catalog file (catalogs/)"),
                       (ROOT / "catalogs" / "measurements" / "public.yaml", "a measurements file")):
        code, out = run("solve", path)
        assert code == 2 and out.startswith(f"error: {path}: {kind}") and out.count("\n") == 1, out


# ------------------------------------------------------------------------ plans over a day
@pytest.mark.parametrize("edit, message", [
    (lambda d: d["periods"][20]["pools"][0].update(gpu="h999"), "periods[20].pools[0].gpu: unknown GPU 'h999'"),
    (lambda d: d["periods"][20]["pools"][0].update(instances=0), "periods[20].pools[0].instances: Input should be "
                                                                 "greater than or equal to 1"),
    (lambda d: d["periods"][5].update(hours=-1), "periods[5].hours: Input should be greater than 0"),
    (lambda d: d["periods"][5].update(index=7), "periods[5].index is 7; plan solve writes the periods in order")])
def test_every_period_of_a_day_is_checked_whichever_is_simulated(tmp_path, edit, message):
    """A hunt found `plan simulate --period 3` of a day whose period 20 named GPU h999, or ran 0
    instances, or whose period 5 lasted −1 h or was indexed 7, simulated and exited 0; only the
    periods simulated were checked."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "deepseek_day.json").read_text(encoding="utf-8"))
    edit(d)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    code, out = run("simulate", p, "--period", "3", "--requests", "2000")
    assert code == 2 and message in out, out


# ------------------------------------------------------------------------ layouts the model cannot take
@pytest.mark.parametrize("golden, model, message", [
    ("deepseek_qps", "llama-3.1-8b", "pools[0].parallelism.dp: 8: attention data parallelism needs a "
                                     "mixture-of-experts model; llama-3.1-8b is dense"),
    ("deepseek_mtp", "qwen3-235b-a22b", ".speculative.method: mtp, but qwen3-235b-a22b has no "
                                        "multi-token-prediction layers")])
def test_a_plans_model_swapped_for_one_its_layout_does_not_fit_is_refused(tmp_path, golden, model, message):
    """A hunt found DeepSeek's plan relabelled Llama-3.1-8B simulated ('every SLO statistic met') and
    exported `--dp-size 8 --enable-dp-attention` for the dense model; MTP pools relabelled a model
    without MTP layers simulated too. A problem file, or plan eval, refuses both layouts."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / f"{golden}.json").read_text(encoding="utf-8"))
    if golden == "deepseek_mtp":   # a MoE model whose heads the pools' TP divide, without MTP layers
        for p in d["pools"]:
            p["parallelism"].update(tp=1, dp=p["parallelism"]["tp"] * p["parallelism"]["dp"])
    p = edited(tmp_path, d, model=model, model_source=model)
    for args in (("simulate", p, "--requests", "2000"), ("export", p, "--target", "sglang", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and message in out, out
    assert not (tmp_path / "o").exists()


def test_an_engine_budget_of_a_fraction_of_a_token_is_refused(tmp_path):
    """A hunt found engine_chunk_tokens 16384.5 exported as `--max-num-batched-tokens 16516`. (A plan
    with a colocated pool: fleet_mix's since small_model_cheap_card's is served by prefill and decode
    pools at the same cost (2026-12-05's one-mode stage), small_model_cheap_card's from the refit of
    2026-12-05, llama70b_chat's before it.)"""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "fleet_mix.json").read_text(encoding="utf-8"))
    k = next(i for i, p in enumerate(d["pools"]) if p.get("engine_chunk_tokens"))
    d["pools"][k]["engine_chunk_tokens"] += 0.5
    p = edited(tmp_path, d)
    for args in (("simulate", p, "--requests", "2000"), ("export", p, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and f"pools[{k}].engine_chunk_tokens: " in out and "is no whole number of tokens" in out, out


def test_a_plan_files_lengths_past_the_models_context_are_noted(tmp_path, plan_data):
    """A hunt found a plan edited to 200,000-token answers on Llama-3.1-8B (131,072 tokens of
    context) exported without a word; a problem file of those lengths is noted."""
    w = {**plan_data["workload"], "output_tokens": 200000, "output_distribution": [[200000.0, 1.0]]}
    code, out = run("export", edited(tmp_path, plan_data, workload=w), "--target", "vllm", "--out", tmp_path / "o")
    said = "llama-3.1-8b: requests of up to 200,500 tokens (prompt and output) pass its context of 131,072 tokens"
    assert code == 0 and "note: " in out and said in out, out
    code, out = run("export", edited(tmp_path, plan_data), "--target", "vllm", "--out", tmp_path / "p")
    assert code == 0 and "context" not in out, out


# ------------------------------------------------------------------------ mode and redundancy
@pytest.mark.parametrize("change, message", [
    ({"mode": "bogus"}, "r.json: mode: 'bogus'; plan solve writes disaggregated, colocated or mixed, as its "
                        "pools' roles make it"),
    ({"mode": ["mixed"]}, "r.json: mode: ['mixed']; plan solve writes disaggregated, colocated or mixed, as its "
                          "pools' roles make it"),
    ({"redundancy": "n_plus_2"}, "r.json: redundancy: 'n_plus_2'; plan solve writes n_plus_1 or node "
                                 "(serving.redundancy), and leaves the key out for none")])
def test_a_mode_or_redundancy_plan_solve_does_not_write_is_refused(tmp_path, plan_data, change, message):
    """A review found `mode: bogus` and `redundancy: bogus` simulated and exported with exit 0 (neither
    key is read: the pools' roles are); plan solve writes neither so."""
    assert plan_data["mode"] == "disaggregated" and "redundancy" not in plan_data
    p = edited(tmp_path, plan_data, **change)
    for args in (("simulate", p, "--requests", "2000"), ("export", p, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert (code, out) == (2, f"error: {tmp_path / message}\n")
    assert not (tmp_path / "o").exists()
    assert run("simulate", edited(tmp_path, plan_data, redundancy="n_plus_1"), "--requests", "2000")[0] == 0


def test_a_days_static_plan_mode_is_checked_too(tmp_path):
    """The day's periods are built on its static peak plan, whose `mode` was taken as edited."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "deepseek_day.json").read_text(encoding="utf-8"))
    d["comparison"]["static_peak_plan"]["mode"] = "aggregated"
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    for args in (("simulate", p, "--requests", "2000"), ("export", p, "--target", "vllm", "--out", tmp_path / "o")):
        code, out = run(*args)
        assert code == 2 and "r.json: comparison.static_peak_plan.mode: 'aggregated'; plan solve writes" in out, out


def test_a_capacity_of_the_other_role_is_refused(tmp_path, plan_data):
    """A prefill pool edited to `capacity_decode_tokens_per_s: 1e9` took 99.999 % of the decode
    traffic in router.json (the split summed every pool's capacity, whatever its role), exit 0
    without a word; the mirror edit on a decode pool took the prompts (a hunt, 2026-12-07)."""
    for role, key in (("prefill", "capacity_decode_tokens_per_s"), ("decode", "capacity_prefill_tokens_per_s")):
        pools = json.loads(json.dumps(plan_data["pools"]))
        k = next(i for i, p in enumerate(pools) if p["role"] == role)
        assert pools[k][key] == 0   # as plan solve writes it
        pools[k][key] = 1e9
        p = edited(tmp_path, plan_data, pools=pools)
        for args in (("export", p, "--target", "vllm", "--out", tmp_path / "o"), ("simulate", p, "--requests", "2000")):
            code, out = run(*args)
            assert code == 2 and f"pools[{k}]: {key} is 1e+09; a {role} pool has none (plan solve writes 0)" in out, out
    assert not (tmp_path / "o").exists()
