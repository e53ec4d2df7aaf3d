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


def _both_refuse(d: dict, source: str, want: str, target: str = "vllm") -> None:
    """`plan export` (to `target`) and `plan simulate` refuse the plan data alike, matching `want`."""
    for run in (lambda: render(d, target, source=source), lambda: simulate_services(d, source, requests=300)):
        with pytest.raises(BadInput, match=want):
            run()


def _busy(d: dict) -> int:
    """A period with requests whose pools include a decode or colocated one."""
    return next(i for i, p in enumerate(d["periods"]) if p["qps"] > 0
                and any(q["role"] != "prefill" and q["instances"] > 0 for q in p["pools"]))


def test_a_busy_period_without_decode_is_refused():
    d = _trace()
    i = _busy(d)
    assert render(d, "k8s", source="day.json")   # as solved: exported
    d["periods"][i]["pools"] = [q for q in d["periods"][i]["pools"] if q["role"] == "prefill"]
    with pytest.raises(BadInput, match=rf"day.json: periods\[{i}\].pools: no pool has decode capacity "
                                       rf"\(capacity_decode_tokens_per_s\)"):
        render(d, "k8s", source="day.json")
    d = _trace()
    for q in d["periods"][i]["pools"]:   # a running pool has an instance: the schedule's 0 is its absence
        if q["role"] != "prefill":
            q["instances"] = 0
    with pytest.raises(BadInput, match=rf"day.json: periods\[{i}\].pools\[\d+\].instances: Input should be greater "
                                       rf"than or equal to 1 \(got 0\)"):
        render(d, "k8s", source="day.json")


@pytest.mark.parametrize("value, why", [
    ("x", r"Input should be a valid number \(got 'x'\)"),
    (float("inf"), r"Infinity; a plan file holds finite numbers"),   # as plan simulate names it
    (-1.0, r"Input should be greater than or equal to 0 \(got -1.0\)"),
    (True, r"Input should be a valid number \(got true\)"),   # JSON's word (True until 2026-12-06)
])
def test_a_capacity_that_is_no_finite_number_is_refused(value, why):
    d = _trace()
    i = _busy(d)
    d["periods"][i]["pools"][0]["capacity_decode_tokens_per_s"] = value
    with pytest.raises(BadInput, match=rf"day.json: periods\[{i}\].pools\[0\].capacity_decode_tokens_per_s: {why}"):
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
    _both_refuse(d, "fleet.json", rf"fleet.json: service {re.escape(key)}: pools\[{i}\].instances: Input should be "
                                  rf"greater than or equal to 1")


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


def _quiet(d: dict) -> int:
    """A period with load other than the busiest (the one `plan simulate` runs by default)."""
    peak = max(range(len(d["periods"])), key=lambda i: d["periods"][i]["qps"])
    return next(i for i, p in enumerate(d["periods"]) if p["qps"] > 0 and i != peak)


@pytest.mark.parametrize("edit, field", [
    (lambda p: p.update(ep=8), r"pools\[0\]\.ep: not a key of a plan's pools"),
    (lambda p: p.update(batch=-5), r"pools\[0\]\.batch: Input should be greater than or equal to 0"),
    (lambda p: p["parallelism"].update(tp=3), r"pools\[0\]"),
])
def test_a_hand_edit_of_any_period_is_refused_by_export_and_simulate_alike(edit, field):
    """Every period with load is read as a plan before one is simulated or exported: a pool key,
    a negative batch or a broken layout in an hour other than the peak passed `plan simulate`
    (it reads the peak), and `plan export` took what the simulator refuses (a 2026-12-06 hunt)."""
    d = _trace()
    i = _quiet(d)
    edit(d["periods"][i]["pools"][0])
    _both_refuse(d, "day.json", rf"day.json: periods\[{i}\]\.{field}")


def test_a_day_plans_model_must_be_its_static_plans():
    d = _trace()
    d["model"] = "qwen3-32b"
    _both_refuse(d, "day.json", r"day.json: model: 'qwen3-32b', but the periods' pools are the static peak plan's, "
                                r"for deepseek-r1", "k8s")


def test_periods_out_of_order_are_refused_by_export():
    d = _trace()
    d["periods"][1]["index"] = 0
    with pytest.raises(BadInput, match=r"day.json: .*periods\[1\]\.index is 0; plan solve writes the periods in order"):
        render(d, "k8s", source="day.json")


def test_a_service_key_with_a_newline_is_refused_on_one_line():
    """A fleet plan's service key edited to 'a\\nb' split the error over two lines and named the
    pool instead of the key (a hunt): plan solve writes keys without control characters."""
    d = plan("fleet_mix")
    d["services"][0]["key"] = "chat\nrag"
    for run in (lambda: render(d, "k8s", source="f.json"), lambda: simulate_services(d, "f.json", requests=300)):
        with pytest.raises(BadInput, match=r"^f.json: services\[0\]\.key: 'chat\\nrag' holds a control character") as e:
            run()
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind, shown", [("bogus", "'bogus'"), (None, "null"), (3, "3")])   # JSON's spelling
def test_a_kind_plan_solve_does_not_write_is_refused(kind, shown):   # (until 2026-12-06 'None' and '3')
    d = plan("deepseek_qps")
    d["kind"] = kind
    _both_refuse(d, "p.json", rf"^p.json: kind: {shown}; plan solve writes kind: fleet \(a fleet plan\), "
                              r"kind: horizon")


@pytest.mark.parametrize("service", [["rag"], {"k": 1}])
def test_a_pool_service_that_is_no_text_is_bad_input(service):
    """A list or mapping as a pool's service crashed the file-index mapping (exit 5; a review)."""
    d = plan("fleet_mix")
    d["pools"][0]["service"] = service
    _both_refuse(d, "f.json", r"f.json: pools\[0\]\.service: .* is not a service of this plan")


@pytest.mark.parametrize("period", ["1_0", "+3", "3 1"])   # ' 3' is read as 3 (test_hostile_p)
def test_a_period_is_ascii_digits(period):
    with pytest.raises(BadInput, match=r"--period: 'peak', 'all' or a period index"):
        simulate_services(_trace(), "day.json", requests=300, period=period)


def test_instances_edited_by_hand_are_said_to_leave_the_router_weights_stale(recwarn):
    """router.json weighs pools by their capacity_* (totals over the plan's own instances): a pool
    scaled from 7 instances to 5 by hand kept its share of the traffic without a word (a hunt).
    The pools' cards against totals.cards say so, in README.txt and on stderr; no example plan
    as solved gets the note."""
    from tests.test_export import PLANS
    for name in PLANS + ["fleet_mix"]:
        for target in ("vllm", "k8s"):
            try:
                files = render(plan(name), target)
            except BadInput:   # a plan this target refuses (tests/test_export.py)
                continue
            assert "totals.cards says" not in files["README.txt"], (name, target)
    d = plan("deepseek_qps")
    assert (d["pools"][0]["gpu"], d["pools"][0]["instances"], d["totals"]["cards"]["h200"]) == ("h200", 7, 56)
    d["pools"][0]["instances"] = 5
    readme = render(d, "vllm", source="p.json")["README.txt"]
    assert "  - decode-h200-0: the pools hold 40 h200 cards where the plan's totals.cards says 56 (instances " \
           "edited by hand?): router.json weighs each pool by its capacity_*" in readme
    assert any("the pools hold 40 h200 cards" in str(w.message) for w in recwarn)


def test_every_line_of_a_fleet_message_names_the_files_pool_index():
    """A message of several lines (one per field pydantic refuses) had only its first renumbered:
    chat+coding's second pool read pools[1], the file's rag pool."""
    d = plan("fleet_mix")
    assert [p["service"] for p in d["pools"]][3:5] == ["chat+coding", "chat+coding"]
    d["pools"][3]["instances"], d["pools"][4]["instances"] = -1, -2
    _both_refuse(d, "f.json", r"f.json: service chat\+coding: pools\[3\]\.instances: .*\n"
                              r"f.json: service chat\+coding: pools\[4\]\.instances: .*\(got -2\)")


def test_a_nan_in_a_day_plan_is_named_alike_by_export_and_simulate():
    d = _trace()
    d["periods"][3]["pools"][0]["batch"] = float("nan")
    _both_refuse(d, "day.json", r"^day.json: periods\[3\]\.pools\[0\]\.batch: NaN; a plan file holds finite numbers")


@pytest.mark.parametrize("target", ["vllm", "sglang"])
def test_a_router_named_like_another_services_pool_does_not_replace_its_script(target):
    """Pool and router file names come from the service names: service 'a-prefill-h100-1's router
    pd-router-a-prefill-h100-1.sh replaced the launch script of pool 1, the h100 prefill pool of
    service 'pd-router-a' (exit 0, that pool left without a script; hostile-input hunt, 2026-12-06)."""
    d = plan("fleet_mix")
    names = {"rag": "pd-router-a", "chat+coding": "a-prefill-h100-1"}
    for s in d["services"]:
        s["key"] = names.get(s["key"], s["key"])
    for p in d["pools"]:
        p["service"] = names.get(p["service"], p["service"])
    assert (d["pools"][1]["role"], d["pools"][1]["gpu"], d["pools"][1]["service"]) == ("prefill", "h100", "pd-router-a")
    with pytest.raises(BadInput, match=r"^f\.json: two files of the export would be named "
                                       r"pd-router-a-prefill-h100-1\.sh \(their services' names make one name\)"):
        render(d, target, source="f.json")
    files = render(plan("fleet_mix"), target, source="f.json")   # the plan as written: every pool its script
    assert {"rag-prefill-h100-1.sh", "pd-router-rag.sh", "pd-router-chat-coding.sh"} <= set(files)
