"""Simulate every service of a plan on its own (a fleet's services share nodes, not queues).

A fleet plan file lists its services with the workload and SLO their pools were sized for;
each becomes a single plan's data of the same contract, which `plan_from_dict` reads. A caller
holding the solved plan passes each service's resolved catalog objects (`catalog_of`), so the
simulator looks nothing up again by name.
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from typing import Any

from planner.errors import BadInput, PlannerNotice, plural, shown_json
from planner.plan.outcome import mode_of
from planner.plan.resolve import Resolved
from planner.studies.simulate.planfile import (
    check_horizon,
    check_kind,
    check_numbers,
    check_problem_name,
    plan_from_dict,
)
from planner.studies.simulate.results import SimResult
from planner.studies.simulate.run import DEFAULT_REQUESTS, DEFAULT_SEED, TooFewRequests, simulate
from planner.studies.simulate.tables import SimCatalog


def catalog_of(res: Resolved) -> SimCatalog:
    """The model, GPUs and calibration (overrides applied) a plan was solved with."""
    return SimCatalog(res.model, {o.id: o.gpu for o in res.gpus}, res.calib)


def service_plan(d: dict[str, Any], key: str) -> dict[str, Any]:
    """One service of a fleet plan's JSON as a single plan's JSON (what `plan simulate` reads):
    its pools, the workload and SLO they were sized for, and its classes when shared."""
    svc = next(s for s in d["services"] if s["key"] == key)
    return {"problem": f"{d['problem']}:{key}", "model": svc["model"], "model_source": svc["model_source"],
            "weight_dtype": svc["weight_dtype"], "expert_dtype": svc.get("expert_dtype"),
            "part_dtypes": svc.get("part_dtypes") or {}, "kv_dtype": svc["kv_dtype"],
            "calibration": d["calibration"], "calibration_source": d["calibration_source"],
            "calibration_overrides": d["calibration_overrides"], "workload": svc["workload"],
            "slo": svc["slo"], "classes": svc["class_workloads"],
            "pools": [p for p in d["pools"] if p["service"] == key]}


def simulate_services(d: dict[str, Any], source: str, requests: int | None = None, seed: int = DEFAULT_SEED,
                      catalogs: dict[str, SimCatalog] | None = None, period: str = "peak", sized_by: str = "--simulate"
                      ) -> dict[str, SimResult]:
    """Simulate a plan's data of any kind; results by service key ('' for a single plan), or by
    'period N' for a plan over a load profile (`period`: 'peak', 'all' or an index). `catalogs` (by
    service key): an in-memory plan's resolved objects, else its names are looked up. With `requests`
    None (no count chosen in `sized_by`) a run too short for the plan's request lifetime runs again at
    the count it needs (`TooFewRequests.need`) within the simulator's limit; past it the error names
    --simulate (plan solve has no --requests) or is --requests' own (plan simulate, since 2026-12-07)."""
    if requests is not None:
        return _simulate_services(d, source, requests, seed, catalogs, period)
    try:
        try:
            return _simulate_services(d, source, DEFAULT_REQUESTS, seed, catalogs, period)
        except TooFewRequests as e:
            if e.need is None:
                raise
            return _simulate_services(d, source, e.need, seed, catalogs, period)
    except TooFewRequests as e:
        if sized_by == "--requests":   # plan simulate: --requests' own message
            raise
        raise TooFewRequests(f"--simulate: {str(e).removeprefix('--requests: ')}; plan solve --simulate sizes "
                             f"its run itself, within that: leave --simulate out for this problem", None) from None


def _simulate_services(d: dict[str, Any], source: str, n: int, seed: int,
                       catalogs: dict[str, SimCatalog] | None, period: str) -> dict[str, SimResult]:
    catalogs = catalogs or {}
    check_header(d, source)
    if isinstance(d, dict) and d.get("kind") == "horizon":
        check_periods(d, source)
        if d.get("classes"):   # a fleet over a day: each class's pools of the period, at its QPS then
            from planner.studies.simulate.fleet_day import fleet_day_runs
            runs = fleet_day_runs(d, period_indices(d, period, source), period, source, fleet_period_plans)
            return _each({f"period {i}: {key}": (plan, f"{source}: period {i}: {key}", f"{source}: period {i}: {key}",
                                                 catalogs.get(key)) for i, key, plan in runs}, n, seed)
        simulated = _without_own_lengths(d, period_indices(d, period, source), period, source)
        return _each({f"period {i}": (period_plan(d, i, source), f"{source}: period {i}", f"{source}: period {i}",
                                      catalogs.get("")) for i in simulated}, n, seed)
    if not (isinstance(d, dict) and d.get("kind") == "fleet"):
        return {"": simulate(plan_from_dict(d, source), n, seed, source, resolved=catalogs.get(""))}
    with in_file_order(d, source):
        return _each({k: (service_plan(d, k), f"{source}: service {k}", source, catalogs.get(k))
                      for k in service_keys(d, source)}, n, seed)


@contextlib.contextmanager
def in_file_order(d: dict[str, Any], source: str):
    """A BadInput about a fleet service's `pools[j]` (the j-th of its own pools, as `service_plan`
    lists them) names the plan file's index of that pool: 'service rag: pools[1].instances' sent a
    user to the file's pools[1], another service's pool, where rag's was pools[2]."""
    try:
        yield
    except BadInput as e:
        if type(e) is not BadInput:
            raise
        text = str(e)
        file = d.get("pools") if isinstance(d.get("pools"), list) else []
        named = [p for p in file if isinstance(p, dict) and isinstance(p.get("service"), str)]
        for key in dict.fromkeys(p["service"] for p in named):
            where = f"{source}: service {key}"
            text = renumbered(text, where, [p for p in named if p["service"] == key], file, f"{where}: pools")
        if text == str(e):
            raise
        raise BadInput(text) from None


Run = tuple[dict[str, Any], str, str, "SimCatalog | None"]   # plan data, its name in errors, in the result, catalog


def _each(runs: dict[str, Run], n: int, seed: int) -> dict[str, SimResult]:
    """Every run's result by its label. When --requests is too few for some, one error names the
    count that does for all of them (the first one's advice, followed, could fail on the next)."""
    out: dict[str, SimResult] = {}
    short: list[tuple[str, TooFewRequests]] = []
    for label, (plan, where, name, resolved) in runs.items():
        try:
            out[label] = simulate(plan_from_dict(plan, where), n, seed, name, resolved=resolved)
        except TooFewRequests as e:
            short.append((label, e))
        except BadInput as e:   # a fleet service's own check names its service, as plan_from_dict's do
            text = str(e)
            if type(e) is not BadInput or where == name or not text.startswith(f"{name}: ") or text.startswith(where):
                raise
            raise BadInput(where + text[len(name):]) from None
    if not short:
        return out
    if len(runs) == 1:
        raise short[0][1]
    label, worst = max(short, key=lambda x: float("inf") if x[1].need is None else x[1].need)
    raise TooFewRequests(f"{worst} ({label} needs the most: {len(short)} of the {len(runs)} simulated are short)",
                         worst.need)


def period_indices(d: dict[str, Any], period: str, source: str) -> list[int]:
    """The periods of a plan over a load profile to simulate: the busiest ('peak'), every one
    ('all'), or the index given; in any case and between blanks (' 3', 'PEAK'), as other choices."""
    period = period.strip().lower()
    periods = d.get("periods")
    if not isinstance(periods, list) or not periods:
        raise BadInput(f"{source}: periods: not a plan over a load profile written by plan solve")
    def has_load(i: int) -> bool:
        q = periods[i].get("qps", 0.0) if isinstance(periods[i], dict) else 0.0
        return isinstance(q, (int, float)) and q > 0

    if period == "all":   # a period without load has no request to simulate
        return [i for i in range(len(periods)) if has_load(i)]
    if period == "peak":
        return [max(range(len(periods)), key=lambda i: periods[i].get("qps", 0.0))]
    try:
        i = int(period)
    except ValueError:
        i = None
    if i is None or not (period.isascii() and period.isdigit()):   # ASCII digits as every number option ('١', '1_0')
        raise BadInput(f"--period: 'peak', 'all' or a period index, got {period!r}")
    if not 0 <= i < len(periods):
        raise BadInput(f"--period: {i} is not a period of {source} (0 … {len(periods) - 1})")
    if not has_load(i):
        raise BadInput(f"--period: period {i} of {source} has no load (qps 0): there is nothing to simulate")
    return [i]


MEANS = (("input_tokens", "input_tokens_mean"), ("output_tokens", "output_tokens_mean"))   # workload → period key


def _without_own_lengths(d: dict[str, Any], indices: list[int], period: str, source: str) -> list[int]:
    """With --period all, the periods whose lengths are the plan file's (the others' distributions
    are not in it), the others named on stderr (one refused the whole day); a single one asked for
    is `period_plan`'s to refuse."""
    w = ((d.get("comparison") or {}).get("static_peak_plan") or {}).get("workload")
    if period != "all" or not isinstance(w, dict) or not all(isinstance(w.get(k), (int, float)) for k, _ in MEANS):
        return indices
    own = [i for i in indices if isinstance(d["periods"][i], dict) and lengths_of_their_own(d["periods"][i], w)]
    if own and len(own) < len(indices):
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"{source}: periods {', '.join(map(str, own))} have lengths of their own, whose distributions "
                      f"are not in the plan file: not simulated", PlannerNotice, stacklevel=2)
        return [i for i in indices if i not in own]
    return indices


def lengths_of_their_own(period: dict[str, Any], workload: dict[str, Any]) -> tuple[str, float, float] | None:
    """(key, the period's mean, the plan's) of the first length a period (or a class in it) has
    apart from the workload the pools were sized on; None when none differs or none is given."""
    for key, mean in MEANS:
        v, w = period.get(mean), workload[key]
        if v is not None and abs(v - w) > 1e-9 * max(1.0, w):
            return mean, v, w
    return None


def fleet_period_plans(d: dict[str, Any], i: int, source: str, own_lengths: bool = False,
                       skipped: list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Period i of a fleet over a day as one single plan's JSON per class with traffic then: the
    class's service in the static peak plan (its model, SLO, calibration and lengths; classes share
    no pools over a day) with the class's QPS and pools in the period. A class with lengths of its
    own then is refused, unless `own_lengths` (its pools checked, not simulated) or, with `skipped`, named there."""
    base = (d.get("comparison") or {}).get("static_peak_plan")
    if base is None:   # a day whose static fleet cannot exist (comparison.static_peak_none_because)
        raise BadInput(f"{source}: comparison.static_peak_plan: null (this day has no static fleet), and a period's "
                       f"plan is built from it (its model, SLO, calibration and lengths); such a day's periods "
                       f"cannot be simulated yet")
    per = d["periods"][i] if isinstance(d.get("periods"), list) else None
    if not isinstance(base, dict) or base.get("kind") != "fleet" or not isinstance(per, dict):
        raise BadInput(f"{source}: comparison.static_peak_plan: not a fleet over a day written by plan solve")
    out = []
    try:
        keys = {s["key"] for s in base["services"]}
        for j, pool in enumerate(per["pools"]):   # a pool of no class was left out of the simulation
            if pool.get("class") not in keys:
                raise BadInput(f"{source}: periods[{i}].pools[{j}].class: "
                               + ("missing" if pool.get("class") is None else f"{pool.get('class')!r} is not a "
                                  f"service of the plan") + "; every pool of a period serves one")
        for c in per["classes"]:
            key, qps = c["name"], c["qps"]
            if qps <= 0:
                continue
            pools = [p for p in per["pools"] if p.get("class") == key]
            if key not in keys or not pools:
                raise BadInput(f"{source}: periods[{i}].classes: {key} has traffic but no pools of its own")
            plan = service_plan(base, key)
            if not own_lengths and (own := lengths_of_their_own(c, plan["workload"])) is not None:
                if skipped is not None:   # left out, named by the caller
                    skipped.append(key)
                    continue
                raise BadInput(f"{source}: periods[{i}].classes: {key} has lengths of its own in the period "
                               f"({own[0]} {own[1]:g} against {own[2]:g} at the peak); their distributions are "
                               f"not in the plan file, so it is not simulated")
            out.append((key, {**plan, "problem": f"{d['problem']}@period{i}:{key}",
                              "workload": {**plan["workload"], "qps": qps}, "pools": pools}))
    except (KeyError, TypeError, AttributeError) as e:
        raise BadInput(f"{source}: not a fleet over a day written by plan solve (periods/services: "
                       f"{_why(e)})") from None
    return out


def _why(e: Exception) -> str:
    """What a tampered plan file lacks, in words (the exception's name and repr read as a crash).

    >>> _why(KeyError("services")), _why(TypeError("'NoneType' object is not iterable"))[:24]
    ("no 'services' key", 'a value of the wrong typ')
    """
    if isinstance(e, KeyError):
        return f"no {e.args[0]!r} key" if e.args else "a key is missing"
    if isinstance(e, StopIteration):
        return "a pool names a service the plan does not list"
    return "a value of the wrong type where a list, an object or a number belongs"


MODES = ("disaggregated", "colocated", "mixed")   # a plan's `mode` (plan.model.Plan.mode, from its pools' roles)
REDUNDANCIES = ("n_plus_1", "node")               # a plan's `redundancy` (the key is left out for none)


def check_mode(d: Any, source: str, at: str = "") -> None:
    """BadInput for a plan file's `mode` or `redundancy` that plan solve does not write (`at`: the
    plan's place in the file). Neither is read by plan simulate or plan export (the pools' roles
    are), and until 2026-12-06 `mode: bogus` or `redundancy: bogus` passed both in silence. A `mode`
    beside the pools it was written for is held to their roles (`mode: colocated` on prefill and
    decode pools passed both until 2026-12-07); a day plan's periods are not (their pools are not
    the top-level `mode`'s, which a day plan does not write)."""
    if not isinstance(d, dict):
        return
    if "mode" in d and d["mode"] not in MODES:
        raise BadInput(f"{source}: {at}mode: {shown_json(d['mode'])}; plan solve writes disaggregated, colocated "
                       f"or mixed, as its pools' roles make it")
    pools = d.get("pools")
    roles = {r if isinstance(r := p.get("role"), str) else None for p in pools if isinstance(p, dict)} \
        if isinstance(pools, list) and d.get("kind") != "horizon" else set()   # role [] or {}: the pools' check
    if "mode" in d and roles and roles <= {"prefill", "decode", "colocated"} and d["mode"] != (made := mode_of(roles)):
        said = ", ".join(sorted(roles))
        raise BadInput(f"{source}: {at}mode: {shown_json(d['mode'])}; plan solve writes disaggregated, colocated or "
                       f"mixed, as its pools' roles make it: its pools' ({said}) make it {made}")
    if "redundancy" in d and d["redundancy"] not in REDUNDANCIES:
        raise BadInput(f"{source}: {at}redundancy: {shown_json(d['redundancy'])}; plan solve writes n_plus_1 or node "
                       f"(serving.redundancy), and leaves the key out for none")


def check_header(d: Any, source: str) -> None:
    """What `plan simulate` and `plan export` check of a plan file before reading its plan: its
    `kind`, `mode` and `redundancy`, its problem's name, and that no number is NaN or infinite."""
    check_kind(d, source)
    check_mode(d, source)
    check_problem_name(d, source)
    check_numbers(d, source)


def stale_capacities(data: Any, cards: dict[str, int],
                     reads: str = "router.json weighs each pool by its capacity_*") -> list[tuple[str, str]]:
    """Where the pools hold other cards than the plan's `totals.cards` says: `instances` edited by
    hand, whose pools' `capacity_*` (totals over the plan's own instances) router.json's weights
    still read (a hunt scaled a pool down and exported its old share of the traffic)."""
    said = (data.get("totals") or {}).get("cards") if isinstance(data, dict) and \
        isinstance(data.get("totals"), dict) else None
    if not isinstance(said, dict):
        return []
    out = []
    for g in sorted(set(cards) | set(said), key=str):
        n, m = cards.get(g, 0), said.get(g, 0)
        if isinstance(m, int) and not isinstance(m, bool) and m != n:
            out.append((g, f"the pools hold {plural(n, g + ' card')} where the plan's totals.cards says {m} "
                           f"(instances edited by hand?): {reads}, computed for the plan's own instances; re-solve, "
                           f"or scale an edited pool's capacity_* with its instances"))
    return out


def note_edited_instances(d: Any, source: str) -> None:
    """A note (stderr) when a single plan's pools hold other cards than its totals.cards says:
    instances edited by hand, whose capacity_* the simulation still splits the load by and measures a
    decode pool's utilisation against (util sim 81.7 % beside 81.3 % planned for a pool tripled by
    hand, its real load ~27 %: a hunt, 2026-12-06), as plan export notes for router.json."""
    if not isinstance(d, dict) or "kind" in d:
        return
    held: dict[str, int] = {}
    for p in plan_from_dict(d, source).pools:
        held[p.gpu] = held.get(p.gpu, 0) + p.instances * p.parallelism.tp * p.parallelism.pp * p.parallelism.dp
    for _, note in stale_capacities(d, held, "the simulation splits the load between pools, and measures a "
                                             "decode pool's utilisation (util sim), by their capacity_*"):
        warnings.warn(f"{source}: {note}", PlannerNotice, stacklevel=2)


def failed_verification(d: Any) -> str | None:
    """Why a plan file's own verification failed ("ttft[…] failed", or "passed: false" when no check
    is named), None when it passed or the file says nothing (a hand-written plan without one)."""
    v = d.get("verification") if isinstance(d, dict) else None
    if not isinstance(v, dict) or "passed" not in v or v["passed"] is True:
        return None
    checks = v.get("checks") if isinstance(v.get("checks"), list) else []
    failed = [str(c.get("name"))[:80] for c in checks if isinstance(c, dict) and c.get("ok") is not True]
    return (f"{', '.join(failed[:3])}{' …' if len(failed) > 3 else ''} failed" if failed else
            f"passed: {json.dumps(v['passed'])[:40]}")


def check_periods(d: dict[str, Any], source: str) -> None:
    """What `plan simulate` and `plan export` check of a plan over a load profile before either
    reads a period: its periods and header (`check_horizon`), its `model` against the static peak
    plan's (whose model every period's plan is built on), and every period with load read as a
    plan is (`plan_from_dict`: its pools' keys, numbers and layouts). Until 2026-12-06 a hand edit
    of a period other than the one simulated passed `plan simulate`, and `plan export` took pool
    keys, negative batches and an edited model that the simulator refuses (a hunt)."""
    check_horizon(d, source)
    base = (d.get("comparison") or {}).get("static_peak_plan")
    check_mode(base, source, "comparison.static_peak_plan.")
    if isinstance(base, dict) and "model" in d:
        fleet = base.get("kind") == "fleet"
        models = ({s.get("model") for s in base.get("services") or [] if isinstance(s, dict)} if fleet
                  else {base.get("model")})
        said = set(d["model"].split(", ")) if isinstance(d["model"], str) else None
        if all(isinstance(m, str) for m in models) and said != models:   # a broken static plan: refused below
            raise BadInput(f"{source}: model: {str(d['model'])[:80]!r}, but the periods' pools are the static peak "
                           f"plan's, for {', '.join(sorted(map(str, models)))} (comparison.static_peak_plan."
                           f"{'services[].' if fleet else ''}model): a hand edit of one of them")
    for i in period_indices(d, "all", source):
        runs = ([(f"{source}: period {i}: {key}", f"{source}: service {key}", plan)
                 for key, plan in fleet_period_plans(d, i, source, True)] if d.get("classes") else
                [(f"{source}: period {i}", source, period_plan(d, i, source, own_lengths=True))])
        for where, head, plan in runs:
            try:
                plan_from_dict(plan, where)
            except BadInput as e:
                if type(e) is not BadInput:
                    raise
                raise BadInput(renumbered(str(e), where, plan["pools"], d["periods"][i]["pools"],
                                          f"{head}: periods[{i}].pools")) from None


def renumbered(text: str, where: str, pools: list, file_pools: list, to: str) -> str:
    """`text` with each `{where}: pools[k]` (k an index of `pools`, a plan's pools taken from the
    file's `file_pools`: a fleet service's, a period's) as `{to}[j]`, j the file's index of that
    same pool object, and `{where}: pools:` as `{to}:` (every line of a message of several); a
    second pool it names (`also the name of pools[k]`) by the file's index too, `to`'s last part."""
    def at(m: re.Match, name: str = to) -> str:
        k = int(m.group(1))
        j = next((j for j, p in enumerate(file_pools) if k < len(pools) and p is pools[k]), None)
        return m.group(0) if j is None else f"{name}[{j}]"
    text = "\n".join(re.sub(r"(?<=also the name of )pools\[(\d+)\]", lambda m: at(m, to.rsplit(": ", 1)[-1]), line)
                     if f"{where}: pools[" in line else line for line in text.split("\n"))
    return re.sub(re.escape(where) + r": pools\[(\d+)\]", at, text).replace(f"{where}: pools:", f"{to}:")


def period_plan(d: dict[str, Any], i: int, source: str, own_lengths: bool = False) -> dict[str, Any]:
    """Period i of a plan over a load profile as a single plan's JSON (what `plan simulate` reads):
    the static peak plan's model, SLO, calibration and length distributions, with the period's QPS
    and pools. Per-period length distributions (which the plan file does not carry) are refused,
    unless `own_lengths` (a period read to check its pools, not to simulate it)."""
    base = (d.get("comparison") or {}).get("static_peak_plan")
    if base is None:   # a day whose static fleet cannot exist (comparison.static_peak_none_because)
        raise BadInput(f"{source}: comparison.static_peak_plan: null (this day has no static fleet), and a period's "
                       f"plan is built from it (its model, SLO, calibration and lengths); such a day's periods "
                       f"cannot be simulated yet")
    if not isinstance(base, dict) or base.get("kind") == "fleet":
        raise BadInput(f"{source}: comparison.static_peak_plan: not a plan over a load profile written by plan solve")
    p = d["periods"][i]
    w = base.get("workload")
    if not isinstance(w, dict) or not all(isinstance(w.get(k), (int, float))
                                          for k in ("input_tokens", "output_tokens")):
        raise BadInput(f"{source}: comparison.static_peak_plan.workload: not a plan's workload (input_tokens, "
                       f"output_tokens)")
    for _, mean in MEANS:
        if p.get(mean) is None:
            raise BadInput(f"{source}: periods[{i}].{mean}: missing; a period of a single workload carries it")
    if not own_lengths and (own := lengths_of_their_own(p, w)) is not None:
        raise BadInput(f"{source}: periods[{i}].{own[0]}: the period has lengths of its own ({own[1]:g} "
                       f"against {own[2]:g} over the horizon); their distributions are not in the plan file, "
                       f"so it is not simulated")
    return {**base, "problem": f"{d['problem']}@period{i}", "workload": {**w, "qps": p["qps"]},
            "pools": p["pools"]}


def service_keys(d: dict[str, Any], source: str) -> list[str]:
    """The service keys of a fleet plan's data, checked enough to split it (BadInput otherwise):
    keys unique, each with a pool, and each pool naming one of them (a pool of another name was
    dropped by the simulator and made the export fail with an internal error)."""
    try:
        keys = [s["key"] for s in d["services"]]
        named = [p["service"] for p in d["pools"]]
        for i, k in enumerate(keys):
            if not isinstance(k, str):
                got = type(k).__name__ if isinstance(k, (list, dict)) else shown_json(k, 40)   # null, not None
                raise BadInput(f"{source}: services[{i}].key: a service's key is text, got {got}")
            if not k.isprintable():   # a newline in it split the error message over lines (a hunt)
                raise BadInput(f"{source}: services[{i}].key: {k!r} holds a control character; plan solve writes "
                               f"the problem's class and service names, which have none")
        for k in keys:
            service_plan(d, k)
    except (KeyError, TypeError, AttributeError, StopIteration) as e:
        raise BadInput(f"{source}: not a fleet plan written by plan solve (services/pools: {_why(e)})") from None
    if not keys:
        raise BadInput(f"{source}: services: a fleet plan lists at least one service")
    twice = sorted({k for k in keys if keys.count(k) > 1}, key=str)
    if twice:
        raise BadInput(f"{source}: services[].key: {twice[0]!r} is listed twice")
    for i, k in enumerate(named):
        if k not in keys:
            raise BadInput(f"{source}: pools[{i}].service: {k!r} is not a service of this plan "
                           f"({', '.join(map(repr, keys))})")
    for i, k in enumerate(keys):
        if k not in named:
            raise BadInput(f"{source}: services[{i}]: service {k!r} has no pool in pools[]")
    return keys
