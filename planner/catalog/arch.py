"""Model architecture from Hugging Face config.json fields, and the parameter counter.

Glossary: `h` hidden size, `L` layers, `nh` query heads, `nkv` key/value heads, `hd` head
dim, `E` routed experts, `k` experts per token, `V` vocabulary. All counts are numbers of
parameters (not bytes); the weight precision is applied in `perf`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttentionKind = Literal["mha", "gqa", "mla"]


@dataclass(frozen=True)
class Architecture:
    """The shapes `perf` needs, normalised across model families (deepseek, llama, qwen, gpt-oss)."""

    family: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    dense_intermediate: int
    vocab: int
    tied_embeddings: bool
    attention: AttentionKind
    # MLA (DeepSeek-V2/V3); zero for other attention kinds
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # MoE; zero experts means a dense model
    experts: int = 0
    experts_per_token: int = 0
    expert_intermediate: int = 0
    shared_intermediate: int = 0
    moe_layers: int = 0
    sliding_window: int = 0
    sliding_layers: int = 0
    mtp_layers: int = 0
    # hybrid linear attention (Qwen3-Next/3.5 Gated DeltaNet): layers with a fixed-size recurrent
    # state instead of a KV cache, and the projection weights of one such layer
    linear_layers: int = 0
    linear_layer_params: int = 0
    # ... and the per-sequence state of one such layer: the recurrent state S (nv heads of dk×dv)
    # and the causal-convolution window over q, k, v ((2·nk·dk + nv·dv)·(kernel − 1))
    linear_recurrent_values: int = 0
    linear_conv_values: int = 0
    # full-attention extras: a sigmoid output gate doubling q_proj (Qwen3.5), and the DSA
    # lightning indexer of DeepSeek-V3.2 / GLM-5 (weights per layer)
    attn_output_gate: bool = False
    indexer_params: int = 0
    # DeepSeek sparse attention (DSA: DeepSeek-V3.2, GLM-5): the lightning indexer's heads and head
    # dim score every cached token, and each query's MLA attends only the `index_topk` best (0: dense)
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0
    context: int = 0   # tokens a request may hold (0: not given): `context_tokens` of the config
    context_from: str = "max_position_embeddings"   # how `context` was derived, for messages

    @property
    def is_moe(self) -> bool:
        """True when some layers route tokens to experts."""
        return self.experts > 0 and self.moe_layers > 0

    def missing_part(self, experts: str | None, shared_experts: str | None) -> str | None:
        """Which part a precision is given for that this model lacks ('experts', 'shared_experts'), or
        None: a dense model's 'fp4 experts' was printed and planned as if it meant something."""
        if experts is not None and not self.is_moe:
            return "experts"
        if shared_experts is not None and not self.shared_intermediate:
            return "shared_experts"
        return None

    @property
    def dense_layers(self) -> int:
        """Layers with a dense MLP: L − moe_layers."""
        return self.layers - self.moe_layers

    # ---- parameters per building block -------------------------------------------------
    @property
    def attn_params(self) -> int:
        """Attention weights of one layer (projections only; norms counted in `norm_params`).

        Hybrid models (some linear-attention layers): the mean over all layers, so that
        L·attn_params is the attention total wherever `perf` multiplies by the layer count.
        """
        full = self.full_attn_params
        if not self.linear_layers:
            return full
        return ((self.layers - self.linear_layers) * full
                + self.linear_layers * self.linear_layer_params) // self.layers

    @property
    def full_attn_params(self) -> int:
        """Weights of one full-attention layer: projections, output gate, DSA indexer."""
        h = self.hidden
        if self.attention == "mla":
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank * self.heads * qk
            else:
                q = h * self.heads * qk
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim)
            kv_b = self.kv_lora_rank * self.heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.heads * self.v_head_dim * h
            return q + kv_a + kv_b + o + self.indexer_params
        q = h * self.heads * self.head_dim * (2 if self.attn_output_gate else 1)
        kv = 2 * h * self.kv_heads * self.head_dim
        o = self.heads * self.head_dim * h
        return q + kv + o + self.indexer_params

    @property
    def dense_mlp_params(self) -> int:
        """Gated MLP of a dense layer: 3·h·intermediate (gate, up, down)."""
        return 3 * self.hidden * self.dense_intermediate

    @property
    def expert_params(self) -> int:
        """One routed expert: 3·h·moe_intermediate."""
        return 3 * self.hidden * self.expert_intermediate

    @property
    def shared_params(self) -> int:
        """Always-active shared experts of one MoE layer: 3·h·shared_intermediate."""
        return 3 * self.hidden * self.shared_intermediate

    @property
    def router_params(self) -> int:
        """Router of one MoE layer: h·E."""
        return self.hidden * self.experts

    @property
    def norm_params(self) -> int:
        """RMSNorm weights: two per layer, one final, plus MLA's latent norms."""
        per_layer = 2 * self.hidden
        if self.attention == "mla":
            per_layer += self.q_lora_rank + self.kv_lora_rank
        return self.layers * per_layer + self.hidden

    @property
    def embed_params(self) -> int:
        """Input embedding table: V·h."""
        return self.vocab * self.hidden

    @property
    def lm_head_params(self) -> int:
        """Output projection: V·h (the same tensor as the embedding when tied)."""
        return self.vocab * self.hidden

    # ---- totals ------------------------------------------------------------------------
    @property
    def params_total(self) -> int:
        """All weights of the main model (MTP modules excluded, as vendors count them)."""
        moe = self.moe_layers * (self.experts * self.expert_params + self.shared_params
                                 + self.router_params)
        head = 0 if self.tied_embeddings else self.lm_head_params
        return (self.layers * self.attn_params + self.dense_layers * self.dense_mlp_params
                + moe + self.embed_params + head + self.norm_params)

    @property
    def params_active(self) -> int:
        """Weights one token multiplies through: attention, dense MLPs, shared + top-k experts, LM head.

        The input embedding is a table lookup, not a matmul, so it is not counted (as
        DeepSeek and OpenAI count active parameters). FLOPs per token ≈ 2 · params_active.
        """
        moe = self.moe_layers * (self.experts_per_token * self.expert_params
                                 + self.shared_params + self.router_params)
        return (self.layers * self.attn_params + self.dense_layers * self.dense_mlp_params
                + moe + self.lm_head_params + self.norm_params)

    # ---- attention and KV cache --------------------------------------------------------
    @property
    def kv_values_per_token_per_layer(self) -> int:
        """Cached values per token per layer: MLA kv_lora + rope; MHA/GQA 2·nkv·hd."""
        if self.attention == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.kv_heads * self.head_dim

    def kv_values_per_token(self) -> int:
        """Cached values per token over all layers (sliding-window and linear-attention layers
        included at full size: the per-card memory formula charges every layer a KV cache, so a
        hybrid model's fixed recurrent state is approximated by full-size KV, see docs/model.md).

        >>> deepseek_like = Architecture("deepseek_v3", 7168, 61, 128, 128, 128, 18432, 129280,
        ...     False, "mla", 1536, 512, 128, 64, 128)
        >>> deepseek_like.kv_values_per_token()
        35136
        """
        return self.layers * self.kv_values_per_token_per_layer

    def attn_flops_per_pair(self, absorbed: bool) -> int:
        """FLOPs of one (query, key) pair in one layer: QKᵀ plus PV, 2 FLOPs per MAC.

        GQA/MHA: 4·nh·hd. MLA non-absorbed (prefill): 2·nh·(d_nope+d_rope) + 2·nh·d_v.
        MLA absorbed (decode): 2·nh·(kv_lora+d_rope) + 2·nh·kv_lora.
        """
        if self.attention == "mla":
            if absorbed:
                return 2 * self.heads * (self.kv_lora_rank + self.qk_rope_head_dim) \
                    + 2 * self.heads * self.kv_lora_rank
            return 2 * self.heads * (self.qk_nope_head_dim + self.qk_rope_head_dim) \
                + 2 * self.heads * self.v_head_dim
        return 4 * self.heads * self.head_dim

    def attended_tokens(self, context: float) -> float:
        """Mean keys attended per layer at `context`: sliding layers see at most the window,
        linear-attention layers none (their fixed recurrent state is not modelled as traffic),
        DSA layers the indexer's top k (`index_topk`; the indexer itself is `index_flops_per_key`).
        A batch of sequences at a mean context is charged min(mean, k), not the mean of min(ctxᵢ, k)."""
        full_ctx = min(context, self.index_topk) if self.index_topk else context
        sliding = self.sliding_layers if self.sliding_window else 0
        if not sliding and not self.linear_layers:
            return full_ctx
        full = self.layers - sliding - self.linear_layers
        window = min(context, self.sliding_window) if sliding else 0.0
        return (full * full_ctx + sliding * window) / self.layers

    # ---- DeepSeek sparse attention (DSA) ------------------------------------------------
    @property
    def index_flops_per_key(self) -> int:
        """FLOPs of the lightning indexer per (query, cached token) in one layer: index_heads dot
        products of index_head_dim (2 FLOPs per MAC; ReLU and head weights lower order); 0 without
        DSA. Every cached token is scored, whatever `index_topk`: linear in the context.

        >>> Architecture("deepseek_v32", 7168, 61, 128, 128, 128, 18432, 129280, False, "mla",
        ...     index_heads=64, index_head_dim=128, index_topk=2048).index_flops_per_key
        16384
        """
        return 2 * self.index_heads * self.index_head_dim if self.index_topk else 0

    @property
    def index_key_bytes(self) -> int:
        """Bytes of one token's index key in one layer, whatever the MLA cache's dtype: FP8 values
        and one FP32 scale per block of 128, as DeepSeek-V3.2's indexer quantises its keys and engines
        cache them (lightllm's Deepseek3_2MemoryManager: float8_e4m3 keys, float32 scales): 132 B."""
        if not self.index_topk:
            return 0
        return self.index_head_dim + INDEX_SCALE_BYTES * -(-self.index_head_dim // INDEX_QUANT_BLOCK)

    def sparse_pairs(self, new_tokens: float, cached_tokens: float = 0.0) -> float:
        """(query, key) pairs of one DSA layer for a prompt's `new_tokens` queries after
        `cached_tokens` cached ones: query i (1 … s) attends min(c + i, k) keys (causal, then the
        top k), so s²/2 + s·c while the context stays within k, s·k once the cache alone holds k,
        and between them (k² − c²)/2 below the cap plus k per query above it.

        >>> a = Architecture("x", 1024, 2, 8, 8, 128, 4096, 1000, False, "mla", index_heads=4,
        ...     index_head_dim=128, index_topk=2048)
        >>> [a.sparse_pairs(1000), a.sparse_pairs(8192), a.sparse_pairs(100, 4000)]
        [500000.0, 14680064.0, 204800.0]
        """
        s, c, k = float(new_tokens), float(cached_tokens), float(self.index_topk)
        if c + s <= k:
            return s * s / 2.0 + s * c
        if c >= k:
            return s * k
        below = k - c
        return below * below / 2.0 + below * c + (s - below) * k

    def prompt_attention_flops(self, new_tokens: float, cached_tokens: float = 0.0) -> float:
        """Attention FLOPs of prefilling one prompt, all layers: causal pairs s²/2 + s·c (sliding
        and linear layers as `attended_tokens` says), under DSA the top-k pairs (`sparse_pairs`)
        plus the indexer over every earlier token.

        >>> a = Architecture("x", 1024, 2, 8, 8, 128, 4096, 1000, False, "gqa")
        >>> a.prompt_attention_flops(1000) == 1000 * 1000 / 2 * 4 * 8 * 128 * 2
        True
        """
        s, c = float(new_tokens), float(cached_tokens)
        if self.index_topk:
            return (self.sparse_pairs(s, c) * self.attn_flops_per_pair(absorbed=False)
                    + (s * s / 2.0 + s * c) * self.index_flops_per_key) * self.layers
        return ((s * s / 2.0 + s * c) * self.attended_tokens(s + c) / max(s + c, 1.0)
                * self.attn_flops_per_pair(absorbed=False) * self.layers)

    def prompt_flops(self, new_tokens: float, cached_tokens: float = 0.0) -> float:
        """FLOPs of prefilling one prompt of `new_tokens` after `cached_tokens` cached ones: 2 per
        active weight per new token, plus its attention (`prompt_attention_flops`). Quadratic in
        the prompt's own length: how a prefill queue's service varies with the prompts it serves."""
        return 2.0 * self.params_active * float(new_tokens) + self.prompt_attention_flops(new_tokens, cached_tokens)

    def prefill_keys_per_query(self, prompt_tokens: float) -> float:
        """Mean keys one prefill query of a `prompt_tokens` prompt attends per layer (causal: half
        the prompt; a chunk of a colocated step is charged so): `attended_tokens(prompt/2)`, and
        under DSA the exact mean `sparse_pairs(prompt)/prompt` (0.75·k for a prompt of 2k)."""
        if self.index_topk and prompt_tokens > 0:
            return self.sparse_pairs(prompt_tokens) / prompt_tokens
        return self.attended_tokens(prompt_tokens / 2.0)


INDEX_QUANT_BLOCK = 128   # DSA index keys: FP8 values with one FP32 scale per block of this many
INDEX_SCALE_BYTES = 4


def _get(cfg: dict, *names: str, default=None):
    """First of `names` present in `cfg` (HF families spell the same field differently)."""
    for n in names:
        if cfg.get(n) is not None:
            return cfg[n]
    return default


class ConfigError(ValueError):
    """A config.json lacks a field the model needs, or holds an impossible value."""


def _moe_layer_count(cfg: dict, layers: int, experts: int) -> int:
    """How many layers route to experts, by each family's rule."""
    if experts <= 0:
        return 0
    if "first_k_dense_replace" in cfg or "moe_layer_freq" in cfg:  # DeepSeek
        first = int(cfg.get("first_k_dense_replace", 0))
        freq = int(cfg.get("moe_layer_freq", 1)) or 1
        return sum(1 for i in range(layers) if i >= first and i % freq == 0)
    if "interleave_moe_layer_step" in cfg:  # Llama-4: every step-th layer, from layer step-1
        step = int(cfg["interleave_moe_layer_step"]) or 1
        return len(range(step - 1, layers, step))
    if "decoder_sparse_step" in cfg or "mlp_only_layers" in cfg:  # Qwen MoE
        step = int(cfg.get("decoder_sparse_step", 1)) or 1
        dense = set(cfg.get("mlp_only_layers") or [])
        return sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0)
    return layers  # Mixtral, gpt-oss: every layer is MoE


NO_RESCALE = ("su", "longrope", "llama3")   # RoPE kinds whose max_position_embeddings is already the context


def context_tokens(cfg: dict) -> tuple[int, str]:
    """(tokens a request may hold, how that was derived) from a config's max_position_embeddings
    and its RoPE scaling (`rope_scaling`, or transformers 5's `rope_parameters`), as vLLM derives
    max_model_len: a YaRN scaling gives original_max_position_embeddings × factor, a linear or
    dynamic one max_position_embeddings × factor; Llama-3's, LongRoPE's and no scaling leave it.
    (0, …) when the config gives no length.

    >>> context_tokens({"max_position_embeddings": 32768, "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
    ...                 "original_max_position_embeddings": 32768}})
    (131072, 'original_max_position_embeddings × rope_scaling.factor 4 (yarn)')
    >>> context_tokens({"max_position_embeddings": 131072, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}})[0]
    131072
    """
    n = int(cfg.get("max_position_embeddings") or 0)
    for key in ("rope_scaling", "rope_parameters"):
        rs = cfg.get(key)
        if not (n and isinstance(rs, dict)):
            continue
        kind = rs.get("rope_type", rs.get("type"))
        factor = rs.get("factor")
        if kind in NO_RESCALE or not _positive(factor) or factor == 1:
            return n, "max_position_embeddings"
        base, name = n, "max_position_embeddings"
        if kind == "yarn" and _positive(rs.get("original_max_position_embeddings")):
            base, name = rs["original_max_position_embeddings"], "original_max_position_embeddings"
        return int(base * factor), f"{name} × {key}.factor {factor:g} ({kind})"
    return n, "max_position_embeddings"


def _positive(x) -> bool:
    """A finite number > 0 (not a boolean): a field of a scaling dict worth multiplying by."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < float("inf")


def architecture_from_config(cfg: dict) -> Architecture:
    """Normalise a Hugging Face config.json dict into an `Architecture`; raise ConfigError if incomplete."""
    missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
               if cfg.get(k) is None]
    if missing:
        raise ConfigError("missing required field(s): " + ", ".join(missing))
    h = int(cfg["hidden_size"])
    layers = int(cfg["num_hidden_layers"])
    heads = int(cfg["num_attention_heads"])
    kv_heads = int(_get(cfg, "num_key_value_heads", default=heads))
    head_dim = int(_get(cfg, "head_dim", default=h // heads if heads else 0))
    for name, v in (("hidden_size", h), ("num_hidden_layers", layers),
                    ("num_attention_heads", heads), ("num_key_value_heads", kv_heads),
                    ("vocab_size", int(cfg["vocab_size"]))):
        if v <= 0:
            raise ConfigError(f"{name} must be positive, got {v}")
    experts = int(_get(cfg, "n_routed_experts", "num_experts", "num_local_experts", default=0) or 0)
    top_k = int(_get(cfg, "num_experts_per_tok", default=0) or 0)
    if experts and not top_k:
        raise ConfigError("a MoE config needs num_experts_per_tok")
    if experts and top_k > experts:
        raise ConfigError(f"num_experts_per_tok {top_k} exceeds the {experts} experts")
    expert_inter = int(_get(cfg, "moe_intermediate_size", default=0) or 0)
    dense_inter = int(_get(cfg, "intermediate_size", default=0) or 0)
    if experts and not expert_inter:
        expert_inter = dense_inter  # Mixtral / gpt-oss / Llama-4: intermediate_size is per expert
    shared_inter = int(cfg.get("n_shared_experts") or 0) * expert_inter \
        or int(cfg.get("shared_expert_intermediate_size") or 0)
    if "interleave_moe_layer_step" in cfg:  # Llama-4: one shared expert per MoE layer
        shared_inter = expert_inter
        dense_inter = int(cfg.get("intermediate_size_mlp") or 0)
    moe_layers = _moe_layer_count(cfg, layers, experts)
    if moe_layers < layers and not dense_inter:
        raise ConfigError("dense layers need intermediate_size")
    mla = cfg.get("kv_lora_rank") is not None
    attention: AttentionKind = "mla" if mla else ("mha" if kv_heads == heads else "gqa")
    layer_types = cfg.get("layer_types") or []
    sliding_layers = sum(1 for t in layer_types if "sliding" in str(t))
    linear_layers = sum(1 for t in layer_types if "linear" in str(t))
    if linear_layers and not cfg.get("linear_num_value_heads"):
        raise ConfigError("linear_attention layers need linear_num_key_heads/value_heads and head dims")
    recurrent, conv = _linear_state_values(cfg) if linear_layers else (0, 0)
    context = context_tokens(cfg)
    return Architecture(
        family=str(cfg.get("model_type", "unknown")), hidden=h, layers=layers, heads=heads,
        context=context[0], context_from=context[1],
        kv_heads=kv_heads, head_dim=head_dim, dense_intermediate=dense_inter,
        vocab=int(cfg["vocab_size"]), tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        attention=attention,
        q_lora_rank=int(cfg.get("q_lora_rank") or 0) if mla else 0,
        kv_lora_rank=int(cfg.get("kv_lora_rank") or 0) if mla else 0,
        qk_nope_head_dim=int(cfg.get("qk_nope_head_dim") or 0) if mla else 0,
        qk_rope_head_dim=int(cfg.get("qk_rope_head_dim") or 0) if mla else 0,
        v_head_dim=int(cfg.get("v_head_dim") or 0) if mla else 0,
        experts=experts, experts_per_token=top_k, expert_intermediate=expert_inter,
        shared_intermediate=shared_inter, moe_layers=moe_layers,
        sliding_window=int(cfg.get("sliding_window") or 0) if sliding_layers else 0,
        sliding_layers=sliding_layers, mtp_layers=int(cfg.get("num_nextn_predict_layers") or 0),
        linear_layers=linear_layers,
        linear_layer_params=_linear_layer_params(cfg, h) if linear_layers else 0,
        linear_recurrent_values=recurrent, linear_conv_values=conv,
        attn_output_gate=bool(cfg.get("attn_output_gate", False)),
        indexer_params=_indexer_params(cfg, h),
        **_dsa(cfg),
    )


def _linear_layer_params(cfg: dict, h: int) -> int:
    """Weights of one Gated DeltaNet layer (Qwen3-Next/3.5): q,k (nk·dk each), v and gate z
    (nv·dv each) from h; β and decay a (nv each) from h; a depthwise causal conv over q,k,v;
    per-head decay A and Δt bias; the gated RMSNorm of dv; the output projection back to h."""
    nk, nv = int(cfg["linear_num_key_heads"]), int(cfg["linear_num_value_heads"])
    dk, dv = int(cfg["linear_key_head_dim"]), int(cfg["linear_value_head_dim"])
    kernel = int(cfg.get("linear_conv_kernel_dim") or 4)
    key, value = nk * dk, nv * dv
    return (h * (2 * key + 2 * value) + h * 2 * nv + (2 * key + value) * kernel
            + 2 * nv + dv + value * h)


def _linear_state_values(cfg: dict) -> tuple[int, int]:
    """(recurrent, convolution) state values of one Gated DeltaNet layer for one sequence: the
    delta-rule state S of each value head, dk × dv (key heads are shared by nv/nk value heads),
    and the last kernel − 1 inputs of the depthwise convolution over q, k and v."""
    nk, nv = int(cfg["linear_num_key_heads"]), int(cfg["linear_num_value_heads"])
    dk, dv = int(cfg["linear_key_head_dim"]), int(cfg["linear_value_head_dim"])
    kernel = int(cfg.get("linear_conv_kernel_dim") or 4)
    return nv * dk * dv, (2 * nk * dk + nv * dv) * (kernel - 1)


def _indexer_params(cfg: dict, h: int) -> int:
    """DSA lightning indexer of one layer (DeepSeek-V3.2, GLM-5): its queries from the q latent
    (q_lora·n·d), one key head from h (h·d) with its norm, and per-head weights (h·n)."""
    n, d = int(cfg.get("index_n_heads") or 0), int(cfg.get("index_head_dim") or 0)
    if not (n and d):
        return 0
    q_in = int(cfg.get("q_lora_rank") or 0) or h
    return q_in * n * d + h * d + 2 * d + h * n


def _dsa(cfg: dict) -> dict[str, int]:
    """The DSA fields (index_heads, index_head_dim, index_topk) of a config with a lightning
    indexer and a top k; none (dense attention) otherwise."""
    n, d, k = (int(cfg.get(f) or 0) for f in ("index_n_heads", "index_head_dim", "index_topk"))
    if not (n > 0 and d > 0 and k > 0):
        return {}
    return {"index_heads": n, "index_head_dim": d, "index_topk": k}
