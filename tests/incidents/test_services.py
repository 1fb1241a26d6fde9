"""Declaring, linking and unlinking, updates, resolution and service status: the rules and
the rights of each role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from escalation.models import Escalation
from incidents import services
from incidents.models import IncidentEvent, IncidentLink, MajorIncident, ServiceStatusChange
from incidents.selectors import can_run_incidents, open_incidents_for
from notifications.models import Notification
from tests.factories import AdminFactory, UserFactory
from tests.incidents.conftest import make_ticket
from tickets.models import Message, Service, Ticket, TicketEvent
from tickets.services import StaleRequest, ticket_transition

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def declare(org, actor=None, **kw):
    args = {"title": "Checkout down", "severity": 2, "manager": org.im_lead, "now": T0}
    return services.incident_declare(actor=actor or org.im_lead, **(args | kw))


class TestRights:
    def test_who_may_run_incidents(self, org):
        assert not can_run_incidents(org.agent)  # 1st level agent
        assert can_run_incidents(org.l2_lead)  # a lead of level 2
        assert can_run_incidents(org.im_member)  # incident management team
        assert can_run_incidents(org.im_lead)
        assert can_run_incidents(AdminFactory(username="root"))
        assert not can_run_incidents(UserFactory(username="stranger"))
        member_l2 = UserFactory(username="l2member")
        org.l2.members.add(member_l2)
        assert not can_run_incidents(member_l2)  # a member, not the lead, of level 2

    def test_an_agent_cannot_declare_link_update_or_resolve(self, org):
        with pytest.raises(PermissionDenied):
            declare(org, actor=org.agent)
        assert not MajorIncident.objects.exists()
        incident = declare(org, actor=org.l2_lead)
        ticket = make_ticket(org, at=T0)
        with pytest.raises(PermissionDenied):
            services.incident_link(incident=incident, tickets=[ticket], actor=org.agent)
        with pytest.raises(PermissionDenied):
            services.incident_post_update(incident=incident, actor=org.agent, text="x")
        with pytest.raises(PermissionDenied):
            services.incident_resolve(incident=incident, actor=org.agent, cause="c", solution="s")
        with pytest.raises(PermissionDenied):
            services.service_change_status(
                service=org.checkout, status=Service.Status.DEGRADED, actor=org.agent
            )

    def test_the_manager_must_be_able_to_run_it(self, org):
        with pytest.raises(services.IncidentError):
            declare(org, manager=org.agent)


class TestDeclare:
    def test_declaring_from_a_ticket(self, org):
        ticket = make_ticket(org, service=org.checkout, at=T0)
        incident = declare(
            org, services=[org.checkout], source_ticket=ticket, severity=1, now=T0 + H
        )
        ticket.refresh_from_db()
        assert ticket.is_major_incident
        assert incident.links.get().ticket == ticket
        assert incident.next_update_due_at == T0 + 2 * H  # Sev 1: hourly
        org.checkout.refresh_from_db()
        assert org.checkout.status == Service.Status.OUTAGE
        change = ServiceStatusChange.objects.get()
        assert (change.from_status, change.to_status, change.incident) == (
            "operational",
            "outage",
            incident,
        )
        # Sev 1: the manager, the incident management team and management are told.
        told = set(
            Notification.objects.filter(kind=Notification.Kind.MAJOR_INCIDENT).values_list(
                "user__username", flat=True
            )
        )
        assert told == {"imlead", "immember", "boss"}
        assert incident.events.filter(kind=IncidentEvent.Kind.MANAGEMENT_TOLD).exists()

    def test_sev_2_does_not_tell_management(self, org):
        declare(org, severity=2)
        assert not Notification.objects.filter(user=org.boss).exists()

    def test_a_future_start_is_refused(self, org):
        with pytest.raises(services.IncidentError):
            declare(org, started_at=T0 + H)

    def test_the_dashboard_selector(self, org, django_assert_max_num_queries):
        incident = declare(org, services=[org.checkout])
        services.incident_link(
            incident=incident,
            tickets=[make_ticket(org, at=T0), make_ticket(org, at=T0)],
            actor=org.im_lead,
            now=T0,
        )
        services.incident_post_update(incident=incident, actor=org.im_lead, text="x", now=T0 + H)
        with django_assert_max_num_queries(4):
            rows = open_incidents_for(org.im_lead)
        (row,) = rows
        assert (row.linked, row.services, row.last_update_at) == (2, ["Checkout"], T0 + H)
        assert row.next_update_due_at == T0 + 3 * H  # Sev 2: every two hours


class TestLinks:
    def test_closed_and_already_linked_tickets_are_left_out(self, org):
        first = declare(org)
        second = declare(org, title="Something else")
        linked_elsewhere = make_ticket(org, at=T0)
        services.incident_link(incident=first, tickets=[linked_elsewhere], actor=org.im_lead)
        closed = make_ticket(org, at=T0)
        ticket_transition(ticket=closed, actor=org.agent, name="resolve")
        fresh = make_ticket(org, at=T0)
        links = services.incident_link(
            incident=second, tickets=[linked_elsewhere, closed, fresh], actor=org.im_lead
        )
        assert [link.ticket_id for link in links] == [fresh.pk]
        with pytest.raises(services.IncidentError):
            services.incident_link(
                incident=second, tickets=[linked_elsewhere, closed], actor=org.im_lead
            )
        assert TicketEvent.objects.filter(
            ticket=fresh, kind=TicketEvent.Kind.MAJOR_INCIDENT, payload__linked=True
        ).exists()

    def test_a_resolved_incident_takes_no_tickets(self, org):
        incident = declare(org)
        services.incident_resolve(incident=incident, actor=org.im_lead, cause="c", solution="s")
        with pytest.raises(services.IncidentError):
            services.incident_link(
                incident=incident, tickets=[make_ticket(org, at=T0)], actor=org.im_lead
            )

    def test_unlinked_tickets_get_no_updates_and_stay_open(self, org):
        incident = declare(org)
        kept, dropped = make_ticket(org, at=T0), make_ticket(org, at=T0)
        services.incident_link(incident=incident, tickets=[kept, dropped], actor=org.im_lead)
        services.incident_unlink(incident=incident, ticket=dropped, actor=org.im_lead)
        with pytest.raises(services.IncidentError):
            services.incident_unlink(incident=incident, ticket=dropped, actor=org.im_lead)
        services.incident_post_update(incident=incident, actor=org.im_lead, text="Working on it")
        assert Message.objects.filter(ticket=kept, body__contains="Working on it").count() == 1
        assert not Message.objects.filter(ticket=dropped, body__contains="Working on it").exists()
        services.incident_resolve(incident=incident, actor=org.im_lead, cause="c", solution="s")
        kept.refresh_from_db()
        dropped.refresh_from_db()
        assert kept.status == Ticket.Status.RESOLVED
        assert dropped.status == Ticket.Status.NEW
        link = IncidentLink.objects.get(ticket=kept)
        assert link.end == IncidentLink.End.RESOLVED
        # Once resolved, a ticket may join another incident.
        assert services.incident_link(incident=declare(org), tickets=[dropped], actor=org.im_lead)


class TestDeclaringEscalates:
    """Declaring raises one escalation of the primary ticket to incident management."""

    def raised_to(self, ticket):
        return set(
            Notification.objects.filter(
                kind=Notification.Kind.ESCALATION_RAISED, ticket=ticket
            ).values_list("user__username", flat=True)
        )

    def test_the_declaring_ticket_goes_to_incident_management_once(self, org):
        ticket = make_ticket(org, service=org.checkout, at=T0)
        incident = declare(org, source_ticket=ticket, severity=1, now=T0 + H)
        escalation = Escalation.objects.get()
        assert (escalation.ticket, escalation.kind, escalation.status) == (
            ticket,
            Escalation.Kind.HIERARCHICAL,
            Escalation.Status.RAISED,
        )
        assert (escalation.from_team, escalation.to_team) == (org.l1, org.im)
        assert (escalation.from_level.rank, escalation.to_level.rank) == (1, 3)
        assert escalation.raised_by == org.im_lead
        assert escalation.raised_at == T0 + H
        assert escalation.reason == f"{incident.reference}: Checkout down"
        ticket.refresh_from_db()
        assert (ticket.team, ticket.level.rank, ticket.next_check_at) == (org.im, 3, None)
        assert ticket.watchers.filter(pk=org.im_lead.pk).exists()
        escalated = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ESCALATED)
        assert escalated.count() == 1
        # The receiving team hears of it; for a Sev 1, management too.
        assert self.raised_to(ticket) == {"immember", "boss"}
        # Once per intent: asked again, nothing more is raised.
        again = services.escalate_to_incident_management(
            incident, ticket, actor=org.im_lead, now=T0 + 2 * H
        )
        assert again is None
        assert Escalation.objects.count() == 1

    def test_sev_2_escalates_without_management(self, org):
        ticket = make_ticket(org, at=T0)
        declare(org, actor=org.l2_lead, source_ticket=ticket, severity=2, now=T0 + H)
        assert Escalation.objects.get().to_team == org.im
        assert self.raised_to(ticket) == {"imlead", "immember"}

    def test_the_earliest_linked_ticket_stands_for_an_incident_declared_without_one(self, org):
        later = make_ticket(org, at=T0 + H, n=1)
        earliest = make_ticket(org, at=T0, n=2)
        declare(org, tickets=[later, earliest], now=T0 + 2 * H)
        assert list(Escalation.objects.values_list("ticket_id", flat=True)) == [earliest.pk]

    def test_nothing_to_raise(self, org):
        declare(org)  # no ticket
        at_three = make_ticket(org, at=T0)
        Ticket.objects.filter(pk=at_three.pk).update(team=org.im, level=org.im.level)
        declare(org, title="Already there", source_ticket=at_three)
        assert not Escalation.objects.exists()


class TestUpdatesAndResolution:
    def test_a_stale_page_is_refused(self, org):
        incident = declare(org)
        services.incident_post_update(incident=incident, actor=org.im_lead, text="one")
        with pytest.raises(StaleRequest):
            services.incident_post_update(
                incident=incident, actor=org.im_lead, text="two", expected_version=0
            )

    def test_the_first_update_is_the_initial_notice_and_answers_first(self, org):
        incident = declare(org)
        ticket = make_ticket(org, at=T0, language="de")
        services.incident_link(incident=incident, tickets=[ticket], actor=org.im_lead)
        update = services.incident_post_update(
            incident=incident, actor=org.im_lead, text="Wir prüfen", now=T0 + H
        )
        assert update.kind == "initial_notice"
        ticket.refresh_from_db()
        assert ticket.first_responded_at == T0 + H
        body = Message.objects.get(ticket=ticket, kind="reply").body
        assert body.startswith("Uns ist eine Störung bekannt")
        second = services.incident_post_update(
            incident=incident, actor=org.im_lead, text="Ursache gefunden", status="identified"
        )
        assert second.kind == "status_update"
        incident.refresh_from_db()
        assert incident.status == "identified"

    def test_resolution_needs_cause_and_solution(self, org):
        incident = declare(org)
        with pytest.raises(services.IncidentError) as error:
            services.incident_resolve(incident=incident, actor=org.im_lead, cause="", solution="")
        assert set(error.value.error_dict) == {"cause", "solution"}
        incident.refresh_from_db()
        assert incident.is_open

    def test_services_are_restored_unless_another_incident_holds_them(self, org):
        services.service_change_status(
            service=org.login, status=Service.Status.DEGRADED, actor=org.im_lead, note="slow"
        )
        first = declare(org, services=[org.checkout, org.login])
        second = declare(org, title="Checkout again", services=[org.checkout])
        services.incident_resolve(incident=first, actor=org.im_lead, cause="c", solution="s")
        org.checkout.refresh_from_db()
        org.login.refresh_from_db()
        assert org.checkout.status == Service.Status.OUTAGE  # the second still holds it
        assert org.login.status == Service.Status.DEGRADED  # back to what it was before
        services.incident_resolve(incident=second, actor=org.im_lead, cause="c", solution="s")
        org.checkout.refresh_from_db()
        assert org.checkout.status == Service.Status.OPERATIONAL
        with pytest.raises(StaleRequest):
            services.incident_resolve(incident=second, actor=org.im_lead, cause="c", solution="s")


def test_other_event_listeners_hear_of_every_reply(org, monkeypatch):
    """A listener registered besides the notifications' one (the customer email of a public
    reply) is called once per reply the update writes, with the reply."""
    from tickets import services as ticket_services

    heard = []
    monkeypatch.setattr(
        ticket_services,
        "_event_listeners",
        [*ticket_services.event_listeners(), lambda event: heard.append(event)],
    )
    incident = declare(org)
    tickets = [make_ticket(org, at=T0, n=i) for i in range(3)]
    heard.clear()
    services.incident_link(incident=incident, tickets=tickets, actor=org.im_lead)
    services.incident_post_update(incident=incident, actor=org.im_lead, text="News")
    assert sorted(e.ticket_id for e in heard) == sorted(t.pk for t in tickets)
    assert {e.kind for e in heard} == {TicketEvent.Kind.REPLIED}
    assert all(e.message.body.endswith(f"{incident.reference}.") for e in heard)


def test_reminder_emails_speak_of_the_incident(org):
    from notifications.email import render_preview
    from notifications.models import Delivery

    incident = declare(org, severity=1)
    services.incident_post_update(incident=incident, actor=org.im_lead, text="x", now=T0)
    assert services.remind(now=T0 + 50 * dt.timedelta(minutes=1)) == [(incident, "update_due")]
    email = Delivery.objects.get(kind=Notification.Kind.INCIDENT_UPDATE_DUE, user=org.im_lead)
    subject, text = render_preview(email)
    assert f"The next update on major incident {incident.reference} is due by" in subject
    assert "Ticket" not in subject
    assert incident.reference in text
