"""The communication templates in the reply box of an escalated ticket: listed in the viewer's
language, embedded as JSON for the script, `?template=<id>` without it, escaped throughout."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from escalation import services as esc
from notifications.models import MessageTemplate
from notifications.selectors import templates_for
from tests.escalation.test_services import Chain, package

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script>"


@pytest.fixture
def chain():
    return Chain()


@pytest.fixture
def escalated(chain):
    # Now, not in the past: a reply runs the escalation rules, and an escalation left
    # unacknowledged for long would climb on out of the viewer's team.
    now = timezone.now()
    ticket = chain.ticket(now=now - dt.timedelta(minutes=10))
    esc.escalation_raise(
        ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=now
    )
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def l2_client(client, chain):
    """An agent of the receiving team (level 2)."""
    client.force_login(chain.agents[1])
    return client


def names(language: str) -> list[str]:
    kinds = MessageTemplate.Kind.values
    rows = MessageTemplate.objects.filter(language=language, is_active=True)
    return [r.name for r in sorted(rows, key=lambda r: kinds.index(r.kind))]


def options(html: str) -> list[str]:
    select = re.search(r'<select id="reply-template".*?</select>', html, re.S)
    assert select, "no template select"
    return [
        o.strip() for o in re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", select[0])
    ]


def bodies(html: str) -> dict[str, str]:
    """What the script inserts: each option's data-body, as the browser decodes it."""
    select = re.search(r'<select id="reply-template".*?</select>', html, re.S)
    assert select, "no template select"
    found = re.findall(r'<option value="(\d+)"[^>]*data-body="([^"]*)"', select[0])
    assert found, "no embedded bodies"
    return {pk: unescape(body) for pk, body in found}


def textarea(html: str) -> str:
    found = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert found
    return found[1]


def test_an_escalated_ticket_offers_the_three_templates_in_english(l2_client, escalated):
    html = l2_client.get(escalated.get_absolute_url()).content.decode()
    assert options(html) == names("en")
    assert len(options(html)) == 3
    choices = templates_for(escalated, "en")
    # Filled in for this ticket, and what the script will insert.
    assert bodies(html) == {str(c.id): c.body for c in choices}
    assert escalated.reference in bodies(html)[str(choices[0].id)]
    assert "Insert a template" in html
    assert textarea(html) == ""


def test_the_viewer_in_german_gets_the_german_ones(l2_client, escalated):
    l2_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    html = l2_client.get(escalated.get_absolute_url()).content.decode()
    assert options(html) == names("de")
    assert names("de") != names("en")
    assert "Bisherige Maßnahmen:" in "".join(bodies(html).values())


def test_template_param_prefills_the_reply(l2_client, escalated):
    status_update = templates_for(escalated, "en")[1]
    html = l2_client.get(
        escalated.get_absolute_url(), {"template": status_update.id}
    ).content.decode()
    assert textarea(html) == escape(status_update.body)
    assert re.search(rf'<option value="{status_update.id}"[^>]*selected', html)


@pytest.mark.parametrize("value", ["999999", "abc", ""])
def test_an_unknown_template_param_leaves_the_reply_empty(l2_client, escalated, value):
    response = l2_client.get(escalated.get_absolute_url(), {"template": value})
    assert response.status_code == 200
    assert textarea(response.content.decode()) == ""


def test_a_template_of_another_language_is_not_prefilled(l2_client, escalated):
    german = MessageTemplate.objects.filter(language="de").first()
    html = l2_client.get(escalated.get_absolute_url(), {"template": german.pk}).content.decode()
    assert textarea(html) == ""


def test_a_major_incident_offers_them_too(client, chain):
    ticket = chain.ticket(impact=1, urgency=1)
    ticket.refresh_from_db()
    assert ticket.is_major_incident
    client.force_login(ticket.team.members.first())
    assert options(client.get(ticket.get_absolute_url()).content.decode()) == names("en")


def test_a_ticket_that_is_not_escalated_has_no_template_select(l2_client, chain):
    ticket = chain.ticket(level=2)
    html = l2_client.get(ticket.get_absolute_url(), {"template": "1"}).content.decode()
    assert 'id="reply-form"' in html
    assert "reply-template" not in html
    assert "Insert a template" not in html
    assert textarea(html) == ""


def test_the_htmx_partial_after_a_reply_keeps_the_select(l2_client, escalated):
    response = l2_client.post(
        reverse("tickets:message", args=[escalated.reference]), {"body": "On it."}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert options(html) == names("en")
    assert textarea(html) == ""


def test_template_text_is_never_rendered_unescaped(l2_client, escalated):
    MessageTemplate.objects.filter(language="en", kind="initial_notice").update(
        name=f"Notice {XSS}", body=f"Hello {XSS} about {{subject}}"
    )
    escalated.subject = f"Subject {XSS}"
    escalated.save(update_fields=["subject"])
    notice = templates_for(escalated, "en")[0]
    assert XSS in notice.body

    html = l2_client.get(escalated.get_absolute_url()).content.decode()
    assert XSS not in html
    assert f"Notice {escape(XSS)}" in options(html)
    assert f'data-body="Hello {escape(XSS)} about Subject {escape(XSS)}' in html
    assert bodies(html)[str(notice.id)] == notice.body  # and the script still gets the text

    html = l2_client.get(escalated.get_absolute_url(), {"template": notice.id}).content.decode()
    assert XSS not in html
    assert textarea(html) == escape(notice.body)
