"""The per-deployment constants of the passes (`physics.terms`) are cached by value: a deployment
that differs from a cached one in any number the terms read must get its own, and what a cached
entry returns must be the float a cold computation gives (the golden plans must not move by a bit).
"""

from __future__ import annotations

import gc
from dataclasses import replace

import numpy as np
import pytest

from planner.catalog.calibration import SCALAR_PARAMS, load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.errors import BadInput
from planner.physics import batched, perf, terms
from planner.physics.deployment import Deployment, Parallelism, weights_per_card_bytes

BATCHES = np.array([1.0, 3.0, 17.0, 255.0])
TP8 = Parallelism(8, 1, 1)


def dep_of(calib=None, gpu=None, par=TP8, model="deepseek-r1") -> Deployment:
    return Deployment(load_models()[model], gpu or load_gpus()["h200"], par, calib or load_calibration("default"),
                      "fp8", "bf16")


def passes(dep: Deployment) -> tuple:
    """Decode, mixed and prefill passes (batched and scalar) of `dep`, as exact floats."""
    dec = batched.decode_steps(dep, BATCHES, 1500.0)
    mix = batched.mixed_steps(dep, BATCHES, 1500.0, np.array([64.0, 513.0, 1000.0, 8192.0]), 1000.0)
    pre = batched.prefill_passes(dep, BATCHES, 800.0, 200.0)
    return (tuple(dec.time_s.tolist()), tuple(mix.time_s.tolist()), tuple(pre.time_s.tolist()),
            perf.decode_step(dep, 7, 1500.0), perf.prefill_pass(dep, 2, 800.0, 200.0))


def cold(dep: Deployment) -> tuple:
    """`passes` of a fresh copy of `dep` with the terms cache emptied first."""
    terms.terms_table.clear()
    return passes(replace(dep))


def another_value(calib, name: str):
    """`calib` with parameter `name` moved to another valid value."""
    v = calib.v(name)
    for x in (v * 0.9, v * 1.1, v + 0.01, 0.5, 1.5):
        if x == v:
            continue
        try:
            return calib.with_overrides({name: x})
        except BadInput:
            continue
    raise AssertionError(f"no other valid value of {name}")


def test_cached_terms_are_the_cold_ones():
    dep = dep_of()
    warm = (passes(dep), passes(replace(dep)))   # the second from the table, the third from the deployment
    assert warm[0] == warm[1] == cold(dep)


@pytest.mark.parametrize("name", SCALAR_PARAMS)
def test_every_calibration_value_keys_the_terms(name):
    base = load_calibration("default")
    moved = another_value(base, name)
    assert terms.value_key(dep_of(moved)) != terms.value_key(dep_of(base))


@pytest.mark.parametrize("name", ["comm_overlap", "memory_efficiency", "collective_latency_intra_s", "moe_imbalance",
                                  "layer_overhead_s", "gemm_efficiency_scale", "network_efficiency"])
def test_one_calibration_value_apart_gives_its_own_passes(name):
    base = load_calibration("default")
    par = Parallelism(8, 2, 1)   # two nodes: the NIC's bandwidth counts too
    first, second = dep_of(base, par=par), dep_of(another_value(base, name), par=par)
    before = passes(first)
    after = passes(second)
    assert after != before
    assert after == cold(second)


def test_a_new_profile_in_a_freed_ones_place_is_not_served_the_old_terms():
    """A fit builds profiles one after another, each freed before the next: a new one often takes
    the freed one's id, so a cache keyed by identity would serve the old one's terms. (Only floats
    are kept in the loop, so that the freed profile's memory is free for the next one.)"""
    base = load_calibration("default")
    overlaps = np.linspace(0.05, 0.95, 19)
    terms.terms_table.clear()
    got = np.zeros(len(overlaps))
    for i in range(len(overlaps)):
        got[i] = batched.decode_steps(dep_of(base.with_overrides({"comm_overlap": overlaps[i]})), BATCHES,
                                      1500.0).time_s[0]
        gc.collect()
    terms.terms_table.clear()
    want = [batched.decode_steps(dep_of(base.with_overrides({"comm_overlap": x})), BATCHES, 1500.0).time_s[0]
            for x in overlaps]
    assert got.tolist() == want
    assert len(set(want)) == len(overlaps)


@pytest.mark.parametrize("field,scale", [("memory_bandwidth", 0.8), ("nic_bandwidth_per_card", 0.5)])
def test_one_gpu_number_apart_gives_its_own_passes(field, scale):
    gpu = load_gpus()["h200"]
    spec = getattr(gpu, field)
    slower = gpu.model_copy(update={field: spec.model_copy(update={"value": spec.value * scale})})
    par = Parallelism(8, 2, 1) if field == "nic_bandwidth_per_card" else TP8   # two nodes: the NIC
    first, second = dep_of(gpu=gpu, par=par), dep_of(gpu=slower, par=par)
    assert passes(second) != passes(first)
    assert passes(second) == cold(second)


def test_layout_and_model_key_the_terms():
    a = dep_of()
    for other in (replace(a, par=Parallelism(4, 1, 2)), replace(a, model=load_models()["qwen3-235b-a22b"]),
                  replace(a, kv_dtype="fp8"), replace(a, expert_dtype="fp4")):
        assert terms.stage_terms(other) != terms.stage_terms(a)
        assert passes(other) == cold(other)
        assert other.weights_bytes_per_card == weights_per_card_bytes(other)   # shared by value too


@pytest.mark.parametrize("gpu, par", [("h200", dict(tp=1, dp=8)), ("b200", dict(tp=1, dp=8)), ("h200", dict(tp=8)),
                                      ("h100", dict(tp=4, pp=2))])
def test_plan_eval_s_collective_floor_is_the_step_s_own(gpu, par):
    """`plan eval`'s floors printed every collective at the all-reduce's latency; the step charges
    an all-to-all its own, larger α: DeepSeek-V3 on 8 H200 at DP8 printed 119 × 9 µs = 1.06 ms of
    the 1.71 ms the step charges (a hunt). The printed collectives × latency is the step's
    collective time of a message of no bytes, over its pp stages."""
    from planner.catalog.calibration import load_calibration
    from planner.catalog.schemas import get_gpu, get_model
    from planner.physics.colocated import floors
    from planner.physics.comm import allreduce_time
    from planner.physics.deployment import Deployment
    from planner.physics.perf import Parallelism
    from planner.physics.terms import stage_terms
    p = Parallelism(**par)
    dep = Deployment(get_model("deepseek-v3"), get_gpu(gpu), p, load_calibration("default"))
    f = floors(dep, 8)
    zero = stage_terms(dep).comm.time(1e-9) * p.pp
    assert f.collectives * f.collective_latency_s == pytest.approx(zero, rel=1e-6)
    if p.dp > 1:   # all-to-alls: above the all-reduce's α
        assert f.collective_latency_s > 1.3 * allreduce_time(dep, 8, 1.0)
