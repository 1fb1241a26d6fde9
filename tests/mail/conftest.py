"""Fixtures for the mail tests: a mailbox on team_a, and raw messages built with the standard
library's email package (so the parser is tested against what real clients produce)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from mail.models import Mailbox
from mail.services import mail_receive


def build_mail(
    *,
    sender: str = "Max Kunde <max@kunde.example>",
    to: str = "support@desk.example",
    subject: str = "Drucker druckt nicht",
    body: str = "Der Drucker im 2. Stock druckt nicht mehr.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    cc: str | None = None,
) -> bytes:
    """The bytes of one email as a mail client would send it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = message_id or make_msgid(domain="kunde.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    for name, value in (headers or {}).items():  # after the body: set_content resets Content-*
        msg[name] = value
    return msg.as_bytes()


@pytest.fixture
def mailbox(team_a) -> Mailbox:
    return Mailbox.objects.create(
        slug="support",
        address="support@desk.example",
        team=team_a,
        inbound_token_env="TEST_MAIL_TOKEN",
    )


@pytest.fixture
def mail_ticket(mailbox):
    """A ticket opened by a mail from max@kunde.example with eva@kunde.example in CC."""
    inbound, _ = mail_receive(
        mailbox=mailbox,
        raw=build_mail(message_id="<first@kunde.example>", cc="eva@kunde.example"),
    )
    return inbound.ticket
