"""Mixed precision per part (issue 21, item 3): routed experts stored apart from the rest."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from planner.catalog.calibration import load_calibration
from planner.catalog.hf_cache import attention_not_quantized
from planner.catalog.schemas import get_model, model_from_config_json
from planner.input.load import load_any
from planner.physics import perf
from planner.physics.deployment import BYTES_PER_VALUE, routed_experts_per_card, weights_per_card_bytes
from planner.physics.perf import Deployment, Parallelism
from planner.plan.solve import solve

ROOT = Path(__file__).resolve().parents[1]
CAL = load_calibration("default")


def _dep(experts, weights="fp8", gpu="b200", calib=CAL, **par):
    m = get_model("deepseek-r1")
    from planner.catalog.schemas import get_gpu
    return Deployment(m, get_gpu(gpu), Parallelism(**(par or {"tp": 8})), calib, weights, "fp8",
                      expert_dtype=experts)


def test_weights_per_card_by_hand():
    """TP8 DeepSeek-R1: the routed experts (58 MoE layers × 256 experts / 8 cards) at 0.5 bytes,
    everything else at 1 byte."""
    mixed, fp8 = _dep("fp4"), _dep(None)
    a = mixed.arch
    routed = a.moe_layers * routed_experts_per_card(a, mixed.par) * a.expert_params
    assert routed == pytest.approx(58 * 256 / 8 * 3 * 7168 * 2048)
    rest = weights_per_card_bytes(fp8) - routed * BYTES_PER_VALUE["fp8"]
    assert weights_per_card_bytes(mixed) == pytest.approx(rest + routed * 0.5, rel=1e-12)
    assert weights_per_card_bytes(mixed) / 1e9 == pytest.approx(43.1, abs=0.1)
    assert weights_per_card_bytes(fp8) / 1e9 == pytest.approx(84.0, abs=0.1)


def test_same_precision_twice_is_the_uniform_deployment():
    """experts equal to weights (or None) gives the very same floats as before."""
    for fn, args in ((perf.decode_step, (256, 2000.0)), (perf.prefill_pass, (4, 1000.0))):
        a = fn(_dep(None), *args)
        b = fn(Deployment(get_model("deepseek-r1"), _dep(None).gpu, Parallelism(tp=8), CAL, "fp8", "fp8"), *args)
        assert a == b


def test_decode_reads_the_experts_at_their_bytes():
    """A memory-bound decode step reads fewer bytes with FP4 experts, and the routed GEMMs of a
    compute-bound prefill run on the FP4 curve (faster on B200, which has FP4 units)."""
    mixed, fp8 = _dep("fp4"), _dep(None)
    d_m, d_8 = perf.decode_step(mixed, 8, 2000.0), perf.decode_step(fp8, 8, 2000.0)
    assert d_m.bytes_per_card < 0.6 * d_8.bytes_per_card
    assert d_m.time_s < d_8.time_s
    # the routed GEMMs follow the FP4 grouped-GEMM curve (the dense ones the FP8 curve): per the
    # kernel tables faster than FP8 at few rows per expert, slower at thousands (B200 NVFP4 MoE
    # peaks at 31 % of the FP4 rate, FP8 block-scaled at 74 % of the FP8 rate)
    import numpy as np

    from planner.catalog.kernels import kernels_for
    from planner.physics.gemm import curve_times, gemm_rows, gemm_time
    kappa = CAL.v("gemm_efficiency_scale")
    # on H100 (no FP4 units) FP4 experts run weight-only (W4A16): the BF16 grouped-GEMM curve at
    # the BF16 peak, its ridge moved by the 0.5-byte weights
    for dep, peak in ((mixed, "fp4"), (_dep("fp4", gpu="h100"), "bf16")):
        curve = kernels_for(dep.gpu).moe("fp4")
        assert curve.peak_precision == peak
        for tokens in (64.0, 64_000.0):
            routed = 1e13
            extra = gemm_time(dep, tokens, 1e12, routed).time_s - gemm_time(dep, tokens, 1e12, 0.0).time_s
            _, m_expert = gemm_rows(dep, tokens)
            want = curve_times(np.array([routed]), np.array([m_expert]), curve, dep.gpu.flops(peak), kappa, 0.5)
            assert extra == pytest.approx(float(want[0]), rel=1e-9)


def test_roofline_profile_splits_the_rates():
    """Without kernel curves the routed FLOPs run at the experts' precision's peak."""
    roof = load_calibration("roofline")
    from planner.physics.gemm import gemm_time
    dep = _dep("fp4", calib=roof)
    g = dep.gpu
    t = gemm_time(dep, 1000.0, 2e12, 6e12).time_s
    eff = roof.v("compute_efficiency")
    assert t == pytest.approx(2e12 / (g.flops("fp8") * eff) + 6e12 / (g.flops("fp4") * eff))


def test_problem_precision_rules(tmp_path):
    """precision.experts sets the experts apart; weights alone sets every weight; neither: the
    checkpoint's own (gpt-oss: bf16 with fp4 experts)."""
    ds, oss = get_model("deepseek-r1"), get_model("gpt-oss-120b")
    assert ds.precisions("fp8", "fp4") == ("fp8", "fp4")
    assert ds.precisions(None, "fp4") == ("fp8", "fp4")
    assert ds.precisions(None, "fp8") == ("fp8", None)
    assert oss.precisions(None, None) == ("bf16", "fp4")
    assert oss.precisions("fp4", None) == ("fp4", None)
    p = tmp_path / "p.yaml"
    p.write_text("model: deepseek-r1\nprecision: {weights: fp8, experts: fp5}\n"
                 "workload: {qps: 1, input_tokens: 100, output_tokens: 100}\nslo: {ttft: 1s, tpot: 50ms}\n")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 2 and "precision.experts" in r.output


def test_example_plan_and_its_json():
    """problems/deepseek_b200_fp4_experts.yaml: never dearer than all-FP8 on the same card, and
    cheaper where the load is not a whole number of nodes either way (at 200 req/s both fit five
    B200 nodes under the profile of 2026-12-04; at 300 req/s FP4 experts save two); the JSON says
    the experts' precision, and the simulator rebuilds the same deployments."""
    path = ROOT / "problems" / "deepseek_b200_fp4_experts.yaml"
    plan = solve(load_any(path), str(path))

    def all_fp8(p):
        return p.model_copy(update={"precision": p.precision.model_copy(update={"experts": None})})

    base = solve(all_fp8(load_any(path)), "fp8")
    assert plan.cost_per_hour == pytest.approx(1698.40)
    assert base.cost_per_hour == pytest.approx(1698.40)
    busy = load_any(path)
    busy = busy.model_copy(update={"workload": busy.workload.model_copy(update={"qps": 300.0})})
    assert solve(busy, "fp4").cost_per_hour == pytest.approx(2377.76)
    assert solve(all_fp8(busy), "fp8").cost_per_hour == pytest.approx(2717.44)
    r = CliRunner().invoke(main, ["solve", str(path), "--json"])
    d = json.loads(r.output)
    assert (d["weight_dtype"], d["expert_dtype"], d["kv_dtype"]) == ("fp8", "fp4", "fp8")
    from planner.studies.simulate import plan_from_dict
    from planner.studies.simulate.tables import physics
    deps = physics(plan_from_dict(d, "x"), "x", None).deployments
    assert all(dep.expert_dtype == "fp4" and dep.weight_dtype == "fp8" for dep in deps)


def test_config_with_attention_left_out(tmp_path):
    """A config.json whose quantization_config leaves attention out (gpt-oss's MXFP4) gives BF16
    weights with FP4 experts."""
    cfg = {"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": 2880,
               "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
               "intermediate_size": 2880, "num_local_experts": 32, "num_experts_per_tok": 4,
               "vocab_size": 201088, "torch_dtype": "bfloat16",
           "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": [
               "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}}
    assert attention_not_quantized(cfg)
    assert not attention_not_quantized({"quantization_config": {"quant_method": "fp8"}})
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    m = model_from_config_json(p)
    assert (m.weight_dtype, m.expert_dtype) == ("bf16", "fp4")
    assert "attention excluded from quantization" in m.source


def test_eval_experts_flag():
    r = CliRunner().invoke(main, ["eval", "--model", "deepseek-r1", "--gpu", "b200", "--batch", "64",
                                  "--experts", "fp4", "--json"])
    d = json.loads(r.output)
    assert d["expert_dtype"] == "fp4" and d["memory_weights_per_card_bytes"] / 1e9 == pytest.approx(43.1, abs=0.1)
    r = CliRunner().invoke(main, ["eval", "--model", "deepseek-r1", "--gpu", "b200", "--batch", "64"])
    assert "fp8 weights, bf16 KV" in r.output
