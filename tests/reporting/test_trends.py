"""Daily trends in SQL per local day of the site's time zone (Europe/Berlin in the tests)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from escalation.models import Escalation
from reporting import trends
from tests.dashboard.test_dashboard import escalate, new_ticket
from tests.escalation.test_services import Chain
from tests.factories import TicketFactory
from tickets.models import Ticket

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
LAST = dt.date(2026, 11, 30)


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def test_escalations_per_level_counted_on_the_local_day(chain):
    a = escalate(chain, new_ticket(chain))
    b = escalate(chain, new_ticket(chain))
    # 23:30 UTC on the 28th is already the 29th in Berlin; 22:30 UTC is still the 28th.
    Escalation.objects.filter(pk=a.pk).update(
        raised_at=dt.datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    )
    Escalation.objects.filter(pk=b.pk).update(
        raised_at=dt.datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    )
    trend = trends.escalations_per_level(Ticket.objects.all(), last_day=LAST)
    assert [key for key, _label in trend.columns] == [str(chain.teams[1].level_id)]
    counts = {row.day: row.values[str(chain.teams[1].level_id)] for row in trend.rows}
    assert len(counts) == 30 and min(counts) == dt.date(2026, 11, 1)
    assert counts[dt.date(2026, 11, 28)] == 1
    assert counts[dt.date(2026, 11, 29)] == 1
    assert sum(counts.values()) == 2
    # Narrowed to the tickets given: none of another team's.
    assert trends.escalations_per_level(Ticket.objects.none(), last_day=LAST).columns == []


def test_sla_compliance_per_day(db, chain):
    day = dt.datetime(2026, 11, 20, 12, tzinfo=BERLIN)
    for breached in (False, False, True):
        TicketFactory(
            team=chain.teams[0],
            status=Ticket.Status.RESOLVED,
            resolved_at=day,
            resolution_breached_at=day if breached else None,
        )
    rows = {r.day: r.values for r in trends.sla_compliance(Ticket.objects.all(), last_day=LAST)}
    assert rows[dt.date(2026, 11, 20)] == {"resolved": 3, "met": 2, "percent": 66.7}
    assert rows[dt.date(2026, 11, 21)] == {"resolved": 0, "met": 0, "percent": None}


def test_median_time_to_acknowledge(chain):
    raised = dt.datetime(2026, 11, 25, 9, tzinfo=BERLIN)
    for minutes in (10, 20, 60):
        e = escalate(chain, new_ticket(chain))
        Escalation.objects.filter(pk=e.pk).update(
            raised_at=raised,
            acknowledged_at=raised + dt.timedelta(minutes=minutes),
            status=Escalation.Status.ACKNOWLEDGED,
        )
    escalate(chain, new_ticket(chain))  # today, not acknowledged: not counted
    rows = {
        r.day: r.values
        for r in trends.median_time_to_acknowledge(Ticket.objects.all(), last_day=LAST)
    }
    assert rows[dt.date(2026, 11, 25)] == {"acknowledged": 3, "minutes": 20.0}
    assert rows[dt.date(2026, 11, 24)] == {"acknowledged": 0, "minutes": None}
    today = trends.median_time_to_acknowledge(Ticket.objects.all(), last_day=timezone.localdate())
    assert today[-1].values == {"acknowledged": 0, "minutes": None}
