"""Hostile input, twelfth round (2026-12-07): small consistency defects — caps that are not whole
nodes, `--period peak` on a single-QPS plan, scenario names apart only in case, an --out suffix
against --csv, --deployment's unknown GPU, blank minimal-CSV rows."""

from __future__ import annotations

import pytest

from tests.test_hostile_outputs import ROOT, run, write

SMALL = {"name": "small", "model": "llama-3.1-8b",
         "workload": {"qps": 5, "input_tokens": 500, "output_tokens": 200},
         "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"]}
DAY = {**SMALL, "workload": {**SMALL["workload"], "profile": {"qps_fraction": [0.5] * 8 + [1.0] * 16}}}


# ------------------------------------------------------------------------ caps that are not whole nodes
def test_a_card_cap_that_is_not_whole_nodes_is_noted_once(tmp_path):
    """`max_cards: 12` for an 8-card H100 node was used as one node without a word."""
    p = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": 12, "price_per_gpu_hour": 1}, "l40s"]})
    code, out = run("solve", p)
    note = (f"note: {p}: gpus[0].max_cards: 12 cards is not a whole number of h100 nodes (8 cards each); plan "
            f"rents whole nodes, so it is used as 8 cards (1 node)")
    assert code == 0 and out.count(note) == 1 and "h100      1" in out, out


def test_a_whole_node_cap_and_the_bases_cap_in_scenarios_are_not_noted_again(tmp_path):
    """Said once for the base, not again for each scenario that carries it; a scenario's own cap is said."""
    p = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": 12, "price_per_gpu_hour": 1}, "l40s"]})
    s1 = write(tmp_path, {"name": "a", "gpus": {"update": {"h100": {"price_change_percent": -20}}}}, "a.yaml")
    s2 = write(tmp_path, {"name": "b", "gpus": {"update": {"h100": {"max_cards": 20}}}}, "b.yaml")
    code, out = run("whatif", p, s1, s2)
    assert code == 0 and out.count("note: ") == 2 and f"note: {p}: gpus[0].max_cards: 12 cards" in out, out
    assert f"note: {s2}: gpus.update.h100.max_cards: 20 cards is not a whole number of h100 nodes (8 cards each); " \
           f"plan rents whole nodes, so it is used as 16 cards (2 nodes)" in out, out
    code, out = run("solve", write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": 16}]}))
    assert code == 0 and "note: " not in out, out


def test_a_days_card_cap_that_is_not_whole_nodes_is_noted_once(tmp_path):
    p = write(tmp_path, {**DAY, "gpus": [{"id": "h100", "max_cards": 12, "price_per_gpu_hour": 1}, "l40s"]})
    code, out = run("solve", p)
    assert code == 0 and out.count("note: ") == 1 and f"note: {p}: gpus[0].max_cards: 12 cards is not" in out, out


@pytest.mark.parametrize("key, extra", [("max_cards_per_period", {}), ("on_demand_max_cards_per_period", {}),
                                        ("spot_max_cards_per_period", {"spot_price_per_gpu_hour": 0.5})])
def test_a_period_cap_below_one_node_is_refused_naming_its_period(tmp_path, key, extra):
    """`max_cards_per_period` (or on-demand) of 4 in one hour was refused as 'gpus[0].max_cards: 4
    cards', a key the file does not write, and a spot cap of 4 left that hour without spot."""
    g = {"id": "h100", "price_per_gpu_hour": 1, key: [16] * 5 + [4] + [16] * 18, **extra}
    p = write(tmp_path, {**DAY, "gpus": [g, "l40s"]})
    code, out = run("solve", p)
    assert code == 2 and out.strip() == (
        f"error: {p}: gpus[0].{key}[5]: 4 cards in period 5, less than one h100 node (8 cards); plan rents whole "
        f"nodes, so that period would have none: give 8 or more, or 0 for none that period"), out


def test_a_scenarios_period_cap_below_one_node_is_refused_as_written(tmp_path):
    s = write(tmp_path, {"name": "cap", "gpus": {"update": {"h100": {"max_cards_per_period": [4] * 24}}}}, "cap.yaml")
    code, out = run("whatif", write(tmp_path, {**DAY, "gpus": [{"id": "h100", "price_per_gpu_hour": 1}]}), s)
    assert code == 2 and f"{s}: gpus.update.h100.max_cards_per_period[0]: 4 cards in period 0, less than one " \
                         f"h100 node" in out, out


@pytest.mark.parametrize("caps", [[0] * 4 + [16] * 20, [12] * 24])
def test_period_caps_of_none_or_more_than_a_node_stand(tmp_path, caps):
    p = write(tmp_path, {**DAY, "gpus": [{"id": "h100", "price_per_gpu_hour": 1, "max_cards_per_period": caps},
                                         "l40s"]})
    code, out = run("solve", p)
    assert code == 0 and "error" not in out, out


# ------------------------------------------------------------------------ --period peak on a single-QPS plan
def test_period_peak_on_a_single_qps_plan_is_its_only_period(tmp_path):
    """`plan simulate plan.json --period peak` was refused ('it has no periods to pick') although peak
    is the default; a plan of one QPS has one period, its peak. Another period is still refused."""
    p = write(tmp_path, SMALL)
    plan = tmp_path / "plan.json"
    assert run("solve", p, "--out", plan)[0] == 0
    code, out = run("simulate", plan, "--period", "peak", "--requests", "2000", "--json")
    default = run("simulate", plan, "--requests", "2000", "--json")
    assert code == 0 and out == default[1] and '"ttft' in out, out
    for period in ("all", "0"):
        code, out = run("simulate", plan, "--period", period)
        assert code == 2 and out.strip() == (f"error: --period {period}: {plan} is not a plan over a load profile; "
                                             f"it has no periods to pick (leave --period out)"), out


# ------------------------------------------------------------------------ scenario names apart only in case
@pytest.mark.parametrize("first, second, of", [("w1", "W1", "{a}"), ("Cheap", "cHEAP", "{a}"),
                                               (None, "BASE", "the base problem")])
def test_scenario_names_apart_only_in_case_are_refused_naming_both(tmp_path, first, second, of):
    """`w1` and `W1` were both planned: two rows, CSV lines and JSON entries a case-blind reader (a
    spreadsheet's lookup, a file per scenario on macOS or Windows) cannot tell apart."""
    base = write(tmp_path, SMALL)
    a = write(tmp_path, {"name": first or "x", "slo": {"tpot": "40ms"}}, "a.yaml")
    b = write(tmp_path, {"name": second, "slo": {"tpot": "30ms"}}, "b.yaml")
    code, out = run("whatif", base, *([a] if first else []), b)
    assert code == 2 and out.strip() == (
        f"error: {b}: name: {second!r} differs only in case from {(first or 'base')!r}, the name of "
        f"{of.format(a=a)}; give each scenario a name of its own (name:)"), out


# ------------------------------------------------------------------------ --csv of another format's name
@pytest.mark.parametrize("name, why", [
    ("out.json", "--csv {f}: the file name must end .csv (the table's format)"),
    ("table", "--csv {f}: the file name must end .csv (the table's format)"),
    (".csv", "--csv {f}: no name before .csv (a hidden file of that name); name the table NAME.csv")])
def test_whatif_csv_under_another_formats_name_is_refused(tmp_path, name, why):
    """`plan whatif … --csv out.json` wrote a CSV under a .json name, exit 0 (--plot out.json was
    already refused: 'the file name must end .png')."""
    s = write(tmp_path, {"name": "x", "slo": {"tpot": "40ms"}}, "s.yaml")
    f = tmp_path / name
    code, out = run("whatif", write(tmp_path, SMALL), s, "--csv", f)
    assert code == 2 and out.strip() == "error: " + why.format(f=f) and not f.exists(), out
    code, out = run("whatif", write(tmp_path, SMALL), s, "--csv", tmp_path / "w.CSV")
    assert code == 0 and (tmp_path / "w.CSV").read_text().startswith("scenario,file,status"), out


# ------------------------------------------------------------------------ --deployment's unknown GPU
DEPLOYMENT = "model: {model}\ngpu: {gpu}\nengine: vllm\nmode: agg\ncards: 1\nparallelism: {{tp: 1, pp: 1, dp: 1}}\n"
VLLM = ROOT / "tests" / "data" / "bench" / "vllm_sample.json"


def test_a_deployments_unknown_gpu_or_model_offers_the_closest(tmp_path):
    """`gpu: h10O` in a --deployment listed the known GPUs and no 'Did you mean' (the minimal CSV's
    rows offer one), and said the id lower-cased ('h10o'), not as written."""
    from planner.catalog.schemas import load_gpus
    d = write(tmp_path, DEPLOYMENT.format(model="llama-3.1-8b", gpu="h10O"), "dep.yaml")
    code, out = run("validate", VLLM, "--deployment", d, "--folds", "0")
    known = ", ".join(sorted(load_gpus()))
    assert code == 2 and out.strip() == (f"error: {d}: gpu: unknown GPU 'h10O'; known: {known}. "
                                         f"Did you mean 'h100' or 'h20' or 'h800'?"), out
    d = write(tmp_path, DEPLOYMENT.format(model="llama-3.1-8bb", gpu="h100"), "dep.yaml")
    code, out = run("validate", VLLM, "--deployment", d, "--folds", "0")
    assert code == 2 and out.strip().startswith(f"error: {d}: model: unknown model 'llama-3.1-8bb' (see `plan catalog "
                                                f"models`). Did you mean 'llama-3.1-8b'"), out


# ------------------------------------------------------------------------ a minimal-CSV row of only commas
@pytest.mark.parametrize("blank", [",,,,,,,,,,,,,,,", " , ,", ",,,,,,,,,,,,,,,,,"])
def test_a_minimal_csv_row_of_blank_cells_is_skipped(tmp_path, blank):
    """A row of commas (a spreadsheet's empty row) was read, and dropped as 'model not in catalog ()';
    an empty line was already skipped. Now skipped too, and not counted."""
    rows = (ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_text().splitlines()
    m = write(tmp_path, "\n".join([rows[0], rows[1], blank, rows[2]]) + "\n", "m.csv")
    code, out = run("validate", m, "--folds", "0")
    assert code == 0 and "read 2 rows, kept 2 points, dropped 0" in out and "catalog ()" not in out, out
