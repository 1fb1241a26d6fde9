"""Reads for the agent UI: the filtered ticket list, its keyset pages, and the ticket timeline.

Every read starts from `Ticket.objects.visible_to(user)`, the one visibility rule.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from django.db import connection
from django.db.models import (
    BooleanField,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.query import prefetch_related_objects
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from escalation.models import Escalation
from helpdesk import configcache
from mail.models import Participant
from notifications.models import Notification
from sla.models import ClockSegment
from sla.services import COLUMNS as SLA_COLUMNS
from sla.services import ClockView, clock_views

# The due-time expression and its stand-in live beside the model (an index holds them).
from tickets.models import NO_DEADLINE as NO_DEADLINE
from tickets.models import SLA_DUE as SLA_DUE
from tickets.models import (
    Attachment,
    Message,
    Service,
    SupportLevel,
    Team,
    Ticket,
    TicketEvent,
    headline,
)
from tickets.services import rights_annotations

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


class SlaFilter:
    """The SLA filter of the ticket list."""

    AT_RISK = "at_risk"
    BREACHED = "breached"
    CHOICES: tuple[tuple[str, StrOrPromise], ...] = (
        ("", _("Any SLA state")),
        (AT_RISK, _("At risk (warning passed)")),
        (BREACHED, _("Breached")),
    )


# Each sort is a total order: its last column is the primary key, so that keyset pagination
# can say exactly which row comes after another. `priority` sorts the most severe (Sev 1) first.
# `sla_due` is the annotation `SLA_DUE` (defined beside the model): the expression index
# `ticket_sla_due` holds it with the primary key, so a page of the due-soonest list walks that
# index in order and stops after `per_page` visible, matching tickets instead of sorting the
# whole visible queue (a lead's ~27,000 tickets at 100,000).
SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-pk"),
    "created": ("created_at", "pk"),
    "priority": ("priority", "-created_at", "-pk"),
    "-priority": ("-priority", "-created_at", "-pk"),
    "-updated": ("-updated_at", "-pk"),
    "updated": ("updated_at", "pk"),
    "due": ("sla_due", "pk"),
}
SORT_CHOICES: tuple[tuple[str, StrOrPromise], ...] = (
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("priority", _("Most severe first")),
    ("-priority", _("Least severe first")),
    ("-updated", _("Recently updated")),
    ("updated", _("Least recently updated")),
    ("due", _("Due soonest")),
)
DEFAULT_SORT = "-created"
_DATETIME_FIELDS = frozenset({"created_at", "updated_at", "sla_due"})

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
    service: int | None = None  # the affected service's pk
    q: str = ""
    sla: str = ""
    sort: str = DEFAULT_SORT
    unassigned: bool = False
    escalated: bool = False  # in an open escalation to the team that holds it now
    waiting: bool = False  # active, and the customer wrote after our last public reply


def sla_breached_q() -> Q:
    """Active tickets with a recorded breach of any target."""
    return Q(status__in=Ticket.ACTIVE_STATUSES) & (
        Q(first_response_breached_at__isnull=False)
        | Q(next_update_breached_at__isnull=False)
        | Q(resolution_breached_at__isnull=False)
    )


def sla_at_risk_q() -> Q:
    """Active tickets where the warning of a live target has passed and nothing is breached."""
    warned = (
        Q(first_response_warned_at__isnull=False, first_responded_at__isnull=True)
        | Q(next_update_warned_at__isnull=False, next_update_due_at__isnull=False)
        | Q(resolution_warned_at__isnull=False)
    )
    return Q(status__in=Ticket.ACTIVE_STATUSES) & warned & ~sla_breached_q()


class AmongIds(Func):
    """`expression` is one of the ids a subquery returns. On PostgreSQL
    `expression = ANY(ARRAY(subquery))`: the subquery runs once, first (an InitPlan), and the
    outer rows are fetched by primary key. A plain `IN (subquery)` leaves the planner to guess
    how many ids come back, and it guesses from no statistics (those of a partial expression
    index are not used) — a third of the active tickets — so it scans every active ticket."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, expression: Any, ids: QuerySet[Any]) -> None:
        super().__init__(expression, Subquery(ids.order_by()))

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)


def escalated_to_holder_q() -> Q:
    """Tickets in an open escalation (waiting for acknowledgement, or acknowledged) up or
    across to the team that holds them now. A hand-back down does not count."""
    open_escalations = Escalation.objects.filter(
        status__in=(Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED)
    ).exclude(kind=Escalation.Kind.DE_ESCALATION)
    # The open escalations are few and the tickets many: the ids of their tickets first (looked
    # up by key), then the team check on those rows only. As an EXISTS alone the planner read
    # every visible ticket (190 ms for a lead at 100,000 tickets, against 2 ms).
    return Q(AmongIds(F("pk"), open_escalations.values("ticket_id"))) & Q(
        Exists(open_escalations.filter(ticket_id=OuterRef("pk"), to_team_id=OuterRef("team_id")))
    )


def customer_answered_q() -> Q:
    """Active tickets whose latest message from outside is newer than our latest public
    reply (or that have no reply yet): the customer is waiting for us."""
    customer = Message.objects.filter(ticket_id=OuterRef("pk"), kind=Message.Kind.CUSTOMER)
    replied_after = Message.objects.filter(
        ticket_id=OuterRef(OuterRef("pk")),
        kind=Message.Kind.REPLY,
        created_at__gte=OuterRef("created_at"),
    )
    return Q(status__in=Ticket.ACTIVE_STATUSES) & Q(Exists(customer.filter(~Exists(replied_after))))


def ticket_filter_q(user: AbstractBaseUser | AnonymousUser, filters: TicketFilters) -> Q:
    """`filters` as one condition on the tickets `user` may see (`visible_to` is applied by the
    caller): the list filters with it, the saved views count with it (`view_counts`)."""
    cond = Q()
    if filters.scope == Scope.MINE:
        cond &= Q(assignee_id=user.pk)
    elif filters.scope == Scope.TEAMS:
        cond &= Q(team__in=Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk"))
    if filters.statuses:
        cond &= Q(status__in=filters.statuses)
    if filters.priority is not None:
        cond &= Q(priority=filters.priority)
    if filters.team is not None:
        cond &= Q(team=filters.team)
    if filters.level is not None:
        cond &= Q(level=filters.level)
    if filters.service is not None:
        cond &= Q(service_id=filters.service)
    if filters.sla == SlaFilter.AT_RISK:
        cond &= sla_at_risk_q()
    elif filters.sla == SlaFilter.BREACHED:
        cond &= sla_breached_q()
    if filters.unassigned:
        cond &= Q(assignee__isnull=True)
    if filters.escalated:
        cond &= escalated_to_holder_q()
    if filters.waiting:
        cond &= customer_answered_q()
    q = filters.q.strip()
    if q:
        cond &= (
            Q(reference__icontains=q)
            | Q(subject__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(description__icontains=q)
        )
    return cond


def ticket_list_filter(
    user: AbstractBaseUser | AnonymousUser, filters: TicketFilters
) -> QuerySet[Ticket]:
    """The tickets `user` may see that match `filters`, ordered by `filters.sort`, with what a
    list row shows joined in (one query, however many tickets)."""
    qs = (
        Ticket.objects.visible_to(user)
        .with_list_related()
        .select_related("service")
        .filter(ticket_filter_q(user, filters))
    )
    ordering = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    if "sla_due" in ordering:
        qs = qs.annotate(sla_due=SLA_DUE)
    return qs.order_by(*ordering)


@dataclass(frozen=True)
class ViewCount:
    """A view of the list (built in or saved) with the number of tickets it shows now."""

    key: str  # "builtin:<slug>" or "saved:<pk>"
    name: str
    query: str  # the list's query string that shows the view
    count: int
    capped: bool  # more than COUNT_CAP
    saved_pk: int | None = None


def view_counts(
    user: AbstractBaseUser | AnonymousUser,
    views: Sequence[tuple[str, str, str, TicketFilters, int | None]],
) -> list[ViewCount]:
    """How many tickets each of `views` (key, name, query string, filters, saved view's pk)
    shows `user`, capped at `COUNT_CAP` like the list's own total: one statement for all of
    them, however many views and tickets.

    Each count is a capped count over the view's own query (the same `visible_to` and
    `ticket_filter_q` as its list, so it matches the list), as one scalar subquery per view:
    each can use its own index and stops at `COUNT_CAP + 1` rows. One `COUNT(*) FILTER` per
    view over all visible tickets instead read every visible ticket on each list page (210 ms
    for an admin at 100,000 tickets)."""
    if not views:
        return []
    visible = Ticket.objects.visible_to(user)
    parts: list[str] = []
    params: list[Any] = []
    for i, (_key, _name, _query, filters, _pk) in enumerate(views):
        rows = visible.filter(ticket_filter_q(user, filters)).order_by().values("pk")
        sql, sql_params = rows[: COUNT_CAP + 1].query.sql_with_params()
        # Only SQL the ORM compiled goes into the text; the values travel as parameters.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS view{i})")  # noqa: S608
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        counts = {f"v{i}": n for i, n in enumerate(cursor.fetchone())}
    result = []
    for i, (key, name, query, _filters, pk) in enumerate(views):
        n = counts[f"v{i}"]
        result.append(
            ViewCount(
                key=key,
                name=name,
                query=query,
                count=min(n, COUNT_CAP),
                capped=n > COUNT_CAP,
                saved_pk=pk,
            )
        )
    return result


@dataclass(frozen=True)
class TicketPage:
    """One page of the list, with cursors for its neighbours (None when there is none)."""

    tickets: list[Ticket]
    next_cursor: str | None
    prev_cursor: str | None
    total: int
    total_capped: bool
    first: int = 1  # the position of the page's first row in the whole list (1-based)

    @property
    def last(self) -> int:
        return self.first + len(self.tickets) - 1


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
    by hand, from another sort, or holding an instant or id outside what the columns can
    hold) simply gives the first page.
    """
    ordering = SORTS.get(sort, SORTS[DEFAULT_SORT])
    count = qs.order_by()[: COUNT_CAP + 1].count()

    reverse = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in ordering)

    def page(rows: list[Ticket], *, has_next: bool, has_prev: bool) -> TicketPage:
        before = 0
        if has_prev and rows:
            # Where the page starts: one more capped count, over the same index as the page.
            first_values = [getattr(rows[0], f.lstrip("-")) for f in ordering]
            before = qs.filter(_seek(reverse, first_values)).order_by()[:COUNT_CAP].count()
        return TicketPage(
            tickets=rows,
            next_cursor=_encode_cursor(rows[-1], sort) if has_next and rows else None,
            prev_cursor=_encode_cursor(rows[0], sort) if has_prev and rows else None,
            total=min(count, COUNT_CAP),
            total_capped=count > COUNT_CAP,
            first=before + 1,
        )

    if before and (values := _decode_cursor(before, sort)) is not None:
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


_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


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
                # An instant that UTC cannot hold (9999-12-31T23:59-12:00, year 1 at +14:00)
                # overflows where the database adapter converts it: not a cursor we made.
                parsed = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
            except (ValueError, OverflowError):
                return None
            if parsed is None:
                return None
            values.append(parsed)
        elif isinstance(value, int) and not isinstance(value, bool):
            if not _BIGINT_MIN <= value <= _BIGINT_MAX:
                return None  # beyond the integer columns (ids, priorities): not a cursor of ours
            values.append(value)
        else:
            return None
    return values


def filter_teams() -> QuerySet[Team]:
    """Teams offered by the list's team filter."""
    return Team.objects.select_related("level").order_by("level__rank", "name")


def filter_levels() -> QuerySet[SupportLevel]:
    """Levels offered by the list's level filter."""
    return SupportLevel.objects.order_by("rank")


def active_services() -> list[Service]:
    """The active services, by name: the choices of a ticket's affected service. Read once per
    process until a service changes (`helpdesk.configcache`, watched in `TicketsConfig.ready`);
    the instances are shared, so callers only read them."""
    return configcache.cached(
        "tickets.active_services", lambda: list(Service.objects.filter(is_active=True))
    )


def filter_services() -> QuerySet[Service]:
    """Services offered by the list's service filter: inactive ones too, since older
    tickets still name them."""
    return Service.objects.order_by("name")


# --- SLA badges -------------------------------------------------------------------------------


class SlaState:
    """The colour-coded states of an SLA badge (the same words as `ClockView.state`)."""

    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    STOPPED = "stopped"


# Most urgent first: which live target a ticket's one badge speaks for.
_URGENCY = {SlaState.BREACHED: 0, SlaState.WARNING: 1, SlaState.RUNNING: 2, SlaState.PAUSED: 3}
_TARGET_LABELS = dict(ClockSegment.Target.choices)


@dataclass(frozen=True)
class SlaBadge:
    """The most urgent live SLA target of a ticket, as one badge.

    `remaining` is signed (negative once overdue). On lists it is wall-clock time to `due_at`
    (`business` False); on the ticket page it is the clock's business time (`business` True).
    `due_at` is None while the clock is paused: nobody can say yet when it will be due.
    """

    state: str
    target: str
    due_at: datetime | None
    remaining: timedelta | None
    business: bool = False
    paused_since: datetime | None = None
    breached_before: tuple[str, ...] = ()  # targets breached earlier that are no longer live

    @property
    def label(self) -> str:
        return str(_TARGET_LABELS.get(self.target, self.target))

    @property
    def overdue(self) -> bool:
        return self.remaining is not None and self.remaining < timedelta(0)

    @property
    def breached_before_labels(self) -> list[str]:
        return [str(_TARGET_LABELS.get(t, t)) for t in self.breached_before]


def sla_badge(ticket: Ticket, now: datetime) -> SlaBadge | None:
    """The list badge of `ticket`, from its denormalised SLA columns only (no query).

    A target is live while unmet: a first response until it is sent, a status update or the
    resolution while their deadline column is set. Lateness is read from the instants (the
    deadline or warning has passed) as well as the recorded flags, so the badge does not wait
    for the next sweep. None for inactive tickets and tickets without SLA deadlines.
    """
    if not ticket.is_active:
        return None
    candidates: list[tuple[int, datetime, str]] = []
    breached_before = []
    for name, (due_col, warn_col, warned_col, breached_col) in SLA_COLUMNS.items():
        due: datetime | None = getattr(ticket, due_col)
        live = due is not None and not (
            name == ClockSegment.Target.FIRST_RESPONSE and ticket.first_responded_at is not None
        )
        if not live:
            if getattr(ticket, breached_col) is not None:
                breached_before.append(name)
            continue
        assert due is not None
        warning: datetime | None = getattr(ticket, warn_col)
        if getattr(ticket, breached_col) is not None or due <= now:
            state = SlaState.BREACHED
        elif getattr(ticket, warned_col) is not None or (warning is not None and warning <= now):
            state = SlaState.WARNING
        else:
            state = SlaState.RUNNING
        candidates.append((_URGENCY[state], due, name))
    if candidates:
        rank, due, name = min(candidates)
        state = next(s for s, r in _URGENCY.items() if r == rank)
        if ticket.sla_paused_at is None or state == SlaState.BREACHED:
            return SlaBadge(
                state=state,
                target=name,
                due_at=due,
                remaining=due - now,
                paused_since=ticket.sla_paused_at,
                breached_before=tuple(breached_before),
            )
    if ticket.sla_paused_at is not None:
        return SlaBadge(
            state=SlaState.PAUSED,
            target=ClockSegment.Target.RESOLUTION,
            due_at=None,
            remaining=None,
            paused_since=ticket.sla_paused_at,
            breached_before=tuple(breached_before),
        )
    return None


# --- One ticket -------------------------------------------------------------------------------


# What other apps' panels on the ticket page need to know, read with the ticket in its one
# query (`ticket_for_user`) instead of in queries of their own: name -> a function of the
# reader returning the annotation. Registered in the apps' `ready` (tickets never imports them).
_page_annotations: dict[str, Callable[[AbstractBaseUser | AnonymousUser], Any]] = {}


def register_page_annotation(
    name: str, annotation: Callable[[AbstractBaseUser | AnonymousUser], Any]
) -> None:
    """Have `ticket_for_user` annotate its ticket with `name`, the expression that
    `annotation(user)` returns for the reader (an `Exists`, usually)."""
    _page_annotations[name] = annotation


def ticket_for_user(user: AbstractBaseUser | AnonymousUser, reference: str) -> Ticket:
    """The ticket `reference` if `user` may see it; Http404 otherwise (never 403, so that the
    existence of other teams' tickets does not leak). Annotated with what the page shows
    beside it (`register_page_annotation`)."""
    if "\x00" in reference:
        # A reference from a form or query string (the URL converter allows no NUL):
        # PostgreSQL cannot even compare a string with NUL, so no such ticket.
        raise Http404(_("No such ticket."))
    try:
        return (
            Ticket.objects.visible_to(user)
            .select_related(
                "team__lead",
                "team__escalates_to__level",
                "level",
                "assignee",
                "customer",
                "requester",  # who a public reply is emailed to (the reply box says)
                "created_by",
                "sla_policy__calendar",
            )
            # The page's Follow/Unfollow button, whether opening the page has unread
            # notifications to mark read, and whether it has a CC card or files to read,
            # without queries of their own.
            .annotate(
                has_ccs=Exists(Participant.objects.filter(ticket_id=OuterRef("pk"))),
                has_attachments=Exists(Attachment.objects.filter(ticket_id=OuterRef("pk"))),
                followed_by_user=Exists(
                    Ticket.watchers.through.objects.filter(
                        ticket_id=OuterRef("pk"), user_id=user.pk
                    )
                ),
                unread_for_user=Exists(
                    Notification.objects.filter(
                        ticket_id=OuterRef("pk"), user_id=user.pk, read_at__isnull=True
                    )
                ),
                # What the reader may do on it (`services.ticket_rights` reads these).
                **rights_annotations(user),
                **{name: annotation(user) for name, annotation in _page_annotations.items()},
            )
            .get(reference=reference)
        )
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None


_CARD_RELATED = ("team__lead", "level", "assignee", "customer")


def ticket_card_for_user(user: AbstractBaseUser | AnonymousUser, reference: str) -> Ticket:
    """The ticket `reference` for its ownership card, if `user` may look it up
    (`findable_by`: every agent); Http404 otherwise. The caller shows only the card's fields."""
    try:
        return (
            Ticket.objects.findable_by(user).select_related(*_CARD_RELATED).get(reference=reference)
        )
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None


# Search results beyond the visible tickets show at most this many ownership cards.
CARD_LIMIT = 20


def ticket_cards(user: AbstractBaseUser | AnonymousUser, q: str) -> list[Ticket]:
    """Tickets found by reference or customer that `user` may not read but may look up: their
    ownership cards for the list's search (one query). Subject and description are content,
    so they are not searched here."""
    q = q.strip()
    if not q:
        return []
    return list(
        Ticket.objects.findable_by(user)
        .exclude(pk__in=Ticket.objects.visible_to(user).values("pk"))
        .filter(Q(reference__icontains=q) | Q(customer__name__icontains=q))
        .select_related(*_CARD_RELATED)
        .order_by("-created_at", "-pk")[:CARD_LIMIT]
    )


def is_following(ticket: Ticket, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether `user` follows `ticket`; read from `ticket_for_user`'s annotation when the
    ticket came from there (no query), asked otherwise."""
    known = getattr(ticket, "followed_by_user", None)
    if known is not None:
        return bool(known)
    return ticket.watchers.filter(pk=user.pk).exists()


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


# Events that open an action of their own on the timeline (the rest of an action's events
# fold under them).
_ACTION_KINDS = frozenset(
    {TicketEvent.Kind.CREATED, TicketEvent.Kind.ESCALATED, TicketEvent.Kind.DE_ESCALATED}
)


@dataclass
class TimelineEntry:
    """One row of the ticket timeline: a message (with its attachments) or an action.

    An action is the events one service call wrote together (same actor, same instant): `event`
    is the one that names it (`tickets.services.headline`), `parts` the others, which the page
    folds into a `<details>` element. The audit trail keeps every event; only the display
    groups them.
    """

    kind: Literal["message", "event"]
    at: datetime
    message: Message | None = None
    event: TicketEvent | None = None
    first_response: bool = False
    parts: list[TicketEvent] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)  # a message's files
    sort_key: tuple[datetime, int, int] = field(init=False)

    def __post_init__(self) -> None:
        # At the same instant a message comes before the events its service wrote after it.
        item = self.message if self.kind == "message" else self.event
        pk = item.pk if item is not None else 0
        self.sort_key = (self.at, 0 if self.kind == "message" else 1, pk)


@dataclass(frozen=True)
class Timeline:
    """The timeline of a ticket page and the files uploaded with the ticket itself."""

    entries: list[TimelineEntry]
    loose_attachments: list[Attachment]


def ticket_timeline(ticket: Ticket) -> list[TimelineEntry]:
    """Messages and events of `ticket` merged in chronological order, in three queries.

    An event that merely records a message (reply, note, customer message) is folded into that
    message's entry; a reply that was the first response is flagged as such.
    """
    return ticket_page_timeline(ticket).entries


def ticket_page_timeline(ticket: Ticket) -> Timeline:
    """`ticket_timeline`, and the attachments uploaded with the ticket rather than with a
    message, in three queries (two for a ticket from `ticket_for_user` without files): every
    attachment of the ticket is read once and handed to its message
    (`TimelineEntry.attachments`) or to `loose_attachments`."""
    messages = list(Message.objects.filter(ticket=ticket).select_related("author"))
    files: dict[int | None, list[Attachment]] = {}
    # No query for a ticket read by `ticket_for_user` that has no files.
    if getattr(ticket, "has_attachments", True):
        for attachment in Attachment.objects.filter(ticket=ticket).order_by("pk"):
            files.setdefault(attachment.message_id, []).append(attachment)
    events = list(TicketEvent.objects.filter(ticket=ticket).select_related("actor"))
    message_ids = {m.pk for m in messages}
    first_responses: set[int] = set()
    entries = [
        TimelineEntry("message", m.created_at, message=m, attachments=files.get(m.pk, []))
        for m in messages
    ]
    # One service call writes its events with one actor and one instant; a rule that climbs
    # two levels at once writes two escalations then, each opening an action of its own.
    actions: list[list[TicketEvent]] = []
    current: dict[tuple[datetime, int | None], list[TicketEvent]] = {}
    for event in events:
        if event.kind in _MESSAGE_EVENT_KINDS and event.message_id in message_ids:
            if event.kind == TicketEvent.Kind.REPLIED and event.payload.get("first_response"):
                first_responses.add(event.message_id)
            continue
        key = (event.created_at, event.actor_id)
        group = current.get(key)
        opens = event.kind in _ACTION_KINDS
        if group is None or (opens and any(e.kind in _ACTION_KINDS for e in group)):
            group = current[key] = []
            actions.append(group)
        group.append(event)
    for group in actions:
        main = headline(group)
        parts = [e for e in group if e is not main]
        entries.append(TimelineEntry("event", main.created_at, event=main, parts=parts))
    for entry in entries:
        if entry.message is not None and entry.message.pk in first_responses:
            entry.first_response = True
    entries.sort(key=lambda e: e.sort_key)
    return Timeline(entries=entries, loose_attachments=files.get(None, []))


# --- The ticket page: SLA and escalations -----------------------------------------------------


@dataclass(frozen=True)
class SlaTargetRow:
    """One target of the SLA panel: its clock view, and the deadline to show. A target that
    stopped (met, or the ticket resolved) has no running deadline any more; the one it had
    is kept on the ticket for the record."""

    view: ClockView
    due_at: datetime | None


@dataclass(frozen=True)
class SlaPanel:
    """The SLA panel of the ticket page: the policy, each target's clock, the header badge."""

    policy_name: str
    targets: list[SlaTargetRow]
    badge: SlaBadge | None
    paused_since: datetime | None


def _badge_from_views(views: Sequence[ClockView], paused_since: datetime | None) -> SlaBadge | None:
    live = [v for v in views if v.live and v.state in _URGENCY]
    if not live:
        return None

    def urgency(view: ClockView) -> tuple[int, timedelta]:
        return (_URGENCY[view.state], view.clock.remaining)

    view = min(live, key=urgency)
    return SlaBadge(
        state=view.state,
        target=view.target,
        due_at=view.clock.due_at,
        remaining=view.clock.remaining,
        business=True,
        paused_since=paused_since,
    )


def ticket_sla(ticket: Ticket, now: datetime) -> SlaPanel | None:
    """Every SLA target of `ticket` with its clock and segments (`sla.services.clock_views`),
    in a fixed number of queries; None when no policy governs the ticket."""
    if ticket.sla_policy_id is None:
        return None
    prefetch_related_objects(
        [ticket],
        Prefetch("clock_segments", queryset=ClockSegment.objects.order_by("started_at", "pk")),
        "sla_policy__targets",
    )
    views = clock_views(ticket, now)
    if not views:
        return None
    assert ticket.sla_policy is not None
    rows = []
    for view in views:
        due = view.clock.due_at
        if due is None and view.state in (SlaState.MET, SlaState.STOPPED, SlaState.BREACHED):
            due = getattr(ticket, SLA_COLUMNS[view.target][0])
        rows.append(SlaTargetRow(view=view, due_at=due))
    return SlaPanel(
        policy_name=ticket.sla_policy.display_name,
        targets=rows,
        badge=_badge_from_views(views, ticket.sla_paused_at),
        paused_since=ticket.sla_paused_at,
    )


_ESCALATION_RELATED = (
    "from_team",
    "to_team__lead",
    "from_level",
    "to_level",
    "raised_by",
    "acknowledged_by",
    "rule",
)


def ticket_escalations(ticket: Ticket) -> list[Escalation]:
    """All escalations of `ticket`, newest first, with what the page shows (one query)."""
    return list(
        Escalation.objects.filter(ticket=ticket)
        .select_related(*_ESCALATION_RELATED)
        .order_by("-raised_at", "-pk")
    )


def current_escalation(ticket: Ticket, escalations: Sequence[Escalation]) -> Escalation | None:
    """The escalation that brought the ticket to its current team and is still open (waiting
    for acknowledgement, or acknowledged), if any."""
    live = {Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED}
    return next(
        (e for e in escalations if e.status in live and e.to_team_id == ticket.team_id), None
    )


def is_escalated(ticket: Ticket, escalations: Sequence[Escalation]) -> bool:
    """`notifications.selectors.is_escalated` read from the ticket's loaded escalations (no
    query): a major incident, or an escalation up or across that is open or acknowledged."""
    live = {Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED}
    return ticket.is_major_incident or any(
        e.status in live and e.kind != Escalation.Kind.DE_ESCALATION for e in escalations
    )


# --- The escalation overview ------------------------------------------------------------------

# Each list of the overview shows at most this many rows (the oldest waiting ones first).
OVERVIEW_LIMIT = 200


@dataclass(frozen=True)
class EscalationOverview:
    waiting: list[Escalation]
    waiting_capped: bool
    acknowledged: list[Escalation]
    acknowledged_capped: bool


def escalation_overview(
    user: AbstractBaseUser | AnonymousUser,
    *,
    team: Team | None = None,
    level: SupportLevel | None = None,
    limit: int = OVERVIEW_LIMIT,
) -> EscalationOverview:
    """Open escalations of the tickets `user` may look up (every agent: the overview says who
    owns what, `findable_by`): those waiting for acknowledgement (the
    most urgent deadline first) and those acknowledged (the latest first), optionally only
    those to `team` or `level`. Two queries, however many rows. Hand-backs (de-escalations)
    are not listed: nobody has to acknowledge them."""
    qs = (
        Escalation.objects.filter(ticket__in=Ticket.objects.findable_by(user).values("pk"))
        .exclude(kind=Escalation.Kind.DE_ESCALATION)
        .select_related(
            *_ESCALATION_RELATED,
            "ticket__team",
            "ticket__level",
            "ticket__assignee",
            "ticket__customer",
        )
    )
    if team is not None:
        qs = qs.filter(to_team=team)
    if level is not None:
        qs = qs.filter(to_level=level)
    waiting = list(
        qs.filter(status=Escalation.Status.RAISED).order_by(
            F("ack_due_at").asc(nulls_last=True), "raised_at", "pk"
        )[: limit + 1]
    )
    acknowledged = list(
        qs.filter(status=Escalation.Status.ACKNOWLEDGED).order_by("-acknowledged_at", "-pk")[
            : limit + 1
        ]
    )
    return EscalationOverview(
        waiting=waiting[:limit],
        waiting_capped=len(waiting) > limit,
        acknowledged=acknowledged[:limit],
        acknowledged_capped=len(acknowledged) > limit,
    )
