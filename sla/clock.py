"""Business-time arithmetic for SLA clocks: pure, exact and fast.

This module is the one place where "how much business time lies between two instants" and
"when will N business hours have passed" are answered. It knows nothing about Django or the
database: callers pass a :class:`CalendarSpec` (or any object with an ``as_spec()`` method, such
as the ``sla.BusinessCalendar`` model) and aware datetimes, and get aware UTC datetimes back.

The calendar rules
------------------
* Opening hours are **local wall-clock intervals** ``(start, end)`` in the calendar's IANA time
  zone, several per weekday (``weekly[0]`` is Monday). An interval with ``end <= start`` runs
  overnight into the next day: ``(22:00, 06:00)`` is an eight-hour night shift, ``(08:00, 00:00)``
  runs until midnight and ``(00:00, 00:00)`` is a whole day.
* **An interval belongs to the date it starts on.** The Friday-night shift ``(22:00, 06:00)`` is
  Friday's, and its early-Saturday part happens even if Saturday is a holiday.
* ``special_hours`` replace the weekly intervals of their date (an empty entry closes the day).
* ``closed_dates`` (holidays) close a date: none of its intervals happen, including their
  overnight part. Special hours win over a closure, so a generated holiday can be opened
  deliberately by giving it special hours.
* ``always_open`` makes the calendar 24/7; the other fields are then ignored.

Business time is **real elapsed time** (UTC) that lies inside open intervals. A local wall time is
turned into an instant as "the first instant at which the local clock shows that time or later":

* in the spring-forward gap a wall time does not exist, so it moves forward to the instant the
  clocks jump (Berlin 02:30 on the last Sunday in March becomes 03:00 CEST);
* in the autumn fold a wall time exists twice and the first occurrence is used (``fold=0``).

So the 22:00-06:00 shift that contains a DST change really lasts 7 or 9 hours.

How it is fast
--------------
Each calendar is compiled once (cached by the frozen spec) into a timeline: per UTC year, the open
intervals as sorted integer epoch microseconds plus a cumulative sum of their lengths. Years are
built lazily, in either direction, when a query first touches them. ``business_time_between``
is then two bisections and a subtraction, and ``add_business_time`` a bisection on the cumulative
sums; the cost grows with the number of years spanned, never with the size of the delta.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ALWAYS_OPEN",
    "CalendarInvalid",
    "CalendarLike",
    "CalendarSpec",
    "NoBusinessHours",
    "add_business_time",
    "business_time_between",
    "clear_cache",
    "is_open",
    "next_open_instants",
    "validate_spec",
]

Interval = tuple[time, time]
DayHours = tuple[Interval, ...]
WeeklyHours = tuple[DayHours, ...]
SpecialHours = tuple[tuple[date, DayHours], ...]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# A search for open time gives up after this many consecutive years without any, so an
# all-closed calendar is an error instead of a hang.
HORIZON_YEARS = 10

# Years whose neighbours are still representable as datetimes; chunks reach a few days into
# the adjacent years.
_MIN_YEAR, _MAX_YEAR = 2, 9998

_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class NoBusinessHours(ValueError):
    """The calendar has no open time at all, or none within ``HORIZON_YEARS`` of the query."""


class CalendarInvalid(ValueError):
    """The calendar is malformed, e.g. two intervals overlap; ``problems`` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid business calendar: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CalendarSpec:
    """A business calendar as a plain, hashable value (see the module docstring for the rules).

    ``weekly`` holds seven tuples of ``(start, end)`` local times, Monday first. ``special_hours``
    maps a date to the intervals that replace its weekly hours; a ``Mapping`` or any iterable of
    ``(date, intervals)`` pairs is accepted and normalised to a tuple sorted by date, and lists
    are normalised to tuples, so specs built from the database compare equal to hand-built ones.
    """

    tz: str
    weekly: WeeklyHours
    closed_dates: frozenset[date] = frozenset()
    special_hours: SpecialHours = ()
    always_open: bool = False

    def __post_init__(self) -> None:
        # Normalising here keeps the spec hashable (it is the cache key of its compiled timeline).
        # Frozen dataclasses may only be written through object.__setattr__.
        # Malformed intervals are kept as they are for validate_spec to report, and dates sort
        # by their ISO text, which cannot fail on a stray datetime.
        weekly = tuple(tuple(tuple(interval) for interval in day) for day in self.weekly)
        special: Mapping[date, DayHours] | SpecialHours = self.special_hours
        pairs = special.items() if isinstance(special, Mapping) else special
        special_hours = tuple(
            sorted(
                ((day, tuple(tuple(interval) for interval in hours)) for day, hours in pairs),
                key=lambda item: str(item[0]),
            )
        )
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "special_hours", special_hours)

    @classmethod
    def always_open_spec(cls, tz: str = "UTC") -> CalendarSpec:
        """Return a 24/7 calendar (business time equals elapsed time)."""
        return cls(tz=tz, weekly=((),) * 7, always_open=True)

    def as_spec(self) -> CalendarSpec:
        """Return ``self``, so a spec can stand wherever a calendar model is accepted."""
        return self


ALWAYS_OPEN = CalendarSpec.always_open_spec()


class SupportsAsSpec(Protocol):
    """Anything that can describe itself as a :class:`CalendarSpec` (e.g. the calendar model)."""

    def as_spec(self) -> CalendarSpec: ...


CalendarLike = CalendarSpec | SupportsAsSpec


# --- validation --------------------------------------------------------------------------------


def validate_spec(spec: CalendarSpec) -> list[str]:
    """Return human-readable problems with ``spec``; an empty list means it is usable.

    Checked: the time zone exists, there are seven weekdays, every interval is a pair of naive
    ``time`` values, no two intervals overlap (including an overnight part running into the next
    day's hours, and special hours against their neighbouring days), every date is a ``date``,
    and the calendar has some open time at all. Touching intervals (one ends when the next
    starts) are fine.
    """
    problems = _structural_problems(spec)
    if not problems and not _has_open_time(spec):
        problems.append("the calendar has no opening hours at all")
    return problems


def _structural_problems(spec: CalendarSpec) -> list[str]:
    problems: list[str] = []
    try:
        ZoneInfo(spec.tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"unknown time zone {spec.tz!r}")
    if len(spec.weekly) != 7:
        problems.append(f"weekly hours need 7 days (Monday first), got {len(spec.weekly)}")
        return problems

    for name, hours in zip(DAY_NAMES, spec.weekly, strict=True):
        problems += _interval_type_problems(name, hours)
    for d, hours in spec.special_hours:
        problems += _date_type_problems(d, "special hours")
        problems += _interval_type_problems(f"special hours on {d}", hours)
    for d in sorted(spec.closed_dates, key=str):
        problems += _date_type_problems(d, "closed date")
    if problems:
        return problems

    for name, hours in zip(DAY_NAMES, spec.weekly, strict=True):
        problems += _overlaps_within_day(name, hours)
    for weekday, hours in enumerate(spec.weekly):
        next_weekday = (weekday + 1) % 7
        problems += _overlaps_into_next_day(
            DAY_NAMES[weekday], hours, DAY_NAMES[next_weekday], spec.weekly[next_weekday]
        )

    special = dict(spec.special_hours)
    if len(special) != len(spec.special_hours):
        seen: set[date] = set()
        for d, _hours in spec.special_hours:
            if d in seen:
                problems.append(f"special hours given twice for {d}")
            seen.add(d)

    def actual_hours(day: date) -> DayHours:
        if day in special:
            return special[day]
        return () if day in spec.closed_dates else spec.weekly[day.weekday()]

    for d, hours in special.items():
        label = f"special hours on {d}"
        problems += _overlaps_within_day(label, hours)
        before, after = d - timedelta(days=1), d + timedelta(days=1)
        problems += _overlaps_into_next_day(str(before), actual_hours(before), label, hours)
        if after not in special:  # otherwise that pair is checked as the next date's "before"
            problems += _overlaps_into_next_day(label, hours, str(after), actual_hours(after))
    return problems


def _interval_type_problems(label: str, hours: DayHours) -> list[str]:
    problems = []
    for interval in hours:
        ok = len(interval) == 2 and all(isinstance(t, time) and t.tzinfo is None for t in interval)
        if not ok:
            problems.append(f"{label}: {interval!r} is not a pair of naive datetime.time values")
    return problems


def _date_type_problems(value: object, what: str) -> list[str]:
    # datetime is a subclass of date but would never equal a date in the lookups.
    if isinstance(value, datetime) or not isinstance(value, date):
        return [f"{what} {value!r} is not a datetime.date"]
    return []


def _fmt(interval: Interval) -> str:
    def one(t: time) -> str:
        return t.isoformat(timespec="minutes" if not (t.second or t.microsecond) else "auto")

    return f"{one(interval[0])}-{one(interval[1])}"


def _span(interval: Interval) -> tuple[int, int]:
    """The interval as microseconds after its own date's midnight; end > start always."""
    start, end = (_time_us(t) for t in interval)
    return start, end if end > start else end + _DAY_US


def _time_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _overlaps_within_day(label: str, hours: DayHours) -> list[str]:
    problems = []
    ordered = sorted(hours, key=_span)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if _span(second)[0] < _span(first)[1]:
                problems.append(f"{label}: {_fmt(first)} overlaps {_fmt(second)}")
    return problems


def _overlaps_into_next_day(
    label: str, hours: DayHours, next_label: str, next_hours: DayHours
) -> list[str]:
    problems = []
    for interval in hours:
        tail_end = _span(interval)[1] - _DAY_US
        if tail_end <= 0:
            continue  # does not run past midnight
        for other in next_hours:
            if _span(other)[0] < tail_end:
                problems.append(
                    f"{label}: {_fmt(interval)} runs into {next_label} "
                    f"and overlaps its {_fmt(other)}"
                )
    return problems


def _has_open_time(spec: CalendarSpec) -> bool:
    return spec.always_open or any(spec.weekly) or any(hours for _d, hours in spec.special_hours)


# --- the compiled timeline ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Year:
    """Open intervals inside one UTC year, ``[lo, hi)``, as epoch microseconds.

    Intervals are sorted, disjoint and not touching (touching ones are merged); an interval that
    crosses the year boundary is cut there, its rest lives in the neighbouring year.
    ``cum_end[i]`` is the business time from ``lo`` to ``ends[i]``.
    """

    lo: int
    hi: int
    starts: list[int]
    ends: list[int]
    cum_end: list[int]

    @property
    def total(self) -> int:
        return self.cum_end[-1] if self.cum_end else 0

    def business_before(self, us: int) -> int:
        """Business time between ``lo`` and ``us`` (``lo <= us <= hi``)."""
        i = bisect_right(self.starts, us) - 1
        if i < 0:
            return 0
        # The interval holding or preceding `us`: all of it counts except what lies after `us`.
        return self.cum_end[i] - max(0, self.ends[i] - us)

    def instant_after(self, business: int) -> int:
        """The instant at which ``business`` (``0 < business <= total``) microseconds complete."""
        j = bisect_left(self.cum_end, business)
        return self.ends[j] - (self.cum_end[j] - business)


class _Timeline:
    """A compiled calendar: lazily built :class:`_Year` chunks plus the rules that build them."""

    def __init__(self, spec: CalendarSpec) -> None:
        problems = _structural_problems(spec)
        if problems:
            raise CalendarInvalid(problems)
        if not _has_open_time(spec):
            raise NoBusinessHours("the calendar has no opening hours at all")
        self.always_open = spec.always_open
        self._tz = ZoneInfo(spec.tz)
        self._weekly = [tuple(sorted(day, key=_span)) for day in spec.weekly]
        self._special = {d: tuple(sorted(hours, key=_span)) for d, hours in spec.special_hours}
        self._closed = spec.closed_dates
        self._years: dict[int, _Year] = {}
        self._last: _Year | None = None

    # Queries, all in epoch microseconds.

    def between(self, start: int, end: int) -> int:
        """Business time in ``[start, end)``; requires ``start <= end``."""
        chunk = self._chunk_at(start)
        if end < chunk.hi:
            return chunk.business_before(end) - chunk.business_before(start)
        first, last = _year_of(start), _year_of(end)
        if first == last:
            chunk = self.year(first)
            return chunk.business_before(end) - chunk.business_before(start)
        chunk = self.year(first)
        total = chunk.total - chunk.business_before(start)
        for year in range(first + 1, last):
            total += self.year(year).total
        return total + self.year(last).business_before(end)

    def add(self, start: int, delta: int) -> int:
        """The instant at which ``delta > 0`` business microseconds after ``start`` complete."""
        chunk = self._chunk_at(start)
        target = chunk.business_before(start) + delta  # counted from the start of its year
        if target <= chunk.total:
            return chunk.instant_after(target)
        year = _year_of(start)
        empty_years = 0
        while target > chunk.total:
            target -= chunk.total
            empty_years = empty_years + 1 if chunk.total == 0 else 0
            if empty_years > HORIZON_YEARS:
                raise NoBusinessHours(
                    f"no open time within {HORIZON_YEARS} years after {_from_us(start)}"
                )
            year += 1
            chunk = self.year(year)
        return chunk.instant_after(target)

    def _chunk_at(self, us: int) -> _Year:
        """The chunk holding instant ``us``: the one used last when it does (queries come in
        runs within one year), else ``year``'s."""
        last = self._last
        if last is not None and last.lo <= us < last.hi:
            return last
        chunk = self._last = self.year(_year_of(us))
        return chunk

    def is_open(self, at: int) -> bool:
        chunk = self.year(_year_of(at))
        i = bisect_right(chunk.starts, at) - 1
        return i >= 0 and at < chunk.ends[i]

    def openings(self, start: int) -> Iterator[int]:
        """Yield the instants at or after ``start`` at which open time begins, in order.

        Stops after ``HORIZON_YEARS`` consecutive years without an opening.
        """
        year = _year_of(start)
        quiet_years = 0
        while quiet_years <= HORIZON_YEARS:
            chunk = self.year(year)
            found = False
            for i in range(bisect_left(chunk.starts, start), len(chunk.starts)):
                opening = chunk.starts[i]
                if i == 0 and opening == chunk.lo and self._open_until(year - 1, opening):
                    continue  # an interval cut at the year boundary, not a real opening
                found = True
                yield opening
            quiet_years = 0 if found else quiet_years + 1
            year += 1

    def _open_until(self, year: int, instant: int) -> bool:
        if year < _MIN_YEAR:
            return False
        ends = self.year(year).ends
        return bool(ends) and ends[-1] == instant

    # Building.

    def year(self, year: int) -> _Year:
        """The chunk for UTC ``year``, built on first use."""
        chunk = self._years.get(year)
        if chunk is None:
            if not _MIN_YEAR <= year <= _MAX_YEAR:
                raise ValueError(f"instant outside the supported years {_MIN_YEAR}-{_MAX_YEAR}")
            # setdefault: if two threads build the same year, both use the first one stored.
            chunk = self._years.setdefault(year, self._build(year))
        return chunk

    def _build(self, year: int) -> _Year:
        lo, hi = _year_start_us(year), _year_start_us(year + 1)
        starts: list[int] = []
        ends: list[int] = []
        # Local dates whose intervals can reach into this UTC year: UTC offsets stay within
        # about +-15 h and an interval may run up to 24 h into the next day.
        day = date(year, 1, 1) - timedelta(days=3)
        last_day = date(year + 1, 1, 1)
        while day <= last_day:
            for start_time, end_time in self._hours_on(day):
                end_day = day + timedelta(days=1) if end_time <= start_time else day
                start = max(lo, self._wall_to_us(datetime.combine(day, start_time)))
                end = min(hi, self._wall_to_us(datetime.combine(end_day, end_time)))
                if start >= end:
                    continue  # outside this year, or swallowed whole by a DST gap
                if ends and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)  # touches the previous one: merge
                else:
                    starts.append(start)
                    ends.append(end)
            day += timedelta(days=1)
        cum_end = list(accumulate(end - start for start, end in zip(starts, ends, strict=True)))
        return _Year(lo=lo, hi=hi, starts=starts, ends=ends, cum_end=cum_end)

    def _hours_on(self, day: date) -> DayHours:
        special = self._special.get(day)
        if special is not None:
            return special
        if day in self._closed:
            return ()
        return self._weekly[day.weekday()]

    def _as_utc(self, wall: datetime) -> datetime:
        """``wall`` read with the offset zoneinfo picks for its ``fold``, as naive UTC."""
        offset = self._tz.utcoffset(wall)
        assert offset is not None  # a ZoneInfo always knows its offset
        return wall - offset

    def _wall_to_us(self, wall: datetime) -> int:
        """The first instant at which the local clock shows ``wall`` or later, in epoch us."""
        early = self._as_utc(wall.replace(fold=0))
        late = self._as_utc(wall.replace(fold=1))
        if early <= late:
            # Unambiguous (equal), or in the autumn fold: the first occurrence.
            return _naive_utc_us(early)
        # Spring-forward gap: the wall time never shows. zoneinfo maps it with the offset from
        # before the jump (fold=0, later instant) or after it (fold=1, earlier instant); the jump
        # itself lies in between and is the first instant whose local time is past `wall`.
        # Bisection works for any gap size and whole-second or odd offsets alike.
        before, after = _naive_utc_us(late), _naive_utc_us(early)
        while after - before > 1:
            middle = (before + after) // 2
            if _from_us(middle).astimezone(self._tz).replace(tzinfo=None) >= wall:
                after = middle
            else:
                before = middle
        return after


# --- helpers -----------------------------------------------------------------------------------


def _naive_utc_us(value: datetime) -> int:
    return (value - _EPOCH_NAIVE) // _US


def _year_start_us(year: int) -> int:
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_US


def _year_of(us: int) -> int:
    return date.fromordinal(_EPOCH_ORDINAL + us // _DAY_US).year


def _to_us(value: datetime, name: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got the naive {value!r}")
    return (value - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_CACHE_SIZE = 64
_cache: dict[CalendarSpec, _Timeline] = {}
# The same spec objects are asked about again and again (a policy's calendar, read once and
# kept): found by identity first, which spares hashing the spec (its weekly hours and dates)
# at every query. The entry keeps its spec, so its id cannot be reused while it is there.
_by_identity: dict[int, tuple[CalendarSpec, _Timeline]] = {}
_cache_lock = threading.Lock()


def _timeline(calendar: CalendarLike) -> _Timeline:
    spec = calendar if isinstance(calendar, CalendarSpec) else calendar.as_spec()
    known = _by_identity.get(id(spec))
    if known is not None and known[0] is spec:
        return known[1]
    if not isinstance(spec, CalendarSpec):
        raise TypeError(f"as_spec() must return a CalendarSpec, got {type(spec).__name__}")
    timeline = _cache.get(spec)
    if timeline is None:
        timeline = _Timeline(spec)  # raises CalendarInvalid / NoBusinessHours; nothing cached
        with _cache_lock:
            if len(_cache) >= _CACHE_SIZE:
                del _cache[next(iter(_cache))]  # oldest first; calendars rarely change
            timeline = _cache.setdefault(spec, timeline)
    with _cache_lock:
        if len(_by_identity) >= 4 * _CACHE_SIZE:
            _by_identity.clear()  # specs built anew per query (a model's as_spec()): start over
        _by_identity[id(spec)] = (spec, timeline)
    return timeline


def clear_cache() -> None:
    """Forget all compiled calendars (for benchmarks and tests; results never depend on it)."""
    with _cache_lock:
        _cache.clear()
        _by_identity.clear()


# --- public arithmetic -------------------------------------------------------------------------


def add_business_time(calendar: CalendarLike, start: datetime, delta: timedelta) -> datetime:
    """Return the instant at which ``delta`` of business time after ``start`` has elapsed.

    ``delta == 0`` returns ``start`` itself (in UTC), open or not. For ``delta > 0`` the result
    is the instant at which the last microsecond of ``delta`` completes: inside an open interval
    or at its end, never at the start of the next one (Friday 17:00 + 1 h is Friday 18:00 on an
    08:00-18:00 calendar, not Monday 08:00). Exact to the microsecond across DST, holidays and
    overnight intervals; inverse of :func:`business_time_between`.

    Returns an aware UTC datetime. Raises ``ValueError`` for a naive ``start`` or a negative
    ``delta``, :class:`CalendarInvalid` for a malformed calendar and :class:`NoBusinessHours`
    when the calendar has no open time (at all, or for ``HORIZON_YEARS`` years).
    """
    timeline = _timeline(calendar)
    start_us = _to_us(start, "start")
    delta_us = delta // _US
    if delta_us < 0:
        raise ValueError(f"delta must not be negative, got {delta}")
    if delta_us == 0 or timeline.always_open:
        return _from_us(start_us + delta_us)
    return _from_us(timeline.add(start_us, delta_us))


def business_time_between(calendar: CalendarLike, start: datetime, end: datetime) -> timedelta:
    """Return the business time in ``[start, end)``: the open part of the real elapsed time.

    When ``end`` is before ``start`` the result is negative:
    ``business_time_between(c, s, e) == -business_time_between(c, e, s)`` (an overdue amount).

    Raises ``ValueError`` for naive datetimes, :class:`CalendarInvalid` for a malformed calendar
    and :class:`NoBusinessHours` for a calendar with no opening hours at all.
    """
    timeline = _timeline(calendar)
    start_us, end_us = _to_us(start, "start"), _to_us(end, "end")
    if end_us < start_us:
        return -business_time_between(calendar, end, start)
    if timeline.always_open:
        return timedelta(microseconds=end_us - start_us)
    return timedelta(microseconds=timeline.between(start_us, end_us))


def is_open(calendar: CalendarLike, at: datetime) -> bool:
    """Return whether ``at`` lies in open time (intervals include their start, not their end).

    Raises like :func:`business_time_between`.
    """
    timeline = _timeline(calendar)
    at_us = _to_us(at, "at")
    return timeline.always_open or timeline.is_open(at_us)


def next_open_instants(calendar: CalendarLike, start: datetime, count: int) -> list[datetime]:
    """Return up to ``count`` instants (UTC, ascending) at or after ``start`` at which open time
    begins, e.g. to show an admin when the desk next opens.

    Back-to-back intervals (22:00-24:00 then 00:00-06:00) count as one opening. The list is
    shorter than ``count`` only when no further opening follows within ``HORIZON_YEARS`` years;
    a 24/7 calendar never opens, it is always open, so it gives ``[]``.

    Raises ``ValueError`` for a naive ``start`` or a negative ``count``, and like
    :func:`business_time_between` for a malformed or empty calendar.
    """
    timeline = _timeline(calendar)
    start_us = _to_us(start, "start")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    if count == 0 or timeline.always_open:
        return []
    found: list[datetime] = []
    for opening in timeline.openings(start_us):
        found.append(_from_us(opening))
        if len(found) == count:
            break
    return found
