"""Colocated (aggregated) serving as engines run it, and the floors of a decode step.

A colocated engine prefills prompts in chunks of up to its token budget beside the decode batch;
only a share of the steps carries a chunk. Pure functions of the passes in `perf`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.physics.deployment import Deployment, PhaseTime
from planner.physics.packed import lone_chunk_step, packs_whole_prompts
from planner.physics.packed import seen_share as packed_seen_share
from planner.physics.perf import decode_step, mixed_step
from planner.physics.perf import tokens_per_step as dep_tokens_per_step
from planner.physics.terms import stage_terms

DEFAULT_CHUNK_TOKENS = 8192   # engines' default prefill token budget per step: vLLM
# max_num_batched_tokens, SGLang chunked_prefill_size, TensorRT-LLM max_num_tokens


def blend(a: PhaseTime, b: PhaseTime, f: float) -> PhaseTime:
    """f·a + (1 − f)·b, field by field: the mean step when a share f of the steps are `a` (mixed,
    with a chunk) and the rest `b` (decode only)."""
    def mix(x: float, y: float) -> float:
        return f * x + (1.0 - f) * y
    return PhaseTime(mix(a.time_s, b.time_s), mix(a.compute_s, b.compute_s), mix(a.memory_s, b.memory_s),
                     mix(a.comm_s, b.comm_s), mix(a.overhead_s, b.overhead_s),
                     mix(a.flops_per_card, b.flops_per_card), mix(a.bytes_per_card, b.bytes_per_card),
                     a.below_ridge if f >= 0.5 else b.below_ridge)


def colocated_chunk(prefill_per_step: float, uncached_tokens: float, budget: float) -> tuple[float, float]:
    """(chunk tokens of a step that carries prefill, share f of steps that carry one) of a colocated
    engine in steady state with `prefill_per_step` prompt tokens per step on average (b·s/o when
    each sequence brings s uncached prompt tokens per o decode steps). A prompt is scheduled as
    soon as it arrives, whole (or in chunks of the budget C when longer), so a chunk holds
    min(C, max(s, p)) tokens and f = p/chunk of the steps carry one.

    >>> colocated_chunk(64 * 1000 / 500, 1000, 8192)    # 128 tokens a step: one prompt every 7.8 steps
    (1000, 0.128)
    """
    p = prefill_per_step
    if p <= 0:
        return 0.0, 0.0
    chunk = min(budget, max(uncached_tokens, p))
    return chunk, min(1.0, p / chunk)


def engine_chunk_tokens(chunk_tokens: float, longest_uncached: float, pass_budget: float,
                        mean_uncached: float) -> float:
    """The prefill token budget per step to give the engine (vLLM `--max-num-batched-tokens`, SGLang
    `--chunked-prefill-size`, what `plan simulate` runs) so that it runs the schedule the plan
    models. Prompts of one length: the chunk (a step carries one prompt, or `chunk_tokens` of
    several). Prompts of several lengths (`packed.packs_whole_prompts`): the pass budget
    (`serving.max_prefill_tokens_per_pass`), so that a step takes every prompt that arrived
    during the one before it, whole, as `physics.packed` models it. (A budget of the mean prompt
    split every longer prompt into several chunk steps, each paying a mixed step, which the plan
    did not count: a pool of 1,000- and 3,000-token prompts at a 1,215-token budget ran 45 % of its
    time in chunk steps against 35 % planned; a budget of the longest prompt, used until the
    twenty-fifth session, left a long prompt's step full, so the prompts behind it waited a step
    more and the bursts outlasted the autoregression of `packed`.)

    >>> [engine_chunk_tokens(c, s, 16384, m) for c, s, m in ((1215, 1962, 1215), (1000, 1000, 1000))]
    [16384.0, 1000.0]
    """
    if packs_whole_prompts(longest_uncached, mean_uncached):
        return float(math.ceil(max(chunk_tokens, pass_budget)))
    return float(math.ceil(chunk_tokens))


def colocated_step(dep: Deployment, batch: float, context_tokens: float, prompt_tokens: float,
                   uncached_tokens: float, prefill_per_step: float,
                   budget: float = DEFAULT_CHUNK_TOKENS) -> PhaseTime:
    """Mean step of a colocated (aggregated) engine with chunked prefill, as engines run it: a
    share f of the steps carries a chunk beside the `batch` decodes (a mixed step, which for an
    MoE model reads nearly every expert), the others decode only (reading the experts the batch
    touches). Spreading every prompt over every step instead would charge the expert reads of a
    prompt once per decode step rather than once per chunk."""
    return colocated_steps(dep, batch, context_tokens, prompt_tokens, uncached_tokens, prefill_per_step, (),
                           budget)[0]


def colocated_steps(dep: Deployment, batch: float, context_tokens: float, prompt_tokens: float,
                    uncached_tokens: float, prefill_per_step: float, lives: tuple[tuple[float, float], ...],
                    budget: float = DEFAULT_CHUNK_TOKENS, share: float | None = None,
                    prompt_cv2: float = 0.0, here_share: float | None = None,
                    max_batch: float = math.inf,
                    mix: tuple[tuple[float, float, float], ...] = ()) -> tuple[PhaseTime, PhaseTime]:
    """(mean step `colocated_step`, the step a decoding request sees on average: its TPOT × tokens
    per step) from one evaluation of the mixed and the decode-only step. The second blends them
    with the share of chunk steps a request sees (`chunk_share_seen` over `lives`, or `share` when
    given: the mean batch's, for the step at a TPOT statistic's batch, since the queue's busy runs
    are the mean load's; `prompt_cv2` the prompt length's squared coefficient of variation) instead of
    the share f of all steps; capacity in prompt tokens/s stays with
    the mean step. `here_share`: the share of the prompts chunked here whose request decodes here;
    given, the seen step is taken at the batch the bursts of chunk steps pile up (`burst_batch`,
    at most `max_batch`), else at `batch`. `mix`: prompts of several lengths, which the engine
    takes whole (`packed`: their own work in the chunk step, and the share seen from the steps'
    autoregression)."""
    chunk, f = colocated_chunk(prefill_per_step, uncached_tokens, budget)
    if f <= 0:
        step = decode_step(dep, batch, context_tokens)
        return step, step
    if f >= 1.0 and not mix:
        step = mixed_step(dep, batch, context_tokens, prefill_per_step, prompt_tokens, prompt_cv2)
        return step, step
    steps = _chunk_and_plain(dep, batch, context_tokens, prompt_tokens, uncached_tokens, prefill_per_step, chunk, f,
                             budget, prompt_cv2, mix)
    mixed, plain = steps.mixed, steps.plain
    f = min(f, 1.0)
    mean = blend(mixed, plain, f)
    if share is None:
        if not lives:
            return mean, mean
        share = steps.share_seen(f, chunk, uncached_tokens, lives, dep_tokens_per_step(dep), prompt_cv2)
    if here_share is not None and lives and f < 1.0:
        rho = f * mixed.time_s / mean.time_s
        extra = min(float(burst_batch(rho, here_share, lives, uncached_tokens / chunk, dep_tokens_per_step(dep),
                                      prompt_cv2)), max(max_batch - batch, 0.0))
        if extra > 0:
            d = steps.own_s
            mixed = mixed_step(dep, batch + extra, context_tokens, chunk, prompt_tokens, prompt_cv2)
            if d:   # the prompts' own work (`mix`) at the piled batch as at the mean one
                mixed = PhaseTime(mixed.time_s + d, mixed.compute_s + d, mixed.memory_s, mixed.comm_s,
                                  mixed.overhead_s, mixed.flops_per_card, mixed.bytes_per_card, mixed.below_ridge)
            plain = decode_step(dep, batch + extra, context_tokens)
    return mean, blend(mixed, plain, share)


def here_share(lives: tuple[tuple[float, float], ...], decode_tok_s: float, uncached_tokens: float,
               prefill_tok_s: float) -> float:
    """The share of the prompts chunked on an instance whose request decodes there too: its decode
    tokens/s over the decode tokens of the prompts it prefills (`lives`: (decode tokens, share of
    requests)), at most 1; 1 without prefill or decode."""
    decodes = sum(p for _, p in lives)   # the share of requests that decode
    mean_life = sum(n * p for n, p in lives) / decodes if decodes > 0 else 0.0
    if prefill_tok_s <= 0 or mean_life <= 0:
        return 1.0
    return min(1.0, decode_tok_s / mean_life * uncached_tokens / prefill_tok_s)


def burst_batch(rho, here_share, lives: tuple[tuple[float, float], ...], chunk_steps_per_prompt,
                tokens_per_step: float = 1.0, prompt_cv2: float = 0.0):
    """Sequences a decoding request of a colocated engine shares its steps with beyond the Poisson
    count of `physics.batch_spread.batch_seen` (mean + 1), numpy arrays or floats.

    A request decodes for n steps after its prompt's chunk step, so the batch at a step is the
    number of prompts whose request decodes here among those completed in the n steps before it.
    Prompts complete in the busy runs of the chunk queue (M/G/1 at the share of time in chunk
    steps ρ), K prompts a run with E[K] = 1/(1 − ρ), E[K²] = (1 + ρ²cv²)/(1 − ρ)³, so their count
    in a window is over-dispersed by D = E[K²]/E[K] = (1 + ρ²cv²)/(1 − ρ)², of which the requests
    that decode here (share h) keep h·D + 1 − h. A request sees the batch's mean plus its variance
    over its mean: 1 + (h·D + 1 − h − 1) more than the mean, i.e. h·(D − 1) beyond `batch_seen`,
    for a window of n steps much longer than a run (k·D steps, k chunk steps a prompt); shorter
    windows keep n/(n + k·D) of it, averaged over `lives` ((decode tokens, share)).

    A long-prompt MoE pool (Qwen3-235B on MI300X, 16k in / 300 out, 56 % of the time in chunk
    steps, 72 % of its prompts decoding there): the simulated requests saw 11.7 sequences where
    the Poisson count gave 8.9, and took 59.8 ms a token against 54.2 planned."""
    import numpy as np
    rho = np.clip(np.asarray(rho, dtype=float), 0.0, 0.999)
    d = (1.0 + rho**2 * prompt_cv2) / (1.0 - rho) ** 2
    run = np.asarray(chunk_steps_per_prompt, dtype=float) * d
    share = sum(p for _, p in lives)
    if share <= 0:
        return 0.0 * rho
    g = sum(p * (n := max(t / tokens_per_step, 1.0)) / (n + run) for t, p in lives) / share
    out = np.clip(np.asarray(here_share, dtype=float), 0.0, 1.0) * (d - 1.0) * g
    return out if out.ndim else float(out)


def chunk_share_seen(f, t_chunk_s, t_plain_s, chunk_tokens, uncached_tokens: float,
                     lives: tuple[tuple[float, float], ...], tokens_per_step: float = 1.0,
                     prompt_cv2: float = 0.0):
    """Share of the steps a decoding request sees that carry a chunk, the mean over requests (numpy
    arrays or floats, element by element); `f` is the share of all steps that do.

    Requests enter decode when their prompt's chunk step ends, and a request that leaves the
    prefill queue finds it busy with the probability ρ of the time-average (the M/G/1 departure
    property), ρ = f·T_c / t̄, t̄ = f·T_c + (1 − f)·T_d, larger than f because chunk steps are longer.
    The steps that follow relax from ρ to f. How long that takes is the queue's residual busy run:
    the request leaves behind N = ρ + ρ²(1 + cv²)/(2(1 − ρ)) prompts on average (Pollaczek–
    Khinchine, cv² the prompt length's squared coefficient of variation), each k = s/C chunk steps
    of work that grows by 1/(1 − ρ) with the prompts arriving meanwhile, so it first sees about
    N·k/(1 − ρ) chunk steps where the long-run share would give f of them: an excess of
    E = N·k/(1 − ρ)·(1 − f) chunk steps. Taken as a geometric relaxation of that excess, the
    persistence per step is r = 1 − (ρ − f)/E, and a request of n decode steps sees
    f + (ρ − f)·(1 − rⁿ)/(n·(1 − r)) of them with a chunk, averaged over `lives` ((decode tokens,
    share of requests), n = tokens / tokens_per_step). Long outputs see f, short ones nearer ρ:
    TPOT at heavy prefill load is longer than the mean step (an inspection effect the simulator
    shows). Until 2026-12-03 (twelfth session) the runs were geometric busy and idle runs of the queue
    (r = 1 − (C/s)·T_d/t̄), which at ρ ≳ 0.6 ended the burst 4× too early: plans 16–38 % optimistic
    on TPOT against the simulator there (docs/model.md, `bench/colocated_bench.py`)."""
    import numpy as np
    f = np.asarray(f, dtype=float)
    t_c, t_d = np.asarray(t_chunk_s, dtype=float), np.asarray(t_plain_s, dtype=float)
    inner = (f > 0) & (f < 1)
    if not lives or uncached_tokens <= 0 or not inner.any():   # no decodes to see, or no prompts
        return f if f.ndim else float(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_bar = f * t_c + (1.0 - f) * t_d
        rho = np.where(inner, f * t_c / t_bar, f)
        k = uncached_tokens / np.asarray(chunk_tokens, dtype=float)            # chunk steps per prompt
        left = rho + rho ** 2 * (1.0 + prompt_cv2) / (2.0 * (1.0 - rho))       # prompts left behind
        excess = np.maximum(left * k / (1.0 - rho) * (1.0 - f), 1e-12)         # chunk steps above f·n
        r = np.clip(1.0 - (rho - f) / excess, 0.0, 1.0 - 1e-12)
        g = 0.0
        for tokens, share in lives:
            n = max(tokens / tokens_per_step, 1.0)
            g = g + share * (1.0 - np.power(r, n)) / (n * (1.0 - r))
        out = np.where(inner, f + (rho - f) * g, f)
    return out if out.ndim else float(out)


def seen_share(dep: Deployment, batch: float, context_tokens: float, prompt_tokens: float,
               uncached_tokens: float, prefill_per_step: float, lives: tuple[tuple[float, float], ...],
               budget: float = DEFAULT_CHUNK_TOKENS, prompt_cv2: float = 0.0,
               mix: tuple[tuple[float, float, float], ...] = ()) -> float:
    """`chunk_share_seen` of a colocated engine at `batch` decodes and `prefill_per_step` prompt
    tokens a step (its steps with and without a chunk at that batch); with prompts of several
    lengths taken whole (`mix`), `packed.seen_share` of the steps `colocated_steps` takes."""
    chunk, f = colocated_chunk(prefill_per_step, uncached_tokens, budget)
    if f <= 0 or (f >= 1.0 and not mix):
        return f
    steps = _chunk_and_plain(dep, batch, context_tokens, prompt_tokens, uncached_tokens, prefill_per_step, chunk, f,
                             budget, prompt_cv2, mix)
    return float(steps.share_seen(min(f, 1.0), chunk, uncached_tokens, lives, dep_tokens_per_step(dep), prompt_cv2))


@dataclass(frozen=True)
class _ChunkAndPlain:
    """A colocated engine's step with a chunk and without one at one operating point, and with prompts
    of several lengths taken whole the parts `packed` needs (`lone_chunk_step`); None otherwise."""

    mixed: PhaseTime
    plain: PhaseTime
    used: float                 # the prompt tokens a chunk step holds
    ratio: float | None = None  # E[W²]/E[W]² of the prompts' own work
    lone: float | None = None   # a prompt's work alone in its step
    inc: float | None = None    # its increment in a step that has one
    step_prompts: float | None = None   # the prompts a step holds at most (pass budget ÷ mean prompt)
    own_s: float = 0.0          # what the prompts' own work adds to the chunk step of the mean prompt

    def share_seen(self, f, chunk, uncached_tokens, lives, tokens_per_step, prompt_cv2):
        """The share of chunk steps a decoding request sees: `packed.seen_share` with prompts taken
        whole, else `chunk_share_seen`."""
        if self.lone is not None:
            return packed_seen_share(f, self.mixed.time_s, self.plain.time_s, self.used / uncached_tokens, self.ratio,
                                     lives, tokens_per_step, self.lone, self.inc, self.step_prompts)
        return chunk_share_seen(f, self.mixed.time_s, self.plain.time_s, chunk, uncached_tokens, lives,
                                tokens_per_step, prompt_cv2)


def _chunk_and_plain(dep: Deployment, batch: float, context_tokens: float, prompt_tokens: float,
                     uncached_tokens: float, prefill_per_step: float, chunk: float, f: float, budget: float,
                     prompt_cv2: float, mix: tuple[tuple[float, float, float], ...]) -> _ChunkAndPlain:
    """The steps `colocated_steps` and `seen_share` blend: a chunk step holding the chunk (or, every
    step carrying prompts, the prompt tokens a step), and the decode-only step."""
    used = chunk if f < 1.0 else prefill_per_step
    mixed = mixed_step(dep, batch, context_tokens, used, prompt_tokens, prompt_cv2)
    plain = decode_step(dep, batch, context_tokens)
    if not mix:
        return _ChunkAndPlain(mixed, plain, used)
    step, ratio, lone, inc = lone_chunk_step(dep, batch, context_tokens, mixed, plain, mix, budget, uncached_tokens,
                                             prompt_tokens, prompt_cv2, used / uncached_tokens,
                                             prefill_per_step / uncached_tokens)
    return _ChunkAndPlain(step, plain, used, ratio, lone, inc, budget / uncached_tokens, step.time_s - mixed.time_s)


@dataclass(frozen=True)
class Floors:
    """The fixed time of one decode step whatever its batch (what small-batch TPOT is made of
    beyond the weight reads): engine overheads and the latency of every collective."""

    step_s: float              # scheduling, sampling, launch: once per step
    layers_s: float            # per-layer engine overhead × layers
    moe_layers_s: float        # per-MoE-layer overhead × MoE layers
    collectives: int           # collectives per step: all-reduces (TP) and all-to-alls (EP)
    collective_latency_s: float  # the latency of one: measured α(group) + engine latency (or across the NIC)
    sequences_s: float = 0.0   # host time of the batch's sequences: b/dp × sequence_overhead_s

    @property
    def total_s(self) -> float:
        return (self.step_s + self.layers_s + self.moe_layers_s + self.collectives * self.collective_latency_s
                + self.sequences_s)


LATENCY_TOKENS = 1e-9   # a message this small costs its collectives' latency alone


def floors(dep: Deployment, batch: float = 1.0) -> Floors:
    """The floors of one decode step of `dep` at `batch` sequences (`plan eval` prints them)."""
    a, par, c = dep.arch, dep.par, dep.calib
    n_s = par.stage_cards
    allreduces = (a.layers * (1 if par.tp > 1 else 0) + a.dense_layers * (1 if n_s > 1 else 0)
                  + (a.moe_layers if a.is_moe and par.moe_tp > 1 else 0))
    alltoalls = a.moe_layers * 2 if a.is_moe and par.moe_ep > 1 else 0
    # the mean latency of one, as the step charges them: each kind its own α (an all-to-all's is
    # larger than an all-reduce's; the all-reduce's for all of them printed 1.06 of 1.71 ms, a hunt)
    count = allreduces + alltoalls
    latency = stage_terms(dep).comm.time(LATENCY_TOKENS) * par.pp / count if count else 0.0
    return Floors(c.v("step_overhead_s"), a.layers * c.v("layer_overhead_s"),
                  a.moe_layers * c.v("moe_layer_overhead_s"), count, latency,
                  batch / par.dp * c.v("sequence_overhead_s"))
