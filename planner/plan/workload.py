"""The workload as every candidate and the verification see it, and the TTFT of a prefill queue.

`WorkloadContext` holds the mean lengths, their variability and the limits, computed once per
service; TTFT of a prefill server (`physics.prefill_queue`: M/G/1 for one prompt per pass, the
batching queue for B > 1) at utilisation ρ + fixed time; ρ_max is the largest utilisation
meeting every request class's TTFT limit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from planner.input.values import length_pairs
from planner.physics import batched, packed, prefill_queue, queueing
from planner.physics.batch_spread import life_terms, tpot_spread
from planner.physics.prefill_queue import Servers
from planner.plan.resolve import Resolved

# memoised: many candidates share their limits
max_utilisation = functools.lru_cache(maxsize=1 << 16)(queueing.max_utilisation)


@dataclass(frozen=True)
class TTFTTarget:
    """One TTFT limit a prefill queue must meet: a request class's statistic and limit, and its
    prompt's prefill work (at the statistic's quantile, or the mean) relative to the queue's mean
    (`len_factor`; the prompt length's ratio for a model without attention cost, `prompt_work`)."""

    label: str           # '' for a single workload, else the request class
    stat: str
    len_factor: float
    limit: float
    # a percentile over prompts of several lengths: each one's work over the queue's mean, with its
    # probability (`prefill_queue.ttft` takes the quantile of the mixture); () for one length
    own_mix: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class WorkloadContext:
    """Workload numbers every candidate needs, computed once."""

    s_in: float          # mean prompt tokens
    s_unc: float         # mean uncached prompt tokens
    s_cached: float
    s_out: float
    s_dec: float         # mean output tokens after the first, E[L − 1]: what decode steps generate
    ctx_decode: float    # mean context during decode: s_in + s_out/2 (output-weighted over classes)
    ctx_peak: float      # KV a sequence holds at its end: s_in + s_out (memory sizing)
    cv2: float           # squared coefficient of variation of prompt length
    work_cv2: float      # … of a prompt's prefill FLOPs (`prompt_work`): the spread of a queue's service
    targets: tuple[TTFTTarget, ...]   # one per request class served by the queue
    tpot_limit: float
    util_ceiling: float
    pass_token_budget: int
    tpot_spread: float = 0.0   # ζ of the TPOT statistic: its batch is m + ζ√m (physics.batch_spread)
    tpot_statistic: str = "mean"
    tpot_terms: tuple[tuple[float, float, float], ...] = ()   # batch_spread.life_terms of the outputs
    s_out_var: float = 0.0     # variance of the output length (tokens²): how a batch slot's hold varies
    s_unc_max: float = 0.0     # the longest uncached prompt: a colocated engine's step budget holds it
    pass_budget_set: bool = False   # the problem set the pass budget (an engine's limit), not the default
    p_dec: float = 1.0         # share of requests with more than one output token (they decode)
    prompt_mix: tuple[tuple[float, float, float], ...] = ()   # several lengths, taken whole (physics.packed)

    @property
    def packed_ttft(self) -> bool:
        """A colocated TTFT from whole prompts' steps (`physics.packed.first_token_wait`): several
        prompt lengths and every TTFT target a mean (a percentile keeps the chunk queue's)."""
        return bool(self.prompt_mix) and all(t.stat == "mean" for t in self.targets)

    @property
    def first_token_decoded(self) -> bool:
        """Every prompt token cached (`Resolved.first_token_decoded`): no prompt pass runs, so a
        request goes straight to a decode-capable instance, whose step makes its first token."""
        return self.s_unc <= 0

    @property
    def kv_prompt_per_prefill_token(self) -> float:
        """Prompt tokens whose KV cache a prefill pool sends per uncached token it computes: only
        the prompts that go on to decode (share p_dec) send theirs."""
        return self.s_in * self.p_dec / max(self.s_unc, 1e-9)

    @property
    def kv_prompt_per_decode_token(self) -> float:
        """Prompt tokens whose KV cache moves to a decode pool per token it generates: the requests
        that decode (share p_dec) bring s_in tokens each and generate E[L − 1]/p_dec there
        (0 when none decodes, and when every prompt token is cached: nothing prefills it
        elsewhere, the request reads its prefix from the cache of the instance it decodes on)."""
        return self.s_in * self.p_dec / self.s_dec if self.s_dec > 0 and not self.first_token_decoded else 0.0

    @functools.cached_property
    def decode_hold_cv2(self) -> float:
        """Squared coefficient of variation of L − 1 over the requests that decode: how a decode
        slot's hold varies."""
        lives = self.decode_lives
        share = sum(p for _, p in lives)
        if share <= 0:
            return 0.0
        mean = sum(n * p for n, p in lives) / share
        return sum(p * (n - mean) ** 2 for n, p in lives) / share / mean**2

    @functools.cached_property
    def decode_lives(self) -> tuple[tuple[float, float], ...]:
        """(decode tokens L − 1, share of requests) of the outputs longer than one token."""
        return tuple((s, p) for s, p, _ in self.tpot_terms)

    def slot_wait_s(self, offered_batch, slots, service_s, tpot_s, tpot_full_s=None, prefill_share=0.0):
        """Mean wait for a batch slot (`queueing.slot_wait_s`) of a colocated instance whose mean
        decode batch is `offered_batch` at TPOT `tpot_s`: a request holds its slot for its chunked
        prompt (`service_s`) and its L − 1 decode tokens, so the slots' offered load is the batch
        times hold ÷ decode life (Little). `tpot_full_s`: the TPOT while every slot is taken (the
        hold grows to it, `queueing.slot_wait_s`'s `hold_full_s`); None: the hold stays.
        `prefill_share`: the engine's share of time in prefill work, whose bursts spread the busy
        slots beyond Poisson's (`slot_peak`). Arrays or scalars."""
        offered, hold, cv2, full = self._slot_queue(offered_batch, service_s, tpot_s, tpot_full_s)
        return queueing.slot_wait_s(offered, slots, hold, cv2, full, self.slot_peak(prefill_share))

    def slot_peak(self, prefill_share):
        """`queueing.slot_peakedness` of a colocated engine's slots at its prefill share of time."""
        return queueing.slot_peakedness(prefill_share, self.decode_lives)

    def _slot_queue(self, offered_batch, service_s, tpot_s, tpot_full_s):
        """(offered Erlangs, mean hold, the hold's cv², hold while full or None) of a colocated
        instance's queue for batch slots (`slot_wait_s`)."""
        import numpy as np
        life = self.s_dec * np.asarray(tpot_s, dtype=float)
        hold = np.asarray(service_s, dtype=float) + life
        offered = np.asarray(offered_batch, dtype=float) * hold / np.where(life > 0, life, np.inf)
        cv2 = np.asarray(tpot_s, dtype=float) ** 2 * self.s_out_var / hold**2
        full = None if tpot_full_s is None else \
            np.asarray(service_s, dtype=float) + self.s_dec * np.maximum(tpot_full_s, tpot_s)
        return offered, hold, cv2, full

    def slot_wait_for_ttft_s(self, wait_s, offered_batch, slots, service_s, tpot_s, tpot_full_s=None,
                             prefill_share=0.0):
        """The wait for a batch slot that a TTFT target counts: the mean `wait_s` for a mean target;
        for a percentile (the strictest quantile q of the targets) its q-quantile, from the tail
        of the queue of slots. A request that finds them full waits an exponential time of mean
        θ = H/(c − a) (Erlang C's conditional wait; H and a at full slots where the hold grows),
        so P(wait) = C = W/θ and the q-quantile is θ·ln(C/(1 − q)) above C > 1 − q (0 below); z·θ
        with the peaked slots (`slot_wait_s`'s `prefill_share`).
        Until 2026-12-04 every statistic counted the mean: Llama-3.1-70B on two MI300X TP2
        colocated pools at 50 of 69 slots, p99 TTFT planned at 0.82 s (a 0.47 s mean slot wait)
        and simulated at 10.1 s. Arrays or scalars."""
        import numpy as np
        q = self.ttft_quantile
        wait = np.asarray(wait_s, dtype=float)
        if not q:
            return wait
        a, hold, _, full = self._slot_queue(offered_batch, service_s, tpot_s, tpot_full_s)
        return _wait_quantile(wait, a, hold, hold if full is None else full, slots, q, self.slot_peak(prefill_share))

    def slot_tpot_at_statistic_s(self, batch, slots, tpot_s, tpot_full_s=None):
        """`slot_tpot_s` for the TPOT statistic: the mean wait for a mean statistic, its quantile
        for a percentile (`_wait_quantile`: Erlang C's exponential conditional wait, the hold of
        L − 1 steps growing to the step at full slots), spread over the output. Until the
        twenty-third session a p99 counted the mean wait: Llama-3.1-8B on one-slot L40S
        instances at 110k-token prompts planned a p99 TPOT of 67 ms that simulated at 158 ms."""
        mean = self.slot_tpot_s(batch, slots, tpot_s, tpot_full_s)
        q = queueing.QUANTILE.get(self.tpot_statistic)
        if not q or not self.slot_wait_per_token:
            return mean
        import numpy as np
        hold, full = self._decode_holds(np.asarray(tpot_s, dtype=float), tpot_full_s)
        full = hold if full is None else np.maximum(full, hold)
        wait = np.asarray(self.decode_slot_wait_s(batch, slots, tpot_s, tpot_full_s), dtype=float)
        out = _wait_quantile(wait, np.asarray(batch, dtype=float), hold, full, slots, q) * self.slot_wait_per_token
        return out if np.ndim(out) else float(out)

    def slot_tpot_s(self, batch, slots, tpot_s, tpot_full_s=None):
        """A decode instance's wait for a batch slot, as the TPOT it adds: a request that arrives
        from prefill holds one of `slots` for its L − 1 tokens at `tpot_s` (offered load = the mean
        batch); the wait before its second token is spread over its L − 1 later tokens, as TPOT
        is measured (mean of 1/(L − 1) over the outputs). Arrays or scalars."""
        per_token = self.slot_wait_per_token
        if not all(isinstance(x, (int, float)) for x in (batch, slots, tpot_s)):   # arrays
            import numpy as np
            tpot_s = np.asarray(tpot_s, dtype=float)
            if not per_token:
                return np.zeros(np.broadcast_shapes(np.shape(batch), tpot_s.shape))
        elif not per_token:   # no output beyond the first token: no TPOT to add to
            return 0.0
        return self.decode_slot_wait_s(batch, slots, tpot_s, tpot_full_s) * per_token

    def join_factor(self, tokens_per_step: float) -> float:
        """A disaggregated decode pool's TPOT as benchmarks measure it ((last − first token)/(L − 1)
        per request, averaged) over its step's TPOT: a request arriving from prefill joins the
        running batch when the step in progress ends, half a step on average at an instance busy
        step after step, before its second token; that wait is spread over its L − 1 later tokens
        (`slot_wait_per_token`): 1 + ½·tokens per step·E[1/(L − 1)]. 1.0005 for 1,000-token
        outputs; 1.30 when half the outputs are one token and 30 % two (the plan read 20.2 ms
        where its simulation measured 26.3). Colocated requests decode on the engine that
        prefilled them, from its next step: no such wait."""
        return 1.0 + 0.5 * tokens_per_step * self.slot_wait_per_token

    def join_factor_at_statistic(self, tokens_per_step: float) -> float:
        """`join_factor` at the TPOT statistic's quantile q over requests, for a decode pool: a
        request of n tokens after its first waits V·(a step) to join the running batch, V uniform
        on [0, 1] (the step in progress, as the mean's half step: arrivals from prefill come in
        bursts, so even a lightly loaded instance is mostly found stepping), and its TPOT is the
        step time × (1 + tokens per step·V/n). The q-quantile x of that ratio over the requests
        that decode solves Σₙ pₙ·P(1 + tps·V/n > x) = 1 − q. Short answers make it: at 2-token
        answers and p99 the second token comes up to two steps after the first, where the mean's
        1.5 steps stood until 2026-12-04 (Llama-3.1-70B on H100 TP2: 26.3 ms planned, 35.3
        simulated p99). The mean statistic: `join_factor`."""
        q = queueing.QUANTILE.get(self.tpot_statistic)
        lives = [(n, p) for n, p in self.decode_lives if n >= 1 and p > 0]
        if q is None or not lives:
            return self.join_factor(tokens_per_step)
        total = sum(p for _, p in lives)

        def above(x: float) -> float:   # share of the decoding requests whose ratio exceeds x
            return sum(p * max(0.0, 1.0 - (x - 1.0) * n / tokens_per_step) for n, p in lives) / total

        lo, hi = 1.0, 1.0 + tokens_per_step / min(n for n, _ in lives)
        if above(lo) <= 1.0 - q:
            return 1.0
        for _ in range(60):
            mid = (lo + hi) / 2.0
            lo, hi = (mid, hi) if above(mid) > 1.0 - q else (lo, mid)
        return hi

    @functools.cached_property
    def slot_wait_per_token(self) -> float:
        """The TPOT one second of wait before the second token adds: the mean of 1/(L − 1) over
        the outputs longer than one token (0 when there are none)."""
        lives = self.decode_lives
        share = sum(p for _, p in lives)
        return sum(p / n for n, p in lives) / share if share > 0 else 0.0

    def decode_slot_wait_s(self, batch, slots, tpot_s, tpot_full_s=None):
        """The mean wait itself that `slot_tpot_s` spreads over the output: M/G/c at offered load
        the mean batch, a request that decodes holding its slot for its L − 1 tokens at `tpot_s`
        (E[L − 1] over those requests, `decode_hold_cv2` their spread). `tpot_full_s`: the TPOT
        while every slot is taken, to which the hold grows (`queueing.slot_wait_s`'s `hold_full_s`;
        None: it stays at the mean batch's)."""
        if self.s_dec <= 0:
            return 0.0 * tpot_s
        hold, full = self._decode_holds(tpot_s, tpot_full_s)
        return queueing.slot_wait_s(batch, slots, hold, self.decode_hold_cv2, full)

    def _decode_holds(self, tpot_s, tpot_full_s):
        """(mean hold, hold while every slot is taken or None) of a decode slot: E[L − 1] over the
        requests that decode, at `tpot_s` and at `tpot_full_s`."""
        per = self.s_dec / self.p_dec
        return per * tpot_s, None if tpot_full_s is None else per * tpot_full_s

    @functools.cached_property
    def ttft_limit(self) -> float:
        return min(t.limit for t in self.targets)

    @functools.cached_property
    def ttft_quantile(self) -> float:
        """The highest quantile among the TTFT targets' statistics (0.99 for p99), 0 when every
        target is the mean."""
        return max((queueing.QUANTILE.get(t.stat, 0.0) for t in self.targets), default=0.0)


def step_in_progress_s(w: WorkloadContext, batch, step_s, step_q_s=None):
    """The rest of the step in progress that a request arriving at an engine decoding a mean batch
    b waits out before its work enters the next step: engines form a step's batch when the step
    before it ends. A step is running a share 1 − e^(−b) of the time, its rest uniform over a step
    when it is: half a step at that share for a mean TTFT. For a percentile target (the strictest
    quantile q of `w.targets`) the rest at its own q-quantile, step_q·(q − e^(−b))/(1 − e^(−b))
    above e^(−b) (0 below), `step_q_s` the step at the batch's q-quantile (None: `step_s`).
    Arrays or scalars."""
    import numpy as np
    step = np.asarray(step_s, dtype=float)
    idle = np.exp(-np.asarray(batch, dtype=float))
    q = w.ttft_quantile
    if not q:
        return (1.0 - idle) * step / 2.0
    step_q = step if step_q_s is None else np.asarray(step_q_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > idle, step_q * (q - idle) / np.maximum(1.0 - idle, 1e-300), 0.0)


def first_decoded_step_s(w: WorkloadContext, batch, step_s, step_q_s=None):
    """Time to a request's first token that a decode step makes when no prompt pass runs (every
    prompt token cached, `Resolved.first_token_decoded`; else 0): it joins the batch when the step
    in progress ends (`step_in_progress_s`), then that step makes its token, at the batch's
    q-quantile for a percentile target (`step_q_s`, from `ttft_batch_quantile`; None: `step_s`):
    the two are of one batch, so their quantiles add.
    Arrays or scalars. A 100 %-cached Llama-3.1-8B on one H20 at 50 req/s and 20-token answers:
    65.4 ms simulated TTFT, where the plan had read the fixed 55.4 ms alone; Llama-3.1-70B on two
    H20 TP4 decode instances under a 100 ms p99 TTFT limit: 104.1 ms simulated p99, where the
    mean's 87.2 ms stood for it until 2026-12-04; the plan now chosen reads 99.9 ms against 98.5
    simulated."""
    import numpy as np
    if not w.first_token_decoded:
        return 0.0 * np.asarray(step_s, dtype=float)
    step = np.asarray(step_s, dtype=float)
    step_q = step if step_q_s is None or not w.ttft_quantile else np.asarray(step_q_s, dtype=float)
    return step_in_progress_s(w, batch, step_s, step_q_s) + step_q


def colocated_first_step_s(w: WorkloadContext, batch, step_s, step_q_s=None):
    """What a colocated engine's steps add to a request's TTFT beyond its chunk queue: with every
    prompt token cached the decode step that makes its first token (`first_decoded_step_s`); else
    the step in progress when its prompt arrives (`step_in_progress_s`), which the chunk queue's
    M/G/1 does not count while no prompt is queued, since the engine is then running decode
    steps. Until 2026-12-04 left out: gpt-oss-120b on H100 TP1·DP2 colocated at 30 req/s planned
    at 67.9 ms p90 TTFT simulated 81.5 ms, 0.35–0.7 of a ~20 ms step short. Arrays or scalars."""
    if w.first_token_decoded:
        return first_decoded_step_s(w, batch, step_s, step_q_s)
    return step_in_progress_s(w, batch, step_s)


def ttft_batch_quantile(w: WorkloadContext, batch):
    """The decode batch at the strictest TTFT target's quantile q, b + z_q·√b (the M/G/∞ batch,
    Poisson about its mean b, in its normal approximation); b for a mean target. Arrays or scalars."""
    import numpy as np
    q = w.ttft_quantile
    b = np.asarray(batch, dtype=float)
    if not q:
        return b
    from statistics import NormalDist
    return b + max(NormalDist().inv_cdf(q), 0.0) * np.sqrt(np.maximum(b, 0.0))


def prompt_work(res: Resolved, dist: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(FLOPs of prefilling the prompt, probability) of each prompt length of `dist` at the
    problem's cached share (`Architecture.prompt_flops`): a prompt's service in a prefill queue
    grows with its attention pairs, quadratic in its own length, so the queue's service varies
    more than the lengths do. Qwen3-235B-A22B's prompts of 2k/16k/60k tokens at 0.6/0.25/0.15:
    lengths of cv² 2.0, services (in FLOPs) of cv² 3.3."""
    return [(res.model.arch.prompt_flops(v * (1.0 - res.hit), v * res.hit), p) for v, p in dist]


def _len_factor(dist: list[tuple[float, float]], stat: str, mean: float) -> float:
    """Value at the statistic's quantile (or the mean) of `dist` ÷ the queue's mean (`mean`): a
    class's prompt work against the work of the queue's mean prompt."""
    q = queueing.QUANTILE.get(stat)
    if q is None:
        return sum(v * p for v, p in dist) / mean
    acc, qv = 0.0, max(v for v, _ in dist)
    for v, p in sorted(dist):
        acc += p
        if acc >= q - 1e-12:
            qv = v
            break
    return qv / mean


def workload_context(res: Resolved) -> WorkloadContext:
    """Mean lengths, length variability and limits used by every candidate."""
    dist = res.input_dist
    mean = res.input_mean
    var = sum(p * (v - mean) ** 2 for v, p in dist)
    slo = res.problem.slo
    work = prompt_work(res, dist)
    work_mean = sum(v * p for v, p in work)
    if work_mean <= 0:   # every prompt token cached: no prompt pass runs; lengths stand in
        work, work_mean = dist, mean
    work_cv2 = sum(p * (v - work_mean) ** 2 for v, p in work) / work_mean**2

    def target(label: str, d: list[tuple[float, float]], stat: str, limit: float) -> TTFTTarget:
        own = prompt_work(res, d) if work is not dist else d
        mix = tuple((v / work_mean, p) for v, p in own) if stat != "mean" and len(own) > 1 else ()
        return TTFTTarget(label, stat, _len_factor(own, stat, work_mean), limit, mix)

    if res.classes:
        targets = tuple(target(k.name, length_pairs(k.workload.input_tokens), k.slo.ttft_statistic, k.slo.ttft)
                        for k in res.classes)
    else:
        targets = (target("", dist, slo.ttft_statistic, slo.ttft),)
    out_mean = res.output_mean
    return WorkloadContext(s_in=mean, s_unc=res.uncached_mean, s_cached=mean * res.hit, s_out=out_mean,
                s_dec=res.decode_mean, ctx_decode=res.decode_context_mean,
                ctx_peak=max(v for v, _ in dist) + max(v for v, _ in res.output_dist),
                cv2=var / mean**2, work_cv2=work_cv2, targets=targets, tpot_limit=slo.tpot,
                util_ceiling=res.problem.serving.max_utilization_percent / 100.0,
                pass_token_budget=res.problem.serving.max_prefill_tokens_per_pass,
                tpot_spread=tpot_spread(res.output_dist, slo.tpot_statistic),
                tpot_statistic=slo.tpot_statistic, tpot_terms=life_terms(res.output_dist),
                s_out_var=sum(p * (v - out_mean) ** 2 for v, p in res.output_dist),
                s_unc_max=max(v for v, _ in dist) * (1.0 - res.hit),
                pass_budget_set="max_prefill_tokens_per_pass" in res.problem.serving.model_fields_set,
                p_dec=sum(p for n, p in res.decode_lengths if n > 0),
                prompt_mix=packed.prompt_mix(dist, res.hit)
                if packed.packs_whole_prompts(max(v for v, _ in dist) * (1.0 - res.hit), res.uncached_mean) else ())


def ttfts(w: WorkloadContext, rho: float, server: Servers, fixed_s: float) -> list[tuple[TTFTTarget, float]]:
    """TTFT of every target at utilisation ρ of one server (FCFS: all classes see the same queue)."""
    return [(t, float(prefill_queue.ttft(t.stat, rho, server, fixed_s, w.work_cv2, t.len_factor, t.own_mix)))
            for t in w.targets]


def worst_ttft(w: WorkloadContext, rho: float, server: Servers, fixed_s: float) -> tuple[float, float]:
    """(TTFT, limit) of the target with the least slack at utilisation ρ."""
    t, v = min(ttfts(w, rho, server, fixed_s), key=lambda tv: tv[0].limit - tv[1])
    return v, t.limit


def rho_max(w: WorkloadContext, server: Servers, fixed_s: float) -> float:
    """Largest utilisation whose TTFT statistic stays within the limit of every target."""
    return float(rho_max_many(w, server, fixed_s))


# ------------------------------------------------------------------ many points at once (numpy)
def worst_ttft_many(w: WorkloadContext, rho, servers: Servers, fixed_s):
    """`worst_ttft` per server of the arrays in `servers`: (TTFT, limit) arrays of the target with
    the least slack (the first of equals, like `min`)."""
    import numpy as np
    vals = [prefill_queue.ttft(t.stat, rho, servers, fixed_s, w.work_cv2, t.len_factor, t.own_mix)
            for t in w.targets]
    if len(vals) == 1:
        return vals[0], np.full(vals[0].shape, w.targets[0].limit)
    limits = np.array([t.limit for t in w.targets])
    stack = np.stack(vals)
    pick = np.argmin(limits.reshape((-1,) + (1,) * (stack.ndim - 1)) - stack, axis=0)
    return np.take_along_axis(stack, pick[None], 0)[0], limits[pick]


def queue_limits(w: WorkloadContext, servers: Servers, fixed_s, sizes: list[int]) -> list[tuple]:
    """ρ_max and the worst TTFT alone with its limit for every server of `servers` (the servers of
    several candidates concatenated) in one call each, split back into consecutive groups of
    `sizes`: per group (ρ_max, TTFT alone, limit) arrays."""
    rho = rho_max_many(w, servers, fixed_s)
    alone, limit = worst_ttft_many(w, 0.0, servers, fixed_s)
    return list(zip(*(batched.parts(x, sizes) for x in (rho, alone, limit))))


def rho_max_many(w: WorkloadContext, servers: Servers, fixed_s):
    """`rho_max` per server of the arrays in `servers`."""
    import numpy as np
    out = None
    for t in w.targets:
        r = prefill_queue.max_rho(t.stat, t.limit, servers, fixed_s, w.work_cv2, t.len_factor, w.util_ceiling,
                                  max_utilisation, t.own_mix)
        out = r if out is None else np.minimum(out, r)
    return out


def _wait_quantile(wait, offered, hold, full, slots, q: float, peak=1.0):
    """The q-quantile of the wait for one of `slots` whose mean is `wait`: a request that finds them
    full waits an exponential time of mean θ = H/(c − a) (Erlang C's conditional wait; H and a at
    full slots, where the hold grows to `full`), so P(wait) = C = W/θ and the q-quantile is
    θ·ln(C/(1 − q)) above C > 1 − q (0 below); `peak` z: the queue of c/z slots at a/z (z·θ)."""
    import numpy as np
    a_full = np.maximum(offered, offered * full / np.where(hold > 0, hold, np.inf)) / peak
    c = np.floor(np.asarray(slots, dtype=float)) / peak
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta = np.where(c > a_full, np.maximum(full, hold) / (c - a_full), np.inf)
        chance = np.minimum(1.0, np.where(np.isfinite(theta), wait / theta, 1.0))
        tail = np.where(chance > 1.0 - q, theta * np.log(chance / (1.0 - q)), 0.0)
    return np.where(wait > 0, np.where(np.isfinite(wait), np.maximum(tail, 0.0), np.inf), 0.0)
