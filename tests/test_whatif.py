"""`plan whatif`: overlays, break-even prices, owned inventory, power caps, strict scenario files.

Each solve of the seed problem takes well under a second; the tests share one base plan
and keep re-solves few. Expectations are relations between solves (an empty overlay is the
base; a price just below the reported break-even keeps the GPU in) plus hand-checked arithmetic.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from planner.catalog.schemas import get_gpu
from planner.input.load import load_problem
from planner.input.scenario import Buy, Scenario
from planner.plan.solve import solve
from planner.report.json import plan_json
from planner.report.whatif import pools_line
from planner.studies.scenarios import apply, owned_cost
from planner.studies.whatif import breakeven, cost_split, pool_costs, run_scenarios, with_price

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "problems" / "deepseek_qps.yaml"


@pytest.fixture(scope="module")
def base():
    return load_problem(BASE)


@pytest.fixture(scope="module")
def base_plan(base):
    return solve(base, str(BASE))


def _scenario(data: dict) -> Scenario:
    return Scenario.model_validate(data)


def _cards(plan, gpu: str) -> int:
    return sum(c.cards * n for c, n in plan.chosen.items() if c.gpu == gpu)


def test_empty_scenario_is_the_base_plan(base, base_plan):
    p = apply(base, Scenario(), "empty.yaml")
    assert p == base
    plan = solve(p, "empty.yaml")
    assert plan.cost_per_hour == pytest.approx(base_plan.cost_per_hour, rel=1e-9)
    assert pools_line(plan) == pools_line(base_plan)
    assert plan.nodes == base_plan.nodes


def test_overlay_arithmetic_by_hand(base):
    """-20 % of the seed's 20.83 RMB/GPU-h is 16.664; 3× of 200 req/s is 600; other keys stay."""
    p = apply(base, _scenario({"gpus": {"update": {"H200": {"price_change_percent": -20}}},
                               "workload": {"qps_multiplier": 3}, "slo": {"tpot": "40ms"}}))
    h200 = next(g for g in p.gpus if g.id == "h200")
    assert h200.price_per_gpu_hour == pytest.approx(16.664)
    assert p.workload.qps == 600 and p.workload.input_tokens == 1000
    assert p.slo.tpot == pytest.approx(0.040) and p.slo.ttft == pytest.approx(2.0)
    # percent on a GPU without a price override applies to its catalog price (H20: 7.50)
    q = apply(base, _scenario({"gpus": {"update": {"h20": {"price_change_percent": 10}}}}))
    assert next(g for g in q.gpus if g.id == "h20").price_per_gpu_hour == pytest.approx(8.25)
    r = apply(base, _scenario({"gpus": {"remove": ["h100", "h800"], "add": ["l40s"]}}))
    assert [g.id for g in r.gpus] == ["h200", "h20", "l40s"]
    s = apply(base, _scenario({"gpus": {"set": ["h20", "ascend-910b"]}}))
    assert [g.id for g in s.gpus] == ["h20", "ascend-910b"]
    assert [g.id for g in base.gpus] == ["h200", "h800", "h20", "h100"]  # input untouched


def test_buy_becomes_owned_nodes_that_cost_their_power_to_run(base):
    """2.3 M RMB / (36 months · 720 h) / 8 cards = 11.092 RMB/card-h of amortisation, paid whether
    the card runs or not; 700 W · 1.3 · 0.6 RMB/kWh = 0.546 RMB/card-h to run it: what the MILP
    weighs against the rent."""
    b = Buy(gpu="h200", nodes=8, price_per_node=2.3e6, months=36, electricity_per_kwh=0.6, pue=1.3)
    oc = owned_cost(b, get_gpu("h200"))
    assert oc.amortisation_per_gpu_hour == pytest.approx(11.0918, abs=1e-4)
    assert oc.power_per_gpu_hour == pytest.approx(0.546)
    p = apply(base, Scenario(buy=b))
    h200 = next(g for g in p.gpus if g.id == "h200")
    assert (h200.owned_nodes, h200.owned_cost_per_gpu_hour) == (8, pytest.approx(0.546))


def test_a_type_removed_and_bought_is_its_bought_nodes_alone(base):
    """`remove: [h20]` with `buy: {gpu: h20, nodes: 2}` re-added H20 to rent without a cap, and the
    plan ran a third node rented beside the two bought (a hostile-input hunt, 2026-12-07): the
    removed type now comes back with the bought nodes alone (max_nodes 2). Bought without a
    remove, a type the base does not list is rented beyond them, as before."""
    b = Buy(gpu="h20", nodes=2, price_per_node=5e5, months=12, electricity_per_kwh=0.6)
    p = apply(base, _scenario({"gpus": {"remove": ["h20"]}, "buy": b.model_dump()}))
    h20 = next(g for g in p.gpus if g.id == "h20")
    assert (h20.owned_nodes, h20.max_nodes) == (2, 2)
    q = apply(base, _scenario({"gpus": {"remove": ["h20"]}, "buy": {**b.model_dump(), "gpu": "l40s"}}))
    l40s = next(g for g in q.gpus if g.id == "l40s")
    assert (l40s.owned_nodes, l40s.max_nodes) == (2, None)


def test_a_purchase_is_sunk_used_or_not(base, tmp_path):
    """Two purchases the planner priced per node *used* until 2026-12-03: 14 H200 nodes (one more
    than the plan needs: its amortisation was missing from the scenario's cost, −35.9 % shown where
    the rent-or-buy table said −31.2 %), and 8 nodes at 5 M RMB (24.11 RMB/card-h of amortisation,
    above the 20.83 rent: the plan rented 9 nodes beside 8 idle bought ones, payback 'never').
    Now the scenario costs its plan plus the amortisation of every bought node, equal to the
    table's buy cost per month / 720, and the bought nodes run whenever their power is below the
    rent."""
    def buy(name, nodes, price):
        f = tmp_path / f"{name}.yaml"
        f.write_text(f"name: {name}\nbuy: {{gpu: h200, nodes: {nodes}, price_per_node: {price}, months: 36, "
                     f"electricity_per_kwh: 0.6, pue: 1.3}}\n")
        return str(f)
    base_o, many, dear = run_scenarios(base, "base.yaml", [buy("buy-14", 14, 2300000), buy("buy-5m", 8, 5000000)])
    for o, nodes, price in ((many, 14, 2.3e6), (dear, 8, 5e6)):
        rb = o.rent_or_buy
        amortisation = nodes * price / (36 * 720)
        assert o.amortisation_per_hour == pytest.approx(amortisation)
        assert o.cost_per_hour == pytest.approx(o.plan.cost_per_hour + amortisation)
        assert o.cost_per_hour * 720 == pytest.approx(rb.buy_monthly)
        assert o.plan.cost_per_hour * 720 == pytest.approx(rb.cash_monthly)
        assert sum(cost_split(o).values()) == pytest.approx(o.cost_per_hour)
        assert o.cost_per_million_output_tokens == pytest.approx(o.cost_per_hour / (200 * 1000 * 3600 / 1e6))
        d, pct = o.delta(base_o)
        assert d == pytest.approx(o.cost_per_hour - base_o.cost_per_hour)
    assert many.rent_or_buy.nodes_used < 14 and many.cost_per_hour > many.plan.cost_per_hour
    from planner.report.whatif import _scenario_row, outcome_dict  # the idle bought nodes are in the row
    idle = 14 - many.rent_or_buy.nodes_used
    assert outcome_dict(many, base_o)["idle_bought_nodes"] == {"h200": idle}
    assert outcome_dict(dear, base_o)["idle_bought_nodes"] == {} == outcome_dict(base_o, base_o)["idle_bought_nodes"]
    assert f"/{many.rent_or_buy.nodes_used} +{idle} idle" in _scenario_row(many, base_o)[6]
    assert dear.rent_or_buy.nodes_used == 8 and dear.plan.nodes["h200"][1] == 8
    assert dear.rent_or_buy.payback_months == pytest.approx(
        8 * 5e6 / (dear.rent_or_buy.rent_monthly - dear.rent_or_buy.cash_monthly))


def test_owned_inventory_is_used_before_rented(base, base_plan):
    """Own 4 H200 nodes at 5 RMB/card-h (below the 20.83 rent and every other card's price): all 4
    are used, and the cost is at most the base's with its rented H200 nodes (up to 4) repriced:
    min(4, rented)·8·(20.83 − 5) RMB/h cheaper, more if the plan moves load onto the cheap nodes."""
    rented_h200 = base_plan.nodes["h200"][0]
    assert rented_h200 >= 1
    own4 = {"owned_nodes": 4, "owned_cost_per_gpu_hour": 5}
    p = apply(base, _scenario({"gpus": {"update": {"h200": own4}}}))
    plan = solve(p, "own.yaml")
    rent, own = plan.nodes["h200"]
    assert own == 4
    assert plan.cost_per_hour <= base_plan.cost_per_hour - min(4, rented_h200) * 8 * (20.83 - 5.0) + 1e-6
    assert sum(pool_costs(plan).values()) == pytest.approx(plan.cost_per_hour)


def test_binding_power_cap_raises_cost(base):
    """With H200 priced out (60 RMB/GPU-h) the cheapest fleet is power-hungry H20/H100; a cap
    at 90 % of its power forces some of the dearer, more power-efficient H200 in."""
    pricey = with_price(base, "h200", 60.0)
    free = solve(pricey, "base")
    kw = plan_json(free)["totals"]["power_kw"]
    cap_kw = 0.9 * kw
    p = apply(pricey, _scenario({"limits": {"power": f"{cap_kw:.3f}kW"}}))
    plan = solve(p, "power.yaml")
    assert plan.cost_per_hour > free.cost_per_hour
    assert plan_json(plan)["totals"]["power_kw"] <= cap_kw + 1e-6


def test_a_null_limit_lifts_the_bases_cap(base, tmp_path):
    """`limits: {power: null, budget_per_hour: null}` removes the base's caps (as a problem
    without them): the seed under a cap that binds costs more than the scenario that lifts it,
    which is the seed's own plan."""
    capped = apply(base, _scenario({"limits": {"power": "150kW", "budget_per_hour": 10_000}}))
    path = _write(tmp_path, "lift.yaml", "limits: {power: null, budget_per_hour: null}\n")
    from planner.input.scenario import load_scenario
    lifted = apply(capped, load_scenario(path), path)
    assert (capped.limits.power, capped.limits.budget_per_hour) == (150_000.0, 10_000)
    assert (lifted.limits.power, lifted.limits.budget_per_hour) == (None, None)
    assert lifted.model_dump() == base.model_dump()


def test_breakeven_both_sides(base, base_plan):
    """H100 is in the seed plan; its exit price is bracketed by [price_in, price_out]: just
    below price_in it is still used, just above price_out it is not. H800 (out at 12.15) has an
    entry price: below it H800 is used, above it not. Candidates are reused across re-solves."""
    used = [g.id for g in base.gpus if _cards(base_plan, g.id) > 0]
    unused = [g.id for g in base.gpus if _cards(base_plan, g.id) == 0]
    inside, outside = used[0], unused[0]
    be = {b.gpu: b for b in breakeven(base, str(BASE), [inside, outside], rel_tol=0.05)}
    for gid in (inside, outside):
        b = be[gid]
        assert b.in_base == (_cards(base_plan, gid) > 0)
        assert b.price_in is not None and b.price_out is not None
        assert b.price_in < b.price_out <= b.price_in + max(0.05 * b.base_price, 0.01) + 1e-9
        below = solve(with_price(base, gid, b.price_in * 0.99), "below")
        above = solve(with_price(base, gid, b.price_out * 1.01), "above")
        assert _cards(below, gid) > 0, gid
        assert _cards(above, gid) == 0, gid
    assert be[inside].in_base and be[inside].price > be[inside].base_price
    assert not be[outside].in_base and be[outside].price < be[outside].base_price


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text, field", [
    ("gpus:\n  update:\n    h200: {prise: 3}\n", "gpus.update.h200.prise: unknown key"),
    ("workload:\n  qsp: 3\n", "workload.qsp: unknown key 'qsp'. Did you mean 'qps'?"),
    ("traffic: 3\n", "traffic: unknown key"),
    ("buy: {gpu: h200, nodes: 2, price_per_node: 1, months: 36}\n",
     "buy.electricity_per_kwh: required field is missing"),
    ("gpus: {remove: [b300]}\n", "gpus.remove[0]: GPU 'b300' is not in the base list"),
    # a null was read as 'unchanged' without a word (a 2026-12-06 hunt): only a limit lifts with it
    ("serving: {redundancy: null}\n", "serving.redundancy: null; a scenario names only what changes"),
    ("workload: {qps: null}\n", "workload.qps: null; a scenario names only what changes"),
    ("slo: {ttft: null}\n", "slo.ttft: null"),
    ("gpus:\n  update:\n    h200: {price_per_gpu_hour: null}\n", "gpus.update.h200.price_per_gpu_hour: null"),
    ("name: null\n", "name: null"),
    ("buy: null\n", "buy: null"),
    ("gpus: {add: [{id: h800, max_cards: null}]}\n", "gpus.add[0].max_cards: null"),   # in a list too (a review)
    ("limitz: {power: null}\n", "limitz: unknown key 'limitz'. Did you mean 'limits'?"),   # the typo first
    ("limits: null\n", "limits: Input should be a mapping of its fields (got null)"),
])
def test_bad_scenario_exits_2_naming_file_and_field(tmp_path, text, field):
    path = _write(tmp_path, "bad.yaml", text)
    r = CliRunner().invoke(main, ["whatif", str(BASE), path])
    assert r.exit_code == 2, r.output
    assert f"{path}: {field}" in r.output
    assert "Traceback" not in r.output


def test_scenario_values_the_merged_base_refuses_exit_2_naming_the_scenario(tmp_path):
    """An exchange rate on an RMB base is refused once merged (the same key in a problem file
    is): exit 2 naming the scenario file and pricing, not an internal error (exit 5)."""
    path = _write(tmp_path, "rate.yaml", "pricing: {exchange_rate_per_rmb: 2}\n")
    r = CliRunner().invoke(main, ["whatif", str(BASE), path])
    assert r.exit_code == 2, r.output
    assert f"{path} (applied to the base): pricing: exchange_rate_per_rmb: the currency is RMB" in r.output
    assert "internal error" not in r.output and "Traceback" not in r.output


def test_scenario_sets_slo_confidence_as_docs_list(tmp_path, base):
    """docs/problem-files.md lists confidence among a scenario's slo keys; it was refused as unknown."""
    s = _scenario({"slo": {"confidence": "90%"}})
    assert apply(base, s).slo.confidence == 90.0
    path = _write(tmp_path, "conf.yaml", "slo: {confidence: 100%}\n")
    r = CliRunner().invoke(main, ["whatif", str(BASE), path])
    assert r.exit_code == 2 and f"{path}: slo.confidence: Input should be less than 100" in r.output, r.output


def test_cli_json_csv_plot_and_infeasible_row(tmp_path):
    """An impossible budget is a row marked infeasible with its reason, not a crash (exit 0)."""
    cheap = _write(tmp_path, "cheap.yaml",
                   "name: h200-cheaper\ngpus: {update: {h200: {price_change_percent: -20}}}\n")
    broke = _write(tmp_path, "broke.yaml", "name: broke\nlimits: {budget_per_hour: 100}\n")
    csv_path, png = tmp_path / "w.csv", tmp_path / "w.png"
    r = CliRunner().invoke(main, ["whatif", str(BASE), cheap, broke, "--json", "--csv", str(csv_path),
                                  "--plot", str(png)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    rows = {s["scenario"]: s for s in d["scenarios"]}
    assert list(rows) == ["base", "h200-cheaper", "broke"]
    assert rows["base"]["delta_cost_per_hour"] == 0
    assert rows["h200-cheaper"]["delta_cost_per_hour"] < 0
    assert rows["broke"]["status"] == "infeasible"
    assert "demand cannot be met within budget_cap" in rows["broke"]["reason"]
    assert rows["broke"]["plan"] is None and rows["broke"]["cost_per_hour"] is None
    split = rows["base"]["cost_split_per_hour"]
    assert sum(split.values()) == pytest.approx(rows["base"]["cost_per_hour"])
    table = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [t["scenario"] for t in table] == ["base", "h200-cheaper", "broke"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r2 = CliRunner().invoke(main, ["whatif", str(BASE), cheap, "--csv", cheap])
    assert r2.exit_code == 2 and "refusing to overwrite" in r2.output


def test_redundancy_scenario_prices_n_plus_1(base, base_plan):
    """A scenario may ask what N+1 costs: `serving: {redundancy: n_plus_1}` gives the plan of the
    problem with that setting, which costs more than the base and passes its n_plus_1 checks."""
    p = apply(base, _scenario({"serving": {"redundancy": "n_plus_1",
                                           "max_decode_utilization_percent": 90}}))
    assert p.serving.redundancy == "n_plus_1" and p.serving.max_decode_utilization_percent == 90
    assert p.serving.max_utilization_percent == base.serving.max_utilization_percent
    direct = base.model_copy(update={"serving": base.serving.model_copy(
        update={"redundancy": "n_plus_1", "max_decode_utilization_percent": 90})})
    assert p == direct
    plan = solve(p, "n1.yaml")
    assert plan.cost_per_hour > base_plan.cost_per_hour
    names = {c.name for c in plan.verification.checks if c.ok}
    assert {"n_plus_1[prefill]", "n_plus_1[decode]"} <= names
    with pytest.raises(ValueError):
        _scenario({"serving": {"redundancy": "n+2"}})


def test_a_scenario_of_the_same_cost_reads_plus_zero():
    """Two plans of one cost summed in a different order differ by a rounding error; the change
    against the base is +0, never −0 (power-80kW on the seed once printed `-0 (-0.0%)`)."""
    import math

    from planner.studies.whatif import cost_difference
    d = cost_difference(1888.5599999999997, 1888.56)
    assert d == 0.0 and math.copysign(1.0, d) == 1.0 and f"{d:+,.0f} ({100 * d / 1888.56:+.1f}%)" == "+0 (+0.0%)"
    assert cost_difference(1589.12, 1888.56) == -299.44



def test_a_price_change_beyond_a_million_percent_is_refused(tmp_path):
    """price_change_percent is bounded above (≤ 1e6 %): 1e300 % printed a 300-digit price."""
    from click.testing import CliRunner

    from cli import main
    sc = tmp_path / "pc.yaml"
    sc.write_text("gpus:\n  update:\n    h100: {price_change_percent: 1e300}\n")
    r = CliRunner().invoke(main, ["whatif", "problems/deepseek_qps.yaml", str(sc)])
    assert r.exit_code == 2 and "price_change_percent" in r.stderr and "1000000" in r.stderr, r.output


@pytest.mark.parametrize("field, value, why", [
    ("electricity_per_kwh", "1.7e308", "Input should be less than or equal to 1000000000"),
    ("electricity_per_kwh", "1e10", "Input should be less than or equal to 1000000000"),
    ("price_per_node", "1.7e308", "is above 1e+12 a node"), ("price_per_node", "1e13", "is above 1e+12 a node")])
def test_a_buy_priced_past_overflow_names_its_own_field(tmp_path, field, value, why):
    """A bought card's hourly cost derived from buy: beyond 1e300: the error named the merged
    problem's gpus[0].owned_cost_per_gpu_hour, which the scenario never wrote (electricity), or
    none came and the plan cost 2.36e305 an hour (the price per node, which the MILP does not see;
    hostile-input hunt, 2026-12-04). Both now exit 2 naming buy.<field>, each at its own bound
    (1e9 a kWh, 1e12 a node; a second hunt the same day: 1e300 a node printed a 300-digit cost)."""
    base = tmp_path / "base.yaml"
    base.write_text("model: llama-3.1-8b\nworkload: {qps: 10, input_tokens: 1000, output_tokens: 200}\n"
                    "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n")
    buy = {"gpu": "h100", "nodes": 1, "price_per_node": "1", "months": 1, "electricity_per_kwh": "0.6", field: value}
    s = tmp_path / "s.yaml"
    s.write_text("buy: {" + ", ".join(f"{k}: {v}" for k, v in buy.items()) + "}\n")
    r = CliRunner().invoke(main, ["whatif", str(base), str(s)])
    assert r.exit_code == 2 and f"s.yaml: buy.{field}: " in r.output and why in r.output, r.output


@pytest.mark.parametrize("tpot, noted", [("50", True), ("0.05", False), ("50ms", False)])
def test_a_scenarios_bare_tpot_is_noted_as_a_problems_is(tmp_path, tpot, noted):
    """`slo: {tpot: 50}` in a scenario planned 50 s a token in silence, where a problem file's
    says how it was read (a bare number is seconds)."""
    import warnings

    from planner.errors import PlannerNotice
    from planner.input.scenario import load_scenario
    p = tmp_path / "s.yaml"
    p.write_text(f"slo: {{tpot: {tpot}}}\n")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        s = load_scenario(p)
    notes = [str(w.message) for w in got if issubclass(w.category, PlannerNotice)]
    assert notes == ([f"{p}: slo.tpot: '50' is read as 50 s a token (a bare number is seconds); write 50ms for "
                      f"milliseconds"] if noted else [])
    assert s.slo.tpot is not None


def test_a_dollar_sign_in_a_name_is_drawn_as_written(tmp_path):
    """matplotlib read '$…$' in a scenario or problem name as a TeX formula and failed to parse
    '$\\frac{$' (exit 5, 'internal error', after every solve had run; a hostile-input hunt): text is
    drawn as written now, in every chart."""
    problem = tmp_path / "p.yaml"
    problem.write_text("name: 'cost in $\\frac{$'\nmodel: llama-3.1-70b\n"
                       "workload: {qps: 20, input_tokens: 1500, output_tokens: 400}\n"
                       "slo: {ttft: 1s, tpot: 40ms}\ngpus: [h100]\n")
    scenario = _write(tmp_path, "s.yaml", "name: 'x $\\frac{$'\n")
    png = tmp_path / "w.png"
    r = CliRunner().invoke(main, ["whatif", str(problem), scenario, "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(main, ["sweep", str(problem), "--tpot", "30ms,60ms", "--no-per-gpu",
                                  "--out", str(tmp_path / "sw")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sw" / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_price_or_cap_change_reaches_a_gpu_written_with_spaces_or_capitals():
    """with_price and the availability relaxation compared `g.id.lower()` with the catalog id: a GPU
    written ' L40S' kept its price (break-even 'still in the plan at 634.24') and its cap (a
    relaxation '97 → 97'), where plan solve reads it as l40s (a 2026-12-05 hunt)."""
    from planner.input.problem import Problem
    p = Problem.model_validate({"model": "llama-3.1-8b", "workload": {"qps": 5, "input_tokens": 1000,
                                                                      "output_tokens": 200},
                                "slo": {"ttft": "2s", "tpot": "50ms"},
                                "gpus": [{"id": "h100 ", "max_nodes": 1}, {"id": " L40S", "max_nodes": 1}]})
    assert [g.price_per_gpu_hour for g in with_price(p, "l40s", 3.0).gpus] == [None, 3.0]
    clean = p.model_copy(update={"gpus": [g.model_copy(update={"id": g.id.strip().lower()}) for g in p.gpus]})
    assert solve(with_price(p, "l40s", 3.0), "p").cost_per_hour == \
        pytest.approx(solve(with_price(clean, "l40s", 3.0), "p").cost_per_hour)


def test_a_gpu_updated_twice_or_bought_beside_its_own_nodes_is_refused():
    """Two gpus.update keys naming one GPU were both applied (−10 % twice: −19 %); buy: of a type the
    base owns nodes of replaced them (two owned nodes gone, the scenario 25 % dearer, unsaid)."""
    from planner.errors import BadInput
    from planner.input.problem import Problem
    base = Problem.model_validate({"model": "llama-3.1-8b", "workload": {"qps": 5, "input_tokens": 1000,
                                                                         "output_tokens": 200},
                                   "slo": {"ttft": "2s", "tpot": "50ms"},
                                   "gpus": [{"id": "h100", "owned_nodes": 2, "owned_cost_per_gpu_hour": 2}]})
    twice = _scenario({"gpus": {"update": {"h100": {"price_change_percent": -10},
                                           "H100": {"price_change_percent": -10}}}})
    with pytest.raises(BadInput, match=r"s.yaml: gpus.update.H100: the GPU of gpus.update.h100 too"):
        apply(base, twice, "s.yaml")
    buy = _scenario({"buy": {"gpu": "h100", "nodes": 1, "price_per_node": 2_000_000, "months": 36,
                             "electricity_per_kwh": 0.8}})
    with pytest.raises(BadInput, match=r"s.yaml: buy.gpu: the base already owns 2 h100 node\(s\)"):
        apply(base, buy, "s.yaml")


def test_sensitivity_holds_the_time_limit_and_the_scenarios_amortisation(monkeypatch):
    """`--time-limit` held the scenarios' solves, not the re-solves of --sensitivity and
    --breakeven (a base stopped at 4 ms read a TPOT 1 ms looser as 1,353 an hour cheaper); a
    bought node's amortisation was in the table's cost, not in the sensitivity's (424 beside 1,134)."""
    from planner.studies import whatif
    seen = []
    real = whatif.solve_outcome

    def spy(*a, **k):
        seen.append(k.get("time_limit"))
        return real(*a, **k)
    monkeypatch.setattr(whatif, "solve_outcome", spy)
    base = load_problem(BASE)
    plan = solve(base, "base")
    rows = whatif.sensitivity(plan, "base", time_limit=7.0, fixed_per_hour=100.0)
    assert seen and set(seen) == {7.0}
    tpot = next(r for r in rows if r.limit == "tpot")
    assert tpot.cost_before == pytest.approx(plan.cost_per_hour + 100.0)
    relaxed = solve(base.model_copy(update={"slo": base.slo.model_copy(update={"tpot": base.slo.tpot + 1e-3})}))
    assert tpot.cost_after == pytest.approx(relaxed.cost_per_hour + 100.0)
    seen.clear()
    whatif.breakeven(base, "base", ["h20"], time_limit=9.0)
    assert seen and set(seen) == {9.0}


@pytest.mark.parametrize("budget, status", [(60, None), (119, "infeasible"), (200, "optimal")])
def test_a_purchase_s_amortisation_counts_against_the_scenario_s_budget(tmp_path, budget, status):
    """Two H20 nodes bought at 500,000 over 12 months: 2 × 500,000 / (12 × 720) = 115.74 an hour,
    paid whether they run or not. The budget held the plan alone (their electricity), so a scenario
    under a budget of 60 read 'optimal' at 119.58 an hour (a hunt). The budget now holds the whole:
    60 cannot pay the amortisation (exit 2), 119 leaves 3.26 for a plan that needs 3.84 (infeasible),
    200 plans 119.58."""
    base = _write(tmp_path, "base.yaml", "name: bb\nmodel: llama-3.1-8b\n"
                  "workload: {qps: 100, input_tokens: 1000, output_tokens: 200}\n"
                  "slo: {ttft: 1s, tpot: 30ms}\ngpus: [h100, h20]\n")
    s = _write(tmp_path, "s.yaml", f"name: buy\nlimits: {{budget_per_hour: {budget}}}\n"
               "buy: {gpu: h20, nodes: 2, price_per_node: 500000, months: 12, electricity_per_kwh: 0.6}\n")
    r = CliRunner().invoke(main, ["whatif", base, s])
    if status is None:
        assert r.exit_code == 2 and "limits.budget_per_hour: 60.00 an hour cannot pay the purchase's " \
                                    "amortisation of 115.74 an hour" in r.output
        return
    out = {o.name: o for o in run_scenarios(load_problem(base), base, [s])}["buy"]
    assert out.status == status
    if status == "optimal":
        assert out.cost_per_hour == pytest.approx(119.58, abs=0.005) and out.cost_per_hour <= budget
        assert out.problem.limits.budget_per_hour == pytest.approx(budget - 1e6 / (12 * 720))


def test_owned_nodes_past_the_cap_are_refused_as_the_scenario_is_applied(tmp_path):
    """`gpus.update.h100.owned_nodes: 3` beside the base's `max_nodes: 1` was refused only when the
    scenario was solved, after the base, as `s.yaml: gpus[0].owned_nodes`, a field the scenario does
    not have (a hunt, 2026-12-06); now at apply(), in the scenario's own words."""
    from planner.errors import BadInput
    from planner.input.problem import Problem
    base = Problem.model_validate({
        "name": "b", "model": "llama-3.1-8b", "workload": {"qps": 10, "input_tokens": 500, "output_tokens": 100},
        "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": [{"id": "h100", "max_nodes": 1}, "l40s"]})
    s = Scenario.model_validate({"name": "own3", "gpus": {"update": {"h100": {"owned_nodes": 3}}}})
    with pytest.raises(BadInput, match=r"^s.yaml: gpus.update.h100.owned_nodes: owned inventory of 3 node\(s\) "
                                       r"\(24 cards\) exceeds the availability cap of 8 cards"):
        apply(base, s, "s.yaml")


def test_a_break_even_from_a_price_near_zero_searches_from_the_dearest_types(base, base_plan):
    """A hunt (2026-12-07): a GPU type at 1e-6 RMB/GPU-h doubled its price from there, 64 times at
    most, and reported 'still in the plan at 0.00'. A price under 1 % of the dearest type's now steps
    up from that, as a zero price does, and finds where the type leaves."""
    gid = next(g.id for g in base.gpus if _cards(base_plan, g.id) > 0)
    b = breakeven(with_price(base, gid, 1e-6), str(BASE), [gid], rel_tol=0.05)[0]
    assert b.in_base and b.price_out is not None and b.price_out > 1.0, b
    assert _cards(solve(with_price(base, gid, b.price_out * 1.01), "above"), gid) == 0
