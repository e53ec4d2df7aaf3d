"""Simulating a fleet over a day whose class reads a trace (`planner.studies.simulate.fleet_day`).

Oracles: 'peak' simulates a class whose lengths at the fleet's busiest period are not the file's in
its own busiest period (where they are), so `plan solve --simulate` keeps the plan; --period all
and --period N simulate what the file describes and name the rest; every statistic is met on this
lightly loaded day."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[1]
FLEET = """name: fleet-tr
classes:
  - name: chat
    model: llama-3.1-8b
    workload:
      trace: {file: chat_day_sample.csv, period: 1h, scale: 40}
    slo: {ttft: 1s, tpot: 40ms}
  - name: batch
    model: llama-3.1-8b
    workload:
      qps: 20
      input_tokens: 4000
      output_tokens: 300
      profile:
        qps_fraction: [1.00, 1.00, 1.00, 1.00, 1.00, 1.00, 0.80, 0.40, 0.20, 0.10, 0.10, 0.10,
                       0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.20, 0.40, 0.70, 0.90]
    slo: {ttft: 10s, tpot: 100ms}
gpus: [h100, l40s]
solver: {time_limit: 60s}
"""


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """`plan solve --simulate` of the fleet (a hunt, 2026-12-07: exit 2 and no plan written, as the
    fleet's busiest period, 0, is not chat's, 21, whose lengths the file holds)."""
    d = tmp_path_factory.mktemp("ft")
    shutil.copy(ROOT / "problems" / "traces" / "chat_day_sample.csv", d / "chat_day_sample.csv")
    (d / "f.yaml").write_text(FLEET)
    r = CliRunner().invoke(cli.main, ["solve", str(d / "f.yaml"), "--simulate", "--json", "--out", str(d / "p.json")])
    assert r.exit_code == 0, r.output
    return d / "p.json", json.loads(r.stdout)


def test_peak_simulates_a_class_of_other_lengths_in_its_own_busiest_period(solved):
    """The fleet's busiest period is 0 (batch's); chat's lengths there are the trace's hour's, not
    the file's, so chat is simulated in its own busiest period, 21."""
    path, out = solved
    d = json.loads(path.read_text())
    busiest = {k: max(range(24), key=lambda i, k=k: next(c["qps"] for c in d["periods"][i]["classes"]
                                                         if c["name"] == k)) for k in ("chat", "batch")}
    assert busiest == {"chat": 21, "batch": 0}
    assert sorted(out["simulation"]) == ["period 0: batch", "period 21: chat"]
    assert all(s["passed"] and not s["violations"] for s in out["simulation"].values())


def test_all_and_one_period_simulate_what_the_file_describes_and_name_the_rest(solved):
    path, _ = solved
    r = CliRunner().invoke(cli.main, ["simulate", str(path), "--period", "3", "--requests", "20000", "--json"])
    assert r.exit_code == 0 and "chat in period 3: lengths of their own" in r.output, r.output
    assert sorted(json.loads(r.stdout)) == ["period 3: batch"]
    r = CliRunner().invoke(cli.main, ["simulate", str(path), "--period", "all", "--requests", "20000", "--json"])
    assert r.exit_code == 0, r.output
    got = sorted(json.loads(r.stdout))
    assert "period 21: chat" in got and "period 0: batch" in got and "period 3: chat" not in got
