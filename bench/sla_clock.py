"""Benchmark of the SLA business-time arithmetic in ``sla/clock.py`` (figures, no assertions).

Run with ``python bench/sla_clock.py``. For two calendars and five deltas it prints the calls per
second of ``add_business_time`` and ``business_time_between`` over random starts in 2025-2026,
measured on a warm cache (inputs prepared and years compiled before timing), and the cost of a
cold first call on an empty cache.
"""

from __future__ import annotations

import platform
import random
import sys
import time as timer
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

# Runnable as a plain script from anywhere: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import holidays

from sla.clock import (
    CalendarSpec,
    add_business_time,
    business_time_between,
    clear_cache,
)

CALLS_PER_ROW = 25_000
SEED = 20260101

GERMAN_HOLIDAYS = frozenset(holidays.country_holidays("DE", years=range(2024, 2033)))
OFFICE = CalendarSpec(
    tz="Europe/Berlin",
    weekly=(((time(8), time(18)),),) * 5 + ((),) * 2,
    closed_dates=GERMAN_HOLIDAYS,
)
NIGHT = (time(22), time(6))
EARLY = (time(6), time(14))
SHIFTS = CalendarSpec(
    tz="Europe/Berlin",
    weekly=((NIGHT, EARLY),) * 5 + ((NIGHT,),) * 2,
    closed_dates=GERMAN_HOLIDAYS,
)
# (label, calendar, length of one business day on a weekday)
CALENDARS = [
    ("Mon-Fri 08-18 Berlin, DE holidays", OFFICE, timedelta(hours=10)),
    ("22-06 daily + 06-14 Mon-Fri, DE hol.", SHIFTS, timedelta(hours=16)),
]
DELTAS = [  # (label, business days or a fixed duration)
    ("15 min", timedelta(minutes=15)),
    ("4 h", timedelta(hours=4)),
    ("1 business day", 1),
    ("5 business days", 5),
    ("30 business days", 30),
]


def random_starts(count: int, rng: random.Random) -> list[datetime]:
    """Random whole-second UTC instants in 2025-2026."""
    first = datetime(2025, 1, 1, tzinfo=UTC)
    seconds = int((datetime(2027, 1, 1, tzinfo=UTC) - first).total_seconds())
    return [first + timedelta(seconds=rng.randrange(seconds)) for _ in range(count)]


def calls_per_second(call: Callable[[], object]) -> float:
    began = timer.perf_counter()
    call()
    return CALLS_PER_ROW / (timer.perf_counter() - began)


def cold_call_ms(call: Callable[[], object]) -> float:
    clear_cache()
    began = timer.perf_counter()
    call()
    return (timer.perf_counter() - began) * 1000


def main() -> None:
    rng = random.Random(SEED)
    starts = random_starts(CALLS_PER_ROW, rng)
    print(
        f"sla.clock benchmark - Python {platform.python_version()} on {platform.machine()}, "
        f"{CALLS_PER_ROW:,} random starts in 2025-2026 per row, one core"
    )
    print()
    print(f"{'calendar':<38} {'delta':<24} {'add/s':>10} {'between/s':>10}")
    print("-" * 85)
    total_calls = 0
    began = timer.perf_counter()
    for label, calendar, business_day in CALENDARS:
        for delta_label, amount in DELTAS:
            delta = business_day * amount if isinstance(amount, int) else amount
            # Prepare the inputs (and compile every year they touch) before timing.
            ends = [add_business_time(calendar, start, delta) for start in starts]
            pairs = list(zip(starts, ends, strict=True))

            def run_add(calendar: CalendarSpec = calendar, delta: timedelta = delta) -> None:
                for start in starts:
                    add_business_time(calendar, start, delta)

            def run_between(
                calendar: CalendarSpec = calendar, pairs: list[tuple[datetime, datetime]] = pairs
            ) -> None:
                for start, end in pairs:
                    business_time_between(calendar, start, end)

            add_rate = calls_per_second(run_add)
            between_rate = calls_per_second(run_between)
            total_calls += 3 * CALLS_PER_ROW
            hours = delta / timedelta(hours=1)
            shown = delta_label if hours < 10 else f"{delta_label} ({hours:g} h)"
            print(f"{label:<38} {shown:<24} {add_rate:>10,.0f} {between_rate:>10,.0f}")
    print("-" * 85)

    start, week = starts[0], timedelta(days=7)
    print("cold first call on an empty cache (compiles the year it touches):")
    for label, calendar, _business_day in CALENDARS:
        add_ms = cold_call_ms(lambda c=calendar: add_business_time(c, start, timedelta(hours=4)))
        between_ms = cold_call_ms(lambda c=calendar: business_time_between(c, start, start + week))
        print(f"  {label:<38} add {add_ms:6.2f} ms   between {between_ms:6.2f} ms")
    elapsed = timer.perf_counter() - began
    print(f"{total_calls:,} calls in {elapsed:.1f} s (including input preparation)")


if __name__ == "__main__":
    main()
