"""`export`: a plan file's JSON → deployable engine commands, manifests, router weights, a load test.

Targets: `vllm`, `sglang`, `trtllm` (launch scripts per pool + router configuration), `k8s`
(Deployments/StatefulSets and Services, engine `vllm` unless told), `dynamo` (a
DynamoGraphDeployment). Every target also writes `loadtest.sh` (the plan's own operating point),
`router.json` and `README.txt` (what each file is, what the planner assumed). Files are written
into a temporary directory next to `out_dir` and moved in place at the end: nothing is left
half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml

from planner.catalog.schemas import GPU, load_models
from planner.errors import BadInput, PlannerNotice, cleaned_on_termination, held_interrupt
from planner.input.files import give_usual_mode, temporary_prefix
from planner.report.export.engines import (
    ENGINES,
    KV_BOTH_VLLM,
    KV_TRANSFER,
    PoolLaunch,
    dns_name,
    is_moe,
    launch,
    launch_script,
    prefill_tokens,
)
from planner.report.export.lengths import LENGTH_FLAG, day_longest, lengths_vary, longest_request
from planner.report.export.loadtest import loadtest_files
from planner.report.export.manifests import dynamo_graph, dynamo_service, k8s_objects, router_config
from planner.report.export.outdir import EXPORT_MANIFEST, check_out_dir, manifest_text
from planner.report.export.placement import check_placeable, instance_addresses, place, placement_files, shortfall
from planner.report.export.planread import ExportPlan, read_plan
from planner.report.export.readme import readme
from planner.report.export.routers import engine_router, router_k8s
from planner.report.export.schedule import (
    Horizon,
    check_modes,
    dynamo_schedule,
    k8s_schedule,
    read_horizon,
    readme_section,
    schedule_csv,
    schedule_json,
)
from planner.studies.simulate.fleet import in_file_order, stale_capacities

TARGETS = ("vllm", "sglang", "trtllm", "dynamo", "k8s")
DEFAULT_IMAGE = {"vllm": "vllm/vllm-openai:v0.11.0", "sglang": "lmsysorg/sglang:v0.5.3-cu129",
                 "trtllm": "nvcr.io/nvidia/tensorrt-llm/release:1.1.0"}
DYNAMO_IMAGE = {"vllm": "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.0",      # Dynamo's runtime image of each
                "sglang": "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.6.0"}  # engine its workers run
# the engine version inside each of Dynamo's runtime images (Dynamo's release-artifacts table,
# ai-dynamo/dynamo docs of v0.9.0, 2026-02-11): the flag lists the commands are checked against
# must be that version's (tests/test_export.py ties them)
DYNAMO_IMAGE_ENGINE = {"nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.0": "0.11.0",
                       "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.6.0": "0.5.3.post2"}


def default_model_path(name: str) -> str:
    """What an engine loads when --model-path is not given: a catalog model's Hugging Face
    repository (engines look a bare catalog id such as `deepseek-r1` up on the Hub and fail), else
    the name the problem wrote (a Hugging Face id or a config.json's folder)."""
    try:
        model = load_models().get(name.strip().lower())
    except BadInput:
        model = None
    if model is not None and model.hf_repo:
        return model.hf_repo
    p = Path(name)
    return str(p.parent) if p.name == "config.json" else name   # engines load a folder, not its config


def launches(plan: ExportPlan, engine: str, model_path: str | None, sized: bool = True,
             day: dict[str, int] | None = None) -> list[PoolLaunch]:
    """Every pool's launch on `engine` (model path: the plan's model source unless given), each
    engine admitting the longest request its service was sized for (`lengths`; `day`: a day's
    longest by class, '' for one workload; `sized` False: a day of per-period lengths without them,
    whose union states the peak's alone: the model's context, said)."""
    out = []
    day = day or {}
    longest = {si: longest_request(svc.plan, svc.source, day.get(svc.key if plan.kind == "fleet" else "", 0))
               for si, svc in enumerate(plan.services)}
    moe = {si: is_moe(svc.plan, svc.source) for si, svc in enumerate(plan.services)}
    mixed = {si for si, svc in enumerate(plan.services) if mixes_roles(svc.plan.pools)}
    alone = {si for si, svc in enumerate(plan.services) if prefill_alone(svc.plan.pools)}
    decoding = {si for si, svc in enumerate(plan.services) if decode_alone(svc.plan.pools)}
    names = served_names(plan)   # vLLM's and SGLang's --served-model-name (TensorRT-LLM serves the model's path)
    for n, (si, i) in enumerate(plan.order):
        svc = plan.services[si]
        pool = svc.plan.pools[i]
        name = dns_name(svc.key if plan.kind == "fleet" else "", pool.role, pool.gpu, str(n))
        mp = model_path or default_model_path(svc.plan.model_source or svc.plan.model)
        pl = launch(engine, pool, svc.plan, plan.gpus[pool.gpu], mp, name, svc.key, svc.source, i,
                    moe[si], model_path is not None, names[svc.key], longest[si] if sized else 0)
        if si in mixed and pool.role == "colocated":   # it also sends and receives KV (router.json's weights)
            pl.node_commands = [cmd + KV_BOTH_VLLM if cmd[:1] != ["ray"] else cmd for cmd in pl.node_commands]
        if si in alone or si in decoding:   # no other side to move KV to or from: a plain vLLM server
            pl.node_commands = [[a for a in cmd if a not in KV_BOTH_VLLM] for cmd in pl.node_commands]
        if not sized and not any(o.service == pl.service for o in out):   # once a service, on its first pool
            pl.caveats.append(f"the day's hours have lengths of their own, and the plan file states the peak's "
                              f"alone: the engine admits the model's whole context ({LENGTH_FLAG[engine]} not "
                              f"set), which it must hold one sequence of to start; set it to the day's longest "
                              f"request (the peak's is {longest[si]:,} tokens)")
        out.append(pl)
    if engine != "vllm":   # after each pool's own checks (its GPU, layout, weights)
        for group, why in ((alone, _prefill_alone_why), (decoding, _decode_alone_why), (mixed, _mixed_why)):
            for si in sorted(group):   # a fleet's source names its service already ('p.json: service x')
                raise BadInput(f"{plan.services[si].source}: " + why(plan.services[si].plan.pools, engine))
    return out


def served_names(plan: ExportPlan) -> dict[str, str]:
    """The model name each service's requests ask for: its model, or, where a fleet's services share
    one model, the model and the service ('deepseek-r1-reasoning'): Dynamo's frontend and any router
    route by it, and fleet_mix's reasoning requests, sized for TPOT 30 ms on pools of their own,
    would otherwise land on the chat pools of the same model (a 2026-12-05 hunt)."""
    count: dict[str, int] = {}
    for svc in plan.services:
        count[svc.plan.model] = count.get(svc.plan.model, 0) + 1
    out: dict[str, str] = {}
    for k, svc in enumerate(plan.services):   # names alike once cut ('chat', 'chat.') get the index
        name = svc.plan.model if count[svc.plan.model] == 1 or not svc.key else f"{svc.plan.model}-{dns_name(svc.key)}"
        out[svc.key] = f"{name}-{k}" if name in out.values() else name
    return out


def _one_image_fits(pls: list[PoolLaunch], target: str, image: str | None, source: str) -> None:
    """Manifests run every pod from one image, built for one GPU vendor: BadInput for a plan whose
    pools span vendors, for AMD pools without --image (the default images are CUDA builds), and
    for AMD pools under Dynamo (its runtime images are CUDA builds)."""
    if target not in ("k8s", "dynamo"):
        return
    by = {}
    for pl in pls:
        by.setdefault(pl.gpu.vendor, []).append(pl.gpu.id)
    if len(by) > 1:
        where = " and ".join(f"{v} GPUs ({', '.join(sorted(set(g)))})" for v, g in sorted(by.items()))
        raise BadInput(f"{source}: pools on {where}: one container image cannot run both vendors' engine "
                       f"builds; export the scripts (--target vllm or sglang) or re-plan on one vendor's GPUs")
    if "nvidia" not in by and (target == "dynamo" or image is None):
        cards = ", ".join(sorted({g for ids in by.values() for g in ids}))
        raise BadInput(f"{source}: pools on {cards}: "
                       + ("Dynamo's runtime images are CUDA builds; export the scripts (--target vllm or sglang) "
                          "or k8s manifests with --image" if target == "dynamo" else
                          "the default images are CUDA builds; give the engine's ROCm image with --image"))


def _prefill_alone_why(pools, engine: str) -> str:
    return (f"every answer is one token, so the plan has prefill pools and no decode pool; {engine} runs a "
            f"prefill server only as one side of a prefill/decode pair: export it with --target vllm (or "
            f"--engine vllm), whose server of a prefill pool answers the one token itself")


def _decode_alone_why(pools, engine: str) -> str:
    return (f"every prompt token is cached, so the plan has decode pools and no prefill pool; {engine} runs a "
            f"decode server only as one side of a prefill/decode pair, whose prefill server this plan has none "
            f"of: export it with --target vllm (or --engine vllm), whose server of a decode pool serves the "
            f"cached prompts itself")


def _mixed_why(pools, engine: str) -> str:
    roles = ", ".join(f"{p.role} {p.gpu}" for p in pools)
    return (f"its colocated pools also take over prefill or decode work of its prefill/decode pools ({roles}); "
            f"{engine} runs a server either colocated or as one side of a prefill/decode pair, never both: "
            f"export it with --target vllm (or --engine vllm), or re-plan with serving.modes [disaggregated] "
            f"or [colocated]")


def prefill_alone(pools) -> bool:
    """A service planned as prefill pools alone (every answer one token: no decode work)."""
    return bool(pools) and all(p.role == "prefill" for p in pools)


def decode_alone(pools) -> bool:
    """A service planned as decode pools alone (every prompt token cached: no prompt pass runs and
    no KV cache moves; the instance that decodes a request makes its first token too)."""
    return bool(pools) and all(p.role == "decode" for p in pools)


def mixes_roles(pools) -> bool:
    """Whether a service's plan runs colocated pools beside prefill or decode pools: the router
    (router.json) then splits prompts and generation over all of them by capacity, so a colocated
    instance also decodes prompts a prefill pool computed, or prefills for a decode pool."""
    roles = {p.role for p in pools}
    return "colocated" in roles and bool(roles & {"prefill", "decode"})


def _add(files: dict[str, str], more: dict[str, str], source: str) -> None:
    """`more` into `files`, refusing a name given twice: the pool and router names come from the
    service names, and a router 'pd-router-a-prefill-h100-1.sh' (service 'a-prefill-h100-1') replaced
    the launch script of pool 1 (service 'pd-router-a'), exit 0 (hostile-input hunt, 2026-12-06)."""
    if twice := sorted(set(files) & set(more)):
        raise BadInput(f"{source}: two files of the export would be named {twice[0]} (their services' names "
                       f"make one name); rename a class or service, or re-solve with other class names")
    files.update(more)


def render(plan_data: Any, target: str, image: str | None = None, model_path: str | None = None,
           source: str = "plan", engine: str | None = None, gpus: dict[str, GPU] | None = None,
           time_zone: str | None = None) -> dict[str, str]:
    """The files of an export, by relative name (nothing written). A plan over a load profile is
    exported as the union of its periods' pools with their schedule (`schedule`); `time_zone` (an
    IANA name) is its CronJobs'."""
    if target not in TARGETS:
        raise BadInput(f"--target: {target!r} is not one of {', '.join(TARGETS)}")
    if target in ENGINES and image is not None:
        raise BadInput(f"--image: the {target} scripts run on your hosts, in no container this export names; "
                       f"--image is for --target k8s and dynamo")
    if target in ENGINES and engine is not None and engine != target:
        raise BadInput(f"--engine: {engine} beside --target {target}, whose scripts launch {target}; --engine "
                       f"chooses the engine inside dynamo or k8s manifests (or use --target {engine})")
    horizon, sized, day = None, True, None
    if isinstance(plan_data, dict) and plan_data.get("kind") == "horizon":
        horizon = read_horizon(plan_data, source)
        day = day_longest(plan_data)   # each period's longest request (files before 2026-12-07: none)
        sized = day is not None or not lengths_vary(plan_data)
        plan_data = horizon.union
    check_time_zone(time_zone, target, horizon is not None)
    plan = _located(horizon, plan_data, source, lambda: read_plan(plan_data, source, gpus))
    models = sorted({svc.plan.model for svc in plan.services})
    if model_path is not None and len(models) > 1:
        raise BadInput(f"--model-path: one path for a plan of {len(models)} models ({', '.join(models)}); "
                       f"leave it out (each pool loads its own model) and edit the scripts' paths")
    eng = engine or (target if target in ENGINES else "vllm")
    if eng not in ENGINES or (target in ("dynamo", "k8s") and eng == "trtllm"):
        # TensorRT-LLM pods would need their per-pool YAML mounted (a ConfigMap) and an MPI launcher
        raise BadInput(f"--engine: {eng!r} cannot be exported for target {target}; use vllm or sglang")
    if horizon is not None:   # before `launches`, whose refusal of a mix reads as one period's
        check_modes(horizon, eng, target, source)
    pls = _located(horizon, plan_data, source, lambda: launches(plan, eng, model_path, sized, day))
    if horizon is None:   # a day's union holds the most any period runs, which no totals state
        for g, note in stale_capacities(plan_data, plan.cards):   # said by the first pool of those cards
            next((pl for pl in pls if pl.gpu.id == g), pls[0]).caveats.append(note)
        for svc in plan.services:   # a day's union of periods' pools serves no one load
            if svc.unsized is not None:
                next((pl for pl in pls if pl.service == svc.key), pls[0]).caveats.append(svc.unsized)
    for pl in pls:   # also in the pool's script and README.txt
        for c in pl.caveats:
            warnings.warn(f"{source}: {pl.name}: {c}", PlannerNotice, stacklevel=2)
    for one_sided, why in ((prefill_alone, "every answer is one token, so the plan has prefill pools and no "
                                           "decode pool; a Dynamo prefill worker needs decode workers"),
                           (decode_alone, "every prompt token is cached, so the plan has decode pools and no "
                                          "prefill pool; Dynamo's decode workers wait for prefill workers")):
        if target == "dynamo" and any(one_sided(svc.plan.pools) for svc in plan.services):
            raise BadInput(f"{source}: {why}: export it with --target vllm or k8s")
    _one_image_fits(pls, target, image, source)
    ray = next((n for n, pl in enumerate(pls) if pl.head_setup), None)
    if target == "dynamo" and ray is not None:   # the operator sets up a multi-node worker its own way
        si, i = plan.order[ray]
        pl = pls[ray]
        why = (f"{plan.services[si].source}: pools[{i}].parallelism: a TP{pl.pool.parallelism.tp}·"
               f"PP{pl.pool.parallelism.pp} group over {pl.nodes} nodes, which vLLM runs on a Ray cluster; the "
               f"Dynamo graph does not set one up: export it with --target vllm or k8s, or --engine sglang")

        def refuse():
            raise BadInput(why)
        _located(horizon, plan_data, source, refuse)
    mixed = next((svc for svc in plan.services if mixes_roles(svc.plan.pools)), None)
    if target == "dynamo" and mixed is not None:
        # its decode workers would prefill their own prompts (exported with exit 0 until 2026-12-05)
        raise BadInput(f"{mixed.source}: its colocated pools also take over prefill or decode work of its "
                       f"prefill/decode pools, and a Dynamo worker is either aggregated or one side of a "
                       f"prefill/decode pair: export it with --target vllm or k8s, or re-plan with serving.modes "
                       f"[disaggregated] or [colocated]")
    if target in ENGINES:   # before any file is made (15 million instances ran out of memory placing them)
        check_placeable(pls, source, target)
    img = image or (DYNAMO_IMAGE if target == "dynamo" else DEFAULT_IMAGE)[eng]
    files: dict[str, str] = {}
    for pl in pls:
        _add(files, pl.files, source)
    addr = None   # where each instance listens: (url, SGLang bootstrap port) by (pool, instance)
    if target in ENGINES:
        _add(files, {f"{pl.name}.sh": launch_script(pl) for pl in pls}, source)
        seats = place(pls)
        _add(files, placement_files(pls, seats), source)
        for note in shortfall(pls, seats, plan.cards):
            warnings.warn(f"{source}: {note}", PlannerNotice, stacklevel=2)
            pls[0].caveats.append(note)
        addr = instance_addresses(pls, seats)
    elif target == "k8s":
        routers, names = router_k8s(pls, eng, img, source)
        docs = [o for n, pl in enumerate(pls)
                for o in k8s_objects(pl, img, horizon.first(n) if horizon else None, names.get(pl.service))]
        files["k8s.yaml"] = yaml.safe_dump_all(docs + routers, sort_keys=False)
    else:
        files["dynamo.yaml"] = yaml.safe_dump(dynamo_graph(dns_name(plan.problem), pls, img, eng,
                                                           [horizon.first(n) for n in range(len(pls))]
                                                           if horizon else None), sort_keys=False)
    if horizon is not None:
        _add(files, schedule_files(horizon, pls, target, dns_name(plan.problem), time_zone), source)
    files["router.json"] = json.dumps(router_config(pls, eng, addr), indent=2, sort_keys=True) + "\n"
    if addr is not None:   # on Kubernetes the router is in k8s.yaml; Dynamo's frontend routes
        _add(files, engine_router(pls, eng, addr, source), source)
    _add(files, loadtest_files(plan, pls, {pl.service: pl.served for pl in pls}), source)
    files["README.txt"] = readme(plan, target, eng, img, pls, sorted(files) + ["README.txt"], KV_TRANSFER[eng],
                                 {pl.name: prefill_tokens(pl.pool, next(s.plan for s in plan.services
                                                                        if s.key == pl.service)) for pl in pls})
    if horizon is not None:
        files["README.txt"] += readme_section(horizon, target, [pl.name for pl in pls], schedule_prefix(plan.problem),
                                              time_zone)
    return files


def _located(horizon: Horizon | None, data: Any, source: str, fn):
    """fn(); a BadInput about a fleet service's pools[j] (its j-th pool) names the file's index of
    that pool (`in_file_order`), and for a plan over a load profile the union's pools[k] names the
    plan file's periods[i].pools[j] instead (`Horizon.locate`)."""
    fleet = isinstance(data, dict) and data.get("kind") == "fleet"
    try:
        with in_file_order(data, source) if fleet else contextlib.nullcontext():
            return fn()
    except BadInput as e:
        if horizon is None:
            raise
        raise BadInput(horizon.locate(str(e))) from None


def schedule_prefix(problem: str) -> str:
    """The name the schedule's CronJobs and scaler account start with: a CronJob's name is at most
    52 characters, and '-p167' (a week's last period) follows it."""
    return dns_name(problem)[:40].strip("-") or "plan"


def check_time_zone(time_zone: str | None, target: str, horizon: bool) -> None:
    """BadInput for --time-zone where no CronJob runs (a plan of one period, launch scripts) or
    naming no IANA time zone Kubernetes knows (it reads the same database)."""
    if time_zone is None:
        return
    if not time_zone.strip():   # a shell variable left unset: 'not an IANA time zone name' of ''
        raise BadInput("--time-zone: empty; leave it out for the cluster's time zone (UTC on most), or name one "
                       "(e.g. Europe/Berlin)")
    if not horizon or target not in ("k8s", "dynamo"):
        raise BadInput("--time-zone: the time zone of the scaling CronJobs that --target k8s and dynamo write for a "
                       "plan over a load profile; " + ("this plan is of one period" if not horizon else
                                                        f"--target {target} writes launch scripts, run by you"))
    import zoneinfo
    known = zoneinfo.available_timezones() - {"localtime", "Factory"}   # a host's files, not zones a cluster has
    try:   # without a time zone database on this host (none found), what ZoneInfo reads
        ok = time_zone in known if known else (bool(time_zone.strip()) and not time_zone.startswith(("/", "."))
                                                and zoneinfo.ZoneInfo(time_zone) is not None)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        ok = False
    if not ok:   # 'utc', 'asia/shanghai', 'Europe/Berlin ' (a name Kubernetes reads only as written): offered
        same = sorted(k for k in known if k.lower() == time_zone.strip().lower())
        raise BadInput(f"--time-zone {time_zone!r}: not an IANA time zone name (e.g. Europe/Berlin, Asia/Shanghai, "
                       f"UTC)" + (f". Did you mean {same[0]!r}? (a name is read as written, as the cluster reads it)"
                                  if same else ""))


def schedule_files(h: Horizon, pls: list[PoolLaunch], target: str, graph: str, time_zone: str | None) -> dict[str, str]:
    """schedule.csv, schedule.json and, for k8s and dynamo when a CronJob runs, schedule.yaml."""
    names = [pl.name for pl in pls]
    out = {"schedule.csv": schedule_csv(h, names), "schedule.json": schedule_json(h, names, time_zone)}
    prefix = schedule_prefix(graph)
    if target == "k8s":
        objs = [[("deployment", pl.name)] if pl.nodes == 1 else
                [("statefulset", f"{pl.name}-r{r}") for r in range(pl.nodes)] for pl in pls]
        docs = k8s_schedule(h, prefix, objs, time_zone)
    elif target == "dynamo":
        docs = dynamo_schedule(h, prefix, graph, [dynamo_service(pl.name) for pl in pls], time_zone)
    else:
        docs = []
    if any(d["kind"] == "CronJob" for d in docs):
        out["schedule.yaml"] = yaml.safe_dump_all(docs, sort_keys=False)
    return out


@cleaned_on_termination()
def export(plan_data: Any, target: str, image: str | None, model_path: str | None, out_dir: str | Path,
           source: str = "plan", engine: str | None = None, force: bool = False,
           protect: tuple[str | Path, ...] = (), time_zone: str | None = None) -> list[Path]:
    """Render and write the export into `out_dir` (created; with `force` a previous export there is
    replaced, see check_out_dir); `source` (the plan or problem file) and `protect` are never inside
    what is replaced."""
    out = check_out_dir(out_dir, force, (source, *protect))
    parent = out.resolve().parent
    made = next((a for a in reversed((parent, *parent.parents)) if not a.exists()), None)
    try:   # where it goes is checked before the plan is read: its notes came before "cannot write there"
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out.name), dir=parent))
    except OSError as e:
        raise BadInput(f"{out}: cannot write there ({e.strerror or e})") from None
    try:
        files = render(plan_data, target, image, model_path, source, engine, time_zone=time_zone)
    except BaseException:
        shutil.rmtree(made or tmp, ignore_errors=True)   # a refused plan leaves no directory behind
        raise
    try:
        for name, text in files.items():
            f = tmp / name
            f.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                f.chmod(0o755)
        (tmp / EXPORT_MANIFEST).write_text(manifest_text(files), encoding="utf-8")
        give_usual_mode(tmp, 0o777)   # mkdtemp makes it private (0700); a directory made so reads as the umask allows
        with held_interrupt():   # a Ctrl-C between the two renames left the previous export hidden, and none in out
            if out.exists():
                # a fresh name for the previous export while it is swapped out: a fixed one
                # ('.deploy.old') would delete a directory of the user's that has that name
                old = Path(tempfile.mkdtemp(prefix=f"{temporary_prefix(out.name)}old.", dir=parent))
                os.replace(out, old / "previous")
                os.replace(tmp, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, out)
    except BaseException as e:   # a Ctrl-C while the files were written left the hidden .OUT.XXXX behind
        if tmp.exists():
            shutil.rmtree(made or tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise BadInput(f"{out}: cannot write the export ({e.strerror or e})") from None
        raise
    return [out / n for n in sorted(files)]
