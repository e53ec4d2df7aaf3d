"""Hostile input, fifteenth round (2026-12-07): `plan init` at a terminal, whose answers were not
read as its flags are and whose --out was checked only after the last question; a what-if
scenario's `gpus.add`, never checked where it is written; the process's environment (a user's
MPLBACKEND or matplotlibrc, PYTHONWARNINGS or -W) failing every chart or command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from cli import main
from tests.test_hostile_l import SMALL
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]


def asked(monkeypatch, args: list[str], answers: list[str]):
    """`plan init ARGS` as at a terminal, typing `answers` one a line (an empty one takes the default)."""
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    r = CliRunner().invoke(main, ["init", *args], input="".join(a + "\n" for a in answers))
    assert "Traceback" not in r.output, r.output
    return r


# ------------------------------------------------------------------------ 1. answers read as the flags are
def test_an_answer_its_flag_would_refuse_is_asked_again(monkeypatch, tmp_path):
    """At a terminal, `1e400` requests/s (inf), `0` prompt tokens, a TTFT of `0`, the GPU `h999` and
    the model `deepseek-r2` were taken as typed, and after the last question the whole session was
    refused (exit 2, `plan init: workload.qps: Input should be a finite number (got inf)`, …): every
    answer was lost. Each is now read by its flag's own check and the question asked again."""
    out = tmp_path / "chat.yaml"
    r = asked(monkeypatch, ["--out", str(out)], [
        "deepseek-r2", "llama-3.1-8b",          # model
        "1e400", "-1", "5",                     # requests per second
        "0", "1500",                            # prompt tokens
        "",                                     # output tokens: the default
        "0", "2 parsecs", "1s",                 # TTFT
        "30ms",                                 # TPOT
        "h999", "h100,,l40s", "H100, l40s",     # GPUs
    ])
    assert r.exit_code == 0, r.output
    for said in ("plan init: --model: unknown model 'deepseek-r2'", "Error: '1e400' is not a finite number.",
                 "Error: -1.0 is not in the range 0<x<=1000000000.0.",
                 "Error: 0 is not in the range 1<=x<=10000000.",
                 "plan init: slo.ttft: Input should be greater than 0 (got '0')",
                 "plan init: slo.ttft: unknown time unit 'parsecs'",
                 "plan init: --gpus: unknown GPU 'h999'", "plan init: --gpus: 'h100,,l40s' has an empty item"):
        assert said in r.output, (said, r.output)
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert (data["model"], data["workload"]["qps"], data["workload"]["input_tokens"], data["workload"]["output_tokens"],
            data["slo"]["ttft"], data["slo"]["tpot"], data["gpus"]) == (
        "llama-3.1-8b", 5, 1500, 200, "1s", "30ms", ["h100", "l40s"])


def test_a_bare_answer_for_a_limit_is_noted_as_the_flag_is(monkeypatch):
    """`--tpot 1` is noted as 1 s a token; the same answer at the question said nothing."""
    r = asked(monkeypatch, [], ["", "", "", "", "", "1", ""])
    assert r.exit_code == 0, r.output
    assert "note: plan init: tpot: '1' is read as 1 s a token (a bare number is seconds); write 1ms" in r.output
    assert "tpot: '1'" in r.stdout


def test_a_flag_plan_init_refuses_is_refused_before_any_question(monkeypatch):
    """`plan init --gpus h999` at a terminal asked the six other questions, then refused the flag."""
    r = asked(monkeypatch, ["--gpus", "h999"], ["", "", "", "", "", ""])
    assert r.exit_code == 2 and "plan init: --gpus: unknown GPU 'h999'" in r.output, r.output
    assert "Model (" not in r.output, r.output


# ------------------------------------------------------------------------ 2. --out before the questions
def test_an_out_that_exists_or_cannot_be_written_is_refused_before_any_question(monkeypatch, tmp_path):
    """`plan init --out p.yaml` onto an existing file, or into a directory that does not exist, asked
    all seven questions and then refused the path: the answers were lost. Refused before the first."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\n", encoding="utf-8")
    r = asked(monkeypatch, ["--out", str(mine)], [""] * 7)
    assert r.exit_code == 2 and f"--out {mine}: exists; plan init does not replace a file" in r.output, r.output
    assert "Model (" not in r.output and mine.read_text(encoding="utf-8") == "name: mine\n"
    r = asked(monkeypatch, ["--out", str(tmp_path / "nodir" / "p.yaml")], [""] * 7)
    assert r.exit_code == 2 and "directory" in r.output and "does not exist (create it first" in r.output, r.output
    assert "Model (" not in r.output
    fifo = tmp_path / "f.yaml"
    import os
    os.mkfifo(fifo)
    r = asked(monkeypatch, ["--out", str(fifo), "--force"], [""] * 7)
    assert r.exit_code == 2 and "not a regular file (a pipe, device or socket)" in r.output, r.output
    assert "Model (" not in r.output


# ------------------------------------------------------------------------ 3. a scenario's gpus.add
@pytest.mark.parametrize("add, said", [
    (["h999"], "s.yaml: gpus.add[0]: unknown GPU 'h999'; known: a100-80g"),
    (["H100"], "s.yaml: gpus.add[0]: GPU 'H100' is in the base list already (h100, l40s); change its entry "
               "with gpus.update.h100 (or remove it and add it anew)"),
    ([{"id": "b200", "price_per_gpu_hour": 30}, "B200"],
     "s.yaml: gpus.add[1]: GPU 'B200' is added already by gpus.add[0]; name each GPU once"),
])
def test_a_scenarios_added_gpu_is_checked_where_it_is_written(tmp_path, add, said):
    """`gpus: {add: [h999]}` in a what-if scenario was `error: unknown GPU 'h999'; known: …`, naming
    neither the file nor the field; a GPU the base lists already, or one added twice, was the merged
    problem's `s.yaml (applied to the base): gpus: GPU 'H100' is listed twice`. Each added name is
    now checked as gpus.set's are, at `gpus.add[i]`."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", "l40s"]})
    code, out = run("whatif", base, write(tmp_path, {"name": "s", "gpus": {"add": add}}, "s.yaml"))
    assert code == 2 and out.startswith(f"error: {tmp_path / said}"), out


def test_a_gpu_removed_and_added_again_is_read(tmp_path):
    """`remove: [h100]` then `add: [{id: h100, …}]` replaces the base's entry: no 'listed already'."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", "l40s"]})
    s = write(tmp_path, {"name": "s", "gpus": {"remove": ["h100"], "add": [{"id": "H100", "price_per_gpu_hour": 1}]}},
              "s.yaml")
    code, out = run("whatif", base, s, "--json")
    assert code == 0, out


@pytest.mark.parametrize("gpus, said", [
    ({"set": ["h100", "H100"]}, "s.yaml: gpus.set[1]: GPU 'H100' is listed already at gpus.set[0]; name each GPU once"),
    ({"add": [{"id": "b200", "owned_nodes": 9, "max_nodes": 1}]},
     "s.yaml: gpus.add[0].owned_nodes: owned inventory of 9 node(s) (72 cards) exceeds the availability cap"),
    ({"set": ["l40s", {"id": "h100", "reserved_price_per_gpu_hour": 5}]},
     "s.yaml: gpus.set[1].reserved_price_per_gpu_hour: reserved and spot capacity need a load profile"),
])
def test_a_scenarios_whole_gpu_entry_is_named_as_written(tmp_path, gpus, said):
    """An entry the scenario writes whole, in `gpus.set` or `gpus.add`, was named by the merged
    problem's index (`s.yaml (applied to the base): gpus[2].owned_nodes: …`, a field the file has
    not), and `set: [h100, H100]` as the merged `gpus: GPU 'H100' is listed twice`; as `gpus.update`'s
    fields were already, each is now named as the scenario writes it."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", "l40s"]})
    code, out = run("whatif", base, write(tmp_path, {"name": "s", "gpus": gpus}, "s.yaml"))
    assert code == 2 and out.startswith(f"error: {tmp_path / said}"), out


# ------------------------------------------------------------------------ 4. the environment of the process
def plan_process(tmp_path: Path, args: list, env: dict) -> subprocess.CompletedProcess:
    """`plan ARGS` as its own process (cli.run), in `tmp_path`, with `env` added to the environment."""
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PLANNER_CACHE_DIR": "off", **env}, timeout=300)


@pytest.mark.parametrize("env, rc", [
    ({"MPLBACKEND": "foo"}, None),
    ({}, "text.usetex: True\n"),
    ({}, "figure.dpi: 0\n"),
    ({}, "axes.prop_cycle: cycler('color', [])\n"),
])
def test_a_users_matplotlib_settings_do_not_break_plans_charts(tmp_path, env, rc):
    """MPLBACKEND=foo (a backend matplotlib does not know), or a matplotlibrc in the working directory
    asking for LaTeX text with no LaTeX installed, figures of 0 dots an inch or a colour cycle of no
    colours: every chart was exit 5 ('internal error: ValueError: Key backend: 'foo' is not a valid
    value for backend', 'RuntimeError: Failed to process string with tex because latex could not be
    found', 'ValueError: dpi must be positive'), a sweep's solves lost with it. plan draws on Agg at
    matplotlib's own defaults."""
    if rc:
        (tmp_path / "matplotlibrc").write_text(rc, encoding="utf-8")
    png = tmp_path / "w.png"
    p = plan_process(tmp_path, ["whatif", write(tmp_path, SMALL), ROOT / "problems" / "whatif" / "traffic_3x.yaml",
                                "--plot", png], env)
    assert p.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG", p.stderr
    assert p.stderr.strip() == f"wrote {png}", p.stderr


@pytest.mark.parametrize("setting", ["error", "ignore", "e::DeprecationWarning,ignore::UserWarning"])
def test_pythonwarnings_neither_fails_a_command_nor_hides_plans_notes(tmp_path, setting):
    """PYTHONWARNINGS=error (a shell set to catch deprecations) made every command exit 5 ('internal
    error: DeprecationWarning: Constructing LpVariable(name, ...) directly is deprecated', PuLP's, or
    'internal error: PlannerNotice: …' of a note); PYTHONWARNINGS=ignore hid plan's notes (a TPOT of
    '1' planned as a second a token without a word). Both are the executable's business alone."""
    p = write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": 1}})
    r = plan_process(tmp_path, ["solve", p], {"PYTHONWARNINGS": setting})
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"note: {p}: slo.tpot: '1' is read as 1 s a token (a bare number is seconds)"), r.stderr
    assert "Warning" not in r.stderr, r.stderr


def test_python_dash_w_error_starts_no_process_that_fails_on_a_warning():
    """`-W error` and PYTHONWARNINGS' error entries are dropped from what the processes plan starts
    inherit (a sweep's Dask workers read both anew: its solves failed there on PuLP's warning)."""
    script = ("import os, sys, warnings; sys.argv = ['plan', '--version']; import cli\n"
              "try:\n    cli.run()\nexcept SystemExit:\n    pass\n"
              "print(sys.warnoptions, os.environ['PYTHONWARNINGS'], [f for f in warnings.filters if f[0] == 'error'])")
    r = subprocess.run([sys.executable, "-W", "error", "-c", script], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PLANNER_CACHE_DIR": "off", "PYTHONWARNINGS": "err::UserWarning,ignore"},
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "['ignore'] ignore []", r.stdout   # the environment's, then -W's
