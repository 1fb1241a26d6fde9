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


PACKAGE = {
    "summary": "Checkout fails",
    "affected": "All shops",
    "impact": "No sales",
    "actions_taken": "Restarted",
    "next_steps": "Check the gateway",
    "risks": "Lost orders",
}


@pytest.fixture
def handoffs_and_ratings() -> Chain:
    """Lead 1 may see tickets a and b (team L1); c is team L2's. In the week:
    - a: escalated to L2 on the 2nd by an SLA breach with a complete package, acknowledged by
      its deadline; handed back on the 4th; rated 1 after escalation on the 5th.
    - b: escalated by hand on the 3rd, half a package, deadline passed unacknowledged; rated 5.
    - c: escalated to L3 and rated 1, both out of lead 1's sight.
    - a: escalated again on the 10th, after the week."""
    from escalation.models import Escalation
    from portal.models import Rating

    chain = Chain()
    l1, l2, l3 = chain.teams[0], chain.teams[1], chain.teams[2]
    a, b = TicketFactory(team=l1, created_at=at(2)), TicketFactory(team=l1, created_at=at(2))
    c = TicketFactory(team=l2, created_at=at(2))

    def escalate(ticket, source, target, raised, **fields):
        Escalation.objects.create(
            ticket=ticket,
            kind=fields.pop("kind", Escalation.Kind.HIERARCHICAL),
            cycle=Escalation.objects.filter(ticket=ticket).count() + 1,
            from_team=source,
            to_team=target,
            from_level=source.level,
            to_level=target.level,
            raised_at=raised,
            **fields,
        )

    escalate(
        a, l1, l2, at(2, 10), trigger="sla_breach", ack_due_at=at(2, 11),
        acknowledged_at=at(2, 10), **PACKAGE,
    )  # fmt: skip
    escalate(b, l1, l2, at(3, 10), ack_due_at=at(3, 11), summary="Down", actions_taken="None")
    escalate(a, l2, l1, at(4), kind=Escalation.Kind.DE_ESCALATION, reason="Known issue")
    escalate(c, l2, l3, at(3), trigger="severity", ack_due_at=at(3, 10), **PACKAGE)
    escalate(a, l1, l2, at(10), trigger="sla_breach")
    Rating.objects.create(ticket=a, resolution=0, score=1, escalated=True, created_at=at(5))
    Rating.objects.create(ticket=b, resolution=0, score=5, created_at=at(5))
    Rating.objects.create(ticket=c, resolution=0, score=1, escalated=True, created_at=at(5))
    chain.a, chain.b = a, b
    return chain


@pytest.mark.parametrize(
    "key, tickets",
    [
        ("escalations", ["b", "a"]),
        ("trigger_sla", ["a"]),
        ("trigger_manual", ["b"]),
        ("trigger_severity", None),
        ("documented", ["a"]),
        ("handbacks", ["a"]),
        ("acknowledged", ["a"]),
        ("acknowledgement_met", ["a"]),
        ("acknowledgement_breached", ["b"]),
        ("ratings", ["b", "a"]),
        ("ratings_low", ["a"]),
        ("ratings_escalated", ["a"]),
    ],
)
def test_escalation_and_rating_figures_list_their_rows_in_the_readers_sight(
    handoffs_and_ratings, key, tickets
):
    chain = handoffs_and_ratings
    if tickets is None:  # a zero is not a link, and its list is empty
        client = Client()
        client.force_login(chain.leads[0])
        listing = client.get(reverse("reporting:drill", args=[key]), THE_WEEK)
        assert listing.status_code == 200
        assert "0 escalations" in listing.content.decode()
        return
    shown, listed = shown_and_listed(chain.leads[0], key)
    expected = [getattr(chain, name).reference for name in tickets]
    assert shown == len(listed) and sorted(listed) == sorted(expected)


def test_escalations_to_a_level_and_their_page(handoffs_and_ratings):
    chain = handoffs_and_ratings
    l2 = chain.teams[1].level
    shown, listed = shown_and_listed(chain.leads[0], f"escalations_to_{l2.pk}")
    assert shown == len(listed) == 2
    client = Client()
    client.force_login(chain.leads[0])
    page = client.get(reverse("reporting:drill", args=[f"escalations_to_{l2.pk}"]), THE_WEEK)
    text = page.content.decode()
    assert f"Escalations raised in the period to {l2.display_name}" in text
    assert "2 escalations" in text and "Hierarchical" in text
    missing = client.get(reverse("reporting:drill", args=["escalations_to_999999"]), THE_WEEK)
    assert missing.status_code == 404


@pytest.fixture
def contacts_and_recurrences() -> Chain:
    """Lead 1 may see team L1's tickets. In the week:
    - f1: resolved at the 1st level, never handed off or reopened (first contact);
    - f2: resolved after an escalation to L2; f3: resolved after a reopening;
    - f4: team L2's, resolved without a hand-off (did not start at the 1st level; not lead 1's);
    - r1: customer K's "Checkout" ticket, 14 days after K's earlier one (team L2's, resolved
      on 20 October) was resolved: recurring; r2: another customer's, not recurring;
    - r3: K's "Checkout" ticket in team L2: recurring, but out of lead 1's sight."""
    from escalation.models import Escalation
    from tests.factories import CustomerFactory
    from tickets.models import Service

    chain = Chain()
    l1, l2 = chain.teams[0], chain.teams[1]
    f1 = TicketFactory(team=l1, created_at=at(2), resolved_at=at(3), service=None)
    f2 = TicketFactory(team=l1, created_at=at(2), resolved_at=at(4), service=None)
    Escalation.objects.create(
        ticket=f2, kind=Escalation.Kind.HIERARCHICAL, cycle=1, from_team=l1, to_team=l2,
        from_level=l1.level, to_level=l2.level, raised_at=at(3),
    )  # fmt: skip
    f3 = TicketFactory(team=l1, created_at=at(2), resolved_at=at(5), reopen_count=1, service=None)
    TicketFactory(team=l2, created_at=at(2), resolved_at=at(3), service=None)
    checkout = Service.objects.create(name="Checkout", owning_team=l1)
    k = CustomerFactory()
    earlier = dt.datetime(2026, 10, 20, 9, tzinfo=BERLIN)
    TicketFactory(team=l2, customer=k, service=checkout, created_at=earlier, resolved_at=earlier)
    r1 = TicketFactory(team=l1, customer=k, service=checkout, created_at=at(3))
    r2 = TicketFactory(team=l1, service=checkout, created_at=at(4))
    TicketFactory(team=l2, customer=k, service=checkout, created_at=at(4))
    chain.f1, chain.f2, chain.f3, chain.r1, chain.r2 = f1, f2, f3, r1, r2
    return chain


@pytest.mark.parametrize(
    "key, tickets",
    [
        ("first_contact_started", ["f1", "f2", "f3"]),
        ("first_contact", ["f1"]),
        ("recurrence_whole", ["r1", "r2"]),
        ("recurring", ["r1"]),
    ],
)
def test_first_contact_and_recurrence_figures_list_their_tickets(
    contacts_and_recurrences, key, tickets
):
    chain = contacts_and_recurrences
    shown, listed = shown_and_listed(chain.leads[0], key)
    expected = [getattr(chain, name).reference for name in tickets]
    assert shown == len(listed) and sorted(listed) == sorted(expected)


def test_the_first_contact_and_recurrence_lists_say_what_they_hold(contacts_and_recurrences):
    client = Client()
    client.force_login(contacts_and_recurrences.leads[0])
    text = client.get(reverse("reporting:drill", args=["recurring"]), THE_WEEK).content.decode()
    assert "whose customer had a ticket of the same service resolved within the 30 days" in text
    text = client.get(reverse("reporting:drill", args=["first_contact"]), THE_WEEK)
    assert "at first contact (never handed off, never reopened)" in text.content.decode()
