"""Reads for the portal. Every one starts from `Ticket.objects.visible_to_contact(contact)`,
the one rule for what a contact sees, and shows public content only: replies and customer
messages, never internal notes, the timeline, escalations, risk or agents' details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from portal.models import Rating
from tickets.models import Attachment, Contact, Message, Ticket

PAGE_SIZE = 25
Scope = Literal["all", "mine"]
State = Literal["all", "open", "closed"]

# The status in the customer's words.
STATUS_WORDS = {
    Ticket.Status.NEW: _("Received"),
    Ticket.Status.OPEN: _("In progress"),
    Ticket.Status.PENDING: _("Waiting for information"),
    Ticket.Status.RESOLVED: _("Solved"),
    Ticket.Status.CLOSED: _("Closed"),
}


def status_words(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


def ticket_page(
    contact: Contact,
    *,
    scope: Scope = "all",
    state: State = "all",
    query: str = "",
    page: int | str = 1,
) -> Page:
    """One page of the contact's tickets, newest first: two queries (count and rows).
    `query` finds a reference exactly or words in the subject."""
    tickets = Ticket.objects.visible_to_contact(contact)
    query = query.strip()[:100]
    if query:
        tickets = tickets.filter(Q(reference__iexact=query) | Q(subject__icontains=query))
    if scope == "mine":
        tickets = tickets.filter(requester=contact)
    if state == "open":
        tickets = tickets.exclude(status=Ticket.Status.CLOSED)
    elif state == "closed":
        tickets = tickets.filter(status=Ticket.Status.CLOSED)
    tickets = (
        tickets.select_related("requester")
        .only(
            "reference",
            "subject",
            "status",
            "created_at",
            "updated_at",
            "requester__name",
            "requester__email",
        )
        .order_by("-created_at", "-pk")
    )
    return Paginator(tickets, PAGE_SIZE).get_page(page)


def ticket_for_contact(contact: Contact, reference: str) -> Ticket:
    """The ticket `reference` if `contact` sees it; Http404 otherwise (never 403: the
    existence of another organisation's ticket must not show)."""
    ticket = (
        Ticket.objects.visible_to_contact(contact)
        .select_related("requester", "service")
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise Http404(_("No such ticket."))
    return ticket


def public_messages(ticket: Ticket) -> QuerySet[Message]:
    """Replies and customer messages, oldest first, with their attachments."""
    return (
        ticket.messages.exclude(kind=Message.Kind.NOTE)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
        .order_by("created_at", "pk")
    )


def opening_attachments(ticket: Ticket) -> QuerySet[Attachment]:
    """The files sent with the ticket itself (not with a message)."""
    return ticket.attachments.filter(message__isnull=True).order_by("pk")


def public_attachment(ticket: Ticket, pk: int) -> Attachment:
    """An attachment of `ticket` that the customer may download (not one of a note)."""
    attachment = (
        Attachment.objects.filter(ticket=ticket, pk=pk)
        .filter(Q(message__isnull=True) | ~Q(message__kind=Message.Kind.NOTE))
        .first()
    )
    if attachment is None:
        raise Http404(_("No such attachment."))
    return attachment


def agent_name(message: Message) -> str:
    """How an agent's reply is signed for the customer: the first name only."""
    if message.author_id and message.author.first_name:
        return message.author.first_name
    return str(_("Support team"))


@dataclass(frozen=True)
class Promise:
    label: str
    due_at: datetime


def promise(ticket: Ticket) -> Promise | None:
    """The next thing we promised the customer, from the SLA columns: the first answer while
    there is none, then the next status update. None while we wait for the customer (pending)
    or once the ticket is solved."""
    if ticket.status not in (Ticket.Status.NEW, Ticket.Status.OPEN):
        return None
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        return Promise(str(_("You will get a first answer by")), ticket.first_response_due_at)
    if ticket.next_update_due_at is not None:
        return Promise(str(_("Next update by")), ticket.next_update_due_at)
    if ticket.resolution_due_at is not None:
        return Promise(str(_("Planned solution by")), ticket.resolution_due_at)
    return None


@dataclass(frozen=True)
class CsatSummary:
    count: int
    average: float | None
    satisfied: int  # ratings of 4 or 5
    low: int  # ratings at or below settings.PORTAL_LOW_RATING
    escalated_count: int
    escalated_average: float | None


def csat_summary(
    start: datetime, end: datetime, *, tickets: QuerySet[Ticket] | None = None
) -> CsatSummary:
    """Customer satisfaction over ratings given in [start, end), of `tickets` when given (the
    reader's visible tickets, narrowed by the report's slices): for reporting (CSAT, and CSAT
    after escalation). One query."""
    ratings = Rating.objects.filter(created_at__gte=start, created_at__lt=end)
    if tickets is not None:
        ratings = ratings.filter(Exists(tickets.filter(pk=OuterRef("ticket_id"))))
    figures = ratings.aggregate(
        count=Count("pk"),
        average=Avg("score"),
        satisfied=Count("pk", filter=Q(score__gte=4)),
        low=Count("pk", filter=Q(score__lte=settings.PORTAL_LOW_RATING)),
        escalated_count=Count("pk", filter=Q(escalated=True)),
        escalated_average=Avg("score", filter=Q(escalated=True)),
    )
    return CsatSummary(**figures)
