"""`plan eval`: the analytic model's numbers for one configuration (no solver)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.catalog.calibration import Calibration, load_calibration
from planner.catalog.schemas import Precision, get_gpu, get_model
from planner.errors import BadInput
from planner.physics import colocated, perf
from planner.physics.perf import Deployment, Parallelism


@dataclass(frozen=True)
class EvalRequest:
    model: str
    gpu: str
    cards: int
    batch: int
    input_len: int
    output_len: int
    tp: int | None = None
    pp: int = 1
    dp: int = 1
    weight_dtype: Precision | None = None
    expert_dtype: Precision | None = None
    attention_dtype: Precision | None = None
    dense_mlp_dtype: Precision | None = None
    shared_experts_dtype: Precision | None = None
    kv_dtype: Precision = "bf16"
    prefix_hit: float = 0.0
    calibration: str = "default"


def _parallelism(req: EvalRequest) -> Parallelism:
    """TP defaults to cards/(pp·dp); the product must equal the card count."""
    if req.tp is None and req.cards % (req.pp * req.dp):   # the message named a --tp no one gave
        raise BadInput(f"--cards {req.cards} is not a multiple of --pp {req.pp} × --dp {req.dp} = {req.pp * req.dp}: "
                       f"TP is the cards over them; set --tp, --pp or --dp so that tp·pp·dp = --cards")
    tp = req.tp if req.tp is not None else req.cards // (req.pp * req.dp)
    par = Parallelism(tp=max(tp, 1), pp=req.pp, dp=req.dp)
    if par.cards != req.cards:
        raise BadInput(f"--tp {par.tp} × --pp {par.pp} × --dp {par.dp} = {par.cards} cards, "
                       f"but --cards is {req.cards}")
    return par


def deployment_of(req: EvalRequest, calib: Calibration | None = None) -> Deployment:
    """The request's Deployment, after checking its numbers and parallelism (BadInput otherwise)."""
    for name, v in (("--cards", req.cards), ("--batch", req.batch), ("--input-len", req.input_len),
                    ("--output-len", req.output_len)):
        if v < 1:
            raise BadInput(f"{name} must be at least 1, got {v}")
    if not 0.0 <= req.prefix_hit <= 1.0:   # 1: every prompt token cached (no prefill compute, still KV)
        raise BadInput(f"--prefix-hit must be in [0, 1], got {req.prefix_hit}")
    try:   # the message names the option the user gave (a hostile-input hunt: 'unknown GPU' alone)
        model = get_model(req.model)
    except BadInput as e:
        raise BadInput(f"--model {req.model}: {e}") from None
    try:
        gpu = get_gpu(req.gpu)
    except BadInput as e:
        raise BadInput(f"--gpu: {e}") from None
    calib = calib or load_calibration(req.calibration)
    par = _parallelism(req)
    if model.arch.heads % par.tp:
        given = (f"--tp {par.tp}" if req.tp is not None else
                 f"--cards {req.cards} gives TP {par.tp} (the cards over --pp × --dp; set --tp, --pp or --dp)")
        raise BadInput(f"{given}: {par.tp} does not divide the model's {model.arch.heads} attention heads")
    if par.pp > model.arch.layers:
        raise BadInput(f"--pp {par.pp}: more pipeline stages than the model's {model.arch.layers} layers")
    if par.dp > 1 and not model.arch.is_moe:   # as a problem's serving.parallelism refuses it
        raise BadInput(f"--dp {par.dp}: attention data parallelism needs a mixture-of-experts model; {model.id} is "
                       f"dense (several instances of it are several instances, not data-parallel ranks)")
    if missing := model.arch.missing_part(req.expert_dtype, req.shared_experts_dtype):
        raise BadInput(f"--{missing.replace('_', '-')}: {model.id} has no "
                       f"{'routed experts (a dense model)' if missing == 'experts' else 'shared experts'}; drop it")
    weights, experts = model.precisions(req.weight_dtype, req.expert_dtype)
    parts = model.part_precisions(req.weight_dtype, {"attention": req.attention_dtype, "dense_mlp": req.dense_mlp_dtype,
                                                     "shared_experts": req.shared_experts_dtype})
    return Deployment(model, gpu, par, calib, weights, req.kv_dtype, expert_dtype=experts, part_dtypes=parts)


def evaluate(req: EvalRequest, calib: Calibration | None = None) -> dict[str, Any]:
    """Memory, max batch, prefill time/throughput, TTFT alone, decode TPOT/throughput, bounds."""
    dep = deployment_of(req, calib)
    model, gpu, par, calib = dep.model, dep.gpu, dep.par, dep.calib
    ctx_peak = req.input_len + req.output_len
    ctx_mean = req.input_len + req.output_len / 2.0
    mem = perf.memory_use(dep, req.batch, ctx_peak)
    cached = req.input_len * req.prefix_hit
    uncached = req.input_len - cached
    pre = perf.prefill_pass(dep, req.batch, uncached, cached)
    alone = perf.prefill_pass(dep, 1, uncached, cached)
    dec = perf.decode_step(dep, req.batch, ctx_mean)
    tpot = dec.time_s / perf.tokens_per_step(dep)
    prompt_per_step = req.batch * uncached / req.output_len
    lives = ((req.output_len - 1.0, 1.0),) if req.output_len > 1 else ()
    col, col_seen = colocated.colocated_steps(dep, req.batch, ctx_mean, req.input_len, uncached, prompt_per_step, lives)
    col_tpot = col_seen.time_s / perf.tokens_per_step(dep)   # what a request sees
    chunk, share = colocated.colocated_chunk(prompt_per_step, uncached, colocated.DEFAULT_CHUNK_TOKENS)
    fl = colocated.floors(dep, req.batch)
    return {
        "model": model.id, "gpu": gpu.id, "cards": par.cards,
        "parallelism": {"tp": par.tp, "pp": par.pp, "dp": par.dp, "label": par.label()},
        "weight_dtype": dep.weight_dtype, "expert_dtype": dep.expert_dtype,
        **({"part_dtypes": dict(dep.part_dtypes)} if dep.part_dtypes else {}), "kv_dtype": dep.kv_dtype,
        "calibration": calib.name,
        "batch": req.batch, "input_len": req.input_len, "output_len": req.output_len,
        "params_total": model.params_total, "params_active": model.params_active,
        "kv_bytes_per_token": perf.kv_bytes_per_token(model.arch, dep.kv_dtype),
        "memory_per_card_bytes": mem.total_bytes,
        "memory_weights_per_card_bytes": mem.weights_bytes,
        "memory_kv_per_card_bytes": mem.kv_bytes,
        "memory_usable_per_card_bytes": mem.usable_bytes,
        "fits": mem.fits, "overflow_bytes": mem.overflow_bytes,
        "max_batch": perf.max_batch(dep, ctx_peak),
        "prefill_time_s": pre.time_s,
        "prefill_tokens_per_s": req.batch * uncached * par.pp / pre.time_s,
        "ttft_s": alone.time_s + perf.request_overhead_s(dep),
        **calib.fixed_ttft_dict(model.arch.family),
        "tpot_s": tpot,
        "decode_tokens_per_s": req.batch / tpot,
        "decode_tokens_per_s_per_card": req.batch / tpot / par.cards,
        "colocated": {"tpot_s": col_tpot, "output_tokens_per_s": req.batch / col_tpot,
                      "prompt_tokens_per_s": prompt_per_step / col.time_s, "chunk_tokens": chunk,
                      "steps_with_chunk": share, "bound": col.bound,
                      # a step holds at most the budget: above it this batch is not a steady state
                      "prompt_tokens_per_step": prompt_per_step,
                      "holds": prompt_per_step <= colocated.DEFAULT_CHUNK_TOKENS},
        "floors": {"step_s": fl.step_s, "layers_s": fl.layers_s, "moe_layers_s": fl.moe_layers_s,
                   "collectives": fl.collectives, "collective_latency_s": fl.collective_latency_s,
                   "sequences_s": fl.sequences_s, "total_s": fl.total_s},
        "prefill_floors": prefill_floors(dep, req.batch),
        "bound": {"prefill": pre.bound, "decode": dec.bound},
        "breakdown": {
            "prefill": {"compute_s": pre.compute_s, "memory_s": pre.memory_s,
                        "communication_s": pre.comm_s, "overhead_s": pre.overhead_s},
            "decode": {"compute_s": dec.compute_s, "memory_s": dec.memory_s,
                       "communication_s": dec.comm_s, "overhead_s": dec.overhead_s},
        },
    }


def prefill_floors(dep: Deployment, prompts: int) -> dict[str, float]:
    """The fixed time a pass that prefills `prompts` prompts pays beyond a decode step's floors
    (perf.eager_terms): per layer and per MoE layer (run eagerly, not from a CUDA graph) and per
    prompt, with their total."""
    layers, moe, per_prompt = perf.eager_terms(dep, prompts)
    return {"layers_s": layers, "moe_layers_s": moe, "prompts_s": per_prompt, "total_s": layers + moe + per_prompt}


def sweep_batch(req: EvalRequest, calib: Calibration | None = None) -> list[dict[str, Any]]:
    """The decode curve: TPOT and tokens/s against batch, up to the largest batch that fits."""
    dep = deployment_of(req, calib)
    ctx_peak = req.input_len + req.output_len
    limit = perf.max_batch(dep, ctx_peak)
    pts = perf.decode_curve(dep, req.input_len + req.output_len / 2.0, perf.batch_grid(max(limit, 1)))
    return [{"batch": p.batch, "tpot_s": p.tpot_s, "tokens_per_s": p.tokens_per_s,
             "tokens_per_s_per_card": p.tokens_per_s / dep.cards, "bound": p.bound, "fits": p.fits}
            for p in pts]
