"""A model named by its Hugging Face id (`Qwen/Qwen2.5-72B-Instruct`) found in the local Hugging Face
cache, never on the network: `models--ORG--NAME/snapshots/<revision>/config.json` under
`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub` (the hub library's own order).

Also the weight precision a checkpoint declares in `quantization_config` (`weight_precision`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from planner.errors import BadInput

HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def looks_like_hf_id(name: str) -> bool:
    """'ORG/NAME' with no other slash and no .json suffix."""
    return bool(HF_ID.fullmatch(name.strip())) and not name.strip().endswith(".json")


def cache_dirs() -> list[Path]:
    """Where the hub library keeps downloads, in its order of precedence (duplicates removed)."""
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return list(dict.fromkeys(p.expanduser() for p in out))


def cached_config(hf_id: str) -> Path:
    """The cached config.json of `hf_id` (the revision refs/main names, else the newest snapshot);
    BadInput naming every path looked at and how to give a config.json instead."""
    org, name = hf_id.strip().split("/")
    looked = []
    for root in cache_dirs():
        repo = root / f"models--{org}--{name}"
        looked.append(str(repo / "snapshots" / "*" / "config.json"))
        ref = repo / "refs" / "main"
        try:   # a ref that is no revision (corrupt bytes, unreadable) leaves the newest snapshot below
            revision = ref.read_text(encoding="utf-8").strip() if ref.is_file() else ""
        except (OSError, UnicodeDecodeError):
            revision = ""
        if revision and "/" not in revision and revision not in (".", ".."):
            p = repo / "snapshots" / revision / "config.json"
            if p.is_file():
                return p
        found = sorted(repo.glob("snapshots/*/config.json"), key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
    raise BadInput(f"unknown model {hf_id!r}: not a catalog id or alias (plan catalog models), and no "
                   f"config.json in the local Hugging Face cache (looked at {'; '.join(looked)}; "
                   f"planner never downloads). Fetch it with `huggingface-cli download {hf_id} config.json` "
                   f"and use the same id, or give its path: model: path/to/config.json")


def attention_not_quantized(config: dict[str, Any]) -> bool:
    """True when `quantization_config` leaves the attention layers out (`modules_to_not_convert`
    of transformers' MXFP4/bitsandbytes configs, `exclude_modules` of NVIDIA ModelOpt, `ignore` of
    compressed-tensors): then only the MLP/experts are stored at the quantized precision."""
    return "attention" in parts_not_quantized(config)


def parts_not_quantized(config: dict[str, Any]) -> set[str]:
    """The dense parts (attention, dense_mlp, shared_experts) that `quantization_config`'s list of
    modules left out (`modules_to_not_convert`, `exclude_modules` or `ignore`, as above) names:
    'attn'/'attention'; 'shared_expert'; an MLP that is neither an expert, its router nor a shared
    expert ('model.layers.0.mlp', '...mlp.down_proj'). Nothing else is guessed: a part the list
    does not name is stored at the declared precision."""
    q = config.get("quantization_config")
    excluded = (q.get("modules_to_not_convert") or q.get("exclude_modules") or q.get("ignore") or []) \
        if isinstance(q, dict) else []
    if isinstance(excluded, str):   # one module written without its list
        excluded = [excluded]
    if not isinstance(excluded, list):
        return set()
    out = set()
    for m in (str(x).lower() for x in excluded):
        if "attn" in m or "attention" in m:
            out.add("attention")
        elif "shared_expert" in m:
            out.add("shared_experts")
        elif re.search(r"mlp(\.(gate_proj|up_proj|down_proj|gate_up_proj))?\*?$", m) and "expert" not in m:
            out.add("dense_mlp")
    return out


INT4_NOTE = ("int4 weights ({method}) modelled as 4-bit weights: fp4 bytes, and FP4 compute where the card has it "
             "(int4 kernels run W4A16, so Blackwell compute is optimistic)")


def weight_precision(config: dict[str, Any]) -> tuple[str | None, str]:
    """(precision, note) of the weights `quantization_config` declares; (None, '') when it declares
    none. fp8 → fp8; mxfp4/nvfp4 → fp4; 4-bit integer (AWQ, GPTQ, bitsandbytes) → fp4 with a note,
    as the same 4 bits per weight; 8-bit integer → int8."""
    q = config.get("quantization_config")
    if q is None or q == {}:
        return None, ""
    if not isinstance(q, dict):
        return None, (f"quantization_config {str(q)[:40]!r} is not an object, not recognised; weights taken at "
                      f"the checkpoint dtype")
    # the weights' declaration only: a KV-cache setting (ModelOpt's kv_cache_quant_algo FP8 beside
    # INT4_AWQ weights) made a 4-bit checkpoint FP8
    text = str({k: v for k, v in q.items() if "kv" not in str(k).lower()}).lower()
    method = str(q.get("quant_method", "")).lower()
    bits = q.get("bits", q.get("w_bit", q.get("weight_bits")))
    algo = str(q.get("quant_algo", "")).lower()   # ModelOpt: FP8, NVFP4, INT4_AWQ, W4A8_AWQ, INT8_SQ
    if bits is None and re.match(r"(int4|w4a)", algo):
        bits = 4
    elif bits is None and algo.startswith(("int8", "w8a")):
        bits = 8
    if method == "compressed-tensors":
        return _compressed_tensors(q)
    if "fp4" in method or "nvfp4" in text or "mxfp4" in text:
        return "fp4", ""
    if "fp8" in text or "float8" in text or "e4m3" in text:
        return "fp8", ""
    if bits == 4 or q.get("load_in_4bit"):
        return "fp4", INT4_NOTE.format(method=method or "quantized")
    if bits == 8 or q.get("load_in_8bit"):
        return "int8", ""
    return None, f"quantization_config {method or '?'} not recognised; weights taken at the checkpoint dtype"


def _compressed_tensors(q: dict[str, Any]) -> tuple[str | None, str]:
    """(precision, note) of a compressed-tensors `quantization_config`: its `config_groups`' weights
    (`num_bits`, `type` float or int) of the groups, or its `format` (`float-quantized` FP8,
    `nvfp4-pack-quantized` FP4); several groups of different widths take the widest. Its FP8, W4A16 and
    W8A8 checkpoints read as BF16 with a note."""
    groups = q.get("config_groups")
    widths = set()
    for g in (groups.values() if isinstance(groups, dict) else []):
        w = g.get("weights") if isinstance(g, dict) else None
        if isinstance(w, dict) and isinstance(w.get("num_bits"), int) and not isinstance(w.get("num_bits"), bool):
            widths.add((w["num_bits"], str(w.get("type", "int")).lower()))
    fmt = str(q.get("format", "")).lower()
    if not widths:
        if "nvfp4" in fmt or "mxfp4" in fmt:
            return "fp4", ""
        if fmt == "float-quantized":
            return "fp8", ""
        return None, (f"compressed-tensors format {fmt or '?'} without weight widths; weights taken at the "
                      f"checkpoint dtype")
    bits, kind = max(widths)
    if bits == 8:
        return ("fp8", "") if kind == "float" else ("int8", "")
    if bits == 4:
        return "fp4", ("" if kind == "float" else INT4_NOTE.format(method="compressed-tensors"))
    return None, f"compressed-tensors {bits}-bit {kind} weights not modelled; weights taken at the checkpoint dtype"
