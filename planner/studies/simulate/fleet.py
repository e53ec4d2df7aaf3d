"""Simulate every service of a plan on its own (a fleet's services share nodes, not queues).

A fleet plan file lists its services with the workload and SLO their pools were sized for;
each becomes a single plan's data of the same contract, which `plan_from_dict` reads. A caller
holding the solved plan passes each service's resolved catalog objects (`catalog_of`), so the
simulator looks nothing up again by name.
"""

from __future__ import annotations

from typing import Any

from planner.errors import BadInput
from planner.plan.resolve import Resolved
from planner.studies.simulate.planfile import plan_from_dict
from planner.studies.simulate.results import SimResult
from planner.studies.simulate.run import DEFAULT_REQUESTS, DEFAULT_SEED, simulate
from planner.studies.simulate.tables import SimCatalog


def catalog_of(res: Resolved) -> SimCatalog:
    """The model, GPUs and calibration (overrides applied) a plan was solved with."""
    return SimCatalog(res.model, {o.id: o.gpu for o in res.gpus}, res.calib)


def service_plan(d: dict[str, Any], key: str) -> dict[str, Any]:
    """One service of a fleet plan's JSON as a single plan's JSON (what `plan simulate` reads):
    its pools, the workload and SLO they were sized for, and its classes when shared."""
    svc = next(s for s in d["services"] if s["key"] == key)
    return {"problem": f"{d['problem']}:{key}", "model": svc["model"], "model_source": svc["model_source"],
            "weight_dtype": svc["weight_dtype"], "expert_dtype": svc.get("expert_dtype"), "kv_dtype": svc["kv_dtype"],
            "calibration": d["calibration"], "calibration_source": d["calibration_source"],
            "calibration_overrides": d["calibration_overrides"], "workload": svc["workload"],
            "slo": svc["slo"], "classes": svc["class_workloads"],
            "pools": [p for p in d["pools"] if p["service"] == key]}


def simulate_services(d: dict[str, Any], source: str, requests: int | None = None, seed: int = DEFAULT_SEED,
                      catalogs: dict[str, SimCatalog] | None = None) -> dict[str, SimResult]:
    """Simulate a plan's data of either kind; results by service key ('' for a single plan).

    `catalogs` (by service key) are the resolved objects of an in-memory plan; without them the
    plan's model, GPU and calibration names are looked up."""
    catalogs = catalogs or {}
    n = requests or DEFAULT_REQUESTS
    if not (isinstance(d, dict) and d.get("kind") == "fleet"):
        return {"": simulate(plan_from_dict(d, source), n, seed, source, resolved=catalogs.get(""))}
    keys = _service_keys(d, source)
    return {k: simulate(plan_from_dict(service_plan(d, k), f"{source}: service {k}"), n, seed, source,
                        resolved=catalogs.get(k)) for k in keys}


def _service_keys(d: dict[str, Any], source: str) -> list[str]:
    """The service keys of a fleet plan's data, checked enough to split it (BadInput otherwise)."""
    try:
        keys = [s["key"] for s in d["services"]]
        for k in keys:
            service_plan(d, k)
    except (KeyError, TypeError, StopIteration) as e:
        raise BadInput(f"{source}: not a fleet plan written by plan solve (services/pools: {e!r})") from None
    if not keys:
        raise BadInput(f"{source}: services: a fleet plan lists at least one service")
    return keys
