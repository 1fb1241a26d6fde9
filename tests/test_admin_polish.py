"""Admin polish: durations typed and shown as "15 min" / "4 h" / "2 d", labels instead of codes
in list columns and filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk.durations import HumanDurationField, parse_duration_text
from notifications.models import Delivery
from sla.models import SLAPolicy, TierTarget
from tests.escalation.test_admin import rule_post
from tests.escalation.test_services import Chain

MIN = dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("15 min", 15),
        ("1 h 30 min", 90),
        ("1h30", 90),
        ("2 d", 2880),
        ("90", 90),
        ("4 h", 240),
        ("2 Std", 120),
        ("2 Std.", 120),
        ("1 Tg 2 Std", 1560),
        ("3 T", 4320),
        ("1,5 h", 90),
        ("45 Minuten", 45),
        ("01:30:00", 90),
    ],
)
def test_durations_are_read_as_people_type_them(text, minutes):
    assert parse_duration_text(text) == minutes * MIN


@pytest.mark.parametrize(
    "text", ["soon", "5 x", "h", "1 h later", "-5", "9" * 30, "99999999999999999999:00:00"]
)
def test_what_is_not_a_duration_is_refused(text):
    with pytest.raises(ValueError):
        parse_duration_text(text)


def test_the_field_shows_what_it_reads():
    field = HumanDurationField()
    for minutes, shown in [(15, "15 min"), (90, "1 h 30 min"), (2880, "2 d"), (240, "4 h")]:
        assert field.prepare_value(minutes * MIN) == shown
        assert field.clean(shown) == minutes * MIN
    assert field.prepare_value(dt.timedelta(0)) == "0 min"


@pytest.mark.django_db
def test_policy_targets_are_typed_and_shown_as_durations(admin_client):
    policy = SLAPolicy.objects.get(name="Standard office hours")
    url = reverse("admin:sla_slapolicy_change", args=[policy.pk])
    page = admin_client.get(url)
    body = page.content.decode()
    target = policy.targets.get(priority=1)
    assert target.first_response == 15 * MIN
    assert 'value="15 min"' in body
    formset = page.context["inline_admin_formsets"][0].formset
    data = {
        "name": policy.name,
        "order": policy.order,
        "is_active": "on" if policy.is_active else "",
        "calendar": policy.calendar_id,
        "contract": policy.contract,
        "priority_min": policy.priority_min,
        "priority_max": policy.priority_max,
        "targets-TOTAL_FORMS": len(formset.forms),
        "targets-INITIAL_FORMS": len(formset.forms),
    }
    for i, form in enumerate(formset.forms):
        data[f"targets-{i}-id"] = form.instance.pk
        for name, field in form.fields.items():
            value = form.initial.get(name)
            if value is None:
                continue
            data[f"targets-{i}-{name}"] = field.prepare_value(value)
    row = next(i for i, f in enumerate(formset.forms) if f.instance.priority == 1)
    data[f"targets-{row}-first_response"] = "1 h 30 min"
    response = admin_client.post(url, data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.first_response == 90 * MIN
    data[f"targets-{row}-first_response"] = "soon"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Enter a duration such as" in response.content.decode()


@pytest.mark.django_db
def test_tier_targets_list_durations(admin_client):
    TierTarget.objects.update(acknowledge_within=30 * MIN)
    body = admin_client.get(reverse("admin:sla_tiertarget_changelist")).content.decode()
    assert '<td class="field-acknowledge_within_text">30 min</td>' in body
    assert "0:30:00" not in body


@pytest.mark.django_db
def test_rule_threshold_typed_in_german_units(admin_client):
    response = admin_client.post(
        reverse("admin:escalation_escalationrule_add"),
        rule_post(trigger="no_progress", priority_at_least="", threshold="2 Tg"),
    )
    assert response.status_code == 302
    rule = EscalationRule.objects.get(name="Test rule")
    assert rule.threshold == dt.timedelta(days=2)
    page = admin_client.get(reverse("admin:escalation_escalationrule_change", args=[rule.pk]))
    assert 'name="threshold" value="2 d"' in page.content.decode()
    assert "No progress for (business time)" in page.content.decode()


@pytest.mark.django_db
def test_escalation_lists_show_labels_not_codes(admin_client):
    chain = Chain()
    ticket = chain.ticket()
    Escalation.objects.create(
        ticket=ticket,
        kind="hierarchical",
        cycle=1,
        trigger="sla_breach",
        from_team=ticket.team,
        to_team=ticket.team,
        from_level=ticket.level,
        to_level=ticket.level,
    )
    rule = EscalationRule.objects.first()
    RuleFiring.objects.create(rule=rule, ticket=ticket, cycle=1, trigger="no_progress")
    body = admin_client.get(reverse("admin:escalation_escalation_changelist")).content.decode()
    assert '<td class="field-trigger_text">SLA breach</td>' in body
    assert 'title="SLA breach"' in body or ">SLA breach</a>" in body  # the filter
    assert ">sla_breach<" not in body
    body = admin_client.get(reverse("admin:escalation_rulefiring_changelist")).content.decode()
    assert '<td class="field-trigger_text">No progress for (business time)</td>' in body
    assert ">no_progress<" not in body
    filtered = admin_client.get(
        reverse("admin:escalation_rulefiring_changelist"), {"trigger": "no_progress"}
    )
    assert list(filtered.context["cl"].result_list) == list(RuleFiring.objects.all())


@pytest.mark.django_db
def test_delivery_list_shows_kind_labels(admin_client, admin_user):
    Delivery.objects.create(channel="email", kind="de_escalated", user=admin_user, dedupe_key="k")
    body = admin_client.get(reverse("admin:notifications_delivery_changelist")).content.decode()
    assert ">de_escalated<" not in body
    assert '<td class="field-kind_text">' in body
