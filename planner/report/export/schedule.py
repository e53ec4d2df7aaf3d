"""A plan over a load profile (kind: horizon) as one deployment whose size follows the periods.

Every pool any period runs is deployed once, with the engine command of its shape (a shape's
command does not depend on the hour): the union of the periods' pools, each at the most instances
any period gives it, which the launch scripts, routers and router.json are written for. What
changes with the hour is how many instances of each pool run, and on which nodes:

* `schedule.csv` / `schedule.json`: a row per period, its start (hours from the start of the
  horizon), length, QPS, instances per pool (the export's pool names), and nodes per GPU type and
  capacity kind (owned, reserved, on demand, spot);
* `k8s`: the manifests start at period 0's counts; `schedule.yaml` holds a ServiceAccount, a Role
  and RoleBinding allowed to scale them, and one CronJob per period whose counts differ from the
  period before it (cyclically), which scales every pool to that period's count (`kubectl scale`);
* `dynamo`: the same, each CronJob patching the DynamoGraphDeployment's replicas.

Period 0 starts at midnight (a horizon of a day), or Monday midnight (a week), in the CronJobs'
time zone (`--time-zone`, else the cluster's, UTC on most). A horizon that is neither a day nor a
week, or periods that do not start on whole minutes, get no CronJobs: the schedule files say
what to run when.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from planner.errors import BadInput
from planner.report.export.dst import catch_ups
from planner.report.export.manifests import rbac_objects
from planner.report.export.period_edits import check_period_edits
from planner.studies.simulate.fleet import check_periods
from planner.studies.simulate.planfile import check_numbers

KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.33.0"   # the Kubernetes project's kubectl image (no shell in it)
KINDS = ("owned", "reserved", "on_demand", "spot")  # a period's nodes by capacity kind (`idle` owned nodes run nothing)
DAY_H, WEEK_H = 24.0, 168.0
CAPACITY = ("capacity_prefill_tokens_per_s", "capacity_decode_tokens_per_s")   # a pool's, as router.json reads them
# a pool entry's totals over its instances, scaled with them where entries of one shape are added
SCALED = ("capacity_prefill_tokens_per_s", "capacity_decode_tokens_per_s", "prefill_tokens_per_s",
          "decode_tokens_per_s")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Period:
    """One period of the schedule: start (hours from the horizon's start), hours, QPS, instances of
    each pool of the union (by its index there), nodes {gpu: {kind: count}}, and each union pool's
    (prefill, decode) capacity in the period (tokens/s; its entries of the plan file added)."""

    index: int
    start_h: float
    hours: float
    qps: float
    instances: tuple[int, ...]
    nodes: dict[str, dict[str, int]]
    capacity: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Horizon:
    """The union plan's data (a plan or fleet plan file that `read_plan` reads) and the schedule."""

    union: dict[str, Any]
    periods: tuple[Period, ...]
    horizon_h: float
    origin: tuple[tuple[int, int], ...] = ()     # per union pool, (period, index there) of its entry

    def running(self, n: int) -> list[int]:
        """The periods that run union pool n."""
        return [p.index for p in self.periods if p.instances[n] > 0]

    def first(self, n: int) -> int:
        """Instances of union pool n in period 0 (what the manifests start with)."""
        return self.periods[0].instances[n] if self.periods else 0

    def locate(self, message: str) -> str:
        """A message about the union's `pools[k]` (a fleet's too: `in_file_order` names the union's
        index) naming the plan file's `periods[i].pools[j]` the pool was taken from instead."""
        def where(m: re.Match) -> str:
            k = int(m.group(2))
            if k >= len(self.origin):
                return m.group(0)
            i, j = self.origin[k]
            return (m.group(1) or "") + f"periods[{i}].pools[{j}]"
        return re.sub(r"(service \S+: )?pools\[(\d+)\]", where, message)


def _shape(p: dict[str, Any]) -> tuple:
    """What an engine's command of the pool depends on, but the sequences it admits: pools of one
    shape in several periods (periods of lengths of their own size them to other batches) are one
    deployment, admitting the most any of them does."""
    par = p.get("parallelism") if isinstance(p.get("parallelism"), dict) else {}
    return (p.get("role"), p.get("gpu"), p.get("cards_per_instance"), tuple(sorted(par.items())),
            json.dumps(p.get("speculative"), sort_keys=True), p.get("engine_chunk_tokens") or p.get("chunk_tokens"))


def _widest(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Pool entry `a` admitting as many sequences as the larger of a and b (design batch, slots)."""
    out = dict(a)
    for k in ("design_batch", "slots"):
        if isinstance(a.get(k), int) and isinstance(b.get(k), int):
            out[k] = max(a[k], b[k])
    return out


def read_horizon(d: dict[str, Any], source: str) -> Horizon:
    """The union plan and schedule of a plan over a load profile's JSON; BadInput naming the field
    when the file is not one `plan solve` writes. The union is built on the static peak plan's
    model, SLO, calibration and lengths (the plan file's only whole description of them; the pools'
    commands do not depend on them) with the horizon's own verification."""
    base = (d.get("comparison") or {}).get("static_peak_plan") if isinstance(d.get("comparison"), dict) else None
    if not isinstance(base, dict):
        raise BadInput(f"{source}: comparison.static_peak_plan: "
                       + ("null (this day has no static fleet: " + str(d["comparison"].get("static_peak_none_because")
                                                                         or "no reason given") + ")"
                          if isinstance(d.get("comparison"), dict) and "static_peak_plan" in d["comparison"]
                          else "missing")
                       + "; the export takes the model, SLO, calibration and lengths from it")
    # every period as `plan simulate` reads it (hand edits it refused were exported): the periods a
    # list of at least one, each pool's name, instances (≥ 1) and capacities as a plan's; a NaN
    # anywhere named as simulate names it
    check_numbers(d, source)
    check_periods(d, source)
    periods = d["periods"]
    fleet = base.get("kind") == "fleet"
    check_period_edits(d, source, base, fleet)
    keys: list[tuple[str, tuple]] = []      # (class, shape) of each union pool
    origin: list[tuple[int, int]] = []      # (period, index) each union pool's entry comes from
    pools: list[dict[str, Any]] = []
    counts: list[dict[int, int]] = []       # per period: union index → instances
    capacity: list[dict[int, tuple[float, float]]] = []   # per period: union index → (prefill, decode) tokens/s
    rows: list[tuple[int, float, float, float, dict]] = []
    start = 0.0
    for i, per in enumerate(periods):
        where = f"{source}: periods[{i}]"
        hours, qps = per.get("hours"), per["qps"]
        if hours is None:   # optional to the simulator, which reads no period's length
            raise BadInput(f"{where}.hours: a finite number > 0, got null")
        here: dict[int, int] = {}
        caps: dict[int, tuple[float, float]] = {}
        for j, p in enumerate(per["pools"]):
            n = p["instances"]
            cls = p.get("class", "") if fleet else ""
            if fleet and not isinstance(cls, str):
                raise BadInput(f"{where}.pools[{j}].class: the class the pool serves, got {json.dumps(cls)[:40]}")
            key = (cls, _shape(p))
            k = keys.index(key) if key in keys else None
            entry = {**p, **({"service": cls} if fleet else {})}
            if k is None:
                k = len(keys)
                keys.append(key)
                pools.append(entry)
                origin.append((i, j))
            elif n > pools[k]["instances"]:   # the period that runs the most: its loads and capacities
                pools[k], origin[k] = _widest(entry, pools[k]), (i, j)
            else:
                pools[k] = _widest(pools[k], entry)
            here[k] = here.get(k, 0) + n
            caps[k] = tuple(a + float(p[f]) for a, f in zip(caps.get(k, (0.0, 0.0)), CAPACITY))
        counts.append(here)
        capacity.append(caps)
        nodes = per.get("nodes") if isinstance(per.get("nodes"), dict) else {}
        for g, by in nodes.items():
            for kind, v in (by.items() if isinstance(by, dict) else []):
                if kind in KINDS and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                    raise BadInput(f"{where}.nodes.{g}.{kind}: a whole number ≥ 0, got {json.dumps(v)[:40]}")
        rows.append((i, start, float(hours), float(qps), nodes))
        start += float(hours)
    if not pools:
        raise BadInput(f"{source}: periods[].pools: no period runs a pool; there is nothing to deploy")
    for k, p in enumerate(pools):   # the most instances a period runs (entries of one shape in it added)
        most = max(c.get(k, 0) for c in counts)
        if most != p["instances"] and p["instances"] > 0:
            ratio = most / p["instances"]
            scaled = {f: p[f] * ratio for f in SCALED
                      if isinstance(p.get(f), (int, float)) and not isinstance(p[f], bool)}
            pools[k] = {**p, "instances": most, **scaled}
    sched = tuple(Period(i, s, h, q, tuple(c.get(k, 0) for k in range(len(pools))), _nodes(nodes),
                         tuple(cp.get(k, (0.0, 0.0)) for k in range(len(pools))))
                  for (i, s, h, q, nodes), c, cp in zip(rows, counts, capacity))
    for whole in (DAY_H, WEEK_H):   # 72 periods of 1/3 h add up to 23.99999999999998 h
        start = whole if abs(start - whole) <= 1e-9 * whole else start
    # the static plan's `mode` is its own pools' (checked there), not the union's: left out of it
    union = {**{k: v for k, v in base.items() if k != "mode"}, "problem": d.get("problem", base.get("problem", "plan")),
             "pools": pools,
             "verification": d.get("verification")}
    if fleet:
        used = {p["service"] for p in pools}
        union["services"] = [s for s in base.get("services") or [] if isinstance(s, dict) and s.get("key") in used]
    return Horizon(union, sched, start, tuple(origin))


def _nodes(nodes: dict) -> dict[str, dict[str, int]]:
    out = {}
    for g, by in sorted(nodes.items()):
        if isinstance(by, dict):
            out[str(g)] = {k: int(by[k]) for k in KINDS
                           if isinstance(by.get(k), int) and not isinstance(by.get(k), bool)}
    return out


def check_modes(h: Horizon, engine: str, target: str, source: str) -> None:
    """BadInput where the union runs colocated pools beside prefill/decode pools of one service on an
    engine (or Dynamo) whose servers are either colocated or one side of a pair: the periods that
    run each mode are named (the deployment would need both kinds of server and a router that moves
    between them with the hour)."""
    if engine == "vllm" and target != "dynamo":
        return
    pools = h.union["pools"]
    for svc in dict.fromkeys(p.get("service", "") for p in pools):
        mine = [k for k, p in enumerate(pools) if p.get("service", "") == svc]
        co = sorted({i for k in mine if pools[k].get("role") == "colocated" for i in h.running(k)})
        pd = sorted({i for k in mine if pools[k].get("role") in ("prefill", "decode") for i in h.running(k)})
        if co and pd:
            both = sorted(set(co) & set(pd))
            who = "Dynamo" if target == "dynamo" else engine
            raise BadInput(f"{source}: {'class ' + svc + ': ' if svc else ''}over the horizon it runs colocated pools "
                           f"({_spans(co)}) and prefill/decode pools ({_spans(pd)})"
                           + (f", both in {_spans(both)}" if both else "")
                           + f"; {who} runs a server either colocated or as one side of a prefill/decode pair, and "
                           f"one router cannot move between them with the hour: re-plan with serving.modes "
                           f"[disaggregated] or [colocated], or export it with --target vllm or k8s (engine vllm), "
                           f"whose servers take both")


def _spans(xs: list[int]) -> str:
    """'periods 1, 3–5, 8' for [1, 3, 4, 5, 8], 'period 2' for [2]."""
    out: list[tuple[int, int]] = []
    for x in xs:
        if out and out[-1][1] == x - 1:
            out[-1] = (out[-1][0], x)
        else:
            out.append((x, x))
    return ("period " if len(xs) == 1 else "periods ") + ", ".join(str(a) if a == b else f"{a}–{b}"
                                                                 for a, b in out)


def cron(start_h: float, horizon_h: float) -> str | None:
    """The cron schedule of a period starting `start_h` hours into a horizon of a day (period 0 at
    midnight) or a week (Monday midnight); None for other horizons or a start off the minute.

    >>> cron(7.0, 24.0), cron(30.5, 168.0), cron(0.25, 24.0), cron(3.0, 48.0)
    ('0 7 * * *', '30 6 * * 2', '15 0 * * *', None)
    """
    minutes = start_h * 60.0
    m = round(minutes)
    if abs(minutes - m) > 1e-6 or horizon_h not in (DAY_H, WEEK_H):
        return None
    if horizon_h == DAY_H:
        return f"{m % 60} {m // 60 % 24} * * *"
    day, rest = divmod(m % (7 * 1440), 1440)
    return f"{rest % 60} {rest // 60} * * {(day + 1) % 7}"   # cron: 0 Sunday, 1 Monday


def changes(h: Horizon) -> list[Period]:
    """The periods whose instance counts differ from the period before them (period 0 after the
    last: the schedule repeats); none when every period runs the same."""
    ps = h.periods
    return [p for j, p in enumerate(ps) if len(ps) > 1 and p.instances != ps[j - 1].instances]


def scheduled(h: Horizon, time_zone: str | None) -> list[tuple[Period, str, str]]:
    """(period whose counts a CronJob sets, its cron, its name's suffix): a job per change that
    starts on the minute (`-pN`), then in a zone with daylight saving a catch-up at the end of each
    gap the clock jumps over a change in (`-pN-dst`, N the period in force then; `dst`)."""
    out = [(p, when, f"p{p.index}") for p in changes(h) if (when := cron(p.start_h, h.horizon_h)) is not None]
    for b in catch_ups([p.start_h for p, _, _ in out], h.horizon_h, time_zone):
        p = [q for q in h.periods if q.start_h <= b][-1]
        if (when := cron(b, h.horizon_h)) is not None:
            out.append((p, when, f"p{p.index}-dst"))
    return out


def schedule_csv(h: Horizon, names: list[str]) -> str:
    """A row per period: start, hours, QPS, instances per pool, nodes per GPU type and kind used."""
    kinds = [(g, k) for g in sorted({g for p in h.periods for g in p.nodes}) for k in KINDS
             if any(p.nodes.get(g, {}).get(k, 0) for p in h.periods)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["period", "start_h", "hours", "qps", *names, *(f"{g} {k} nodes" for g, k in kinds)])
    for p in h.periods:
        w.writerow([p.index, f"{p.start_h:g}", f"{p.hours:g}", f"{p.qps:g}", *p.instances,
                    *(p.nodes.get(g, {}).get(k, 0) for g, k in kinds)])
    return buf.getvalue()


def router_split(h: Horizon, names: list[str], period: Period) -> dict[str, dict[str, float]]:
    """The period's traffic split, as router.json's but over what the period runs: per pool, its
    share of its service's prompts (prefill weight) and generation (decode weight), in proportion
    to its capacity in the period (router.json holds the union's at its most instances, which no
    period runs)."""
    pools = h.union["pools"]
    out = {}
    for k, p in enumerate(pools):
        if not period.instances[k]:
            continue
        mine = [j for j, q in enumerate(pools) if q.get("service", "") == p.get("service", "")]
        out[names[k]] = {f"{role}_weight": period.capacity[k][r] / (sum(period.capacity[j][r] for j in mine) or 1.0)
                         for r, role in enumerate(("prefill", "decode"))}
    return out


def schedule_json(h: Horizon, names: list[str], time_zone: str | None) -> str:
    start = "Monday 00:00" if h.horizon_h == WEEK_H else "00:00"
    data = {"horizon_hours": h.horizon_h, "period_0_starts": start if h.horizon_h in (DAY_H, WEEK_H) else None,
            "time_zone": time_zone, "pools": names,
            "periods": [{"index": p.index, "start_h": p.start_h, "hours": p.hours, "qps": p.qps,
                         "cron": cron(p.start_h, h.horizon_h), "instances": dict(zip(names, p.instances)),
                         "nodes": p.nodes, "router": router_split(h, names, p)} for p in h.periods]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _cron_job(name: str, period: Period, when: str, account: str, time_zone: str | None,
              containers: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": when}
    if time_zone:
        spec["timeZone"] = time_zone
    spec |= {"concurrencyPolicy": "Replace", "startingDeadlineSeconds": 600,
             "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 3,
             "jobTemplate": {"spec": {"backoffLimit": 3, "template": {
                 "metadata": {"labels": {"app.kubernetes.io/part-of": "planner-export"}},
                 "spec": {"serviceAccountName": account, "restartPolicy": "OnFailure",
                          "containers": containers}}}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "planner-export",
                                                   "planner/period": str(period.index)}},
            "spec": spec}


def k8s_schedule(h: Horizon, prefix: str, targets: list[list[tuple[str, str]]], time_zone: str | None) -> list[dict]:
    """RBAC and a CronJob per change: each scales every workload object of every pool (`targets[n]`:
    pool n's (kind, name) objects, a Deployment or one StatefulSet per node rank) to its period's
    count, one container per object (the kubectl image has no shell to chain commands)."""
    account = f"{prefix}-scaler"
    docs = rbac_objects(account, [{"apiGroups": ["apps"],
                                   "resources": ["deployments", "statefulsets",
                                                 "deployments/scale", "statefulsets/scale"],
                                   "verbs": ["get", "patch", "update"]}])
    for p, when, suffix in scheduled(h, time_zone):
        scale = [(n, kind, name) for n, objs in zip(p.instances, targets) for kind, name in objs]
        containers = [{"name": f"scale-{j}", "image": KUBECTL_IMAGE, "command": ["kubectl"],
                       "args": ["scale", f"{kind}/{name}", f"--replicas={n}"]}
                      for j, (n, kind, name) in enumerate(scale)]
        docs.append(_cron_job(f"{prefix}-{suffix}", p, when, account, time_zone, containers))
    return docs


def dynamo_schedule(h: Horizon, prefix: str, graph: str, services: list[str], time_zone: str | None) -> list[dict]:
    """RBAC and a CronJob per change patching the DynamoGraphDeployment `graph`: each pool's service
    (`services[n]`) to its period's replicas, in one merge patch."""
    account = f"{prefix}-scaler"
    docs = rbac_objects(account, [{"apiGroups": ["nvidia.com"], "resources": ["dynamographdeployments"],
                            "verbs": ["get", "patch"]}])
    for p, when, suffix in scheduled(h, time_zone):
        patch = json.dumps({"spec": {"services": {s: {"replicas": n} for s, n in zip(services, p.instances)}}},
                           sort_keys=True)
        containers = [{"name": "scale", "image": KUBECTL_IMAGE, "command": ["kubectl"],
                       "args": ["patch", "dynamographdeployment", graph, "--type", "merge", "-p", patch]}]
        docs.append(_cron_job(f"{prefix}-{suffix}", p, when, account, time_zone, containers))
    return docs


def readme_section(h: Horizon, target: str, names: list[str], prefix: str, time_zone: str | None) -> str:
    """What README.txt adds for a plan over a load profile."""
    sched = scheduled(h, time_zone)
    jobs = [job for job in sched if not job[2].endswith("-dst")]   # a change's own, then the catch-ups
    zone = time_zone or "the cluster's time zone (UTC on most)"
    lines = ["", "A plan over a load profile:",
             f"  {len(h.periods)} periods over {h.horizon_h:g} h. Every pool any period runs is exported once (its "
             f"command is its shape's, whatever the hour); launch scripts, routers and router.json list the most "
             f"instances any period runs (the instance counts above; each period's split is in schedule.json), "
             f"the load test runs the peak's QPS.",
             "  schedule.csv / schedule.json: per period its start (hours from the start of the horizon), QPS, "
             "instances of each pool and nodes per GPU type and capacity kind; run (and rent) only those."]
    if target in ("k8s", "dynamo"):
        lines.append("  The manifests start at period 0's counts.")
        if h.horizon_h not in (DAY_H, WEEK_H):
            lines.append(f"  No CronJobs: a horizon of {h.horizon_h:g} h repeats on no cron calendar; scale by "
                         f"schedule.csv.")
        elif not changes(h):
            lines.append("  Every period runs the same instances: nothing to scale.")
        else:
            first = "Monday 00:00" if h.horizon_h == WEEK_H else "00:00"
            lines += [f"  schedule.yaml: a ServiceAccount, Role and RoleBinding `{prefix}-scaler` allowed to scale "
                      f"them, and {len(jobs)} CronJobs `{prefix}-pN`, one per period whose counts differ from the "
                      f"period before, scaling every pool to period N's count; period 0 starts at {first}, "
                      f"in {zone}.",
                      f"  kubectl apply -f {target}.yaml -f schedule.yaml, then bring the running counts to the "
                      f"current period's: kubectl create job --from=cronjob/{prefix}-pN {prefix}-now (N the latest "
                      f"period with a CronJob that has started)."]
            for p, when, suffix in sched[len(jobs):]:
                lines.append(f"  {prefix}-{suffix} ({when}): in {time_zone} the clock jumps over a change's time once "
                             f"a year and Kubernetes runs no job then; this one re-applies period {p.index}'s counts "
                             f"after the jump (on other days they are already running). In the hour the clock "
                             f"repeats in autumn the jobs run again as it passes their times; until the first of "
                             f"them the pools keep the counts of that hour's last period.")
            skipped = len(changes(h)) - len(jobs)
            if skipped:
                lines.append(f"  {skipped} change(s) start off the minute and have no CronJob: scale them by "
                             f"schedule.csv.")
    return "\n".join(lines) + "\n"
