"""Outbound email to customers: a public reply and the resolution notice go to the ticket's
requester (participants in CC), in the contact's language and time zone, through the outbox.

Each mail has a stable Message-ID (kept in `OutboundMail`, so retries send the same message
and replies find the ticket), `In-Reply-To`/`References` continuing the customer's thread,
the ticket reference in the subject and `Reply-To` the mailbox. The resolution notice is
automatic and says so (`Auto-Submitted: auto-generated`, RFC 3834), so other desks' robots
do not answer it; every mail asks Exchange not to send out-of-office replies to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from email.utils import formataddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mail.ccs import cc_addresses, emailed_requester
from mail.models import InboundMail, Mailbox, OutboundMail
from notifications.email import Undeliverable, clean_address, clean_header
from notifications.models import Delivery
from notifications.outbox import send_after_commit
from tickets.models import Contact, Message, Ticket, TicketEvent
from tickets.services import CUSTOMER_TOLD

DELIVERY_KINDS = ("mail.reply", "mail.resolved")
REFERENCES_KEPT = 20

# Extra context for the resolution notice, added by other apps (the customer portal adds
# its satisfaction-rating link here: `register_resolved_context(fn)`, `fn(ticket, contact)`
# returns a dict the templates `mail/email/resolved.*` read in their `rating` block).
ResolvedContext = Callable[[Ticket, Contact], dict[str, Any]]
_resolved_context: list[ResolvedContext] = []


def register_resolved_context(provider: ResolvedContext) -> None:
    """Add `provider`'s values to the context of every resolution notice. Idempotent."""
    if provider not in _resolved_context:
        _resolved_context.append(provider)


def resolved_context(ticket: Ticket, contact: Contact) -> dict[str, Any]:
    """What the registered providers add to a resolution notice of `ticket` for `contact`
    (the portal's `rating_url`); also for other emails that tell of a resolution."""
    context: dict[str, Any] = {}
    for provider in _resolved_context:
        context.update(provider(ticket, contact))
    return context


def mailbox_for(ticket: Ticket) -> Mailbox | None:
    """The mailbox a ticket's mail goes out from: the one its customer last wrote to, else
    an active mailbox of the ticket's team, else any active mailbox."""
    last = (
        InboundMail.objects.filter(ticket=ticket, mailbox__is_active=True)
        .defer("raw")
        .order_by("-received_at", "-pk")
        .select_related("mailbox")
        .first()
    )
    if last is not None:
        return last.mailbox
    active = Mailbox.objects.filter(is_active=True).order_by("pk")
    return active.filter(team_id=ticket.team_id).first() or active.first()


def _domain(mailbox: Mailbox | None) -> str:
    address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL.strip(" <>")
    domain = address.rsplit("@", 1)[-1]
    return "".join(c for c in domain if c.isalnum() or c in ".-") or "localhost"


def thread_ids(ticket: Ticket) -> list[str]:
    """The Message-IDs of the ticket's mail so far, oldest first (received and sent)."""
    received = InboundMail.objects.filter(ticket=ticket).values_list("received_at", "message_id")
    sent = OutboundMail.objects.filter(ticket=ticket).values_list("created_at", "message_id")
    return [mid for _at, mid in sorted([*received, *sent])]


def queue_mail(
    *, ticket: Ticket, kind: str, now: datetime, message: Message | None, event: TicketEvent
) -> OutboundMail | None:
    """Write the mail and its outbox row (in the caller's transaction); None when the
    ticket has no requester to write to.

    A public reply goes to the requester with the CCs in `Cc`. The resolution notice carries
    the requester's own rating link, so the CCs get a copy of their own without it: a second
    `OutboundMail` (its own Message-ID, which a CC's answer threads by) and a second delivery
    (`payload["copy"]`), so each is sent exactly once and retried on its own."""
    contact = emailed_requester(ticket)
    if contact is None:
        return None
    mailbox = mailbox_for(ticket)
    thread = thread_ids(ticket)
    references = thread[:1] + thread[1:][-(REFERENCES_KEPT - 1) :]
    participants = cc_addresses(ticket, requester=contact)
    resolved = kind == OutboundMail.Kind.RESOLVED
    mails = [[contact.email, *([] if resolved else participants)]]
    if resolved and participants:
        mails.append(participants)
    first = None
    for recipients in mails:
        outbound = OutboundMail.objects.create(
            ticket=ticket,
            ticket_message=message,
            kind=kind,
            message_id=f"<{ticket.reference.lower()}.{kind}.{secrets.token_hex(6)}@{_domain(mailbox)}>",
            mailbox=mailbox,
            recipients=recipients,
            in_reply_to=thread[-1] if thread else "",
            references=references,
            created_at=now,
        )
        copy = {"copy": True} if first is not None else {}
        delivery = Delivery.objects.create(
            channel=Delivery.Channel.EMAIL,
            kind=f"mail.{kind}",
            contact=contact,
            ticket=ticket,
            ticket_event=event,
            dedupe_key=f"mail:{outbound.pk}",
            payload={"outbound": outbound.pk, "to": outbound.recipients, **copy},
            next_attempt_at=now,
            created_at=now,
        )
        send_after_commit([delivery])
        first = first or outbound
    return first


def on_ticket_event(event: TicketEvent) -> None:
    """Event listener: a public reply, and a ticket becoming resolved, are emailed (not when
    the entry says the customer was told otherwise: `CUSTOMER_TOLD`)."""
    if (event.payload or {}).get(CUSTOMER_TOLD):
        return
    if event.kind == TicketEvent.Kind.REPLIED and event.message is not None:
        queue_mail(
            ticket=event.ticket,
            kind=OutboundMail.Kind.REPLY,
            now=event.created_at,
            message=event.message,
            event=event,
        )
    elif event.kind == TicketEvent.Kind.TRANSITIONED and (event.payload or {}).get("to") == (
        Ticket.Status.RESOLVED
    ):
        queue_mail(
            ticket=event.ticket,
            kind=OutboundMail.Kind.RESOLVED,
            now=event.created_at,
            message=None,
            event=event,
        )


# The timeline entries the listener acts on: the sweep's set-based lane, which writes other
# kinds only, may run beside it (escalation.bulk.available).
on_ticket_event.event_kinds = frozenset(  # type: ignore[attr-defined]
    {TicketEvent.Kind.REPLIED, TicketEvent.Kind.TRANSITIONED}
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _author(message: Message | None) -> str:
    author = message.author if message is not None else None
    return (author.get_full_name() or author.get_username()) if author is not None else ""


def render(outbound: OutboundMail, contact: Contact, *, copy: bool = False) -> tuple[str, str, str]:
    """(subject, text, html) of `outbound` in the contact's language and time zone; a CC's
    `copy` of the resolution notice greets nobody by name and has no rating link."""
    ticket = outbound.ticket
    languages = {code for code, _name in settings.LANGUAGES}
    language = contact.language if contact.language in languages else settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(_zone(contact.time_zone)):
        context: dict[str, Any] = {
            "ticket": ticket,
            "contact": contact,
            "message": outbound.ticket_message,
            "mailbox": outbound.mailbox,
            "author": _author(outbound.ticket_message),
            "reopen_days": outbound.mailbox.reopen_days if outbound.mailbox else None,
            "copy": copy,
        }
        if outbound.kind == OutboundMail.Kind.RESOLVED and not copy:
            context.update(resolved_context(ticket, contact))
        base = f"mail/email/{outbound.kind}"
        subject = render_to_string(f"{base}.subject.txt", context)
        text = render_to_string(f"{base}.txt", context)
        html = render_to_string(f"{base}.html", context)
    return clean_header(subject), text.strip() + "\n", html


def send_delivery(delivery: Delivery) -> None:
    """Send a customer mail (the outbox calls this for `DELIVERY_KINDS`). Raises
    Undeliverable when there is nobody to send to, else the mail backend's error.

    The row's contact is the requester; a resolution notice's copy for the CCs
    (`payload["copy"]`) goes to the CCs alone, and not when the requester left (as a
    reply's CCs)."""
    outbound = (
        OutboundMail.objects.select_related("ticket", "mailbox", "ticket_message__author")
        .filter(pk=(delivery.payload or {}).get("outbound"))
        .first()
    )
    contact = delivery.contact
    if outbound is None or contact is None or not contact.is_active:
        raise Undeliverable("the contact is inactive or gone")
    to = clean_address(contact.email)
    if not to:
        raise Undeliverable("the contact has no valid email address")
    copy = bool((delivery.payload or {}).get("copy"))
    others = outbound.recipients if copy else outbound.recipients[1:]
    cc = list(dict.fromkeys(a for a in (clean_address(e) for e in others) if a and a != to))
    if copy and not cc:
        raise Undeliverable("the copy has no valid CC address")
    subject, text, html = render(outbound, contact, copy=copy)
    sender = outbound.mailbox.address if outbound.mailbox else settings.DEFAULT_FROM_EMAIL
    headers = {
        "Message-ID": outbound.message_id,
        "X-Auto-Response-Suppress": "All",
    }
    if outbound.in_reply_to:
        headers["In-Reply-To"] = outbound.in_reply_to
    if outbound.references:
        headers["References"] = " ".join(outbound.references)
    if outbound.kind == OutboundMail.Kind.RESOLVED:
        headers["Auto-Submitted"] = "auto-generated"
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=cc if copy else [formataddr((clean_header(contact.name, 80), to))],
        cc=[] if copy else cc,
        reply_to=[sender],
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    if outbound.ticket_message is not None:
        for attachment in outbound.ticket_message.attachments.all():
            with attachment.file.open("rb") as handle:
                email.attach(
                    attachment.original_name,
                    handle.read(),
                    attachment.content_type or "application/octet-stream",
                )
    email.send()
