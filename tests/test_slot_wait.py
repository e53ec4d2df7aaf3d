"""The wait for a batch slot (`queueing.slot_wait_s`) and where plans charge it.

Why it exists: an engine runs at most as many sequences as its KV memory admits (vLLM
`max_num_seqs`, SGLang `max_running_requests`); a request holds its slot for its whole output.
A pool planned at a mean batch equal to those slots is a queue at utilisation 1: the H20 TP8
colocated unit of docs/studies.md (17 slots, planned at a mean batch of 17) simulated with a
wait that grew through the run. Colocated pools now charge the wait to TTFT (a prompt takes its
slot before its first chunk), decode pools to TPOT (the wait before the second token, as the
simulator measures TPOT after the first).
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path

import numpy as np
import pytest

from planner.input.load import load_problem
from planner.physics import perf
from planner.physics.batch_spread import batch_seen
from planner.physics.prefill_queue import Servers
from planner.physics.queueing import slot_wait_s
from planner.plan.candidate import deployment
from planner.plan.solve import solve
from planner.plan.workload import workload_context, worst_ttft
from planner.report.json import plan_json
from planner.studies.simulate import plan_from_dict, simulate

ROOT = Path(__file__).resolve().parent.parent


def _event_wait(offered: float, slots: int, fixed_hold: bool, n: int = 200_000, seed: int = 3) -> float:
    """Mean wait of an M/D/c or M/M/c queue (hold 1), simulated request by request."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / offered, n))
    hold = np.ones(n) if fixed_hold else rng.exponential(1.0, n)
    free = [0.0] * slots
    wait = np.empty(n)
    for i, t in enumerate(arrivals.tolist()):
        start = max(t, heapq.heappop(free))
        wait[i] = start - t
        heapq.heappush(free, start + hold[i])
    return float(wait[n // 10:].mean())


def test_erlang_c_by_hand():
    """M/M/2 at a = 1: B(2, 1) = 1/5, C = 2·(1/5)/(2 − 1·(4/5)) = 1/3, W = C/(c − a) = 1/3.
    M/M/1 at a = 0.5: W = ρ/(1 − ρ) = 1. Lee–Longton at cv² = 3 doubles M/M/c."""
    assert slot_wait_s(1.0, 2, 1.0, 1.0) == pytest.approx(1 / 3, rel=1e-12)
    assert slot_wait_s(0.5, 1, 1.0, 1.0) == pytest.approx(1.0, rel=1e-12)
    assert slot_wait_s(0.5, 1, 2.0, 3.0) == pytest.approx(4.0, rel=1e-12)


def test_one_queue_is_the_float_loop_and_the_array_one():
    """One queue's wait (the batch search's: its Erlang B sum a float loop, or for long sums the
    same cumulative product and sum in numpy, memoised) is element by element the arrays' wait,
    whose Erlang B is the float loop of its terms."""
    from planner.physics.queueing import erlang_b

    def loop(a, c, terms):
        total, term = 0.0, 1.0
        for i in range(terms):
            term *= (c - i) / a
            total += term
        return 1.0 / (1.0 + total)

    for a, c in ((12.0, 17.0), (95.5, 110.0), (700.0, 760.0), (3000.0, 3100.0), (40_000.0, 40_500.0)):
        for a_ in (a, a * 0.97, a * 1.01):
            terms = int(min(c, math.ceil(max(c - a_, 0.0) + 9.0 * math.sqrt(a_) + 10.0)))
            assert erlang_b([a_], [c])[0] == loop(a_, c, terms)
            for _ in range(2):   # computed, then remembered
                assert slot_wait_s(a_, c, 2.0, 0.5) == slot_wait_s(np.array([a_]), np.array([c]), 2.0, 0.5)[0]


def test_fixed_holds_by_hand():
    """M/D/1 at ρ = 0.5: the Cosmetatos factor is 1 (c − 1 = 0), so W = W_M/2 = 0.5 — the exact
    Pollaczek–Khinchine value ρ·D/(2(1 − ρ))."""
    assert slot_wait_s(0.5, 1, 1.0, 0.0) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("offered,slots", [(12.0, 17), (3.0, 4), (65.0, 70)])
def test_against_an_event_simulation(offered, slots):
    """Fixed and exponential holds, within 10 % of a request-by-request simulation."""
    for fixed in (True, False):
        want = _event_wait(offered, slots, fixed)
        got = slot_wait_s(offered, slots, 1.0, 0.0 if fixed else 1.0)
        assert got == pytest.approx(want, rel=0.10), (offered, slots, fixed)


def test_fractional_slots_are_whole_slots():
    """2.5 slots are 2: at 2.3 Erlangs the queue is unstable. The scalar path floored the slots
    after its stability test and returned a negative wait (−4.10)."""
    assert math.isinf(slot_wait_s(2.3, 2.5, 1.0, 1.0))
    assert math.isinf(slot_wait_s(np.array([2.3]), np.array([2.5]), 1.0, 1.0)[0])
    assert math.isinf(slot_wait_s(2.3, 2.5, 1.0, 1.0, 1.5))
    assert slot_wait_s(1.0, 2.5, 1.0, 1.0) == pytest.approx(1 / 3, rel=1e-12)   # M/M/2 at a = 1


def test_unstable_and_far_from_full():
    assert math.isinf(slot_wait_s(17.0, 17, 1.0))
    assert slot_wait_s(10.0, 200, 1.0) == 0.0
    got = slot_wait_s(np.array([1.0, 17.0, 10.0]), np.array([2, 17, 200]), 1.0, 1.0)
    assert got[0] == pytest.approx(1 / 3) and math.isinf(got[1]) and got[2] == 0.0


def _state_chain_wait(a: float, c: int, hold: float, a_full: float, top: int = 4000) -> float:
    """Mean wait of the birth–death chain summed state by state (the definition
    `queueing.state_dependent_wait_mm` sums in closed form): arrivals at λ = a/hold, in state n a
    load a_n = a + s·(n − a) (departures n·λ/a_n), constant a_full above c."""
    lam, s = a / hold, (a_full - a) / (c - a)
    p = [1.0]
    for n in range(1, top):
        a_n = max(a + s * (min(n, c) - a), 0.1 * a)
        p.append(p[-1] * a_n / min(n, c))
    p = np.array(p) / sum(p)
    return float(sum((n - c) * p[n] for n in range(c + 1, top)) / lam)


def test_the_state_dependent_chain_by_hand():
    """With a constant hold the chain is Erlang C; with a hold that grows as the slots fill it is
    the chain summed state by state, and longer than Erlang C."""
    from planner.physics.queueing import state_dependent_wait_mm
    assert state_dependent_wait_mm(1.0, 2.0, 1.0, 1.0) == pytest.approx(1 / 3, rel=1e-12)
    assert state_dependent_wait_mm(12.0, 17.0, 18.5, 12.0) == pytest.approx(slot_wait_s(12.0, 17, 18.5, 1.0), rel=1e-12)
    for a, c, full in ((11.8, 17, 13.8), (3.0, 4, 3.3), (60.0, 70, 66.0)):
        got = state_dependent_wait_mm(a, float(c), 2.0, full)
        assert got == pytest.approx(_state_chain_wait(a, c, 2.0, full), rel=1e-9)
        assert got > state_dependent_wait_mm(a, float(c), 2.0, a)
    # the M/D correction and the unstable side as for a constant hold
    assert slot_wait_s(12.0, 17, 18.5, 0.0, 18.5) == pytest.approx(slot_wait_s(12.0, 17, 18.5, 0.0), rel=1e-9)
    assert math.isinf(slot_wait_s(12.0, 17, 1.0, 0.0, 17.0 / 12.0 + 1e-9))   # when full, leaves slower than it comes
    assert slot_wait_s(10.0, 200, 1.0, 0.0, 1.5) == 0.0                        # far from full
    arr = slot_wait_s(np.array([11.8, 3.0]), np.array([17, 4]), 18.5, 0.0, np.array([21.6, 20.0]))
    assert arr[0] == slot_wait_s(11.8, 17, 18.5, 0.0, 21.6) and arr[1] == slot_wait_s(3.0, 4, 18.5, 0.0, 20.0)


def _h20_colocated_at(tmp_path, qps: float) -> Path:
    """The seed problem served colocated only on H20 cards at `qps` req/s."""
    text = (ROOT / "problems" / "deepseek_qps.yaml").read_text()
    text = text.replace("modes: [disaggregated, colocated]", "modes: [colocated]").replace("qps: 200", f"qps: {qps}")
    lines = text.splitlines(keepends=True)
    i = lines.index("  - id: h200\n")
    del lines[i:i + 2]
    text = "".join(lines).replace("  - h800\n", "").replace("  - h100\n", "")
    p = tmp_path / f"h20_{qps}.yaml"
    p.write_text(text)
    return p


def test_colocated_pool_keeps_headroom_in_its_slots_and_charges_the_wait_to_ttft(tmp_path):
    """The seed problem colocated on H20 cards at 0.7 req/s: one H20 TP8 unit, whose memory holds
    17 sequences, at a mean batch of 12.7 (12.4 before 2026-12-05's refit; 11.8 before a request
    saw itself in the batch, m + 1, twenty-fourth session). Its TTFT is the chunk queue's plus the
    slot wait computed here from the pool's own numbers: M/D/c (fixed lengths) whose hold grows
    from the hold at the batch a request sees to the hold at 17 sequences, as an engine's steps
    slow while it is full (1.11 s; 0.93 s before the refit). The simulator, where a prompt waits for
    its slot before its first chunk, measures 1.44 s TTFT against 1.52 s planned (1.29 s against
    1.35 s before the refit; 1.30 s against 1.29 s planned at 11.8, its slot wait 0.92 s; the step
    in progress 8 ms); with a constant hold the wait reads 0.47 s (0.23 s at 11.8, 0.38 s at 12.4)
    and the TTFT 0.61 s at 11.8, half the simulated one (fleet_day's
    H20 unit at hour 23 the same: 625 ms planned, 1.19 s simulated, before 2026-12-04's nineteenth session)."""
    prob = _h20_colocated_at(tmp_path, 0.7)
    plan = solve(load_problem(prob), str(prob))
    res = plan.resolved
    w = workload_context(res)
    (st,) = [st for sts in plan.pools.values() for st in sts]
    c = st.candidate
    assert (c.role, c.gpu, c.par.tp, c.par.cards) == ("colocated", "h20", 8, 8)
    dep = deployment(res, res.option(c.gpu), c.par, c.spec)
    slots = perf.max_batch(dep, w.ctx_peak)
    assert slots == 17 and c.batch < slots and st.batch == pytest.approx(12.7, abs=0.1)
    t_full = perf.mixed_step(dep, st.batch, w.ctx_decode, c.chunk_tokens, w.s_in).time_s
    service = math.ceil(w.s_unc / c.chunk_tokens) * t_full
    life = (w.s_out - 1) * st.tpot_mean_s            # the prompt's chunks, then its L − 1 decode steps
    grow = (perf.decode_step(dep, slots, w.ctx_decode).time_s
            - perf.decode_step(dep, batch_seen(st.batch, slots), w.ctx_decode).time_s)
    life_full = (w.s_out - 1) * (st.tpot_mean_s + grow / perf.tokens_per_step(dep))
    hold = service + life
    # prefill takes 6 % of the engine's time: the busy slots' peakedness, 1 + 3ρ²/(1 − ρ)² for one
    # output length, is 1.010, and the wait 1.11 → 1.14 s (0.93 → 0.95 s before 2026-12-05's refit)
    rho = st.prefill_share
    assert rho == pytest.approx(0.06, abs=0.01)
    peak = 1 + 3 * rho**2 / (1 - rho) ** 2
    wait = slot_wait_s(st.batch * hold / life, slots, hold, 0.0, service + life_full, peak)
    assert slot_wait_s(st.batch * hold / life, slots, hold, 0.0, service + life_full) == pytest.approx(1.11, abs=0.02)
    queue, _ = worst_ttft(w, st.utilization, Servers.single(service), perf.request_overhead_s(dep))
    # and the rest of the step in progress when the prompt arrives: half a step while one runs
    in_progress = (1 - math.exp(-st.batch)) * st.tpot_mean_s * perf.tokens_per_step(dep) / 2
    assert st.ttft_s == pytest.approx(queue + wait + in_progress, rel=1e-9)
    assert wait == pytest.approx(1.14, abs=0.02)
    # the constant hold's:
    assert slot_wait_s(st.batch * hold / life, slots, hold, 0.0) == pytest.approx(0.47, abs=0.02)
    sim = simulate(plan_from_dict(plan_json(plan), "h20"), requests=100_000, seed=0)
    (pool,) = sim.pools
    assert sim.passed and pool.ttft.mean == pytest.approx(st.ttft_s, rel=0.10)


def test_the_simulated_slot_queue_waits_as_planned():
    """One colocated engine with 17 slots, 10 ms steps, one-step prompts and 99 decode steps
    (hold 1 s) at 12 Erlangs: the wait the slots add (the start wait with 17 slots minus the one
    with 200, which is the step boundary's) is the M/D/c wait within 20 % (simulated 0.0171 s,
    model 0.0150 s: departures and starts fall on step boundaries, one prompt a step)."""
    from planner.studies.simulate.engine import Engine, run_engines
    from planner.studies.simulate.tables import CHUNK_GRID_POINTS
    n, step, steps_needed = 30_000, 0.01, 99
    hold = step * (1 + steps_needed)
    arrivals = np.cumsum(np.random.default_rng(0).exponential(hold / 12.0, n))

    def start_wait(slots: int) -> float:
        e = Engine(0, np.full((slots + 1, CHUNK_GRID_POINTS), step), slots, 1000.0, list(range(n)),
                   arrivals.tolist(), [1000.0] * n)
        first, finish, started = (np.full(n, np.nan) for _ in range(3))
        run_engines([e], np.full(n, steps_needed), np.zeros(n, dtype=int), np.zeros(n), np.array([1.0]),
                    (0.0, 1e9), first, finish, started)
        assert (finish - started)[n // 10:].mean() == pytest.approx(hold)
        return float((started - arrivals)[n // 10:].mean())

    assert start_wait(17) - start_wait(200) == pytest.approx(slot_wait_s(12.0, 17, hold, 0.0), rel=0.20)


def test_decode_pool_below_its_slots_with_the_wait_in_tpot():
    """rag_long_context's MI300X TP2 decode pool is held by memory (70 slots at 16,300 tokens):
    its design batch is below the slots, and its verified TPOT is the step a request sees (itself
    and the mean batch) plus the slot wait (M/D/c: fixed 300-token outputs, each holding its slot
    for 299 such steps) spread over the 299 tokens after the first. While every
    slot is taken a request holds its slot longer (the step at 70 sequences): the wait is the
    growing-hold chain's (`slot_wait_s` with `hold_full_s`), as for colocated pools."""
    prob = ROOT / "problems" / "rag_long_context.yaml"
    plan = solve(load_problem(prob), str(prob))
    res = plan.resolved
    w = workload_context(res)
    decode = [st for sts in plan.pools.values() for st in sts if st.candidate.role == "decode"]
    assert decode
    for st in decode:
        c = st.candidate
        dep = deployment(res, res.option(c.gpu), c.par, c.spec)
        slots = perf.max_batch(dep, w.ctx_peak)
        assert c.batch < slots
        seen = perf.tpot(dep, min(st.batch + 1, slots), w.ctx_decode)   # itself and the mean batch
        full = perf.tpot(dep, slots, w.ctx_decode)
        wait = slot_wait_s(st.batch, slots, (w.s_out - 1) * seen, 0.0, (w.s_out - 1) * full)   # L − 1 steps
        assert wait > 1.3 * slot_wait_s(st.batch, slots, (w.s_out - 1) * seen, 0.0)   # the growth counts
        join = 1 + 0.5 / (w.s_out - 1)   # half a step to join the running batch, over 299 tokens
        assert st.tpot_s == pytest.approx(seen * join + wait / (w.s_out - 1), rel=1e-9)


def _solved_at(tmp_path, text: str, cost_per_hour: float):
    """The plan of the problem `text` (written to a file in tmp_path), checked to cost `cost_per_hour`."""
    p = tmp_path / "p.yaml"
    p.write_text(text)
    plan = solve(load_problem(p), str(p))
    assert plan.cost_per_hour == pytest.approx(cost_per_hour)
    return plan


def test_decode_pool_near_its_slots_holds_in_simulation(tmp_path):
    """A hunt's case: Qwen3-235B RAG prompts (16,000 tokens, 80 % cached, 300-token answers) at
    4.15 req/s on MI300X TP2 only. With a hold fixed at the mean batch's step the plan ran one
    decode instance at 66.8 of its 70 slots, 59.2 ms planned against 60 ms, and its simulation
    read 62–65 ms over three seeds (SLO broken): at 95 % of the slots the wait is steep in the
    hold, and a full engine's steps are slower. With the growing hold the same cost (both
    instances fit the one MI300X node) buys two decode instances, and the plan holds."""
    plan = _solved_at(tmp_path, "name: rag\nmodel: qwen3-235b-a22b\nprecision: {weights: fp8, kv: fp8}\n"
                      "workload: {qps: 4.15, input_tokens: 16000, output_tokens: 300, prefix_cache_hit_percent: 80}\n"
                      "slo: {ttft: 3s, tpot: 60ms}\ngpus: [mi300x]\n"
                      "serving: {modes: [disaggregated], parallelism: {tp: [2], dp: [1], pp: [1]}}\n", 147.12)
    d = plan_json(plan)
    decodes = [q for q in d["pools"] if q["role"] == "decode"]
    assert [q["instances"] for q in decodes] == [2]
    sim = simulate(plan_from_dict(d, "rag"), requests=100_000, seed=0)
    assert sim.passed
    for q in decodes:
        got = next(x for x in sim.pools if x.name == q["name"]).tpot.mean
        assert got <= q["tpot_s"] * 1.03


TIGHT = ("name: tight\nmodel: deepseek-r1\nprecision: {weights: fp8, kv: bf16}\n"
         "workload: {qps: 0.05, input_tokens: 20000, output_tokens: 2000}\nslo: {ttft: 60s, tpot: %s}\n"
         "gpus: [h20]\nserving: {modes: [%s], parallelism: {max_cards_per_instance: 8}}\n")


def test_a_colocated_shape_holding_one_sequence_runs_below_a_whole_batch(tmp_path):
    """DeepSeek-R1 on one 8-card H20 node at 22k-token contexts: the node holds a single sequence.
    At a mean batch of 1 its slot queue never clears (it was refused for that); at a mean below 1
    it is an M/D/1 queue (fixed output length) that does. The plan runs such instances at a
    fractional mean batch, design batch (the engine's running limit) 1, and its TTFT carries the
    Pollaczek–Khinchine wait a·H/(2(1 − a)) of its own numbers."""
    p = tmp_path / "tight.yaml"
    p.write_text(TIGHT % ("100ms", "colocated"))
    plan = solve(load_problem(p), str(p))
    res = plan.resolved
    w = workload_context(res)
    (st,) = [st for sts in plan.pools.values() for st in sts]
    c = st.candidate
    dep = deployment(res, res.option(c.gpu), c.par, c.spec)
    assert perf.max_batch(dep, w.ctx_peak) == 1 and c.batch == 1 and 0.3 < st.batch < 1
    assert all(ch.ok for ch in plan.verification.checks)
    t_full = perf.mixed_step(dep, st.batch, w.ctx_decode, c.chunk_tokens, w.s_in).time_s
    service = math.ceil(w.s_unc / c.chunk_tokens) * t_full
    life = (w.s_out - 1) * st.tpot_s                 # its L − 1 decode steps
    hold = service + life
    a = st.batch * hold / life                       # the slot's occupancy (Little)
    assert 0 < a < 1
    wait = a * hold / (2 * (1 - a))
    assert float(w.slot_wait_s(st.batch, 1, service, st.tpot_s)) == pytest.approx(wait, rel=1e-9)
    assert wait + service < st.ttft_s <= res.problem.slo.ttft


def test_a_decode_shape_holding_one_sequence_by_hand(tmp_path):
    """The decode side of the same node: the largest occupancy m on the 0.05 grid with
    TPOT(1)·j + W(m)/(L − 1) ≤ the limit, W(m) = m·(L − 1)·TPOT(1)/(2(1 − m)) (M/D/1: a slot is held
    for the L − 1 decode steps), j = 1 + ½/(L − 1) the wait to join the batch. With the limit at
    1.5·TPOT(1) that is m/(1 − m) ≤ 1 − 1/(L − 1), so m = 0.45; capacity m/TPOT(1)."""
    from planner.physics.perf import Parallelism
    from planner.plan.candidates import decode_candidate
    from planner.plan.resolve import resolve
    p = tmp_path / "tight.yaml"
    p.write_text(TIGHT % ("100ms", "disaggregated"))
    res0 = resolve(load_problem(p), str(p))
    par = Parallelism(tp=8)
    opt = res0.option("h20")
    t1 = perf.tpot(deployment(res0, opt, par, None), 1, workload_context(res0).ctx_decode)
    p.write_text(TIGHT % (f"{1.5 * t1 * 1e3:.6f}ms", "disaggregated"))
    res = resolve(load_problem(p), str(p))
    w = workload_context(res)
    c = decode_candidate(res, opt, par, w)
    assert c.batch == 1 and c.limited_by == "memory"
    L = w.s_out
    j = t1 * (1 + 0.5 / (L - 1))   # with half a step to join the batch, spread over L − 1 tokens
    m = max(k / 20 for k in range(1, 20) if j + k / 20 * (L - 1) * t1 / (2 * (1 - k / 20)) / (L - 1) <= w.tpot_limit)
    assert m == 0.45
    assert c.decode_tok_s == pytest.approx(m / t1, rel=1e-12)
    assert c.tpot_s == pytest.approx(j + m * (L - 1) * t1 / (2 * (1 - m)) / (L - 1), rel=1e-9)


def test_two_slots_run_below_a_whole_sequence_or_say_why(tmp_path):
    """DeepSeek-R1 at 14k + 1k tokens on an 8-card H20 node holds two sequences. With the TPOT limit
    at 1.1 × TPOT(1), a mean batch of 1 would wait ~18 % longer for a slot (M/D/2), so the instance
    runs below a whole sequence: the largest m on the 0.05 grid with TPOT(1 + m)·j + W(m)/(L − 1)
    within the limit (a request sees itself and m others; W the M/D/2 wait, the hold (L − 1) such
    steps growing to the step of 2), capacity m/TPOT(1 + m) — the plan holds in simulation (8.9 ms
    planned, 8.8 simulated). With the limit below the step of 1.05 sequences no occupancy is
    left: infeasible (exit 3), and the message says why."""
    from click.testing import CliRunner

    from cli import main
    from planner.physics.perf import Parallelism
    from planner.plan.candidates import decode_candidate
    from planner.plan.resolve import resolve
    text = ("name: two\nmodel: deepseek-r1\nprecision: {weights: fp8, kv: bf16}\n"
            "workload: {qps: 0.05, input_tokens: 14000, output_tokens: 1000}\nslo: {ttft: 60s, tpot: %s}\n"
            "gpus: [h20]\nserving: {modes: [disaggregated], parallelism: {max_cards_per_instance: 8}}\n")
    p = tmp_path / "two.yaml"
    p.write_text(text % "100ms")
    res = resolve(load_problem(p), str(p))
    w = workload_context(res)
    dep = deployment(res, res.option("h20"), Parallelism(tp=8), None)
    assert perf.max_batch(dep, w.ctx_peak) == 2
    t1 = perf.tpot(dep, 1, w.ctx_decode)
    p.write_text(text % f"{1.1 * t1 * 1e3:.6f}ms")
    res = resolve(load_problem(p), str(p))
    w = workload_context(res)
    L = w.s_out
    assert 1.15 * t1 < t1 + slot_wait_s(1.0, 2, (L - 1) * t1, 0.0) / (L - 1) < 1.2 * t1   # a whole sequence

    def tpot(m):
        seen = perf.tpot(dep, 1 + m, w.ctx_decode)
        full = perf.tpot(dep, 2, w.ctx_decode)
        return seen * (1 + 0.5 / (L - 1)) + slot_wait_s(m, 2, (L - 1) * seen, 0.0, (L - 1) * full) / (L - 1)

    m = max(k / 20 for k in range(1, 20) if tpot(k / 20) <= w.tpot_limit)
    assert 0.05 < m < 1
    c = decode_candidate(res, res.option("h20"), Parallelism(tp=8), w)
    assert c.batch == 1 and c.tpot_s == pytest.approx(tpot(m), rel=1e-12)
    assert c.decode_tok_s == pytest.approx(m / perf.tpot(dep, 1 + m, w.ctx_decode), rel=1e-12)
    assert CliRunner().invoke(main, ["solve", str(p)]).exit_code == 0
    floor = perf.tpot(dep, 1.05, w.ctx_decode) * (1 + 0.5 / (L - 1))
    p.write_text(text % f"{0.999 * floor * 1e3:.6f}ms")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 3, r.output
    assert f"reaches {floor * 1e3:.1f} ms" in r.output and "even at a 5 % occupancy" in r.output, r.output


def test_a_long_decode_slot_wait_is_reported_and_noted(tmp_path):
    """The one-slot H20 decode instance of the P/D variant runs near its single slot: the JSON
    carries its mean wait for the slot (M/D/1 by hand: ρ·H/(2(1 − ρ)), H = (L − 1)·TPOT of the
    sequence decoding alone, as it does whenever the slot is taken, ρ = λ·H), and the text says
    it is counted in TPOT, which a P/D proxy streaming from decode shows in TTFT (a note from a
    tenth of the TTFT limit up)."""
    from click.testing import CliRunner

    from cli import main
    from planner.report.text import render_plan
    p = tmp_path / "tight.yaml"
    p.write_text(TIGHT % ("100ms", "disaggregated"))
    plan = solve(load_problem(p), str(p))
    res = plan.resolved
    w = workload_context(res)
    (st,) = [st for sts in plan.pools.values() for st in sts if st.candidate.role == "decode"]
    dep = deployment(res, res.option(st.candidate.gpu), st.candidate.par, None)
    assert 0.5 < st.batch < 1   # the time-average batch: λ·(L − 1)·TPOT at that batch
    hold = (w.s_out - 1) * perf.tpot(dep, 1, w.ctx_decode)
    rho = st.batch   # the offered load: one slot, held for L − 1 steps of a sequence alone
    assert st.slot_wait_s == pytest.approx(rho * hold / (2 * (1 - rho)), rel=1e-9)
    assert st.slot_wait_s > 0.1 * res.problem.slo.ttft
    d = plan_json(plan)
    assert [q["slot_wait_s"] for q in d["pools"] if q["role"] == "decode"] == [st.slot_wait_s]
    assert all(q["slot_wait_s"] is None for q in d["pools"] if q["role"] == "prefill")
    text = render_plan(plan)
    assert f"a request waits {st.slot_wait_s:.2f} s on average for a batch slot" in text
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 0 and "behind a P/D proxy that streams from decode (vLLM, SGLang) it is TTFT" in r.output
    # the note adds the wait to the prefill pool's TTFT and names the limit, so a reader knows whether to act
    (pre,) = [q["ttft_s"] for q in d["pools"] if q["role"] == "prefill"]
    from planner.input.units import format_time
    assert (f"it is TTFT: {format_time(pre)} + {format_time(st.slot_wait_s)} = "
            f"{format_time(pre + st.slot_wait_s)} against the {format_time(res.problem.slo.ttft)} limit") in r.output


def test_a_fleet_notes_a_long_decode_slot_wait_too(tmp_path):
    """The same one-slot P/D service as a one-class fleet: the note under the fleet's pools, with
    the wait of its decode pool (the class's TTFT limit, 60 s, sets the threshold)."""
    from click.testing import CliRunner

    from cli import main
    p = tmp_path / "fleet.yaml"
    p.write_text("name: fleet-tight\nclasses:\n  - name: long\n    model: deepseek-r1\n"
                 "    precision: {weights: fp8, kv: bf16}\n"
                 "    workload: {qps: 0.05, input_tokens: 20000, output_tokens: 2000}\n"
                 "    slo: {ttft: 60s, tpot: 100ms}\ngpus: [h20]\n"
                 "serving: {modes: [disaggregated], parallelism: {max_cards_per_instance: 8}}\n")
    r = CliRunner().invoke(main, ["solve", str(p), "--json"])
    assert r.exit_code == 0, r.output
    import json
    (wait,) = [q["slot_wait_s"] for q in json.loads(r.output)["pools"] if q["role"] == "decode"]
    assert wait > 6.0
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 0 and f"a request waits {wait:.2f} s on average for a batch slot" in r.output, r.output


def test_a_long_simulation_says_so_before_it_runs(tmp_path, monkeypatch):
    """Simulating the one-slot colocated plan steps every decode step of every request (mean batch
    below 1): 2,000 requests of 2,000 output tokens are 2,000 × 1,999 ≈ 4.0e6 steps. Beyond the
    threshold (lowered here; 5e8 by default, ~2.5·10⁵ of these requests) the CLI says so on stderr
    before the run, and how to shorten it; below it, nothing."""
    from click.testing import CliRunner

    from cli import main
    from planner.studies.simulate import run as sim_run
    p = tmp_path / "tight.yaml"
    p.write_text(TIGHT % ("100ms", "colocated"))
    out = tmp_path / "plan.json"
    assert CliRunner().invoke(main, ["solve", str(p), "--json", "--out", str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["simulate", str(out), "--requests", "2000"])
    assert r.exit_code == 0 and "note:" not in r.stderr, r.stderr
    monkeypatch.setattr(sim_run, "LONG_RUN_STEPS", 1e6)
    r = CliRunner().invoke(main, ["simulate", str(out), "--requests", "2000"])
    assert r.exit_code == 0, r.output
    assert "note: " in r.stderr and "about 4.0e+06 decode steps" in r.stderr and "--requests N" in r.stderr


def test_a_percentile_ttft_counts_the_slot_waits_quantile():
    """`WorkloadContext.slot_wait_for_ttft_s`: a request that finds the slots full waits an
    exponential time of mean θ = H/(c − a), so with mean wait W the chance to wait is W/θ and the
    q-quantile θ·ln((W/θ)/(1 − q)). M/M/2 at a = 1, H = 1 s: W = 1/3 s (Erlang C), p99 = ln(100/3)
    = 3.507 s, p90 = ln(10/3) = 1.204 s; the mean target counts W; no wait, no quantile."""
    from dataclasses import replace

    from planner.plan.resolve import resolve
    from planner.plan.workload import TTFTTarget
    w = workload_context(resolve(load_problem(Path(__file__).resolve().parents[1] / "problems" /
                                              "small_model_cheap_card.yaml")))
    w = replace(w, s_dec=1.0)   # a life of 1 s at a TPOT of 1 s: the hold is 1 s with no prompt service

    def at(stat):
        return replace(w, targets=(TTFTTarget("", stat, 1.0, 1.0),))
    assert at("p99").slot_wait_for_ttft_s(1 / 3, 1.0, 2, 0.0, 1.0) == pytest.approx(math.log(100 / 3), rel=1e-12)
    assert at("p90").slot_wait_for_ttft_s(1 / 3, 1.0, 2, 0.0, 1.0) == pytest.approx(math.log(10 / 3), rel=1e-12)
    assert at("mean").slot_wait_for_ttft_s(1 / 3, 1.0, 2, 0.0, 1.0) == pytest.approx(1 / 3)
    assert at("p99").slot_wait_for_ttft_s(0.0, 1.0, 2, 0.0, 1.0) == 0.0
    assert at("p50").slot_wait_for_ttft_s(1 / 3, 1.0, 2, 0.0, 1.0) == 0.0   # 1/3 wait at all: the median none


def test_a_p99_ttft_colocated_pool_near_its_slots_holds_in_simulation(tmp_path):
    """Llama-3.1-70B FP8 on MI300X at 2 req/s, prompts of 200/1,000/8,000 tokens, 4,000-token
    answers, p99 TTFT ≤ 1 s: two TP2 colocated pools at 50 of their 69 slots were planned at
    0.82 s p99 TTFT with the mean slot wait (0.47 s) and simulated at 10.1 s (a hunt of
    2026-12-04). With the slot wait's p99 the plan (the same 147.12 RMB/h) holds."""
    plan = _solved_at(tmp_path, "name: s21\nmodel: llama-3.1-70b\nprecision: {weights: fp8}\n"
                      "workload: {qps: 2, input_tokens: {values: [200, 1000, 8000], weights: [0.5, 0.3, 0.2]}, "
                      "output_tokens: 4000, prefix_cache_hit_percent: 50}\n"
                      "slo: {ttft: 1s, ttft_statistic: p99, tpot: 80ms, tpot_statistic: p99}\ngpus: [mi300x]\n",
                      147.12)
    res = simulate(plan_from_dict(plan_json(plan), "s21"), requests=30_000, seed=0)
    assert res.passed, res.violations


def test_erlang_b_of_a_row_does_not_depend_on_the_rows_beside_it_when_its_product_overflows():
    """B(200 slots, 1 Erlang) is 0.0 alone (its Π (c − i)/a passes the largest float, so 1/B is
    inf), but beside a 400-slot row it was NaN: padded with zeros to the longer row's terms, its
    cumulative product read inf·0. A row now sums its own terms only (`blocked_chain_sums`)."""
    import numpy as np

    from planner.physics.queueing import erlang_b
    alone = erlang_b([1.0], [200.0])
    beside = erlang_b([1.0, 1.0, 100.0], [200.0, 400.0, 110.0])
    assert alone.tolist() == [0.0] and beside[0] == 0.0 and not np.isnan(beside).any()
    assert beside[2] == erlang_b([100.0], [110.0])[0]   # an ordinary row: the same float beside others
