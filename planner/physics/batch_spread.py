"""How far a request's TPOT strays from the mean: the decode batch it shares fluctuates.

Under Poisson arrivals the sequences decoding on an instance are an M/G/∞ population: at mean
batch m the number in the batch is Poisson(m), and its autocorrelation after u steps is
ρ(u) = E[(S − u)⁺]/E[S], S the decode steps of a request (its output length − 1; the stationary
excess of the lifetime distribution). A request's TPOT is the mean step time over its own life
of L steps, so it sees the batch averaged over L steps, whose variance is m·g(L) with

    g(L) = 2/(L²·E[S]) · Σᵢ pᵢ·[L·sᵢ·aᵢ − (L + sᵢ)·aᵢ²/2 + aᵢ³/3],   aᵢ = min(L, sᵢ)

(the integral (2/L²)∫₀ᴸ (L − u)ρ(u)du in closed form for a discrete length distribution;
g = 2/3 for fixed lengths, → 1 for a request short beside the others). With the normal
approximation, the q-quantile over requests of the life-averaged batch is m + ζ·√m, ζ solving
Σ_L w_L·Φ(ζ/√g(L)) = q (w_L: the share of requests with L steps). The step time rises with the
batch, so the q-quantile of TPOT is the step at m + ζ√m (exactly so where the step is linear in
the batch; a convex step makes it a slight underestimate). Left out: variation of the accepted
tokens per step (speculative decoding) and of each request's context length.

    >>> round(tpot_spread([(1001.0, 1.0)], "p99"), 3)    # fixed lengths: z₀.₉₉·√(2/3)
    1.899
    >>> tpot_spread([(1001.0, 1.0)], "mean")
    0.0
"""

from __future__ import annotations

import math

from planner.physics.queueing import QUANTILE


def life_variance_factor(steps: float, lifetimes: list[tuple[float, float]]) -> float:
    """g(L): variance of the batch averaged over `steps` decode steps, per unit of mean batch,
    when the batch's members live `lifetimes` steps [(sᵢ, pᵢ)] (module docstring)."""
    mean_s = sum(s * p for s, p in lifetimes)
    if steps <= 0 or mean_s <= 0:
        return 1.0
    total = 0.0
    for s, p in lifetimes:
        a = min(steps, s)
        total += p * (steps * s * a - (steps + s) * a * a / 2.0 + a ** 3 / 3.0)
    return 2.0 * total / (steps * steps * mean_s)


def tpot_spread(output_lengths: list[tuple[float, float]], statistic: str) -> float:
    """ζ of the statistic: its quantile of the life-averaged decode batch is m + ζ·√m at mean
    batch m (0 for the mean). `output_lengths`: [(output tokens, probability)] of the requests
    sharing the instance; requests of one token have no TPOT and are not counted."""
    q = QUANTILE.get(statistic)
    if q is None or q <= 0.5:   # the mean, or the median: the mixture is symmetric about the mean
        return 0.0
    sd = [(math.sqrt(g), w) for _, w, g in life_terms(output_lengths)]
    if not sd:
        return 0.0

    def cdf(z: float) -> float:
        return sum(w * 0.5 * (1.0 + math.erf(z / (g * math.sqrt(2.0)))) for g, w in sd)
    lo, hi = 0.0, 10.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if cdf(mid) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def life_terms(output_lengths: list[tuple[float, float]]) -> tuple[tuple[float, float, float], ...]:
    """(decode tokens L − 1, share of requests, g(L)) of every output length above one token:
    what `tpot_offset` mixes over."""
    lifetimes = [(max(v - 1.0, 0.0), p) for v, p in output_lengths]
    weights = [(s, p) for s, p in lifetimes if s > 0 and p > 0]
    total = sum(p for _, p in weights)
    return tuple((s, p / total, life_variance_factor(s, lifetimes)) for s, p in weights)


def tpot_offset(statistic: str, terms: tuple[tuple[float, float, float], ...], batch_sd, chunk_var=0.0,
                chunk_k3=0.0, cross=0.0, backlog=(0.0, 0.0)):
    """How far the statistic's TPOT lies above the mean TPOT, per point (numpy arrays or floats):
    the x with Σ_L w_L·F_L(x) = q, F_L the (skewed, below) law of a request of L − 1 decode tokens,
    of variance σ_L² = batch_sd²·g(L) + chunk_var/(L − 1) + cross + backlog variance/(L − 1)²:
    - batch_sd: TPOT change of one standard deviation of the instantaneous batch (slope·√m);
    - chunk_var: f(1 − f)·E[Δ²]/a of a colocated engine — a share f of its steps carries a prompt
      chunk that lengthens the step by Δ, a the tokens per step; a request over n = (L − 1)/a
      steps meets a binomial number of them, so its TPOT varies by f(1 − f)·E[Δ²]/(n·a²);
    - chunk_k3: the chunk term's third cumulant, chunk_k3/(L − 1)² for that request
      (`chunk_cumulants`): the count of chunk steps a short life meets is skewed like a Poisson
      count, and each one lengthens the life that more arrive in. A component with skewness γ is
      taken as a shifted gamma of its three cumulants (`_skewed_cdf`), a normal without;
    - cross: twice the covariance of the two (`chunk_cross`), added to every σ_L²;
    - backlog: (variance, third cumulant) of the chunk work a request finds queued as it starts
      decoding (`backlog_cumulants`), over (L − 1)² and (L − 1)³ for that request.
    0 for the mean (and the median, the mixture being symmetric)."""
    import numpy as np
    q = QUANTILE.get(statistic)
    batch_sd = np.asarray(batch_sd, dtype=float)
    chunk_var = np.broadcast_to(np.asarray(chunk_var, dtype=float), batch_sd.shape)
    chunk_k3 = np.broadcast_to(np.asarray(chunk_k3, dtype=float), batch_sd.shape)
    cross = np.maximum(np.broadcast_to(np.asarray(cross, dtype=float), batch_sd.shape), 0.0)
    if q is None or q <= 0.5 or not terms:
        return np.zeros(batch_sd.shape)
    b_var, b_k3 = (np.broadcast_to(np.asarray(v, dtype=float), batch_sd.shape) for v in backlog)
    sds = [np.sqrt(batch_sd ** 2 * g + chunk_var / n + cross + b_var / (n * n)) for n, _, g in terms]
    # (a spread of 0, every prompt token cached and the batch fixed: no skew, where 0/1e-900 was 0/0)
    skews = [np.divide(chunk_k3 / (n * n) + b_k3 / n ** 3, sd ** 3, out=np.zeros(batch_sd.shape), where=sd > 0)
             for (n, _, _), sd in zip(terms, sds)]
    hi = 10.0 * np.maximum(np.max(sds, axis=0), 1e-300) * (1.0 + np.max(skews, axis=0))
    lo = np.zeros(batch_sd.shape)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        cdf = sum(w * _skewed_cdf(mid, sd, g) for (_, w, _), sd, g in zip(terms, sds, skews))
        below = cdf < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


# below this skewness a component is taken as normal (the gamma's shape 4/γ² would pass 4·10⁴)
MIN_SKEW = 1e-2


def _skewed_cdf(x, sd, skew):
    """P(X ≤ x) of a zero-mean variable of standard deviation `sd` and skewness `skew` ≥ 0, at
    x ≥ 0: the shifted gamma of those three cumulants (shape k = 4/γ², scale σγ/2, shifted by
    −2σ/γ) by the Wilson–Hilferty cube root, Φ((∛(y/k) − 1 + 1/9k)·3√k); the normal Φ(x/σ)
    below `MIN_SKEW`. Arrays of one shape."""
    import numpy as np
    sd = np.maximum(sd, 1e-300)
    normal = 0.5 * (1.0 + _erf(x / sd / math.sqrt(2.0)))
    g = np.maximum(skew, MIN_SKEW)
    k = 4.0 / (g * g)
    y = np.maximum((x / sd + 2.0 / g) * 2.0 / g, 0.0)   # in units of the gamma's scale
    u = (np.cbrt(y / k) - 1.0 + 1.0 / (9.0 * k)) * 3.0 * np.sqrt(k)
    gamma = 0.5 * (1.0 + np.sign(u) * _erf(np.abs(u) / math.sqrt(2.0)))
    return np.where(skew < MIN_SKEW, normal, gamma)


SHORT_STEPS = 16   # answers of at most this many decode steps get `short_answer_floor`'s exact count


def short_answer_floor(statistic: str, terms: tuple[tuple[float, float, float], ...], plain_s: float,
                       chunk_extra_s: float, share: float, tokens_per_step: float) -> float:
    """A lower bound on a colocated pool's TPOT statistic from its short answers, where the normal
    approximation of `tpot_offset` fails: a request of n ≤ SHORT_STEPS decode steps meets
    K ~ Binomial(n, share) steps carrying a prompt chunk, each `chunk_extra_s` longer than the
    plain step `plain_s`, so its TPOT is plain + extra·K/n, a few discrete values. The bound is the
    largest such value v whose share of requests at or above it, Σ_L w_L·P(K_L ≥ ⌈(v − plain)/extra·n_L⌉)
    over the short answers, exceeds 1 − q; 0 when none does (or for the mean). Llama-3.1-70B with
    half its answers 2 tokens, a colocated H100 TP2 pool 2.7 % of whose steps carry a 1,000-token
    chunk: 1.35 % of requests take a whole chunk step as their TPOT, so the p99 is one (71.9 ms
    simulated), where the normal approximation planned 28.3 ms.

    >>> round(short_answer_floor("p99", ((1.0, 0.5, 1.0), (1999.0, 0.5, 0.67)), 0.02, 0.05, 0.027, 1.0), 3)
    0.07
    >>> short_answer_floor("p90", ((1.0, 0.5, 1.0), (1999.0, 0.5, 0.67)), 0.02, 0.05, 0.027, 1.0)
    0.0
    """
    q = QUANTILE.get(statistic)
    if q is None or q <= 0.5 or chunk_extra_s <= 0 or share <= 0:
        return 0.0
    share = min(share, 1.0)
    short = [(max(1, math.ceil(s / tokens_per_step)), w) for s, w, _ in terms if s / tokens_per_step <= SHORT_STEPS]
    values = sorted({(k / n) for n, _ in short for k in range(1, n + 1)}, reverse=True)
    for frac in values:   # from the longest TPOT down: the first whose tail holds more than 1 − q
        tail = sum(w * _binomial_tail(n, math.ceil(frac * n - 1e-9), share) for n, w in short)
        if tail > 1.0 - q:
            return plain_s + chunk_extra_s * frac
    return 0.0


def _binomial_tail(n: int, k: int, p: float) -> float:
    """P(K ≥ k) for K ~ Binomial(n, p)."""
    return sum(math.comb(n, j) * p ** j * (1.0 - p) ** (n - j) for j in range(max(k, 0), n + 1))


def chunk_cumulants(prefill_tok_s, decode_step_s, extra_per_token_s, prompt_tokens: float, prompt_cv2: float,
                    tokens_per_step: float):
    """(variance, third cumulant) of a colocated engine's chunk term, `tpot_offset`'s chunk_var and
    chunk_k3: d·λ·E[E²]/((1 − ρ)³·a) and d·(λE[E³]/(1 − ρ)⁴ + 3(λE[E²])²/(1 − ρ)⁵)/a.

    Prompts arrive as a Poisson stream of `prefill_tok_s` uncached tokens/s (mean `prompt_tokens`
    each, squared coefficient of variation `prompt_cv2`); a prompt of s tokens lengthens the steps
    that carry it by E = s·δ (δ = `extra_per_token_s`, a chunk step's time beyond the decode step
    of d = `decode_step_s`, per chunk token). A request's n decode steps then take the busy period
    of an M/G/1 queue started by the work x = n·d, which has, per unit of x, the cumulants
    1/(1 − ρ), λE[E²]/(1 − ρ)³ and λE[E³]/(1 − ρ)⁴ + 3(λE[E²])²/(1 − ρ)⁵, ρ = λ·E[E] (at most 0.99;
    the first passage of x + A(t) − t to zero, A the compound Poisson work of the prompts): chunk
    steps come in bursts, and each one lengthens the life that more prompts arrive in. With
    λ·E[E²] = prefill_tok_s·δ²·s̄·(1 + cv²), a prompt's third moment E[s³] = s̄³·(1 + cv²)(1 + 2cv²)
    (a gamma's; s̄³ for fixed lengths) and n = (L − 1)/a, the TPOT variance of that request is the
    first value / (L − 1), its third cumulant the second / (L − 1)². Floats or numpy arrays."""
    import numpy as np
    rho = np.minimum(prefill_tok_s * extra_per_token_s, 0.99)
    second = prefill_tok_s * extra_per_token_s ** 2 * prompt_tokens * (1.0 + prompt_cv2)
    third = (prefill_tok_s * extra_per_token_s ** 3 * prompt_tokens ** 2 * (1.0 + prompt_cv2)
             * (1.0 + 2.0 * prompt_cv2))
    k3 = third / (1.0 - rho) ** 4 + 3.0 * second ** 2 / (1.0 - rho) ** 5
    return decode_step_s * second / ((1.0 - rho) ** 3 * tokens_per_step), decode_step_s * k3 / tokens_per_step


def chunk_cross(prompts_per_s, step_s, tpot_per_sequence, extra_per_prompt_s, tokens_per_step: float):
    """Twice the covariance of a colocated request's batch and chunk terms (`tpot_offset`'s
    cross): a prompt that arrives during the request's life, chunked and decoded on the same
    instance, both joins the batch for the rest of that life (half of it on average, lives of one
    length; each sequence adds `tpot_per_sequence`, with the feedback gain, to every token) and
    lengthens one of its steps by E (`extra_per_prompt_s`, E/(L − 1) on its TPOT). Over a life of
    n = (L − 1)/a steps of t seconds, λ·n·t such prompts: 2·Cov = λ·t·s·E/a whatever L. Leaving
    it out read the p90 offset of Llama-3.1-8B on A100 with 8k-token prompts a third short of the
    simulated one. Floats or arrays."""
    return prompts_per_s * step_s * tpot_per_sequence * extra_per_prompt_s / tokens_per_step


def backlog_cumulants(rho, extra_per_prompt_s, prompt_cv2: float):
    """(variance, third cumulant) in s² and s³ of the chunk work queued when a colocated request
    starts decoding, grown by the prompts that arrive while it is worked off: the request starts at
    its own prompt's chunk step and leaves N prompts behind in the chunk queue (M/G/1 at the share
    ρ of steps carrying a chunk, mean N̄ = ρ + ρ²(1 + cv²)/(2(1 − ρ)), taken as geometric: variance
    N̄ + N̄², third cumulant N̄ + 3N̄² + 2N̄³), each prompt's work E (mean Ē = `extra_per_prompt_s`,
    a gamma of the prompt's cv²). The compound sum's cumulants, times 1/(1 − ρ)² and 1/(1 − ρ)³
    (each unit of work grows into a busy period). A short answer's TPOT spread is mostly this at
    60–70 % chunk share: the mean counts the burst (`colocated.chunk_share_seen`), its spread was
    missing. 0 where every step carries a chunk (ρ ≥ 1: no burst to start in). Floats or arrays."""
    import numpy as np
    rho_in = np.asarray(rho, dtype=float)
    r = np.clip(rho_in, 0.0, 0.99)
    n = r + r ** 2 * (1.0 + prompt_cv2) / (2.0 * (1.0 - r))
    e = np.asarray(extra_per_prompt_s, dtype=float)
    n2, n3 = n + n * n, n + 3.0 * n * n + 2.0 * n ** 3        # the geometric count's κ2, κ3
    var = n * e * e * prompt_cv2 + n2 * e * e                 # κ1(N)κ2(E) + κ2(N)κ1(E)²
    k3 = n * 2.0 * e ** 3 * prompt_cv2 ** 2 + 3.0 * n2 * e ** 3 * prompt_cv2 + n3 * e ** 3
    none = rho_in >= 1.0
    var, k3 = np.where(none, 0.0, var / (1.0 - r) ** 2), np.where(none, 0.0, k3 / (1.0 - r) ** 3)
    return (var, k3) if var.ndim else (float(var), float(k3))


def _erf(x):
    """erf of a non-negative array (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    import numpy as np
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return 1.0 - poly * np.exp(-x * x)


def batch_at_statistic(mean_batch: float, spread: float) -> float:
    """The life-averaged batch at the statistic's quantile: m + ζ·√m (a step that does not slow with
    the batch; `statistic_batch` for one that does)."""
    return mean_batch + spread * math.sqrt(max(mean_batch, 0.0))


# A request's life over the integral time scale of the batch it shares, without feedback: the
# M/D/∞ batch's autocorrelation 1 − u/S falls to zero over a life S and integrates to S/2.
BASE_LIFE_WINDOWS = 2.0
MAX_ELASTICITY = 0.95   # beyond it the instance runs at its peak throughput: the gain is held there


def _window_variance(x):
    """Variance of an Ornstein–Uhlenbeck process averaged over x of its relaxation times, per unit
    of its stationary variance: 2/x²·(x − 1 + e^(−x)) (1 at x → 0, 2/x for long windows)."""
    import numpy as np
    x = np.asarray(x, dtype=float)
    return 2.0 / (x * x) * (x - 1.0 + np.exp(-x))


def elasticity(mean_batch, step_s, quantile_batch, quantile_step_s):
    """ε = m·t′(m)/t(m), the step's relative growth per relative growth of the batch, from the
    secant between the mean batch m and a batch above it (floats or arrays; 0 where they meet)."""
    import numpy as np
    m, t = np.asarray(mean_batch, dtype=float), np.asarray(step_s, dtype=float)
    rise, run = np.asarray(quantile_step_s, dtype=float) - t, np.asarray(quantile_batch, dtype=float) - m
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where((run > 0) & (t > 0), m * rise / (run * t), 0.0)
    return e if e.ndim else float(e)


def feedback_gain(eps):
    """Factor on the standard deviation of the life-averaged batch when the step slows as the batch
    grows (floats or arrays; 1 at ε = 0).

    Requests arrive in time (Poisson, rate λ) but leave in steps: each decodes S steps of t(b)
    seconds, so the batch leaves at D(b) = b/(S·t(b)), and dD/db = (1 − ε)/(S·t) at the mean, ε the
    step's elasticity (`elasticity`). A fuller batch runs slower steps, keeps its requests longer
    and fills further: linearised, the batch is an Ornstein–Uhlenbeck process whose relaxation is
    slowed by 1 − ε, so its stationary variance grows to m/(1 − ε) and its correlation time to
    τ₀/(1 − ε). A request's TPOT averages the batch over its own life, x = S/τ of the relaxation
    times, and the variance of that average relative to no feedback is
    V(x₀(1 − ε)) / ((1 − ε)·V(x₀)), V = `_window_variance`, x₀ = 2 (`BASE_LIFE_WINDOWS`). The gain is
    its square root: 1.5 at ε = 0.45, 2.2 at ε = 0.7 (Llama-3.1-8B at 8,000-token answers on H100
    TP2/TP4 decode pools, p99 TPOT simulated 2.5 and 2.3 ms above the mean, 1.3 and 1.05 ms without
    the gain, 2.4 and 2.3 with it; tests/test_percentile_tpot.py). ε is held at `MAX_ELASTICITY`.

    >>> float(feedback_gain(0.0)), round(float(feedback_gain(0.5)), 2)
    (1.0, 1.61)
    """
    import numpy as np
    e = np.clip(np.asarray(eps, dtype=float), 0.0, MAX_ELASTICITY)
    x = BASE_LIFE_WINDOWS * (1.0 - e)
    g = np.sqrt(_window_variance(x) / ((1.0 - e) * _window_variance(BASE_LIFE_WINDOWS)))
    return g if g.ndim else float(g)


def feedback_batch(mean_batch, spread: float, step_s, quantile_step_s):
    """m + ζ·gain(ε)·√m (floats or arrays of m > 0), ε the secant between the mean batch m, whose
    step is `step_s`, and m + ζ√m, whose step is `quantile_step_s` (`elasticity`, `feedback_gain`)."""
    import numpy as np
    m = np.asarray(mean_batch, dtype=float)
    root = np.sqrt(m)
    out = m + spread * feedback_gain(elasticity(m, step_s, m + spread * root, quantile_step_s)) * root
    return out if out.ndim else float(out)


def statistic_batch(mean_batch: float, spread: float, step_at) -> float:
    """The life-averaged batch at the statistic's quantile when the step slows with the batch:
    `feedback_batch` with the steps of `step_at` (batch → step or TPOT seconds) at m and m + ζ√m.
    m when ζ or m is 0."""
    if spread <= 0 or mean_batch <= 0:
        return mean_batch
    return feedback_batch(mean_batch, spread, step_at(mean_batch), step_at(batch_at_statistic(mean_batch, spread)))


def mean_batch_within(batch_cap: float, spread: float) -> float:
    """Largest mean batch m whose quantile batch m + ζ√m stays within `batch_cap` (the largest
    batch meeting the TPOT limit and memory): m = ((√(ζ² + 4·cap) − ζ)/2)²."""
    if batch_cap <= 0:
        return 0.0
    if spread <= 0:
        return float(batch_cap)
    r = (math.sqrt(spread * spread + 4.0 * batch_cap) - spread) / 2.0
    return r * r


def batch_seen(mean_batch: float, slots: float) -> float:
    """The batch a decoding request shares its steps with, on average: itself and the others.
    At a random moment of its life the others are the M/G/∞ population at its stationary law
    (Poisson(m), Palm), so it sees m + 1 sequences, not the time-average m (which counts idle
    time and is below 1 on a quiet instance) — at most the instance's slots, where a full pool
    holds its batch at the design value. A request's mean TPOT is the step time at this batch.

    >>> batch_seen(0.8, 2), batch_seen(1066.0, 1070), batch_seen(1070.0, 1070)
    (1.8, 1067.0, 1070)
    """
    if mean_batch <= 0:
        return 0.0
    return min(mean_batch + 1.0, slots)


def poisson_skew(statistic: str) -> float:
    """The Cornish–Fisher term of a Poisson count's quantile, (z² − 1)/6 sequences at the
    statistic's normal quantile z (0 for the mean and the median): the batch's upper tail is
    longer than the normal's at a few sequences (at a mean of 15 the p99 batch is 0.7 above
    m + z√m), which a decode pool of a dozen sequences runs into at p99."""
    q = QUANTILE.get(statistic)
    if q is None or q <= 0.5:
        return 0.0
    from statistics import NormalDist
    z = NormalDist().inv_cdf(q)
    return (z * z - 1.0) / 6.0


def seen_statistic_batch(mean_batch, seen, quantile_batch, statistic: str, slots):
    """The batch a decode pool's TPOT-statistic request sees: itself and the others' quantile,
    `seen` (`batch_seen`) + (`quantile_batch` − m) + `poisson_skew`, at most the slots; 1 with one
    slot (the others wait). Floats or arrays; candidates, their slot table and verification share it."""
    import numpy as np
    out = np.minimum(np.asarray(seen, dtype=float) + quantile_batch - mean_batch + poisson_skew(statistic), slots)
    out = np.where(np.asarray(slots) <= 1, 1.0, out)
    return out if out.ndim else float(out)
