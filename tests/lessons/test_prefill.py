"""The closing report's first draft comes from the ticket's timeline: the escalations'
information packages, the resolution message, the major incident's report and updates."""

from __future__ import annotations

import pytest
from django.utils import translation

from incidents.services import incident_declare, incident_post_update, incident_resolve
from lessons import prefill
from tests.lessons.conftest import new_ticket, resolve
from tickets import services
from tickets.models import SupportLevel

pytestmark = pytest.mark.django_db


def test_the_draft_quotes_the_packages_and_the_resolution_message(org, climbed):
    services.ticket_reply(
        ticket=climbed, actor=org.admin, body="We raised the pool size; payments work again."
    )
    resolve(org, climbed)
    draft = prefill.draft(climbed)
    # Each package's "what happened", in the order the ticket climbed, under its heading.
    first = draft["cause"].index("Payments time out for every shop")
    second = draft["cause"].index("Database connection pool exhausted")
    assert first < second
    level2 = SupportLevel.objects.get(rank=2).display_name
    assert f"Escalation to {level2}, " in draft["cause"]
    assert "No orders can be paid — All web shops since 09:00" in draft["impact"]
    assert "What was tried" in draft["lessons_learned"]
    assert "Restarted the payment gateway" in draft["lessons_learned"]
    assert "Raised the pool size" in draft["lessons_learned"]
    assert "Risks named" in draft["preventive_measures"]
    assert "Lost revenue every minute" in draft["preventive_measures"]
    assert draft["solution"] == "We raised the pool size; payments work again."


def test_the_resolution_message_is_the_last_reply_before_resolving(org, climbed):
    services.ticket_reply(ticket=climbed, actor=org.admin, body="Looking into it.")
    services.ticket_reply(ticket=climbed, actor=org.admin, body="Fixed: pool raised.")
    resolve(org, climbed)
    assert prefill.draft(climbed)["solution"] == "Fixed: pool raised."


def test_the_headings_are_in_the_writers_language(org, climbed):
    with translation.override("de"):
        draft = prefill.draft(climbed)
    assert "Eskalation an" in draft["cause"]
    assert "Was versucht wurde" in draft["lessons_learned"]


def test_a_major_incident_brings_its_report_and_updates(org):
    ticket = new_ticket(org)
    incident = incident_declare(
        actor=org.admin,
        title="Checkout down",
        severity=1,
        manager=org.im_lead,
        services=[org.checkout],
        source_ticket=ticket,
    )
    incident_post_update(
        incident=incident, actor=org.admin, text="The payment provider's API times out."
    )
    incident.refresh_from_db()
    incident_resolve(
        incident=incident,
        actor=org.admin,
        cause="Certificate of the payment provider expired",
        solution="Certificate renewed",
        impact="Two hours without payments",
        lessons_learned="Certificates need an owner",
        preventive_measures="Monitor certificate expiry",
    )
    draft = prefill.draft(ticket)
    assert draft["cause"].startswith("Certificate of the payment provider expired")
    assert "The payment provider's API times out." in draft["cause"]
    assert draft["solution"].startswith("Certificate renewed")
    # The incident's own report first; declaring it escalated the ticket to incident
    # management, whose information package follows.
    assert draft["impact"].startswith("Two hours without payments")
    assert "Escalation to Incident / service management" in draft["impact"]
    assert draft["lessons_learned"] == "Certificates need an owner"
    assert draft["preventive_measures"].startswith("Monitor certificate expiry")
    assert (
        "Risks named (Escalation to Incident / service management" in draft["preventive_measures"]
    )


def test_a_ticket_with_an_empty_timeline_gets_an_empty_draft(org):
    draft = prefill.draft(new_ticket(org))
    assert draft == dict.fromkeys(
        ("cause", "solution", "impact", "lessons_learned", "preventive_measures"), ""
    )


def test_the_draft_reads_a_fixed_number_of_queries(org, climbed, django_assert_max_num_queries):
    for n in range(5):
        services.ticket_reply(ticket=climbed, actor=org.admin, body=f"Update {n}")
    with django_assert_max_num_queries(6):
        prefill.draft(climbed)
