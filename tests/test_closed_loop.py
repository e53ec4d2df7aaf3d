"""The closed-loop benchmark simulation (studies.simulate.closed) against hand calculations and
the analytic closed-loop model (physics.benchmark), and `plan validate --simulate`."""

import json
import math

import pytest
from click.testing import CliRunner

from cli import main
from planner.catalog.calibration import load_calibration
from planner.physics.benchmark import Benchmark, prefill_service_s, running_batch
from planner.physics.benchmark import tpot as analytic_tpot
from planner.physics.benchmark import ttft as analytic_ttft
from planner.physics.perf import decode_step, kv_transfer_time, mixed_step, prefill_pass, request_overhead_s
from planner.studies.simulate.closed import requests_per_client, simulate_benchmark
from tests.conftest import make_dep
from tests.test_measurements import _row, _write

CAL = load_calibration("default")


@pytest.fixture(scope="module")
def llama():
    return make_dep("llama-3.1-70b", "h100", CAL, tp=4)


def test_requests_per_client_mean_is_k():
    assert requests_per_client(4, 2.5) == [3, 3, 2, 2]
    assert requests_per_client(10, 3.6) == [4] * 6 + [3] * 4
    assert requests_per_client(3, 0.4) == [1, 1, 1]


def test_one_client_by_hand(llama):
    """One client: every request is prefilled alone in ⌈s/C⌉ chunk steps beside no decode, then
    decodes one sequence per step; nothing waits."""
    bm = Benchmark("agg", isl=3000, osl=101, concurrency=1, batch=1)
    sim = simulate_benchmark(bm, llama, k=3)
    ctx = 3000 + 101 / 2
    alone = mixed_step(llama, 0.0, ctx, 3000, 3000).time_s
    overhead = request_overhead_s(llama)
    decode = decode_step(llama, 1.0, ctx).time_s
    assert sim.requests == 3
    assert sim.ttft.mean == pytest.approx(alone + overhead, rel=1e-12)
    assert sim.ttft.p99 == pytest.approx(alone + overhead, rel=1e-12)
    # last token − first token: the fixed time per request delays both, so TPOT is the decode step
    # (it was (100·decode − overhead)/100 until 2026-12-03: the overhead came off the decode span)
    assert sim.tpot.mean == pytest.approx(decode, rel=1e-12)
    assert sim.duration_s == pytest.approx(3 * (alone + 100 * decode), rel=1e-12)
    # the analytic model at c = 1 has the same TTFT (prefill_service_s 'alone', no queue)
    assert analytic_ttft(bm, llama) == pytest.approx(sim.ttft.mean, rel=1e-12)
    assert prefill_service_s(bm, llama)[0] == pytest.approx(alone, rel=1e-12)


def test_chunks_of_a_long_prompt(llama):
    """A 20,000-token prompt with a budget of 8,192 is prefilled in 3 steps (8192, 8192, 3616)."""
    bm = Benchmark("agg", isl=20000, osl=2, concurrency=1, batch=1)
    sim = simulate_benchmark(bm, llama, k=1)
    ctx = 20001.0
    steps = [mixed_step(llama, 0.0, ctx, c, 20000).time_s for c in (8192, 8192, 3616)]
    assert sim.ttft.mean == pytest.approx(sum(steps) + request_overhead_s(llama), rel=1e-12)


def test_prefill_bound_disagg_throughput(llama):
    """Prefill-bound: a disaggregated loop whose decode is one token serves requests at the
    packed prefill rate, ⌊C/s⌋ prompts per pass, and the mean TTFT approaches c × (pass/packed)."""
    pd = make_dep("llama-3.1-70b", "h100", CAL, tp=8)
    bm = Benchmark("disagg", isl=2048, osl=2, concurrency=64, batch=64)
    sim = simulate_benchmark(bm, llama, pd, k=50)
    packed = 8192 // 2048
    pass_s = prefill_pass(pd, packed, 2048, 0).time_s
    rate = packed / pass_s
    assert sim.requests / sim.duration_s == pytest.approx(rate, rel=0.02)
    # Little's law on the loop: c = X·(TTFT without the fixed time + one decode step)
    cycle = 64 / rate
    assert sim.ttft.mean - request_overhead_s(pd) == pytest.approx(cycle - decode_step(llama, 1, 2049).time_s,
                                                                   rel=0.05)
    # the analytic model agrees in this regime (mean value analysis is exact at saturation)
    assert analytic_ttft(bm, llama, pd) == pytest.approx(sim.ttft.mean, rel=0.10)
    assert kv_transfer_time(pd, 2048) < 0.01 * sim.ttft.mean


def test_slot_limited_loop_waits_for_slots():
    """A batch larger than the KV room: at most running_batch sequences hold slots, the rest of
    the clients wait, so the simulated TTFT grows with the clients beyond the slots."""
    dep = make_dep("llama-3.1-70b", "h100", CAL, tp=2)
    few = Benchmark("agg", isl=8192, osl=512, concurrency=8, batch=8)
    many = Benchmark("agg", isl=8192, osl=512, concurrency=256, batch=256)
    slots = running_batch(many, dep)
    assert 8 < slots < 256
    s_few, s_many = simulate_benchmark(few, dep, k=4), simulate_benchmark(many, dep, k=4)
    # a request waits about (clients/slots − 1) request lifetimes for its slot
    lifetime = s_many.duration_s / 4 / math.ceil(256 / slots)
    assert s_many.ttft.mean > 0.5 * (256 / slots - 1) * lifetime
    assert s_many.ttft.mean > 5 * s_few.ttft.mean
    assert analytic_ttft(many, dep) == pytest.approx(s_many.ttft.mean, rel=0.35)


def test_tpot_agrees_with_the_analytic_colocated_step(llama):
    """At steady load (many rounds) the simulated TPOT of a colocated engine is the analytic
    colocated step within a few per cent: both charge chunk steps and decode-only steps."""
    bm = Benchmark("agg", isl=2048, osl=512, concurrency=32, batch=32)
    sim = simulate_benchmark(bm, llama, k=20)
    assert sim.tpot.mean == pytest.approx(analytic_tpot(bm, llama), rel=0.08)


@pytest.mark.parametrize("clients", [1, 2, 4, 32])
def test_a_requests_own_prompt_is_not_in_its_tpot(llama, clients):
    """A request's own prompt is prefilled before its first token: the TPOT it measures carries
    only the other sequences' prompts ((b − 1)/b of the prefill work). 16,000-token prompts with
    128-token answers: the analytic TPOT was 52 / 34 / 20 % above the simulation at 1 / 2 / 4
    clients while it counted the request's own prompt; now within 2 % at every concurrency, and at
    one client it is the pure decode step."""
    bm = Benchmark("agg", isl=16000, osl=128, concurrency=clients, batch=clients)
    sim = simulate_benchmark(bm, llama, k=20)
    assert analytic_tpot(bm, llama) == pytest.approx(sim.tpot.mean, rel=0.02)
    if clients == 1:
        assert analytic_tpot(bm, llama) == pytest.approx(decode_step(llama, 1.0, 16064.0).time_s, rel=1e-12)


@pytest.mark.parametrize("isl, osl, clients", [(100_000, 100, 64), (100_000, 100, 16), (50_000, 50, 32),
                                               (20_000, 20, 64)])
def test_a_prefill_bound_loop_holds_at_most_a_chunk_a_step(isl, osl, clients):
    """Prompts 1,000 times their answers: the other sequences ask more prompt tokens a step than the
    budget (8,192), and the loop is prefill-bound, every step a full chunk beside the decodes. The
    formula spread the asked tokens over the steps as if a step could hold them all (100k-token
    prompts, 64 clients: 626 ms TPOT and 58.7 s TTFT against 124 ms and 77.8 s simulated); a step
    now holds at most the budget, as the engine's does."""
    dep = make_dep("llama-3.1-8b", "h100", CAL, tp=8)
    bm = Benchmark("agg", isl=isl, osl=osl, concurrency=clients, batch=clients)
    sim = simulate_benchmark(bm, dep, k=4.5)
    assert analytic_tpot(bm, dep) == pytest.approx(sim.tpot.mean, rel=0.08)
    assert analytic_ttft(bm, dep) == pytest.approx(sim.ttft.mean, rel=0.05)


def test_prefill_first_engine_keeps_waves(llama):
    """An engine that prefills first (SGLang's default) prefills a whole wave of simultaneous
    prompts before any of it decodes; with fixed lengths every round stays such a wave, so TPOT
    has no chunk in any decode step, but a prompt prefilled early waits, after its first token,
    for the rest of the wave's prefill steps (32 steps of two 4,096-token prompts: 15.5 steps on
    average), and TTFT waits for the wave: larger than the mixing engine's."""
    mix = Benchmark("agg", isl=4096, osl=256, concurrency=64, batch=64)
    first = Benchmark("agg", isl=4096, osl=256, concurrency=64, batch=64, prefill_first=True)
    a, b = simulate_benchmark(mix, llama, k=5), simulate_benchmark(first, llama, k=5)
    pure = decode_step(llama, 64.0, 4096 + 128).time_s
    prefill = mixed_step(llama, 0.0, 4096 + 128, 8192, 4096).time_s
    assert b.tpot.mean == pytest.approx((255 * pure + 15.5 * prefill - request_overhead_s(llama)) / 255, rel=0.01)
    assert b.ttft.mean > 2 * a.ttft.mean


def test_too_many_requests_refused(llama):
    with pytest.raises(ValueError, match="more than"):
        simulate_benchmark(Benchmark("agg", 100, 10, 100_000, 100_000), llama, k=10)


def test_validate_simulate_cli(tmp_path):
    """`plan validate --simulate` adds the closed-loop table (text) and `closed_loop` (JSON) with
    one case per agg point that measured a TTFT."""
    path = _write(tmp_path, [_row("a", batch="8", conc=8),
                             _row("b", batch="32", conc=32, tp="8", ttft="300", tpot="20"),
                             _row("c", batch="4", conc=4, ttft="")])
    r = CliRunner().invoke(main, ["validate", str(path), "--folds", "0", "--simulate"])
    assert r.exit_code == 0, r.output
    assert "closed-loop check (plan validate --simulate): 2 benchmark points" in r.output
    r = CliRunner().invoke(main, ["validate", str(path), "--folds", "0", "--simulate", "--json"])
    data = json.loads(r.output)["closed_loop"]
    assert [c["point_id"] for c in data["points"]] == ["a", "b"]
    a = data["points"][0]
    assert a["measured_ttft_s"] == pytest.approx(0.1) and a["measured_tpot_s"] == pytest.approx(0.012)
    assert a["simulated_ttft_s"] > 0 and a["analytic_ttft_s"] > 0
    assert data["summary"][0]["label"] == "all" and data["summary"][0]["n"] == 2
    assert data["summary"][0]["ttft_analytic_vs_measured"] == pytest.approx(
        sorted(abs(c["analytic_ttft_s"] / c["measured_ttft_s"] - 1) for c in data["points"])[0] / 2
        + sorted(abs(c["analytic_ttft_s"] / c["measured_ttft_s"] - 1) for c in data["points"])[1] / 2)


def test_validate_json_is_strict_and_the_same_run_after_run(tmp_path):
    """A benchmark of 1-token outputs has no TPOT to simulate: its medians are NaN, which
    `validate --json` printed as `NaN` (not JSON); and the simulation's wall-clock seconds made two
    runs differ. NaN is null, keys are sorted, seconds are null unless --timings."""
    path = _write(tmp_path, [{**_row("a", batch="8", conc=8), "osl": "1"}])
    args = ["validate", str(path), "--folds", "0", "--simulate", "--json"]
    outs = [CliRunner().invoke(main, args).output for _ in range(2)]
    strict = json.loads(outs[0], parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert outs[0] == outs[1] and strict["closed_loop"]["seconds"] is None
    assert strict["closed_loop"]["summary"][0]["tpot_sim_vs_analytic"] is None
    assert list(strict) == sorted(strict)
    timed = json.loads(CliRunner().invoke(main, [*args, "--timings"]).output)
    assert timed["closed_loop"]["seconds"] > 0


def test_eval_concurrency_prints_formula_and_simulation():
    """`plan eval --concurrency C`: the closed-loop benchmark of the configuration, the analytic
    formula (physics.benchmark) beside the simulation of the same loop, in text and JSON."""
    args = ["eval", "--model", "llama-3.1-70b", "--gpu", "h100", "--cards", "4", "--batch", "64",
            "--weights", "fp8", "--kv", "fp8", "--input-len", "2000", "--output-len", "500", "--concurrency", "64",
            "--requests-per-client", "4"]
    r = CliRunner().invoke(main, args + ["--json"])
    assert r.exit_code == 0, r.output
    c = json.loads(r.output)["closed_loop"]
    dep = make_dep("llama-3.1-70b", "h100", CAL, tp=4, weights="fp8", kv="fp8")
    bm = Benchmark("agg", 2000.0, 500.0, 64.0, 64.0)
    assert c["formula"]["ttft_s"] == pytest.approx(analytic_ttft(bm, dep))
    assert c["formula"]["tpot_s"] == pytest.approx(analytic_tpot(bm, dep))
    sim = simulate_benchmark(bm, dep, k=4)
    assert c["simulated"]["ttft_s"]["mean"] == pytest.approx(sim.ttft.mean)
    assert c["simulated"]["requests"] == 256 and c["requests_per_client"] == 4
    text = CliRunner().invoke(main, args).output
    assert "closed-loop benchmark at concurrency 64 (4 requests per client" in text
    assert "by the formula" in text and "simulated" in text


def test_eval_concurrency_too_many_requests_is_bad_input():
    r = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "8",
                                  "--concurrency", "20000", "--requests-per-client", "100"])
    assert r.exit_code == 2
    assert "--concurrency 20000 × --requests-per-client 100 = 2,000,000 requests" in r.output


@pytest.mark.parametrize(("option", "value"), [("--requests-per-client", "nan"), ("--requests-per-client", "inf"),
                                               ("--prefix-hit", "nan")])
def test_eval_refuses_non_finite_numbers(option, value):
    """click's FloatRange lets NaN through every bound (it compares false); the CLI's options refuse it."""
    args = ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "8", "--concurrency", "8", option, value]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"Invalid value for '{option}'" in r.output


def test_a_wholly_cached_prompt_is_still_scheduled_in_the_closed_loop():
    """`plan eval --prefix-hit 1 --concurrency 4` simulated nothing ('n/a simulated … nan output
    tokens/s', all null in the JSON): a prompt with no uncached token never took a step. Engines
    compute its last token to sample the first output, so it takes one token of a step."""
    args = ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1", "--prefix-hit", "1",
            "--concurrency", "4"]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0 and "n/a" not in text.output and "nan" not in text.output, text.output
    d = json.loads(CliRunner().invoke(main, args + ["--json"]).output)["closed_loop"]
    assert d["simulated"]["requests"] > 0 and d["simulated"]["ttft_s"]["mean"] > 0
    assert d["simulated"]["tpot_s"]["mean"] == pytest.approx(d["formula"]["tpot_s"], rel=0.05)


def test_eval_notes_lengths_past_the_context():
    """plan eval computed a 10⁷-token request on Llama-3.1-8B (context 131,072) without a word, where
    plan solve notes such requests (hostile-input hunt, 2026-12-04): it notes them too."""
    r = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1",
                                      "--input-len", "200000"])
    assert r.exit_code == 0 and "note: llama-3.1-8b: 200,000 + 1,000 tokens pass its context of 131,072" in r.output
    r = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1"])
    assert r.exit_code == 0 and "note:" not in r.output


@pytest.mark.parametrize("mode, prefill_first, isl, osl, clients", [
    ("agg", False, 1000, 1000, 32), ("agg", True, 8000, 128, 4), ("agg", False, 2048, 512, 1),
    ("disagg", False, 1000, 1000, 32), ("disagg", False, 8000, 128, 128)])
def test_plain_decode_steps_run_as_one_event_with_the_same_results(llama, monkeypatch, mode, prefill_first, isl,
                                                                   osl, clients):
    """A run of decode steps in which nothing changes is one event (`_Loop.plain_steps`): the same
    TTFT, TPOT and duration as the loop stepped one event per step, to float round-off; and a 1M-token
    answer at 64 clients (130 s of events before) takes a few thousand events."""
    from planner.studies.simulate import closed
    pd = make_dep("llama-3.1-70b", "h100", CAL, tp=8)
    bm = Benchmark(mode, isl=isl, osl=osl, concurrency=clients, batch=clients, prefill_first=prefill_first)
    fast = simulate_benchmark(bm, llama, pd if mode == "disagg" else None, k=3)
    monkeypatch.setattr(closed._Loop, "plain_steps", lambda self, inst, b, chunk: 1)
    slow = simulate_benchmark(bm, llama, pd if mode == "disagg" else None, k=3)
    for a, b in ((fast.ttft.mean, slow.ttft.mean), (fast.tpot.mean, slow.tpot.mean),
                 (fast.ttft.p99, slow.ttft.p99), (fast.duration_s, slow.duration_s)):
        assert a == pytest.approx(b, rel=1e-12)


def test_a_million_token_answer_is_simulated_in_few_events(monkeypatch):
    from planner.studies.simulate import closed
    dep = make_dep("llama-3.1-8b", "h100", CAL, tp=1)
    pushes = []
    real = closed._Loop.push
    monkeypatch.setattr(closed._Loop, "push", lambda self, *a: (pushes.append(1), real(self, *a))[1])
    bm = Benchmark("agg", isl=1_000_000, osl=1_000_000, concurrency=64, batch=64)
    sim = simulate_benchmark(bm, dep, k=1)
    assert sim.requests == 64 and len(pushes) < 20_000
    assert sim.tpot.mean == pytest.approx(analytic_tpot(bm, dep), rel=0.02)


def test_eval_says_when_its_colocated_batch_is_not_a_steady_state():
    """16 sequences of 100k-token prompts and 100-token answers ask 16,000 prompt tokens a step,
    more than a step holds: `plan eval` printed a colocated TPOT and throughput at that batch as if
    an engine could hold it; it now says it cannot (JSON `holds` false), and a batch within the
    budget holds."""
    r = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "8", "--tp", "8",
                                  "--batch", "16", "--input-len", "100000", "--output-len", "100", "--json"])
    col = json.loads(r.output)["colocated"]
    assert col["prompt_tokens_per_step"] == pytest.approx(16_000) and col["holds"] is False
    text = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "8", "--tp", "8",
                                     "--batch", "16", "--input-len", "100000", "--output-len", "100"]).output
    assert "not a steady state: its prompts ask 16,000 tokens a step, more than the 8,192 a step holds" in text
    r = CliRunner().invoke(main, ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "16",
                                  "--input-len", "1000", "--output-len", "100", "--json"])
    assert json.loads(r.output)["colocated"]["holds"] is True


def test_the_concurrency_bands_hold_every_point_whole_or_not():
    """Little's law and GuideLLM's rate runs give 4.875 or 0.6 clients: the bands 1–4 and 5–64 held
    neither, so `all 5` sat above bands of 1 and 2 (a hunt). The bands are (lo, hi] now."""
    from planner.report.closed_loop import Case, ClosedLoopCheck
    cases = [Case(f"p{i}", "vllm", "agg", c, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01)
             for i, c in enumerate((0.6, 4, 4.875, 64, 64.5, 512, 600.25))]
    lines = {ln.label: ln.n for ln in ClosedLoopCheck(cases, 0, 0.0).lines()}
    assert lines == {"all": 7, "vllm": 7, "c ≤ 4": 2, "4 < c ≤ 64": 2, "64 < c ≤ 512": 2, "c > 512": 1}
