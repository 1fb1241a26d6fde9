"""Every reporting test runs from local noon of today, with the clock ticking.

The reports cut time into local days: today is read live, the closed days before it come from
the roll-ups. A test that started a few minutes before local midnight and ended after it saw
two different "todays" (a roll-up run in its middle rolled up the day that had just closed).
Starting at noon leaves each test twelve hours on either side of a day's edge.
"""

from __future__ import annotations

import pytest
import time_machine
from django.utils import timezone


@pytest.fixture(autouse=True)
def _from_local_noon():
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    with time_machine.travel(noon, tick=True):
        yield
