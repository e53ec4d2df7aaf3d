"""Which speculative-decoding variants candidate generation tries (serving.speculative)."""

from __future__ import annotations

from dataclasses import replace

from planner.errors import BadInput
from planner.physics.perf import Speculation
from planner.plan.resolve import Resolved


def speculations(res: Resolved) -> list[Speculation | None]:
    """The decode variants to generate: off, and on when serving.speculative allows (`use: on`:
    on only). MTP needs the model's own MTP layers."""
    s = res.problem.serving.speculative
    if s is None:
        return [None]
    if s.method == "mtp" and res.model.arch.mtp_layers < 1:
        raise BadInput(f"{res.source}: serving.speculative.method: mtp needs the model's multi-token-"
                       f"prediction layers; {res.model.id} has none (config num_nextn_predict_layers); "
                       f"use eagle with its acceptance")
    on = Speculation(s.method, s.draft_tokens, s.alpha, 1.0)
    on = replace(on, steps_factor=steps_factor(on, res))
    return [on] if s.use == "on" else [None, on]


def steps_factor(spec: Speculation, res: Resolved) -> float:
    """How many more steps than n/accepted_per_step an answer of n tokens after the first takes, as
    TPOT sees it: the mean over the requests that decode of S(n)/n, × accepted_per_step. An
    answer's last step emits only what is left of it (4 tokens with one MTP draft at α = 0.85: 2.28
    steps, not 2.16; 999: 540.8, not 540.5), and TPOT, as benchmarks report it, is each request's
    (last − first)/(L − 1) averaged over requests, so the short answers of a mixed workload weigh as
    much as the long ones (a 2-token answer takes a whole step for its one token). The same
    factor sizes capacity, which it understates for mixed lengths (the token-weighted
    E[S(n)]/E[n] is smaller): on the safe side. n: `Resolved.decode_lengths`."""
    import numpy as np
    n = np.array([t for t, _ in res.decode_lengths])
    p = np.array([q for _, q in res.decode_lengths])
    decodes = n > 0
    if not decodes.any():
        return 1.0
    n, p = n[decodes], p[decodes]
    return float(p @ (spec.expected_steps(n) / n)) / float(p.sum()) * spec.accepted_per_step
