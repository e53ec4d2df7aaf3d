"""`plan sweep`: frontier properties on the DeepSeek example, executors agree, files and CLI.

Why these properties hold: relaxing a TPOT limit only enlarges the feasible set (a decode
instance may run a larger batch, colocated steps that were too slow become allowed), so the
optimal cost cannot rise; a single-GPU problem is the mixed problem with the other GPU types'
candidates removed, so its optimum cannot be cheaper. Both hold up to the solver's relative
MIP gap (problem.solver.mip_gap), which is the only slack the assertions allow.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from cli import main
from planner.input.load import load_problem
from planner.plan.candidates import generate
from planner.plan.resolve import resolve
from planner.report.json import sweep_json, to_json
from planner.report.sweep import to_csv
from planner.studies.sweep import ALL, Axis, parse_axis, pool_summary, problem_at, restrict, run_sweep

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = str(ROOT / "problems" / "deepseek_qps.yaml")
TPOT_LIMITS_S = (0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1)


@pytest.fixture(scope="module")
def problem():
    return load_problem(PROBLEM)


@pytest.fixture(scope="module")
def sweep(problem):
    return run_sweep(problem, PROBLEM, [Axis("tpot", TPOT_LIMITS_S)], workers=1)


def test_parse_axis_range_and_list():
    a = parse_axis("tpot", "10ms:40ms", 3)                  # geometric: 10, 20, 40 ms
    assert a.values == pytest.approx((0.010, 0.020, 0.040))
    assert parse_axis("tpot", "10ms:40ms", 4, "linear").values == pytest.approx((0.01, 0.02, 0.03, 0.04))
    assert parse_axis("ttft", "2s,0.5s", 9).values == (0.5, 2.0)
    assert parse_axis("qps", "100", 9).values == (100.0,)


@pytest.mark.parametrize("text", ["15ms:abc", "50ms:15ms", "1:2:3", "-5ms", ""])
def test_parse_axis_rejects(text):
    from planner.errors import BadInput
    with pytest.raises(BadInput, match="--tpot"):
        parse_axis("tpot", text, 5)


def test_pool_summary_format():
    """Role letter, instances × cards, GPU; prefill first; detail adds layout and design batch."""
    def pool(role, gpu, n, b):
        c = SimpleNamespace(role=role, gpu=gpu, cards=8, batch=b, par=SimpleNamespace(label=lambda: "TP8"))
        return SimpleNamespace(candidate=c, instances=n)
    pools = [pool("decode", "h20", 12, 64), pool("prefill", "h800", 3, 2)]
    assert pool_summary(pools) == "P 3×8 H800 | D 12×8 H20"
    assert pool_summary(pools, detail=True) == "P 3×8 H800 TP8 | D 12×8 H20 TP8 b64"


def test_restrict_equals_single_gpu_generation(problem):
    """Filtering the mixed candidate set gives exactly what generate() gives for one GPU type."""
    pt = {"tpot": 0.03}
    mixed = generate(resolve(problem_at(problem, pt)))
    for g in ("h20", "h200"):
        alone = generate(resolve(problem_at(problem, pt, g)))
        assert restrict(mixed, g).candidates == alone.candidates
        assert restrict(mixed, g).rejected == alone.rejected


def test_rows_carry_limits_and_every_point_solves(sweep, problem):
    opt = sweep.curve(ALL)
    assert [r.tpot_limit_s for r in opt] == list(TPOT_LIMITS_S)
    assert all(r.ttft_limit_s == problem.slo.ttft and r.qps == problem.workload.qps for r in opt)
    assert all(r.solved for r in opt)
    assert sweep.curves == (ALL, "h200", "h800", "h20", "h100")


def test_frontier_is_monotone(sweep, problem):
    """Cost per hour never rises as the TPOT limit relaxes (MIP gap aside), on every curve."""
    gap = problem.solver.mip_gap
    for c in sweep.curves:
        costs = [r.cost_per_hour for r in sweep.curve(c) if r.solved]
        assert all(b <= a * (1 + gap) for a, b in zip(costs, costs[1:])), (c, costs)


def test_achieved_latency_within_limit(sweep):
    for r in sweep.rows:
        if r.solved:
            assert r.tpot_s <= r.tpot_limit_s * (1 + 1e-9)
            assert r.ttft_s <= r.ttft_limit_s * (1 + 1e-9)


def test_frontier_points_are_verified_plans(sweep, problem):
    """Re-solving each frontier point of the optimum gives a plan that passes verification,
    at the cost and pools the sweep recorded. Where the optimum's row took a single-GPU curve's
    plan of the same cost and a shorter latency (`faster_of_equal_cost`; since the embedding and
    LM-head physics at 70 ms: H100's P 1×32 | D 2×32 at 63.5 ms, where the mixed problem's MILP
    returns P 2×16 | D 2×16 | D 1×32 H100 at 1,166.40 RMB/h too), that curve's problem re-solved
    gives those pools, verified, and the mixed problem's plan the same cost."""
    from planner.plan.solve import solve
    front = [r for r in sweep.curve(ALL) if r.on_frontier]
    assert front
    for r in front:
        at = problem_at(problem, {"tpot": r.tpot_limit_s})
        plan = solve(at, PROBLEM)
        assert plan.verification.passed is True
        assert plan.cost_per_hour == pytest.approx(r.cost_per_hour, rel=1e-9)
        if pool_summary(plan.verification.pools) != r.pools:   # the faster plan of a single-GPU curve
            (gpu,) = {c.curve for c in sweep.rows if c.curve != ALL and c.point == r.point and c.pools == r.pools}
            plan = solve(at.model_copy(update={"gpus": [g for g in at.gpus if g.id == gpu]}), PROBLEM)
            assert plan.verification.passed is True
            assert plan.cost_per_hour == pytest.approx(r.cost_per_hour, rel=1e-9)
        assert pool_summary(plan.verification.pools) == r.pools


def test_single_gpu_never_below_optimum(sweep, problem):
    gap = problem.solver.mip_gap
    best = {r.point: r.cost_per_hour for r in sweep.curve(ALL)}
    for r in sweep.rows:
        if r.curve != ALL and r.solved:
            assert r.cost_per_hour >= best[r.point] * (1 - gap), r


def test_frontier_flags_drop_dominated_points(sweep):
    """On the optimum curve, a point off the frontier has a frontier point at most as costly
    and at least as fast."""
    opt = sweep.curve(ALL)
    front = [r for r in opt if r.on_frontier]
    for r in opt:
        if not r.on_frontier:
            assert any(f.cost_per_hour <= r.cost_per_hour * (1 + 1e-6) and f.tpot_s <= r.tpot_s * (1 + 1e-9)
                       for f in front)


def test_of_one_plan_sized_at_several_limits_the_first_row_is_on_the_frontier(sweep):
    """One deployment sized at TPOT limits 92.9, 100, 120 and 150 ms achieves the same TPOT up to
    the last bits of a float (…027, …027, …021, …022): the 120 ms row was flagged, as the fastest
    by 6e-17 s, instead of the first."""
    from dataclasses import replace

    from planner.studies.sweep import frontier
    r = next(r for r in sweep.curve(ALL) if r.solved)
    t = r.tpot_s
    rows = [replace(r, tpot_s=x) for x in (t, t, t - 6 * 2**-57, t - 5 * 2**-57)]
    assert rows[2].tpot_s < rows[0].tpot_s
    assert frontier(rows, ["tpot"]) == {0}


def test_infeasible_point_is_a_row_not_a_crash(problem):
    """1 ms per token is beyond any instance (batch-1 decode takes several ms)."""
    s = run_sweep(problem, PROBLEM, [Axis("tpot", (0.001, 0.05))], per_gpu=False, workers=1)
    tight, loose = s.rows
    assert tight.status == "infeasible" and "TPOT" in tight.reason and not tight.on_frontier
    assert loose.solved and loose.on_frontier
    assert ",infeasible," in to_csv(s)


def test_process_pool_and_dask_equal_serial(problem, sweep):
    """Two local processes and a two-worker Dask LocalCluster give the serial rows exactly."""
    pytest.importorskip("dask.distributed")
    axes = [Axis("tpot", TPOT_LIMITS_S[2:5])]
    serial = [r for r in sweep.rows if r.tpot_limit_s in TPOT_LIMITS_S[2:5]]
    pool = run_sweep(problem, PROBLEM, axes, workers=2)
    dask = run_sweep(problem, PROBLEM, axes, dask="local")
    assert list(pool.rows) == list(dask.rows)
    # on_frontier depends on the other points of the sweep, so compare everything else
    strip = [{**r.__dict__, "on_frontier": None, "point": None} for r in serial]
    assert [{**r.__dict__, "on_frontier": None, "point": None} for r in dask.rows] == strip


def test_html_holds_the_data(sweep):
    from planner.report.frontier_html import render_html
    page = render_html(sweep)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script src" not in page
    data = json.loads(re.search(r'<script type="application/json" id="frontier-data">(.*?)</script>',
                                page, re.S).group(1).replace("<\\/", "</"))
    assert data == json.loads(to_json(sweep_json(sweep)))   # as frontier.json: 12 significant digits
    front = [r for r in sweep.curve(ALL) if r.on_frontier]
    assert page.count("<circle") >= len(front)
    assert front[0].pools.replace("×", "×") in page  # the hover text carries the plan


def test_html_title_names_the_swept_axis_and_keeps_edge_letters_inside(sweep):
    """A QPS sweep's page said "against latency"; a plan-change letter at the panel's left or right
    edge was cut in half by the plot's clip (a three-point QPS sweep lost its "C" at the right edge)."""
    from dataclasses import replace

    from planner.report.frontier_html import MARGIN, SVG_W, render_html
    assert "per million output tokens against latency</h1>" in render_html(sweep)
    qps = replace(sweep, axes=(Axis("qps", (200.0,)),))
    page = render_html(qps)
    assert "per million output tokens against load</h1>" in page and "price vs load</title>" in page
    letters = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)" font-weight="bold"[^>]*>([A-Z])</text>',
                         render_html(sweep) + page)
    assert letters and any(a == "start" for _, a, _ in letters)   # the QPS panel's one x is its left edge
    left, right = MARGIN["l"], SVG_W - MARGIN["r"]
    for x, anchor, _ in letters:   # a bold letter is ~8 px wide: its whole box inside the frame
        lo, hi = {"start": (0, 8), "end": (-8, 0), "middle": (-4, 4)}[anchor]
        assert left <= float(x) + lo and float(x) + hi <= right, (x, anchor)


def test_html_draws_the_optimum_on_top_and_its_legend_clear_of_the_points(sweep):
    """The optimum's curve is drawn last (a later curve's point hid its letter 'E'), its letters carry a
    white halo, and the legend sits in the plot's corner the curves leave free (fixed at the top left,
    it covered a QPS sweep's dear first points); the legend still lists the optimum first."""
    from dataclasses import replace

    from planner.report.frontier_html import render_html
    for s in (sweep, replace(sweep, axes=(Axis("qps", (200.0,)),))):
        page = render_html(s)
        drawn = re.findall(r'<g class="curve" data-curve="([^"]+)"', page)
        listed = re.findall(r'<g class="legend" data-curve="([^"]+)"', page)
        assert drawn[-1] == ALL and listed[0] == ALL and sorted(drawn) == sorted(listed)
        assert re.search(r'font-weight="bold" stroke="#fff" stroke-width="3" paint-order="stroke">A</text>', page)
        boxes = [tuple(map(float, b)) for b in re.findall(
            r'<g class="legend"[^>]*><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', page)]
        points = [tuple(map(float, p)) for p in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', page)]
        assert boxes and points
        for x, y, w, h in boxes:
            assert not [(px, py) for px, py in points if x <= px <= x + w and y <= py <= y + h], (x, y)
        label = re.search(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)" fill="#555">(the problem[^<]*)</text>',
                          page)
        if label:   # nor the target line's label (~6.5 px a character, from its anchor)
            lx, ly, n = float(label.group(1)), float(label.group(2)), len(label.group(4))
            lo, hi = (lx, lx + 6.5 * n) if label.group(3) == "start" else (lx - 6.5 * n, lx)
            assert not [b for b in boxes if b[0] < hi and lo < b[0] + b[2] and b[1] < ly and ly - 10 < b[1] + b[3]]


def test_the_legend_takes_the_emptiest_corner():
    from planner.report.frontier_html import legend_corner
    plot = (70.0, 36.0, 770.0, 372.0)
    falling = [[(80.0, 40.0), (300.0, 300.0), (830.0, 380.0)]]   # dear at low load, then flat and cheap
    assert legend_corner(falling, 170, 100, plot) == (70.0 + 770.0 - 6 - 170, 42.0)   # top right
    rising = [[(80.0, 400.0), (830.0, 40.0)]]
    assert legend_corner(rising, 170, 100, plot) == (76.0, 42.0)   # top left stays free
    both = [[(80.0, 45.0), (830.0, 45.0)]]                   # flat at the top: both top corners crossed
    assert legend_corner(both, 170, 100, plot) == (76.0, 36.0 + 372.0 - 6 - 100)   # bottom left


def test_cli_writes_four_files(tmp_path):
    out = tmp_path / "frontier"
    res = CliRunner().invoke(main, ["sweep", PROBLEM, "--tpot", "30ms:60ms", "--points", "3",
                                    "--workers", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("frontier.csv", "frontier.json", "frontier.png", "frontier.html"):
        assert (out / name).stat().st_size > 0
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads((out / "frontier.json").read_text())["rows"]
    assert len(rows) == 3 * 5
    assert len((out / "frontier.csv").read_text().splitlines()) == 1 + 3 * 5
    assert "RMB/M out" in res.stdout


@pytest.mark.parametrize("error, code, says", [(RuntimeError("boom"), 5, "internal error: RuntimeError: boom"),
                                               (MemoryError(), 2, "out of memory")])
def test_cli_chart_failure_keeps_the_points(tmp_path, monkeypatch, error, code, says):
    """A chart that fails to draw used to lose every solve of the sweep (the four files were written
    as one set after drawing): now the CSV, JSON and the other chart are written, an older PNG of a
    previous sweep is removed rather than left beside the new points, and the failure is reported."""
    from planner.report import plots
    out = tmp_path / "frontier"
    first = CliRunner().invoke(main, ["sweep", PROBLEM, "--tpot", "30ms:60ms", "--points", "3",
                                      "--workers", "1", "--out", str(out)])
    assert first.exit_code == 0 and (out / "frontier.png").exists()

    def fail(_sweep):
        raise error
    monkeypatch.setattr(plots, "render_png", fail)
    res = CliRunner().invoke(main, ["sweep", PROBLEM, "--tpot", "30ms:60ms", "--points", "2",
                                    "--workers", "1", "--out", str(out)])
    assert res.exit_code == code, res.output
    assert "note: frontier.png not drawn; frontier.csv, frontier.json, frontier.html hold every point" in res.output
    assert says in res.output and "Traceback" not in res.output
    assert len((out / "frontier.csv").read_text().splitlines()) == 1 + 2 * 5     # the new sweep's points
    assert len(json.loads((out / "frontier.json").read_text())["rows"]) == 2 * 5
    assert (out / "frontier.html").read_text().startswith("<!DOCTYPE html>")
    assert not (out / "frontier.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["frontier.csv", "frontier.html", "frontier.json"]


def test_cli_bad_range_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["sweep", PROBLEM, "--tpot", "15ms:abc", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "--tpot: cannot read 'abc'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("qps, reason", [
    ("1e308", "less than or equal to 1000000000"),     # overflowed the MILP's bounds (exit 5)
    ("2e9", "less than or equal to 1000000000"),
    ("1e-300", "below 1e-15"),
    ("1e-300:5", "below 1e-15"),
])
def test_cli_qps_outside_the_files_domain_exits_2(tmp_path, qps, reason):
    """--qps values get the domain workload.qps has in a problem file."""
    res = CliRunner().invoke(main, ["sweep", PROBLEM, "--qps", qps, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "--qps: " in res.output and "outside the domain of workload.qps" in res.output
    assert reason in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_run_sweep_without_axis_is_bad_input(problem):
    """The library needs an axis (the CLI supplies one around the problem's limit when none is given)."""
    from planner.errors import BadInput
    with pytest.raises(BadInput, match="at least one"):
        run_sweep(problem, PROBLEM, [])


def test_import_sweep_pulls_no_plotting_or_dask():
    code = ("import sys, planner.studies.sweep, planner.plan.solve, cli; "
            "print(sorted(m for m in ('matplotlib', 'plotly', 'scipy', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_chart_marks_the_target_clips_far_curves_and_labels_achieved_values(sweep, problem):
    """The PNG's helpers: the problem's own TPOT is marked at 1/TPOT on the interactivity axis; a
    curve dearer than CLIP_FACTOR × the optimum's dearest point is clipped and named; plan changes
    are labelled by what the plan achieves (the chart's x), with the limit beside it."""
    from planner.report.plots import CLIP_FACTOR, Series, achieved_text, panel_series, target_x, y_ceiling
    assert target_x(sweep, "tpot") == pytest.approx(1.0 / problem.slo.tpot)
    assert target_x(sweep, "ttft") == pytest.approx(problem.slo.ttft)
    series = panel_series(sweep, "tpot")
    top_opt = max(p[1] for s in series if s.curve == ALL for p in s.points)
    far = Series("h20", ((1.0, 10 * top_opt, None),), ())
    top, clipped = y_ceiling([*series, far])
    assert top == pytest.approx(CLIP_FACTOR * top_opt) and "h20" in clipped
    assert y_ceiling([s for s in series if s.curve == ALL]) == (None, [])
    r = next(r for r in sweep.curve(ALL) if r.solved)
    text = achieved_text(r, ["tpot"])
    assert text.startswith("TPOT ") and "(limit " in text and f"{r.tpot_s * 1e3:.1f} ms" in text


def test_html_names_a_curve_clipped_only_where_its_points_pass_the_axis(sweep):
    """The HTML axis ends at the round tick above the ceiling (CLIP_FACTOR × the optimum's dearest): a
    curve whose points stay below that tick is drawn whole and not named as clipped (a Llama QPS sweep
    said 'clipped above 52.08: H200 only' of a point at 58 drawn under the axis's 60)."""
    from planner.report.frontier_html import _svg_panel, nice_ticks
    from planner.report.plots import CLIP_FACTOR, Series, panel_series
    series = panel_series(sweep, "tpot")
    top_opt = max(p[1] for s in series if s.curve == ALL for p in s.points)
    axis_top = nice_ticks(0.0, CLIP_FACTOR * top_opt)[-1]
    assert axis_top > CLIP_FACTOR * top_opt * 1.001   # room between the ceiling and the axis's end
    row = next(r for r in sweep.rows if r.solved)   # the tooltip's
    below = Series("h20", ((20.0, (CLIP_FACTOR * top_opt + axis_top) / 2, row),), ())
    assert "clipped above" not in _svg_panel(sweep, "tpot", [*series, below])
    beyond = Series("h20", ((20.0, 10 * top_opt, row),), ())
    assert f">clipped above {axis_top:,.2f}: H20 only</text>" in _svg_panel(sweep, "tpot", [*series, beyond])


def test_sweep_without_an_axis_goes_around_the_problems_own_limit(tmp_path):
    """No --tpot/--ttft/--qps: the TPOT limit from half to twice the problem's (50 ms → 25…100 ms),
    8 points by default, said on stderr; the problem's own limit sits inside the range."""
    from planner.studies.sweep import around_limit
    p = load_problem(PROBLEM)
    ax = around_limit(p, "tpot", 8)
    assert ax.values[0] == pytest.approx(0.025) and ax.values[-1] == pytest.approx(0.100) and len(ax.values) == 8
    assert around_limit(p, "qps", 1).values == (200.0,)
    r = CliRunner().invoke(main, ["sweep", PROBLEM, "--points", "2", "--no-per-gpu", "--workers", "1",
                                  "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "no axis given; TPOT from 25.0 to 100.0 ms around the problem's 50 ms" in r.stderr
    assert (tmp_path / "s" / "frontier.csv").read_text().count("\nall,") == 2


def test_catalog_listing_pulls_no_solver():
    """`plan catalog gpus|models` list the catalogs without importing the solver (PuLP, highspy) or
    numpy: 0.2 s instead of 0.5 s from process start."""
    code = ("import sys\nfrom cli import main\nfor what in ('gpus', 'models'):\n"
            "    try:\n        main(['catalog', what], standalone_mode=False)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('pulp', 'highspy', 'numpy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("args, absent", [
    (["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--batch", "8"], ("pulp", "highspy", "matplotlib")),
    (["init", "--out", "INIT"], ("pulp", "highspy", "numpy", "matplotlib")),
])
def test_commands_that_solve_nothing_import_no_solver(args, absent, tmp_path):
    """`plan eval` (the model's numbers: numpy, no MILP) and `plan init` (a template checked by the
    problem schema) import neither PuLP nor highspy (~40 ms), `init` not even numpy (~60 ms)."""
    args = [str(tmp_path / "p.yaml") if a == "INIT" else a for a in args]
    code = ("import sys\nfrom cli import main\n"
            f"try:\n    main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {absent!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_a_sweep_without_a_single_plan_exits_3_with_the_reasons(tmp_path):
    """Every point infeasible printed a table of 'infeasible' and exited 0, the reasons in the CSV
    alone; now exit 3 with each reason on stderr, the files still written. One point with a plan
    is a sweep that found plans: exit 0."""
    args = ["sweep", "problems/llama70b_chat.yaml", "--workers", "1", "--no-per-gpu"]
    r = CliRunner().invoke(main, args + ["--tpot", "1ms,2ms", "--out", str(tmp_path / "none")])
    assert r.exit_code == 3, r.output
    assert "none of its 2 points has a plan" in r.output and "TPOT 1 ms unreachable" in r.output
    assert (tmp_path / "none" / "frontier.csv").is_file()
    # the charts say so in the panel, with the loosest limit's reason (they were empty plots)
    page = (tmp_path / "none" / "frontier.html").read_text(encoding="utf-8")
    assert 'class="empty"' in page and "No plan at any limit swept:" in page and "TPOT 2 ms unreachable" in page
    assert (tmp_path / "none" / "frontier.png").stat().st_size > 0
    r = CliRunner().invoke(main, args + ["--tpot", "1ms,40ms", "--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    assert 'class="empty"' not in (tmp_path / "one" / "frontier.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, noted", [("20:50", ["'20' is read as 20 s", "'50' is read as 50 s"]),
                                         ("20ms:50ms", []), ("0.03,0.05", []), ("2s", [])])
def test_a_bare_tpot_of_seconds_is_noted(text, noted):
    """`--tpot 20:50` swept 20 to 50 s a token without a word (bare numbers are seconds): a note
    says how a bare number of a second or more was read; units, and fractions of a second, pass."""
    import warnings

    from planner.errors import PlannerNotice
    from planner.studies.sweep import parse_axis
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        parse_axis("tpot", text, 2)
    got = [str(x.message) for x in w if issubclass(x.category, PlannerNotice)]
    assert len(got) == len(noted) and all(n in g for n, g in zip(noted, got)), got


def test_a_users_frontier_file_is_refused_before_the_solves(tmp_path, monkeypatch):
    """An output directory holding a frontier.csv that plan did not write was refused only when the
    sweep's results were written, after every solve had run (hostile-input hunt, 2026-12-04):
    each file of the set is now checked before the first solve."""
    import cli
    import planner.studies.sweep as sw
    (tmp_path / "frontier.csv").write_text("mine\n")
    monkeypatch.setattr(sw, "run_sweep", lambda *a, **k: pytest.fail("solved before refusing"))
    r = CliRunner().invoke(cli.main, ["sweep", str(ROOT / "problems/deepseek_qps.yaml"), "--qps", "100,200",
                                      "--out", str(tmp_path)])
    assert r.exit_code == 2 and "frontier.csv: exists and is not an output of plan" in r.output, r.output
    assert (tmp_path / "frontier.csv").read_text() == "mine\n"


def test_a_scripted_sweep_prints_no_bare_progress_label(tmp_path):
    """click's progress bar, given a stderr that is not a terminal, printed its label as a line of
    its own ('sweep'), above every scripted sweep's output and error messages (first-hour hunt,
    2026-12-04); off a terminal there is no bar."""
    from click.testing import CliRunner

    from cli import main
    r = CliRunner().invoke(main, ["sweep", str(ROOT / "problems" / "deepseek_qps.yaml"), "--qps", "50,100",
                                  "--no-per-gpu", "--workers", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "sweep" not in [line.strip() for line in r.output.splitlines()], r.output
    assert "load req/s" in r.output and f"wrote {tmp_path / 's' / 'frontier.csv'}" in r.output


def test_the_target_label_stays_inside_the_panel_when_the_target_is_the_last_point(tmp_path):
    """llama70b_chat swept at 5 and 20 req/s, its own target 20: the label drawn right of the dashed
    line ran past the panel's edge (a browser showed "the"); it is drawn left of a line in the
    panel's right half, anchored at its end, and right of one in the left half."""
    r = CliRunner().invoke(main, ["sweep", "problems/llama70b_chat.yaml", "--qps", "5,20", "--no-per-gpu",
                                  "--workers", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "s" / "frontier.html").read_text()
    line = re.search(r'<line class="target" x1="([\d.]+)"', page)
    label = re.search(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)" fill="#555">the problem\'s target '
                      r'\(20 req/s\)</text>', page)
    assert line and label and label.group(2) == "end"
    assert float(label.group(1)) == pytest.approx(float(line.group(1)) - 4, abs=0.1)


def test_an_unreadable_axis_value_is_named_before_points(tmp_path):
    """`--ttft 50% --points 2` was told that --points sizes ranges, not that '50%' is no time (a
    hostile-input hunt); a whatif given one scenario file twice was told the name was 'also the
    name of' that file."""
    from click.testing import CliRunner

    from cli import main
    r = CliRunner().invoke(main, ["sweep", str(ROOT / "problems" / "deepseek_qps.yaml"), "--ttft", "50%",
                                  "--points", "2", "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and "--ttft: cannot read '50%'" in r.output, r.output
    s = tmp_path / "s.yaml"
    s.write_text("name: cheaper\ngpus: {update: {h200: {price_change_percent: -20}}}\n")
    r = CliRunner().invoke(main, ["whatif", str(ROOT / "problems" / "deepseek_qps.yaml"), str(s), str(s)])
    assert r.exit_code == 2 and f"{s}: given twice; list each scenario file once" in r.output, r.output


def test_the_optimum_takes_the_faster_of_equal_cost_plans(tmp_path):
    """Llama-3.1-70B on H100 and H200 at a TPOT limit of 80 ms: the optimum's MILP returned a plan of
    6.75 RMB per million output tokens at 28.2 ms where H100 alone reached 20.0 ms at the same cost,
    so the chart drew the optimum above the H100 curve (a first-hour walkthrough). The H100 plan is
    among the optimum's candidates and as cheap: the optimum's row takes it. Since the embedding and
    LM-head physics (physics-edges) the optimum's MILP at 80 ms already returns the faster plan (a
    colocated 2×8 H100 at 43.9 ms beside H100's 64.6 ms), so the sweep ran to 90 ms, where it
    returned 6.75 RMB/M at 40.8 ms and H100 alone reached 20.0 ms at the same cost. Since HiGHS's
    lighter search (`solver.LIGHT_SEARCH`) the optimum's MILP at 90 ms returns the faster plan; at
    82 ms it returns a colocated 3×4 H100 at 64.6 ms where H100 alone reaches 28.6 ms, same cost."""
    from click.testing import CliRunner

    from cli import main
    p = tmp_path / "p.yaml"
    p.write_text("name: tie\nmodel: llama-3.1-70b\nworkload: {qps: 20, input_tokens: 1500, output_tokens: 400}\n"
                 "slo: {ttft: 1s, tpot: 40ms}\ngpus: [h100, h200]\n")
    r = CliRunner().invoke(main, ["sweep", str(p), "--tpot", "20ms,82ms", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "s" / "frontier.json").read_text())["rows"]
    at82 = {row["curve"]: row for row in rows if row["tpot_limit_s"] == pytest.approx(0.082)}
    assert at82["all"]["cost_per_hour"] == pytest.approx(at82["h100"]["cost_per_hour"]) == pytest.approx(194.4)
    assert at82["all"]["tpot_s"] == pytest.approx(at82["h100"]["tpot_s"]) and at82["all"]["tpot_s"] < 0.029
    assert at82["all"]["pools"] == at82["h100"]["pools"] == "P 3×2 H100 | D 2×4 H100"
    for curve, row in at82.items():   # no curve of the same cost reaches a shorter TPOT than the optimum
        if row["cost_per_hour"] == pytest.approx(at82["all"]["cost_per_hour"]):
            assert at82["all"]["tpot_s"] <= row["tpot_s"] + 1e-12, curve


def test_gpu_ids_written_in_capitals_or_with_spaces_make_their_own_curves():
    """`gpus: [H100, ' L40S']` (accepted by plan solve) made every single-GPU curve infeasible: the
    curves were named as written, the candidates carry the catalog's ids (a 2026-12-05 hunt)."""
    from planner.input.problem import Problem
    from planner.plan.solve import solve
    p = Problem.model_validate({"model": "llama-3.1-8b", "workload": {"qps": 5, "input_tokens": 1000,
                                                                      "output_tokens": 200},
                                "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["H100", " L40S"]})
    s = run_sweep(p, "p.yaml", [parse_axis("tpot", "50ms", 1)], workers=1)
    by = {r.curve: r for r in s.rows}
    assert set(by) == {ALL, "h100", "l40s"} and all(r.solved for r in s.rows), [(r.curve, r.reason) for r in s.rows]
    for g in ("h100", "l40s"):
        alone = solve(p.model_copy(update={"gpus": [x for x in p.gpus if x.id.strip().lower() == g]}))
        assert by[g].cost_per_hour == pytest.approx(alone.cost_per_hour)


def test_a_sweep_of_many_fleet_changes_draws_and_letters_each_apart():
    """From ~53 changes of the optimum's fleet the list under the chart left the panels a negative
    height and matplotlib's layout raised (exit 5, nothing written, even the finished solves'
    CSV); after Z the letters began again at A, so two fleets shared one on the chart (a hunt)."""
    from planner.report.frontier_html import render_html
    from planner.report.plots import PNG_CHANGES, change_letter, render_png
    from planner.studies.sweep import Row, Sweep
    assert [change_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == \
        ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
    n = 80
    rows = tuple(Row(ALL, i, tpot_limit_s=0.01 + 0.001 * i, ttft_limit_s=2.0, qps=10.0, status="optimal",
                     tpot_s=0.01 + 0.001 * i, ttft_s=0.5, cost_per_hour=100.0 - i,
                     cost_per_million_output_tokens=10.0 - 0.1 * i, cost_per_million_tokens=5.0,
                     pools="P 1×8 H100 | D 1×8 H20", fleet=f"P {'H100' if i % 2 else 'H200'} | D H20")
                 for i in range(n))
    s = Sweep("many", "p.yaml", "RMB", (Axis("tpot", tuple(r.tpot_limit_s for r in rows)),), (ALL,), rows)
    png = render_png(s)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    html = render_html(s)
    letters = re.findall(r"<li><b>([A-Z]+)</b>", html)
    assert len(letters) == n and len(set(letters)) == n and letters[-1] == "CB"
    assert PNG_CHANGES < n


def test_a_decode_only_plan_has_its_ttft_in_the_sweep_and_the_chart_draws(tmp_path):
    """Every prompt token cached: the plan is decode pools alone, whose step makes the first token
    (plan solve: TTFT 68.3 ms, limited by ttft). The sweep's rows had no TTFT, its TTFT panel said
    no plan had one, and a TPOT × TTFT grid ended in a TypeError drawing it (exit 5, a hunt).
    Since the embedding and LM-head physics (physics-edges) the two TPOT limits plan differently
    at one cost (2×TP2 at 66.3 ms under 10 ms, 3×TP1 at 77.4 ms under 50 ms), so each row is held
    to the TTFT of the plan solved at its own limit."""
    from planner.plan.solve import solve
    p = tmp_path / "cached.yaml"
    p.write_text("model: llama-3.1-8b\nworkload: {qps: 100, input_tokens: 1000, output_tokens: 200, "
                 "prefix_cache_hit_percent: 100}\nslo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n")
    r = CliRunner().invoke(main, ["sweep", str(p), "--tpot", "10ms,50ms", "--ttft", "2s",
                                  "--out", str(tmp_path / "grid")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "grid" / "frontier.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "grid" / "frontier.json").read_text())["rows"]
    assert len(rows) == 2
    for row in rows:
        plan = solve(problem_at(load_problem(p), {"tpot": row["tpot_limit_s"]}), str(p))
        want = max(st.ttft_s for st in plan.verification.pools)
        assert want > 0 and row["ttft_s"] == pytest.approx(want), row


def test_a_sweep_keeps_a_plan_json_named_frontier_json_without_force(tmp_path):
    """plan solve --out refused to replace a sweep's frontier.json, but a sweep replaced a plan JSON
    named frontier.json without --force (its set was checked without the content it would write);
    it is refused before the solves, and nothing of the set is written."""
    p = tmp_path / "p.yaml"
    p.write_text("model: llama-3.1-8b\nworkload: {qps: 5, input_tokens: 1000, output_tokens: 200}\n"
                 "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n")
    out = tmp_path / "out"
    out.mkdir()
    r = CliRunner().invoke(main, ["solve", str(p), "--out", str(out / "frontier.json")])
    assert r.exit_code == 0, r.output
    before = (out / "frontier.json").read_bytes()
    r = CliRunner().invoke(main, ["sweep", str(p), "--tpot", "20ms", "--no-per-gpu", "--out", str(out)])
    assert r.exit_code == 2 and "frontier.json: an output of plan of another kind" in r.output
    assert (out / "frontier.json").read_bytes() == before and sorted(f.name for f in out.iterdir()) == ["frontier.json"]
    r = CliRunner().invoke(main, ["sweep", str(p), "--tpot", "20ms", "--no-per-gpu", "--out", str(out), "--force"])
    assert r.exit_code == 0 and json.loads((out / "frontier.json").read_text())["rows"]


def test_sweep_values_are_ascii_and_workers_do_not_go_with_dask(tmp_path):
    """'１０' (fullwidth) and '1_000' were read as 10 and 1000 where a problem file refuses them;
    --workers beside --dask was ignored without a word (a hunt)."""
    from planner.errors import BadInput
    for text in ("１０", "1_000"):
        with pytest.raises(BadInput, match=r"--qps: cannot read .*ASCII digits"):
            parse_axis("qps", text, 2)
    p = tmp_path / "p.yaml"
    p.write_text("model: llama-3.1-8b\nworkload: {qps: 5, input_tokens: 1000, output_tokens: 200}\n"
                 "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n")
    r = CliRunner().invoke(main, ["sweep", str(p), "--tpot", "20ms", "--workers", "2", "--dask", "local",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--workers sizes the local process pool" in r.output


def test_the_default_axis_stays_inside_the_domain_of_its_limit():
    """A problem whose TPOT is the largest allowed (10^7 s) was swept to 2·10^7 s, which --tpot
    refuses (a hunt)."""
    from planner.input.problem import Problem
    from planner.input.values import MAX_SECONDS
    from planner.studies.sweep import around_limit
    p = Problem.model_validate({"model": "llama-3.1-8b", "workload": {"qps": 5, "input_tokens": 1000,
                                                                      "output_tokens": 200},
                                "slo": {"ttft": "2s", "tpot": f"{MAX_SECONDS:g}s"}, "gpus": ["h100"]})
    a = around_limit(p, "tpot", 8)
    assert max(a.values) == MAX_SECONDS and min(a.values) == MAX_SECONDS / 2
    assert around_limit(p, "ttft", 3).values == (1.0, 2.0, 4.0)


def test_limits_that_format_time_writes_alike_get_the_decimals_that_tell_them_apart():
    """--tpot 30.001ms,30.002ms,30.0031ms printed three rows of '30.0 ms'."""
    from planner.report.sweep import distinct_times
    assert distinct_times([0.030001, 0.030002, 0.0300031]) == {0.030001: "30.001 ms", 0.030002: "30.002 ms",
                                                              0.0300031: "30.003 ms"}
    assert distinct_times([0.02, 0.05, 0.02]) == {0.02: "20.0 ms", 0.05: "50.0 ms"}   # as format_time
    assert distinct_times([1.5, 1.501]) == {1.5: "1.500 s", 1.501: "1.501 s"}


def test_the_sweep_pages_table_tells_close_limits_apart(tmp_path):
    """The text table was mended for limits of 30.001 and 30.002 ms; frontier.html's table still
    printed both as 30.0 (a new-user run of the read-through)."""
    import re

    from click.testing import CliRunner

    from cli import main
    from planner.report.format import fewest_decimals
    assert fewest_decimals([30.001, 30.002, 30.001], 1) == 3 and fewest_decimals([20.0, 50.0], 1) == 1
    r = CliRunner().invoke(main, ["sweep", str(ROOT / "problems" / "llama70b_chat.yaml"), "--tpot", "30.001ms,30.002ms",
                                  "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "s" / "frontier.html").read_text(encoding="utf-8")
    assert re.findall(r'<td class="l">all</td><td>([^<]*)</td>', page) == ["30.001", "30.002"]


def test_pool_detail_keeps_pools_of_one_shape_at_other_batches_apart():
    """A plan with one TP8·PP2 colocated L40S instance at batch 40 and two at 60 read
    'C 3×16 L40S TP8·PP2 b60' in frontier.json's `plan` and the page's tooltips (a hunt)."""
    from planner.physics.perf import Parallelism

    def pool(role, batch, n, pp=2):
        c = SimpleNamespace(role=role, gpu="l40s", cards=8 * pp, par=Parallelism(tp=8, pp=pp), batch=batch)
        return SimpleNamespace(candidate=c, instances=n)
    pools = [pool("colocated", 40, 1), pool("colocated", 60, 2), pool("decode", 101, 1, 1), pool("prefill", 4, 2, 1),
             pool("prefill", 8, 1, 1)]
    assert pool_summary(pools, detail=True) == ("P 3×8 L40S TP8 | D 1×8 L40S TP8 b101 | C 1×16 L40S TP8·PP2 b40 | "
                                                "C 2×16 L40S TP8·PP2 b60")
    assert pool_summary(pools) == "P 3×8 L40S | D 1×8 L40S | C 3×16 L40S"


def test_a_row_s_load_is_the_busiest_period_of_a_profile_in_requests_per_second():
    """With `profile.qps` the rows said the unused `workload.qps: 1000` beside a day peaking at 60
    (a hunt); a qps axis scales the profile to its point (problem_at), which the row reports."""
    from planner.input.problem import Problem
    p = Problem.model_validate({
        "name": "lq", "model": "llama-3.1-8b", "slo": {"ttft": "1s", "tpot": "50ms"}, "gpus": ["h100"],
        "workload": {"qps": 1000, "input_tokens": 1000, "output_tokens": 200,
                     "profile": {"qps": [30.0] * 12 + [60.0] * 12}}})
    assert p.workload.rate == 60.0 and problem_at(p, {"qps": 90.0}).workload.rate == pytest.approx(90.0)
    assert p.workload.model_copy(update={"profile": None}).rate == 1000.0


@pytest.mark.parametrize("target_s, drawn", [(0.105, True), (0.050, False)])
def test_the_png_draws_the_target_inside_the_curves_range_and_names_it_outside(monkeypatch, target_s, drawn):
    """A narrow sweep (100–120 ms) with the problem's 50 ms target: the dashed line at 20 tok/s
    stretched the axis to it and squeezed the curves into a corner, and the legend, fixed at the
    upper left, hid a curve that ran there. The line is drawn where the curves are (as the HTML
    panel draws it only within its ticks); outside, the legend names the target and says so."""
    from matplotlib.axes import Axes

    from planner.report.plots import render_png
    from planner.studies.sweep import Row, Sweep
    seen: dict[str, list] = {"axvline": [], "legend": []}
    real_axvline, real_legend = Axes.axvline, Axes.legend

    def axvline(ax, x=0, *a, **k):
        seen["axvline"].append(x)
        return real_axvline(ax, x, *a, **k)

    def legend(ax, *a, **k):
        seen["legend"].append((k.get("loc"), ax.get_legend_handles_labels()[1], ax.get_xlim()))
        return real_legend(ax, *a, **k)
    monkeypatch.setattr(Axes, "axvline", axvline)
    monkeypatch.setattr(Axes, "legend", legend)
    rows = tuple(Row(ALL, i, tpot_limit_s=t, ttft_limit_s=2.0, qps=10.0, status="optimal", tpot_s=t, ttft_s=0.5,
                     cost_per_hour=100.0 - i, cost_per_million_output_tokens=2.0 - 0.1 * i,
                     cost_per_million_tokens=1.0, pools="D 1×8 H100", fleet="D H100")
                 for i, t in enumerate((0.100, 0.110, 0.120)))
    s = Sweep("narrow", "p.yaml", "RMB", (Axis("tpot", tuple(r.tpot_limit_s for r in rows)),), (ALL,), rows,
              target=(("tpot", target_s),))
    assert render_png(s)[:8] == b"\x89PNG\r\n\x1a\n"
    (loc, labels, (lo, hi)), = seen["legend"]
    assert loc == "best" and hi < 10.5   # the curves' own range: 1/0.12 = 8.3 to 1/0.1 = 10 tok/s
    if drawn:
        assert seen["axvline"] == [pytest.approx(1 / 0.105)] and labels[-1] == "the problem's target (105.0 ms)"
    else:
        assert seen["axvline"] == [] and labels[-1] == "the problem's target (50.0 ms), outside this range"
