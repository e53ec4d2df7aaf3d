"""The golden-output cases: every command's text and JSON on the example files.

A case runs one `plan` command in-process (click's runner, working directory = repository root)
and keeps its standard output, plus any files it writes into its `--out` directory, byte for byte
under `tests/golden/<command>/`. `tests/test_golden.py` compares; regenerate on purpose with

    python -m tests.golden.regen

and commit the changed files with a message that says why the numbers moved.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
# a load profile or trace (docs/horizon.md): solve text and JSON only
HORIZON = {"deepseek_day", "deepseek_trace", "fleet_day"}
# one as slow as N+1 over a day (≈ 45 s a solve): solve text only
HORIZON_TEXT_ONLY = {"deepseek_day_n1"}
PROBLEMS = sorted(p.name.removesuffix(".yaml") for p in (ROOT / "problems").glob("*.yaml")
                  if p.stem not in HORIZON | HORIZON_TEXT_ONLY)
SINGLE = [p for p in PROBLEMS if p != "fleet_mix"]
SCENARIOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "problems" / "whatif").glob("*.yaml"))
OUT = "{out}"  # replaced by a fresh temporary directory when the case runs


@dataclass(frozen=True)
class Case:
    """One command; `stdout` is kept as `<name>`, each of `files` (written into OUT) beside it."""

    name: str                 # path under tests/golden/ of the stdout file, e.g. solve/x.txt
    argv: tuple[str, ...]
    exit_code: int = 0
    files: tuple[str, ...] = ()

    def file_golden(self, f: str) -> Path:
        stem = self.name.rsplit(".", 1)[0]
        return GOLDEN / f"{stem}.{f}"


def _cases() -> list[Case]:
    cases: list[Case] = []
    for p in PROBLEMS:
        src = f"problems/{p}.yaml"
        cases.append(Case(f"solve/{p}.txt", ("solve", src)))
        cases.append(Case(f"solve/{p}.json", ("solve", src, "--json")))
    for p in sorted(HORIZON):
        cases.append(Case(f"solve/{p}.txt", ("solve", f"problems/{p}.yaml")))
        cases.append(Case(f"solve/{p}.json", ("solve", f"problems/{p}.yaml", "--json")))
    for p in sorted(HORIZON_TEXT_ONLY):
        cases.append(Case(f"solve/{p}.txt", ("solve", f"problems/{p}.yaml")))
    cases.append(Case("solve/deepseek_qps.checks.txt", ("solve", "problems/deepseek_qps.yaml", "--checks")))
    cases.append(Case("solve/llama70b_chat.simulate.txt",
                      ("solve", "problems/llama70b_chat.yaml", "--simulate")))
    # plan simulate reads the golden plan files themselves: the JSON contract round trip
    for p in SINGLE:
        plan = f"tests/golden/solve/{p}.json"
        cases.append(Case(f"simulate/{p}.txt", ("simulate", plan, "--requests", "50000")))
    cases.append(Case("simulate/deepseek_qps.json",
                      ("simulate", "tests/golden/solve/deepseek_qps.json", "--requests", "50000", "--json")))
    ev = ("eval", "--model", "deepseek-v3", "--gpu", "h200", "--batch", "64")
    cases += [
        Case("eval/deepseek_h200_b64.txt", ev),
        Case("eval/deepseek_h200_b64.json", (*ev, "--json")),
        Case("eval/deepseek_h100_dp8_pp2.txt",
             ("eval", "--model", "deepseek-r1", "--gpu", "h100", "--cards", "16", "--tp", "1",
              "--dp", "8", "--pp", "2", "--batch", "256", "--input-len", "4000", "--prefix-hit", "0.5")),
        Case("eval/llama70b_h100_curve.txt",
             ("eval", "--model", "llama-3.1-70b", "--gpu", "h100", "--cards", "4", "--weights", "fp8",
              "--sweep-batch")),
        Case("eval/qwen3_h20_trtllm.json",
             ("eval", "--model", "qwen3-235b-a22b", "--gpu", "h20", "--batch", "32",
              "--calibration", "trtllm", "--json")),
    ]
    wi = ("whatif", "problems/deepseek_qps.yaml", *SCENARIOS)
    cases += [
        Case("whatif/deepseek_all.txt", wi),
        Case("whatif/deepseek_all.json", (*wi, "--json")),
        Case("whatif/llama70b_breakeven.txt",
             ("whatif", "problems/llama70b_chat.yaml", "problems/whatif/h200_minus_20.yaml",
              "--breakeven", "--csv", f"{OUT}/whatif.csv"), files=("whatif.csv",)),
    ]
    sweep_files = ("frontier.csv", "frontier.json")
    cases += [
        Case("sweep/deepseek_tpot.txt",
             ("sweep", "problems/deepseek_qps.yaml", "--tpot", "30ms:80ms", "--points", "3",
              "--workers", "1", "--out", OUT), files=sweep_files),
        Case("sweep/llama70b_qps.txt",
             ("sweep", "problems/llama70b_chat.yaml", "--qps", "5,20", "--no-per-gpu",
              "--workers", "1", "--out", OUT), files=sweep_files),
    ]
    return cases


CASES = _cases()


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    files: dict[str, bytes]


def run(case: Case) -> Outcome:
    """Run one case from the repository root; returns its stdout and the files it wrote."""
    from cli import main

    tmp = tempfile.mkdtemp(prefix="golden-")
    try:
        argv = [a.replace(OUT, tmp) for a in case.argv]
        runner = CliRunner()
        cwd = Path.cwd()
        import os
        os.chdir(ROOT)
        try:
            res = runner.invoke(main, argv, catch_exceptions=False)
        finally:
            os.chdir(cwd)
        files = {f: (Path(tmp) / f).read_bytes() for f in case.files if (Path(tmp) / f).exists()}
        return Outcome(res.exit_code, res.stdout, res.stderr, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
