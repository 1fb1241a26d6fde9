"""What a customer's contact does in the portal: open a ticket, take a ticket's status in
hand, and rate a resolution. One use case each, one transaction each; the ticket changes go
through `tickets.services`, so the SLA clock and the engine see them like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Escalation
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from portal.models import Rating
from tickets import services as ticket_services
from tickets.models import Contact, Message, Service, Team, Ticket, TicketEvent
from tickets.services import NewTicket, TicketError


@dataclass(frozen=True)
class PortalRequest:
    """A new ticket as the contact described it; impact and urgency are the answers to the
    form's two plain questions, on the severity matrix's scale (1 = worst)."""

    subject: str
    description: str
    impact: int
    urgency: int
    service: Service | None = None
    intent: str = ""


def portal_team(service: Service | None) -> Team:
    """The team that receives a portal ticket: the affected service's owning team, else the
    team named by PORTAL_TEAM, else the active tier team on the lowest support level.
    TicketError when no active team exists at all."""
    if service is not None and service.owning_team is not None and service.owning_team.is_active:
        return service.owning_team
    teams = Team.objects.filter(is_active=True)
    if settings.PORTAL_TEAM:
        named = teams.filter(name=settings.PORTAL_TEAM).first()
        if named is not None:
            return named
    team = (
        teams.filter(kind=Team.Kind.TIER).order_by("level__rank", "name").first()
        or teams.order_by("level__rank", "name").first()
    )
    if team is None:
        raise TicketError({"__all__": _("Tickets cannot be opened right now. Please write to us.")})
    return team


@dataclass(frozen=True)
class Opened:
    ticket: Ticket
    created: bool  # False: this form had opened it already (a double submit)


def portal_ticket_open(
    *,
    contact: Contact,
    request: PortalRequest,
    attachments: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> Opened:
    """Open a ticket for `contact` from the portal. A second submit of the same form (same
    `intent`) returns the ticket the first one opened instead of opening another."""
    if request.impact not in (1, 2, 3, 4) or request.urgency not in (1, 2, 3, 4):
        raise TicketError({"__all__": _("Please answer both questions.")})
    if request.service is not None and not request.service.is_active:
        raise TicketError({"service": _("This service cannot be chosen.")})
    with transaction.atomic():
        # Serialises this contact's submits, so two copies of one form cannot both pass.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        if request.intent:
            earlier = (
                Ticket.objects.filter(
                    requester=contact,
                    events__kind=TicketEvent.Kind.CREATED,
                    events__payload__intent=request.intent[:64],
                )
                .order_by("pk")
                .first()
            )
            if earlier is not None:
                return Opened(earlier, created=False)
        ticket = ticket_services.ticket_create(
            actor=None,
            data=NewTicket(
                subject=request.subject,
                description=request.description,
                team=portal_team(request.service),
                customer=contact.customer,
                impact=request.impact,
                urgency=request.urgency,
                channel=Ticket.Channel.PORTAL,
                requester=contact,
                service=request.service,
                intent=request.intent,
            ),
            attachments=attachments,
            now=now,
        )
    return Opened(ticket, created=True)


def can_reopen(ticket: Ticket, now: datetime | None = None) -> bool:
    """Whether the customer may still take back the solution (PORTAL_REOPEN_DAYS)."""
    now = now or timezone.now()
    return (
        ticket.status == Ticket.Status.RESOLVED
        and ticket.resolved_at is not None
        and now - ticket.resolved_at <= timedelta(days=settings.PORTAL_REOPEN_DAYS)
    )


def portal_reply(
    *,
    contact: Contact,
    ticket: Ticket,
    body: str,
    attachments: Sequence[UploadedFile] = (),
    intent: str = "",
    now: datetime | None = None,
) -> Message:
    """The contact writes on their ticket (`ticket_add_customer_message`: a pending ticket
    resumes, a solved one reopens). A solved ticket takes replies only within
    PORTAL_REOPEN_DAYS; after that the customer opens a new ticket (TicketError)."""
    now = now or timezone.now()
    if ticket.status == Ticket.Status.RESOLVED and not can_reopen(ticket, now):
        raise TicketError(
            {"body": _("This ticket can no longer be reopened. Please open a new ticket.")}
        )
    return ticket_services.ticket_add_customer_message(
        ticket=ticket,
        body=body,
        contact=contact,
        attachments=attachments,
        intent=intent,
        now=now,
    )


def portal_transition(
    *,
    contact: Contact,
    ticket: Ticket,
    action: str,
    expected_version: int | None,
    now: datetime | None = None,
) -> Ticket:
    """The contact's status actions: "solved" (an active ticket is resolved, a resolved one
    closed) and "reopen" (a resolved ticket within PORTAL_REOPEN_DAYS). Raises what
    `tickets.services.ticket_transition_by_contact` raises, and TicketError for an unknown
    action or a reopen after the window."""
    now = now or timezone.now()
    if action == "solved":
        name = "close" if ticket.status == Ticket.Status.RESOLVED else "resolve"
    elif action == "reopen":
        if not can_reopen(ticket, now):
            raise TicketError(
                {"__all__": _("This ticket can no longer be reopened. Please open a new ticket.")}
            )
        name = "reopen"
    else:
        raise TicketError({"__all__": _("Unknown action.")})
    return ticket_services.ticket_transition_by_contact(
        ticket=ticket, contact=contact, name=name, expected_version=expected_version, now=now
    )


class RatingRefused(Exception):
    """The ticket is not (or no longer) resolved in this resolution, or it was rated already."""


def rating_open(ticket: Ticket, resolution: int | None = None) -> bool:
    """Whether `ticket`'s current resolution (or `resolution`) waits for a rating."""
    if ticket.status not in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
        return False
    if ticket.resolved_at is None:
        return False
    current = ticket.reopen_count
    if resolution is not None and resolution != current:
        return False
    return not Rating.objects.filter(ticket=ticket, resolution=current).exists()


def rating_submit(
    *,
    ticket: Ticket,
    resolution: int,
    score: int,
    comment: str = "",
    contact: Contact | None = None,
    now: datetime | None = None,
) -> Rating:
    """Record the customer's rating of one resolution of `ticket`.

    One rating per ticket and resolution: a second one is refused (RatingRefused), whether
    it comes by the same link, the portal, or a race of both. Writes a `rated` timeline
    entry; a score at or below PORTAL_LOW_RATING tells the ticket's team lead.
    """
    now = now or timezone.now()
    if score not in (1, 2, 3, 4, 5):
        raise TicketError({"score": _("Choose a rating from 1 to 5.")})
    comment = comment.strip()
    try:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update().select_related("team", "level").get(pk=ticket.pk)
            )
            if (
                ticket.status not in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
                or ticket.resolved_at is None
                or ticket.reopen_count != resolution
            ):
                raise RatingRefused(_("This ticket is not waiting for a rating."))
            if Rating.objects.filter(ticket=ticket, resolution=resolution).exists():
                raise RatingRefused(_("This solution has been rated already. Thank you!"))
            escalated = Escalation.objects.filter(ticket=ticket).exists()
            rating = Rating.objects.create(
                ticket=ticket,
                resolution=resolution,
                score=score,
                comment=comment,
                contact=contact,
                escalated=escalated,
                team=ticket.team,
                level_rank=ticket.level.rank,
                created_at=now,
            )
            ticket_services.record_event(
                ticket,
                TicketEvent.Kind.RATED,
                actor=None,
                now=now,
                payload={
                    "score": score,
                    "comment": comment,
                    "resolution": resolution,
                    "escalated": escalated,
                    **({"contact": contact.pk, "by_contact": contact.email} if contact else {}),
                },
            )
            if score <= settings.PORTAL_LOW_RATING:
                notify(
                    resolve_recipients(ticket, team_lead=True),
                    kind=Notification.Kind.LOW_RATING,
                    ticket=ticket,
                    cause=f"rating:{rating.pk}",
                    payload={"reference": ticket.reference, "score": score, "rating": rating.pk},
                    now=now,
                    urgent=False,
                )
    except IntegrityError:
        # A concurrent submit of the same resolution won the unique constraint.
        raise RatingRefused(_("This solution has been rated already. Thank you!")) from None
    return rating
