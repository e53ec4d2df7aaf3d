"""Discrete-event simulation of a plan: does it meet its SLOs under Poisson arrivals?

Glossary: a *pool* is identical instances of one candidate (the plan JSON's `pools`), an
*instance* one engine; `λ` target QPS, `B` prompts per prefill pass (the pool's design
batch), `C` prefill tokens per colocated step, `b` decode batch, `a` tokens accepted per
decode step (MTP); all times in seconds.

A request's life:
1. It arrives (Poisson at λ) with input and output lengths drawn from the workload.
2. It goes to a prefill-capable instance: each instance receives exactly its share of the
   requests by usable prefill capacity (the split `verify.route` assumes), in random order
   (`run.split_exactly`), and queues there FIFO.
   - prefill instance: greedy batching; when its first pipeline stage is free it takes up
     to B waiting prompts and runs `perf.prefill_pass` on them; a new batch may enter every
     pass/pp. With B = 1 and pp = 1 this is an M/G/1 FIFO server, simulated in closed form
     by the Lindley recursion.
   - colocated instance: chunked prefill; each step takes up to C waiting prompt tokens
     beside its decode batch (`perf.mixed_step`).
3. Its KV moves to a decode-capable instance, split the same way by decode capacity
   (`perf.kv_transfer_time`; nothing moves when it stays on the same colocated instance, and
   a colocated instance keeps as many of its own prompts as its decode share allows:
   `run.decode_split`).
   TTFT: end of prefill, plus the KV transfer for a disaggregated prefill pool (as the
   analytic TTFT counts it).
   With request classes (a fleet's shared pools) each request is first drawn of a class in
   proportion to its QPS, and its lengths from that class; each class is held to its own SLO
   (the prefix-cache hit is the classes' token-weighted mean).
4. It joins that instance's continuous batch at the next step start (FIFO, up to the
   memory limit at peak context: its batch slots; a prompt that will decode on its colocated
   instance takes its slot before its first chunk, so it waits for one before its prefill); a
   step takes `perf.decode_step` (or `mixed_step`) at the
   current batch and mean decode context and advances every sequence by a tokens.
   TPOT = (finish − TTFT time)/(output − 1).
Pass and step times are tabulated per pool on a grid and interpolated. Statistics count
only requests arriving inside the measurement window: the arrival span without, at each
end, the larger of WARMUP_FRACTION of it and one request lifetime at the SLO (TTFT plus
the longest output at the TPOT limit), so that batches have filled up before it opens and
have not begun to drain when it closes.

Modules, in the order data flows: `planfile` (the plan JSON the simulator reads), `results`
(what a run gives), `tables` (catalog look-ups and tabulated pass and step times), `engine`
(prefill servers and decode engines), `run` (`simulate`: drawing, routing, measuring).
Rendering is `planner.report.simulate`.
"""

from planner.studies.simulate.engine import batched_server, lindley_waits, run_engines
from planner.studies.simulate.fleet import catalog_of, period_indices, period_plan, service_plan, simulate_services
from planner.studies.simulate.planfile import (
    PlanClass,
    PlanFile,
    PlanParallelism,
    PlanPool,
    PlanSLO,
    PlanWorkload,
    load_plan,
    plan_from_dict,
)
from planner.studies.simulate.results import (
    WARMUP_FRACTION,
    ClassResult,
    PoolResult,
    SimResult,
    Summary,
    Violation,
)
from planner.studies.simulate.run import (
    DEFAULT_REQUESTS,
    DEFAULT_SEED,
    MIN_REQUESTS,
    decode_context,
    measurement_window,
    simulate,
    violations,
)
from planner.studies.simulate.tables import SimCatalog, batch_grid, length_grid, physics

__all__ = [
    "DEFAULT_REQUESTS", "DEFAULT_SEED", "MIN_REQUESTS", "WARMUP_FRACTION",
    "ClassResult", "PlanClass", "PlanFile", "PlanParallelism", "PlanPool", "PlanSLO", "PlanWorkload",
    "PoolResult", "SimCatalog", "SimResult", "Summary", "Violation",
    "batch_grid", "batched_server", "catalog_of",
    "period_indices", "period_plan", "decode_context", "length_grid", "lindley_waits", "load_plan",
    "measurement_window", "physics", "plan_from_dict", "run_engines", "service_plan", "simulate",
    "simulate_services", "violations",
]
