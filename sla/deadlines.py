"""Deadlines replayed from clock segments: pure, no database.

A target's clock is a list of segments (start, end or None while open, running or paused).
Its deadline is the instant at which the running segments have accumulated the target's
business time; replaying the same segments on the same calendar always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.clock import CalendarLike, add_business_time, business_time_between

ZERO = timedelta(0)


@dataclass(frozen=True)
class Segment:
    started_at: datetime
    ended_at: datetime | None
    running: bool


@dataclass(frozen=True)
class TargetClock:
    """Where one target stands at `now`."""

    due_at: datetime | None  # None while paused (the clock is stopped) or with no target
    warning_at: datetime | None
    elapsed: timedelta  # running business time so far
    remaining: timedelta  # target minus elapsed (negative once breached)
    paused: bool


def instant_at(
    calendar: CalendarLike, segments: Sequence[Segment], offset: timedelta
) -> datetime | None:
    """The instant at which the running segments reach `offset` of business time.

    None when they have not reached it and the clock is not running now (paused or stopped):
    then nobody can say when it will be reached.
    """
    remaining = offset
    for segment in segments:
        if not segment.running:
            continue
        if segment.ended_at is None:
            return add_business_time(calendar, segment.started_at, remaining)
        span = business_time_between(calendar, segment.started_at, segment.ended_at)
        if remaining <= span:
            return add_business_time(calendar, segment.started_at, remaining)
        remaining -= span
    return None


def elapsed(calendar: CalendarLike, segments: Sequence[Segment], now: datetime) -> timedelta:
    """Running business time accumulated by the segments up to `now`."""
    total = ZERO
    for segment in segments:
        if not segment.running or segment.started_at >= now:
            continue
        end = segment.ended_at if segment.ended_at is not None else now
        total += business_time_between(calendar, segment.started_at, min(end, now))
    return total


def target_clock(
    calendar: CalendarLike,
    segments: Sequence[Segment],
    target: timedelta,
    warning_offset: timedelta | None,
    now: datetime,
) -> TargetClock:
    """Deadline, warning instant, elapsed and remaining business time for one target."""
    used = elapsed(calendar, segments, now)
    open_segment = next((s for s in reversed(segments) if s.ended_at is None), None)
    running = open_segment is not None and open_segment.running
    due = instant_at(calendar, segments, target)
    warning = instant_at(calendar, segments, warning_offset) if warning_offset else None
    return TargetClock(
        due_at=due,
        warning_at=warning,
        elapsed=used,
        remaining=target - used,
        paused=open_segment is not None and not running,
    )
