"""Catalog schemas (GPUs, models, calibration profiles), loading and lookup by name.

Every catalog number is a `Sourced*` value: the quantity (SI after parsing), its source and
an as-of date. Unknown keys are errors. Look-ups of unknown names suggest close matches.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from planner.catalog.arch import Architecture, ConfigError, architecture_from_config
from planner.catalog.source import read_catalog_yaml
from planner.errors import BadInput, suggest
from planner.input.files import read_json, validate
from planner.input.schema import Precision, Strict
from planner.input.units import Dimension, UnitError, parse_quantity

CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalogs"

BYTES_PER_VALUE: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5}


class _Sourced(Strict):
    value: float
    source: str = Field(min_length=3)
    as_of: str = Field(min_length=4)
    note: str | None = None

    _dim: Dimension = "count"

    @field_validator("value", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> float:
        try:
            return parse_quantity(v, cls._dim.default)  # type: ignore[attr-defined]
        except UnitError as e:
            raise ValueError(str(e)) from None

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_as_text(cls, v: Any) -> str:
        return str(v)


class SourcedBytes(_Sourced):
    _dim: Dimension = "bytes"


class SourcedBandwidth(_Sourced):
    _dim: Dimension = "bandwidth"


class SourcedFlops(_Sourced):
    _dim: Dimension = "flops"


class SourcedPower(_Sourced):
    _dim: Dimension = "power"


class SourcedCount(_Sourced):
    _dim: Dimension = "count"


class SourcedTime(_Sourced):
    _dim: Dimension = "time"


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
    price_rmb_per_gpu_hour: SourcedCount

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

    def flops(self, precision: str) -> float:
        """Dense peak FLOP/s for matmuls in `precision`; falls back to the next wider format
        the card has (FP4 weights on a card without FP4 units run at its FP8 or BF16 rate)."""
        order = {"fp4": ["fp4", "fp8", "int8", "bf16", "fp16"],
                 "fp8": ["fp8", "bf16", "fp16"], "int8": ["int8", "fp8", "bf16", "fp16"],
                 "bf16": ["bf16", "fp16"], "fp16": ["fp16", "bf16"]}[precision]
        for p in order:
            if p in self.dense_flops:
                return self.dense_flops[p].value
        raise KeyError(precision)  # unreachable: bf16/fp16 presence is validated


class GPUCatalog(Strict):
    gpus: list[GPU]


# -------------------------------------------------------------------------------- models
class HFConfig(Strict):
    """The fields of a Hugging Face config.json that the model uses (HF names)."""

    model_type: str | None = None
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    intermediate_size: int | None = None
    vocab_size: int
    tie_word_embeddings: bool | None = None
    max_position_embeddings: int | None = None
    n_routed_experts: int | None = None
    num_experts: int | None = None
    num_local_experts: int | None = None
    n_shared_experts: int | None = None
    shared_expert_intermediate_size: int | None = None
    num_experts_per_tok: int | None = None
    moe_intermediate_size: int | None = None
    first_k_dense_replace: int | None = None
    moe_layer_freq: int | None = None
    decoder_sparse_step: int | None = None
    mlp_only_layers: list[int] | None = None
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    num_nextn_predict_layers: int | None = None
    sliding_window: int | None = None
    layer_types: list[str] | None = None
    attention_bias: bool | None = None


class ModelEntry(Strict):
    """A catalog model: its HF config plus provenance and default precision."""

    id: str
    name: str
    hf_repo: str | None = None
    aliases: list[str] = []
    weight_dtype: Precision = "bf16"
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

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    name: str
    weight_dtype: Precision
    source: str
    arch: Architecture

    @property
    def params_total(self) -> int:
        return self.arch.params_total

    @property
    def params_active(self) -> int:
        return self.arch.params_active


# ---------------------------------------------------------------------------- calibration
class CalibParam(Strict):
    value: float
    source: str = Field(min_length=3)
    note: str | None = None


class Calibration(Strict):
    """Named efficiency and latency parameters of the analytic model (see README 'The model')."""

    name: str
    description: str
    compute_efficiency: CalibParam
    memory_efficiency: CalibParam
    network_efficiency: CalibParam
    collective_latency_intra_s: CalibParam
    collective_latency_inter_s: CalibParam
    layer_overhead_s: CalibParam
    moe_layer_overhead_s: CalibParam
    step_overhead_s: CalibParam
    request_overhead_s: CalibParam
    moe_imbalance: CalibParam
    gemm_efficiency_scale: CalibParam
    comm_overlap: CalibParam
    memory_usable_fraction: CalibParam
    decode_tokens_per_step: CalibParam
    # describes the measured benchmarks, not the engine: requests each closed-loop client sent
    # (the first wave of simultaneous prompts weighs 1/k of a point's mean TTFT); plans never use it
    benchmark_requests_per_client: CalibParam = CalibParam(value=10.0, source="assumed; fitted by plan calibrate")
    # fixed TTFT per architecture family (HF model_type): replaces request_overhead_s for it
    request_overhead_by_family_s: dict[str, CalibParam] = {}
    # GEMMs at the kernel tables' efficiency curve η(M)·gemm_efficiency_scale (catalogs/kernels.yaml);
    # false: at compute_efficiency whatever their shape (the roofline profile)
    kernel_curves: bool = True

    @field_validator("compute_efficiency", "memory_efficiency", "network_efficiency",
                     "memory_usable_fraction")
    @classmethod
    def _fraction(cls, v: CalibParam) -> CalibParam:
        if not 0.0 < v.value <= 1.0:
            raise ValueError(f"must be in (0, 1], got {v.value}")
        return v

    @field_validator("gemm_efficiency_scale")
    @classmethod
    def _scale(cls, v: CalibParam) -> CalibParam:
        if not 0.0 < v.value <= 1.5:
            raise ValueError(f"must be in (0, 1.5], got {v.value}")
        return v

    @field_validator("comm_overlap")
    @classmethod
    def _overlap(cls, v: CalibParam) -> CalibParam:
        if not 0.0 <= v.value <= 1.0:
            raise ValueError(f"must be in [0, 1], got {v.value}")
        return v

    @field_validator("collective_latency_intra_s", "collective_latency_inter_s",
                     "layer_overhead_s", "moe_layer_overhead_s", "step_overhead_s",
                     "request_overhead_s")
    @classmethod
    def _nonneg(cls, v: CalibParam) -> CalibParam:
        if v.value < 0:
            raise ValueError(f"must be ≥ 0, got {v.value}")
        return v

    @field_validator("request_overhead_by_family_s")
    @classmethod
    def _nonneg_each(cls, v: dict[str, CalibParam]) -> dict[str, CalibParam]:
        bad = [f"{k} = {p.value}" for k, p in v.items() if p.value < 0]
        if bad:
            raise ValueError(f"must be ≥ 0, got {', '.join(bad)}")
        return v

    @field_validator("moe_imbalance", "decode_tokens_per_step", "benchmark_requests_per_client")
    @classmethod
    def _at_least_one(cls, v: CalibParam) -> CalibParam:
        if v.value < 1.0:
            raise ValueError(f"must be ≥ 1, got {v.value}")
        return v

    def with_overrides(self, overrides: dict[str, float]) -> Calibration:
        """A copy with some parameter values replaced (problem-level overrides). Overriding
        request_overhead_s sets the fixed TTFT of every model (the per-family table is dropped)."""
        unknown = [k for k in overrides if k not in SCALAR_PARAMS]
        if unknown:
            raise BadInput("unknown calibration parameter(s): " + ", ".join(unknown) + "."
                           + suggest(unknown[0], list(SCALAR_PARAMS)))
        data = self.model_dump()
        if "request_overhead_s" in overrides:
            data["request_overhead_by_family_s"] = {}
        for k, v in overrides.items():
            data[k] = {"value": float(v), "source": "problem override"}
        data["name"] = self.name + "+overrides"
        return validate(Calibration, data, "calibration overrides")

    def v(self, name: str) -> float:
        """Value of parameter `name`."""
        return getattr(self, name).value

    def request_overhead_for(self, family: str) -> tuple[float, bool]:
        """(fixed TTFT of a model of architecture `family`, whether it is the family's own
        fitted value rather than the shared request_overhead_s)."""
        own = self.request_overhead_by_family_s.get(family)
        return (own.value, True) if own is not None else (self.request_overhead_s.value, False)

    def fixed_ttft_dict(self, family: str) -> dict[str, float | str]:
        """JSON keys fixed_ttft_s and fixed_ttft_basis ('<family> fit' or 'shared') of a model family."""
        value, own = self.request_overhead_for(family)
        return {"fixed_ttft_s": value, "fixed_ttft_basis": f"{family} fit" if own else "shared"}


# the scalar parameters of a profile (what a problem may override)
SCALAR_PARAMS: tuple[str, ...] = tuple(k for k, f in Calibration.model_fields.items()
                                       if f.annotation is CalibParam)


# -------------------------------------------------------------------------------- loading
@functools.lru_cache(maxsize=8)
def load_gpus(path: str | None = None) -> dict[str, GPU]:
    """GPU catalog keyed by id (default: catalogs/gpus.yaml)."""
    p = Path(path) if path else CATALOG_DIR / "gpus.yaml"
    cat = validate(GPUCatalog, read_catalog_yaml(p), str(p))
    out: dict[str, GPU] = {}
    for g in cat.gpus:
        if g.id in out:
            raise BadInput(f"{p}: duplicate GPU id {g.id!r}")
        out[g.id] = g
    return out


@functools.lru_cache(maxsize=8)
def load_models(path: str | None = None) -> dict[str, Model]:
    """Model catalog keyed by id and alias (default: catalogs/models.yaml)."""
    p = Path(path) if path else CATALOG_DIR / "models.yaml"
    cat = validate(ModelCatalog, read_catalog_yaml(p), str(p))
    out: dict[str, Model] = {}
    for i, m in enumerate(cat.models):
        try:
            arch = architecture_from_config(m.config.model_dump(exclude_none=True))
        except ConfigError as e:
            raise BadInput(f"{p}: models[{i}].config: {e}") from None
        model = Model(id=m.id, name=m.name, weight_dtype=m.weight_dtype, source=m.source, arch=arch)
        for key in [m.id, *m.aliases]:
            if key in out:
                raise BadInput(f"{p}: duplicate model id or alias {key!r}")
            out[key] = model
    return out


def load_calibration(name_or_path: str = "default") -> Calibration:
    """Calibration profile by name (catalogs/calibration/NAME.yaml) or by path to a YAML file."""
    p = Path(name_or_path)
    if not (p.suffix in (".yaml", ".yml") and p.exists()):
        p = CATALOG_DIR / "calibration" / f"{name_or_path}.yaml"
        if not p.exists():
            names = [q.stem for q in (CATALOG_DIR / "calibration").glob("*.yaml")]
            raise BadInput(f"unknown calibration profile {name_or_path!r}; available: "
                           + ", ".join(sorted(names)) + "." + suggest(name_or_path, names))
    return _load_calibration_file(str(p))


@functools.lru_cache(maxsize=16)
def _load_calibration_file(path: str) -> Calibration:
    return validate(Calibration, read_catalog_yaml(path), path)


def get_gpu(name: str, gpus: dict[str, GPU] | None = None) -> GPU:
    """GPU by id (case-insensitive); BadInput with close matches when unknown."""
    gpus = gpus if gpus is not None else load_gpus()
    key = name.strip().lower()
    if key in gpus:
        return gpus[key]
    raise BadInput(f"unknown GPU {name!r}; known: {', '.join(sorted(gpus))}.{suggest(key, gpus)}")


def get_model(name: str, models: dict[str, Model] | None = None) -> Model:
    """Model by catalog id/alias, or by path to a Hugging Face config.json."""
    models = models if models is not None else load_models()
    key = name.strip().lower()
    if key in models:
        return models[key]
    p = Path(name)
    if p.suffix == ".json" or p.is_file() or p.is_dir():
        return model_from_config_json(p)
    raise BadInput(f"unknown model {name!r}; known: {', '.join(sorted(set(m.id for m in models.values())))}."
                   f"{suggest(key, models)} (Or give the path to a Hugging Face config.json.)")


def model_from_config_json(path: str | Path) -> Model:
    """A model from a local Hugging Face config.json (or a folder holding one); no network."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    data = read_json(p)
    if not isinstance(data, dict):
        raise BadInput(f"{p}: expected a JSON object")
    if isinstance(data.get("text_config"), dict):  # multimodal wrappers keep the LM inside
        data = {**data, **data["text_config"]}
    known = {k: v for k, v in data.items() if k in HFConfig.model_fields}
    cfg = validate(HFConfig, known, str(p))
    try:
        arch = architecture_from_config(cfg.model_dump(exclude_none=True))
    except ConfigError as e:
        raise BadInput(f"{p}: {e}") from None
    dtype = str(data.get("torch_dtype") or data.get("dtype") or "bfloat16")
    quant = data.get("quantization_config") or {}
    weight: Precision = "fp8" if "fp8" in str(quant).lower() else ("fp16" if dtype == "float16" else "bf16")
    return Model(id=p.parent.name or p.stem, name=str(p), weight_dtype=weight,
                 source=f"local config {p}", arch=arch)
