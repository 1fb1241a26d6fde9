"""Default data in German and English: support levels, SLA policies, escalation rules and
message templates from the default data carry a German name beside the name; pages, admin
lists and emails show the one of the reader's language. Names typed by admins stay as typed."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from escalation.models import EscalationRule
from notifications.models import MessageTemplate
from sla.models import SLAPolicy
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import SupportLevel

pytestmark = pytest.mark.django_db


def test_default_rows_have_german_names():
    assert SupportLevel.objects.get(rank=1).name_de == "1st-Level-Support"
    assert (
        SupportLevel.objects.get(rank=2).name_de == "2nd-Level-Support (Experten / Teamleitungen)"
    )
    assert SLAPolicy.objects.get(name="Standard office hours").name_de == "Standard-Bürozeiten"
    rule = EscalationRule.objects.get(name="First response breached: next level")
    assert rule.name_de == "Erstreaktion verletzt: nächste Stufe"
    template = MessageTemplate.objects.get(name="Status update", language="en")
    assert template.name_de == "Status-Update"
    assert not EscalationRule.objects.filter(name_de="").exists()


def test_display_name_follows_the_language_and_falls_back_to_the_name():
    level = SupportLevel.objects.get(rank=1)
    with translation.override("de"):
        assert level.display_name == "1st-Level-Support"
        assert str(level) == "1 · 1st-Level-Support"
    with translation.override("en"):
        assert level.display_name == "1st level support"
    typed = SupportLevel(rank=9, name="Vendor escalation")
    with translation.override("de"):
        assert typed.display_name == "Vendor escalation"


@pytest.mark.parametrize(
    ("language", "level", "policy"),
    [
        ("de", "1st-Level-Support", "Standard-Bürozeiten"),
        ("en", "1st level support", "Standard office hours"),
    ],
)
def test_the_ticket_page_shows_names_in_the_page_language(
    client, agent, team_a, language, level, policy
):
    ticket = services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="Scanner", description="", team=team_a, customer=CustomerFactory()
        ),
    )
    client.force_login(agent)
    client.cookies["django_language"] = language
    body = client.get(ticket.get_absolute_url()).content.decode()
    assert f'<dd class="col-7">{level}</dd>' in body
    assert policy in body
    listed = client.get(reverse("tickets:list")).content.decode()
    assert f'<div class="small text-body-secondary">{level}</div>' in listed


@pytest.mark.parametrize(
    ("language", "rule", "level"),
    [
        ("de", "Erstreaktion verletzt: nächste Stufe", "1st-Level-Support"),
        ("en", "First response breached: next level", "1st level support"),
    ],
)
def test_admin_lists_show_names_in_the_page_language(admin_client, language, rule, level):
    admin_client.cookies["django_language"] = language
    body = admin_client.get(reverse("admin:escalation_escalationrule_changelist")).content.decode()
    assert f">{rule}</a>" in body
    body = admin_client.get(reverse("admin:tickets_supportlevel_changelist")).content.decode()
    assert f">{level}</a>" in body


def test_emails_name_levels_in_the_recipients_language(admin_client):
    from notifications import email
    from notifications.models import Delivery, Notification, Preference
    from tests.factories import TicketFactory, UserFactory

    user = UserFactory()
    ticket = TicketFactory(level=SupportLevel.objects.get(rank=2))
    delivery = Delivery.objects.create(
        channel="email",
        kind=Notification.Kind.SLA_WARNING,
        user=user,
        ticket=ticket,
        payload={"reference": ticket.reference, "target": "resolution"},
        dedupe_key="k",
    )
    _s, text, _h = email.render(delivery, user, Preference(user=user, language="de"))
    assert "(2nd-Level-Support (Experten / Teamleitungen))" in text
    _s, text, _h = email.render(delivery, user, Preference(user=user, language="en"))
    assert "(2nd level (experts / team leads))" in text
