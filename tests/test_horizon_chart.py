"""`plan solve PROBLEM --chart FILE` (docs/horizon.md, "Chart"): the chart's numbers against the
plan's JSON and text, the PNG and HTML files, and the refusals before the solve.

problems/deepseek_day.yaml is solved once for the module (~9 s); the CLI's success path reuses
that plan (solve_horizon is patched to return it), so the file stays well under 30 s.
"""

from __future__ import annotations

import re
import struct
import sys

import pytest
from click.testing import CliRunner

import cli
from planner.input.load import load_problem
from planner.plan import horizon as horizon_mod
from planner.plan.horizon import solve_horizon
from planner.plan.horizon_milp import KINDS
from planner.report.horizon import horizon_json, render_horizon
from planner.report.horizon_chart import chart_data, render_html, write_chart

DAY = "problems/deepseek_day.yaml"
SINGLE = "problems/deepseek_qps.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def day():
    return solve_horizon(load_problem(DAY), DAY)


@pytest.fixture(scope="module")
def day_json(day):
    return horizon_json(day)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk (the first chunk of every PNG)."""
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_data_cards_by_kind_sum_to_each_periods_rented_cards(day, day_json):
    d = chart_data(day)
    assert len(d.x) == len(day_json["periods"]) == 24
    assert d.x == tuple(float(i) for i in range(24)) and "hour" in d.x_label
    node_cards = {g["id"]: k.node_cards for g, k in zip(day_json["gpus"], day.kinds)}
    for i, p in enumerate(day_json["periods"]):
        assert d.qps[i] == p["qps"] and d.cost_per_hour[i] == pytest.approx(p["cost_per_hour"])
        for kind in KINDS:
            assert d.cards[kind][i] == sum(n[kind] * node_cards[g] for g, n in p["nodes"].items())
        assert d.rented(i) == p["cards_rented"] > 0
    # the reserved base is the same in every period (four H200 nodes since the profiles of
    # 2026-12-04, none after the refit of 2026-12-03, two H200 nodes before; H100 on demand and
    # spot, H20 and H800 on demand carry the rest); it rents spot at the peak
    assert set(d.cards["reserved"]) == {32}
    assert max(d.cards["spot"]) > 0


def test_chart_data_matches_the_text_output(day):
    d = chart_data(day)
    text = render_horizon(day)
    rows = [line.split() for line in text.splitlines() if re.match(r"^\s*\d+\s+\d", line)]
    assert len(rows) == 24
    for i, row in enumerate(rows):
        cards = next(c for c in row if "/" in c and "×" not in c)
        assert int(cards.split("/")[1]) == d.rented(i)
    assert f"{d.cost:,.2f} {d.currency}" in text and f"{d.static_cost:,.2f} {d.currency}" in text


def test_static_line_is_the_static_plans_cards(day, day_json):
    d = chart_data(day)
    node_cards = {k.id: k.node_cards for k in day.kinds}
    static = day_json["comparison"]["static_peak_plan"]["totals"]["nodes"]
    assert d.static_cards == sum(n * node_cards[g] for g, n in static.items()) > 0
    assert d.static_cost_per_hour == pytest.approx(day_json["comparison"]["static_peak_cost_per_hour"])
    assert d.saving == pytest.approx(day_json["comparison"]["static_peak_saving"])


def test_png_is_a_real_png_of_1200_by_800(day, tmp_path):
    path = tmp_path / "day.png"
    write_chart(day, str(path))
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert png_size(data) == (1200, 800)
    import matplotlib.image
    assert matplotlib.image.imread(str(path)).shape[:2] == (800, 1200)


def test_html_is_self_contained_with_svg_and_table(day, tmp_path):
    path = tmp_path / "day.html"
    write_chart(day, str(path))
    page = path.read_text(encoding="utf-8")
    assert page == render_html(chart_data(day))
    assert "<svg" in page and "deepseek-day" in page and page.count("<tr>") == 25
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page and "@import" not in page


def test_cli_writes_the_chart_after_the_solve(day, tmp_path, monkeypatch):
    monkeypatch.setattr(horizon_mod, "solve_horizon", lambda *a, **k: day)
    png, page = tmp_path / "c.png", tmp_path / "c.html"
    for path in (png, page):
        r = CliRunner().invoke(cli.main, ["solve", DAY, "--chart", str(path)])
        assert r.exit_code == 0, r.output
        assert f"wrote {path}" in r.output and "Horizon plan for deepseek-day" in r.output
    assert png.read_bytes()[:8] == PNG_MAGIC and "<svg" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["day.svg", "day.pdf", "day", "day.png.txt"])
def test_bad_suffix_exits_2_before_the_solve(tmp_path, name):
    r = CliRunner().invoke(cli.main, ["solve", DAY, "--chart", str(tmp_path / name)])
    assert r.exit_code == 2 and "--chart" in r.output and ".png or .html" in r.output, r.output
    assert "Traceback" not in r.output and list(tmp_path.iterdir()) == []


def test_single_qps_problem_exits_2(tmp_path):
    r = CliRunner().invoke(cli.main, ["solve", SINGLE, "--chart", str(tmp_path / "c.png")])
    assert r.exit_code == 2 and "needs workload.profile" in r.output and "--chart" in r.output, r.output
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_exits_2_and_writes_nothing(tmp_path):
    (tmp_path / "taken.png").mkdir()
    for path in (tmp_path / "missing" / "c.png", tmp_path / "taken.png"):
        r = CliRunner().invoke(cli.main, ["solve", DAY, "--chart", str(path)])
        assert r.exit_code == 2 and "--chart" in r.output and "Traceback" not in r.output, r.output
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"] and not any((tmp_path / "taken.png").iterdir())


def test_import_planner_does_not_import_matplotlib():
    import subprocess
    code = ("import sys, planner, planner.report.horizon_chart, cli; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
