"""Tests for the pure business-time arithmetic in ``sla.clock``.

Hand-worked examples first, then property-based tests: against a slow minute-by-minute
reference that follows the documented rules literally, and algebraic properties (inverse,
monotonic, additive) at microsecond precision. No Django and no database involved.
"""

from __future__ import annotations

import time as wallclock
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sla.clock import (
    ALWAYS_OPEN,
    CalendarInvalid,
    CalendarSpec,
    NoBusinessHours,
    add_business_time,
    business_time_between,
    is_open,
    next_open_instants,
    validate_spec,
)

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)
US = timedelta(microseconds=1)
H = timedelta(hours=1)

GERMAN_HOLIDAYS = frozenset(holidays.country_holidays("DE", years=range(2024, 2031)))
OFFICE = ((time(8), time(18)),)
CLOSED: tuple[tuple[time, time], ...] = ()
# Mon-Fri 08:00-18:00 in Berlin, closed on German public holidays.
BERLIN_OFFICE = CalendarSpec(
    tz="Europe/Berlin", weekly=(OFFICE,) * 5 + (CLOSED,) * 2, closed_dates=GERMAN_HOLIDAYS
)
# Every night 22:00-06:00 in Berlin.
NIGHT_SHIFT = CalendarSpec(tz="Europe/Berlin", weekly=(((time(22), time(6)),),) * 7)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- hand-worked examples ----------------------------------------------------------------------


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    result = add_business_time(BERLIN_OFFICE, berlin(2026, 1, 16, 17), 2 * H)

    assert result == berlin(2026, 1, 19, 9)
    assert result.tzinfo is UTC
    assert result == utc(2026, 1, 19, 8)
    assert business_time_between(BERLIN_OFFICE, berlin(2026, 1, 16, 17), result) == 2 * H


def test_the_last_business_hour_ends_at_closing_time_not_at_the_next_opening() -> None:
    assert add_business_time(BERLIN_OFFICE, berlin(2026, 1, 16, 17), H) == berlin(2026, 1, 16, 18)


def test_start_outside_hours_counts_from_the_next_opening() -> None:
    saturday = berlin(2026, 1, 17, 12)
    assert add_business_time(BERLIN_OFFICE, saturday, 30 * MINUTE) == berlin(2026, 1, 19, 8, 30)
    assert business_time_between(BERLIN_OFFICE, saturday, berlin(2026, 1, 19, 8)) == timedelta(0)


def test_easter_skips_good_friday_and_easter_monday() -> None:
    # 2026: Good Friday 3 April, Easter Monday 6 April; Berlin is on CEST (UTC+2) by then.
    result = add_business_time(BERLIN_OFFICE, berlin(2026, 4, 2, 17), 2 * H)
    assert result == berlin(2026, 4, 7, 9) == utc(2026, 4, 7, 7)


def test_christmas_and_new_year() -> None:
    # 24 Dec 2025 (Wed) is a working day, 25/26 Dec and 1 Jan are holidays.
    assert add_business_time(BERLIN_OFFICE, berlin(2025, 12, 24, 17), 3 * H) == berlin(
        2025, 12, 29, 10
    )
    # 24th: 6 h, 29th-31st: 3 x 10 h, 1 Jan closed, 2 Jan: 4 h.
    between = business_time_between(BERLIN_OFFICE, berlin(2025, 12, 24, 12), berlin(2026, 1, 2, 12))
    assert between == 40 * H


def test_crossing_the_year_end() -> None:
    assert add_business_time(BERLIN_OFFICE, berlin(2025, 12, 31, 17), 2 * H) == berlin(
        2026, 1, 2, 9
    )


def test_overnight_shift_on_spring_forward_night_lasts_seven_hours() -> None:
    # Berlin skips 02:00-03:00 on Sunday 29 March 2026.
    saturday_night = berlin(2026, 3, 28, 22)
    between = business_time_between(NIGHT_SHIFT, berlin(2026, 3, 28, 20), berlin(2026, 3, 29, 12))
    assert between == 7 * H
    assert add_business_time(NIGHT_SHIFT, saturday_night, 7 * H) == berlin(2026, 3, 29, 6)
    assert add_business_time(NIGHT_SHIFT, saturday_night, 7 * H + MINUTE) == berlin(
        2026, 3, 29, 22, 1
    )


def test_overnight_shift_on_fall_back_night_lasts_nine_hours() -> None:
    # Berlin repeats 02:00-03:00 on Sunday 25 October 2026.
    saturday_night = berlin(2026, 10, 24, 22)  # 20:00 UTC
    between = business_time_between(NIGHT_SHIFT, berlin(2026, 10, 24, 20), berlin(2026, 10, 25, 12))
    assert between == 9 * H
    assert add_business_time(NIGHT_SHIFT, saturday_night, 8 * H) == utc(2026, 10, 25, 4)
    assert add_business_time(NIGHT_SHIFT, saturday_night, 9 * H) == berlin(2026, 10, 25, 6)


def test_wall_time_in_the_spring_forward_gap_moves_to_the_jump() -> None:
    early_shift = CalendarSpec(tz="Europe/Berlin", weekly=(((time(2, 30), time(5)),),) * 7)
    day_start = berlin(2026, 3, 29, 0)

    assert next_open_instants(early_shift, day_start, 1) == [utc(2026, 3, 29, 1)]  # 03:00 CEST
    assert business_time_between(early_shift, day_start, berlin(2026, 3, 29, 12)) == 2 * H


def test_wall_time_in_the_autumn_fold_uses_the_first_occurrence() -> None:
    early_shift = CalendarSpec(tz="Europe/Berlin", weekly=(((time(2, 30), time(5)),),) * 7)
    day_start = berlin(2026, 10, 25, 0)

    assert next_open_instants(early_shift, day_start, 1) == [utc(2026, 10, 25, 0, 30)]  # CEST
    assert business_time_between(early_shift, day_start, berlin(2026, 10, 25, 12)) == 3.5 * H


def test_lord_howe_half_hour_dst() -> None:
    whole_days = CalendarSpec(tz="Australia/Lord_Howe", weekly=(((time(0), time(0)),),) * 7)
    lord_howe = ZoneInfo("Australia/Lord_Howe")

    def local(*args: int) -> datetime:
        return datetime(*args, tzinfo=lord_howe)

    # DST starts on 4 Oct 2026 (02:00 -> 02:30) and ends on 5 Apr 2026 (02:00 -> 01:30).
    assert business_time_between(whole_days, local(2026, 10, 4), local(2026, 10, 5)) == 23.5 * H
    assert business_time_between(whole_days, local(2026, 4, 5), local(2026, 4, 6)) == 24.5 * H


def test_leap_day_is_an_ordinary_tuesday() -> None:
    assert add_business_time(BERLIN_OFFICE, berlin(2028, 2, 28, 17), 2 * H) == berlin(
        2028, 2, 29, 9
    )
    between = business_time_between(BERLIN_OFFICE, berlin(2028, 2, 28, 8), berlin(2028, 3, 1, 8))
    assert between == 20 * H


def test_special_hours_replace_the_weekly_hours() -> None:
    short_leap_day = CalendarSpec(
        tz="Europe/Berlin",
        weekly=BERLIN_OFFICE.weekly,
        special_hours={date(2028, 2, 29): ((time(10), time(12)),)},
    )
    # Mon 17-18 (1 h), Tue 10-12 (2 h), Wed from 08:00 (1 h).
    assert add_business_time(short_leap_day, berlin(2028, 2, 28, 17), 4 * H) == berlin(
        2028, 3, 1, 9
    )
    assert not is_open(short_leap_day, berlin(2028, 2, 29, 9))


def test_special_hours_open_a_holiday_and_can_be_overnight() -> None:
    # 1 Jan 2026 is a German holiday; special hours win over the closure.
    open_new_year = CalendarSpec(
        tz="Europe/Berlin",
        weekly=BERLIN_OFFICE.weekly,
        closed_dates=GERMAN_HOLIDAYS,
        special_hours=(
            (date(2026, 1, 1), ((time(12), time(14)),)),
            (date(2026, 1, 3), ((time(20), time(2)),)),  # a Saturday night
        ),
    )
    assert add_business_time(open_new_year, berlin(2025, 12, 31, 17), 2 * H) == berlin(
        2026, 1, 1, 13
    )
    assert business_time_between(open_new_year, berlin(2026, 1, 3), berlin(2026, 1, 5, 8)) == 6 * H


def test_closed_date_removes_the_whole_interval_including_its_overnight_part() -> None:
    nights = CalendarSpec(
        tz="Europe/Berlin", weekly=NIGHT_SHIFT.weekly, closed_dates=frozenset({date(2026, 1, 16)})
    )
    # The night of Thu 15th runs into the 16th and still happens; the night of the 16th does not.
    assert is_open(nights, berlin(2026, 1, 16, 5))
    assert not is_open(nights, berlin(2026, 1, 16, 23))
    assert not is_open(nights, berlin(2026, 1, 17, 5))
    between = business_time_between(nights, berlin(2026, 1, 15, 12), berlin(2026, 1, 17, 12))
    assert between == 8 * H


def test_custom_closed_date() -> None:
    with_company_day = CalendarSpec(
        tz="Europe/Berlin",
        weekly=BERLIN_OFFICE.weekly,
        closed_dates=GERMAN_HOLIDAYS | {date(2026, 1, 19)},
    )
    assert add_business_time(with_company_day, berlin(2026, 1, 16, 17), 2 * H) == berlin(
        2026, 1, 20, 9
    )


def test_always_open_is_elapsed_time() -> None:
    start = berlin(2026, 3, 28, 12)
    end = berlin(2026, 3, 29, 12)  # spring-forward day: 23 real hours

    assert business_time_between(ALWAYS_OPEN, start, end) == 23 * H
    assert add_business_time(ALWAYS_OPEN, start, 23 * H) == end
    assert is_open(ALWAYS_OPEN, start)
    assert next_open_instants(ALWAYS_OPEN, start, 3) == []
    berlin_24_7 = CalendarSpec.always_open_spec("Europe/Berlin")
    assert business_time_between(berlin_24_7, start, end) == 23 * H


def test_whole_day_intervals_behave_like_always_open() -> None:
    whole_days = CalendarSpec(tz="Europe/Berlin", weekly=(((time(0), time(0)),),) * 7)
    start, end = berlin(2026, 10, 24, 12), berlin(2026, 10, 26, 12)

    assert business_time_between(whole_days, start, end) == 49 * H
    assert add_business_time(whole_days, start, 49 * H) == end
    assert next_open_instants(whole_days, start, 1) == []


def test_delta_zero_returns_start_even_when_closed() -> None:
    saturday = berlin(2026, 1, 17, 12)
    assert add_business_time(BERLIN_OFFICE, saturday, timedelta(0)) == saturday


def test_microsecond_precision() -> None:
    almost_closing = berlin(2026, 1, 16, 17, 59, 59, 999_999)
    assert add_business_time(BERLIN_OFFICE, almost_closing, US) == berlin(2026, 1, 16, 18)
    assert add_business_time(BERLIN_OFFICE, almost_closing, 2 * US) == berlin(
        2026, 1, 19, 8, 0, 0, 1
    )


def test_between_is_negative_when_end_precedes_start() -> None:
    friday, monday = berlin(2026, 1, 16, 17), berlin(2026, 1, 19, 9)
    assert business_time_between(BERLIN_OFFICE, monday, friday) == -2 * H


def test_is_open_includes_the_start_and_excludes_the_end() -> None:
    assert is_open(BERLIN_OFFICE, berlin(2026, 1, 16, 8))
    assert is_open(BERLIN_OFFICE, berlin(2026, 1, 16, 17, 59, 59, 999_999))
    assert not is_open(BERLIN_OFFICE, berlin(2026, 1, 16, 18))
    assert not is_open(BERLIN_OFFICE, berlin(2026, 4, 3, 10))  # Good Friday


def test_next_open_instants_skips_holidays_and_weekends() -> None:
    openings = next_open_instants(BERLIN_OFFICE, berlin(2026, 4, 2, 12), 3)
    assert openings == [berlin(2026, 4, 7, 8), berlin(2026, 4, 8, 8), berlin(2026, 4, 9, 8)]
    # An opening exactly at the start counts.
    assert next_open_instants(BERLIN_OFFICE, berlin(2026, 4, 7, 8), 1) == [berlin(2026, 4, 7, 8)]
    assert next_open_instants(BERLIN_OFFICE, berlin(2026, 4, 7, 8), 0) == []


def test_back_to_back_intervals_are_one_opening_even_across_the_year_end() -> None:
    split_night = CalendarSpec(tz="UTC", weekly=(((time(22), time(0)), (time(0), time(6))),) * 7)
    openings = next_open_instants(split_night, utc(2026, 12, 31, 12), 2)
    assert openings == [utc(2026, 12, 31, 22), utc(2027, 1, 1, 22)]
    assert add_business_time(split_night, utc(2026, 12, 31, 23), 2 * H) == utc(2027, 1, 1, 1)


def test_model_like_objects_with_as_spec_are_accepted() -> None:
    class CalendarModel:
        def as_spec(self) -> CalendarSpec:
            return BERLIN_OFFICE

    result = add_business_time(CalendarModel(), berlin(2026, 1, 16, 17), 2 * H)
    assert result == berlin(2026, 1, 19, 9)


def test_specs_built_from_lists_and_dicts_equal_hand_built_ones() -> None:
    from_db = CalendarSpec(
        tz="UTC",
        weekly=[[(time(9), time(17))]] + [[]] * 6,  # type: ignore[arg-type]
        closed_dates={date(2026, 1, 1)},  # type: ignore[arg-type]
        special_hours={date(2026, 1, 2): [(time(9), time(12))]},  # type: ignore[arg-type]
    )
    by_hand = CalendarSpec(
        tz="UTC",
        weekly=(((time(9), time(17)),),) + ((),) * 6,
        closed_dates=frozenset({date(2026, 1, 1)}),
        special_hours=((date(2026, 1, 2), ((time(9), time(12)),)),),
    )
    assert from_db == by_hand
    assert hash(from_db) == hash(by_hand)


def test_empty_calendar_raises_no_business_hours_at_once() -> None:
    empty = CalendarSpec(tz="Europe/Berlin", weekly=((),) * 7)
    began = wallclock.perf_counter()

    with pytest.raises(NoBusinessHours):
        add_business_time(empty, berlin(2026, 1, 16, 17), H)
    with pytest.raises(NoBusinessHours):
        business_time_between(empty, berlin(2026, 1, 16), berlin(2026, 1, 17))
    with pytest.raises(NoBusinessHours):
        next_open_instants(empty, berlin(2026, 1, 16), 1)

    # Not a benchmark: guards against a search that walks forward instead of giving up.
    assert wallclock.perf_counter() - began < 2
    assert validate_spec(empty) == ["the calendar has no opening hours at all"]


def test_calendar_closed_for_the_whole_horizon_raises_no_business_hours() -> None:
    every_day = {date(2026, 1, 1) + timedelta(days=n) for n in range(15 * 366)}
    never_open = CalendarSpec(
        tz="Europe/Berlin", weekly=BERLIN_OFFICE.weekly, closed_dates=frozenset(every_day)
    )
    start = berlin(2026, 1, 16, 17)
    began = wallclock.perf_counter()

    with pytest.raises(NoBusinessHours):
        add_business_time(never_open, start, H)
    assert next_open_instants(never_open, start, 3) == []
    assert business_time_between(never_open, start, berlin(2030, 1, 1)) == timedelta(0)
    assert wallclock.perf_counter() - began < 2  # see the test above


def test_special_hours_only_in_the_past_raise_no_business_hours() -> None:
    one_off = CalendarSpec(
        tz="UTC", weekly=((),) * 7, special_hours={date(2026, 1, 2): ((time(9), time(12)),)}
    )
    assert business_time_between(one_off, utc(2026, 1, 1), utc(2026, 1, 3)) == 3 * H
    with pytest.raises(NoBusinessHours):
        add_business_time(one_off, utc(2026, 1, 2, 11), 2 * H)


@pytest.mark.parametrize(
    ("weekly", "special_hours", "expected"),
    [
        pytest.param(
            (((time(8), time(12)), (time(11), time(13))),) + ((),) * 6,
            (),
            ["Monday: 08:00-12:00 overlaps 11:00-13:00"],
            id="within-a-day",
        ),
        pytest.param(
            (((time(22), time(6)),), ((time(5), time(9)),)) + ((),) * 5,
            (),
            ["Monday: 22:00-06:00 runs into Tuesday and overlaps its 05:00-09:00"],
            id="overnight-into-next-day",
        ),
        pytest.param(
            (((time(0), time(4)),),) + ((),) * 5 + (((time(23), time(1)),),),
            (),
            ["Sunday: 23:00-01:00 runs into Monday and overlaps its 00:00-04:00"],
            id="sunday-night-into-monday",
        ),
        pytest.param(
            (((time(10), time(10)),),) + ((),) * 6,
            (),
            [],
            id="a-24-hour-interval-alone-is-fine",
        ),
        pytest.param(
            (((time(22), time(6)),),) * 7,
            ((date(2026, 1, 6), ((time(5), time(7)),)),),
            [
                "2026-01-05: 22:00-06:00 runs into special hours on 2026-01-06 and overlaps its "
                "05:00-07:00"
            ],
            id="special-hours-against-previous-night",
        ),
        pytest.param(
            (OFFICE,) * 7,
            ((date(2026, 1, 6), ((time(20), time(9)),)),),
            [
                "special hours on 2026-01-06: 20:00-09:00 runs into 2026-01-07 and overlaps its "
                "08:00-18:00"
            ],
            id="special-night-into-next-day",
        ),
    ],
)
def test_validate_spec_finds_overlaps(
    weekly: tuple[tuple[tuple[time, time], ...], ...],
    special_hours: tuple[tuple[date, tuple[tuple[time, time], ...]], ...],
    expected: list[str],
) -> None:
    spec = CalendarSpec(tz="Europe/Berlin", weekly=weekly, special_hours=special_hours)

    assert validate_spec(spec) == expected
    if expected:
        with pytest.raises(CalendarInvalid) as raised:
            add_business_time(spec, berlin(2026, 1, 5), H)
        assert raised.value.problems == expected


def test_touching_intervals_are_valid() -> None:
    spec = CalendarSpec(tz="UTC", weekly=(((time(8), time(12)), (time(12), time(18))),) * 7)
    assert validate_spec(spec) == []
    assert business_time_between(spec, utc(2026, 1, 5), utc(2026, 1, 6)) == 10 * H


def test_validate_spec_reports_malformed_fields() -> None:
    spec = CalendarSpec(
        tz="Mars/Olympus_Mons",
        weekly=(((time(8, tzinfo=UTC), time(18)),),) * 6,
        closed_dates=frozenset({datetime(2026, 1, 1)}),  # naive on purpose
        special_hours=((date(2026, 1, 2), ()), (date(2026, 1, 2), ())),
    )
    problems = validate_spec(spec)
    assert problems == [
        "unknown time zone 'Mars/Olympus_Mons'",
        "weekly hours need 7 days (Monday first), got 6",
    ]
    with pytest.raises(CalendarInvalid):
        is_open(spec, berlin(2026, 1, 5))

    seven_days = CalendarSpec(
        tz="UTC",
        weekly=(((time(8, tzinfo=UTC), time(18)),),) + (OFFICE,) * 6,
        closed_dates=frozenset({datetime(2026, 1, 1)}),
        special_hours=((date(2026, 1, 2), ()), (date(2026, 1, 2), ())),
    )
    problems = validate_spec(seven_days)
    assert len(problems) == 2
    assert problems[0].startswith("Monday: (datetime.time(8, 0, tzinfo=datetime.timezone.utc)")
    assert problems[1].startswith("closed date datetime.datetime(2026, 1, 1, 0, 0)")

    duplicated = CalendarSpec(
        tz="UTC", weekly=(OFFICE,) * 7, special_hours=((date(2026, 1, 2), ()),) * 2
    )
    assert validate_spec(duplicated) == ["special hours given twice for 2026-01-02"]

    three_times = CalendarSpec(tz="UTC", weekly=(((time(8), time(9), time(10)),),) * 7)
    assert validate_spec(three_times)[0] == (
        "Monday: (datetime.time(8, 0), datetime.time(9, 0), datetime.time(10, 0)) "
        "is not a pair of naive datetime.time values"
    )


def test_naive_datetimes_and_negative_deltas_are_refused() -> None:
    naive = datetime(2026, 1, 16, 17)  # naive on purpose
    aware = berlin(2026, 1, 16, 17)

    with pytest.raises(ValueError, match="aware"):
        add_business_time(BERLIN_OFFICE, naive, H)
    with pytest.raises(ValueError, match="aware"):
        business_time_between(BERLIN_OFFICE, aware, naive)
    with pytest.raises(ValueError, match="aware"):
        is_open(BERLIN_OFFICE, naive)
    with pytest.raises(ValueError, match="aware"):
        next_open_instants(BERLIN_OFFICE, naive, 1)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(BERLIN_OFFICE, aware, -US)
    with pytest.raises(ValueError, match="negative"):
        next_open_instants(BERLIN_OFFICE, aware, -1)


# --- the reference: minute by minute, the rules taken literally ---------------------------------


def reference_hours(spec: CalendarSpec, day: date) -> tuple[tuple[time, time], ...]:
    special = dict(spec.special_hours)
    if day in special:
        return special[day]
    if day in spec.closed_dates:
        return ()
    return spec.weekly[day.weekday()]


def reference_flags(spec: CalendarSpec, start: datetime, minutes: int) -> list[bool]:
    """Whether each minute from ``start - 1 min`` to ``start + minutes`` is open.

    A minute is open when the local clock's high-water mark (the latest wall time shown so far)
    lies in an interval of the date the interval starts on. That is the documented rule read
    literally: an interval runs from the first instant the clock shows its start to the first
    instant it shows its end. In a spring-forward gap the mark jumps with the clock; in the autumn
    fold it stays put while the clock repeats the hour.
    """
    tz = ZoneInfo(spec.tz)
    local_intervals: dict[date, list[tuple[datetime, datetime]]] = {}

    def intervals_of(day: date) -> list[tuple[datetime, datetime]]:
        if day not in local_intervals:
            local_intervals[day] = [
                (
                    datetime.combine(day, opens),
                    datetime.combine(day + timedelta(days=closes <= opens), closes),
                )
                for opens, closes in reference_hours(spec, day)
            ]
        return local_intervals[day]

    # Start a few hours early so that the mark has seen the hour before any fold.
    warm_up = 180
    mark = datetime.min
    flags = []
    for k in range(-warm_up, minutes + 1):
        wall = (start + k * MINUTE).astimezone(tz).replace(tzinfo=None)
        mark = max(mark, wall)
        if k >= -1:
            flags.append(
                any(
                    opens <= mark < closes
                    for day in (mark.date(), mark.date() - timedelta(days=1))
                    for opens, closes in intervals_of(day)
                )
            )
    return flags


# --- strategies ----------------------------------------------------------------------------------

TIME_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]
QUARTERS_PER_DAY = 96


def quarter(q: int) -> time:
    """Quarter-hour ``q`` of a day as a time; 96 (24:00) is midnight, written 00:00."""
    return time((q // 4) % 24, (q % 4) * 15)


def offset_changes(zone: str) -> list[datetime]:
    """Noon UTC before each day in 2024-2029 on which the zone's UTC offset changes."""
    tz = ZoneInfo(zone)
    days = [utc(2024, 1, 1, 12) + timedelta(days=n) for n in range(6 * 366)]
    return [
        earlier
        for earlier, later in pairwise(days)
        if earlier.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset()
    ]


ANCHORS = {zone: offset_changes(zone) for zone in TIME_ZONES}
NEW_YEARS = [utc(year, 1, 1) for year in range(2025, 2030)]


def quarters(low: int, high: int) -> st.SearchStrategy[int]:
    """Quarter hours in ``[low, high]``, often 01:00-03:30 where the DST gaps and folds are."""
    near_dst = st.integers(max(low, 4), min(high, 14))
    anywhere = st.integers(low, high)
    return st.one_of(anywhere, near_dst) if max(low, 4) <= min(high, 14) else anywhere


@st.composite
def day_intervals_between(draw: st.DrawFn, low: int, high: int) -> list[tuple[int, int]]:
    """Up to two disjoint, maybe touching intervals in quarter hours ``[low, high]`` of a day."""
    points = sorted(draw(st.lists(quarters(low, high), max_size=4)))
    pairs = zip(points[::2], points[1::2], strict=False)
    return [(opens, closes) for opens, closes in pairs if opens < closes]


def day_intervals(earliest: int = 0) -> st.SearchStrategy[list[tuple[int, int]]]:
    return day_intervals_between(earliest, QUARTERS_PER_DAY)


@st.composite
def overnight_interval(draw: st.DrawFn, after: int, before_next: int) -> tuple[int, int] | None:
    """Maybe an interval starting at or after ``after`` and ending (next day) by ``before_next``.

    The end is at most the start, so it is overnight (or a whole day when they are equal).
    """
    if after >= QUARTERS_PER_DAY or not draw(st.booleans()):
        return None
    opens = draw(st.one_of(st.just(after), quarters(after, QUARTERS_PER_DAY - 1)))
    closes = draw(quarters(0, min(opens, before_next)))
    return opens, closes


def first_start(intervals: list[tuple[int, int]], overnight: tuple[int, int] | None) -> int:
    starts = [opens for opens, _ in intervals] + ([overnight[0]] if overnight else [])
    return min(starts, default=QUARTERS_PER_DAY)


def last_end(intervals: list[tuple[int, int]]) -> int:
    return max((closes for _, closes in intervals), default=0)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CalendarSpec, datetime]:
    """A valid random calendar and a whole-minute start near DST changes, year ends or anywhere.

    Intervals lie on quarter hours so that they fall into DST gaps and folds (Lord Howe shifts
    by 30 minutes). Closed dates and special hours are put near the start, where they matter.
    """
    zone = draw(st.sampled_from(TIME_ZONES))
    near = draw(st.sampled_from(["offset change", "offset change", "new year", "anywhere"]))
    if near == "offset change" and ANCHORS[zone]:
        anchor = draw(st.sampled_from(ANCHORS[zone]))
    elif near == "anywhere":
        anchor = utc(2024, 1, 1) + draw(st.integers(0, 6 * 365)) * timedelta(days=1)
    else:
        anchor = draw(st.sampled_from(NEW_YEARS))
    start = anchor + draw(st.integers(-2 * 1440, 1440)) * MINUTE

    in_day = [draw(day_intervals()) for _ in range(7)]
    # Choose overnight starts first: a night's end may not overlap the next day's hours,
    # including the next day's own night.
    night_starts = [
        draw(
            st.one_of(
                st.none(),
                st.just(last_end(in_day[d])),
                quarters(last_end(in_day[d]), QUARTERS_PER_DAY),
            )
        )
        for d in range(7)
    ]
    nights: list[tuple[int, int] | None] = []
    for d in range(7):
        opens, following = night_starts[d], (d + 1) % 7
        if opens is None or opens >= QUARTERS_PER_DAY:
            nights.append(None)
            continue
        next_night = night_starts[following]
        limit = first_start(
            in_day[following],
            None if next_night is None or next_night >= QUARTERS_PER_DAY else (next_night, 0),
        )
        nights.append((opens, draw(quarters(0, min(opens, limit)))))
    weekly_quarters = [in_day[d] + ([nights[d]] if nights[d] else []) for d in range(7)]
    assume(any(weekly_quarters))

    local_day = start.astimezone(ZoneInfo(zone)).date()
    # Special dates two days apart, so that each one's neighbours have weekly hours; closed
    # dates in the same range, so that some dates are both.
    special_offsets = draw(st.sets(st.integers(-1, 3).map(lambda n: 2 * n), max_size=2))
    special_quarters = {}
    for offset in special_offsets:
        day = local_day + timedelta(days=offset)
        previous_night = nights[(day.weekday() - 1) % 7]
        earliest = previous_night[1] if previous_night else 0
        intervals = draw(day_intervals(earliest))
        following = (day.weekday() + 1) % 7
        night = draw(
            overnight_interval(
                max(earliest, last_end(intervals)),
                first_start(in_day[following], nights[following]),
            )
        )
        special_quarters[day] = intervals + ([night] if night else [])
    closed_offsets = draw(st.sets(st.integers(-2, 7), max_size=4))

    def as_times(intervals: list[tuple[int, int]]) -> tuple[tuple[time, time], ...]:
        return tuple((quarter(opens), quarter(closes)) for opens, closes in intervals)

    spec = CalendarSpec(
        tz=zone,
        weekly=tuple(as_times(intervals) for intervals in weekly_quarters),
        closed_dates=frozenset(local_day + timedelta(days=n) for n in closed_offsets),
        special_hours={day: as_times(iv) for day, iv in special_quarters.items()},
    )
    assert validate_spec(spec) == []  # the generator only builds valid calendars
    return spec, start


def open_minutes_per_week(spec: CalendarSpec) -> int:
    total = 0
    for hours in spec.weekly:
        for opens, closes in hours:
            length = datetime.combine(date.min, closes) - datetime.combine(date.min, opens)
            total += (length if length > timedelta(0) else length + timedelta(days=1)) // MINUTE
    return total


# --- properties ----------------------------------------------------------------------------------


def assert_matches_reference(spec: CalendarSpec, start: datetime, delta: int, window: int) -> None:
    """Check every public function against :func:`reference_flags` (whole minutes)."""
    result = add_business_time(spec, start, delta * MINUTE)
    reached = (result - start) // MINUTE
    assert result == start + reached * MINUTE  # whole minutes in, whole minutes out
    span = max(reached, window)
    flags = reference_flags(spec, start, span)
    before, open_minutes = flags[0], flags[1:]

    # add: exactly `delta` open minutes up to the result, and the last of them just before it.
    assert sum(open_minutes[:reached]) == delta
    if delta:
        assert open_minutes[reached - 1]
    else:
        assert result == start
    # between over the window.
    end = start + window * MINUTE
    assert business_time_between(spec, start, end) == sum(open_minutes[:window]) * MINUTE
    # is_open on both sides of every change, and the openings.
    previous = [before, *open_minutes[:-1]]
    changes = [k for k in range(span + 1) if open_minutes[k] != previous[k]]
    for k in {0, span, *changes, *(k - 1 for k in changes if k)}:
        assert is_open(spec, start + k * MINUTE) == open_minutes[k]
    openings = [start + k * MINUTE for k in changes if open_minutes[k] and k < span]
    found = next_open_instants(spec, start, 3)
    assert [instant for instant in found if instant < start + span * MINUTE] == openings[:3]


@settings(max_examples=150, deadline=None, database=None)
@given(scenarios(), st.data())
def test_agrees_with_the_minute_by_minute_reference(
    scenario: tuple[CalendarSpec, datetime], data: st.DataObject
) -> None:
    spec, start = scenario
    # Up to about five of this calendar's average business days, so the reference stays cheap.
    delta = data.draw(st.integers(0, 5 * open_minutes_per_week(spec) // 7), label="delta")
    window = data.draw(
        st.one_of(st.integers(0, 6 * 1440), st.integers(3 * 1440, 6 * 1440)), label="window"
    )
    assert_matches_reference(spec, start, delta, window)


DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]


@settings(max_examples=100, deadline=None, database=None)
@given(st.sampled_from(DST_ZONES), st.data())
def test_dst_nights_agree_with_the_reference(zone: str, data: st.DataObject) -> None:
    # The same hours every day, with their ends drawn in the small hours where the clocks
    # change, over the three days around a change.
    in_day = data.draw(day_intervals_between(0, 20), label="intervals")
    night = data.draw(
        overnight_interval(max(last_end(in_day), 80), first_start(in_day, None)), label="night"
    )
    hours = tuple((quarter(opens), quarter(closes)) for opens, closes in in_day)
    if night:
        hours += ((quarter(night[0]), quarter(night[1])),)
    assume(hours)
    spec = CalendarSpec(tz=zone, weekly=(hours,) * 7)
    assert validate_spec(spec) == []
    change = data.draw(st.sampled_from(ANCHORS[zone]), label="change")
    start = change - timedelta(hours=data.draw(st.integers(0, 36), label="hours before"))
    delta = data.draw(st.integers(0, 3 * open_minutes_per_week(spec) // 7), label="delta")
    assert_matches_reference(spec, start, delta, 3 * 1440)


@st.composite
def fine_instants(draw: st.DrawFn) -> datetime:
    """Any microsecond in 2024-2029."""
    span = int((utc(2030, 1, 1) - utc(2024, 1, 1)) / US)
    return utc(2024, 1, 1) + draw(st.integers(0, span)) * US


FIXED_CALENDARS = st.sampled_from([BERLIN_OFFICE, NIGHT_SHIFT])
ANY_CALENDAR = st.one_of(FIXED_CALENDARS, scenarios().map(lambda scenario: scenario[0]))
# Up to 30 business days of ten hours, with microsecond resolution.
DELTAS = st.integers(0, int(30 * 10 * H / US)).map(lambda n: n * US)


@settings(max_examples=200, deadline=None, database=None)
@given(ANY_CALENDAR, fine_instants(), DELTAS)
def test_between_inverts_add(calendar: CalendarSpec, start: datetime, delta: timedelta) -> None:
    result = add_business_time(calendar, start, delta)

    assert result >= start
    assert business_time_between(calendar, start, result) == delta
    if delta:
        assert is_open(calendar, result - US)  # ends inside open time, never at an opening


@settings(max_examples=200, deadline=None, database=None)
@given(ANY_CALENDAR, fine_instants(), st.integers(0, int(60 * 24 * H / US)).map(lambda n: n * US))
def test_add_inverts_between(calendar: CalendarSpec, start: datetime, span: timedelta) -> None:
    end = start + span
    business = business_time_between(calendar, start, end)
    result = add_business_time(calendar, start, business)

    assert result <= end
    # Equal exactly when the microsecond before `end` is open (or nothing elapsed at all).
    assert (result == end) == (start == end or is_open(calendar, end - US))


@settings(max_examples=200, deadline=None, database=None)
@given(ANY_CALENDAR, fine_instants(), DELTAS, DELTAS)
def test_add_is_monotonic_and_additive(
    calendar: CalendarSpec, start: datetime, first: timedelta, second: timedelta
) -> None:
    smaller, larger = sorted([first, second])

    assert add_business_time(calendar, start, smaller) <= add_business_time(calendar, start, larger)
    halfway = add_business_time(calendar, start, first)
    assert add_business_time(calendar, halfway, second) == add_business_time(
        calendar, start, first + second
    )


@settings(max_examples=200, deadline=None, database=None)
@given(ANY_CALENDAR, fine_instants(), fine_instants(), fine_instants())
def test_between_is_additive_and_antisymmetric(
    calendar: CalendarSpec, first: datetime, second: datetime, third: datetime
) -> None:
    between = business_time_between
    assert between(calendar, first, second) + between(calendar, second, third) == between(
        calendar, first, third
    )
    assert between(calendar, second, first) == -between(calendar, first, second)
    assert abs(between(calendar, first, second)) <= abs(second - first)


class TestMutationSurvivors:
    """Cases found by `make mutation` (docs/mutation.md): each fails on a survivor it killed."""

    EARLY = CalendarSpec(tz="UTC", weekly=(((time(0), time(6)),),) * 7)

    def test_always_open_is_utc(self):
        assert CalendarSpec.always_open_spec().tz == "UTC"

    def test_invalid_calendar_message_lists_the_problems(self):
        error = CalendarInvalid(["Monday: a", "Tuesday: b"])
        assert str(error) == "invalid business calendar: Monday: a; Tuesday: b"
        assert error.problems == ["Monday: a", "Tuesday: b"]

    def test_overlap_message_shows_seconds_only_when_there_are_any(self):
        spec = CalendarSpec(
            tz="UTC",
            weekly=(((time(9), time(12)), (time(11, 0, 30), time(13))),) + ((),) * 6,
        )
        assert any("09:00-12:00 overlaps 11:00:30-13:00" in p for p in validate_spec(spec))

    def test_naive_start_names_the_argument(self):
        with pytest.raises(ValueError, match=r"^start must be an aware datetime"):
            next_open_instants(self.EARLY, datetime(2026, 1, 1), 1)

    def test_opening_at_the_utc_year_start_is_an_opening(self):
        # Dec 31 closes at 06:00, so Jan 1 00:00 UTC (a year chunk's first instant) opens.
        start = datetime(2026, 12, 31, 12, tzinfo=UTC)
        assert next_open_instants(self.EARLY, start, 1) == [datetime(2027, 1, 1, tzinfo=UTC)]

    def test_opening_at_the_first_supported_year_start(self):
        start = datetime(2, 1, 1, tzinfo=UTC)
        assert next_open_instants(self.EARLY, start, 1) == [start]

    def test_openings_continue_past_the_horizon_while_years_have_openings(self):
        mondays = CalendarSpec(tz="UTC", weekly=((((time(9), time(10))),),) + ((),) * 6)
        found = next_open_instants(mondays, datetime(2026, 1, 1, tzinfo=UTC), 52 * 13)
        assert len(found) == 52 * 13
        assert found[-1].year == 2038

    def test_an_opening_exactly_at_the_horizon_is_found(self):
        def lone(*days: date) -> CalendarSpec:
            return CalendarSpec(
                tz="UTC", weekly=((),) * 7, special_hours={d: ((time(9), time(10)),) for d in days}
            )

        start = datetime(2026, 1, 1, tzinfo=UTC)
        # Ten quiet years after the start's year are searched, the eleventh is not.
        at_horizon = lone(date(2036, 6, 1))
        assert next_open_instants(at_horizon, start, 1) == [datetime(2036, 6, 1, 9, tzinfo=UTC)]
        assert next_open_instants(lone(date(2037, 6, 1)), start, 1) == []
        # The count restarts after a year with an opening.
        again = lone(date(2026, 6, 1), date(2037, 6, 1))
        assert next_open_instants(again, start, 2) == [
            datetime(2026, 6, 1, 9, tzinfo=UTC),
            datetime(2037, 6, 1, 9, tzinfo=UTC),
        ]

    def test_back_to_back_across_the_first_supported_year_boundary_is_one_opening(self):
        night = CalendarSpec(tz="UTC", weekly=(((time(0), time(6)), (time(22), time(0))),) * 7)
        start = datetime(2, 12, 31, 23, tzinfo=UTC)
        assert next_open_instants(night, start, 1) == [datetime(3, 1, 1, 22, tzinfo=UTC)]
