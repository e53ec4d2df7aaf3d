"""The queues and candidates of many shapes as arrays against the per-element path they replace.

Candidates must not move by a bit, so each array path must give every element the float the
scalar code gives it: the slot queue's growing-hold chain (`queueing.state_dependent_many`
against `_state_dependent_scalar`), the MoE passes' powers taken once per run of equal pairs
(`physics.batched._pow_pairs` against one `pow` per pair), and whole problems' candidates (MoE and
dense, pp > 1, MTP drafts, prompt mixes, a p99 TPOT) against those of the per-element path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.input.load import load_problem
from planner.physics import batched, queueing
from planner.plan import candidate as candidate_mod
from planner.plan import candidates as candidates_mod
from planner.plan.resolve import resolve

ROOT = Path(__file__).resolve().parent.parent


def bits(x) -> bytes:
    return np.asarray(x, dtype=float).tobytes()


def _queues(n: int, seed: int):
    """Slot queues near and far from their slots, stable and not, peaked and not, short chains
    (a float loop in the scalar) and long ones (numpy in the scalar), fewer slots than the peak."""
    rng = np.random.default_rng(seed)
    c = np.floor(np.exp(rng.uniform(0.0, 10.0, n)))
    a = c * rng.uniform(0.3, 1.02, n) - rng.uniform(0.0, 3.0, n) * np.sqrt(c) * rng.integers(0, 2, n)
    hold = rng.uniform(0.01, 30.0, n) * (rng.uniform(size=n) > 0.01)
    full = hold * rng.uniform(0.9, 1.6, n)
    cv2 = rng.uniform(0.0, 4.0, n)
    peak = np.where(rng.uniform(size=n) < 0.4, 1.0, rng.uniform(1.0, 5.0, n))
    return a, c, hold, cv2, full, peak


@pytest.mark.parametrize("seed", [1, 2])
def test_the_chains_as_arrays_are_each_queue_s_scalar(seed):
    a, c, hold, cv2, full, peak = _queues(20_000, seed)
    got = queueing.state_dependent_many(a, c, hold, cv2, full, peak)
    want = [queueing._state_dependent_scalar(*map(float, q)) for q in zip(a, c, hold, cv2, full, peak)]
    assert bits(got) == bits(want)
    finite = np.isfinite(got) & (got > 0)
    assert finite.sum() > 5_000 and np.isinf(got).sum() > 1_000 and (got == 0).sum() > 1_000
    terms = np.minimum(c, np.ceil(c - a + 9.0 * np.sqrt(np.maximum(a, 0.0)) + 10.0))
    assert (finite & (terms > queueing.ERLANG_LOOP_TERMS)).any() and (finite & (terms <= 20)).any()


def test_the_array_slot_wait_takes_the_chains_as_arrays():
    """`slot_wait_s` of arrays with a growing hold: each element the scalar call's float (one slot
    at a peak above one: no chain terms at all; an unstable queue; one far from its slots)."""
    a = np.array([0.5, 11.8, 3.0, 16.9, 10.0, 60.0, 2900.0])
    c = np.array([1, 17, 4, 17, 200, 70, 3000])
    hold, full = np.full(7, 18.5), np.array([20.0, 21.6, 20.0, 30.0, 19.0, 25.0, 19.0])
    for peak in (1.0, 1.7):
        got = queueing.slot_wait_s(a, c, hold, 0.6, full, peak)
        want = [queueing.slot_wait_s(float(x), int(y), 18.5, 0.6, float(f), peak) for x, y, f in zip(a, c, full)]
        assert bits(got) == bits(want)


def test_powers_once_per_run_are_each_pair_s_power():
    rng = np.random.default_rng(3)
    exps = np.repeat(rng.uniform(0.0, 300.0, 50), rng.integers(1, 6, 50))
    exps[:3] = [0.0, -0.0, 0.0]
    exps[10:12] = np.nan
    bases = np.repeat(rng.uniform(0.0, 1.0, 20), len(exps) // 20 + 1)[:len(exps)]
    bases[5:8] = [0.0, -0.0, -0.0]
    for b in (bases, 0.96875):
        got = batched._pow_pairs(b, exps)
        assert bits(got) == bits(batched._pow_list(b, exps))
    assert bits(batched._pow_pairs(bases[:1], exps[:1])) == bits([bases[0] ** exps[0]])


def test_powers_by_math_pow_are_python_s_power():
    """`_pow_list` (`math.pow`) gives `**`'s float for every pair, zeros of either sign, a base of 1,
    odd and even whole exponents, huge and tiny ones, NaN and infinite exponents included."""
    rng = np.random.default_rng(5)
    bases = np.concatenate([rng.uniform(0.0, 1.0, 400), [0.0, -0.0, 1.0, 0.5, 1e-300, 0.999999]])
    exps = np.concatenate([rng.uniform(0.0, 5000.0, 400), [3.0, 3.0, np.nan, np.inf, 0.0, -0.0]])
    got = batched._pow_list(bases, exps)
    assert bits(got) == bits([b ** e for b, e in zip(bases.tolist(), exps.tolist())])
    for b in (0.96875, 0.0, -0.0, 1.0):
        assert bits(batched._pow_list(b, exps)) == bits([b ** e for e in exps.tolist()])


def _one_by_one_candidates(self, dep, w, mem_limit, g):
    """`_Pick.candidates` point by point, as before the arrays: each point's memory at its batch
    (`perf.memory_use`) and its step's `PhaseTime.bound`."""
    import math

    from planner.physics import perf
    nic = dep.par.cards * dep.gpu.nic_bytes_per_s
    out = []
    for j, (pt, r) in enumerate(zip(self.at.tolist(), self.sel.tolist())):
        out.append(candidates_mod.Candidate(
            "colocated", dep.gpu.id, dep.par, g.b_int[pt], float(g.chunk_c[r]), float(self.prefill[j]),
            float(self.raw[j]), float(self.decode[j]), float(g.rho[r]), float(g.service[r]), float(self.ttft[j]),
            float(g.t_stat[pt]), 0.0, nic, perf.memory_use(dep, math.ceil(g.b_stat[pt]), w.ctx_peak).total_bytes,
            g.st.at(pt).bound, "memory" if math.ceil(g.b_stat[pt]) >= mem_limit else "slo", dep.spec))
    return out


def _per_element_chains(a, c, hold, cv2, full, peak):
    return np.array([queueing._state_dependent_scalar(*map(float, q)) for q in zip(a, c, hold, cv2, full, peak)])


@pytest.mark.parametrize("name", ["deepseek_qps.yaml", "deepseek_mtp.yaml", "deepseek_trace.yaml", "deepseek_p99.yaml",
                                  "llama70b_chat.yaml", "rag_long_context.yaml", "deepseek_b200_fp4_experts.yaml"])
def test_a_problem_s_candidates_are_the_per_element_path_s(name, monkeypatch):
    """Every candidate and rejection of the problem (MoE and dense, pp > 1, MTP, prompt mixes, p99)
    the same, by repr, as with the chains, the powers and the colocated candidates one by one."""
    res = resolve(load_problem(ROOT / "problems" / name), name)
    candidate_mod.clear_memo()
    got = candidates_mod.generate(res)
    with monkeypatch.context() as m:
        m.setattr(queueing, "state_dependent_many", _per_element_chains)
        m.setattr(batched, "_pow_pairs", batched._pow_list)
        m.setattr(candidates_mod._Pick, "candidates", _one_by_one_candidates)
        candidate_mod.clear_memo()
        want = candidates_mod.generate(res)
    candidate_mod.clear_memo()
    assert len(got.candidates) > 10
    assert repr(got) == repr(want)


@pytest.mark.parametrize("name", ["deepseek_mtp.yaml", "deepseek_p99.yaml", "llama70b_chat.yaml", "deepseek_trace.yaml",
                                  "small_model_cheap_card.yaml"])
def test_slot_tables_together_are_each_shape_s_table(name):
    """`decode_tables.slot_tables_all` remembers for every shape the very table `slot_table` builds alone
    (MTP drafts, a p99 TPOT's statistic batches, prompt mixes, pp > 1)."""
    from planner.physics.queueing import no_wait_below
    from planner.plan.decode_tables import slot_key, slot_table, slot_tables_all
    from planner.plan.workload import workload_context
    from tests.test_many_shapes import shapes_of
    res = resolve(load_problem(ROOT / "problems" / name), name)
    w = workload_context(res)
    items = [(dep, slots) for dep, slots in shapes_of(res, w) if slots > max(1.0, no_wait_below(slots))]
    assert len(items) > 5 and any(d.par.pp > 1 for d, _ in items)
    candidate_mod.clear_memo()
    slot_tables_all(items, w)
    together = [candidate_mod.recall("_slot_table", d, slot_key(w, c)) for d, c in items]
    candidate_mod.clear_memo()
    alone = [slot_table(d, w, c) for d, c in items]
    candidate_mod.clear_memo()
    for (d, _), x, y in zip(items, together, alone):
        assert x[0] == y[0] and bits(x[1]) == bits(y[1]) and bits(x[2]) == bits(y[2]) and x[3] == y[3] == {}, d.par


def test_seen_shares_of_sets_together_are_each_set_s_alone():
    """`packed.seen_shares` takes 1 − φⁿ and n·(1 − φ) once for a length both sets of lives hold
    (the requests' and the tokens'): each set's shares the floats of that set asked alone."""
    from planner.physics import packed
    rng = np.random.default_rng(5)
    n = 2_000
    f = rng.uniform(0.05, 1.0, n)
    t_d = rng.uniform(0.01, 0.05, n)
    t_c = t_d + rng.uniform(0.0, 0.2, n)
    k, ratio = rng.uniform(0.2, 3.0, n), rng.uniform(1.0, 3.0, n)
    lives = ((199.0, 0.5), (999.0, 0.3), (3999.0, 0.2))
    sets = (lives, packed.token_lives(lives), ())
    together = packed.seen_shares(f, t_c, t_d, k, ratio, sets, 1.7)
    for s, got in zip(sets, together):
        assert bits(got) == bits(packed.seen_shares(f, t_c, t_d, k, ratio, (s,), 1.7)[0])


@pytest.mark.parametrize("name", ["deepseek_mtp.yaml", "deepseek_p99.yaml", "llama70b_chat.yaml",
                                  "small_model_cheap_card.yaml", "deepseek_b200_fp4_experts.yaml"])
def test_first_tpots_together_are_perf_s(name):
    """`decode._first_tpots` remembers, for the batches each decode search starts from (one sequence
    and the memory's slots), the very float `perf.tpot` gives each shape alone (MoE and dense,
    pp > 1, MTP drafts, FP4 experts)."""
    from planner.physics import perf
    from planner.plan.candidate import deployment
    from planner.plan.decode import _first_tpots
    from planner.plan.shapes import shapes_for
    from planner.plan.speculative import speculations
    from planner.plan.workload import workload_context
    res = resolve(load_problem(ROOT / "problems" / name), name)
    w = workload_context(res)
    items = [(d, perf.max_batch(d, w.ctx_peak)) for d in (deployment(res, opt, par, s) for opt in res.gpus
                                                          for par in shapes_for(res, opt) for s in speculations(res))]
    items = [(d, c) for d, c in items if c >= 1]
    assert len(items) > 5 and any(d.par.pp > 1 for d, _ in items)
    candidate_mod.clear_memo()
    _first_tpots(items, w.ctx_decode, {})
    for dep, c in items:
        for b in (1, c):
            got = candidate_mod.recall("tpot", dep, (b, w.ctx_decode))
            assert got is not None and bits(got) == bits(perf.tpot(dep, b, w.ctx_decode)), (dep.par, b)
    candidate_mod.clear_memo()


def test_bulk_fields_read_flat_are_the_table_s_cells():
    """`bulk_table.BulkLookup.field` reads each cell corner by its flat index: the very elements, and
    so the very bilinear floats, of indexing the table by (B, g, field, x)."""
    from planner.physics import bulk_table
    rng = np.random.default_rng(7)
    n = 5_000
    batch = 2 ** rng.integers(1, len(bulk_table.BATCHES) + 1, n)
    look = bulk_table.lookup(batch, rng.uniform(0.0, 1.2, n), rng.uniform(0.0, 1.0, n), rng.integers(1, 20, n))
    t, b, i0, j0, fr, fx = bulk_table.table(), look.b, look.i0, look.j0, look.fr, look.fx
    for name, k in bulk_table.FIELD_INDEX.items():
        want = ((1 - fr) * ((1 - fx) * t[b, i0, k, j0] + fx * t[b, i0, k, j0 + 1])
                + fr * ((1 - fx) * t[b, i0 + 1, k, j0] + fx * t[b, i0 + 1, k, j0 + 1]))
        assert bits(look.field(name)) == bits(want), name


def _picks_one_by_one(deps, w, mem_limits, tables, np):
    return [candidates_mod._colocated_pick(d, w, c, t, np) if c >= 1 else None
            for d, c, t in zip(deps, mem_limits, tables)]


@pytest.mark.parametrize("name", ["deepseek_qps.yaml", "deepseek_mtp.yaml", "deepseek_p99.yaml", "llama70b_chat.yaml",
                                  "rag_long_context.yaml", "small_model_cheap_card.yaml"])
def test_colocated_picks_together_are_each_shape_s_pick(name, monkeypatch):
    """`_colocated_picks` (every shape's points and Pareto front at once) picks what `_colocated_pick` picks
    shape by shape: every candidate and rejection the same, by repr."""
    res = resolve(load_problem(ROOT / "problems" / name), name)
    candidate_mod.clear_memo()
    got = candidates_mod.generate(res)
    monkeypatch.setattr(candidates_mod, "_colocated_picks", _picks_one_by_one)
    candidate_mod.clear_memo()
    want = candidates_mod.generate(res)
    candidate_mod.clear_memo()
    assert sum(c.role == "colocated" for c in got.candidates) > 10
    assert repr(got) == repr(want)
