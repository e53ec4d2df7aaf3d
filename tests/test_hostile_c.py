"""Hostile input and odd environments, a third round (2026-12-06): commands and options the first
two rounds covered thinly (sweep, whatif, export, simulate, eval, init, validate) in a regular and
a base install. Each case was found by trying it; each test fails without its fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

import cli
from tests.test_hostile import SMALL  # the small problem of the first round

ROOT = Path(__file__).resolve().parents[1]
CLI_PY = str(ROOT / "cli.py")


def run(*args, stdin: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args], input=stdin)
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def write(tmp_path: Path, data, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


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
