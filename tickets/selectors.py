"""Reads for the agent UI: the filtered ticket list, its keyset pages, and the ticket timeline.

Every read starts from `Ticket.objects.visible_to(user)`, the one visibility rule.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from tickets.models import Attachment, Message, SupportLevel, Team, Ticket, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django_stubs_ext import StrOrPromise

# --- The ticket list --------------------------------------------------------------------------


class Scope:
    """The tabs above the ticket list."""

    MINE = "mine"
    TEAMS = "teams"
    ALL = "all"
    CHOICES: tuple[tuple[str, StrOrPromise], ...] = (
        (ALL, _("All I may see")),
        (MINE, _("Assigned to me")),
        (TEAMS, _("My teams")),
    )


# Each sort is a total order: its last column is the primary key, so that keyset pagination
# can say exactly which row comes after another. `priority` sorts the most severe (Sev 1) first.
SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-pk"),
    "created": ("created_at", "pk"),
    "priority": ("priority", "-created_at", "-pk"),
    "-priority": ("-priority", "-created_at", "-pk"),
    "-updated": ("-updated_at", "-pk"),
    "updated": ("updated_at", "pk"),
}
SORT_CHOICES: tuple[tuple[str, StrOrPromise], ...] = (
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("priority", _("Most severe first")),
    ("-priority", _("Least severe first")),
    ("-updated", _("Recently updated")),
    ("updated", _("Least recently updated")),
)
DEFAULT_SORT = "-created"
_DATETIME_FIELDS = frozenset({"created_at", "updated_at"})

# The list shows "more than 1000 tickets" instead of counting every match: a bounded COUNT
# over a LIMIT subquery costs the same on a thousand tickets and on a million.
COUNT_CAP = 1000


@dataclass(frozen=True)
class TicketFilters:
    """The parsed query string of the ticket list (see `forms.TicketFilterForm`)."""

    scope: str = Scope.ALL
    statuses: Sequence[str] = ()
    priority: int | None = None
    team: Team | None = None
    level: SupportLevel | None = None
    q: str = ""
    sort: str = DEFAULT_SORT


def ticket_list_filter(
    user: AbstractBaseUser | AnonymousUser, filters: TicketFilters
) -> QuerySet[Ticket]:
    """The tickets `user` may see that match `filters`, ordered by `filters.sort`, with what a
    list row shows joined in (one query, however many tickets)."""
    qs = Ticket.objects.visible_to(user).with_list_related()
    if filters.scope == Scope.MINE:
        qs = qs.filter(assignee_id=user.pk)
    elif filters.scope == Scope.TEAMS:
        qs = qs.filter(team__in=Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk"))
    if filters.statuses:
        qs = qs.filter(status__in=filters.statuses)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.team is not None:
        qs = qs.filter(team=filters.team)
    if filters.level is not None:
        qs = qs.filter(level=filters.level)
    q = filters.q.strip()
    if q:
        qs = qs.filter(
            Q(reference__icontains=q)
            | Q(subject__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(description__icontains=q)
        )
    return qs.order_by(*SORTS.get(filters.sort, SORTS[DEFAULT_SORT]))


@dataclass(frozen=True)
class TicketPage:
    """One page of the list, with cursors for its neighbours (None when there is none)."""

    tickets: list[Ticket]
    next_cursor: str | None
    prev_cursor: str | None
    total: int
    total_capped: bool


def ticket_page(
    qs: QuerySet[Ticket],
    *,
    sort: str,
    per_page: int,
    after: str | None = None,
    before: str | None = None,
) -> TicketPage:
    """A page of `qs` (already ordered by `SORTS[sort]`) after or before a cursor.

    Keyset ("seek") pagination, not OFFSET: a page costs one index range scan of `per_page`
    rows wherever it is in the list, so page 4,000 of a 100k-ticket queue is as fast as page 1
    and rows do not shift between pages while tickets arrive. The price is prev/next navigation
    instead of numbered pages, which suits a work queue. A cursor that does not decode (edited
    by hand, or from another sort) simply gives the first page.
    """
    ordering = SORTS.get(sort, SORTS[DEFAULT_SORT])
    count = qs.order_by()[: COUNT_CAP + 1].count()

    def page(rows: list[Ticket], *, has_next: bool, has_prev: bool) -> TicketPage:
        return TicketPage(
            tickets=rows,
            next_cursor=_encode_cursor(rows[-1], sort) if has_next and rows else None,
            prev_cursor=_encode_cursor(rows[0], sort) if has_prev and rows else None,
            total=min(count, COUNT_CAP),
            total_capped=count > COUNT_CAP,
        )

    if before and (values := _decode_cursor(before, sort)) is not None:
        reverse = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in ordering)
        rows = list(qs.filter(_seek(reverse, values)).order_by(*reverse)[: per_page + 1])
        if len(rows) > per_page:
            return page(rows[:per_page][::-1], has_next=True, has_prev=True)
        # Back at the start of the list: show a full first page rather than a short one.
    elif after and (values := _decode_cursor(after, sort)) is not None:
        rows = list(qs.filter(_seek(ordering, values))[: per_page + 1])
        return page(rows[:per_page], has_next=len(rows) > per_page, has_prev=True)

    rows = list(qs[: per_page + 1])
    return page(rows[:per_page], has_next=len(rows) > per_page, has_prev=False)


def _seek(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a, b, c) > (va, vb, vc) column by column,
    each column in its own direction. The leading `a >= va` is redundant but lets the database
    start an index range scan at the cursor instead of filtering from the top."""
    first = ordering[0]
    bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    after = Q()
    for i, column in enumerate(ordering):
        name = column.lstrip("-")
        clause = Q(**{f"{name}__{'lt' if column.startswith('-') else 'gt'}": values[i]})
        for prev, value in zip(ordering[:i], values[:i], strict=True):
            clause &= Q(**{prev.lstrip("-"): value})
        after |= clause
    return bound & after


def _encode_cursor(ticket: Ticket, sort: str) -> str:
    values = []
    for column in SORTS[sort]:
        value = getattr(ticket, column.lstrip("-"))
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> list[Any] | None:
    """The column values in `cursor`, or None when it is not a valid cursor for `sort`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    columns = SORTS.get(sort)
    if not isinstance(data, dict) or data.get("s") != sort or columns is None:
        return None
    raw_values = data.get("v")
    if not isinstance(raw_values, list) or len(raw_values) != len(columns):
        return None
    values: list[Any] = []
    for column, value in zip(columns, raw_values, strict=True):
        name = column.lstrip("-")
        if name in _DATETIME_FIELDS:
            if not isinstance(value, str):
                return None
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                return None
            values.append(parsed)
        elif isinstance(value, int) and not isinstance(value, bool):
            values.append(value)
        else:
            return None
    return values


def filter_teams() -> QuerySet[Team]:
    """Teams offered by the list's team filter."""
    return Team.objects.select_related("level").order_by("level__rank", "name")


# --- One ticket -------------------------------------------------------------------------------


def ticket_for_user(user: AbstractBaseUser | AnonymousUser, reference: str) -> Ticket:
    """The ticket `reference` if `user` may see it; Http404 otherwise (never 403, so that the
    existence of other teams' tickets does not leak)."""
    try:
        return (
            Ticket.objects.visible_to(user)
            .select_related("team", "level", "assignee", "customer", "created_by")
            .get(reference=reference)
        )
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None


def is_following(ticket: Ticket, user: AbstractBaseUser | AnonymousUser) -> bool:
    return ticket.watchers.filter(pk=user.pk).exists()


def ticket_loose_attachments(ticket: Ticket) -> list[Attachment]:
    """Attachments uploaded with the ticket itself rather than with a message."""
    return list(ticket.attachments.filter(message__isnull=True))


def assignable_teams() -> QuerySet[Team]:
    """Active teams with their members and lead: the choices of the assign and create forms."""
    return (
        Team.objects.filter(is_active=True)
        .select_related("level", "lead")
        .prefetch_related("members")
        .order_by("level__rank", "name")
    )


# Events that only announce a message: the timeline shows the message itself instead.
_MESSAGE_EVENT_KINDS = frozenset(
    {
        TicketEvent.Kind.REPLIED,
        TicketEvent.Kind.NOTE_ADDED,
        TicketEvent.Kind.CUSTOMER_MESSAGE,
    }
)


@dataclass
class TimelineEntry:
    """One row of the ticket timeline: a message (with its attachments) or an event."""

    kind: Literal["message", "event"]
    at: datetime
    message: Message | None = None
    event: TicketEvent | None = None
    first_response: bool = False
    sort_key: tuple[datetime, int, int] = field(init=False)

    def __post_init__(self) -> None:
        # At the same instant a message comes before the events its service wrote after it.
        item = self.message if self.kind == "message" else self.event
        pk = item.pk if item is not None else 0
        self.sort_key = (self.at, 0 if self.kind == "message" else 1, pk)


def ticket_timeline(ticket: Ticket) -> list[TimelineEntry]:
    """Messages and events of `ticket` merged in chronological order, in three queries.

    An event that merely records a message (reply, note, customer message) is folded into that
    message's entry; a reply that was the first response is flagged as such.
    """
    messages = list(
        Message.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
    )
    events = list(TicketEvent.objects.filter(ticket=ticket).select_related("actor"))
    message_ids = {m.pk for m in messages}
    first_responses: set[int] = set()
    entries = [TimelineEntry("message", m.created_at, message=m) for m in messages]
    for event in events:
        if event.kind in _MESSAGE_EVENT_KINDS and event.message_id in message_ids:
            if event.kind == TicketEvent.Kind.REPLIED and event.payload.get("first_response"):
                first_responses.add(event.message_id)
            continue
        entries.append(TimelineEntry("event", event.created_at, event=event))
    for entry in entries:
        if entry.message is not None and entry.message.pk in first_responses:
            entry.first_response = True
    entries.sort(key=lambda e: e.sort_key)
    return entries
