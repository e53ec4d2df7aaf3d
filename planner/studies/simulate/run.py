"""One simulation run: draw and route the requests, run the servers and engines over the
plan's tabulated physics, and measure TTFT, TPOT, utilisation and batch inside the window."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import BadInput, PlannerNotice
from planner.physics import perf
from planner.physics.bulk_table import BATCHES, RHO_MAX, lookup
from planner.plan.resolve import decode_context as weighted_decode_context
from planner.studies.simulate.engine import Engine, prefill_instance, run_engines, start_full, steady_batch
from planner.studies.simulate.planfile import PlanFile, PlanPool, PlanSLO, check_clock
from planner.studies.simulate.results import (
    WARMUP_FRACTION,
    ClassResult,
    PoolResult,
    SimResult,
    Summary,
    Violation,
    batch_error,
)
from planner.studies.simulate.tables import (
    SimCatalog,
    SimPhysics,
    check_fits,
    chunk_grid,
    decode_table,
    distribution,
    eager_parts,
    length_grid,
    mixed_table,
    physics,
    prefill_table,
    prompt_cv2,
)

DEFAULT_REQUESTS = 100_000
DEFAULT_SEED = 0
MIN_REQUESTS = 100
MAX_REQUESTS = 5_000_000   # the simulator keeps every request: about 1 GB at this cap (cli's --requests)


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
    planned_busy: tuple[float | None, ...] = ()   # prefill pools: the plan's busy share (analytic)


def simulate(plan: PlanFile, requests: int = DEFAULT_REQUESTS, seed: int = DEFAULT_SEED,
             source: str = "plan", *, resolved: SimCatalog | None = None) -> SimResult:
    """Simulate `requests` requests of the plan's workload; compare with its analytic values and SLOs.

    `resolved`: the model, GPUs and calibration when the caller already holds them (they are
    then not looked up again by the plan's names); None looks them up.
    """
    if requests < MIN_REQUESTS:
        raise BadInput(f"--requests: need at least {MIN_REQUESTS} requests (got {requests})")
    instances = sum(p.instances for p in plan.pools)
    if instances > requests:   # the per-instance work (and memory) would dwarf the run, to no end
        # (a TooFewRequests: plan solve --simulate, whose user chose no count, runs again at `instances`)
        raise TooFewRequests(f"--requests: {requests:,} requests over the plan's {instances:,} instances leave "
                             f"some without a single request; " + (
                           f"simulate at least {instances:,} (a plan this large is better checked on a "
                           f"fraction of its traffic)" if instances <= MAX_REQUESTS else
                           f"the simulator takes at most {MAX_REQUESTS:,}, so check a fraction of the "
                           f"traffic: the same problem at a lower QPS"),
                             instances if instances <= MAX_REQUESTS else None)
    check_clock(plan, requests)
    ph = physics(plan, source, resolved)
    check_fits(ph, source)   # as plan export: a prefill pool edited onto cards its weights overflow ran at 99.9 %
    run = _run(plan, ph, requests, seed, source)
    measured = (run.arrivals >= run.window[0]) & (run.arrivals <= run.window[1])
    ttft = run.ttft_at - run.arrivals
    decodes = run.s_out > 1
    tpot = np.full(requests, np.nan)
    tpot[decodes] = (run.finish[decodes] - run.ttft_at[decodes]) / (run.s_out[decodes] - 1)
    wait = run.started - run.arrivals
    pools = []
    for k, p in enumerate(plan.pools):
        pre, dec = _pool_masks(plan, k, measured, decodes, run)
        planned = run.planned_busy[k] if run.planned_busy and run.planned_busy[k] is not None else p.utilization
        pools.append(PoolResult(p.name, p.role, p.gpu, p.instances, p.ttft_s, p.tpot_s,
                                planned, p.batch,
                                Summary.of(ttft[pre]) if p.role != "decode" or pre.any() else None,
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
            classes.append(ClassResult(k.name, k.slo, int(mine.sum()), s_ttft,
                                       Summary.of(tpot[mine & decodes])))
    found = violations(plan.slo, all_ttft, all_tpot, pools) if not classes else []
    for c in classes:   # shared pools: each class against its own SLO
        found += [Violation(f"class {c.name}", v.metric, v.statistic, v.value_s, v.limit_s)
                  for v in violations(c.slo, c.ttft, c.tpot, [])]
    found = [_with_error(v, ttft, tpot, _scope_mask(v.scope, measured, decodes, run, plan)) for v in found]
    return SimResult(plan.problem, requests, int(measured.sum()), seed, float(np.nanmax(run.finish)),
                     plan.slo, all_ttft, all_tpot, tuple(pools), tuple(found), tuple(classes))


def _scope_mask(scope: str, measured: np.ndarray, decodes: np.ndarray, run: _Run, plan: PlanFile):
    """(requests counted in a violation's scope for TTFT, and for TPOT), in arrival order."""
    if scope == "all":
        return measured, measured & decodes
    if scope.startswith("class "):
        mine = measured & (run.klass == [k.name for k in plan.classes].index(scope[len("class "):]))
        return mine, mine & decodes
    return _pool_masks(plan, [p.name for p in plan.pools].index(scope), measured, decodes, run)


def _pool_masks(plan: PlanFile, k: int, measured: np.ndarray, decodes: np.ndarray, run: _Run):
    """(requests whose TTFT pool k measures, requests it decodes), in the window."""
    pre = measured & (run.pre_pool == k)
    if plan.pools[k].role != "prefill":   # a wholly cached prompt is prefilled nowhere: its TTFT is its engine's
        pre |= measured & (run.pre_pool < 0) & (run.dec_pool == k)
    return pre, measured & decodes & (run.dec_pool == k)


def _with_error(v: Violation, ttft: np.ndarray, tpot: np.ndarray, masks) -> Violation:
    """The violation with its statistic's standard error in this run (`results.batch_error`)."""
    x = ttft[masks[0]] if v.metric == "ttft" else tpot[masks[1]]
    return Violation(v.scope, v.metric, v.statistic, v.value_s, v.limit_s, batch_error(x, v.statistic))


# engine steps beyond which a simulation takes a minute or more: a step with an event (an arrival,
# a first token, a finish) is a heap-loop turn of ~1–2 µs; the plain decode steps between them run in
# arrays (`engine._plain_steps`): qps 1e-6 on the seed, 10⁸ steps of lone requests, took 5 s (2026-12-05)
LONG_RUN_STEPS = 5e8


def note_long_run(steps_needed: np.ndarray, batch_of_request: np.ndarray, source: str) -> float:
    """The decode steps the engines will run, about: each request's steps shared with the mean
    batch of its pool (at least 1). Beyond LONG_RUN_STEPS a `PlannerNotice` says the run takes
    minutes and how to shorten it. Returns the estimate."""
    steps = float((steps_needed / batch_of_request).sum())
    if steps > LONG_RUN_STEPS:
        warnings.warn(f"{source}: about {steps:.1e} decode steps to simulate ({steps_needed.size:,} requests "
                      f"on small batches with long outputs): this can take minutes; `plan simulate PLAN.json "
                      f"--requests N` with fewer requests is quicker and noisier", PlannerNotice, stacklevel=2)
    return steps


def violations(slo: PlanSLO, ttft: Summary, tpot: Summary | None, pools: list[PoolResult]) -> list[Violation]:
    """Every simulated SLO statistic above its limit, for all requests and for each pool. A
    statistic that is not a number (measured requests that never reached that token within the
    run) breaks its SLO too: a plan is not met by requests it never served."""
    scopes = [("all", ttft, tpot)] + [(p.name, p.ttft, p.tpot) for p in pools]
    out = []
    for scope, t1, t2 in scopes:
        if t1 is not None and not t1.get(slo.ttft_statistic) <= slo.ttft_s:
            out.append(Violation(scope, "ttft", slo.ttft_statistic, t1.get(slo.ttft_statistic), slo.ttft_s))
        if t2 is not None and not t2.get(slo.tpot_statistic) <= slo.tpot_s:
            out.append(Violation(scope, "tpot", slo.tpot_statistic, t2.get(slo.tpot_statistic), slo.tpot_s))
    return out


def _run(plan: PlanFile, ph: SimPhysics, n: int, seed: int, source: str) -> _Run:
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
            vi, pi = distribution(k.input_distribution, k.input_tokens)
            vo, po = distribution(k.output_distribution, k.output_tokens)
            s_in[mine] = rng.choice(vi, size=mine.size, p=pi)
            s_out[mine] = rng.choice(vo, size=mine.size, p=po)
    else:
        s_in = rng.choice(ph.lengths_in[0], size=n, p=ph.lengths_in[1])
        s_out = rng.choice(ph.lengths_out[0], size=n, p=ph.lengths_out[1])
    pool_of = np.repeat(np.arange(len(pools)), [p.instances for p in pools])  # instance → pool
    pre_w = np.array([pools[k].capacity_prefill_tokens_per_s / pools[k].instances
                      if pools[k].role != "decode" else 0.0 for k in pool_of])
    dec_w = np.array([pools[k].capacity_decode_tokens_per_s / pools[k].instances
                      if pools[k].role != "prefill" else 0.0 for k in pool_of])
    # every prompt token cached: nothing to prefill, whatever prefill capacity the pools have (a
    # colocated pool of a wholly cached workload still plans some); requests go straight to decode
    cached = w.prefix_cache_hit >= 1
    pre_inst = np.full(n, -1) if cached else split_exactly(rng, n, pre_w)
    dec_inst = decode_split(rng, pre_inst, dec_w, pool_of, [p.role for p in pools])
    per_step = np.array(ph.tokens_per_step)
    # a request's decode steps make the tokens after its first, and the first too when no prompt pass
    # runs (every prompt token cached: its first token is a decode step's, as the plan counts it)
    steps_needed = decode_steps(rng, s_out if cached else np.maximum(s_out - 1, 0),
                                np.where(dec_inst >= 0, pool_of[dec_inst], -1), per_step,
                                [d.spec for d in ph.deployments])
    window = measurement_window(arrivals, plan.slo, float(ph.lengths_out[0].max()), planned_latencies(plan))
    span = window[1] - window[0]

    started, first, ttft_at, finish = (np.full(n, np.nan) for _ in range(4))
    kv_s = np.zeros(n)
    ctx_decode = decode_context(plan)
    ctx_peak = float(ph.lengths_in[0].max() + ph.lengths_out[0].max())
    s_grid = length_grid(ph.lengths_in[0])
    unc_grid = tuple((s_grid * (1 - w.prefix_cache_hit)).tolist())   # a lone prompt's step read exactly
    cv2_in = prompt_cv2(plan, ph.lengths_in)
    busy = np.zeros(len(pools))
    planned: list[float | None] = [None] * len(pools)
    engines: list[Engine | None] = [None] * pool_of.size
    tables: dict[int, Any] = {}
    for x, k in enumerate(pool_of.tolist()):
        p, dep = pools[k], ph.deployments[k]
        ids = np.flatnonzero(pre_inst == x)
        if p.role != "decode":
            kv_s[ids] = perf.kv_transfer_time(dep, s_in[ids])
        if p.role == "prefill":
            if k not in tables:
                tables[k] = prefill_table(dep, p.design_batch, s_grid, w.prefix_cache_hit)
                planned[k] = planned_busy(p, tables[k], s_grid, float(w.input_tokens))
            st, dn, batches = prefill_instance(arrivals[ids], s_in[ids], p, s_grid, tables[k])
            started[ids], first[ids], ttft_at[ids] = st, dn, dn + kv_s[ids] + perf.request_overhead_s(dep)
            inside = (batches[:, 0] >= window[0]) & (batches[:, 0] <= window[1])
            busy[k] += batches[inside, 1].sum() / span
            continue
        cap = perf.max_batch(dep, ctx_peak)
        if cap < 1:
            raise BadInput(f"{source}: pools[{k}]: {p.name}: one sequence of {ctx_peak:g} tokens "
                           f"does not fit in memory; re-solve the problem")
        if k not in tables:
            tables[k] = (mixed_table(dep, cap, ctx_decode, p.step_token_budget, w.input_tokens, cv2_in, unc_grid)
                         if p.role == "colocated" else decode_table(dep, cap, ctx_decode))
        chunk = p.step_token_budget if p.role == "colocated" else 0.0
        engines[x] = Engine(k, tables[k], cap, chunk, ids.tolist(), arrivals[ids].tolist(),
                             (s_in[ids] * (1 - w.prefix_cache_hit)).tolist(),
                             (*eager_parts(dep), max(float(w.input_tokens), 1.0)),
                             chunk_grid(chunk, unc_grid) if chunk else None, s_in[ids].tolist())
    from_prefill = np.flatnonzero(~np.isnan(ttft_at))
    done_now = from_prefill[steps_needed[from_prefill] == 0]
    finish[done_now] = ttft_at[done_now]
    for r in from_prefill[steps_needed[from_prefill] > 0].tolist():
        engines[dec_inst[r]].pending.append((ttft_at[r], r))
    if cached:   # straight to a decode-capable engine on arrival; its first step makes the first token
        for r in np.flatnonzero(dec_inst >= 0).tolist():
            engines[dec_inst[r]].pending.append((arrivals[r], r))
    live = [e for e in engines if e is not None]
    duration = max(float(arrivals[-1] - arrivals[0]), 1e-12)
    decoding = np.flatnonzero(steps_needed > 0)   # grouped by instance once (in request order inside each),
    by_inst = decoding[np.argsort(dec_inst[decoding], kind="stable")]   # not one scan of every request each
    edges = np.searchsorted(dec_inst[by_inst], np.arange(len(engines) + 1))
    for x, e in enumerate(engines):   # each decode-capable instance starts at its steady batch
        if e is None:
            continue
        steps = steps_needed[by_inst[edges[x]:edges[x + 1]]]
        prompt_rate = float(np.sum(e.unc)) / duration if e.chunk else 0.0   # its uncached prompt tokens
        start_full(e, rng, steady_batch(e, steps.size / duration, float(steps.mean()) if steps.size else 0.0,
                                        prompt_rate), steps)
    note_long_run(steps_needed, np.array([max(1.0, pools[k].batch) for k in pool_of])[dec_inst], source)
    run_engines(engines, steps_needed, dec_inst, kv_s, per_step, window, first, finish, started)
    coloc = np.isnan(ttft_at)
    # the fixed time per request (front end, network) delays the delivery of every token, not only the
    # first: a colocated request decodes from its chunk step on, so its last token is delivered that
    # much later too (TPOT, last − first, is the engine's; it lost overhead/(L − 1) before, a third of
    # a 20-token request's TPOT). Prefill-pool requests start decoding at their delivered first token.
    overhead = perf.request_overhead_s(ph.deployments[0])   # one calibration per plan
    ttft_at[coloc] = first[coloc] + overhead
    finish[coloc] = finish[coloc] + overhead
    util, batch = [], []
    for k, p in enumerate(pools):
        mine = [e for e in live if e.pool == k]
        if p.role == "prefill":
            util.append(float(busy[k] / p.instances))
            batch.append(None)
            continue
        batch.append(sum(e.win_batch_s for e in mine) / (span * p.instances))
        if p.role == "colocated":   # the share of time in steps that carry a prompt chunk (the plan's ρ)
            util.append(sum(e.win_chunk_s for e in mine) / (span * p.instances))
        else:
            util.append(sum(e.win_tokens for e in mine) / span / p.capacity_decode_tokens_per_s)
    pre_pool = np.where(pre_inst >= 0, pool_of[pre_inst], -1)   # -1: nothing prefilled (all cached)
    return _Run(arrivals, s_out, pre_pool, np.where(dec_inst >= 0, pool_of[dec_inst], -1), started, ttft_at, finish,
                window, tuple(util), tuple(batch), klass, tuple(planned))


def planned_busy(p: PlanPool, table: np.ndarray, s_grid: np.ndarray, mean_input: float) -> float:
    """The share of time the plan's queue model says a prefill instance's entry stage is busy, the
    quantity the simulation measures: ρ for one prompt per pass (M/G/1); for a batching pool the
    batching queue's (`physics.bulk_table`), above ρ because passes at quiet moments run part-full
    (ρ is load over the capacity of full passes). Pools outside the table keep ρ."""
    batch = p.design_batch
    if batch == 1 or batch not in BATCHES or p.utilization <= 0:
        return p.utilization
    one = float(np.interp(mean_input, s_grid, table[1]))
    full = float(np.interp(mean_input, s_grid, table[batch]))
    return float(lookup(batch, one / full, min(p.utilization, RHO_MAX), p.parallelism.pp).busy)


def split_exactly(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """Instance of each of n requests: each instance gets exactly its share of n by weight
    (largest remainders), the order shuffled, so every instance sees a random split of the
    arrivals (locally Poisson) at the rate the plan routes to it. Drawing each request's instance
    independently let a small instance's share drift with the sample: a single instance with
    3.9 % of 100,000 requests varies by ±1.6 %, enough to break a pool planned at full capacity.

    >>> np.bincount(split_exactly(np.random.default_rng(0), 10, np.array([1.0, 0.0, 4.0])), minlength=3).tolist()
    [2, 0, 8]
    """
    out = np.repeat(np.arange(weights.size), exact_counts(n, weights))
    rng.shuffle(out)
    return out


def exact_counts(n: int, weights: np.ndarray) -> np.ndarray:
    """Requests of n per instance in proportion to `weights`, whole, summing to n (largest
    remainders, ties to the first)."""
    share = n * weights / weights.sum()
    counts = np.floor(share).astype(int)
    rest = n - int(counts.sum())
    if rest:
        counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


def decode_steps(rng: np.random.Generator, tokens: np.ndarray, pool: np.ndarray, per_step: np.ndarray,
                 specs: list) -> np.ndarray:
    """Decode steps of each request (`tokens` after the first, on pool `pool`, -1: none): ⌈n/a⌉ at a
    pool's a tokens a step; under speculative decoding the expected steps of the random accepted
    runs (`Speculation.expected_steps`, the plan's count), rounded up or down at random to that
    mean (⌈n/a⌉ took 3 steps for 4 tokens at a = 1.85, where a draft accepted takes 2.28 on average)."""
    out = np.zeros(tokens.size, dtype=np.int64)
    for k, spec in enumerate(specs):
        mine = np.flatnonzero(pool == k)
        if not mine.size:
            continue
        if spec is None:
            out[mine] = np.ceil(tokens[mine] / per_step[k])
            continue
        e = spec.expected_steps(tokens[mine])
        whole = np.floor(e)
        out[mine] = whole + (rng.random(mine.size) < e - whole)
    return out


def decode_split(rng: np.random.Generator, pre_inst: np.ndarray, weights: np.ndarray, pool_of: np.ndarray,
                 roles: list[str]) -> np.ndarray:
    """Decode instance of each request: each instance gets exactly its share by decode capacity
    (`split_exactly`), and a colocated instance decodes as many of the prompts it prefilled as its
    share allows (an aggregated engine keeps a request where its KV is; only what the plan routes
    beyond that moves). The others are split over the shares left, in random order.

    >>> pre = np.array([0, 0, 0, 1, 1, 1])   # two colocated instances, the first with 2/3 of the decode
    >>> decode_split(np.random.default_rng(0), pre, np.array([2.0, 1.0]), np.array([0, 1]),
    ...              ["colocated", "colocated"]).tolist()
    [0, 0, 0, 0, 1, 1]
    """
    n = pre_inst.size
    if not np.any(weights > 0):   # no decode capacity: a plan whose every output is its first token
        return np.full(n, -1)
    counts = exact_counts(n, weights)
    out = np.full(n, -1)
    for x in np.flatnonzero(np.array([roles[k] == "colocated" for k in pool_of.tolist()], dtype=bool)):
        mine = np.flatnonzero(pre_inst == x)
        keep = rng.permutation(mine)[:counts[x]]   # a random subset, not the earliest arrivals
        out[keep] = x
        counts[x] -= keep.size
    left = np.flatnonzero(out < 0)   # as many as the shares left (counts sum to n throughout)
    if left.size:
        out[left] = split_exactly(rng, left.size, counts.astype(float))
    return out


def decode_context(plan: PlanFile) -> float:
    """Mean context in a decode batch: s_in + s_out/2, output-weighted over classes when shared
    (plan.resolve.decode_context, as the candidates used)."""
    if not plan.classes:
        return plan.workload.input_tokens + plan.workload.output_tokens / 2.0
    return weighted_decode_context([(k.qps, k.input_tokens, k.output_tokens) for k in plan.classes])


class TooFewRequests(BadInput):
    """--requests too few for the plan's request lifetime; `need` is the count that would do (None:
    more than the simulator takes)."""

    def __init__(self, message: str, need: int | None):
        super().__init__(message)
        self.need = need


PLANNED_LIFETIMES = 10   # a request lifetime at the plan's latencies, this many times, bounds the SLO's


def planned_latencies(plan: PlanFile) -> tuple[float, float] | None:
    """(slowest planned TTFT, slowest planned TPOT) over the plan's pools; None if a role is missing."""
    ttfts = [p.ttft_s for p in plan.pools if p.ttft_s is not None]
    tpots = [p.tpot_s for p in plan.pools if p.tpot_s is not None]
    return (max(ttfts), max(tpots)) if ttfts and tpots else None


def measurement_window(arrivals: np.ndarray, slo: PlanSLO, longest_output: float,
                       planned: tuple[float, float] | None = None) -> tuple[float, float]:
    """Arrival times whose requests see a full, not yet draining system: the span without,
    at each end, max(WARMUP_FRACTION·span, a request lifetime): TTFT + (longest output − 1)·TPOT
    at the SLO, or `PLANNED_LIFETIMES` times that at the plan's own latencies (`planned`) when
    that is shorter — a loose SLO (TPOT 1 h) asked for a 7·10⁵ s lifetime of a pool decoding at
    10.9 ms a token and refused every run."""
    t0, t1 = float(arrivals[0]), float(arrivals[-1])
    tail = max(longest_output - 1.0, 0.0)
    lifetime = slo.ttft_s + tail * slo.tpot_s
    if planned is not None:
        lifetime = min(lifetime, PLANNED_LIFETIMES * (planned[0] + tail * planned[1]))
    trim = max(WARMUP_FRACTION * (t1 - t0), lifetime)
    if t1 - t0 <= 4 * trim:
        # the span of random arrivals varies by ~1/√n: the rate read off this run (±3 of its standard
        # errors) and the span of the advised run (±5 of its) keep the advice from failing once followed
        need0 = arrivals.size * 4 * trim / max(t1 - t0, 1e-12)
        need = math.ceil(need0 * (1 + 3 / math.sqrt(arrivals.size)) + 5 * math.sqrt(need0)) + 1
        advice = (f"use at least {need:,} requests" if need <= MAX_REQUESTS else
                  f"that needs {need:,} requests, more than the simulator's {MAX_REQUESTS:,}: at this rate "
                  f"too many requests are in flight to simulate in full (check a fraction of the traffic: "
                  f"the same problem at a lower QPS)")
        raise TooFewRequests(f"--requests: {arrivals.size:,} requests span {t1 - t0:.3g} s, too short beside "
                             f"a request lifetime of {lifetime:.3g} s; {advice}",
                             need if need <= MAX_REQUESTS else None)
    return t0 + trim, t1 - trim
