"""Reads of the notifications app: whether a ticket is escalated, the communication
templates offered for it, and a user's notifications grouped per ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q
from django.utils import formats, timezone, translation

from escalation.models import Escalation
from helpdesk import configcache
from notifications.models import MessageTemplate, Notification
from tickets.models import Ticket

OPEN_ESCALATION = (Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED)


def is_escalated(ticket: Ticket) -> bool:
    """Whether the ticket is in an escalation now: an escalation up or across that is open or
    acknowledged (a hand-back down does not count), or it is a major incident."""
    return (
        ticket.is_major_incident
        or Escalation.objects.filter(ticket=ticket, status__in=OPEN_ESCALATION)
        .exclude(kind=Escalation.Kind.DE_ESCALATION)
        .exists()
    )


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def template_values(ticket: Ticket, now: datetime | None = None) -> dict[str, str]:
    """The placeholder values of `ticket`, in the active language and time zone."""
    now = now or timezone.now()
    assignee = ticket.assignee
    return {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": str(ticket.get_status_display()),
        "priority": str(ticket.get_priority_display()),
        "team": ticket.team.name,
        "level": ticket.level.display_name,
        "assignee": (assignee.get_full_name() or assignee.get_username()) if assignee else "–",
        "customer": ticket.customer.name if ticket.customer_id else "–",
        "next_update_due": _when(ticket.next_update_due_at),
        "now": _when(now),
    }


@dataclass(frozen=True)
class TemplateChoice:
    """One template for the reply box: its text already filled in for the ticket."""

    id: int
    name: str
    kind: str
    kind_label: str
    language: str
    body: str


def active_templates() -> list[MessageTemplate]:
    """The active communication templates by `order`, read once per process until one
    changes (`helpdesk.configcache`, watched in `NotificationsConfig.ready`); the instances
    are shared, so callers only read them."""
    return configcache.cached(
        "notifications.message_templates",
        lambda: list(MessageTemplate.objects.filter(is_active=True).order_by("order", "pk")),
    )


def templates_for(
    ticket: Ticket,
    language: str,
    *,
    now: datetime | None = None,
    escalated: bool | None = None,
) -> list[TemplateChoice]:
    """The communication templates an agent can start a message on `ticket` from: for an
    escalated ticket the initial escalation notice, the status update and the closing report,
    in `language` (falling back to the site's language per kind), with the placeholders
    filled. Empty for a ticket that is not escalated. A caller that has the ticket's
    escalations at hand passes `escalated` (see `is_escalated`) and saves the query."""
    if not (is_escalated(ticket) if escalated is None else escalated):
        return []
    languages = [language, settings.LANGUAGE_CODE]
    rows = [row for row in active_templates() if row.language in languages]
    have = {row.kind for row in rows if row.language == language}
    chosen = [row for row in rows if row.language == language or row.kind not in have]
    order = {kind: i for i, kind in enumerate(MessageTemplate.Kind.values)}
    chosen.sort(key=lambda row: (order.get(row.kind, 99), row.order, row.pk))
    with translation.override(language):
        values = template_values(ticket, now)
        return [
            TemplateChoice(
                id=row.pk,
                name=row.display_name,
                kind=row.kind,
                kind_label=str(row.get_kind_display()),
                language=row.language,
                body=row.render(values),
            )
            for row in chosen
        ]


@dataclass(frozen=True)
class Unread:
    """What the bell counts: the tickets with unread notifications (a ticket's notifications
    are one group of the list, so ten about one ticket count once) and the unread
    notifications about no ticket (one group of their own in the list)."""

    tickets: int
    other: int

    @property
    def groups(self) -> int:
        """The groups of the list with something unread: the number on the bell."""
        return self.tickets + (1 if self.other else 0)


def unread_summary(user: AbstractBaseUser) -> Unread:
    """`user`'s unread notifications counted per ticket (one query, on the partial index of
    unread notifications)."""
    counts = Notification.objects.filter(user=user, read_at__isnull=True).aggregate(
        tickets=Count("ticket_id", distinct=True),
        other=Count("pk", filter=Q(ticket__isnull=True)),
    )
    return Unread(tickets=counts["tickets"], other=counts["other"])


# Within a group, the list shows at most this many earlier notifications about the ticket.
GROUP_LIMIT = 20


@dataclass
class NotificationGroup:
    """A user's notifications about one ticket (or those about no ticket): the newest one
    leads, the earlier ones fold under it."""

    ticket_id: int | None
    latest: Notification
    earlier: list[Notification] = field(default_factory=list)
    unread: int = 0
    total: int = 0

    @property
    def ticket(self) -> Ticket | None:
        return self.latest.ticket

    @property
    def hidden(self) -> int:
        """Earlier notifications not listed (beyond `GROUP_LIMIT`)."""
        return max(0, self.total - 1 - len(self.earlier))


def notification_groups(user: AbstractBaseUser, page: str | int | None, per_page: int) -> Page:
    """Page `page` of `user`'s notifications grouped per ticket, the group with the newest
    notification first; each group's rows with their ticket. Three queries (the page count,
    the groups, their rows), however many notifications."""
    groups = (
        Notification.objects.filter(user=user)
        .values("ticket_id")
        .annotate(
            newest=Max("created_at"),
            unread=Count("pk", filter=Q(read_at__isnull=True)),
            total=Count("pk"),
        )
        .order_by("-newest", "ticket_id")
    )
    result = Paginator(groups, per_page).get_page(page)
    rows = list(result.object_list)
    ids = [row["ticket_id"] for row in rows]
    about = Q(ticket_id__in=[i for i in ids if i is not None])
    if None in ids:
        about |= Q(ticket__isnull=True)
    members: dict[int | None, list[Notification]] = {}
    for notification in (
        Notification.objects.filter(about, user=user)
        .select_related("ticket")
        .order_by("-created_at", "-pk")
    ):
        members.setdefault(notification.ticket_id, []).append(notification)
    result.object_list = [
        NotificationGroup(
            ticket_id=row["ticket_id"],
            latest=members[row["ticket_id"]][0],
            earlier=members[row["ticket_id"]][1 : GROUP_LIMIT + 1],
            unread=row["unread"],
            total=row["total"],
        )
        for row in rows
        if members.get(row["ticket_id"])
    ]
    return result
