"""Hostile input, sixteenth round (2026-12-07): values a user lists twice (a problem's modes and
parallel degrees, a sweep's points, a plan file's pools), a refusal of `plan solve --chart` after
the problem's notes, a model path that is a folder named config.json, PuLP's deprecation notices
under PYTHONWARNINGS=default; and what a hunt over exports, measurements, scenarios, traces and
paths found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_hostile_l import SMALL
from tests.test_hostile_o import plan_process
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ 1. a value listed twice
@pytest.mark.parametrize("serving, said", [
    ({"modes": ["colocated", "colocated"]}, "serving.modes: [0] and [1] both read as 'colocated'"),
    ({"modes": ["colocated", "Aggregated"]}, "serving.modes: [0] and [1] both read as 'colocated'"),
    ({"parallelism": {"tp": [1, 2, 4, 4]}}, "serving.parallelism.tp: [2] and [3] both read as 4"),
    ({"parallelism": {"pp": [1, 1]}}, "serving.parallelism.pp: [0] and [1] both read as 1"),
])
def test_a_mode_or_degree_listed_twice_is_refused(tmp_path, serving, said):
    """`modes: [colocated, colocated]` (meant: both modes) or `tp: [1, 2, 4, 4]` (meant: 8) planned
    the narrower space at exit 0 without a word: a costlier plan than the one asked for."""
    p = write(tmp_path, {**SMALL, "serving": serving})
    code, out = run("solve", p)
    assert code == 2 and out.strip() == f"error: {p}: {said}: list each value once", out


def test_a_scenarios_modes_listed_twice_are_refused(tmp_path):
    base = write(tmp_path, SMALL)
    s = write(tmp_path, {"name": "s", "serving": {"modes": ["disaggregated", "DISAGGREGATED"]}}, "s.yaml")
    code, out = run("whatif", base, s)
    assert code == 2 and out.startswith(f"error: {s}: serving.modes: [0] and [1] both read as 'disaggregated'"), out


@pytest.mark.parametrize("axis, said", [
    (["--tpot", "30ms,30ms,50ms"], "--tpot: '30ms' is listed twice in '30ms,30ms,50ms'; list each value once"),
    (["--tpot", "30ms,0.03s"], "--tpot: '30ms' and '0.03s' are one value in '30ms,0.03s'; list each value once"),
    (["--qps", "5,05"], "--qps: '5' and '05' are one value in '5,05'; list each value once"),
    (["--qps", "1:1.0000000000000004", "--points", "5", "--spacing", "linear"],
     "--qps: the range '1:1.0000000000000004' holds fewer than 5 distinct numbers (a double's precision); "
     "widen it or ask fewer --points"),
])
def test_a_sweeps_point_given_twice_is_refused(tmp_path, axis, said):
    """`--tpot 30ms,30ms,50ms` swept two limits where three were written (the set of them, without a
    word); a range narrower than its --points solved the same point twice and showed both rows."""
    code, out = run("sweep", write(tmp_path, SMALL), *axis, "--out", tmp_path / "sw", "--workers", "1")
    assert code == 2 and out.strip() == f"error: {said}", out
    assert not (tmp_path / "sw").exists()


def test_a_sweeps_list_is_still_read_in_any_order(tmp_path):
    code, out = run("sweep", write(tmp_path, SMALL), "--tpot", "50ms,20ms", "--out", tmp_path / "sw",
                    "--workers", "1", "--no-per-gpu")
    assert code == 0, out
    rows = (tmp_path / "sw" / "frontier.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert [r.split(",")[2] for r in rows] == ["0.02", "0.05"], rows


# ------------------------------------------------------------------------ 2. a plan's pool listed twice
def solved(tmp_path: Path, problem: dict | Path = SMALL) -> dict:
    out = tmp_path / "plan.json"
    code, text = run("solve", problem if isinstance(problem, Path) else write(tmp_path, problem), "--out", out)
    assert code == 0, text
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", [["simulate", "--requests", "2000"], ["export", "--target", "vllm"]])
def test_a_pool_listed_twice_in_a_plan_is_refused(tmp_path, command):
    """A plan file whose `pools` held one pool twice (copied by hand) was simulated as two rows of the
    same name, each given half the load, and exported as two engines: refused, naming both."""
    d = solved(tmp_path)
    d["pools"].append(dict(d["pools"][0]))
    e = write(tmp_path, json.dumps(d), "e.json")
    args = [command[0], e, *command[1:]] + (["--out", tmp_path / "ex"] if command[0] == "export" else [])
    code, out = run(*args)
    name = d["pools"][0]["name"]
    assert code == 2 and out.strip() == (f"error: {e}: pools[1].name: {name!r} is also the name of pools[0]; a "
                                         f"plan lists each pool once, with its instances: delete the copy (or "
                                         f"re-solve)"), out
    assert not (tmp_path / "ex").exists()


def test_a_pool_listed_twice_in_a_fleet_or_a_day_is_named_by_the_files_indices(tmp_path):
    fleet = json.loads((ROOT / "tests" / "golden" / "solve" / "fleet_mix.json").read_text(encoding="utf-8"))
    fleet["pools"].append(dict(fleet["pools"][5]))
    f = write(tmp_path, json.dumps(fleet), "f.json")
    code, out = run("simulate", f, "--requests", "2000")
    assert code == 2 and out.startswith(f"error: {f}: service {fleet['pools'][5]['service']}: pools[6].name: "
                                        f"{fleet['pools'][5]['name']!r} is also the name of pools[5];"), out
    day = json.loads((ROOT / "tests" / "golden" / "solve" / "deepseek_day.json").read_text(encoding="utf-8"))
    day["periods"][0]["pools"].append(dict(day["periods"][0]["pools"][0]))
    d = write(tmp_path, json.dumps(day), "d.json")
    k = len(day["periods"][0]["pools"]) - 1
    code, out = run("export", d, "--target", "k8s", "--out", tmp_path / "ex")
    assert code == 2 and out.startswith(f"error: {d}: periods[0].pools[{k}].name: "
                                        f"{day['periods'][0]['pools'][0]['name']!r} is also the name of "
                                        f"periods[0].pools[0];"), out


# ------------------------------------------------------------------------ 3. --chart before the notes
def test_solve_chart_without_a_profile_is_refused_before_the_problems_notes(tmp_path):
    """`plan solve P --chart c.png` of a problem without a load profile printed the problem's notes
    (`slo.tpot: '1' is read as 1 s a token`), then refused --chart: the notes of a run that never was."""
    p = write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": 1}})
    code, out = run("solve", p, "--chart", tmp_path / "c.png")
    assert code == 2 and out.strip() == (f"error: {p}: --chart draws a plan over a load profile; it needs "
                                         f"workload.profile"), out
    code, out = run("solve", p, "--band")   # a run that goes on says them still
    assert code == 0 and f"note: {p}: slo.tpot: '1' is read as 1 s a token" in out, out


# ------------------------------------------------------------------------ 4. a folder named config.json
def test_a_folder_named_config_json_is_named_as_a_folder(tmp_path):
    """A snapshot whose config.json is a directory said so; `--model snap/config.json` itself said
    `snap/config.json/config.json: file not found`, a path the user never wrote."""
    (tmp_path / "snap" / "config.json").mkdir(parents=True)
    code, out = run("eval", "--model", tmp_path / "snap", "--gpu", "h100")
    assert code == 2 and out.strip() == (f"error: --model {tmp_path / 'snap'}: {tmp_path / 'snap' / 'config.json'}: "
                                         f"is a directory, expected a JSON file"), out
    code, out = run("eval", "--model", tmp_path / "snap" / "config.json", "--gpu", "h100")
    c = tmp_path / "snap" / "config.json"
    assert code == 2 and out.strip() == (f"error: --model {c}: {c}: is a directory, expected a JSON file (a "
                                         f"model's config.json, or the folder holding one)"), out


# ------------------------------------------------------------------------ 5. PuLP's deprecations
@pytest.mark.parametrize("setting", ["default", "always", "default::DeprecationWarning"])
def test_pythonwarnings_default_shows_no_pulp_deprecation(tmp_path, setting):
    """PYTHONWARNINGS=default printed PuLP 3.3's announcements of its 4.0 API under every plan
    ('Constructing LpVariable(name, ...) directly is deprecated', 'Using LpProblem.constraints as a
    dict mapping is deprecated'), which no user of plan can act on; plan's own notes still show."""
    p = write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": 1}})
    r = plan_process(tmp_path, ["solve", p], {"PYTHONWARNINGS": setting})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == (f"note: {p}: slo.tpot: '1' is read as 1 s a token (a bare number is seconds); "
                                f"write 1ms for milliseconds"), r.stderr


def test_a_filter_naming_pulp_is_the_users(tmp_path):
    """Who asks for PuLP's warnings by its module gets them."""
    r = plan_process(tmp_path, ["solve", write(tmp_path, SMALL)],
                     {"PYTHONWARNINGS": "always::DeprecationWarning:pulp.pulp"})
    assert r.returncode == 0 and "DeprecationWarning: Constructing LpVariable" in r.stderr, r.stderr


# ------------------------------------------------------------------------ the hunt
MINIMAL = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms,engine_version,weight_dtype\n"
ROWS = ["llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3,0.11.0,fp8",
        "llama-3.1-8b,h100,vllm,1,1,1,1,1,agg,32,2048,512,80.5,11.3,0.11.0,bf16"]


@pytest.mark.parametrize("command", ["validate", "calibrate"])
@pytest.mark.parametrize("name, text, said", [
    ("m.csv", "", "the file is empty"), ("r.json", "", "the file is empty"), ("r.jsonl", "", "the file is empty"),
    ("m.csv", "\n\n  \n", "the file is empty (blank lines only)"),
])
def test_an_empty_measurement_file_is_said_to_be_empty(tmp_path, command, name, text, said):
    """An empty m.csv was 'not a benchmark file this planner reads (expected vLLM or SGLang …, or a
    CSV)', of a CSV; an empty YAML said 'the file is empty' already."""
    m = write(tmp_path, text, name)
    args = ["--out", tmp_path / "c.yaml"] if command == "calibrate" else []
    code, out = run(command, m, *args)
    assert code == 2 and out.strip() == f"error: {m}: {said}", out


def test_a_minimal_csv_reads_named_cells_with_blanks_around_them(tmp_path):
    """`, AGG ,` or `fp8 ` (a spreadsheet's padding) was `mode: Input should be 'agg' or 'disagg' (got
    ' AGG ')`, where the model, GPU and engine cells beside them were read with their blanks."""
    padded = ROWS[0].replace(",agg,", ", AGG ,").replace(",fp8", ",fp8 ")
    code, out = run("validate", write(tmp_path, MINIMAL + padded + "\n" + ROWS[1] + "\n", "m.csv"), "--folds", "0")
    assert code == 0 and "read 2 rows, kept 2 points, dropped 0" in out, out
    (tmp_path / "plain").mkdir()
    code, plain = run("validate", write(tmp_path / "plain", MINIMAL + "\n".join(ROWS) + "\n", "m.csv"), "--folds", "0")
    assert code == 0 and out.splitlines()[2:-1] == plain.splitlines()[2:-1], (out, plain)   # the same points


@pytest.mark.parametrize("tpot", ["50000μs", "50000µs"])   # Greek mu U+03BC, micro sign U+00B5
def test_micro_seconds_are_read_with_either_mu(tmp_path, tpot):
    """`tpot: 50000μs` (the Greek letter a Greek keyboard types) was 'unknown time unit 'μs'', where
    the micro sign beside it, which looks the same, was read."""
    assert "\u03bc" in tpot or "\u00b5" in tpot
    code, out = run("solve", write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": tpot}}), "--json")
    assert code == 0 and json.loads(out)["slo"]["tpot_s"] == pytest.approx(0.05), out


@pytest.mark.parametrize("pid, said", [
    ("", "a name is empty"), ("   ", "a name is empty"),
    ("a\nb", "a name is one line of printable text; it holds the control character '\\n'"),
])
def test_a_measurement_points_id_is_a_name(tmp_path, pid, said):
    """`id: ""` was read, and its row in plan validate had no name (a newline one was shown as two words)."""
    point = {"id": pid, "model": "llama-3.1-70b", "weight_dtype": "fp8", "gpu": "h100", "cards": 4,
             "parallelism": {"tp": 4}, "role": "agg", "engine": "vllm", "isl": 1000, "osl": 500, "concurrency": 16,
             "measured": {"tpot_s": 0.03}, "source": "a test's point", "kind": "measured"}
    m = write(tmp_path, {"points": [point]}, "m.yaml")
    code, out = run("validate", m, "--folds", "0")
    assert code == 2 and out.startswith(f"error: {m}: points[0].id: {said}"), out


@pytest.mark.parametrize("tz, meant", [("utc", "UTC"), ("asia/shanghai", "Asia/Shanghai"),
                                       ("Europe/Berlin ", "Europe/Berlin")])
def test_a_time_zone_in_another_case_is_offered_as_written(tmp_path, tz, meant):
    """`--time-zone utc` was 'not an IANA time zone name (e.g. …, UTC)', naming no reason: the zone's
    name in its own case (Kubernetes reads it as written) is now offered."""
    day = ROOT / "tests" / "golden" / "solve" / "deepseek_day.json"
    code, out = run("export", day, "--target", "k8s", "--out", tmp_path / "ex", "--time-zone", tz)
    assert code == 2 and out.strip() == (f"error: --time-zone {tz!r}: not an IANA time zone name (e.g. Europe/Berlin, "
                                         f"Asia/Shanghai, UTC). Did you mean {meant!r}? (a name is read as written, as "
                                         f"the cluster reads it)"), out
    assert not (tmp_path / "ex").exists()


def test_a_yaml_set_is_refused_where_a_list_is_read(tmp_path):
    """`values: !!set {100: null, 200: null}` beside `weights: [1, 3]` was read as a list in hash order
    (200 first) and planned 200 tokens at weight 1, a mean prompt of 125 tokens where the file says
    175, at exit 0; `gpus: !!set {…}` was read too. A set has no order: refused where it stands."""
    p = write(tmp_path, "name: t\nmodel: llama-3.1-8b\nslo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\nworkload: {qps: 5, "
                        "input_tokens: {values: !!set {100: null, 200: null}, weights: [1, 3]}, output_tokens: 200}\n")
    code, out = run("solve", p)
    assert code == 2 and out.strip() == (f"error: {p}: line 5, column 43: !!set: a set has no order, and planner lists "
                                         f"do (a value a period, a weight a length); write a list, [a, b, …]"), out
    text = p.read_text(encoding="utf-8").replace("!!set {100: null, 200: null}", "[100, 200]")
    listed = write(tmp_path, text, "l.yaml")
    code, out = run("solve", listed, "--json")
    assert code == 0 and json.loads(out)["workload"]["input_tokens"] == 175, out


def test_an_edited_catalogs_ids_are_read_in_any_case(tmp_path):
    """In an edited catalogs/gpus.yaml, `id: H100` was never found (`unknown GPU 'H100'; known: H100, …
    Did you mean 'H100'?`) and beside `id: h100` was kept as a second GPU; in catalogs/models.yaml an
    alias copied from the Hub with its capitals (`meta-llama/Llama-3.1-8B-Base`) was never found. Ids
    and aliases are keyed as they are looked up, in lower case; the same name twice is refused."""
    from planner.catalog.schemas import get_gpu, get_model, load_gpus, load_models
    from planner.errors import BadInput
    gpus = (ROOT / "catalogs" / "gpus.yaml").read_text(encoding="utf-8")
    assert gpus.count("\n  - id: h100\n") == 1
    one = write(tmp_path, gpus.replace("\n  - id: h100\n", "\n  - id: H100\n"), "gpus.yaml")
    assert get_gpu("h100", load_gpus(str(one))).id == "h100"   # as plans name it
    start = gpus.index("\n  - id: h100\n")
    entry = gpus[start:gpus.index("\n  - id: ", start + 1)]
    two = write(tmp_path, gpus + entry.replace("id: h100", "id: H100") + "\n", "gpus2.yaml")
    with pytest.raises(BadInput, match=r"gpus2.yaml: gpus\[\d+\].id: 'H100' names the GPU of 'h100' again \(ids are "
                                       r"read in any case\): give each GPU once"):
        load_gpus(str(two))
    models = (ROOT / "catalogs" / "models.yaml").read_text(encoding="utf-8")
    assert models.count("aliases: [llama-3.1-8b-instruct,") == 1
    hub = write(tmp_path, models.replace("aliases: [llama-3.1-8b-instruct,",
                                         "aliases: [meta-llama/Llama-3.1-8B-Base, llama-3.1-8b-instruct,"), "m.yaml")
    assert get_model("meta-llama/Llama-3.1-8B-Base", load_models(str(hub))).id == "llama-3.1-8b"
    twice = write(tmp_path, models.replace("aliases: [llama-3.1-8b-instruct,",
                                           "aliases: [Llama-3.1-8B-Instruct, llama-3.1-8b-instruct,"), "m2.yaml")
    with pytest.raises(BadInput, match=r"m2.yaml: models\[\d+\]: 'llama-3.1-8b-instruct' names 'llama-3.1-8b' "
                                       r"already \(ids and aliases are read in any case\): give it once"):
        load_models(str(twice))


def test_command_line_choices_are_read_in_any_case(tmp_path):
    """A choice of the command line in capitals is the same choice ('--kind Fleet' was refused while
    the problem file's 'FP8' was read): the same output as written in lower case."""
    assert run("schema", "--kind", "Fleet") == run("schema", "--kind", "fleet")
    code, out = run("solve", write(tmp_path, SMALL), "--solver", "HIGHS", "--json")
    assert code == 0 and json.loads(out)["solver"]["name"] == "highs"
    code, out = run("solve", write(tmp_path, SMALL), "--solver", "Gurobi")
    assert code == 2 and "'Gurobi' is not one of 'highs', 'cbc'" in out


def test_group_by_axes_are_read_in_any_case():
    """`--group-by Engine,GPU` is engine and gpu; a wrong one is named as the user wrote it."""
    import cli
    from planner.errors import BadInput
    from planner.fidelity.crossval import check_group_by
    assert check_group_by(cli._axes("Engine, GPU")) == ("engine", "gpu")
    with pytest.raises(BadInput, match="--group-by GPU,Bogus: use one or more of engine, gpu, model"):
        check_group_by(cli._axes("GPU,Bogus"))


def test_a_period_is_read_in_any_case_and_between_blanks():
    """`plan simulate --period ' 3'`, `PEAK`, `All`: as the command line's other choices (they were refused)."""
    from planner.errors import BadInput
    from planner.studies.simulate.fleet import period_indices
    d = {"periods": [{"qps": 1.0}, {"qps": 5.0}, {"qps": 0.0}, {"qps": 2.0}]}
    assert period_indices(d, " 3", "p") == [3] and period_indices(d, "PEAK", "p") == [1]
    assert period_indices(d, "All ", "p") == [0, 1, 3]
    with pytest.raises(BadInput, match="a period index, got 'x'"):
        period_indices(d, " x", "p")


# ------------------------------------------------------------------------ a number with thousands separators
@pytest.mark.parametrize("where, value, said", [
    (("workload", "qps"), "1,250", "workload.qps: Input should be a valid number, unable to parse string as a "
                                   "number (got '1,250'); write 1250, without thousands separators"),
    (("slo", "ttft"), "2,000ms", "slo.ttft: cannot read '2,000ms' as a time quantity; write 2000ms, without "
                                 "thousands separators"),
    (("slo", "tpot"), "1,000.5 ms", "slo.tpot: cannot read '1,000.5 ms' as a time quantity; write 1000.5 ms, "
                                    "without thousands separators"),
    (("limits", "power"), "1,500kW", "limits.power: cannot read '1,500kW' as a power quantity; write 1500kW, "
                                     "without thousands separators"),
])
def test_a_number_with_thousands_separators_says_what_to_write(tmp_path, where, value, said):
    """`qps: 1,250` (YAML reads it as text) was refused as 'unable to parse string as a number', and
    `ttft: 2,000ms` as an unknown time unit ',000ms': now the message says to write 1250, 2000ms."""
    d = json.loads(json.dumps(SMALL))
    d.setdefault(where[0], {})[where[1]] = value
    p = write(tmp_path, d)
    code, out = run("solve", p)
    assert code == 2 and out.startswith(f"error: {p}: {said}"), out


@pytest.mark.parametrize("value", ["12,50", "1,2345", ",250", "1,250,00"])
def test_a_comma_that_groups_no_thousands_gets_no_such_hint(tmp_path, value):
    """A decimal comma ('12,50') or a misplaced one is not a thousands separator: no 'write …' guess."""
    p = write(tmp_path, {**SMALL, "workload": {**SMALL["workload"], "qps": value}})
    code, out = run("solve", p)
    assert code == 2 and "thousands" not in out and f"(got '{value}')" in out, out


# ------------------------------------------------------------------------ --time-limit with its unit
@pytest.mark.parametrize("cmd", ["solve", "whatif"])
@pytest.mark.parametrize("value, seconds", [("30s", 30.0), ("2min", 120.0), ("500ms", 0.5), ("45", 45.0),
                                            (" 1.5min ", 90.0)])
def test_time_limit_takes_a_duration_as_a_file_does(monkeypatch, tmp_path, cmd, value, seconds):
    """`plan solve p.yaml --time-limit 30s` was refused ('not a valid float range') where the file's
    `solver: {time_limit: 30s}` is read: the option now reads a duration too, bare numbers as seconds."""
    import cli
    from planner.plan import solve as solve_mod
    seen = []
    real = solve_mod.solver_options

    def spy(problem, solver, time_limit, *a, **k):
        seen.append(time_limit)
        return real(problem, solver, time_limit, *a, **k)
    monkeypatch.setattr(solve_mod, "solver_options", spy)
    monkeypatch.setattr(cli, "solver_options", spy, raising=False)
    p = write(tmp_path, SMALL)
    scenario = {"name": "s", "serving": {"modes": ["colocated"]}}
    args = ["solve", p] if cmd == "solve" else ["whatif", p, write(tmp_path, scenario, "s.yaml")]
    code, out = run(*args, "--time-limit", value)
    assert code == 0, out
    assert seen and all(t == seconds for t in seen), seen


@pytest.mark.parametrize("value, said", [
    ("30 parsecs", "unknown time unit 'parsecs' in '30 parsecs'; write it like \"50ms\", \"2s\", \"1.5min\""),
    ("x5", "cannot read 'x5' as a time quantity"),
    ("0s", "0.0 is not in the range 0<x<=10000000.0"),
    ("1e400ms", "'1e400ms' is past the largest number plan reads"),
    ("200d", "unknown time unit 'd' in '200d'"),
])
def test_time_limit_with_a_wrong_unit_says_so(tmp_path, value, said):
    code, out = run("solve", write(tmp_path, SMALL), "--time-limit", value)
    assert code == 2 and f"Invalid value for '--time-limit': {said}" in out, out


@pytest.mark.parametrize("args, said", [
    (("init", "--model", "llama-3.1-8b", "--qps", "1,250"),
     "'--qps': '1,250'; write 1250, without thousands separators"),
    (("solve", "problems/deepseek_qps.yaml", "--time-limit", "1,000s"),
     "'--time-limit': cannot read '1,000s' as a time quantity; write 1000s, without thousands separators"),
    (("eval", "llama-3.1-8b", "h100", "--input-len", "1,000"),
     "'--input-len': '1,000'; write 1000, without thousands separators"),
    (("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "1,000"),
     "'--prefix-hit': '1,000'; write 1000, without thousands separators"),
])
def test_a_number_option_with_thousands_separators_says_what_to_write(args, said):
    code, out = run(*args)
    assert code == 2 and f"Invalid value for {said}" in out, out


def test_prefix_hit_takes_a_percentage_as_a_file_does():
    """`plan eval --prefix-hit 50%` was refused ('not a valid float range') where a problem file's
    `prefix_cache_hit_percent` is a percentage: '50%' is read as 0.5, the same output; 150% is out
    of range, in percent."""
    ratio = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "0.5")
    percent = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "50%")
    none = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100")
    assert ratio[0] == 0 and percent == ratio and none[1] != ratio[1]
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "150%")
    assert code == 2 and "'--prefix-hit': 150.0 is not in the range 0<=x<=100." in out, out
    for bad in ("%", "%%", "x", ""):   # click said "'' is not a valid float range" of '%'
        code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", bad)
        assert code == 2 and f"'--prefix-hit': {bad!r} is not a number from 0 to 1 or a percentage such as 50%" \
            in out, out


@pytest.mark.parametrize("where, said", [
    ({"model": " "}, "model: a name is empty; give one (got ' ')"),
    ({"name": ""}, "name: a name is empty; give one, or leave the key out for its default (got '')"),
    ({"calibration": ""}, "calibration: a name is empty; give one, or leave the key out for its default (got '')"),
])
def test_an_empty_name_is_told_to_leave_its_key_out_only_where_it_has_a_default(tmp_path, where, said):
    """`model: " "` was told 'give one, or leave the key out for its default': the model has none, and
    leaving it out only said 'required field is missing' next."""
    p = write(tmp_path, {**SMALL, **where})
    code, out = run("solve", p)
    assert code == 2 and out.strip() == f"error: {p}: {said}", out
