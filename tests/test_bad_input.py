"""Every malformed input to `plan solve` is exit 2 with one message naming file, field and reason.

Each case mutates the seed problem (problems/deepseek_qps.yaml) in one way, runs the CLI in
process, and checks the exit code, the exact field path and reason in the message, and that
no Python traceback reaches the user. The same messages are quoted in docs/robustness.md, "What you see
when something is wrong".
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "deepseek_qps.yaml"
BASE = yaml.safe_load(SEED.read_text())


def run(*args) -> tuple[int, str]:
    """Exit code and combined output of `plan ARGS`, asserting no exception escaped."""
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def write(tmp_path: Path, data, name: str = "p.yaml") -> Path:
    """Write a problem (a dict, dumped as YAML, or raw text) to tmp_path/name."""
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def mutated(**changes) -> dict:
    """The seed problem with dotted keys replaced ('workload.qps'); value DELETE removes a key."""
    d = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        cur = d
        for k in parents:
            cur = cur[int(k)] if isinstance(cur, list) else cur[k]
        if value is DELETE:
            del cur[last]
        else:
            cur[last] = value
    return d


DELETE = object()


def rename(d: dict, path: str, new_key: str) -> dict:
    """Rename the key at dotted `path` to `new_key` (a misspelling)."""
    d = copy.deepcopy(d)
    *parents, last = path.split(".")
    cur = d
    for k in parents:
        cur = cur[k]
    cur[new_key] = cur.pop(last)
    return d


# (case id, problem dict, substrings the single error message must contain)
CASES = [
    ("qps zero", mutated(**{"workload.qps": 0}), ["workload.qps", "greater than 0", "got 0"]),
    ("qps negative", mutated(**{"workload.qps": -5}), ["workload.qps", "greater than 0"]),
    ("qps not a number", mutated(**{"workload.qps": "lots"}), ["workload.qps", "valid number", "'lots'"]),
    ("qps missing", mutated(**{"workload.qps": DELETE}), ["workload.qps: required field is missing"]),
    ("input length zero", mutated(**{"workload.input_tokens": 0}),
     ["workload.input_tokens: Input should be greater than or equal to 1 (got 0)"]),
    ("output length negative", mutated(**{"workload.output_tokens": -3}),
     ["workload.output_tokens: Input should be greater than or equal to 1"]),
    ("ttft zero", mutated(**{"slo.ttft": "0s"}), ["slo.ttft", "greater than 0"]),
    ("tpot negative", mutated(**{"slo.tpot": "-50ms"}), ["slo.tpot", "greater than 0", "'-50ms'"]),
    ("tpot '50 mss'", mutated(**{"slo.tpot": "50 mss"}),
     ["slo.tpot: unknown time unit 'mss' in '50 mss'", '"50ms"']),
    ("ttft '2 parsecs'", mutated(**{"slo.ttft": "2 parsecs"}),
     ["slo.ttft: unknown time unit 'parsecs'"]),
    ("percent above 100", mutated(**{"workload.prefix_cache_hit_percent": 150}),
     ["workload.prefix_cache_hit_percent", "less than or equal to 100", "got 150"]),
    ("percent below 0", mutated(**{"workload.prefix_cache_hit_percent": "-3%"}),
     ["workload.prefix_cache_hit_percent", "greater than or equal to 0"]),
    ("percent not a number", mutated(**{"workload.prefix_cache_hit_percent": "half%"}),
     ["workload.prefix_cache_hit_percent", "cannot read 'half%' as a percentage"]),
    ("misspelt top key", rename(BASE, "workload", "workloads"),
     ["workloads: unknown key 'workloads'. Did you mean 'workload'?"]),
    ("misspelt nested key", rename(BASE, "workload.qps", "qsp"),
     ["workload.qsp: unknown key 'qsp'. Did you mean 'qps'?"]),
    ("misspelt key inside a union", rename(BASE, "serving.parallelism.max_cards_per_instance",
                                           "max_card_per_instance"),
     ["serving.parallelism.max_card_per_instance: unknown key 'max_card_per_instance'. "
      "Did you mean 'max_cards_per_instance'?"]),
    ("misspelt key in a list item", mutated(**{"gpus": [{"id": "h200", "price_per_gpu_hr": 20}]}),
     ["gpus[0].price_per_gpu_hr: unknown key", "Did you mean 'price_per_gpu_hour'?"]),
    ("wrong type: model is a number", mutated(model=42), ["model: Input should be a valid string (got 42)"]),
    ("wrong type: gpus is a mapping", mutated(gpus={"id": "h200"}), ["gpus: Input should be a valid list"]),
    ("unknown GPU", mutated(gpus=["h200", "h80"]),
     ["gpus[1].id: unknown GPU 'h80'", "Did you mean 'h800'"]),
    ("unknown model", mutated(model="deepseek-r2"),
     ["model: unknown model 'deepseek-r2'", "Did you mean 'deepseek-r1'"]),
    ("empty GPU list", mutated(gpus=[]), ["gpus: List should have at least 1 item"]),
    ("GPU listed twice", mutated(gpus=["h200", "H200"]), ["gpus: GPU 'H200' is listed twice"]),
    ("owned above cap", mutated(gpus=[{"id": "h200", "max_nodes": 1, "owned_nodes": 3}]),
     ["gpus[0].owned_nodes: owned inventory of 3 node(s) (24 cards) exceeds the availability cap of 8 cards"]),
    ("owned above card cap", mutated(gpus=[{"id": "h800", "max_cards": 4, "owned_nodes": 1}]),
     ["gpus[0].owned_nodes", "exceeds the availability cap of 4 cards"]),
    ("unknown calibration", mutated(calibration="defualt"),
     ["calibration: unknown calibration profile 'defualt'", "Did you mean 'default'"]),
    ("unknown solver", mutated(**{"solver.name": "gurobi"}), ["solver.name: Input should be 'highs' or 'cbc'"]),
]


@pytest.mark.parametrize("case, data, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_problem_is_exit_2_naming_file_field_reason(tmp_path, case, data, expected):
    path = write(tmp_path, data)
    code, out = run("solve", path)
    assert code == 2, out
    assert out.startswith(f"error: {path}: "), out
    for text in expected:
        assert text in out, out


def test_misspelt_key_is_one_line_not_also_missing(tmp_path):
    """'qsp' for 'qps' gives the suggestion only, not a second 'qps is missing' line."""
    code, out = run("solve", write(tmp_path, rename(BASE, "workload.qps", "qsp")))
    assert code == 2
    assert out.strip().count("\n") == 0, out


def test_union_error_names_the_real_branch_only(tmp_path):
    """input_tokens: 0 is an int below 1, not also 'a valid dictionary or instance of LengthDist'."""
    code, out = run("solve", write(tmp_path, mutated(**{"workload.input_tokens": 0})))
    assert code == 2
    assert "LengthDist" not in out and "constrained-int" not in out, out


def test_union_error_inside_a_mapping_drops_the_other_forms(tmp_path):
    """`parallelism: {tp: '8'}` is the mapping form with a bad field: one line about `tp`, not a
    first line saying the field should be 'auto' (a hostile-input hunt); a scalar still lists both."""
    code, out = run("solve", write(tmp_path, mutated(**{"serving.parallelism": {"tp": "8"}})))
    assert code == 2
    assert out.strip().splitlines() == [
        f"error: {tmp_path / 'p.yaml'}: serving.parallelism.tp: Input should be a valid list (got '8')"], out
    code, out = run("solve", write(tmp_path, mutated(**{"serving.parallelism": 8})))
    assert code == 2
    assert "serving.parallelism: Input should be 'auto', or a mapping of its fields (got 8)" in out, out


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    text = SEED.read_text().replace("  qps: 200", "  qps: [200")
    code, out = run("solve", write(tmp_path, text))
    assert code == 2
    assert "YAML syntax error at line 11, column 15: expected ',' or ']'" in out, out
    assert "(parsing a flow sequence started at line 10, column 8)" in out, out  # where [ opened


def test_tab_indentation_is_a_syntax_error(tmp_path):
    text = SEED.read_text().replace("  qps: 200", "\tqps: 200")
    code, out = run("solve", write(tmp_path, text))
    assert code == 2 and "YAML syntax error at line 10, column 1: found character '\\t'" in out, out


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("- a\n- b\n", "expected a mapping of keys at the top level, got list"),
    ("just words\n", "expected a mapping of keys at the top level, got str"),
])
def test_file_that_is_not_a_problem(tmp_path, text, expected):
    code, out = run("solve", write(tmp_path, text))
    assert code == 2 and expected in out, out


def test_missing_file_and_binary_file(tmp_path):
    code, out = run("solve", tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml: file not found" in out
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")   # a loop: not 'file not found'
    code, out = run("solve", tmp_path / "a.yaml")
    assert code == 2 and "a.yaml: a symbolic link to nothing" in out, out
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    code, out = run("solve", tmp_path / "bin.yaml")
    assert code == 2 and "bin.yaml: line 1, column 1: the byte 0xFF is not UTF-8 (" in out, out


# ----------------------------------------------------------------------- config.json models
@pytest.mark.parametrize("content, expected", [
    ('{"hidden_size": 4096,', "not valid JSON at line 1, column 22"),
    ("[1, 2]", "expected a JSON object"),
    ('{"hidden_size": 4096, "num_hidden_layers": 32}', "num_attention_heads: required field is missing"),
    ('{"hidden_size": "big", "num_hidden_layers": 32, "num_attention_heads": 32, '
     '"intermediate_size": 11008, "vocab_size": 32000}', "hidden_size: Input should be a valid integer"),
])
def test_bad_config_json(tmp_path, content, expected):
    cfg = tmp_path / "config.json"
    cfg.write_text(content)
    path = write(tmp_path, mutated(model=str(cfg)))
    code, out = run("solve", path)
    assert code == 2, out
    for line in out.strip().splitlines():  # every line names the problem file and field
        assert line.removeprefix("error: ").startswith(f"{path}: model: {cfg}: "), out
    assert expected in out, out


def test_config_json_that_does_not_exist(tmp_path):
    code, out = run("solve", write(tmp_path, mutated(model="nowhere/config.json")))
    assert code == 2 and "model: nowhere/config.json: file not found" in out, out


# ------------------------------------------------------------------------------------ --out
def test_out_into_missing_directory(tmp_path):
    target = tmp_path / "no" / "such" / "plan.json"
    code, out = run("solve", SEED, "--out", target)
    assert code == 2
    assert f"{target}: directory {target.parent} does not exist" in out
    assert not target.parent.exists()


@pytest.mark.parametrize("how", ["same path", "relative path", "symlink"])
def test_out_never_overwrites_the_input(tmp_path, monkeypatch, how):
    src = write(tmp_path, SEED.read_text(), "input.yaml")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    target = {"same path": src, "relative path": "./input.yaml", "symlink": tmp_path / "link.yaml"}[how]
    if how == "symlink":
        (tmp_path / "link.yaml").symlink_to(src)
    code, out = run("solve", src, "--out", target)
    assert code == 2
    assert "refusing to overwrite the input file" in out
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["input.yaml"] + (["link.yaml"] if how == "symlink" else []))  # no temp file left


def test_refused_out_prints_no_plan(tmp_path):
    """With --json --out INPUT the refusal is the only output: no JSON plan follows it."""
    src = write(tmp_path, SEED.read_text(), "input.yaml")
    code, out = run("solve", src, "--json", "--out", src)
    assert code == 2
    assert "{" not in out  # no JSON plan printed


def test_out_writes_the_json_plan(tmp_path):
    target = tmp_path / "plan.json"
    code, out = run("solve", SEED, "--out", target)
    assert code == 0, out
    assert json.loads(target.read_text())["verification"]["passed"] is True


@pytest.mark.parametrize("args, expected", [
    (["--time-limit", "-1"], "'--time-limit': -1.0 is not in the range 0<x<=10000000.0"),
    (["--time-limit", "0"], "'--time-limit': 0.0 is not in the range 0<x<=10000000.0"),
    (["--solver", "gurobi"], "'gurobi' is not one of 'highs', 'cbc'"),
])
def test_bad_options_are_usage_errors(args, expected):
    code, out = run("solve", SEED, *args)
    assert code == 2 and expected in out, out


def test_aggregated_is_the_colocated_mode(tmp_path):
    """Engines call colocated serving 'aggregated': both spellings are accepted and mean the same."""
    from planner.input.problem import Serving
    assert Serving.model_validate({"modes": ["aggregated"]}).modes == ["colocated"]
    assert Serving.model_validate({"modes": ["Aggregated", "disaggregated"]}).modes == ["colocated", "disaggregated"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_time_limit_must_be_finite(value):
    """`--time-limit nan` was taken (NaN passes click's range check) and the solver ran without one."""
    from click.testing import CliRunner

    from cli import main
    r = CliRunner().invoke(main, ["solve", "problems/deepseek_qps.yaml", "--time-limit", value])
    assert r.exit_code == 2 and "Invalid value for '--time-limit'" in r.output


@pytest.mark.parametrize("args, message", [
    (["--cards", "3"], "--cards 3 gives TP 3 (the cards over --pp × --dp; set --tp, --pp or --dp): "
                       "3 does not divide the model's 32 attention heads"),
    (["--cards", "3", "--tp", "3"], "--tp 3: 3 does not divide the model's 32 attention heads"),
    # a dense model has no data-parallel attention ranks: a problem file refuses it, eval printed numbers
    (["--cards", "8", "--tp", "4", "--dp", "2"], "--dp 2: attention data parallelism needs a mixture-of-experts "
                                                 "model; llama-3.1-8b is dense"),
    (["--gpu", "h999"], "--gpu: unknown GPU 'h999'"),   # the option named (it said 'unknown GPU' alone)
    (["--model", "llama-9"], "--model llama-9: unknown model 'llama-9'"),
])
def test_eval_names_the_option_the_user_gave_for_a_tp_that_does_not_divide_the_heads(args, message):
    """`--cards 3` said '--tp 3 does not divide …' to a user who never gave --tp."""
    base = {"--model": "llama-3.1-8b", "--gpu": "h100"}   # an option the case gives replaces its default here
    given = [x for k, v in base.items() if k not in args for x in (k, v)]
    r = CliRunner().invoke(cli.main, ["eval", *given, *args])
    assert r.exit_code == 2 and message in r.output, r.output


@pytest.mark.parametrize("key", ["max_utilization_percent", "max_decode_utilization_percent"])
def test_a_utilisation_ceiling_written_as_a_fraction_is_refused(tmp_path, key):
    """`max_utilization_percent: 0.9` (meant as 90 %) planned prefill pools at 0.9 % busy: 37 times
    the cards, exit 0 (a hostile-input hunt). A fraction is refused with the percent to write;
    "90%" is read as 90, as the other percent keys read it."""
    from planner.errors import BadInput
    from planner.input.load import load_problem
    base = "model: llama-3.1-70b\nworkload: {qps: 20, input_tokens: 1500, output_tokens: 400}\n" \
           "slo: {ttft: 1s, tpot: 40ms}\ngpus: [h100]\n"
    p = tmp_path / "p.yaml"
    p.write_text(base + f"serving: {{{key}: 0.9}}\n")
    with pytest.raises(BadInput, match=rf"serving.{key}: 0.9 reads as 0.9 % \(a fraction\? 90 % is written 90"):
        load_problem(p)
    p.write_text(base + f"serving: {{{key}: '90%'}}\n")
    assert getattr(load_problem(p).serving, key) == 90.0


def test_a_prompt_past_the_pass_budget_has_no_prefill_pool(tmp_path):
    """serving.max_prefill_tokens_per_pass: 1024 with 1,500-token prompts: prefill pools ran one
    1,500-token prompt a pass and the export wrote --max-num-batched-tokens 1500, past the user's
    budget (a hostile-input hunt). A prefill pass takes whole prompts, so no prefill pool serves
    them: disaggregated alone is infeasible (exit 3, saying what to change); with colocated allowed
    the plan prefills in chunks within the budget."""
    import json

    from click.testing import CliRunner

    from cli import main
    base = "model: llama-3.1-70b\nworkload: {qps: 20, input_tokens: 1500, output_tokens: 400}\n" \
           "slo: {ttft: 1s, tpot: 40ms}\ngpus: [h100]\n"
    p = tmp_path / "p.yaml"
    p.write_text(base + "serving: {max_prefill_tokens_per_pass: 1024, modes: [disaggregated]}\n")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 3 and "serving.max_prefill_tokens_per_pass (1,024 tokens) is below the longest " \
                                "uncached prompt (1,500)" in r.output, r.output
    p.write_text(base + "serving: {max_prefill_tokens_per_pass: 1024}\n")
    r = CliRunner().invoke(main, ["solve", str(p), "--json"])
    assert r.exit_code == 0, r.output
    pools = json.loads(r.output)["pools"]
    assert not [q for q in pools if q["role"] == "prefill"]
    assert all(q["engine_chunk_tokens"] <= 1024 for q in pools if q["role"] == "colocated")


def test_eval_runs_no_benchmark_on_a_configuration_that_does_not_fit():
    """`plan eval --model llama-3.1-405b --gpu h100 --cards 1 --concurrency 4` printed a closed-loop
    benchmark with 4 decode slots for a layout it reported as 'DOES NOT FIT', exit 0 (a hostile-input
    hunt). Without --concurrency the memory line still says so (exit 0)."""
    from click.testing import CliRunner

    from cli import main
    args = ["eval", "--model", "llama-3.1-405b", "--gpu", "h100", "--cards", "1"]
    r = CliRunner().invoke(main, [*args, "--concurrency", "4"])
    assert r.exit_code == 2 and "--concurrency 4: the configuration does not fit in memory" in r.output, r.output
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "DOES NOT FIT" in r.output


def test_a_what_if_scenario_given_as_a_problem_is_said_so(tmp_path):
    """plan solve / sweep of a scenario file listed every field a problem misses (gpus, model,
    workload.qps, …) where one line says what the file is and which command reads it."""
    from planner.errors import BadInput
    from planner.input.load import load_any
    for name in ("traffic_3x.yaml", "h200_minus_20.yaml", "own_h200.yaml"):
        path = Path(__file__).resolve().parents[1] / "problems" / "whatif" / name
        with pytest.raises(BadInput, match=rf"{name}: a what-if scenario \(it edits a base problem: .*\), given as a "
                                           rf"problem; run plan whatif BASE.yaml") as e:
            load_any(path)
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("serving, key", [({"instance_start": {"overhead": "60s"}}, "instance_start"),
                                          ({"spot_confidence_percent": 90}, "spot_confidence_percent")])
def test_instance_starts_and_spot_confidence_without_a_profile_are_refused(serving, key):
    """Both were accepted and ignored without a word on a single QPS, where per-period caps are
    refused (a hunt)."""
    from planner.errors import BadInput
    from planner.input.files import validate
    from planner.input.problem import Problem
    data = {"model": "llama-3.1-8b", "workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200},
            "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"], "serving": serving}
    with pytest.raises(BadInput, match=rf"p.yaml: serving.{key}: .* needs a load profile \(workload.profile\)"):
        validate(Problem, data, "p.yaml")


def test_spot_confidence_without_any_spot_price_is_refused():
    """A day with `spot_confidence_percent: 90` and no GPU priced for spot planned without a word
    (its siblings, spot_max_share_percent and the like, are refused without a spot price; a hunt)."""
    from planner.errors import BadInput
    from planner.input.files import validate
    from planner.input.problem import Problem
    data = {"model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"},
            "workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200,
                         "profile": {"qps_fraction": [0.5] * 12 + [1.0] * 12}},
            "gpus": ["h100"], "serving": {"spot_confidence_percent": 90}}
    with pytest.raises(BadInput, match=r"p.yaml: serving.spot_confidence_percent: no GPU has spot_price_per_gpu_hour"):
        validate(Problem, data, "p.yaml")
    data["gpus"] = [{"id": "h100", "spot_price_per_gpu_hour": 6.0}]
    assert validate(Problem, data, "p.yaml").serving.spot_confidence_percent == 90


MEASUREMENTS = ROOT / "catalogs" / "measurements" / "public.yaml"


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--calibration", "nosuch"],
     "--calibration: unknown calibration profile 'nosuch'"),
    (["validate", str(MEASUREMENTS), "--folds", "0", "--calibration", "nosuch"],
     "--calibration: unknown calibration profile 'nosuch'"),
    (["validate", str(MEASUREMENTS), "--folds", "0", "--calibration", "/etc/passwd"],
     "--calibration: /etc/passwd: a calibration profile is a .yaml file"),
    (["validate", str(MEASUREMENTS), "--folds", "0", "--calibration", str(MEASUREMENTS)],
     "not a calibration profile (it reads as a measurements file: plan validate and plan calibrate read it)"),
    (["calibrate", str(MEASUREMENTS), "--out", "OUT", "--base", str(MEASUREMENTS)],
     "--base: " + str(MEASUREMENTS) + ": not a calibration profile (it reads as a measurements file"),
    (["validate", str(MEASUREMENTS), "--folds", "0", "--deployment", str(MEASUREMENTS)],
     "a measurements file: plan validate and plan calibrate read it, not a deployment"),
    (["init", "--tpot", "1s\n"], "--tpot '1s\\n': a limit is one line of printable text"),
])
def test_options_naming_another_kind_of_file_or_none_say_so_in_one_line(args, message, tmp_path):
    """A measurements file given as a profile (--calibration, --base) or as --deployment listed 5–17
    lines of missing and unknown keys; eval, validate and calibrate --base named no option for an
    unknown profile; an existing path was an 'unknown profile'; `plan init --tpot '1s<newline>'`
    wrote a value over two lines (a hunt of the command-line options)."""
    r = CliRunner().invoke(cli.main, [a.replace("OUT", str(tmp_path / "c.yaml")) for a in args])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.output


@pytest.mark.parametrize("args", [
    ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "８"],
    ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "٤"],
    ["solve", str(ROOT / "problems" / "small_model_cheap_card.yaml"), "--time-limit", "١٠"],
    ["sweep", str(ROOT / "problems" / "small_model_cheap_card.yaml"), "--tpot", "20ms,30ms", "--points", "٣"],
    ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1_6"],   # ran as 16 cards (2026-12-06)
    ["solve", str(ROOT / "problems" / "small_model_cheap_card.yaml"), "--time-limit", "1_0"],
])
def test_number_options_are_ascii_digits(args):
    """click read '٣٠٠٠', '８' and '١٠' as numbers (Python's int and float do) where a file's values
    and a sweep's axes refuse them (a hunt of the options): exit 2 naming the option."""
    r = CliRunner().invoke(cli.main, args)
    assert r.exit_code == 2 and "write the number in ASCII digits" in r.output, r.output


def test_a_period_index_is_ascii_digits():
    """`plan simulate day.json --period ١` simulated period 1 (int() reads Arabic-Indic digits)."""
    from planner.errors import BadInput
    from planner.studies.simulate.fleet import period_indices
    day = {"periods": [{"qps": 1.0}, {"qps": 2.0}]}
    assert period_indices(day, "1", "d.json") == [1]
    with pytest.raises(BadInput, match="--period: 'peak', 'all' or a period index, got '١'"):
        period_indices(day, "١", "d.json")


@pytest.mark.parametrize("args, option", [
    (["sweep", "P", "--tpot", "20ms,30ms", "--tpot", "40ms", "--out", "OUT"], "--tpot"),
    (["solve", "P", "--json", "--out", "OUT", "--out=OUT2"], "--out"),
    (["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--gpu", "h200"], "--gpu"),
])
def test_an_option_of_one_value_given_twice_is_a_usage_error(args, option, tmp_path):
    """click keeps the last of a repeated option without a word: `--tpot 20ms,30ms --tpot 40ms` swept
    40 ms alone, `--out a.json --out b.json` wrote b.json (a hunt). Flags and multiple-value
    options may repeat (`--force --force`)."""
    p = str(ROOT / "problems" / "small_model_cheap_card.yaml")
    out = [a.replace("OUT2", str(tmp_path / "b.json")).replace("OUT", str(tmp_path / "a")) if "OUT" in a else
           (p if a == "P" else a) for a in args]
    r = CliRunner().invoke(cli.main, out)
    assert r.exit_code == 2 and f"{option}: given twice; only the last value would be read" in r.output, r.output
    assert not list(tmp_path.iterdir())
    ok = CliRunner().invoke(cli.main, ["solve", p, "--force", "--force", "--json", "--out", str(tmp_path / "c.json")])
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("args, message", [
    (["sweep", "P", "--tpot", "20ms,30ms", "--spacing", "linear", "--out", "OUT"],
     "--spacing linear: every axis given is a list of values"),
    (["calibrate", str(MEASUREMENTS), "--out", "OUT", "--group-by", "engine", "--name", "foo"],
     "--name names the one profile of a fit; with --group-by"),
])
def test_options_that_would_be_ignored_are_refused(args, message, tmp_path):
    """`--spacing` beside axes given as lists, and `--name` beside `--group-by` (each profile was
    named by its group, 'name: vllm'), were accepted and ignored (a hunt)."""
    p = str(ROOT / "problems" / "small_model_cheap_card.yaml")
    r = CliRunner().invoke(cli.main, [str(tmp_path / "o") if a == "OUT" else (p if a == "P" else a) for a in args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "o").exists()
