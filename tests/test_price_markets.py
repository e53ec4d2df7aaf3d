"""Catalog prices carry the market they were read in; a plan that compares catalog prices from
different markets says so (text) and lists them (JSON `totals.catalog_price_markets`)."""

from pathlib import Path

import pytest
import yaml

from planner.catalog.schemas import load_gpus
from planner.errors import BadInput
from planner.input.load import load_problem
from planner.plan.solve import solve
from planner.report.json import plan_json
from planner.report.text import render_plan

ROOT = Path(__file__).resolve().parents[1]


def test_every_catalog_price_names_its_market():
    gpus = load_gpus()
    assert {g.price_market for g in gpus.values()} == {"china", "global"}
    assert gpus["h100"].price_market == "china" and gpus["b200"].price_market == "global"


def test_a_plan_over_two_markets_says_so():
    """rag_long_context offers H100, H200, H20 (China prices) beside B200 and MI300X (US/EU
    clouds' on-demand prices), all from the catalog."""
    plan = solve(load_problem(ROOT / "problems" / "rag_long_context.yaml"), "rag")
    markets = plan_json(plan)["totals"]["catalog_price_markets"]
    assert markets == {"b200": "global", "h100": "china", "h20": "china", "h200": "china", "mi300x": "global"}
    text = render_plan(plan)
    assert ("Prices: catalog prices from different markets (china: h100, h20, h200; global: b200, mi300x)"
            in text)


def test_prices_set_by_the_problem_are_not_catalog_prices():
    """The seed prices its H200 itself (the seed note's contract); H800, H20 and H100 are China
    catalog prices: one market, no line."""
    plan = solve(load_problem(ROOT / "problems" / "deepseek_qps.yaml"), "seed")
    d = plan_json(plan)
    assert d["totals"]["catalog_price_markets"] == {"h100": "china", "h20": "china", "h800": "china"}
    assert "Prices:" not in render_plan(plan)


def test_a_catalog_price_without_a_market_is_bad_input(tmp_path):
    raw = yaml.safe_load((ROOT / "catalogs" / "gpus.yaml").read_text(encoding="utf-8"))
    del raw["gpus"][0]["price_rmb_per_gpu_hour"]["market"]
    p = tmp_path / "gpus.yaml"
    p.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(BadInput, match=r"price_rmb_per_gpu_hour\.market"):
        load_gpus(str(p))
