"""The mail admin: pages render, credentials are variable names, held mail can be released."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mail.models import InboundMail, Mailbox
from mail.services import mail_receive
from mail.tasks import poll_mailboxes
from tests.mail.conftest import build_mail

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["mailbox", "customerdomain", "inboundmail", "outboundmail", "participant"]
)
def test_changelists_render(client, admin_user, mailbox, model):
    mail_receive(mailbox=mailbox, raw=build_mail(cc="eva@kunde.example"))
    client.force_login(admin_user)
    response = client.get(reverse(f"admin:mail_{model}_changelist"))
    assert response.status_code == 200


def test_inbound_mail_detail_shows_the_outcome_not_the_raw_bytes(client, admin_user, mailbox):
    mail, _ = mail_receive(mailbox=mailbox, raw=build_mail(headers={"X-Autoreply": "yes"}))
    client.force_login(admin_user)
    page = client.get(reverse("admin:mail_inboundmail_change", args=[mail.pk])).content.decode()
    assert "Automatic reply: ignored" in page and "X-Autoreply" in page
    assert "Der Drucker im 2. Stock" not in page


def test_a_password_value_is_refused_where_a_variable_name_belongs(client, admin_user, team_a):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:mail_mailbox_add"),
        {
            "address": "help@desk.example",
            "slug": "help",
            "team": team_a.pk,
            "impact": 3,
            "urgency": 3,
            "is_active": "on",
            "imap_port": 993,
            "imap_security": "ssl",
            "imap_folder": "INBOX",
            "imap_password_env": "hunter2 secret!",
            "unknown_senders": "domain_or_person",
            "reopen_days": 7,
            "sender_limit": 10,
            "mailbox_limit": 500,
            "limit_minutes": 10,
        },
    )
    assert response.status_code == 200
    assert "not its value" in response.content.decode()
    assert not Mailbox.objects.filter(slug="help").exists()


def test_release_action_processes_held_mail(client, admin_user, mailbox):
    mailbox.sender_limit = 1
    mailbox.save()
    mail_receive(mailbox=mailbox, raw=build_mail(body="eins"))
    held, _ = mail_receive(mailbox=mailbox, raw=build_mail(body="zwei"))
    assert held.outcome == InboundMail.Outcome.RATE_LIMITED
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:mail_inboundmail_changelist"),
        {"action": "release", "_selected_action": [held.pk]},
        follow=True,
    )
    assert "1 mail processed." in response.content.decode()
    held.refresh_from_db()
    assert held.outcome == InboundMail.Outcome.CREATED and held.ticket is not None


def test_poll_task_without_imap_mailboxes_does_nothing(mailbox):
    assert poll_mailboxes() == {}


def test_a_customer_delivery_shows_in_the_outbox_admin(client, admin_user, mailbox, agent):
    from notifications.models import Delivery
    from tickets.services import ticket_reply

    mail, _ = mail_receive(mailbox=mailbox, raw=build_mail())
    ticket_reply(ticket=mail.ticket, actor=agent, body="Hallo")
    delivery = Delivery.objects.get(kind="mail.reply")
    client.force_login(admin_user)
    listing = client.get(reverse("admin:notifications_delivery_changelist"))
    assert listing.status_code == 200
    assert "max@kunde.example" in listing.content.decode()
    page = client.get(reverse("admin:notifications_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
