"""Measured serving points: load the shared CSV and public.yaml into one frozen type, and map
each point to a Deployment and an operating point the analytic model can predict.

Glossary: `c` concurrency (requests in flight on one instance), `b` decode batch of one
instance (sequences, summed over its attention-DP ranks), `isl`/`osl` input/output tokens,
`TPOT`/`TTFT` in seconds. Quantities compared with the model (`Quantity`):
- `decode_tok_s_per_gpu` = b / (TPOT · cards): an instance's output rate while decoding;
- `ttft_s`: the mean TTFT of a serving point, at every concurrency;
- `prefill_tok_s_per_gpu`: a published prefill rate (prompts·isl per second per GPU).
The log error of decode tokens/s equals TPOT's, so fitting one fits the other.

Agg (colocated, chunked prefill) TPOT: `perf.colocated_step` — a share of the steps carries a
prompt chunk (up to the engine's token budget C), the rest decode only. Disagg TPOT: decode_step
of the decode worker at its batch.

TTFT at any concurrency c: a benchmark is a closed loop (c requests in flight, each new one sent
when one finishes), so a prompt waits behind the prompts ahead of it. Mean value analysis of
that loop (`queueing.closed_loop_response`) with the prefill server's time for a prompt alone
and for a prompt packed into full passes, and the decode time (osl − 1)·TPOT as the time a
request spends away from it, plus the fixed per-request time. The first c prompts are sent at
once (a wave: the j-th waits for j − 1 packed prompts) and weigh 1/k of the mean, k being the
requests each client sends (`benchmark_requests_per_client`, fitted; it describes the measured
benchmarks, never a plan). Requests beyond the decode slots that fit in memory wait for a slot.
Disagg: each of the prefill workers serves c/workers of the requests and adds the KV transfer.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from planner.catalog.calibration import Calibration
from planner.catalog.schemas import GPU, Model, load_gpus, load_models
from planner.errors import BadInput
from planner.fidelity.bench_files import load_bench_file, load_deployment
from planner.fidelity.points import QUANTITIES, SIDE, LoadReport, Mode, Point, Quantity, with_group
from planner.fidelity.public import load_public_yaml
from planner.physics.colocated import DEFAULT_CHUNK_TOKENS, colocated_step
from planner.physics.deployment import kv_bytes_per_sequence, memory_use
from planner.physics.perf import (
    Deployment,
    Parallelism,
    decode_step,
    kv_transfer_time,
    mixed_step,
    prefill_pass,
    request_overhead_s,
)
from planner.physics.queueing import closed_loop_response

# Share of the memory the weights leave free that a measured engine gives its KV cache
# (TensorRT-LLM's default kv_cache_free_gpu_memory_fraction = 0.9, llm_args.py; describes the
# measured runs, never a plan: plans keep memory_usable_fraction as their margin)
BENCH_KV_FREE_FRACTION = 0.9
# engines whose default scheduler runs a prefill batch on its own, before the decode batch, instead
# of mixing prompt chunks into decode steps: SGLang (server_args enable_mixed_chunk = False)
PREFILL_FIRST_ENGINES = frozenset({"sglang"})

__all__ = ["QUANTITIES", "SIDE", "LoadReport", "Mode", "Point", "Quantity", "with_group"]  # the point types, here too


# ------------------------------------------------------------------------------- predicting
def deployment(p: Point, calib: Calibration, models: dict[str, Model] | None = None,
               gpus: dict[str, GPU] | None = None, par: Parallelism | None = None) -> Deployment:
    """The Deployment of point `p` (its decode/agg worker unless `par` is given)."""
    models = models if models is not None else load_models()
    gpus = gpus if gpus is not None else load_gpus()
    return Deployment(models[p.model], gpus[p.gpu], par or p.par, calib, p.weight_dtype, p.kv_dtype)


def engine_kv_slots(dep: Deployment, context_tokens: float) -> float:
    """Sequences whose KV cache at `context_tokens` fits in the memory a measured engine had for
    it: BENCH_KV_FREE_FRACTION of what the weights leave free (TensorRT-LLM's rule; vLLM and
    SGLang runs of large models are tuned the same way, or they would not have run). Not the
    planning margin `memory_usable_fraction` of `max_batch`: a measured run did fit. Where the
    model's weights leave nothing free (e.g. DeepSeek-V3 FP8 on 4×B200: 168 of 180 GB per card by
    the model), the run still happened, so no cap is applied (infinite)."""
    use = memory_use(dep, 0, context_tokens)
    room = (use.capacity_bytes - use.weights_bytes) * BENCH_KV_FREE_FRACTION
    per_seq = kv_bytes_per_sequence(dep, context_tokens)
    if room <= 0 or per_seq <= 0:
        return math.inf
    return room / per_seq


def running_batch(p: Point, dep: Deployment) -> float:
    """Sequences actually decoding on the instance: the configured batch, or fewer when their KV
    cache at the mean context does not fit (the engine then keeps the others waiting)."""
    slots = engine_kv_slots(dep, p.context_tokens)
    return max(1.0, p.batch if slots >= p.batch else float(math.floor(slots)))


def prefill_share_in_tpot(p: Point, k: float) -> float:
    """Share of the prompts' prefill work that lands in the decode steps a closed-loop benchmark's
    TPOT measures. In the steady rounds all of it (each prompt arrives while others decode). The
    first round is a wave of simultaneous prompts weighing 1/k of the point (k =
    benchmark_requests_per_client, as in the TTFT below): an engine that schedules prefill before
    decode (PREFILL_FIRST_ENGINES) prefills the whole wave before any of it decodes, so none of
    the wave's prefill lands in TPOT: share 1 − 1/k. An engine that mixes chunks into decode
    steps runs the wave's chunks beside the decodes of the prompts already served; it is counted
    in full (share 1: counting half of it fitted TensorRT-LLM and vLLM worse, 12.6 and 8.8 % median
    decode error against 12.2 and 8.5 %)."""
    if p.engine not in PREFILL_FIRST_ENGINES:
        return 1.0
    return 1.0 - 1.0 / k


def predict_tpot(p: Point, dep: Deployment) -> float:
    """TPOT: the colocated engine's mean step (agg) or the decode step (disagg/decode) at the
    running batch, divided by the accepted tokens per step."""
    b = running_batch(p, dep)
    if p.mode == "agg":
        uncached = p.isl * (1.0 - p.cached_fraction)
        share = prefill_share_in_tpot(p, dep.calib.v("benchmark_requests_per_client"))
        t = colocated_step(dep, b, p.context_tokens, p.isl, uncached, share * b * uncached / p.osl).time_s
    else:
        t = decode_step(dep, b, p.context_tokens).time_s
    return t / p.tokens_per_step


def prefill_service_s(p: Point, dep: Deployment, budget: float = DEFAULT_CHUNK_TOKENS) -> tuple[float, float]:
    """(a prompt served alone, a prompt's share of a full pass when prompts queue) on the
    instance that prefills it. Agg: ⌈s/C⌉ chunked steps beside the decode batch; disagg: a
    prefill pass of one prompt (plus its KV transfer), and a pass of ⌊C/s⌋ packed prompts."""
    uncached = p.isl * (1.0 - p.cached_fraction)
    cached = p.isl - uncached
    if p.mode == "agg":
        chunk = min(uncached, budget)
        alone = -(-uncached // budget) * mixed_step(dep, max(p.batch - 1.0, 0.0), p.context_tokens, chunk,
                                                    p.isl).time_s
        busy = uncached / budget * mixed_step(dep, p.batch, p.context_tokens, budget, p.isl).time_s
        return alone, min(busy, alone)
    packed = max(1.0, budget // max(uncached, 1.0))
    alone = prefill_pass(dep, 1.0, uncached, cached).time_s + kv_transfer_time(dep, p.isl)
    busy = prefill_pass(dep, packed, uncached, cached).time_s / packed + kv_transfer_time(dep, p.isl)
    return alone, min(busy, alone)


def predict_ttft(p: Point, dep: Deployment, prefill_dep: Deployment | None = None) -> float:
    """Mean TTFT of a closed-loop benchmark point (module docstring); prefill mode: one pass of
    `prefill_prompts` (a throughput point, passes back to back)."""
    if p.mode == "prefill":
        uncached = p.isl * (1.0 - p.cached_fraction)
        return prefill_pass(dep, p.prefill_prompts, uncached, p.isl - uncached).time_s
    pd = prefill_dep if prefill_dep is not None else dep
    alone, busy = prefill_service_s(p, pd)
    decode_s = max(p.osl - 1.0, 0.0) * predict_tpot(p, dep)
    clients = max((p.clients or p.concurrency) / (p.prefill_workers if p.mode == "disagg" else 1), 1.0)
    running = running_batch(p, dep) * clients / max(p.batch, 1.0)   # slots of the loop's requests
    served = min(clients, running)
    steady = closed_loop_response(served, alone, busy, decode_s)
    wave = alone + (served - 1.0) / 2.0 * busy       # the first prompts, all sent at once
    k = pd.calib.v("benchmark_requests_per_client")
    first = (wave + (k - 1.0) * steady) / k + request_overhead_s(pd)
    if clients <= running:
        return first
    # more requests than decode slots: each waits for a slot; a slot is held first + decode_s
    return first + (first + decode_s) * (clients / running - 1.0)


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
    dep = load_deployment(deployment) if deployment is not None else None
    points: list[Point] = []
    read, dropped = 0, Counter()
    for path in paths:
        p = Path(path)
        if p.suffix in (".yaml", ".yml"):
            pts, n, why = load_public_yaml(p)
        else:
            pts, n, why = load_bench_file(p, dep)
        points += pts
        read += n
        dropped.update(why)
    return points, LoadReport(read, len(points), dict(dropped))


def default_measurement_files() -> list[Path]:
    """catalogs/measurements/*.csv and *.yaml."""
    from planner.catalog.schemas import CATALOG_DIR
    d = CATALOG_DIR / "measurements"
    return sorted([*d.glob("*.csv"), *d.glob("*.yaml")])
