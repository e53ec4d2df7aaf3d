"""SGLang's and vLLM's prefill/decode routers in an export. Launch scripts list every instance's
address (tests/test_export_placement.py); on Kubernetes the router runs in the cluster and
discovers the serving pods by label (until 2026-12-06 k8s and dynamo exports shipped a pd-router
script over `<pool>-<k>` host names no Deployment has, and no router pod; vLLM had no router at
all). Their arguments are read by sglang-router's and vllm-router's own parsers (pinned in the
test extra)."""

from __future__ import annotations

import shlex

import pytest
import yaml

from planner.report.export import render
from tests.test_export import K8S_VERSION, plan

kubernetes_validate = pytest.importorskip("kubernetes_validate")


def _docs(name: str, engine: str = "sglang", **kw) -> list[dict]:
    return list(yaml.safe_load_all(render(plan(name), "k8s", engine=engine, **kw)["k8s.yaml"]))


def _selectors(args: list[str]) -> dict[str, dict[str, str]]:
    """--prefill-selector k=v ... and --decode-selector k=v ... of the router's arguments."""
    out, key = {}, None
    for a in args:
        if a.startswith("--"):
            key = a.removeprefix("--").removesuffix("-selector") if a.endswith("-selector") else None
            if key:
                out[key] = {}
        elif key:
            k, v = a.split("=", 1)
            out[key][k] = v
    return out


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


VLLM_COMMAND = ["sh", "-c", 'python3 -m pip install --no-cache-dir vllm-router==0.1.17 && exec python3 -m '
                'vllm_router.launch_router "$@"', "sh"]


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
@pytest.mark.parametrize("name", ["deepseek_qps", "fleet_mix"])
def test_each_pd_service_gets_a_router_that_selects_exactly_its_serving_pods(name, engine):
    d = plan(name)
    docs = _docs(name, engine)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    routers = [o for o in docs if o["kind"] == "Deployment" and o["metadata"]["labels"]["planner/role"] == "router"]
    pods = [o for o in docs if o["kind"] in ("Deployment", "StatefulSet") and o not in routers]
    pools = d["pools"] if d.get("kind") == "fleet" else [dict(p, service="") for p in d["pools"]]
    pd_services = {p["service"] for p in pools if p["role"] == "prefill"}
    assert len(routers) == len(pd_services) >= 1
    seen = []
    for r in routers:
        name_ = r["metadata"]["name"]
        (c,) = r["spec"]["template"]["spec"]["containers"]
        sglang = ["python3", "-m", "sglang_router.launch_router"]
        assert c["command"] == (sglang if engine == "sglang" else VLLM_COMMAND)
        args = c["args"]
        assert ("--pd-disaggregation" if engine == "sglang" else "--vllm-pd-disaggregation") in args
        assert "--service-discovery" in args
        assert _arg(args, "--service-discovery-namespace") == "$(POD_NAMESPACE)"
        assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in c["env"]
        assert (_arg(args, "--host"), _arg(args, "--port")) == ("0.0.0.0", "8000")
        assert r["spec"]["template"]["spec"]["serviceAccountName"] == name_
        role = next(o for o in docs if o["kind"] == "Role" and o["metadata"]["name"] == name_)
        assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        binding = next(o for o in docs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == name_)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name_}]
        svc = next(o for o in docs if o["kind"] == "Service" and o["metadata"]["name"] == name_)
        assert svc["spec"]["ports"][0]["port"] == 8000
        assert svc["spec"]["selector"] == r["spec"]["selector"]["matchLabels"]
        sel = _selectors(args)
        for side in ("prefill", "decode"):
            chosen = [o for o in pods if sel[side].items() <= o["spec"]["template"]["metadata"]["labels"].items()]
            # the pods that serve HTTP: a Deployment's, a StatefulSet's of rank 0
            assert chosen and all(o["kind"] == "Deployment" or o["metadata"]["name"].endswith("-r0") for o in chosen)
            assert {o["metadata"]["labels"]["planner/role"] for o in chosen} == {side}
            for o in chosen:
                (pc,) = o["spec"]["template"]["spec"]["containers"]
                assert pc["ports"][0]["containerPort"] == int(_arg(args, "--service-discovery-port"))
                notes = o["spec"]["template"]["metadata"].get("annotations", {})
                if side == "prefill" and engine == "sglang":   # where the router tells decode to fetch the KV from
                    assert notes == {"sglang.ai/bootstrap-port": _arg(pc["args"], "--disaggregation-bootstrap-port")}
                else:
                    assert notes == {}
                side_channel = [e for e in pc.get("env", []) if e["name"] == "VLLM_NIXL_SIDE_CHANNEL_HOST"]
                assert side_channel == ([{"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {
                    "fieldRef": {"fieldPath": "status.podIP"}}}] if engine == "vllm" else [])
            seen += [(side, o["metadata"]["labels"]["app.kubernetes.io/name"]) for o in chosen]
    # every prefill and decode pool is routed by exactly one router; colocated pools by none
    want = sorted((p["role"], n) for p, n in zip(pools, _pool_names(docs)) if p["role"] != "colocated")
    assert sorted(seen) == want


def _pool_names(docs: list[dict]) -> list[str]:
    """The export's pool names in plan order (one Service per pool, without the headless ones)."""
    return [o["metadata"]["name"] for o in docs if o["kind"] == "Service" and not o["metadata"]["name"].endswith("-hs")
            and o["metadata"]["labels"].get("planner/role") in ("prefill", "decode", "colocated")]


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_manifests_ship_no_router_script_and_dynamo_no_router(engine):
    """A router script of host names the cluster does not have is gone from k8s and dynamo exports;
    Dynamo's frontend routes, so its graph has no router either."""
    d = plan("deepseek_qps")
    assert not [f for f in render(d, "k8s", engine=engine) if f.startswith("pd-router")]
    dynamo = render(plan("deepseek_qps_disaggregated"), "dynamo", engine=engine)
    assert not [f for f in dynamo if f.startswith("pd-router")] and "router" not in dynamo["dynamo.yaml"]
    readme = render(d, "k8s", engine=engine)["README.txt"]
    assert "kubectl port-forward svc/deepseek-qps-pd-router 8000" in readme
    assert "Note: the router shares decode requests evenly over its 8 instances" in readme
    assert ("vllm-router==0.1.17, installed as its pod starts" in readme) == (engine == "vllm")


def test_a_day_plans_schedule_scales_the_pools_and_leaves_the_router():
    from tests.test_export_schedule import day
    files = render(day("deepseek_trace"), "k8s", engine="sglang", source="day.json")
    docs = list(yaml.safe_load_all(files["k8s.yaml"]))
    (router,) = [o for o in docs if o["kind"] == "Deployment" and o["metadata"]["labels"]["planner/role"] == "router"]
    scaled = {a for job in yaml.safe_load_all(files["schedule.yaml"]) if job["kind"] == "CronJob"
              for c in job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] for a in c["args"]}
    assert f"deployment/{router['metadata']['name']}" not in scaled and router["spec"]["replicas"] == 1
    assert any(a.startswith(("deployment/", "statefulset/")) for a in scaled)


def test_router_arguments_read_by_sglang_routers_own_parser():
    """The Kubernetes router's and the launch scripts' pd-router arguments, as sglang-router 0.3.2
    parses and validates them (its Router is built, not started)."""
    launch = pytest.importorskip("sglang_router.launch_router")
    from sglang_router.router import Router
    d = plan("deepseek_qps")
    r = next(o for o in _docs("deepseek_qps") if o["metadata"]["labels"].get("planner/role") == "router"
             and o["kind"] == "Deployment")
    args = [a.replace("$(POD_NAMESPACE)", "default") for a in r["spec"]["template"]["spec"]["containers"][0]["args"]]
    got = launch.parse_router_args(args)
    got._validate_router_args()
    Router.from_args(got)
    name = r["metadata"]["name"]
    assert got.pd_disaggregation and got.service_discovery and got.service_discovery_namespace == "default"
    assert got.prefill_selector == {"planner/pd-router": name, "planner/serves": "prefill"}
    assert got.decode_selector == {"planner/pd-router": name, "planner/serves": "decode"}
    assert (got.service_discovery_port, got.port, got.bootstrap_port_annotation) == (30000, 8000,
                                                                                   "sglang.ai/bootstrap-port")
    script = next(v for f, v in render(d, "sglang").items() if f.startswith("pd-router-"))
    argv = shlex.split(script.splitlines()[-1].removeprefix("exec "))[3:]
    got = launch.parse_router_args(argv)
    got._validate_router_args()
    Router.from_args(got)
    n_pre = sum(p["instances"] for p in d["pools"] if p["role"] == "prefill")
    n_dec = sum(p["instances"] for p in d["pools"] if p["role"] == "decode")
    assert len(got.prefill_urls) == n_pre and len(got.decode_urls) == n_dec
    assert all(boot == 8998 for _, boot in got.prefill_urls) and not got.service_discovery


def test_vllm_router_arguments_read_by_its_own_parser():
    """vLLM's router (vllm-router 0.1.17, the vllm-project fork of SGLang's) in prefill/decode mode
    over NIXL: the Kubernetes router's service discovery and the launch script's instance list, as
    its own parser reads and validates them (its Router built, not started). Before 2026-12-06 a vLLM
    export had no router: router.json's split was the user's to implement."""
    launch = pytest.importorskip("vllm_router.launch_router")
    from vllm_router.router import Router
    d = plan("deepseek_qps")
    r = next(o for o in _docs("deepseek_qps", "vllm") if o["metadata"]["labels"].get("planner/role") == "router"
             and o["kind"] == "Deployment")
    (c,) = r["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "vllm/vllm-openai:v0.11.0" and c["command"] == VLLM_COMMAND
    got = launch.parse_router_args([a.replace("$(POD_NAMESPACE)", "default") for a in c["args"]])
    got._validate_router_args()
    Router.from_args(got)
    name = r["metadata"]["name"]
    assert got.vllm_pd_disaggregation and got.kv_connector == "nixl" and got.service_discovery
    assert got.prefill_selector == {"planner/pd-router": name, "planner/serves": "prefill"}
    assert got.decode_selector == {"planner/pd-router": name, "planner/serves": "decode"}
    assert (got.service_discovery_port, got.service_discovery_namespace, got.host, got.port) == (
        8000, "default", "0.0.0.0", 8000)
    assert got.worker_startup_timeout_secs == 3600
    files = render(d, "vllm")
    (script,) = [v for f, v in files.items() if f.startswith("pd-router-")]
    assert "# vLLM's router: pip install vllm-router==0.1.17" in script
    argv = shlex.split(script.splitlines()[-1].removeprefix("exec "))
    assert argv[:3] == ["python3", "-m", "vllm_router.launch_router"]
    got = launch.parse_router_args(argv[3:])
    got._validate_router_args()
    Router.from_args(got)
    placed = {f"http://{r[0]}:{r[6]}" for r in (row.split(",") for row in files["placement.csv"].splitlines()[1:])}
    n_pre = sum(p["instances"] for p in d["pools"] if p["role"] == "prefill")
    n_dec = sum(p["instances"] for p in d["pools"] if p["role"] == "decode")
    assert len(got.prefill_urls) == n_pre and len(got.decode_urls) == n_dec and not got.service_discovery
    assert {u for u, _ in got.prefill_urls} | set(got.decode_urls) <= placed
    assert all(boot is None for _, boot in got.prefill_urls)   # NIXL: no bootstrap port


@pytest.mark.parametrize("engine, want", [("sglang", ["--disaggregation-transfer-backend", "nixl"]), ("vllm", [])])
def test_dynamo_sglang_workers_move_kv_over_nixl_as_dynamos_example_does(engine, want):
    """dynamo.sglang workers keep `--disaggregation-transfer-backend nixl` (Dynamo's SGLang
    disagg.yaml passes it; without it SGLang moves KV with Mooncake, its default), dynamo.vllm
    workers no connector flag (Dynamo sets its own)."""
    graph = yaml.safe_load(render(plan("deepseek_qps_disaggregated"), "dynamo", engine=engine)["dynamo.yaml"])
    workers = [s for s in graph["spec"]["services"].values() if s["componentType"] == "worker"]
    assert len(workers) == 3
    for s in workers:
        args = s["extraPodSpec"]["mainContainer"]["args"]
        tail = args[args.index("--disaggregation-transfer-backend"):][:2] if want else []
        assert tail == want and ("--disaggregation-transfer-backend" in args) == bool(want)
        assert "--kv-transfer-config" not in args


def test_services_alike_up_to_the_cut_get_a_router_each():
    """Two services alike in their first 38 characters shared one router, its RBAC and its pod
    label (the router name is cut shorter than the tag a script file is named by): one router
    picked both models' pods, and the second set of objects overwrote the first (a review)."""
    d = plan("fleet_mix")
    keys = {"rag": "customer-support-chat-assistant-europe-alpha",
            "chat+coding": "customer-support-chat-assistant-europe-bravo"}
    for s in d["services"]:
        s["key"] = keys.get(s["key"], s["key"])
    for p in d["pools"]:
        p["service"] = keys.get(p["service"], p["service"])
    docs = list(yaml.safe_load_all(render(d, "k8s", engine="sglang")["k8s.yaml"]))
    names = [(o["kind"], o["metadata"]["name"]) for o in docs]
    assert len(names) == len(set(names))
    routers = [o for o in docs if o["kind"] == "Deployment" and o["metadata"]["labels"]["planner/role"] == "router"]
    assert len(routers) == 2 and len({r["metadata"]["name"] for r in routers}) == 2
    pods = [o for o in docs if o["kind"] in ("Deployment", "StatefulSet") and o not in routers]
    for r in routers:
        sel = _selectors(r["spec"]["template"]["spec"]["containers"][0]["args"])
        chosen = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in pods
                  if sel["decode"].items() <= o["spec"]["template"]["metadata"]["labels"].items()}
        served = {o["spec"]["template"]["spec"]["containers"][0]["args"][o["spec"]["template"]["spec"]["containers"][0]
                  ["args"].index("--served-model-name") + 1] for o in pods
                  if o["metadata"]["labels"]["app.kubernetes.io/name"] in chosen}
        assert len(chosen) >= 1 and len(served) == 1, (r["metadata"]["name"], chosen, served)


def test_a_mixed_vllm_service_routes_its_colocated_pool_as_a_decode_server_and_says_so():
    """vLLM exports a service whose colocated pool runs beside its prefill/decode pools (the other
    engines refuse it); its router takes the colocated instance as a decode server (its engine's
    connector is kv_both), in the script and on Kubernetes alike, and the script and stderr say
    what of the plan's share it then misses (its prefill work: 26.5 % of rag_long_context_mixed's)."""
    d = plan("rag_long_context_mixed")
    with pytest.warns(Warning, match=r"the router takes the colocated pool colocated-mi300x-3 as a decode server "
                                     r"only; the plan also gives it 26.5% of the service's prefill work"):
        files = render(d, "vllm")
    (script,) = [v for f, v in files.items() if f.startswith("pd-router-")]
    assert "# note: the router takes the colocated pool colocated-mi300x-3 as a decode server only" in script
    # and counts it among the decode servers its even split shares out (19.1 % planned beside 80.9 %)
    assert "# note: the router shares decode requests evenly over its 2 instances (each 50.0%), but the plan gives " \
           "colocated-mi300x-3's instances 19.1% each, 80.9% at most: they would get 2.6× their planned load" in script
    argv = shlex.split(script.splitlines()[-1].removeprefix("exec "))
    routed = {b: a for a, b in zip(argv, argv[1:]) if a in ("--prefill", "--decode")}
    rows = [r.split(",") for r in files["placement.csv"].splitlines()[1:]]
    url = {r[2]: f"http://{r[0]}:{r[6]}" for r in rows if r[4] == "0"}   # pool → its instance's URL (one each)
    assert routed == {url["prefill-h100-0"]: "--prefill", url["prefill-mi300x-2"]: "--prefill",
                      url["decode-mi300x-1"]: "--decode", url["colocated-mi300x-3"]: "--decode"}
    one_vendor = plan("rag_long_context_mixed")   # k8s runs one image: the H100 prefill pool on MI300X cards
    one_vendor["pools"][0]["gpu"] = "mi300x"
    with pytest.warns(Warning, match="as a decode server only"):
        files = render(one_vendor, "k8s", image="rocm/vllm:latest", source="p.json")
    docs = list(yaml.safe_load_all(files["k8s.yaml"]))
    assert "Note: the router takes the colocated pool colocated-mi300x-3 as a decode server only" in files["README.txt"]
    serves = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"].get("planner/serves")
              for o in docs if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["labels"]["planner/role"]
              != "router"}
    assert serves == {"prefill-mi300x-0": "prefill", "decode-mi300x-1": "decode", "prefill-mi300x-2": "prefill",
                      "colocated-mi300x-3": "decode"}


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_serving_pods_are_ready_only_when_their_engine_answers(engine):
    """The routers' discovery takes a pod once it is Ready and waits for its /health a bounded time
    (vLLM's router 600 s, then never again: a pod without a probe was Ready while its engine still
    loaded its weights, and was dropped for good; a review). Every container that serves HTTP (a
    single-node pod, rank 0 of a multi-node instance) is Ready when GET /health answers; the other
    ranks serve nothing; the headless Service of a multi-node instance publishes its pods before
    they are Ready, so rank 1 finds rank 0 while both start. Routers wait an hour for instances."""
    docs = _docs("deepseek_qps", engine)
    pods = [o for o in docs if o["kind"] in ("Deployment", "StatefulSet")
            and o["metadata"]["labels"]["planner/role"] != "router"]
    assert any(o["kind"] == "StatefulSet" for o in pods)
    for o in pods:
        (c,) = o["spec"]["template"]["spec"]["containers"]
        serves = o["kind"] == "Deployment" or o["metadata"]["name"].endswith("-r0")
        assert c.get("readinessProbe") == ({"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10,
                                            "failureThreshold": 3} if serves else None), o["metadata"]["name"]
    headless = [o for o in docs if o["kind"] == "Service" and o["metadata"]["name"].endswith("-hs")]
    assert headless and all(o["spec"]["publishNotReadyAddresses"] is True for o in headless)
    (router,) = [o for o in docs if o["kind"] == "Deployment" and o["metadata"]["labels"]["planner/role"] == "router"]
    args = router["spec"]["template"]["spec"]["containers"][0]["args"]
    assert _arg(args, "--worker-startup-timeout-secs") == "3600"
    (script,) = [v for f, v in render(plan("deepseek_qps"), engine).items() if f.startswith("pd-router-")]
    argv = shlex.split(script.splitlines()[-1].removeprefix("exec "))
    assert _arg(argv, "--worker-startup-timeout-secs") == "3600"
