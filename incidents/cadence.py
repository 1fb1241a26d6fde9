"""The incident's communication cadence: when the next status update is due, and when the
incident manager is reminded. Pure: instants and a severity in, instants out.

The documents: hourly updates in the first critical hours of a Sev 1; the less severe, the
longer the interval. The reminders follow the tickets' status-update cadence: a warning when
`WARNING_SHARE` of the interval has passed, "missed" at the deadline.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

H = dt.timedelta(hours=1)
# Interval between updates by severity (1 = Sev 1), and for Sev 1 after its first hours.
INTERVALS = {1: H, 2: 2 * H, 3: 4 * H, 4: 8 * H}
SEV1_CRITICAL_HOURS = 4 * H
SEV1_LATER = 2 * H
WARNING_SHARE = 0.75


class Reminder(StrEnum):
    NONE = "none"
    DUE = "update_due"
    MISSED = "update_missed"


def interval(severity: int, started_at: dt.datetime, at: dt.datetime) -> dt.timedelta:
    """The update interval that applies at `at` for an incident of `severity` that started at
    `started_at`: hourly while a Sev 1 is in its first hours, then the longer interval."""
    if severity <= 1:
        return INTERVALS[1] if at - started_at < SEV1_CRITICAL_HOURS else SEV1_LATER
    return INTERVALS.get(severity, INTERVALS[4])


def next_update_due(
    severity: int, started_at: dt.datetime, last_update: dt.datetime
) -> dt.datetime:
    """When the update after the one sent at `last_update` (or the declaration) is due."""
    return last_update + interval(severity, started_at, last_update)


def warning_at(severity: int, started_at: dt.datetime, due_at: dt.datetime) -> dt.datetime:
    """The instant the incident manager is warned that the update due at `due_at` is near."""
    span = interval(severity, started_at, due_at - dt.timedelta(microseconds=1))
    return due_at - span * (1 - WARNING_SHARE)


def reminder(
    severity: int, started_at: dt.datetime, due_at: dt.datetime | None, now: dt.datetime
) -> Reminder:
    """Which reminder is due at `now` for the update due at `due_at` (each is sent once per
    deadline by the caller)."""
    if due_at is None:
        return Reminder.NONE
    if now >= due_at:
        return Reminder.MISSED
    if now >= warning_at(severity, started_at, due_at):
        return Reminder.DUE
    return Reminder.NONE
