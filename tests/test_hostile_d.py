"""Hostile input, a fourth round (2026-12-06): the items the third round found and left unfixed.
Each case was reproduced first; each test fails without its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]


def _with(**workload) -> dict:
    return {**SMALL, "workload": {**SMALL["workload"], **workload}}


def test_a_tiny_rates_huge_cost_per_million_tokens_reads_in_powers_of_ten(tmp_path):
    """`qps: 1e-15` printed `269,999,999,999,999,968.000 RMB per million output tokens`: true (a
    card an hour for a request a billion years) but eighteen digits no one reads. Past a billion the
    table writes four significant digits and a power of ten; the JSON keeps the float."""
    prob = write(tmp_path, _with(qps=1e-15))
    code, out = run("solve", prob)
    assert code == 0, out
    assert "2.700e+17 RMB per million output tokens" in out
    assert "4.500e+16 RMB per million tokens" in out
    assert "999,999" not in out
    code, out = run("solve", prob, "--json")
    assert code == 0, out
    assert json.loads(out)["cost_per_million_output_tokens"] > 2.6e17


def _plan(tmp_path, edit) -> str:
    code, out = run("solve", write(tmp_path, SMALL), "--out", tmp_path / "plan.json")
    assert code == 0, out
    d = json.loads((tmp_path / "plan.json").read_text())
    edit(d)
    (tmp_path / "m.json").write_text(json.dumps(d))
    return str(tmp_path / "m.json")


def test_a_plan_files_true_and_null_are_shown_as_json_spells_them(tmp_path):
    """A plan file is JSON: `"model": null` read `(got None)` and `"batch": true` `(got True)`,
    Python's words for values the file does not spell so (`plan simulate`, `plan export`). Now
    `null` and `true`, as `plan calibrate` already wrote a vLLM result's `"completed": null`."""
    def edit(d):
        d["model"] = None
        d["pools"][0]["batch"] = True
    plan = _plan(tmp_path, edit)
    for args in (("simulate", plan, "--requests", 100), ("export", plan, "--target", "vllm", "--out", tmp_path / "x")):
        code, out = run(*args)
        assert code == 2, out
        assert "m.json: model: Input should be a valid string (got null)" in out
        assert "m.json: pools[0].batch: Input should be a valid number (got true)" in out
        assert "None" not in out and "True" not in out
    for key, value, said in (("status", None, "status: null; a plan file holds a plan that was found"),
                             ("cost_per_hour", True, "cost_per_hour: true; a cost or latency is a number"),
                             ("mode", False, "mode: false; plan solve writes disaggregated")):
        code, out = run("simulate", _plan(tmp_path, lambda d, k=key, v=value: d.__setitem__(k, v)), "--requests", 100)
        assert code == 2 and said in out, out
    fleet = tmp_path / "fleet.json"
    assert run("solve", ROOT / "problems" / "fleet_mix.yaml", "--out", fleet)[0] == 0
    d = json.loads(fleet.read_text())
    d["services"][0]["key"] = None
    fleet.write_text(json.dumps(d))
    code, out = run("simulate", fleet, "--requests", 100)
    assert code == 2 and "fleet.json: services[0].key: a service's key is text, got null" in out, out


def test_one_card_is_written_in_the_singular(tmp_path):
    """`gpus: [{id: h100, max_cards: 1, owned_nodes: 1}]` read `exceeds the availability cap of 1
    cards`; a plan edited to `cards_per_instance: 1` beside TP2 read `1 cards, but tp·pp·dp = …`."""
    code, out = run("solve", write(tmp_path, {**SMALL, "gpus": [{"id": "h100", "max_cards": 1, "owned_nodes": 1}]}))
    assert code == 2, out
    assert "owned inventory of 1 node(s) (8 cards) exceeds the availability cap of 1 card; raise" in out

    def edit(d):
        d["pools"][0]["parallelism"]["tp"] = 2
        d["pools"][0]["cards_per_instance"] = 1
    code, out = run("simulate", _plan(tmp_path, edit), "--requests", 100)
    assert code == 2, out
    assert "m.json: pools[0].cards_per_instance: 1 card, but tp·pp·dp = 2·1·1 = 2" in out


@pytest.mark.parametrize("name", ["-", "-x", " fit ", "my fit"])
def test_a_profile_name_is_a_word_problems_can_name(tmp_path, name):
    """`plan calibrate --name -` wrote a profile named '-': plans made with it were headed
    `calibration: -` (read as no profile), and `calibration: -` in a problem is a YAML list. A
    profile's name obeys the rule of --group-by's labels, which name profiles too."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    code, out = run("calibrate", csv, "--folds", "0", "--name", name, "--out", tmp_path / "p.yaml")
    assert code == 2 and out.strip() == (
        f"error: --name {name!r}: a profile's name is a word that problems name it by (calibration: NAME): letters, "
        "digits and '.', '_', '+', '-', starting with a letter or digit (as --group-by's labels)"), out
    assert not (tmp_path / "p.yaml").exists()
    code, out = run("calibrate", csv, "--folds", "0", "--name", "my-fit.v2", "--out", tmp_path / "p.yaml")
    assert code == 0 and "name: my-fit.v2" in (tmp_path / "p.yaml").read_text(), out


def test_an_empty_time_zone_is_called_empty(tmp_path):
    """`plan export day.json --target k8s --time-zone ''` (a shell variable left unset) read `--time-zone '':
    not an IANA time zone name`, as if '' were a misspelt zone; other options say they are empty."""
    day = tmp_path / "day.json"
    assert run("solve", ROOT / "problems" / "deepseek_day.yaml", "--out", day)[0] == 0
    for tz in ("", "  "):
        code, out = run("export", day, "--target", "k8s", "--out", tmp_path / "x", "--time-zone", tz)
        assert code == 2 and out.strip() == ("error: --time-zone: empty; leave it out for the cluster's time zone "
                                             "(UTC on most), or name one (e.g. Europe/Berlin)"), out
        assert not (tmp_path / "x").exists()


def test_the_export_line_escapes_a_file_name_that_is_not_utf8(tmp_path):
    """`plan export $'pl\\xe9.json' --out $'o\\xe9'` printed `vllm export of pl?.json in o?: …` with
    the raw byte 0xE9 on standard output (invalid UTF-8 to the terminal or a reader), where the
    `wrote …` lines and every message print its escape, `pl\\udce9.json`."""
    code, out = run("solve", write(tmp_path, SMALL), "--out", tmp_path / "plan.json")
    assert code == 0, out
    raw = os.fsencode(tmp_path)
    os.rename(tmp_path / "plan.json", raw + b"/pl\xe9.json")
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "export", raw + b"/pl\xe9.json", "--target", "vllm",
                        "--out", raw + b"/o\xe9"], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert b"\xe9" not in p.stdout and b"wrote " + raw + b"/o\\udce9/README.txt" in p.stderr
    assert p.stdout.decode() == (f"vllm export of {tmp_path}/pl\\udce9.json in {tmp_path}/o\\udce9: see "
                                 f"{tmp_path}/o\\udce9/README.txt\n")


FLEET_CLASS = {"model": "llama-3.1-8b", "workload": SMALL["workload"], "slo": SMALL["slo"]}


def test_classes_written_as_a_mapping_or_holding_the_fleets_gpus_get_a_hint(tmp_path):
    """`classes: {chat: {…}}` read `classes: Input should be a valid list` and `classes[0].gpus`
    `unknown key 'gpus'.`, neither saying what to write instead."""
    code, out = run("solve", write(tmp_path, {"name": "f", "classes": {"chat": FLEET_CLASS}, "gpus": ["h100"]}))
    assert code == 2 and out.strip().endswith(
        "p.yaml: classes: a list, one entry per class with its name, not a mapping of names (chat): write "
        "`- name: chat` and the class's keys under it"), out
    code, out = run("solve", write(tmp_path, {"name": "f", "gpus": ["h100"],
                                              "classes": [{"name": "chat", **FLEET_CLASS, "gpus": ["h100"]}]}))
    assert code == 2 and out.strip().endswith(
        "p.yaml: classes[0].gpus: a setting of the fleet, shared by its classes: write gpus at the top level "
        "of the file, beside classes"), out


def test_cbc_in_a_temporary_directory_it_cannot_write_names_tmpdir(tmp_path):
    """`TMPDIR=/sys plan solve P --solver cbc` (a temporary directory that cannot be written, which
    PuLP's own check lets through for root) read `/sys/818c…-pulp.mps: Permission denied (a file
    or system operation failed)`, naming a file the user never heard of. Now the directory and
    TMPDIR, and what to do. (Not root: PuLP writes in the current directory instead, here a
    read-only one.)"""
    prob = write(tmp_path, SMALL)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k not in ("TMP", "TEMP")}
    for d in ("/sys", "/proc") if os.geteuid() == 0 else (str(ro),):
        p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "solve", str(prob), "--solver", "cbc"],
                           capture_output=True, text=True, timeout=300, env={**env, "TMPDIR": d}, cwd=ro)
        where = d if os.geteuid() == 0 else f"the current directory ({ro})"
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith(f"error: TMPDIR={d}: CBC's temporary directory {where} is not writable ("), \
            p.stderr
        assert p.stderr.rstrip().endswith("): set TMPDIR to a writable directory, or use --solver highs"), p.stderr
        assert "-pulp." not in p.stderr


def test_a_minimal_csvs_unknown_engine_is_noted_with_its_row(tmp_path):
    """A minimal CSV's `engine` cell `vlllm` (a typo) or `bogus` was a label of its own without a
    word, its points modelled as vLLM's scheduler where `sglang` prefills first. Kept (a run on
    another engine is still a measurement), with a note naming the file, row and column."""
    head = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
    row = "llama-3.1-70b,h100,{},4,4,1,1,1,agg,32,2048,512,180.5,21.3\n"
    csv = write(tmp_path, head + row.format("vllm") + row.format("vlllm") + row.format("vlllm") + row.format("SGLang"),
                "m.csv")
    code, out = run("validate", csv, "--folds", "0")
    assert code == 0, out
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: {csv}: line 3: engine: 'vlllm' is none of the engines plan knows (vllm, sglang, trtllm): "
                     "its points are kept under that label and modelled as an engine that mixes prompt chunks into "
                     "decode steps (as vllm and trtllm do; sglang prefills first). Did you mean 'vllm' or "
                     "'trtllm'?"], out


def test_simulate_periods_message_escapes_the_plan_files_name(tmp_path):
    """`plan simulate $'a\\nb.json' --period 1` on a plan of one period quoted the file name raw in
    its message, so its newline broke the one-line message in two (`{plan_file}` unescaped, noticed
    by the fourth round)."""
    code, out = run("solve", write(tmp_path, SMALL), "--out", tmp_path / "plan.json")
    assert code == 0, out
    odd = tmp_path / "a\nb.json"
    os.rename(tmp_path / "plan.json", odd)
    code, out = run("simulate", odd, "--period", "1")
    assert code == 2, out
    assert out.strip().splitlines() == [f"error: --period 1: {tmp_path}/a\\nb.json is not a plan over a load "
                                        f"profile; it has no periods to pick (leave --period out)"], out


def test_a_problem_files_true_and_null_are_shown_as_yaml_spells_them(tmp_path):
    """The JSON spelling of the plan readers, for YAML problem files too: `model: null` read
    `(got None)` and `name: true` `(got True)`, Python's words for values the file spelt null and
    true (noticed by the fourth round: only plan files had been mended)."""
    code, out = run("solve", write(tmp_path, {**SMALL, "model": None}))
    assert code == 2 and out.strip().endswith("p.yaml: model: Input should be a valid string (got null)"), out
    code, out = run("solve", write(tmp_path, {**SMALL, "name": True}))
    assert code == 2 and out.strip().endswith(
        "p.yaml: name: true/false is not a number or a name here; write the value itself (YAML also reads "
        "yes/no/on/off as booleans) (got true)"), out
