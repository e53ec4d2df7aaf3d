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
    on = Speculation(s.method, s.draft_tokens, s.alpha, 1.0)
    return [on] if s.use == "on" else [None, on]
