"""README.txt of an export: what each file is, and what the planner assumed."""

from __future__ import annotations

from planner.errors import one_line
from planner.report.export.engines import GPU_MEMORY_FRACTION, PoolLaunch
from planner.report.export.manifests import (
    BOOTSTRAP_ANNOTATION,
    ROUTER_LABEL,
    SERVES_LABEL,
    gpu_resource,
    node_selector,
)
from planner.report.export.planread import ExportPlan
from planner.report.export.routers import (
    ROUTER_PORT,
    VLLM_ROUTER,
    colocated_beside,
    routed_services,
    uneven_shares,
)
from planner.report.text import precisions

WHAT = {
    "README.txt": "this file",
    "router.json": "traffic split per pool and instance, in proportion to the prefill/decode capacities "
                   "the plan's verification used (script targets: each instance's URL too)",
    "placement.csv": "each instance's node (placeholder names <gpu>-node-<k>: map them to your hosts), cards and "
                     "port; instances smaller than a node share one",
    "launch-node.sh": "sh launch-node.sh NODE, on that node: starts the instances placement.csv puts there, each on "
                      "its cards and ports",
    "loadtest.sh": "vllm bench serve at the plan's QPS and mean lengths (set BASE_URL, TOKENIZER)",
    "loadtest-genai-perf.sh": "the same load with genai-perf",
    "slo.json": "the limits the load test's saved result should meet, by result key, and the planned values",
    "k8s.yaml": "Deployments (single-node instances) or StatefulSets per node rank (multi-node instances) "
                "with Services (SGLang, vLLM: and each prefill/decode service's router); kubectl apply -f k8s.yaml",
    "dynamo.yaml": "NVIDIA Dynamo DynamoGraphDeployment: a frontend and one worker service per pool",
    "schedule.csv": "a plan over a load profile: per period its start, hours, QPS, instances of each pool, and "
                    "nodes per GPU type and capacity kind",
    "schedule.json": "the same schedule as JSON, with each period's cron schedule and router split",
    "schedule.yaml": "a ServiceAccount, Role and RoleBinding, and a CronJob per change of the counts that "
                     "scales the pools to the period's (kubectl apply -f schedule.yaml)",
}


def _what(name: str) -> str:
    if name in WHAT:
        return WHAT[name]
    if name.endswith(".trtllm.yaml"):
        return "TensorRT-LLM LLM-API options of a pool (trtllm-serve --config)"
    if name.startswith("pd-router-"):
        return "prefill/decode router (SGLang's, vLLM's) over every instance, where it listens (placement.csv)"
    if name.startswith("disagg-"):
        return "trtllm-serve disaggregated -c: context and generation servers"
    return "launch command of one pool's instances (NODE_RANK and LEADER_ADDR for multi-node instances)"


def readme(plan: ExportPlan, target: str, engine: str, image: str, pls: list[PoolLaunch], files: list[str],
           kv_transfer: str, prefill_tokens: dict[str, int]) -> str:
    lines = [f"Export of plan {plan.problem!r} for target {target} (engine {engine}"
             + (f"; image {image})" if target in ("k8s", "dynamo") else ")"), "",
             "Files:"]
    lines += [f"  {n:<34} {_what(n)}" for n in files]
    lines += ["", "What the planner assumed:"]
    served = {pl.service: pl.served for pl in pls}
    for s in plan.services:
        w, lim = s.plan.workload, s.plan.slo
        name = served.get(s.key, s.plan.model)
        asked = f" (requests ask for {one_line(name)})" if name != s.plan.model else ""
        lines.append(f"  service {one_line(s.key)}: model {s.plan.model}{asked} ({precisions(s.plan.model_dump())}), "
                     f"{w.qps:g} req/s, {w.input_tokens:g} prompt / {w.output_tokens:g} output tokens (means), "
                     f"prefix cache hit {w.prefix_cache_hit:.0%}; SLO TTFT {lim.ttft_statistic} ≤ {lim.ttft_s:g} s, "
                     f"TPOT {lim.tpot_statistic} ≤ {lim.tpot_s * 1e3:g} ms; calibration {s.plan.calibration}")
    lines.append("  cards per GPU type: " + ", ".join(f"{g} {n}" for g, n in sorted(plan.cards.items())))
    lines += ["", "Pools:"]
    for pl in pls:
        p = pl.pool
        sel = ", ".join(f"{k}={v}" for k, v in node_selector(pl).items())
        lines.append(f"  {pl.name}: {p.role}, {p.instances} × {p.cards_per_instance} {pl.gpu.id} "
                     f"(TP{p.parallelism.tp}·PP{p.parallelism.pp}·DP{p.parallelism.dp}, {pl.nodes} node(s) of "
                     f"{pl.cards_per_node} cards), design batch {p.design_batch}"
                     + (f", chunk {p.step_token_budget:g} tokens" if p.role == "colocated" else "")
                     + (f", {prefill_tokens[pl.name]} tokens per prefill pass" if p.role == "prefill" else "")
                     + f"; {gpu_resource(pl)} per pod, nodeSelector {sel}")
    lines += ["", "Choices and limits:",
              f"  - memory fraction {GPU_MEMORY_FRACTION:.2f} of each card for weights and KV cache.",
              f"  - KV transfer between prefill and decode pools: {kv_transfer}."
              if any(pl.pool.role != "prefill" for pl in pls) else
              "  - No KV transfer: every answer is one token, which the prefill pool's own server returns.",
              "  - DP > 1 is data-parallel attention; a MoE model's experts are spread over the TP·DP cards",
              "    (expert parallelism: --enable-expert-parallel, --ep-size, --ep_size), as the plan modelled them.",
              "  - Engines whose batch limit is per DP rank (vLLM, TensorRT-LLM) get ceil(sequences / DP): a decode or",
              "    colocated pool's slots (what its memory holds at the longest sequences, which the plan's slot wait",
              "    and its simulation admit), a prefill pool's design batch; SGLang gets the sequences whole.",
              "  - Multi-node instances: one command per node rank; LEADER_ADDR is rank 0's address. On Kubernetes",
              "    each rank is a StatefulSet and pod k of every rank forms instance k (pod-index label, k8s >= 1.28).",
              "  - nodeSelector values follow NVIDIA GPU Feature Discovery / AMD node labeller product names;",
              "    check them against `kubectl get nodes -L nvidia.com/gpu.product` and edit if they differ.",
              "  - The random dataset reproduces mean lengths only; a plan with a length distribution is loaded",
              "    at its means (see slo.json for the limits and the planned per-pool values).",
              "  - Dynamo's frontend balances by load, not by static weights; router.json gives the planned split."]
    if target == "k8s" and engine in ("sglang", "vllm"):
        who = "SGLang's router" if engine == "sglang" else f"vLLM's router ({VLLM_ROUTER}, installed as its pod starts)"
        for svc, _, name, mine in routed_services(pls):
            lines += [f"  - {'Service ' + one_line(svc) + ': ' if plan.kind == 'fleet' else ''}{who} "
                      f"`{name}` (a Deployment, and a Service on port {ROUTER_PORT}):",
                      f"    it finds the serving pods by their labels {ROUTER_LABEL}={name} and "
                      f"{SERVES_LABEL}=prefill|decode",
                      f"    (a prefill pod's bootstrap port: annotation {BOOTSTRAP_ANNOTATION}) and follows them as "
                      f"they scale;" if engine == "sglang" else
                      "    (KV moves over NIXL: each pod announces its own IP as VLLM_NIXL_SIDE_CHANNEL_HOST) and "
                      "follows them as they scale;",
                      f"    its Role may get, list and watch pods. Requests go to it: "
                      f"kubectl port-forward svc/{name} {ROUTER_PORT}."]
            lines += [f"    Note: {n}." for n in uneven_shares(mine) + colocated_beside(mine)]
    lines += [f"  - {pl.name}: {c}." for pl in pls for c in pl.caveats]
    lines += [f"  - {pl.name}: its TP{pl.pool.parallelism.tp}·PP{pl.pool.parallelism.pp} group spans {pl.nodes} "
              f"nodes: a Ray cluster over them (rank 0: ray start --head, then vllm serve --distributed-executor-"
              f"backend ray; the other ranks join it and block)." for pl in pls if pl.head_setup]
    return "\n".join(lines) + "\n"
