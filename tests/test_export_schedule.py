"""`plan export` of a plan over a load profile (`planner.report.export.schedule`): the union of the
periods' pools, each deployed once, and the schedule of how many instances each period runs.

Oracle: the plan file itself. Each period's instances of a pool are those of the plan's period
(pools of one engine shape added, whatever their batch); the manifests start at period 0's; a
CronJob fires at the start of each period whose counts differ from the period before (cyclic),
scaling every pool's objects to that period's counts.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.errors import BadInput
from planner.report.export import render
from planner.report.export.schedule import _shape, cron, read_horizon

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "solve"
K8S_VERSION = "1.30.0"


def day(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def trace():
    """deepseek_trace: 24 hourly periods of lengths of their own, prefill/decode pools only."""
    return day("deepseek_trace")


def expected_counts(d: dict, names: list[str], shapes: list[tuple]) -> list[list[int]]:
    """Per period, the instances of each export pool: the plan's pools of its shape, added."""
    out = []
    for per in d["periods"]:
        got = Counter()
        for p in per["pools"]:
            got[_shape(p)] += p["instances"]
        out.append([got[s] for s in shapes])
    return out


def test_the_schedule_is_each_periods_instances(trace):
    """schedule.csv: one row per period with the plan's QPS and, per export pool, the instances the
    plan's period runs of its shape; every pool runs in some period, and the union holds the most
    any period runs (the README's pool lines)."""
    files = render(trace, "vllm", source="day.json")
    h = read_horizon(trace, "day.json")
    rows = list(csv.DictReader(io.StringIO(files["schedule.csv"])))
    names = [n for n in rows[0] if "-" in n and not n.endswith(" nodes")]
    assert len(rows) == len(trace["periods"]) == 24
    shapes = [_shape(p) for p in h.union["pools"]]
    assert len(set(shapes)) == len(shapes) == len(names) < sum(len(p["pools"]) for p in trace["periods"])
    want = expected_counts(trace, names, shapes)
    for row, per, counts in zip(rows, trace["periods"], want):
        assert float(row["qps"]) == pytest.approx(per["qps"], rel=1e-5)
        assert [int(row[n]) for n in names] == counts
        for g, kinds in per["nodes"].items():
            for k, n in kinds.items():
                if f"{g} {k} nodes" in row:
                    assert int(row[f"{g} {k} nodes"]) == n
    most = [max(c[k] for c in want) for k in range(len(names))]
    assert all(m > 0 for m in most)
    assert [p["instances"] for p in h.union["pools"]] == most
    for name, m in zip(names, most):
        assert f"  {name}: " in files["README.txt"] and f"{name}.sh" in files
        assert f"{name}: {h.union['pools'][names.index(name)]['role']}, {m} × " in files["README.txt"]
    sched = json.loads(files["schedule.json"])
    assert sched["pools"] == names and sched["period_0_starts"] == "00:00"
    assert [list(p["instances"].values()) for p in sched["periods"]] == want
    assert [p["cron"] for p in sched["periods"]] == [f"0 {i} * * *" for i in range(24)]
    assert "schedule.yaml" not in files   # launch scripts: nothing in the cluster scales them


def test_k8s_manifests_start_at_period_0_and_cronjobs_scale_at_each_change(trace):
    """k8s: every object passes the 1.30 schemas (strict); each pool's Deployment or StatefulSets
    start at period 0's count; a CronJob per period whose counts differ from the period before,
    at its hour, scales every pool's objects to that period's counts, under a Role that may."""
    files = render(trace, "k8s", source="day.json", time_zone="Asia/Shanghai")
    docs = list(yaml.safe_load_all(files["k8s.yaml"])) + list(yaml.safe_load_all(files["schedule.yaml"]))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    h = read_horizon(trace, "day.json")
    names = json.loads(files["schedule.json"])["pools"]
    counts = [list(p.instances) for p in h.periods]
    objects = {n: [] for n in names}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["labels"]["planner/role"] != "router":
            pool = doc["metadata"]["labels"]["app.kubernetes.io/name"]
            objects[pool].append(f"{doc['kind'].lower()}/{doc['metadata']['name']}")
            assert doc["spec"]["replicas"] == counts[0][names.index(pool)]
    changes = [i for i in range(24) if counts[i] != counts[i - 1]]
    jobs = [d for d in docs if d["kind"] == "CronJob"]
    assert [int(j["metadata"]["labels"]["planner/period"]) for j in jobs] == changes and changes
    for j in jobs:
        i = int(j["metadata"]["labels"]["planner/period"])
        assert j["spec"]["schedule"] == f"0 {i} * * *" and j["spec"]["timeZone"] == "Asia/Shanghai"
        pod = j["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        scaled = {c["args"][1]: int(c["args"][2].removeprefix("--replicas=")) for c in pod["containers"]}
        assert scaled == {o: counts[i][k] for k, n in enumerate(names) for o in objects[n]}
        assert all(c["command"] == ["kubectl"] and c["args"][0] == "scale" for c in pod["containers"])
        assert pod["serviceAccountName"] == "deepseek-trace-scaler" and len(j["metadata"]["name"]) <= 52
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "deepseek-trace-scaler"]
    assert {"deployments/scale", "statefulsets/scale"} <= set(role["rules"][0]["resources"])
    assert "kubectl create job --from=cronjob/deepseek-trace-pN" in files["README.txt"]
    assert "Asia/Shanghai" in files["README.txt"]


def test_dynamo_cronjobs_patch_the_graphs_replicas(trace):
    """dynamo: the graph's workers start at period 0's counts; each CronJob's merge patch sets every
    worker to its period's count."""
    files = render(trace, "dynamo", engine="sglang", source="day.json")
    graph = yaml.safe_load(files["dynamo.yaml"])
    schema = json.loads((ROOT / "tests/data/dynamo_dgd_schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(graph, schema)
    h = read_horizon(trace, "day.json")
    workers = [k for k, s in graph["spec"]["services"].items() if s["componentType"] == "worker"]
    assert [graph["spec"]["services"][k]["replicas"] for k in workers] == list(h.periods[0].instances)
    jobs = [d for d in yaml.safe_load_all(files["schedule.yaml"]) if d["kind"] == "CronJob"]
    for d in yaml.safe_load_all(files["schedule.yaml"]):
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    for j in jobs:
        i = int(j["metadata"]["labels"]["planner/period"])
        (c,) = j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert c["args"][:3] == ["patch", "dynamographdeployment", graph["metadata"]["name"]]
        patch = json.loads(c["args"][-1])["spec"]["services"]
        assert [patch[k]["replicas"] for k in workers] == list(h.periods[i].instances)


def test_a_mode_that_changes_with_the_hour_is_refused_naming_the_periods():
    """fleet_day's chat runs colocated pools in hours 2 and 20 and prefill/decode pools in the
    others: SGLang (and Dynamo) serve one mode per server, so it is refused naming those hours;
    vLLM's servers take both (its TP8·PP2 H20 decode instance on a Ray cluster). A refusal about a
    pool names the plan file's entry (periods[i].pools[j]), not the export's union: here a hand
    edit of that instance's cards."""
    d = day("fleet_day")
    with pytest.raises(BadInput, match=r"class chat: over the horizon it runs colocated pools \(periods 2, 20\) "
                                       r"and prefill/decode pools \(periods 0–1, 3–23\), both in period 20; sglang"):
        render(d, "sglang", source="day.json")
    with pytest.raises(BadInput, match="Dynamo runs a server either colocated"):
        render(d, "dynamo", engine="sglang", source="day.json")
    assert any("--distributed-executor-backend ray" in t for t in render(d, "vllm", source="day.json").values())
    (i, j), = [(i, j) for i, per in enumerate(d["periods"]) for j, p in enumerate(per["pools"])
               if (p["parallelism"]["tp"], p["parallelism"]["pp"]) == (8, 2)][:1]
    d["periods"][i]["pools"][j]["cards_per_instance"] = 12
    with pytest.raises(BadInput, match=rf"service chat: periods\[{i}\]\.pools\[{j}\]\.cards_per_instance: 12 cards"):
        render(d, "vllm", source="day.json")


@pytest.mark.parametrize("tz, target, why", [
    ("Mars/Olympus", "k8s", "not an IANA time zone"), ("", "k8s", "empty; leave it out"),
    ("../etc/passwd", "k8s", "not an IANA time zone"), ("UTC", "vllm", "writes launch scripts")])
def test_time_zone_refusals(trace, tz, target, why):
    with pytest.raises(BadInput, match=f"--time-zone.*{why}"):
        render(trace, target, source="day.json", time_zone=tz)


def test_time_zone_of_a_plan_of_one_period_is_refused():
    with pytest.raises(BadInput, match="--time-zone: .*this plan is of one period"):
        render(day("deepseek_qps"), "k8s", source="p.json", time_zone="UTC")


def test_cron_of_days_weeks_and_other_horizons():
    """A day: minute and hour; a week: period 0 on Monday 00:00 (cron's day 1; Sunday 0); other
    horizons, or a start off the minute: none."""
    assert cron(0.0, 24.0) == "0 0 * * *" and cron(23.5, 24.0) == "30 23 * * *"
    assert cron(0.0, 168.0) == "0 0 * * 1" and cron(145.0, 168.0) == "0 1 * * 0" and cron(167.0, 168.0) == "0 23 * * 0"
    assert cron(1.0, 36.0) is None and cron(1.0 / 7.0, 24.0) is None


def test_a_horizon_that_is_no_day_gets_no_cronjobs(trace):
    """36 periods of an hour: no cron calendar repeats them; schedule.csv only, as the README says."""
    d = json.loads(json.dumps(trace))
    d["periods"] = d["periods"] + json.loads(json.dumps(d["periods"][:12]))
    for i, p in enumerate(d["periods"]):
        p["index"] = i
    d["horizon_hours"] = 36.0   # as plan solve writes a horizon of 36 periods (a count alone is refused)
    files = render(d, "k8s", source="day.json")
    assert "schedule.yaml" not in files and "schedule.csv" in files
    assert "No CronJobs: a horizon of 36 h" in files["README.txt"]


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["comparison"].update(static_peak_plan=None), "comparison.static_peak_plan: null"),
    (lambda d: d.update(periods=[]), r"periods: List should have at least 1 item"),
    (lambda d: d["periods"][3].update(qps=-1), r"periods\[3\]\.qps: Input should be greater than or equal to 0"),
    (lambda d: d["periods"][3]["pools"][0].update(instances=1.5), r"periods\[3\]\.pools\[0\]\.instances"),
    (lambda d: d["periods"][3]["pools"][0].update(instances=True), r"periods\[3\]\.pools\[0\]\.instances"),
    (lambda d: d["periods"][2].update(pools="x"), r"periods\[2\]\.pools: Input should be a valid list"),
    (lambda d: [p.update(pools=[], qps=0) for p in d["periods"]], "no period runs a pool"),
])
def test_a_tampered_plan_over_a_day_is_exit_2_naming_the_field(trace, edit, field):
    d = json.loads(json.dumps(trace))
    edit(d)
    with pytest.raises(BadInput, match=field):
        render(d, "vllm", source="day.json")


def test_plan_solve_export_of_a_day_writes_what_plan_export_writes(tmp_path):
    """`plan solve DAY --export k8s` = `plan solve DAY --out day.json` then `plan export day.json
    --target k8s`: the same files but for the source README.txt names."""
    src = tmp_path / "day.yaml"
    src.write_text((ROOT / "problems" / "deepseek_day.yaml").read_text().replace(
        "modes: [disaggregated, colocated]", "modes: [disaggregated]"), encoding="utf-8")
    run = CliRunner().invoke
    one = tmp_path / "one"
    out = str(tmp_path / "d.json")
    r = run(cli.main, ["solve", str(src), "--export", "dynamo", "--export-dir", str(one), "--out", out])
    assert r.exit_code == 2 and "the plan solved from" in r.stderr and "Ray cluster" in r.stderr   # TP8·PP2 on vLLM
    assert ".pools[" in r.stderr and "periods[" in r.stderr
    assert not one.exists()
    r = run(cli.main, ["solve", str(src), "--export", "sglang", "--export-dir", str(one), "--out", out])
    assert r.exit_code == 0, r.output
    two = tmp_path / "two"
    r = run(cli.main, ["export", str(tmp_path / "d.json"), "--target", "sglang", "--out", str(two)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir()) and "schedule.csv" in names
    for n in names:
        a, b = (one / n).read_text(), (two / n).read_text()
        if n == "README.txt":
            a, b = a.replace(str(src), "SRC"), b.replace(str(tmp_path / "d.json"), "SRC")
        assert a == b, n
    bad = run(cli.main, ["export", str(tmp_path / "d.json"), "--target", "k8s", "--engine", "sglang", "--out",
                         str(tmp_path / "three"), "--time-zone", "Nowhere/Land"])
    assert bad.exit_code == 2 and "--time-zone 'Nowhere/Land'" in bad.stderr and not (tmp_path / "three").exists()


def test_hand_edits_a_day_plan_gets_refused_and_odd_horizons(trace):
    """A busy hour without pools would scale every pool to 0 (exit 2 naming it); a period of 0 hours
    is none plan solve writes; 72 periods of 1/3 h add up to 23.99999999999998 h and are a day
    (CronJobs); `--time-zone` takes IANA names only ('localtime' and 'Factory' are files of this
    host's database, no zone a cluster knows; a hunt)."""
    d = json.loads(json.dumps(trace))
    d["periods"][5]["pools"] = []
    with pytest.raises(BadInput, match=r"periods\[5\]\.pools: List should have at least 1 item"):
        render(d, "vllm", source="day.json")
    d = json.loads(json.dumps(trace))
    d["periods"][5]["hours"] = 0
    with pytest.raises(BadInput, match=r"periods\[5\]\.hours: Input should be greater than 0 \(got 0\)"):
        render(d, "vllm", source="day.json")
    d = json.loads(json.dumps(trace))
    thirds = []
    for p in d["periods"]:
        for _ in range(3):
            thirds.append({**p, "hours": 1 / 3, "index": len(thirds)})
    d["periods"], d["period_hours"] = thirds, 1 / 3   # as plan solve writes periods of 20 minutes
    assert sum(p["hours"] for p in thirds) != 24.0
    files = render(d, "k8s", source="day.json")
    assert "schedule.yaml" in files
    crons = {json.loads(files["schedule.json"])["periods"][i]["cron"] for i in (1, 2, 3)}
    assert crons == {"20 0 * * *", "40 0 * * *", "0 1 * * *"}
    for tz in ("localtime", "Factory"):
        with pytest.raises(BadInput, match="not an IANA time zone"):
            render(trace, "k8s", source="day.json", time_zone=tz)
    d = json.loads(json.dumps(trace))
    d["comparison"]["static_peak_plan"] = None
    d["comparison"].pop("static_peak_none_because", None)
    with pytest.raises(BadInput, match=r"no static fleet: no reason given\)"):
        render(d, "vllm", source="day.json")


def test_each_period_carries_its_own_router_split(trace):
    """router.json splits traffic over the union at its most instances, which no period runs;
    schedule.json gives each period's split: a pool's share of its role's capacity in that period,
    from the plan file's own entries (pools of one shape added)."""
    files = render(trace, "vllm", source="day.json")
    sched = json.loads(files["schedule.json"])
    h = read_horizon(trace, "day.json")
    shapes = [_shape(p) for p in h.union["pools"]]
    for per, row in zip(trace["periods"], sched["periods"]):
        want = {}
        for f, role in (("capacity_prefill_tokens_per_s", "prefill"), ("capacity_decode_tokens_per_s", "decode")):
            total = sum(p[f] for p in per["pools"])
            for p in per["pools"]:
                name = sched["pools"][shapes.index(_shape(p))]
                want.setdefault(name, {}).setdefault(f"{role}_weight", 0.0)
                want[name][f"{role}_weight"] += p[f] / total
        assert set(row["router"]) == set(want) == {n for n, c in row["instances"].items() if c}
        for name, w in want.items():
            assert row["router"][name] == pytest.approx(w)
        for role in ("prefill", "decode"):
            assert sum(w[f"{role}_weight"] for w in row["router"].values()) == pytest.approx(1.0)


def test_dst_gaps_of_the_tz_database():
    """The wall-clock hours a zone's clock jumps over, as hours of a day or a week from Monday
    00:00: Berlin and New York 02:00–03:00 on a Sunday, London 01:00–02:00, Lord Howe's half hour,
    Chatham's quarter-hour offset; none where there is no daylight saving."""
    from planner.report.export.dst import catch_ups, gaps, inside
    assert gaps("Europe/Berlin", 24.0, (2026,)) == [(2.0, 3.0)]
    assert gaps("Europe/Berlin", 168.0, (2026,)) == [(146.0, 147.0)]   # Sunday 02:00 = 6 × 24 + 2
    assert gaps("America/New_York", 24.0, (2026, 2027)) == [(2.0, 3.0)]
    assert gaps("Europe/London", 24.0, (2026,)) == [(1.0, 2.0)]
    assert gaps("Australia/Lord_Howe", 24.0, (2026,)) == [(2.0, 2.5)]
    assert gaps("Pacific/Chatham", 24.0, (2026,)) == [(2.75, 3.75)]
    assert gaps("Asia/Shanghai", 24.0, (2026,)) == gaps("UTC", 168.0, (2026,)) == []
    assert inside(23.5, (23.0, 0.5)) and inside(0.25, (23.0, 0.5)) and not inside(0.5, (23.0, 0.5))
    assert catch_ups([2.0, 7.0], 24.0, "Europe/Berlin", (2026,)) == [3.0]
    assert catch_ups([2.5], 24.0, "Europe/Berlin", (2026,)) == [3.0]
    assert catch_ups([2.0, 3.0], 24.0, "Europe/Berlin", (2026,)) == []   # the change at 03:00 has its own job
    assert catch_ups([2.0], 24.0, "Asia/Shanghai", (2026,)) == catch_ups([2.0], 24.0, None) == []


def _counts_over_the_day(jobs: list[dict], start_counts: dict, day: str, zone: str) -> dict[str, dict]:
    """Kubernetes' cron over one local day, minute by minute in UTC: a job fires when the zone's wall
    clock reads its `m h`; a wall time the clock jumps over never reads. Returns the counts running
    at each wall time 'HH:MM' that exists that day."""
    import zoneinfo
    from datetime import datetime, timedelta, timezone
    z = zoneinfo.ZoneInfo(zone)
    t = datetime.fromisoformat(day).replace(tzinfo=z).astimezone(timezone.utc)
    running, seen = dict(start_counts), {}
    while (wall := t.astimezone(z)).date().isoformat() == day:
        for j in jobs:
            m, h = (int(x) for x in j["spec"]["schedule"].split()[:2])
            if (wall.hour, wall.minute) == (h, m):
                for c in j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                    running[c["args"][1]] = int(c["args"][2].removeprefix("--replicas="))
        seen.setdefault(wall.strftime("%H:%M"), dict(running))
        t += timedelta(minutes=1)
    return seen


def test_a_change_the_clock_jumps_over_is_caught_up_after_the_jump(trace):
    """Europe/Berlin skips 02:00–03:00 on 2026-03-29. With period 3 running period 2's counts, the
    only job that scales to them is period 2's, at 02:00, which Kubernetes never runs that day:
    period 1's counts would run through period 3, until period 4's job at 04:00. A catch-up
    `-p3-dst` at 03:00 re-applies period 3's counts (on other days a no-op). Replayed minute by
    minute over that day and a normal one, the running counts are each wall time's period's;
    without the catch-up they are not."""
    d = json.loads(json.dumps(trace))
    d["periods"][3]["pools"] = json.loads(json.dumps(d["periods"][2]["pools"]))
    files = render(d, "k8s", source="day.json", time_zone="Europe/Berlin")
    docs = list(yaml.safe_load_all(files["schedule.yaml"]))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    jobs = [j for j in docs if j["kind"] == "CronJob"]
    (dst,) = [j for j in jobs if j["metadata"]["name"].endswith("-dst")]
    assert (dst["metadata"]["name"], dst["spec"]["schedule"], dst["metadata"]["labels"]["planner/period"]) == (
        "deepseek-trace-p3-dst", "0 3 * * *", "3")
    assert "deepseek-trace-p3-dst (0 3 * * *): in Europe/Berlin the clock jumps over a change's time" \
        in files["README.txt"]
    h = read_horizon(d, "day.json")
    names = json.loads(files["schedule.json"])["pools"]
    objects = [f"deployment/{n}" if f"deployment/{n}" in {a for j in jobs for c in j["spec"]["jobTemplate"]["spec"]
                                                          ["template"]["spec"]["containers"] for a in c["args"]}
               else None for n in names]

    def want(wall: str) -> dict:
        hour = int(wall[:2])
        p = [q for q in h.periods if q.start_h <= hour][-1]
        return {o: n for o, n in zip(objects, p.instances) if o}

    start = want("23:59")
    for day in ("2026-03-29", "2026-03-30"):
        seen = _counts_over_the_day(jobs, start, day, "Europe/Berlin")
        assert ("02:30" in seen) == (day != "2026-03-29")
        assert all({k: v for k, v in got.items() if k in want(w)} == want(w) for w, got in seen.items())
        without = _counts_over_the_day([j for j in jobs if j is not dst], start, day, "Europe/Berlin")
        wrong = [w for w, got in without.items() if {k: v for k, v in got.items() if k in want(w)} != want(w)]
        assert wrong == ([f"03:{mm:02d}" for mm in range(60)] if day == "2026-03-29" else [])
    assert not [j for j in yaml.safe_load_all(render(d, "k8s", source="day.json", time_zone="Asia/Shanghai")
                                              ["schedule.yaml"]) if j["metadata"]["name"].endswith("-dst")]
    graph = list(yaml.safe_load_all(render(d, "dynamo", source="day.json", time_zone="Europe/Berlin")["schedule.yaml"]))
    assert [j["spec"]["schedule"] for j in graph if j["metadata"]["name"].endswith("-dst")] == ["0 3 * * *"]
