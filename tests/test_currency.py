"""Any currency: `pricing.currency`, prices in it, the catalog's RMB prices converted at the stated
rate, the old `*_rmb_*` keys still read (with a one-line deprecation note), every output labelled.

Why a USD plan must equal the RMB plan: the objective is the cost divided by the cheapest node's
cost (milp.set_objective), so multiplying every price by one rate changes no choice; each cost
is the RMB cost times the rate (units of the currency per RMB).
"""

from __future__ import annotations

import json
import re
import warnings

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from planner.errors import BadInput, PlannerDeprecation
from planner.input.files import validate
from planner.input.problem import Problem
from planner.input.scenario import Scenario
from planner.plan.solve import solve
from planner.report.json import plan_json
from planner.studies.scenarios import apply

RATE = 0.1408   # USD per RMB (1 / 7.1, the catalog's own conversion)
SMALL = {
    "name": "small", "model": "llama-3.1-8b",
    "workload": {"qps": 20, "input_tokens": 1000, "output_tokens": 200},
    "slo": {"ttft": "2s", "tpot": "50ms"},
    "gpus": [{"id": "h100", "price_per_gpu_hour": 12.15}, "h20"],
    "serving": {"parallelism": {"max_cards_per_instance": 8}},
    "pricing": {"sell_per_million_output_tokens": 16},
}


def usd(data: dict) -> dict:
    """The same problem priced in USD: explicit prices and selling prices times RATE."""
    out = json.loads(json.dumps(data))
    out["gpus"] = [{**g, "price_per_gpu_hour": g["price_per_gpu_hour"] * RATE} if isinstance(g, dict) else g
                   for g in out["gpus"]]
    out["pricing"] = {"currency": "USD", "exchange_rate_per_rmb": RATE,
                      "sell_per_million_output_tokens": 16 * RATE}
    return out


def pools(d: dict) -> list:
    return [(p["role"], p["gpu"], p["parallelism"]["label"], p["instances"], p["design_batch"]) for p in d["pools"]]


def test_usd_plan_is_the_rmb_plan_with_costs_times_the_rate():
    rmb = plan_json(solve(Problem.model_validate(SMALL), "rmb"))
    dollars = plan_json(solve(Problem.model_validate(usd(SMALL)), "usd"))
    assert (rmb["currency"], dollars["currency"]) == ("RMB", "USD")
    assert pools(dollars) == pools(rmb)
    for key in ("cost_per_hour", "cost_per_million_output_tokens", "cost_per_million_tokens",
                "revenue_per_hour", "margin_per_hour"):
        assert dollars[key] == pytest.approx(rmb[key] * RATE, rel=1e-9), key


def test_every_output_labels_the_currency(tmp_path):
    path = tmp_path / "usd.yaml"
    path.write_text(yaml.safe_dump(usd(SMALL) | {"limits": {"budget_per_hour": 1000}}))
    r = CliRunner().invoke(main, ["solve", str(path), "--checks"])
    assert r.exit_code == 0, r.output
    assert "USD/h" in r.stdout and "USD per million output tokens" in r.stdout and "RMB" not in r.stdout
    assert "budget_cap" in r.stdout
    scen = tmp_path / "cut.yaml"
    scen.write_text("gpus: {update: {h20: {price_change_percent: -10}}}\n")
    r = CliRunner().invoke(main, ["whatif", str(path), str(scen)])
    assert r.exit_code == 0, r.output
    assert "USD/h" in r.stdout and "USD/M out" in r.stdout


def test_catalog_price_without_a_rate_is_bad_input():
    p = Problem.model_validate({**SMALL, "pricing": {"currency": "eur"}})
    assert p.pricing.currency == "EUR"
    with pytest.raises(BadInput, match=r"p.yaml: pricing.exchange_rate_per_rmb: the problem prices in EUR but "
                                       r"gpus\[1\] \(h20\) takes its price from the catalog"):
        solve(p, "p.yaml")


def test_percentage_price_change_converts_the_catalog_price():
    base = Problem.model_validate(usd(SMALL))
    q = apply(base, Scenario.model_validate({"gpus": {"update": {"h20": {"price_change_percent": -50}}}}))
    h20 = next(g for g in q.gpus if g.id == "h20")
    assert h20.price_per_gpu_hour == pytest.approx(7.5 * RATE * 0.5)   # catalog H20: 7.5 RMB/h


@pytest.mark.parametrize("pricing, reason", [
    ({"currency": "US$"}, "is not an ISO 4217 currency code"),
    ({"currency": "RMB", "exchange_rate_per_rmb": 0.14}, "the currency is RMB, so the rate is 1"),
    ({"currency": "USD", "exchange_rate_per_rmb": 0}, "exchange_rate_per_rmb"),
])
def test_bad_pricing(pricing, reason):
    with pytest.raises(BadInput, match=reason.replace("$", r"\$")):
        validate(Problem, {**SMALL, "pricing": pricing}, "p.yaml")


def test_unknown_currency_code_is_refused_with_exit_2(tmp_path):
    """Three letters ISO 4217 does not list (`ZZZ`, a typo `UDS`) were taken until 2026-12-06 and
    every cost printed in them; a listed code in any case still reads, and the schema agrees."""
    path = tmp_path / "p.yaml"
    for code, hint in (("ZZZ", ""), ("uds", ". Did you mean 'UZS' or 'USN' or 'USD'?")):
        path.write_text(yaml.safe_dump(usd(SMALL) | {"pricing": {"currency": code, "exchange_rate_per_rmb": RATE}}))
        r = CliRunner().invoke(main, ["solve", str(path)])
        assert r.exit_code == 2, r.output
        assert r.stderr == (f"error: {path}: pricing.currency: {code.upper()} is not an ISO 4217 currency code "
                            f"(USD, EUR, CNY, RMB, …){hint} (got {code!r})\n")
    for code, read in (("eur", "EUR"), (" Chf ", "CHF"), ("RMB", "RMB"), ("cny", "CNY"), ("cnh", "CNH")):
        assert Problem.model_validate({**SMALL, "pricing": {"currency": code}}).pricing.currency == read
    from planner.input.currency import PATTERN
    assert [bool(re.match(PATTERN, c)) for c in ("USD", "eur", " Chf ", "RMB", "CNH", "ZZZ", "XXX", "US")] == \
        [True, True, True, True, True, False, False, False]


def test_old_keys_are_read_with_one_deprecation_note_each():
    old = {**SMALL, "gpus": [{"id": "h100", "price_rmb_per_gpu_hour": 12.15, "owned_nodes": 1,
                              "owned_cost_rmb_per_gpu_hour": 3}, {"id": "h20", "price_rmb_per_gpu_hour": 7}],
           "limits": {"budget_rmb_per_hour": 500}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = validate(Problem, old, "old.yaml")
    notes = [str(w.message) for w in caught if issubclass(w.category, PlannerDeprecation)]
    assert notes == ["old.yaml: price_rmb_per_gpu_hour is deprecated; write price_per_gpu_hour "
                     "(same value, in the problem's currency)",
                     "old.yaml: owned_cost_rmb_per_gpu_hour is deprecated; write owned_cost_per_gpu_hour "
                     "(same value, in the problem's currency)",
                     "old.yaml: budget_rmb_per_hour is deprecated; write budget_per_hour "
                     "(same value, in the problem's currency)"]
    assert (p.gpus[0].price_per_gpu_hour, p.gpus[0].owned_cost_per_gpu_hour, p.gpus[1].price_per_gpu_hour,
            p.limits.budget_per_hour) == (12.15, 3, 7, 500)


def test_old_and_new_key_together_is_an_error():
    with pytest.raises(BadInput, match=r"gpus\[0\]: give price_per_gpu_hour or the deprecated "
                                       r"price_rmb_per_gpu_hour, not both"):
        validate(Problem, {**SMALL, "gpus": [{"id": "h100", "price_per_gpu_hour": 1,
                                              "price_rmb_per_gpu_hour": 2}]}, "p.yaml")


def test_cli_prints_the_deprecation_on_stderr_only(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "limits": {"budget_rmb_per_hour": 500}}))
    r = CliRunner().invoke(main, ["solve", str(path), "--json"])
    assert r.exit_code == 0, r.output
    json.loads(r.stdout)
    assert r.stderr == (f"warning: {path}: budget_rmb_per_hour is deprecated; write budget_per_hour "
                        f"(same value, in the problem's currency)\n")
