"""catalogs/measurements/public.yaml: published points (vendor claims and production figures),
each with its source → Points."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field

from planner.catalog.calibration import is_profile_data
from planner.catalog.ids import gpu_key, model_key
from planner.catalog.schemas import GPU, Model, Strict, load_gpus, load_models, unknown_gpu
from planner.errors import BadInput, shown_value, suggest
from planner.fidelity.points import RUN_DOMAIN, Point
from planner.input.files import read_yaml, validate
from planner.input.load import other_kind
from planner.input.values import Name
from planner.physics.perf import Parallelism


class _Par(Strict):
    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)


class _Measured(Strict):
    """What a point measured; each within what a serving run can measure (points.RUN_DOMAIN:
    a TPOT of 10^300 s was fitted to, and printed a 300-digit error)."""

    decode_tok_s_per_gpu: float | None = Field(None, ge=1e-3, le=1e7)
    prefill_tok_s_per_gpu: float | None = Field(None, ge=1e-3, le=1e8)
    tpot_s: float | None = Field(None, ge=RUN_DOMAIN["tpot_s"][1], le=RUN_DOMAIN["tpot_s"][2])
    ttft_s: float | None = Field(None, ge=RUN_DOMAIN["ttft_s"][1], le=RUN_DOMAIN["ttft_s"][2])
    tok_s_per_user: float | None = Field(None, ge=1e-3, le=1e5)
    tok_s_per_instance: float | None = Field(None, ge=1e-3, le=1e8)


class PublicPoint(Strict):
    """One published point (catalogs/measurements/public.yaml)."""

    id: Name   # its row in plan validate: `id: ""` was a row without a name (a hunt, 2026-12-07)
    model: str
    weight_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    kv_dtype: Literal["bf16", "fp16", "fp8"] = "bf16"
    gpu: str
    cards: int = Field(ge=1)
    parallelism: _Par
    role: Literal["agg", "decode", "prefill"]
    engine: str
    isl: float | None = Field(None, ge=RUN_DOMAIN["isl"][1], le=RUN_DOMAIN["isl"][2])
    osl: float | None = Field(None, ge=RUN_DOMAIN["osl"][1], le=RUN_DOMAIN["osl"][2])
    concurrency: float | None = Field(None, ge=RUN_DOMAIN["concurrency"][1], le=RUN_DOMAIN["concurrency"][2])
    batch: float | None = Field(None, gt=0, le=1e6)
    prefill_prompts: float = Field(1.0, gt=0, le=1e6)
    cached_fraction: float = Field(0.0, ge=0, lt=1)
    tokens_per_step: float = Field(1.0, ge=1, le=32)   # accepted tokens a decode step (MTP: at most k + 1)
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
    model, gpu = model_key(pp.model), gpu_key(pp.gpu)   # as a problem reads them: H100 is h100
    if model not in models:   # the known ids and the closest, as a problem's model: and --deployment say it
        raise BadInput(f"{where}.model: unknown model {shown_value(pp.model)}; known: "
                       f"{', '.join(sorted({m.id for m in models.values()}))}.{suggest(model, models)}")
    if gpu not in gpus:
        raise BadInput(f"{where}.gpu: {unknown_gpu(pp.gpu, gpus)}")
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
    after = [k for k in ("tpot_s", "tok_s_per_user", "decode_tok_s_per_gpu") if getattr(m, k)]
    if after and pp.role == "prefill":   # read, checked and never compared, as a decode point's TTFT was
        raise BadInput(f"{where}.measured.{after[0]}: a prefill point makes only first tokens; what comes after "
                       f"them is its decode pool's: give it on the agg or decode point")
    if m.ttft_s and pp.role == "decode":   # it was read, checked and never compared
        raise BadInput(f"{where}.measured.ttft_s: a decode point's first token is its prefill pool's; "
                       f"give it on the agg or prefill point")
    if m.ttft_s:
        measured["ttft_s"] = m.ttft_s
    if not measured:
        return "public point without a comparable measured figure"
    return Point(id=pp.id, origin=str(path), source=pp.source, kind=pp.kind, model=models[model].id,
                 gpu=gpu, engine=pp.engine, engine_version="", weight_dtype=pp.weight_dtype,
                 kv_dtype=pp.kv_dtype, mode=pp.role, par=par, isl=pp.isl, osl=pp.osl,
                 concurrency=pp.concurrency or batch, batch=batch, prefill_prompts=pp.prefill_prompts,
                 cached_fraction=pp.cached_fraction, tokens_per_step=pp.tokens_per_step,
                 ttft_s=m.ttft_s, tpot_s=m.tpot_s, measured=measured, group=f"public|{pp.id}")


def load_public_yaml(path: Path) -> tuple[list[Point], int, Counter]:
    """public.yaml → Points; entries without an operating point are counted, not guessed."""
    raw = read_yaml(path)
    if isinstance(raw, dict) and "points" not in raw and is_profile_data(raw):   # 21 lines of unknown keys
        raise BadInput(f"{path}: a calibration profile (plan calibrate's output), given as measurements; use it "
                       f"with --calibration, and give measurements as points: or a benchmark tool's output")
    if isinstance(raw, dict) and "points" not in raw and "engine" in raw and "parallelism" in raw:
        raise BadInput(f"{path}: a deployment file (what a benchmark run measured), given as measurements; give it "
                       f"as --deployment beside the benchmark tool's output (docs/export.md)")
    if isinstance(raw, dict) and "points" not in raw and ("model" in raw or "classes" in raw):
        kind = "fleet" if "classes" in raw else "problem"
        raise BadInput(f"{path}: a {kind} file ({'classes' if kind == 'fleet' else 'model'}:), given as "
                       f"measurements; a measurement file lists points: (catalogs/measurements/public.yaml) or is "
                       f"a benchmark tool's output (docs/export.md, 'Back from the benchmark')")
    if isinstance(raw, dict) and "points" not in raw and (kind := other_kind(raw)) is not None:   # a scenario:
        raise BadInput(f"{path}: {kind}; given as measurements, which list points: or are a benchmark "  # 3 lines
                       f"tool's output (docs/export.md, 'Back from the benchmark')")
    data = validate(PublicFile, raw, str(path))
    first: dict[str, int] = {}
    for i, pp in enumerate(data.points):   # each point its own CV group (`public|id`) and table row
        j = first.setdefault(pp.id, i)
        if j != i:   # two points of one id were merged into one group, and shown under one name
            raise BadInput(f"{path}: points[{i}].id: {pp.id!r} is also the id of points[{j}]; each point has an id "
                           f"of its own (its cross-validation group and its row in plan validate): rename one")
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
