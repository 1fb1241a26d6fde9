"""The communication templates offered in the reply box of an escalated ticket."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation import services as esc
from notifications.models import MessageTemplate
from notifications.selectors import is_escalated, templates_for
from tests.escalation.test_services import MON_9, Chain, package

T1 = MON_9 + dt.timedelta(minutes=5)
pytestmark = pytest.mark.django_db


@pytest.fixture
def escalated(db):
    chain = Chain()
    ticket = chain.ticket()
    esc.escalation_raise(
        ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
    )
    ticket.refresh_from_db()
    return ticket


def test_seeded_in_english_and_german():
    pairs = set(MessageTemplate.objects.values_list("kind", "language"))
    assert pairs == {(kind, lang) for kind in MessageTemplate.Kind.values for lang in ("en", "de")}


def test_a_ticket_that_is_not_escalated_gets_none(db):
    ticket = Chain().ticket()
    assert not is_escalated(ticket)
    assert templates_for(ticket, "en") == []


def test_an_escalated_ticket_gets_the_three_in_its_language_filled_in(escalated):
    assert is_escalated(escalated)
    choices = templates_for(escalated, "de", now=T1)
    assert [c.kind for c in choices] == ["initial_notice", "status_update", "closing_report"]
    assert {c.language for c in choices} == {"de"}
    notice = choices[0].body
    assert f"Eskalation von {escalated.reference}: Checkout fails" in notice
    # The level in its German name, as the German template reads.
    assert f"das Ticket {escalated.reference} an L2 (2nd-Level-Support" in notice
    assert "{" not in notice
    assert "Bisherige Maßnahmen:" in choices[1].body
    assert "Lessons Learned:" in choices[2].body


def test_a_missing_translation_falls_back_to_the_site_language(escalated):
    MessageTemplate.objects.filter(kind="closing_report", language="de").update(is_active=False)
    choices = templates_for(escalated, "de")
    assert [(c.kind, c.language) for c in choices][-1] == ("closing_report", "en")


def test_placeholders_are_plain_substitution():
    template = MessageTemplate(body="{reference} {unknown} {reference.__class__} {{x}}")
    assert template.render({"reference": "HD-1"}) == "HD-1 {unknown} {reference.__class__} {{x}}"
