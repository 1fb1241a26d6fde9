"""Notifications admin: pages load, deliveries show their attempts, "Send again" resends."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from notifications import outbox
from notifications.models import (
    ChannelPreference,
    Delivery,
    DeliveryAttempt,
    MessageTemplate,
    Notification,
    Preference,
    WebhookEndpoint,
)
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def rows(admin_user):
    ticket = TicketFactory()
    endpoint = WebhookEndpoint.objects.create(url="https://crm.example.com/hook")
    failed = Delivery.objects.create(
        channel="webhook",
        kind="ticket.created",
        endpoint=endpoint,
        ticket=ticket,
        event_id="evt_1",
        status="failed",
        attempts=3,
        last_error="HTTP 500: boom",
    )
    DeliveryAttempt.objects.create(
        delivery=failed,
        number=1,
        started_at=failed.created_at,
        status_code=500,
        error="HTTP 500: boom",
    )
    mail = Delivery.objects.create(
        channel="email",
        kind="sla_breach",
        user=admin_user,
        ticket=ticket,
        dedupe_key="k",
        payload={"reference": ticket.reference, "target": "resolution"},
    )
    Notification.objects.create(user=admin_user, kind="sla_breach", ticket=ticket, dedupe_key="k")
    pref = Preference.objects.create(user=admin_user, language="en")
    ChannelPreference.objects.create(preference=pref, kind="sla_breach", email=False)
    return {"endpoint": endpoint, "failed": failed, "mail": mail, "pref": pref}


@pytest.mark.parametrize(
    "model", ["notification", "delivery", "webhookendpoint", "preference", "messagetemplate"]
)
def test_changelists_show_their_rows(client_admin, rows, model):
    response = client_admin.get(reverse(f"admin:notifications_{model}_changelist"))
    assert response.status_code == 200
    expected = set(response.context["cl"].model._default_manager.all())
    assert expected  # the fixture made rows of every kind (templates come from a migration)
    assert set(response.context["cl"].result_list) == expected
    body = response.content.decode()
    for obj in expected:  # each row is rendered, with its link
        assert reverse(f"admin:notifications_{model}_change", args=[obj.pk]) in body


def test_change_pages_load(client_admin, rows):
    for name, obj in [
        ("delivery", rows["failed"]),
        ("delivery", rows["mail"]),
        ("webhookendpoint", rows["endpoint"]),
        ("preference", rows["pref"]),
        ("messagetemplate", MessageTemplate.objects.first()),
    ]:
        response = client_admin.get(reverse(f"admin:notifications_{name}_change", args=[obj.pk]))
        assert response.status_code == 200, name
        assert f"<h2>{escape(str(obj))}</h2>" in response.content.decode(), name
    page = client_admin.get(
        reverse("admin:notifications_delivery_change", args=[rows["failed"].pk])
    )
    assert b"HTTP 500: boom" in page.content  # the last error and the attempt
    page = client_admin.get(reverse("admin:notifications_delivery_change", args=[rows["mail"].pk]))
    assert b"SLA verletzt" in page.content or b"SLA breached" in page.content  # preview


def test_send_again_queues_a_fresh_round_with_the_same_event_id(
    client_admin, rows, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(outbox, "enqueue", lambda pk, **options: queued.append(pk) or True)
    failed = rows["failed"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_admin.post(
            reverse("admin:notifications_delivery_changelist"),
            {"action": "resend", "_selected_action": [failed.pk, rows["mail"].pk]},
            follow=True,
        )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.event_id) == ("pending", 0, "evt_1")
    assert failed.attempt_log.count() == 1  # history kept
    assert queued == [failed.pk]
    assert b"1 skipped" in response.content  # the pending email was left alone


def test_endpoint_form_ticks_event_types(client_admin):
    response = client_admin.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {
            "url": "https://crm.example.com/in",
            "description": "CRM",
            "event_types": ["escalation.raised", "sla.breached"],
            "is_active": "on",
            "secret": WebhookEndpoint().secret,
            "disabled_reason": "",
        },
    )
    assert response.status_code == 302, response.content
    endpoint = WebhookEndpoint.objects.get(description="CRM")
    assert endpoint.event_types == ["escalation.raised", "sla.breached"]
    assert endpoint.subscribes_to("sla.breached") and not endpoint.subscribes_to("ticket.created")


def test_endpoint_form_refuses_a_private_url(client_admin):
    response = client_admin.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {"url": "http://10.0.0.7/hook", "secret": WebhookEndpoint().secret, "is_active": "on"},
    )
    assert response.status_code == 200
    assert Delivery.objects.count() == 0
    assert not WebhookEndpoint.objects.exists()
