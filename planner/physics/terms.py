"""The constants of one deployment's passes, computed once per deployment value.

`perf` and `batched` evaluate a deployment's passes at many operating points (a candidate search
asks for thousands). Everything in a pass that depends on the deployment alone — its dense
parameters, the weight bytes beside the routed experts, the calibration's efficiencies and
overheads, the kernel curves, each collective's group with its measured table or link — is
gathered here in a `StageTerms`. Each constant is the float the per-call formula computed (the
same operations in the same order: a product of scalars is taken only where the formula itself
takes it before multiplying by a per-point value), so no pass moves by a bit.

Cached by value: the architecture, the GPU's numbers the terms read, every scalar calibration
parameter, the layout, precisions and speculation. Never by the identity of an object: a
calibration fit builds profiles afresh, and a new object may take a freed one's id. A deployment
also keeps its terms (`Deployment.derived`), so it looks the key up once.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.physics.comm import StageComm, p2p_link, stage_comm
from planner.physics.deployment import (
    Deployment,
    by_value,
    edge_params_per_card,
    experts_per_card,
    kv_bytes_per_token_per_card,
    kv_scale,
    linear_state_traffic_per_sequence_per_card,
    routed_experts_per_card,
    verify_tokens,
)
from planner.physics.gemm import GemmTerms, gemm_terms


@dataclass(frozen=True)
class StageTerms:
    """Per-deployment constants of `perf._stage_pass`, `perf._pipeline`, the eager-pass overhead
    and the decode, mixed and prefill passes (names as there; `n_s = tp·dp`)."""

    pp: int
    dp: int
    n_s: int
    is_moe: bool
    hidden: int
    layers: int
    dense2: float          # 2·dense params of a stage but the LM head (perf._linear_flops_per_card)
    wbytes_dense: float    # weight bytes a stage pass reads on a card but the routed experts' and the edges'
    head2: float           # 2·LM-head params: FLOPs a token's logits cost
    head_bytes: float      # LM-head bytes on a card of its stage (read once a pass)
    embed_row_bytes: float  # one token's embedding row per card (vocab-parallel over tp, tokens over dp)
    vocab: int
    moe_pp: float          # L_moe/pp
    routed2: float         # L_moe/pp·2·expert params
    expert_params: int
    e_bytes: float
    experts: int           # E, k, and the expert-parallel terms of `deployment.experts_on_card`
    top_k: int
    imbalance: float       # moe_imbalance under expert parallelism, else 1
    epc: float             # experts per EP rank
    replicas: float
    untouched: float       # 1 − k/E: the chance one token misses an expert
    moe_tp: int
    attn_peak: float       # F_bf16·η_c
    kv_scale: float
    mem_peak: float        # B·η_m
    overlap: float
    overhead: float        # (L·layer + L_moe·moe_layer overhead)/pp
    gemm: GemmTerms | None   # None: the roofline (no kernel curves)
    comm: StageComm
    step_s: float
    sequence_s: float
    hand_bw: float         # a pipeline hand-off's link: bytes/s·η_n and latency
    hand_lat: float
    eager_pass_s: float    # L·prefill_layer + L_moe·prefill_moe_layer overhead
    prompt_s: float
    decode_scale: float
    prefill_scale: float
    q: int                 # tokens per sequence in a decode step's pass
    kv_card: float         # KV bytes per token per card
    state_card: float      # linear-attention state traffic per sequence per card
    pair_decode: int       # attention FLOPs of one (query, key) pair: absorbed (decode) and not (prefill)
    pair_prefill: int


def build(dep: Deployment) -> StageTerms:
    """The `StageTerms` of `dep`, computed afresh (each as its per-call formula computes it)."""
    g, c, par, a = dep.gpu, dep.calib, dep.par, dep.arch
    pp = par.pp
    dense_params = (a.layers * a.attn_params + a.dense_layers * a.dense_mlp_params
                    + a.moe_layers * (a.shared_params + a.router_params)) / pp
    routed_bytes = a.moe_layers / pp * routed_experts_per_card(a, par) * a.expert_params * dep.e_bytes
    ep = par.moe_ep
    hand_bw, hand_lat = p2p_link(dep, par.cards > g.domain_cards)
    return StageTerms(
        pp, par.dp, par.stage_cards, a.is_moe, a.hidden, a.layers, 2.0 * dense_params,
        dep.weights_bytes_per_card - routed_bytes - edge_params_per_card(dep) * dep.w_bytes,
        2.0 * a.lm_head_params, a.lm_head_params / par.tp * dep.w_bytes,
        a.hidden * dep.w_bytes / par.stage_cards, a.vocab, a.moe_layers / pp, a.moe_layers / pp * 2.0 * a.expert_params,
        a.expert_params, dep.e_bytes, a.experts, a.experts_per_token,
        c.v("moe_imbalance") if ep > 1 else 1.0, experts_per_card(a, ep),
        max(ep / a.experts, 1.0) if a.experts else 1.0, 1.0 - a.experts_per_token / a.experts if a.experts else 1.0,
        par.moe_tp, g.flops("bf16") * c.v("compute_efficiency"), kv_scale(c),
        g.memory_bandwidth_bytes_per_s * c.v("memory_efficiency"),
        c.v("comm_overlap"), (a.layers * c.v("layer_overhead_s") + a.moe_layers * c.v("moe_layer_overhead_s")) / pp,
        gemm_terms(dep), stage_comm(dep), c.v("step_overhead_s"), c.v("sequence_overhead_s"), hand_bw, hand_lat,
        a.layers * c.v("prefill_layer_overhead_s") + a.moe_layers * c.v("prefill_moe_layer_overhead_s"),
        c.v("prompt_overhead_s"), c.v("decode_time_scale"), c.v("prefill_time_scale"), verify_tokens(dep),
        kv_bytes_per_token_per_card(dep), linear_state_traffic_per_sequence_per_card(dep),
        a.attn_flops_per_pair(absorbed=True), a.attn_flops_per_pair(absorbed=False))


def value_key(dep: Deployment) -> tuple:
    """What a deployment's `StageTerms` depend on, by value: the architecture; the GPU's id (its
    kernel tables), peaks, memory bandwidth, links and domain; every scalar calibration parameter
    and whether it uses kernel curves; the layout, precisions and speculation."""
    g, c = dep.gpu, dep.calib
    return (dep.arch, g.id, tuple((k, p.value) for k, p in g.dense_flops.items()), g.memory_bandwidth_bytes_per_s,
            g.scale_up_bytes_per_s, g.nic_bytes_per_s, g.domain_cards, c.scalar_values(), c.kernel_curves,
            dep.par, dep.weight_dtype, dep.expert_dtype, dep.part_dtypes, dep.kv_dtype, dep.spec)


TERMS_MAX_ENTRIES = 4096   # distinct deployments remembered (a 28-service fleet on 6 GPU types: ~250)
terms_table: dict[tuple, StageTerms] = {}


def stage_terms(dep: Deployment) -> StageTerms:
    """The `StageTerms` of `dep`: kept with the deployment, and shared by deployments of equal value."""
    got = dep.derived.get("stage_terms")
    if got is None:
        got = dep.derived["stage_terms"] = by_value(terms_table, value_key(dep), lambda: build(dep),
                                                    TERMS_MAX_ENTRIES)
    return got
