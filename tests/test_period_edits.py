"""Hand edits of a day plan's periods that its export carried out as written (a hostile-input hunt,
2026-12-07): `planner.report.export.period_edits`. Oracles: the golden deepseek_day plan exports
without a word; each edit is refused naming its field, or noted with the period's load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

DAY = Path(__file__).resolve().parent / "golden" / "solve" / "deepseek_day.json"


def export(tmp_path, d) -> tuple[int, str]:
    f = tmp_path / "day.json"
    f.write_text(json.dumps(d))
    r = CliRunner().invoke(cli.main, ["export", str(f), "--target", "k8s", "--out", str(tmp_path / "x")])
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def test_the_plan_as_written_exports_without_a_note(tmp_path):
    code, out = export(tmp_path, json.loads(DAY.read_text()))
    assert code == 0 and "edited by hand" not in out and "held over" not in out, out


def _edited(edit):
    d = json.loads(DAY.read_text())
    edit(d)
    return d


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["periods"][5].update(hours=5), "periods[5].hours: 5, but period_hours is 1 (plan solve writes every "
                                                "period of one length)"),
    (lambda d: d["periods"].pop(), "periods: 23 periods of 1 h, but horizon_hours is 24 (a period deleted or added by "
                                   "hand?)"),
    (lambda d: d["periods"][0]["nodes"]["h200"].update(reserved=2),
     "periods[0].nodes.h200.reserved: 2, but reserved_nodes.h200 is 4 (reserved nodes are held over the whole "
     "horizon)"),
])
def test_a_periods_length_count_or_reserved_nodes_edited_is_refused(tmp_path, edit, message):
    """A 5-hour period dropped the CronJobs ('a horizon of 28 h repeats on no cron calendar'), a period
    deleted exported 23, and reserved nodes edited 4 → 2 scheduled two fewer than the pools hold."""
    code, out = export(tmp_path, _edited(edit))
    assert code == 2 and message in out, out
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("qps", [400.0, 0.0])
def test_a_periods_qps_edited_beside_its_pools_is_noted(tmp_path, qps):
    """Period 20 at 200 req/s (the seed's 1,000 + 1,000 tokens: 200,000 prompt and 199,800 generated
    tokens a second) edited to 400, or to 0, beside the same pools: the schedule listed the new load."""
    d = _edited(lambda d: d["periods"][20].update(qps=qps))
    assert json.loads(DAY.read_text())["periods"][20]["qps"] == 200
    code, out = export(tmp_path, d)
    assert code == 0 and (f"periods[20]: {qps:g} req/s, but its pools were sized for 200,000 uncached prompt and "
                          f"199,800 generated tokens a second (the period edited by hand?)") in out, out
