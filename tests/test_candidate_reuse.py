"""Candidates evaluated together and reused must be the candidates of one shape alone, from scratch.

`prefill.prefill_candidates` puts every (shape, B) of a problem through the batching queue in one
call, and memoises each shape's result on the workload's prefill side; a colocated grid is memoised
cut at the TPOT limit it was made for, and serves limits up to it. Each test compares the reused or
joint result with a cold, one-shape evaluation, float for float (the golden plans must not move by
a bit).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planner.input.load import load_problem
from planner.plan import candidate as candidate_mod
from planner.plan.candidates import clear_memo, colocated_all, colocated_candidates, generate
from planner.plan.prefill import prefill_candidate, prefill_candidates, prefill_side
from planner.plan.resolve import resolve
from planner.plan.shapes import shapes_for
from planner.plan.workload import workload_context
from planner.studies.sweep import problem_at

ROOT = Path(__file__).resolve().parents[1]


def resolved(name: str, **slo):
    problem = load_problem(ROOT / "problems" / name)
    return resolve(problem_at(problem, slo) if slo else problem, name)


@pytest.mark.parametrize("name", ["deepseek_qps.yaml", "llama70b_chat.yaml", "rag_long_context.yaml",
                                  "deepseek_mtp.yaml", "small_model_cheap_card.yaml"])
def test_joint_prefill_evaluation_equals_each_shape_alone(name):
    res = resolved(name)
    w = workload_context(res)
    shapes = [(opt, par) for opt in res.gpus for par in shapes_for(res, opt)]
    clear_memo()
    joint = prefill_candidates(res, shapes, w)
    alone = []
    for opt, par in shapes:
        clear_memo()
        alone.append(prefill_candidate(res, opt, par, w))
    assert len(joint) == len(shapes) > 10
    assert joint == alone
    assert sum(1 for c in joint if hasattr(c, "prefill_tok_s")) > 5   # real candidates, not only rejections


@pytest.mark.parametrize("name", ["llama70b_chat.yaml", "rag_long_context.yaml", "deepseek_mtp.yaml",
                                  "sxm_or_pcie.yaml"])
def test_joint_colocated_evaluation_equals_each_shape_alone(name):
    """The chunk queue of every shape's grid, and the TTFT of every kept point, in one call each:
    the same candidates (and rejections) as one shape at a time, from a cold memo."""
    res = resolved(name)
    w = workload_context(res)
    items = [(opt, par, None) for opt in res.gpus for par in shapes_for(res, opt)]
    clear_memo()
    joint = colocated_all(res, items, w)
    alone = []
    for opt, par, spec in items:
        clear_memo()
        alone.append(colocated_candidates(res, opt, par, w, spec))
    assert joint == alone
    assert sum(len(r) for r in joint if isinstance(r, list)) > 10


def test_prefill_side_leaves_out_only_the_decode_side():
    res = resolved("deepseek_qps.yaml")
    w = workload_context(res)
    assert prefill_side(w) == prefill_side(replace(w, tpot_limit=0.001, s_out=7.0, ctx_decode=1.0))
    assert prefill_side(w) != prefill_side(replace(w, s_in=w.s_in + 1))
    assert prefill_side(w) != prefill_side(replace(w, pass_token_budget=w.pass_token_budget // 2))
    assert prefill_side(w) != prefill_side(replace(w, util_ceiling=0.5))


def test_a_tpot_sweep_reuses_prefill_and_colocated_work_and_gets_the_cold_answer():
    """Generate at one TPOT limit, then at another from the warm memo: equal to a cold generate at
    the second, and the second prefill pass computes nothing new."""
    first, second = resolved("deepseek_qps.yaml", tpot=0.030), resolved("deepseek_qps.yaml", tpot=0.080)
    clear_memo()
    cold = generate(second)
    clear_memo()
    generate(first)
    def count(name):
        return sum(1 for k in candidate_mod.memo_table if k[0] == name)
    before = {name: count(name) for name in ("prefill_candidate", "_colocated_table", "tpot")}
    warm = generate(second)
    assert warm == cold
    assert warm.candidates != generate(first).candidates            # the TPOT limit does matter
    shapes = sum(len(shapes_for(second, opt)) for opt in second.gpus)
    assert before["prefill_candidate"] == count("prefill_candidate") == shapes   # one per shape, not per limit
    assert before["_colocated_table"] == count("_colocated_table") > 20
    assert count("tpot") > before["tpot"]                            # decode work is per limit


@pytest.mark.parametrize("limits", [(0.012, 0.02, 0.035, 0.06), (0.06, 0.035, 0.02, 0.012, 0.02)])
def test_colocated_grid_from_the_memo_at_many_limits_equals_cold(limits):
    """Looser limits after tighter ones (a cut grid is computed whole again), tighter after looser (a
    grid cut at a looser limit serves them), from the warm memo: each limit's candidates and
    rejections equal a cold evaluation at it."""
    res_by_limit = {t: resolved("llama70b_chat.yaml", tpot=t) for t in limits}
    clear_memo()
    for t, res in res_by_limit.items():               # warm: every limit after the first reads the memo
        w = workload_context(res)
        opt = res.gpus[0]
        warm = [colocated_candidates(res, opt, par, w) for par in shapes_for(res, opt)]
        clear_memo()
        cold = [colocated_candidates(res, opt, par, w) for par in shapes_for(res, opt)]
        assert warm == cold, t
        generate(res)                                  # leave the memo warm for the next limit


@pytest.mark.parametrize("name", ["deepseek_qps.yaml", "rag_long_context.yaml", "llama70b_chat.yaml"])
def test_decode_candidates_from_the_memo_at_many_limits_equal_cold(name):
    """The decode search's rounds and its slot-wait tables are memoised without the TPOT limit (a
    TPOT sweep repeats them): every limit's decode candidates, computed after the others from the
    warm memo, equal a cold evaluation at that limit. Some limits must put shapes' batches in
    their slot-wait range (rag's memory-held decode pools), or the tables go unread."""
    from planner.plan.decode import decode_candidate
    limits = (0.08, 0.02, 0.05, 0.03, 0.12, 0.05)

    def run(t):
        res = resolved(name, tpot=t)
        w = workload_context(res)
        return [decode_candidate(res, opt, par, w) for opt in res.gpus for par in shapes_for(res, opt)]

    cold = {}
    for t in limits:
        clear_memo()
        cold[t] = run(t)
    clear_memo()
    for t in limits:
        assert run(t) == cold[t], t
    if name == "rag_long_context.yaml":
        assert any(k[0] == "_slot_table" for k in candidate_mod.memo_table)


def test_keep_heap_is_once_and_harmless_without_mallopt(monkeypatch):
    """`candidate.keep_heap` sets glibc's heap options once per process and does nothing (no error)
    where the C library has no `mallopt` (macOS, Windows) or ctypes is missing."""
    import ctypes

    calls = []

    class NoMallopt:
        def __init__(self, name):
            calls.append(name)

    monkeypatch.setattr(candidate_mod, "_heap", {"kept": False})
    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    candidate_mod.keep_heap()
    candidate_mod.keep_heap()
    assert calls == [None] and candidate_mod._heap["kept"]

    def no_library(name):
        raise OSError(name)

    monkeypatch.setattr(candidate_mod, "_heap", {"kept": False})
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    with candidate_mod.gc_paused():   # generation runs on as it did
        pass
    assert candidate_mod._heap["kept"]


@pytest.mark.parametrize("name, tpot", [("llama70b_chat.yaml", 0.02), ("deepseek_qps.yaml", None),
                                        ("rag_long_context.yaml", None), ("deepseek_mtp.yaml", None)])
def test_a_grid_cut_at_a_tpot_limit_is_the_whole_grid_without_points_beyond_it(name, tpot):
    """`grid_tables` cut at a TPOT limit leaves out only mean batches whose every point's TPOT
    statistic in the whole grid passes it, and each point it keeps has the whole grid's floats.
    A shape with no mean left keeps its whole grid (cut at inf)."""
    import math

    import numpy as np

    from planner.physics import perf
    from planner.plan import colocated_many
    from planner.plan.candidate import deployment

    res = resolved(name, tpot=tpot) if tpot else resolved(name)
    w = replace(workload_context(res), tpot_limit=0.0)
    limit = workload_context(res).tpot_limit
    deps = [deployment(res, opt, par) for opt in res.gpus for par in shapes_for(res, opt)]
    slots = [perf.max_batch(d, w.ctx_peak) for d in deps]
    deps, slots = [d for d, c in zip(deps, slots) if c >= 1], [c for c in slots if c >= 1]
    whole = colocated_many.tables(deps, w, slots)
    cut = colocated_many.tables(deps, w, slots, limit)
    dropped = 0
    for a, b in zip(whole, cut):
        assert a.cut_s == math.inf
        kept = np.isin(a.bs, b.bs)
        if b.cut_s == math.inf:   # no mean within the limit: the whole grid
            assert np.array_equal(a.bs, b.bs) and np.array_equal(a.t_stat, b.t_stat)
            assert (a.t_stat > limit).all()
            continue
        assert b.cut_s == limit
        assert (a.t_stat[~kept] > limit).all()
        dropped += int((~kept).sum())
        for field in ("bs", "p", "t", "t_stat", "b_stat"):
            assert np.array_equal(getattr(a, field)[kept], getattr(b, field), equal_nan=True), field
        assert np.array_equal(a.st.time_s[kept], b.st.time_s) and np.array_equal(a.st.memory_s[kept], b.st.memory_s)
        rows = np.flatnonzero(kept[a.fit])
        for field in ("chunk_c", "full", "service", "t_full", "pre"):
            assert np.array_equal(getattr(a, field)[rows], getattr(b, field), equal_nan=True), field
    assert dropped > 20   # the cut leaves points out
