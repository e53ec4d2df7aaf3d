"""Verification, checked directly: the solved llama70b_chat plan's checks (served disaggregated)
against numbers recomputed here from the physics (perf, queueing) and the plan's pools, and a
tampered plan that must fail.

The expectations are written out as hand formulas rather than read from `verify.py`; the physics
functions (a pass time, a step time, weights per card, a queue's largest utilisation) are the only
shared pieces.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.catalog.schemas import get_gpu, get_model
from planner.physics import perf, prefill_queue, queueing
from planner.physics.perf import Deployment
from planner.physics.prefill_queue import Servers
from planner.plan.verify import verify_service

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan():
    """problems/llama70b_chat.yaml served disaggregated: its optimum is one H100 node either way
    (a colocated node of two TP4 instances costs the same; which one the solver returns is a
    tie-break), and the disaggregated one has both a prefill and a decode pool to check."""
    from planner.input.load import load_problem
    from planner.plan.solve import solve
    problem = load_problem(ROOT / "problems" / "llama70b_chat.yaml")
    serving = problem.serving.model_copy(update={"modes": ["disaggregated"]})
    return solve(problem.model_copy(update={"serving": serving}), "llama70b_chat.yaml")


@pytest.fixture(scope="module")
def checks(plan):
    return {c.name: c for c in plan.verification.checks}


# The problem, by hand (problems/llama70b_chat.yaml): 20 req/s, prompts 800/1500/3000 tokens with
# probabilities 0.3/0.5/0.2, 40 % prefix-cache hits, 400 output tokens, TTFT p90 ≤ 1 s.
QPS = 20.0
S_IN = 0.3 * 800 + 0.5 * 1500 + 0.2 * 3000          # 1590 tokens
S_UNC = S_IN * (1 - 0.4)                            # 954 uncached tokens to prefill
S_OUT = 400.0
S_DEC = S_OUT - 1                                   # tokens decode steps make: the first is the prompt's
CTX_DECODE = S_IN + S_OUT / 2                       # mean context of a decoding sequence
CTX_PEAK = 3000 + 400                               # longest prompt + its answer: KV held at the end
CV2 = (0.3 * 800**2 + 0.5 * 1500**2 + 0.2 * 3000**2 - S_IN**2) / S_IN**2   # prompt length variability
_A = get_model("llama-3.1-70b").arch


def _work(length: float) -> float:
    """FLOPs of prefilling one prompt, 40 % cached: 2·P_active per new token + causal pairs
    (s²/2 + s·c) × FLOPs per pair × layers: a prefill queue's service grows with it."""
    s, c = 0.6 * length, 0.4 * length
    return 2 * _A.params_active * s + (s * s / 2 + s * c) * _A.attn_flops_per_pair(absorbed=False) * _A.layers


W_MEAN = 0.3 * _work(800) + 0.5 * _work(1500) + 0.2 * _work(3000)
WORK_CV2 = (0.3 * _work(800) ** 2 + 0.5 * _work(1500) ** 2 + 0.2 * _work(3000) ** 2) / W_MEAN**2 - 1
P90_WORK = _work(3000) / W_MEAN                     # the p90 prompt's work ÷ the mean's
TTFT, TPOT, CEILING = 1.0, 0.040, 0.95              # SLO; default max_utilization_percent 95


def dep_of(plan, c) -> Deployment:
    r = plan.resolved
    assert (r.weight_dtype, r.kv_dtype) == ("fp8", "fp8")   # precision: {weights: fp8, kv: fp8}
    return Deployment(r.model, get_gpu(c.gpu), c.par, r.calib, "fp8", "fp8")


def kv_per_token_per_card(dep: Deployment) -> float:
    """GQA: 2 (K and V) · layers/pp · ⌈kv_heads/tp⌉ · head_dim · 1 byte (FP8)."""
    a = dep.arch
    return 2 * a.layers / dep.par.pp * math.ceil(a.kv_heads / dep.par.tp) * a.head_dim * 1


def usable_capacity(plan, c) -> tuple[float, float]:
    """(prefill, decode) tokens/s one instance may carry, recomputed:
    prefill pool: raw = B·pp·s_unc / D(B) (D with the attention of prompts of squared coefficient of
      variation cv², (1 + cv²) times the mean prompt's pairs), ρ_max the largest utilisation of the batching queue
      (B prompts per pass, passes D(1) … D(B)) whose p90 TTFT is within the limit with the
      KV transfer and request overhead; capacity ρ_max·raw, and no more than its NICs can ship
      KV for: cards·NIC·η_n / (kv_bytes_per_token · s_in/s_unc);
    decode pool: b/(decode(b)/a) at its design batch b (a tokens per step);
    colocated pool: b decodes every step and, on a share p/C of the steps, a chunk of C prompt
      tokens (p prompt tokens per step on average, a multiple k of b·s_unc/s_out); the mean step
      T = (p/C)·mixed(b, C) + (1 − p/C)·decode(b); raw = C / mixed(b, C), D = ⌈s_unc/C⌉·mixed(b, C),
      ρ_max as above with the request overhead only; capacity min(p/T, ρ_max·raw); decode b/(T/a)."""
    dep = dep_of(plan, c)
    calib = dep.calib
    overhead = perf.request_overhead_s(dep)
    if c.role == "prefill":
        d = perf.prefill_pass(dep, c.batch, S_UNC, S_IN - S_UNC, CV2).time_s   # prompts of unequal length
        d1 = perf.prefill_pass(dep, 1, S_UNC, S_IN - S_UNC, CV2).time_s
        raw = c.batch * c.par.pp * S_UNC / d
        fixed = perf.kv_transfer_time(dep, S_IN) + overhead
        rho = float(prefill_queue.max_rho("p90", TTFT, Servers.of(c.batch, c.par.pp, d, d1), fixed, WORK_CV2,
                                          P90_WORK, CEILING))
        kv_bytes = 2 * dep.arch.layers * dep.arch.kv_heads * dep.arch.head_dim * 1
        nic = c.cards * dep.gpu.nic_bytes_per_s * calib.v("network_efficiency") / (kv_bytes * S_IN / S_UNC)
        return min(rho * raw, nic), 0.0
    if c.role == "decode":   # at mean batch b a request sees itself and b others, within the slots
        seen = min(c.batch + 1, perf.max_batch(dep, CTX_PEAK))
        return 0.0, c.batch / (perf.decode_step(dep, seen, CTX_DECODE).time_s / calib.v("decode_tokens_per_step"))
    assert c.role == "colocated"
    mixed = perf.mixed_step(dep, c.batch, CTX_DECODE, c.chunk_tokens, S_IN, CV2).time_s
    decode = perf.decode_step(dep, c.batch, CTX_DECODE).time_s
    d = math.ceil(S_UNC / c.chunk_tokens) * mixed
    rho = queueing.max_utilisation(TTFT - d * P90_WORK - overhead, d, "p90", WORK_CV2, CEILING)
    a = calib.v("decode_tokens_per_step")
    for k in (1.0, 1.25, 1.5, 2.0, 3.0):   # the design's prefill multiple: the one whose mean step it has
        p = c.batch * S_UNC / S_DEC * k
        share = p / c.chunk_tokens
        step = share * mixed + (1 - share) * decode
        if c.batch / (step / a) == pytest.approx(c.decode_tok_s, rel=1e-9):
            return min(p / step, rho * c.chunk_tokens / mixed), c.batch / (step / a)
    raise AssertionError(f"{c.name}: no prefill multiple gives its decode capacity")


def test_the_plan_is_what_the_other_tests_assume(plan, checks):
    """One rented H100 node (97.20 RMB/h): one TP4 prefill instance of 16 prompts per pass and two
    TP2 decode instances, since HiGHS's lighter search (`solver.LIGHT_SEARCH`, forty-fifth session);
    three TP1 prefill instances of 4 beside the same decode since a decode request sees the batch
    beyond the design one, up to the slots (twenty-third session); two TP2 prefill instances of 16
    and one TP4 decode instance from decode pools' slot wait taking the hold that grows as the slots fill (twenty-second
    session); three TP1 prefill instances of 4 and two TP2 decode instances
    from the prefill queue's wait taking the spread of the prompts' work (2026-12-04; one TP4
    prefill instance of 16 before, with the same decode). Other layouts
    of the node cost the same, and small changes flip between them: three TP1 prefill instances
    of 4 beside the same decode with the profiles of 2026-12-04 too,
    one TP4 decode instance beside those prefill instances until then; the prompt-length terms of
    2026-12-03 (twelfth session) gave two TP2 decode instances and TP2 prefill instances of 4;
    before that, four TP1 prefill instances of 2 and one TP4 decode instance. The checks below
    hold for any of them (both roles on one node)."""
    assert plan.verification.passed
    assert {g for g, (r, o) in plan.nodes.items() if r + o} == {"h100"}
    assert sorted((c.role, c.par.tp, c.batch if c.role == "prefill" else 0, n) for c, n in plan.chosen.items()) \
        == [("decode", 2, 0, 2), ("prefill", 4, 16, 1)]


def test_capacity_checks_recomputed(plan, checks):
    """prefill: Σ n·capacity ≥ qps·s_unc = 20·954 = 19 080 tokens/s;
    decode: Σ n·capacity ≥ qps·(s_out − 1) = 20·399 = 7 980 tokens/s (each request's first token
    comes from its prompt's pass)."""
    pre = sum(n * usable_capacity(plan, c)[0] for c, n in plan.chosen.items())
    dec = sum(n * usable_capacity(plan, c)[1] for c, n in plan.chosen.items())
    c_pre, c_dec = checks["prefill_capacity"], checks["decode_capacity"]
    assert c_pre.limit == pytest.approx(QPS * S_UNC) == pytest.approx(19_080)
    assert c_dec.limit == pytest.approx(QPS * S_DEC) == pytest.approx(7_980)
    assert c_pre.value == pytest.approx(pre, rel=1e-9)
    assert c_dec.value == pytest.approx(dec, rel=1e-9)
    assert (c_pre.sense, c_dec.sense) == (">=", ">=")
    assert pre >= QPS * S_UNC and dec >= QPS * S_DEC
    assert c_pre.ok and c_dec.ok


def _decode_batch(plan, c, dec_load: float) -> float:
    """Sequences in flight of a decode instance at its load, by Little's law with the step a
    request sees (its own sequence beside the others, within the slots its memory admits:
    `batch_seen`): b·a/decode(seen(b)) = load (bisection)."""
    from planner.physics.batch_spread import batch_seen
    dep = dep_of(plan, c)
    a = dep.calib.v("decode_tokens_per_step")
    lo, hi = 1e-6, float(c.batch)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        step = perf.decode_step(dep, batch_seen(mid, perf.max_batch(dep, CTX_PEAK)), CTX_DECODE).time_s
        lo, hi = (mid, hi) if mid * a / step < dec_load else (lo, mid)
    return hi


def _colocated_batch(plan, c, dec_load: float, pre_load: float) -> float:
    """Sequences in flight: a mean step of time t carries b = dec_load·t/a decodes and p =
    pre_load·t prompt tokens, a share p/C of the steps a whole chunk C = s_unc (problem budget
    16,384 > s_unc): t = (p/C)·mixed(b, C) + (1 − p/C)·decode(b); bisection on t."""
    dep = dep_of(plan, c)
    a = dep.calib.v("decode_tokens_per_step")
    chunk = S_UNC

    def excess(t):
        b, p = dec_load * t / a, pre_load * t
        share = min(p / chunk, 1.0)
        mixed = perf.mixed_step(dep, b, CTX_DECODE, chunk if share < 1 else p, S_IN).time_s
        return share * mixed + (1 - share) * perf.decode_step(dep, b, CTX_DECODE).time_s - t
    lo, hi = 1e-6, 10.0
    assert excess(lo) > 0 > excess(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return dec_load * hi / a


def test_memory_checks_recomputed(plan, checks):
    """Per card: weights + sequences·context·KV bytes per token per card ≤ 80 GB · usable fraction.
    Prefill holds B prompts of the mean length; a colocated instance its actual batch (its share
    of the load, split by capacity) at the peak context."""
    pre_total = sum(n * usable_capacity(plan, c)[0] for c, n in plan.chosen.items())
    dec_total = sum(n * usable_capacity(plan, c)[1] for c, n in plan.chosen.items())
    for c in plan.chosen:
        dep = dep_of(plan, c)
        weights = perf.weights_per_card_bytes(dep)
        assert weights == pytest.approx(70.6e9 / c.par.tp, rel=0.02)   # 70.6 B parameters at 1 byte
        if c.role == "prefill":
            expected = weights + c.batch * S_IN * kv_per_token_per_card(dep)
        elif c.role == "decode":
            b = _decode_batch(plan, c, QPS * S_DEC * usable_capacity(plan, c)[1] / dec_total)
            assert 0 < b <= c.batch
            expected = weights + math.ceil(b) * CTX_PEAK * kv_per_token_per_card(dep)
        else:
            pre_cap, dec_cap = usable_capacity(plan, c)
            b = _colocated_batch(plan, c, QPS * S_DEC * dec_cap / dec_total, QPS * S_UNC * pre_cap / pre_total)
            assert 0 < b <= c.batch
            expected = weights + math.ceil(b) * CTX_PEAK * kv_per_token_per_card(dep)
        chk = checks[f"memory[{c.name}]"]
        assert chk.limit == pytest.approx(80e9 * dep.calib.v("memory_usable_fraction"))
        assert chk.value == pytest.approx(expected, rel=1e-9), c.name
        assert expected <= chk.limit and chk.ok


def test_node_cover_and_cost_recomputed(plan, checks):
    """Cards Σ n·tp·pp·dp ≤ nodes·8; cost = Σ nodes·8·price (H100: 12.15 RMB per card-hour)."""
    cards = sum(n * c.par.tp * c.par.pp * c.par.dp for c, n in plan.chosen.items())
    rented, owned = plan.nodes["h100"]
    assert owned == 0
    cover = checks["node_cover[h100]"]
    assert (cover.value, cover.limit, cover.sense) == (cards, rented * 8, "<=")
    assert cards <= rented * 8 < cards + 8   # whole nodes, none idle
    cost = sum(r * 8 * get_gpu(g).price_per_card_hour for g, (r, _) in plan.nodes.items())
    assert get_gpu("h100").price_per_card_hour == pytest.approx(12.15)
    assert plan.cost_per_hour == pytest.approx(cost, rel=1e-9) == pytest.approx(rented * 8 * 12.15)
    match = checks["cost_matches_solver"]
    assert match.value == pytest.approx(abs(cost - plan.solver.objective), abs=1e-9)
    assert match.limit == pytest.approx(1e-6 * cost) and match.ok


def test_one_decode_instance_fewer_fails_the_capacity_check(plan):
    """Take one instance from the pool with the most decode capacity: the decode check must fail
    by exactly that instance's capacity (the plan has no decode slack that large)."""
    res = plan.resolved
    pools, ok_checks = verify_service(res, dict(plan.chosen))
    assert all(c.ok for c in ok_checks)                     # the untampered pools pass
    victim = max(plan.chosen, key=lambda c: c.decode_tok_s)
    assert victim.decode_tok_s > 0
    tampered = dict(plan.chosen)
    tampered[victim] -= 1
    if tampered[victim] == 0:
        del tampered[victim]
    _, bad = verify_service(res, tampered)
    by = {c.name: c for c in bad}
    dec = by["decode_capacity"]
    assert not dec.ok
    assert dec.value == pytest.approx(sum(n * usable_capacity(plan, c)[1] for c, n in tampered.items()), rel=1e-9)
    assert dec.value < QPS * S_DEC


def test_pool_and_check_names_are_unique_in_every_plan():
    """Two colocated operating points of one shape can share a candidate's name (fleet_day's H20
    batch pools in hour 21: the same batch and chunk, another share of prompt tokens per step);
    the second pool is `…#2`, so a name identifies one pool in the JSON, the checks and the
    simulation. Checked on every plan the golden outputs hold, and on such a pair by hand."""
    import json
    from collections import Counter

    def walk(x):
        if isinstance(x, dict):
            pools = x.get("pools")
            if isinstance(pools, list) and pools and isinstance(pools[0], dict) and "role" in pools[0]:
                names = Counter((q.get("service"), q["name"]) for q in pools)
                assert max(names.values()) == 1, names.most_common(1)
            checks = (x.get("verification") or {}).get("checks") if isinstance(x.get("verification"), dict) else None
            if checks:
                names = Counter(c["name"] for c in checks)
                assert max(names.values()) == 1, names.most_common(1)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    for path in sorted((ROOT / "tests" / "golden").rglob("*.json")):
        walk(json.loads(path.read_text()))
    # the goldens held such a pair until decode requests came to see the batch beyond the design one
    # (the twenty-third session): two operating points of one colocated shape, by hand
    from dataclasses import replace

    from planner.input.load import load_problem
    from planner.plan.solve import solve

    problem = load_problem(ROOT / "problems" / "llama70b_chat.yaml")
    problem = problem.model_copy(update={"serving": problem.serving.model_copy(update={"modes": ["colocated"]})})
    col = solve(problem, "llama70b_chat.yaml")
    c = next(c for c in col.chosen if c.role == "colocated")
    other = replace(c, prefill_tok_s=0.9 * c.prefill_tok_s)
    assert other.name == c.name and other != c
    pools, checks = verify_service(col.resolved, {c: 1, other: 1})
    assert sorted(st.name for st in pools) == [c.name, c.name + "#2"]
    assert max(Counter(ch.name for ch in checks).values()) == 1
