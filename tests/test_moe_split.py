"""Experts sliced (moe_tp) apart from experts spread (moe_ep): the layout, what a card holds and
does, its collectives, and how measured rows record it; and the KV slots of a measured run."""

from __future__ import annotations

import math

import pytest

from planner.catalog.calibration import load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.fidelity.measurements import load_points
from planner.physics import comm
from planner.physics.benchmark import BENCH_KV_FREE_FRACTION, engine_kv_slots
from planner.physics.deployment import (
    ACT_BYTES,
    Deployment,
    Parallelism,
    expected_experts_touched,
    experts_on_card,
    kv_bytes_per_token_per_card,
    memory_use,
    weights_per_card_bytes,
)
from tests.test_measurements import _row, _write


def dep(par: Parallelism, model: str = "deepseek-r1", gpu: str = "h200", calib: str = "default") -> Deployment:
    """A deployment under `calib` with a routing skew of 1.2 (so that where it applies shows)."""
    c = load_calibration(calib).with_overrides({"moe_imbalance": 1.2})
    return Deployment(load_models()[model], load_gpus()[gpu], par, c, "fp8", "fp8")


def test_layout_counts_and_label():
    p = Parallelism(8, 1, 1, moe_tp=8)
    assert (p.stage_cards, p.moe_ep, p.label()) == (8, 1, "TP8·ETP8")
    q = Parallelism(4, 1, 4, moe_tp=2)
    assert (q.moe_ep, q.label()) == (8, "TP4·DP4·ETP2")
    assert Parallelism(8).moe_ep == 8 and Parallelism(8).label() == "TP8"
    with pytest.raises(ValueError, match="must divide"):
        Parallelism(8, 1, 1, moe_tp=3)


def test_a_card_holds_the_same_expert_bytes_sliced_or_spread():
    """DeepSeek's 256 experts over 8 cards: 32 whole experts per card (EP8) or 1/8 of all 256 (ETP8)."""
    spread, sliced = dep(Parallelism(8)), dep(Parallelism(8, moe_tp=8))
    assert weights_per_card_bytes(spread) == pytest.approx(weights_per_card_bytes(sliced))


def test_imbalance_loads_only_expert_parallel_ranks():
    ep, etp = dep(Parallelism(8)), dep(Parallelism(8, moe_tp=8))
    imb = ep.calib.v("moe_imbalance")
    assert imb > 1.0
    a = ep.arch
    tokens = 64.0
    pairs_ep, touched_ep = experts_on_card(ep, tokens)
    pairs_tp, touched_tp = experts_on_card(etp, tokens)
    assert pairs_ep == pytest.approx(tokens * a.experts_per_token / 8 * imb)
    assert pairs_tp == pytest.approx(tokens * a.experts_per_token / 8)        # no skew across slices
    # ETP8: every touched expert of the layer, 1/8 of each
    assert touched_tp == pytest.approx(expected_experts_touched(a.experts, a.experts_per_token, tokens) / 8)
    # EP8: the card's 32 experts times the share hit, times the skew
    share = expected_experts_touched(a.experts, a.experts_per_token, tokens) / a.experts
    assert touched_ep == pytest.approx(min(32.0, 32.0 * share * imb))
    # rows of one expert's GEMM are the same either way (without skew)
    assert pairs_tp / touched_tp == pytest.approx(tokens * a.experts_per_token / expected_experts_touched(
        a.experts, a.experts_per_token, tokens))


def test_sliced_experts_all_reduce_spread_experts_all_to_all():
    """TP8 attention with ETP8: per MoE layer one all-reduce of tokens·h over 8 cards (Megatron's
    second all-reduce), no all-to-all; with EP8: a dispatch and a combine all-to-all instead."""
    d_tp, d_ep = dep(Parallelism(8, moe_tp=8)), dep(Parallelism(8))
    a = d_tp.arch
    tokens = 32.0
    act = a.hidden * ACT_BYTES
    ar = comm.allreduce_time(d_tp, 8, tokens * act)
    attn = (a.layers + a.dense_layers) * ar
    assert comm.stage_comm_time(d_tp, tokens) == pytest.approx(attn + a.moe_layers * ar)
    per_card = tokens / 8 * a.experts_per_token * act * d_ep.calib.v("moe_imbalance")
    a2a = comm.alltoall_time(d_ep, 8, per_card)
    assert comm.stage_comm_time(d_ep, tokens) == pytest.approx(attn + a.moe_layers * 2 * a2a)


def test_measured_rows_keep_their_moe_split(tmp_path):
    rows = [_row("etp", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="8", ttft="2000"),
            _row("ep", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="8", ttft="2100"),
            _row("odd", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="8", ttft="2200")]
    rows[0].update(moe_tp_size="8", moe_ep_size="1")
    rows[1].update(moe_tp_size="1", moe_ep_size="8")
    rows[2].update(moe_tp_size="4", moe_ep_size="4")          # 16 ≠ 8 cards: not a split of the stage
    points, _ = load_points([_write(tmp_path, rows)])
    assert [p.par.moe_tp for p in points] == [8, 1, 1]


def test_kv_slots_of_a_measured_run():
    """0.9 of what the weights leave free holds the KV cache; a run whose weights the model puts
    above the card (DeepSeek-V3 FP8 on 4×B200: 168 of 180 GB) still ran, so it is not capped."""
    d = dep(Parallelism(8), gpu="h200")
    use = memory_use(d, 0, 2048.0)
    per_seq = 2048.0 * kv_bytes_per_token_per_card(d)
    expect = (use.capacity_bytes - use.weights_bytes) * BENCH_KV_FREE_FRACTION / per_seq
    assert engine_kv_slots(d, 2048.0) == pytest.approx(expect)
    assert 100 < expect < 1e5
    tight = dep(Parallelism(4), model="deepseek-v3", gpu="b200")
    assert memory_use(tight, 0, 2048.0).weights_bytes > tight.gpu.memory_bytes * tight.calib.v("memory_usable_fraction")
    assert engine_kv_slots(tight, 2048.0) > 0
    huge = dep(Parallelism(1), model="deepseek-v3", gpu="h200")           # 671 GB on one card: no room
    assert math.isinf(engine_kv_slots(huge, 2048.0))


def test_a_users_deployment_says_how_experts_are_split(tmp_path):
    """The deployment YAML's `ep`: experts spread over ep ranks, sliced over tp·dp/ep cards
    (ep: 1 is vLLM without --enable-expert-parallel); left out, spread over all; a dense model
    has nothing to split; an ep that does not divide tp·dp is refused."""
    from planner.errors import BadInput
    from planner.fidelity.bench_files import load_deployment, make_point
    models = load_models()

    def split(model: str, par: str) -> int:
        f = tmp_path / "dep.yaml"
        f.write_text(f"gpu: h200\nengine: vllm\ncards: 8\nparallelism: {par}\n")
        p = make_point(pid="x", origin="x", dep=load_deployment(f), model=model, c=8, isl=1000, osl=100,
                       ttft_s=0.5, tpot_s=0.02, models=models)
        return p.par.moe_tp
    assert split("deepseek-r1", "{tp: 8, ep: 1}") == 8
    assert split("deepseek-r1", "{tp: 8, ep: 2}") == 4
    assert split("deepseek-r1", "{tp: 8}") == 1
    assert split("llama-3.1-70b", "{tp: 8, ep: 1}") == 1
    with pytest.raises(BadInput, match=r"parallelism\.ep: 3 does not divide tp·dp = 8"):
        split("deepseek-r1", "{tp: 8, ep: 3}")
