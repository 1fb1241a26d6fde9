"""The Christmas checkout story, end to end through the services and the sweeps.

On the day before Christmas the checkout breaks: 60 customers open tickets on "Checkout"
within ten minutes. The wave trigger fires once and declares a Sev 1 incident, the incident
manager links the rest from the suggestions, one update reaches each of the 60 customers once
in their language, the hourly cadence reminds the manager, resolving closes all 60 with the
report — and none of the 60 tickets escalates on its own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from escalation.models import Escalation
from escalation.sweep import sweep
from incidents import selectors, services
from incidents.models import IncidentEvent, IncidentLink, MajorIncident, WaveFiring, WaveRule
from notifications.models import Delivery, Notification, WebhookEndpoint, new_webhook_secret
from tests.incidents.conftest import make_ticket
from tickets.models import Message, Service, Ticket
from tickets.services import StaleRequest

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 23, 9, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in Berlin
MIN = dt.timedelta(minutes=1)


def test_christmas_checkout(org):
    org.im_lead.user_permissions.add(Permission.objects.get(codename="view_all_tickets"))
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in", secret=new_webhook_secret())
    WaveRule.objects.create(
        name="Christmas wave",
        min_tickets=20,
        window_minutes=15,
        action=WaveRule.Action.DECLARE,
        severity=1,
    )
    tickets = [
        make_ticket(
            org,
            subject=f"Cannot pay in the checkout (order {i})",
            service=org.checkout,
            language="de" if i % 2 else "en",
            at=T0 + dt.timedelta(seconds=10 * i),
            n=i,
        )
        for i in range(60)
    ]
    # A ticket on another service at the same time: its own clock keeps running.
    control = make_ticket(org, subject="Password reset mail missing", service=org.login, at=T0)

    # The sweep runs every minute while the wave rolls in: it fires once.
    fired = [
        services.incident_sweep(now=T0 + m * MIN + dt.timedelta(seconds=5))["waves"]
        for m in range(15)
    ]
    assert sum(fired) == 1
    assert WaveFiring.objects.count() == 1
    incident = MajorIncident.objects.get()
    assert incident.severity == 1
    assert incident.manager == org.im_lead  # the incident management team's lead
    org.checkout.refresh_from_db()
    assert org.checkout.status == Service.Status.OUTAGE
    first_linked = incident.links.count()
    assert 20 <= first_linked < 60

    # The manager links the rest of the wave from the suggestions, in bulk.
    now = T0 + 15 * MIN
    suggested = selectors.suggestions(incident, org.im_lead, now=now)
    assert {t.pk for t in suggested} == {t.pk for t in tickets} - set(
        incident.links.values_list("ticket_id", flat=True)
    )
    services.incident_link(
        incident=incident,
        tickets=suggested,
        actor=org.im_lead,
        source=IncidentLink.Source.SUGGESTION,
        now=now,
    )
    assert incident.links.filter(ended_at__isnull=True).count() == 60
    assert not Ticket.objects.filter(pk__in=[t.pk for t in tickets], next_check_at__isnull=False)

    # One update reaches each customer once, in their language.
    sent_at = T0 + 20 * MIN
    update = services.incident_post_update(
        incident=incident,
        actor=org.im_lead,
        text="Our payment provider's gateway is down; orders are not lost.",
        intent="update-1",
        now=sent_at,
    )
    assert update.recipients == 60
    with pytest.raises(StaleRequest):
        services.incident_post_update(
            incident=incident, actor=org.im_lead, text="again", intent="update-1", now=sent_at
        )
    replies = Message.objects.filter(ticket__in=tickets, kind=Message.Kind.REPLY)
    assert replies.count() == 60
    assert sorted(replies.values_list("ticket_id", flat=True)) == sorted(t.pk for t in tickets)
    for reply in replies.select_related("ticket__requester"):
        assert "Our payment provider's gateway is down" in reply.body
        if reply.ticket.requester.language == "de":
            assert "Affected services: Kasse" not in reply.body and "Kasse" in reply.body
            assert "Aktueller Status" in reply.body
        else:
            assert "Checkout" in reply.body and "Current status" in reply.body
    webhook_kinds = list(Delivery.objects.values_list("kind", flat=True))
    assert webhook_kinds.count("ticket.message") == 60
    for kind in ("incident.declared", "incident.updated", "service.status_changed"):
        assert kind in webhook_kinds

    # The hourly cadence: a warning at 45 minutes, "missed" at the hour, each once.
    incident.refresh_from_db()
    assert incident.next_update_due_at == sent_at + dt.timedelta(hours=1)
    assert services.remind(now=sent_at + 44 * MIN) == []
    assert len(services.remind(now=sent_at + 46 * MIN)) == 1
    assert services.remind(now=sent_at + 50 * MIN) == []
    assert len(services.remind(now=sent_at + 61 * MIN)) == 1
    manager_notes = Notification.objects.filter(user=org.im_lead)
    assert manager_notes.filter(kind=Notification.Kind.INCIDENT_UPDATE_DUE).count() == 1
    assert manager_notes.filter(kind=Notification.Kind.INCIDENT_UPDATE_MISSED).count() == 1

    # Declaring escalated the wave's first ticket to incident management, once: the
    # incident's escalation, which the dashboards and reports count.
    escalation = Escalation.objects.get(ticket__in=tickets)
    assert (escalation.ticket, escalation.to_team, escalation.to_level.rank) == (
        tickets[0],
        org.im,
        3,
    )

    # Hours later the escalation sweep runs: the control ticket escalates, the 60 do not.
    sweep(now=T0 + 5 * dt.timedelta(hours=1))
    assert Escalation.objects.filter(ticket=control).exists()
    assert list(Escalation.objects.filter(ticket__in=tickets)) == [escalation]

    # Resolving closes all 60 with the closing report and restores the service.
    services.incident_resolve(
        incident=incident,
        actor=org.im_lead,
        cause="An expired certificate at the payment provider.",
        solution="The provider renewed the certificate.",
        preventive_measures="Monitor the provider's certificate expiry.",
        now=T0 + 6 * dt.timedelta(hours=1),
    )
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], status="resolved").count() == 60
    closing = Message.objects.filter(ticket__in=tickets, body__contains="expired certificate")
    assert closing.count() == 60
    org.checkout.refresh_from_db()
    assert org.checkout.status == Service.Status.OPERATIONAL
    assert list(Escalation.objects.filter(ticket__in=tickets)) == [escalation]
    assert set(
        Notification.objects.filter(
            ticket__in=tickets, kind=Notification.Kind.ESCALATION_RAISED
        ).values_list("ticket_id", flat=True)
    ) == {tickets[0].pk}
    # Management heard of the Sev 1 once; the timeline has the whole story.
    assert (
        Notification.objects.filter(user=org.boss, kind=Notification.Kind.MAJOR_INCIDENT).count()
        == 1
    )
    kinds = list(incident.events.values_list("kind", flat=True))
    for kind in (
        IncidentEvent.Kind.DECLARED,
        IncidentEvent.Kind.LINKED,
        IncidentEvent.Kind.UPDATE_SENT,
        IncidentEvent.Kind.UPDATE_DUE,
        IncidentEvent.Kind.UPDATE_MISSED,
        IncidentEvent.Kind.RESOLVED,
    ):
        assert kind in kinds
    assert "incident.resolved" in Delivery.objects.values_list("kind", flat=True)
