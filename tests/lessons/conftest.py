"""The organisation of the lessons tests: the four stages as teams, a service, and a ticket
that climbed from the service desk to incident management with an information package at
each step."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from escalation.handoff import Package
from escalation.services import escalation_raise
from lessons.models import CauseCategory
from tests.factories import AdminFactory, CustomerFactory, UserFactory
from tickets import services
from tickets.models import Service, SupportLevel, Team, Ticket


@dataclass
class Org:
    agent: object  # 1st level agent
    l1: Team
    l2_lead: object
    l2: Team
    im_lead: object
    im: Team
    outsider: object  # an agent of another 1st level team
    other: Team
    admin: object
    checkout: Service
    defect: CauseCategory


@pytest.fixture
def org(db) -> Org:
    levels = {lv.rank: lv for lv in SupportLevel.objects.all()}
    agent = UserFactory(username="desk", first_name="Dana", last_name="Desk")
    l2_lead = UserFactory(username="l2lead")
    im_lead = UserFactory(username="imlead", first_name="Ida", last_name="Incident")
    outsider = UserFactory(username="outsider")
    mgmt = Team.objects.create(name="Management", level=levels[4], lead=UserFactory())
    im = Team.objects.create(
        name="Incident management", level=levels[3], lead=im_lead, escalates_to=mgmt
    )
    l2 = Team.objects.create(name="2nd level", level=levels[2], lead=l2_lead, escalates_to=im)
    l1 = Team.objects.create(name="Service desk", level=levels[1], escalates_to=l2)
    l1.members.add(agent)
    other = Team.objects.create(name="Other desk", level=levels[1], escalates_to=l2)
    other.members.add(outsider)
    checkout = Service.objects.create(name="Checkout", name_de="Kasse", owning_team=l2)
    defect = CauseCategory.objects.get(name="Software defect")
    return Org(
        agent, l1, l2_lead, l2, im_lead, im, outsider, other, AdminFactory(), checkout, defect
    )


def new_ticket(org: Org, subject: str = "Checkout fails", actor=None, **fields) -> Ticket:
    data = {
        "subject": subject,
        "description": "Payments time out",
        "team": org.l1,
        "customer": CustomerFactory(),
        "service": org.checkout,
        **fields,
    }
    return services.ticket_create(actor=actor or org.agent, data=services.NewTicket(**data))


def climb(org: Org, ticket: Ticket) -> Ticket:
    """Escalate `ticket` to 2nd level and on to incident management, with packages."""
    escalation_raise(
        ticket=ticket,
        actor=org.admin,
        kind="hierarchical",
        package=Package(
            summary="Payments time out for every shop",
            affected="All web shops since 09:00",
            impact="No orders can be paid",
            actions_taken="Restarted the payment gateway",
            risks="Lost revenue every minute",
        ),
    )
    ticket.refresh_from_db()
    escalation_raise(
        ticket=ticket,
        actor=org.admin,
        kind="hierarchical",
        package=Package(
            summary="Database connection pool exhausted",
            actions_taken="Raised the pool size",
        ),
    )
    ticket.refresh_from_db()
    return ticket


def resolve(org: Org, ticket: Ticket, actor=None) -> Ticket:
    return services.ticket_transition(ticket=ticket, actor=actor or org.admin, name="resolve")


@pytest.fixture
def climbed(org) -> Ticket:
    """A ticket that reached incident management, assigned to its lead."""
    ticket = climb(org, new_ticket(org))
    assert ticket.level.rank == 3
    return ticket
