"""Email: templated per kind, in the recipient's language and time zone, with clean headers."""

from __future__ import annotations

import datetime as dt
import smtplib
from email.utils import getaddresses

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from escalation import services as esc
from notifications import email, outbox
from notifications.models import Delivery, Notification, Preference
from tests.escalation.test_services import MON_9, Chain, package
from tests.factories import UserFactory
from tickets import services

S = Delivery.Status
K = Notification.Kind
T1 = MON_9 + dt.timedelta(minutes=5)
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def assign(chain: Chain, assignee, **ticket_kw):
    ticket = chain.ticket(**ticket_kw)
    services.ticket_assign(ticket=ticket, actor=chain.leads[0], assignee=assignee, now=T1)
    return ticket


def sent_to(user) -> list[mail.EmailMessage]:
    for delivery in Delivery.objects.filter(user=user, status=S.PENDING):
        outbox.deliver(delivery.pk)
    return [m for m in mail.outbox if any(user.email in to for to in m.to)]


class TestHeaders:
    def test_line_breaks_in_a_subject_or_a_name_never_become_headers(self, chain):
        agent = chain.agents[0]
        agent.first_name = "Eve\r\nBcc: spy@evil.example"
        agent.save()
        ticket = chain.ticket()
        ticket.subject = "Printer\r\nBcc: spy@evil.example\nX-Injected: 1"
        ticket.save()
        services.ticket_assign(ticket=ticket, actor=chain.leads[0], assignee=agent, now=T1)

        (message,) = sent_to(agent)
        raw = message.message().as_bytes()
        parsed = message.message()
        assert parsed["Bcc"] is None and parsed["X-Injected"] is None
        assert message.bcc == []
        # One recipient: the name is quoted inside the To header, not a header of its own.
        assert [addr for _name, addr in getaddresses(parsed.get_all("To"))] == [agent.email]
        assert len(message.recipients()) == 1
        assert "\r" not in message.subject and "\n" not in message.subject
        assert message.subject == (
            f"[{ticket.reference}] Assigned to you: Printer Bcc: spy@evil.example X-Injected: 1"
        )
        # Every header line of the raw message is one of ours or a continuation line.
        headers = raw.split(b"\n\n", 1)[0].decode()
        names = {line.split(":", 1)[0] for line in headers.splitlines() if not line[:1].isspace()}
        assert names <= {
            "Content-Type",
            "MIME-Version",
            "Subject",
            "From",
            "To",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Auto-Response-Suppress",
            "References",
        }

    @pytest.mark.parametrize(
        "value",
        ["a\r\nBcc: x@y", "a\nb", "a\rb", "a\x00b", "a\u2028b", "a\u2029b", "a\x85b", "a\tb"],
    )
    def test_clean_header_leaves_no_line_break_or_control_character(self, value):
        cleaned = email.clean_header(value)
        assert cleaned.startswith("a ") and all(c.isprintable() for c in cleaned)

    def test_an_address_with_a_line_break_is_not_used(self):
        assert email.clean_address("a@example.com\r\nBcc: b@example.com") == ""
        assert email.clean_address("a@example.com") == "a@example.com"

    def test_message_id_is_stable_and_messages_thread_per_ticket(self, chain):
        ticket = assign(chain, chain.agents[0])
        (message,) = sent_to(chain.agents[0])
        delivery = Delivery.objects.get(user=chain.agents[0])
        assert message.extra_headers["Message-ID"] == f"<delivery-{delivery.pk}@localhost>"
        assert message.extra_headers["References"] == f"<ticket-{ticket.reference}@localhost>"


class TestLanguage:
    def test_each_recipient_reads_their_own_language_and_time_zone(self, chain):
        german = chain.agents[0]
        Preference.objects.create(user=german, language="de", timezone="Europe/Berlin")
        english = chain.leads[0]
        Preference.objects.create(user=english, language="en", timezone="America/New_York")
        ticket = chain.ticket()
        services.ticket_assign(ticket=ticket, actor=english, assignee=german, now=T1)
        (de,) = sent_to(german)
        assert de.subject == f"[{ticket.reference}] Ihnen zugewiesen: Checkout fails"
        assert f"hat Ihnen Ticket {ticket.reference} zugewiesen." in de.body
        assert "Priorität" in de.alternatives[0][0]

        escalation = esc.escalation_raise(
            ticket=ticket, actor=german, kind="hierarchical", package=package(), now=T1
        )
        assert escalation.ack_due_at is not None
        lead2 = chain.leads[1]
        Preference.objects.create(user=lead2, language="en", timezone="America/New_York")
        (en,) = sent_to(lead2)
        assert en.subject == f"[{ticket.reference}] Escalated to L2: Checkout fails"
        # 09:35 in Berlin is 03:35 in New York.
        assert "Please acknowledge it by Mon, 03/02/2026 3:35 a.m. EST." in en.body

    def test_without_a_preference_the_site_language_is_used(self, chain, settings):
        ticket = assign(chain, chain.agents[0])
        (message,) = sent_to(chain.agents[0])
        assert message.subject.startswith(f"[{ticket.reference}] Assigned to you")


class TestContent:
    def test_the_escalation_email_carries_the_information_package(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(
                affected="All shop customers since 08:40",
                impact="No orders",
                next_steps="Roll back",
                risks="Revenue",
            ),
            reason="Payment provider down",
            now=T1,
        )
        (message,) = sent_to(chain.agents[1])
        for text in (
            "Checkout down",
            "Restarted",
            "All shop customers since 08:40",
            "No orders",
            "Roll back",
            "Revenue",
            "Payment provider down",
            "Information package",
        ):
            assert text in message.body
            assert text in message.alternatives[0][0]

    @pytest.mark.parametrize("language", ["en", "de"])
    @pytest.mark.parametrize("kind", [*K.values, email.DIGEST])
    def test_every_kind_renders_in_both_languages(self, chain, kind, language):
        user = chain.agents[0]
        ticket = chain.ticket()
        item = Delivery.objects.create(
            channel="email",
            kind=K.SLA_WARNING,
            user=user,
            ticket=ticket,
            payload={"reference": ticket.reference, "target": "first response"},
            dedupe_key="item",
        )
        delivery = Delivery.objects.create(
            channel="email",
            kind=kind,
            user=user,
            ticket=None if kind == email.DIGEST else ticket,
            payload={
                "reference": ticket.reference,
                "to_team": "L2",
                "reason": "why",
                "target": "next_update",
                "due_at": "2026-03-02T10:00:00+00:00",
                "by": "Ann",
                "rule": "Rule 1",
            },
            dedupe_key=kind,
        )
        if kind == email.DIGEST:
            Delivery.objects.filter(pk=item.pk).update(digest=delivery, status=S.DIGESTED)
        subject, text, html = email.render(delivery, user, Preference(user=user, language=language))
        assert subject and "\n" not in subject
        assert "{%" not in text + html and "{{" not in text + html
        assert ticket.reference in text + subject
        assert "&amp;" not in text and "&#x27;" not in text  # plain text is not HTML-escaped


class TestSending:
    def test_no_address_or_an_inactive_recipient_cancels(self, chain):
        agent = chain.agents[0]
        assign(chain, agent)
        delivery = Delivery.objects.get(user=agent)
        agent.is_active = False
        agent.save()
        assert outbox.deliver(delivery.pk).status == S.CANCELLED
        assert mail.outbox == []

    def test_a_users_without_address_gets_no_email_row(self, chain):
        agent = UserFactory(username="mailless", email="")
        chain.teams[0].members.add(agent)
        assign(chain, agent)
        assert not Delivery.objects.filter(user=agent).exists()
        assert Notification.objects.filter(user=agent, kind=K.TICKET_ASSIGNED).exists()

    def test_an_smtp_failure_is_retried(self, chain, monkeypatch):
        agent = chain.agents[0]
        assign(chain, agent)

        def fail(self, fail_silently=False):
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

        monkeypatch.setattr(EmailMultiAlternatives, "send", fail)
        delivery = Delivery.objects.get(user=agent)
        outcome = outbox.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert outcome.status == S.PENDING and outcome.retry_at is not None
        assert "SMTPServerDisconnected" in delivery.last_error
