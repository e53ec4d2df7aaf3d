"""Hostile input and odd environments, a third round (2026-12-06): commands and options the first
two rounds covered thinly (sweep, whatif, export, simulate, eval, init, validate) in a regular and
a base install. Each case was found by trying it; each test fails without its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

import cli
from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]
CLI_PY = str(ROOT / "cli.py")


def test_verbose_solver_log_goes_to_stderr_not_into_the_json(tmp_path):
    """`plan solve P --json --verbose` printed HiGHS's (or CBC's) log on standard output, before
    the JSON plan: `… > plan.json` held no JSON a reader parsed. The log is diagnostics, on stderr."""
    prob = write(tmp_path, SMALL)
    for solver in ("highs", "cbc"):
        p = subprocess.run([sys.executable, CLI_PY, "solve", str(prob), "--json", "--verbose", "--solver", solver],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["status"] == "optimal"   # stdout is the JSON alone
        assert ("HiGHS" if solver == "highs" else "CBC") in p.stderr   # the log is still shown


def test_eval_every_prompt_token_cached_keeps_the_first_tokens_step_in_the_formula():
    """`plan eval --prefix-hit 1 --concurrency 4`: the closed-loop formula's TTFT was the fixed
    time alone (53.9 ms for Llama-3.1-8B on 8×H100) where 0.999 read 65.4 ms and the simulation
    67.3 ms at both: with nothing to prefill it counted no step at all, though the engine still
    computes the last prompt token to make the first output token (as the simulation does)."""
    def formula_ttft(hit: str) -> float:
        code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", hit,
                        "--concurrency", "4", "--json")
        assert code == 0, out
        loop = json.loads(out)["closed_loop"]
        return loop["formula"]["ttft_s"], loop["simulated"]["ttft_s"]["mean"]
    (full, sim_full), (near, _) = formula_ttft("1"), formula_ttft("0.999")
    assert abs(full - near) / near < 0.01, (full, near)
    assert abs(full - sim_full) / sim_full < 0.05, (full, sim_full)


def test_dash_for_standard_input_is_named_not_file_not_found(tmp_path, monkeypatch):
    """`plan solve - < p.yaml` (and whatif, simulate, export, sweep, validate, calibrate,
    --deployment) said '-: file not found', as if plan had a bug reading standard input; plan
    reads files only, and says so. A file really named '-' is still read."""
    monkeypatch.chdir(tmp_path)
    text = yaml.safe_dump(SMALL)
    want = "'-' (standard input) is not read here; give a file name"
    for args in (["solve", "-"], ["sweep", "-", "--qps", "1,2", "--out", "sw"], ["simulate", "-"],
                 ["export", "-", "--target", "vllm", "--out", "ex"]):
        code, out = run(*args, stdin=text)
        assert code == 2 and "Invalid value for 'P" in out and want in out, (args, out)
    write(tmp_path, SMALL, "base.yaml")
    code, out = run("whatif", "base.yaml", "-", stdin="name: s\n")
    assert code == 2 and f"Invalid value for '[SCENARIOS]...': {want}" in out, out
    for args, what in ((["validate", "-"], "MEASUREMENTS"), (["calibrate", "-", "--out", "c.yaml"], "MEASUREMENTS"),
                       (["validate", "r.json", "--deployment", "-"], "--deployment")):
        code, out = run(*args, stdin="")
        assert code == 2 and out.strip() == f"error: {what}: {want}", (args, out)
    write(tmp_path, SMALL, "-")   # a file of that name: read as any other
    code, out = run("solve", "-")
    assert code == 0 and "Plan for hostile" in out, out


def test_an_alias_inside_its_own_anchor_is_named_a_loop_not_deep_nesting(tmp_path):
    """`workload: &w {qps: 1, nested: *w}` or `a: &a [*a]`, a file of three lines, was refused as
    'nested more than 64 levels deep': the alias makes a value that holds itself, a loop of any
    depth. Nesting that is deep is still called so."""
    loop = "a: &a\n  b: &b\n    c: *a\n"
    for text in ("a: &a [*a]\n", loop):
        code, out = run("solve", write(tmp_path, text))
        assert code == 2 and out.strip() == (
            f"error: {tmp_path / 'p.yaml'}: a YAML alias (*name) stands inside the mapping or list its anchor "
            "(&name) marks, so the value would hold itself without end; write the values out instead"), out
    code, out = run("solve", write(tmp_path, "a: " + "[" * 100 + "]" * 100 + "\n"))
    assert code == 2 and "nested more than 64 levels deep" in out, out


def test_a_class_name_in_another_script_is_told_the_letters_are_ascii(tmp_path):
    """A fleet class named `聊天-批处理` was refused as 'a class name is 1–64 letters, digits, …':
    those are letters, so the message contradicted itself; the rule is ASCII letters (names become
    engine, Kubernetes and file names)."""
    fleet = {"name": "f", "gpus": ["h100"],
             "classes": [{"name": "聊天-批处理", "model": "llama-3.1-8b", "slo": {"ttft": "2s", "tpot": "50ms"},
                          "workload": {"qps": 1, "input_tokens": 100, "output_tokens": 10}}]}
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    code, out = run("solve", p)
    assert code == 2 and out.strip() == (
        f"error: {p}: classes[0].name: a class name is 1–64 ASCII letters (a–z, A–Z), digits, '_', '.' or '-' "
        "('+' joins the names of classes that share pools) (got '聊天-批处理')"), out


def test_a_value_yaml_reads_as_a_date_is_shown_as_written_not_as_python(tmp_path):
    """`name: 2026-01-01` (a problem named by its date), `qps: 2001-12-14` or
    `tpot: 2026-01-01 10:00:00` printed Python's `datetime.date(2026, 1, 1)`: the message now shows
    the value as the file wrote it and says why it is no text."""
    base = dict(SMALL)
    cases = [({**base, "name": "DATE"}, "name: Input should be a valid string (got 2026-01-01, which YAML reads "
              "as a date unless quoted)"),
             ({**base, "slo": {"ttft": "2s", "tpot": "DATE"}}, "slo.tpot: expected a time quantity such as "
              "\"50ms\", \"2s\", \"1.5min\", got 2026-01-01, which YAML reads as a date unless quoted")]
    for data, want in cases:
        p = write(tmp_path, yaml.safe_dump(data).replace("DATE", "2026-01-01"))
        code, out = run("solve", p)
        assert code == 2 and out.strip() == f"error: {p}: {want}", out
        assert "datetime" not in out


def _bytes_named(tmp_path: Path, raw: bytes, text: str) -> str:
    """A file whose name holds bytes that are not UTF-8 (b'sc\\xe9.yaml', a Latin-1 'é'), as its
    str path (Python reads such names with lone surrogates: 'sc\\udce9.yaml')."""
    with open(os.fsencode(tmp_path) + b"/" + raw, "wb") as f:
        f.write(text.encode())
    return os.fsdecode(os.fsencode(tmp_path) + b"/" + raw)


def test_outputs_naming_a_file_whose_name_is_not_utf8_are_written(tmp_path):
    """`plan whatif base.yaml $'sc\\xe9.yaml' --csv w.csv` and a sweep of $'lat\\xe9.yaml' with an
    infeasible point (its reason names the file) stopped with exit 5, UnicodeEncodeError: the
    name's byte reaches Python as a lone surrogate, which strict UTF-8 cannot write. Written as
    its escape, as the messages print it; a second run replaces the first (its kind is read off
    the new text the same way)."""
    base = _bytes_named(tmp_path, b"base\xe9.yaml", yaml.safe_dump(SMALL))
    scen = _bytes_named(tmp_path, b"sc\xe9.yaml", "name: x\n")
    csv_out = tmp_path / "w.csv"
    for _ in range(2):
        code, out = run("whatif", base, scen, "--csv", csv_out)
        assert code == 0, out
    rows = csv_out.read_text(encoding="utf-8").splitlines()
    assert "base\\udce9.yaml,optimal," in rows[1] and "sc\\udce9.yaml,optimal," in rows[2], rows
    code, out = run("sweep", base, "--tpot", "1ms,50ms", "--no-per-gpu", "--workers", "1", "--out", tmp_path / "sw")
    assert code == 0, out
    reasons = [r["reason"] for r in json.loads((tmp_path / "sw/frontier.json").read_text())["rows"]]
    assert "base\udce9.yaml: TPOT 1 ms unreachable" in reasons[0], reasons   # JSON's escape, read back


def test_init_and_calibrate_refuse_an_out_name_that_is_not_utf8(tmp_path, monkeypatch):
    """`plan init --out $'i\\xe9.yaml'` stopped with exit 5 (its YAML refused the name it had
    written, a lone surrogate), and `plan calibrate --out $'c\\xe9.yaml'` wrote a profile whose name
    no later run could read. The file name becomes the name: both now refuse it, before any work."""
    monkeypatch.chdir(tmp_path)
    csv = write(tmp_path, "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
                "llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3\n", "m.csv")
    for args, what in ((["init"], "problem"), (["calibrate", csv, "--folds", "0"], "profile")):
        out_name = os.fsdecode(b"c\xe9.yaml")
        code, out = run(*args, "--out", out_name)
        assert code == 2 and out.strip() == (
            f"error: --out 'c\\udce9.yaml': the file name becomes the {what}'s name; a name is UTF-8 text; it holds "
            "the byte 0xE9, which is not (a file name in another encoding, such as Latin-1?)"), out
        assert not os.path.exists(os.fsencode(tmp_path) + b"/c\xe9.yaml")


def test_model_path_with_a_control_character_is_not_told_to_prefix_dot_slash(tmp_path):
    """`plan export P --model-path $'a\\nb'` (or a Latin-1 byte) was refused with the advice for a
    name starting with '-': 'write ./a\\nb for a folder of that name', which is refused again. The
    './' advice is kept for the dash alone."""
    plan = tmp_path / "s.json"
    code, out = run("solve", write(tmp_path, SMALL), "--out", plan)
    assert code == 0, out
    code, out = run("export", plan, "--target", "vllm", "--out", tmp_path / "ex", "--model-path", "a\nb")
    assert code == 2 and out.strip() == (
        "error: --model-path 'a\\nb': a path or Hugging Face id, without control characters and not starting "
        "with '-' (the engines would read it as a flag): it holds a character that is not printable text"), out
    code, out = run("export", plan, "--target", "vllm", "--out", tmp_path / "ex", "--model-path", "-m")
    assert code == 2 and out.strip().endswith("; write ./m for a folder of that name"), out


def test_a_two_axis_sweep_letters_each_panels_changes_apart_and_lists_them_all():
    """`plan sweep P --tpot 20ms:50ms --qps 10:100 --points 100`: the QPS panel lettered its fleet
    changes A … AA again from A, and the key under the chart (and the page's) listed only the TPOT
    panel's A, another plan: B … AA were explained nowhere. The letters now go on from panel to
    panel and the key lists every one."""
    import re

    from planner.report.frontier_html import render_html
    from planner.report.plots import render_png
    from planner.studies.sweep import ALL, Axis, Row, Sweep
    tpots, qpss = (0.02, 0.03, 0.05), (10.0, 20.0, 40.0, 80.0)
    rows, i = [], 0
    for t in tpots:
        for q in qpss:   # a fleet change at each QPS; a tighter TPOT costs more
            rows.append(Row(ALL, i, tpot_limit_s=t, ttft_limit_s=2.0, qps=q, status="optimal", tpot_s=t * 0.8,
                            ttft_s=0.5, cost_per_hour=100.0 * q / t, cost_per_million_output_tokens=1.0 / t - q / 100,
                            cost_per_million_tokens=1.0, pools="P 1×8 H100 | D 1×8 H20",
                            fleet=f"P {'H100' if i % 2 else 'H200'} | D H{int(q)}"))
            i += 1
    s = Sweep("two", "p.yaml", "RMB", (Axis("tpot", tpots), Axis("qps", qpss)), (ALL,), tuple(rows))
    html = render_html(s)
    drawn = re.findall(r'font-weight="bold"[^>]*>([A-Z]+)</text>', html)   # on both panels
    assert len(drawn) > 4 and len(set(drawn)) == len(drawn), drawn   # the QPS panel's start after the TPOT panel's
    assert sorted(re.findall(r"<li><b>([A-Z]+)</b>", html)) == sorted(drawn)   # each one in the key
    assert render_png(s)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_benchmark_result_missing_a_key_or_holding_null_says_so_not_got_none(tmp_path):
    """A vLLM result without `completed` (or with `"completed": null`) was refused as 'completed:
    expected a positive finite number, got None': Python's word, and for a key the file does not
    have at all. Now 'got nothing (the key is missing)' and 'got null', JSON's word."""
    sample = json.loads((ROOT / "tests/data/bench/vllm_sample.json").read_text())
    dep = ROOT / "tests/data/bench/dep.yaml"
    for value, said in ((..., "got nothing (the key is missing)"), (None, "got null")):
        d = {k: v for k, v in sample.items() if k != "completed"}
        if value is None:
            d["completed"] = None
        f = write(tmp_path, json.dumps(d), "r.json")
        code, out = run("validate", f, "--deployment", dep, "--folds", "0")
        assert code == 2 and out.strip() == f"error: {f}: completed: expected a positive finite number, {said}", out


def test_a_scenario_key_the_base_keeps_is_told_why_not_a_look_alike(tmp_path):
    """A what-if scenario `precision: {kv: fp8}` (a natural what-if) was refused as 'unknown key
    'precision'. Did you mean 'pricing'?', a key that does something else; `pricing.currency`,
    `workload.profile`, `calibration` and `solver` said 'unknown key' alone. Each now says the base
    keeps it, and what to do instead; a misspelt key keeps its suggestion."""
    base = write(tmp_path, SMALL, "base.yaml")
    for text, want in (
            ("precision: {kv: fp8}\n", "precision: a scenario does not change it: the base's precisions hold in every "
             "scenario; to compare precisions, solve a copy of the base problem with the others (or give it as "
             "another base)"),
            ("pricing: {currency: USD}\n", "pricing.currency: a scenario does not change it: plan whatif compares "
             "costs in the base's currency"),
            ("workload: {profile: {qps_fraction: [1, 0.5]}}\n", "workload.profile: a scenario does not change it: "
             "the base's load shape holds in every scenario; scale it with workload.qps_multiplier")):
        s = write(tmp_path, "name: s\n" + text, "s.yaml")
        code, out = run("whatif", base, s)
        assert code == 2 and out.strip() == f"error: {s}: {want}", out
    s = write(tmp_path, "name: s\nworkload: {qsp: 3}\n", "s.yaml")
    code, out = run("whatif", base, s)
    assert code == 2 and out.strip() == f"error: {s}: workload.qsp: unknown key 'qsp'. Did you mean 'qps'?", out


def test_an_option_given_twice_shows_the_commands_usage_not_the_groups(tmp_path):
    """`plan schema --kind problem --kind fleet` was refused under 'Usage: plan [OPTIONS] COMMAND
    [ARGS]...' and "Try 'plan --help'", the group's lines, though the mistake is schema's option."""
    def plan(*args) -> tuple[int, str]:
        r = CliRunner().invoke(cli.main, [str(a) for a in args], prog_name="plan")
        return r.exit_code, r.output
    code, out = plan("schema", "--kind", "problem", "--kind", "fleet")
    assert code == 2 and out.splitlines()[:2] == ["Usage: plan schema [OPTIONS]",
                                                  "Try 'plan schema --help' for help."], out
    assert out.strip().endswith("Error: --kind: given twice; only the last value would be read: give it once"), out
    code, out = plan("sweep", write(tmp_path, SMALL), "--tpot", "20ms", "--tpot", "30ms", "--out", tmp_path / "s")
    assert code == 2 and out.startswith("Usage: plan sweep [OPTIONS] PROBLEM\n"), out


def test_a_float_option_overflowing_to_inf_is_named_as_written():
    """`plan init --qps 1e400` (or `plan solve --time-limit 1e999`, `eval --prefix-hit 1e400`) said
    "'--qps': inf is not in the range 0<x<=1000000000.0", a value the user did not write, where
    'nan' and 'inf' were 'not a finite number' and a sweep axis says so of '1e400s' too."""
    for args, opt, value in ((["init", "--qps", "1e400"], "--qps", "1e400"),
                             (["init", "--qps", "-1e400"], "--qps", "-1e400"),
                             (["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "1e400"],
                              "--prefix-hit", "1e400")):
        code, out = run(*args)
        assert code == 2 and out.strip().endswith(f"Error: Invalid value for '{opt}': '{value}' is not a finite "
                                                  "number."), out


def test_options_echoed_in_a_message_escape_a_newline(tmp_path):
    """`--dask $'a\\nb'`, `--group-by`, `--profiles` and `simulate --period` (of a plan without
    periods) echoed the value raw: the message broke into two lines, the second reading as its own
    ('b: write the scheduler address as HOST:PORT …'). The value is escaped, as other options' are."""
    prob, plan = write(tmp_path, SMALL), tmp_path / "s.json"
    assert run("solve", prob, "--out", plan)[0] == 0
    csv = write(tmp_path, "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
                "llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3\n", "m.csv")
    nl = "a\nb"
    for args, start in ((["sweep", prob, "--qps", "1,2", "--out", tmp_path / "sw", "--dask", nl], "--dask a\\nb: "),
                        (["validate", csv, "--folds", "0", "--group-by", nl], "--group-by a\\nb: "),
                        (["validate", csv, "--folds", "0", "--group-by", "engine", "--profiles", nl],
                         "--profiles a\\nb: "),
                        (["simulate", plan, "--period", nl], "--period a\\nb: ")):
        code, out = run(*args)
        errors = [line for line in out.splitlines() if not line.startswith(("sweep: ", "note: "))]
        assert code == 2 and len(errors) == 1 and errors[0].startswith(f"error: {start}"), out


def test_a_quoted_newline_in_a_csv_cell_or_header_stays_on_the_messages_line(tmp_path):
    """A minimal CSV whose model cell is `"lla<newline>ma"` (a quoted newline, which CSV allows)
    ended its summary on a second line ('ma))'), and a trace whose header names a column
    `"Context<newline>Tokens"` listed it across two lines: both texts are echoed escaped now."""
    csv = write(tmp_path, 'model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n'
                '"lla\nma",h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3\n', "m.csv")
    code, out = run("validate", csv, "--folds", "0")
    assert code == 2 and len(out.strip().splitlines()) == 1 and "model not in catalog (lla\\nma))" in out, out
    write(tmp_path, 'TIMESTAMP,"Context\nTokens",GeneratedTokens\n2026-11-30 00:00:22,320,275\n', "t.csv")
    prob = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv", "period": "1h"}}})
    code, out = run("solve", prob)
    assert code == 2 and len(out.strip().splitlines()) == 1, out
    assert "the header has TIMESTAMP, Context\\nTokens, GeneratedTokens, expected one of" in out, out


def test_a_name_with_tilde_or_dollar_is_told_plan_does_not_expand_it(tmp_path, monkeypatch):
    """`model: ~/models/config.json` in a problem file, a trace `file: ~/traces/t.csv` read beside a
    problem in another directory, and a quoted '~/p.yaml' argument were a bare 'file not found': the
    shell expands ~ and $HOME on a command line, plan opens a name as written, and says so now."""
    monkeypatch.chdir(tmp_path)
    hint = "(plan does not expand ~ or $VARIABLES in a file name: write the path out)"
    code, out = run("solve", write(tmp_path, {**SMALL, "model": "~/models/config.json"}))
    assert code == 2 and out.strip().endswith(f"file not found beside the problem file ({tmp_path}) nor in the "
                                              f"current directory ({tmp_path}) {hint}"), out
    (tmp_path / "sub").mkdir()
    prob = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "~/traces/t.csv", "period": "1h"}}}, "sub/t.yaml")
    code, out = run("solve", prob)
    assert code == 2 and f"sub/~/traces/t.csv: trace file not found {hint}" in out, out
    code, out = run("solve", "$HOME/p.yaml")
    assert code == 2 and f"$HOME/p.yaml: file not found {hint}" in out, out
    code, out = run("solve", tmp_path / "nope.yaml")   # no ~ or $: no hint
    assert code == 2 and out.strip().endswith("nope.yaml: file not found"), out


def test_export_into_the_directory_holding_its_plan_is_not_told_to_pass_force(tmp_path):
    """`plan export DIR/plan.json --out DIR` said 'pass --force to replace a previous export there',
    and with --force 'holds the input DIR/plan.json; --force would delete it': advice that led to a
    refusal. The input is named first, with or without --force."""
    d = tmp_path / "d"
    d.mkdir()
    plan = d / "plan.json"
    plan.write_bytes((ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json").read_bytes())
    for extra in ([], ["--force"]):
        code, out = run("export", plan, "--target", "vllm", "--out", d, *extra)
        assert code == 2 and f"{d}: holds the input {plan}; --force would delete it: export somewhere else" in out \
            and "pass --force" not in out, out
    assert plan.read_bytes() == (ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json").read_bytes()


def test_a_plan_given_as_the_model_is_named_a_plan_not_four_missing_fields(tmp_path, monkeypatch):
    """`model: plan.json` (a plan of `plan solve --out`, not a config.json) listed four missing
    config.json fields, one line each; it is named for what it is, in one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plan.json").write_bytes((ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json").read_bytes())
    code, out = run("solve", write(tmp_path, {**SMALL, "model": "plan.json"}))
    assert code == 2 and len(out.strip().splitlines()) == 1, out
    assert out.strip().endswith(f"model: {tmp_path / 'plan.json'}: is a plan (JSON of plan solve --out), not a "
                                "model's config.json: give the model's id or its Hugging Face config.json"), out


def test_a_quantity_past_the_largest_float_is_named_as_written_without_advice_to_add_ms(tmp_path):
    """`tpot: 1e400ms` was refused as 'got inf', and `plan init --tpot 1e400` first advised writing
    '1e400ms' (as for a bare 20, read as seconds), then refused 'got inf': the value is named as
    written, and a number no float holds gets no advice about its unit."""
    code, out = run("solve", write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": "1e400ms"}}))
    assert code == 2 and "slo.tpot: '1e400ms' is past the largest number plan reads" in out and "inf" not in out, out
    code, out = run("init", "--model", "llama-3.1-8b", "--tpot", "1e400", "--out", tmp_path / "i.yaml")
    assert code == 2 and out.strip() == ("error: plan init: slo.tpot: '1e400' is past the largest number plan reads; "
                                         "write it like \"50ms\", \"2s\", \"1.5min\" (got '1e400')"), out
    assert not (tmp_path / "i.yaml").exists()
