"""From a number on the reports page to the tickets behind it: the list has as many tickets as
the number says, and only tickets the reader may see."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from lessons.models import CauseCategory, ClosingReport
from tests.escalation.test_services import Chain
from tests.factories import TicketFactory

BERLIN = ZoneInfo("Europe/Berlin")
THE_WEEK = {"preset": "custom", "start": "2026-11-02", "end": "2026-11-08"}

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=BERLIN)


@pytest.fixture
def chain() -> Chain:
    chain = Chain()
    l1, l2, l3 = chain.teams[0], chain.teams[1], chain.teams[2]

    def ticket(team, created, resolved=None, **fields):
        return TicketFactory(team=team, created_at=created, resolved_at=resolved, **fields)

    ticket(l1, at(2), at(3), resolution_due_at=at(4))  # met
    ticket(l1, at(2), at(5), resolution_due_at=at(4), resolution_breached_at=at(4))  # breached
    ticket(l1, at(3), at(6))
    ticket(l1, at(1), at(10))  # resolved after the week
    ticket(l2, at(2), at(3), resolution_due_at=at(3, 8), resolution_breached_at=at(3, 8))
    ticket(l2, at(4), at(4, 12))
    category = CauseCategory.objects.first() or CauseCategory.objects.create(name="Defect")
    documented = ticket(l3, at(2), at(4))
    ClosingReport.objects.create(
        ticket=documented,
        category=category,
        cause="c",
        solution="s",
        lessons_learned="l",
        level_rank=3,
    )
    ticket(l3, at(2), at(5))  # reached level 3, no report
    return chain


def shown_and_listed(user, key: str) -> tuple[int, list[str]]:
    client = Client()
    client.force_login(user)
    page = client.get(reverse("reporting:index"), THE_WEEK).content.decode()
    url = reverse("reporting:drill", args=[key])
    found = re.search(rf'<a href="{re.escape(url)}\?([^"]*)"[^>]*>(\d+)\s*</a>', page)
    assert found, key
    listing = client.get(f"{url}?{found.group(1).replace('&amp;', '&')}")
    assert listing.status_code == 200
    references = re.findall(
        r'<td><a href="/tickets/[^"]*">([^<]+)</a></td>', listing.content.decode()
    )
    return int(found.group(2)), references


def test_the_number_and_the_list_agree_and_stay_in_the_readers_teams(chain):
    lead1 = chain.leads[0]
    shown, listed = shown_and_listed(lead1, "resolved")
    assert shown == len(listed) == 3
    shown, listed = shown_and_listed(lead1, "sla_resolution_breached")
    assert shown == len(listed) == 1
    l2_refs = {t.reference for t in chain.teams[1].tickets.all()}
    assert l2_refs and not l2_refs & set(listed)
    shown, listed = shown_and_listed(chain.leads[1], "resolved")
    assert shown == len(listed) == 2 and set(listed) == l2_refs
    shown, listed = shown_and_listed(chain.leads[2], "closing_report_due")
    assert shown == len(listed) == 2
    shown, listed = shown_and_listed(chain.leads[2], "closing_report_written")
    assert shown == len(listed) == 1


def test_unknown_figures_bad_periods_and_agents(chain):
    client = Client()
    client.force_login(chain.leads[0])
    assert client.get(reverse("reporting:drill", args=["nothing"]), THE_WEEK).status_code == 404
    bad = {"preset": "custom", "start": "2026-11-08", "end": "2026-11-02"}
    assert client.get(reverse("reporting:drill", args=["resolved"]), bad).status_code == 400
    agent = Client()
    agent.force_login(chain.agents[0])
    assert agent.get(reverse("reporting:drill", args=["resolved"]), THE_WEEK).status_code == 403
