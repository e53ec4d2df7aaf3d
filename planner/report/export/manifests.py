"""Kubernetes manifests (Deployments/StatefulSets + Services), the Dynamo custom resource, and
the router configuration that splits traffic as the plan's verification assumed.

Kubernetes: a pool of single-node instances is one Deployment with `replicas` = instances. A
pool of multi-node instances is one StatefulSet per node rank (`replicas` = instances) behind a
headless Service: pod k of every rank belongs to instance k, and rank 0's stable DNS name is the
instance's leader address (a plain Deployment gives pods no identity to pair ranks; no
LeaderWorkerSet dependency). Each pod requests its node's share of cards and selects its GPU
type with the vendor's documented node label.

Dynamo: the DynamoGraphDeployment shape follows NVIDIA Dynamo's published CRD types and example,
ai-dynamo/dynamo deploy/cloud/operator/api/v1alpha1/dynamocomponentdeployment_types.go
(commit 967e177c) and components/backends/vllm/deploy/disagg.yaml (commit 0bb33891).
"""

from __future__ import annotations

from typing import Any

from planner.report.export.engines import BOOTSTRAP_PORT, PoolLaunch, shell_join

ROUTER_LABEL = "planner/pd-router"          # the router (SGLang's, vLLM's) whose discovery takes the pod
SERVES_LABEL = "planner/serves"             # prefill or decode, on the pods that serve HTTP
BOOTSTRAP_ANNOTATION = "sglang.ai/bootstrap-port"   # where sglang_router reads a prefill pod's

# vendor → (device-plugin resource, node label, label value by GPU id; default: catalog name, dashed)
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "huawei": "huawei.com/Ascend910"}
NODE_LABEL = {"nvidia": "nvidia.com/gpu.product",        # NVIDIA GPU Feature Discovery
              "amd": "amd.com/gpu.product-name",         # AMD GPU operator node labeller
              "huawei": "accelerator"}                   # Ascend device plugin
PRODUCT = {"h100": "NVIDIA-H100-80GB-HBM3", "h200": "NVIDIA-H200", "h800": "NVIDIA-H800", "h20": "NVIDIA-H20",
           "b200": "NVIDIA-B200", "b300": "NVIDIA-B300-SXM6-AC", "gb200": "NVIDIA-GB200",
           "gb300": "NVIDIA-GB300", "a100-80g": "NVIDIA-A100-SXM4-80GB", "a100-pcie": "NVIDIA-A100-80GB-PCIe",
           "h100-pcie": "NVIDIA-H100-PCIe", "l40s": "NVIDIA-L40S", "rtx4090": "NVIDIA-GeForce-RTX-4090",
           "mi300x": "AMD_Instinct_MI300X", "mi325x": "AMD_Instinct_MI325X", "mi355x": "AMD_Instinct_MI355X",
           "ascend-910b": "huawei-Ascend910"}


def node_selector(pl: PoolLaunch) -> dict[str, str]:
    g = pl.gpu
    return {NODE_LABEL.get(g.vendor, "planner/gpu"): PRODUCT.get(g.id, g.name.replace(" ", "-"))}


def gpu_resource(pl: PoolLaunch) -> str:
    return GPU_RESOURCE.get(pl.gpu.vendor, "nvidia.com/gpu")


def _k8s_args(argv: list[str]) -> list[str]:
    return [a.replace("${LEADER_ADDR}", "$(LEADER_ADDR)") for a in argv]


# vLLM's NIXL side channel: the address its prefill side announces to decode (vLLM's default,
# localhost, sent decode pods to themselves until 2026-12-06); the launch scripts set it likewise
SIDE_CHANNEL_ENV = {"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


# the routers' service discovery adds a pod once it is Ready and gives up on it after its worker
# startup timeout (600 s): without a probe a pod is Ready while its engine still loads the weights
READINESS = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}


def _container(pl: PoolLaunch, argv: list[str], image: str, env: list[dict], serves: bool = True) -> dict[str, Any]:
    res = {gpu_resource(pl): str(pl.cards_per_node)}
    if "--kv-transfer-config" in argv:
        env = [*env, SIDE_CHANNEL_ENV]
    c: dict[str, Any] = {
        "name": "engine", "image": image, "command": _k8s_args(argv[:1]), "args": _k8s_args(argv[1:]),
        "ports": [{"name": "http", "containerPort": pl.port}],
        "resources": {"requests": dict(res), "limits": dict(res)},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }
    if serves:
        c["readinessProbe"] = READINESS
    if env:
        c["env"] = env
    return c


def _pod(pl: PoolLaunch, argv: list[str], image: str, labels: dict, env: list[dict],
         annotations: dict[str, str] | None = None, serves: bool = True) -> dict[str, Any]:
    return {"metadata": {"labels": labels} | ({"annotations": annotations} if annotations else {}),
            "spec": {"nodeSelector": node_selector(pl), "containers": [_container(pl, argv, image, env, serves)],
                     "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]}}


def k8s_objects(pl: PoolLaunch, image: str, replicas: int | None = None,
                router: str | None = None) -> list[dict[str, Any]]:
    """The pool's workload objects and its Service(s); `replicas` (default: the pool's instances)
    those it starts with (a plan over a load profile: period 0's). `router`: the router that
    discovers the pool's serving pods (a single-node instance's, a multi-node one's rank 0) by the
    labels `planner/pd-router` (its name) and `planner/serves` (the role), an SGLang prefill pod's
    bootstrap port by its `sglang.ai/bootstrap-port` annotation."""
    n = pl.pool.instances if replicas is None else replicas
    labels = {"app.kubernetes.io/name": pl.name, "app.kubernetes.io/part-of": "planner-export",
              "planner/role": pl.pool.role, "planner/gpu": pl.gpu.id}
    meta = {"name": pl.name, "labels": labels}
    svc_sel = {"app.kubernetes.io/name": pl.name}
    # a colocated pool beside prefill/decode ones (vLLM only) serves the router as a decode server, as in the scripts
    serving = labels | ({ROUTER_LABEL: router, SERVES_LABEL: "prefill" if pl.pool.role == "prefill" else "decode"}
                        if router else {})
    annotations = {BOOTSTRAP_ANNOTATION: str(BOOTSTRAP_PORT)} if router and pl.pool.role == "prefill" \
        and "--disaggregation-bootstrap-port" in pl.node_commands[0] else {}
    out: list[dict[str, Any]] = []
    if pl.nodes == 1:
        out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                    "spec": {"replicas": n, "selector": {"matchLabels": svc_sel},
                             "template": _pod(pl, pl.node_commands[0], image, serving, [], annotations)}})
    else:
        hs = f"{pl.name}-hs"
        env = [{"name": "INSTANCE", "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}},
               {"name": "LEADER_ADDR", "value": f"{pl.name}-r0-$(INSTANCE).{hs}"}]
        for r, argv in enumerate(pl.node_commands):
            if r == 0 and pl.head_setup:   # the Ray head first, then the engine as its own argv ("$0" "$@")
                argv = ["sh", "-c", shell_join(pl.head_setup) + ' && exec "$0" "$@"', *argv]
            rl = labels | {"planner/rank": str(r)}
            sel = svc_sel | {"planner/rank": str(r)}
            out.append({"apiVersion": "apps/v1", "kind": "StatefulSet",
                        "metadata": {"name": f"{pl.name}-r{r}", "labels": rl},
                        "spec": {"replicas": n, "serviceName": hs,
                                 "podManagementPolicy": "Parallel", "selector": {"matchLabels": sel},
                                 "template": _pod(pl, argv, image, serving | rl if r == 0 else rl, env,
                                                  annotations if r == 0 else {}, serves=r == 0)}})
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": hs, "labels": labels},
                    "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": svc_sel,
                             "ports": [{"name": "http", "port": pl.port}]}})
        svc_sel = svc_sel | {"planner/rank": "0"}
    out.append({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                "spec": {"selector": svc_sel, "ports": [{"name": "http", "port": pl.port, "targetPort": "http"}]}})
    return out


def dynamo_graph(name: str, launches: list[PoolLaunch], image: str, engine: str,
                 replicas: list[int] | None = None) -> dict[str, Any]:
    """A DynamoGraphDeployment: a frontend plus one worker service per pool (`replicas`: each pool's
    starting count, default its instances)."""
    services: dict[str, Any] = {
        "Frontend": {"componentType": "frontend", "replicas": 1,
                     "extraPodSpec": {"mainContainer": {"image": image, "command": ["python3"],
                                                        "args": ["-m", "dynamo.frontend", "--http-port", "8000"]}}},
    }
    for n, pl in enumerate(launches):
        argv = pl.node_commands[0]
        args = _dynamo_args(engine, argv, pl)
        svc: dict[str, Any] = {
            "componentType": "worker", "replicas": pl.pool.instances if replicas is None else replicas[n],
            "envFromSecret": "hf-token-secret",
            "resources": {"requests": {"gpu": str(pl.cards_per_node)}, "limits": {"gpu": str(pl.cards_per_node)}},
            "extraPodSpec": {"nodeSelector": node_selector(pl),
                             "mainContainer": {"image": image, "command": ["python3"], "args": args}},
        }
        if pl.pool.role != "colocated":
            svc["subComponentType"] = pl.pool.role
        if pl.nodes > 1:
            svc["multinode"] = {"nodeCount": pl.nodes}
        services[dynamo_service(pl.name)] = svc
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": name}, "spec": {"backendFramework": engine, "services": services}}


def dynamo_service(name: str) -> str:
    """A pool's Dynamo service key: 'prefill-h20-0' → 'PrefillH20Pool0' (joined bare, the index ran
    into the GPU's name: 'PrefillH200' was a pool of H20 cards)."""
    words = name.split("-")
    if words[-1].isdigit():
        words[-1] = "pool" + words[-1]
    return "".join(w[:1].upper() + w[1:] for w in words)


def _dynamo_args(engine: str, argv: list[str], pl: PoolLaunch) -> list[str]:
    """The engine's own flags under Dynamo's worker module (dynamo.vllm / dynamo.sglang); the
    single-process flags of a multi-node launch are the operator's job (multinode.nodeCount), and
    dynamo.vllm sets up its own KV connector. dynamo.sglang keeps `--disaggregation-transfer-backend
    nixl`, as Dynamo's own SGLang disagg.yaml passes it (SGLang's default is Mooncake; the flag was
    dropped until 2026-12-06)."""
    drop = {"--data-parallel-size-local", "--data-parallel-start-rank", "--data-parallel-address",
            "--data-parallel-rpc-port", "--nnodes", "--node-rank", "--dist-init-addr", "--host", "--port",
            "--kv-transfer-config", "--disaggregation-bootstrap-port"}
    if engine == "vllm":
        rest = ["--model", argv[2]] + argv[3:]
    else:
        rest = argv[3:]
    out: list[str] = []
    skip = False
    for a in rest:
        if skip:
            skip = False
            continue
        if a in drop:
            skip = True
            continue
        if a == "--headless":
            continue
        out.append(a)
    if engine == "vllm" and pl.pool.role == "prefill":
        out.append("--is-prefill-worker")
    return ["-m", f"dynamo.{engine}"] + out


def router_config(launches: list[PoolLaunch], engine: str,
                  addr: dict[tuple[str, int], tuple[str, int]] | None = None) -> dict[str, Any]:
    """Traffic split per pool and instance, in proportion to the capacities verification used:
    prompts by `capacity_prefill_tokens_per_s`, generation by `capacity_decode_tokens_per_s`, per
    service (a fleet's services are routed by model name). `url` is the pool's Service (Kubernetes) or
    a name for a balancer over its instances; with `addr` (script targets: `placement`) each
    instance's own URL too (`instance_urls`)."""
    services: dict[str, list[PoolLaunch]] = {}
    for pl in launches:
        services.setdefault(pl.service, []).append(pl)
    out = {}
    for key, pls in services.items():
        tp = sum(pl.pool.capacity_prefill_tokens_per_s for pl in pls) or 1.0
        td = sum(pl.pool.capacity_decode_tokens_per_s for pl in pls) or 1.0
        out[key] = [{"pool": pl.name, "model": pl.served, "role": pl.pool.role, "gpu": pl.gpu.id,
                     "instances": pl.pool.instances,
                     "url": f"http://{pl.name}:{pl.port}",
                     "prefill_weight": pl.pool.capacity_prefill_tokens_per_s / tp,
                     "decode_weight": pl.pool.capacity_decode_tokens_per_s / td,
                     "prefill_weight_per_instance": pl.pool.capacity_prefill_tokens_per_s / tp / pl.pool.instances,
                     "decode_weight_per_instance": pl.pool.capacity_decode_tokens_per_s / td / pl.pool.instances}
                    | ({"instance_urls": [addr[(pl.name, k)][0] for k in range(pl.pool.instances)]} if addr else {})
                    for pl in pls]
    return {"engine": engine, "basis": "capacity_prefill_tokens_per_s / capacity_decode_tokens_per_s of each "
            "pool in the plan (what verification assumed)", "services": out}


def rbac_objects(account: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ServiceAccount `account` and a Role and RoleBinding granting it `rules` in the namespace
    the objects are applied to."""
    labels = {"app.kubernetes.io/part-of": "planner-export"}
    return [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "labels": labels}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": account, "labels": labels}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": account, "labels": labels},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
             "subjects": [{"kind": "ServiceAccount", "name": account}]}]
