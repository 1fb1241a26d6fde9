"""The organisation of the incident tests: the four stages of the documents as teams, a
"Checkout" service, customers with contacts in German and English."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from incidents.models import WaveRule
from tests.factories import CustomerFactory, UserFactory
from tickets.models import Contact, Service, SupportLevel, Team, Ticket
from tickets.services import NewTicket, ticket_create


@dataclass
class Org:
    agent: object  # 1st level agent
    l1: Team
    l2_lead: object
    l2: Team
    im_lead: object
    im_member: object
    im: Team
    boss: object
    mgmt: Team
    checkout: Service
    login: Service


@pytest.fixture
def org(db) -> Org:
    # Each test makes the wave rules it is about (the default rule would fire first).
    WaveRule.objects.update(is_active=False)
    levels = {lv.rank: lv for lv in SupportLevel.objects.all()}
    agent = UserFactory(username="desk")
    l2_lead = UserFactory(username="l2lead")
    im_lead = UserFactory(username="imlead")
    im_member = UserFactory(username="immember")
    boss = UserFactory(username="boss")
    mgmt = Team.objects.create(name="Management", level=levels[4], lead=boss)
    im = Team.objects.create(
        name="Incident management", level=levels[3], lead=im_lead, escalates_to=mgmt
    )
    im.members.add(im_member)
    l2 = Team.objects.create(name="2nd level", level=levels[2], lead=l2_lead, escalates_to=im)
    l1 = Team.objects.create(name="Service desk", level=levels[1], escalates_to=l2)
    l1.members.add(agent)
    checkout = Service.objects.create(name="Checkout", name_de="Kasse", owning_team=l2)
    login = Service.objects.create(name="Customer login", name_de="Kundenlogin")
    return Org(agent, l1, l2_lead, l2, im_lead, im_member, im, boss, mgmt, checkout, login)


def make_ticket(
    org: Org,
    *,
    subject: str = "Checkout fails",
    service: Service | None = None,
    language: str = "en",
    at: dt.datetime | None = None,
    n: int = 0,
    customer=None,
    impact: int = 2,
    urgency: int = 2,
    requester: Contact | None = None,
) -> Ticket:
    """A ticket by the service desk, from a customer's contact who reads `language` (a new
    contact unless `requester` is given)."""
    contact = requester or Contact.objects.create(
        customer=customer or CustomerFactory(),
        email=f"c{Contact.objects.count()}-{n}@example.com",
        language=language,
    )
    return ticket_create(
        actor=org.agent,
        data=NewTicket(
            subject=subject,
            description="",
            team=org.l1,
            impact=impact,
            urgency=urgency,
            requester=contact,
            service=service,
        ),
        now=at or timezone.now(),
    )
