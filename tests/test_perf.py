"""The analytic model against the seed note's hand calculations, and where it departs from them.

Seed numbers (shared/design.md): 671 B FP8 over 8 cards = 84 GB per card; 4.8 TB/s ÷ 84 GB
≈ 57 steps/s; (84 GB + bs·7168·2 B) ÷ 4.8 TB/s ≈ 17.5 ms; 2 GB per card ÷ 4.8 TB/s ≈ 0.4 ms;
23 prompts × 1000 tokens × 84 G params × 2 ≈ 3.86 PFLOP; 0.046 vs 0.062 RMB/s.
"""

import pytest

from planner.catalog.schemas import get_gpu
from planner.physics import perf
from tests.conftest import make_dep


def test_seed_84_gb_per_card(roofline):
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    assert perf.weights_per_card_bytes(dep) / 1e9 == pytest.approx(84.0, rel=0.01)


def test_seed_17_5_ms_step_at_large_batch(roofline):
    """At batch 256 nearly all 256 experts are read: the seed's 84 GB / 4.8 TB/s holds."""
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    step = perf.decode_step(dep, 256, context_tokens=1)
    assert step.memory_s * 1e3 == pytest.approx(17.5, rel=0.03)
    assert 1 / step.time_s == pytest.approx(57, rel=0.03)  # the seed's 57 tokens/s per stream
    assert step.bound == "memory"


def test_batch_one_reads_only_routed_experts(roofline):
    """Where the model departs from the seed: at batch 1 only the top-8 experts are read."""
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    one = perf.decode_step(dep, 1, context_tokens=1)
    big = perf.decode_step(dep, 256, context_tokens=1)
    assert 0.5e-3 < one.time_s < 2.5e-3          # design.md: roofline 1–2.5 ms
    assert one.time_s < 0.1 * big.time_s
    assert perf.expected_experts_touched(256, 8, 1) == pytest.approx(8.0)
    assert perf.expected_experts_touched(256, 8, 256) > 250


@pytest.mark.parametrize("calib", ["roofline", "default"])
def test_fewer_sequences_than_stages_run_one_sequence_a_micro_batch(calib):
    """A token of a MoE model reads its top-k experts in every layer: with b < pp sequences the
    stages held b/pp of one (DeepSeek-R1, TP8·PP4 on H200, read 7.6 ms a token at b = 1 and
    7.8 ms on TP8 alone; a hunt). Fewer sequences than stages leave stages idle, so TPOT is flat
    for 1 ≤ b ≤ pp, and one token through four stages is not faster than through one."""
    from planner.catalog.calibration import load_calibration
    c = load_calibration(calib)
    pp4 = make_dep("deepseek-r1", "h200", c, tp=8, pp=4)
    steps = [perf.decode_step(pp4, b, 1000).time_s for b in (1, 2, 3, 4)]
    if calib == "roofline":
        assert steps == [steps[3]] * 4
    else:   # but the host time per scheduled sequence (µs each)
        assert steps == sorted(steps) and steps[3] - steps[0] < 1e-5
    assert perf.decode_step(pp4, 8, 1000).time_s > steps[3]
    assert steps[0] >= perf.decode_step(make_dep("deepseek-r1", "h200", c, tp=8), 1, 1000).time_s
    assert perf.stage_batch(0.25, 4) == 1.0 and perf.stage_batch(2, 4) == 4.0 and perf.stage_batch(12, 4) == 12.0


def test_seed_expert_per_card_step(roofline, deepseek):
    """One expert per card over 320 cards: the seed rounds it to 2 GB → 0.4 ms; counted, 2.55 GB → 0.53 ms."""
    assert perf.experts_per_card(deepseek.arch, 320) == 1.0
    expert_bytes = deepseek.arch.moe_layers * deepseek.arch.expert_params * 1.0   # FP8
    assert expert_bytes / 1e9 == pytest.approx(2.55, rel=0.01)
    assert 2e9 / 4.8e12 * 1e3 == pytest.approx(0.417, rel=0.01)
    assert expert_bytes / get_gpu("h200").memory_bandwidth_bytes_per_s * 1e3 == pytest.approx(0.53, rel=0.02)


def test_seed_prefill_flops(roofline):
    """Seed: 23·1000·84e9·2 ≈ 3.86 PFLOP (all 84 G per-card params). The model counts only the
    ~37 B active parameters plus attention, ≈ 1.7 PFLOP for the whole 8-card instance."""
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    per_card_params = perf.weights_per_card_bytes(dep) / 1.0
    assert 23 * 1000 * per_card_params * 2 / 1e15 == pytest.approx(3.86, rel=0.01)
    p = perf.prefill_pass(dep, 23, 1000)
    total = p.flops_per_card * 8
    linear = 2 * dep.model.params_active * 23_000
    assert linear / 1e15 == pytest.approx(1.68, rel=0.01)
    assert linear < total < 1.1 * linear        # attention at 1k tokens adds a few per cent
    assert p.bound == "compute"


def test_kv_replicated_under_tp_for_mla_not_for_dp(roofline):
    """MLA's latent is held by every TP rank; DP attention splits sequences instead."""
    tp = make_dep("deepseek-r1", "h200", roofline, tp=8)
    dp = make_dep("deepseek-r1", "h200", roofline, tp=1, dp=8)
    assert perf.kv_bytes_per_token_per_card(tp) == 61 * 576 * 2
    assert perf.memory_use(dp, 80, 2000).kv_bytes == pytest.approx(perf.memory_use(tp, 80, 2000).kv_bytes / 8)


def test_gqa_kv_split_across_tp(roofline):
    d = make_dep("llama-3.1-70b", "h100", roofline, tp=4, weights="fp8", kv="fp8")
    assert perf.kv_bytes_per_token_per_card(d) == 80 * 2 * 2 * 128  # 8 kv heads / 4 = 2 per card
    d16 = make_dep("llama-3.1-70b", "h100", roofline, tp=8, pp=2, kv="fp8")
    assert perf.kv_bytes_per_token_per_card(d16) == 40 * 2 * 1 * 128


def test_max_batch_and_overflow(roofline):
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    b = perf.max_batch(dep, 2000)
    free = 141e9 - perf.weights_per_card_bytes(dep)
    assert b == int(free // (2000 * 61 * 576 * 2))
    small = make_dep("deepseek-r1", "h200", roofline, tp=4)
    mem = perf.memory_use(small, 1, 2000)
    assert not mem.fits and mem.overflow_bytes / 1e9 == pytest.approx(168.0 - 141.0, rel=0.02)


def test_decode_tokens_per_s_rises_with_batch_until_memory(roofline):
    from planner.catalog.calibration import load_calibration
    for calib in (roofline, load_calibration("default")):
        dep = make_dep("llama-3.1-70b", "h100", calib, tp=4, kv="fp8")
        limit = perf.max_batch(dep, 3000)
        pts = perf.decode_curve(dep, 2000, perf.batch_grid(limit))
        rates = [p.tokens_per_s for p in pts]
        assert all(b >= a for a, b in zip(rates, rates[1:]))
        tpots = [p.tpot_s for p in pts]
        assert all(b >= a for a, b in zip(tpots, tpots[1:]))


@pytest.mark.parametrize("field,factor", [("memory_bandwidth", 2.0), ("flops", 2.0), ("link", 2.0)])
def test_more_hardware_is_never_slower(roofline, field, factor):
    from planner.catalog.calibration import load_calibration
    g = get_gpu("h100")
    if field == "memory_bandwidth":
        faster = g.model_copy(update={"memory_bandwidth": g.memory_bandwidth.model_copy(
            update={"value": g.memory_bandwidth.value * factor})})
    elif field == "flops":
        faster = g.model_copy(update={"dense_flops": {k: v.model_copy(update={"value": v.value * factor})
                                                      for k, v in g.dense_flops.items()}})
    else:
        su = g.scale_up
        faster = g.model_copy(update={"scale_up": su.model_copy(update={
            "bandwidth_per_direction": su.bandwidth_per_direction.model_copy(
                update={"value": su.bandwidth_per_direction.value * factor})})})
    calib = load_calibration("default")
    for model, kw in (("llama-3.1-70b", dict(tp=8)), ("deepseek-r1", dict(tp=1, dp=16))):
        a, b = make_dep(model, g, calib, **kw), make_dep(model, faster, calib, **kw)
        for batch in (1, 16, 256):
            assert perf.decode_step(b, batch, 2000).time_s <= perf.decode_step(a, batch, 2000).time_s
        assert perf.prefill_pass(b, 4, 2000).time_s <= perf.prefill_pass(a, 4, 2000).time_s


def test_prefix_cache_removes_compute(roofline):
    dep = make_dep("llama-3.1-70b", "h100", roofline, tp=8)
    cold = perf.prefill_pass(dep, 8, 4000, 0)
    warm = perf.prefill_pass(dep, 8, 2000, 2000)
    assert warm.compute_s < 0.6 * cold.compute_s


def test_attention_flops_grow_quadratically(roofline):
    dep = make_dep("llama-3.1-8b", "h100", roofline, tp=1, weights="bf16")
    a = dep.arch
    def f(s):
        return perf.prefill_pass(dep, 1, s).flops_per_card - 2 * (
            a.layers * a.attn_params + a.dense_layers * a.dense_mlp_params) * s - 2 * a.lm_head_params
    # attention part: 4·nh·hd·L·s²/2 → ×4 when s doubles
    assert f(32000) / f(16000) == pytest.approx(4.0, rel=0.02)


def test_kv_transfer_time(roofline):
    dep = make_dep("deepseek-r1", "h200", roofline, tp=8)
    # 1000 tokens × 70,272 B over 8 × 50 GB/s
    assert perf.kv_transfer_time(dep, 1000) == pytest.approx(1000 * 70272 / (8 * 50e9), rel=1e-6)


def test_host_time_per_scheduled_sequence(roofline):
    """sequence_overhead_s: each DP rank's scheduler spends it once per sequence per step, so a
    decode step of b sequences on DP4 gains b/4 · s, a mixed step (b + the chunk's prompt)/4 · s
    and a prefill pass of P prompts P/4 · s; nothing else moves."""
    s = 2e-5
    host = roofline.with_overrides({"sequence_overhead_s": s})
    a, b = make_dep("deepseek-r1", "h200", roofline, dp=4), make_dep("deepseek-r1", "h200", host, dp=4)
    for batch in (1, 64, 512):
        assert perf.decode_step(b, batch, 2000).time_s - perf.decode_step(a, batch, 2000).time_s \
            == pytest.approx(batch / 4 * s)
        assert perf.mixed_step(b, batch, 2000, 4096, 8000).time_s - perf.mixed_step(a, batch, 2000, 4096, 8000).time_s \
            == pytest.approx((batch + 1) / 4 * s)
        assert perf.prefill_pass(b, 8, 1000).time_s - perf.prefill_pass(a, 8, 1000).time_s == pytest.approx(8 / 4 * s)
        assert perf.decode_step(b, batch, 2000).overhead_s - perf.decode_step(a, batch, 2000).overhead_s \
            == pytest.approx(batch / 4 * s)


def test_kv_reads_at_their_own_bandwidth_share():
    """kv_bandwidth_scale κ: the KV cache is read at η_m·κ of the HBM bandwidth, weights at η_m;
    never above the nominal bandwidth (κ is capped at 1/η_m)."""
    from planner.catalog.calibration import load_calibration
    base = load_calibration("default").with_overrides({"memory_efficiency": 0.8, "kv_bandwidth_scale": 1.0})
    slow = base.with_overrides({"kv_bandwidth_scale": 0.5})
    fast = base.with_overrides({"kv_bandwidth_scale": 1.5})
    a, b, c = (make_dep("llama-3.1-70b", "h100", k, tp=4, weights="fp8") for k in (base, slow, fast))
    ctx, batch = 8000.0, 64
    kv = batch * ctx * perf.kv_bytes_per_token_per_card(a)
    bw = a.gpu.memory_bandwidth_bytes_per_s
    assert perf.decode_step(b, batch, ctx).memory_s - perf.decode_step(a, batch, ctx).memory_s \
        == pytest.approx(kv / (bw * 0.4) - kv / (bw * 0.8))
    # 1.5 × 0.8 would read faster than the card: capped at the nominal bandwidth
    assert perf.decode_step(a, batch, ctx).memory_s - perf.decode_step(c, batch, ctx).memory_s \
        == pytest.approx(kv / (bw * 0.8) - kv / bw)


def test_a_hybrid_models_linear_attention_state_is_read_and_written_every_decode_step(monkeypatch):
    """Qwen3.5-397B: 45 Gated DeltaNet layers, each sequence holding 64 heads × 128 × 128 FP32
    recurrent values and (2·16·128 + 64·128)·3 = 36,864 BF16 convolution values per layer. On TP4
    a card holds a quarter: 45 × (1,048,576·4 + 36,864·2) / 4 = 48,015,360 B per sequence, and a
    decode step moves it twice (read, write): at batch 64 the step moves 64 × 2 × 48.0 MB more
    than it would without the state, whatever the context. A model without linear layers: 0."""
    import numpy as np

    from planner.catalog.calibration import load_calibration
    from planner.physics.batched import decode_steps
    from planner.physics.deployment import linear_state_bytes_per_sequence_per_card
    calib = load_calibration("default")
    dep = make_dep("qwen3.5-397b-a17b", "b200", calib, tp=4, weights="fp8", kv="fp8")
    assert linear_state_bytes_per_sequence_per_card(dep) == 48_015_360
    with_state = {ctx: perf.decode_step(dep, 64, ctx).bytes_per_card for ctx in (1_500.0, 9_000.0)}
    arrays = decode_steps(dep, np.array([64.0]), 1_500.0)
    assert arrays.bytes_per_card[0] == pytest.approx(with_state[1_500.0], rel=1e-12)
    monkeypatch.setattr(perf, "linear_state_traffic_per_sequence_per_card", lambda d: 0.0)
    for ctx, nbytes in with_state.items():
        assert nbytes - perf.decode_step(dep, 64, ctx).bytes_per_card == pytest.approx(64 * 2 * 48_015_360)
    assert linear_state_bytes_per_sequence_per_card(make_dep("llama-3.1-70b", "h100", calib, tp=4)) == 0.0


@pytest.mark.parametrize("model", ["llama-3.1-70b", "qwen3-235b-a22b", "deepseek-r1", "deepseek-v3.2"])
def test_a_chunk_of_unequal_prompts_pays_the_attention_a_prefill_pass_pays(roofline, model):
    """A whole prompt chunked in one step (no decodes beside it) attends what a prefill pass of it
    attends, and over prompts of unequal length both charge (1 + cv²) times the mean prompt's
    pairs (E[L²]/(2E[L]) keys per prompt token). Until 2026-12-04 the chunk was charged the mean
    prompt's keys whatever the spread: a 2k/16k/60k mix (cv² 2.0) on a colocated pool paid a
    third of the attention the same prompts paid in a prefill pool, which tilted plans towards
    colocated pools for long-tailed prompts."""
    dep = make_dep(model, "h200", roofline, tp=8)
    extra = {}
    for cv2 in (0.0, 2.0):
        chunk = perf.mixed_step(dep, 0, 8000, 8000, 8000, cv2).flops_per_card
        whole = perf.prefill_pass(dep, 1, 8000, 0.0, cv2).flops_per_card
        extra[cv2] = (chunk, whole)
    attn = perf.prefill_attention_flops(dep, 1, 8000, 0.0, 0.0)
    assert attn > 0
    for i in (0, 1):   # the attention is all the two spreads differ by, in each
        assert extra[2.0][i] - extra[0.0][i] == pytest.approx(2.0 * attn, rel=1e-9)
