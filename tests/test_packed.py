"""A colocated engine that takes whole prompts of several lengths (`physics.packed`): the formulas
by hand, the simulator's steps they stand for, and plans that hold in simulation where the chunk
queue of the mean prompt broke their TPOT."""

import math

import numpy as np
import pytest

from planner.input.problem import Problem
from planner.physics import packed
from planner.plan.solve import solve
from planner.report.json import plan_json
from planner.studies.simulate.planfile import plan_from_dict
from planner.studies.simulate.run import simulate


def test_one_length_keeps_the_chunk_queue_several_take_prompts_whole():
    assert not packed.packs_whole_prompts(1000.0, 1000.0)
    assert packed.packs_whole_prompts(8000.0, 870.4)
    assert not packed.packs_whole_prompts(0.0, 0.0)   # every prompt token cached: nothing to prefill


def test_prompt_mix_keeps_the_lengths_and_merges_a_trace_into_groups_at_their_mean():
    mix = packed.prompt_mix([(300.0, 150.0), (8000.0, 12.0)], 0.5)
    assert [x for row in mix for x in row] == pytest.approx([150.0, 300.0, 150 / 162, 4000.0, 8000.0, 12 / 162])
    many = [(float(v), 1.0) for v in range(100, 2100, 100)]          # 20 lengths, equally likely
    mix = packed.prompt_mix(many, 0.0)
    assert len(mix) == packed.MIX_POINTS
    assert sum(s for *_, s in mix) == pytest.approx(1.0)
    assert sum(u * s for u, _, s in mix) == pytest.approx(1050.0)    # the mean is kept
    assert [u for u, *_ in mix] == sorted(u for u, *_ in mix)


def test_lone_work_pays_each_prompt_its_own_steps_by_hand():
    """A step of n prompt tokens takes 1 + 0.01·n seconds, a decode-only step 1 s, the pass budget is
    100 tokens: a 300-token prompt takes three steps of 100 (3 × 1 s more), a 50-token one half a
    second; half of each: E[W] = 1.75 s, E[W²] = (9 + 0.25)/2 = 4.625 s²."""
    w1, w2 = packed.lone_work(lambda n, s: 1.0 + 0.01 * n, 1.0, ((300.0, 300.0, 0.5), (50.0, 50.0, 0.5)), 100.0)
    assert (w1, w2) == pytest.approx((1.75, 4.625))


def test_effective_work_fades_from_the_lone_work_to_the_increment_as_prompts_pack():
    assert packed.effective_work(10.0, 4.0, 1e-9) == pytest.approx(10.0)
    assert packed.effective_work(10.0, 4.0, 1.0) == pytest.approx(4.0 + 6.0 * (1 - math.exp(-1.0)))
    assert packed.effective_work(10.0, 4.0, 1e4) == pytest.approx(4.0, rel=1e-3)


def test_a_step_gets_no_prompt_as_a_gamma_of_the_step_times_says():
    """16 prompts/s over steps of mean 32.7 ms and variance 1,118 ms²: (1 + λV/t̄)^{−t̄²/V} =
    1.547^{−0.956} = 0.659, so 34 % of the steps carry a prompt (the simulation of that DeepSeek-V3
    pool: 35 %), where e^{−λt̄} = 0.593 says 41 %; steps of one length, e^{−λt̄} exactly."""
    q = packed._no_arrival(np.array([0.016, 0.016]), np.array([32.7, 32.7]), np.array([1118.0, 0.0]))
    assert q.tolist() == pytest.approx([(1 + 0.016 * 1118 / 32.7) ** (-32.7**2 / 1118), math.exp(-0.016 * 32.7)])
    assert 1 - q[0] == pytest.approx(0.341, abs=0.001)


def test_effective_work_of_varying_steps_is_a_fixed_point_of_the_arrival_chance():
    """Given the decode step and the work's spread, the work a prompt adds is the fixed point of
    (1 − q)·(lone − inc)/π + inc with q from the steps' own spread: more than the increment, less
    than with steps of one length (longer steps gather the arrivals: more prompts share a step)."""
    one_length = packed.effective_work(40.0, 15.0, 0.6)
    varying = packed.effective_work(40.0, 15.0, 0.6, 17.0, 1.8)
    assert 15.0 < varying < one_length
    w, lam, phi, var, t_bar = packed._fixed_point(np.array(17.0), np.array(40.0), np.array(15.0), np.array(1.8),
                                                  np.array(0.6))
    q = packed._no_arrival(lam, t_bar, var)
    assert w == pytest.approx(15.0 + 25.0 * (1 - q) / 0.6, rel=1e-3)      # converged within its rounds
    assert t_bar == pytest.approx(17.0 + 0.6 * w) and lam == pytest.approx(0.6 / t_bar)


def test_seen_share_and_first_token_wait_by_hand():
    """Half the steps carry one prompt (k = 1), 30 ms against 10 ms without, every prompt's work
    20 ms alone and as an increment, E[W²] = E[W]²: t̄ = 20 ms, π = 0.5 prompts a step, λ = 0.025
    per ms, φ' = 0.025·20 = 0.5, V = 0.5·20²/(1 − 0.25) = 266.7 ms², the step a prompt arrives in
    t̄ + V/t̄ = 33.33 ms, its own step 10 + 20 + 0.025·33.33·20 = 46.67 ms (δ = 26.67 above t̄); a
    request of 9 decode steps sees t̄ + δ·0.5·(1 − 0.5⁹)/(9·0.5) = 22.957 ms, a share
    (22.957 − 10)/20 = 0.6479 of a chunk step. Its prompt waits 33.33/2 + 0.025·33.33·20 = 33.33 ms
    beyond its own work and a decode step. A long life sees nearly t̄ (share → f = 0.5)."""
    g = 0.5 * (1 - 0.5**9) / (9 * 0.5)
    seen = 20.0 + (10.0 + 20.0 + 0.025 * (20.0 + 0.5 * 400.0 / 0.75 / 20.0) * 20.0 - 20.0) * g
    assert seen == pytest.approx(22.957, abs=1e-3)
    share = packed.seen_share(0.5, 0.030, 0.010, 1.0, 1.0, ((9.0, 1.0),), 1.0, 0.020, 0.020)
    assert share == pytest.approx((seen - 10.0) / 20.0, rel=1e-9)
    long_life = packed.seen_share(0.5, 0.030, 0.010, 1.0, 1.0, ((1e6, 1.0),), 1.0, 0.020, 0.020)
    assert long_life == pytest.approx(0.5, abs=1e-4)
    assert packed.first_token_wait(0.020, 0.010, 0.020, 0.020, 1.0, 0.5) == pytest.approx(0.03333, abs=1e-5)
    arrays = packed.seen_share(np.array([0.5, 0.5]), 0.030, 0.010, 1.0, 1.0, ((9.0, 1.0),), 1.0, 0.020, 0.020)
    assert arrays.tolist() == pytest.approx([share, share])


def test_token_lives_weigh_each_answer_by_its_tokens():
    lives = packed.token_lives(((9.0, 0.5), (99.0, 0.5)))
    assert [x for row in lives for x in row] == pytest.approx([9.0, 9 / 108, 99.0, 99 / 108])


def _short_and_long(tpot: str) -> Problem:
    return Problem.model_validate({
        "name": "short-and-long", "model": "llama-3.1-8b", "gpus": ["h100"],
        "workload": {"qps": 162, "input_tokens": {"values": [8000, 300], "weights": [12, 150]},
                     "output_tokens": {"values": [200, 10], "weights": [12, 150]}},
        "slo": {"ttft": "400ms", "tpot": tpot}, "serving": {"modes": ["colocated"]}})


def test_a_colocated_plan_of_short_and_long_prompts_holds_in_simulation():
    """Llama-3.1-8B on H100 at 162 req/s of 300-token prompts with 10-token answers and 8,000-token
    ones with 200-token answers (150:12), colocated, mean TPOT ≤ 25 ms. The chunk queue of the mean
    prompt (870 tokens) planned six instances at 21.2 ms where they simulated 31.8 ms: a short
    answer decodes right after a step that carried the prompts arriving with its own, and a long
    prompt's step begets long steps. Taken whole (`physics.packed`), the plan is eight instances in
    the same one node (97.20 RMB/h; nine in two nodes, 194.40, while the colocated batch grid had
    only 8 and 12 sequences, which straddle the limit), its mean TPOT and TTFT agree with the
    simulation within 6 % and 12 % (17.0 and 151.8 ms planned, 17.1 and 147.6 simulated) and its
    SLOs hold there."""
    problem = _short_and_long("25ms")
    d = plan_json(solve(problem, "short-and-long"))
    assert d["cost_per_hour"] == pytest.approx(97.20) and d["pools"][0]["instances"] == 8
    sim = simulate(plan_from_dict(d, "short-and-long"), requests=20_000, seed=0)
    assert sim.passed, sim.violations
    for planned, simulated in zip(d["pools"], sim.pools):
        assert planned["engine_chunk_tokens"] == 16384.0
        assert simulated.tpot.mean == pytest.approx(planned["tpot_mean_s"], rel=0.06)
        assert simulated.ttft.mean == pytest.approx(planned["ttft_s"], rel=0.12)


def test_the_pass_budget_holds_back_a_bursts_tail_and_no_budget_changes_nothing():
    """The steps of an engine taking whole prompts vary as an autoregression whose bursts the pass
    budget cuts: a step takes at most the budget's prompts and leaves the rest to the next. The
    simulator's steps of Llama-3.1-8B on MI300X TP2 at 2,000/6,000-token prompts (1:1), 20 prompts
    a second per instance, a 16,384-token budget (a step's prompt work at most 158 ms): mean step
    24.9 ms, 5.75 ms without prompts, lag-1 autocorrelation 0.79, V/t̄ 63.0–64.1 ms over two seeds
    of 4·10⁴ requests (84–86 ms with the budget lifted). Uncapped the autoregression reads 97.8 ms;
    capped, within 15 % of the simulation. Without a cap (or one far above the bursts) the
    variance is the uncapped one, and a tighter budget holds back more."""
    t_plain, t_bar, lam, phi, w, ratio = 5.75e-3, 24.9e-3, 20.0, 0.79, 38.5e-3, 1.24
    var = lam * t_bar * w**2 * ratio / (1.0 - phi**2)
    assert var / t_bar == pytest.approx(97.8e-3, rel=1e-3)

    def capped(cap):
        return float(packed.capped_variance(t_plain, t_bar, lam, phi, w, ratio, cap, var))
    assert capped(1e3) == pytest.approx(var, rel=1e-9)
    assert capped(0.1577) / t_bar == pytest.approx(63.5e-3, rel=0.15)
    assert capped(0.1) < capped(0.1577) < capped(0.3) < var
    arr = packed.capped_variance(np.full(3, t_plain), np.full(3, t_bar), lam, phi, w, ratio,
                                 np.array([0.1, 0.1577, 1e3]), np.full(3, var))
    assert arr.tolist() == pytest.approx([capped(0.1), capped(0.1577), var])
