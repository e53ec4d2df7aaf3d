"""Which speculative-decoding variants candidate generation tries (serving.speculative)."""

from __future__ import annotations

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
    base = Speculation(s.method, s.draft_tokens, s.alpha, 1.0)
    on = Speculation(s.method, s.draft_tokens, s.alpha, 1.0, steps_factor(base, res))
    return [on] if s.use == "on" else [None, on]


def steps_factor(spec: Speculation, res: Resolved) -> float:
    """E[steps] of the workload's answers ÷ E[tokens]/accepted_per_step: an answer's last step emits
    only what is left of it, so short answers take more steps than their tokens ÷ the expected
    tokens per step (4 tokens after the first with one MTP draft at α = 0.85: 2.28 steps, not
    2.16; 999: 540.8, not 540.5). The decode tokens are L − 1 (L with every prompt cached)."""
    import numpy as np
    first = 0.0 if res.uncached_mean <= 0 else 1.0
    n = np.array([max(v - first, 0.0) for v, _ in res.output_dist])
    p = np.array([q for _, q in res.output_dist])
    tokens = float(p @ n)
    if tokens <= 0:
        return 1.0
    return float(p @ spec.expected_steps(n)) * spec.accepted_per_step / tokens
