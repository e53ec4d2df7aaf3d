"""Numbers as JSON and CSV write them: twelve significant digits, no float noise, NaN/inf as null."""

from __future__ import annotations

import json
import math

import pytest

from planner.report.format import SIGNIFICANT_DIGITS, csv_cell, csv_text, json_safe, rounded, to_json


@pytest.mark.parametrize(("x", "expected"), [
    (1166.3999999999962, 1166.4),          # a sweep's cost per hour, read back from the solver
    (1.6199999999999948, 1.62),            # its cost per million output tokens
    (0.1 + 0.2, 0.3),
    (3999.3599999999997, 3999.36),
    (123456789.0123456, 123456789.012),    # the thirteenth digit goes
    (2.5e-7, 2.5e-7),
    (-0.0, -0.0),
    (5e-324, 5e-324),                      # the smallest subnormal survives
    (1.7976931348623157e308, 1.79769313486e308),
])
def test_rounded_keeps_twelve_significant_digits(x, expected):
    assert SIGNIFICANT_DIGITS == 12
    assert rounded(x) == expected
    assert math.copysign(1.0, rounded(x)) == math.copysign(1.0, expected)


def test_json_rounds_floats_everywhere_and_leaves_other_values_alone():
    data = {"cost_per_hour": 1166.3999999999962, "nested": [{"v": 0.1 + 0.2}, (1.6199999999999948, 7)],
            "nan": math.nan, "inf": -math.inf, "flag": True, "count": 12, "name": "h100"}
    assert json_safe(data) == {"cost_per_hour": 1166.4, "nested": [{"v": 0.3}, [1.62, 7]], "nan": None,
                               "inf": None, "flag": True, "count": 12, "name": "h100"}
    text = to_json(data)
    assert '"cost_per_hour": 1166.4,' in text and "1166.39" not in text
    assert json.loads(text)["flag"] is True   # a boolean is not rounded into 1.0


def test_csv_cells_round_floats_and_keep_other_cells():
    assert csv_cell(1166.3999999999962) == 1166.4
    assert csv_cell(math.inf) == math.inf    # as before: csv writes 'inf'
    assert csv_cell(3) == 3 and csv_cell(True) is True and csv_cell(None) is None
    assert csv_text(("a", "b"), [(1.6199999999999948, "=x")]) == "a,b\n1.62,'=x\n"


def test_the_sweeps_csv_writes_floats_as_its_json_does():
    """`to_csv` hands `csv_text` a row's values as they are, '' where one does not exist: floats come out
    rounded, NaN as 'nan', text and integers as given, and a negative number is no formula (the golden
    frontier.csv files check `to_csv` itself)."""
    row = [None, 0.8099999999999974, math.nan, "P 1×32 H100", 2, -1.5]
    assert csv_text(tuple("abcdef"), [["" if v is None else v for v in row]]) == \
        "a,b,c,d,e,f\n,0.81,nan,P 1×32 H100,2,-1.5\n"
