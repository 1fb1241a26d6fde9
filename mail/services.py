"""Inbound email: every message is stored raw first, then processed once.

    raw bytes ──store (unique Message-ID)──▶ InboundMail(pending) ──process──▶ outcome
        automatic mail (auto-reply, bounce, list)      → ignored, never answered
        too many from one sender / to one mailbox      → held (a loop stops here)
        a reply (In-Reply-To/References, then [HD-…])  → a customer message on its ticket,
                                                         or a follow-up ticket when it is done
        anything else from an accepted sender          → a new ticket

Customer messages go through `tickets.services.ticket_add_customer_message` and new tickets
through `ticket_create`, so the SLA clock, the soft signals and the escalation engine see
mail exactly as they see the other channels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from helpdesk import configcache
from mail.contacts import contact_for_address
from mail.models import InboundMail, Mailbox, OutboundMail, Participant
from mail.parsing import AUTO_REPLY, BOUNCE, LIST, ParsedMail, parse, subject_references
from tickets.models import Contact, ContactAddress, Message, Ticket, TicketEvent
from tickets.services import (
    NewTicket,
    StaleRequest,
    TicketError,
    record_event,
    ticket_add_customer_message,
    ticket_create,
)

Outcome = InboundMail.Outcome
_AUTOMATIC_OUTCOMES = {AUTO_REPLY: Outcome.AUTO_REPLY, BOUNCE: Outcome.BOUNCE, LIST: Outcome.LIST}
MAX_PARTICIPANTS = 20
INTENT_PREFIX = "mail:"


def mail_intent(message_id: str) -> str:
    """The idempotency token of the customer message made from a mail (fits Message.intent);
    its prefix tells the ticket page that the original can be shown."""
    return INTENT_PREFIX + hashlib.sha256(message_id.encode()).hexdigest()[:59]


@dataclass
class Result:
    outcome: str
    ticket: Ticket | None = None
    message: Message | None = None
    contact: Contact | None = None
    detail: dict = field(default_factory=dict)


# --- Storing -----------------------------------------------------------------------------------


def _row(*, mailbox: Mailbox, raw: bytes, parsed: ParsedMail, now: datetime) -> InboundMail:
    return InboundMail(
        mailbox=mailbox,
        message_id=parsed.message_id,
        sender=parsed.sender[:254],
        subject=parsed.subject[:255],
        raw=raw,
        size=len(raw),
        received_at=now,
    )


def mail_store(
    *, mailbox: Mailbox, raw: bytes, parsed: ParsedMail, now: datetime
) -> tuple[InboundMail, bool]:
    """Store the raw message, pending; (the row, True) or, when its Message-ID is known
    already, (the earlier row, False). Safe against concurrent stores of the same message."""
    row = _row(mailbox=mailbox, raw=raw, parsed=parsed, now=now)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return InboundMail.objects.defer("raw").get(message_id=parsed.message_id), False
    return row, True


def mail_receive(
    *, mailbox: Mailbox, raw: bytes, now: datetime | None = None
) -> tuple[InboundMail, bool]:
    """Process one raw message and store it with its outcome (the IMAP poll and the inbound
    endpoint call this). Returns the stored row and whether it was new (False: a duplicate,
    not processed again).

    One transaction: the message is processed, then its row is written with the outcome.
    The unique Message-ID decides who processed it: a second arrival of the same message (a
    poll and a post, two workers) fails on that insert and rolls back with everything it did,
    so only one set of effects is ever committed, and a message costs no lock and no second
    write. When processing fails, the raw message is still stored (pending, for the admin and
    a re-run) before the error goes on."""
    now = now or timezone.now()
    parsed = parse(raw)
    row = _row(mailbox=mailbox, raw=raw, parsed=parsed, now=now)
    storing = False
    try:
        with transaction.atomic():
            _apply(row, _route(row, parsed, now=now, release=False), now)
            storing = True
            row.save(force_insert=True)
    except IntegrityError:
        if storing:  # the same Message-ID, stored before or meanwhile: processed there
            return InboundMail.objects.defer("raw").get(message_id=parsed.message_id), False
        mail_store(mailbox=mailbox, raw=raw, parsed=parsed, now=now)
        raise
    except Exception:
        mail_store(mailbox=mailbox, raw=raw, parsed=parsed, now=now)
        raise
    return row, True


def _apply(inbound: InboundMail, result: Result, now: datetime) -> None:
    inbound.outcome = result.outcome
    inbound.ticket = result.ticket
    inbound.ticket_message = result.message
    inbound.contact = result.contact
    inbound.detail = result.detail
    inbound.processed_at = now


# --- Processing --------------------------------------------------------------------------------


@transaction.atomic
def mail_process(
    *,
    inbound_id: int,
    parsed: ParsedMail | None = None,
    now: datetime | None = None,
    release: bool = False,
) -> InboundMail:
    """Process a stored message once: the row is locked and only a pending one is worked
    on, so two workers (or a poll and a post of the same mail) never both act on it.

    `release`: an admin lets a held message through (no rate limit, any sender)."""
    now = now or timezone.now()
    inbound = (
        InboundMail.objects.select_for_update(of=("self",))
        .defer("raw")  # read only when the caller did not parse it already
        .select_related("mailbox__team")
        .get(pk=inbound_id)
    )
    if inbound.outcome != Outcome.PENDING:
        return inbound
    parsed = parsed or parse(bytes(inbound.raw))
    _apply(inbound, _route(inbound, parsed, now=now, release=release), now)
    inbound.save(
        update_fields=["outcome", "ticket", "ticket_message", "contact", "detail", "processed_at"]
    )
    return inbound


@transaction.atomic
def mail_release(*, inbound_id: int, now: datetime | None = None) -> InboundMail:
    """Process a held message again, letting it through (the admin's "release" action).
    Ignored and processed messages stay as they are."""
    held = InboundMail.objects.filter(
        pk=inbound_id, outcome__in=[*InboundMail.HELD, Outcome.FAILED]
    )
    if held.update(outcome=Outcome.PENDING):
        return mail_process(inbound_id=inbound_id, now=now, release=True)
    return InboundMail.objects.defer("raw").get(pk=inbound_id)


def our_addresses() -> frozenset[str]:
    """Every mailbox's address (mail from one of them is our own), read once per process and
    kept until a mailbox changes (`helpdesk.configcache`, watched in `MailConfig.ready`)."""
    return configcache.cached(
        "mail.addresses", lambda: frozenset(Mailbox.objects.values_list("address", flat=True))
    )


def _route(inbound: InboundMail, parsed: ParsedMail, *, now: datetime, release: bool) -> Result:
    mailbox = inbound.mailbox
    if parsed.automatic is not None:
        kind, header = parsed.automatic
        return Result(_AUTOMATIC_OUTCOMES[kind], detail={"header": header})
    if not parsed.sender:
        return Result(Outcome.FAILED, detail={"error_fields": ["from"]})
    if parsed.sender in our_addresses():
        return Result(Outcome.OWN)
    if not release:
        limited = _rate_limited(inbound, now)
        if limited:
            return Result(Outcome.RATE_LIMITED, detail=limited)
    ticket = thread_ticket(parsed)
    if ticket is not None:
        return _reply(inbound, parsed, ticket, now=now, release=release)
    contact = contact_for(mailbox, parsed, release=release)
    if contact is None:
        return Result(Outcome.UNKNOWN_SENDER)
    return _write(
        Result(Outcome.CREATED, contact=contact),
        lambda files: _open_ticket(mailbox, parsed, contact, files, ours=our_addresses(), now=now),
        parsed,
    )


def _rate_limited(inbound: InboundMail, now: datetime) -> dict:
    """Facts about the limit `inbound` breaks, or {}: more than the mailbox allows from one
    sender, or to the mailbox, within its window. Every stored message counts, held and
    ignored ones too: a loop stays held for as long as it keeps mailing."""
    mailbox = inbound.mailbox
    window = InboundMail.objects.filter(
        Q(sender=inbound.sender) | Q(mailbox=mailbox),
        received_at__gt=now - timedelta(minutes=mailbox.limit_minutes),
        received_at__lte=now,
    )
    if inbound.pk is not None:  # stored already (a re-run): not counted against itself
        window = window.exclude(pk=inbound.pk)
    counts = window.aggregate(
        sender=Count("pk", filter=Q(sender=inbound.sender)),
        mailbox=Count("pk", filter=Q(mailbox=mailbox)),
    )
    from_sender, to_mailbox = counts["sender"], counts["mailbox"]
    if from_sender >= mailbox.sender_limit:
        return {"limit": "sender", "count": from_sender, "minutes": mailbox.limit_minutes}
    if to_mailbox >= mailbox.mailbox_limit:
        return {"limit": "mailbox", "count": to_mailbox, "minutes": mailbox.limit_minutes}
    return {}


def thread_ticket(parsed: ParsedMail) -> Ticket | None:
    """The ticket `parsed` answers: by In-Reply-To, then References (newest first), matched
    against the Message-IDs we sent and received; then by a reference in the subject
    (`[HD-2026-000123]`). Never by the subject's words."""
    ids = list(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))
    if ids:
        sent = OutboundMail.objects.filter(message_id__in=ids).order_by()
        received = InboundMail.objects.filter(message_id__in=ids, ticket__isnull=False).order_by()
        # The tickets of those ids and the ticket itself in one statement: nearly always one.
        candidates = {
            t.pk: t
            for t in Ticket.objects.select_related("requester")
            .filter(pk__in=sent.values("ticket_id").union(received.values("ticket_id"), all=True))
            .order_by()
        }
        if len(candidates) == 1:
            return next(iter(candidates.values()))
        if candidates:  # ids of several tickets: the newest id that is known decides
            found = dict(
                sent.values_list("message_id", "ticket_id").union(
                    received.values_list("message_id", "ticket_id"), all=True
                )
            )
            return candidates[next(found[i] for i in ids if i in found)]
    for reference in subject_references(parsed.subject, settings.TICKET_REFERENCE_PREFIX):
        ticket = Ticket.objects.select_related("requester").filter(reference=reference).first()
        if ticket is not None:
            return ticket
    return None


def contact_for(mailbox: Mailbox, parsed: ParsedMail, *, release: bool = False) -> Contact | None:
    """The sender's contact: a known (active) one, else a new one as the mailbox's policy
    allows — of the organisation whose email domain matches, or of a new personal customer.
    None when the policy turns the sender away. `release` applies the most open policy."""
    return contact_for_address(
        parsed.sender,
        policy=Mailbox.UnknownSenders.DOMAIN_OR_PERSON if release else mailbox.unknown_senders,
        name=parsed.sender_name,
        language=parsed.language,
    )


def _files(parsed: ParsedMail) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(a.name, a.data, a.content_type) for a in parsed.attachments]


def _write(result: Result, write, parsed: ParsedMail) -> Result:  # type: ignore[no-untyped-def]
    """Run `write(files)` (a ticket service) with the mail's attachments; when they break an
    upload limit, again without them (the mail still arrives; the admin shows what was
    dropped). Errors of the message itself end as `failed`, with the fields at fault."""
    files = _files(parsed)
    for attempt in (files, []):
        try:
            # The ticket services roll back their own savepoint when they refuse.
            ticket, message = write(attempt)
        except StaleRequest:
            return Result(
                Outcome.FAILED, contact=result.contact, detail={"error_fields": ["intent"]}
            )
        except (TicketError, ValidationError) as exc:
            fields = sorted(getattr(exc, "error_dict", {}) or ["body"])
            if fields == ["attachments"] and attempt:
                result.detail["attachments_dropped"] = [a.name for a in parsed.attachments]
                continue
            return Result(Outcome.FAILED, contact=result.contact, detail={"error_fields": fields})
        result.ticket, result.message = ticket, message
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _subject(parsed: ParsedMail) -> str:
    first_line = next((line.strip() for line in parsed.text.splitlines() if line.strip()), "")
    return (parsed.subject or first_line or parsed.sender)[:200]


def _open_ticket(
    mailbox: Mailbox,
    parsed: ParsedMail,
    contact: Contact,
    files: list[SimpleUploadedFile],
    *,
    ours: frozenset[str],
    now: datetime,
) -> tuple[Ticket, None]:
    ticket = ticket_create(
        actor=None,
        data=NewTicket(
            subject=_subject(parsed),
            description=parsed.text.strip() or _attachment_names(parsed),
            team=mailbox.team,
            impact=mailbox.impact,
            urgency=mailbox.urgency,
            channel=Ticket.Channel.EMAIL,
            requester=contact,
        ),
        attachments=files,
        now=now,
    )
    _add_participants(ticket, parsed, requester=contact, ours=ours, now=now)
    return ticket, None


def _attachment_names(parsed: ParsedMail) -> str:
    return "\n".join(a.name for a in parsed.attachments)


def _add_participants(
    ticket: Ticket, parsed: ParsedMail, *, requester: Contact, ours: frozenset[str], now: datetime
) -> None:
    """The other people the mail went to (To and Cc, but our own mailboxes and the
    requester, by any of their addresses) take part."""
    addresses = [a for a in dict.fromkeys((*parsed.to, *parsed.cc)) if a not in ours]
    if not addresses:
        return  # the usual mail: to one of our mailboxes only, and no query
    theirs = set(
        ContactAddress.objects.filter(contact=requester, email__in=addresses).values_list(
            "email", flat=True
        )
    )
    addresses = [a for a in addresses if a not in theirs]
    Participant.objects.bulk_create(
        [Participant(ticket=ticket, email=a, created_at=now) for a in addresses[:MAX_PARTICIPANTS]],
        ignore_conflicts=True,
    )


def sender_on_ticket(ticket: Ticket, sender: str) -> bool:
    """Whether `sender` is the ticket's requester or one of its CCs, by any address of their
    contact. No query when it is the requester's primary address (the usual reply), else one."""
    if ticket.requester_id is not None and ticket.requester.email == sender:
        return True
    # The sender's own contact's addresses (none when the address has no contact).
    siblings = ContactAddress.objects.filter(contact__addresses__email=sender).values("email")
    cc = Participant.objects.filter(ticket=OuterRef("pk")).filter(
        Q(email=sender) | Q(email__in=siblings)
    )
    return (
        Ticket.objects.filter(pk=ticket.pk)
        .filter(Q(requester__addresses__email=sender) | Exists(cc))
        .exists()
    )


def is_done(ticket: Ticket, mailbox: Mailbox, now: datetime) -> bool:
    """Whether a reply to `ticket` opens a follow-up rather than reopening it: the ticket is
    closed, or resolved longer ago than the mailbox's reopen window."""
    if ticket.status == Ticket.Status.CLOSED:
        return True
    if ticket.status == Ticket.Status.RESOLVED:
        resolved = ticket.resolved_at or ticket.updated_at
        return resolved < now - timedelta(days=mailbox.reopen_days)
    return False


def _reply(
    inbound: InboundMail, parsed: ParsedMail, ticket: Ticket, *, now: datetime, release: bool
) -> Result:
    mailbox = inbound.mailbox
    on_ticket = sender_on_ticket(ticket, parsed.sender)
    if not (on_ticket or release or mailbox.accept_other_senders):
        return Result(Outcome.NOT_PARTICIPANT, ticket=ticket)
    requester = ticket.requester
    if requester is not None and requester.email == parsed.sender:
        # The usual reply, from the primary address: the contact came with the ticket.
        contact = requester if requester.is_active else None
    else:
        contact = contact_for(mailbox, parsed, release=release)
    if is_done(ticket, mailbox, now):
        requester_contact = contact or ticket.requester
        if requester_contact is None:
            return Result(Outcome.UNKNOWN_SENDER, ticket=ticket)
        return _write(
            Result(Outcome.FOLLOW_UP, contact=contact),
            lambda files: _follow_up(mailbox, parsed, ticket, requester_contact, files, now=now),
            parsed,
        )
    if not on_ticket:
        Participant.objects.get_or_create(ticket=ticket, email=parsed.sender)
    body = parsed.reply or _attachment_names(parsed)
    return _write(
        Result(Outcome.THREADED, contact=contact),
        lambda files: (
            ticket,
            ticket_add_customer_message(
                ticket=ticket,
                body=body,
                contact=contact,
                author_name="" if contact else (parsed.sender_name or parsed.sender),
                attachments=files,
                intent=mail_intent(parsed.message_id),
                now=now,
            ),
        ),
        parsed,
    )


def _follow_up(
    mailbox: Mailbox,
    parsed: ParsedMail,
    done: Ticket,
    contact: Contact,
    files: list[SimpleUploadedFile],
    *,
    now: datetime,
) -> tuple[Ticket, None]:
    """A new ticket for a reply to a done one, linked both ways on the timelines."""
    ticket = ticket_create(
        actor=None,
        data=NewTicket(
            subject=done.subject,
            description=parsed.reply or _attachment_names(parsed),
            team=mailbox.team,
            customer=done.customer,
            impact=done.impact,
            urgency=done.urgency,
            channel=Ticket.Channel.EMAIL,
            requester=contact,
            service=done.service,
        ),
        attachments=files,
        now=now,
    )
    record_event(
        done,
        TicketEvent.Kind.FOLLOW_UP,
        actor=None,
        now=now,
        payload={"follow_up": ticket.reference},
    )
    record_event(
        ticket,
        TicketEvent.Kind.FOLLOW_UP,
        actor=None,
        now=now,
        payload={"follow_up_of": done.reference},
    )
    Participant.objects.bulk_create(
        [
            Participant(ticket=ticket, email=p.email, created_at=now)
            for p in Participant.objects.filter(ticket=done)
        ],
        ignore_conflicts=True,
    )
    return ticket, None
