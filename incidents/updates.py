"""An incident's update to every linked customer, set-based: one public reply per active
linked ticket (each ticket's timeline shows it), their timeline entries and webhook
deliveries, and one email per customer (contact) however many of their tickets are linked,
listing those tickets. One insert per table for any number of tickets; the emails are written
to the outbox and sent after commit (`incidents.emails`)."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import translation

from helpdesk.db import insert_rows
from incidents.models import IncidentUpdate, MajorIncident
from mail.ccs import ccs_of_tickets, emailed_requester
from mail.outbound import on_ticket_event as mail_listener
from notifications import outbox, webhooks
from notifications.email import clean_address
from notifications.models import Delivery
from notifications.services import on_ticket_event as notification_listener
from tickets import services as ticket_services
from tickets.models import Contact, Message, Service, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# The outbox kind of the customer email of an update (its sender: `incidents.emails`).
EMAIL_KIND = "incident.update"
# The task that queues the send task of each of an update's outbox rows (`incidents.tasks`),
# named so that this module does not import the tasks (which import the services).
QUEUE_DELIVERIES = "incidents.tasks.queue_deliveries"


def customer_language(ticket: Ticket) -> str:
    """The language a ticket's customer reads: the requester's, else the site's."""
    requester = ticket.requester
    if requester is not None and requester.language:
        return requester.language
    return settings.LANGUAGE_CODE


def message_body(
    incident: MajorIncident,
    update: IncidentUpdate,
    language: str,
    services: Sequence[Service] | None = None,
) -> str:
    """The customer message of `update` in `language`, from the template of its kind
    (`services`: the incident's, when the caller has read them)."""
    if services is None:
        services = list(incident.services.all())
    with translation.override(language):
        return render_to_string(
            f"incidents/messages/{update.kind}.txt",
            {
                "incident": incident,
                "update": update,
                "services": ", ".join(s.display_name for s in services),
                "status": MajorIncident.Status(update.status).label,
                "next_update_due_at": incident.next_update_due_at,
            },
        ).strip()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the rows are built, back on afterwards.
    Building a thousand tickets' replies, entries and deliveries allocates some hundred
    thousand objects, all alive until the rows are written; the collector, triggered by
    the allocations alone, traverses them (and the whole heap, once a full collection is
    due) without finding garbage: about a quarter of the update's CPU time. Nothing is
    skipped for good: the next collection after the update finds what became garbage."""
    if not gc.isenabled():  # paused already (nested, or by the caller)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def send_update(
    incident: MajorIncident,
    update: IncidentUpdate,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
) -> int:
    """The update as one public reply on every active linked ticket, worded in its customer's
    language, with its timeline entry and webhook deliveries, and one email per customer:
    set-based (a read, one insert per table, an update, for any number of tickets). The
    message's intent is the update, so no ticket gets it twice. Returns how many tickets
    were reached."""
    with collector_paused():
        return _send_update(incident, update, actor=actor, now=now)


def _send_update(
    incident: MajorIncident,
    update: IncidentUpdate,
    *,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
) -> int:
    endpoints = webhooks.active_endpoints()
    tickets = Ticket.objects.filter(
        incident_links__incident=incident,
        incident_links__ended_at__isnull=True,
        status__in=Ticket.ACTIVE_STATUSES,
    ).exclude(messages__intent=f"incident-update:{update.pk}")
    if endpoints:  # the webhook payload shows the ticket
        tickets = tickets.select_related(
            "requester", "team", "level", "assignee", "service", "customer"
        )
    else:
        tickets = tickets.select_related("requester").only(
            "pk",
            "first_responded_at",
            "requester__language",
            "requester__email",
            "requester__is_active",
        )
    tickets = list(tickets.order_by("pk"))
    if not tickets:
        return 0
    bodies: dict[str, str] = {}
    services = list(incident.services.all())  # read once for every language
    author = actor if actor is not None and actor.is_authenticated else None
    messages = []
    for ticket in tickets:
        language = customer_language(ticket)
        if language not in bodies:
            bodies[language] = message_body(incident, update, language, services)
        messages.append(
            Message(
                ticket=ticket,
                kind=Message.Kind.REPLY,
                author=author,
                author_name="" if author else incident.reference,
                body=bodies[language],
                created_at=now,
                intent=f"incident-update:{update.pk}",
            )
        )
    insert_rows(Message, messages)
    first = {t.pk for t in tickets if t.first_responded_at is None}
    events = insert_rows(
        TicketEvent,
        [
            TicketEvent(
                ticket=message.ticket,
                kind=TicketEvent.Kind.REPLIED,
                actor=author,
                message=message,
                payload={"first_response": message.ticket_id in first, "incident": incident.pk},
                created_at=now,
            )
            for message in messages
        ],
    )
    if not ticket_services.listeners_are_muted():
        tell_other_listeners(events)
        deliveries = customer_emails(update, events, now=now)
        if endpoints:
            for event, published in zip(
                events, webhooks.publish_all(events, endpoints), strict=True
            ):
                if published is not None:
                    deliveries += published.deliveries(event)
        queue_after_commit(insert_rows(Delivery, deliveries))
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        updated_at=now,
        last_progress_at=now,
        version=F("version") + 1,
        first_responded_at=Coalesce(F("first_responded_at"), Value(now)),
    )
    return len(tickets)


@dataclass
class Recipient:
    """Who gets one email of an update: a requester with the tickets they requested, or
    (also) an address copied on tickets. `contact`: the recipient's contact, else the
    requester of the first ticket copying them (whose email the copy belongs to)."""

    address: str
    contact: Contact
    language: str
    own: bool  # `contact` is the recipient
    events: list[TicketEvent] = field(default_factory=list)  # the requested tickets' replies
    copied: list[TicketEvent] = field(default_factory=list)  # the replies they are copied on


def customer_emails(
    update: IncidentUpdate, events: Sequence[TicketEvent], *, now: dt.datetime
) -> list[Delivery]:
    """The (unsaved) outbox rows of the update's customer emails: one per address, however
    many of its tickets are linked (`events`: the replies' timeline entries, ticket and
    requester loaded). The requesters (active, with an address) get one each naming their
    tickets; the tickets' CCs are copied as a reply copies them (only where the requester is
    emailed, `mail.ccs.reply_recipients`), but each in their own email, in their own
    language (their contact's, else the requester's), naming the tickets they are copied
    on — once per address, also when they requested some of the tickets themselves. The
    first ticket's reply is the email's cause. Two queries (the CCs and their contacts) for
    any number of tickets."""
    recipients: dict[str, Recipient] = {}
    emailed: list[TicketEvent] = []
    for event in events:
        contact = emailed_requester(event.ticket)
        if contact is None:
            continue
        emailed.append(event)
        address = contact.email.lower()
        recipients.setdefault(
            address, Recipient(address, contact, contact.language, own=True)
        ).events.append(event)
    ccs = ccs_of_tickets(e.ticket_id for e in emailed)
    if ccs:
        addresses = {a for found in ccs.values() for a in found}
        contacts = {c.email: c for c in Contact.objects.filter(email__in=addresses)}
        for event in emailed:
            requester = event.ticket.requester
            for address in ccs.get(event.ticket_id, []):
                known = contacts.get(address)
                if address == requester.email or not clean_address(address):
                    continue
                if known is not None and not known.is_active:
                    continue
                if address not in recipients:
                    recipients[address] = Recipient(
                        address,
                        known or requester,
                        (known or requester).language,
                        own=known is not None,
                    )
                recipients[address].copied.append(event)
    return [
        Delivery(
            channel=Delivery.Channel.EMAIL,
            kind=EMAIL_KIND,
            contact=r.contact,
            ticket_id=(r.events or r.copied)[0].ticket_id,
            ticket_event=(r.events or r.copied)[0],
            dedupe_key=f"incident-update:{update.pk}:{r.contact.pk if r.own else r.address}"[:120],
            payload={
                "update": update.pk,
                "tickets": [e.ticket_id for e in r.events],
                **({"copied": [e.ticket_id for e in r.copied]} if r.copied else {}),
                **({} if r.own else {"to": r.address, "language": r.language}),
            },
            next_attempt_at=now,
            created_at=now,
        )
        for r in recipients.values()
    ]


def queue_after_commit(deliveries: Sequence[Delivery]) -> None:
    """Once the transaction commits, hand the rows to one task that queues their send tasks:
    one message to the broker for the whole fan-out instead of one per row in the request
    (a thousand tickets' webhooks and emails are two thousand rows). Nothing is lost when the
    broker is away or the task dies half-way: the rows stay pending and the outbox relay
    queues them."""
    ids = [d.pk for d in deliveries if d.status == Delivery.Status.PENDING and d.pk is not None]
    if ids:
        transaction.on_commit(lambda: publish_queueing(ids), robust=True)


def publish_queueing(ids: list[int]) -> bool:
    """Send the queueing task for `ids` to the broker, trying once (the relay covers a
    failure). Returns whether it was sent."""
    try:
        current_app.signature(QUEUE_DELIVERIES, args=(ids,)).apply_async(
            retry=True, retry_policy=outbox.FAST_PUBLISH
        )
    except Exception as exc:  # kombu OperationalError, redis/socket errors: all the same here
        logger.warning("Broker unreachable; %s deliveries wait for the relay (%s)", len(ids), exc)
        return False
    return True


def tell_other_listeners(events: Sequence[TicketEvent]) -> None:
    """The replies' timeline entries are written together, not through `record_event`. Two
    registered listeners' parts are written set-based by the caller instead: the
    notifications' (the webhook deliveries) and the mail app's (its email per reply, which
    would send a customer one email per linked ticket; `customer_emails` sends one per
    customer). Every other registered listener is called for each entry as `record_event`
    would."""
    others = [
        listener
        for listener in ticket_services.event_listeners()
        if listener not in (notification_listener, mail_listener)
    ]
    for event in events:
        for listener in others:
            listener(event)
