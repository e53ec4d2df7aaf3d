"""Hostile input, fourteenth round (2026-12-07): Ctrl-C where it was not answered as Ctrl-C (while
plan starts, while PuLP is imported, during a CBC solve, while an export is written), a plan file's
pool role edited to a list, output names of 241-255 bytes, YAML files of several documents, and
--chart inside --export-dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


