"""A request-level trace (one row per request: arrival time, input tokens, output tokens) turned
into the load profile of a problem (`workload.trace`, docs/horizon.md).

Columns, by header name (case-insensitive): the public Azure LLM inference traces
(`TIMESTAMP,ContextTokens,GeneratedTokens`, github.com/Azure/AzurePublicDataset, 2023 and 2024) or
`timestamp,input_tokens,output_tokens`. Timestamps are ISO 8601 date-times (any number of
fractional digits, with or without a UTC offset; without one they are taken as UTC) or numbers of
seconds from any origin (below 2.5e11, the year 10000: milliseconds are refused, not read as seconds).

Binning: each period's QPS is its requests divided by the time the trace covers in it (a trace
that starts at 18:15 covers 45 minutes of the 18:00 period), times `scale`. `fold: none` keeps
consecutive periods from the first request's (24 or 168 of them); `fold: day` / `week` lays every
day / week of the trace on one: period i of the day holds the requests of that hour of every day,
divided by the hours of it the trace covers. A period the trace covers for less than the mean gap
between its requests (its span over their count less one; a period if it holds one request) has
its rate measured over that gap (`measured_over`): the span ends at the last request, so a period
it barely enters holds one by construction, and one request 1 µs into the last hour read as
10⁶ requests/s (a hunt, 2026-12-05). Lengths: LENGTH_BUCKETS equal-count buckets of the
lengths, each at its mean, for every period (of its own requests; the horizon's for a period
without any) and for the whole horizon; the problem plans with the first (`lengths: period`,
the default) or the second (`lengths: horizon`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from planner.errors import BadInput, not_utf8, shown_text, unexpanded

if TYPE_CHECKING:   # numpy is imported where a trace is read: problem files without one need none of it
    import numpy as np

COLUMNS = {"time": ("timestamp", "time", "arrival_time"),
           "input": ("contexttokens", "input_tokens", "prompt_tokens"),
           "output": ("generatedtokens", "output_tokens", "completion_tokens")}
LENGTH_BUCKETS = 8          # values of the length distributions read from a trace
PROFILE_PERIODS = (24, 168)
FOLD_SPAN_S = {"day": 86_400.0, "week": 604_800.0}
# a folded period 0 starts at midnight, or Monday midnight (as plan export schedules it): the Unix
# epoch fell on a Thursday, and a week's fold put Monday's load in periods 96-119 (a hunt, 2026-12-06)
FOLD_ORIGIN_S = {"day": 0.0, "week": 4 * 86_400.0}
MAX_TOKENS = 10_000_000
MAX_SPAN_S = 10 * 365 * 86_400.0   # ten years of timestamps at most (a fold walks every day of them)
# a number of seconds past the last ISO 8601 date-time (10000-01-01): Unix milliseconds or
# microseconds (1.7e12, 1.7e15 today; 1.7e18 in ns), read as seconds and folded into a day of 1e-6 requests/s
MAX_SECONDS = 253_402_300_800.0


@dataclass(frozen=True)
class TraceLoad:
    """What a trace says about the load: per-period QPS and the horizon's length distributions."""

    file: str
    requests: int
    span_s: float                   # first to last arrival
    period_s: float
    fold: str
    qps: list[float]                # requests/s per period (× scale)
    input_values: list[int]
    input_weights: list[float]
    output_values: list[int]
    output_weights: list[float]
    period_mean_input: list[float]  # NaN in a period without requests
    period_mean_output: list[float]
    period_input: list[tuple[list[int], list[float]]]   # per period (values, weights); the horizon's if empty
    period_output: list[tuple[list[int], list[float]]]
    longest_tokens: int = 0         # the longest request's prompt + output, which its bucket's mean hides
    lengths_written: tuple[str, ...] = ()   # input_tokens/output_tokens the problem writes: planned, not the trace's

    def summary(self) -> str:
        """One line for the plan: the trace, its span and how the lengths move over the periods."""
        import numpy as np
        def spread(x: list[float]) -> str:
            v = [a for a in x if not math.isnan(a)]
            return f"{min(v):,.0f}–{max(v):,.0f}"
        mi = float(np.average(self.input_values, weights=self.input_weights))
        mo = float(np.average(self.output_values, weights=self.output_weights))
        fold = "" if self.fold == "none" else f", folded onto one {self.fold}"
        written = (f" (not planned: the problem's {' and '.join(self.lengths_written)} are)"
                   if self.lengths_written else "")
        return (f"load from trace {self.file}: {self.requests:,} requests over {self.span_s / 3600:.1f} h{fold}; "
                f"input mean {mi:,.0f} tokens (per-period means {spread(self.period_mean_input)}), "
                f"output mean {mo:,.0f} (per-period {spread(self.period_mean_output)}){written}")


def _find(header: list[str], kind: str, path: Path) -> int:
    """The one column of `kind` (any of its names, case-insensitive); two are ambiguous."""
    names = [h.strip().lower() for h in header]
    found = [i for i, n in enumerate(names) if n in COLUMNS[kind]]
    if len(found) > 1:
        raise BadInput(f"{path}: the header has {len(found)} {kind} columns "
                       f"({', '.join(shown_text(header[i].strip()) for i in found)}); keep one")
    if found:
        return found[0]
    if (e := separated_otherwise(path, header, f", {header[0]!r}" if header else "")) is not None:
        raise e
    raise BadInput(f"{path}: no {kind} column; the header has {shown_text(', '.join(header)) or 'nothing'}, "
                   f"expected one of {', '.join(COLUMNS[kind])} (case-insensitive)")


def _time_s(text: str, path: Path, line: int) -> tuple[float, float | None, bool]:
    """(seconds since the epoch, the timestamp's UTC offset in seconds: None without one, whether it
    is a number of seconds rather than an ISO 8601 date-time)."""
    t = text.strip()
    _ascii(t, path, line, "timestamp")
    try:
        v = float(t)
    except ValueError:
        try:
            d = datetime.fromisoformat(t)
        except ValueError:
            raise BadInput(f"{path}: line {line}: timestamp {t!r} is neither an ISO 8601 date-time "
                           f"nor seconds") from None
        _separator(t, path, line)
        offset = d.utcoffset()
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp(), \
            offset.total_seconds() if offset is not None else None, False
    if not math.isfinite(v):
        raise BadInput(f"{path}: line {line}: timestamp {t!r} is not a finite number of seconds")
    if MAX_SECONDS <= abs(v) < 1e19:   # beyond Unix nanoseconds: the span's own check names it
        raise BadInput(f"{path}: line {line}: timestamp {t!r} as seconds falls past the year 9999; plan reads a "
                       f"number as seconds: milliseconds or microseconds (Unix time in ms is 13 digits)? "
                       f"divide the column by 1,000 or 1,000,000")
    return v, 0.0, True


def _one_clock(zones: dict[bool, tuple[int, str, float | None]], path: Path) -> None:
    """BadInput for ISO 8601 timestamps some with a UTC offset other than 0 and some without, taken
    as UTC: a trace written in +08:00 whose rows lose the offset half-way was read 8 h apart."""
    if len(zones) < 2 or not zones[False][2]:   # one kind, or offsets of 0 (Z) and numbers of seconds (0.0)
        return
    (n, t, offset), (m, u, _) = zones[False], zones[True]
    raise BadInput(f"{path}: line {n}: timestamp {t!r} has a UTC offset where line {m}'s {u!r} has none, which "
                   f"plan takes as UTC ({abs(offset) / 3600:g} h from the same clock time with the offset): give "
                   f"every timestamp its offset, or none")


def _separator(t: str, path: Path, line: int) -> None:
    """BadInput for a date and time joined by anything but 'T' or a space (ISO 8601, RFC 3339):
    Python 3.11 reads any one character there, so a quoted field '2026-12-01<newline>10:00' or
    '2026-12-01x10:00' passed as a date-time."""
    date = len(t) - len(t.lstrip("0123456789-W"))   # the date as written: digits, '-', 'W' (week dates)
    if date < len(t) and t[date] not in "Tt ":
        raise BadInput(f"{path}: line {line}: timestamp {t!r}: its date and time are joined by "
                       f"{t[date]!r}; write 'T' or a space between them")


def separated_otherwise(path: Path, header: list[str], shown: str = "") -> BadInput | None:
    """The error of a CSV whose header is one column holding ';', a tab or '|' (a spreadsheet's CSV in a
    locale whose decimal mark is a comma writes ';'), read 'no time column' naming one that is there;
    None for any other header. `shown`: the header as the message quotes it after 'one column'. The
    traces' and the measurement CSVs' readers (`fidelity.bench_dispatch.sniff`) both ask."""
    sep = next((c for c in ";\t|" if c in header[0]), None) if len(header) == 1 else None
    if sep is None:
        return None
    why = " (a spreadsheet's CSV where the decimal mark is a comma?)" if sep == ";" else ""
    return BadInput(f"{path}: the header is one column{shown}: its columns are separated by {sep!r}{why}; plan reads "
                    f"columns separated by commas: save it with ',' between columns")


def _ascii(t: str, path: Path, line: int, column: str) -> None:
    """BadInput for a number not written in ASCII digits: Python reads '١٨' (Arabic-Indic) as 18 and
    '1_000' as 1000, which no CSV writer means (a hunt planned a day of Arabic-Indic timestamps)."""
    if not t.isascii() or "_" in t:
        raise BadInput(f"{path}: line {line}: {column} {t!r}: write the number in ASCII digits, without '_'")


def _tokens(text: str, path: Path, line: int, column: str) -> int:
    t = text.strip()
    _ascii(t, path, line, column)
    try:
        v = float(t)
    except ValueError:
        raise BadInput(f"{path}: line {line}: {column} {t!r} is not a number of tokens") from None
    if not math.isfinite(v) or v != int(v) or not 1 <= v <= MAX_TOKENS:
        raise BadInput(f"{path}: line {line}: {column} {t!r} must be a whole number of tokens from 1 to {MAX_TOKENS:,}")
    return int(v)


def read_rows(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(arrival s, input tokens, output tokens, UTC offset s) of every row; BadInput naming the line of a bad one."""
    import numpy as np
    try:
        if not path.exists():
            raise BadInput(f"{path}: trace file not found{unexpanded(path)}")
        if not path.is_file():
            raise BadInput(f"{path}: not a regular file (a trace is a CSV file)")
    except OSError as e:   # a name longer than the system allows
        raise BadInput(f"{str(path)[:80]}…: cannot be a file name here ({e.strerror or e})") from None
    times, ins, outs, offsets = [], [], [], []
    numbers = 0   # rows whose timestamp is a number of seconds (not ISO 8601): `_note_milliseconds`
    zones: dict[bool, tuple[int, str, float | None]] = {}   # the first row without a UTC offset, and with one
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if not header:
                raise BadInput(f"{path}: the trace is empty (no header row)")
            it, ii, io = (_find(header, k, path) for k in ("time", "input", "output"))
            need = max(it, ii, io)
            for n, row in enumerate(rows, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                # more fields than the header names: a stray comma, or not the file the header describes
                if len(row) <= need or len(row) > len(header):
                    raise BadInput(f"{path}: line {n}: {len(row)} fields, the header has {len(header)}")
                at, offset, number = _time_s(row[it], path, n)
                numbers += number
                zones.setdefault(offset is None, (n, row[it].strip(), offset))
                times.append(at)
                offsets.append(offset or 0.0)
                ins.append(_tokens(row[ii], path, n, header[ii].strip()))
                outs.append(_tokens(row[io], path, n, header[io].strip()))
    except UnicodeDecodeError:   # the line and column of the first byte that is not UTF-8 (read again: an error's path)
        raise BadInput(f"{path}: {not_utf8(path.read_bytes())}") from None
    except csv.Error as e:
        raise BadInput(f"{path}: not a readable CSV file ({e})") from None
    if not times:
        raise BadInput(f"{path}: the trace has a header but no requests")
    _one_clock(zones, path)
    if numbers == len(times):
        _note_milliseconds(times, path)
    return np.array(times), np.array(ins, dtype=float), np.array(outs, dtype=float), np.array(offsets)


# numbers of seconds spanning more than a week at under 0.1 requests/s: what a trace of milliseconds
# from 0 reads as (an hour at 5 req/s spans 41.7 days at 0.005 req/s as seconds)
MS_NOTE_SPAN_S, MS_NOTE_RATE = 7 * 86_400.0, 0.1


def _note_milliseconds(times: list[float], path: Path) -> None:
    """A note when numeric timestamps read as seconds span over a week at under 0.1 requests/s: a
    trace timed in milliseconds from 0 (below the Unix-milliseconds refusal of `_time_s`), folded
    onto a day, planned a thousandth of its load at exit 0, and the refusal of its 24,001 periods
    unfolded advised the fold (a hunt, 2026-12-06). Seconds of so sparse a trace stand, with a word."""
    span = max(times) - min(times)
    # (a span that as milliseconds too is past ten years is refused by `_bins`, with no advice to divide:
    # ±1e308 noted 'inf days at 0 requests/s')
    if MS_NOTE_SPAN_S < span <= MAX_SPAN_S * 1e3 and (len(times) - 1) / span < MS_NOTE_RATE:
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"{path}: its timestamps, read as seconds, span {span / 86_400:,.1f} days at "
                      f"{(len(times) - 1) / span:.3g} requests/s; if they are milliseconds, divide the column by "
                      f"1,000 (as milliseconds they span {span / 3.6e6:,.3g} h at "
                      f"{(len(times) - 1) / span * 1e3:.3g} requests/s)", PlannerNotice, stacklevel=3)


def length_buckets(lengths: np.ndarray, buckets: int = LENGTH_BUCKETS) -> tuple[list[int], list[float]]:
    """A small distribution of lengths: `buckets` equal-count groups of the sorted lengths, each at
    its mean (rounded; groups of equal value merged), and the longest length as a value of its own
    (its share of the requests), split out of the last group when that group's mean hides it. Keeps
    the mean to rounding, the spread that sets the queueing (c² of the prompt lengths), and the
    longest request that memory must hold: 86 prompts of 100,000 tokens among 43,356 of 200–800
    were a group mean of 2,360 tokens, and the plan's instances (Llama-3.1-70B on two L40S) could
    not hold one of them (a hostile-input hunt of 2026-12-07)."""
    import numpy as np
    s = np.sort(lengths)
    groups = [g for g in np.array_split(s, min(buckets, len(s))) if len(g)]
    top = groups[-1]
    if int(round(float(top.mean()))) < int(s[-1]):   # the longest hidden in its group's mean
        at_max = int(np.searchsorted(top, top[-1]))
        groups[-1:] = [top[:at_max], top[at_max:]] if at_max else [top]
    out: dict[int, float] = {}
    for g in groups:
        v = max(1, int(round(float(g.mean()))))
        out[v] = out.get(v, 0.0) + len(g) / len(s)
    values = sorted(out)
    return values, [out[v] for v in values]


def _covered(lo: np.ndarray, hi: np.ndarray, first: float, last: float) -> np.ndarray:
    """Seconds of each window [lo, hi) inside the trace's span [first, last]."""
    import numpy as np
    return np.clip(np.minimum(hi, last) - np.maximum(lo, first), 0.0, None)


def _bins(t: np.ndarray, period_s: float, fold: str, path: Path, offsets: np.ndarray | float = 0.0
          ) -> tuple[np.ndarray, np.ndarray]:
    """(period index of each request, seconds of each period the trace covers). A fold lays each
    request on the day or week by its wall-clock time as written (its UTC offset added): a trace in
    +08:00 had its 20:00 in period 12, where its unfolded day and plan export --time-zone put 20."""
    import numpy as np
    first, last = float(t.min()), float(t.max())
    if not last - first <= MAX_SPAN_S:
        raise BadInput(f"{path}: the timestamps span {last - first:.3g} s (from {first:.6g} to {last:.6g}), more "
                       f"than {MAX_SPAN_S / 86400 / 365:.0f} years: a typo, or a mix of units?")
    last_end = last + 1e-6   # the last request is inside the span
    if fold == "none":
        origin = math.floor(first / period_s) * period_s
        n = int(math.floor((last - origin) / period_s)) + 1
        if n - 1 in PROFILE_PERIODS and last - origin == (n - 1) * period_s:
            n -= 1   # a request at the closing instant (00:00 to 24:00) ends the last period: not a 25th
        if n not in PROFILE_PERIODS:
            raise BadInput(f"{path}: the trace spans {n} period{'' if n == 1 else 's'} of {period_s:g} s "
                           f"({(last - first) / 3600:.2f} h from its first request); a profile has 24 or 168. "
                           f"Choose the period (workload.trace.period) so that it does, or fold a longer trace "
                           f"onto one day or week (workload.trace.fold: day | week)")
        idx = np.minimum(((t - origin) // period_s).astype(int), n - 1)
        lo = origin + period_s * np.arange(n)
        _note_start(origin + float(np.broadcast_to(offsets, t.shape)[int(np.argmin(t))]), n, path)
        return idx, _covered(lo, lo + period_s, first, last_end)
    span = FOLD_SPAN_S[fold]
    t = t + offsets
    first, last = float(t.min()), float(t.max())
    last_end = last + 1e-6
    n = span / period_s
    if abs(n - round(n)) > 1e-9 or int(round(n)) not in PROFILE_PERIODS:
        raise BadInput(f"{path}: folding onto one {fold} with periods of {period_s:g} s gives {n:g} periods; "
                       f"a profile has 24 or 168 (e.g. period: 1h with fold: "
                       f"{'day' if fold == 'day' else 'week'})")
    n, origin = int(round(n)), FOLD_ORIGIN_S[fold]
    idx = ((((t - origin) % span) // period_s).astype(int)) % n
    covered = np.zeros(n)
    c0 = math.floor((first - origin) / span) * span + origin
    while c0 <= last:
        lo = c0 + period_s * np.arange(n)
        covered += _covered(lo, lo + period_s, first, last_end)
        c0 += span
    return idx, covered


def _note_start(wall_s: float, n: int, path: Path) -> None:
    """A note when an unfolded trace's period 0 (its first request's, on the wall clock as written)
    is not midnight (a day) or Monday midnight (a week), where plan export's CronJobs start it: a
    trace from 18:15 had its 20:00 load in period 2, scaled up at 02:00 (a hunt, 2026-12-06)."""
    kind = "day" if n == 24 else "week"
    if (wall_s - FOLD_ORIGIN_S[kind]) % FOLD_SPAN_S[kind]:
        import warnings

        from planner.errors import PlannerNotice
        when = datetime.fromtimestamp(wall_s, timezone.utc).strftime("%H:%M" if kind == "day" else "%A %H:%M")
        warnings.warn(f"{path}: period 0 is the trace's first period, from {when}; plan export schedules period 0 "
                      f"at {'midnight' if kind == 'day' else 'Monday midnight'}: fold the trace "
                      f"(workload.trace.fold: {kind}) to plan by the clock", PlannerNotice, stacklevel=4)


def measured_over(covered: np.ndarray, t: np.ndarray, period_s: float, path: Path) -> np.ndarray:
    """Seconds each period's rate is measured over: the time the trace covers of it, at least the
    mean gap between requests (module docstring; at most a period), with a note naming the
    periods so measured."""
    import numpy as np
    gap = min(float(t.max() - t.min()) / (len(t) - 1) if len(t) > 1 else period_s, period_s)
    short = [i for i in range(len(covered)) if covered[i] < gap]
    if short:
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"{path}: the trace covers period(s) {', '.join(map(str, short[:6]))}"
                      f"{' …' if len(short) > 6 else ''} for less than the mean gap between its requests "
                      f"({gap:,.4g} s, e.g. {covered[short[0]]:.3g} s of period {short[0]}): their rate is taken "
                      f"over that gap", PlannerNotice, stacklevel=3)
    return np.maximum(covered, gap)


def read_trace(path: str | Path, period_s: float = 3600.0, scale: float = 1.0, fold: str = "none") -> TraceLoad:
    """The load of a trace file binned into 24 or 168 periods (module docstring)."""
    import numpy as np
    p = Path(path)
    t, ins, outs, offsets = read_rows(p)
    idx, covered = _bins(t, period_s, fold, p, offsets)
    counts = np.bincount(idx, minlength=len(covered)).astype(float)
    empty = [i for i in range(len(covered)) if covered[i] <= 0]
    if empty:
        raise BadInput(f"{p}: the trace covers no time of period(s) {', '.join(map(str, empty[:6]))}"
                       f"{' …' if len(empty) > 6 else ''} of the {fold}; its load there is unknown")
    covered = measured_over(covered, t, period_s, p)
    qps = counts / covered * scale
    if not counts.any():   # counted, not qps: `scale: 5e-324` underflows qps to 0, which load.py names
        raise BadInput(f"{p}: no requests fall in any period")
    if qps.max() > 1e9:
        raise BadInput(f"{p}: the busiest period reaches {qps.max():.3g} requests/s (above 1e9): "
                       f"timestamps in milliseconds? They are read as seconds")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in = np.bincount(idx, weights=ins, minlength=len(covered)) / counts
        mean_out = np.bincount(idx, weights=outs, minlength=len(covered)) / counts
    iv, iw = length_buckets(ins)
    ov, ow = length_buckets(outs)
    order = np.argsort(idx, kind="stable")
    cuts = np.searchsorted(idx[order], np.arange(len(covered) + 1))
    per_in, per_out = [], []
    for i in range(len(covered)):
        sel = order[cuts[i]:cuts[i + 1]]
        per_in.append(length_buckets(ins[sel]) if len(sel) else (iv, iw))
        per_out.append(length_buckets(outs[sel]) if len(sel) else (ov, ow))
    return TraceLoad(str(path), int(len(t)), float(t.max() - t.min()), period_s, fold, [float(x) for x in qps],
                     iv, iw, ov, ow, [float(x) for x in mean_in], [float(x) for x in mean_out], per_in, per_out,
                     int((ins + outs).max()))
