"""The waits a request sees beside the step model, shared by candidates and verification: the
TPOT a colocated instance's imported requests add, its TPOT while every slot is taken, and the
time to a wholly cached request's first token on a decode instance."""

from __future__ import annotations

from planner.physics import batched, perf
from planner.physics.batch_spread import batch_seen
from planner.plan.workload import WorkloadContext, first_decoded_step_s, ttft_batch_quantile


def imported_tpot_s(w: WorkloadContext, dep: perf.Deployment, pre_load: float, dec_load: float,
                    step_s: float) -> float:
    """TPOT a colocated instance's requests gain, on average, from those it decodes but did not
    prefill (routing splits decode by capacity: an instance whose share of the decoding exceeds
    its share of the prompts takes requests another instance prefilled). Such a request's KV
    crosses the network and it joins the running batch when the step in progress ends (half a
    mean step), before its second token: spread over its L − 1 later tokens (E[1/(L − 1)]) and
    weighted by the imported share of the requests it decodes. Requests it prefilled itself
    decode from its next step: none of that. Two colocated MTP pools of the seed at 3-token
    answers: one decoded 45 % imported requests and read 44.8 ms where its simulation measured
    55.1 (SLO broken); with the term 53.5, over the 50 ms limit."""
    decoding = dec_load * w.p_dec / w.s_dec if w.s_dec > 0 else 0.0     # requests/s that decode here
    own = pre_load / w.s_unc * w.p_dec if w.s_unc > 0 else 0.0           # of its own prompts
    if decoding <= 0 or own >= decoding or w.first_token_decoded:   # nothing is prefilled anywhere
        return 0.0
    share = 1.0 - own / decoding
    return share * (perf.kv_transfer_time(dep, w.s_in) + 0.5 * step_s) * w.slot_wait_per_token


def decoded_first_token_s(dep: perf.Deployment, w: WorkloadContext, batch: float, step_s: float,
                          slot_wait_s: float) -> float:
    """Time to the first token of a wholly cached request on a decode instance: the fixed time
    per request, the wait for a batch slot, then the step in progress and the step that makes
    the token (`first_decoded_step_s`), as on a colocated engine with no prompt to prefill.
    Until 2026-12-04 the plan checked no TTFT for such pools (the seed's example wholly cached
    at 20 req/s: 335.9 ms simulated, nothing planned)."""
    return perf.request_overhead_s(dep) + slot_wait_s + float(first_decoded_step_s(
        w, batch, step_s, step_s + decode_growth_s(dep, w, batch)))


def decode_growth_s(dep: perf.Deployment, w: WorkloadContext, batch):
    """How much longer a decode step is at the TTFT target's batch quantile than at the mean
    batch (`ttft_batch_quantile`): 0 for a mean target, and where prompt passes make the first
    tokens (no decode step does: `first_decoded_step_s`). Arrays or scalars."""
    import numpy as np
    b = np.asarray(batch, dtype=float)
    if not w.ttft_quantile or not w.first_token_decoded:
        return 0.0 * b
    bq = ttft_batch_quantile(w, b)
    both = batched.decode_steps_many(dep, [np.atleast_1d(b), np.atleast_1d(bq)], w.ctx_decode)
    grow = np.maximum(both[1].time_s - both[0].time_s, 0.0)
    return grow if b.ndim else float(grow[0])


def full_slots_tpot(dep: perf.Deployment, w: WorkloadContext, b: float, slots: int, tpot_s: float) -> float:
    """A colocated instance's TPOT while every one of its `slots` is taken: its TPOT at the mean
    batch b (`tpot_s`, the step at the batch a request sees, `batch_seen`) with the decode step at
    the slots in place of that step (the prompt chunks it carries at that load unchanged)."""
    grow = (perf.decode_step(dep, slots, w.ctx_decode).time_s
            - perf.decode_step(dep, batch_seen(b, slots), w.ctx_decode).time_s)
    return tpot_s + max(grow, 0.0) / perf.tokens_per_step(dep)
