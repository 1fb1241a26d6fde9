"""A linked ticket's own escalation clock is held: the engine decides nothing for it and
asks for no next check, and both sweep lanes agree (no SLA event, no escalation, no next
check) — while an unlinked twin escalates as usual."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from escalation.engine import Escalate, RuleSpec, SLAInstants, TicketFacts, Trigger, evaluate
from escalation.models import Escalation
from escalation.sweep import sweep
from incidents import services
from incidents.models import IncidentLink
from sla.clock import ALWAYS_OPEN
from tests.incidents.conftest import make_ticket
from tickets.models import Ticket, TicketEvent

T0 = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def test_the_engine_holds_an_owned_ticket():
    facts = TicketFacts(
        ticket_id=1,
        cycle=0,
        team_id=1,
        level_rank=1,
        priority=1,
        customer_tier="standard",
        channel="web",
        created_at=T0,
        cycle_started_at=T0,
        last_progress_at=None,
        calendar=ALWAYS_OPEN,
        sla={"resolution": SLAInstants(T0 + H, T0 + 2 * H)},
    )
    rules = [
        RuleSpec(id=1, order=1, trigger=Trigger.SEVERITY, priority_at_least=1),
        RuleSpec(
            id=2,
            order=2,
            trigger=Trigger.SLA_BREACH,
            sla_target="resolution",
            escalate=Escalate.HIERARCHICAL,
        ),
    ]
    free = evaluate(facts, rules, T0 + 3 * H)
    assert [d.rule.id for d in free.decisions] == [1, 2]
    held = evaluate(dataclasses.replace(facts, owned_by_incident=True), rules, T0 + 3 * H)
    assert held.decisions == () and held.next_check_at is None
    # Not yet due: the free ticket is to be looked at again, the held one is not.
    assert evaluate(facts, rules[1:], T0).next_check_at == T0 + 2 * H
    assert (
        evaluate(dataclasses.replace(facts, owned_by_incident=True), rules[1:], T0).next_check_at
        is None
    )


@pytest.mark.django_db
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk lane", "per-ticket lane"])
def test_both_sweep_lanes_hold_linked_tickets(org, bulk):
    linked = make_ticket(org, subject="Checkout fails", service=org.checkout, at=T0)
    twin = make_ticket(org, subject="Checkout fails too", service=org.checkout, at=T0)
    incident = services.incident_declare(
        actor=org.im_lead, title="Checkout", severity=2, manager=org.im_lead, now=T0 + H / 6
    )
    services.incident_link(incident=incident, tickets=[linked], actor=org.im_lead, now=T0 + H / 6)
    # Even a ticket whose check was already due when it was linked is held by the sweep.
    Ticket.objects.filter(pk=linked.pk).update(next_check_at=T0 + H / 4)
    events_before = TicketEvent.objects.filter(ticket=linked).count()
    later = T0 + 30 * H
    sweep(now=later, bulk=bulk)
    linked.refresh_from_db()
    twin.refresh_from_db()
    assert not Escalation.objects.filter(ticket=linked).exists()
    assert TicketEvent.objects.filter(ticket=linked).count() == events_before
    assert linked.next_check_at is None
    assert linked.first_response_breached_at is None
    assert Escalation.objects.filter(ticket=twin).exists()
    assert twin.first_response_breached_at is not None


@pytest.mark.django_db
def test_unlinking_starts_the_ticket_clock_again(org):
    ticket = make_ticket(org, service=org.checkout, at=T0)
    incident = services.incident_declare(
        actor=org.im_lead, title="Checkout", severity=2, manager=org.im_lead, now=T0
    )
    services.incident_link(incident=incident, tickets=[ticket], actor=org.im_lead, now=T0)
    ticket.refresh_from_db()
    assert ticket.next_check_at is None
    link = services.incident_unlink(incident=incident, ticket=ticket, actor=org.im_lead, now=T0 + H)
    assert link.end == IncidentLink.End.UNLINKED and link.ended_by == org.im_lead
    ticket.refresh_from_db()
    assert ticket.next_check_at == T0 + H
    sweep(now=T0 + 30 * H)
    assert Escalation.objects.filter(ticket=ticket).exists()
