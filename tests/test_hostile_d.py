"""Hostile input, a fourth round (2026-12-06): the items the third round found and left unfixed.
Each case was reproduced first; each test fails without its fix."""

from __future__ import annotations

import json

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write


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
