"""The customer email of an incident update: one per address and update, naming every ticket
of theirs the update was posted on (and those they are copied on), in the recipient's
language and time zone. Written to the outbox by `incidents.updates.customer_emails`; the
outbox sends it with `send_update_email` (registered for `EMAIL_KIND` in the app's `ready`).

It goes out from the mailbox of the customer's first ticket and continues that ticket's
thread (`In-Reply-To`/`References`, and its reference in the subject), so a customer who
answers it adds to that ticket."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import formataddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from incidents.models import IncidentUpdate
from incidents.updates import message_body
from mail.outbound import REFERENCES_KEPT, mailbox_for, resolved_context, thread_ids
from notifications.email import Undeliverable, clean_address, clean_header
from notifications.models import Delivery
from tickets.models import Contact, Ticket


def contact_zone(contact: Contact) -> ZoneInfo:
    """The contact's time zone, the site's when theirs is unknown."""
    try:
        return ZoneInfo(contact.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def render_update_email(
    update: IncidentUpdate,
    tickets: Sequence[Ticket],
    contact: Contact,
    *,
    copied: Sequence[Ticket] = (),
    language: str = "",
    own: bool = True,
) -> tuple[str, str, str]:
    """(subject, text, html) of `update` for a recipient about the `tickets` they requested
    and those they are `copied` on, in `language` (else the contact's) and, when the email
    is to `contact` itself (`own`), the contact's time zone. The closing report carries the
    rating link of each of the contact's own tickets (`mail.outbound.resolved_context`), as
    the resolution notice it stands in for would."""
    languages = {code for code, _name in settings.LANGUAGES}
    language = language or contact.language
    language = language if language in languages else settings.LANGUAGE_CODE
    zone = contact_zone(contact) if own else ZoneInfo(settings.TIME_ZONE)
    incident = update.incident
    ratings = []
    if update.kind == IncidentUpdate.Kind.CLOSING_REPORT and own:
        for ticket in tickets:
            url = resolved_context(ticket, contact).get("rating_url")
            if url:
                ratings.append((ticket.reference, url))
    with translation.override(language), timezone.override(zone):
        context: dict[str, Any] = {
            "incident": incident,
            "update": update,
            "tickets": tickets,
            "copied": copied,
            "first": (list(tickets) or list(copied))[0],
            "references": ", ".join(t.reference for t in tickets),
            "copied_references": ", ".join(t.reference for t in copied),
            "ratings": ratings,
            "body": message_body(incident, update, language),
            "contact": contact,
        }
        base = "incidents/email/update"
        subject = render_to_string(f"{base}.subject.txt", context)
        text = render_to_string(f"{base}.txt", context)
        html = render_to_string(f"{base}.html", context)
    return clean_header(subject), text.strip() + "\n", html


def message_id(delivery: Delivery, update: IncidentUpdate, sender: str) -> str:
    """The email's Message-ID: the same on every try of the delivery."""
    domain = "".join(c for c in sender.rsplit("@", 1)[-1] if c.isalnum() or c in ".-")
    reference = update.incident.reference.lower()
    return f"<{reference}.update-{update.pk}.{delivery.pk}@{domain or 'localhost'}>"


def send_update_email(delivery: Delivery) -> None:
    """Send an update's customer email (the outbox calls this for `EMAIL_KIND`). Raises
    Undeliverable when there is nobody or nothing to send, else the mail backend's error.

    The row's contact is the recipient, or for an address copied on tickets without a
    contact of its own (`payload["to"]`) the requester whose tickets copy it: when that
    requester left, the copy is not sent either, as with a reply's CCs."""
    contact = delivery.contact
    if contact is None or not contact.is_active:
        raise Undeliverable("the contact is inactive or gone")
    payload = delivery.payload or {}
    own = "to" not in payload
    to = clean_address(contact.email if own else payload["to"])
    if not to:
        raise Undeliverable("the contact has no valid email address")
    update = (
        IncidentUpdate.objects.select_related("incident").filter(pk=payload.get("update")).first()
    )
    wanted = [*(payload.get("tickets") or []), *(payload.get("copied") or [])]
    found = {t.pk: t for t in Ticket.objects.filter(pk__in=wanted)}
    tickets = [found[pk] for pk in payload.get("tickets") or [] if pk in found]
    copied = [found[pk] for pk in payload.get("copied") or [] if pk in found]
    if update is None or not (tickets or copied):
        raise Undeliverable("the update or its tickets are gone")
    subject, text, html = render_update_email(
        update, tickets, contact, copied=copied, language=payload.get("language", ""), own=own
    )
    first = (tickets or copied)[0]
    mailbox = mailbox_for(first)
    sender = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    headers = {
        "Message-ID": message_id(delivery, update, sender),
        "X-Auto-Response-Suppress": "All",
    }
    thread = thread_ids(first)
    if thread:
        headers["In-Reply-To"] = thread[-1]
        headers["References"] = " ".join(thread[:1] + thread[1:][-(REFERENCES_KEPT - 1) :])
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=[formataddr((clean_header(contact.name, 80), to)) if own else to],
        reply_to=[sender],
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    email.send()
