"""Mixed precision per part (issue 21, item 3): attention, dense MLP, shared experts and routed
experts each at their own precision (precision.attention / dense_mlp / shared_experts / experts)."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from planner.catalog.calibration import load_calibration
from planner.catalog.hf_cache import parts_not_quantized
from planner.catalog.kernels import kernels_for
from planner.catalog.schemas import get_gpu, get_model, model_from_config_json
from planner.input.load import load_any
from planner.physics import batched, perf
from planner.physics.deployment import routed_experts_per_card, weights_per_card_bytes
from planner.physics.gemm import curve_times, gemm_rows, gemm_time
from planner.physics.perf import Deployment, Parallelism
from planner.plan.solve import solve

ROOT = Path(__file__).resolve().parents[1]
CAL = load_calibration("default")
EXAMPLE = ROOT / "problems" / "deepseek_b200_fp4_experts.yaml"


def _dep(parts=(), weights="fp8", experts=None, gpu="b200", calib=CAL, **par):
    return Deployment(get_model("deepseek-r1"), get_gpu(gpu), Parallelism(**(par or {"tp": 8})), calib, weights,
                      "fp8", expert_dtype=experts, part_dtypes=tuple(parts))


def test_weights_per_card_by_hand():
    """DeepSeek-R1 on TP8, BF16 attention beside FP8 everything else. Attention: 61 layers ×
    187,105,280 params / 8 cards = 1,426,677,760 params per card at 2 bytes; every other weight
    on the card at 1 byte: 84.0 GB all-FP8 becomes 85.4 GB."""
    a = get_model("deepseek-r1").arch
    assert (a.layers, a.attn_params) == (61, 187_105_280)
    attn = 61 * 187_105_280 / 8
    assert attn == 1_426_677_760
    fp8, mixed = _dep(), _dep([("attention", "bf16")])
    par = fp8.par
    everything = (a.layers * a.attn_params / 8 + a.dense_layers * a.dense_mlp_params / 8
                  + a.moe_layers * (a.shared_params / 8 + a.router_params
                                    + routed_experts_per_card(a, par) * a.expert_params)
                  + a.norm_params + a.embed_params / 8 + a.lm_head_params / 8)
    assert weights_per_card_bytes(fp8) == pytest.approx(everything * 1.0, rel=1e-12)
    assert weights_per_card_bytes(mixed) == pytest.approx(attn * 2.0 + (everything - attn) * 1.0, rel=1e-12)
    assert weights_per_card_bytes(fp8) / 1e9 == pytest.approx(84.0, abs=0.1)
    assert weights_per_card_bytes(mixed) / 1e9 == pytest.approx(85.4, abs=0.1)


def test_four_parts_by_hand():
    """Every part apart (bf16 attention, fp8 dense MLP and shared experts over fp4 weights, int8
    experts): each part's params per card at its own bytes, embedding/head/norms/router at fp4."""
    a = get_model("deepseek-r1").arch
    dep = _dep([("attention", "bf16"), ("dense_mlp", "fp8"), ("shared_experts", "fp8")], weights="fp4",
               experts="int8")
    attn = a.layers * a.attn_params / 8
    mlp = a.dense_layers * a.dense_mlp_params / 8
    shared = a.moe_layers * a.shared_params / 8
    routed = a.moe_layers * routed_experts_per_card(a, dep.par) * a.expert_params
    rest = a.moe_layers * a.router_params + a.norm_params + (a.embed_params + a.lm_head_params) / 8
    want = attn * 2 + (mlp + shared) * 1 + routed * 1 + rest * 0.5
    assert weights_per_card_bytes(dep) == pytest.approx(want, rel=1e-12)


def test_uniform_parts_are_the_uniform_deployment():
    """Parts at the weights' precision are dropped: the very floats of the plain deployment."""
    same = _dep([("attention", "fp8"), ("shared_experts", "fp8")])
    assert same.part_dtypes == () and not same.dense_split
    for fn, args in ((perf.decode_step, (256, 2000.0)), (perf.prefill_pass, (4, 1000.0))):
        assert fn(same, *args) == fn(_dep(), *args)


def test_gemm_time_of_a_part_on_its_own_curve():
    """BF16 attention beside FP8 rest: the attention's share of the dense FLOPs (61·attn over all
    dense params) runs on the BF16 curve at the BF16 peak, the rest on the FP8 curve. On H100,
    FP4 attention has no FP4 units: the BF16 curve (W4A16), its ridge moved by 0.5-byte weights."""
    a = get_model("deepseek-r1").arch
    total = (a.layers * a.attn_params + a.dense_layers * a.dense_mlp_params
             + a.moe_layers * (a.shared_params + a.router_params) + a.lm_head_params)
    share = a.layers * a.attn_params / total
    assert share == pytest.approx(0.705, abs=0.001)
    kappa = CAL.v("gemm_efficiency_scale")
    for gpu, attn, peak, wb in (("b200", "bf16", "bf16", 2.0), ("h100", "fp4", "bf16", 0.5)):
        dep, k = _dep([("attention", attn)], gpu=gpu), kernels_for(get_gpu(gpu))
        assert k.gemm(attn).peak_precision == peak
        g = dep.gpu
        for tokens in (64.0, 16_000.0):
            m, _ = gemm_rows(dep, tokens)
            dense = 4e12

            def on(curve, f, b, m=m, g=g):
                return float(curve_times(np.array([f]), np.array([m]), curve, g.flops(curve.peak_precision),
                                         kappa, b)[0])
            want = on(k.gemm(attn), dense * share, wb) + on(k.gemm("fp8"), dense * (1 - share), 1.0)
            assert gemm_time(dep, tokens, dense, 0.0).time_s == pytest.approx(want, rel=1e-12)
    # BF16 attention makes a compute-bound prefill on B200 slower than all-FP8
    assert perf.prefill_pass(_dep([("attention", "bf16")]), 8, 4000.0).time_s > perf.prefill_pass(
        _dep(), 8, 4000.0).time_s


def test_roofline_profile_splits_the_rates():
    roof = load_calibration("roofline")
    dep = _dep([("attention", "bf16")], calib=roof)
    share = 61 * 187_105_280 / (61 * 187_105_280 + 3 * 396_361_728 + 58 * (44_040_192 + 1_835_008) + 926_679_040)
    eff, g = roof.v("compute_efficiency"), dep.gpu
    want = 2e12 * share / (g.flops("bf16") * eff) + 2e12 * (1 - share) / (g.flops("fp8") * eff)
    assert gemm_time(dep, 1000.0, 2e12, 0.0).time_s == pytest.approx(want, rel=1e-12)


def test_batched_twin_agrees():
    """The numpy twin gives the scalar function's floats with parts apart."""
    for dep in (_dep([("attention", "bf16")], experts="fp4"),
                _dep([("attention", "fp4"), ("shared_experts", "bf16")], gpu="h100")):
        b = np.array([1.0, 8.0, 64.0, 512.0])
        arr = batched.decode_steps(dep, b, 2000.0)
        for i, bi in enumerate(b.tolist()):
            assert arr.at(i) == perf.decode_step(dep, bi, 2000.0)


def _with_parts(**parts):
    p = load_any(EXAMPLE)
    return p.model_copy(update={"precision": p.precision.model_copy(update=parts)})


def test_problem_with_bf16_attention_costs_at_least_all_fp8():
    """The example with BF16 attention (and FP4 experts, FP8 rest) costs no less than with FP8
    attention; its JSON and text say the attention's precision, and the simulator's deployments
    carry it."""
    fp8 = solve(_with_parts(), "fp8")
    bf16 = solve(_with_parts(attention="bf16"), "bf16")
    assert fp8.cost_per_hour == pytest.approx(1698.40)
    assert bf16.cost_per_hour >= fp8.cost_per_hour - 1e-9   # the same five nodes today, summed in another order
    assert bf16.resolved.part_dtypes == (("attention", "bf16"),)
    from planner.report.json import plan_json
    from planner.report.text import precisions
    d = plan_json(bf16)
    assert d["part_dtypes"] == {"attention": "bf16"} and "part_dtypes" not in plan_json(fp8)
    assert precisions(d) == "fp8 weights, bf16 attention, fp4 experts, fp8 KV"
    from planner.studies.simulate import plan_from_dict
    from planner.studies.simulate.tables import physics
    deps = physics(plan_from_dict(json.loads(json.dumps(d)), "x"), "x", None).deployments
    assert all(dep.precision_of("attention") == "bf16" and dep.expert_dtype == "fp4" for dep in deps)


def test_part_rules():
    """A part not given follows `weights` when given, else the checkpoint's own."""
    ds = get_model("deepseek-r1")
    assert ds.part_precisions(None, {"attention": "bf16"}) == (("attention", "bf16"),)
    assert ds.part_precisions("fp8", {"attention": "fp8"}) == ()
    assert ds.part_precisions("fp4", {"dense_mlp": "fp8", "shared_experts": None}) == (("dense_mlp", "fp8"),)


@pytest.mark.parametrize("precision, field", [
    ("{weights: fp8, attention: fp3}", "precision.attention"),
    ("{dense_mlp: int4}", "precision.dense_mlp"),
    ("{shared_experts: bf8}", "precision.shared_experts"),
    ("{attn: bf16}", "precision.attn"),
])
def test_bad_part_precision(tmp_path, precision, field):
    p = tmp_path / "p.yaml"
    p.write_text(f"model: deepseek-r1\nprecision: {precision}\n"
                 "workload: {qps: 1, input_tokens: 100, output_tokens: 100}\nslo: {ttft: 1s, tpot: 50ms}\n"
                 "gpus: [b200]\n")
    r = CliRunner().invoke(main, ["solve", str(p)])
    assert r.exit_code == 2, r.output
    assert str(p) in r.output and field in r.output


def test_eval_part_flags():
    args = ["eval", "--model", "deepseek-r1", "--gpu", "b200", "--batch", "64"]
    base = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    r = CliRunner().invoke(main, [*args, "--attention", "bf16", "--json"])
    d = json.loads(r.output)
    assert d["part_dtypes"] == {"attention": "bf16"} and "part_dtypes" not in base
    extra = d["memory_weights_per_card_bytes"] - base["memory_weights_per_card_bytes"]
    assert extra == pytest.approx(61 * 187_105_280 / 8 * (2 - 1), rel=1e-9)
    r = CliRunner().invoke(main, [*args, "--attention", "bf16", "--shared-experts", "bf16", "--dense-mlp", "fp8"])
    assert r.exit_code == 0 and "fp8 weights, bf16 attention, bf16 shared experts, bf16 KV" in r.output
    r = CliRunner().invoke(main, [*args, "--attention", "fp3"])
    assert r.exit_code == 2 and "--attention" in r.output


DS_CONFIG = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 7168,
             "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128,
             "intermediate_size": 18432, "moe_intermediate_size": 2048, "n_routed_experts": 256,
             "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "q_lora_rank": 1536,
             "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
             "vocab_size": 129280, "torch_dtype": "bfloat16"}


def test_config_with_attention_left_out(tmp_path):
    """An FP8 DeepSeek config.json whose quantization_config leaves the attention out: BF16
    attention (the checkpoint's dtype), FP8 dense MLP, shared and routed experts; BF16 embedding,
    head and router. A shared expert named in the list stays BF16 too."""
    q = {"quant_method": "fp8", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]}
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**DS_CONFIG, "quantization_config": q}))
    m = model_from_config_json(p)
    assert (m.weight_dtype, m.expert_dtype) == ("bf16", "fp8")
    assert m.part_dtypes == (("dense_mlp", "fp8"), ("shared_experts", "fp8"))
    dep = Deployment(m, get_gpu("b200"), Parallelism(tp=8), CAL, *m.precisions(None, None)[:1], "fp8",
                     expert_dtype=m.expert_dtype, part_dtypes=m.part_precisions(None, {}))
    assert [dep.precision_of(x) for x in ("attention", "dense_mlp", "shared_experts")] == ["bf16", "fp8", "fp8"]
    assert "attention excluded from quantization" in m.source
    q2 = {**q, "modules_to_not_convert": ["self_attn", "model.layers.*.mlp.shared_experts", "model.layers.0.mlp"]}
    assert parts_not_quantized({"quantization_config": q2}) == {"attention", "shared_experts", "dense_mlp"}
    p.write_text(json.dumps({**DS_CONFIG, "quantization_config": q2}))
    assert model_from_config_json(p).part_dtypes == ()
    # nothing left out: every weight at the declared precision, as before
    p.write_text(json.dumps({**DS_CONFIG, "quantization_config": {"quant_method": "fp8"}}))
    m = model_from_config_json(p)
    assert (m.weight_dtype, m.expert_dtype, m.part_dtypes) == ("fp8", None, ())
    assert parts_not_quantized({"quantization_config": {"ignore": ["model.layers.3.mlp.gate"]}}) == set()


def test_fleet_pools_only_classes_of_one_precision_per_part():
    """Classes of one model whose attention precisions differ are never pooled into one service."""
    from planner.plan.services import resolve_classes, service_plans
    f = load_any(ROOT / "problems" / "fleet_mix.yaml")
    cls = [c.model_copy(update={"precision": c.precision.model_copy(update={"attention": "bf16"})})
           if c.name == "reasoning" else c for c in f.classes]
    f = f.model_copy(update={"classes": cls})
    singles = resolve_classes(f, "fleet")
    assert [r.part_dtypes for r in singles[:3]] == [(), (("attention", "bf16"),), ()]
    pooled = [[k.name for k in ks] for ks, _ in service_plans(f, singles) if len(ks) > 1]
    assert ["chat", "coding"] in pooled
    assert not any("reasoning" in names for names in pooled)


def test_memo_keeps_part_precisions_apart():
    """The physics memo keys on the parts' precisions: BF16 attention is not served the FP8 result."""
    from planner.plan.candidate import memoised
    fp8, bf16 = _dep(), _dep([("attention", "bf16")])
    a, b = memoised(perf.memory_use, fp8, 1, 2000.0), memoised(perf.memory_use, bf16, 1, 2000.0)
    assert b.weights_bytes - a.weights_bytes == pytest.approx(61 * 187_105_280 / 8, rel=1e-9)


def test_dense_config_with_attention_left_out(tmp_path):
    """A dense model (Llama-3.1-8B shape) whose FP8 quantization leaves attention out: BF16
    weights and attention, FP8 MLP (before the parts, every weight was taken as FP8)."""
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
           "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 14336, "vocab_size": 128256, "torch_dtype": "bfloat16",
           "quantization_config": {"quant_method": "fp8", "ignore": ["re:.*self_attn.*", "lm_head"]}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    m = model_from_config_json(p)
    assert (m.weight_dtype, m.expert_dtype, m.part_dtypes) == ("bf16", None, (("dense_mlp", "fp8"),))


def test_fp4_weights_on_a_card_without_fp4_units_run_at_its_bf16_rate():
    """Hopper runs MXFP4 weights as W4A16, at the BF16 rate, as the kernel curves say; the roofline
    (`GPU.flops`) gave them the FP8 rate, so `calibration: roofline` prefilled FP4 as fast as FP8."""
    h100, b200 = get_gpu("h100"), get_gpu("b200")
    assert h100.flops("fp4") == h100.flops("bf16") == pytest.approx(989e12, rel=0.01)
    assert h100.flops("fp8") == pytest.approx(2 * h100.flops("bf16"), rel=0.01)
    assert b200.flops("fp4") == b200.dense_flops["fp4"].value > b200.flops("fp8")
