"""Escalation admin: pages load, rule validation, the live preview, re-evaluation on save."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from escalation.models import EscalationRule
from tests.escalation.test_services import MON_9, Chain
from tickets.models import SupportLevel


@pytest.fixture
def client_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def rule_post(**kw) -> dict:
    data = {
        "name": "Test rule",
        "order": "100",
        "is_active": "on",
        "trigger": "severity",
        "sla_target": "",
        "threshold": "",
        "priority_at_least": "1",
        "risk_at_least": "",
        "priority_min": "1",
        "priority_max": "4",
        "escalate": "hierarchical",
        "functional_team": "",
        "raise_priority_to": "",
        "notify_level_rank": "",
    }
    return data | kw


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["escalationrule", "escalation", "rulefiring"])
def test_changelists_show_their_rows(client_admin, model):
    ticket = Chain().ticket(impact=1, urgency=1)  # climbs L1 → L2 → L3 at once
    response = client_admin.get(reverse(f"admin:escalation_{model}_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    sev1 = "Sev 1: incident management at once, management informed"

    def hand_off(a: str, b: str) -> str:  # one escalation row's from and to cells
        cell = '<td class="field-{}_team nowrap">{}</td>'
        return cell.format("from", a) + cell.format("to", b)

    rows, texts = {
        "escalationrule": (
            EscalationRule.objects.count(),
            [sev1, "Escalation not acknowledged in time: further up"],
        ),
        "escalation": (
            2,
            [ticket.reference, *(hand_off(a, b) for a, b in (("L1", "L2"), ("L2", "L3")))],
        ),
        "rulefiring": (2, [f'<td class="field-ticket nowrap">{ticket}</td>', sev1]),
    }[model]
    assert response.context["cl"].result_count == rows
    for text in texts:
        assert text in body


@pytest.mark.django_db
def test_rule_page_previews_the_tickets_it_would_fire_on(client_admin):
    chain = Chain()
    ticket = chain.ticket(now=dt.datetime(2020, 1, 6, 9, tzinfo=dt.UTC))  # long overdue
    rule = EscalationRule.objects.get(name="First response breached: next level")
    EscalationRule.objects.exclude(pk=rule.pk).update(is_active=False)
    response = client_admin.get(reverse("admin:escalation_escalationrule_change", args=[rule.pk]))
    assert response.status_code == 200
    assert ticket.reference in response.content.decode()


@pytest.mark.django_db
def test_hierarchical_rule_only_on_the_top_level_is_refused(client_admin):
    top = SupportLevel.objects.order_by("-rank").first()
    response = client_admin.post(
        reverse("admin:escalation_escalationrule_add"), rule_post(levels=[top.pk])
    )
    assert response.status_code == 200
    assert "nowhere to go" in response.content.decode()
    assert not EscalationRule.objects.filter(name="Test rule").exists()


@pytest.mark.django_db
def test_trigger_parameters_are_required(client_admin):
    response = client_admin.post(
        reverse("admin:escalation_escalationrule_add"),
        rule_post(trigger="no_progress", priority_at_least=""),
    )
    assert response.status_code == 200
    assert "threshold" in response.context["adminform"].form.errors


@pytest.mark.django_db
def test_saving_a_rule_brings_open_tickets_forward(client_admin):
    chain = Chain()
    ticket = chain.ticket(now=MON_9)
    ticket.refresh_from_db()
    assert ticket.next_check_at > MON_9
    response = client_admin.post(reverse("admin:escalation_escalationrule_add"), rule_post())
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.next_check_at <= dt.datetime.now(dt.UTC)
