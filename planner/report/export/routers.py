"""The prefill/decode routers of the services of a plan that have prefill pools: SGLang's router
(`sglang_router.launch_router --pd-disaggregation`), vLLM's (`vllm_router.launch_router
--vllm-pd-disaggregation --kv-connector nixl`, the vllm-project router, a fork of SGLang's) and
`trtllm-serve disaggregated`. Script targets get a script or config over every instance's address
(`placement`); on Kubernetes the SGLang and vLLM routers run as a Deployment that discovers the
serving pods by label (`--service-discovery`), so it follows the pods a schedule scales up and down,
behind a Service of its own and with a Role that lets it watch pods. Dynamo's frontend routes by
itself. Argument names: sglang-router 0.3.2 and vllm-router 0.1.17 (`router_args.py`), read by
their own parsers in tests.
"""

from __future__ import annotations

import warnings
from typing import Any

import yaml

from planner.errors import PlannerNotice
from planner.report.export.engines import PoolLaunch, dns_name, shell_join
from planner.report.export.manifests import ROUTER_LABEL, SERVES_LABEL, rbac_objects

ROUTER_PORT = 8000   # where the routers listen (the load test's default BASE_URL)
UNEVEN = 1.05   # a role's planned per-instance shares apart by more than this: an even router misroutes
ROUTER_CPU, ROUTER_MEMORY = "2", "4Gi"   # the router pod's requests: a Rust process, no GPU
VLLM_ROUTER = "vllm-router==0.1.17"   # the version whose arguments the export writes (its parser reads them in tests)
# the routers' launchers and the flags of prefill/decode mode (vLLM's moves KV over NIXL, as the pools' connector)
LAUNCHER = {"sglang": ["python3", "-m", "sglang_router.launch_router"],
            "vllm": ["python3", "-m", "vllm_router.launch_router"]}
PD_FLAGS = {"sglang": ["--pd-disaggregation"], "vllm": ["--vllm-pd-disaggregation", "--kv-connector", "nixl"]}
# how long a router waits for its instances to report healthy before it gives up (SGLang's default
# 1,800 s, vLLM's 600: a DeepSeek-R1 instance loading its weights from network storage takes longer)
STARTUP = ["--worker-startup-timeout-secs", "3600"]


def routed_services(pls: list[PoolLaunch]) -> list[tuple[str, str, str, list[PoolLaunch]]]:
    """(service key, router tag, Kubernetes router name, its pools) of each service that has
    prefill pools: the tag (script file names) is the service's DNS name and the router's name
    `<service>-pd-router` (cut shorter), both made unique where two services' names are alike up
    to their cuts (two services alike in their first 38 characters shared one router, its RBAC and
    its pod label, until a review of 2026-12-06)."""
    out, tags, names = [], set(), set()
    for k, svc in enumerate(dict.fromkeys(pl.service for pl in pls)):
        mine = [pl for pl in pls if pl.service == svc]
        if not any(pl.pool.role == "prefill" for pl in mine):
            continue
        tag, name = dns_name(svc), dns_name(svc, "pd-router")
        if tag in tags or name in names:   # names alike up to the cut: one router each
            tag, name = dns_name(svc, str(k)), dns_name(svc, str(k), "pd-router")
        tags.add(tag)
        names.add(name)
        out.append((svc, tag, name, mine))
    return out


def _notes(svc: str, mine: list[PoolLaunch], engine: str, source: str) -> list[str]:
    notes = uneven_shares(mine) if engine in ("sglang", "vllm", "trtllm") else []
    notes += colocated_beside(mine)
    for n in notes:
        warnings.warn(f"{source}: {'service ' + svc + ': ' if svc else ''}{n}", PlannerNotice, stacklevel=3)
    return notes


def engine_router(pls: list[PoolLaunch], engine: str, addr: dict[tuple[str, int], tuple[str, int]],
                  source: str = "plan") -> dict[str, str]:
    """The engine's disaggregation router for launch scripts (SGLang's and vLLM's routers,
    trtllm-serve disaggregated); router.json carries the weights either way. The routers share a role's
    requests out evenly over its instances, which serves the plan only when its instances are
    alike: where they are not (the seed's seven H200 decode instances planned 13.6 % each beside
    one H20 planned 4.7 %, sent 12.5 %: 2.6× its planned load) the file and stderr say so
    (`uneven_shares`). `addr`: each instance's URL and bootstrap port (`instance_addresses`)."""
    def at(pl: PoolLaunch, k: int) -> tuple[str, int]:
        return addr[(pl.name, k)]

    out: dict[str, str] = {}
    for svc, tag, _, mine in routed_services(pls):
        comment = "".join(f"# note: {n}\n" for n in _notes(svc, mine, engine, source))
        if engine in LAUNCHER:
            argv = LAUNCHER[engine] + PD_FLAGS[engine]
            for pl in mine:
                for k in range(pl.pool.instances):
                    url, boot = at(pl, k)   # vLLM's decode side learns the NIXL side channel from the prefill reply
                    argv += (["--prefill", url] + ([str(boot)] if engine == "sglang" else [])
                             if pl.pool.role == "prefill" else ["--decode", url])
            argv += [*STARTUP, "--host", "0.0.0.0", "--port", str(ROUTER_PORT)]   # defaults 127.0.0.1, port 30000
            if engine == "vllm":
                comment += (f"# vLLM's router: pip install {VLLM_ROUTER}; run it where port {ROUTER_PORT} is free "
                            f"(not beside a vLLM instance on its default port)\n")
            out[f"pd-router-{tag}.sh"] = "#!/bin/sh\n" + comment + "exec " + shell_join(argv) + "\n"
        elif engine == "trtllm":
            cfg = {"hostname": "0.0.0.0", "port": ROUTER_PORT, "backend": "pytorch"}
            for role, key in (("prefill", "context_servers"), ("decode", "generation_servers")):
                urls = [at(pl, k)[0].removeprefix("http://") for pl in mine if pl.pool.role == role
                        for k in range(pl.pool.instances)]
                cfg[key] = {"num_instances": len(urls), "urls": urls}
            out[f"disagg-{tag}.yaml"] = comment + yaml.safe_dump(cfg, sort_keys=False)
    return out


def router_k8s(pls: list[PoolLaunch], engine: str, image: str, source: str = "plan") -> tuple[list[dict[str, Any]],
                                                                                          dict[str, str]]:
    """Per service with prefill pools, the engine's router on Kubernetes (SGLang, vLLM; none for
    another engine): a ServiceAccount, Role and RoleBinding that may get, list and watch pods, a
    Deployment of one router that discovers the service's prefill and decode pods by their labels
    (`k8s_objects(router=...)`) in its own namespace, and a Service `<tag>-pd-router` on
    ROUTER_PORT. SGLang's image carries its router; vLLM's does not, so its router pod installs
    VLLM_ROUTER first (a no-op, without the network, on an image that has it). Returns the objects
    and, per service key, the router's name the pools' pods are labelled with."""
    docs: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    if engine not in LAUNCHER:
        return docs, names
    for svc, _, name, mine in routed_services(pls):
        names[svc] = name
        notes = _notes(svc, mine, engine, source)
        argv = [*PD_FLAGS[engine], "--service-discovery",
                "--prefill-selector", f"{ROUTER_LABEL}={name}", f"{SERVES_LABEL}=prefill",
                "--decode-selector", f"{ROUTER_LABEL}={name}", f"{SERVES_LABEL}=decode",
                "--service-discovery-port", str(mine[0].port),   # one engine: one port
                "--service-discovery-namespace", "$(POD_NAMESPACE)", *STARTUP,
                "--host", "0.0.0.0", "--port", str(ROUTER_PORT)]
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "planner-export",
                  "planner/role": "router"}
        meta = {"name": name, "labels": labels} | ({"annotations": {"planner/note": " ".join(notes)}} if notes else {})
        res = {"cpu": ROUTER_CPU, "memory": ROUTER_MEMORY}
        command = LAUNCHER[engine]
        if engine == "vllm":   # sh -c '… && exec python3 -m … "$@"' sh ARGS: the arguments stay a list
            command, argv = ["sh", "-c", f"python3 -m pip install --no-cache-dir {VLLM_ROUTER} && exec "
                             f"{shell_join(LAUNCHER[engine])} \"$@\"", "sh"], argv
        container = {"name": "router", "image": image, "command": command,
                     "args": argv, "ports": [{"name": "http", "containerPort": ROUTER_PORT}],
                     "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                     "resources": {"requests": dict(res), "limits": dict(res)}}
        docs += rbac_objects(name, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}])
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                     "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                              "template": {"metadata": {"labels": labels},
                                           "spec": {"serviceAccountName": name, "containers": [container]}}}})
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
                     "spec": {"selector": {"app.kubernetes.io/name": name},
                              "ports": [{"name": "http", "port": ROUTER_PORT, "targetPort": "http"}]}})
    return docs, names


def colocated_beside(mine: list[PoolLaunch]) -> list[str]:
    """A service whose colocated pools run beside its prefill/decode pools (vLLM exports it; the
    other engines refuse it): the router takes each colocated instance as a decode server (KV from
    a prefill instance; its engine's connector is kv_both), so the prefill work the plan gives it
    goes to the prefill pools instead."""
    attr = "capacity_prefill_tokens_per_s"
    total = sum(getattr(pl.pool, attr) for pl in mine)
    out = []
    for pl in mine:
        share = getattr(pl.pool, attr) / total if pl.pool.role == "colocated" and total > 0 else 0.0
        if share > 0:
            out.append(f"the router takes the colocated pool {pl.name} as a decode server only; the plan also gives it "
                       f"{share:.1%} of the service's prefill work (router.json), which the prefill pools would take "
                       f"instead: put a split by router.json's weights before the router, or re-plan with "
                       f"serving.modes [disaggregated]")
    return out


def uneven_shares(pls: list[PoolLaunch]) -> list[str]:
    """Per role of one service whose instances the plan gives unequal shares of its requests (their
    capacities differ): what an even split sends the least-planned one against its plan."""
    notes = []
    for role, attr in (("prefill", "capacity_prefill_tokens_per_s"), ("decode", "capacity_decode_tokens_per_s")):
        side = [pl for pl in pls if (pl.pool.role == role or (role, pl.pool.role) == ("decode", "colocated"))
                and getattr(pl.pool, attr) > 0]   # a colocated pool beside P/D ones: a decode server to the router
        total = sum(getattr(pl.pool, attr) for pl in side)
        n = sum(pl.pool.instances for pl in side)
        if not side or total <= 0:
            continue
        share = {pl.name: getattr(pl.pool, attr) / pl.pool.instances / total for pl in side}
        low = min(share, key=share.get)
        if max(share.values()) > UNEVEN * share[low]:
            notes.append(f"the router shares {role} requests evenly over its {n} instances (each {1 / n:.1%}), "
                         f"but the plan gives {low}'s instances {share[low]:.1%} each, "
                         f"{max(share.values()):.1%} at most: they would get {1 / n / share[low]:.1f}× their "
                         f"planned load; weight them as router.json does, or run one router per pool")
    return notes


