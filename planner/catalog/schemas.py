"""Catalog schemas (GPUs, models, calibration profiles), loading and lookup by name.

Every catalog number is a `Sourced*` value: the quantity (SI after parsing), its source and
an as-of date. Unknown keys are errors. Look-ups of unknown names suggest close matches.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from planner.catalog.arch import Architecture
from planner.catalog.cache import cached_load
from planner.catalog.config_json import ConfigError, architecture_from_config, with_family_defaults
from planner.catalog.hf_cache import (
    cached_config,
    looks_like_hf_id,
    parts_not_quantized,
    weight_precision,
)
from planner.catalog.ids import gpu_key, model_key
from planner.catalog.parts import PARTS, part_dtypes  # noqa: F401  (importable from here as before)
from planner.catalog.sourced import (  # noqa: F401  (importable from here as before)
    SourcedBandwidth,
    SourcedBytes,
    SourcedCount,
    SourcedFlops,
    SourcedPower,
    SourcedPrice,
    SourcedTime,
)
from planner.errors import BadInput, PlannerNotice, shown_value, suggest
from planner.input.files import read_json, read_yaml, validate
from planner.input.load import hf_page_id
from planner.input.schema import Precision, Strict

CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalogs"

BYTES_PER_VALUE: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5}


# ---------------------------------------------------------------------------------- GPUs
class ScaleUp(Strict):
    kind: Literal["nvlink3", "nvlink4", "nvlink5", "xgmi", "hccs", "pcie4", "pcie5"]
    bandwidth_per_direction: SourcedBandwidth
    domain_cards: SourcedCount


class GPU(Strict):
    """One accelerator type: memory, dense FLOP/s per precision, links, power, price."""

    id: str
    name: str
    vendor: Literal["nvidia", "amd", "huawei", "intel", "other"]
    form_factor: Literal["sxm", "oam", "pcie", "other"]
    memory: SourcedBytes
    memory_bandwidth: SourcedBandwidth
    dense_flops: dict[Precision, SourcedFlops]
    scale_up: ScaleUp
    cards_per_node: SourcedCount
    nic_bandwidth_per_card: SourcedBandwidth
    power: SourcedPower
    price_rmb_per_gpu_hour: SourcedPrice
    other_prices: list[SourcedPrice] = []   # the card's price in the other market, where one is known

    @model_validator(mode="after")
    def _one_price_per_market(self) -> GPU:
        markets = [self.price_rmb_per_gpu_hour.market] + [p.market for p in self.other_prices]
        if len(set(markets)) < len(markets):
            raise ValueError(f"other_prices: one price per market; {markets} repeats one "
                             f"(price_rmb_per_gpu_hour is in {markets[0]})")
        return self

    def price_in(self, market: str | None) -> SourcedPrice:
        """The catalog price read in `market` when there is one, else the default price."""
        return next((p for p in self.other_prices if p.market == market), self.price_rmb_per_gpu_hour)

    @field_validator("dense_flops")
    @classmethod
    def _needs_bf16_or_fp16(cls, v: dict) -> dict:
        if "bf16" not in v and "fp16" not in v:
            raise ValueError("dense_flops needs at least bf16 (or fp16)")
        return v

    @property
    def memory_bytes(self) -> float:
        return self.memory.value

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth.value

    @property
    def scale_up_bytes_per_s(self) -> float:
        return self.scale_up.bandwidth_per_direction.value

    @property
    def domain_cards(self) -> int:
        return int(self.scale_up.domain_cards.value)

    @property
    def node_cards(self) -> int:
        return int(self.cards_per_node.value)

    @property
    def nic_bytes_per_s(self) -> float:
        return self.nic_bandwidth_per_card.value

    @property
    def power_w(self) -> float:
        return self.power.value

    @property
    def price_per_card_hour(self) -> float:
        return self.price_rmb_per_gpu_hour.value

    @property
    def price_market(self) -> str:
        return self.price_rmb_per_gpu_hour.market

    def flops(self, precision: str) -> float:
        """Dense peak FLOP/s for matmuls in `precision`, else the format the card runs them in (FP4
        weights without FP4 units: W4A16 at the BF16 rate, as Hopper runs MXFP4 and `kernels._choice`)."""
        order = {"fp4": ["fp4", "bf16", "fp16"],
                 "fp8": ["fp8", "bf16", "fp16"], "int8": ["int8", "fp8", "bf16", "fp16"],
                 "bf16": ["bf16", "fp16"], "fp16": ["fp16", "bf16"]}[precision]
        for p in order:
            if p in self.dense_flops:
                return self.dense_flops[p].value
        raise KeyError(precision)  # unreachable: bf16/fp16 presence is validated


class GPUCatalog(Strict):
    gpus: list[GPU]


# -------------------------------------------------------------------------------- models
# config.json sizes and counts: whole numbers (a zero size would divide by zero, a negative one
# give negative memory); Count0 may be zero
Size, Count0 = Annotated[int, Field(ge=1, le=10**9)], Annotated[int, Field(ge=0, le=10**9)]


class HFConfig(Strict):
    """The fields of a Hugging Face config.json that the model uses (HF names)."""

    model_type: str | None = None
    hidden_size: Size
    num_hidden_layers: Size
    num_attention_heads: Size
    num_key_value_heads: Size | None = None
    head_dim: Size | None = None
    intermediate_size: Size | None = None
    vocab_size: Size
    tie_word_embeddings: StrictBool | None = None   # "false" in a config.json is truthy to transformers
    max_position_embeddings: Size | None = None
    rope_scaling: dict[str, Any] | None = None      # read for the context only (arch.context_tokens)
    rope_parameters: dict[str, Any] | None = None   # transformers 5's name for it
    n_routed_experts: Count0 | None = None
    num_experts: Count0 | None = None
    num_local_experts: Count0 | None = None
    n_shared_experts: Count0 | None = None
    shared_expert_intermediate_size: Count0 | None = None
    num_experts_per_tok: Size | None = None
    moe_intermediate_size: Size | None = None
    first_k_dense_replace: Count0 | None = None
    moe_layer_freq: Size | None = None
    decoder_sparse_step: Size | None = None
    mlp_only_layers: list[Count0] | None = None
    q_lora_rank: Size | None = None
    kv_lora_rank: Size | None = None
    qk_nope_head_dim: Count0 | None = None
    qk_rope_head_dim: Count0 | None = None
    v_head_dim: Size | None = None
    num_nextn_predict_layers: Count0 | None = None
    sliding_window: Count0 | None = None
    layer_types: list[str] | None = None
    attention_bias: StrictBool | None = None  # below: Qwen3.5 linear attention, DSA indexer, Llama-4 MoE
    linear_num_key_heads: Size | None = None
    linear_num_value_heads: Size | None = None
    linear_key_head_dim: Size | None = None
    linear_value_head_dim: Size | None = None
    linear_conv_kernel_dim: Size | None = None
    full_attention_interval: Size | None = None
    attn_output_gate: StrictBool | None = None
    index_n_heads: Size | None = None
    index_head_dim: Size | None = None
    index_topk: Size | None = None
    interleave_moe_layer_step: Size | None = None
    intermediate_size_mlp: Size | None = None
    attention_chunk_size: Size | None = None

    @model_validator(mode="after")
    def _consistent(self) -> HFConfig:
        if (self.num_key_value_heads or 0) > self.num_attention_heads:
            raise ValueError(f"num_key_value_heads {self.num_key_value_heads} > num_attention_heads")
        if self.num_key_value_heads and self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads {self.num_key_value_heads} (each KV head serves a whole group)")
        if self.head_dim is None and self.hidden_size < self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} < num_attention_heads {self.num_attention_heads}: "
                             f"without head_dim each head would have {self.hidden_size // self.num_attention_heads} "
                             f"dimensions; give head_dim")
        experts = self.n_routed_experts or self.num_experts or self.num_local_experts or 0
        if experts and self.num_experts_per_tok is not None and self.num_experts_per_tok > experts:
            raise ValueError(f"num_experts_per_tok {self.num_experts_per_tok} exceeds the {experts} experts")
        return self


class PartPrecisions(Strict):
    """A catalog model's dense parts (PARTS) that its published checkpoint stores at their own
    precision; a part not given is stored at the entry's `weight_dtype`."""

    attention: Precision | None = None
    dense_mlp: Precision | None = None
    shared_experts: Precision | None = None


class ModelEntry(Strict):
    """A catalog model: its HF config plus provenance and default precision."""

    id: str
    name: str
    hf_repo: str | None = None
    aliases: list[str] = []
    weight_dtype: Precision = "bf16"
    expert_dtype: Precision | None = None   # routed experts stored apart (gpt-oss: MXFP4 experts, BF16 rest)
    part_dtypes: PartPrecisions = PartPrecisions.model_construct()   # dense parts stored apart from weight_dtype
    source: str
    as_of: str
    config: HFConfig

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_as_text(cls, v: Any) -> str:
        return str(v)


class ModelCatalog(Strict):
    models: list[ModelEntry]


class Model(BaseModel):
    """A resolved model: name, default weight precision, source and normalised architecture."""

    # defer_build: its validator is built on the first Model(...), not at import (plan solve reads
    # the models catalog from the cache and never validates one)
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    id: str
    name: str
    weight_dtype: Precision
    source: str
    arch: Architecture
    expert_dtype: Precision | None = None   # routed experts' precision when stored apart
    part_dtypes: tuple[tuple[str, str], ...] = ()   # dense parts stored apart from weight_dtype (part_dtypes())
    hf_repo: str | None = None   # the Hugging Face repository engines load it from (catalog models)

    @property
    def params_total(self) -> int:
        return self.arch.params_total

    def precisions(self, weights: str | None, experts: str | None) -> tuple[str, str | None]:
        """(weights, routed experts or None for the same) of a deployment of this model asked for
        `weights`/`experts` (None: not given): `weights` sets every weight unless `experts` sets the
        experts apart; with neither, the checkpoint's own (which may store its experts apart, e.g.
        gpt-oss's MXFP4 experts beside BF16)."""
        if weights is None and experts is None:
            w, e = self.weight_dtype, self.expert_dtype
        else:
            w, e = weights or self.weight_dtype, experts
        return w, (e if e != w else None)

    def part_precisions(self, weights: str | None, parts: dict[str, str | None]) -> tuple[tuple[str, str], ...]:
        """The dense parts (PARTS) stored apart from the weights, as `part_dtypes` keeps them: a part
        given in `parts` at its precision; one not given at `weights` when that is given, else at the
        checkpoint's own (which may store some apart, e.g. a config.json whose quantization leaves
        attention out). `weights` is the deployment's, from `precisions`."""
        own = dict(self.part_dtypes) if weights is None else {}
        w = weights or self.weight_dtype
        return part_dtypes(w, {p: parts.get(p) or own.get(p) for p in PARTS})

    @property
    def params_active(self) -> int:
        return self.arch.params_active


# -------------------------------------------------------------------------------- loading
@functools.lru_cache(maxsize=8)
def load_gpus(path: str | None = None) -> dict[str, GPU]:
    """GPU catalog keyed by id (default: catalogs/gpus.yaml)."""
    p = Path(path) if path else CATALOG_DIR / "gpus.yaml"
    return cached_load(p, "gpus", lambda: _gpus_of(p))


def _gpus_of(p: Path) -> dict[str, GPU]:
    cat = validate(GPUCatalog, read_yaml(p), str(p))
    out: dict[str, GPU] = {}
    for i, g in enumerate(cat.gpus):   # keyed as looked up (gpu_key): `id: H100` was unknown GPU 'H100' (a hunt)
        if (key := gpu_key(g.id)) in out:
            raise BadInput(f"{p}: gpus[{i}].id: {g.id!r} names the GPU of {out[key].id!r} again (ids are read in any "
                           f"case): give each GPU once")
        out[key] = g if g.id == key else g.model_copy(update={"id": key})   # plans name GPUs in lower case
    return out


@functools.lru_cache(maxsize=8)
def load_models(path: str | None = None) -> dict[str, Model]:
    """Model catalog keyed by id and alias (default: catalogs/models.yaml)."""
    p = Path(path) if path else CATALOG_DIR / "models.yaml"
    return cached_load(p, "models", lambda: _models_of(p))


def given_fields(cfg: HFConfig) -> dict[str, Any]:
    """The fields of a validated config that hold a value (what model_dump(exclude_none=True) gives,
    without building the model's serializer)."""
    return {k: v for k, v in cfg if v is not None}


def _models_of(p: Path) -> dict[str, Model]:
    cat = validate(ModelCatalog, read_yaml(p), str(p))
    out: dict[str, Model] = {}
    for i, m in enumerate(cat.models):
        try:
            arch = architecture_from_config(given_fields(m.config))
        except ConfigError as e:
            raise BadInput(f"{p}: models[{i}].config: {e}") from None
        # built from values the catalog's schema has just validated: model_construct spares building
        # Model's own validator (and HFConfig's serializer for model_dump), ~7 ms of a first run
        model = Model.model_construct(id=model_key(m.id), name=m.name, weight_dtype=m.weight_dtype, source=m.source,
                                      arch=arch, expert_dtype=m.expert_dtype, hf_repo=m.hf_repo,
                                      part_dtypes=part_dtypes(m.weight_dtype, dict(m.part_dtypes)))
        for name in [m.id, *m.aliases]:   # as get_model looks them up: an alias copied from the Hub with its
            if (key := model_key(name)) in out:   # capitals, `meta-llama/Llama-3.1-8B`, was never found
                raise BadInput(f"{p}: models[{i}]: {name!r} names {out[key].id!r} already (ids and aliases are read "
                               f"in any case): give it once")
            out[key] = model
    return out


def get_gpu(name: str, gpus: dict[str, GPU] | None = None) -> GPU:
    """GPU by id (case-insensitive); BadInput with close matches when unknown."""
    gpus = gpus if gpus is not None else load_gpus()
    if (key := gpu_key(name)) in gpus:
        return gpus[key]
    raise BadInput(unknown_gpu(name, gpus))


def unknown_gpu(name: str, gpus: dict[str, GPU]) -> str:
    """What plan says of a GPU name not in `gpus`: the name as written, the known ids, the closest."""
    return f"unknown GPU {shown_value(name)}; known: {', '.join(sorted(gpus))}.{suggest(gpu_key(name), gpus)}"


def get_model(name: str, models: dict[str, Model] | None = None) -> Model:
    """Model by catalog id/alias, or by path to a Hugging Face config.json."""
    models = models if models is not None else load_models()
    key = model_key(name)
    if key in models:
        return models[key]
    p = Path(name)
    found = os.path.exists(p)   # False for a name too long to be a path (Path.exists raised for 256 characters)
    if not found and (page := hf_page_id(name)):   # was 'unknown model' and the catalog's list
        raise BadInput(f"unknown model {name.strip()!r}: the address of a Hugging Face page; give the model's id, "
                       f"{page} (plan reads ids and config.json files, never the network)")
    if p.suffix == ".json" or found:   # a device or a pipe is reported by the reader, not as a model name
        if not found and not p.is_absolute():   # say where it was looked for: not beside the problem file
            raise BadInput(f"{name}: file not found in {Path.cwd()} (a model's config.json path is read from the "
                           f"current directory)")
        return model_from_config_json(p)
    if looks_like_hf_id(name):   # not in the catalog: the local Hugging Face cache, never the network
        return model_from_config_json(cached_config(name), model_id=name.strip())
    shown = repr(name) if len(name) <= 120 else f"{name[:60]!r}… ({len(name):,} characters)"
    raise BadInput(f"unknown model {shown}; known: {', '.join(sorted(set(m.id for m in models.values())))}."
                   f"{suggest(key, models)} (Or give the path to a Hugging Face config.json.)")


def served_id(folder: str) -> str:
    """The id of a model read from a config.json: its folder's name, as one word an engine serves
    (`--served-model-name`) and no flag: runs of whitespace become '-', leading '-' go ('my
    model/config.json' was planned as 'my model', which export and simulate then refused).

    >>> served_id("my model"), served_id("--x"), served_id("Llama 3  70B"), served_id(" ")
    ('my-model', 'x', 'Llama-3-70B', 'model')
    """
    return "-".join(folder.split()).lstrip("-") or "model"


_NOTED: set[tuple[str, str]] = set()   # (config.json, note) said in this process: a model read twice says it once


def model_from_config_json(path: str | Path, model_id: str | None = None) -> Model:
    """A model from a local Hugging Face config.json (or a folder holding one); no network. The
    weight precision is the one `quantization_config` declares, else the checkpoint's dtype."""
    p = Path(path)
    if p.is_dir() and p.suffix.lower() == ".json" and not (p / "config.json").exists():   # not 'x.json/config.json:
        raise BadInput(f"{p}: is a directory, expected a JSON file (a model's config.json, or the folder "   # file
                       f"holding one)")                                                   # not found' (a hunt)
    if p.is_dir():
        p = p / "config.json"
    data = read_json(p)
    if not isinstance(data, dict):
        raise BadInput(f"{p}: expected a JSON object")
    if {"schema_version", "pools"} <= data.keys() and "hidden_size" not in data:   # listed 4 missing fields
        raise BadInput(f"{p}: is a plan (JSON of plan solve --out), not a model's config.json: give the "
                       f"model's id or its Hugging Face config.json")
    if isinstance(data.get("text_config"), dict):  # multimodal wrappers keep the LM inside
        data = {**data, **data["text_config"]}
    data = with_family_defaults(data)
    known = {k: v for k, v in data.items() if k in HFConfig.model_fields}
    cfg = validate(HFConfig, known, str(p))
    try:
        arch = architecture_from_config(given_fields(cfg), raw=data)
    except ConfigError as e:
        raise BadInput(f"{p}: {e}") from None
    dtype = str(data.get("torch_dtype") or data.get("dtype") or "bfloat16")
    quantized, note = weight_precision(data)
    if quantized is None and note and (str(p), note) not in _NOTED:   # declared in a form not read: said once
        import warnings
        _NOTED.add((str(p), note))
        warnings.warn(f"{p}: {note} ({dtype}); give "
                      f"precision.weights in the problem (plan eval --weights) to plan another", PlannerNotice,
                      stacklevel=2)
    checkpoint: Precision = "fp16" if dtype == "float16" else "bf16"
    weight: Precision = quantized or checkpoint  # type: ignore[assignment]
    experts, parts = None, ()
    kept = parts_not_quantized(data)
    if quantized and "attention" in kept:   # e.g. gpt-oss: MXFP4 experts only
        # attention (and embedding, LM head, norms, router) at the checkpoint's dtype; the MLPs the
        # list does not name at the declared precision
        have = {"dense_mlp": arch.dense_layers > 0, "shared_experts": arch.moe_layers * arch.shared_params > 0}
        weight, experts = checkpoint, (quantized if arch.is_moe else None)
        parts = part_dtypes(checkpoint, {k: quantized for k, ok in have.items() if ok and k not in kept})
        at = ", ".join([f"{quantized} {k.replace('_', ' ')}" for k, _ in parts] + ([f"{quantized} experts"]
                                                                                  if experts else []))
        note = (note + "; " if note else "") + (f"attention excluded from quantization: {checkpoint} weights, "
                                                 f"{at}")
    # named after its folder as an absolute path names it (the plan's model_source, which simulate and export
    # read): a bare 'config.json' beside the problem was named 'config' and then refused as 'z' (a hunt)
    folder = Path(os.path.abspath(p)).parent.name
    return Model(id=model_id or served_id(folder or p.stem), name=str(p), weight_dtype=weight,
                 source=f"local config {p}" + (f"; {note}" if note else ""), arch=arch, expert_dtype=experts,
                 part_dtypes=parts)
