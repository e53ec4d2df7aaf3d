"""`plan solve` end to end: example problems, exit codes, JSON keys, verification, diagnosis."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.errors import Infeasible, VerificationFailed
from planner.input.load import load_problem
from planner.plan import candidates as cand_mod
from planner.plan.resolve import resolve
from planner.plan.solve import solve
from planner.report.json import plan_json

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "problems").glob("*.yaml")   # fleets: test_fleet; profiles, traces: horizon
                  if not p.stem.startswith("fleet") and "profile:" not in p.read_text()
                  and "trace:" not in p.read_text())
PLAN_KEYS = {"status", "currency", "cost_per_hour", "cost_per_million_output_tokens", "cost_per_million_tokens",
             "pools", "totals", "verification", "solver", "mode", "binding", "revenue_per_hour",
             "margin_per_hour", "break_even_price_per_million_output_tokens", "calibration"}
POOL_KEYS = {"role", "gpu", "cards_per_instance", "instances", "batch", "ttft_s", "tpot_s", "utilization"}


def run(*args):
    r = CliRunner().invoke(cli.main, list(map(str, args)))
    return r.exit_code, r.output


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_solves_and_verifies(path):
    plan = solve(load_problem(path), str(path))
    d = plan_json(plan)
    assert d["status"] == "optimal"
    assert d["verification"]["passed"]
    slo = load_problem(path).slo
    for p in d["pools"]:
        if p["tpot_s"] is not None:
            assert p["tpot_s"] <= slo.tpot * (1 + 1e-9)
        if p["ttft_s"] is not None:
            assert p["ttft_s"] <= slo.ttft * (1 + 1e-9)
    # cost per hour = Σ nodes · cards per node · price (recomputed from the catalog)
    res = resolve(load_problem(path))
    recomputed = sum(n * o.gpu.node_cards * o.price_per_card_hour for o in res.gpus
                     for g, n in d["totals"]["nodes"].items() if g == o.id)
    assert d["cost_per_hour"] == pytest.approx(recomputed)


def test_deepseek_example_numbers():
    d = plan_json(solve(load_problem(ROOT / "problems/deepseek_qps.yaml")))
    tokens_per_hour_out = 200 * 1000 * 3600
    assert d["cost_per_million_output_tokens"] == pytest.approx(d["cost_per_hour"] / (tokens_per_hour_out / 1e6))
    assert d["cost_per_million_tokens"] == pytest.approx(d["cost_per_million_output_tokens"] / 2)
    assert d["revenue_per_hour"] == pytest.approx(16 * tokens_per_hour_out / 1e6)
    assert d["margin_per_hour"] == pytest.approx(d["revenue_per_hour"] - d["cost_per_hour"])
    served = sum(p["decode_tokens_per_s"] for p in d["pools"])   # each request's first token is the prompt's
    assert served == pytest.approx(200 * (1000 - 1))


def test_cli_solve_prints_table_and_exit_0():
    code, out = run("solve", ROOT / "problems/deepseek_qps.yaml")
    assert code == 0, out
    assert "RMB per million output tokens" in out and "Verification: PASSED" in out
    assert "Binding:" in out and "TPOT" in out


def test_cli_json_keys_and_no_banner():
    code, out = run("solve", ROOT / "problems/deepseek_qps.yaml", "--json")
    assert code == 0
    d = json.loads(out)                      # the whole stdout is JSON: no solver banner
    assert PLAN_KEYS <= set(d)
    assert POOL_KEYS <= set(d["pools"][0])
    assert {"cards", "nodes"} <= set(d["totals"])
    assert {"passed", "checks"} <= set(d["verification"])
    assert {"name", "status", "gap", "seconds"} <= set(d["solver"])


def test_json_is_byte_identical_across_runs():
    a = run("solve", ROOT / "problems/small_model_cheap_card.yaml", "--json")[1]
    b = run("solve", ROOT / "problems/small_model_cheap_card.yaml", "--json")[1]
    assert a == b


def test_out_writes_file_and_refuses_the_input(tmp_path):
    src = tmp_path / "p.yaml"
    src.write_text((ROOT / "problems/small_model_cheap_card.yaml").read_text())
    before = src.read_text()
    code, out = run("solve", src, "--out", src)
    assert code == 2 and "refusing to overwrite" in out
    assert src.read_text() == before
    code, _ = run("solve", src, "--out", tmp_path / "plan.json")
    assert code == 0 and json.loads((tmp_path / "plan.json").read_text())["status"] == "optimal"
    code, out = run("solve", src, "--out", tmp_path / "missing" / "plan.json")
    assert code == 2 and "does not exist" in out


def _write(tmp_path, **changes) -> Path:
    data = yaml.safe_load((ROOT / "problems/small_model_cheap_card.yaml").read_text())
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    p = tmp_path / "problem.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_unreachable_tpot_exits_3_with_best_value(tmp_path):
    code, out = run("solve", _write(tmp_path, slo__tpot="0.5ms"))
    assert code == 3
    assert "TPOT 0.5 ms unreachable: the fastest candidate reaches" in out


def test_caps_too_small_exit_3_with_reachable_fraction(tmp_path):
    p = _write(tmp_path, gpus=[{"id": "l40s", "max_cards": 8}])
    code, out = run("solve", p)
    assert code == 3
    assert "availability[l40s]" in out and "% of the target" in out


def test_model_too_big_says_by_how_much(tmp_path):
    p = _write(tmp_path, model="llama-3.1-405b", gpus=["rtx4090"],
               serving={"parallelism": {"max_cards_per_instance": 8}})
    code, out = run("solve", p)
    assert code == 3 and "does not fit" in out and "overflow" in out


def test_bad_input_exit_2_names_file_and_field(tmp_path):
    p = _write(tmp_path, workload__qps=-1)
    code, out = run("solve", p)
    assert code == 2 and "workload.qps" in out and str(p) in out and "Traceback" not in out
    p = _write(tmp_path, slo__tpot="30 mss")
    code, out = run("solve", p)
    assert code == 2 and "slo.tpot" in out and "unknown time unit" in out
    p = _write(tmp_path, gpus=["h2000"])
    code, out = run("solve", p)
    assert code == 2 and "gpus[0].id" in out and "Did you mean" in out


def test_lying_candidate_fails_verification_exit_4(monkeypatch):
    """A decode candidate that claims a batch beyond its TPOT limit is caught by verification."""
    real = cand_mod.generate

    def tampered(res):
        cs = real(res)
        out = []
        for c in cs.candidates:
            if c.role == "decode":
                c = dataclasses.replace(c, batch=c.batch * 4, decode_tok_s=c.decode_tok_s * 4)
            out.append(c)
        return dataclasses.replace(cs, candidates=tuple(out))

    p = load_problem(ROOT / "problems/deepseek_qps.yaml")
    p = p.model_copy(update={"serving": p.serving.model_copy(update={"modes": ["disaggregated"]})})
    with pytest.raises(VerificationFailed, match="tpot"):
        solve(p, candidates=tampered(resolve(p)))
    monkeypatch.setattr("planner.plan.services.generate", tampered)
    code, out = run("solve", ROOT / "problems/deepseek_qps.yaml")
    assert code == 4 and "fails verification" in out


def test_colocated_and_disaggregated_compete(tmp_path):
    both = solve(load_problem(ROOT / "problems/deepseek_qps.yaml")).cost_per_hour
    for mode in ("disaggregated", "colocated"):
        p = load_problem(ROOT / "problems/deepseek_qps.yaml")
        p = p.model_copy(update={"serving": p.serving.model_copy(update={"modes": [mode]})})
        try:
            only = solve(p).cost_per_hour
        except Infeasible:
            continue
        assert both <= only + 1e-6


def test_calibration_option_solves_as_the_problem_file_naming_that_profile(tmp_path):
    """`plan solve P --calibration NAME` is the plan of P with `calibration: NAME` written in it
    (the step after `plan calibrate` in docs/export.md); the user's file is left as it was."""
    src = Path("problems/deepseek_qps.yaml")
    before = src.read_bytes()
    code, out = run("solve", src, "--calibration", "vllm", "--json")
    assert code == 0 and src.read_bytes() == before
    d = yaml.safe_load(before)
    d["calibration"] = "vllm"
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    code2, out2 = run("solve", f, "--json")
    assert code2 == 0
    a, b = json.loads(out), json.loads(out2)
    assert a["calibration"] == b["calibration"] == "vllm"
    assert a["cost_per_hour"] == b["cost_per_hour"] and a["pools"] == b["pools"]
    default = json.loads(run("solve", src, "--json")[1])
    assert default["cost_per_hour"] != a["cost_per_hour"]   # the profile changes the plan


def test_unknown_calibration_option_is_blamed_on_the_option():
    code, out = run("solve", "problems/deepseek_qps.yaml", "--calibration", "nosuch")
    assert code == 2
    assert "--calibration: unknown calibration profile 'nosuch'" in out and "Traceback" not in out


def test_a_profile_calibrated_into_the_working_directory_is_found_by_name(tmp_path, monkeypatch):
    """The README's loop writes `plan calibrate ... --out catalogs/calibration/mine.yaml` and then
    runs `plan solve P --calibration mine` from the same directory. Names were looked up among the
    shipped profiles only, so in a regular install the second step failed ('unknown calibration
    profile'; first-hour hunt, 2026-12-04). Now a name is found in catalogs/calibration/ of the
    working directory after the shipped ones; the listing names both; a missing --out directory
    says how to create it."""
    from click.testing import CliRunner

    from cli import main
    from planner.catalog.calibration import CALIBRATION_DIR
    problem = str(ROOT / "problems" / "llama70b_chat.yaml")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["solve", problem, "--calibration", "mine"])
    assert r.exit_code == 2 and "unknown calibration profile 'mine'" in r.output, r.output
    mine = tmp_path / "catalogs" / "calibration" / "mine.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text((CALIBRATION_DIR / "vllm.yaml").read_text()   # as plan calibrate writes it: named as its file
                    .replace("\nname: vllm\n", "\nname: mine\n"))
    r = CliRunner().invoke(main, ["solve", problem, "--calibration", "mine", "--json"])
    assert r.exit_code == 0, r.output
    shipped = CliRunner().invoke(main, ["solve", problem, "--calibration", "vllm", "--json"])
    assert json.loads(r.output)["cost_per_hour"] == json.loads(shipped.output)["cost_per_hour"]
    r = CliRunner().invoke(main, ["solve", problem, "--calibration", "mien"])
    assert r.exit_code == 2 and "mine" in r.output and "Did you mean 'mine'" in r.output, r.output
    r = CliRunner().invoke(main, ["solve", problem, "--out", "new/dir/plan.json"])
    assert r.exit_code == 2 and "directory new/dir does not exist (create it first: mkdir -p new/dir)" in r.output
    r = CliRunner().invoke(main, ["solve", problem, "--out", "new dir/plan.json"])   # a hint the shell runs as said
    assert r.exit_code == 2 and "(create it first: mkdir -p 'new dir')" in r.output


def test_a_check_failing_alike_in_many_periods_is_said_once_with_its_periods():
    """A flat day's failing pool was listed once per period (24 times, ~3,000 characters); checks
    that differ only in their period prefix, with the same value and limit as printed, are said
    once with the periods; others as they are."""
    from types import SimpleNamespace as NS

    from planner.plan.diagnose import failed_text
    failed = [NS(name=f"tpot[p{i}/colocated[l40s-TP1-b512-c308]]", value=0.05898, unit="s", limit=0.05)
              for i in (*range(12), 13, 14, 20)]
    failed += [NS(name="tpot[p12/colocated[l40s-TP1-b512-c308]]", value=0.0612, unit="s", limit=0.05),
               NS(name="cost_matches_solver", value=0.02168, unit="RMB", limit=0.005152),
               NS(name="p7/availability_period[h800]", value=16, unit="cards", limit=8)]
    assert failed_text(failed) == (
        "tpot[colocated[l40s-TP1-b512-c308]] = 0.05898 s vs limit 0.05 in periods 0–11, 13–14, 20; "
        "tpot[colocated[l40s-TP1-b512-c308]] = 0.0612 s vs limit 0.05 in period 12; "
        "cost_matches_solver = 0.02168 RMB vs limit 0.005152; "
        "availability_period[h800] = 16 cards vs limit 8 in period 7")
