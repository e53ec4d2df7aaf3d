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


def _rag_at(tmp_path, market):
    d = yaml.safe_load((ROOT / "problems" / "rag_long_context.yaml").read_text())
    d.setdefault("pricing", {})["gpu_market"] = market
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    return load_problem(f)


def test_gpu_market_takes_each_catalog_price_from_that_market_where_there_is_one(tmp_path):
    """pricing.gpu_market: global prices H100 and H200 at their RunPod rates (catalog other_prices:
    $2.69 and $3.59 × 7.1 RMB/USD); H20 has no global price and keeps its China one, which the
    plan says; B200 and MI300X are global already."""
    from planner.plan.resolve import resolve
    res = resolve(_rag_at(tmp_path, "global"), "rag")
    got = {o.id: (round(o.price_per_card_hour, 2), o.price_market) for o in res.gpus}
    assert got["h100"] == (round(2.69 * 7.1, 2), "global") == (19.10, "global")
    assert got["h200"] == (round(3.59 * 7.1, 2), "global") == (25.49, "global")
    assert got["h20"] == (7.50, "china")
    assert got["b200"] == (42.46, "global")
    default = {o.id: o.price_per_card_hour for o in resolve(load_problem(ROOT / "problems" / "rag_long_context.yaml"),
                                                            "rag").gpus}
    assert default["h100"] == 12.15 and default["h200"] == 20.83
    plan = solve(_rag_at(tmp_path, "global"), "rag")
    markets = plan_json(plan)["totals"]["catalog_price_markets"]
    assert markets["h100"] == "global" and markets["h20"] == "china"
    assert "Prices: catalog prices from different markets (china: h20; global: b200, h100, h200, mi300x)" \
        in render_plan(plan)


def test_gpu_market_china_takes_the_china_price_of_a_global_card(tmp_path):
    from planner.plan.resolve import resolve
    d = yaml.safe_load((ROOT / "problems" / "deepseek_qps.yaml").read_text())
    d["gpus"] = ["a100-80g", "h100"]
    d["model"], d["precision"] = "llama-3.1-70b", {"weights": "fp8"}
    d["pricing"] = {"gpu_market": "china"}
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    got = {o.id: (o.price_per_card_hour, o.price_market) for o in resolve(load_problem(f), "p").gpus}
    assert got == {"a100-80g": (5.15, "china"), "h100": (12.15, "china")}


def test_bad_gpu_market_and_repeated_catalog_markets_are_bad_input(tmp_path):
    d = yaml.safe_load((ROOT / "problems" / "deepseek_qps.yaml").read_text())
    d["pricing"]["gpu_market"] = "us"
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(d))
    with pytest.raises(BadInput, match=r"p.yaml: pricing.gpu_market: .*'china' or 'global'"):
        load_problem(f)
    cat = yaml.safe_load((ROOT / "catalogs" / "gpus.yaml").read_text())
    h100 = next(g for g in cat["gpus"] if g["id"] == "h100")
    h100["other_prices"].append(dict(h100["other_prices"][0]))
    c = tmp_path / "gpus.yaml"
    c.write_text(yaml.safe_dump(cat, allow_unicode=True))
    load_gpus.cache_clear()
    with pytest.raises(BadInput, match=r"gpus\[0\].*one price per market"):
        load_gpus(str(c))


def test_catalog_listing_shows_the_other_markets_price():
    import json

    from click.testing import CliRunner

    import cli
    d = {g["id"]: g for g in json.loads(CliRunner().invoke(cli.main, ["catalog", "gpus", "--json"]).output)}
    assert d["h200"]["other_prices"] == [{"market": "global", "rmb_per_gpu_hour": 25.49}]
    assert d["b200"]["other_prices"] == []
    text = CliRunner().invoke(cli.main, ["catalog", "gpus"]).output
    assert "other market" in text.splitlines()[0] and "global 25.49" in text
