"""Measured serving points: load the shared CSV and public.yaml into one frozen type, and map
each point to a Deployment and an operating point the analytic model can predict.

Glossary: `c` concurrency (requests in flight on one instance), `b` decode batch of one
instance (sequences, summed over its attention-DP ranks), `isl`/`osl` input/output tokens,
`TPOT`/`TTFT` in seconds. Quantities compared with the model (`Quantity`):
- `decode_tok_s_per_gpu` = b / (TPOT · cards): an instance's output rate while decoding;
- `ttft_s`: the mean TTFT of a serving point, at every concurrency;
- `prefill_tok_s_per_gpu`: a published prefill rate (prompts·isl per second per GPU).
The log error of decode tokens/s equals TPOT's, so fitting one fits the other.

TPOT and TTFT at any concurrency: a measured point is a closed-loop benchmark
(`physics.benchmark`: chunked colocated steps, decode steps, mean value analysis of the loop).
`benchmark(p)` maps a point to that configuration; the rules are documented there.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

from planner.catalog.calibration import Calibration, load_calibration
from planner.catalog.schemas import GPU, Model, load_gpus, load_models
from planner.errors import BadInput
from planner.fidelity.bench_dispatch import SELF_DESCRIBING, load_bench_file, load_deployment_file, read_bench_file
from planner.fidelity.points import QUANTITIES, SIDE, LoadReport, Mode, Point, Quantity, with_group
from planner.fidelity.public import load_public_yaml
from planner.input.yamltext import is_yaml_name
from planner.physics.benchmark import PREFILL_FIRST_ENGINES, Benchmark, engine_kv_slots
from planner.physics.benchmark import tpot as bench_tpot
from planner.physics.benchmark import ttft as bench_ttft
from planner.physics.perf import Deployment, Parallelism, memory_use, prefill_pass

__all__ = ["QUANTITIES", "SIDE", "LoadReport", "Mode", "Point", "Quantity", "with_group"]  # the point types, here too


# ------------------------------------------------------------------------------- predicting
def deployment(p: Point, calib: Calibration, models: dict[str, Model] | None = None,
               gpus: dict[str, GPU] | None = None, par: Parallelism | None = None) -> Deployment:
    """The Deployment of point `p` (its decode/agg worker unless `par` is given)."""
    models = models if models is not None else load_models()
    gpus = gpus if gpus is not None else load_gpus()
    return Deployment(models[p.model], gpus[p.gpu], par or p.par, calib, p.weight_dtype, p.kv_dtype)


def benchmark(p: Point) -> Benchmark:
    """The closed-loop benchmark configuration point `p` measured (a decode-only point is a
    disaggregated decode worker; prefill points are single passes, see predict_ttft)."""
    return Benchmark("agg" if p.mode == "agg" else "disagg", p.isl, p.osl, p.concurrency, p.batch, p.clients,
                     p.prefill_workers, p.cached_fraction, p.tokens_per_step, p.engine in PREFILL_FIRST_ENGINES)


def predict_tpot(p: Point, dep: Deployment) -> float:
    """TPOT of point `p` on its agg or decode instance `dep` (`benchmark.tpot`)."""
    return bench_tpot(benchmark(p), dep)


def predict_ttft(p: Point, dep: Deployment, prefill_dep: Deployment | None = None) -> float:
    """Mean TTFT of point `p` (`benchmark.ttft`); prefill mode: one pass of `prefill_prompts` (a
    throughput point, passes back to back)."""
    if p.mode == "prefill":
        uncached = p.isl * (1.0 - p.cached_fraction)
        return prefill_pass(dep, p.prefill_prompts, uncached, p.isl - uncached).time_s
    return bench_ttft(benchmark(p), dep, prefill_dep)


def predict(p: Point, q: Quantity, calib: Calibration, models: dict[str, Model] | None = None,
            gpus: dict[str, GPU] | None = None) -> float:
    """Predicted value of quantity `q` at point `p` under calibration `calib` (see module doc)."""
    dep = deployment(p, calib, models, gpus)
    if q == "decode_tok_s_per_gpu":
        return p.batch / (predict_tpot(p, dep) * p.cards)
    pd = deployment(p, calib, models, gpus, p.prefill_par) if p.prefill_par is not None else dep
    ttft = predict_ttft(p, dep, pd)
    if q == "ttft_s":
        return ttft
    prompts = p.prefill_prompts if p.mode == "prefill" else 1.0
    return prompts * p.isl / (ttft * pd.cards)


def observations(points: list[Point]) -> list[tuple[int, Quantity, float]]:
    """(point index, quantity, measured value) for every quantity a point measures."""
    return [(i, q, p.measured[q]) for i, p in enumerate(points) for q in QUANTITIES if q in p.measured]


# ---------------------------------------------------------------------------------- loading
def load_points(paths: list[str | Path], deployment: str | Path | None = None) -> tuple[list[Point], LoadReport]:
    """Points from YAML (public format) files and benchmark files read by content (the silicon
    CSV, the minimal CSV, vLLM/SGLang/genai-perf output: bench_files.py), with one drop report.
    `deployment`: the YAML saying what the tool files measured (bench_files.BenchDeployment)."""
    if not paths:
        raise BadInput("no measurement files given")
    seen: dict[object, str | Path] = {}
    for p in paths:   # a file given twice (a glob and its name, a link) would weigh its runs twice in the fit
        q: object = Path(p)
        if Path(p).exists():
            st = Path(p).stat()
            q = (st.st_dev, st.st_ino)   # one file under two names (a hard link: resolve() keeps both)
            if q in seen:
                raise BadInput(f"{p}: given twice" + (f" (as {seen[q]} too)" if str(seen[q]) != str(p) else "")
                               + "; give each file once")
        seen[q] = p
    dep = load_deployment_file(deployment) if deployment is not None else None
    bench = {Path(p): read_bench_file(Path(p)) for p in paths if not is_yaml_name(p)}
    if dep is not None and all(kind in SELF_DESCRIBING for _, kind in bench.values()):   # else ignored unsaid
        raise BadInput(f"--deployment {deployment}: no file given needs it (the measurement YAML and the "
                       f"silicon and minimal CSVs say what each point measured); drop it")
    points: list[Point] = []
    read, dropped = 0, Counter()
    written: dict[str, Path] = {}   # the ids files write themselves (measurement YAML, silicon CSV): where first
    for path in paths:
        p = Path(path)
        if is_yaml_name(p):
            pts, n, why = load_public_yaml(p)
        else:
            pts, n, why = load_bench_file(p, dep, bench[p])
        if is_yaml_name(p) or bench[p][1] == "silicon":
            _check_ids(pts, p, written)
        points += pts
        read += n
        dropped.update(why)
    points = _without_repeats(points, dropped)
    models, gpus = load_models(), load_gpus()
    for p in list(points):   # a deployment YAML that says BF16 where FP8 ran, or a prompt past the context
        if (why := impossible(p, models, gpus)) is not None:
            points.remove(p)
            dropped[why] += 1
    points = [attention_layout(p, models, gpus) for p in points]
    reread = Counter(ATTENTION_DP_REREAD for p in points if p.recorded_par is not None)
    return points, LoadReport(read, len(points), dict(dropped), dict(reread))


def _check_ids(pts: list[Point], path: Path, written: dict[str, Path]) -> None:
    """BadInput for an id of `path` that an earlier file given with it has too: each file's own
    are checked as it is read (`public.load_public_yaml`), but two files' points of one id were both
    accepted, merged into one cross-validation group (`public|id`) and shown under one name."""
    for p in pts:
        first = written.setdefault(p.id, path)
        if first != path:
            raise BadInput(f"{path}: id {p.id!r} is also the id of a point in {first}; each point has an id of its "
                           f"own across the files given together (its cross-validation group and its row in plan "
                           f"validate): rename one")


_NOT_THE_RUN = ("id", "origin", "source", "group", "measured")   # what a copy of a run may change
REPEATED_RUN = "the same run as an earlier one (a copied file or line): counted once"


def _without_repeats(points: list[Point], dropped: Counter) -> list[Point]:
    """`points` with each run kept once: a point whose every measured field (deployment, lengths,
    concurrency, latencies, measured values) equals an earlier one's, whatever its file, id or
    source, is a copy; it would weigh that run twice in the fit. (The silicon CSV reader drops its
    own repeats and near repeats first.)"""
    kept, seen = [], set()
    for p in points:
        key = (tuple(getattr(p, f.name) for f in fields(p) if f.name not in _NOT_THE_RUN),
               tuple(sorted(p.measured.items())))
        if key in seen:
            dropped[REPEATED_RUN] += 1
            continue
        seen.add(key)
        kept.append(p)
    return kept


def impossible(p: Point, models: dict[str, Model], gpus: dict[str, GPU]) -> str | None:
    """Why no engine can have run `p` as recorded, or None: its tensor parallelism does not divide
    the attention heads of a GQA/MHA model (tp 3 for Llama-3.1-70B's 64), it has more pipeline
    stages than the model has layers (pp 128 for its 80), its weights alone overflow the card
    at the recorded precision and layout (Llama-3.1-70B in BF16 on one H100: 141 GB of 80 GB), or
    its requests are longer than the model's context."""
    model, gpu = models.get(p.model), gpus.get(p.gpu)
    if model is None or gpu is None:
        return None
    if model.arch.attention != "mla" and model.arch.heads % p.par.tp:   # plan eval refuses the same layout
        # (MLA runs recorded at TP 12-72 on GB200 ran: attention data-parallel, `attention_layout`)
        return f"tensor parallelism that does not divide the model's attention heads ({p.model}: {model.arch.heads})"
    if p.par.pp > model.arch.layers:   # plan eval refuses it too; perf would give each empty stage a step
        return f"more pipeline stages than the model's layers ({p.model}: {model.arch.layers})"
    dep = Deployment(model, gpu, p.par, load_calibration("default"), p.weight_dtype, p.kv_dtype)
    use = memory_use(dep, 0, p.context_tokens)
    if use.weights_bytes > use.capacity_bytes:
        return (f"weights alone overflow the card as recorded ({p.model} {p.weight_dtype} on {p.gpu}, "
                f"{p.par.cards} card(s)): check the deployment's weight_dtype and layout")
    if model.arch.context and p.isl + p.osl > model.arch.context:
        return f"requests longer than {p.model}'s context of {model.arch.context:,} tokens"
    return None


ATTENTION_DP_REREAD = ("MLA attention-TP layout that cannot hold its decode batch's KV cache, "
                       "read as attention data-parallel")


def attention_layout(p: Point, models: dict[str, Model], gpus: dict[str, GPU]) -> Point:
    """`p` with its worker read as attention-data-parallel where the recorded layout cannot have
    run it: an MLA model (one latent KV head, so attention TP keeps the whole cache on every
    rank) recorded with attention TP (tp > 1, dp = 1) whose decode batch's KV at the mean context
    does not fit in what the weights leave free on a card (`benchmark.engine_kv_slots`). The run
    happened, so its engine split the sequences over the same cards (SGLang
    `--enable-dp-attention`, TensorRT-LLM `enable_attention_dp`), which the file does not record:
    e.g. SGLang "TP72" DeepSeek-R1 on GB200 at 5,632 sequences would need 300 GB per card as
    recorded. The experts keep their recorded split; the CV group (the recorded configuration)
    is unchanged. Any other point is returned as it is."""
    par = p.par
    model = models.get(p.model)
    if model is None or model.arch.attention != "mla" or par.tp <= 1 or par.dp != 1 or p.gpu not in gpus:
        return p
    dep = Deployment(model, gpus[p.gpu], par, load_calibration("default"), p.weight_dtype, p.kv_dtype)
    slots = engine_kv_slots(dep, p.context_tokens)
    if math.isinf(slots) or slots >= p.batch:
        return p
    return replace(p, par=Parallelism(1, par.pp, par.tp, par.moe_tp), recorded_par=par)


def default_measurement_files() -> list[Path]:
    """catalogs/measurements/*.csv and *.yaml."""
    from planner.catalog.schemas import CATALOG_DIR
    d = CATALOG_DIR / "measurements"
    return sorted([*d.glob("*.csv"), *d.glob("*.yaml")])
