"""Hostile input, fourteenth round (2026-12-07): small defects an earlier session left — names in
capitals, underscores in numbers given as text, files that are not UTF-8, a minimal CSV's trailing
header comma, a bad output option refused after the work, a scenario's note naming the merged
field, per-period caps that are not whole nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.input.json_schema import json_schema
from tests.test_help_files import check
from tests.test_hostile import SMALL, with_
from tests.test_hostile_outputs import run, write

MINIMAL = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms,engine_version,weight_dtype\n"
ROWS = ("llama-3.1-70b,h100,vllm,4,4,1,1,1,{mode},32,2048,512,180.5,21.3,0.11.0,{dtype}\n"
        "llama-3.1-70b,h100,vllm,8,8,1,1,1,agg,32,2048,512,150.5,15.3,0.11.0,fp8\n")


# ------------------------------------------------------------------------ 1. names in capitals
@pytest.mark.parametrize("path, value, key, canonical", [
    (("precision",), {"weights": "FP8", "kv": "BF16"}, "weight_dtype", "fp8"),
    (("slo", "tpot_statistic"), "P90", None, "p90"),
    (("serving",), {"modes": ["Disaggregated"], "redundancy": "N_PLUS_1"}, "mode", "disaggregated"),
])
def test_names_in_capitals_are_read_as_the_fields_own(tmp_path, path, value, key, canonical):
    """`precision: {weights: FP8}`, `tpot_statistic: P90`, `modes: [Disaggregated]`: every field of
    named values (a Literal) refused its names in capitals, `Input should be 'bf16', … (got 'FP8')`;
    now read in any case, one mechanism for all (`schema.canonical_case`), and the plan says the
    canonical name."""
    p = write(tmp_path, with_(path, value))
    code, out = run("solve", p, "--json")
    assert code == 0, out
    plan = json.loads(out)
    if key is not None:
        assert plan[key] == canonical, plan[key]
    else:
        assert plan["slo"]["tpot_statistic"] == "p90", plan["slo"]
    assert check(with_(path, value), json_schema("problem")) == []   # the schema accepts it as plan does


def test_a_name_that_is_none_of_them_still_lists_the_names(tmp_path):
    code, out = run("solve", write(tmp_path, with_(("precision",), {"weights": "FP-8"})))
    assert code == 2, out
    assert "precision.weights: Input should be 'bf16', 'fp16', 'fp8', 'int8' or 'fp4' (got 'FP-8')" in out, out
    assert check(with_(("precision",), {"weights": "FP-8"}), json_schema("problem")) != []


def test_two_keys_that_differ_in_case_alone_are_refused():
    """A mapping keyed by names (a GPU's `dense_flops`): `{bf16: …, BF16: …}` read as one key would
    drop one of them without a word; it is refused, naming both."""
    import yaml
    from pydantic import ValidationError

    from planner.catalog.schemas import GPU
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "catalogs" / "gpus.yaml").read_text())
    g = raw["gpus"][0] if isinstance(raw["gpus"], list) else next(iter(raw["gpus"].values()))
    flops = dict(g["dense_flops"])
    GPU.model_validate(dict(g, dense_flops={k.upper(): v for k, v in flops.items()}))   # capitals alone: read
    with pytest.raises(ValidationError, match=r"'BF16' and 'bf16' name the same key \(names are read in any "
                                              r"case\): give it once"):
        GPU.model_validate(dict(g, dense_flops={**flops, "BF16": flops["bf16"]}))


def test_a_measurement_mode_in_capitals_is_read(tmp_path):
    """A minimal-CSV row's `mode: AGG` (and `weight_dtype: FP8`) was refused, `mode: Input should be
    'agg' or 'disagg'`; a deployment YAML's alike."""
    f = write(tmp_path, MINIMAL + ROWS.format(mode="AGG", dtype="FP8"), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0, out
    assert "read 2 rows, kept 2 points, dropped 0" in out, out


def test_a_scenario_reads_names_in_capitals(tmp_path):
    base = write(tmp_path, SMALL)
    s = write(tmp_path, {"name": "s", "serving": {"modes": ["COLOCATED"], "redundancy": "None"}}, "s.yaml")
    code, out = run("whatif", base, s, "--json")
    assert code == 0, out


# ------------------------------------------------------------------------ 3. files that are not UTF-8
LATIN_1 = ("the byte 0xE9 is not UTF-8 (a file saved in another encoding, such as Latin-1 or Windows-1252?); "
           "plan reads UTF-8: save the file as UTF-8")


@pytest.mark.parametrize("kind, name, data, where", [
    ("problem", "p.yaml", b"name: x\nmodel: llama-3.1-8b\ndescription: caf\xe9\n", "line 3, column 17"),
    ("problem", "p.yaml", b"\xef\xbb\xbfname: caf\xe9\n", "line 1, column 10"),   # a byte-order mark is no column
    ("scenario", "s.yaml", b"name: s\ngpus: {set: [h100]}  # Pr\xc3\xa9par\xe9\n",
     "line 2, column 30"),   # UTF-8 before it on the line counts characters, not bytes
    ("measurements", "m.csv", MINIMAL.encode() + b"llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3,"
     b"0.11.0,fp8 \xe9\n", "line 2, column 73"),
    ("trace", "t.csv", b"timestamp,input_tokens,output_tokens\n0,100,5\n1,100,5\xe9\n", "line 3, column 8"),
])
def test_a_file_that_is_not_utf8_is_named_by_line_and_column(tmp_path, kind, name, data, where):
    """A Latin-1 byte in a problem, scenario, measurement or trace file: `cannot read the file ('utf-8'
    codec can't decode byte 0xe9 in position 222: invalid continuation byte)`, an offset no editor
    shows (a trace said `at byte 12` of its read buffer); now the line and column."""
    f = tmp_path / name
    f.write_bytes(data)
    if kind == "problem":
        code, out = run("solve", f)
    elif kind == "scenario":
        code, out = run("whatif", write(tmp_path, SMALL), f)
    elif kind == "measurements":
        code, out = run("validate", f, "--folds", "0")
    else:
        code, out = run("solve", write(tmp_path, with_(("workload", "trace"), {"file": str(f)})))
        f = f"{tmp_path / 'p.yaml'}: workload.trace.file: {f}"
    assert code == 2, out
    assert f"error: {f}: {where}: {LATIN_1}\n" == out, out


# ------------------------------------------------------------------------ 4. a minimal CSV's trailing header comma
HEAD = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms"
RUNS = ("llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3{end}\n"
        "llama-3.1-70b,h100,vllm,8,8,1,1,1,agg,32,2048,512,150.5,15.3\n")


@pytest.mark.parametrize("tail, end", [(",", ","), (",,", ","), (", ", "")])
def test_a_minimal_csv_header_ending_in_a_comma_is_read(tmp_path, tail, end):
    """A spreadsheet's trailing comma on the header (an empty last column name) was refused,
    `header: unknown column ''` (`,,`: `column '' given twice`), where the rows' trailing empty cells
    were read; now both are."""
    f = write(tmp_path, HEAD + tail + "\n" + RUNS.format(end=end), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0, out
    assert "read 2 rows, kept 2 points, dropped 0" in out, out


def test_a_cell_under_the_trailing_empty_header_cell_is_still_ragged(tmp_path):
    f = write(tmp_path, HEAD + ",\n" + RUNS.format(end=",x"), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0 and "read 2 rows, kept 1 point, dropped 1" in out, out


def test_an_empty_header_cell_in_the_middle_is_refused_by_its_column(tmp_path):
    f = write(tmp_path, HEAD.replace("gpu,", "gpu,,") + "\n" + RUNS.format(end=""), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2, out
    assert out == (f"error: {f}: header: column 3 has no name; the minimal CSV has model, gpu, engine, cards, tp, pp, "
                   f"dp, ep, mode, concurrency, isl, osl, ttft_ms, tpot_ms, engine_version, weight_dtype, kv_dtype, "
                   f"request_rate\n"), out


# ------------------------------------------------------------------------ 5. a bad output option before the notes
def _noted(tmp_path):
    """A base whose loading prints a note (a bare TPOT of 1 s)."""
    return write(tmp_path, with_(("slo", "tpot"), 1))


@pytest.mark.parametrize("args, message", [
    (["whatif", "{p}", "{s}", "--csv", "out.txt"], "--csv out.txt: the file name must end .csv (the table's format)"),
    (["whatif", "{p}", "{s}", "--csv", "{p}"], "{p}: refusing to overwrite the input file; choose another output path"),
    (["whatif", "{p}", "{s}", "--plot", "no/such/w.png"],
     "no/such/w.png: directory no/such does not exist (create it first: mkdir -p no/such)"),
    (["solve", "{p}", "--out", "no/such/plan.json"],
     "no/such/plan.json: directory no/such does not exist (create it first: mkdir -p no/such)"),
    (["solve", "{p}", "--chart", "c.txt"], "--chart c.txt: the file name must end .png or .html (the chart's format)"),
    (["sweep", "{p}", "--tpot", "1s,2s", "--out", "no/such/dir"],
     "no/such/dir: directory no/such does not exist (create it first: mkdir -p no/such)"),
])
def test_a_bad_output_path_is_refused_before_the_problems_notes(tmp_path, monkeypatch, args, message):
    """`plan whatif p.yaml s.yaml --csv out.txt` printed the base's notes, then refused the option;
    `plan solve --out no/such/plan.json` and `plan sweep --out` alike: each output path is checked
    before the problem is read (and again after, against every file it made plan read)."""
    monkeypatch.chdir(tmp_path)
    p, s = _noted(tmp_path), write(tmp_path, {"name": "s", "serving": {"redundancy": "node"}}, "s.yaml")
    code, out = run(*[a.format(p=p, s=s) for a in args])
    assert code == 2, out
    assert out == f"error: {message.format(p=p)}\n", out


# ------------------------------------------------------------------------ 6. a scenario's cap, as written
NOT_WHOLE = "{n} cards is not a whole number of h100 nodes (8 cards each); plan rents whole nodes, so it is used as " \
            "{used} cards ({nodes} node{s})"


@pytest.mark.parametrize("edit, field", [
    ({"update": {"H100": {"max_cards": 20}}}, "gpus.update.H100.max_cards"),
    ({"set": [{"id": "h100", "max_cards": 20}, "l40s"]}, "gpus.set[0].max_cards"),
    ({"remove": ["h100"], "add": [{"id": "h100", "max_cards": 20}]}, "gpus.add[0].max_cards"),
])
def test_a_scenarios_cap_that_is_not_whole_nodes_is_noted_as_written(tmp_path, edit, field):
    """A scenario's `gpus.update.h100.max_cards: 20` was noted as `gpus[0].max_cards`, a field of the
    merged problem the scenario does not have; now as the scenario writes it."""
    p = write(tmp_path, {**SMALL, "gpus": ["h100", "l40s"]})
    s = write(tmp_path, {"name": "s", "gpus": edit}, "s.yaml")
    code, out = run("whatif", p, s)
    assert code == 0, out
    note = f"note: {s}: {field}: " + NOT_WHOLE.format(n=20, used=16, nodes=2, s="s")
    assert out.count("note: ") == 1 and note in out, out


def test_a_scenario_that_writes_no_cap_says_nothing_of_the_bases(tmp_path):
    p = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": 12}, "l40s"]})
    s = write(tmp_path, {"name": "s", "gpus": {"update": {"h100": {"price_change_percent": -10}}}}, "s.yaml")
    code, out = run("whatif", p, s)
    assert code == 0 and out.count("note: ") == 1, out
    assert f"note: {p}: gpus[0].max_cards: " + NOT_WHOLE.format(n=12, used=8, nodes=1, s="") in out, out


# ------------------------------------------------------------------------ 7. per-period caps that are not whole nodes
DAY = {**SMALL, "workload": {**SMALL["workload"], "profile": {"qps_fraction": [0.5] * 8 + [1.0] * 16}}}
ODD = [12] * 8 + [16] * 15 + [20]


@pytest.mark.parametrize("key, extra", [("max_cards_per_period", {}), ("on_demand_max_cards_per_period", {}),
                                        ("spot_max_cards_per_period", {"spot_price_per_gpu_hour": 0.5})])
def test_a_per_period_cap_that_is_not_whole_nodes_is_noted_once(tmp_path, key, extra):
    """Caps of 12 and 20 cards of 8-card H100 nodes in some hours were used as 8 and 16 without a
    word, where `max_cards: 12` is noted; now one note a list, naming its first such period."""
    p = write(tmp_path, {**DAY, "gpus": [{"id": "h100", "price_per_gpu_hour": 1, key: ODD, **extra}, "l40s"]})
    code, out = run("solve", p)
    assert code == 0, out
    note = (f"note: {p}: gpus[0].{key}[0]: 12 cards in period 0 is not a whole number of h100 nodes (8 cards each); "
            f"plan rents whole nodes, so it is used as 8 cards (1 node); so are the caps of 8 other periods "
            f"(1–7, 23), each used as the whole nodes below it\n")
    assert out.count("note: ") == 1 and note in out, out


def test_whole_node_period_caps_say_nothing_and_a_scenarios_list_is_named_as_written(tmp_path):
    p = write(tmp_path, {**DAY, "gpus": [{"id": "h100", "price_per_gpu_hour": 1, "max_cards_per_period": [16] * 24},
                                         "l40s"]})
    code, out = run("solve", p)
    assert code == 0 and "note: " not in out, out
    s = write(tmp_path, {"name": "s", "gpus": {"update": {"h100": {"max_cards_per_period": [16] * 23 + [20]}}}},
              "s.yaml")
    code, out = run("whatif", p, s)
    assert code == 0 and out.count("note: ") == 1, out
    assert (f"note: {s}: gpus.update.h100.max_cards_per_period[23]: 20 cards in period 23 is not a whole number of "
            f"h100 nodes (8 cards each); plan rents whole nodes, so it is used as 16 cards (2 nodes)\n") in out, out


@pytest.mark.parametrize("power, noted", [(150, True), ("2500", True), ("150kW", False), (50000, False)])
def test_a_bare_power_cap_under_10_kw_is_noted(tmp_path, power, noted):
    """`limits.power: 150`, meant as 150 kW, was a 150 W cap that no node fits, refused as
    infeasible with no word of how it was read; the value stands (exit 3 here), and the note says
    it was read as watts. A power with its unit, or a bare one of 10 kW or more, says nothing."""
    code, out = run("solve", write(tmp_path, {**SMALL, "limits": {"power": power}}))
    assert ("limits.power:" in out and "(a bare number is watts)" in out) == noted, out
    if noted:
        assert f"p.yaml: limits.power: '{power}' is read as {float(power):g} W (a bare number is watts); " \
               f"write {power}kW for kilowatts" in out, out
        assert code == 3 and "power_cap" in out, out


def test_a_fleets_bare_power_cap_is_noted_too(tmp_path):
    import yaml
    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "problems" / "fleet_mix.yaml").read_text())
    data.setdefault("limits", {})["power"] = 900
    code, out = run("solve", write(tmp_path, data, "f.yaml"))
    assert "f.yaml: limits.power: '900' is read as 900 W (a bare number is watts); write 900kW for kilowatts" \
        in out, out
    assert code == 3, out
