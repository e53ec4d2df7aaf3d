"""The numpy twins of the passes (`physics.batched`) against the scalar passes of `perf`.

Candidates are generated with the twins and verified with the scalar functions, and the golden
plans must not move by a bit, so the twins must give the scalar floats: checked on a grid of
shapes (dense and MoE, GQA and MLA, pp > 1, dp > 1, a node-spanning layout) under a calibration
with kernel curves and the roofline one without, to 1e-12 relative (in practice they are equal).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.physics import batched, colocated, perf, queueing
from planner.physics.deployment import Deployment, Parallelism, PhaseTime
from planner.plan.candidates import pareto_front

MODELS = ["deepseek-r1", "qwen3-235b-a22b", "llama-3.1-70b", "llama-3.1-8b"]   # MLA MoE, GQA MoE, GQA dense
LAYOUTS = [Parallelism(8, 1, 1), Parallelism(4, 2, 1), Parallelism(1, 1, 8), Parallelism(1, 2, 8),
           Parallelism(2, 1, 4), Parallelism(1, 1, 1), Parallelism(8, 1, 1, moe_tp=8), Parallelism(2, 1, 4, moe_tp=2)]
BATCHES = [1, 2, 3, 6, 17, 64, 255, 1000]
CHUNKS = [1.0, 37.5, 1000.0, 8192.0, 2.0, 513.0, 64.0, 4096.0]


def close(x: float, y: float) -> bool:
    return x == y or abs(x - y) <= 1e-12 * max(abs(x), abs(y))


def same(a: PhaseTime, b: PhaseTime) -> bool:
    return all(close(getattr(a, f), getattr(b, f)) for f in ("time_s", "compute_s", "memory_s", "comm_s",
                                                              "overhead_s", "flops_per_card", "bytes_per_card")) \
        and a.below_ridge == b.below_ridge and a.bound == b.bound


def deployments():
    gpus, models = load_gpus(), load_models()
    for calib in ("default", "roofline"):
        assert load_calibration(calib).kernel_curves == (calib == "default")
        for mid in MODELS:
            for gid, wd in (("h200", "fp8"), ("h100", "bf16"), ("l40s", "fp8")):
                for par in LAYOUTS:
                    if par.dp > 1 and not models[mid].arch.is_moe:
                        continue
                    yield pytest.param(Deployment(models[mid], gpus[gid], par, load_calibration(calib), wd, "bf16"),
                                       id=f"{calib}-{mid}-{gid}-{par.label()}")


@pytest.mark.parametrize("dep", list(deployments()))
def test_twins_give_the_scalar_passes(dep):
    bs = np.array(BATCHES, dtype=float)
    ch = np.array(CHUNKS)
    dec = batched.decode_steps(dep, bs, 1500.0)
    mix = batched.mixed_steps(dep, bs, 1500.0, ch, 1000.0)
    mix_cv = batched.mixed_steps(dep, bs, 1500.0, ch, 1000.0, 1.2)
    pre = batched.prefill_passes(dep, bs, 800.0, 200.0)
    f = np.linspace(0.05, 1.0, len(BATCHES))
    mean = batched.blend(mix, dec, f)
    for i, b in enumerate(BATCHES):
        d = perf.decode_step(dep, b, 1500.0)
        m = perf.mixed_step(dep, b, 1500.0, CHUNKS[i], 1000.0)
        assert same(dec.at(i), d)
        assert same(mix.at(i), m)
        assert same(mix_cv.at(i), perf.mixed_step(dep, b, 1500.0, CHUNKS[i], 1000.0, 1.2))
        assert same(pre.at(i), perf.prefill_pass(dep, b, 800.0, 200.0))
        assert same(mean.at(i), colocated.blend(m, d, float(f[i])))


@pytest.mark.parametrize("stat", ["mean", "p50", "p90", "p99"])
def test_queueing_twins(stat):
    rho = np.array([0.0, 0.1, 0.5, 0.9, 0.97, 1.0])
    d = np.array([0.01, 0.2, 0.5, 1.0, 2.0, 0.3])
    w = batched.wait_many(stat, rho, d, 0.3)
    u = batched.max_utilisation_many(np.array([-1.0, 0.0, 0.1, 1.0, 3.0, 0.5]), d, stat, 0.3, 0.95,
                                     queueing.max_utilisation)
    for i in range(len(rho)):
        assert close(w[i], queueing.wait(stat, float(rho[i]), float(d[i]), 0.3)) or math.isinf(w[i])
        assert close(u[i], queueing.max_utilisation([-1.0, 0.0, 0.1, 1.0, 3.0, 0.5][i], float(d[i]), stat, 0.3, 0.95))


def test_pareto_front_matches_the_pairwise_definition():
    """Sort-and-scan against the definition: drop a point another matches or beats on both
    capacities (strictly on one, or an exact tie that comes first)."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        p = rng.integers(0, 6, n).astype(float)
        q = rng.integers(0, 6, n).astype(float)
        expect = [i for i in range(n)
                  if not any(p[j] >= p[i] and q[j] >= q[i] and (p[j] > p[i] or q[j] > q[i] or j < i)
                             for j in range(n) if j != i)]
        assert pareto_front(p, q).tolist() == expect


def test_twins_with_speculation_below_one_sequence():
    """MTP drafts at a mean batch below one: the numpy twin drafted one sequence where the scalar
    drafts the batch itself (DeepSeek-V3 on 8 H200, b = 0.5: 51.214 against 51.196 ms a mixed
    step, a hunt); the candidates' grid below one occupancy reads the twin, the verification the
    scalar. At b = 0 neither drafts."""
    from dataclasses import replace

    from planner.physics.speculation import Speculation
    dep = Deployment(load_models()["deepseek-v3"], load_gpus()["h200"], Parallelism(tp=8), load_calibration("default"),
                     "fp8", "bf16")
    dep = replace(dep, spec=Speculation("mtp", 3, 0.7))
    bs = np.array([0.0, 0.25, 0.5, 0.99, 1.0, 3.0])
    ch = np.array([512.0] * len(bs))
    mix = batched.mixed_steps(dep, bs, 3000.0, ch, 2000.0)
    dec = batched.decode_steps(dep, bs[1:], 3000.0)
    for i, b in enumerate(bs):
        assert same(mix.at(i), perf.mixed_step(dep, float(b), 3000.0, 512.0, 2000.0)), b
        if b > 0:
            assert same(dec.at(i - 1), perf.decode_step(dep, float(b), 3000.0)), b
