"""The prefill terms: routed-expert GEMMs at the kernel curve of their rows (a hand calculation
on DeepSeek-V3), and the fixed TTFT per architecture family (look-up, overrides,
recovery by the fit, no leak into cross-validation, round trip through a written profile), the
fit's equal weighing of decode and prefill, and the automatic layouts that the refit made matter."""

from dataclasses import replace

import numpy as np
import pytest
import yaml

from planner.catalog.calibration import Calibration, load_calibration
from planner.errors import BadInput
from planner.fidelity.crossval import cross_validate
from planner.fidelity.fit import FitResult, calibration_from, family_param, fit
from planner.fidelity.measurements import Point, predict
from planner.fidelity.profile import profile_yaml
from planner.input.files import validate
from planner.physics import perf
from planner.physics.perf import Parallelism
from tests.conftest import make_dep


def test_routed_expert_gemms_run_at_the_kernel_curve_of_their_rows(roofline):
    """DeepSeek-V3 FP8 on one H200, a 4,096-token prompt: every one of the 256 experts gets
    4,096·8/256 = 128 rows. The H200 FP8 grouped-GEMM curve (η_max 0.388, M_half 86.55 rows)
    gives η(128) = 0.388·128/214.55 = 0.2315, so the routed FLOPs 58 × 2 × 44,040,192 × 4,096 × 8
    = 1.6740e14 take 1.6740e14 / (1.979e15 · 0.2315) = 0.3654 s at κ = 1; a dense model has no
    routed term."""
    from planner.catalog.kernels import kernels_for
    from planner.physics.gemm import gemm_rows, gemm_time
    curved = roofline.model_copy(update={"kernel_curves": True})
    dep = make_dep("deepseek-v3", "h200", curved)
    curve = kernels_for(dep.gpu).moe("fp8")
    assert (curve.eta_max, curve.m_half) == (0.388, 86.55)
    assert gemm_rows(dep, 4096)[1] == pytest.approx(128.0, rel=1e-3)
    routed = 58 * 2 * 44_040_192 * 4096 * 8
    assert routed == pytest.approx(1.6740e14, rel=1e-4)
    t = gemm_time(dep, 4096, 0.0, routed).time_s
    assert t == pytest.approx(routed / (1.979e15 * 0.388 * 128 / (128 + 86.55)), rel=2e-3)
    assert t == pytest.approx(0.3654, rel=2e-3)
    # κ scales it; the roofline profile (no curves) runs the same FLOPs at compute_efficiency = 1
    half = make_dep("deepseek-v3", "h200", curved.with_overrides({"gemm_efficiency_scale": 0.5}))
    assert gemm_time(half, 4096, 0.0, routed).time_s == pytest.approx(2 * t)
    assert gemm_time(make_dep("deepseek-v3", "h200", roofline), 4096, 0.0, routed).time_s == \
        pytest.approx(routed / 1.979e15)


def test_moe_prefill_speeds_up_with_rows_per_expert(roofline):
    """The point of the curve: at 256 tokens (8 rows per expert) a DeepSeek FP8 MoE layer on H200
    reaches ~3 % of peak, at 16k tokens (512 rows) ~33 % (public per-op measurements: 3 % and
    29 %), so a saturated prefill pass is ~10× faster per FLOP than a short prompt."""
    from planner.catalog.kernels import kernels_for
    curve = kernels_for(make_dep("deepseek-v3", "h200", roofline).gpu).moe("fp8")
    assert curve.efficiency(8) == pytest.approx(0.033, abs=0.005)
    assert curve.efficiency(512) == pytest.approx(0.33, abs=0.02)


def _with_families(calib: Calibration, families: dict[str, float]) -> Calibration:
    data = calib.model_dump()
    data["request_overhead_by_family_s"] = {f: {"value": v, "source": "test"} for f, v in families.items()}
    return validate(Calibration, data, "test")


def test_fixed_ttft_of_a_family_replaces_the_shared_value_and_an_override_sets_all(roofline):
    cal = _with_families(roofline.with_overrides({"request_overhead_s": 0.05}), {"deepseek_v3": 0.16})
    ds, llama = make_dep("deepseek-r1", "h200", cal), make_dep("llama-3.1-70b", "h200", cal)
    assert perf.request_overhead_s(ds) == 0.16          # R1 has the deepseek_v3 architecture
    assert perf.request_overhead_s(llama) == 0.05       # no value of its own: the shared one
    assert cal.request_overhead_for("deepseek_v3") == (0.16, True)
    assert cal.request_overhead_for("llama") == (0.05, False)
    # a problem overriding request_overhead_s means every model
    over = cal.with_overrides({"request_overhead_s": 0.2})
    assert perf.request_overhead_s(make_dep("deepseek-r1", "h200", over)) == 0.2
    with pytest.raises(BadInput, match="request_overhead_by_family_s"):
        cal.with_overrides({"request_overhead_by_family_s": 1.0})
    data = cal.model_dump()
    data["request_overhead_by_family_s"]["llama"] = {"value": -0.01, "source": "test"}
    with pytest.raises(BadInput, match=r"must be a time in seconds in \[0, 3600\], got llama = -0.01"):
        validate(Calibration, data, "bad.yaml")


def _ttft_points(calib: Calibration) -> list[Point]:
    """Agg TTFT points at c = 4 (the model's own predictions) of two families, 12 configurations each."""
    pts = []
    for model in ("deepseek-v3", "llama-3.1-70b"):
        for tp in (4, 8):
            for isl in (512, 1024, 2048, 4096, 8192, 16384):
                p = Point(id=f"{model}-{tp}-{isl}", origin="synthetic", source="test", kind="measured",
                          model=model, gpu="h200", engine="x", engine_version="", weight_dtype="fp8",
                          kv_dtype="bf16", mode="agg", par=Parallelism(tp), isl=isl, osl=1024,
                          concurrency=4, batch=4, group=f"{model}-{tp}-{isl}")
                pts.append(replace(p, measured={"prefill_tok_s_per_gpu":
                                                predict(p, "prefill_tok_s_per_gpu", calib)}))
    return pts


def test_fit_recovers_the_fixed_ttft_of_each_family_and_writes_it():
    base = load_calibration("default")
    truth = calibration_from(base, {"request_overhead_s": 0.1, family_param("deepseek_v3"): 0.15,
                                    family_param("llama"): 0.05})
    pts = _ttft_points(truth)
    names = ["request_overhead_s", family_param("deepseek_v3"), family_param("llama")]
    start = {"request_overhead_s": 0.02, family_param("deepseek_v3"): 0.02, family_param("llama"): 0.02}
    res = fit(pts, base, start=start, names=names, max_evals=60)
    # the pull towards the shared value (FAMILY_PRIOR_WEIGHT) costs at most a few percent
    assert res.values[family_param("deepseek_v3")] == pytest.approx(0.15, rel=0.05)
    assert res.values[family_param("llama")] == pytest.approx(0.05, rel=0.05)
    # the shared value, the fallback of other families, sits between them
    assert 0.05 < res.values["request_overhead_s"] < 0.15
    text = profile_yaml(res, base, "synthetic", ["synthetic.csv"], None)
    back = validate(Calibration, yaml.safe_load(text), "synthetic.yaml")
    assert back.request_overhead_for("llama")[0] == pytest.approx(res.values[family_param("llama")], rel=1e-3)
    assert back.request_overhead_for("mistral") == (back.request_overhead_s.value, False)


def test_cross_validation_never_inherits_a_family_value_fitted_to_all_points():
    """The profile under test holds family values fitted to every point; each fold must refit
    them from its training points or fall back to the shared value, never reuse them."""
    base = _with_families(load_calibration("default"), {"deepseek_v3": 9.0, "llama": 9.0})
    pts = _ttft_points(base)
    bases = []

    def spy(train, b, **kw):
        bases.append(dict(b.request_overhead_by_family_s))
        return FitResult(b, {}, np.zeros(0), len(train), len(train), 0, 0.0)

    cross_validate(pts, base, k=3, fit_fn=spy)
    assert bases == [{}, {}, {}]


def test_auto_layouts_of_a_two_node_moe_instance_keep_expert_parallelism_on_nvlink():
    """16 H100 cards (two 8-card NVLink domains): a MoE model tries TP8·PP2, TP1·DP16, TP8·DP2
    and TP1·DP8·PP2 (the last keeps the expert all-to-all inside a node); a dense model never
    uses data-parallel attention and pipelines only full TP8 nodes."""
    from planner.input.load import load_problem
    from planner.plan.resolve import resolve
    from planner.plan.shapes import shapes_for
    ds = resolve(load_problem("problems/deepseek_qps.yaml"))
    h100 = ds.option("h100")
    sixteen = [p.label() for p in shapes_for(ds, h100) if p.cards == 16]
    assert sixteen == ["TP8·PP2", "TP1·DP16", "TP8·DP2", "TP1·DP8·PP2"]
    dense = resolve(load_problem("problems/llama70b_chat.yaml"))
    shapes = shapes_for(dense, dense.option("h100"))
    assert shapes and all(p.dp == 1 and (p.pp == 1 or p.tp == 8) for p in shapes)


def test_quantity_weights_make_each_quantity_weigh_the_same():
    """3 decode and 1 prefill observation: weights √(4/(2·3)) = 0.8165 and √(4/2) = 1.4142, so
    each quantity's squared weights add to 2 = n/Q."""
    from planner.fidelity.fit import quantity_weights
    obs = [(0, "decode_tok_s_per_gpu", 1.0), (1, "decode_tok_s_per_gpu", 1.0),
           (2, "decode_tok_s_per_gpu", 1.0), (3, "prefill_tok_s_per_gpu", 1.0)]
    w = quantity_weights(obs)
    assert w == pytest.approx([0.81650, 0.81650, 0.81650, 1.41421], abs=1e-5)
    assert np.sum(w[:3] ** 2) == pytest.approx(np.sum(w[3:] ** 2))
