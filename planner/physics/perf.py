"""The analytic performance model of LLM inference: pure functions, SI units, no solver.

Glossary: `b` decode batch (sequences in flight on one instance), `m` tokens in one forward
pass of one pipeline stage, `n_s = tp·dp` cards of one stage, `ctx` context tokens of a
sequence, `F` dense FLOP/s of a card, `B` HBM bytes/s of a card, `η_c, η_m, η_n` efficiency
of compute, memory and network (calibration parameters).

One forward pass of a stage costs, per card (the slowest card sets the pace):
    t = max(FLOPs/(F·η_c), bytes/(B·η_m)) + comm − overlap·min(comm, roof) + L_s·layer_overhead
where routed-expert FLOPs count 1/η_e more (grouped expert GEMMs of a few hundred rows run
below dense efficiency: expert_compute_efficiency η_e).
Decode: TPOT = (pp·t_stage(b/pp) + handoffs + step_overhead) / tokens_per_step.
Prefill of P prompts: time = pp·t_stage(P·s) + handoffs + step_overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from planner.catalog.arch import Architecture
from planner.catalog.schemas import BYTES_PER_VALUE, GPU, Calibration, Model

Bound = Literal["compute", "memory", "communication", "overhead"]
ACT_BYTES = 2.0  # activations travel in BF16 between cards (FP8 dispatch would halve EP traffic)


@dataclass(frozen=True)
class Parallelism:
    """How one instance splits the model: cards = tp·dp·pp; experts sharded (EP) over tp·dp."""

    tp: int = 1
    pp: int = 1
    dp: int = 1  # data-parallel attention: each of dp groups holds its own sequences

    @property
    def cards(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def stage_cards(self) -> int:
        """n_s = tp·dp: cards that run one pipeline stage together (the EP group of MoE layers)."""
        return self.tp * self.dp

    def label(self) -> str:
        """Short text such as 'TP8', 'TP2·DP4·EP8', 'TP8·PP2'."""
        parts = [f"TP{self.tp}"]
        if self.dp > 1:
            parts.append(f"DP{self.dp}")
        if self.pp > 1:
            parts.append(f"PP{self.pp}")
        return "·".join(parts)


@dataclass(frozen=True)
class Deployment:
    """One instance: a model on `par.cards` cards of one GPU type, with precisions and calibration."""

    model: Model
    gpu: GPU
    par: Parallelism
    calib: Calibration
    weight_dtype: str = "fp8"
    kv_dtype: str = "bf16"

    @property
    def arch(self) -> Architecture:
        return self.model.arch

    @property
    def cards(self) -> int:
        return self.par.cards

    @property
    def w_bytes(self) -> float:
        return BYTES_PER_VALUE[self.weight_dtype]

    @property
    def kv_bytes(self) -> float:
        return BYTES_PER_VALUE[self.kv_dtype]


@dataclass(frozen=True)
class PhaseTime:
    """Time of one forward pass (or step) split by what it is spent on; all in seconds."""

    time_s: float
    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float
    flops_per_card: float = 0.0
    bytes_per_card: float = 0.0

    @property
    def bound(self) -> Bound:
        """The largest contributor: compute, memory (bandwidth), communication or fixed overhead."""
        parts = {"compute": self.compute_s, "memory": self.memory_s,
                 "communication": self.comm_s, "overhead": self.overhead_s}
        return max(parts, key=lambda k: parts[k])  # type: ignore[return-value]


@dataclass(frozen=True)
class MemoryUse:
    """Bytes on the busiest card: weights, KV cache of the batch, and the usable capacity."""

    weights_bytes: float
    kv_bytes: float
    usable_bytes: float
    capacity_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.usable_bytes

    @property
    def overflow_bytes(self) -> float:
        return max(0.0, self.total_bytes - self.usable_bytes)


# ------------------------------------------------------------------------- building blocks
def expected_experts_touched(experts: int, top_k: int, tokens: float) -> float:
    """Distinct experts hit by `tokens` tokens under uniform top-k routing: E·(1 − (1 − k/E)^t).

    >>> round(expected_experts_touched(256, 8, 1), 6)
    8.0
    >>> round(expected_experts_touched(256, 8, 256), 1)
    255.9
    """
    if experts <= 0 or tokens <= 0:
        return 0.0
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def kv_bytes_per_token(arch: Architecture, kv_dtype: str) -> float:
    """KV-cache bytes of one token over all layers: L·(kv_lora+rope) for MLA, 2·L·nkv·hd for GQA.

    >>> from planner.catalog.arch import Architecture
    >>> a = Architecture("llama", 8192, 80, 64, 8, 128, 28672, 128256, False, "gqa")
    >>> kv_bytes_per_token(a, "bf16")
    327680.0
    """
    return arch.kv_values_per_token() * BYTES_PER_VALUE[kv_dtype]


def kv_bytes_per_token_per_card(dep: Deployment) -> float:
    """KV bytes one card holds per token of one of its sequences.

    MLA: the latent is shared by all heads, so every TP rank holds all of it (replicated);
    GQA: a rank holds ceil(nkv/tp) heads (heads are replicated when tp > nkv). Layers / pp.
    """
    a = dep.arch
    layers = a.layers / dep.par.pp
    if a.attention == "mla":
        per_layer = a.kv_values_per_token_per_layer
    else:
        per_layer = 2 * math.ceil(a.kv_heads / dep.par.tp) * a.head_dim
    return layers * per_layer * dep.kv_bytes


def weights_per_card_bytes(dep: Deployment) -> float:
    """Weight bytes on one card: attention and LM head /tp, dense MLP and shared experts /(tp·dp),
    routed experts max(E/n_s, 1) per MoE layer, layers /pp; embedding and head on every stage."""
    a, par = dep.arch, dep.par
    n_s = par.stage_cards
    per_stage = (a.layers * a.attn_params / par.tp
                 + a.dense_layers * a.dense_mlp_params / n_s
                 + a.moe_layers * (a.shared_params / n_s + a.router_params
                                   + experts_per_card(a, n_s) * a.expert_params)
                 + a.norm_params) / par.pp
    head = (a.embed_params + (0 if a.tied_embeddings else a.lm_head_params)) / par.tp
    return (per_stage + head) * dep.w_bytes


def experts_per_card(arch: Architecture, stage_cards: int) -> float:
    """Routed experts held per card: E/n_s, at least one (extra cards hold replicas)."""
    if not arch.is_moe:
        return 0.0
    return max(arch.experts / stage_cards, 1.0)


def memory_use(dep: Deployment, batch: float, context_tokens: float) -> MemoryUse:
    """Weights + KV for `batch` sequences of `context_tokens` on the busiest card vs usable HBM.

    Sequences are split over the dp attention groups; usable = HBM · memory_usable_fraction.
    """
    seqs_per_card = batch / dep.par.dp
    kv = seqs_per_card * context_tokens * kv_bytes_per_token_per_card(dep)
    cap = dep.gpu.memory_bytes
    return MemoryUse(weights_per_card_bytes(dep), kv, cap * dep.calib.v("memory_usable_fraction"), cap)


def max_batch(dep: Deployment, context_tokens: float) -> int:
    """Largest decode batch whose KV at `context_tokens` fits beside the weights (0 if none)."""
    free = memory_use(dep, 0, context_tokens)
    room = free.usable_bytes - free.weights_bytes
    per_seq = context_tokens * kv_bytes_per_token_per_card(dep) / dep.par.dp
    if room <= 0:
        return 0
    if per_seq <= 0:
        return 10**9
    return int(room // per_seq)


# --------------------------------------------------------------------------- communication
def _link(dep: Deployment, group_cards: int) -> tuple[float, float]:
    """(bytes/s per card, latency per collective) of a group: scale-up link inside the domain,
    the NIC beyond it; bandwidth derated by η_n."""
    g, c = dep.gpu, dep.calib
    eta = c.v("network_efficiency")
    if group_cards <= g.domain_cards:
        return g.scale_up_bytes_per_s * eta, c.v("collective_latency_intra_s")
    return g.nic_bytes_per_s * eta, c.v("collective_latency_inter_s")


def allreduce_time(dep: Deployment, group_cards: int, nbytes: float) -> float:
    """Ring all-reduce of `nbytes` on each of `group_cards` cards: 2(g−1)/g·bytes/bw + latency."""
    if group_cards <= 1 or nbytes <= 0:
        return 0.0
    bw, lat = _link(dep, group_cards)
    return 2.0 * (group_cards - 1) / group_cards * nbytes / bw + lat


def alltoall_time(dep: Deployment, group_cards: int, nbytes_per_card: float) -> float:
    """All-to-all where each card sends `nbytes_per_card`, (g−1)/g of it off-card: bytes/bw + latency."""
    if group_cards <= 1:
        return 0.0
    bw, lat = _link(dep, group_cards)
    return (group_cards - 1) / group_cards * nbytes_per_card / bw + lat


def p2p_time(dep: Deployment, nbytes: float, across_nodes: bool) -> float:
    """One point-to-point hand-off between pipeline stages: bytes/bw + latency."""
    g, c = dep.gpu, dep.calib
    eta = c.v("network_efficiency")
    if across_nodes:
        return nbytes / (g.nic_bytes_per_s * eta) + c.v("collective_latency_inter_s")
    return nbytes / (g.scale_up_bytes_per_s * eta) + c.v("collective_latency_intra_s")


def stage_comm_time(dep: Deployment, tokens: float) -> float:
    """Collectives of one stage pass over `tokens` tokens: TP all-reduces and EP all-to-alls.

    Per layer: attention output all-reduce over tp of (tokens/dp)·h activations; dense MLP
    all-reduce over the group that shards it; per MoE layer a dispatch and a combine
    all-to-all of (tokens/n_s)·k·h·imbalance per card.
    """
    a, par, c = dep.arch, dep.par, dep.calib
    n_s = par.stage_cards
    layers = a.layers / par.pp
    dense = a.dense_layers / par.pp
    moe = a.moe_layers / par.pp
    act = a.hidden * ACT_BYTES
    t = layers * allreduce_time(dep, par.tp, tokens / par.dp * act)
    t += dense * allreduce_time(dep, n_s, tokens * act)  # dense MLP sharded over all n_s cards
    if a.is_moe and n_s > 1:
        per_card = tokens / n_s * a.experts_per_token * act * c.v("moe_imbalance")
        t += moe * 2.0 * alltoall_time(dep, n_s, per_card)
    return t


# --------------------------------------------------------------------------- forward passes
def _linear_flops_per_card(dep: Deployment, tokens: float) -> tuple[float, float, float]:
    """(dense FLOPs, routed-expert FLOPs, weight bytes) of the matmuls of one stage pass of
    `tokens` tokens, per card.

    Dense FLOPs = 2·params·tokens for attention, dense MLP, shared experts and LM head, spread
    over n_s cards; routed FLOPs = 2·expert_params·top-k pairs of the busiest card (× imbalance).
    Weight bytes: the card's dense shards plus the routed experts that the tokens touch on it.
    """
    a, par, c = dep.arch, dep.par, dep.calib
    n_s = par.stage_cards
    pp = par.pp
    dense_params = (a.layers * a.attn_params + a.dense_layers * a.dense_mlp_params
                    + a.moe_layers * (a.shared_params + a.router_params)) / pp + a.lm_head_params / pp
    flops = 2.0 * dense_params * tokens / n_s
    routed = 0.0
    wbytes = weights_per_card_bytes(dep) - a.moe_layers / pp * experts_per_card(a, n_s) * a.expert_params * dep.w_bytes
    if a.is_moe:
        imb = c.v("moe_imbalance")
        routed_tokens = tokens * a.experts_per_token / n_s * imb  # token-expert pairs on the busiest card
        routed = a.moe_layers / pp * 2.0 * a.expert_params * routed_tokens
        epc = experts_per_card(a, n_s)
        replicas = max(n_s / a.experts, 1.0)
        p_touched = expected_experts_touched(a.experts, a.experts_per_token, tokens / replicas) / a.experts
        touched = min(epc, epc * p_touched * imb)
        wbytes += a.moe_layers / pp * touched * a.expert_params * dep.w_bytes
    return flops, routed, wbytes


def _stage_pass(dep: Deployment, tokens: float, attn_flops: float, kv_read_bytes: float) -> PhaseTime:
    """One stage's forward pass over `tokens` tokens on each card (see module docstring)."""
    g, c, par = dep.gpu, dep.calib, dep.par
    lin_flops, routed_flops, wbytes = _linear_flops_per_card(dep, tokens)
    f_lin = g.flops(dep.weight_dtype) * c.v("compute_efficiency")
    f_attn = g.flops("bf16") * c.v("compute_efficiency")
    compute = (lin_flops + routed_flops / c.v("expert_compute_efficiency")) / f_lin + attn_flops / f_attn
    act_bytes = tokens / par.dp * dep.arch.hidden * ACT_BYTES * 2 * dep.arch.layers / par.pp
    nbytes = wbytes + kv_read_bytes + act_bytes
    memory = nbytes / (g.memory_bandwidth_bytes_per_s * c.v("memory_efficiency"))
    roof = max(compute, memory)
    comm = stage_comm_time(dep, tokens)
    exposed = comm - c.v("comm_overlap") * min(comm, roof)
    overhead = (dep.arch.layers * c.v("layer_overhead_s")
                + dep.arch.moe_layers * c.v("moe_layer_overhead_s")) / par.pp
    return PhaseTime(roof + exposed + overhead, compute, memory, exposed, overhead,
                     lin_flops + routed_flops + attn_flops, nbytes)


def _pipeline(dep: Deployment, stage: PhaseTime, tokens_per_stage: float) -> PhaseTime:
    """Whole pass through pp stages: pp·stage + (pp−1) hand-offs + step overhead."""
    par, c = dep.par, dep.calib
    pp = par.pp
    handoff = 0.0
    if pp > 1:
        across = par.cards > dep.gpu.domain_cards
        handoff = (pp - 1) * p2p_time(dep, tokens_per_stage / par.dp * dep.arch.hidden * ACT_BYTES, across)
    step = c.v("step_overhead_s")
    return PhaseTime(pp * stage.time_s + handoff + step, pp * stage.compute_s, pp * stage.memory_s,
                     pp * stage.comm_s + handoff, pp * stage.overhead_s + step,
                     stage.flops_per_card, stage.bytes_per_card)


def decode_step(dep: Deployment, batch: float, context_tokens: float) -> PhaseTime:
    """One decode step of `batch` sequences at mean context `context_tokens` (TPOT before MTP).

    With pp stages the batch runs as pp micro-batches of b/pp; each card reads its weights,
    the touched experts, and the KV of its sequences: (b/pp/dp)·ctx·kv_bytes_per_card.
    Worked values (the seed's numbers) live in tests/test_perf.py.
    """
    a, par = dep.arch, dep.par
    m = batch / par.pp
    ctx = a.attended_tokens(context_tokens)
    attn = m * ctx * a.attn_flops_per_pair(absorbed=True) * a.layers / par.pp / par.stage_cards
    kv_read = m / par.dp * ctx * kv_bytes_per_token_per_card(dep)
    return _pipeline(dep, _stage_pass(dep, m, attn, kv_read), m)


def tpot(dep: Deployment, batch: float, context_tokens: float) -> float:
    """Time per output token: decode step / accepted tokens per step (MTP; default 1)."""
    return decode_step(dep, batch, context_tokens).time_s / dep.calib.v("decode_tokens_per_step")


def decode_tokens_per_s(dep: Deployment, batch: float, context_tokens: float) -> float:
    """Output tokens/s of one instance: b / TPOT(b)."""
    return batch / tpot(dep, batch, context_tokens)


def prefill_pass(dep: Deployment, prompts: float, uncached_tokens: float,
                 cached_tokens: float = 0.0) -> PhaseTime:
    """Prefill of `prompts` prompts, each `uncached_tokens` new after `cached_tokens` cached.

    FLOPs = 2·P_act·tokens + attention over pairs (causal: s²/2 + s·cached per prompt);
    cached tokens cost no linear FLOPs but are read as KV.
    """
    a, par = dep.arch, dep.par
    s, c = uncached_tokens, cached_tokens
    tokens = prompts * s
    pairs = prompts * (s * s / 2.0 + s * c) * a.attended_tokens(s + c) / max(s + c, 1.0)
    attn = pairs * a.attn_flops_per_pair(absorbed=False) * a.layers / par.pp / par.stage_cards
    kv_io = prompts / par.dp * (s + c) * kv_bytes_per_token_per_card(dep)
    return _pipeline(dep, _stage_pass(dep, tokens, attn, kv_io), tokens)


def mixed_step(dep: Deployment, batch: float, context_tokens: float, chunk_tokens: float,
               prompt_tokens: float) -> PhaseTime:
    """A chunked-prefill step (colocated serving): `batch` decodes plus `chunk_tokens` of prefill
    from prompts of `prompt_tokens`; weights are read once for both."""
    a, par = dep.arch, dep.par
    m = (batch + chunk_tokens) / par.pp
    ctx = a.attended_tokens(context_tokens)
    dec_attn = batch * ctx * a.attn_flops_per_pair(absorbed=True)
    # a chunk attends on average to half the prompt before it plus itself (causal)
    pre_attn = chunk_tokens * a.attended_tokens(prompt_tokens / 2.0) * a.attn_flops_per_pair(absorbed=False)
    attn = (dec_attn + pre_attn) / par.pp * a.layers / par.pp / par.stage_cards
    kv_read = (batch / par.pp * ctx + chunk_tokens / par.pp) / par.dp * kv_bytes_per_token_per_card(dep)
    return _pipeline(dep, _stage_pass(dep, m, attn, kv_read), m)


def request_overhead_s(dep: Deployment) -> float:
    """Fixed time a request spends before its first token beyond the prefill pass (tokenise,
    schedule, launch, sample, detokenise, serve): the model family's fitted value
    (request_overhead_by_family_s), else the shared calibration parameter request_overhead_s."""
    return dep.calib.request_overhead_for(dep.arch.family)[0]


def kv_transfer_time(dep_prefill: Deployment, prompt_tokens: float) -> float:
    """Moving one prompt's KV to a decode instance over the prefill instance's NICs:
    s·kv_bytes_per_token / (cards·NIC·η_n) + inter-node latency."""
    nbytes = prompt_tokens * kv_bytes_per_token(dep_prefill.arch, dep_prefill.kv_dtype)
    bw = dep_prefill.cards * dep_prefill.gpu.nic_bytes_per_s * dep_prefill.calib.v("network_efficiency")
    return nbytes / bw + dep_prefill.calib.v("collective_latency_inter_s")


# ----------------------------------------------------------------------------- conveniences
@dataclass(frozen=True)
class DecodePoint:
    """Decode at one batch size: TPOT, tokens/s of the instance, and what bounds it."""

    batch: int
    tpot_s: float
    tokens_per_s: float
    bound: Bound
    fits: bool


def decode_curve(dep: Deployment, context_tokens: float, batches: list[int]) -> list[DecodePoint]:
    """TPOT and tokens/s against batch size (for `plan eval --sweep-batch` and candidates)."""
    out = []
    limit = max_batch(dep, context_tokens)
    for b in batches:
        st = decode_step(dep, b, context_tokens)
        t = st.time_s / dep.calib.v("decode_tokens_per_step")
        out.append(DecodePoint(b, t, b / t, st.bound, b <= limit))
    return out


def batch_grid(limit: int) -> list[int]:
    """Batch sizes 1, 2, 4, … with 3·2^k in between, up to `limit` (and `limit` itself)."""
    out, b = [], 1
    while b <= limit:
        out.append(b)
        if 3 * b // 2 <= limit and b >= 2:
            out.append(3 * b // 2)
        b *= 2
    if limit >= 1 and (not out or out[-1] != limit):
        out.append(limit)
    return sorted(set(out))
