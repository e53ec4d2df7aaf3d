"""A pass that carries prefill tokens pays the eager-pass floor (perf.eager_terms): a fitted time per
layer and per MoE layer once per pass, and a host time per prompt in it. Hand values, the numpy
twins with the terms switched on, what `plan eval` prints, and recovery by the fit from closed-loop
points whose TTFT grows with the load."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.fidelity.fit import calibration_from, fit, without_families
from planner.fidelity.measurements import Point, predict
from planner.physics import batched, perf
from planner.physics.deployment import Deployment, Parallelism
from planner.physics.evaluate import EvalRequest, evaluate
from tests.conftest import make_dep

EAGER = {"prefill_layer_overhead_s": 3e-4, "prefill_moe_layer_overhead_s": 1e-4, "prompt_overhead_s": 5e-3}
NONE = dict.fromkeys(EAGER, 0.0)


def dep(model: str, par: Parallelism, values: dict[str, float], calib: str = "default") -> Deployment:
    return make_dep(model, "h200", load_calibration(calib).with_overrides(values), par.tp, par.pp, par.dp)


def test_hand_values_of_a_prefill_pass_and_a_mixed_step():
    # DeepSeek-R1: 61 layers, 58 of them MoE. 16 prompts on TP8 (one scheduler):
    # 61·0.3 ms + 58·0.1 ms + 16·5 ms = 18.3 + 5.8 + 80 = 104.1 ms
    on, off = dep("deepseek-r1", Parallelism(8), EAGER), dep("deepseek-r1", Parallelism(8), NONE)
    assert perf.eager_terms(on, 16) == pytest.approx((0.0183, 0.0058, 0.080), rel=1e-12)
    extra = perf.prefill_pass(on, 16, 1000.0).time_s - perf.prefill_pass(off, 16, 1000.0).time_s
    assert extra == pytest.approx(0.1041, rel=1e-9)
    # attention DP 8: eight schedulers take two prompts each side by side → 2·5 ms
    dp8 = dep("deepseek-r1", Parallelism(1, 1, 8), EAGER)
    assert perf.eager_terms(dp8, 16)[2] == pytest.approx(0.010, rel=1e-12)
    assert perf.eager_terms(dp8, 3)[2] == pytest.approx(0.005, rel=1e-12)   # at least one prompt's time
    # a mixed step: 2,000 chunk tokens of 1,000-token prompts hold two prompts; 512 tokens of an
    # 8,192-token prompt are a piece of one; a step without a chunk pays nothing
    step = {d: perf.mixed_step(x, 32, 1500.0, 2000.0, 1000.0).time_s for d, x in (("on", on), ("off", off))}
    assert step["on"] - step["off"] == pytest.approx(0.0183 + 0.0058 + 2 * 0.005, rel=1e-9)
    piece = {d: perf.mixed_step(x, 32, 1500.0, 512.0, 8192.0).time_s for d, x in (("on", on), ("off", off))}
    assert piece["on"] - piece["off"] == pytest.approx(0.0183 + 0.0058 + 0.005, rel=1e-9)
    assert perf.mixed_step(on, 32, 1500.0, 0.0, 1000.0).time_s == perf.mixed_step(off, 32, 1500.0, 0.0, 1000.0).time_s
    # decode steps never pay it (they replay a CUDA graph)
    assert perf.decode_step(on, 32, 1500.0).time_s == perf.decode_step(off, 32, 1500.0).time_s
    # a dense model has no MoE layers: Llama-3.1-70B, 80 layers, one prompt: 80·0.3 ms + 5 ms
    llama = dep("llama-3.1-70b", Parallelism(4), EAGER)
    assert perf.eager_overhead_s(llama, 1) == pytest.approx(0.029, rel=1e-12)


SHAPES = [("deepseek-r1", Parallelism(8)), ("deepseek-r1", Parallelism(1, 2, 8)),
          ("llama-3.1-70b", Parallelism(4, 2, 1)), ("qwen3-235b-a22b", Parallelism(2, 1, 4))]


@pytest.mark.parametrize("model,par", SHAPES)
@pytest.mark.parametrize("calib", ["default", "roofline"])
def test_numpy_twins_pay_the_same_floor(model, par, calib):
    d = dep(model, par, EAGER, calib)
    bs = np.array([1.0, 7.0, 64.0, 300.0, 5.0])
    chunks = np.array([0.0, 500.0, 2000.0, 8192.0, 1.0])
    mix = batched.mixed_steps(d, bs, 1500.0, chunks, 1000.0)
    pre = batched.prefill_passes(d, bs, 800.0, 200.0)
    for i, b in enumerate(bs.tolist()):
        for got, want in ((mix.at(i), perf.mixed_step(d, b, 1500.0, float(chunks[i]), 1000.0)),
                          (pre.at(i), perf.prefill_pass(d, b, 800.0, 200.0))):
            assert got.time_s == pytest.approx(want.time_s, rel=1e-12)
            assert got.overhead_s == pytest.approx(want.overhead_s, rel=1e-12)


def test_plan_eval_prints_each_term():
    req = EvalRequest(model="deepseek-r1", gpu="h200", cards=8, batch=16, input_len=1000, output_len=1000)
    d = evaluate(req, load_calibration("default").with_overrides(EAGER))
    assert d["prefill_floors"] == pytest.approx({"layers_s": 0.0183, "moe_layers_s": 0.0058, "prompts_s": 0.080,
                                                 "total_s": 0.1041}, rel=1e-9)
    from planner.report.text import render_eval
    assert "a pass with prefill adds (run eagerly): 104.1 ms = layers 18.3 ms + MoE layers 5.8 ms + host time " \
           "of 16 prompts 80.0 ms" in render_eval(d)


def _closed_loop_points(calib) -> list[Point]:
    """Agg closed-loop points (the model's own TPOT and TTFT) from 1 to 64 clients and two prompt
    lengths: a per-prompt time grows TTFT with the load, a per-pass one less so, a fixed one not."""
    pts = []
    for tp in (4, 8):
        for isl in (1024, 8192):
            for c in (1, 4, 16, 64):
                p = Point(id=f"{tp}-{isl}-{c}", origin="synthetic", source="test", kind="measured",
                          model="deepseek-v3", gpu="h200", engine="x", engine_version="", weight_dtype="fp8",
                          kv_dtype="bf16", mode="agg", par=Parallelism(tp), isl=isl, osl=512,
                          concurrency=c, batch=c, group=f"{tp}-{isl}")
                pts.append(replace(p, measured={q: predict(p, q, calib)
                                                for q in ("decode_tok_s_per_gpu", "prefill_tok_s_per_gpu")}))
    return pts


def test_fit_recovers_the_eager_floor_from_closed_loop_points():
    base = without_families(load_calibration("default"))   # the shared fixed TTFT applies to DeepSeek
    true = {"prefill_layer_overhead_s": 4e-4, "prompt_overhead_s": 8e-3, "request_overhead_s": 0.05}
    pts = _closed_loop_points(calibration_from(base, {**true, "prefill_moe_layer_overhead_s": 0.0}))
    names = list(true)
    start = {"prefill_layer_overhead_s": 1e-4, "prompt_overhead_s": 1e-3, "request_overhead_s": 0.1}
    res = fit(pts, calibration_from(base, {"prefill_moe_layer_overhead_s": 0.0}), start=start, names=names,
              max_evals=60)
    for k, v in true.items():
        assert res.values[k] == pytest.approx(v, rel=0.03), k
    assert np.max(np.abs(res.residuals)) < 1e-3
