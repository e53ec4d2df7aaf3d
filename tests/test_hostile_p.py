"""Hostile input, sixteenth round (2026-12-07): values a user lists twice (a problem's modes and
parallel degrees, a sweep's points, a plan file's pools), a refusal of `plan solve --chart` after
the problem's notes, a model path that is a folder named config.json, PuLP's deprecation notices
under PYTHONWARNINGS=default; and what a hunt over exports, measurements, scenarios, traces and
paths found."""

from __future__ import annotations

from tests.test_hostile_l import SMALL
from tests.test_hostile_outputs import run, write


# ------------------------------------------------------------------------ 3. --chart before the notes
def test_solve_chart_without_a_profile_is_refused_before_the_problems_notes(tmp_path):
    """`plan solve P --chart c.png` of a problem without a load profile printed the problem's notes
    (`slo.tpot: '1' is read as 1 s a token`), then refused --chart: the notes of a run that never was."""
    p = write(tmp_path, {**SMALL, "slo": {"ttft": "2s", "tpot": 1}})
    code, out = run("solve", p, "--chart", tmp_path / "c.png")
    assert code == 2 and out.strip() == (f"error: {p}: --chart draws a plan over a load profile; it needs "
                                         f"workload.profile"), out
    code, out = run("solve", p, "--band")   # a run that goes on says them still
    assert code == 0 and f"note: {p}: slo.tpot: '1' is read as 1 s a token" in out, out
