"""Rewrites of candidate generation's hot paths against the code they replace (the forty-eighth
session): each must give every element the float the old code gives, bit for bit, so no candidate
moves. The old formulas are copied here as they stood."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.input.load import load_problem
from planner.physics import batched, packed
from planner.physics.deployment import (
    draft_share,
    kv_bytes_per_sequence,
    kv_bytes_per_token_per_card,
    linear_state_bytes_per_sequence_per_card,
    memory_use,
)
from planner.plan import candidate as candidate_mod
from planner.plan.candidate import deployment
from planner.plan.decode import _narrow
from planner.plan.resolve import resolve
from planner.plan.shapes import shapes_for
from planner.plan.speculative import speculations

ROOT = Path(__file__).resolve().parent.parent


def bits(x) -> bytes:
    return np.asarray(x, dtype=float).tobytes()


def _old_capped_moments(u, x_bar, t_plain, t_bar, lam, phi, work_sq, cap):
    m = np.exp(u)
    e = np.exp(-cap / m)
    p = x_bar / (m * (1.0 - e))
    a0 = x_bar - phi * t_bar
    over, over_sq = p * m * e, 2.0 * p * m * m * e
    taken_sq = p * (2.0 * m * m - e * (2.0 * m * cap + 2.0 * m * m))
    nxt = (over_sq + 2.0 * (a0 + phi * (t_plain + cap)) * over + lam * work_sq * t_bar + a0 * a0
           + 2.0 * a0 * phi * t_bar + phi * phi * (t_plain * t_plain + 2.0 * t_plain * x_bar + taken_sq))
    return 2.0 * p * m * m - nxt, taken_sq - x_bar * x_bar, p


def _old_no_arrival(lam, t_bar, var):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta = var / t_bar
        gamma = (1.0 + lam * theta) ** (-t_bar / np.where(theta > 0, theta, 1.0))
        return np.where(var > 0, gamma, np.exp(-lam * t_bar))


def _old_fixed_point(t_plain, lone, inc, work_sq_ratio, pi, work=None):
    q = np.exp(-pi)
    for _ in range(packed.BURST_ITERATIONS):
        w = inc + (lone - inc) * (1.0 - q) / pi if work is None else work
        t_bar = t_plain + pi * w
        lam = pi / t_bar
        phi = np.clip(lam * (inc + q * (lone - inc)), 0.0, 0.999)
        var = pi * w**2 * work_sq_ratio / (1.0 - phi**2)
        q = _old_no_arrival(lam, t_bar, var)
    return w, lam, phi, var, t_bar


def _steps(n: int, seed: int):
    """Engines' steps and prompt work over several decades, some without variance or prompts."""
    rng = np.random.default_rng(seed)
    t_plain = np.exp(rng.uniform(-6.0, 0.0, n))
    lone = t_plain * np.exp(rng.uniform(-4.0, 2.0, n))
    inc = lone * rng.uniform(0.0, 1.0, n)
    ratio = rng.uniform(1.0, 3.0, n) * (rng.uniform(size=n) > 0.05)
    pi = np.exp(rng.uniform(-5.0, 4.0, n))
    return t_plain, lone, inc, ratio, pi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capped_moments_from_their_steady_terms_are_the_whole_formula_s(seed):
    rng = np.random.default_rng(seed)
    n = 4000
    t_plain, lone, inc, ratio, pi = _steps(n, seed)
    t_bar = t_plain + pi * inc
    lam, phi = pi / t_bar, rng.uniform(0.0, 0.999, n)
    work_sq, cap = (lone * lone) * ratio, lone * rng.uniform(0.5, 40.0, n)
    x_bar = t_bar - t_plain
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for u in (np.log(x_bar * rng.uniform(0.2, 5.0, n)), np.log(x_bar) + 30.0 * rng.standard_normal(n)):
            old = _old_capped_moments(u, x_bar, t_plain, t_bar, lam, phi, work_sq, cap)
            new = packed._capped_moments(u, *packed._capped_terms(x_bar, t_plain, t_bar, lam, phi, work_sq, cap))
            for a, b in zip(old, new):
                assert bits(a) == bits(b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fixed_point_with_its_steady_terms_taken_once_is_the_old_rounds(seed):
    t_plain, lone, inc, ratio, pi = _steps(4000, seed)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for work in (None, inc * 1.3, np.zeros_like(inc)):
            old = _old_fixed_point(t_plain, lone, inc, ratio, pi, work)
            new = packed._fixed_point(t_plain, lone, inc, ratio, pi, work)
            for a, b in zip(old, new):
                assert bits(a) == bits(b)


def _old_narrow(lo, hi, pts, t, tpot_limit):
    within = np.flatnonzero(t <= tpot_limit)
    if len(within):
        lo = int(pts[within[-1]])
    beyond = np.flatnonzero(t > tpot_limit)
    if len(beyond):
        hi = int(pts[beyond[0]])
    return lo, hi


def test_a_round_s_bracket_by_the_masks_methods_is_flatnonzero_s():
    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(1, 48))
        pts = np.sort(rng.choice(np.arange(2, 5000), n, replace=False))
        t = np.sort(rng.uniform(0.0, 0.1, n)) if rng.uniform() < 0.7 else rng.uniform(0.0, 0.1, n)
        if rng.uniform() < 0.2:
            t[rng.integers(0, n)] = np.nan
        limit = float(rng.choice([rng.uniform(0.0, 0.1), 0.0, 1.0, float(t[rng.integers(0, n)])]))
        assert _narrow(1, 5000, pts, t, limit) == _old_narrow(1, 5000, pts, t, limit)


def _deps():
    """Every deployment of a few problems (MoE, dense, sliding windows, MTP drafts)."""
    out = []
    for name in ("deepseek_mtp.yaml", "llama70b_chat.yaml", "rag_long_context.yaml"):
        path = ROOT / "problems" / name
        if not path.exists():
            continue
        res = resolve(load_problem(path), name)
        for opt in res.gpus:
            for par in shapes_for(res, opt):
                out += [deployment(res, opt, par, s) for s in speculations(res)]
    return out


def test_memory_from_the_kept_terms_is_the_formula_s():
    deps = _deps()
    assert deps
    for dep in deps:
        for ctx in (1.0, 777.5, 4096.0, 131072.0):
            kv = dep.arch.held_tokens(ctx) * kv_bytes_per_token_per_card(dep) * (1 + draft_share(dep))
            per_seq = (kv + linear_state_bytes_per_sequence_per_card(dep)) / dep.par.dp
            assert kv_bytes_per_sequence(dep, ctx) == per_seq
            cap = dep.gpu.memory_bytes
            for b in (0, 1, 3.5, 300):
                m = memory_use(dep, b, ctx)
                assert (m.weights_bytes, m.kv_bytes, m.usable_bytes, m.capacity_bytes) == (
                    dep.weights_bytes_per_card * (1 + draft_share(dep)), b * per_seq,
                    cap * dep.calib.v("memory_usable_fraction"), cap)


def test_bounds_of_some_points_are_those_of_the_points_taken():
    rng = np.random.default_rng(3)
    n = 500
    parts = [rng.uniform(0.0, 1.0, n) for _ in range(8)]
    parts[1][::7] = parts[0][::7]   # ties: the first of equals
    t = batched.PhaseArrays(*parts[:7], rng.uniform(size=n) < 0.3)
    idx = rng.choice(n, 120)
    assert batched.bounds(t, idx) == batched.bounds(t.take(idx))
    t.memory_s[idx[3]] = np.nan   # each point's own `max`
    assert batched.bounds(t, idx) == [t.at(i).bound for i in idx.tolist()]


def test_memo_key_parts_get_one_number_each_and_never_a_number_twice():
    a, b = (1, 2, "fp8"), (1, 3, "fp8")
    na, nb = candidate_mod._part_id(a), candidate_mod._part_id(b)
    assert na != nb and candidate_mod._part_id((1, 2, "fp8")) == na
    candidate_mod.part_ids.clear()
    assert candidate_mod._part_id(a) not in (na, nb)


@pytest.mark.parametrize("overrides", [{}, {"comm_overlap": 0.6, "decode_time_scale": 1.15}, "roofline"],
                         ids=["default", "overlap-and-slower-decode", "roofline"])
def test_the_passes_times_alone_are_the_whole_passes_times(overrides):
    """`time_only` (`batched.timed`): each step's time by the whole pass's operations, of a group's
    deployments and of each alone (MoE and dense, pp = 1 and > 1, MTP drafts, kernel curves or not)."""
    from planner.catalog.calibration import load_calibration
    from planner.physics.many import ShapeGroup
    from tests.test_many_shapes import BATCHES, CHUNKS, groups
    calib = load_calibration("roofline" if overrides == "roofline" else "default")
    if isinstance(overrides, dict) and overrides:
        calib = calib.with_overrides(overrides)
    found = groups(calib)
    for key, deps in found.items():
        n = len(BATCHES)
        idx = np.repeat(np.arange(len(deps)), n)
        bs, ch = np.tile(BATCHES, len(deps)), np.tile(CHUNKS, len(deps))
        if key is not None:
            g = ShapeGroup(deps)
            for timed, whole in ((g.decode_steps(idx, bs, 1500.0, True), g.decode_steps(idx, bs, 1500.0)),
                                 (g.mixed_steps(idx, bs, 1500.0, ch, 1000.0, 0.7, True),
                                  g.mixed_steps(idx, bs, 1500.0, ch, 1000.0, 0.7))):
                assert timed.timed and not whole.timed
                assert bits(timed.time_s) == bits(whole.time_s)
                assert bits(timed.repeat(2).time_s) == bits(whole.repeat(2).time_s)
                assert bits(timed.take(idx[::3]).time_s) == bits(whole.take(idx[::3]).time_s)
        for dep in deps[:6]:
            assert bits(batched.decode_steps(dep, BATCHES, 900.0, True).time_s) == \
                bits(batched.decode_steps(dep, BATCHES, 900.0).time_s)
            assert bits(batched.mixed_steps(dep, BATCHES, 900.0, CHUNKS, 700.0, 0.3, True).time_s) == \
                bits(batched.mixed_steps(dep, BATCHES, 900.0, CHUNKS, 700.0, 0.3).time_s)
