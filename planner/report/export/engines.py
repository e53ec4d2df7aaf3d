"""Engine launch commands that realise a plan's pool: vLLM, SGLang, TensorRT-LLM.

One command per node of an instance (`node_commands`): rank 0 first; a single-node instance has
one. `${LEADER_ADDR}` stands for the address of an instance's rank-0 node (the Kubernetes
manifests set it). Every flag used here is in the engine's flag list under `flags/` (read from
the engine's source at a pinned version); tests/test_export.py checks that.

How the plan's layout maps onto each engine (TP tensor, PP pipeline, DP data-parallel attention,
experts over TP·DP cards, `engine_batch` sequences per instance: the design batch, or under a
percentile TPOT the batch the statistic was sized at):
- vLLM: `--tensor-parallel-size TP --pipeline-parallel-size PP --data-parallel-size DP`, and
  `--enable-expert-parallel` for a MoE model on TP·DP > 1 cards (the plan spreads experts over
  them; without it vLLM slices every expert over the TP group instead); `--max-num-seqs` is per
  DP rank, so ceil(batch / DP).
  A multi-node instance splits its DP ranks over nodes (`--data-parallel-size-local`,
  `--data-parallel-start-rank`, `--headless` on the others); a TP·PP group wider than a node
  would need Ray and is refused.
- SGLang: `--tp-size TP·DP --dp-size DP --enable-dp-attention` (SGLang counts the attention-DP
  ranks inside tp-size) and, for a MoE model on TP·DP > 1 cards, `--ep-size TP·DP` (experts
  spread, as planned, not sliced), `--pp-size PP`, `--max-running-requests` = batch;
  multi-node with `--nnodes/--node-rank/--dist-init-addr`.
- TensorRT-LLM (`trtllm-serve`, PyTorch backend): `--tp_size TP·DP --ep_size TP·DP` with
  `enable_attention_dp` in the per-pool YAML (`--config`), `--pp_size PP`; `--max_batch_size` is
  per attention-DP rank, so ceil(batch / DP). NVIDIA GPUs only.
Speculative decoding (a pool's `speculative`, method mtp with k draft tokens): vLLM
`--speculative-config {"method":"deepseek_mtp","num_speculative_tokens":k}` (vLLM 0.11 names the
MTP of DeepSeek-V3-family models so; others are refused), SGLang `--speculative-algorithm EAGLE
--speculative-num-steps k --speculative-eagle-topk 1 --speculative-num-draft-tokens k+1` (its
MTP path), TensorRT-LLM `speculative_config: {decoding_type: MTP, num_nextn_predict_layers: k}`
in the pool's YAML. EAGLE needs the draft head's weights, which the plan does not name: refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from planner.catalog.schemas import GPU, get_model
from planner.errors import BadInput
from planner.report.export.planread import ExportPlanFile, ExportPool

ENGINES = ("vllm", "sglang", "trtllm")
GPU_MEMORY_FRACTION = 0.90       # of each card's memory for weights + KV (the engines' usual default)
PORT = {"vllm": 8000, "sglang": 30000, "trtllm": 8000}
DIST_PORT = 5000                 # SGLang --dist-init-addr / vLLM --data-parallel-rpc-port
KV_DTYPE = {   # the plan's kv_dtype → the engine's value (missing: the engine cannot store it)
    "vllm": {"bf16": "auto", "fp16": "auto", "fp8": "fp8"},
    "sglang": {"bf16": "auto", "fp16": "auto", "fp8": "fp8_e4m3"},
    "trtllm": {"bf16": "auto", "fp16": "auto", "fp8": "fp8"},
}
KV_TRANSFER = {"vllm": "NIXL (NixlConnector)", "sglang": "NIXL (--disaggregation-transfer-backend nixl)",
               "trtllm": "UCX (cache_transceiver_config.backend)"}


@dataclass
class PoolLaunch:
    """How one pool's instances are started."""

    name: str                       # DNS-1123 name of the pool (service-role-gpu-index)
    service: str
    pool: ExportPool
    gpu: GPU
    nodes: int                      # nodes per instance
    cards_per_node: int             # cards each node of an instance uses
    node_commands: list[list[str]]  # argv per node rank
    files: dict[str, str] = field(default_factory=dict)   # extra files (TensorRT-LLM YAML), by name
    port: int = 8000
    moe: bool = False               # the model has routed experts (spread over TP·DP, as planned)


def dns_name(*parts: str) -> str:
    s = "-".join(parts).lower()
    s = "".join(c if c.isalnum() else "-" for c in s)
    while "--" in s:
        s = s.replace("--", "-")
    return s.strip("-")[:52].strip("-")


def prefill_tokens(pool: ExportPool, plan: ExportPlanFile) -> int:
    """Tokens of one prefill pass: design batch × mean prompt, at least the longest prompt."""
    longest = max((v for v, _ in plan.workload.input_distribution or []), default=plan.workload.input_tokens)
    return int(max(math.ceil(pool.design_batch * plan.workload.input_tokens), math.ceil(longest)))


def layout(pool: ExportPool, gpu: GPU, source: str, i: int) -> tuple[int, int]:
    """(nodes per instance, cards per node); BadInput when the instance does not tile whole nodes."""
    per_node = gpu.node_cards
    cards = pool.cards_per_instance
    if cards <= per_node:
        return 1, cards
    if cards % per_node:
        raise BadInput(f"{source}: pools[{i}].cards_per_instance: {cards} cards of {gpu.id} do not fill whole "
                       f"{per_node}-card nodes; a multi-node instance needs whole nodes")
    return cards // per_node, per_node


def _kv(engine: str, plan: ExportPlanFile, source: str) -> str:
    v = KV_DTYPE[engine].get(plan.kv_dtype)
    if v is None:
        raise BadInput(f"{source}: kv_dtype: {engine} has no {plan.kv_dtype} KV cache; re-plan with kv_dtype "
                       f"bf16 or fp8 to export to {engine}")
    return v


def is_moe(plan: ExportPlanFile, source: str) -> bool:
    """Whether the plan's model has routed experts (its catalog entry or config.json)."""
    try:
        return get_model(plan.model_source or plan.model).arch.is_moe
    except BadInput as e:
        raise BadInput(f"{source}: model: {e}") from None


MTP_FAMILIES = ("deepseek_v3",)   # models whose MTP layers vLLM 0.11 runs ("deepseek_mtp")


def _speculative(engine: str, pool: ExportPool, plan: ExportPlanFile, source: str, i: int) -> int:
    """k of a pool's speculative decoding (0: none); BadInput when `engine` cannot realise it."""
    s = pool.speculative
    if s is None:
        return 0
    if s.method != "mtp":
        raise BadInput(f"{source}: pools[{i}].speculative.method: {s.method} needs the draft head's "
                       f"weights, which the plan does not name; export launches MTP only")
    if engine == "vllm":
        try:
            family = get_model(plan.model_source or plan.model).arch.family
        except BadInput as e:
            raise BadInput(f"{source}: model: {e}") from None
        if family not in MTP_FAMILIES:
            raise BadInput(f"{source}: pools[{i}].speculative: vLLM 0.11 runs MTP for DeepSeek-V3-family "
                           f"models (deepseek_mtp); {plan.model} is {family}")
    return s.draft_tokens


def launch(engine: str, pool: ExportPool, plan: ExportPlanFile, gpu: GPU, model_path: str,
           name: str, service: str, source: str, i: int, moe: bool = False) -> PoolLaunch:
    """The launch of pool `i` of `plan` on `engine`; BadInput when the engine cannot realise it."""
    _speculative(engine, pool, plan, source, i)
    nodes, per_node = layout(pool, gpu, source, i)
    kv = _kv(engine, plan, source)
    build = {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm}[engine]
    out = PoolLaunch(name, service, pool, gpu, nodes, per_node, [], port=PORT[engine], moe=moe)
    build(out, plan, model_path, kv, source, i)
    return out


def _role_flags_vllm(pool: ExportPool, plan: ExportPlanFile) -> list[str]:
    if pool.role == "colocated":
        return ["--enable-chunked-prefill", "--max-num-batched-tokens", str(math.ceil(pool.chunk_tokens))]
    cfg = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    out = ["--kv-transfer-config", json.dumps(cfg, separators=(",", ":"))]
    if pool.role == "prefill":
        out = ["--max-num-batched-tokens", str(prefill_tokens(pool, plan))] + out
    return out


def _vllm(out: PoolLaunch, plan: ExportPlanFile, model_path: str, kv: str, source: str, i: int) -> None:
    p = out.pool.parallelism
    if p.tp * p.pp > out.cards_per_node:
        raise BadInput(f"{source}: pools[{i}].parallelism: a TP{p.tp}·PP{p.pp} group spans "
                       f"{p.tp * p.pp} cards, more than one {out.gpu.id} node ({out.cards_per_node}); "
                       f"vLLM needs Ray for that, which this export does not set up")
    base = ["vllm", "serve", model_path, "--served-model-name", plan.model,
            "--tensor-parallel-size", str(p.tp), "--pipeline-parallel-size", str(p.pp),
            "--data-parallel-size", str(p.dp)]
    if out.moe and p.tp * p.dp > 1:
        base.append("--enable-expert-parallel")
    base += ["--max-num-seqs", str(math.ceil(out.pool.engine_batch / p.dp)),
             "--gpu-memory-utilization", f"{GPU_MEMORY_FRACTION:.2f}", "--kv-cache-dtype", kv]
    base += _role_flags_vllm(out.pool, plan)
    if out.pool.speculative is not None:
        cfg = {"method": "deepseek_mtp", "num_speculative_tokens": out.pool.speculative.draft_tokens}
        base += ["--speculative-config", json.dumps(cfg, separators=(",", ":"))]
    if out.nodes == 1:
        out.node_commands = [base]
        return
    local = p.dp // out.nodes
    for r in range(out.nodes):
        extra = ["--data-parallel-size-local", str(local), "--data-parallel-start-rank", str(r * local),
                 "--data-parallel-address", "${LEADER_ADDR}", "--data-parallel-rpc-port", str(DIST_PORT)]
        out.node_commands.append(base + extra + (["--headless"] if r else []))


def _sglang(out: PoolLaunch, plan: ExportPlanFile, model_path: str, kv: str, source: str, i: int) -> None:
    p = out.pool.parallelism
    width = p.tp * p.dp
    cmd = ["python3", "-m", "sglang.launch_server", "--model-path", model_path, "--served-model-name", plan.model,
           "--tp-size", str(width), "--pp-size", str(p.pp)]
    if p.dp > 1:
        cmd += ["--dp-size", str(p.dp), "--enable-dp-attention"]
    if out.moe and width > 1:
        cmd += ["--ep-size", str(width)]
    cmd += ["--max-running-requests", str(out.pool.engine_batch),
            "--mem-fraction-static", f"{GPU_MEMORY_FRACTION:.2f}", "--kv-cache-dtype", kv]
    if out.pool.role == "colocated":
        cmd += ["--chunked-prefill-size", str(math.ceil(out.pool.chunk_tokens))]
    else:
        if out.pool.role == "prefill":
            t = str(prefill_tokens(out.pool, plan))
            cmd += ["--max-prefill-tokens", t, "--chunked-prefill-size", t]
        cmd += ["--disaggregation-mode", out.pool.role, "--disaggregation-transfer-backend", "nixl"]
    if out.pool.speculative is not None:
        k = out.pool.speculative.draft_tokens
        cmd += ["--speculative-algorithm", "EAGLE", "--speculative-num-steps", str(k),
                "--speculative-eagle-topk", "1", "--speculative-num-draft-tokens", str(k + 1)]
    cmd += ["--host", "0.0.0.0", "--port", str(PORT["sglang"])]
    if out.nodes == 1:
        out.node_commands = [cmd]
        return
    out.node_commands = [cmd + ["--nnodes", str(out.nodes), "--node-rank", str(r),
                                "--dist-init-addr", f"${{LEADER_ADDR}}:{DIST_PORT}"] for r in range(out.nodes)]


def _trtllm(out: PoolLaunch, plan: ExportPlanFile, model_path: str, kv: str, source: str, i: int) -> None:
    if out.gpu.vendor != "nvidia":
        raise BadInput(f"{source}: pools[{i}].gpu: TensorRT-LLM runs on NVIDIA GPUs only; "
                       f"{out.gpu.id} is {out.gpu.vendor}")
    p = out.pool.parallelism
    width = p.tp * p.dp
    batch = math.ceil(out.pool.engine_batch / p.dp)
    if out.pool.role == "colocated":
        tokens = math.ceil(out.pool.chunk_tokens)
    elif out.pool.role == "prefill":
        tokens = prefill_tokens(out.pool, plan)
    else:
        tokens = batch     # a decode step schedules one token per sequence
    cfg = [f"# TensorRT-LLM LLM API options for pool {out.name} (trtllm-serve --config)",
           f"enable_attention_dp: {'true' if p.dp > 1 else 'false'}",
           "kv_cache_config:", f"  dtype: {kv}", f"  free_gpu_memory_fraction: {GPU_MEMORY_FRACTION:.2f}"]
    if out.pool.speculative is not None:
        cfg += ["speculative_config:", "  decoding_type: MTP",
                f"  num_nextn_predict_layers: {out.pool.speculative.draft_tokens}"]
    if out.pool.role == "colocated":
        cfg.append("enable_chunked_prefill: true")
    else:
        cfg += ["cache_transceiver_config:", "  backend: UCX", "disable_overlap_scheduler: "
                + ("true" if out.pool.role == "prefill" else "false")]
    fname = f"{out.name}.trtllm.yaml"
    out.files[fname] = "\n".join(cfg) + "\n"
    cmd = ["trtllm-serve", "serve", model_path, "--backend", "pytorch",
           "--tp_size", str(width), "--pp_size", str(p.pp), "--ep_size", str(width),
           "--max_batch_size", str(batch), "--max_num_tokens", str(tokens),
           "--kv_cache_free_gpu_memory_fraction", f"{GPU_MEMORY_FRACTION:.2f}",
           "--host", "0.0.0.0", "--port", str(PORT["trtllm"]), "--config", fname]
    if out.pool.role != "colocated":
        cmd += ["--server_role", "CONTEXT" if out.pool.role == "prefill" else "GENERATION"]
    if out.nodes > 1:
        cmd = ["mpirun", "-n", str(out.pool.cards_per_instance), "trtllm-llmapi-launch"] + cmd \
            + ["--gpus_per_node", str(out.cards_per_node)]
    out.node_commands = [cmd] + [["sleep", "infinity"]] * (out.nodes - 1)   # MPI starts the other ranks
