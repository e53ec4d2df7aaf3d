"""Request-level traces into a load profile (input/trace.py, workload.trace): binning by hand,
folding, the length distribution, the real Azure layout, and every bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from planner.errors import BadInput
from planner.input.load import load_any, load_problem
from planner.input.trace import length_buckets, read_rows, read_trace
from planner.input.values import length_mean
from planner.plan.horizon import solve_horizon

DATA = Path(__file__).parent / "data" / "trace"
ROOT = Path(__file__).resolve().parents[1]


HEADER = "timestamp,input_tokens,output_tokens"


def write(tmp: Path, rows: list[tuple], name: str = "t.csv", header: str = HEADER) -> Path:
    p = tmp / name
    p.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return p


def hourly(counts: list[int], start: float = 0.0) -> list[tuple]:
    """`counts[h]` requests in hour h, evenly inside it; a first request at `start` and a last at
    the end of the last hour make the trace cover exactly those hours."""
    rows = []
    for h, n in enumerate(counts):
        rows += [(h * 3600 + 3600 * (i + 0.5) / n, 100 + h, 10 + h) for i in range(n)]
    rows += [(start, 100, 10), (len(counts) * 3600 - 1e-3, 100, 10)]
    return rows


def test_consecutive_periods_by_hand(tmp_path):
    counts = [h + 1 for h in range(24)]
    t = read_trace(write(tmp_path, hourly(counts)), 3600.0, scale=10.0)
    expect = np.array(counts, float)
    expect[0] += 1
    expect[23] += 1
    covered = np.full(24, 3600.0)
    covered[23] -= 1e-3 - 1e-6        # the span ends at the last request
    assert t.qps == pytest.approx(list(expect / covered * 10.0))
    assert t.requests == sum(counts) + 2
    # per-period means of the lengths: hour h's requests have 100 + h input tokens
    assert t.period_mean_input[5] == pytest.approx(105.0)


def test_a_partly_covered_period_is_divided_by_the_time_covered(tmp_path):
    rows = hourly([10] * 24, start=1800.0)
    rows = [r for r in rows if r[0] >= 1800.0]          # nothing before 00:30
    t = read_trace(write(tmp_path, rows), 3600.0)
    assert t.qps[0] == pytest.approx(6 / 1800.0)        # 5 of hour 0's 10 plus the first request
    assert t.qps[1] == pytest.approx(10 / 3600.0)


@pytest.mark.parametrize("times, short", [
    ([3600.0 * h for h in range(24)], [23]),                            # the last request on the hour
    ([3600.0 * h for h in range(23)] + [82810.0], [23]),                # 10 s into the last hour
    ([3599.999] + [3600.0 * h for h in range(1, 24)], [0, 23]),        # 1 ms before the end of the first
])
def test_a_period_the_trace_barely_enters_is_measured_over_the_mean_gap(tmp_path, times, short):
    """One request an hour: the span ends at the last request (and starts at the first), so an edge
    hour the trace enters for 1 µs, 10 s or 1 ms held one request in that time and read 10⁶, 0.1
    or 1,000 requests/s (a hunt, 2026-12-05). Such a period's rate is taken over the mean gap between
    requests (span ÷ (requests − 1), at most the period: 3,443–3,600 s here), with a note; the fully
    covered hours are as before."""
    p = write(tmp_path, [(t, 1000, 200) for t in times])
    which = ", ".join(map(str, short))
    with pytest.warns(UserWarning, match=rf"covers period\(s\) {which} for less than the mean gap"):
        t = read_trace(p, 3600.0)
    gap = min((max(times) - min(times)) / (len(times) - 1), 3600.0)
    for i in short:
        assert t.qps[i] == pytest.approx(1 / gap)
    assert t.qps[5] == pytest.approx(1 / 3600.0) and max(t.qps) < 1 / 1700.0


def test_fold_onto_one_day(tmp_path):
    two_days = hourly([10] * 24 + [30] * 24)
    t = read_trace(write(tmp_path, two_days), 3600.0, fold="day")
    assert len(t.qps) == 24
    assert t.qps[7] == pytest.approx(40 / 7200.0)       # hour 7 of both days over two hours
    with pytest.raises(BadInput, match="spans 48 periods"):
        read_trace(write(tmp_path, two_days, "b.csv"), 3600.0)
    with pytest.raises(BadInput, match="gives 72 periods"):
        read_trace(write(tmp_path, two_days, "c.csv"), 1200.0, fold="day")


def test_a_week_fold_starts_on_monday_as_the_export_schedules_it(tmp_path):
    """Folded onto a week, period 0 is Monday 00:00 (plan export's CronJobs start it there): the
    Unix epoch fell on a Thursday, and a fortnight busy on Mondays alone had its busy hours in
    periods 96-119, scaled up on Fridays (a hunt, 2026-12-06)."""
    import datetime as dt
    rows = []
    for day in range(14):                                  # from Monday 2026-11-30
        d = dt.datetime(2026, 11, 30) + dt.timedelta(days=day)
        n = 12 if d.weekday() == 0 else 2
        rows += [((d + dt.timedelta(seconds=k * 86400 / (24 * n))).isoformat(sep=" "), 500, 100) for k in range(24 * n)]
    q = np.array(read_trace(write(tmp_path, rows), 3600.0, fold="week").qps)
    assert len(q) == 168 and [i for i in range(168) if q[i] > 2 * q.min()] == list(range(24))
    assert q[0] == pytest.approx(12 / 3600) and q[30] == pytest.approx(2 / 3600)

def test_a_fold_places_a_request_by_its_wall_clock_as_written(tmp_path):
    """A day written in +08:00, busy at 20:00: unfolded its busy period is 20; folded onto a day it
    was 12, the UTC hour (until 2026-12-06), and plan export --time-zone Asia/Shanghai scaled up
    for it at noon."""
    import datetime as dt
    start = dt.datetime(2026, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rows = [((start + dt.timedelta(hours=h, seconds=k * 3600 / (12 if h == 20 else 2))).isoformat(), 500, 100)
            for h in range(24) for k in range(12 if h == 20 else 2)]
    for fold in ("none", "day"):
        assert int(np.argmax(read_trace(write(tmp_path, rows), 3600.0, fold=fold).qps)) == 20, fold

def test_an_unfolded_trace_not_starting_at_midnight_says_where_its_period_0_is(tmp_path):
    """A day from 18:15 has its period 0 at 18:00, which plan export schedules at midnight: the
    20:00 load of period 2 was scaled up for at 02:00 without a word (a hunt, 2026-12-06)."""
    from planner.errors import PlannerNotice
    rows = [(f"2026-11-30 {18 + m // 60:02d}:{m % 60:02d}:00" if m < 360 else
             f"2026-12-01 {(m - 360) // 60:02d}:{m % 60:02d}:00", 500, 100) for m in range(15, 24 * 60, 2)]
    with pytest.warns(PlannerNotice, match=r"period 0 is the trace's first period, from 18:00; plan export "
                                           r"schedules period 0 at midnight: fold the trace"):
        read_trace(write(tmp_path, rows), 3600.0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlannerNotice)
        read_trace(ROOT / "problems" / "traces" / "chat_day_sample.csv", 3600.0)   # from 00:00: no note

def test_length_buckets_keep_the_mean_and_the_spread():
    rng = np.random.default_rng(1)
    x = np.round(rng.lognormal(7, 0.8, 10_000))
    v, w = length_buckets(x)
    assert len(v) == 9 and sum(w) == pytest.approx(1.0)   # eight groups and the longest of its own
    mean = float(np.dot(v, w))
    assert mean == pytest.approx(float(x.mean()), rel=1e-3)
    assert v[0] < np.percentile(x, 10) < v[1] < v[-2] and v[-2] > np.percentile(x, 90)
    assert v[-1] == x.max() and w[-1] == pytest.approx(np.count_nonzero(x == x.max()) / len(x))
    assert length_buckets(np.array([5.0, 5.0, 5.0])) == ([5], [pytest.approx(1.0)])


def test_the_longest_length_is_kept_where_its_groups_mean_hides_it():
    """86 prompts of 100,000 tokens among 43,356: a group mean of ~2,400 tokens hid them, and memory
    was sized for it (a hostile-input hunt of 2026-12-07); the longest is now a value of its own at
    its share, the rest of its group at its mean, and the mean is kept. A last group of one length
    is not split."""
    x = np.concatenate([np.resize(np.arange(200, 801), 43_270), np.full(86, 100_000)]).astype(float)
    v, w = length_buckets(x)
    assert v[-1] == 100_000 and w[-1] == pytest.approx(86 / 43_356)
    assert v[-2] < 801 and float(np.dot(v, w)) == pytest.approx(float(x.mean()), rel=1e-3)
    v, w = length_buckets(np.array([1.0] * 7 + [9.0] * 8))   # the last group all 9s: one value
    assert v == [1, 5, 9] and sum(w) == pytest.approx(1.0)


def test_the_real_azure_layout():
    t, i, o, _ = read_rows(DATA / "azure_conv_2023_head.csv")
    assert len(t) == 12 and i[0] == 374 and o[0] == 44 and i[6] == 1313
    assert t[1] - t[0] == pytest.approx(4.314579, abs=1e-6)   # 18:15:46.6805900 → 18:15:50.9951690


@pytest.mark.parametrize(("body", "match"), [
    ("timestamp,input_tokens,output_tokens\n0,abc,5\n", "line 2: input_tokens 'abc' is not a number of tokens"),
    ("timestamp,input_tokens,output_tokens\n0,0,5\n", "line 2: input_tokens '0' must be a whole number"),
    ("timestamp,input_tokens,output_tokens\n0,1.5,5\n", "must be a whole number"),
    ("timestamp,input_tokens,output_tokens\nyesterday,3,5\n", "line 2: timestamp 'yesterday'"),
    ("timestamp,input_tokens,output_tokens\nnan,3,5\n", "not a finite number"),
    ("timestamp,input_tokens,output_tokens\n0,3\n", "line 2: 2 fields"),
    ("timestamp,input_tokens,output_tokens\n0,3,5\n1,3,5,7\n", "line 3: 4 fields, the header has 3"),
    ("time,prompt,answer\n0,3,5\n", "no input column"),
    ("timestamp,input_tokens,input_tokens,output_tokens\n0,3,4,5\n",
     "the header has 2 input columns \\(input_tokens, input_tokens\\); keep one"),
    ("TIMESTAMP,ContextTokens,prompt_tokens,GeneratedTokens\n0,3,4,5\n", "2 input columns"),
    ("timestamp,input_tokens,output_tokens\n", "no requests"),
    ("", "empty"),
    # Python's float() reads Arabic-Indic digits and '_' (a hunt planned a day of '١٨' timestamps)
    ("timestamp,input_tokens,output_tokens\n\u0661\u0668,3,5\n", "line 2: timestamp '\u0661\u0668': write the "
                                                                 "number in ASCII digits, without '_'"),
    ("timestamp,input_tokens,output_tokens\n0,1_000,5\n", "line 2: input_tokens '1_000': write the number in ASCII"),
    ("timestamp,input_tokens,output_tokens\n0,3,\uff15\n", "line 2: output_tokens '\uff15': write the number"),
])
def test_bad_rows_are_named(tmp_path, body, match):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(BadInput, match=match):
        read_trace(p)


def test_milliseconds_read_as_seconds_are_caught(tmp_path):
    rows = [(h * 3_600_000 + k, 5, 5) for h in range(24) for k in range(0, 3_600_000, 3_600_000 // 4)]
    with pytest.raises(BadInput, match="spans"):
        read_trace(write(tmp_path, rows))


PROBLEM = """\
name: t
model: llama-3.1-8b
workload:
  trace: {{file: {file}, scale: 100}}
{extra}slo: {{ttft: 2s, tpot: 100ms}}
gpus: [h100]
"""


def test_the_loader_fills_the_profile_and_the_lengths(tmp_path):
    write(tmp_path, hourly([10 + h for h in range(24)]))
    (tmp_path / "p.yaml").write_text(PROBLEM.format(file="t.csv", extra=""))
    p = load_problem(tmp_path / "p.yaml")
    t = p.workload.trace_load
    assert p.workload.profile.qps == pytest.approx(t.qps)
    assert p.workload.qps == pytest.approx(max(t.qps))
    assert p.workload.input_tokens.values == t.input_values
    # lengths written in the problem win over the trace's
    (tmp_path / "q.yaml").write_text(PROBLEM.format(file="t.csv", extra="  input_tokens: 2000\n"
                                                    ).replace("  trace:", "  input_tokens: 2000\n  trace:", 1)
                                     .replace("  input_tokens: 2000\nslo", "slo"))
    q = load_problem(tmp_path / "q.yaml")
    assert q.workload.input_tokens == 2000 and q.workload.output_tokens.values == t.output_values


def test_each_period_plans_with_its_own_lengths(tmp_path):
    """Hour h's requests all have 100 + h prompt and 10 + h output tokens (plus two 100/10 edge
    requests in hours 0 and 23): with `lengths: period` each period's distribution is
    its own (mean by hand), with `lengths: horizon` every period takes the workload's; written
    lengths win over both. The plan verifies and uses one candidate set per distribution."""
    write(tmp_path, hourly([10] * 24))
    (tmp_path / "p.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace("scale: 100", "scale: 100, "
                                                                                    "lengths: period"))
    p = load_problem(tmp_path / "p.yaml")
    prof = p.workload.profile
    assert len(prof.input_tokens) == 24 and prof.input_tokens[5].values == [105]
    assert prof.output_tokens[5].values == [15]
    assert length_mean(prof.input_tokens[0]) == pytest.approx((10 * 100 + 100) / 11)
    assert length_mean(prof.input_tokens[23]) == pytest.approx((10 * 123 + 100) / 11, abs=0.5)
    h = solve_horizon(p, compare=False)
    assert h.verification.passed and h.length_groups == 24
    assert [per.input_mean for per in h.periods][5] == 105
    (tmp_path / "q.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace("scale: 100", "scale: 100, "
                                                                                    "lengths: horizon"))
    q = load_problem(tmp_path / "q.yaml")
    assert q.workload.profile.input_tokens is None and q.workload.period_lengths(5)[0] == q.workload.input_tokens
    (tmp_path / "d.yaml").write_text(PROBLEM.format(file="t.csv", extra=""))   # the default: per period
    assert load_problem(tmp_path / "d.yaml").workload.profile.input_tokens == prof.input_tokens
    (tmp_path / "r.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace(
        "  trace:", "  input_tokens: 2000\n  trace:").replace("scale: 100", "scale: 100, lengths: period"))
    r = load_problem(tmp_path / "r.yaml")
    assert r.workload.profile.input_tokens is None and r.workload.period_lengths(5) == (2000, prof.output_tokens[5])


def test_problem_errors_name_file_and_field(tmp_path):
    (tmp_path / "p.yaml").write_text(PROBLEM.format(file="missing.csv", extra=""))
    with pytest.raises(BadInput, match=r"p\.yaml: workload\.trace\.file: .*missing\.csv: trace file not found"):
        load_problem(tmp_path / "p.yaml")
    write(tmp_path, hourly([1] * 24))
    (tmp_path / "both.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace(
        "  trace:", "  profile: {qps: [1, 2]}\n  trace:"))
    with pytest.raises(BadInput, match="give either profile or trace"):
        load_any(tmp_path / "both.yaml")
    (tmp_path / "fold.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace("scale: 100", "fold: month"))
    with pytest.raises(BadInput, match=r"fold\.yaml: workload\.trace\.fold: "):
        load_problem(tmp_path / "fold.yaml")
    # the trace's fields are named by their full path in the file, like every other field
    (tmp_path / "neg.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace("scale: 100", "scale: -3"))
    with pytest.raises(BadInput, match=r"neg\.yaml: workload\.trace\.scale: Input should be greater than 0 "
                                       r"\(got -3\)$"):
        load_problem(tmp_path / "neg.yaml")
    (tmp_path / "typo.yaml").write_text(PROBLEM.format(file="t.csv", extra="").replace("scale: 100", "scael: 100"))
    with pytest.raises(BadInput, match=r"typo\.yaml: workload\.trace\.scael: unknown key 'scael'\. "
                                       r"Did you mean 'scale'\?"):
        load_problem(tmp_path / "typo.yaml")


def test_cli_exit_code_2_without_traceback(tmp_path):
    (tmp_path / "p.yaml").write_text(PROBLEM.format(file="missing.csv", extra=""))
    r = CliRunner().invoke(main, ["solve", str(tmp_path / "p.yaml")])
    assert r.exit_code == 2 and "Traceback" not in r.output and "trace file not found" in r.output


def test_cli_a_row_longer_than_the_header_is_exit_2_naming_the_line(tmp_path):
    """A row with more fields than the header was read silently (too few was refused)."""
    (tmp_path / "t.csv").write_text("timestamp,input_tokens,output_tokens\n0,3,5\n1,3,5,\n")
    (tmp_path / "p.yaml").write_text(PROBLEM.format(file="t.csv", extra=""))
    r = CliRunner().invoke(main, ["solve", str(tmp_path / "p.yaml")])
    assert r.exit_code == 2, r.output
    assert "t.csv: line 3: 4 fields, the header has 3" in r.output and "Traceback" not in r.output


def test_a_fleet_class_names_its_missing_trace(tmp_path):
    """A class's trace is read relative to the fleet file (tests/test_fleet_horizon.py solves one);
    a missing one is named with the class."""
    fleet = (ROOT / "problems" / "fleet_mix.yaml").read_text()
    assert "workload: {qps: 40," in fleet
    bad = fleet.replace("workload: {qps: 40,", "workload: {trace: {file: t.csv}, qps: 40,", 1)
    (tmp_path / "f.yaml").write_text(bad)
    with pytest.raises(BadInput, match=r"classes\[0\]\.workload\.trace\.file: .*t\.csv"):
        load_any(tmp_path / "f.yaml")


def test_absurd_spans_and_non_files_are_named(tmp_path):
    """Timestamps 1e308 apart overflowed the period count (an internal error): a span over ten
    years is refused by name; a directory or device is not a trace file."""
    with pytest.raises(BadInput, match=r"timestamps span .* more than 10 years"):
        read_trace(write(tmp_path, [(1e308, 5, 5), (-1e308, 5, 5)]))
    with pytest.raises(BadInput, match="timestamps span"):
        read_trace(write(tmp_path, [(0, 5, 5), (86400 * 365 * 11, 5, 5)], "b.csv"), fold="day")
    with pytest.raises(BadInput, match="not a regular file"):
        read_trace(tmp_path)


def test_a_trace_row_past_the_models_context_is_noted(tmp_path):
    """A hunt found a 200,000-token row of a DeepSeek trace planned and verified without a word: the
    trace's lengths are bucket means, so the context note, which reads the longest length, never saw
    it. The longest row is kept beside the buckets; a trace within the context says nothing."""
    import warnings

    from planner.errors import PlannerNotice
    from planner.plan.resolve import resolve
    from planner.plan.services import note_context
    rows = hourly([3] * 24)
    for long in (False, True):
        t = write(tmp_path, rows + ([(5000.0, 200_000, 451)] if long else []))
        (tmp_path / "p.yaml").write_text(f"model: deepseek-r1\nworkload:\n  trace: {{file: {t.name}}}\n"
                                         "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h200]\n")
        p = load_problem(tmp_path / "p.yaml")
        assert p.workload.trace_load.longest_tokens == (200_451 if long else max(a + b for _, a, b in rows))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            note_context(resolve(p, "p.yaml"), "p.yaml")
        notes = [str(w.message) for w in seen if issubclass(w.category, PlannerNotice) and "context" in str(w.message)]
        assert notes == (["p.yaml: deepseek-r1: requests of up to 200,451 tokens (prompt and output) pass its context "
                          "of 163,840 tokens (max_position_embeddings); engines refuse them unless RoPE scaling "
                          "extends it"] if long else []), notes


def test_a_request_at_the_closing_instant_ends_the_last_period(tmp_path):
    """A day from 00:00:00 to exactly 24:00:00 was refused as 'spans 25 periods of 3600 s (24.00 h
    from its first request)' (a hunt, 2026-12-07): the request at the closing instant counts in
    period 23. Half a second later it is a 25th period, refused."""
    rows = [(h * 3600 + k * 600, 500, 100) for h in range(24) for k in range(6)] + [(86400, 500, 100)]
    t = read_trace(write(tmp_path, rows), 3600.0)
    assert len(t.qps) == 24 and t.requests == 24 * 6 + 1
    assert t.qps[23] == pytest.approx(7 / 3600) and t.qps[0] == pytest.approx(6 / 3600)
    with pytest.raises(BadInput, match="spans 25 periods of 3600 s"):
        read_trace(write(tmp_path, rows[:-1] + [(86400.5, 500, 100)], "b.csv"), 3600.0)


def test_lengths_written_beside_a_trace_are_noted_and_named_in_its_line(tmp_path):
    """`input_tokens: 50000` and `output_tokens: 5` beside a trace are planned (documented: the problem's
    lengths win), but the plan's trace line showed the trace's means without a word (a hunt,
    2026-12-07): a note names them, and the line says they are what was planned."""
    import warnings

    from planner.errors import PlannerNotice
    from planner.input.load import load_problem
    write(tmp_path, [(h * 3600 + k * 600, 800, 200) for h in range(24) for k in range(6)])
    f = tmp_path / "p.yaml"
    f.write_text("model: llama-3.1-8b\nworkload:\n  trace: {file: t.csv, period: 1h}\n  input_tokens: 50000\n"
                 "  output_tokens: 5\nslo: {ttft: 10s, tpot: 100ms}\ngpus: [h100]\n")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        p = load_problem(f)
    notes = [str(w.message) for w in got if issubclass(w.category, PlannerNotice)]
    assert notes == [f"{f}: workload.input_tokens and output_tokens: written beside workload.trace, so every period "
                     f"plans them as written; the trace's lengths are not used there (remove input_tokens and "
                     f"output_tokens to plan them)"]
    assert p.workload.input_tokens == 50000
    assert p.workload.trace_load.summary().endswith(
        "output mean 200 (per-period 200–200) (not planned: the problem's input_tokens and output_tokens are)")
