"""The silicon measurement CSV (one row per measured configuration and concurrency) → Points.

Rows that cannot be interpreted are dropped with a counted reason, never guessed.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from pathlib import Path

from planner.catalog.schemas import GPU, Model, load_gpus, load_models
from planner.errors import BadInput, shown_text
from planner.fidelity.points import RUN_DOMAIN, Point
from planner.input.files import csv_errors, read_text
from planner.physics.perf import Parallelism

MS = 1e-3                      # the CSV's TTFT/TPOT are in milliseconds
def kv_dtype_of(weight_dtype: str) -> str:
    """The CSV does not record the KV-cache precision. Quantised (FP8/FP4) checkpoints of the
    measured models ship FP8 KV-cache scales, which the engines use by default; BF16 ones keep
    BF16 KV (the engines' 'auto')."""
    return "fp8" if weight_dtype in ("fp8", "fp4") else "bf16"

# CSV `system` → (catalog GPU id, cards per scale-up domain of that system)
SYSTEMS: dict[str, str] = {"h100_sxm": "h100", "b200_sxm": "b200", "b300_sxm": "b300",
                           "gb200": "gb200", "gb300": "gb300"}
# CSV quantisation mode → catalog precision (weight bytes); int4 weight-only is not modelled
QUANT: dict[str, str] = {"": "bf16", "bf16": "bf16", "fp8": "fp8", "fp8_block": "fp8",
                         "nvfp4": "fp4"}
# Hugging Face ids in the CSV whose catalog id is not the lower-cased repo name
MODEL_IDS: dict[str, str] = {"nvidia/deepseek-r1-nvfp4": "deepseek-r1",
                             "nvidia/qwen3-32b-nvfp4": "qwen3-32b"}


def _int(v: str) -> int:
    """CSV count: empty or 0 means 1 (catalogs/measurements/README.md: 'empty or 0 counts as 1')."""
    v = (v or "").strip()
    return int(float(v)) if v and float(v) > 0 else 1


def _concurrency(source: str) -> int | None:
    """The load generator's in-flight requests, from 'silicon_concurrency=N' in the provenance."""
    m = re.search(r"silicon_concurrency=(\d+)", source or "")
    return int(m.group(1)) if m else None


def catalog_model_id(hf_id: str, models: dict[str, Model]) -> str | None:
    """Catalog id for a CSV model path: explicit map, else the lower-cased path as an alias
    (`meta-llama/meta-llama-3.1-70b-instruct`), else its repo name as an id or alias."""
    key = hf_id.strip().lower()
    if key in MODEL_IDS:
        return MODEL_IDS[key]
    if key in models:   # an alias with its organisation: the repo name alone is none
        return models[key].id
    name = key.split("/")[-1]
    return models[name].id if name in models else None


def _bad_number(r: dict) -> str | None:
    """The first numeric cell (lengths, sizes, worker counts, times) that is not a finite number ≥ 0
    (times: > 0), as a drop reason naming the column; None when all are. Empty cells are the other
    checks' business."""
    for col, v in r.items():
        if not v or not (col in ("isl", "osl") or col.endswith(("_size", "_workers", "_ms"))):
            continue
        try:
            if not v.isascii() or "_" in v:   # float() reads '٣٢' and '3_2' as 32, which no CSV writer means
                raise ValueError(v)
            x = float(v)
        except ValueError:
            return f"{col} is not a number"
        if not math.isfinite(x) or x < 0 or (col.endswith("_ms") and x == 0):
            return f"{col} is not a finite {'positive' if col.endswith('_ms') else 'non-negative'} number"
        if col.endswith(("_size", "_workers")) and x != int(x):   # tp_size 1.5 was read as TP1
            return f"{col} is not a whole number"
        if col in ("isl", "osl") and x < 1:   # osl 0 divided by zero in the benchmark formula (exit 5)
            return f"{col} is below 1 token"
        lo, hi = DOMAIN_MS.get(col, (0.0, math.inf))
        if not lo <= x <= hi:   # a TPOT of 1e300 ms was fitted to (a 300-digit error)
            return f"{col} {x:g} is outside [{lo:g}, {hi:g}] ms: not a measured run (a unit mistake?)"
    return None


# a measured TTFT or TPOT in ms: the bounds of every measurement reader (points.RUN_DOMAIN)
DOMAIN_MS = {f"silicon_{q}_ms": (RUN_DOMAIN[f"{q}_s"][1] * 1000.0, RUN_DOMAIN[f"{q}_s"][2] * 1000.0)
             for q in ("ttft", "tpot")}


def _row_problem(r: dict, models: dict[str, Model], gpus: dict[str, GPU]) -> str | None:
    """The reason a CSV row cannot be interpreted, or None when it can."""
    if catalog_model_id(r["model_path"], models) is None:
        return f"model not in catalog ({shown_text(r['model_path'])})"
    gid = SYSTEMS.get(r["system"])
    if gid is None or gid not in gpus:
        return f"GPU system not in catalog ({r['system']})"
    moe = models[catalog_model_id(r["model_path"], models)].arch.is_moe
    quant = r["moe_quant_mode"] if moe else r["gemm_quant_mode"]
    if quant not in QUANT:
        return f"weight precision not modelled ({quant})"
    bad = _bad_number(r)
    if bad:
        return bad
    if not r["silicon_tpot_ms"] or float(r["silicon_tpot_ms"]) <= 0:
        return "no TPOT"
    if _concurrency(r["silicon_data_source"]) is None:
        return "no concurrency recorded"
    if not _concurrency(r["silicon_data_source"]):   # 0 divided by zero (exit 5)
        return "concurrency 0 recorded"
    if r["mode"] == "agg" and not float(r["batch_size"] or 0):
        return "agg without batch size"
    if r["mode"] == "agg" and not _one_instance(r):
        return "agg concurrency is not batch size x attention-DP size (requests per instance unknown)"
    if r["mode"] == "disagg" and not (r["decode_batch_size"] or r["decode_num_workers"]):
        return "disagg without decode batch or worker count (batch per worker unknown)"
    if r["mode"] not in ("agg", "disagg"):
        return f"unknown mode {r['mode']!r}"
    return None


def _one_instance(r: dict) -> bool:
    """Whether an agg row's concurrency is that of one instance: the file records the decode batch
    per attention-DP rank, and everywhere else its concurrency is batch_size × attention_dp_size.
    A few rows (batch_size = concurrency/2 … /32 with no attention DP recorded) spread their
    concurrency over replicas or ranks the file does not name, so neither their batch nor the
    queue in front of their prompts can be read."""
    dp = _int(r["attention_dp_size"])
    return math.isclose(float(_concurrency(r["silicon_data_source"])), float(r["batch_size"]) * dp)


def _par(r: dict, prefix: str = "") -> Parallelism:
    """Parallelism of a CSV worker: tp, pp, attention-dp (empty or 0 counts as 1), and the MoE
    split moe_tp × moe_ep when the row records one that covers the stage's tp·dp cards (else the
    experts are taken as spread over them: moe_tp = 1)."""
    tp, pp, dp = _int(r[prefix + "tp_size"]), _int(r[prefix + "pp_size"]), _int(r[prefix + "attention_dp_size"])
    moe_tp, moe_ep = _int(r.get(prefix + "moe_tp_size", "")), _int(r.get(prefix + "moe_ep_size", ""))
    return Parallelism(tp, pp, dp, moe_tp if moe_tp * moe_ep == tp * dp else 1)


def _fits_system(par: Parallelism, gpu: GPU) -> bool:
    """A worker's tensor-parallel group must stay inside one scale-up domain, and its stage
    cards (tp·dp, the EP group) must too for the single-instance rows of this file."""
    return par.tp <= gpu.domain_cards and par.stage_cards <= gpu.domain_cards


def _silicon_point(r: dict, path: Path, models: dict[str, Model], gpus: dict[str, GPU]) -> Point:
    """One interpretable CSV row → Point (see module docstring for the operating point)."""
    mid = catalog_model_id(r["model_path"], models)
    model = models[mid]
    quant = r["moe_quant_mode"] if model.arch.is_moe else r["gemm_quant_mode"]
    c = float(_concurrency(r["silicon_data_source"]))
    isl, osl = float(r["isl"]), float(r["osl"])
    ttft = float(r["silicon_ttft_ms"]) * MS if r["silicon_ttft_ms"] else None
    tpot = float(r["silicon_tpot_ms"]) * MS
    if r["mode"] == "agg":
        par, ppar = _par(r), None
        batch = float(r["batch_size"]) * par.dp
        conc = c
    else:
        par, ppar = _par(r, "decode_"), _par(r, "prefill_")
        workers = _int(r["decode_num_workers"])
        batch = float(r["decode_batch_size"]) * par.dp if r["decode_batch_size"] else c / workers
        conc = batch
    measured = {"decode_tok_s_per_gpu": batch / (tpot * par.cards)}
    if ttft is not None:
        measured["ttft_s"] = ttft
    group = "|".join([mid, SYSTEMS[r["system"]], r["backend"], QUANT[quant], r["mode"],
                      par.label(), ppar.label() if ppar else ""])
    return Point(id=r["id"], origin=str(path), source=r["silicon_data_source"], kind="measured",
                 model=mid, gpu=SYSTEMS[r["system"]], engine=r["backend"],
                 engine_version=r["backend_version"] or "unknown", weight_dtype=QUANT[quant],
                 kv_dtype=kv_dtype_of(QUANT[quant]), mode=r["mode"], par=par, isl=isl, osl=osl,
                 concurrency=conc, batch=batch, prefill_par=ppar, ttft_s=ttft, tpot_s=tpot,
                 measured=measured, group=group, clients=c,
                 prefill_workers=_int(r["prefill_num_workers"]) if ppar else 1)


_CONFIG_COLUMNS = ("model_path", "system", "backend", "backend_version", "precision", "mode",
                   "isl", "osl", "gemm_quant_mode", "moe_quant_mode", "batch_size", "tp_size",
                   "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size",
                   "prefill_tp_size", "prefill_attention_dp_size", "decode_tp_size",
                   "decode_attention_dp_size", "decode_batch_size", "decode_num_workers")


# Two rows are one measurement when their TTFT and TPOT agree within this (ms): the file repeats
# runs from several exports, some rounded to two decimals (qwen3.5-397b-gap-analysis.csv:
# 6.33 for 6.33271 ms), others re-printed (6.332710000001); distinct runs never agree this closely
# on both.
SAME_RESULT_MS = 0.01


def _ms(cell: str) -> float:
    """A latency cell in ms (an empty TTFT cell reads as NaN and matches nothing)."""
    return float(cell) if cell else math.nan


def _seen_result(seen: dict[tuple, list[tuple[float, float]]], key: tuple, ttft_ms: float,
                 tpot_ms: float) -> bool:
    """Whether (TTFT, TPOT) repeats, within SAME_RESULT_MS, a result already kept for `key`
    (architecture, system, lengths); if not, it is recorded."""
    for t, p in seen.get(key, ()):
        if abs(t - ttft_ms) <= SAME_RESULT_MS and abs(p - tpot_ms) <= SAME_RESULT_MS:
            return True
    seen.setdefault(key, []).append((ttft_ms, tpot_ms))
    return False


def load_silicon_csv(path: Path, text: str | None = None) -> tuple[list[Point], int, Counter]:
    """Rows of the silicon CSV → Points; exact duplicates, rows whose (TTFT, TPOT) repeat another
    row's within SAME_RESULT_MS (under another label: parallelism, or model name of the same
    architecture; or a rounded or re-printed copy), rows whose worker exceeds the system, and
    uninterpretable rows are dropped and counted. `text`: the file's, when already read."""
    # a regular UTF-8 file of bounded size; a ragged row (too few or too many cells) is dropped
    rows, ragged = [], 0
    text = text if text is not None else read_text(Path(path), "CSV")
    with csv_errors(path):
        for r in csv.DictReader(io.StringIO(text, newline=""), restval=None, strict=True):
            if None in r or None in r.values():
                ragged += 1
            else:
                rows.append(r)
    need = {"id", "model_path", "system", "mode", "silicon_tpot_ms", "silicon_data_source", *_CONFIG_COLUMNS}
    if rows and (missing := need - set(rows[0])):
        raise BadInput(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    models, gpus = load_models(), load_gpus()
    why: Counter = Counter({"ragged row (a cell too few or too many)": ragged} if ragged else {})
    points: list[Point] = []
    seen_config: set[tuple] = set()
    seen_result: dict[tuple, list[tuple[float, float]]] = {}
    for r in rows:
        cfg = tuple(r[k] for k in _CONFIG_COLUMNS) + (_concurrency(r["silicon_data_source"]),
                                                       r["silicon_ttft_ms"], r["silicon_tpot_ms"])
        if cfg in seen_config:
            why["exact duplicate"] += 1
            continue
        seen_config.add(cfg)
        problem = _row_problem(r, models, gpus)
        if problem:
            why[problem] += 1
            continue
        pt = _silicon_point(r, path, models, gpus)
        g = gpus[pt.gpu]
        if not _fits_system(pt.par, g) or (pt.prefill_par and not _fits_system(pt.prefill_par, g)):
            why["worker exceeds the system's scale-up domain"] += 1
            continue
        # R1 and V3 share one architecture: the same result under either name is one measurement
        if _seen_result(seen_result, (models[pt.model].arch, r["system"], r["isl"], r["osl"]),
                        _ms(r["silicon_ttft_ms"]), _ms(r["silicon_tpot_ms"])):
            why["same TTFT and TPOT as another row (relabelled, rounded or re-printed copy)"] += 1
            continue
        points.append(pt)
    return points, len(rows) + ragged, why
