"""An `Architecture` from a Hugging Face config.json: the fields each model family spells its own
way, the MoE layer count, the context a checkpoint serves, and the parameters of hybrid
(linear-attention) and DSA layers."""

from __future__ import annotations

import math

from planner.catalog.arch import Architecture, AttentionKind


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


MAX_ROPE_FACTOR = 1024.0   # published scalings stretch a context 4–64×; 1e300 made a context no check noticed
NO_RESCALE = ("su", "longrope", "llama3")   # RoPE kinds whose max_position_embeddings is already the context


# transformers' defaults for the fields a family's published config.json leaves out, as its config
# class fills them in (Gemma3TextConfig: Gemma-3-4B's attention; the 27B's text_config gives no
# vocab_size or max_position_embeddings, the 4B's no heads either: both were refused, a hunt, 2026-12-07)
FAMILY_DEFAULTS: dict[str, dict[str, float]] = {
    "gemma3_text": {"vocab_size": 262208, "max_position_embeddings": 131072, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096, "sliding_window_pattern": 6},
}


def with_family_defaults(data: dict) -> dict:
    """`data` with its family's defaults under the fields it gives (`FAMILY_DEFAULTS`).

    >>> with_family_defaults({"model_type": "gemma3_text", "sliding_window": 1024})["vocab_size"]
    262208
    >>> with_family_defaults({"model_type": "gemma3_text", "sliding_window": 1024})["sliding_window"]
    1024
    """
    return {**FAMILY_DEFAULTS.get(str(data.get("model_type", "")), {}), **data}


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
    >>> context_tokens({"model_type": "gemma3_text", "max_position_embeddings": 131072,
    ...                 "rope_scaling": {"rope_type": "linear", "factor": 8.0}})[0]
    131072
    """
    n = int(cfg.get("max_position_embeddings") or 0)
    if "gemma3" in str(cfg.get("model_type", "")):   # vLLM: "Gemma3's max_model_len (128K) is already scaled by
        return n, "max_position_embeddings"          # RoPE scaling" (its factor 8 made 1,048,576: a hunt, 2026-12-07)
    for key in ("rope_scaling", "rope_parameters"):
        rs = cfg.get(key)
        if not (n and isinstance(rs, dict)):
            continue
        kind = rs.get("rope_type", rs.get("type"))
        factor = rs.get("factor")
        if factor is not None and not (_positive(factor) and factor <= MAX_ROPE_FACTOR):   # NaN, true, -4 were ignored
            raise ConfigError(f"{key}.factor: {factor!r} is not a RoPE scaling factor (a number above 0, at most "
                              f"{MAX_ROPE_FACTOR:g})")
        if kind in NO_RESCALE or factor is None or factor == 1:
            return n, "max_position_embeddings"
        base, name, field = n, "max_position_embeddings", "max_position_embeddings"
        if kind == "yarn" and _positive(rs.get("original_max_position_embeddings")):
            base, name = rs["original_max_position_embeddings"], "original_max_position_embeddings"
            field = f"{key}.{name}"
        try:
            tokens = base * factor
        except OverflowError:   # an int past a float's range (a 400-digit length)
            tokens = math.inf
        if not math.isfinite(tokens):   # 1e308 × 2 made int(inf) raise
            raise ConfigError(f"{field}: {base!r} × {key}.factor {factor:g} is not a finite number of tokens")
        return int(tokens), f"{name} × {key}.factor {factor:g} ({kind})"
    return n, "max_position_embeddings"


def _positive(x) -> bool:
    """A finite number > 0 (not a boolean): a field of a scaling dict worth multiplying by."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < float("inf")


# families whose MLP is up and down projections, no gate (transformers' modelling code)
UNGATED_MLP_FAMILIES = frozenset({"gpt2", "gpt_bigcode", "gpt_neox", "gptj", "phi", "starcoder2", "falcon", "opt",
                                  "bloom", "mpt", "codegen"})
# families whose config class ties the LM head to the embedding when config.json does not say
# (transformers' PretrainedConfig default, kept by Gemma's, GPT-2's and StarCoder2's; Llama, Qwen, Mistral and
# DeepSeek default to untied)
TIED_BY_DEFAULT = frozenset({"gemma", "gemma2", "gemma3", "gemma3_text", "gpt2", "gpt_bigcode", "starcoder2"})
# state-space (Mamba) hybrids: their SSM layers hold a state and weights this model has no terms for
SSM_FAMILIES = frozenset({"jamba", "nemotron_h", "zamba", "zamba2", "bamba", "falcon_h1", "mamba", "mamba2",
                          "granitemoehybrid", "falcon_mamba", "plamo2", "lfm2"})
SSM_KEYS = ("attn_layer_period", "hybrid_override_pattern", "layers_block_type", "mamba_d_state", "mamba_expand",
            "ssm_state_size", "mamba_d_conv", "mamba_n_heads")
# the MoE fields read here, and those every MoE family writes that change no count
MOE_KEYS_READ = frozenset({"n_routed_experts", "num_experts", "num_local_experts", "num_experts_per_tok",
                           "moe_intermediate_size", "n_shared_experts", "shared_expert_intermediate_size",
                           "first_k_dense_replace", "moe_layer_freq", "interleave_moe_layer_step",
                           "decoder_sparse_step", "num_nextn_predict_layers"})


def _unread_moe_keys(cfg: dict) -> list[str]:
    """Keys of a config that read as experts of a MoE (a count above 0 under a name with 'expert'
    or 'moe_') where none of the names read here is: ERNIE-4.5's moe_num_experts and moe_k made a
    21.8 B model a dense 3.3 B one."""
    return sorted(k for k, v in cfg.items() if k not in MOE_KEYS_READ and ("expert" in k or k.startswith("moe_"))
                  and isinstance(v, int) and not isinstance(v, bool) and v > 0)


def _refuse_unmodelled(cfg: dict, layers: int) -> None:
    """ConfigError for the configs this model would count wrong without a word: state-space hybrids,
    experts under names not read here, a `layer_types` of another length than the layers, an MLA
    config without its head dims."""
    family = str(cfg.get("model_type", ""))
    ssm = [k for k in SSM_KEYS if cfg.get(k) is not None]
    if family in SSM_FAMILIES or ssm:
        raise ConfigError(f"model_type {family!r}{' (' + ', '.join(ssm) + ')' if ssm else ''}: state-space (Mamba) "
                          f"layers are not modelled (their state and weights have no terms here; Jamba-v0.1 was "
                          f"counted 92 B for 52 B)")
    read = any(cfg.get(k) for k in ("n_routed_experts", "num_experts", "num_local_experts"))
    if not read and (unread := _unread_moe_keys(cfg)):
        raise ConfigError(f"{', '.join(unread)}: experts under names this planner does not read; write them as "
                          f"num_experts, num_experts_per_tok and moe_intermediate_size (and first_k_dense_replace "
                          f"for leading dense layers), or the model is counted as dense")
    types = cfg.get("layer_types")
    if isinstance(types, list) and types and len(types) != layers:
        raise ConfigError(f"layer_types: {len(types)} entries for num_hidden_layers {layers}")
    if cfg.get("kv_lora_rank") is not None:
        absent = [k for k in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim") if not cfg.get(k)]
        if absent:
            raise ConfigError(f"{', '.join(absent)}: required beside kv_lora_rank (MLA attention; missing, null or 0)")


def architecture_from_config(cfg: dict, raw: dict | None = None) -> Architecture:
    """Normalise a Hugging Face config.json dict into an `Architecture`; raise ConfigError if incomplete.
    `raw`: the file's every key, where `cfg` holds only those the schema reads (`_refuse_unmodelled`
    looks at the keys it does not read)."""
    missing = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
               if cfg.get(k) is None]
    if missing:
        raise ConfigError("missing required field(s): " + ", ".join(missing))
    _refuse_unmodelled(raw if raw is not None else cfg, int(cfg["num_hidden_layers"]))
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
    sliding_layers, linear_layers = _layer_kind_counts(cfg, layers)
    absent = [k for k in LINEAR_FIELDS if not cfg.get(k)]
    if linear_layers and absent:
        raise ConfigError(f"{', '.join(absent)}: required for its {linear_layers} linear_attention layers "
                          f"(missing or null)")
    recurrent, conv = _linear_state_values(cfg) if linear_layers else (0, 0)
    context = context_tokens(cfg)
    return Architecture(
        family=str(cfg.get("model_type", "unknown")), hidden=h, layers=layers, heads=heads,
        context=context[0], context_from=context[1],
        kv_heads=kv_heads, head_dim=head_dim, dense_intermediate=dense_inter,
        vocab=int(cfg["vocab_size"]),
        tied_embeddings=bool(cfg.get("tie_word_embeddings", cfg.get("model_type") in TIED_BY_DEFAULT)),
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
        gated_mlp=cfg.get("model_type") not in UNGATED_MLP_FAMILIES,
        **_dsa(cfg),
    )


LINEAR_FIELDS = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim")
# families whose config class derives layer_types from full_attention_interval (default 4) when a
# config.json leaves them out (transformers' Qwen3NextConfig, Qwen3_5TextConfig)
INTERVAL_FAMILIES = ("qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text")
DEFAULT_FULL_ATTENTION_INTERVAL = 4


def layer_types_of(cfg: dict, layers: int) -> list:
    """Each layer's kind: `layer_types` as written, else, as transformers derives it for the hybrid
    Qwen families (or wherever `full_attention_interval` is given), every interval-th layer full
    attention and the others linear: layer i is full when (i + 1) % interval == 0.

    >>> layer_types_of({"model_type": "qwen3_next", "full_attention_interval": 4}, 8)[:4]
    ['linear_attention', 'linear_attention', 'linear_attention', 'full_attention']
    >>> layer_types_of({"model_type": "llama"}, 2)
    []
    """
    if cfg.get("layer_types"):
        return list(cfg["layer_types"])
    interval = _interval(cfg)
    if not interval:
        return []
    return ["linear_attention" if (i + 1) % interval else "full_attention" for i in range(layers)]


def _layer_kind_counts(cfg: dict, layers: int) -> tuple[int, int]:
    """(sliding-window layers, linear-attention layers): counted in `layer_types`, or by arithmetic
    from the interval (`layer_types_of`'s pattern: ⌊layers/interval⌋ full, the rest linear) without
    building a list of a billion layers."""
    if cfg.get("layer_types"):
        kinds = [str(t) for t in cfg["layer_types"]]
        return sum("sliding" in t for t in kinds), sum("linear" in t for t in kinds)
    if (sliding := implied_sliding_layers(cfg, layers)) is not None:
        return sliding, 0
    interval = _interval(cfg)
    return (0, layers - layers // interval) if interval else (0, 0)


def implied_sliding_layers(cfg: dict, layers: int) -> int | None:
    """Sliding-window layers of a config with `sliding_window` and no `layer_types`, as transformers
    derives them: Gemma-3 every `sliding_window_pattern`-th layer global (6 by default), Gemma-2
    every other one, Mistral all of them; None where the family implies none. Such configs (as
    published) were planned as full attention: Gemma-3-27B's KV at 32k tokens 5.3× what it holds
    (a hostile-input hunt, 2026-12-07).

    >>> implied_sliding_layers({"model_type": "gemma3_text", "sliding_window": 1024}, 62)
    52
    >>> implied_sliding_layers({"model_type": "gemma2", "sliding_window": 4096}, 42)
    21
    >>> implied_sliding_layers({"model_type": "mistral", "sliding_window": 4096}, 32)
    32
    >>> implied_sliding_layers({"model_type": "llama", "sliding_window": 4096}, 32) is None
    True
    """
    kind = str(cfg.get("model_type", ""))
    if not cfg.get("sliding_window"):
        return None
    if "gemma3" in kind:
        every = cfg.get("sliding_window_pattern") or 6
        return layers - layers // int(every) if isinstance(every, int) and every >= 1 else None
    return {"gemma2": layers - layers // 2, "mistral": layers}.get(kind)


def _interval(cfg: dict) -> int:
    """The full-attention interval of a hybrid Qwen config (0: none)."""
    interval = cfg.get("full_attention_interval")
    if interval is None and cfg.get("model_type") in INTERVAL_FAMILIES:
        interval = DEFAULT_FULL_ATTENTION_INTERVAL
    return int(interval or 0)


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
