"""Hostile input, eleventh round (2026-12-07): files of another kind where a scenario, profile or
measurements go; profile fractions written as percentages."""

from __future__ import annotations

import json

import pytest

from tests.test_hostile_outputs import ROOT, run, write

SMALL = {"name": "small", "model": "llama-3.1-8b",
         "workload": {"qps": 5, "input_tokens": 500, "output_tokens": 200},
         "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"]}
SCENARIO = {"name": "cheaper", "gpus": {"update": {"h100": {"price_change_percent": -20}}}}
WHERE_SCENARIO = "given as a scenario, which edits the base (gpus, workload, slo, serving, limits, pricing, buy"


# ------------------------------------------------------------------------ another kind as a scenario
@pytest.mark.parametrize("name, text, kind", [
    ("plan.json", json.dumps({"pools": [], "verification": {}, "model": "llama-3.1-8b", "problem": "x"}),
     "a plan file (written by plan solve --out)"),
    ("day.json", json.dumps({"kind": "horizon", "periods": [], "model": "llama-3.1-8b", "classes": []}),
     "a plan file (written by plan solve --out)"),
    ("default.yaml", (ROOT / "catalogs" / "calibration" / "default.yaml").read_text(encoding="utf-8"),
     "a calibration profile"),
    ("public.yaml", "points: []\n", "a measurements file"),
    ("w.json", json.dumps({"base": {}, "scenarios": [], "currency": "RMB"}), "a study's results"),
    ("frontier.json", json.dumps({"axes": [], "curves": [], "rows": [], "schema_version": 1}), "a study's results"),
])
def test_a_file_of_another_kind_given_as_a_scenario_says_which(tmp_path, name, text, kind):
    """A plan file given as a scenario was called 'a problem file (model:)', a day plan 'a fleet file
    (classes:)'; a profile, schema or what-if JSON listed a line per unknown key."""
    code, out = run("whatif", write(tmp_path, SMALL), write(tmp_path, text, name))
    assert code == 2 and out.startswith(f"error: {tmp_path / name}: {kind}") and WHERE_SCENARIO in out, out
    assert len(out.strip().split("\n")) == 1 and "unknown key" not in out, out


@pytest.mark.parametrize("args", [("solve", "{p}", "--calibration", "{s}"),
                                  ("calibrate", ROOT / "tests/data/bench/minimal_sample.csv", "--folds", "0",
                                   "--base", "{s}", "--out", "{o}")])
def test_a_scenario_given_as_a_profile_is_named_in_one_line(tmp_path, args):
    """`--calibration cheaper.yaml` listed the profile's eleven missing parameters and the scenario's keys."""
    p, s, o = write(tmp_path, SMALL), write(tmp_path, SCENARIO, "cheaper.yaml"), tmp_path / "mine.yaml"
    code, out = run(*(str(a).format(p=p, s=s, o=o) for a in args))
    assert code == 2 and f"{s}: not a calibration profile (it reads as a what-if scenario: plan whatif BASE.yaml " \
                          f"SCENARIO.yaml reads it after its base)" in out, out
    assert len(out.strip().split("\n")) == 1 and not o.exists(), out


@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_scenario_given_as_measurements_is_named_in_one_line(tmp_path, command):
    """`plan validate cheaper.yaml` said 'points: required field is missing' and a line per key."""
    s = write(tmp_path, SCENARIO, "cheaper.yaml")
    extra = ("--out", tmp_path / "mine.yaml") if command == "calibrate" else ()
    code, out = run(command, s, *extra)
    assert code == 2 and out.strip() == (
        f"error: {s}: a what-if scenario: plan whatif BASE.yaml SCENARIO.yaml reads it after its base; given as "
        f"measurements, which list points: or are a benchmark tool's output (docs/export.md, 'Back from the "
        f"benchmark')"), out


def test_problems_and_scenarios_keep_their_own_messages(tmp_path):
    """A problem as a scenario, and a scenario as a problem, say so as before."""
    p, s = write(tmp_path, SMALL), write(tmp_path, SCENARIO, "cheaper.yaml")
    code, out = run("whatif", p, p)
    assert code == 2 and f"{p}: a problem file (model:), given as a scenario" in out, out
    code, out = run("solve", s)
    assert code == 2 and f"{s}: a what-if scenario (it edits a base problem: gpus.update/add/remove/set, " \
                          f"qps_multiplier or buy), given as a problem" in out, out
    code, out = run("whatif", p, s)
    assert code == 0 and "cheaper" in out, out


# ------------------------------------------------------------------------ qps_fraction as percentages
DAY_PERCENT = [55, 45, 37, 32, 30, 32, 38, 48, 60, 72, 80, 85, 85, 83, 82, 83, 85, 88, 92, 97, 100, 97, 85, 70]


def test_qps_fractions_written_as_percentages_are_noted(tmp_path):
    """`qps_fraction: [55, …, 100]` planned a day peaking at 100 × workload.qps without a word."""
    day = {**SMALL, "workload": {**SMALL["workload"], "profile": {"qps_fraction": DAY_PERCENT}}}
    code, out = run("solve", write(tmp_path, day))
    assert code == 0 and (f"note: {tmp_path / 'p.yaml'}: workload.profile.qps_fraction: the busiest period is "
                          f"100 × workload.qps, 500 req/s (1 is workload.qps itself); if these are percentages, "
                          f"divide them by 100") in out, out
    assert "peak 500 req/s" in out, out   # the value stands


def test_a_fleet_class_whose_fractions_read_as_percentages_is_noted(tmp_path):
    klass = {k: SMALL[k] for k in ("model", "slo")}
    fleet = {"name": "f", "gpus": ["h100"], "classes": [
        {**klass, "name": "a", "workload": {**SMALL["workload"], "profile": {"qps_fraction": [10] * 24}}},
        {**klass, "name": "b", "workload": SMALL["workload"]}]}
    code, out = run("solve", write(tmp_path, fleet))
    assert code == 0 and "classes[0].workload.profile.qps_fraction: the busiest period is 10 × workload.qps, " \
                         "50 req/s" in out and "classes[1]" not in out, out


@pytest.mark.parametrize("peak", [1, 1.5, 9.5, 101])
def test_fractions_that_read_as_fractions_are_not_noted(tmp_path, peak):
    """A peak above workload.qps (1.5 ×) is a real one; above 100 it is no percentage either."""
    day = {**SMALL, "workload": {**SMALL["workload"], "profile": {"qps_fraction": [0.5] * 23 + [peak]}}}
    code, out = run("solve", write(tmp_path, day))
    assert code == 0 and "qps_fraction" not in out, out


# ------------------------------------------------------------------------ keys in capitals
@pytest.mark.parametrize("section, written, meant", [("workload", "QPS", "qps"), ("slo", "TTFT", "ttft"),
                                                     ("slo", "TPOT", "tpot"), ("workload", "Input_Tokens",
                                                                               "input_tokens")])
def test_a_key_in_capitals_is_offered_its_name_in_one_line(tmp_path, section, written, meant):
    """`QPS: 5` (as the docs write QPS, TTFT and TPOT) read 'required field is missing' for qps and
    'unknown key 'QPS'.' with no hint, where 'Ttft' was offered 'ttft': keys are compared in any case."""
    data = json.loads(json.dumps(SMALL))
    data[section][written] = data[section].pop(meant)
    code, out = run("solve", write(tmp_path, data))
    assert code == 2 and out.strip() == (f"error: {tmp_path / 'p.yaml'}: {section}.{written}: unknown key "
                                         f"{written!r}. Did you mean {meant!r}?"), out


def test_a_key_in_full_width_letters_is_offered_its_name(tmp_path):
    data = json.loads(json.dumps(SMALL))
    data["slo"]["ｔｐｏｔ"] = data["slo"].pop("tpot")
    code, out = run("solve", write(tmp_path, data))
    assert code == 2 and "slo.ｔｐｏｔ: unknown key 'ｔｐｏｔ'. Did you mean 'tpot'?" in out, out
    assert "required field is missing" not in out, out


# ------------------------------------------------------------------------ a prefill point's decode figures
PREFILL_POINT = {"id": "p1", "model": "llama-3.1-8b", "weight_dtype": "bf16", "gpu": "h100", "cards": 1,
                 "parallelism": {"tp": 1}, "role": "prefill", "engine": "vllm", "isl": 1000, "osl": 200,
                 "concurrency": 8, "source": "a test", "kind": "measured",
                 "measured": {"prefill_tok_s_per_gpu": 9000.0}}


@pytest.mark.parametrize("field, value", [("tpot_s", 0.01), ("tok_s_per_user", 100.0),
                                          ("decode_tok_s_per_gpu", 800.0)])
@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_prefill_points_decode_figure_is_refused(tmp_path, field, value, command):
    """A prefill point's TPOT was read, checked and never compared (as a decode point's TTFT was,
    which is refused): its validation said nothing of it."""
    point = {**PREFILL_POINT, "measured": {**PREFILL_POINT["measured"], field: value}}
    m = write(tmp_path, {"points": [point]}, "m.yaml")
    extra = ("--out", tmp_path / "mine.yaml") if command == "calibrate" else ()
    code, out = run(command, m, "--folds", "0", *extra)
    assert code == 2 and out.strip() == (
        f"error: {m}: points[0] (p1).measured.{field}: a prefill point makes only first tokens; what comes "
        f"after them is its decode pool's: give it on the agg or decode point"), out


def test_a_prefill_points_own_figures_are_compared(tmp_path):
    m = write(tmp_path, {"points": [{**PREFILL_POINT, "measured": {"prefill_tok_s_per_gpu": 9000.0,
                                                                   "ttft_s": 0.2}}]}, "m.yaml")
    code, out = run("validate", m, "--folds", "0")
    assert code == 0 and "kept 1 point" in out, out


# ------------------------------------------------------------------------ a card cap below one node
@pytest.mark.parametrize("cap", [1, 4, 7])
def test_a_card_cap_below_one_node_is_refused(tmp_path, cap):
    """`{id: h100, max_cards: 4, price_per_gpu_hour: 1}` beside L40S planned on L40S at 79.28 an
    hour without a word: plan rents whole nodes (8 H100 cards), so a cap of 4 left H100 out."""
    p = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": cap, "price_per_gpu_hour": 1}, "l40s"]})
    code, out = run("solve", p)
    assert code == 2 and out.strip() == (
        f"error: {p}: gpus[0].max_cards: {cap} card{'s' if cap > 1 else ''}, less than one h100 node (8 cards); "
        f"plan rents whole nodes, so h100 would never be used: give 8 or more (or max_nodes), or 0 to leave it "
        f"out"), out


def test_a_scenarios_card_cap_below_one_node_is_refused(tmp_path):
    s = write(tmp_path, {"name": "cap", "gpus": {"update": {"h100": {"max_cards": 4}}}}, "cap.yaml")
    code, out = run("whatif", write(tmp_path, SMALL), s)
    assert code == 2 and f"{s}: gpus.update.h100.max_cards: 4 cards, less than one h100 node (8 cards)" in out, out


@pytest.mark.parametrize("cap", [0, 8, 12])
def test_a_card_cap_of_none_or_whole_nodes_stands(tmp_path, cap):
    gpus = [{"id": "h100", "max_cards": cap, "price_per_gpu_hour": 1}, "l40s"]
    code, out = run("solve", write(tmp_path, {**SMALL, "gpus": gpus}))
    assert code == 0 and ("colocated  h100" in out) == (cap > 0), out
