"""A user's own benchmark output → Points, so `plan calibrate` / `plan validate` fit and check the
model on the runs of the user's deployment.

Formats (tests/data/bench/PROVENANCE.md cites the source each follows):
- vLLM `vllm bench serve --save-result` JSON: one object, `backend`, `model_id`, `max_concurrency`,
  `completed`, `total_input_tokens`, `total_output_tokens`, `mean_ttft_ms`, `mean_tpot_ms`,
  `request_throughput`, `mean_e2el_ms`;
- SGLang `python -m sglang.bench_serving --output-file` JSONL: one such object per line (one per
  run), with `mean_e2e_latency_ms` for the end-to-end latency;
- genai-perf `profile_export_genai_perf.json`: metric objects `{unit, avg, p50, …}`
  (`time_to_first_token`, `inter_token_latency`, `input_sequence_length`, `output_sequence_length`,
  `request_throughput`, `request_latency`) and `input_config` (the run's arguments: `concurrency`,
  `request_rate`);
- GuideLLM `benchmarks.json` (report schema version 2, GuideLLM 0.7): `benchmarks[]`, each with
  `config.strategy` (`type_`: synchronous, concurrent with `streams`, throughput, constant or
  poisson with `rate`) and `metrics` of `{successful: {mean, …}, …}` distributions:
  `time_to_first_token_ms`, `inter_token_latency_ms` (excluding the first token: our TPOT),
  `prompt_token_count`, `output_token_count`, `request_concurrency`; one point per benchmark;
- the minimal CSV (`MINIMAL_COLUMNS`): one measured point per row, deployment included.

The tool files do not say what they measured (model, GPU, parallelism, precisions): a deployment
YAML (`BenchDeployment`) supplies it. Each run is one point of one instance: concurrency c =
requests in flight (the run's max concurrency, capped by the prompts sent; without one, the mean
in flight by Little's law, request throughput × mean end-to-end latency); isl/osl are the mean
tokens per completed request; the decode batch of one instance is c / instances (agg) or c / decode
workers (disagg); TTFT and TPOT are the run's means, milliseconds in the files, seconds here.
Measured quantities as in silicon.py: `decode_tok_s_per_gpu` = b / (TPOT · cards) and `ttft_s`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from planner.catalog.schemas import Model, load_gpus, load_models, model_key, unknown_gpu
from planner.errors import BadInput, shown_text, suggest
from planner.fidelity.points import RUN_DOMAIN, Point, measured_of
from planner.fidelity.run_values import (
    DECIMAL,
    cap,
    concurrency,
    count,
    e2e_latency_s,
    number,
    optional,
    paced,
    sent_count,
)
from planner.fidelity.silicon import MS, catalog_model_id, kv_dtype_of
from planner.input.files import csv_errors, read_text, read_yaml, validate
from planner.input.load import other_kind
from planner.input.schema import Precision, Strict
from planner.input.values import Name
from planner.physics.perf import Parallelism

# the minimal CSV: required columns, then optional ones
MINIMAL_COLUMNS = ("model", "gpu", "engine", "cards", "tp", "pp", "dp", "ep", "mode", "concurrency",
                   "isl", "osl", "ttft_ms", "tpot_ms")
MINIMAL_OPTIONAL = ("engine_version", "weight_dtype", "kv_dtype", "request_rate")


class _Workers(Strict):
    """Parallelism of one worker: cards = tp·pp·dp; a MoE layer's experts are spread over `ep` of
    the tp·dp cards and each sliced over the other tp·dp/ep (default: spread over all)."""

    tp: int = Field(1, ge=1, le=1024)
    pp: int = Field(1, ge=1, le=1024)
    dp: int = Field(1, ge=1, le=1024)
    ep: int | None = Field(None, ge=1, le=4096)   # must divide tp·dp; 1: experts sliced (no EP)


class BenchDeployment(Strict):
    """What the benchmark files measured: one instance of `model` on `cards` GPUs of type `gpu`.

    `model` may be left out when every file names a catalog model by its Hugging Face id
    (vLLM `model_id`, genai-perf `input_config.model`). Disagg: `parallelism` is the decode
    worker, `prefill` the prefill worker, and the load is shared by `decode_workers` /
    `prefill_workers` instances; agg: by `instances` identical instances (a load test sent to a
    router in front of several instances measures c requests in flight over all of them)."""

    # printed in every table of validate and calibrate: one line of printable text (an escape sequence
    # in a CSV's engine column reached the terminal; a newline broke the table)
    model: Name | None = None
    gpu: Name
    engine: Name
    engine_version: Name = "unknown"
    mode: Literal["agg", "disagg"] = "agg"
    cards: int = Field(ge=1, le=65536)
    parallelism: _Workers
    weight_dtype: Precision | None = None   # default: the catalog model's
    kv_dtype: Literal["bf16", "fp16", "fp8"] | None = None   # default: silicon.kv_dtype_of(weights)
    instances: int = Field(1, ge=1, le=65536)   # agg: identical instances behind the load test's router
    prefill: _Workers | None = None
    prefill_workers: int = Field(1, ge=1, le=4096)
    decode_workers: int = Field(1, ge=1, le=4096)
    cached_fraction: float = Field(0.0, ge=0, lt=1)   # prefix-cache hit fraction of the prompts

    @field_validator("engine", "gpu", "model")
    @classmethod
    def _lower_id(cls, v: str | None) -> str | None:
        """Lower-cased as a problem reads them: `SGLang` is sglang, `H100` h100 (its rows were dropped)."""
        return v if v is None else v.strip().lower()


def _par(w: _Workers, where: str, moe: bool = True) -> Parallelism:
    """The worker's Parallelism: experts spread over `ep` ranks and sliced over tp·dp/ep cards
    (moe_tp; 1 for a dense model); an `ep` that does not divide tp·dp, or above 1 on a dense
    model (it has no experts: the run was not what the file says), is refused."""
    n_s = w.tp * w.dp
    if w.ep is not None and n_s % w.ep:
        raise BadInput(f"{where}.ep: {w.ep} does not divide tp·dp = {n_s}: experts are spread over ep "
                       f"of the tp·dp cards and sliced over the rest")
    if not moe and (w.ep or 1) > 1:
        raise BadInput(f"{where}.ep: {w.ep} on a dense model (no experts to spread); drop ep or set it to 1")
    return Parallelism(w.tp, w.pp, w.dp, n_s // w.ep if w.ep is not None and moe else 1)


def load_deployment(path: str | Path) -> BenchDeployment:
    """The deployment YAML, validated (unknown keys and out-of-domain numbers are BadInput)."""
    data = read_yaml(path)
    if isinstance(data, dict) and ({"workload", "slo"} <= set(data) or "classes" in data):   # not 8 lines of
        kind = "fleet" if "classes" in data else "problem"                                      # unknown keys
        raise BadInput(f"{path}: a {kind} file, not a deployment: --deployment is a YAML of what the benchmark "
                       f"measured (model, gpu, engine, cards, parallelism, mode; docs/export.md)")
    if isinstance(data, dict) and (other := other_kind(data)) is not None:   # a measurements file: 5 lines of keys
        raise BadInput(f"{path}: {other}, not a deployment: --deployment is a YAML of what the benchmark measured "
                       f"(model, gpu, engine, cards, parallelism, mode; docs/export.md)")
    dep = validate(BenchDeployment, data, str(path))
    gpus = load_gpus()
    if dep.gpu not in gpus:   # as written, and the closest ids, as the minimal CSV's rows say it
        written = data["gpu"] if isinstance(data.get("gpu"), str) else dep.gpu
        raise BadInput(f"{path}: gpu: {unknown_gpu(written, gpus)}")
    models = load_models()
    if dep.model is not None and dep.model not in models:
        raise BadInput(f"{path}: model: unknown model {dep.model!r} (see `plan catalog models`)."
                       f"{suggest(dep.model, models)}")
    if dep.mode == "agg" and (wrong := sorted(dep.model_fields_set & {"prefill", "prefill_workers", "decode_workers"})):
        raise BadInput(f"{path}: {wrong[0]}: a disagg key beside mode agg (read as nothing); set disagg or drop it")
    moe = dep.model is None or models[dep.model].arch.is_moe   # no model: checked per run (make_point)
    par = _par(dep.parallelism, f"{path}: parallelism", moe)
    if par.cards != dep.cards:
        raise BadInput(f"{path}: cards: {dep.cards} but parallelism gives tp·pp·dp = {par.cards}")
    if dep.mode == "disagg" and dep.prefill is None:
        raise BadInput(f"{path}: prefill: mode disagg needs the prefill worker's parallelism")
    if dep.prefill is not None:
        _par(dep.prefill, f"{path}: prefill", moe)
    if dep.mode == "disagg" and dep.instances > 1:
        raise BadInput(f"{path}: instances: {dep.instances}; a disagg deployment shares the load by "
                       f"prefill_workers and decode_workers")
    return dep


# ------------------------------------------------------------------------------ one run → Point
def _model_of(dep: BenchDeployment, hf_id: Any, models: dict[str, Model], where: str) -> str:
    """Catalog model id: the deployment's, else the file's Hugging Face id mapped to the catalog.
    BadInput when both name catalog models and they differ (a deployment YAML of another run)."""
    mid = catalog_model_id(hf_id, models) if isinstance(hf_id, str) and hf_id else None
    if dep.model is not None:
        if mid is not None and mid != models[dep.model].id:
            raise BadInput(f"{where}: model: the file measured {hf_id!r} ({mid}), the deployment YAML says "
                           f"{dep.model}; use the deployment of this run")
        return models[dep.model].id
    if mid is None:
        raise BadInput(f"{where}: model: {hf_id!r} is not a catalog model; name it in the "
                       f"deployment YAML (model: ...)")
    return mid


# what a measured run can be: beyond these a number is a unit mistake or a corrupt file, and it
# would make the fit's residuals infinite (a TTFT of 5e-324 ms) or dominate every median
def _check_run(where: str, **values: float) -> None:
    """BadInput naming the first value outside RUN_DOMAIN (keywords: its keys)."""
    for key, v in values.items():
        name, lo, hi = RUN_DOMAIN[key]
        if not lo <= v <= hi:
            raise BadInput(f"{where}: {name} {v:g} is outside [{lo:g}, {hi:g}]: not a measured run "
                           f"(a unit mistake?)")


def make_point(*, pid: str, origin: str, dep: BenchDeployment, model: str, c: float, isl: float,
               osl: float, ttft_s: float, tpot_s: float, models: dict[str, Model],
               where: str | None = None) -> Point:
    """One run of `dep` at c requests in flight → Point (module docstring); `where` names it in
    an error (default its id)."""
    _check_run(where or pid, concurrency=c, isl=isl, osl=osl, ttft_s=ttft_s, tpot_s=tpot_s)
    moe = models[model].arch.is_moe     # a dense model has no experts to spread or slice
    par = _par(dep.parallelism, "deployment: parallelism", moe)
    weights = dep.weight_dtype or models[model].weight_dtype
    kv = dep.kv_dtype or kv_dtype_of(weights)
    if dep.mode == "agg":
        ppar, batch = None, c / dep.instances
        c = conc = batch
    else:
        ppar = _par(dep.prefill, "deployment: prefill", moe)  # type: ignore[arg-type]
        batch = conc = c / dep.decode_workers
    group = "|".join([model, dep.gpu, dep.engine, weights, dep.mode, par.label(),
                      ppar.label() if ppar else ""])
    return Point(id=pid, origin=origin, source=origin, kind="measured", model=model, gpu=dep.gpu,
                 engine=dep.engine, engine_version=dep.engine_version, weight_dtype=weights, kv_dtype=kv,
                 mode=dep.mode, par=par, isl=isl, osl=osl, concurrency=conc, batch=batch,
                 prefill_par=ppar, prefill_workers=dep.prefill_workers if ppar else 1, clients=c,
                 cached_fraction=dep.cached_fraction,
                 ttft_s=ttft_s, tpot_s=tpot_s, group=group, measured=measured_of(batch, tpot_s, ttft_s, osl, par))



def serve_run(d: dict, where: str, dep: BenchDeployment, models: dict[str, Model], e2e_key: str,
               pid: str, origin: str) -> Point | str:
    """A vLLM or SGLang serving-benchmark result object → Point, or the reason it is dropped."""
    done, sent = count(d, "completed", where), sent_count(d, "num_prompts", where)
    if sent is not None and done > sent:   # the token totals, divided by it, gave means of no request sent
        raise BadInput(f"{where}: completed: {done:g} requests, more than the {sent:g} sent (num_prompts): "
                       f"not the result of one run")
    e2e_ms = optional(d, e2e_key)
    isl, osl = number(d, "total_input_tokens", where) / done, number(d, "total_output_tokens", where) / done
    ttft_s, tpot_s = number(d, "mean_ttft_ms", where) * MS, number(d, "mean_tpot_ms", where) * MS
    c = concurrency(cap(d, "max_concurrency", where), sent or done,
                    optional(d, "request_throughput"),
                    e2e_latency_s(e2e_ms * MS if e2e_ms is not None else None, ttft_s, tpot_s, osl),
                    paced=paced(d, "request_rate", where))   # the tools write inf for no pacing
    if isinstance(c, str):
        return c
    return make_point(where=where, pid=pid, origin=origin, dep=dep,
                      model=_model_of(dep, d.get("model_id"), models, where),
                      c=c, isl=isl, osl=osl, ttft_s=ttft_s, tpot_s=tpot_s, models=models)


def genai_perf_run(d: dict, where: str, dep: BenchDeployment, models: dict[str, Model],
                    origin: str) -> Point | str:
    """A genai-perf (or aiperf) profile export → Point, or the reason it is dropped."""
    def stat(name: str, unit: str | None = None) -> float | None:
        m = d.get(name)
        if not isinstance(m, dict):
            return None
        if unit is not None and m.get("unit") != unit:
            raise BadInput(f"{where}: {name}.unit: {m.get('unit')!r}, expected {unit!r}")
        return optional(m, "avg")

    def need(name: str, unit: str | None = None) -> float:
        v = stat(name, unit)
        if v is None:
            raise BadInput(f"{where}: {name}.avg: missing or not a positive number")
        return v

    cfg = d.get("input_config") if isinstance(d.get("input_config"), dict) else {}
    # aiperf (genai-perf's successor, profile_export_aiperf.json) nests the load generator and the
    # endpoint: input_config.loadgen.concurrency, input_config.endpoint.model_names; its
    # concurrency was ignored (Little's law taken instead) and its model not found
    nested = isinstance(cfg.get("loadgen"), dict)
    load, key = (cfg["loadgen"], "input_config.loadgen") if nested else (cfg, "input_config")
    latency = stat("request_latency", "ms")
    isl, osl = need("input_sequence_length"), need("output_sequence_length")
    ttft_s, tpot_s = need("time_to_first_token", "ms") * MS, need("inter_token_latency", "ms") * MS
    # aiperf paces at --request-rate under a --concurrency ceiling (genai-perf takes one or the other)
    c = concurrency(cap(load, "concurrency", f"{where}: {key}"), optional(load, "request_count"),
                    stat("request_throughput"),
                    e2e_latency_s(latency * MS if latency else None, ttft_s, tpot_s, osl),
                    paced=paced(load, "request_rate", f"{where}: {key}"))
    if isinstance(c, str):
        return c
    endpoint = cfg.get("endpoint") if isinstance(cfg.get("endpoint"), dict) else {}
    hf = cfg.get("model", endpoint.get("model_names"))
    hf = hf[0] if isinstance(hf, list) and len(hf) == 1 else hf
    return make_point(where=where, pid=f"{Path(origin).name}#0", origin=origin, dep=dep,
                      model=_model_of(dep, hf, models, where),
                      c=c, isl=isl, osl=osl, ttft_s=ttft_s, tpot_s=tpot_s, models=models)


GUIDELLM_RATE_KINDS = ("throughput", "constant", "poisson")   # strategies whose concurrency is measured
GUIDELLM_REPORT_VERSION = 2   # GenerativeBenchmarkMetadata.version of the reports read


def _guidellm_run(b: Any, where: str, dep: BenchDeployment, models: dict[str, Model], hf: Any,
                  pid: str, origin: str) -> Point | str:
    """One GuideLLM benchmark (a strategy's run) → Point, or the reason it is dropped."""
    if not isinstance(b, dict) or not isinstance(b.get("metrics"), dict):
        raise BadInput(f"{where}: metrics: missing (not a GuideLLM generative benchmark)")
    metrics = b["metrics"]

    def mean(name: str) -> float:
        m = metrics.get(name)
        s = m.get("successful") if isinstance(m, dict) else None
        if not isinstance(s, dict):
            raise BadInput(f"{where}: metrics.{name}.successful: missing")
        return number(s, "mean", f"{where}: metrics.{name}.successful")

    cfg = b.get("config") if isinstance(b.get("config"), dict) else {}
    strategy = cfg.get("strategy") if isinstance(cfg.get("strategy"), dict) else {}
    kind = strategy.get("type_")
    totals = metrics.get("request_totals")
    done = totals.get("successful") if isinstance(totals, dict) else None
    if isinstance(done, int | float) and not isinstance(done, bool) and done <= 0:
        return "GuideLLM benchmark without successful requests"
    if kind == "synchronous":
        c: float = 1.0
    elif kind == "concurrent":
        c = number(strategy, "streams", f"{where}: config.strategy")
        if c != int(c):   # as vLLM's max_concurrency: 2.5 streams is no run GuideLLM makes
            raise BadInput(f"{where}: config.strategy: streams: {c:g} is not a whole number of concurrent streams")
    elif kind in GUIDELLM_RATE_KINDS:   # what the run held in flight
        c = mean("request_concurrency")
    else:   # a concurrent run without its type was read at its measured concurrency (7.9 of 8 streams)
        raise BadInput(f"{where}: config.strategy.type_: {kind!r} is not a GuideLLM strategy this reader knows "
                       f"(synchronous, concurrent, {', '.join(GUIDELLM_RATE_KINDS)})")
    return make_point(where=where, pid=pid, origin=origin, dep=dep, model=_model_of(dep, hf, models, where), c=c,
                      isl=mean("prompt_token_count"), osl=mean("output_token_count"),
                      ttft_s=mean("time_to_first_token_ms") * MS, tpot_s=mean("inter_token_latency_ms") * MS,
                      models=models)


def guidellm_report(d: dict, path: Path, dep: BenchDeployment, models: dict[str, Model]) -> list[Point | str]:
    """Every benchmark of a GuideLLM report (module docstring)."""
    version = d["metadata"].get("version")
    if version != GUIDELLM_REPORT_VERSION:
        raise BadInput(f"{path}: metadata.version: GuideLLM report schema {version!r}; this reader takes "
                       f"version {GUIDELLM_REPORT_VERSION} (GuideLLM 0.7); convert the run to the minimal CSV")
    cfg = d.get("config") if isinstance(d.get("config"), dict) else {}
    benchmarks = d.get("benchmarks")
    if not isinstance(benchmarks, list) or not benchmarks:
        raise BadInput(f"{path}: benchmarks: no benchmark in the report")
    return [_guidellm_run(b, f"{path}: benchmarks[{i}]", dep, models, cfg.get("model"), f"{path.name}#{i}",
                          str(path)) for i, b in enumerate(benchmarks)]


# ------------------------------------------------------------------------------ minimal CSV
def _minimal_row(r: dict, where: str, models: dict[str, Model], origin: str, i: int) -> Point | str:
    """One minimal-CSV row → Point, or the reason it is dropped; the row carries its deployment."""
    def num(k: str) -> float:
        text = r[k].strip() if isinstance(r[k], str) else ""
        if not DECIMAL.fullmatch(text.removeprefix("-")):   # float() also reads '1_80' as 180; '-5' is one
            raise BadInput(f"{where}: {k}: {r[k]!r} is not a number{'' if text.isascii() else ' in ASCII digits'}")
        v = float(text)
        if not 0 < v < float("inf"):
            raise BadInput(f"{where}: {k}: {r[k]!r}, expected a positive number")
        return v

    def whole(k: str) -> int:
        v = num(k)
        if v != int(v):
            raise BadInput(f"{where}: {k}: {r[k]!r}, expected a whole number")
        return int(v)

    if (rate := (r.get("request_rate") or "").strip()) and rate.lower() not in ("inf", "infinity"):
        num("request_rate")   # the run's pacing, for the record (concurrency is given): 'abc', -5 were taken
    if model_key(r["model"]) not in models:   # the catalog's ids, as get_model reads them
        return f"model not in catalog ({shown_text(r['model'])})"   # escaped: a quoted newline broke the summary
    # names with blanks around them as model, gpu and engine are read (a spreadsheet's 'fp8 ', ' agg' were refused)
    opt = {k: r[k].strip() for k in ("engine_version", "weight_dtype", "kv_dtype") if (r.get(k) or "").strip()}
    dep = validate(BenchDeployment, {
        "model": r["model"], "gpu": r["gpu"], "engine": r["engine"], "mode": r["mode"].strip(), "cards": whole("cards"),
        "parallelism": {k: whole(k) for k in ("tp", "pp", "dp", "ep")}, **opt}, where)
    if dep.mode != "agg":
        return "minimal CSV: only agg rows (a disagg run needs its prefill worker: use --deployment)"
    if dep.gpu not in (gpus := load_gpus()):   # as --deployment's: a misspelt GPU's rows were dropped, exit 0
        raise BadInput(f"{where}: gpu: {unknown_gpu(r['gpu'].strip(), gpus)}")   # as written
    par = _par(dep.parallelism, f"{where}: parallelism", models[dep.model].arch.is_moe)
    if par.cards != dep.cards:
        raise BadInput(f"{where}: cards: {dep.cards} but tp·pp·dp = {par.cards}")
    return make_point(where=where, pid=f"{Path(origin).name}#{i}", origin=origin, dep=dep, model=models[dep.model].id,
                      c=num("concurrency"), isl=num("isl"), osl=num("osl"), ttft_s=num("ttft_ms") * MS,
                      tpot_s=num("tpot_ms") * MS, models=models)


def load_minimal_csv(path: Path, text: str | None = None) -> tuple[list[Point], int, Counter]:
    """The minimal CSV → Points; rows naming a model outside the catalog are dropped, counted (a GPU
    outside it is an error, as in --deployment: the catalog lists every GPU plan can model)."""
    text = text if text is not None else read_text(path, "CSV")
    lines = io.StringIO(text, newline="")
    with csv_errors(path):
        head = csv.reader(lines, strict=True)   # 'gpu', ' gpu': one column
        header = [h.strip() for h in next(head, [])]
    while header and not header[-1]:   # a spreadsheet's trailing comma, as its rows' trailing empty cells are read
        header.pop()
    if "" in header:   # a column in the middle without a name: which column the file means is unknowable
        raise BadInput(f"{path}: header: column {header.index('') + 1} has no name; the minimal CSV has "
                       f"{', '.join(MINIMAL_COLUMNS + MINIMAL_OPTIONAL)}")
    reader = csv.DictReader(lines, fieldnames=header, strict=True)   # strict: a quote never closed is an error
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:   # DictReader would keep the last of them silently
        raise BadInput(f"{path}: header: column {', '.join(map(repr, twice))} given twice")
    if unknown := [h for h in header if h not in (*MINIMAL_COLUMNS, *MINIMAL_OPTIONAL)]:   # kv_dtpye: read as bf16
        raise BadInput(f"{path}: header: unknown column {unknown[0]!r}; the minimal CSV has "
                       f"{', '.join(MINIMAL_COLUMNS + MINIMAL_OPTIONAL)}.{suggest(unknown[0], MINIMAL_OPTIONAL)}")
    with csv_errors(path):   # a row of blank cells (',,,', a spreadsheet's empty row) is skipped, as csv skips
        rows = [(i, head.line_num + reader.line_num, r)   # an empty line ('model not in catalog ()'); a row
                for i, r in enumerate(reader) if not _blank(r)]   # is named by the file's line it ends on
    models = load_models()
    got: list[Point | str] = ["ragged row (a cell too few or too many)" if _ragged(r)
                              else _minimal_row(r, f"{path}: line {line}", models, str(path), i)
                              for i, line, r in rows]
    _engines_known(path, [(g, line) for g, (_, line, _) in zip(got, rows) if isinstance(g, Point)])
    return [g for g in got if isinstance(g, Point)], len(rows), Counter(g for g in got if isinstance(g, str))


def _engines_known(path: Path, points: list[tuple[Point, int]]) -> None:
    """A note per engine plan does not know (`vlllm`, a typo, was a label of its own, modelled as
    vLLM's scheduler where `sglang` prefills first), naming the file's line of its first row: kept,
    since a run on another engine is still a measurement, but said."""
    import warnings

    from planner.errors import PlannerNotice
    from planner.physics.benchmark import ENGINES
    first: dict[str, int] = {}
    for p, line in points:
        first.setdefault(p.engine, line)
    for engine, line in first.items():
        if engine not in ENGINES:
            warnings.warn(f"{path}: line {line}: engine: {engine!r} is none of the engines plan knows "
                          f"({', '.join(ENGINES)}): its points are kept under that label and modelled as an engine "
                          f"that mixes prompt chunks into decode steps (as vllm and trtllm do; sglang prefills "
                          f"first).{suggest(engine, ENGINES)}", PlannerNotice, stacklevel=4)


def _ragged(row: dict) -> bool:
    """Whether a minimal-CSV row has a cell too few, or a cell past the header's that is not empty
    (a spreadsheet's trailing comma, ',' ending the row, is an empty cell: not ragged)."""
    return None in row.values() or any(c.strip() for c in row.get(None, []))


def _blank(row: dict) -> bool:
    """Whether every cell of a minimal-CSV row is empty or spaces (cells past the header's too)."""
    cells = [v for k, v in row.items() if k is not None and v is not None] + row.get(None, [])
    return not any(c.strip() for c in cells)
