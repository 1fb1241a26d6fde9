"""The rule preview in the admin can be asked for a chosen instant, as
`manage.py sweep_escalations --dry-run --at` can; a bad instant is a message, not a 500."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from escalation.models import EscalationRule
from tests.escalation.test_services import Chain

pytestmark = pytest.mark.django_db


def preview(body: str) -> str:
    return body[body.index('class="rule-preview"') :].split("</div>", 1)[0]


def test_preview_at_a_chosen_instant(admin_client):
    chain = Chain()
    created = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)  # a Monday, in the future
    ticket = chain.ticket(now=created)
    rule = EscalationRule.objects.get(name="First response breached: next level")
    EscalationRule.objects.exclude(pk=rule.pk).update(is_active=False)
    url = reverse("admin:escalation_escalationrule_change", args=[rule.pk])

    now_page = admin_client.get(url).content.decode()
    assert ticket.reference not in preview(now_page)  # not breached yet: it was just created
    assert 'form="rule-preview-form"' in now_page
    assert re.search(r'<form id="rule-preview-form" method="get"', now_page)

    later = admin_client.get(url, {"preview_at": "2030-01-14T10:00"}).content.decode()
    assert ticket.reference in preview(later)
    assert 'value="2030-01-14T10:00"' in later


def test_a_bad_instant_is_a_message(admin_client):
    rule = EscalationRule.objects.first()
    url = reverse("admin:escalation_escalationrule_change", args=[rule.pk])
    response = admin_client.get(url, {"preview_at": "next tuesday"})
    assert response.status_code == 200
    assert "“next tuesday” is not a date and time; the preview shows now." in preview(
        response.content.decode()
    )
