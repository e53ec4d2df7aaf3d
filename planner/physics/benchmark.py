"""A closed-loop serving benchmark of one configuration, analytically: the TPOT and mean TTFT that
`vllm bench serve --max-concurrency c` (or SGLang's bench_serving, genai-perf at a fixed
concurrency) measures. The fit (`fidelity.measurements`) predicts every measured point with
these functions, and `studies.simulate.closed` simulates the same loop event by event to check
them.

Glossary: `c` clients (requests in flight), `b` decode batch of one instance (sequences, summed
over its attention-DP ranks), `isl`/`osl` input/output tokens, `k` requests each client sends.

Agg (colocated, chunked prefill) TPOT: `colocated_step` — a share of the steps carries a prompt
chunk (up to the engine's token budget C), the rest decode only. Disagg TPOT: decode_step of
the decode worker at its batch.

TTFT at any concurrency: the loop keeps c requests in flight, each new one sent when one
finishes, so a prompt waits behind the prompts ahead of it. Mean value analysis of that loop
(`queueing.closed_loop_response`) with the prefill server's time for a prompt alone and for a
prompt packed into full passes, and the decode time (osl − 1)·TPOT as the time a request spends
away from it, plus the fixed per-request time. The first c prompts are sent at once (a wave: the
j-th waits for j − 1 packed prompts) and weigh 1/k of the mean (`benchmark_requests_per_client`,
fitted; it describes the measured benchmarks, never a plan). Requests beyond the decode slots
that fit in memory wait for a slot. Disagg: each of the prefill workers serves c/workers of the
requests and adds the KV transfer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from planner.physics.colocated import DEFAULT_CHUNK_TOKENS, colocated_step
from planner.physics.deployment import Deployment, kv_bytes_per_sequence, memory_use
from planner.physics.perf import decode_step, kv_transfer_time, mixed_step, prefill_pass, request_overhead_s
from planner.physics.queueing import closed_loop_response

# Share of the memory the weights leave free that a benchmarked engine gives its KV cache
# (TensorRT-LLM's default kv_cache_free_gpu_memory_fraction = 0.9, llm_args.py; describes
# measured runs, never a plan: plans keep memory_usable_fraction as their margin)
BENCH_KV_FREE_FRACTION = 0.9
# engines whose default scheduler runs a prefill batch on its own, before the decode batch, instead
# of mixing prompt chunks into decode steps: SGLang (server_args enable_mixed_chunk = False)
PREFILL_FIRST_ENGINES = frozenset({"sglang"})
# the engines plan models (their schedulers, above), exports launch scripts for and ships a fitted
# profile of (catalogs/calibration/ENGINE.yaml)
ENGINES = ("vllm", "sglang", "trtllm")


@dataclass(frozen=True)
class Benchmark:
    """One closed-loop benchmark configuration (per decode or agg instance unless said)."""

    mode: Literal["agg", "disagg"]
    isl: float
    osl: float
    concurrency: float            # requests in flight on this instance
    batch: float                  # decode sequences on this instance (over all its dp ranks)
    clients: float = 0.0          # requests in flight over all workers (0: `concurrency`)
    prefill_workers: int = 1      # disagg: prefill instances sharing the requests
    cached_fraction: float = 0.0  # prefix-cache hit fraction of the input
    tokens_per_step: float = 1.0  # accepted tokens per decode step (MTP)
    prefill_first: bool = False   # the engine prefills a batch alone before decoding (SGLang)
    budget_tokens: float = DEFAULT_CHUNK_TOKENS   # prefill tokens per step or pass

    @property
    def context_tokens(self) -> float:
        """Mean decode context: isl + osl/2."""
        return self.isl + self.osl / 2.0

    @property
    def uncached_tokens(self) -> float:
        return self.isl * (1.0 - self.cached_fraction)

    @property
    def total_clients(self) -> float:
        return self.clients or self.concurrency


def engine_kv_slots(dep: Deployment, context_tokens: float) -> float:
    """Sequences whose KV cache at `context_tokens` fits in the memory a benchmarked engine had
    for it: BENCH_KV_FREE_FRACTION of what the weights leave free (TensorRT-LLM's rule; vLLM and
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


def running_batch(bm: Benchmark, dep: Deployment) -> float:
    """Sequences actually decoding on the instance: the configured batch, or fewer when their KV
    cache at the mean context does not fit (the engine then keeps the others waiting)."""
    slots = engine_kv_slots(dep, bm.context_tokens)
    return max(1.0, bm.batch if slots >= bm.batch else float(math.floor(slots)))


def prefill_share_in_tpot(bm: Benchmark, k: float, batch: float) -> float:
    """Share of the prompts' prefill work that lands in the decode steps a closed-loop benchmark's
    TPOT measures, with `batch` sequences decoding. A request's own prompt is prefilled before its
    first token, so of the prompts sent while it decodes only the other batch − 1 sequences'
    count: (b − 1)/b of the prefill work (none at one sequence: a lone client's TPOT is the pure
    decode step, as the closed-loop simulation measures it; counting its own prompt put a 16k-token
    prompt with 128-token answers 52 % above the simulated TPOT). Of those, in the steady rounds all
    of it (each prompt arrives while others decode). The first round is a wave of simultaneous
    prompts weighing 1/k of the point (k = benchmark_requests_per_client, as in the TTFT below): an
    engine that schedules prefill before decode (`prefill_first`) prefills the whole wave before
    any of it decodes, so none of the wave's prefill lands in TPOT: a further 1 − 1/k. An engine
    that mixes chunks into decode steps runs the wave's chunks beside the decodes of the prompts
    already served; it is counted in full (counting half of it fitted TensorRT-LLM and vLLM worse,
    12.6 and 8.8 % median decode error against 12.2 and 8.5 %)."""
    others = max(batch - 1.0, 0.0) / max(batch, 1.0)
    return others * (1.0 - 1.0 / k) if bm.prefill_first else others


def tpot(bm: Benchmark, dep: Deployment) -> float:
    """TPOT: the colocated engine's mean step (agg) or the decode step (disagg) at the running
    batch, divided by the accepted tokens per step."""
    b = running_batch(bm, dep)
    if bm.mode == "agg":
        uncached = bm.uncached_tokens
        share = prefill_share_in_tpot(bm, dep.calib.v("benchmark_requests_per_client"), b)
        # a step holds at most the budget: past it the loop is prefill-bound and sends no faster than
        # full chunk steps serve it (100k-token prompts with 100-token answers at 42 sequences asked
        # 41k prompt tokens a step, five full chunks' time: 589 ms against 131 ms simulated)
        per_step = min(share * b * uncached / bm.osl, bm.budget_tokens)
        t = colocated_step(dep, b, bm.context_tokens, bm.isl, uncached, per_step, bm.budget_tokens).time_s
    else:
        t = decode_step(dep, b, bm.context_tokens).time_s
    return t / bm.tokens_per_step


def prefill_service_s(bm: Benchmark, dep: Deployment) -> tuple[float, float]:
    """(a prompt served alone, a prompt's share of a full pass when prompts queue) on the
    instance that prefills it. Agg: ⌈s/C⌉ chunked steps beside the decode batch; disagg: a
    prefill pass of one prompt (plus its KV transfer), and a pass of ⌊C/s⌋ packed prompts."""
    budget = bm.budget_tokens
    # at least one token is computed: with every prompt token cached the engine still runs the last
    # one to make the first output token, as the closed-loop simulation does (0 made the formula's
    # TTFT the fixed time alone at --prefix-hit 1: 53.9 ms against 65.4 ms at 0.999, 67.3 simulated)
    uncached = max(bm.uncached_tokens, 1.0)
    cached = bm.isl - uncached
    if bm.mode == "agg":
        chunk = min(uncached, budget)
        alone = -(-uncached // budget) * mixed_step(dep, max(bm.batch - 1.0, 0.0), bm.context_tokens, chunk,
                                                    bm.isl).time_s
        busy = uncached / budget * mixed_step(dep, bm.batch, bm.context_tokens, budget, bm.isl).time_s
        return alone, min(busy, alone)
    packed = max(1.0, budget // max(uncached, 1.0))
    alone = prefill_pass(dep, 1.0, uncached, cached).time_s + kv_transfer_time(dep, bm.isl)
    busy = prefill_pass(dep, packed, uncached, cached).time_s / packed + kv_transfer_time(dep, bm.isl)
    return alone, min(busy, alone)


def ttft(bm: Benchmark, dep: Deployment, prefill_dep: Deployment | None = None) -> float:
    """Mean TTFT of the closed-loop benchmark (module docstring). `dep` is the agg or decode
    instance, `prefill_dep` the prefill worker (disagg; None: `dep`)."""
    pd = prefill_dep if prefill_dep is not None else dep
    alone, busy = prefill_service_s(bm, pd)
    decode_s = max(bm.osl - 1.0, 0.0) * tpot(bm, dep)
    clients = max(bm.total_clients / (bm.prefill_workers if bm.mode == "disagg" else 1), 1.0)
    running = running_batch(bm, dep) * clients / max(bm.batch, 1.0)   # slots of the loop's requests
    served = min(clients, running)
    steady = closed_loop_response(served, alone, busy, decode_s)
    wave = alone + (served - 1.0) / 2.0 * busy       # the first prompts, all sent at once
    k = pd.calib.v("benchmark_requests_per_client")
    first = (wave + (k - 1.0) * steady) / k + request_overhead_s(pd)
    if clients <= running:
        return first
    # more requests than decode slots: each waits for a slot; a slot is held first + decode_s
    return first + (first + decode_s) * (clients / running - 1.0)
