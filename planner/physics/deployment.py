"""What one instance is and what it holds: its layout (`Parallelism`), the `Deployment` of a
model on cards, the time split of one pass (`PhaseTime`), and memory (weights, KV cache, the
largest batch that fits). Pure functions, SI units.

Glossary: `n_s = tp·dp` cards of one pipeline stage (the EP group of MoE layers), `b` decode
batch, `ctx` context tokens of a sequence.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from planner.catalog.arch import Architecture
from planner.catalog.calibration import Calibration
from planner.catalog.parts import part_dtypes
from planner.catalog.schemas import BYTES_PER_VALUE, GPU, Model
from planner.physics.speculation import Speculation as Speculation

Bound = Literal["compute", "memory", "communication", "overhead"]
ACT_BYTES = 2.0  # activations travel in BF16 between cards (FP8 dispatch would halve EP traffic)
MAX_SLOTS = 10_000_000   # sequences of one instance at most: the plan file's `slots` domain (a test checks)


@dataclass(frozen=True)
class Parallelism:
    """How one instance splits the model: cards = tp·dp·pp. MoE layers of a stage run over its
    n_s = tp·dp cards as `moe_tp` × `moe_ep`: experts spread over moe_ep = n_s/moe_tp ranks
    (expert parallelism, all-to-all dispatch) and each expert sliced over moe_tp cards (expert
    tensor parallelism, an all-reduce). Plans use moe_tp = 1 (experts spread over all n_s cards);
    measured engines also run moe_tp = tp (vLLM and TensorRT-LLM without EP)."""

    tp: int = 1
    pp: int = 1
    dp: int = 1  # data-parallel attention: each of dp groups holds its own sequences
    moe_tp: int = 1

    def __post_init__(self) -> None:
        if self.moe_tp < 1 or (self.tp * self.dp) % self.moe_tp:
            raise ValueError(f"moe_tp {self.moe_tp} must divide tp·dp = {self.tp * self.dp}")

    @property
    def cards(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def stage_cards(self) -> int:
        """n_s = tp·dp: cards that run one pipeline stage together (the MoE group: moe_tp·moe_ep)."""
        return self.tp * self.dp

    @property
    def moe_ep(self) -> int:
        """Expert-parallel ranks of a MoE layer: n_s / moe_tp."""
        return self.stage_cards // self.moe_tp

    def label(self) -> str:
        """Short text such as 'TP8', 'TP2·DP4', 'TP8·PP2', 'TP8·ETP8' (experts sliced, not spread)."""
        parts = [f"TP{self.tp}"]
        if self.dp > 1:
            parts.append(f"DP{self.dp}")
        if self.pp > 1:
            parts.append(f"PP{self.pp}")
        if self.moe_tp > 1:
            parts.append(f"ETP{self.moe_tp}")
        return "·".join(parts)


WEIGHTS_MAX_ENTRIES = 4096
WEIGHTS_TABLE: dict[tuple, float] = {}   # `Deployment.weights_bytes_per_card` by value


def by_value(table: dict, key: tuple, make, limit: int):
    """table[key], made by `make()` when absent; a table at `limit` entries starts afresh (a
    cache of values derived from deployments, keyed by what they depend on)."""
    got = table.get(key)
    if got is None:
        if len(table) >= limit:
            table.clear()
        got = table[key] = make()
    return got


@dataclass(frozen=True)
class Deployment:
    """One instance: a model on `par.cards` cards of one GPU type, with precisions and calibration,
    and its speculative decoding (None: one token per step at the calibration's rate).

    `weight_dtype` is the precision of every weight but the routed experts', which are
    `expert_dtype` (None: the same; e.g. NVFP4 experts beside FP8 attention, as DeepSeek runs on
    Blackwell, or gpt-oss's MXFP4 experts beside BF16 attention). `part_dtypes` stores the dense
    parts apart ((part, precision) pairs of catalog.schemas.PARTS that differ from `weight_dtype`,
    e.g. (('attention', 'bf16'),)); empty: every dense weight at `weight_dtype`. Embedding, LM head,
    norms and the router always follow `weight_dtype`."""

    model: Model
    gpu: GPU
    par: Parallelism
    calib: Calibration
    weight_dtype: str = "fp8"
    kv_dtype: str = "bf16"
    spec: Speculation | None = None
    expert_dtype: str | None = None
    part_dtypes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:   # canonical: only parts that differ, in PARTS order (cache keys)
        if self.part_dtypes:
            object.__setattr__(self, "part_dtypes", part_dtypes(self.weight_dtype, dict(self.part_dtypes)))

    @functools.cached_property
    def weights_bytes_per_card(self) -> float:
        """`weights_per_card_bytes(self)`, computed once per deployment (candidates ask it at every
        batch and chunk of a shape) and shared by deployments of the same architecture, layout and
        precisions (what it depends on, by value)."""
        key = (self.arch, self.par, self.weight_dtype, self.expert_dtype, self.part_dtypes)
        return by_value(WEIGHTS_TABLE, key, lambda: weights_per_card_bytes(self), WEIGHTS_MAX_ENTRIES)

    @functools.cached_property
    def derived(self) -> dict[str, object]:
        """Values other modules derive from this deployment and keep with it (`physics.terms`):
        its fields are frozen, so they hold for its life."""
        return {}

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
    def expert_precision(self) -> str:
        """Precision of the routed experts' weights."""
        return self.expert_dtype or self.weight_dtype

    @property
    def e_bytes(self) -> float:
        """Bytes per routed-expert weight."""
        return BYTES_PER_VALUE[self.expert_precision]

    @property
    def mixed_precision(self) -> bool:
        return self.expert_precision != self.weight_dtype

    @property
    def dense_split(self) -> bool:
        """Some dense part (attention, dense MLP, shared experts) is stored apart from weight_dtype."""
        return bool(self.part_dtypes)

    def precision_of(self, part: str) -> str:
        """Precision of a part of PARTS ('attention', 'dense_mlp', 'shared_experts')."""
        return dict(self.part_dtypes).get(part, self.weight_dtype)

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
    below_ridge: bool = False     # the main GEMMs have fewer rows than the card's ridge point

    @property
    def bound(self) -> Bound:
        """The largest contributor: compute, memory (bandwidth), communication or fixed overhead.
        GEMMs below the ridge point are limited by reading their weights, so their time counts
        as memory-bound even where the kernel curve makes it the largest term."""
        parts = {"compute": self.compute_s, "memory": self.memory_s,
                 "communication": self.comm_s, "overhead": self.overhead_s}
        top = max(parts, key=lambda k: parts[k])
        if top == "compute" and self.below_ridge:
            return "memory"
        return top  # type: ignore[return-value]


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
    """KV-cache bytes of one token over all layers: L·(kv_lora+rope) for MLA, 2·L·nkv·hd for GQA,
    plus under DSA each layer's index key (`Architecture.index_key_bytes`, FP8 whatever the KV dtype).

    >>> from planner.catalog.arch import Architecture
    >>> a = Architecture("llama", 8192, 80, 64, 8, 128, 28672, 128256, False, "gqa")
    >>> kv_bytes_per_token(a, "bf16")
    327680.0
    """
    return arch.kv_values_per_token() * BYTES_PER_VALUE[kv_dtype] + arch.layers * arch.index_key_bytes


# Bytes per value of a linear-attention layer's state: the recurrent state in FP32 (Qwen3.5's
# config.json `mamba_ssm_dtype: float32`; SGLang server_args `mamba_ssm_dtype` default "float32"),
# the convolution window in the 16-bit activation type
LINEAR_RECURRENT_STATE_BYTES = 4
LINEAR_CONV_STATE_BYTES = 2


def linear_state_bytes_per_sequence_per_card(dep: Deployment) -> float:
    """Bytes of the fixed-size state that one sequence keeps on one card in the linear-attention
    layers of a hybrid model (Qwen3-Next/3.5 Gated DeltaNet; 0 for other models): the layers of
    one stage (/pp), the heads of one TP rank (/tp). A decode step reads and writes all of it
    for every sequence, whatever the context (Qwen3.5-397B: 45 layers × (64 heads × 128 × 128 × 4 B
    + 36,864 × 2 B of convolution window) = 192 MB per sequence over the instance)."""
    a = dep.arch
    if not a.linear_layers:
        return 0.0
    per_layer = (a.linear_recurrent_values * LINEAR_RECURRENT_STATE_BYTES
                 + a.linear_conv_values * LINEAR_CONV_STATE_BYTES)
    return a.linear_layers / dep.par.pp * per_layer / dep.par.tp


def linear_state_traffic_per_sequence_per_card(dep: Deployment) -> float:
    """Bytes one decode step moves per sequence for a hybrid model's linear-attention state: all
    of it read and all of it written (`linear_state_bytes_per_sequence_per_card` × 2)."""
    return 2.0 * linear_state_bytes_per_sequence_per_card(dep)


def kv_bytes_per_token_per_card(dep: Deployment) -> float:
    """KV bytes one card holds per token of one of its sequences.

    MLA: the latent is shared by all heads, so every TP rank holds all of it (replicated);
    GQA: a rank holds ceil(nkv/tp) heads (heads are replicated when tp > nkv). Layers / pp.
    Under DSA the index keys too (`index_bytes_per_token_per_card`).
    """
    a = dep.arch
    layers = a.layers / dep.par.pp
    if a.attention == "mla":
        per_layer = a.kv_values_per_token_per_layer
    else:
        per_layer = 2 * math.ceil(a.kv_heads / dep.par.tp) * a.head_dim
    return layers * per_layer * dep.kv_bytes + index_bytes_per_token_per_card(dep)


def index_bytes_per_token_per_card(dep: Deployment) -> float:
    """The DSA index keys one card holds per token of one of its sequences (0 without DSA): one
    key per layer of its stage, on every TP rank like the MLA latent beside it. Counted in
    `kv_bytes_per_token_per_card`; a decode step reads them for the whole context, where the MLA
    cache is read only for the top k (`perf`)."""
    return dep.arch.layers / dep.par.pp * dep.arch.index_key_bytes   # index_key_bytes is 0 without DSA


def indexer_flops(dep: Deployment, queries, context_tokens: float):
    """FLOPs per card of the DSA indexer: `queries` each scoring `context_tokens` in every layer."""
    a, par = dep.arch, dep.par
    return queries * context_tokens * a.index_flops_per_key * a.layers / par.pp / par.stage_cards


def indexer_reads(dep: Deployment, sequences, context_tokens: float, attended: float):
    """Bytes per card a decode step reads under DSA beyond `attended` (top-k) tokens of cache per
    sequence, which already count their keys: the index keys of the rest of the context."""
    return sequences / dep.par.dp * (context_tokens - attended) * index_bytes_per_token_per_card(dep)


def edge_params_per_card(dep: Deployment) -> float:
    """Embedding and LM-head weights on the card holding most of them, vocab-parallel over tp: one
    stage holds the embedding and the head (one tensor when tied); over pipeline stages the first
    holds the embedding and the last the head (a copy of its own when tied), so the busier card holds
    one V·h/tp (Megatron's and vLLM's pipeline split)."""
    a, par = dep.arch, dep.par
    if par.pp > 1:
        return max(a.embed_params, a.lm_head_params) / par.tp
    return (a.embed_params + (0 if a.tied_embeddings else a.lm_head_params)) / par.tp


def weights_per_card_bytes(dep: Deployment) -> float:
    """Weight bytes on the busiest card: attention /tp, dense MLP and shared experts /(tp·dp),
    routed experts max(E/n_s, 1) per MoE layer, layers /pp; embedding and LM head as `edge_params_per_card` says."""
    a, par = dep.arch, dep.par
    n_s = par.stage_cards
    per_stage = (a.layers * a.attn_params / par.tp
                 + a.dense_layers * a.dense_mlp_params / n_s
                 + a.moe_layers * (a.shared_params / n_s + a.router_params
                                   + routed_experts_per_card(a, par) * a.expert_params)
                 + a.norm_params) / par.pp
    head = edge_params_per_card(dep)
    if dep.dense_split:   # each part at its own precision, the rest (embedding, head, norms, router) at weights'
        parts = part_params_per_card(dep)
        routed = a.moe_layers * routed_experts_per_card(a, par) * a.expert_params / par.pp
        rest = per_stage + head - routed - sum(parts.values())
        return (rest * dep.w_bytes + sum(n * BYTES_PER_VALUE[dep.precision_of(p)] for p, n in parts.items())
                + routed * dep.e_bytes)
    if dep.mixed_precision:   # routed experts at their own precision, the rest at the weights'
        routed = a.moe_layers * routed_experts_per_card(a, par) * a.expert_params / par.pp
        return (per_stage + head - routed) * dep.w_bytes + routed * dep.e_bytes
    return (per_stage + head) * dep.w_bytes


def part_params_per_card(dep: Deployment) -> dict[str, float]:
    """Weights of each dense part on one card (as weights_per_card_bytes shards them): attention
    L·attn/(tp·pp), dense MLP L_dense·mlp/(n_s·pp), shared experts L_moe·shared/(n_s·pp)."""
    a, par = dep.arch, dep.par
    n_s = par.stage_cards
    return {"attention": a.layers * a.attn_params / par.tp / par.pp,
            "dense_mlp": a.dense_layers * a.dense_mlp_params / n_s / par.pp,
            "shared_experts": a.moe_layers * a.shared_params / n_s / par.pp}


def dense_flop_groups(dep: Deployment) -> tuple[tuple[str, float], ...]:
    """(precision, share of the dense linear FLOPs of a stage pass) per precision of the dense
    parts: attention L·attn, dense MLP, shared experts, and at weight_dtype the router and LM head
    (perf._linear_flops_per_card's dense params), parts of one precision summed."""
    a = dep.arch
    params = {"attention": a.layers * a.attn_params, "dense_mlp": a.dense_layers * a.dense_mlp_params,
              "shared_experts": a.moe_layers * a.shared_params}
    total = sum(params.values()) + a.moe_layers * a.router_params + a.lm_head_params
    groups: dict[str, float] = {}
    for p, n in params.items():
        groups[dep.precision_of(p)] = groups.get(dep.precision_of(p), 0.0) + n
    groups[dep.weight_dtype] = groups.get(dep.weight_dtype, 0.0) + a.moe_layers * a.router_params + a.lm_head_params
    return tuple((d, n / total) for d, n in groups.items() if n > 0) if total > 0 else ()


def experts_per_card(arch: Architecture, stage_cards: int) -> float:
    """Routed experts held per card: E/n_s, at least one (extra cards hold replicas)."""
    if not arch.is_moe:
        return 0.0
    return max(arch.experts / stage_cards, 1.0)


def kv_scale(calib: Calibration) -> float:
    """KV reads run at memory_efficiency × this (`kv_bandwidth_scale`), never above the nominal
    HBM bandwidth: min(κ_kv, 1/η_m)."""
    return min(calib.v("kv_bandwidth_scale"), 1.0 / calib.v("memory_efficiency"))


def routed_experts_per_card(arch: Architecture, par: Parallelism) -> float:
    """Routed experts' worth of weights per card: the experts of one EP rank, max(E/moe_ep, 1),
    each sliced over moe_tp cards. E/n_s when E ≥ n_s, whatever the split."""
    return experts_per_card(arch, par.moe_ep) / par.moe_tp


def memory_use(dep: Deployment, batch: float, context_tokens: float) -> MemoryUse:
    """Weights + KV for `batch` sequences of `context_tokens` on the busiest card vs usable HBM.

    Sequences are split over the dp attention groups; usable = HBM · memory_usable_fraction.
    """
    weights, usable, cap = _memory_terms(dep)[:3]
    return MemoryUse(weights, batch * kv_bytes_per_sequence(dep, context_tokens), usable, cap)


def _memory_terms(dep: Deployment) -> tuple:
    """(weights with the draft's, usable bytes, capacity, KV bytes per token per card, 1 + the draft's
    share, linear-attention state per sequence, dp) of a deployment: what `memory_use` and
    `kv_bytes_per_sequence` read besides the batch and context, the same floats each time, so kept
    with it (~21,000 calls on the 4 × 12 fleet)."""
    got = dep.derived.get("memory_terms")
    if got is None:
        cap = dep.gpu.memory_bytes
        extra = draft_share(dep)   # the draft's layers hold weights and KV like the model's
        got = dep.derived["memory_terms"] = (
            dep.weights_bytes_per_card * (1 + extra), cap * dep.calib.v("memory_usable_fraction"), cap,
            kv_bytes_per_token_per_card(dep), 1 + extra, linear_state_bytes_per_sequence_per_card(dep), dep.par.dp)
    return got


def verify_tokens(dep: Deployment) -> int:
    """Tokens per sequence in one decode step's pass: k + 1 with speculative decoding, else 1."""
    return dep.spec.draft_tokens + 1 if dep.spec is not None else 1


def draft_share(dep: Deployment) -> float:
    """The draft's layers as a share of the model's (0 without speculative decoding)."""
    return dep.spec.draft_layers / dep.arch.layers if dep.spec is not None else 0.0


def kv_bytes_per_sequence(dep: Deployment, context_tokens: float) -> float:
    """KV bytes one sequence of `context_tokens` adds to the busiest card of the instance (its
    attention-DP rank holds 1/dp of the instance's sequences): the tokens its layers keep
    (`Architecture.held_tokens`: a sliding window's, none in linear-attention layers), with the
    draft's layers' KV under speculative decoding (as `memory_use` counts it: a batch sized
    without it overflowed), and a hybrid model's fixed linear-attention state."""
    per_token, draft, state, dp = _memory_terms(dep)[3:]
    kv = dep.arch.held_tokens(context_tokens) * per_token * draft
    return (kv + state) / dp


def max_batch(dep: Deployment, context_tokens: float) -> int:
    """Largest decode batch whose KV at `context_tokens` fits beside the weights (0 if none), at most
    MAX_SLOTS (a model of almost no state per sequence claimed 64 million, past what plan files hold)."""
    free = memory_use(dep, 0, context_tokens)
    room = free.usable_bytes - free.weights_bytes
    per_seq = kv_bytes_per_sequence(dep, context_tokens)
    if room <= 0:
        return 0
    if per_seq <= 0:
        return MAX_SLOTS
    return int(min(room // per_seq, MAX_SLOTS))


def experts_on_card(dep: Deployment, tokens: float) -> tuple[float, float]:
    """(token-expert pairs, experts touched) per MoE layer on the busiest card of a stage pass of
    `tokens` tokens, counted in whole-expert equivalents (a card holding 1/moe_tp of an expert
    counts 1/moe_tp): pairs = tokens·k/n_s·imbalance; touched = the EP rank's experts times the
    share hit under uniform routing (× imbalance), at most all of them, / moe_tp. Routing skew
    (`moe_imbalance`) loads one EP rank more than another; with no EP (moe_ep = 1) every card does
    the same work. Rows of one expert's GEMM: pairs/touched, whatever moe_tp."""
    a, par = dep.arch, dep.par
    imb = dep.calib.v("moe_imbalance") if par.moe_ep > 1 else 1.0
    epc = experts_per_card(a, par.moe_ep)
    replicas = max(par.moe_ep / a.experts, 1.0)
    p_touched = expected_experts_touched(a.experts, a.experts_per_token, tokens / replicas) / a.experts
    return (tokens * a.experts_per_token / par.stage_cards * imb,
            min(epc, epc * p_touched * imb) / par.moe_tp)
