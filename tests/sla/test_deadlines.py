"""Deadlines replayed from clock segments (sla/deadlines.py): pure, no database.

On the always-open calendar business time is wall time, so every expected instant is plain
arithmetic; one case on office hours checks that the calendar is the one consulted.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sla.clock import ALWAYS_OPEN, CalendarSpec
from sla.deadlines import Segment, TargetClock, elapsed, instant_at, target_clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def run(start: int, end: int | None) -> Segment:
    return Segment(T0 + start * H, None if end is None else T0 + end * H, running=True)


def pause(start: int, end: int | None) -> Segment:
    return Segment(T0 + start * H, None if end is None else T0 + end * H, running=False)


class TestInstantAt:
    def test_open_running_segment_adds_the_whole_offset(self):
        assert instant_at(ALWAYS_OPEN, [run(0, None)], 4 * H) == T0 + 4 * H

    def test_closed_segments_are_used_up_before_the_open_one(self):
        segments = [run(0, 2), pause(2, 5), run(5, None)]
        assert instant_at(ALWAYS_OPEN, segments, 4 * H) == T0 + 7 * H

    def test_offset_reached_inside_a_closed_segment(self):
        segments = [run(0, 3), pause(3, None)]
        assert instant_at(ALWAYS_OPEN, segments, 2 * H) == T0 + 2 * H

    def test_offset_reached_exactly_at_the_end_of_a_closed_segment(self):
        segments = [run(0, 3), pause(3, None)]
        assert instant_at(ALWAYS_OPEN, segments, 3 * H) == T0 + 3 * H

    def test_not_reached_while_paused_is_unknown(self):
        segments = [run(0, 3), pause(3, None)]
        assert instant_at(ALWAYS_OPEN, segments, 3 * H + timedelta(seconds=1)) is None

    def test_an_open_pause_is_not_running_time(self):
        assert instant_at(ALWAYS_OPEN, [pause(0, None)], H) is None

    def test_a_closed_pause_does_not_count(self):
        segments = [pause(0, 10), run(10, None)]
        assert instant_at(ALWAYS_OPEN, segments, H) == T0 + 11 * H

    def test_stopped_clock_that_never_reached_the_offset(self):
        assert instant_at(ALWAYS_OPEN, [run(0, 1)], 2 * H) is None

    def test_office_hours_calendar_is_consulted(self):
        nine_to_five = CalendarSpec(tz="UTC", weekly=(((time(9), time(17)),),) * 5 + ((),) * 2)
        # Monday 09:00 + 10 business hours = Tuesday 11:00.
        assert instant_at(nine_to_five, [run(0, None)], 10 * H) == T0 + timedelta(hours=26)
        # 8 hours used on Monday by a closed segment, 2 more on Tuesday.
        segments = [run(0, 8), run(24, None)]
        assert instant_at(nine_to_five, segments, 10 * H) == T0 + timedelta(hours=26)


class TestElapsed:
    def test_sums_running_segments_up_to_now(self):
        segments = [run(0, 2), pause(2, 5), run(5, None)]
        assert elapsed(ALWAYS_OPEN, segments, T0 + 6 * H) == 3 * H

    def test_a_segment_ending_after_now_counts_only_up_to_now(self):
        assert elapsed(ALWAYS_OPEN, [run(0, 5)], T0 + 2 * H) == 2 * H

    def test_segments_starting_after_now_do_not_count(self):
        segments = [run(0, 1), run(3, None)]
        assert elapsed(ALWAYS_OPEN, segments, T0 + 2 * H) == H

    def test_pauses_do_not_count(self):
        assert elapsed(ALWAYS_OPEN, [pause(0, None)], T0 + 5 * H) == timedelta(0)

    def test_nothing_before_the_first_segment(self):
        assert elapsed(ALWAYS_OPEN, [run(1, None)], T0) == timedelta(0)


class TestTargetClock:
    def test_running(self):
        clock = target_clock(ALWAYS_OPEN, [run(0, None)], 4 * H, 3 * H, T0 + H)
        assert clock == TargetClock(
            due_at=T0 + 4 * H, warning_at=T0 + 3 * H, elapsed=H, remaining=3 * H, paused=False
        )

    def test_paused(self):
        clock = target_clock(ALWAYS_OPEN, [run(0, 1), pause(1, None)], 4 * H, 3 * H, T0 + 2 * H)
        assert clock == TargetClock(
            due_at=None, warning_at=None, elapsed=H, remaining=3 * H, paused=True
        )

    def test_breached_has_negative_remaining(self):
        clock = target_clock(ALWAYS_OPEN, [run(0, None)], 2 * H, None, T0 + 5 * H)
        assert clock.due_at == T0 + 2 * H
        assert clock.warning_at is None
        assert clock.remaining == -3 * H
        assert clock.paused is False

    def test_stopped_clock_is_neither_running_nor_paused(self):
        clock = target_clock(ALWAYS_OPEN, [run(0, 1)], 2 * H, None, T0 + 3 * H)
        assert clock.paused is False
        assert clock.due_at is None
        assert clock.elapsed == H

    def test_no_segments(self):
        clock = target_clock(ALWAYS_OPEN, [], 2 * H, H, T0)
        assert clock == TargetClock(
            due_at=None, warning_at=None, elapsed=timedelta(0), remaining=2 * H, paused=False
        )

    def test_the_last_open_segment_decides(self):
        # A stale open segment earlier in the list does not decide the state: the last one does.
        segments = [pause(0, None), run(1, None)]
        assert target_clock(ALWAYS_OPEN, segments, 9 * H, None, T0 + 2 * H).paused is False
        segments = [run(0, None), pause(1, None)]
        assert target_clock(ALWAYS_OPEN, segments, 9 * H, None, T0 + 2 * H).paused is True
