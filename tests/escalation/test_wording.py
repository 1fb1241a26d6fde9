"""Rule reasons and automatic information packages are stored as facts and worded in the
reader's language: on the ticket page (escalation panel, package, timeline) and in the
escalation list; rows stored before the facts were kept show their stored words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from escalation import sweep as sweeping
from escalation.models import Escalation, RuleFiring
from tests.escalation.test_services import MON_9, Chain
from tickets import services
from tickets.models import TicketEvent

GERMAN = (
    "SLA verletzt: Erstreaktion",
    "Interne Notiz: Restarted the shop",
    ", seit ",
    "Erstreaktion verletzt: nächste Stufe",
)
ENGLISH = (
    "SLA breach: First response",
    "Internal note: Restarted the shop",
    ", since ",
    "First response breached: next level",
)


@pytest.fixture
def escalated(db, settings):
    settings.LANGUAGE_CODE = "en"
    chain = Chain()
    ticket = chain.ticket()
    services.ticket_add_note(
        ticket=ticket, actor=chain.agents[0], body="Restarted the shop", now=MON_9
    )
    ticket.refresh_from_db()
    sweeping.sweep(now=ticket.first_response_due_at)
    ticket.refresh_from_db()
    assert ticket.level.rank == 2
    return chain, ticket


@pytest.mark.parametrize(
    ("language", "expected", "other"), [("de", GERMAN, ENGLISH), ("en", ENGLISH, GERMAN)]
)
def test_a_rule_reason_and_package_read_in_the_readers_language(
    escalated, client, language, expected, other
):
    chain, ticket = escalated
    client.force_login(chain.leads[1])
    pages = {
        "ticket": client.get(ticket.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language),
        "list": client.get(reverse("escalation:list"), HTTP_ACCEPT_LANGUAGE=language),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        body = page.content.decode()
        # The default rule's name in the reader's language, then why it fired.
        assert f"{expected[3]}: {expected[0]}" in body, name
        assert other[0] not in body, name
    ticket_page = pages["ticket"].content.decode()
    assert expected[1] in ticket_page and other[1] not in ticket_page
    assert expected[2] in ticket_page


def test_the_facts_are_stored_and_old_rows_keep_their_words(escalated):
    _chain, ticket = escalated
    escalation = ticket.escalations.get()
    assert escalation.reason_facts["trigger"] == "sla_breach"
    assert escalation.reason_facts["detail"] == "first_response"
    assert escalation.reason_facts["rule"] == escalation.rule_id
    [note] = escalation.package_facts["notes"]
    assert (note["kind"], note["body"]) == ("note", "Restarted the shop")
    firing = RuleFiring.objects.get(ticket=ticket, rule=escalation.rule)
    assert firing.reason_facts["trigger"] == "sla_breach"
    event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    assert event.payload["reason_facts"] == escalation.reason_facts
    # A row from before the facts: its stored words are what people read.
    Escalation.objects.filter(pk=escalation.pk).update(reason_facts={}, package_facts={})
    old = Escalation.objects.get(pk=escalation.pk)
    assert old.reason_text == old.reason
    assert old.package_text["actions_taken"] == old.actions_taken


def test_notices_word_the_rule_reason_in_the_readers_language(escalated):
    """The bell and the email say why in the reader's language; the payload keeps the site's
    words for webhooks."""
    from django.utils import translation

    from notifications import email
    from notifications.models import Delivery, Notification, Preference

    chain, ticket = escalated
    notice = Notification.objects.get(
        kind=Notification.Kind.ESCALATION_RAISED, user=chain.leads[1], ticket=ticket
    )
    assert notice.payload["reason"].endswith(ENGLISH[0])
    with translation.override("de"):
        assert notice.text.endswith(f"{GERMAN[3]}: {GERMAN[0]}")
        assert ENGLISH[0] not in notice.text
    with translation.override("en"):
        assert notice.text.endswith(f"{ENGLISH[3]}: {ENGLISH[0]}")
    delivery = Delivery.objects.filter(
        kind=Notification.Kind.ESCALATION_RAISED, user=chain.leads[1], ticket=ticket
    ).first()
    assert delivery is not None
    preference, _ = Preference.objects.update_or_create(
        user=chain.leads[1], defaults={"language": "de"}
    )
    _subject, text, _html = email.render(delivery, chain.leads[1], preference)
    assert GERMAN[0] in text and ENGLISH[0] not in text
