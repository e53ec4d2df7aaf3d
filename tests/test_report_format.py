"""The shared text helpers of report/format.py (one copy for the single-period and horizon reports)."""

from planner.report.format import money, status_text


def test_status_prints_the_gap_as_a_percentage():
    """A plan stopped at the time limit says how far from proven it is, as a percentage (it printed
    the raw fraction, 'gap 0.028557430322956122', on the day plan with start costs)."""
    assert status_text({"status": "optimal", "solver": {"gap": 0.0004}}) == "OPTIMAL"
    assert status_text({"status": "feasible_time_limit", "solver": {"gap": 0.028557430322956122}}) == \
        "FEASIBLE, NOT PROVEN OPTIMAL (gap 2.86 %)"
    assert status_text({"status": "feasible_time_limit", "solver": {"gap": None}}) == \
        "FEASIBLE, NOT PROVEN OPTIMAL (gap unknown)"


def test_money():
    assert money(32467.6149, "RMB") == "32,467.61 RMB"
    assert money(None, "RMB") == "n/a"
