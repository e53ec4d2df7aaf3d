"""Percentile TPOT (issue 21, item 6): the life-averaged decode batch, the chunk bursts of a
colocated engine, the candidates and verification sized by them, and the simulation."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from planner.input.load import load_any
from planner.physics import perf
from planner.physics.batch_spread import (
    batch_at_statistic,
    batch_seen,
    elasticity,
    feedback_gain,
    life_terms,
    life_variance_factor,
    mean_batch_within,
    tpot_offset,
    tpot_spread,
)
from planner.plan.solve import solve
from planner.report.json import plan_json, to_json
from planner.studies.simulate import plan_from_dict, simulate

ROOT = Path(__file__).resolve().parents[1]
SKEW99 = (2.3263478740408408**2 - 1) / 6   # the p99 quantile's Cornish–Fisher term of a Poisson count
Z99 = 2.3263478740408408


def _clean_json(plan):
    """The plan's JSON as a program reads it."""
    return json.loads(to_json(plan_json(plan)))


def _solved(tmp_path, text: str):
    """(plan, its JSON) of the problem `text`, written to a file in tmp_path."""
    p = tmp_path / "p.yaml"
    p.write_text(text)
    plan = solve(load_any(p), str(p))
    return plan, _clean_json(plan)


def test_life_variance_factor_closed_form_against_the_integral():
    """g(L) = (2/L²)∫₀ᴸ (L − u)ρ(u)du, ρ(u) = E[(S − u)⁺]/E[S], by quadrature."""
    life = [(99.0, 0.3), (399.0, 0.5), (1999.0, 0.2)]
    mean_s = sum(s * p for s, p in life)
    for steps in (50.0, 399.0, 3000.0):
        u = np.linspace(0.0, steps, 200_001)
        rho = sum(p * np.maximum(s - u, 0.0) for s, p in life) / mean_s
        y = (steps - u) * rho
        integral = float(np.sum((y[1:] + y[:-1]) * np.diff(u)) / 2.0)
        assert life_variance_factor(steps, life) == pytest.approx(2.0 * integral / steps ** 2, rel=1e-6)
    assert life_variance_factor(999.0, [(999.0, 1.0)]) == pytest.approx(2.0 / 3.0)
    # a short life sees the raw batch
    assert life_variance_factor(1.0, [(10_000.0, 1.0)]) == pytest.approx(1.0, abs=1e-3)


def test_spread_of_fixed_lengths_and_of_a_mixture():
    assert tpot_spread([(1001.0, 1.0)], "p99") == pytest.approx(Z99 * math.sqrt(2 / 3), rel=1e-6)
    assert tpot_spread([(1001.0, 1.0)], "mean") == 0.0
    assert tpot_spread([(1001.0, 1.0)], "p50") == 0.0   # p50 plans are the mean's, bit for bit
    # a mixture: ζ solves Σ w·Φ(ζ/√g) = q
    lengths = [(50.0, 0.5), (2000.0, 0.5)]
    z = tpot_spread(lengths, "p90")
    cdf = sum(w * 0.5 * (1 + math.erf(z / math.sqrt(g) / math.sqrt(2))) for _, w, g in life_terms(lengths))
    assert cdf == pytest.approx(0.90, abs=1e-9)
    # the same through tpot_offset with a unit batch term and no chunk term
    assert float(tpot_offset("p90", life_terms(lengths), 1.0)) == pytest.approx(z, rel=1e-5)
    # requests of one token have no TPOT and are not counted
    assert tpot_spread([(1.0, 0.5), (1001.0, 0.5)], "p99") == pytest.approx(tpot_spread([(1001.0, 1.0)], "p99"),
                                                                           rel=0.02)


def test_mean_batch_within_inverts_the_quantile_batch():
    for cap in (3.0, 100.0, 1065.0):
        m = mean_batch_within(cap, 1.9)
        assert batch_at_statistic(m, 1.9) == pytest.approx(cap)
    assert mean_batch_within(500.0, 0.0) == 500.0


def test_chunk_term_is_the_busy_period_variance():
    """A request's n decode steps of d seconds, lengthened by Poisson prompts of work E: the M/G/1
    busy period started by n·d, by Monte Carlo against d·λ·E[E²]/(1 − ρ)³ per step."""
    rng = np.random.default_rng(1)
    d, n, lam = 0.02, 300, 10.0
    work = np.array([0.0186, 0.0349, 0.0698])
    prob = np.array([0.3, 0.5, 0.2])
    rho = lam * float(work @ prob)
    times = []
    for _ in range(3000):
        t, left = 0.0, n * d
        while True:
            gap = rng.exponential(1 / lam)
            if gap >= left:
                times.append(t + left)
                break
            t, left = t + gap, left - gap + rng.choice(work, p=prob)
    times = np.array(times)
    assert times.mean() == pytest.approx(n * d / (1 - rho), rel=0.02)
    expected_var = n * d * lam * float(work ** 2 @ prob) / (1 - rho) ** 3
    assert times.var() == pytest.approx(expected_var, rel=0.15)


@pytest.fixture(scope="module")
def p99_plan():
    path = ROOT / "problems" / "deepseek_p99.yaml"
    return solve(load_any(path), str(path))


@pytest.fixture(scope="module")
def mean_plan():
    path = ROOT / "problems" / "deepseek_qps.yaml"
    return solve(load_any(path), str(path))


def _gain_by_hand(dep, m, zeta, ctx):
    """√(V(2(1 − ε))/((1 − ε)·V(2))), V(x) = 2/x²·(x − 1 + e^(−x)), ε the secant elasticity of TPOT
    between m and m + ζ√m (batch_spread.feedback_gain, written out)."""
    b0 = m + zeta * math.sqrt(m)
    t, t0 = perf.tpot(dep, m, ctx), perf.tpot(dep, b0, ctx)
    eps = min(m * (t0 - t) / ((b0 - m) * t), 0.95)

    def v(x):
        return 2 / x ** 2 * (x - 1 + math.exp(-x))
    return math.sqrt(v(2 * (1 - eps)) / ((1 - eps) * v(2)))


def test_feedback_gain_against_hand_values():
    """1 without feedback; 1.51 at ε 0.45, 2.20 at 0.7 (V(1.1) = 0.7155, V(0.6) = 0.8267,
    V(2) = 0.5677); held at ε = 0.95 above it; arrays elementwise."""
    assert feedback_gain(0.0) == 1.0
    assert feedback_gain(0.45) == pytest.approx(math.sqrt(0.7155 / (0.55 * 0.5677)), rel=1e-3)
    assert feedback_gain(0.7) == pytest.approx(math.sqrt(0.8267 / (0.3 * 0.5677)), rel=1e-3)
    assert feedback_gain(2.0) == feedback_gain(0.95) == pytest.approx(5.84, abs=0.01)
    assert list(feedback_gain(np.array([0.0, 0.45]))) == [1.0, feedback_gain(0.45)]
    # ε of a step linear in the batch, t = 1 + b/10: at m = 10, m·t′/t = 1/2
    assert elasticity(10.0, 2.0, 14.0, 2.4) == pytest.approx(0.5)


def test_decode_pools_run_at_the_mean_batch_whose_quantile_meets_the_limit(p99_plan):
    """Each decode candidate's design batch m is the largest whose statistic's request's batch
    1 + m + ζ·gain·√m + (z² − 1)/6 (itself beside the others' quantile; the gain of the step's
    feedback on the batch, by hand; a Poisson count's Cornish–Fisher skew at z = 2.326) stays
    within the largest whole batch B with TPOT(B) ≤ 50 ms, and the verified pools report the p99
    TPOT (the step at that batch of the pool's load) beside the mean."""
    zeta = Z99 * math.sqrt(2 / 3)
    res = p99_plan.resolved
    d = _clean_json(p99_plan)
    decodes = [p for p in d["pools"] if p["role"] == "decode"]
    assert decodes
    from planner.physics.perf import Parallelism
    from planner.plan.candidates import deployment
    ctx = 1000 + 500
    join = 1 + 0.5 / 999   # half a step to join the running batch, spread over 999 tokens (the mean)
    join_q = 1 + 0.99 / 999   # at p99: the wait's 99th percentile, 0.99 of a step (join_factor_at_statistic)
    limit = 0.050 / join_q   # the steps' own limit
    for p in decodes:
        par = Parallelism(tp=p["parallelism"]["tp"], pp=p["parallelism"]["pp"], dp=p["parallelism"]["dp"])
        dep = deployment(res, res.option(p["gpu"]), par)
        m = p["design_batch"]
        def stat_batch(b, dep=dep):
            return b + zeta * _gain_by_hand(dep, b, zeta, ctx) * math.sqrt(b)
        assert perf.tpot(dep, stat_batch(m) + 1 + SKEW99, ctx) <= limit
        # the statistic's batch is searched in whole sequences: m + 1 would need one beyond the last that meets it
        assert perf.tpot(dep, math.ceil(stat_batch(m + 1) + 1 + SKEW99), ctx) > limit or p["limited_by"] == "memory"
        assert stat_batch(m) > batch_at_statistic(m, zeta) + 1   # the feedback counts here
        assert p["batch_at_tpot_statistic"] == pytest.approx(stat_batch(p["batch"]) + 1 + SKEW99)
        assert p["tpot_s"] == pytest.approx(perf.tpot(dep, p["batch_at_tpot_statistic"], ctx) * join_q)
        assert p["tpot_mean_s"] == pytest.approx(perf.tpot(dep, batch_seen(p["batch"], p["slots"]), ctx) * join)
        assert p["tpot_mean_s"] < p["tpot_s"] <= 0.050 * (1 + 1e-9)


def test_p99_costs_more_and_its_simulated_p99_matches(p99_plan, mean_plan):
    """The p99 plan's decode instances hold fewer sequences per card than the mean plan's (1,282 on
    8 H200 cards in TP1·DP8, 160 a card, against 1,409, 176 a card, since 2026-12-05's refit; 1,243
    against 1,367 before it, since the step's feedback on the batch's spread, 2026-12-04's
    twenty-second session; before that 2,600 on 16 cards in TP1·DP8·PP2, 163 a card), which takes
    an eighth H200 node where the mean plan fills the remainder with a two-node H20 instance
    (decode TP8·PP2; colocated TP8·DP2 between the refit and the one-mode stage of 2026-12-05, decode
    TP1·DP8·PP2 before): 1,721.92 against 1,675.28 RMB/h at 200 req/s. Simulated (10⁵ requests), the
    p99 plan's decode pool's p99 TPOT is within 5 % of the plan's and under the limit (44.1 ms
    against 44.6 planned), while a pool of the mean plan is above it (its H20 pool 50.5 ms, its H200
    pool 49.7 ms; with the colocated H20 pool all of its requests' p99 was 52.0 ms)."""
    p99, mean = ({(p["gpu"], p["parallelism"]["label"]): p["design_batch"]
                  for p in _clean_json(plan)["pools"] if p["role"] == "decode"} for plan in (p99_plan, mean_plan))
    assert p99[("h200", "TP1·DP8")] == 1282 and mean[("h200", "TP1·DP8")] == 1409
    assert (p99_plan.cost_per_hour, mean_plan.cost_per_hour) == pytest.approx((1721.92, 1675.28))
    sim = simulate(plan_from_dict(_clean_json(p99_plan), "p99"), requests=100_000)
    base = simulate(plan_from_dict(_clean_json(mean_plan), "mean"), requests=100_000)
    assert max(pool.tpot.p99 for pool in base.pools if pool.role == "decode") > 0.050
    for pool in sim.pools:
        if pool.role == "decode":
            assert pool.tpot.p99 == pytest.approx(pool.analytic_tpot_s, rel=0.05)
            assert pool.tpot.p99 < min(base.tpot.p99, 0.050)


def test_mean_statistic_plans_unchanged(mean_plan):
    """With the mean (the default) nothing is spread: the statistic's batch is the batch a request
    sees (`batch_seen`: the time-average plus itself, at most the design batch) and the TPOT the
    mean TPOT."""
    for p in _clean_json(mean_plan)["pools"]:
        if p["role"] != "prefill":
            assert p["batch_at_tpot_statistic"] == batch_seen(p["batch"], p["design_batch"])
            assert p["tpot_s"] == p["tpot_mean_s"]


def test_colocated_p99_adds_the_chunk_bursts(tmp_path):
    """A colocated pool's p99 TPOT carries both terms: above the batch-only quantile, and within
    35 % of the simulation (docs/optimisation.md states the tolerance): four H100 TP2 instances,
    planned at 35.5 ms and simulated at 37.7 ms, the model optimistic (two TP4 instances at 34.5
    and 36.9 ms, of the same cost, before the chunk attention of 2026-12-04's prompt spread).
    (Under the profiles of 2026-12-03 the plan added an H20 TP4 pool: 25.3
    against 30.7 ms.)"""
    text = (ROOT / "problems" / "llama70b_chat.yaml").read_text().replace(
        "  tpot: 40ms\n", "  tpot: 40ms\n  tpot_statistic: p99\n")
    text += "serving:\n  modes: [colocated]\n" if "serving:" not in text else ""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    plan = solve(load_any(path), str(path))
    d = _clean_json(plan)
    pools = [p for p in d["pools"] if p["role"] == "colocated"]
    assert [(p["gpu"], p["parallelism"]["tp"], p["instances"]) for p in pools] == [("h100", 4, 2)]
    res = plan.resolved
    from planner.physics import colocated
    from planner.physics.perf import Parallelism
    from planner.plan.candidates import deployment
    from planner.plan.workload import workload_context
    w = workload_context(res)
    sim = {p.name: p for p in simulate(plan_from_dict(d, "p"), requests=60_000).pools}
    for pool in pools:
        dep = deployment(res, res.option(pool["gpu"]), Parallelism(tp=pool["parallelism"]["tp"]))
        per_token_prefill = pool["prefill_tokens_per_s"] / pool["instances"]
        t_step = pool["tpot_mean_s"]
        batch_only = colocated.colocated_step(dep, pool["batch_at_tpot_statistic"], w.ctx_decode, w.s_in, w.s_unc,
                                              per_token_prefill * t_step, float(w.pass_token_budget)).time_s
        assert pool["tpot_s"] > batch_only * 1.05
        assert sim[pool["name"]].tpot.p99 == pytest.approx(pool["tpot_s"], rel=0.35)
        assert sim[pool["name"]].tpot.p99 > pool["tpot_s"]      # the known side of the bias


@pytest.mark.parametrize("answer, stat", [("2", "p99"), ("2", "p90"), ("{values: [2, 150], weights: [1, 1]}", "p99")])
def test_short_answers_percentile_tpot_counts_the_wait_to_join(tmp_path, answer, stat):
    """A decode pool's request waits for the step in progress before its second token: half a step
    on average, up to a whole one. Over 999 later tokens that is nothing, but a 2-token answer's
    TPOT is that wait plus one step, so its p99 is two steps, where the plan's statistic carried
    the mean's 1.5 until 2026-12-04: Llama-3.1-70B at 2-token answers under a 30 ms p99 limit
    planned 26.3 ms, simulated 35.3 (SLO broken, verified). The statistic's join now comes from the
    quantile of the wait over the output lengths (`join_factor_at_statistic`): every decode pool's
    planned statistic within 3 % below and 12 % above its simulated one, and the SLO met. (Below:
    the join counts Poisson arrivals, and one prefill instance hands decode each pass's prompts
    together; at 2-token answers and p90 its TP4 pass, chosen at the same cost as two TP2 ones
    since decode steps hold whole sequences, puts the same decode pool's p90 at 21.9 ms simulated
    against 21.1 behind the two instances, 21.3 planned.)"""
    text = (ROOT / "problems" / "llama70b_chat.yaml").read_text()
    text = text.replace("output_tokens: 400", f"output_tokens: {answer}").replace(
        "tpot: 40ms", f"tpot: 30ms\n  tpot_statistic: {stat}")
    p = tmp_path / "short.yaml"
    p.write_text(text)
    plan = solve(load_any(p), str(p))
    d = _clean_json(plan)
    sim = simulate(plan_from_dict(d, "short"), requests=60_000, seed=0)
    decodes = [q for q in d["pools"] if q["role"] == "decode"]
    assert decodes
    for q in decodes:
        got = next(x for x in sim.pools if x.name == q["name"]).tpot.get(stat)
        assert got * 0.97 <= q["tpot_s"] <= got * 1.12
    assert sim.passed


def test_long_answers_p99_holds_with_the_steps_feedback(tmp_path, earlier_ties):
    """Llama-3.1-8B (FP8) at 8,000-token answers, 20 req/s, p99 TPOT ≤ 10 ms on H100: the steps of
    these decode pools grow with their batch (ε 0.5–0.7: KV reads of 4,500-token contexts), so
    the batch fluctuates more, and more slowly, than M/G/∞ in steps says. Without the feedback
    gain the verified plan (one TP1, one TP2, seven TP4, two TP8) simulated at 11.2–12.0 ms, its
    SLO broken; with it every decode pool's simulated p99 is under the limit and within 5 % of the
    plan's (twelve TP4 instances at 104 of their 106-sequence design batch, 9.83 ms planned, 9.86 ms
    simulated over 1.5·10⁵ requests; before 2026-12-05's refit thirteen at 87 sequences, 8.9 ms
    planned, 9.0 ms simulated over 5·10⁴. Full, the pools run within 2 % of the limit, and 5·10⁴
    requests read 10.002 ms ± 0.12 ms, a break within the simulation's noise (seeds 1 and 2:
    9.38 and 9.58 ms), so the run is 1.5·10⁵ requests; the plan of the same cost
    with the statistic's batch around the mean alone, without the request itself and the skew,
    mixed in three TP1 instances at 15 sequences that simulated 10 % over their 9.2 ms)."""
    _, d = _solved(tmp_path, "name: long-answers\nmodel: llama-3.1-8b\nprecision: {weights: fp8, kv: fp8}\n"
                             "workload: {qps: 20, input_tokens: 1000, output_tokens: 8000}\n"
                             "slo: {ttft: 2s, tpot: 10ms, tpot_statistic: p99}\ngpus: [h100]\n"
                             "serving: {modes: [disaggregated]}\n")
    decodes = [q for q in d["pools"] if q["role"] == "decode"]
    assert [(q["parallelism"]["label"], q["instances"]) for q in decodes] == [("TP4", 12)]
    sim = simulate(plan_from_dict(d, "long"), requests=150_000, seed=0)
    for q in decodes:
        got = next(x for x in sim.pools if x.name == q["name"]).tpot.p99
        assert got < 0.010 and got == pytest.approx(q["tpot_s"], rel=0.05)
    assert sim.passed


def test_a_colocated_pool_whose_short_answers_ride_chunk_steps_fails_its_p99(tmp_path):
    """Llama-3.1-70B at 10 req/s, half the answers 2 tokens, p99 TPOT ≤ 30 ms on H100 (a hunt of
    the twenty-second session's changes): a tie at 194.40 RMB/h picked a colocated TP2 pool beside
    the decode pool, planned at a p99 of 28.3 ms and simulated at 71.9 ms. A 2-token answer's TPOT
    is its one step, and about 3 % of its steps carry a 1,000-token chunk (the chunk queue busy
    after its own prompt), so more than 1 % of requests take a whole chunk step: the p99 is one.
    Verification now bounds the statistic below by that count (`short_answer_floor`), the pool
    fails TPOT, the lazy cut drops it, and the same cost buys a plan that holds in simulation."""
    plan, d = _solved(tmp_path, "name: c3\nmodel: llama-3.1-70b\nprecision: {weights: fp8, kv: fp8}\n"
                                "workload: {qps: 10, input_tokens: 1000, output_tokens: {values: [2, 2000], "
                                "weights: [0.5, 0.5]}}\nslo: {ttft: 5s, tpot: 30ms, tpot_statistic: p99}\n"
                                "gpus: [h100]\nserving: {modes: [disaggregated, colocated]}\n")
    assert plan.cost_per_hour == pytest.approx(194.40)
    assert all(q["role"] != "colocated" for q in d["pools"])
    sim = simulate(plan_from_dict(d, "c3"), requests=60_000, seed=0)
    assert sim.passed


def test_short_answer_floor_by_hand():
    """Half the requests of 2 tokens (one step) at a chunk share of 3 %: 1.5 % take the whole
    chunk step, so the p99 is plain + extra and the p90 is not bounded (1.5 % < 10 %); answers of
    4 tokens (3 steps) at 10 %: P(K ≥ 1) = 1 − 0.9³ = 27.1 % of half the requests, P(K ≥ 2) =
    2.8 %, so the p95 is plain + extra/3 (13.6 % > 5 % at one chunk, 1.4 % < 5 % at two)."""
    from planner.physics.batch_spread import short_answer_floor
    two = ((1.0, 0.5, 1.0), (999.0, 0.5, 0.67))
    assert short_answer_floor("p99", two, 0.02, 0.05, 0.03, 1.0) == pytest.approx(0.07)
    assert short_answer_floor("p90", two, 0.02, 0.05, 0.03, 1.0) == 0.0
    assert short_answer_floor("mean", two, 0.02, 0.05, 0.03, 1.0) == 0.0
    four = ((3.0, 0.5, 1.0), (999.0, 0.5, 0.67))
    assert short_answer_floor("p95", four, 0.02, 0.06, 0.10, 1.0) == pytest.approx(0.02 + 0.06 / 3)


def test_a_percentile_below_one_sequence_counts_the_request_itself(tmp_path):
    """Llama-3.1-8B on L40S TP1, 16k-token prompts, 500-token answers, p90 TPOT ≤ 36 ms: decode runs
    below a whole sequence. The statistic's batch was taken around the mean batch alone (m +
    ζ·gain·√m, at least m + 1), leaving the request out: planned 33.4 ms at a mean of 0.93, 38.1
    simulated, SLO broken (a hunt, twenty-third session). Around the batch a request sees, 1 + m +
    ζ·gain·√m, the plan holds in simulation within 5 % (48 TP1 instances at a mean of 0.64, 35.7 ms
    planned, 35.3 simulated). Since 2026-12-05 (pipeline stages hold one table each, the LM head on
    the last) the cheapest plan decodes on TP1·PP4 instances of three sequences, so the problem
    allows no pipeline stages (`pp: [1]`) to keep decode below a whole sequence."""
    plan, d = _solved(tmp_path, "name: s17\nmodel: llama-3.1-8b\nworkload: {qps: 2, input_tokens: 16000, "
                                "output_tokens: 500}\nslo: {ttft: 30s, tpot: 36ms, tpot_statistic: p90}\n"
                                "gpus: [l40s]\nserving: {modes: [disaggregated], parallelism: {tp: [1], pp: [1]}}\n")
    decodes = [p for p in d["pools"] if p["role"] == "decode"]
    assert decodes and all(p["batch"] < 1 and p["slots"] > 1 for p in decodes)
    for p in decodes:
        assert p["batch_at_tpot_statistic"] > 1 + p["batch"]   # itself beside the others' quantile
    res = simulate(plan_from_dict(d, "s17"), requests=30_000, seed=0)
    for p in decodes:
        sim = next(q for q in res.pools if q.name == p["name"])
        assert sim.tpot.p90 == pytest.approx(p["tpot_s"], rel=0.05)
    assert res.passed


def test_a_p99_counts_the_slot_wait_at_its_quantile(tmp_path):
    """Llama-3.1-8B on L40S at 110k-token prompts under a p99 TPOT of 70 ms. One-slot TP1 instances
    (the only layout allowed here) wait 11.8 s on average for the slot at a third of its time,
    spread over 999 tokens; that mean entered the p99, and a plan read 67 ms where its simulation
    measured 158 ms (exit 4 before: candidate and verification disagreed). At the wait's own 99th
    percentile (Erlang C's exponential conditional wait, `WorkloadContext.slot_tpot_at_statistic_s`)
    no one-slot instance meets the limit even at a 5 % occupancy: infeasible, saying why. With
    pipeline stages allowed, instances of 4 and 10 slots serve it and the plan verifies."""
    from click.testing import CliRunner

    from cli import main
    text = ("name: b9\nmodel: llama-3.1-8b\nworkload: {qps: 0.5, input_tokens: 110000, output_tokens: 1000}\n"
            "slo: {ttft: 60s, tpot: 70ms, tpot_statistic: p99}\ngpus: [l40s]\n"
            "serving: {modes: [disaggregated], parallelism: {tp: [1]%s}}\n")
    p = tmp_path / "one.yaml"
    p.write_text(text % ", pp: [1]")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 3, r.output
    assert "its memory holds 1 sequence of 111000 tokens: even at a 5 % occupancy the wait for a batch slot" \
        in r.output, r.output
    plan, d = _solved(tmp_path, text % "")
    assert plan.verification.passed
    decodes = [p for p in d["pools"] if p["role"] == "decode"]
    assert decodes and all(p["slots"] > 1 for p in decodes)


def test_the_slot_waits_quantile_by_hand():
    """M/D/1 at offered load a = 0.5, hold H = 1 s (a one-slot instance, 1,001-token answers at
    1 ms a token): the mean wait is a·H/(2(1 − a)) = 0.5 s; a request that finds the slot taken
    waits an exponential time of mean θ = H/(c − a) = 2 s, P(wait) = W/θ = 0.25, so the p99 wait
    is θ·ln(0.25/0.01) = 6.44 s, spread over 1,000 tokens; under a mean statistic the mean."""
    from planner.input.load import load_problem
    from planner.plan.resolve import resolve
    from planner.plan.workload import workload_context
    text = ("name: q\nmodel: llama-3.1-8b\nworkload: {qps: 1, input_tokens: 1000, output_tokens: 1001}\n"
            "slo: {ttft: 10s, tpot: 50ms, tpot_statistic: %s}\ngpus: [h100]\n")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = {}
        for stat in ("mean", "p99"):
            p = Path(d) / f"{stat}.yaml"
            p.write_text(text % stat)
            w = workload_context(resolve(load_problem(p), str(p)))
            out[stat] = float(w.slot_tpot_at_statistic_s(0.5, 1, 0.001))
    assert out["mean"] == pytest.approx(0.5 / 1000, rel=1e-9)
    assert out["p99"] == pytest.approx(2.0 * math.log(0.25 / 0.01) / 1000, rel=1e-9)


def test_colocated_percentile_tpot_over_an_answer_mixture_is_planned_after_more_cuts():
    """Llama-3.1-70B on H200, 6.68 req/s of 3,359-token prompts, answers of 9 or 237 tokens, p90 TPOT
    50 ms, colocated only: each plan's colocated pool routed below its design load read 53–94 ms, and
    after four cuts the solve ended in exit 4 (a hunt comparing plans with the simulator). Within
    eight it finds a plan that passes its verification."""
    from planner.input.problem import Problem
    p = Problem.model_validate({
        "name": "e", "model": "llama-3.1-70b", "slo": {"ttft": "1s", "tpot": "50ms", "tpot_statistic": "p90"},
        "workload": {"qps": 6.68, "input_tokens": 3359, "output_tokens": {"values": [9, 237], "weights": [0.71, 0.91]}},
        "gpus": ["h200"], "serving": {"modes": ["colocated"]}})
    plan = solve(p, "e.yaml")
    assert plan.verification.passed and all(st.candidate.role == "colocated" for st in plan.verification.pools)
    assert all(st.tpot_s <= 0.05 for st in plan.verification.pools)
