"""Hand edits of plan files a 2026-12-06 hunt exported without a word: a day plan whose busy hour
runs no decode (its CronJob scaled every decode pool to 0 at 03:00), capacities of text or infinity
read as 0, node counts negative or quoted; and a fleet plan's error naming the service's own pool
index instead of the file's."""

from __future__ import annotations

import json
import re

import pytest

from planner.errors import BadInput
from planner.report.export import render
from planner.studies.simulate.fleet import simulate_services
from tests.test_export import GOLDEN, plan


def _trace() -> dict:
    return json.loads((GOLDEN / "deepseek_trace.json").read_text(encoding="utf-8"))


def _busy(d: dict) -> int:
    """A period with requests whose pools include a decode or colocated one."""
    return next(i for i, p in enumerate(d["periods"]) if p["qps"] > 0
                and any(q["role"] != "prefill" and q["instances"] > 0 for q in p["pools"]))


def test_a_busy_period_without_decode_is_refused():
    d = _trace()
    i = _busy(d)
    assert render(d, "k8s", source="day.json")   # as solved: exported
    for q in d["periods"][i]["pools"]:
        if q["role"] != "prefill":
            q["instances"] = 0
    with pytest.raises(BadInput, match=rf"day.json: periods\[{i}\].pools: no running pool has decode capacity "
                                       rf"\(capacity_decode_tokens_per_s\), but the period has [0-9.]+ req/s"):
        render(d, "k8s", source="day.json")


@pytest.mark.parametrize("value", ["x", float("inf"), -1.0, True])
def test_a_capacity_that_is_no_finite_number_is_refused(value):
    d = _trace()
    i = _busy(d)
    d["periods"][i]["pools"][0]["capacity_decode_tokens_per_s"] = value
    with pytest.raises(BadInput, match=rf"day.json: periods\[{i}\].pools\[0\].capacity_decode_tokens_per_s: "
                                       r"a finite number ≥ 0 \(tokens/s\), got "):
        render(d, "vllm", source="day.json")


@pytest.mark.parametrize("value", [-3, "3", 2.5, True])
def test_node_counts_are_whole_numbers(value):
    d = _trace()
    d["periods"][0]["nodes"] = {"h100": {"on_demand": value}}
    with pytest.raises(BadInput, match=r"day.json: periods\[0\].nodes.h100.on_demand: a whole number ≥ 0, got "):
        render(d, "k8s", source="day.json")


def test_a_fleet_plans_errors_name_the_files_pool_index():
    d = plan("fleet_mix")
    svc = {p["service"] for p in d["pools"]}
    # the last pool of a service that is not the file's first pools: its own index differs from the file's
    i = next(i for i, p in reversed(list(enumerate(d["pools"])))
             if sum(q["service"] == p["service"] for q in d["pools"][:i]) >= 1 and i > 1)
    key = d["pools"][i]["service"]
    assert key in svc
    d["pools"][i]["instances"] = -1
    want = rf"fleet.json: service {re.escape(key)}: pools\[{i}\].instances: Input should be greater than or equal to 1"
    with pytest.raises(BadInput, match=want):
        render(d, "vllm", source="fleet.json")
    with pytest.raises(BadInput, match=want):
        simulate_services(d, "fleet.json", requests=300)


def test_an_engine_refusal_of_a_fleet_pool_names_the_files_index():
    """The engine's own checks (after the plan is read) list a service's pools too: chat+coding's
    decode pool is its pools[1] and the file's pools[4]."""
    d = plan("fleet_mix")
    assert (d["pools"][4]["service"], d["pools"][4]["role"]) == ("chat+coding", "decode")
    d["pools"][4]["cards_per_instance"] = 32
    d["pools"][4]["parallelism"] = {"tp": 8, "pp": 2, "dp": 2, "label": "TP8·DP2·PP2"}
    with pytest.raises(BadInput, match=r"fleet.json: service chat\+coding: pools\[4\]\.parallelism: TP8·PP2 groups "
                                       r"span 16 cards, more than one h200 node \(8\), beside 2 data-parallel ranks"):
        render(d, "vllm", source="fleet.json")
