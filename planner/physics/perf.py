"""The analytic performance model of LLM inference: pure functions, SI units, no solver.

Glossary: `b` decode batch (sequences in flight on one instance), `m` tokens in one forward
pass of one pipeline stage, `n_s = tp·dp` cards of one stage, `ctx` context tokens of a
sequence, `F` dense FLOP/s of a card, `B` HBM bytes/s of a card, `η_c, η_m, η_n` efficiency
of compute, memory and network (calibration parameters).

One forward pass of a stage costs, per card (the slowest card sets the pace):
    t = max(T_gemm + FLOPs_attn/(F·η_c), bytes/(B·η_m)) + comm − overlap·min(comm, roof) + floors
    T_gemm = Σ_groups FLOPs_g / (F_g·min(η_g(M_g)·κ, 1)),   η(M) = η_max·M/(M + M_half)
A GEMM's efficiency depends on its rows M (tokens per pass for dense GEMMs, tokens·k/E per
expert for grouped routed-expert GEMMs): η(M) is fitted per GPU and precision to kernel-level
measurements (`planner.catalog.kernels`, catalogs/kernels.yaml); κ = gemm_efficiency_scale is
the fitted share of the kernel tables' speed an engine reaches end to end. The floors are the
kernels' fixed time per call (t0, from the same tables) plus the fitted engine overheads per
layer, per MoE layer and per step; collectives cost the measured latency and bandwidth of their
group size (`kernels_for(gpu).allreduce(g)`) plus a fitted engine latency per collective.
Bytes: the stage's dense shards, the routed experts its tokens touch, the embedding rows of its
tokens (a lookup, not the table) and the LM head, which sits on the last stage (a micro-batched
step runs at that stage's pace, so each of its stage passes is charged the whole head; a prefill
passes through once, 1/pp a stage); the head's FLOPs count only the tokens sampled (every decoded
token, a prompt's last; `_linear_flops_per_card`).
Decode: TPOT = (pp·t_stage(b'/pp) + handoffs + step_overhead) / tokens_per_step, b' = b but one
sequence a stage when there are fewer sequences than stages (`stage_batch`).
Speculative decoding (Deployment.spec, k draft tokens accepted with probability α each): the
step is the verify pass over b·(k+1) tokens (each sequence's KV read once for its k+1 queries)
plus k draft passes of the draft's layers at batch b (the plain decode step × k·draft_layers /
layers), and emits (1 − α^{k+1})/(1 − α) tokens per sequence.
Prefill of P prompts: time = pp·t_stage(P·s) + handoffs + step_overhead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from planner.physics.comm import allreduce_time, alltoall_time, p2p_time, stage_comm_time
from planner.physics.deployment import (
    ACT_BYTES,
    Bound,
    Deployment,
    MemoryUse,
    Parallelism,
    PhaseTime,
    Speculation,
    expected_experts_touched,
    experts_on_card,
    experts_per_card,
    indexer_flops,
    indexer_reads,
    kv_bytes_per_token,
    kv_bytes_per_token_per_card,
    linear_state_traffic_per_sequence_per_card,
    max_batch,
    memory_use,
    verify_tokens,
    weights_per_card_bytes,
)
from planner.physics.gemm import gemm_seconds
from planner.physics.terms import StageTerms, stage_terms

__all__ = [  # the building blocks other stages use through `perf`
    "ACT_BYTES", "Bound", "Deployment", "MemoryUse", "Parallelism", "PhaseTime", "Speculation", "allreduce_time",
    "alltoall_time", "expected_experts_touched", "experts_per_card", "kv_bytes_per_token",
    "kv_bytes_per_token_per_card", "max_batch", "memory_use", "p2p_time", "stage_comm_time",
    "weights_per_card_bytes",
]


# --------------------------------------------------------------------------- forward passes
def _linear_flops_per_card(dep: Deployment, t: StageTerms, tokens: float, logits: float,
                           head_share: float) -> tuple[float, float, float, float]:
    """(dense FLOPs, routed-expert FLOPs, weight bytes, rows of one routed expert's GEMM) of the
    matmuls of one stage pass of `tokens` tokens, per card (`t`: the deployment's terms).

    Dense FLOPs = 2·params·tokens for attention, dense MLP and shared experts, spread over n_s
    cards, plus the LM head's 2·V·h for each of the `logits` tokens whose next token is sampled
    (every decoded token; a prompt's last); routed FLOPs = 2·expert_params·top-k pairs of the
    busiest card (× imbalance). Weight bytes: the card's dense shards, the LM head once a pass,
    the embedding rows of the tokens (not the table), the routed experts the tokens touch.
    Rows: the pairs over the experts they touch (`gemm.gemm_rows`).

    `head_share`: the LM head sits on the last pipeline stage. A pass that runs once through the
    stages (a prefill) pays it once, 1/pp of it a stage; micro-batched steps (decode, chunked)
    run at the pace of the busiest stage, the head's, so each stage pass is charged all of it.
    The embedding rows are read on the first stage only (1/pp of them a stage).
    """
    flops = t.dense2 * tokens / t.n_s + t.head2 * logits * head_share / t.n_s
    routed, m_expert = 0.0, 0.0
    wbytes = t.wbytes_dense + t.head_bytes * head_share + min(tokens, t.vocab) * t.embed_row_bytes / t.pp
    if t.is_moe:
        pairs, touched = experts_on_card(dep, tokens)
        routed = t.routed2 * pairs
        wbytes += t.moe_pp * touched * t.expert_params * t.e_bytes
        m_expert = pairs / touched if touched > 0 else 0.0
    return flops, routed, wbytes, m_expert


def _stage_pass(dep: Deployment, tokens: float, attn_flops: float, kv_read_bytes: float, logits: float,
                head_share: float = 1.0) -> PhaseTime:
    """One stage's forward pass over `tokens` tokens on each card, `logits` of them sampled
    (see module docstring and `_linear_flops_per_card`)."""
    t = stage_terms(dep)
    lin_flops, routed_flops, wbytes, m_expert = _linear_flops_per_card(dep, t, tokens, logits, head_share)
    m_dense = max(tokens, logits) / t.dp   # a wholly cached prompt's pass: the head's rows alone
    gt = gemm_seconds(dep, t.gemm, lin_flops, routed_flops, m_dense, m_expert)
    compute = gt.time_s + attn_flops / t.attn_peak
    act_bytes = m_dense * t.hidden * ACT_BYTES * 2 * t.layers / t.pp
    nbytes = wbytes + kv_read_bytes + act_bytes
    memory = (wbytes + kv_read_bytes / t.kv_scale + act_bytes) / t.mem_peak
    roof = max(compute, memory)
    comm = t.comm.time(tokens)
    exposed = comm - t.overlap * min(comm, roof)
    overhead = t.overhead
    return PhaseTime(roof + exposed + overhead, compute, memory, exposed, overhead,
                     lin_flops + routed_flops + attn_flops, nbytes, gt.below_ridge)


def _pipeline(dep: Deployment, stage: PhaseTime, tokens_per_stage: float, seqs: float) -> PhaseTime:
    """Whole pass through pp stages: pp·stage + (pp−1) hand-offs + step overhead + the host time
    of the `seqs` sequences each (attention-DP rank's) scheduler handles in the step."""
    t = stage_terms(dep)
    pp = t.pp
    handoff = 0.0
    if pp > 1:   # `p2p_time` over the link `terms` chose
        handoff = (pp - 1) * (tokens_per_stage / t.dp * t.hidden * ACT_BYTES / t.hand_bw + t.hand_lat)
    step = t.step_s + seqs * t.sequence_s
    return PhaseTime(pp * stage.time_s + handoff + step, pp * stage.compute_s, pp * stage.memory_s,
                     pp * stage.comm_s + handoff, pp * stage.overhead_s + step,
                     stage.flops_per_card, stage.bytes_per_card, stage.below_ridge)


def decode_step(dep: Deployment, batch: float, context_tokens: float) -> PhaseTime:
    """One decode step of `batch` sequences at mean context `context_tokens` (TPOT before MTP).

    With pp stages the batch runs as pp micro-batches of b/pp (at least one sequence each,
    `stage_batch`); each card reads its weights,
    the touched experts, and the KV of its sequences: (b/pp/dp)·ctx·kv_bytes_per_card; a hybrid
    model's linear-attention layers read and write each sequence's fixed state instead
    (`linear_state_traffic_per_sequence_per_card`: read and written).
    With speculative decoding: the verify pass over k+1 tokens per sequence plus the draft
    passes (module docstring). Worked values (the seed's numbers) live in tests/test_perf.py.
    Under slo.confidence the step is decode_time_scale times slower (`slower`).
    """
    return slower(_decode_raw(dep, batch, context_tokens), dep.calib.v("decode_time_scale"))


def slower(t: PhaseTime, s: float) -> PhaseTime:
    """`t` run s times slower (the model's error at a confidence); `t` itself when s is 1."""
    return t if s == 1.0 else scaled(t, s)


def stage_batch(batch: float, pp: int) -> float:
    """The batch a decode step's pp micro-batches carry, b/pp sequences each: b, but pp (one whole
    sequence a stage) when 1 ≤ b < pp. A sequence is not split across micro-batches: fewer
    sequences than stages leave stages idle, and a token still takes pp passes of one sequence.
    (b/pp of a MoE token touched fewer than top-k experts: DeepSeek-R1 on 32 H200 cards TP8·PP4
    read 7.6 ms a token at b = 1, faster than on 8 cards TP8 at 7.8 ms; now 8.1 ms.) Below one
    sequence (a mean batch under 1) b·pp: b of one sequence a stage, as at pp = 1."""
    return max(batch, min(batch, 1.0) * pp)


def _decode_raw(dep: Deployment, batch: float, context_tokens: float) -> PhaseTime:
    """`decode_step` at the point estimate (no confidence scale)."""
    a, par = dep.arch, dep.par
    q = verify_tokens(dep)
    m = stage_batch(batch, par.pp) / par.pp
    ctx = a.attended_tokens(context_tokens)
    attn = q * m * ctx * a.attn_flops_per_pair(absorbed=True) * a.layers / par.pp / par.stage_cards
    kv_read = m / par.dp * (ctx * kv_bytes_per_token_per_card(dep) + linear_state_traffic_per_sequence_per_card(dep))
    if a.index_topk:
        attn = attn + indexer_flops(dep, q * m, context_tokens)
        kv_read = kv_read + indexer_reads(dep, m, context_tokens, ctx)
    step = _pipeline(dep, _stage_pass(dep, q * m, attn, kv_read, q * m), q * m, batch / par.dp)
    return step if dep.spec is None else plus(step, drafts(dep, batch, context_tokens))


def drafts(dep: Deployment, batch: float, context_tokens: float) -> PhaseTime:
    """The k draft passes of one step at batch b: the plain decode step × k·draft_layers/layers
    (a draft layer reads its weights and KV and costs its per-layer time like one of the model's;
    the step and host floors are scaled with it)."""
    s = dep.spec
    assert s is not None
    return scaled(_decode_raw(replace(dep, spec=None), batch, context_tokens),
                  s.draft_tokens * s.draft_layers / dep.arch.layers)


def scaled(t: PhaseTime, f: float) -> PhaseTime:
    """`t` with every time and count multiplied by f."""
    return PhaseTime(t.time_s * f, t.compute_s * f, t.memory_s * f, t.comm_s * f, t.overhead_s * f,
                     t.flops_per_card * f, t.bytes_per_card * f, t.below_ridge)


def plus(a: PhaseTime, b: PhaseTime) -> PhaseTime:
    """Two passes one after the other."""
    return PhaseTime(a.time_s + b.time_s, a.compute_s + b.compute_s, a.memory_s + b.memory_s,
                     a.comm_s + b.comm_s, a.overhead_s + b.overhead_s, a.flops_per_card + b.flops_per_card,
                     a.bytes_per_card + b.bytes_per_card, a.below_ridge)


def tokens_per_step(dep: Deployment) -> float:
    """Output tokens one decode step emits per sequence: the speculation's expected accepted
    tokens over the workload's answers (`Speculation.tokens_per_step`), else the calibration's
    decode_tokens_per_step (1 unless a profile says otherwise)."""
    return dep.spec.tokens_per_step if dep.spec is not None else dep.calib.v("decode_tokens_per_step")


def tpot(dep: Deployment, batch: float, context_tokens: float) -> float:
    """Time per output token: decode step / tokens emitted per step."""
    return decode_step(dep, batch, context_tokens).time_s / tokens_per_step(dep)


def decode_tokens_per_s(dep: Deployment, batch: float, context_tokens: float) -> float:
    """Output tokens/s of one instance: b / TPOT(b)."""
    return batch / tpot(dep, batch, context_tokens)


def prefill_attention_flops(dep: Deployment, prompts, new_tokens: float, cached_tokens: float, length_cv2: float):
    """Attention FLOPs per card of a prefill pass of `prompts` prompts (a number, or an array)
    of `new_tokens` after `cached_tokens`: causal pairs s²/2 + s·c per prompt (sliding and linear
    layers as `attended_tokens` says), (1 + cv²) times that for prompts of unequal length; under
    DSA the top-k pairs (`sparse_pairs`) plus the indexer over every earlier token."""
    return prompt_attention_flops(dep.arch, prompts, new_tokens, cached_tokens, length_cv2, dep.par.pp,
                                  dep.par.stage_cards)


def prompt_attention_flops(arch, prompts, new_tokens: float, cached_tokens: float, length_cv2: float, pp, n_s):
    """`prefill_attention_flops` of an architecture over `pp` stages of `n_s` cards (numbers, or one
    per point): the one formula of `prefill_pass` and of its numpy twins (`batched.prefill_pass`,
    a `physics.many` group's terms per point)."""
    return prompts * (1.0 + length_cv2) * arch.prompt_attention_flops(new_tokens, cached_tokens) / pp / n_s


def prefill_pass(dep: Deployment, prompts: float, uncached_tokens: float,
                 cached_tokens: float = 0.0, length_cv2: float = 0.0) -> PhaseTime:
    """Prefill of `prompts` prompts, each `uncached_tokens` new after `cached_tokens` cached (on
    average: prompts whose lengths have squared coefficient of variation `length_cv2`).

    FLOPs = 2·P_act·tokens + attention over pairs (causal: s²/2 + s·cached per prompt, quadratic
    in each prompt's own length, so the mean over unequal prompts is (1 + cv²) times the pairs of
    the mean prompt); cached tokens cost no linear FLOPs but are read as KV.
    """
    par = dep.par
    s, c = uncached_tokens, cached_tokens
    tokens = prompts * s
    attn = prefill_attention_flops(dep, prompts, s, c, length_cv2)
    kv_io = prompts / par.dp * (s + c) * kv_bytes_per_token_per_card(dep)
    stage = _stage_pass(dep, tokens, attn, kv_io, prompts, 1.0 / par.pp)
    return slower(with_eager(_pipeline(dep, stage, tokens, prompts / par.dp), dep, prompts),
                  dep.calib.v("prefill_time_scale"))


def mixed_step(dep: Deployment, batch: float, context_tokens: float, chunk_tokens: float,
               prompt_tokens: float, length_cv2: float = 0.0) -> PhaseTime:
    """A chunked-prefill step (colocated serving): `batch` decodes plus `chunk_tokens` of prefill
    from prompts of `prompt_tokens` on average; weights are read once for both. A chunk's queries
    attend the prompt before them: over prompts of unequal length (squared coefficient of variation
    `length_cv2`) a prompt token's mean keys are E[L²]/(2E[L]), (1 + cv²) times the mean prompt's,
    as `prefill_attention_flops` charges a prefill pool for the same prompts."""
    a, par = dep.arch, dep.par
    q = verify_tokens(dep)
    sb = stage_batch(batch, par.pp)   # the decodes the micro-batches carry beside the chunk
    m = (q * sb + chunk_tokens) / par.pp
    ctx = a.attended_tokens(context_tokens)
    dec_attn = q * sb * ctx * a.attn_flops_per_pair(absorbed=True)
    # a chunk attends on average to half the prompt before it plus itself (causal)
    pre_attn = (chunk_tokens * a.prefill_keys_per_query(prompt_tokens) * (1.0 + length_cv2)
                * a.attn_flops_per_pair(absorbed=False))
    attn = (dec_attn + pre_attn) / par.pp * a.layers / par.pp / par.stage_cards
    kv_read = ((sb / par.pp * ctx + chunk_tokens / par.pp) * kv_bytes_per_token_per_card(dep)
               + sb / par.pp * linear_state_traffic_per_sequence_per_card(dep)) / par.dp
    if a.index_topk:   # the indexer: decodes score their context, a chunk's queries half the prompt
        attn = attn + indexer_flops(dep, (q * sb * context_tokens
                                          + chunk_tokens * prompt_tokens / 2.0 * (1.0 + length_cv2)) / par.pp, 1.0)
        kv_read = kv_read + indexer_reads(dep, sb / par.pp, context_tokens, ctx)
    logits = (q * sb + chunk_tokens / max(prompt_tokens, 1.0)) / par.pp   # decodes and the prompts the chunk ends
    step = _pipeline(dep, _stage_pass(dep, m, attn, kv_read, logits), m, (batch + 1.0) / par.dp)
    if chunk_tokens > 0:   # the chunk holds chunk/prompt prompts, or a piece of one
        step = with_eager(step, dep, max(chunk_tokens / max(prompt_tokens, 1.0), 1.0))
    if dep.spec is not None and batch > 0:
        step = plus(step, drafts(dep, batch, context_tokens))
    return slower(step, dep.calib.v("decode_time_scale"))


def eager_terms(dep: Deployment, prompts: float) -> tuple[float, float, float]:
    """(per-layer, per-MoE-layer, per-prompt) extra time of a pass that prefills `prompts` prompts
    (or chunks of them): engines replay decode-only steps from captured CUDA graphs but run a pass
    with prefill tokens eagerly, so it pays a fitted time per layer and per MoE layer once
    (prefill_layer_overhead_s, prefill_moe_layer_overhead_s), plus the host time of each prompt in
    it (prompt_overhead_s: admission, block tables, inputs; per attention-DP rank, whose ranks
    schedule their prompts side by side)."""
    a, c = dep.arch, dep.calib
    return (a.layers * c.v("prefill_layer_overhead_s"), a.moe_layers * c.v("prefill_moe_layer_overhead_s"),
            max(prompts / dep.par.dp, 1.0) * c.v("prompt_overhead_s"))


def eager_overhead_s(dep: Deployment, prompts: float) -> float:
    """The extra time of a pass that prefills `prompts` prompts: the sum of `eager_terms`."""
    layers, moe, per_prompt = eager_terms(dep, prompts)
    return layers + moe + per_prompt


def with_eager(t: PhaseTime, dep: Deployment, prompts: float) -> PhaseTime:
    """`t` plus the eager-pass overhead of a pass prefilling `prompts` prompts (eager_overhead_s)."""
    e = eager_overhead_s(dep, prompts)
    if e == 0.0:
        return t
    return PhaseTime(t.time_s + e, t.compute_s, t.memory_s, t.comm_s, t.overhead_s + e, t.flops_per_card,
                     t.bytes_per_card, t.below_ridge)


def request_overhead_s(dep: Deployment) -> float:
    """Fixed time a request spends before its first token beyond the prefill pass (tokenise,
    schedule, launch, sample, detokenise, serve): the model family's fitted value
    (request_overhead_by_family_s), else the shared calibration parameter request_overhead_s
    (× prefill_time_scale under slo.confidence)."""
    return dep.calib.request_overhead_for(dep.arch.family)[0] * dep.calib.v("prefill_time_scale")


def kv_transfer_time(dep_prefill: Deployment, prompt_tokens: float) -> float:
    """Moving one prompt's KV to a decode instance over the prefill instance's NICs:
    s·kv_bytes_per_token / (cards·NIC·η_n) + inter-node latency."""
    nbytes = prompt_tokens * kv_bytes_per_token(dep_prefill.arch, dep_prefill.kv_dtype)
    bw = dep_prefill.cards * dep_prefill.gpu.nic_bytes_per_s * dep_prefill.calib.v("network_efficiency")
    return nbytes / bw + dep_prefill.calib.v("collective_latency_inter_s")


# ----------------------------------------------------------------------------- conveniences
@dataclass(frozen=True)
class DecodePoint:
    """Decode at one batch size: TPOT, tokens/s of the instance, and what bounds it."""

    batch: int
    tpot_s: float
    tokens_per_s: float
    bound: Bound
    fits: bool


def decode_curve(dep: Deployment, context_tokens: float, batches: list[int]) -> list[DecodePoint]:
    """TPOT and tokens/s against batch size (for `plan eval --sweep-batch` and candidates)."""
    out = []
    limit = max_batch(dep, context_tokens)
    for b in batches:
        st = decode_step(dep, b, context_tokens)
        t = st.time_s / dep.calib.v("decode_tokens_per_step")
        out.append(DecodePoint(b, t, b / t, st.bound, b <= limit))
    return out


def batch_grid(limit: int) -> list[int]:
    """Batch sizes 1, 2, 4, … with 3·2^k in between, up to `limit` (and `limit` itself)."""
    out, b = [], 1
    while b <= limit:
        out.append(b)
        if 3 * b // 2 <= limit and b >= 2:
            out.append(3 * b // 2)
        b *= 2
    if limit >= 1 and (not out or out[-1] != limit):
        out.append(limit)
    return sorted(set(out))
