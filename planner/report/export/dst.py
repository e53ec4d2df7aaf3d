"""Daylight saving and the scaling CronJobs of a plan over a day or a week.

Kubernetes runs a CronJob at the next wall-clock time of its `timeZone` that matches its schedule,
and a time the clock jumps over at the spring-forward change does not exist: the job of a period
starting at 02:00 in Europe/Berlin does not run that Sunday, and the counts of the period before
stay until the next change's job, hours later if the periods after it keep the same counts. A
repeated hour at the fall-back change runs its jobs a second time (kubernetes/kubernetes#121594);
each sets absolute counts, so only the stretch from the turn back to the hour's first job keeps
the counts of the hour's last period. So for each gap [a, b) a change's job falls in,
a catch-up job at b sets the counts in force at b — on every other day a no-op, as those counts are
the ones running then. (Until 2026-12-06 a scale-up inside a gap was missed once a year.)
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, timezone

STEP = timedelta(minutes=15)   # every UTC offset change in the tz database falls on a quarter hour


def _horizon_hours(wall: datetime, horizon_h: float) -> float:
    """A wall-clock time as hours into the horizon: a day from 00:00, a week from Monday 00:00."""
    h = wall.hour + wall.minute / 60.0
    return h if horizon_h <= 24.0 else wall.weekday() * 24.0 + h


def gaps(time_zone: str, horizon_h: float, years: tuple[int, ...]) -> list[tuple[float, float]]:
    """The [a, b) horizon hours the zone's clock jumps over in `years` (b < a: the gap wraps past
    the horizon's end), sorted, without repeats; none for a zone without daylight saving."""
    zone = zoneinfo.ZoneInfo(time_zone)
    out: set[tuple[float, float]] = set()
    for year in years:
        day = datetime(year, 1, 1, tzinfo=timezone.utc)
        while day.year == year:
            nxt = day + timedelta(days=1)
            if day.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():   # a change that day
                t, wall = day, day.astimezone(zone).replace(tzinfo=None)
                while t < nxt:
                    t += STEP
                    after = t.astimezone(zone).replace(tzinfo=None)
                    jump = after - wall - STEP
                    if jump > timedelta(0):
                        out.add((_horizon_hours(after - jump, horizon_h), _horizon_hours(after, horizon_h)))
                    wall = after
            day = nxt
    return sorted(out)


def inside(x: float, gap: tuple[float, float]) -> bool:
    """x in [a, b), a gap that may wrap past the horizon's end."""
    a, b = gap
    return a <= x < b if a < b else x >= a or x < b


def catch_ups(starts: list[float], horizon_h: float, time_zone: str | None,
              years: tuple[int, ...] | None = None) -> list[float]:
    """Horizon hours at which a catch-up job re-applies the counts in force: each gap's end b where
    a change (its start in `starts`) falls inside the gap and no change starts at b. `years`:
    default this one and the next."""
    if not time_zone or not starts:
        return []
    if years is None:
        now = datetime.now(timezone.utc).year
        years = (now, now + 1)
    out = []
    for gap in gaps(time_zone, horizon_h, years):
        if any(inside(s, gap) for s in starts) and gap[1] not in starts and gap[1] not in out:
            out.append(gap[1])
    return sorted(out)
