"""Prompts of unequal length in a prefill pass: attention is quadratic in each prompt's own
length, so a pass of prompts of mean s̄ and squared coefficient of variation cv² computes
(1 + cv²) times the attention pairs of s̄-token prompts (`perf.prefill_pass(length_cv2=…)`), and the
simulator's batching server takes a pass as the mean of its prompts' tabulated passes (Σsᵢ², not
k·s̄²). Until 2026-12-03 both used the mean length alone: a Llama-3.1-70B service whose prompts
are 800 or 6,000 tokens (cv² = 1.2) was planned at 927 ms mean TTFT on four 1-card H100 prefill
instances, 73 % busy, and simulated at 1.27 s, 78 % busy, over its 1 s limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.input.load import load_problem
from planner.physics import batched, perf
from planner.plan.solve import solve
from planner.report.json import plan_json
from planner.studies.simulate import batched_server, plan_from_dict, simulate
from tests.conftest import make_dep

VALUES, WEIGHTS = np.array([800.0, 6000.0]), np.array([10.0, 3.0]) / 13.0
MEAN = float(VALUES @ WEIGHTS)
CV2 = float(((VALUES - MEAN) ** 2) @ WEIGHTS) / MEAN**2


def test_spread_prompts_cost_the_mean_of_their_passes(roofline):
    """One prompt per pass of a dense model on one H100 (compute-bound, roofline profile): the
    pass at the mean length with the spread's (1 + cv²) attention is the mean of the passes at the
    two lengths within 1 % (the pass is linear plus quadratic in the length); the mean length
    alone is 4 % short (146 against 152 ms). The numpy path gives the same floats."""
    dep = make_dep("llama-3.1-70b", "h100", roofline, weights="fp8", kv="fp8")
    each = float(WEIGHTS @ np.array([perf.prefill_pass(dep, 1, v).time_s for v in VALUES]))
    spread = perf.prefill_pass(dep, 1, MEAN, 0.0, CV2).time_s
    assert CV2 == pytest.approx(1.2, rel=0.01)
    assert spread == pytest.approx(each, rel=0.01)
    assert perf.prefill_pass(dep, 1, MEAN).time_s == pytest.approx(0.958 * each, rel=0.005)
    arr = batched.prefill_passes(dep, np.array([1.0, 4.0]), MEAN, 0.0, CV2).time_s
    assert arr.tolist() == [perf.prefill_pass(dep, k, MEAN, 0.0, CV2).time_s for k in (1, 4)]


def test_the_batching_server_adds_each_prompts_pass():
    """Two prompts of 1 and 3 tokens arriving together, a pass of k prompts of s tokens k·s²
    seconds: per prompt the pass is (2·1 + 2·9)/2 = 10 s, at the mean length 2·2² = 8 s."""
    _, done, _ = batched_server([0.0, 0.0], [1.0, 3.0], 2, 1, lambda k, s: k * np.asarray(s) ** 2, per_prompt=True)
    assert done.tolist() == [10.0, 10.0]
    _, done, _ = batched_server([0.0, 0.0], [1.0, 3.0], 2, 1, lambda k, s: k * s**2)
    assert done.tolist() == [8.0, 8.0]


def test_a_bimodal_prompt_mix_meets_its_ttft_in_simulation(tmp_path: Path):
    """The 800 / 6,000-token Llama-3.1-70B service of the module docstring: planned and simulated
    mean TTFT of each prefill pool within 10 %, busy share within three points, and the simulation
    meets the 1 s limit (4·10⁴ requests). Profiles of 2026-12-04: one H100 node (97.20 RMB/h), two
    TP2 B8 prefill instances planned at 802 ms, simulated 755 ms (6 % above), busy share 81.7 %
    planned, 80.0 % simulated, and one TP4 decode instance. With those of 2026-12-03 it took two
    nodes (194.40 RMB/h: TP1 B2 and TP2 B4 pools planned 7 and 4 % above the simulation); with the
    mean length alone, before them, one node of four TP1 instances, too few (1.27 s simulated)."""
    prob = tmp_path / "mix.yaml"
    prob.write_text("name: mix\nmodel: llama-3.1-70b\nprecision: {weights: fp8, kv: fp8}\n"
                    "workload:\n  qps: 13\n  input_tokens: {values: [800, 6000], weights: [10, 3]}\n"
                    "  output_tokens: 300\nslo: {ttft: 1s, tpot: 40ms}\ngpus: [h100]\n"
                    "serving: {modes: [disaggregated]}\n")
    d = plan_json(solve(load_problem(prob), str(prob)))
    assert d["cost_per_hour"] == pytest.approx(97.20)
    res = simulate(plan_from_dict(d, "mix"), requests=40_000, seed=0)
    pools = [(p, s) for p, s in zip(d["pools"], res.pools) if p["role"] == "prefill"]
    assert pools
    for p, s in pools:
        assert s.ttft.mean == pytest.approx(p["ttft_s"], rel=0.10)
        assert s.utilization == pytest.approx(s.analytic_utilization, abs=0.03)   # busy share, planned
    assert res.ttft.mean <= 1.0 and res.passed
