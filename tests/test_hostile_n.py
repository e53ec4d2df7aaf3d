"""Hostile input, fourteenth round, second part (2026-12-07; the first part, small defects an
earlier session noted, is test_hostile_m.py): Ctrl-C where it was not answered as Ctrl-C (while
plan starts, while PuLP is imported, during a CBC solve, while an export is written), a plan
file's pool role edited to a list, output names of 241-255 bytes, YAML files of several
documents, and --chart inside --export-dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_hostile_l import SMALL
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "tests" / "data" / "plans" / "small_model_cheap_card_disaggregated.json"


def python(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    """`script` in a fresh interpreter (an import order or a signal no in-process test can give)."""
    env = {k: v for k, v in os.environ.items() if k != "PLANNER_CACHE_DIR"} | {"PLANNER_CACHE_DIR": "off"}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, preexec_fn=_ctrl_c_as_in_a_shell)


def _ctrl_c_as_in_a_shell() -> None:
    """SIGINT at its default in the child, as a shell starts a command: a test worker may ignore
    it, and a process started so keeps ignoring it (Python installs no handler)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# ------------------------------------------------------------------------ Ctrl-C
# A SIGINT the process sends itself at a chosen point: what a Ctrl-C at that moment delivers.
CTRL_C_IN_PULPS_IMPORT = """
import os, signal, sys
class AtHighspy:   # highspy's own modules, imported by PuLP's `import highspy` (its find_spec comes first)
    def find_spec(self, name, path=None, target=None):
        if name.startswith("highspy."):
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, AtHighspy())
sys.argv = ["plan", "solve", "p.yaml", "--out", "plan.json"]
import cli
cli.run()
"""


def test_ctrl_c_while_pulp_imports_highspy_exits_130(tmp_path):
    """PuLP imports highspy (and numpy) under a bare `except:`: a Ctrl-C there was swallowed,
    HiGHS taken for missing, and the solve went on: exit 3 (`the highs solver failed; try --solver
    cbc`), or, with numpy left half imported, exit 5 (`internal error: ImportError: cannot load
    module more than once per process`; `AttributeError: module 'numpy' has no attribute
    'matrix'`): now the Ctrl-C is held until the import ends, then raised."""
    write(tmp_path, SMALL)
    r = python(tmp_path, CTRL_C_IN_PULPS_IMPORT)
    assert (r.returncode, r.stderr) == (130, "error: interrupted\n"), r.stderr
    assert not (tmp_path / "plan.json").exists()


def test_the_interrupt_held_over_an_import_is_raised_when_it_ends():
    """`held_interrupt`: the block runs to its end, then KeyboardInterrupt; Python's handler is back."""
    import signal

    from planner.errors import held_interrupt
    ran = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)   # a test worker's may differ
    try:
        with pytest.raises(KeyboardInterrupt):
            with held_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                ran.append("after the signal")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ran == ["after the signal"]


@pytest.mark.parametrize("where, script", [
    ("while cli.py loads", "import os, signal\nimport planner.starting\nos.kill(os.getpid(), signal.SIGINT)\n"
                           "import cli\n"),
    ("in run() before main", "import os, signal, sys\nimport cli\nimport planner.codecache as c\n"
                             "c.install = lambda command: os.kill(os.getpid(), signal.SIGINT)\n"
                             "sys.argv = ['plan', 'catalog', 'gpus']\ncli.run()\n"),
    ("while click parses", "import os, signal, sys\nimport cli\n"
                           "cli.main.parse_args = lambda ctx, args: os.kill(os.getpid(), signal.SIGINT)\n"
                           "sys.argv = ['plan', 'catalog', 'gpus']\ncli.run()\n"),
])
def test_ctrl_c_while_plan_starts_exits_130_without_a_traceback(tmp_path, where, script):
    """A Ctrl-C in plan's first ~0.15 s (importing click, building the commands, the code cache,
    parsing) printed Python's traceback of KeyboardInterrupt (click's 'Aborted!' and exit 1 while
    parsing): now `error: interrupted`, exit 130, as later."""
    r = python(tmp_path, script)
    assert (r.returncode, r.stderr) == (130, "error: interrupted\n"), (where, r.stderr)


def test_ctrl_c_during_a_cbc_solve_leaves_no_temporary_files(tmp_path, monkeypatch):
    """PuLP deletes CBC's NAME-pulp.mps/.sol/.mst only after CBC returns: every Ctrl-C during a CBC
    solve left them in $TMPDIR (34 files after 17 interrupted solves of a day): now each solve
    writes them in a directory of its own, removed however the solve ends."""
    import subprocess as sp

    from pulp.apis import coin_api

    class Interrupted(sp.Popen):
        def wait(self, timeout=None):
            self.kill()
            super().wait()
            raise KeyboardInterrupt

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.delenv("TMP", raising=False)
    monkeypatch.setattr(coin_api.subprocess, "Popen", Interrupted)
    p = write(tmp_path, SMALL)
    code, out = run("solve", p, "--solver", "cbc", "--out", tmp_path / "plan.json")
    assert (code, out) == (130, "error: interrupted\n")
    assert list(temp.iterdir()) == [] and not (tmp_path / "plan.json").exists()


def test_a_cbc_solve_still_names_a_temporary_directory_it_cannot_write(tmp_path, monkeypatch):
    """The solve's own directory cannot be made where TMPDIR points: PuLP's choice and its message stand."""
    monkeypatch.setenv("TMPDIR", "/proc")
    monkeypatch.delenv("TMP", raising=False)
    code, out = run("solve", write(tmp_path, SMALL), "--solver", "cbc")
    assert code == 2 and out.startswith("error: TMPDIR=/proc: CBC's temporary directory /proc is not writable ("), out


# ------------------------------------------------------------------------ plan files edited by hand
@pytest.mark.parametrize("role", [[], {}, ["prefill"], {"prefill": 1}])
def test_export_of_a_pool_role_that_is_a_list_or_mapping_names_the_field(tmp_path, role):
    """`plan export` of a plan whose pool's `role` was edited to a list or a mapping stopped at exit 5
    (`internal error: TypeError: unhashable type: 'list'`, the check of `mode` against the pools'
    roles); `plan simulate` named the field: now both do."""
    d = json.loads(PLAN.read_text())
    d["pools"][0]["role"] = role
    f = write(tmp_path, json.dumps(d), "r.json")
    for args in (("export", f, "--target", "vllm", "--out", tmp_path / "out"), ("simulate", f)):
        code, out = run(*args)
        assert (code, out) == (2, f"error: {f}: pools[0].role: Input should be 'prefill', 'decode' or 'colocated'\n"), \
            (args[0], out)
    assert not (tmp_path / "out").exists()


def test_a_null_role_beside_an_edited_mode_is_named_not_judged_by_the_other_pools(tmp_path):
    """A role that is no role is the field's error, not a `mode` the remaining pools contradict."""
    d = json.loads(PLAN.read_text())
    d["pools"][0]["role"], d["mode"] = None, "colocated"
    f = write(tmp_path, json.dumps(d), "r.json")
    code, out = run("export", f, "--target", "vllm", "--out", tmp_path / "out")
    assert (code, out) == (2, f"error: {f}: pools[0].role: Input should be 'prefill', 'decode' or 'colocated' "
                              f"(got null)\n"), out


# ------------------------------------------------------------------------ output names of 241-255 bytes
LONG = "b" * 245   # with .json, 250 bytes: a name ext4 and most file systems take (at most 255)


@pytest.mark.parametrize("name", [LONG + ".json", "é" * 125 + ".json"])   # 250 and 255 bytes
def test_solve_out_with_a_long_valid_name_is_written(tmp_path, name):
    """The temporary beside an output was '.NAME.XXXXXXXX.tmp': for a name of 241–255 bytes past the
    file system's 255, and plan solve refused the name after its solve (`cannot write it (File
    name too long)`); now the temporary's name holds the name's first 100 bytes."""
    out = tmp_path / name
    code, text = run("solve", write(tmp_path, SMALL), "--out", out)
    assert code == 0 and text.startswith(f"wrote {out}\n"), text
    assert json.loads(out.read_text())["problem"] == "small"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p.yaml", name])


def test_sweep_and_export_into_a_directory_of_a_long_valid_name(tmp_path):
    """The same for a set of files (a sweep's frontier.*) and an export's directory, replaced with --force too."""
    sweep = tmp_path / ("s" * 250)
    code, text = run("sweep", write(tmp_path, SMALL), "--out", sweep, "--points", "2", "--workers", "1")
    assert code == 0 and (sweep / "frontier.csv").exists(), text
    out = tmp_path / ("e" * 252)
    for extra in ((), ("--force",)):
        code, text = run("export", PLAN, "--target", "vllm", "--out", out, *extra)
        assert code == 0 and (out / "README.txt").exists(), text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p.yaml", sweep.name, out.name])


def test_a_name_past_255_bytes_is_still_refused_before_the_solve(tmp_path):
    """A name the file system cannot hold is refused as before, naming it."""
    out = tmp_path / ("c" * 260 + ".json")
    code, text = run("solve", write(tmp_path, SMALL), "--out", out)
    assert code == 2 and text.startswith("error: ") and text.rstrip().endswith(
        "File name too long (a file or system operation failed)"), text


# ------------------------------------------------------------------------ several YAML documents
@pytest.mark.parametrize("text, line", [
    ("---\n{body}---\nname: other\n", 13),     # a second document after the problem
    ("{body}---\n", 12),                         # a '---' left at the end
    ("---\n---\n", 2),                           # two empty documents
])
def test_a_file_of_several_yaml_documents_says_so(tmp_path, text, line):
    """PyYAML's 'but found another document (expected a single document in the stream started at
    line 4, column 1)' named neither the '---' nor what to do."""
    import yaml
    body = yaml.safe_dump(SMALL, sort_keys=False)
    f = write(tmp_path, text.format(body=body))
    code, out = run("solve", f)
    assert (code, out) == (2, f"error: {f}: YAML syntax error at line {line}, column 1: a second YAML document "
                              f"begins here (a '---' line after the first); a planner file is one document: "
                              f"delete the '---' line, or put each document in a file of its own\n"), out


# ------------------------------------------------------------------------ Ctrl-C while an export is written
@pytest.mark.parametrize("previous", [False, True])
def test_ctrl_c_while_an_export_is_written_leaves_no_hidden_directory(tmp_path, monkeypatch, previous):
    """The export is written into a hidden `.OUT.XXXXXXXX` beside --out, then renamed: a Ctrl-C while
    its files were written left that directory behind (only a disk error removed it); now removed
    on any way out, a previous export (--force) kept as it was, and no directory made for --out kept."""
    out = tmp_path / "made" / "deploy"
    if previous:
        assert run("export", PLAN, "--target", "vllm", "--out", out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()} if previous else None
    written = []
    real = Path.write_text

    def interrupted(self, *args, **kwargs):
        written.append(self.name)
        if len(written) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", interrupted)
    code, text = run("export", PLAN, "--target", "vllm", "--out", out, *(("--force",) if previous else ()))
    assert (code, text.splitlines()[-1]) == (130, "error: interrupted") and len(written) == 3, text
    if previous:
        assert sorted(p.name for p in out.parent.iterdir()) == ["deploy"]
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    else:
        assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ --chart inside --export-dir
DAY = {**SMALL, "name": "small-day",
       "workload": {**SMALL["workload"], "profile": {"qps_fraction": [0.5] * 12 + [1] * 12}}}


@pytest.mark.parametrize("inside", ["c.png", "sub/c.html"])
def test_solve_chart_inside_the_export_dir_is_refused_before_the_solve(tmp_path, inside):
    """`plan solve DAY --chart D/c.png --export vllm --export-dir D` (D an empty directory) wrote the
    chart into D, then refused D as 'exists and is not empty', after the solve and without the
    export: now refused first, as --out inside --export-dir is, and nothing written."""
    d = tmp_path / "deploy"
    d.mkdir()
    chart = d / inside
    code, out = run("solve", write(tmp_path, DAY), "--chart", chart, "--export", "vllm", "--export-dir", d)
    assert (code, out) == (2, f"error: --chart {chart}: inside --export-dir {d}, which the export fills with its "
                              f"own files; write the chart elsewhere\n"), out
    assert list(d.iterdir()) == []


def test_solve_chart_beside_the_export_dir_is_written_with_the_export(tmp_path):
    d = tmp_path / "deploy"
    code, out = run("solve", write(tmp_path, DAY), "--chart", tmp_path / "c.png", "--export", "vllm",
                    "--export-dir", d)
    assert code == 0 and (tmp_path / "c.png").stat().st_size > 0 and (d / "README.txt").exists(), out
