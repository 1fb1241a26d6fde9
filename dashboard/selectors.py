"""The reads of the escalation dashboard: what needs a human now, what is at risk or breached,
the load per level, team and agent. Every function takes the tickets the reader may watch
(`scope`) and the filters of the query string, and costs a fixed number of queries whatever the
number of tickets: lists are capped, counts are `Count(filter=Q(...))` aggregates in SQL.

Lateness is read from the denormalised SLA instants as well as the recorded flags (like the
list badge, `tickets.selectors.sla_badge`), so a ticket moves from "at risk" to "breached" on
the dashboard when its deadline passes, not only after the next sweep recorded it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Count,
    DateTimeField,
    F,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from escalation.models import Escalation
from sla.clock import business_time_between
from sla.services import calendar_spec
from tickets.models import (
    SLA_ATTENTION_AT,
    SLA_FLAGGED,
    Customer,
    Service,
    SupportLevel,
    Team,
    Ticket,
    agent_teams,
)
from tickets.selectors import NO_DEADLINE, SLA_DUE, AmongIds

# Each list on the dashboard shows at most this many rows, the most urgent first; the counts
# above them are exact and each list says how many more there are. A lead acts on the top of a
# list, and rendering rows (each with its forms and countdowns) is the page's main cost: at 25
# rows a list took about twice the time of the rest of its section.
LIST_LIMIT = 10


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's query string, parsed (`dashboard.forms.DashboardFilterForm`)."""

    team: Team | None = None
    level: SupportLevel | None = None
    priority: int | None = None
    tier: str = ""
    service: Service | None = None

    def narrow(self, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.team is not None:
            tickets = tickets.filter(team=self.team)
        if self.level is not None:
            tickets = tickets.filter(level=self.level)
        if self.priority is not None:
            tickets = tickets.filter(priority=self.priority)
        if self.tier in Customer.Tier.values:
            tickets = tickets.filter(customer__tier=self.tier)
        if self.service is not None:
            tickets = tickets.filter(service=self.service)
        return tickets


def sees_everything(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active) and (
        user.is_superuser or user.has_perm("tickets.view_all_tickets")
    )


def dashboard_tickets(
    user: AbstractBaseUser | AnonymousUser, filters: DashboardFilters
) -> QuerySet[Ticket]:
    """The tickets the dashboard counts for `user`: admins every ticket; agents the tickets of
    the teams they work in; leads also every ticket on the levels of the teams they lead —
    always within `visible_to`, so a dashboard never shows what the ticket list would not (a
    lead sees another team's tickets on their level where they may read them, e.g. with
    `tickets.view_all_tickets`). The trends count with it; the live sections use the same
    scope resolved once per request (`DashboardScope`)."""
    tickets = Ticket.objects.visible_to(user)
    if not sees_everything(user):
        tickets = tickets.filter(
            Q(team_id__in=agent_teams(user).values("pk"))
            | Q(level_id__in=Team.objects.filter(lead_id=user.pk).values("level_id"))
        )
    return filters.narrow(tickets)


class DashboardScope:
    """`dashboard_tickets` for the live sections, resolved once per request and shared by them:
    the reader's teams (one query) and, for a lead, the ids of the tickets on their levels
    outside their teams that `visible_to` lets them read (one query). Every section then
    narrows by `team_id IN (…) OR id IN (…)` instead of building and compiling the visibility
    predicate (team membership, assignee, creator, watcher, former holder) in each statement.

    Exact for what the live sections read: active tickets, and tickets escalated since the
    local midnight of `now` (the load's "escalated in today"); the other tickets outside the
    reader's teams (a lead's history on their levels) are left out of `tickets()`, which is
    why the trends count with `dashboard_tickets` itself."""

    def __init__(self, user: AbstractBaseUser, now: dt.datetime) -> None:
        self.user = user
        self.now = now
        self._late_counts: dict[DashboardFilters, list[dict[str, Any]]] = {}

    @cached_property
    def everything(self) -> bool:
        return sees_everything(self.user)

    @cached_property
    def teams(self) -> dict[int, Team]:
        """The teams the reader works in (member or lead), by id."""
        return {t.pk: t for t in agent_teams(self.user).distinct()}

    @cached_property
    def extra_ids(self) -> list[int]:
        """The tickets on the levels of the teams the reader leads, outside the reader's teams,
        that they may read (`visible_to`), active or escalated today."""
        led_levels = {t.level_id for t in self.teams.values() if t.lead_id == self.user.pk}
        if self.everything or not led_levels:
            return []
        escalated_today = Escalation.objects.filter(raised_at__gte=local_midnight(self.now))
        # The other teams by key (an array, not NOT IN): with the level, the active ones are a
        # range of `ticket_active_load` per team, OR-ed with today's escalated ones by key
        # (0.7 ms at 100,000 tickets, where excluding the reader's teams read every ticket on
        # the level: 17 ms). `visible_to` then decides on those few rows.
        others = Team.objects.exclude(pk__in=self.teams).values("pk")
        readable = (
            Ticket.objects.visible_to(self.user)
            .filter(AmongIds(F("team_id"), others), level_id__in=led_levels)
            .filter(
                Q(status__in=Ticket.ACTIVE_STATUSES)
                | AmongIds(F("pk"), escalated_today.values("ticket_id"))
            )
        )
        return list(readable.order_by().values_list("pk", flat=True))

    def tickets(self, filters: DashboardFilters) -> QuerySet[Ticket]:
        """The reader's tickets, narrowed by `filters` (see the class for which)."""
        if self.everything:
            return filters.narrow(Ticket.objects.all())
        mine = Q(team_id__in=list(self.teams))
        if self.extra_ids:
            mine |= Q(pk__in=self.extra_ids)
        return filters.narrow(Ticket.objects.filter(mine))

    def late_counts(self, filters: DashboardFilters) -> list[dict[str, Any]]:
        """`late_counts` of the reader's tickets, counted once per request and filters."""
        if filters not in self._late_counts:
            self._late_counts[filters] = late_counts(self.tickets(filters), self.now)
        return self._late_counts[filters]


def scope_of(
    user: AbstractBaseUser, now: dt.datetime, scope: DashboardScope | None
) -> DashboardScope:
    """`scope` if the caller resolved it already (the whole page shares one), else a new one."""
    return scope if scope is not None else DashboardScope(user, now)


def escalations_of(
    tickets: QuerySet[Ticket], among: QuerySet[Escalation] | None = None
) -> QuerySet[Escalation]:
    """Escalations (up or across, not hand-backs) of `tickets`, out of `among` (all by
    default). The escalations are few and the tickets many, so the database starts from the
    escalations: the ids of their tickets, those of them in `tickets` (looked up by key), then
    the escalations of those — three index lookups (`AmongIds`), where a join or an EXISTS let
    the planner read every active ticket to match a few hundred escalations."""
    escalations = (Escalation.objects.all() if among is None else among).exclude(
        kind=Escalation.Kind.DE_ESCALATION
    )
    held = tickets.filter(AmongIds(F("pk"), escalations.values("ticket_id")))
    return escalations.filter(AmongIds(F("ticket_id"), held.values("pk")))


def first_rows(rows: QuerySet[Any], *ordering: Any, **annotations: Any) -> QuerySet[Any]:
    """The first `LIST_LIMIT` of `rows` in `ordering`, as a queryset of their model that the
    caller joins what the list shows to (`select_related`). The order and the limit are
    decided on the narrow rows first, in a subquery; only the chosen rows are joined, not the
    thousands of candidates (the database would otherwise join every at-risk ticket to its
    team, level, assignee and policy before sorting them)."""
    chosen = rows.annotate(**annotations).order_by(*ordering).values("pk")[:LIST_LIMIT]
    return (
        rows.model.objects.filter(pk__in=Subquery(chosen))
        .annotate(**annotations)
        .order_by(*ordering)
    )


# --- Lateness as SQL ---------------------------------------------------------------------------

_FIRST_RESPONSE_LIVE = Q(first_responded_at__isnull=True, first_response_due_at__isnull=False)


def sla_candidate_ids(now: dt.datetime) -> QuerySet[Any]:
    """The ids of the active tickets that can be at risk or breached at `now`: their first
    SLA instant has passed (a range of the partial index `ticket_sla_attention`), or a warning
    or breach is on record (the partial index `ticket_sla_flagged`). Two index scans appended:
    as one condition joined by OR, the planner reads the whole of the first index instead."""
    active = Ticket.objects.filter(status__in=Ticket.ACTIVE_STATUSES).order_by()
    due = active.alias(sla_attention_at=SLA_ATTENTION_AT).filter(sla_attention_at__lte=now)
    return due.values("pk").union(active.filter(SLA_FLAGGED).values("pk"), all=True)


def sla_candidates(tickets: QuerySet[Ticket], now: dt.datetime) -> QuerySet[Ticket]:
    """`tickets` narrowed to those that can be at risk or breached at `now`
    (`sla_candidate_ids`). Implied by `at_risk_q` and `breached_q`, so the exact conditions are
    checked on a few thousand candidates instead of every active ticket."""
    return tickets.filter(AmongIds(F("pk"), sla_candidate_ids(now)))


def late_counts(tickets: QuerySet[Ticket], now: dt.datetime) -> list[dict[str, Any]]:
    """Per team, level and assignee of `tickets`: how many are at risk and breached at `now`.
    One statement over the SLA candidates that two sections share: the load's cells, and the
    counts of the at-risk and breached lists (sums of these rows), which scanned the same rows
    on their own."""
    return list(
        sla_candidates(tickets, now)
        .values("team_id", "level_id", "assignee_id")
        .annotate(
            at_risk=Count("pk", filter=at_risk_q(now)),
            breached=Count("pk", filter=breached_q(now)),
        )
        .order_by()
    )


def breached_q(now: dt.datetime) -> Q:
    """Active tickets with a breach recorded on any target, or a live deadline passed."""
    return Q(status__in=Ticket.ACTIVE_STATUSES) & (
        Q(first_response_breached_at__isnull=False)
        | Q(next_update_breached_at__isnull=False)
        | Q(resolution_breached_at__isnull=False)
        | (_FIRST_RESPONSE_LIVE & Q(first_response_due_at__lte=now))
        | Q(next_update_due_at__lte=now)
        | Q(resolution_due_at__lte=now)
    )


def at_risk_q(now: dt.datetime) -> Q:
    """Active tickets past the warning of a live target, and not breached."""
    warned = (
        (
            _FIRST_RESPONSE_LIVE
            & (Q(first_response_warning_at__lte=now) | Q(first_response_warned_at__isnull=False))
        )
        | (
            Q(next_update_due_at__isnull=False)
            & (Q(next_update_warning_at__lte=now) | Q(next_update_warned_at__isnull=False))
        )
        | (
            Q(resolution_due_at__isnull=False)
            & (Q(resolution_warning_at__lte=now) | Q(resolution_warned_at__isnull=False))
        )
    )
    return Q(status__in=Ticket.ACTIVE_STATUSES) & warned & ~breached_q(now)


_NEVER = Value(NO_DEADLINE, output_field=DateTimeField())
# When the ticket first broke a target: the earliest recorded breach, else the earliest live
# deadline that has passed (the sweep has not recorded it yet).
FIRST_BREACH = Least(
    Coalesce(F("first_response_breached_at"), _NEVER),
    Coalesce(F("next_update_breached_at"), _NEVER),
    Coalesce(F("resolution_breached_at"), _NEVER),
    SLA_DUE,
)


# --- What needs a human now ---------------------------------------------------------------------


@dataclass
class Waiting:
    """An escalation waiting for acknowledgement, as a dashboard row."""

    escalation: Escalation
    age: dt.timedelta
    remaining: dt.timedelta | None  # until the acknowledgement deadline; negative: overdue
    can_ack: bool = False
    members: list[Any] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.remaining is not None and self.remaining < dt.timedelta(0)


@dataclass(frozen=True)
class Pinned:
    """Something another app pins to the top of "needs a human now" (major incidents): the
    template that renders it and its context."""

    template: str
    context: dict[str, Any]


PinnedSource = Callable[[AbstractBaseUser, DashboardFilters, dt.datetime], list[Pinned]]
_pinned_sources: list[PinnedSource] = []
# The escalation's long texts: the dashboard row shows who, where to and when, not the package.
PACKAGE_TEXT = (*Escalation.PACKAGE_FIELDS, "package_facts", "reason_facts")


def register_pinned_source(source: PinnedSource) -> None:
    """Register a source of pinned items (called from an app's `AppConfig.ready`), so the
    dashboard shows them first without importing the app that provides them."""
    if source not in _pinned_sources:
        _pinned_sources.append(source)


@dataclass(frozen=True)
class HeaderAction:
    """A link another app puts beside the dashboard's title (major incidents: "Declare a major
    incident"), for the users it is meant for. `label` is translated when the page is built."""

    label: str
    url: str


HeaderActionSource = Callable[[AbstractBaseUser], list[HeaderAction]]
_header_action_sources: list[HeaderActionSource] = []


def register_header_action_source(source: HeaderActionSource) -> None:
    """Register a source of links beside the dashboard's title (called from an app's
    `AppConfig.ready`), so the dashboard offers them without importing that app."""
    if source not in _header_action_sources:
        _header_action_sources.append(source)


def header_actions(user: AbstractBaseUser) -> list[HeaderAction]:
    return [action for source in _header_action_sources for action in source(user)]


def pinned_items(
    user: AbstractBaseUser, filters: DashboardFilters, now: dt.datetime
) -> list[Pinned]:
    return [item for source in _pinned_sources for item in source(user, filters, now)]


@dataclass
class NeedsHuman:
    waiting: list[Waiting]
    waiting_total: int
    waiting_overdue: int
    update_overdue: list[Ticket]
    update_overdue_total: int
    pinned: list[Pinned]

    @property
    def waiting_more(self) -> int:
        """Waiting escalations not shown (below the first `LIST_LIMIT`)."""
        return self.waiting_total - len(self.waiting)

    @property
    def update_more(self) -> int:
        return self.update_overdue_total - len(self.update_overdue)


def needs_human(
    user: AbstractBaseUser,
    filters: DashboardFilters,
    now: dt.datetime,
    *,
    scope: DashboardScope | None = None,
) -> NeedsHuman:
    """Escalations waiting for acknowledgement (the earliest deadline first, so the overdue
    ones are on top) with what the user may do about them, and tickets whose next status
    update is overdue. Five queries (and the pinned sources' own, and the scope's)."""
    scope = scope_of(user, now, scope)
    tickets = scope.tickets(filters).filter(status__in=Ticket.ACTIVE_STATUSES)
    raised = escalations_of(tickets, Escalation.objects.filter(status=Escalation.Status.RAISED))
    totals = raised.aggregate(total=Count("pk"), overdue=Count("pk", filter=Q(ack_due_at__lt=now)))
    rows = list(
        first_rows(raised, F("ack_due_at").asc(nulls_last=True), "raised_at", "pk")
        .select_related("ticket", "from_team", "to_team", "to_level")
        .defer(*(f"ticket__{name}" for name in UNSHOWN), *PACKAGE_TEXT)
    )
    waiting = [
        Waiting(
            escalation=e,
            age=now - e.raised_at,
            remaining=(e.ack_due_at - now) if e.ack_due_at else None,
        )
        for e in rows
    ]
    offer_acknowledgement(user, waiting, teams=scope.teams)
    late_update = sla_candidates(tickets, now).filter(next_update_due_at__lte=now)
    update_rows = list(
        first_rows(late_update, "next_update_due_at", "pk")
        .select_related("team", "level", "assignee")
        .defer(*UNSHOWN)
    )
    return NeedsHuman(
        waiting=waiting,
        waiting_total=totals["total"],
        waiting_overdue=totals["overdue"],
        update_overdue=update_rows,
        # Counted always, not only when the list is full: the same statements whatever the data.
        update_overdue_total=late_update.count(),
        pinned=pinned_items(user, filters, now),
    )


def offer_acknowledgement(
    user: AbstractBaseUser, waiting: list[Waiting], *, teams: dict[int, Team] | None = None
) -> None:
    """Mark the rows `user` may acknowledge (members and the lead of the receiving team, and
    admins: `escalation.services.can_acknowledge`) and, where they lead the receiving team, the
    members they may assign the ticket to. `teams`: the user's teams by id, if read already.
    At most two queries for the whole list, not one per row."""
    if teams is None:
        teams = {t.pk: t for t in agent_teams(user).distinct()}
    led = {pk for pk, t in teams.items() if t.lead_id == user.pk}
    if user.is_superuser:
        led = {w.escalation.to_team_id for w in waiting}
    members: dict[int, list[Any]] = defaultdict(list)
    if led:
        through = Team.members.through.objects.filter(team_id__in=led, user__is_active=True)
        for row in through.select_related("user").order_by("user__username"):
            if row.user_id != user.pk:
                members[row.team_id].append(row.user)
    for row in waiting:
        row.can_ack = user.is_superuser or row.escalation.to_team_id in teams
        row.members = members.get(row.escalation.to_team_id, [])


# --- At risk and breached ----------------------------------------------------------------------


# Long columns no dashboard row shows.
UNSHOWN = ("description", "risk_reasons")


@dataclass
class LateRow:
    """A ticket at risk (with the business time left until its next deadline) or breached
    (with when it first broke a target)."""

    ticket: Ticket
    due_at: dt.datetime | None
    business_left: dt.timedelta | None = None
    breached_at: dt.datetime | None = None


@dataclass
class Lateness:
    at_risk: list[LateRow]
    at_risk_total: int
    breached: list[LateRow]
    breached_total: int

    @property
    def at_risk_more(self) -> int:
        """Tickets at risk not shown (below the first `LIST_LIMIT`)."""
        return self.at_risk_total - len(self.at_risk)

    @property
    def breached_more(self) -> int:
        return self.breached_total - len(self.breached)


def _business_left(ticket: Ticket, due: dt.datetime, now: dt.datetime) -> dt.timedelta | None:
    """Business time from `now` to `due` on the calendar of the ticket's policy (the clock's
    arithmetic, cached per calendar: no query per row once a calendar has been read)."""
    policy = ticket.sla_policy
    if policy is None or due >= NO_DEADLINE:
        return None
    spec = calendar_spec(policy.calendar)
    if due <= now:
        return -business_time_between(spec, due, now)
    return business_time_between(spec, now, due)


def lateness(
    user: AbstractBaseUser,
    filters: DashboardFilters,
    now: dt.datetime,
    *,
    scope: DashboardScope | None = None,
) -> Lateness:
    """Tickets past a warning but not breached (the soonest deadline first) and breached
    tickets (the longest breached first). Three queries (the rows of each, and the counts
    shared with the other sections: `DashboardScope.late_counts`) and the scope's, plus two
    per business calendar the first time it is read on a day."""
    scope = scope_of(user, now, scope)
    tickets = sla_candidates(scope.tickets(filters), now)
    related = ("team", "level", "assignee")
    risky = tickets.filter(at_risk_q(now))
    risky_rows = list(
        first_rows(risky, "sla_due", "pk", sla_due=SLA_DUE)
        .select_related(*related, "sla_policy__calendar")
        .defer(*UNSHOWN)
    )
    broken = tickets.filter(breached_q(now))
    broken_rows = list(
        first_rows(broken, "first_breach", "pk", first_breach=FIRST_BREACH)
        .select_related(*related)
        .defer(*UNSHOWN)
    )
    counts = scope.late_counts(filters)
    return Lateness(
        at_risk=[
            LateRow(t, t.sla_due, business_left=_business_left(t, t.sla_due, now))
            for t in risky_rows
        ],
        at_risk_total=sum(row["at_risk"] for row in counts),
        breached=[LateRow(t, None, breached_at=t.first_breach) for t in broken_rows],
        breached_total=sum(row["breached"] for row in counts),
    )


# --- Load per level, team and agent ------------------------------------------------------------


@dataclass
class LoadRow:
    """The staffing figures of one level, team or agent."""

    label: str
    key: str
    open: int = 0
    escalated_today: int = 0
    at_risk: int = 0
    breached: int = 0
    unassigned: int = 0
    unacknowledged: int = 0

    def add(self, other: LoadRow) -> None:
        for name in (
            "open",
            "escalated_today",
            "at_risk",
            "breached",
            "unassigned",
            "unacknowledged",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Load:
    levels: list[LoadRow]
    teams: list[LoadRow]
    agents: list[LoadRow]
    total: LoadRow


def local_midnight(now: dt.datetime) -> dt.datetime:
    """The start of today in the site's time zone."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def load(
    user: AbstractBaseUser,
    filters: DashboardFilters,
    now: dt.datetime,
    *,
    scope: DashboardScope | None = None,
) -> Load:
    """Open tickets, escalated in today, at risk, breached, unassigned and unacknowledged per
    level and per team; open and at-risk per agent. Six queries: the active tickets grouped
    by team, level and assignee, the SLA candidates grouped the same way (the levels, teams and
    agents are sums of their rows; shared with the other sections:
    `DashboardScope.late_counts`), escalations grouped by receiving team and level, and the
    names of the teams, levels and agents that appear (and the scope's)."""
    scope = scope_of(user, now, scope)
    tickets = scope.tickets(filters)
    active = tickets.filter(status__in=Ticket.ACTIVE_STATUSES)
    grouped = active.values("team_id", "level_id", "assignee_id").annotate(open=Count("pk"))
    since = local_midnight(now)
    per_escalation = (
        escalations_of(
            tickets,
            Escalation.objects.filter(Q(raised_at__gte=since) | Q(status=Escalation.Status.RAISED)),
        )
        .values("to_team_id", "to_level_id")
        .annotate(
            escalated_today=Count("pk", filter=Q(raised_at__gte=since)),
            unacknowledged=Count(
                "pk",
                filter=Q(
                    status=Escalation.Status.RAISED,
                    ticket__status__in=Ticket.ACTIVE_STATUSES,
                ),
            ),
        )
    )
    cells: dict[tuple[int, int], LoadRow] = defaultdict(lambda: LoadRow("", ""))
    per_agent: dict[int, LoadRow] = {}
    for row in grouped.order_by():
        cell = cells[(row["team_id"], row["level_id"])]
        cell.open += row["open"]
        if row["assignee_id"] is None:
            cell.unassigned += row["open"]
        else:
            per_agent.setdefault(row["assignee_id"], LoadRow("", "")).open += row["open"]
    # Lateness is counted on the candidates only (an index range, not every active ticket).
    for row in scope.late_counts(filters):
        cell = cells[(row["team_id"], row["level_id"])]
        cell.at_risk += row["at_risk"]
        cell.breached += row["breached"]
        if row["assignee_id"] is not None:
            per_agent.setdefault(row["assignee_id"], LoadRow("", "")).at_risk += row["at_risk"]
    for row in per_escalation.order_by():
        cell = cells[(row["to_team_id"], row["to_level_id"])]
        cell.escalated_today = row["escalated_today"]
        cell.unacknowledged = row["unacknowledged"]
    team_ids = {team_id for team_id, _level in cells}
    level_ids = {level_id for _team, level_id in cells}
    teams = Team.objects.filter(pk__in=team_ids).select_related("level").in_bulk()
    levels = SupportLevel.objects.filter(pk__in=level_ids).in_bulk()
    team_rows: dict[int, LoadRow] = {}
    level_rows: dict[int, LoadRow] = {}
    total = LoadRow("", "total")
    for (team_id, level_id), cell in cells.items():
        team_rows.setdefault(team_id, LoadRow(teams[team_id].name, f"team-{team_id}")).add(cell)
        level_rows.setdefault(
            level_id, LoadRow(levels[level_id].display_name, f"level-{level_id}")
        ).add(cell)
        total.add(cell)
    people = get_user_model().objects.filter(pk__in=per_agent).in_bulk()
    agents = []
    for pk, row in per_agent.items():
        row.label = people[pk].get_full_name() or people[pk].get_username()
        row.key = f"agent-{pk}"
        agents.append(row)
    return Load(
        levels=[level_rows[pk] for pk in sorted(level_rows, key=lambda pk: levels[pk].rank)],
        teams=[
            team_rows[pk]
            for pk in sorted(team_rows, key=lambda pk: (teams[pk].level.rank, teams[pk].name))
        ],
        agents=sorted(agents, key=lambda r: (-r.at_risk, -r.open, r.label)),
        total=total,
    )
