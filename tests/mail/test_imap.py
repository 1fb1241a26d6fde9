"""Polling a real Dovecot IMAP server (started by the fixture on a free 127.0.0.1 port):
mail put in with IMAP APPEND goes through the whole inbound path."""

from __future__ import annotations

import pytest
from imap_tools import AND, MailBoxUnencrypted
from imap_tools import MailMessageFlags as Flags

from mail.imap import poll, poll_all
from mail.models import InboundMail, Mailbox
from tests.mail.conftest import build_mail
from tests.mail.dovecot import Dovecot, start
from tickets.models import Ticket

pytestmark = [pytest.mark.imap, pytest.mark.django_db]
Outcome = InboundMail.Outcome


@pytest.fixture(scope="module")
def dovecot():
    server = start()
    yield server
    server.stop()


@pytest.fixture
def imap(dovecot: Dovecot, mailbox: Mailbox, monkeypatch):
    """The test mailbox polls Dovecot's INBOX, emptied first; yields a client to APPEND with."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
    mailbox.imap_host = dovecot.host
    mailbox.imap_port = dovecot.port
    mailbox.imap_security = Mailbox.Security.NONE
    mailbox.imap_username = dovecot.user
    mailbox.imap_password_env = "TEST_IMAP_PASSWORD"
    mailbox.save()
    client = MailBoxUnencrypted(dovecot.host, dovecot.port).login(dovecot.user, dovecot.password)
    uids = client.uids()
    if uids:
        client.delete(uids)
    yield client
    client.logout()


def test_a_new_mail_opens_a_ticket_and_is_marked_seen(imap, mailbox):
    imap.append(build_mail(message_id="<imap1@kunde.example>"), "INBOX")
    results = poll_all()
    report = results[mailbox.address]
    assert (report.fetched, report.new, report.outcomes) == (1, 1, {Outcome.CREATED: 1})
    mail = InboundMail.objects.get(message_id="<imap1@kunde.example>")
    assert mail.ticket.subject == "Drucker druckt nicht"
    assert mail.ticket.requester.email == "max@kunde.example"
    imap.folder.set("INBOX")  # see the flags the poll's own session set
    assert list(imap.fetch(AND(seen=False), mark_seen=False)) == []
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is not None and mailbox.last_poll_error == ""


def test_a_reply_with_german_quoted_history_threads_with_the_quote_stripped(imap, mailbox):
    imap.append(build_mail(message_id="<imap-first@kunde.example>"), "INBOX")
    poll(mailbox)
    ticket = Ticket.objects.get()
    reply = build_mail(
        subject=f"AW: [{ticket.reference}] Drucker druckt nicht",
        message_id="<imap-reply@kunde.example>",
        in_reply_to="<imap-first@kunde.example>",
        body=(
            "Nach dem Neustart druckt er wieder.\n\n"
            "-----Ursprüngliche Nachricht-----\n"
            "Von: Max Kunde <max@kunde.example>\n"
            "Gesendet: Montag, 7. Dezember 2026 09:12\n"
            "Betreff: Drucker druckt nicht\n\n"
            "Der Drucker im 2. Stock druckt nicht mehr.\n"
        ),
    )
    imap.append(reply, "INBOX")
    report = poll(mailbox)
    assert report.outcomes == {Outcome.THREADED: 1}
    (message,) = ticket.messages.all()
    assert message.body == "Nach dem Neustart druckt er wieder."
    assert Ticket.objects.count() == 1


def test_an_out_of_office_reply_and_a_bounce_do_nothing(imap, mailbox):
    imap.append(
        build_mail(
            subject="Abwesenheitsnotiz: Drucker",
            body="Ich bin bis 14.12. nicht im Büro.",
            headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
        ),
        "INBOX",
    )
    bounce = (
        b"From: MAILER-DAEMON@mx.kunde.example\r\nTo: support@desk.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn@mx.kunde.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        b"\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--B--\r\n"
    )
    imap.append(bounce, "INBOX")
    report = poll(mailbox)
    assert report.outcomes == {Outcome.AUTO_REPLY: 1, Outcome.BOUNCE: 1}
    assert Ticket.objects.count() == 0
    assert InboundMail.objects.count() == 2


def test_the_same_message_fetched_twice_is_processed_once(imap, mailbox):
    raw = build_mail(message_id="<twice@kunde.example>")
    imap.append(raw, "INBOX")
    imap.append(raw, "INBOX")  # delivered twice (two copies in the folder)
    report = poll(mailbox)
    assert (report.fetched, report.new) == (2, 1)
    # Fetched again after someone marked everything unread: nothing new happens.
    imap.flag(imap.uids(), Flags.SEEN, False)
    report = poll(mailbox)
    assert (report.fetched, report.new) == (2, 0)
    assert Ticket.objects.count() == 1 and InboundMail.objects.count() == 1


def test_a_burst_of_100_mails_is_processed_in_a_bounded_loop(imap, mailbox):
    for i in range(100):
        imap.append(
            build_mail(
                sender=f"kunde{i}@kunde.example",
                subject=f"Störung {i}",
                message_id=f"<burst{i}@kunde.example>",
            ),
            "INBOX",
        )
    polls = []
    for _ in range(5):  # batches of 40: three polls take everything, the fourth finds nothing
        report = poll(mailbox, batch=40)
        polls.append(report.fetched)
        if report.fetched == 0:
            break
    assert polls == [40, 40, 20, 0]
    assert Ticket.objects.count() == 100
    assert set(InboundMail.objects.values_list("outcome", flat=True)) == {Outcome.CREATED}


def test_a_failing_mailbox_is_recorded_and_does_not_stop_the_others(imap, mailbox, team_a):
    broken = Mailbox.objects.create(
        slug="broken",
        address="broken@desk.example",
        team=team_a,
        imap_host=mailbox.imap_host,
        imap_port=mailbox.imap_port,
        imap_security=Mailbox.Security.NONE,
        imap_username="desk",
        imap_password_env="TEST_IMAP_WRONG_PASSWORD_UNSET",
    )
    imap.append(build_mail(), "INBOX")
    results = poll_all()
    assert isinstance(results[broken.address], str)
    assert results[mailbox.address].new == 1
    broken.refresh_from_db()
    assert "Login" in broken.last_poll_error or "AUTHENTICATIONFAILED" in broken.last_poll_error


def test_the_beat_task_polls_the_mailboxes(imap, mailbox):
    from mail.tasks import poll_mailboxes

    imap.append(build_mail(message_id="<task@kunde.example>"), "INBOX")
    assert poll_mailboxes() == {mailbox.address: {"fetched": 1, "new": 1}}
    assert InboundMail.objects.get().outcome == Outcome.CREATED
