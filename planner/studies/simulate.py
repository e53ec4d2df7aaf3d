"""Discrete-event simulation of a plan: does it meet its SLOs under Poisson arrivals?

Glossary: a *pool* is identical instances of one candidate (the plan JSON's `pools`), an
*instance* one engine; `λ` target QPS, `B` prompts per prefill pass (the pool's design
batch), `C` prefill tokens per colocated step, `b` decode batch, `a` tokens accepted per
decode step (MTP); all times in seconds.

A request's life:
1. It arrives (Poisson at λ) with input and output lengths drawn from the workload.
2. It picks a prefill-capable instance at random in proportion to usable prefill capacity
   (the split `verify.route` assumes) and queues there FIFO.
   - prefill instance: greedy batching; when its first pipeline stage is free it takes up
     to B waiting prompts and runs `perf.prefill_pass` on them; a new batch may enter every
     pass/pp. With B = 1 and pp = 1 this is an M/G/1 FIFO server, simulated in closed form
     by the Lindley recursion.
   - colocated instance: chunked prefill; each step takes up to C waiting prompt tokens
     beside its decode batch (`perf.mixed_step`).
3. Its KV moves to a decode-capable instance picked in proportion to decode capacity
   (`perf.kv_transfer_time`; nothing moves when it stays on the same colocated instance).
   TTFT: end of prefill, plus the KV transfer for a disaggregated prefill pool (as the
   analytic TTFT counts it).
   With request classes (a fleet's shared pools) each request is first drawn of a class in
   proportion to its QPS, and its lengths from that class; each class is held to its own SLO
   (the prefix-cache hit is the classes' token-weighted mean).
4. It joins that instance's continuous batch at the next step start (FIFO, up to the
   memory limit at peak context); a step takes `perf.decode_step` (or `mixed_step`) at the
   current batch and mean decode context and advances every sequence by a tokens.
   TPOT = (finish − TTFT time)/(output − 1).
Pass and step times are tabulated per pool on a grid and interpolated. Statistics count
only requests arriving inside the measurement window: the arrival span without, at each
end, the larger of WARMUP_FRACTION of it and one request lifetime at the SLO (TTFT plus
the longest output at the TPOT limit), so that batches have filled up before it opens and
have not begun to drain when it closes.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from planner.physics import perf
from planner.catalog.schemas import get_gpu, get_model, load_calibration
from planner.errors import BadInput
from planner.physics.perf import Deployment, Parallelism
from planner.input.problem import decode_context as weighted_decode_context
from planner.input.files import read_json, validate

DEFAULT_REQUESTS = 100_000
DEFAULT_SEED = 0
WARMUP_FRACTION = 0.05     # share of the arrival span left out of statistics at each end
DENSE_BATCH_UPTO = 32      # batch sizes tabulated one by one; geometric beyond
GEOMETRIC_POINTS = 48      # grid points from DENSE_BATCH_UPTO to the largest batch
LENGTH_GRID_POINTS = 32    # prompt lengths tabulated when the workload has more values
CHUNK_GRID_POINTS = 9      # colocated prefill chunk sizes tabulated from 0 to C


# ----------------------------------------------------------------------------- plan input
class _PlanPart(BaseModel):
    """Keys of a `plan solve` JSON the simulator reads. Unknown keys are ignored, not
    forbidden: the plan is written by `plan solve`, whose contract grows additively."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PlanParallelism(_PlanPart):
    tp: Annotated[int, Field(ge=1)]
    pp: Annotated[int, Field(ge=1)]
    dp: Annotated[int, Field(ge=1)]


class PlanPool(_PlanPart):
    name: str
    role: Literal["prefill", "decode", "colocated"]
    gpu: str
    instances: Annotated[int, Field(ge=1)]
    parallelism: PlanParallelism
    design_batch: Annotated[int, Field(ge=1)]
    chunk_tokens: NonNegative
    capacity_prefill_tokens_per_s: NonNegative
    capacity_decode_tokens_per_s: NonNegative
    utilization: NonNegative
    batch: NonNegative
    ttft_s: NonNegative | None = None
    tpot_s: NonNegative | None = None


class PlanWorkload(_PlanPart):
    qps: Positive
    input_tokens: Positive
    output_tokens: Positive
    prefix_cache_hit: Annotated[float, Field(ge=0, lt=1)] = 0.0
    input_distribution: list[list[float]] | None = None   # [[tokens, probability], ...]
    output_distribution: list[list[float]] | None = None

    @field_validator("input_distribution", "output_distribution")
    @classmethod
    def _pairs(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("must list at least one [tokens, probability] pair")
        for pair in v:
            if len(pair) != 2 or pair[0] < 1 or pair[1] <= 0 or not all(map(math.isfinite, pair)):
                raise ValueError(f"each entry must be [tokens >= 1, probability > 0], got {pair}")
        return v


class PlanSLO(_PlanPart):
    ttft_s: Positive
    tpot_s: Positive
    ttft_statistic: Literal["mean", "p50", "p90", "p95", "p99"] = "mean"
    tpot_statistic: Literal["mean", "p50", "p90", "p95", "p99"] = "mean"


class PlanClass(PlanWorkload):
    """One request class of pools shared by several (a fleet's service): its own lengths and SLO."""

    name: str
    slo: PlanSLO


class PlanFile(_PlanPart):
    problem: str
    classes: list[PlanClass] = []   # request classes sharing the pools (fleets); empty: one workload
    model: str
    model_source: str | None = None       # what the problem wrote (catalog id or config path)
    weight_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    kv_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    calibration: str
    calibration_source: str | None = None
    calibration_overrides: dict[str, float] = {}
    workload: PlanWorkload
    slo: PlanSLO
    pools: list[PlanPool] = Field(min_length=1)


def load_plan(path: str | Path) -> PlanFile:
    """Read and validate a plan JSON written by `plan solve --out`."""
    return plan_from_dict(read_json(path), str(path))


def plan_from_dict(data: Any, source: str) -> PlanFile:
    """Validate plan data (the output of `Plan.as_dict()`); BadInput names source and field."""
    plan = validate(PlanFile, data, source)
    if not any(p.role != "decode" and p.capacity_prefill_tokens_per_s > 0 for p in plan.pools):
        raise BadInput(f"{source}: pools: no pool has prefill capacity (capacity_prefill_tokens_per_s)")
    if not any(p.role != "prefill" and p.capacity_decode_tokens_per_s > 0 for p in plan.pools):
        raise BadInput(f"{source}: pools: no pool has decode capacity (capacity_decode_tokens_per_s)")
    for i, p in enumerate(plan.pools):
        if p.role == "colocated" and p.chunk_tokens < 1:
            raise BadInput(f"{source}: pools[{i}].chunk_tokens: a colocated pool needs at least 1 "
                           f"prefill token per step (got {p.chunk_tokens:g})")
    return plan


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Summary:
    """Mean and percentiles of a sample of times (seconds)."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float

    @classmethod
    def of(cls, x: np.ndarray) -> "Summary | None":
        """Summary of `x`, or None when it is empty."""
        if x.size == 0:
            return None
        p50, p90, p95, p99 = np.percentile(x, [50, 90, 95, 99])
        return cls(float(x.mean()), float(p50), float(p90), float(p95), float(p99))

    def get(self, statistic: str) -> float:
        """Value of 'mean', 'p50', 'p90', 'p95' or 'p99'."""
        return getattr(self, statistic)

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "p50": self.p50, "p90": self.p90, "p95": self.p95, "p99": self.p99}


@dataclass(frozen=True)
class PoolResult:
    """One pool: simulated statistics beside the analytic values the MILP used."""

    name: str
    role: str
    gpu: str
    instances: int
    analytic_ttft_s: float | None
    analytic_tpot_s: float | None
    analytic_utilization: float
    analytic_batch: float
    ttft: Summary | None
    tpot: Summary | None
    queue_wait: Summary | None     # arrival → start of its prefill
    utilization: float | None      # prefill: busy share of the entry stage; decode: load/capacity;
    batch: float | None            # colocated: share of the chunk budget used; batch time-averaged

    def as_dict(self) -> dict[str, Any]:
        def s(x: Summary | None):
            return None if x is None else x.as_dict()
        return {"name": self.name, "role": self.role, "gpu": self.gpu, "instances": self.instances,
                "analytic": {"ttft_s": self.analytic_ttft_s, "tpot_s": self.analytic_tpot_s,
                             "utilization": self.analytic_utilization, "batch": self.analytic_batch},
                "simulated": {"ttft_s": s(self.ttft), "tpot_s": s(self.tpot),
                              "queue_wait_s": s(self.queue_wait), "utilization": self.utilization,
                              "batch": self.batch}}


@dataclass(frozen=True)
class ClassResult:
    """One request class in shared pools: its simulated TTFT and TPOT against its own SLO."""

    name: str
    slo: PlanSLO
    requests: int
    ttft: Summary
    tpot: Summary | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "slo": self.slo.model_dump(), "measured_requests": self.requests,
                "ttft_s": self.ttft.as_dict(), "tpot_s": None if self.tpot is None else self.tpot.as_dict()}


@dataclass(frozen=True)
class Violation:
    """A simulated statistic above its SLO, for all requests ('all') or one pool."""

    scope: str
    metric: Literal["ttft", "tpot"]
    statistic: str
    value_s: float
    limit_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "metric": self.metric, "statistic": self.statistic,
                "value_s": self.value_s, "limit_s": self.limit_s}


@dataclass(frozen=True)
class SimResult:
    """Outcome of one simulation run; `as_dict()` gives the JSON keys (README, "Checking a plan by simulation")."""

    problem: str
    requests: int
    measured_requests: int
    seed: int
    simulated_seconds: float
    slo: PlanSLO
    ttft: Summary
    tpot: Summary | None
    pools: tuple[PoolResult, ...]
    violations: tuple[Violation, ...]
    classes: tuple[ClassResult, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "requests": self.requests,
                "measured_requests": self.measured_requests, "seed": self.seed,
                "warmup_fraction": WARMUP_FRACTION, "simulated_seconds": self.simulated_seconds,
                "slo": self.slo.model_dump(),
                "ttft_s": self.ttft.as_dict(), "tpot_s": None if self.tpot is None else self.tpot.as_dict(),
                "pools": [p.as_dict() for p in self.pools],
                "violations": [v.as_dict() for v in self.violations], "passed": self.passed,
                **({"classes": [c.as_dict() for c in self.classes]} if self.classes else {})}


# ----------------------------------------------------------------------------- physics tables
@dataclass(frozen=True)
class _Physics:
    """Shared look-ups: the model, calibration and workload numbers every pool needs."""

    plan: PlanFile
    deployments: tuple[Deployment, ...]        # one per pool
    lengths_in: tuple[np.ndarray, np.ndarray]  # (values, probabilities)
    lengths_out: tuple[np.ndarray, np.ndarray]
    tokens_per_step: float                     # a: accepted tokens per decode step


def _catalog(source: str, field: str, fn):
    """Run a catalog look-up; a BadInput names the plan file and field."""
    try:
        return fn()
    except BadInput as e:
        raise BadInput(f"{source}: {field}: {e}") from None


def _distribution(pairs: list[list[float]] | None, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, probabilities) of a length distribution; the mean alone when the plan lacks it."""
    if not pairs:
        return np.array([mean]), np.array([1.0])
    v = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    return v, w / w.sum()


def physics(plan: PlanFile, source: str) -> _Physics:
    """Rebuild each pool's Deployment from catalog look-ups (model, GPU, calibration)."""
    model = _catalog(source, "model", lambda: get_model(plan.model_source or plan.model))
    calib = _catalog(source, "calibration",
                     lambda: load_calibration(plan.calibration_source or plan.calibration))
    if plan.calibration_overrides:
        calib = _catalog(source, "calibration_overrides",
                         lambda: calib.with_overrides(plan.calibration_overrides))
    deps = []
    for i, p in enumerate(plan.pools):
        gpu = _catalog(source, f"pools[{i}].gpu", lambda: get_gpu(p.gpu))
        par = Parallelism(tp=p.parallelism.tp, pp=p.parallelism.pp, dp=p.parallelism.dp)
        deps.append(Deployment(model, gpu, par, calib, plan.weight_dtype, plan.kv_dtype))
    w = plan.workload
    return _Physics(plan, tuple(deps), _distribution(w.input_distribution, w.input_tokens),
                    _distribution(w.output_distribution, w.output_tokens),
                    calib.v("decode_tokens_per_step"))


def batch_grid(limit: int) -> np.ndarray:
    """Batch sizes to tabulate: 1…DENSE_BATCH_UPTO one by one, then geometric up to `limit`."""
    dense = np.arange(1, min(limit, DENSE_BATCH_UPTO) + 1)
    if limit <= DENSE_BATCH_UPTO:
        return dense
    geo = np.geomspace(DENSE_BATCH_UPTO, limit, GEOMETRIC_POINTS).round().astype(int)
    return np.unique(np.concatenate([dense, geo, [limit]]))


def _fill(grid: np.ndarray, values: list[float], limit: int) -> np.ndarray:
    """Values at 0…limit by linear interpolation of a tabulated grid (0 takes grid[0]'s value)."""
    return np.interp(np.arange(limit + 1), grid, values)


def length_grid(values: np.ndarray) -> np.ndarray:
    """Prompt lengths to tabulate: the workload's own values, or a geometric grid over them."""
    u = np.unique(values)
    if u.size <= LENGTH_GRID_POINTS:
        return u
    return np.geomspace(u[0], u[-1], LENGTH_GRID_POINTS)


def prefill_table(dep: Deployment, max_prompts: int, s_grid: np.ndarray, hit: float) -> np.ndarray:
    """Seconds of one prefill pass, [k prompts 0…B, prompt length on s_grid]; row 0 unused."""
    ks = batch_grid(max_prompts)
    cols = []
    for s in s_grid:
        t = [perf.prefill_pass(dep, k, s * (1 - hit), s * hit).time_s for k in ks]
        cols.append(_fill(ks, t, max_prompts))
    return np.stack(cols, axis=1)


def decode_table(dep: Deployment, cap: int, ctx: float) -> list[float]:
    """Seconds of one decode step at batch 0…cap (mean decode context `ctx`)."""
    bs = batch_grid(cap)
    return _fill(bs, [perf.decode_step(dep, b, ctx).time_s for b in bs], cap).tolist()


def mixed_table(dep: Deployment, cap: int, ctx: float, chunk: float, prompt: float) -> list[list[float]]:
    """Seconds of one chunked-prefill step, [batch 0…cap][chunk on linspace(0, C, CHUNK_GRID_POINTS)]."""
    bs = np.concatenate([[0], batch_grid(cap)])
    cols = []
    for c in np.linspace(0.0, chunk, CHUNK_GRID_POINTS):
        t = [perf.mixed_step(dep, b, ctx, c, prompt).time_s if b or c else 0.0 for b in bs]
        if c == 0:
            t[0] = t[1]  # an idle step never runs; keep the table monotone
        cols.append(np.interp(np.arange(cap + 1), bs, t))
    return np.stack(cols, axis=1).tolist()


# ----------------------------------------------------------------------------- prefill servers
def lindley_waits(arrivals: np.ndarray, service: np.ndarray) -> np.ndarray:
    """FIFO single-server waits: W₁ = 0, Wₙ₊₁ = max(0, Wₙ + Sₙ − (Aₙ₊₁ − Aₙ)), in closed form
    Wₙ = Uₙ − min_{k≤n} Uₖ with U the cumulative sum of Sₖ − (Aₖ₊₁ − Aₖ)."""
    if arrivals.size == 0:
        return np.zeros(0)
    u = np.concatenate([[0.0], np.cumsum(service[:-1] - np.diff(arrivals))])
    return u - np.minimum.accumulate(u)


def batched_server(arrivals: list[float], lengths: list[float], max_prompts: int, stages: int,
                   pass_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy batching: when the entry stage frees, take up to `max_prompts` waiting prompts,
    run one pass of `pass_s(k, mean length)`; the next batch may enter after pass/stages.

    Returns per request (start, done) and per batch (start, entry-stage busy seconds) stacked.
    """
    n = len(arrivals)
    start = np.empty(n)
    done = np.empty(n)
    batches = []
    free, i = 0.0, 0
    cum = np.concatenate([[0.0], np.cumsum(lengths)]).tolist()
    while i < n:
        t0 = arrivals[i] if arrivals[i] > free else free
        j = bisect_right(arrivals, t0, i, min(n, i + max_prompts))
        dt = pass_s(j - i, (cum[j] - cum[i]) / (j - i))
        start[i:j] = t0
        done[i:j] = t0 + dt
        free = t0 + dt / stages
        batches.append((t0, dt / stages))
        i = j
    return start, done, np.array(batches).reshape(-1, 2)


# ----------------------------------------------------------------------------- decode engines
class _Engine:
    """Mutable state of one decode-capable instance during the run (internal to `simulate`)."""

    def __init__(self, pool: int, steps_s, cap: int, chunk: float, prefill_ids: list[int],
                 prefill_arrivals: list[float], uncached: list[float]):
        self.pool, self.steps_s, self.cap, self.chunk = pool, steps_s, cap, chunk
        self.p_ids, self.p_arr, self.unc = prefill_ids, prefill_arrivals, uncached
        self.p_next = 0
        self.p_left = uncached[0] if uncached else 0.0
        self.clock = 0.0
        self.idle = True
        self.b = 0
        self.step = 0
        self.pending: list[tuple[float, int]] = []   # heap of (ready time, request)
        self.ends: dict[int, list[int]] = {}          # step index → requests finishing then
        self.win_s = self.win_batch_s = self.win_tokens = self.win_chunk = self.win_budget = 0.0

    def next_wake(self) -> float:
        """Earliest time something can happen on an idle instance."""
        a = self.pending[0][0] if self.pending else math.inf
        b = self.p_arr[self.p_next] if self.p_next < len(self.p_arr) else math.inf
        return min(a, b)

    def step_time(self, chunk: float) -> float:
        """Seconds of a step at the current batch with `chunk` prefill tokens."""
        row = self.steps_s[self.b]
        if not self.chunk:
            return row
        x = chunk / self.chunk * (CHUNK_GRID_POINTS - 1)
        j = min(int(x), CHUNK_GRID_POINTS - 2)
        f = x - j
        return row[j] * (1 - f) + row[j + 1] * f


def _take_chunk(e: _Engine, now: float, started: np.ndarray) -> tuple[float, list[int]]:
    """Up to C prompt tokens from the head of the instance's prefill queue (arrived by `now`);
    returns the tokens taken and the prompts they complete."""
    budget, done = e.chunk, []
    while budget > 0 and e.p_next < len(e.p_arr) and e.p_arr[e.p_next] <= now:
        r = e.p_ids[e.p_next]
        if math.isnan(started[r]):
            started[r] = now
        take = min(budget, e.p_left)
        budget -= take
        e.p_left -= take
        if e.p_left <= 1e-9:
            done.append(r)
            e.p_next += 1
            e.p_left = e.unc[e.p_next] if e.p_next < len(e.unc) else 0.0
    return e.chunk - budget, done


def run_engines(engines: list[_Engine | None], steps_needed: np.ndarray, dec_inst: np.ndarray,
                kv_s: np.ndarray, tokens_per_step: float, window: tuple[float, float],
                first: np.ndarray, finish: np.ndarray, started: np.ndarray) -> None:
    """Advance all decode-capable instances in time order (a heap of next step starts).

    Colocated prefills hand requests to other instances while the run goes on, so all
    engines share one clock order; requests from prefill pools are already in `pending`.
    `engines` is indexed by instance (None for prefill instances). Fills `first`
    (colocated prefills), `finish` and `started` in place.
    """
    heap = []
    for i, e in enumerate(engines):
        if e is None:
            continue
        heapq.heapify(e.pending)
        e.clock = e.next_wake()
        if e.clock < math.inf:
            heap.append((e.clock, i))
    heapq.heapify(heap)
    w0, w1 = window
    while heap:
        now, i = heapq.heappop(heap)
        e = engines[i]
        assert e is not None
        if now != e.clock:
            continue
        while e.pending and e.b < e.cap and e.pending[0][0] <= now:
            _, r = heapq.heappop(e.pending)
            e.ends.setdefault(e.step + int(steps_needed[r]) - 1, []).append(r)
            e.b += 1
        chunk, completed = _take_chunk(e, now, started) if e.chunk else (0.0, [])
        if e.b == 0 and chunk == 0:
            e.idle, e.clock = True, e.next_wake()
            if e.clock < math.inf:
                heapq.heappush(heap, (e.clock, i))
            continue
        e.idle = False
        dt = e.step_time(chunk)
        end = now + dt
        if w0 <= now <= w1:
            e.win_s += dt
            e.win_batch_s += e.b * dt
            e.win_tokens += e.b * tokens_per_step
            e.win_chunk += chunk
            e.win_budget += e.chunk
        finished = e.ends.pop(e.step, ())
        for r in finished:
            finish[r] = end
        e.b -= len(finished)
        e.step += 1
        for r in completed:
            first[r] = end
            if steps_needed[r] == 0:
                finish[r] = end
                continue
            y = int(dec_inst[r])
            ready = end if y == i else end + kv_s[r]
            target = engines[y]
            assert target is not None  # decode routing gives prefill instances no weight
            heapq.heappush(target.pending, (ready, r))
            if target.idle and ready < target.clock:
                target.clock = ready
                heapq.heappush(heap, (ready, y))
        e.clock = end
        heapq.heappush(heap, (end, i))


# ----------------------------------------------------------------------------- the run
MIN_REQUESTS = 100


@dataclass(frozen=True)
class _Run:
    """Per-request outcome arrays of one run (seconds since the first arrival; NaN if unset)."""

    arrivals: np.ndarray
    s_out: np.ndarray
    pre_pool: np.ndarray      # pool index of the prefill instance
    dec_pool: np.ndarray      # pool index of the decode instance
    started: np.ndarray       # start of its prefill
    ttft_at: np.ndarray       # time its first token counts as delivered
    finish: np.ndarray        # time of its last token
    window: tuple[float, float]             # measurement window of arrival times
    utilization: tuple[float | None, ...]   # per pool, over the measurement window
    batch: tuple[float | None, ...]
    klass: np.ndarray | None = None         # request class index (shared pools of a fleet)


def simulate(plan: PlanFile, requests: int = DEFAULT_REQUESTS, seed: int = DEFAULT_SEED,
             source: str = "plan") -> SimResult:
    """Simulate `requests` requests of the plan's workload; compare with its analytic values and SLOs."""
    if requests < MIN_REQUESTS:
        raise BadInput(f"--requests: need at least {MIN_REQUESTS} requests (got {requests})")
    run = _run(plan, physics(plan, source), requests, seed, source)
    measured = (run.arrivals >= run.window[0]) & (run.arrivals <= run.window[1])
    ttft = run.ttft_at - run.arrivals
    decodes = run.s_out > 1
    tpot = np.full(requests, np.nan)
    tpot[decodes] = (run.finish[decodes] - run.ttft_at[decodes]) / (run.s_out[decodes] - 1)
    wait = run.started - run.arrivals
    pools = []
    for k, p in enumerate(plan.pools):
        pre = measured & (run.pre_pool == k)
        dec = measured & decodes & (run.dec_pool == k)
        pools.append(PoolResult(p.name, p.role, p.gpu, p.instances, p.ttft_s, p.tpot_s,
                                p.utilization, p.batch,
                                Summary.of(ttft[pre]) if p.role != "decode" else None,
                                Summary.of(tpot[dec]) if p.role != "prefill" else None,
                                Summary.of(wait[pre]) if p.role != "decode" else None,
                                run.utilization[k], run.batch[k]))
    all_ttft = Summary.of(ttft[measured])
    all_tpot = Summary.of(tpot[measured & decodes])
    assert all_ttft is not None  # the window holds requests (checked in measurement_window)
    classes = []
    for i, k in enumerate(plan.classes):
        mine = measured & (run.klass == i)
        s_ttft = Summary.of(ttft[mine])
        if s_ttft is not None:
            classes.append(ClassResult(k.name, k.slo, int(mine.sum()), s_ttft, Summary.of(tpot[mine & decodes])))
    found = violations(plan.slo, all_ttft, all_tpot, pools) if not classes else []
    for c in classes:   # shared pools: each class against its own SLO
        found += [Violation(f"class {c.name}", v.metric, v.statistic, v.value_s, v.limit_s)
                  for v in violations(c.slo, c.ttft, c.tpot, [])]
    return SimResult(plan.problem, requests, int(measured.sum()), seed, float(np.nanmax(run.finish)),
                     plan.slo, all_ttft, all_tpot, tuple(pools), tuple(found), tuple(classes))


def violations(slo: PlanSLO, ttft: Summary, tpot: Summary | None, pools: list[PoolResult]) -> list[Violation]:
    """Every simulated SLO statistic above its limit, for all requests and for each pool."""
    scopes = [("all", ttft, tpot)] + [(p.name, p.ttft, p.tpot) for p in pools]
    out = []
    for scope, t1, t2 in scopes:
        if t1 is not None and t1.get(slo.ttft_statistic) > slo.ttft_s:
            out.append(Violation(scope, "ttft", slo.ttft_statistic, t1.get(slo.ttft_statistic), slo.ttft_s))
        if t2 is not None and t2.get(slo.tpot_statistic) > slo.tpot_s:
            out.append(Violation(scope, "tpot", slo.tpot_statistic, t2.get(slo.tpot_statistic), slo.tpot_s))
    return out


def _run(plan: PlanFile, ph: _Physics, n: int, seed: int, source: str) -> _Run:
    """Draw the requests, route them, run prefill servers then the decode engines."""
    w, pools = plan.workload, plan.pools
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / w.qps, n))
    klass = None
    if plan.classes:   # each request is of one class; its prompt and output lengths come from that class
        q = np.array([k.qps for k in plan.classes])
        klass = rng.choice(len(plan.classes), size=n, p=q / q.sum())
        s_in, s_out = np.empty(n), np.empty(n)
        for i, k in enumerate(plan.classes):
            mine = np.flatnonzero(klass == i)
            vi, pi = _distribution(k.input_distribution, k.input_tokens)
            vo, po = _distribution(k.output_distribution, k.output_tokens)
            s_in[mine] = rng.choice(vi, size=mine.size, p=pi)
            s_out[mine] = rng.choice(vo, size=mine.size, p=po)
    else:
        s_in = rng.choice(ph.lengths_in[0], size=n, p=ph.lengths_in[1])
        s_out = rng.choice(ph.lengths_out[0], size=n, p=ph.lengths_out[1])
    steps_needed = np.ceil(np.maximum(s_out - 1, 0) / ph.tokens_per_step).astype(np.int64)
    pool_of = np.repeat(np.arange(len(pools)), [p.instances for p in pools])  # instance → pool
    pre_w = np.array([pools[k].capacity_prefill_tokens_per_s / pools[k].instances
                      if pools[k].role != "decode" else 0.0 for k in pool_of])
    dec_w = np.array([pools[k].capacity_decode_tokens_per_s / pools[k].instances
                      if pools[k].role != "prefill" else 0.0 for k in pool_of])
    pre_inst = rng.choice(pool_of.size, size=n, p=pre_w / pre_w.sum())
    dec_inst = rng.choice(pool_of.size, size=n, p=dec_w / dec_w.sum())
    window = measurement_window(arrivals, plan.slo, float(ph.lengths_out[0].max()))
    span = window[1] - window[0]

    started, first, ttft_at, finish = (np.full(n, np.nan) for _ in range(4))
    kv_s = np.zeros(n)
    ctx_decode = decode_context(plan)
    ctx_peak = float(ph.lengths_in[0].max() + ph.lengths_out[0].max())
    s_grid = length_grid(ph.lengths_in[0])
    busy = np.zeros(len(pools))
    engines: list[_Engine | None] = [None] * pool_of.size
    tables: dict[int, Any] = {}
    for x, k in enumerate(pool_of.tolist()):
        p, dep = pools[k], ph.deployments[k]
        ids = np.flatnonzero(pre_inst == x)
        if p.role != "decode":
            kv_s[ids] = perf.kv_transfer_time(dep, s_in[ids])
        if p.role == "prefill":
            if k not in tables:
                tables[k] = prefill_table(dep, p.design_batch, s_grid, w.prefix_cache_hit)
            st, dn, batches = _prefill_instance(arrivals[ids], s_in[ids], p, s_grid, tables[k])
            started[ids], first[ids], ttft_at[ids] = st, dn, dn + kv_s[ids] + perf.request_overhead_s(dep)
            inside = (batches[:, 0] >= window[0]) & (batches[:, 0] <= window[1])
            busy[k] += batches[inside, 1].sum() / span
            continue
        cap = perf.max_batch(dep, ctx_peak)
        if cap < 1:
            raise BadInput(f"{source}: pools[{k}]: {p.name}: one sequence of {ctx_peak:g} tokens does not fit "
                           f"in memory; re-solve the problem")
        if k not in tables:
            tables[k] = (mixed_table(dep, cap, ctx_decode, p.chunk_tokens, w.input_tokens)
                         if p.role == "colocated" else decode_table(dep, cap, ctx_decode))
        chunk = p.chunk_tokens if p.role == "colocated" else 0.0
        engines[x] = _Engine(k, tables[k], cap, chunk, ids.tolist(), arrivals[ids].tolist(),
                             (s_in[ids] * (1 - w.prefix_cache_hit)).tolist())
    from_prefill = np.flatnonzero(~np.isnan(ttft_at))
    done_now = from_prefill[steps_needed[from_prefill] == 0]
    finish[done_now] = ttft_at[done_now]
    for r in from_prefill[steps_needed[from_prefill] > 0].tolist():
        engines[dec_inst[r]].pending.append((ttft_at[r], r))
    live = [e for e in engines if e is not None]
    run_engines(engines, steps_needed, dec_inst, kv_s, ph.tokens_per_step, window, first, finish, started)
    coloc = np.isnan(ttft_at)
    ttft_at[coloc] = first[coloc] + perf.request_overhead_s(ph.deployments[0])  # one calibration per plan
    util, batch = [], []
    for k, p in enumerate(pools):
        mine = [e for e in live if e.pool == k]
        if p.role == "prefill":
            util.append(float(busy[k] / p.instances))
            batch.append(None)
            continue
        batch.append(sum(e.win_batch_s for e in mine) / (span * p.instances))
        if p.role == "colocated":
            budget = sum(e.win_budget for e in mine)
            util.append(sum(e.win_chunk for e in mine) / budget if budget else 0.0)
        else:
            util.append(sum(e.win_tokens for e in mine) / span / p.capacity_decode_tokens_per_s)
    return _Run(arrivals, s_out, pool_of[pre_inst], pool_of[dec_inst], started, ttft_at, finish,
                window, tuple(util), tuple(batch), klass)


def decode_context(plan: PlanFile) -> float:
    """Mean context in a decode batch: s_in + s_out/2, output-weighted over classes when shared
    (problem.decode_context, as the candidates used)."""
    if not plan.classes:
        return plan.workload.input_tokens + plan.workload.output_tokens / 2.0
    return weighted_decode_context([(k.qps, k.input_tokens, k.output_tokens) for k in plan.classes])


def measurement_window(arrivals: np.ndarray, slo: PlanSLO, longest_output: float) -> tuple[float, float]:
    """Arrival times whose requests see a full, not yet draining system: the span without,
    at each end, max(WARMUP_FRACTION·span, TTFT + (longest output − 1)·TPOT at the SLO)."""
    t0, t1 = float(arrivals[0]), float(arrivals[-1])
    lifetime = slo.ttft_s + max(longest_output - 1.0, 0.0) * slo.tpot_s
    trim = max(WARMUP_FRACTION * (t1 - t0), lifetime)
    if t1 - t0 <= 4 * trim:
        need = math.ceil(arrivals.size * 4 * trim / max(t1 - t0, 1e-12)) + 1
        raise BadInput(f"--requests: {arrivals.size} requests span {t1 - t0:.3g} s, too short beside "
                       f"a request lifetime of {lifetime:.3g} s; use at least {need} requests")
    return t0 + trim, t1 - trim


def _prefill_instance(arrivals: np.ndarray, s_in: np.ndarray, p: PlanPool, s_grid: np.ndarray,
                      table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, done, batches) of one prefill instance; Lindley in closed form when B = pp = 1."""
    if p.design_batch == 1 and p.parallelism.pp == 1:
        service = np.interp(s_in, s_grid, table[1])
        start = arrivals + lindley_waits(arrivals, service)
        return start, start + service, np.column_stack([start, service])

    def pass_s(k: int, s: float) -> float:
        return float(np.interp(s, s_grid, table[k]))
    return batched_server(arrivals.tolist(), s_in.tolist(), p.design_batch, p.parallelism.pp, pass_s)
