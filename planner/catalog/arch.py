"""Model architecture: the shapes `perf` needs (built from a config.json by `config_json`), the
parameter counter, and the attention and FLOPs of a prompt.

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
    gated_mlp: bool = True   # gate, up and down projections (SwiGLU, GeGLU); False: up and down (GPT-2, Phi-2)
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
        """MLP of a dense layer: 3·h·intermediate when gated (gate, up, down), else 2·h·intermediate."""
        return (3 if self.gated_mlp else 2) * self.hidden * self.dense_intermediate

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
        """Cached values per token over all layers, each at full size (what a layer holds for a
        token it keeps; `held_tokens` says how many tokens sliding-window and linear-attention
        layers keep).

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
        return self._layer_mean(min(context, self.index_topk) if self.index_topk else context, context)

    def held_tokens(self, context: float) -> float:
        """Mean tokens a layer keeps in its KV cache for one sequence of `context` tokens:
        full-attention layers (DSA's too: the indexer picks from every cached token) all of them,
        sliding-window layers the window (engines free the blocks behind it: vLLM's hybrid KV
        cache manager, SGLang's SWA pool), linear-attention layers none (their fixed state is
        `deployment.linear_state_bytes_per_sequence_per_card`)."""
        return self._layer_mean(context, context)

    def _layer_mean(self, full_ctx: float, context: float) -> float:
        """The mean over layers of `full_ctx` in full-attention layers, min(context, window) in
        sliding-window ones and 0 in linear-attention ones (`attended_tokens`, `held_tokens`)."""
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
