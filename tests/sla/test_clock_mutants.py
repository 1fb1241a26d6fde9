"""The clock's refusals, word for word, and the exact problems `validate_spec` reports.

Written against the survivors of `make mutation MUTANTS='sla.clock.*'` (docs/mutation.md):
an error message names the argument or value at fault, so a mutant that passes the wrong name
or drops a part of the message must fail here. No Django and no database involved.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

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

NAIVE = datetime(2026, 1, 5, 9)
AWARE = datetime(2026, 1, 5, 9, tzinfo=UTC)
OFFICE = ((time(8), time(18)),)
WEEKDAYS = CalendarSpec(tz="UTC", weekly=(OFFICE,) * 5 + ((),) * 2)


def naive_message(name: str) -> str:
    return f"{name} must be an aware datetime, got the naive {NAIVE!r}"


@pytest.mark.parametrize("calendar", [WEEKDAYS, ALWAYS_OPEN], ids=["weekdays", "always open"])
def test_a_naive_datetime_is_refused_with_the_arguments_name(calendar) -> None:
    calls = {
        "start": [
            lambda: add_business_time(calendar, NAIVE, timedelta(hours=1)),
            lambda: business_time_between(calendar, NAIVE, AWARE),
            lambda: next_open_instants(calendar, NAIVE, 1),
        ],
        "end": [lambda: business_time_between(calendar, AWARE, NAIVE)],
        "at": [lambda: is_open(calendar, NAIVE)],
    }
    for name, refused in calls.items():
        for call in refused:
            with pytest.raises(ValueError, match=f"^{re.escape(naive_message(name))}$"):
                call()


def test_negative_amounts_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match=r"^delta must not be negative, got -1 day, 23:59:00$"):
        add_business_time(WEEKDAYS, AWARE, timedelta(minutes=-1))
    with pytest.raises(ValueError, match=r"^count must not be negative, got -1$"):
        next_open_instants(WEEKDAYS, AWARE, -1)


def test_as_spec_must_return_a_spec() -> None:
    class NotACalendar:
        def as_spec(self) -> dict:
            return {}

    with pytest.raises(TypeError, match=r"^as_spec\(\) must return a CalendarSpec, got dict$"):
        is_open(NotACalendar(), AWARE)


def test_an_instant_outside_the_supported_years_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^instant outside the supported years 2-9998$"):
        is_open(WEEKDAYS, datetime(9999, 6, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"^instant outside the supported years 2-9998$"):
        is_open(WEEKDAYS, datetime(1, 6, 1, tzinfo=UTC))


def test_an_empty_calendar_is_refused_with_its_reason() -> None:
    empty = CalendarSpec(tz="UTC", weekly=((),) * 7)
    assert validate_spec(empty) == ["the calendar has no opening hours at all"]
    with pytest.raises(NoBusinessHours, match=r"^the calendar has no opening hours at all$"):
        is_open(empty, AWARE)


def test_no_open_time_within_the_horizon_names_the_start() -> None:
    one_day = CalendarSpec(tz="UTC", weekly=((),) * 7, special_hours={date(2000, 1, 3): OFFICE})
    with pytest.raises(
        NoBusinessHours, match=r"^no open time within 10 years after 2026-01-05 09:00:00\+00:00$"
    ):
        add_business_time(one_day, AWARE, timedelta(hours=1))


def test_an_invalid_calendar_lists_every_problem_in_its_message() -> None:
    overlapping = ((time(9), time(12)), (time(11), time(13)))
    spec = CalendarSpec(tz="UTC", weekly=(overlapping, overlapping) + ((),) * 5)
    expected = [
        "Monday: 09:00-12:00 overlaps 11:00-13:00",
        "Tuesday: 09:00-12:00 overlaps 11:00-13:00",
    ]
    assert validate_spec(spec) == expected
    with pytest.raises(CalendarInvalid) as refused:
        is_open(spec, AWARE)
    assert refused.value.problems == expected
    assert str(refused.value) == "invalid business calendar: " + "; ".join(expected)


def test_an_unknown_time_zone_is_reported_before_the_type_problems() -> None:
    # The overlaps are looked for only once the zone and the types are right.
    bad = (time(9),)
    spec = CalendarSpec(tz="Nowhere/Atlantis", weekly=((bad,),) + ((),) * 6)
    assert validate_spec(spec) == [
        "unknown time zone 'Nowhere/Atlantis'",
        f"Monday: {bad!r} is not a pair of naive datetime.time values",
    ]


def test_a_wrong_number_of_days_is_reported_with_the_count() -> None:
    assert validate_spec(CalendarSpec(tz="UTC", weekly=(OFFICE,) * 6)) == [
        "weekly hours need 7 days (Monday first), got 6"
    ]


def test_malformed_intervals_and_dates_are_reported_with_their_day() -> None:
    bad = (time(9),)
    aware = (time(9, tzinfo=UTC), time(10))
    moment = datetime(2026, 1, 6, 0, 0)
    spec = CalendarSpec(
        tz="UTC",
        weekly=(OFFICE, (bad,), OFFICE, OFFICE, OFFICE, (), (aware,)),
        special_hours=((date(2026, 1, 7), (bad,)), (moment, OFFICE)),
        closed_dates=frozenset({"2026-12-24"}),
    )
    assert validate_spec(spec) == [
        f"Tuesday: {bad!r} is not a pair of naive datetime.time values",
        f"Sunday: {aware!r} is not a pair of naive datetime.time values",
        "special hours 2026-01-06 00:00:00 is not a datetime.date".replace(
            "2026-01-06 00:00:00", repr(moment)
        ),
        f"special hours on 2026-01-07: {bad!r} is not a pair of naive datetime.time values",
        "closed date '2026-12-24' is not a datetime.date",
    ]


def test_overlaps_across_midnight_and_around_special_hours_name_both_sides() -> None:
    night = ((time(22), time(7)),)
    early = ((time(6), time(9)),)
    spec = CalendarSpec(
        tz="UTC",
        weekly=(night, early, OFFICE, OFFICE, OFFICE, (), ()),
        special_hours={date(2026, 1, 8): night, date(2026, 1, 9): early},
    )
    assert validate_spec(spec) == [
        "Monday: 22:00-07:00 runs into Tuesday and overlaps its 06:00-09:00",
        # checked as the later date's "before" day, which is named by its date alone
        "2026-01-08: 22:00-07:00 runs into special hours on 2026-01-09 "
        "and overlaps its 06:00-09:00",
    ]


def test_special_hours_given_twice_are_reported_once_per_repeat() -> None:
    day = date(2026, 1, 7)
    spec = CalendarSpec(
        tz="UTC", weekly=(OFFICE,) * 7, special_hours=((day, OFFICE), (day, OFFICE))
    )
    assert validate_spec(spec) == [f"special hours given twice for {day}"]


def test_seconds_are_shown_only_when_an_interval_has_them() -> None:
    spec = CalendarSpec(
        tz="UTC",
        weekly=(((time(9), time(12, 0, 30)), (time(12), time(13))),) + ((),) * 6,
    )
    assert validate_spec(spec) == ["Monday: 09:00-12:00:30 overlaps 12:00-13:00"]


def test_the_years_last_business_hour_ends_at_its_closing_not_at_the_next_years_opening() -> None:
    # 2026-12-31 is a Thursday: the add lands exactly on the end of the year's open time.
    start = datetime(2026, 12, 31, 17, tzinfo=UTC)
    assert add_business_time(WEEKDAYS, start, timedelta(hours=1)) == datetime(
        2026, 12, 31, 18, tzinfo=UTC
    )
    assert add_business_time(WEEKDAYS, start, timedelta(hours=1, microseconds=1)) == datetime(
        2027, 1, 1, 8, 0, 0, 1, tzinfo=UTC
    )


def test_open_time_ten_empty_years_later_is_still_found_and_eleven_are_too_many() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)  # 2026 to 2035 have no open time: ten years
    in_ten = CalendarSpec(tz="UTC", weekly=((),) * 7, special_hours={date(2036, 6, 2): OFFICE})
    assert add_business_time(in_ten, start, timedelta(hours=1)) == datetime(
        2036, 6, 2, 9, tzinfo=UTC
    )
    in_eleven = CalendarSpec(tz="UTC", weekly=((),) * 7, special_hours={date(2037, 6, 1): OFFICE})
    with pytest.raises(NoBusinessHours, match=r"^no open time within 10 years after 2026-01-05"):
        add_business_time(in_eleven, start, timedelta(hours=1))


def test_ten_empty_years_after_an_open_one_are_crossed() -> None:
    # Open on two days eleven years apart: 2027 to 2036 in between have no open time.
    two_days = CalendarSpec(
        tz="UTC",
        weekly=((),) * 7,
        special_hours={date(2026, 1, 5): OFFICE, date(2037, 1, 5): OFFICE},
    )
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert add_business_time(two_days, start, timedelta(hours=11)) == datetime(
        2037, 1, 5, 9, tzinfo=UTC
    )


def test_more_than_ten_years_of_open_time_can_be_added() -> None:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    delta = timedelta(hours=10 * 5 * 52 * 12)  # twelve times 52 weeks of weekdays
    result = add_business_time(WEEKDAYS, start, delta)
    assert result == datetime(2037, 12, 18, 18, tzinfo=UTC)  # a Friday's closing
    assert business_time_between(WEEKDAYS, start, result) == delta


def test_a_span_over_a_whole_year_counts_that_year() -> None:
    # Thursday 2026-12-31 17:00 to Monday 2028-01-03 09:00: one hour, 2027's 261 weekdays of
    # ten hours, one hour.
    start = datetime(2026, 12, 31, 17, tzinfo=UTC)
    end = datetime(2028, 1, 3, 9, tzinfo=UTC)
    assert business_time_between(WEEKDAYS, start, end) == timedelta(hours=1 + 261 * 10 + 1)


def test_a_long_delta_is_exact_to_the_microsecond_beyond_floats_precision() -> None:
    # Past 2**53 microseconds since 1970 (the year 2255) a float cannot hold every microsecond.
    start = datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    delta = timedelta(days=365 * 300)
    assert add_business_time(ALWAYS_OPEN, start, delta) == start + delta


def test_special_hours_are_kept_in_date_order_however_given() -> None:
    first, second = date(2026, 1, 7), date(2026, 1, 8)
    spec = CalendarSpec(tz="UTC", weekly=(OFFICE,) * 7, special_hours=((second, ()), (first, ())))
    assert spec.special_hours == ((first, ()), (second, ()))


def test_an_interval_ending_when_it_starts_is_a_whole_day_into_the_next() -> None:
    spec = CalendarSpec(tz="UTC", weekly=(((time(9), time(9)),), OFFICE) + ((),) * 5)
    assert validate_spec(spec) == [
        "Monday: 09:00-09:00 runs into Tuesday and overlaps its 08:00-18:00"
    ]


def test_overlaps_are_found_to_the_microsecond() -> None:
    touching = ((time(9), time(12, 0, 0, 2)), (time(12, 0, 0, 1), time(13)))
    before_midnight = ((time(22), time(0)), (time(23, 59, 59, 950000), time(0, 30)))
    spec = CalendarSpec(tz="UTC", weekly=(touching, before_midnight) + ((),) * 5)
    assert validate_spec(spec) == [
        "Monday: 09:00-12:00:00.000002 overlaps 12:00:00.000001-13:00",
        "Tuesday: 22:00-00:00 overlaps 23:59:59.950000-00:30",
    ]


def test_of_two_intervals_starting_together_the_shorter_is_named_first() -> None:
    spec = CalendarSpec(tz="UTC", weekly=(((time(22), time(6)), (time(22), time(23))),) + ((),) * 6)
    assert validate_spec(spec) == ["Monday: 22:00-23:00 overlaps 22:00-06:00"]


def test_closed_dates_of_mixed_types_are_each_reported_not_a_crash() -> None:
    spec = CalendarSpec(
        tz="UTC", weekly=(OFFICE,) * 7, closed_dates=frozenset({date(2026, 12, 25), "2026-12-24"})
    )
    assert validate_spec(spec) == ["closed date '2026-12-24' is not a datetime.date"]


def test_only_the_repeated_special_date_is_reported_twice_given() -> None:
    once, twice = date(2026, 1, 8), date(2026, 1, 7)
    spec = CalendarSpec(
        tz="UTC",
        weekly=(OFFICE,) * 7,
        special_hours=((twice, OFFICE), (twice, OFFICE), (once, OFFICE)),
    )
    assert validate_spec(spec) == [f"special hours given twice for {twice}"]


def test_a_closed_day_before_special_hours_has_no_night_to_run_into_them() -> None:
    night = ((time(22), time(2)),)
    spec = CalendarSpec(
        tz="UTC",
        weekly=(night, OFFICE) + ((),) * 5,
        closed_dates=frozenset({date(2026, 1, 5)}),  # a Monday
        special_hours={date(2026, 1, 6): ((time(1), time(5)),)},
    )
    assert validate_spec(spec) == []
    open_monday = CalendarSpec(
        tz="UTC",
        weekly=(night, OFFICE) + ((),) * 5,
        special_hours={date(2026, 1, 6): ((time(1), time(5)),)},
    )
    assert validate_spec(open_monday) == [
        "2026-01-05: 22:00-02:00 runs into special hours on 2026-01-06 and overlaps its 01:00-05:00"
    ]


def test_overlapping_special_hours_are_named_by_their_date() -> None:
    overlapping = ((time(9), time(12)), (time(11), time(13)))
    spec = CalendarSpec(
        tz="UTC", weekly=(OFFICE,) * 7, special_hours={date(2026, 1, 7): overlapping}
    )
    assert validate_spec(spec) == ["special hours on 2026-01-07: 09:00-12:00 overlaps 11:00-13:00"]


def test_a_night_one_microsecond_past_midnight_overlaps_an_opening_at_midnight() -> None:
    spec = CalendarSpec(
        tz="UTC",
        weekly=(((time(22), time(0, 0, 0, 1)),), ((time(0), time(8)),)) + ((),) * 5,
    )
    assert validate_spec(spec) == [
        "Monday: 22:00-00:00:00.000001 runs into Tuesday and overlaps its 00:00-08:00"
    ]


def test_a_night_after_a_day_interval_is_still_checked_against_the_next_day() -> None:
    spec = CalendarSpec(
        tz="UTC",
        weekly=(((time(8), time(12)), (time(22), time(7))), ((time(6), time(9)),)) + ((),) * 5,
    )
    assert validate_spec(spec) == [
        "Monday: 22:00-07:00 runs into Tuesday and overlaps its 06:00-09:00"
    ]
