"""The API's ticket representation, written directly: the one writer behind the ticket list,
the ticket detail and the `ticket` of every webhook payload.

`api.serializers.TicketSerializer` declares the representation field by field: it is the
schema, and the reference that tests/api/test_ticket_representation.py holds this writer to.
DRF's per-field machinery (some 40 fields a ticket, nested four deep) and the model objects
behind it (a ticket, its team, level, assignee, customer, service, requester, policy and
calendar: up to nine objects a ticket) took most of a page's CPU, so a ticket is written
here from a flat row instead: the `TICKET_COLUMNS` of the ticket and its related rows, as
`QuerySet.values` reads them (the list and the detail read them that way, without building
a model object), or as `ticket_row` takes them from a loaded ticket (webhooks: the services
hold the ticket they changed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from escalation.models import Escalation
from helpdesk import configcache
from sla.clock import CalendarSpec
from sla.models import BusinessCalendar, SLAPolicy
from sla.services import calendar_spec, spec_between
from tickets.models import NO_DEADLINE, Service, SupportLevel, Team, Ticket

# How the API writes an instant (DRF's format, in the current time zone).
INSTANT = serializers.DateTimeField()

TARGETS = ("first_response", "next_update", "resolution")

# What `calendar_spec` reads of a business calendar (its opening hours and exceptions are
# read once per process and day).
CALENDAR_COLUMNS = (
    "id",
    "updated_at",
    "timezone",
    "always_open",
    "holiday_country",
    "holiday_subdivision",
)
POLICY_COLUMNS = ("sla_policy__id", *(f"sla_policy__calendar__{name}" for name in CALENDAR_COLUMNS))

# The flat row a ticket is written from: its own columns and those of its related rows
# (`team__name`: the name of its team), as `QuerySet.values(*TICKET_COLUMNS)` reads them.
# The rest of the ticket (the description, the clock's bookkeeping) stays in the database.
TICKET_COLUMNS = (
    "id",
    "reference",
    "subject",
    "status",
    "priority",
    "impact",
    "urgency",
    "channel",
    "is_major_incident",
    "created_at",
    "updated_at",
    "version",
    "escalation_cycle",
    "risk_score",
    "risk_reasons",
    "sla_paused_at",
    "first_responded_at",
    *(
        f"{target}_{instant}"
        for target in TARGETS
        for instant in ("due_at", "warning_at", "warned_at", "breached_at")
    ),
    "team__id",
    "team__name",
    "level__id",
    "level__name",
    "level__rank",
    "assignee__id",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "customer__id",
    "customer__name",
    "service__id",
    "service__name",
    "requester__id",
    "requester__name",
    "requester__email",
    *POLICY_COLUMNS,
)

# What a webhook's ticket leaves out of the API's: `transitions` depend on who reads;
# `version` and the waiting escalation are the state mid-way through the change that the
# event reports (the sweep's two lanes reach it in different orders), and an escalation
# event carries its escalation itself. Read the ticket (GET) for its version.
WEBHOOK_OMITS = ("transitions", "version")

# The open escalation a ticket shows (raised, not yet acknowledged), as a flat row.
ESCALATION_COLUMNS = ("id", "kind", "to_team__id", "to_team__name", "raised_at", "ack_due_at")

# The newest first; the id settles equal instants (the detail's prefetch orders alike).
OPEN_ESCALATION_ORDER = ("-raised_at", "-id")

_TICKET_PATHS = tuple((name, tuple(name.split("__"))) for name in TICKET_COLUMNS)

# The columns of a ticket's configuration rows: its team, its level, its affected service and
# its SLA policy's calendar. They are few rows, changed a few times a year in the admin, so
# each process keeps them (`ticket_configuration`, in `helpdesk.configcache`), and the list and
# the detail read a ticket with `ROW_COLUMNS` only (`with_configuration` adds these). Joining
# them cost more than everything else the statement does: PostgreSQL plans a join of nine
# tables under the visibility subqueries in 14 ms (5,000 tickets, an idle machine; the
# search grows with each table joined) and runs it in under one; with the three joins left
# (assignee, customer, requester: rows without number) it plans it in under one.
CONFIGURATION_COLUMNS = (
    "team__name",
    "level__name",
    "level__rank",
    "service__name",
    *POLICY_COLUMNS[1:],
)
# What the list and the detail read of a ticket: TICKET_COLUMNS but the configuration's
# (`team__id` and the like are the ticket's own columns and join nothing).
ROW_COLUMNS = tuple(name for name in TICKET_COLUMNS if name not in CONFIGURATION_COLUMNS)


@dataclass(frozen=True)
class TicketConfiguration:
    """The configuration rows a ticket's representation names, by id: team names, levels'
    names and ranks, service names, and each SLA policy's calendar columns (in
    `POLICY_COLUMNS[1:]` order)."""

    teams: Mapping[int, str]
    levels: Mapping[int, tuple[str, int]]
    services: Mapping[int, str]
    calendars: Mapping[int, tuple[Any, ...]]

    def covers(self, row: Mapping[str, Any]) -> bool:
        """Whether every configuration row that `row` (ROW_COLUMNS) names is here."""
        return (
            row["team__id"] in self.teams
            and row["level__id"] in self.levels
            and (row["service__id"] is None or row["service__id"] in self.services)
            and (row["sla_policy__id"] is None or row["sla_policy__id"] in self.calendars)
        )

    def complete(self, row: dict[str, Any]) -> None:
        """Add CONFIGURATION_COLUMNS to `row` (ROW_COLUMNS, which `covers`)."""
        row["team__name"] = self.teams[row["team__id"]]
        row["level__name"], row["level__rank"] = self.levels[row["level__id"]]
        service = row["service__id"]
        row["service__name"] = None if service is None else self.services[service]
        policy = row["sla_policy__id"]
        calendar = _NO_CALENDAR if policy is None else self.calendars[policy]
        row.update(zip(POLICY_COLUMNS[1:], calendar, strict=True))


_NO_CALENDAR = (None,) * (len(POLICY_COLUMNS) - 1)


def load_ticket_configuration() -> TicketConfiguration:
    """The configuration rows as they are in the database: four queries."""
    return TicketConfiguration(
        teams=dict(Team.objects.values_list("id", "name")),
        levels={
            pk: (name, rank)
            for pk, name, rank in SupportLevel.objects.values_list("id", "name", "rank")
        },
        services=dict(Service.objects.values_list("id", "name")),
        calendars={
            pk: tuple(rest)
            for pk, *rest in SLAPolicy.objects.values_list(
                "id", *(name.removeprefix("sla_policy__") for name in POLICY_COLUMNS[1:])
            )
        },
    )


def ticket_configuration() -> TicketConfiguration:
    """This process's configuration rows (read again after any change to them)."""
    return configcache.cached("api.ticket_configuration", load_ticket_configuration)


def with_configuration(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` read with ROW_COLUMNS, completed to TICKET_COLUMNS rows (in place) from the
    configuration this process keeps. A row naming a configuration row this process has not
    seen yet (made in another process a moment ago: the news of a change arrives after its
    commit) has it read from the database for this call."""
    if not rows:
        return rows
    configuration = ticket_configuration()
    if not all(configuration.covers(row) for row in rows):
        configuration = load_ticket_configuration()
    for row in rows:
        configuration.complete(row)
    return rows


def _flat(obj: Any, paths: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    row = {}
    for name, path in paths:
        value = obj
        for attribute in path:
            value = getattr(value, attribute)
            if value is None:
                break
        row[name] = value
    return row


def ticket_row(ticket: Ticket, *, with_policy: bool = True) -> dict[str, Any]:
    """The flat row of a loaded ticket: what `QuerySet.values(*TICKET_COLUMNS)` reads of it.
    Reads its related rows (a query each unless `select_related`); `with_policy=False` leaves
    the policy's and its calendar's columns out (a writer without business time needs
    neither)."""
    paths = _TICKET_PATHS if with_policy else _TICKET_PATHS[: -len(POLICY_COLUMNS)]
    return _flat(ticket, paths)


def open_escalations(ticket_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The open escalation (raised, not yet acknowledged; the newest) of each of the tickets
    that has one, as a flat row by ticket id: one query whatever their number."""
    if not ticket_ids:
        return {}
    rows = (
        Escalation.objects.filter(ticket_id__in=ticket_ids, status=Escalation.Status.RAISED)
        .order_by(*OPEN_ESCALATION_ORDER)
        .values("ticket_id", *ESCALATION_COLUMNS)
    )
    first: dict[int, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["ticket_id"], row)
    return first


def instant_writer() -> Callable[[datetime | None], str | None]:
    """`INSTANT.to_representation` for many instants: the same text, with the current time
    zone looked up once instead of for each instant (a page of 50 tickets writes 700)."""
    if (api_settings.DATETIME_FORMAT or "").lower() != ISO_8601:
        return lambda value: None if value is None else INSTANT.to_representation(value)
    zone = timezone.get_current_timezone()

    def write(value: datetime | None) -> str | None:
        if value is None:
            return None
        if timezone.is_naive(value):
            return INSTANT.to_representation(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return INSTANT.to_representation(value)  # DRF's own refusal
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return write


def business_left(
    *,
    target: str,
    due: datetime | None,
    status: str,
    responded: bool,
    paused_at: datetime | None,
    spec: Callable[[], CalendarSpec | None],
    now: datetime,
) -> int | None:
    """Seconds of business time from `now` (or from `paused_at`, while the clock is paused)
    to the target's `due` instant, on the calendar of the ticket's SLA policy (`spec`: its
    clock value, None without a policy; called only when needed); None when the target has
    no deadline or no longer runs (the ticket resolved or closed, the first response given,
    or the next update not yet due because there was no first response)."""
    if due is None or due >= NO_DEADLINE or status not in Ticket.ACTIVE_STATUSES:
        return None
    if (target == "first_response" and responded) or (target == "next_update" and not responded):
        return None
    calendar = spec()
    if calendar is None:
        return None
    return int(spec_between(calendar, paused_at or now, due).total_seconds())


class TicketWriter:
    """Writes tickets as the API represents them, for one reader at one instant (`now`, from
    which every ticket's business time left is counted; the current language and time zone).

    `business_time=False`: without the targets' `business_left` (it depends on when the
    text is read). `webhook=True`: a webhook's ticket, which also leaves out WEBHOOK_OMITS
    and the waiting escalation."""

    def __init__(
        self, *, now: datetime | None = None, business_time: bool = True, webhook: bool = False
    ) -> None:
        self.webhook = webhook
        self.omits = WEBHOOK_OMITS if webhook else ()
        self.business_time = business_time and not webhook
        self.now = now or timezone.now()
        self.today: date | None = timezone.localdate(self.now) if self.business_time else None
        self.when = instant_writer()
        self._specs: dict[tuple[int, datetime], CalendarSpec] = {}

    def _spec(self, row: Mapping[str, Any]) -> CalendarSpec | None:
        """The clock's value of the row's policy calendar (None without a policy), built from
        the row's calendar columns once per writer."""
        if row["sla_policy__id"] is None:
            return None
        key = (row["sla_policy__calendar__id"], row["sla_policy__calendar__updated_at"])
        spec = self._specs.get(key)
        if spec is None:
            calendar = BusinessCalendar(
                **{name: row[f"sla_policy__calendar__{name}"] for name in CALENDAR_COLUMNS}
            )
            spec = self._specs[key] = calendar_spec(calendar, self.today)
        return spec

    def write(
        self,
        row: Mapping[str, Any],
        *,
        open_escalation: Mapping[str, Any] | None = None,
        transitions: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """The representation of the ticket in `row` (a flat row of TICKET_COLUMNS; without
        business time, the policy's columns may be missing), with its waiting escalation (a
        flat row of ESCALATION_COLUMNS) and the transitions the reader may run on it."""
        when = self.when
        responded = row["first_responded_at"] is not None

        def target(name: str) -> dict[str, Any]:
            due, breached_at = row[f"{name}_due_at"], row[f"{name}_breached_at"]
            data = {
                "due_at": when(due),
                "warning_at": when(row[f"{name}_warning_at"]),
                "warned": row[f"{name}_warned_at"] is not None,
                "breached": breached_at is not None,
                "breached_at": when(breached_at),
            }
            if self.business_time:
                data["business_left"] = business_left(
                    target=name,
                    due=due,
                    status=row["status"],
                    responded=responded,
                    paused_at=row["sla_paused_at"],
                    spec=lambda: self._spec(row),
                    now=self.now,
                )
            return data

        assignee = row["assignee__id"]
        data: dict[str, Any] = {
            "reference": row["reference"],
            "subject": row["subject"],
            "status": row["status"],
            "priority": row["priority"],
            "impact": row["impact"],
            "urgency": row["urgency"],
            "channel": row["channel"],
            "customer": None
            if row["customer__id"] is None
            else {"id": row["customer__id"], "name": row["customer__name"]},
            "service": None
            if row["service__id"] is None
            else {"id": row["service__id"], "name": row["service__name"]},
            "requester": None
            if row["requester__id"] is None
            else {
                "id": row["requester__id"],
                "name": row["requester__name"],
                "email": row["requester__email"],
            },
            "is_major_incident": row["is_major_incident"],
            "created_at": when(row["created_at"]),
            "updated_at": when(row["updated_at"]),
        }
        if "version" not in self.omits:
            data["version"] = row["version"]
        data["sla"] = {
            "first_response": target("first_response"),
            "next_update": target("next_update"),
            "resolution": target("resolution"),
            "paused": row["sla_paused_at"] is not None,
            "paused_since": when(row["sla_paused_at"]),
        }
        escalation: dict[str, Any] = {
            "team": {"id": row["team__id"], "name": row["team__name"]},
            "level": {
                "id": row["level__id"],
                "name": row["level__name"],
                "rank": row["level__rank"],
            },
            "assignee": None
            if assignee is None
            else {
                "id": assignee,
                "username": row["assignee__username"],
                # `User.get_full_name`
                "name": f"{row['assignee__first_name']} {row['assignee__last_name']}".strip(),
            },
            "escalation_cycle": row["escalation_cycle"],
        }
        if not self.webhook:
            waiting = open_escalation
            escalation["open_escalation"] = (
                None
                if waiting is None
                else {
                    "id": waiting["id"],
                    "kind": waiting["kind"],
                    "to_team": {"id": waiting["to_team__id"], "name": waiting["to_team__name"]},
                    "raised_at": when(waiting["raised_at"]),
                    "ack_due_at": when(waiting["ack_due_at"]),
                }
            )
        escalation["risk_score"] = row["risk_score"]
        escalation["risk_reasons"] = list(row["risk_reasons"])
        data["escalation"] = escalation
        if "transitions" not in self.omits:
            data["transitions"] = [
                {"name": str(t["name"]), "label": str(t["label"])} for t in transitions
            ]
        return data
