"""Help to write files: `plan --version`, `plan schema` (every shipped file validates against it),
`plan init` (its file solves as written).

The schema check uses the `jsonschema` package when installed (the test extra) and otherwise a
minimal validator of the keywords pydantic emits (type, properties, required,
additionalProperties, items, anyOf, enum, const, $ref and numeric bounds), which is enough to
catch an unknown key, a missing key or a wrong type.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from cli import main
from planner.input.json_schema import json_schema

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "problems").glob("*.yaml")) + sorted((ROOT / "problems" / "whatif").glob("*.yaml"))
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def errors(value, schema: dict, root: dict, where: str = "") -> list[str]:
    """Why `value` fails `schema` (empty when it validates): a minimal JSON Schema validator."""
    if "$ref" in schema:
        return errors(value, root["$defs"][schema["$ref"].split("/")[-1]], root, where)
    if "anyOf" in schema:
        if all(errors(value, s, root, where) for s in schema["anyOf"]):
            return [f"{where}: {value!r} matches no alternative"]
    t = schema.get("type")
    if t in ("number", "integer"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            t == "number" or float(value).is_integer())
        if not ok:
            return [f"{where}: {value!r} is not a {t}"]
        bad = [k for k, f in (("minimum", lambda b: value < b), ("maximum", lambda b: value > b),
                              ("exclusiveMinimum", lambda b: value <= b),
                              ("exclusiveMaximum", lambda b: value >= b)) if k in schema and f(schema[k])]
        return [f"{where}: {value!r} breaks {k}" for k in bad]
    if t and not isinstance(value, TYPES[t]):
        return [f"{where}: {value!r} is not a {t}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: {value!r} is not {schema['const']!r}"]
    out = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{where}.{k}: required" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                out += errors(v, props[k], root, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{where}.{k}: unknown key")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(v, schema["additionalProperties"], root, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += errors(v, schema["items"], root, f"{where}[{i}]")
    return out


def check(data, schema) -> list[str]:
    try:
        import jsonschema
    except ImportError:
        return errors(data, schema, schema)
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]


def kind_of(path: Path, data) -> str:
    if path.parent.name == "whatif":
        return "scenario"
    return "fleet" if "classes" in data else "problem"


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_every_shipped_file_validates_against_its_schema(path):
    data = yaml.safe_load(path.read_text()) or {}
    assert check(data, json_schema(kind_of(path, data))) == []


@pytest.mark.parametrize("data, kind, why", [
    ({"model": "m", "workload": {"qps": 1, "input_tokens": 1, "output_tokens": 1},
      "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"], "colour": "red"}, "problem", "colour"),
    ({"model": "m", "workload": {"qps": 1, "input_tokens": 1, "output_tokens": 1},
      "slo": {"ttft": "2s", "tpot": -1}, "gpus": ["h100"]}, "problem", "tpot"),
    ({"gpus": {"update": {"h20": {"price_change_percent": "cheap"}}}}, "scenario", "price_change_percent"),
])
def test_schema_refuses_what_plan_refuses(data, kind, why):
    assert any(why in e or "colour" in e or "-1" in e or "cheap" in e for e in check(data, json_schema(kind)))


def test_schema_accepts_what_plan_accepts_a_profile_in_requests_per_second(tmp_path):
    """With `profile.qps` (requests/s) `workload.qps` may be left out (docs/horizon.md): plan solves
    it, and the schema refused it (it asked for qps unless a trace was given)."""
    w = {"input_tokens": 500, "output_tokens": 150, "profile": {"period": "1h", "qps": [3, 5, 4, 2] * 6}}
    data = {"model": "llama-3.1-8b", "workload": w, "slo": {"ttft": "500ms", "tpot": "30ms"}, "gpus": ["h100"]}
    assert check(data, json_schema("problem")) == []
    fleet = {"gpus": ["h100"], "classes": [{"name": "a", "model": "llama-3.1-8b", "workload": w,
                                            "slo": {"ttft": "500ms", "tpot": "30ms"}}]}
    assert check(fleet, json_schema("fleet")) == []
    fraction = {**w, "profile": {"period": "1h", "qps_fraction": [0.5, 1] * 12}}   # a fraction of qps needs qps
    assert check({**data, "workload": fraction}, json_schema("problem")) != []
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    r = CliRunner().invoke(cli.main, ["solve", str(tmp_path / "p.yaml")])
    assert r.exit_code == 0, r.output


def test_deprecated_keys_are_in_the_schema_marked():
    gpu = json_schema("problem")["$defs"]["GPUChoice"]["anyOf"][1]["properties"]
    assert gpu["price_rmb_per_gpu_hour"]["deprecated"] is True
    assert gpu["price_rmb_per_gpu_hour"]["anyOf"] == gpu["price_per_gpu_hour"]["anyOf"]


def test_cli_schema_writes_json(tmp_path):
    out = tmp_path / "fleet.schema.json"
    r = CliRunner().invoke(main, ["schema", "--kind", "fleet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert s["title"] == "planner fleet file" and "classes" in s["required"]


def test_version():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("plan ") and r.stdout.strip() != "plan"


def test_init_then_solve(tmp_path):
    out = tmp_path / "chat.yaml"
    r = CliRunner().invoke(main, ["init", "--model", "llama-3.1-70b", "--qps", "4", "--ttft", "1s",
                                  "--gpus", "h100,h200", "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "model: llama-3.1-70b" in text and "ttft: 1s" in text and "tpot: 50ms" in text   # flag, flag, default
    # the first line names the file written (it said 'plan solve <name>.yaml' whatever the file; printed
    # without --out, 'Solve it with' a file none had written: a first-hour walkthrough)
    assert text.splitlines()[0].endswith(f"Solve it with: plan solve {out}")
    r = CliRunner().invoke(main, ["init", "--model", "llama-3.1-70b", "--gpus", "h100"])
    assert r.stdout.splitlines()[0].endswith("Save it (plan init --out my-problem.yaml) and solve it with: "
                                              "plan solve my-problem.yaml"), r.stdout
    r = CliRunner().invoke(main, ["solve", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Plan for chat: llama-3.1-70b")


def test_init_gpus_are_catalog_ids(tmp_path):
    """--gpus 'h100,,h200' was accepted (an empty item dropped, where --tpot refuses one) and 'H100'
    written as typed (hostile-input hunt, 2026-12-04): the empty item is refused, the ids written
    as the catalog spells them."""
    r = CliRunner().invoke(main, ["init", "--gpus", "h100,,h200"])
    assert r.exit_code == 2 and "--gpus: 'h100,,h200' has an empty item" in r.output, r.output
    r = CliRunner().invoke(main, ["init", "--gpus", "H100, h20"])
    assert r.exit_code == 0 and "  - h100\n  - h20\n" in r.stdout, r.output


def test_init_asks_at_a_terminal(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    answers = "\n".join(["qwen3-32b", "3", "2000", "", "", "40ms", "h200"]) + "\n"
    r = CliRunner().invoke(main, ["init"], input=answers)
    assert r.exit_code == 0, r.output
    data = yaml.safe_load(r.stdout)
    assert (data["model"], data["workload"], data["slo"]["tpot"], data["gpus"]) == (
        "qwen3-32b", {"qps": 3, "input_tokens": 2000, "output_tokens": 200, "prefix_cache_hit_percent": 0},
        "40ms", ["h200"])


def test_init_interrupted_at_a_question_is_exit_130(monkeypatch):
    """Ctrl-D (end of input) or Ctrl-C at a question printed click's 'Aborted!' and exit 1; an
    interruption is 130 with 'error: interrupted' everywhere else."""
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    r = CliRunner().invoke(main, ["init"], input="")
    assert r.exit_code == 130 and "error: interrupted" in r.output and "Aborted" not in r.output, r.output


def test_init_without_stdin_and_with_a_name_of_two_lines(monkeypatch, tmp_path):
    """stdin closed (`plan init <&-`): exit 5, 'NoneType has no isatty'; a file name holding a
    newline, escape or line separator broke the YAML it became the name of (exit 5)."""
    monkeypatch.setattr(cli.sys, "stdin", None)
    assert cli.stdin_is_terminal() is False
    for bad in ("new\nline.yaml", "esc\x1bname.yaml", "sep\u2028x.yaml", "nel\x85x.yaml"):
        out = tmp_path / bad
        r = CliRunner().invoke(main, ["init", "--out", str(out)])
        assert r.exit_code == 2, r.output   # refused as any --out name with a control character (since 2026-12-05)
        assert "holds a control character (a newline, tab or escape)" in r.output, r.output
        assert not out.exists()


def test_init_checks_values_before_writing(tmp_path):
    out = tmp_path / "x.yaml"
    r = CliRunner().invoke(main, ["init", "--tpot", "fast", "--out", str(out)])
    assert r.exit_code == 2 and "plan init: slo.tpot: cannot read 'fast'" in r.stderr
    assert not out.exists()


def test_init_refuses_an_unknown_model_and_keeps_an_existing_file(tmp_path):
    """init writes only a file `plan solve` accepts (an unknown model is exit 2, nothing written)
    and never replaces an existing file, which may hold the user's edits, without --force."""
    out = tmp_path / "p.yaml"
    r = CliRunner().invoke(main, ["init", "--model", "nope", "--out", str(out)])
    assert r.exit_code == 2 and "plan init: --model: unknown model 'nope'" in r.stderr and not out.exists()
    out.write_text("# my edited problem\n")
    r = CliRunner().invoke(main, ["init", "--model", "llama-3.1-8b", "--out", str(out)])
    assert r.exit_code == 2 and "does not replace a file" in r.stderr
    assert out.read_text() == "# my edited problem\n"
    r = CliRunner().invoke(main, ["init", "--model", "llama-3.1-8b", "--out", str(out), "--force"])
    assert r.exit_code == 0 and "model: llama-3.1-8b" in out.read_text()


def test_init_never_replaces_the_model_config_it_reads(tmp_path):
    """`plan init --model m/config.json --out m/config.json --force` replaced the user's config with
    a problem file (a hostile-input hunt); `plan solve` already refused the same, --force or not."""
    cfg = tmp_path / "m" / "config.json"
    cfg.parent.mkdir()
    text = json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                       "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
                       "num_hidden_layers": 32, "vocab_size": 128256, "max_position_embeddings": 131072,
                       "torch_dtype": "bfloat16"})
    cfg.write_text(text)
    for target in (cfg, cfg.parent):
        r = CliRunner().invoke(main, ["init", "--model", str(target), "--qps", "4", "--gpus", "h100",
                                      "--out", str(cfg), "--force"])
        assert r.exit_code == 2 and "refusing" in r.output and str(cfg) in r.output, r.output
        assert cfg.read_text() == text
    out = tmp_path / "p.yaml"
    r = CliRunner().invoke(main, ["init", "--model", str(cfg), "--qps", "4", "--gpus", "h100", "--out", str(out)])
    assert r.exit_code == 0 and f"model: {cfg}" in out.read_text(), r.output


QUANTITY_TEXTS = ["50ms", " 2 s ", "1.5min", "1_000ms", ".5h", "2e3us", "50µs", "50", "2 S", "2sec", "1,000ms",
                  "abc", "", "٢s", "-50ms", "2mw", "2MW", "10.2kW", "700 W", "2 TW", "4.8TB/s", "400Gb/s",
                  "2GB", "50Gbps", "141GiB", "989TFLOPS", "1.5k", "8", "1.5x", "ms"]


@pytest.mark.parametrize("dim", ["time", "power", "bandwidth", "bytes", "flops", "count"])
def test_the_schema_pattern_of_a_quantity_is_what_plan_reads(dim):
    """An editor checks a quantity's text against the schema: its pattern takes exactly the strings
    `parse_quantity` reads in that dimension ('2 S', '2mw', '2GB' as a bandwidth passed the schema
    and were refused by plan: the string branch had no pattern, a hunt)."""
    import re

    from planner.input.units import UnitError, parse_quantity, quantity_pattern
    pattern = re.compile(quantity_pattern(dim))
    for text in QUANTITY_TEXTS:
        try:
            parse_quantity(text, dim)
            reads = True
        except UnitError:
            reads = False
        assert bool(pattern.search(text)) == reads, (dim, text)


PROBLEM = {"model": "llama-3.1-8b", "workload": {"qps": 1, "input_tokens": 100, "output_tokens": 10},
           "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"]}


def _with(path: str, value):
    d = copy.deepcopy(PROBLEM)
    *keys, last = path.split(".")
    node = d
    for k in keys:
        node = node.setdefault(k, {})
    node[last] = value
    return d


@pytest.mark.parametrize("path, value", [
    ("slo.tpot", "2 S"), ("limits.power", "2mw"), ("serving.prefix_cache_hit_percent", "abc"),
    ("pricing.sell_per_million_output_tokens", 1e13), ("pricing.currency", "US"), ("pricing.currency", "ZZZ"),
    ("name", " "),
    ("name", "two\nlines"), ("workload.profile", {"qps_fraction": [1.0] * 23}),
    ("workload.profile", {"qps_fraction": [0.0] * 24}), ("workload.trace", None),
    ("gpus", [{"id": "h100", "price_per_gpu_hour": 1e13}]), ("gpus", [{"id": "h100", "max_cards": 10**19}]),
])
def test_schema_refuses_what_plan_refuses_and_a_schema_can_say(path, value, tmp_path):
    """Rules the loader held in validators the schema did not carry (a hunt, 2026-12-05): unit and
    percent text, maxima of prices, the currency code, blank or multi-line names, a profile's 24 or
    168 periods, `trace: null`, whole numbers above 10^18. Each is refused by both."""
    d = _with(path, value)
    assert check(d, json_schema("problem")) != [], (path, value)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(d, allow_unicode=True))
    assert CliRunner().invoke(cli.main, ["solve", str(tmp_path / "p.yaml")]).exit_code == 2


def test_schema_accepts_what_plan_accepts_aliases_and_renamed_required_keys(tmp_path):
    """`serving.modes: [aggregated]` (the colocated mode, as engines call it) and a scenario's
    `buy` with its deprecated `price_rmb_per_node` alone are read by plan; the schema refused both
    (the renamed key's replacement stayed required). A class name and a scenario's percent text."""
    assert check(_with("serving.modes", ["aggregated"]), json_schema("problem")) == []
    buy = {"buy": {"gpu": "h200", "nodes": 1, "price_rmb_per_node": 2300000, "months": 36,
                   "electricity_per_kwh": 0.8}}
    assert check(buy, json_schema("scenario")) == []
    assert check({**buy, "buy": {k: v for k, v in buy["buy"].items() if k != "price_rmb_per_node"}},
                 json_schema("scenario")) != []
    update = {"gpus": {"update": {"h100": {"spot_price_per_gpu_hour": 5, "spot_interruption_percent": "20%",
                                            "price_change_percent": "-20%"}}}}
    assert check(update, json_schema("scenario")) == []
    from planner.input.scenario import Scenario
    got = Scenario.model_validate(update).gpus.update["h100"]
    assert (got.spot_interruption_percent, got.price_change_percent) == (20.0, -20.0)
    cls = {"name": "chat bot", "model": "llama-3.1-8b", "workload": PROBLEM["workload"], "slo": PROBLEM["slo"]}
    fleet = {"gpus": ["h100"], "classes": [cls]}
    assert check(fleet, json_schema("fleet")) != []
