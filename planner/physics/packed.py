"""A colocated engine that takes whole prompts of several lengths into its steps.

With prompts of one length the plan gives the engine a step budget of one prompt (`colocated`:
a queue of chunk steps, each a prompt). With several lengths it gives it the pass budget
(`serving.max_prefill_tokens_per_pass`, 16,384 by default), which holds the longest prompt
whole, so each step takes every prompt that arrived during the step before it. Three things then
differ from the chunk queue of the mean prompt:

- **A prompt's work is its own.** A step that carries one prompt of s tokens lasts
  W(s) = T_mixed(s) − T_decode longer than a decode-only step, and W is not linear in s: a short
  prompt's GEMMs hide under the weight read, a long one's do not, and each pays the eager pass
  once. So the mean work per prompt is E[W(s)] over the lengths, not W(E[s]) (`lone_work`):
  Llama-3.1-8B on one H100 with prompts of 300 and 8,000 tokens (150:12) does 19.9 ms of work per
  prompt where the mean prompt's chunk step takes 18.6 ms.
- **Prompts pack.** A step that takes several prompts pays the eager pass and a MoE layer's
  expert reads once: the first prompt its lone work, each further one only its increment, so with
  π prompts a step on average a prompt adds E[W_eff] = inc + (lone − inc)·(1 − e^{−π})/π
  (`effective_work`; Poisson arrivals over the step before).
- **A long step begets a long step.** Step k + 1 carries the prompts that arrived during step k,
  so step times form an autoregression: E[T_{k+1} | T_k] = T_d + work of λ·T_k prompts, whose
  slope at the mean step is φ' = λ·(inc + e^{−π}·(lone − inc)) (λ prompts/s), the mean step
  t̄ = T_d + π·E[W_eff] and the stationary variance V = π·E[W_eff]²·(E[W²]/E[W]²)/(1 − φ'²). A
  request's prompt arrives during a step picked by its length (mean t̄ + V/t̄, the inspection
  paradox); its own step carries the prompts that arrived with it, T_own = T_d + lone +
  λ·(t̄ + V/t̄)·inc, δ = T_own − t̄ above the mean, and the steps of its decode relax from there by
  φ' a step: over n decode steps it sees t̄ + δ·φ'(1 − φ'ⁿ)/(n(1 − φ')) on average (`seen_share`),
  a request's mean TPOT averaging over requests and the decode capacity (Little's law) over tokens
  (`token_lives`). Its TTFT is the rest of the step it arrived in, (t̄ + V/t̄)/2, plus its own step
  (`first_token_wait`).
- **A step holds at most the pass budget.** A burst's prompts past the budget wait for the next
  step instead of lengthening this one, which cuts the tail the autoregression would feed on: V is
  that of steps capped at the budget's prompts, the work conserved (`capped_variance`).

Checked against the event simulation (`plan simulate`, which runs the same steps): for that
Llama pool the simulated steps regress as T_{k+1} = 7.9 ms + 0.57·T_k with autocorrelations
0.57, 0.34, 0.19 at lags 1–3 (φ', φ'², φ'³), and the 10-token answers' mean TPOT is 30.3 ms where
the chunk queue of the mean prompt read 21 ms (`docs/model.md`).
"""

from __future__ import annotations

import math

import numpy as np

from planner.physics.deployment import Deployment, PhaseTime


def packs_whole_prompts(longest_uncached: float, mean_uncached: float) -> bool:
    """Whether a colocated engine runs with the pass budget and whole prompts (several prompt
    lengths), rather than a budget of one prompt (`colocated.engine_chunk_tokens`)."""
    return mean_uncached > 0 and longest_uncached > mean_uncached * (1.0 + 1e-9)


MIX_POINTS = 12   # prompt lengths `prompt_mix` keeps (each a step evaluation per operating point)


def prompt_mix(lengths: list[tuple[float, float]], hit: float) -> tuple[tuple[float, float, float], ...]:
    """(uncached tokens, prompt tokens, share) of each prompt length ((tokens, probability) pairs,
    prefix-cache hit rate `hit`); more than MIX_POINTS lengths are merged into that many groups of
    consecutive lengths, each at its mean (a trace's thousands of lengths: the mean work is kept,
    its spread within a group is not)."""
    pairs = sorted((v, p) for v, p in lengths if p > 0)
    total = sum(p for _, p in pairs)
    if len(pairs) > MIX_POINTS:
        groups: list[list[tuple[float, float]]] = [[] for _ in range(MIX_POINTS)]
        acc = 0.0
        for v, p in pairs:   # by cumulative probability: each group about 1/MIX_POINTS of the prompts
            groups[min(int((acc + p / 2) / total * MIX_POINTS), MIX_POINTS - 1)].append((v, p))
            acc += p
        pairs = [(sum(v * p for v, p in g) / sum(p for _, p in g), sum(p for _, p in g)) for g in groups if g]
    return tuple((v * (1.0 - hit), v, p / total) for v, p in pairs)


def lone_work(mixed_alone, dec_time_s, mix: tuple[tuple[float, float, float], ...], pass_budget: float):
    """(E[W], E[W²]) over the prompt lengths of `mix` (`prompt_mix`), W the time a prompt adds to
    the steps that carry it alone: ⌈s/C⌉ pieces of s/⌈s/C⌉ uncached tokens (C the pass budget),
    each a step `mixed_alone(piece tokens, prompt tokens)` longer than the decode-only step
    `dec_time_s`. numpy arrays (over batches) or floats."""
    w1 = w2 = 0.0
    for tokens, prompt, share in mix:
        n = max(1, math.ceil(tokens / pass_budget))
        w = n * np.maximum(mixed_alone(tokens / n, prompt) - dec_time_s, 0.0)
        w1 = w1 + share * w
        w2 = w2 + share * w * w
    return w1, w2


def token_lives(lives: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """`lives` ((decode tokens, share of requests)) weighted by their tokens: what a decoded token,
    rather than a request, sees. A request's mean TPOT averages over requests, but the decode
    tokens/s an instance gives at its mean batch (Little's law) over tokens; with bursts a short
    answer sees steps much longer than a long one, and the two differ (the 300/8,000-token pool:
    30.3 ms for 10-token answers, 20.8 ms for 200-token ones)."""
    total = sum(n * p for n, p in lives)
    return tuple((n, n * p / total) for n, p in lives) if total > 0 else lives


BURST_ITERATIONS = 4   # rounds of the fixed point between a step's arrival chance and the steps' spread


def _no_arrival(lam, t_bar, var):
    """The chance that no prompt arrives during a step, E[e^{−λT}] over the step times T, read as a
    gamma of mean t̄ and variance V: (1 + λV/t̄)^{−t̄²/V} (e^{−λt̄} at V = 0). Steps vary, long ones
    gather the arrivals, so fewer steps carry prompts than e^{−λt̄} says and more prompts share one
    (DeepSeek-V3 on H200 TP1·DP8 at 300/8,000-token prompts: 35 % of the simulated steps carried a
    prompt, 41 % by e^{−λt̄}, 34 % by the gamma)."""
    return _no_arrival_of(lam, t_bar, var, -t_bar, None)


def _no_arrival_of(lam, t_bar, var, neg_t_bar, at_zero):
    """`_no_arrival` given −t̄ and e^{−λt̄} (None: computed here), which a fixed point of steady λ and t̄
    (`_fixed_point` with the work held) takes once for its rounds: the same floats."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta = var / t_bar
        gamma = (1.0 + lam * theta) ** (neg_t_bar / np.where(theta > 0, theta, 1.0))
        return np.where(var > 0, gamma, np.exp(-lam * t_bar) if at_zero is None else at_zero)


SECANT_STEPS = 3       # secant steps of the budget-capped steps' variance (`capped_variance`)
HELD_BACK_MIN = 1e-4   # below this chance that a step's uncapped work passes its cap, nothing is held back


def _capped_terms(x_bar, t_plain, t_bar, lam, phi, work_sq, cap) -> tuple:
    """What `_capped_moments` reads that does not move with m: x̄, the cap, and the terms of the recursion
    E[D'²] = E[(D − cap)⁺²] + 2(a₀ + φ'(T_d + cap))·E[(D − cap)⁺] + λE[W²]t̄ + a₀² + 2a₀φ't̄
    + φ'²(T_d² + 2T_d·x̄ + E[min(D, cap)²]), a₀ = x̄ − φ't̄, each by the operations the whole formula
    takes for it (the same floats), once per `capped_variance` rather than at every secant step."""
    a0 = x_bar - phi * t_bar
    return (x_bar, cap, 2.0 * (a0 + phi * (t_plain + cap)), lam * work_sq * t_bar, a0 * a0, 2.0 * a0 * phi * t_bar,
            phi * phi, t_plain * t_plain + 2.0 * t_plain * x_bar)


def _capped_moments(u, x_bar, cap, over_k, arrived, a0_sq, a0_phi, phi_sq, plain_sq):
    """(E[D²] − its recursion, Var(T), p) of the capped steps (`capped_variance`) at a prompt work D
    read as an atom at 0 and an exponential of mean m = e^u, with the chance p that conserves the
    work, E[min(D, cap)] = t̄ − T_d; the terms that do not move with m from `_capped_terms`."""
    m = np.exp(u)
    e = np.exp(-cap / m)
    p = x_bar / (m * (1.0 - e))
    two_m = 2.0 * m
    mm2, dd2 = two_m * m, 2.0 * p * m * m                             # 2m², E[D²] = 2p·m²
    over, over_sq = p * m * e, dd2 * e                                # E[(D − cap)⁺], E[(D − cap)⁺²]
    taken_sq = p * (mm2 - e * (two_m * cap + mm2))                    # E[min(D, cap)²]
    nxt = over_sq + over_k * over + arrived + a0_sq + a0_phi + phi_sq * (plain_sq + taken_sq)
    return dd2 - nxt, taken_sq - x_bar * x_bar, p


def capped_variance(t_plain, t_bar, lam, phi, work, work_sq_ratio, cap, var):
    """The variance of the step times of an engine whose steps take at most `cap` seconds of prompt
    work (the pass budget's prompts), where `var` is that of uncapped steps. A step takes
    X = min(D, cap) of the work D waiting for it and leaves (D − cap)⁺ to the next, which also gets
    the prompts that arrived during this one: D' = (D − cap)⁺ + A, E[A | T] = a₀ + φ'·T (the
    steps' persistence about the mean step t̄, a₀ = t̄ − T_d − φ'·t̄), Var(A | T) = λ·T·E[W²]. D is
    read as an atom at 0 (steps that get no prompt) and an exponential tail of mean m, the atom
    set so that the work is conserved (E[X] = t̄ − T_d); m solves E[D'²] = E[D²] (secant steps in
    log m from the uncapped steps' m). Without a cap it is var = π·E[W]²·ratio/(1 − φ'²). The
    budget holds back a burst's tail, which the uncapped autoregression lets feed the next step:
    Llama-3.1-8B on MI300X TP2 at 2,000/6,000-token prompts, 20 a second per instance, a
    16,384-token budget: V/t̄ 64 ms simulated (85 ms with the budget lifted), 98 ms uncapped,
    72 ms capped (`tests/test_packed.py`). numpy arrays or floats."""
    args = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                 (t_plain, t_bar, lam, phi, work, work_sq_ratio, cap, var)))
    out = args[-1].copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x_bar = args[1] - args[0]
        m0 = (args[-1] + x_bar * x_bar) / (2.0 * x_bar)   # the uncapped steps' tail
        held = np.flatnonzero((m0 > x_bar) & (x_bar / m0 * np.exp(-args[6] / m0) > HELD_BACK_MIN))
        if len(held):
            tp, tb, lam, phi, w, ratio, c, v = (x.ravel()[held] for x in args)
            fixed = _capped_terms(tb - tp, tp, tb, lam, phi, w * w * ratio, c)
            u0, u1 = np.log(m0.ravel()[held]), np.log(0.7 * m0.ravel()[held])
            g0, g1 = _capped_moments(u0, *fixed)[0], _capped_moments(u1, *fixed)[0]
            for _ in range(SECANT_STEPS):
                d = g1 - g0
                u0, g0, u1 = u1, g1, np.where(np.abs(d) > 0, u1 - g1 * (u1 - u0) / d, u1)
                g1 = _capped_moments(u1, *fixed)[0]
            _, capped, p = _capped_moments(u1, *fixed)
            ok = np.isfinite(capped) & (capped > 0) & (p <= 1.0)
            out.ravel()[held] = np.where(ok, np.minimum(v, capped), v)
    return out if out.ndim else float(out)


def _fixed_point(t_plain, lone, inc, work_sq_ratio, pi, work=None, step_prompts=None):
    """(E[W_eff], λ per unit time, φ', V, t̄) of an engine taking whole prompts, π prompts a step:
    the work a prompt adds, fading from `lone` to `inc` as it shares its step (1 − q)/π of the
    time (q the chance a step gets no prompt, `_no_arrival`); the mean step t̄ = T_d + π·E[W_eff];
    the steps' persistence φ' = λ·(inc + q·(lone − inc)); their variance
    V = π·E[W_eff]²·ratio/(1 − φ'²). `work` given: E[W_eff] held at it (a step already known).
    BURST_ITERATIONS rounds from q = e^{−π}. `step_prompts` given (the prompts a step holds at most,
    the pass budget over the mean prompt), V is that of steps capped at that many prompts' work,
    lone + (n − 1)·inc (`capped_variance`)."""
    q = np.exp(-pi)
    spread = lone - inc
    if work is None:
        for _ in range(BURST_ITERATIONS):
            w = inc + spread * (1.0 - q) / pi
            t_bar = t_plain + pi * w
            lam = pi / t_bar
            phi = np.clip(lam * (inc + q * spread), 0.0, 0.999)
            var = pi * w**2 * work_sq_ratio / (1.0 - phi**2)
            q = _no_arrival(lam, t_bar, var)
    else:   # the work held: t̄, λ and what they give the same every round (taken once: the same floats)
        w = work
        t_bar = t_plain + pi * w
        lam = pi / t_bar
        held = pi * w**2 * work_sq_ratio
        neg_t_bar = -t_bar
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            at_zero = np.exp(-lam * t_bar)
        for _ in range(BURST_ITERATIONS):
            phi = np.clip(lam * (inc + q * spread), 0.0, 0.999)
            var = held / (1.0 - phi**2)
            q = _no_arrival_of(lam, t_bar, var, neg_t_bar, at_zero)
    if step_prompts is not None:   # a step holds at most the pass budget's prompts
        var = capped_variance(t_plain, t_bar, lam, phi, w, work_sq_ratio,
                              lone + np.maximum(step_prompts - 1.0, 0.0) * inc, var)
    return w, lam, phi, var, t_bar


def effective_work(lone, inc, prompts_per_step, t_plain=None, work_sq_ratio=None):
    """E[W_eff], the mean work a prompt adds when the steps take π = `prompts_per_step` prompts on
    average: a step with prompts pays one prompt's work alone (`lone`: the eager pass, a MoE layer's
    expert reads, the GEMMs past their knee) and each further prompt only its increment (`inc`), so
    per step (1 − q)·(lone − inc) + π·inc over π prompts, q the chance a step gets none: e^{−π}
    for steps of one length, the gamma of `_no_arrival` given the decode-only step `t_plain` and
    E[W²]/E[W]² (`_fixed_point`). numpy arrays or floats."""
    pi = np.maximum(np.asarray(prompts_per_step, dtype=float), 1e-12)
    if t_plain is None:
        out = inc + (lone - inc) * -np.expm1(-pi) / pi
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _fixed_point(np.asarray(t_plain, dtype=float), np.asarray(lone, dtype=float),
                               np.asarray(inc, dtype=float), np.asarray(work_sq_ratio, dtype=float), pi)[0]
    return out if np.ndim(out) else float(out)


def _bursts(t_bar, t_plain, lone, inc, work_sq_ratio, prompts_per_step, step_prompts=None):
    """(λ prompts/s, φ' the steps' persistence, t̄ + V/t̄ the step a prompt arrives in) of an engine
    taking whole prompts at mean step t̄ with π = `prompts_per_step` (`seen_share`, `_fixed_point`
    with the work a prompt adds held at (t̄ − T_d)/π)."""
    pi = prompts_per_step
    _, lam, phi, var, t_bar = _fixed_point(t_plain, lone, inc, work_sq_ratio, pi, (t_bar - t_plain) / pi,
                                           step_prompts)
    return lam, phi, t_bar + var / t_bar


def first_token_wait(t_bar, t_plain, lone, inc, work_sq_ratio, prompts_per_step, step_prompts=None):
    """What a prompt waits beyond its own lone work and a decode step before its first token, on an
    engine taking whole prompts: the rest of the step it arrives in, (t̄ + V/t̄)/2 (a step picked by
    its length), and the increments of the prompts that arrived with it, λ·(t̄ + V/t̄)·inc, which
    its own step carries too (`seen_share`). Its TTFT is T_plain + its lone work + this + the fixed
    time. Until the twenty-fifth session a colocated TTFT queued prompts one by one through chunk
    steps of the mean prompt: 14–94 % pessimistic against the simulation over 36 mixed-length
    pools (median 36 %), and 13–200 % optimistic on three. `step_prompts`: the prompts a step
    holds at most (`_fixed_point`). numpy arrays or floats."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pi = np.maximum(np.asarray(prompts_per_step, dtype=float), 1e-12)
        lam, _, arrived_in = _bursts(np.asarray(t_bar, dtype=float), np.asarray(t_plain, dtype=float),
                                     np.asarray(lone, dtype=float), np.asarray(inc, dtype=float),
                                     np.asarray(work_sq_ratio, dtype=float), pi, step_prompts)
        out = arrived_in / 2.0 + lam * arrived_in * inc
    return out if np.ndim(out) else float(out)


def seen_share(f, t_chunk_s, t_plain_s, prompts_per_chunk_step, work_sq_ratio,
               lives: tuple[tuple[float, float], ...], tokens_per_step: float = 1.0, lone=None, inc=None,
               step_prompts=None):
    """The share s of chunk steps that, blended as s·T_chunk + (1 − s)·T_plain, gives the mean step a
    decoding request of an engine taking whole prompts sees (module docstring), averaged over
    `lives` ((decode tokens, share of requests)); more than 1 when its bursts outlast a chunk step.
    `f` the share of steps with a chunk, each holding `prompts_per_chunk_step` prompts of mean work
    E[W_eff] = (T_chunk − T_plain)/that (`effective_work` of a prompt's `lone` work and its
    increment `inc` in a step that has one; both E[W_eff] when not given); `work_sq_ratio`
    E[W²]/E[W]² of the prompts. The mean step t̄ = T_plain + π·E[W_eff] (π = f·prompts per chunk
    step); a step after one of length T carries λT prompts, so it relaxes by
    φ' = λ·(inc + e^{−π}·(lone − inc)) a step (λ = π/t̄); the step a prompt arrives in is t̄ + V/t̄
    long, V = π·E[W_eff]²·ratio/(1 − φ'²) (capped at `step_prompts` prompts a step,
    `capped_variance`), and its own step T_d + lone + λ·(t̄ + V/t̄)·inc. numpy arrays or floats,
    element by element."""
    return seen_shares(f, t_chunk_s, t_plain_s, prompts_per_chunk_step, work_sq_ratio, (lives,), tokens_per_step,
                       lone, inc, step_prompts)[0]


def seen_shares(f, t_chunk_s, t_plain_s, prompts_per_chunk_step, work_sq_ratio,
                lives_sets: tuple[tuple[tuple[float, float], ...], ...], tokens_per_step: float = 1.0,
                lone=None, inc=None, step_prompts=None) -> list:
    """`seen_share` for each of `lives_sets` (e.g. the requests' lives and the tokens'), the steps'
    bursts computed once."""
    f = np.asarray(f, dtype=float)
    t_c, t_d = np.asarray(t_chunk_s, dtype=float), np.asarray(t_plain_s, dtype=float)
    extra = t_c - t_d
    if not np.any((f > 0) & (extra > 0)) or not any(lives_sets):
        return [f if f.ndim else float(f) for _ in lives_sets]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_bar = f * t_c + (1.0 - f) * t_d
        k = np.asarray(prompts_per_chunk_step, dtype=float)
        work = extra / k                                          # E[W_eff]
        lone = work if lone is None else np.asarray(lone, dtype=float)
        inc = work if inc is None else np.asarray(inc, dtype=float)
        lam, phi, arrived_in = _bursts(t_bar, t_d, lone, inc, np.asarray(work_sq_ratio, dtype=float), f * k,
                                       step_prompts)
        delta = t_d + lone + lam * arrived_in * inc - t_bar       # its own step above the mean
        outs = []
        parts: dict[float, tuple] = {}   # (1 − φⁿ, n·(1 − φ)) of each n: the sets share their lengths
        for lives in lives_sets:
            if not lives:
                outs.append(f if f.ndim else float(f))
                continue
            share = sum(p for _, p in lives)
            g = 0.0
            for tokens, p in lives:
                n = max(tokens / tokens_per_step, 1.0)
                if n not in parts:
                    parts[n] = (1.0 - phi**n, n * (1.0 - phi))
                g = g + p * phi * parts[n][0] / parts[n][1]
            seen = t_bar + delta * g / share
            out = np.where((f > 0) & (extra > 0), (seen - t_d) / extra, f)
            outs.append(out if out.ndim else float(out))
    return outs


def lone_parts(dep: Deployment, batch: float, context_tokens: float, plain_s: float,
               mix: tuple[tuple[float, float, float], ...], pass_budget: float, mean_uncached: float,
               mean_prompt: float, prompt_cv2: float) -> tuple[float, float, float]:
    """(lone work E[W], the increment of a prompt in a step that has one, E[W²]/E[W]²) of one operating
    point (`lone_work`; the increment is the mean prompt's on top of another's, 2·s̄ against s̄
    tokens)."""
    from planner.physics.perf import mixed_step

    w1, w2 = lone_work(lambda n, s: mixed_step(dep, batch, context_tokens, n, s, 0.0).time_s, plain_s, mix,
                       pass_budget)
    w1, w2 = float(w1), float(w2)
    one = mixed_step(dep, batch, context_tokens, mean_uncached, mean_prompt, prompt_cv2).time_s
    inc = mixed_step(dep, batch, context_tokens, 2.0 * mean_uncached, mean_prompt, prompt_cv2).time_s - one
    return w1, inc, (w2 / w1**2 if w1 > 0 else 1.0)


def lone_parts_by(mixed_times, n: int, plain_s, mix: tuple[tuple[float, float, float], ...], pass_budget: float,
                  mean_uncached: float, mean_prompt: float, prompt_cv2: float):
    """`lone_parts` at n operating points whose mixed steps `mixed_times(chunks, prompt tokens, cv²)`
    gives (the step times of the n points at each array of chunk tokens of `chunks`, in one call): one
    deployment's through `physics.batched`, or many deployments' through `physics.many`; the same
    floats as the scalar function point by point."""
    def alone(tokens, prompt):
        return mixed_times([np.full(n, tokens)], prompt, 0.0)[0]
    w1, w2 = lone_work(alone, plain_s, mix, pass_budget)
    one, two = mixed_times([np.full(n, mean_uncached), np.full(n, 2.0 * mean_uncached)], mean_prompt, prompt_cv2)
    return w1, two - one, np.where(w1 > 0, w2 / np.maximum(w1, 1e-300) ** 2, 1.0)


def lone_chunk_step(dep: Deployment, batch: float, context_tokens: float, mixed: PhaseTime, plain: PhaseTime,
                    mix: tuple[tuple[float, float, float], ...], pass_budget: float, mean_uncached: float,
                    mean_prompt: float, prompt_cv2: float, prompts_per_chunk_step: float,
                    prompts_per_step: float) -> tuple[PhaseTime, float, float, float]:
    """(`mixed`, the model's chunk step at `batch` holding `prompts_per_chunk_step` mean prompts,
    with each prompt's `effective_work` (at `prompts_per_step`) in place of the mean prompt's;
    E[W²]/E[W]²; the lone work; the increment): `lone_parts` of one operating point."""
    lone, inc, ratio = lone_parts(dep, batch, context_tokens, plain.time_s, mix, pass_budget, mean_uncached,
                                  mean_prompt, prompt_cv2)
    d = plain.time_s + prompts_per_chunk_step * effective_work(lone, inc, prompts_per_step, plain.time_s,
                                                               ratio) - mixed.time_s
    step = PhaseTime(mixed.time_s + d, mixed.compute_s + d, mixed.memory_s, mixed.comm_s, mixed.overhead_s,
                     mixed.flops_per_card, mixed.bytes_per_card, mixed.below_ridge)
    return step, ratio, lone, inc
