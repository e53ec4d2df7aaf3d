"""Measured serving points: load the shared CSV and public.yaml into one frozen type, and map
each point to a Deployment and an operating point the analytic model can predict.

Glossary: `c` concurrency (requests in flight on one instance), `b` decode batch of one
instance (sequences, summed over its attention-DP ranks), `isl`/`osl` input/output tokens,
`TPOT`/`TTFT` in seconds. Quantities compared with the model (`Quantity`):
- `decode_tok_s_per_gpu` = b / (TPOT · cards): an instance's output rate while decoding;
- `prefill_tok_s_per_gpu` = prompts·isl / (TTFT · cards) (cached tokens counted), only where queueing is negligible
  (c ≤ TTFT_MAX_CONCURRENCY), or the point's own published prefill rate.
Log errors of these equal those of TPOT and TTFT, so fitting one fits the other.

Agg (colocated, chunked prefill) TPOT: mixed_step(dep, b, isl + osl/2, b·isl/osl, isl), since in
steady state each sequence needs isl prefill tokens per osl decode steps. Agg TTFT: the prompt
in one mixed step beside the c−1 running decodes. Disagg TPOT: decode_step of the decode worker
at its batch; disagg TTFT: prefill_pass of one prompt on the prefill worker plus the KV transfer.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import Field

from planner.catalog.schemas import GPU, Calibration, Model, Strict, load_gpus, load_models
from planner.errors import BadInput
from planner.input.files import read_yaml, validate
from planner.physics.perf import (
    Deployment,
    Parallelism,
    decode_step,
    kv_transfer_time,
    mixed_step,
    prefill_pass,
    request_overhead_s,
)

Quantity = Literal["decode_tok_s_per_gpu", "prefill_tok_s_per_gpu"]
QUANTITIES: tuple[Quantity, ...] = ("decode_tok_s_per_gpu", "prefill_tok_s_per_gpu")
Mode = Literal["agg", "disagg", "decode", "prefill"]

TTFT_MAX_CONCURRENCY = 4      # TTFT is compared only at c ≤ this: queueing behind other prompts negligible
MS = 1e-3                      # the CSV's TTFT/TPOT are in milliseconds
DEFAULT_KV_DTYPE = "bf16"      # the CSV does not record the KV-cache precision; engines default to BF16

# CSV `system` → (catalog GPU id, cards per scale-up domain of that system)
SYSTEMS: dict[str, str] = {"h100_sxm": "h100", "b200_sxm": "b200", "b300_sxm": "b300",
                           "gb200": "gb200", "gb300": "gb300"}
# CSV quantisation mode → catalog precision (weight bytes); int4 weight-only is not modelled
QUANT: dict[str, str] = {"": "bf16", "bf16": "bf16", "fp8": "fp8", "fp8_block": "fp8",
                         "nvfp4": "fp4"}
# Hugging Face ids in the CSV whose catalog id is not the lower-cased repo name
MODEL_IDS: dict[str, str] = {"nvidia/deepseek-r1-nvfp4": "deepseek-r1",
                             "nvidia/qwen3-32b-nvfp4": "qwen3-32b"}


@dataclass(frozen=True)
class Point:
    """One measured operating point of one instance, in SI units, with where it came from."""

    id: str
    origin: str                     # file it was read from
    source: str                     # URL / paper+table / CSV provenance
    kind: Literal["measured", "vendor_claim"]
    model: str                      # catalog model id
    gpu: str                        # catalog GPU id
    engine: str
    engine_version: str
    weight_dtype: str
    kv_dtype: str
    mode: Mode
    par: Parallelism                # agg worker, decode worker, or prefill worker (mode prefill)
    isl: float
    osl: float
    concurrency: float              # requests in flight on this instance
    batch: float                    # decode sequences on this instance (over all its dp ranks)
    prefill_par: Parallelism | None = None
    prefill_prompts: float = 1.0    # prompts in one prefill pass (mode prefill)
    cached_fraction: float = 0.0    # prefix-cache hit fraction of the input
    tokens_per_step: float = 1.0    # accepted tokens per decode step (MTP)
    ttft_s: float | None = None
    tpot_s: float | None = None
    measured: dict[str, float] = field(default_factory=dict)  # Quantity → value
    group: str = ""                 # configuration key: points of one configuration share a CV fold

    @property
    def cards(self) -> int:
        return self.par.cards

    @property
    def context_tokens(self) -> float:
        """Mean decode context: isl + osl/2."""
        return self.isl + self.osl / 2.0


@dataclass(frozen=True)
class LoadReport:
    """How many rows were read, kept, and dropped for which reason."""

    read: int
    kept: int
    dropped: dict[str, int]

    def lines(self) -> list[str]:
        """Human-readable summary, one reason per line."""
        out = [f"read {self.read} rows, kept {self.kept} points, dropped {self.read - self.kept}"]
        out += [f"  dropped {n:5d}: {why}" for why, n in sorted(self.dropped.items(), key=lambda x: -x[1])]
        return out


# ------------------------------------------------------------------------------- predicting
def deployment(p: Point, calib: Calibration, models: dict[str, Model] | None = None,
               gpus: dict[str, GPU] | None = None, par: Parallelism | None = None) -> Deployment:
    """The Deployment of point `p` (its decode/agg worker unless `par` is given)."""
    models = models if models is not None else load_models()
    gpus = gpus if gpus is not None else load_gpus()
    return Deployment(models[p.model], gpus[p.gpu], par or p.par, calib, p.weight_dtype, p.kv_dtype)


def predict_tpot(p: Point, dep: Deployment) -> float:
    """TPOT: mixed step (agg, chunk b·isl/osl) or decode step (disagg/decode) / tokens per step."""
    if p.mode == "agg":
        chunk = p.batch * p.isl * (1.0 - p.cached_fraction) / p.osl
        t = mixed_step(dep, p.batch, p.context_tokens, chunk, p.isl).time_s
    else:
        t = decode_step(dep, p.batch, p.context_tokens).time_s
    return t / p.tokens_per_step


def predict_ttft(p: Point, dep: Deployment, prefill_dep: Deployment | None = None) -> float:
    """TTFT without queueing: agg, the prompt in one mixed step beside c−1 decodes; disagg,
    prefill_pass of one prompt + KV transfer; prefill mode, one pass of `prefill_prompts`."""
    uncached = p.isl * (1.0 - p.cached_fraction)
    cached = p.isl - uncached
    if p.mode == "agg":
        return (mixed_step(dep, max(p.concurrency - 1.0, 0.0), p.context_tokens, uncached, p.isl).time_s
                + request_overhead_s(dep))
    if p.mode == "prefill":   # a throughput point: passes back to back, no per-request latency
        return prefill_pass(dep, p.prefill_prompts, uncached, cached).time_s
    pd = prefill_dep if prefill_dep is not None else dep
    return (prefill_pass(pd, 1.0, uncached, cached).time_s + kv_transfer_time(pd, p.isl)
            + request_overhead_s(pd))


def predict(p: Point, q: Quantity, calib: Calibration, models: dict[str, Model] | None = None,
            gpus: dict[str, GPU] | None = None) -> float:
    """Predicted value of quantity `q` at point `p` under calibration `calib` (see module doc)."""
    dep = deployment(p, calib, models, gpus)
    if q == "decode_tok_s_per_gpu":
        return p.batch / (predict_tpot(p, dep) * p.cards)
    if p.mode == "disagg" and p.prefill_par is not None:
        pd = deployment(p, calib, models, gpus, p.prefill_par)
        return p.isl / (predict_ttft(p, dep, pd) * pd.cards)
    prompts = p.prefill_prompts if p.mode == "prefill" else 1.0
    return prompts * p.isl / (predict_ttft(p, dep) * p.cards)


def observations(points: list[Point]) -> list[tuple[int, Quantity, float]]:
    """(point index, quantity, measured value) for every quantity a point measures."""
    return [(i, q, p.measured[q]) for i, p in enumerate(points) for q in QUANTITIES if q in p.measured]


# ---------------------------------------------------------------------------------- loading
def load_points(paths: list[str | Path]) -> tuple[list[Point], LoadReport]:
    """Points from CSV (silicon format) and YAML (public format) files, with one drop report."""
    if not paths:
        raise BadInput("no measurement files given")
    points: list[Point] = []
    read, dropped = 0, Counter()
    for path in paths:
        p = Path(path)
        if p.suffix == ".csv":
            pts, n, why = load_silicon_csv(p)
        elif p.suffix in (".yaml", ".yml"):
            pts, n, why = load_public_yaml(p)
        else:
            raise BadInput(f"{p}: measurement files must be .csv (silicon format) or .yaml (public format)")
        points += pts
        read += n
        dropped.update(why)
    return points, LoadReport(read, len(points), dict(dropped))


def default_measurement_files() -> list[Path]:
    """catalogs/measurements/*.csv and *.yaml."""
    from planner.catalog.schemas import CATALOG_DIR
    d = CATALOG_DIR / "measurements"
    return sorted([*d.glob("*.csv"), *d.glob("*.yaml")])


def _int(v: str) -> int:
    """CSV count: empty or 0 means 1 (README: 'empty or 0 counts as 1')."""
    v = (v or "").strip()
    return int(float(v)) if v and float(v) > 0 else 1


def _concurrency(source: str) -> int | None:
    """The load generator's in-flight requests, from 'silicon_concurrency=N' in the provenance."""
    m = re.search(r"silicon_concurrency=(\d+)", source or "")
    return int(m.group(1)) if m else None


def _model_id(hf_id: str, models: dict[str, Model]) -> str | None:
    """Catalog id for a CSV model path: explicit map, else the lower-cased repo name or alias."""
    key = hf_id.strip().lower()
    if key in MODEL_IDS:
        return MODEL_IDS[key]
    name = key.split("/")[-1]
    return models[name].id if name in models else None


def _row_problem(r: dict, models: dict[str, Model], gpus: dict[str, GPU]) -> str | None:
    """The reason a CSV row cannot be interpreted, or None when it can."""
    if _model_id(r["model_path"], models) is None:
        return f"model not in catalog ({r['model_path']})"
    gid = SYSTEMS.get(r["system"])
    if gid is None or gid not in gpus:
        return f"GPU system not in catalog ({r['system']})"
    quant = r["moe_quant_mode"] if models[_model_id(r["model_path"], models)].arch.is_moe else r["gemm_quant_mode"]
    if quant not in QUANT:
        return f"weight precision not modelled ({quant})"
    if not r["silicon_tpot_ms"] or float(r["silicon_tpot_ms"]) <= 0:
        return "no TPOT"
    if _concurrency(r["silicon_data_source"]) is None:
        return "no concurrency recorded"
    if r["mode"] == "agg" and not r["batch_size"]:
        return "agg without batch size"
    if r["mode"] == "disagg" and not (r["decode_batch_size"] or r["decode_num_workers"]):
        return "disagg without decode batch or worker count (batch per worker unknown)"
    if r["mode"] not in ("agg", "disagg"):
        return f"unknown mode {r['mode']!r}"
    return None


def _par(r: dict, prefix: str = "") -> Parallelism:
    """Parallelism of a CSV worker: tp, pp, attention-dp (empty or 0 counts as 1)."""
    return Parallelism(_int(r[prefix + "tp_size"]), _int(r[prefix + "pp_size"]),
                       _int(r[prefix + "attention_dp_size"]))


def _fits_system(par: Parallelism, gpu: GPU) -> bool:
    """A worker's tensor-parallel group must stay inside one scale-up domain, and its stage
    cards (tp·dp, the EP group) must too for the single-instance rows of this file."""
    return par.tp <= gpu.domain_cards and par.stage_cards <= gpu.domain_cards


def _silicon_point(r: dict, path: Path, models: dict[str, Model], gpus: dict[str, GPU]) -> Point:
    """One interpretable CSV row → Point (see module docstring for the operating point)."""
    mid = _model_id(r["model_path"], models)
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
    if ttft is not None and c <= TTFT_MAX_CONCURRENCY:
        cards = ppar.cards if ppar is not None else par.cards
        measured["prefill_tok_s_per_gpu"] = isl / (ttft * cards)
    group = "|".join([mid, SYSTEMS[r["system"]], r["backend"], QUANT[quant], r["mode"],
                      par.label(), ppar.label() if ppar else ""])
    return Point(id=r["id"], origin=str(path), source=r["silicon_data_source"], kind="measured",
                 model=mid, gpu=SYSTEMS[r["system"]], engine=r["backend"],
                 engine_version=r["backend_version"] or "unknown", weight_dtype=QUANT[quant],
                 kv_dtype=DEFAULT_KV_DTYPE, mode=r["mode"], par=par, isl=isl, osl=osl,
                 concurrency=conc, batch=batch, prefill_par=ppar, ttft_s=ttft, tpot_s=tpot,
                 measured=measured, group=group)


_CONFIG_COLUMNS = ("model_path", "system", "backend", "backend_version", "precision", "mode",
                   "isl", "osl", "gemm_quant_mode", "moe_quant_mode", "batch_size", "tp_size",
                   "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size",
                   "prefill_tp_size", "prefill_attention_dp_size", "decode_tp_size",
                   "decode_attention_dp_size", "decode_batch_size", "decode_num_workers")


def load_silicon_csv(path: Path) -> tuple[list[Point], int, Counter]:
    """Rows of the silicon CSV → Points; exact duplicates, rows whose (TTFT, TPOT) repeat another
    row's under a different label (parallelism, or model name of the same architecture), rows whose
    worker exceeds the system, and uninterpretable rows are dropped and counted."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e})") from None
    need = {"id", "model_path", "system", "mode", "silicon_tpot_ms", "silicon_data_source", *_CONFIG_COLUMNS}
    if rows and (missing := need - set(rows[0])):
        raise BadInput(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    models, gpus = load_models(), load_gpus()
    why: Counter = Counter()
    points: list[Point] = []
    seen_config: set[tuple] = set()
    seen_result: set[tuple] = set()
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
        result = (models[pt.model].arch, r["system"], r["isl"], r["osl"], r["silicon_ttft_ms"],
                  r["silicon_tpot_ms"])
        if result in seen_result:
            why["same TTFT and TPOT as another row under a different label"] += 1
            continue
        seen_result.add(result)
        points.append(pt)
    return points, len(rows), why


# ------------------------------------------------------------------------------ public.yaml
class _Par(Strict):
    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)


class _Measured(Strict):
    decode_tok_s_per_gpu: float | None = Field(None, gt=0)
    prefill_tok_s_per_gpu: float | None = Field(None, gt=0)
    tpot_s: float | None = Field(None, gt=0)
    ttft_s: float | None = Field(None, gt=0)
    tok_s_per_user: float | None = Field(None, gt=0)
    tok_s_per_instance: float | None = Field(None, gt=0)


class PublicPoint(Strict):
    """One published point (catalogs/measurements/public.yaml)."""

    id: str
    model: str
    weight_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    kv_dtype: Literal["bf16", "fp16", "fp8"] = "bf16"
    gpu: str
    cards: int = Field(ge=1)
    parallelism: _Par
    role: Literal["agg", "decode", "prefill"]
    engine: str
    isl: float | None = Field(None, gt=0)
    osl: float | None = Field(None, gt=0)
    concurrency: float | None = Field(None, gt=0)
    batch: float | None = Field(None, gt=0)
    prefill_prompts: float = Field(1.0, gt=0)
    cached_fraction: float = Field(0.0, ge=0, lt=1)
    tokens_per_step: float = Field(1.0, ge=1)
    measured: _Measured
    source: str = Field(min_length=5)
    kind: Literal["measured", "vendor_claim"]
    note: str | None = None


class PublicFile(Strict):
    points: list[PublicPoint]


def _public_point(pp: PublicPoint, path: Path, models: dict[str, Model], gpus: dict[str, GPU],
                  i: int) -> Point | str:
    """A PublicPoint → Point, or the reason it cannot be compared with the model."""
    where = f"{path}: points[{i}] ({pp.id})"
    if pp.model not in models:
        raise BadInput(f"{where}.model: unknown model {pp.model!r}")
    if pp.gpu not in gpus:
        raise BadInput(f"{where}.gpu: unknown GPU {pp.gpu!r}")
    par = Parallelism(pp.parallelism.tp, pp.parallelism.pp, pp.parallelism.dp)
    if par.cards != pp.cards:
        raise BadInput(f"{where}.cards: {pp.cards} but parallelism gives tp·pp·dp = {par.cards}")
    if pp.isl is None or pp.osl is None or (pp.batch is None and pp.concurrency is None):
        return "public point without a full operating point (isl, osl, batch or concurrency)"
    batch = pp.batch if pp.batch is not None else pp.concurrency
    m = pp.measured
    measured: dict[str, float] = {}
    if pp.role != "prefill":
        tpot = m.tpot_s or (1.0 / m.tok_s_per_user if m.tok_s_per_user else None)
        if m.decode_tok_s_per_gpu:
            measured["decode_tok_s_per_gpu"] = m.decode_tok_s_per_gpu
        elif tpot:
            measured["decode_tok_s_per_gpu"] = batch / (tpot * par.cards)
    if m.prefill_tok_s_per_gpu:
        measured["prefill_tok_s_per_gpu"] = m.prefill_tok_s_per_gpu
    if not measured:
        return "public point without a comparable measured figure"
    return Point(id=pp.id, origin=str(path), source=pp.source, kind=pp.kind, model=models[pp.model].id,
                 gpu=pp.gpu, engine=pp.engine, engine_version="", weight_dtype=pp.weight_dtype,
                 kv_dtype=pp.kv_dtype, mode=pp.role, par=par, isl=pp.isl, osl=pp.osl,
                 concurrency=pp.concurrency or batch, batch=batch, prefill_prompts=pp.prefill_prompts,
                 cached_fraction=pp.cached_fraction, tokens_per_step=pp.tokens_per_step,
                 ttft_s=m.ttft_s, tpot_s=m.tpot_s, measured=measured, group=f"public|{pp.id}")


def load_public_yaml(path: Path) -> tuple[list[Point], int, Counter]:
    """public.yaml → Points; entries without an operating point are counted, not guessed."""
    data = validate(PublicFile, read_yaml(path), str(path))
    models, gpus = load_models(), load_gpus()
    why: Counter = Counter()
    points = []
    for i, pp in enumerate(data.points):
        got = _public_point(pp, path, models, gpus, i)
        if isinstance(got, str):
            why[got] += 1
        else:
            points.append(got)
    return points, len(data.points), why


def with_group(p: Point, group: str) -> Point:
    """A copy of `p` in another CV group (tests)."""
    return replace(p, group=group)
