"""The inbound endpoint (token, size limit, duplicates) and the original mail for agents."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mail.models import InboundMail
from mail.services import mail_receive
from tests.mail.conftest import build_mail
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("TEST_MAIL_TOKEN", TOKEN)
    return TOKEN


def post(client, raw, token=TOKEN, slug="support"):
    return client.post(
        reverse("mail:inbound", args=[slug]),
        data=raw,
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_inbound_endpoint_opens_a_ticket_and_answers_duplicates(client, mailbox, token):
    raw = build_mail(message_id="<post1@kunde.example>")
    response = post(client, raw)
    assert response.status_code == 201
    ticket = Ticket.objects.get()
    body = response.json()
    assert body == {
        "id": InboundMail.objects.get().pk,
        "message_id": "<post1@kunde.example>",
        "outcome": "created",
        "ticket": ticket.reference,
        "duplicate": False,
    }
    again = post(client, raw)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("slug", "given"), [("support", "wrong"), ("nope", TOKEN), ("support", "")]
)
def test_inbound_endpoint_needs_the_mailboxs_token(client, mailbox, token, slug, given):
    response = post(client, build_mail(), token=given, slug=slug)
    assert response.status_code == 401
    assert not InboundMail.objects.exists()


def test_inbound_endpoint_is_closed_without_a_token_variable(client, mailbox, monkeypatch):
    monkeypatch.delenv("TEST_MAIL_TOKEN", raising=False)
    assert post(client, build_mail(), token="").status_code == 401


def test_inbound_endpoint_refuses_large_and_empty_bodies(client, mailbox, token, settings):
    settings.MAIL_MAX_BYTES = 500
    assert post(client, build_mail(body="x" * 600)).status_code == 413
    assert post(client, b"").status_code == 400
    assert client.get(reverse("mail:inbound", args=["support"])).status_code == 405
    assert not InboundMail.objects.exists()


def test_original_mail_is_shown_to_agents_who_may_read_the_ticket(
    client, mailbox, agent, other_agent, team_b
):
    first, _ = mail_receive(mailbox=mailbox, raw=build_mail(message_id="<o1@kunde.example>"))
    reply, _ = mail_receive(
        mailbox=mailbox,
        raw=build_mail(
            in_reply_to="<o1@kunde.example>",
            body="Neu hier.\n\nAm 07.12.2026 schrieb Max:\n> <b>alt</b>\n",
        ),
    )
    ticket = first.ticket
    client.force_login(agent)
    page = client.get(ticket.get_absolute_url())
    assert reverse("mail:ticket_original", args=[ticket.reference]) in page.content.decode()
    message_url = reverse("mail:message_original", args=[reply.ticket_message.pk])
    assert message_url in page.content.decode()
    response = client.get(message_url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Neu hier." in text and "Am 07.12.2026 schrieb Max:" in text  # the whole original
    assert "&lt;b&gt;alt&lt;/b&gt;" in text  # shown as text, never as HTML
    assert client.get(reverse("mail:ticket_original", args=[ticket.reference])).status_code == 200

    client.force_login(other_agent)
    assert client.get(message_url).status_code == 404
    client.logout()
    assert client.get(message_url).status_code == 302
