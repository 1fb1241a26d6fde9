"""The list's instant writer writes exactly what DRF's DateTimeField writes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from api.representation import INSTANT, instant_writer

INSTANTS = [
    dt.datetime(2026, 12, 7, 13, 5, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=dt.UTC),  # before Berlin's DST switch
    dt.datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=dt.UTC),  # after it
    dt.datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")),
    dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
@pytest.mark.parametrize("value", INSTANTS)
def test_the_writer_writes_what_drf_writes(zone, value):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert instant_writer()(value) == INSTANT.to_representation(value)


def test_none_is_none():
    assert instant_writer()(None) is None
