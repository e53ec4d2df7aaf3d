import pytest

from planner.input.units import UnitError, parse_quantity


@pytest.mark.parametrize("text,dim,expected", [
    ("50ms", "time", 0.05), ("2s", "time", 2.0), ("1.5min", "time", 90.0), ("250us", "time", 250e-6),
    ("4.8TB/s", "bandwidth", 4.8e12), ("400Gb/s", "bandwidth", 50e9), ("900 GB/s", "bandwidth", 900e9),
    ("141GB", "bytes", 141e9), ("80GiB", "bytes", 80 * 2**30), ("989TFLOPS", "flops", 989e12),
    ("1.98PFLOPS", "flops", 1.98e15), ("700W", "power", 700.0), ("2MW", "power", 2e6),
    ("150kw", "power", 150e3), ("150KW", "power", 150e3), ("700w", "power", 700.0), ("2Mw", "power", 2e6),
    (3.5, "time", 3.5), ("8", "count", 8.0),
    ("1_000ms", "time", 1.0), ("1_500", "count", 1500.0),   # underscores group digits, as YAML's 1_000
])
def test_parse_quantity(text, dim, expected):
    assert parse_quantity(text, dim) == pytest.approx(expected)


@pytest.mark.parametrize("text,dim", [("50 mss", "time"), ("2 parsecs", "time"), ("fast", "time"),
                                      ("4.8TB", "bandwidth"), ("10 kg", "power"),
                                      ("2mw", "power"), ("2mW", "power"), ("2gw", "power"),
                                      ("1__0ms", "time"), ("1_ms", "time"),
                                      ("\u0662s", "time"), ("\u0665\u0660ms", "time"), ("\uff18", "count")])
def test_bad_units_say_what_to_write(text, dim):
    with pytest.raises(UnitError, match="write it like"):
        parse_quantity(text, dim)


def test_booleans_are_not_quantities():
    with pytest.raises(UnitError, match="expected a time quantity"):
        parse_quantity(True, "time")


def test_format_time_never_prints_a_positive_time_as_zero():
    """A TPOT limit of 1e-9 s was shown as '0 µs' ('TPOT mean 49.1 ms > 0 µs'): below a
    microsecond a time keeps three significant digits in seconds; zero and the usual ranges as before."""
    from planner.input.units import format_time
    assert [format_time(v) for v in (1e-9, 4e-7, 9.99e-7, 0.0, 2e-6, 0.0175, 2.5)] == \
        ["1e-09 s", "4e-07 s", "9.99e-07 s", "0 µs", "2 µs", "17.5 ms", "2.50 s"]
