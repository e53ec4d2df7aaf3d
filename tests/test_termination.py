"""A SIGTERM or SIGHUP while plan writes leaves the user's files as they were and nothing hidden beside
them; the process still ends by the signal (`errors.cleaned_on_termination`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (its own signal handlers), in `cwd`, with the project importable."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


# a step of the write that sends the signal to its own process just before it happens
KILL_ON = """
import os, signal
def killing(real, sig=signal.SIG):
    def step(*a, **k):
        os.kill(os.getpid(), sig)
        return real(*a, **k)
    return step
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_kill_while_a_file_is_replaced_leaves_the_old_file_and_no_temporary(tmp_path, sig):
    (tmp_path / "plan.json").write_text("old\n")
    r = run(KILL_ON.replace("signal.SIG", f"signal.{sig}") + """
from planner.input import files
os.replace = killing(os.replace)
files.atomic_write("plan.json", "new\\n", force=True)
print("not reached")
""", tmp_path)
    assert r.returncode == -getattr(signal, sig), r.stderr
    assert "not reached" not in r.stdout and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]   # no .plan.json.XXXX.tmp
    assert (tmp_path / "plan.json").read_text() == "old\n"


def test_a_kill_while_a_set_is_written_leaves_the_old_set_and_no_staging_directory(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "frontier.csv").write_text("old\n")
    r = run(KILL_ON.replace("signal.SIG", "signal.SIGTERM") + """
from pathlib import Path
from planner.input import files
Path.write_text = killing(Path.write_text)
files.write_set("sweep", {"frontier.csv": "new\\n", "frontier.json": "{}\\n"}, force=True)
""", tmp_path)
    assert r.returncode == -signal.SIGTERM, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv"] and (out / "frontier.csv").read_text() == "old\n"


def test_a_kill_while_an_export_is_written_leaves_no_hidden_directory(tmp_path):
    plan = ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json"
    r = run(KILL_ON.replace("signal.SIG", "signal.SIGTERM") + f"""
import json
from pathlib import Path
from planner.report.export import export
Path.write_text = killing(Path.write_text)
export(json.loads(Path({str(plan)!r}).read_text()), "vllm", None, None, "deploy", source={str(plan)!r})
""", tmp_path)
    assert r.returncode == -signal.SIGTERM, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_sighup_is_left_alone_and_the_file_written(tmp_path):
    """Under nohup SIGHUP is ignored: the write goes on as it would have without plan's handling."""
    (tmp_path / "plan.json").write_text("old\n")
    r = run(KILL_ON.replace("signal.SIG", "signal.SIGHUP") + """
signal.signal(signal.SIGHUP, signal.SIG_IGN)
from planner.input import files
os.replace = killing(os.replace)
files.atomic_write("plan.json", "new\\n", force=True)
print("written")
""", tmp_path)
    assert r.returncode == 0 and r.stdout == "written\n", r.stderr
    assert (tmp_path / "plan.json").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_a_kill_inside_nested_blocks_runs_both_cleanups_then_ends_the_process(tmp_path):
    r = run("""
import os, signal
from planner.errors import cleaned_on_termination
with cleaned_on_termination():
    try:
        try:
            with cleaned_on_termination():
                os.kill(os.getpid(), signal.SIGTERM)
        finally:
            print("inner cleanup", signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, flush=True)
    finally:
        print("outer cleanup", flush=True)
print("not reached")
""", tmp_path)
    assert r.returncode == -signal.SIGTERM, r.stderr
    assert r.stdout == "inner cleanup True\nouter cleanup\n"


def test_outside_a_block_the_handlers_are_what_they_were(tmp_path):
    r = run("""
import signal
from planner.errors import cleaned_on_termination
mine = lambda s, f: None
signal.signal(signal.SIGHUP, mine)
with cleaned_on_termination():
    during = (signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, signal.getsignal(signal.SIGHUP) is mine)
print(during, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGHUP) is mine)
""", tmp_path)
    assert r.stdout == "(True, True) True True\n", r.stderr


def test_a_kill_during_a_cbc_solve_removes_cbcs_files(tmp_path):
    """CBC's NAME-pulp.mps and .sol go in a directory of the solve's own, removed however it ends."""
    r = run(f"""
import os, signal, time
from planner.plan.solver import _own_temporary_directory
class Solver:
    tmpDir = {str(tmp_path)!r}
s = Solver()
with _own_temporary_directory(s):
    open(os.path.join(s.tmpDir, "x-pulp.mps"), "w").close()
    print(os.path.basename(os.path.dirname(s.tmpDir + "/")) != "", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
""", tmp_path)
    assert r.returncode == -signal.SIGTERM, r.stderr
    assert r.stdout == "True\n"
    assert list(tmp_path.iterdir()) == []
