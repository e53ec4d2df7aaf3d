"""Simulate a fleet plan: every service on its own (services share nodes, not queues).

A fleet plan file lists its services with the workload and SLO their pools were sized for;
each becomes a single plan's file of the same contract, which `simulate` reads.
"""

from __future__ import annotations

from typing import Any

from planner.studies.simulate import DEFAULT_REQUESTS, plan_from_dict, simulate


def service_plan(d: dict[str, Any], key: str) -> dict[str, Any]:
    """One service of a fleet plan's JSON as a single plan's JSON (what `plan simulate` reads):
    its pools, the workload and SLO they were sized for, and its classes when shared."""
    svc = next(s for s in d["services"] if s["key"] == key)
    return {"problem": f"{d['problem']}:{key}", "model": svc["model"], "model_source": svc["model_source"],
            "weight_dtype": svc["weight_dtype"], "kv_dtype": svc["kv_dtype"],
            "calibration": d["calibration"], "calibration_source": d["calibration_source"],
            "calibration_overrides": d["calibration_overrides"], "workload": svc["workload"],
            "slo": svc["slo"], "classes": svc["class_workloads"],
            "pools": [p for p in d["pools"] if p["service"] == key]}


def simulate_fleet(d: dict[str, Any], source: str, requests: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Simulate every service of a fleet plan on its own; results by service key."""
    return {s["key"]: simulate(plan_from_dict(service_plan(d, s["key"]), source),
                               requests or DEFAULT_REQUESTS, seed, source) for s in d["services"]}
