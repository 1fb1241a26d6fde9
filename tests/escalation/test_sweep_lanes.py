"""The sweep's two lanes against each other (a differential test).

The bulk lane evaluates the due tickets set-wise; the per-ticket lane runs them one at a time
through the services. Whatever the bulk lane finishes itself, and whatever it hands back to
the per-ticket lane, the database afterwards must be exactly the one the per-ticket lane
leaves. Each scenario is built through the real services, swept at one instant with
`bulk=False`, rolled back, swept again with `bulk=True`, and the two states compared table by
table and ticket by ticket, with database ids replaced by stable names (sequences advance
across a rollback, so the second run's rows get other ids).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django_fsm import TransitionNotAllowed

from escalation import facts
from escalation import services as esc
from escalation import sweep as sweeping
from escalation.models import Escalation, EscalationRule, RuleFiring
from notifications.models import Delivery, EventType, Notification, WebhookEndpoint
from notifications.services import preferences_update
from sla.models import BusinessCalendar, ClockSegment, SLAPolicy
from tests.factories import (
    AdminFactory,
    CustomerFactory,
    SupportLevelFactory,
    TeamFactory,
    UserFactory,
)
from tickets import services
from tickets.models import Customer, Message, SupportLevel, Team, Ticket, TicketEvent

User = get_user_model()
BERLIN = ZoneInfo("Europe/Berlin")
M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
K = Notification.Kind

# Sweep instants on the office calendar (Mon–Fri 08–18, Europe/Berlin): open, late
# afternoon, closed (emails to people on office hours are held), after a weekend.
SWEEP_INSTANTS = (
    dt.datetime(2026, 3, 4, 11, 0, tzinfo=BERLIN),
    dt.datetime(2026, 3, 4, 16, 15, tzinfo=BERLIN),
    dt.datetime(2026, 3, 5, 19, 10, tzinfo=BERLIN),
    dt.datetime(2026, 3, 9, 9, 5, tzinfo=BERLIN),
)
# (impact, urgency): Sev 2 to Sev 4 under the default matrix; Sev 1 only in "mixed" shapes.
SEVERITIES = [(3, 3), (3, 3), (2, 3), (4, 3), (3, 4), (2, 2), (3, 1), (1, 3)]
CUSTOMER_TEXTS = [
    "Any news on this?",
    "This is unacceptable, it is still not working.",
    "We are frustrated: no answer since yesterday.",
    "Thanks, that helps.",
    "Our shop is down yet again!",
]
SUBJECTS = ["Checkout fails", "Login slow", "VPN drops", "Invoice wrong", "API 500s"]


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Knobs:
    """What a scenario fixes; everything left None is drawn from the seed."""

    seed: int
    at: dt.datetime | None = None
    tickets: int | None = None
    # "eligible": no rule raises the priority or marks a major incident; "mixed": some do.
    shapes: str | None = None
    replies: bool | None = None  # public replies (they start the next_update clock)
    defaults: bool | None = None  # keep the default rules of the data migration active
    rules_changed: bool | None = None  # rules added after the tickets, all tickets due again
    webhooks: bool | None = None
    functional: bool | None = None  # a rule that hands off across to the functional team
    batch: int = 200
    # Built from shapes the bulk lane supports: it must finish at least half of the tickets.
    mostly_bulk: bool = False
    # Odd data: a ticket whose level is not its team's, a team above that is inactive.
    quirks: bool = False
    # Every third active ticket linked to an open major incident (its clock held), with its
    # check due: both lanes must leave it untouched.
    incident: bool = False


@dataclass
class World:
    rng: random.Random
    teams: dict[str, Team]
    security: Team
    duty: Any  # an admin on duty: follows tickets anywhere
    observer: Any  # told by some rules, in no team
    customers: list[Customer]
    to_deactivate: list[Any] = field(default_factory=list)

    def agents(self, team: Team) -> list[Any]:
        """Who can work the team's tickets now: its active members and lead, by username."""
        people = {u.pk: u for u in team.members.filter(is_active=True)}
        if team.lead is not None and team.lead.is_active:
            people[team.lead.pk] = team.lead
        return sorted(people.values(), key=lambda u: u.username)


@dataclass
class Scenario:
    at: dt.datetime
    batch: int
    shapes: str
    held: list[str] = field(default_factory=list)  # references an incident holds


def _user(name: str, *, email: bool = True, admin: bool = False) -> Any:
    factory = AdminFactory if admin else UserFactory
    return factory(
        username=name,
        first_name=name.capitalize(),
        last_name="Tester",
        email=f"{name}@example.com" if email else "",
    )


def _world(rng: random.Random) -> World:
    """L1 → L2 → L3 → L4 (ranks 1..4) with leads and members, a functional team, customers."""
    without_email = set(rng.sample(["agent1b", "lead3", "agent2b", "agent4a", "sec1"], k=2))
    above: Team | None = None
    teams: dict[str, Team] = {}
    for rank, names in (
        (4, ["agent4a"]),
        (3, ["agent3a"]),
        (2, ["agent2a", "agent2b", "agent2x"]),
        (1, ["agent1a", "agent1b", "agent1c"]),
    ):
        lead = _user(f"lead{rank}", email=f"lead{rank}" not in without_email)
        members = [_user(n, email=n not in without_email) for n in names]
        teams[f"L{rank}"] = above = TeamFactory(
            name=f"L{rank}",
            level=SupportLevelFactory(rank=rank),
            lead=lead,
            members=members,
            escalates_to=above,
        )
    # An inactive member: never told, never an assignee.
    User.objects.filter(username="agent2x").update(is_active=False)
    security = TeamFactory(
        name="Security",
        kind=Team.Kind.FUNCTIONAL,
        level=SupportLevelFactory(rank=2),
        lead=_user("seclead"),
        members=[_user("sec1", email="sec1" not in without_email)],
    )
    duty = _user("duty", admin=True)
    observer = _user("observer")
    customers = [
        CustomerFactory(
            name=f"Customer {i}",
            email=f"c{i}@example.org",
            tier=rng.choice(Customer.Tier.values),
            is_vip=rng.random() < 0.3,
        )
        for i in range(6)
    ]
    # One user chose other channels than the defaults, another reads email in office hours
    # only (non-urgent emails to them are held when the office is closed).
    office = BusinessCalendar.objects.get(name="Office hours DE")
    chooser, holder = rng.sample(["lead1", "agent2a", "lead2", "agent1a", "observer"], k=2)
    preferences_update(
        user=User.objects.get(username=chooser),
        language="en",
        timezone="Europe/Berlin",
        calendar=None,
        channels={
            K.ESCALATION_RAISED: (False, True),
            K.SLA_WARNING: (True, False),
            K.SLA_BREACH: (False, False),
            K.RULE_FIRED: (True, True),
            K.TICKET_ASSIGNED: (True, False),
        },
    )
    preferences_update(
        user=User.objects.get(username=holder),
        language="de",
        timezone="Europe/Berlin",
        calendar=office,
        channels={},
    )
    return World(
        rng=rng,
        teams=teams,
        security=security,
        duty=duty,
        observer=observer,
        customers=customers,
        # Assigned during the build, inactive at the sweep: the assignee is told nothing.
        to_deactivate=[User.objects.get(username="agent1c")],
    )


def _webhooks(rng: random.Random) -> None:
    WebhookEndpoint.objects.create(url="https://hooks.example.com/all", event_types=[])
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/some",
        event_types=sorted(rng.sample(EventType.values, k=4)),
    )
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/off", event_types=[], is_active=False
    )


def _rule(
    name: str,
    *,
    teams: Sequence[Team] = (),
    levels: Sequence[int] = (),
    users: Sequence[Any] = (),
    **fields: Any,
) -> EscalationRule:
    rule = EscalationRule.objects.create(name=name, **fields)
    rule.teams.set(teams)
    rule.levels.set(SupportLevel.objects.filter(rank__in=levels))
    rule.notify_users.set(users)
    return rule


def _rules(w: World, *, shapes: str, functional: bool, prefix: str) -> None:
    """A random rule set with every trigger, hand-off and notification flag in it."""
    rng = w.rng
    count = iter(range(1, 100))

    def name(what: str) -> str:
        return f"{prefix}{next(count):02d} {what}"

    def tell() -> dict[str, Any]:
        return {
            "notify_assignee": rng.random() < 0.5,
            "notify_team_lead": rng.random() < 0.6,
            "notify_target_team": rng.random() < 0.4,
            "notify_level_rank": rng.choice([None, None, 3, 4]),
            "users": [w.observer] if rng.random() < 0.3 else [],
        }

    def conditions() -> dict[str, Any]:
        roll = rng.random()
        if roll < 0.15:
            return {"customer_tiers": sorted(rng.sample(Customer.Tier.values, k=2))}
        if roll < 0.25:
            return {"channels": sorted(rng.sample(Ticket.Channel.values, k=4))}
        if roll < 0.35:
            return {"priority_min": 2, "priority_max": 3}
        if roll < 0.45:
            return {"teams": [w.teams["L1"], w.teams["L2"]]}
        return {}

    # Anchors: something is always told and something always climbs.
    _rule(
        name("SLA warning, any target"),
        order=20,
        trigger="sla_warning",
        notify_assignee=True,
        notify_team_lead=True,
    )
    _rule(
        name("No progress: next level"),
        order=40,
        trigger="no_progress",
        threshold=rng.choice([2, 3, 5]) * H,
        escalate="hierarchical",
        keep_assignee=rng.random() < 0.5,
        notify_target_team=True,
        levels=rng.choice([[], [1, 2]]),
    )
    for target in ("first_response", "next_update", "resolution"):
        if rng.random() < 0.6:
            _rule(
                name(f"SLA warning {target}"),
                order=rng.randint(10, 60),
                trigger="sla_warning",
                sla_target=target,
                **tell(),
                **conditions(),
            )
        if rng.random() < 0.7:
            hand_off = target != "next_update" and rng.random() < 0.6
            _rule(
                name(f"SLA breach {target}"),
                order=rng.randint(10, 60),
                trigger="sla_breach",
                sla_target=target,
                escalate="hierarchical" if hand_off else "none",
                keep_assignee=hand_off and rng.random() < 0.5,
                **tell(),
                **conditions(),
            )
    if rng.random() < 0.8:
        _rule(
            name("Unacknowledged: further up"),
            order=rng.randint(30, 70),
            trigger="unacknowledged",
            escalate="hierarchical",
            notify_team_lead=True,
            notify_target_team=rng.random() < 0.5,
        )
    if functional:
        _rule(
            name("Monitoring alerts idle: security"),
            order=rng.randint(5, 50),
            trigger="no_progress",
            threshold=H,
            escalate="functional",
            functional_team=w.security,
            channels=["monitoring", "api"],
            keep_assignee=rng.random() < 0.5,
            **tell(),
        )
    if rng.random() < 0.5:
        _rule(
            name("Soft signals: tell the lead"),
            order=rng.randint(10, 80),
            trigger="soft_signal",
            risk_at_least=rng.choice([20, 30]),
            escalate=rng.choice(["none", "hierarchical"]),
            notify_team_lead=True,
            notify_level_rank=4,
        )
    if rng.random() < 0.4:
        _rule(
            name("Severity: second level"),
            order=rng.randint(5, 30),
            trigger="severity",
            priority_at_least=2,
            levels=[1],
            escalate="hierarchical",
            keep_assignee=rng.random() < 0.5,
            **tell(),
        )
    if shapes == "mixed":
        # Shapes the bulk lane hands back to the per-ticket lane.
        _rule(
            name("Idle Sev 3/4: raise to Sev 2"),
            order=rng.randint(10, 60),
            trigger="no_progress",
            threshold=rng.choice([3, 4]) * H,
            priority_min=3,
            raise_priority_to=2,
            notify_assignee=True,
        )
        _rule(
            name("Resolution breached: raise to Sev 2"),
            order=rng.randint(10, 60),
            trigger="sla_breach",
            sla_target="resolution",
            priority_min=3,
            raise_priority_to=2,
            notify_team_lead=True,
        )
        if rng.random() < 0.6:
            _rule(
                name("Angry VIP: major incident"),
                order=rng.randint(10, 60),
                trigger="soft_signal",
                risk_at_least=30,
                mark_major_incident=True,
                escalate=rng.choice(["none", "hierarchical"]),
                notify_level_rank=4,
            )


def _later_rules(w: World, *, shapes: str) -> None:
    """Rules an admin adds once the tickets exist: severity and soft signals fire at the sweep."""
    _rule(
        "Z01 Severity 3 or worse on first level",
        order=15,
        trigger="severity",
        priority_at_least=3,
        levels=[1],
        escalate="hierarchical",
        keep_assignee=w.rng.random() < 0.5,
        notify_team_lead=True,
        notify_target_team=True,
    )
    _rule(
        "Z02 Any risk: tell the observer",
        order=16,
        trigger="soft_signal",
        risk_at_least=10,
        users=[w.observer],
        notify_assignee=True,
    )
    if shapes == "mixed":
        _rule(
            "Z03 Risky: Sev 1",
            order=17,
            trigger="soft_signal",
            risk_at_least=10,
            raise_priority_to=1,
            notify_team_lead=True,
        )


def _act(w: World, ticket: Ticket, when: dt.datetime, *, replies: bool, shapes: str) -> None:
    """One thing that happens to `ticket` at `when`, through the services, drawn from what its
    state allows."""
    rng = w.rng
    ticket.refresh_from_db()
    S = Ticket.Status
    team = ticket.team
    agents = w.agents(team)
    agent = rng.choice(agents)
    waiting = facts.open_escalation(ticket)
    options: list[tuple[str, int]] = []
    if ticket.is_active:
        options += [("note", 3), ("customer", 3), ("follow", 1), ("assign", 2), ("priority", 1)]
        options += [("escalate", 2), ("resolve", 1)]
        if replies:
            options.append(("reply", 4))
        if ticket.status == S.NEW:
            options.append(("open", 2))
        if ticket.status == S.OPEN:
            options.append(("pend", 1))
        if ticket.status == S.PENDING:
            options.append(("resume", 1))
        if waiting is not None:
            options.append(("ack", 3))
        if ticket.level.rank > 1 and team.lead is not None:
            options.append(("deescalate", 1))
    elif ticket.status == S.RESOLVED:
        options.append(("customer", 1))  # reopens it: a new cycle
    if not options:
        return
    kind = rng.choices([o for o, _ in options], [weight for _, weight in options])[0]
    try:
        match kind:
            case "note":
                services.ticket_add_note(
                    ticket=ticket, actor=agent, body=f"Checked logs ({when:%H:%M})", now=when
                )
            case "reply":
                services.ticket_reply(
                    ticket=ticket, actor=agent, body="We are looking into it.", now=when
                )
            case "customer":
                services.ticket_add_customer_message(
                    ticket=ticket, body=rng.choice(CUSTOMER_TEXTS), now=when
                )
            case "follow":
                follower = rng.choice([w.duty, *agents])
                services.ticket_follow(ticket=ticket, actor=follower, now=when)
            case "assign":
                services.ticket_assign(
                    ticket=ticket, actor=agent, assignee=rng.choice(agents), now=when
                )
            case "priority":
                choices = [2, 3, 4] if shapes == "eligible" else [1, 2, 3, 4]
                services.ticket_change_priority(
                    ticket=ticket,
                    actor=agent,
                    priority=rng.choice(choices),
                    reason="Re-assessed",
                    now=when,
                )
            case "open" | "pend" | "resume" | "resolve":
                services.ticket_transition(ticket=ticket, actor=agent, name=kind, now=when)
            case "escalate":
                across = team.pk != w.security.pk and (
                    facts.next_team_up(ticket) is None or rng.random() < 0.25
                )
                esc.escalation_raise(
                    ticket=ticket,
                    actor=agent,
                    kind="functional" if across else "hierarchical",
                    to_team=w.security if across else None,
                    package=esc.Package(
                        summary=f"{ticket.subject}: customer blocked",
                        actions_taken="Restarted the service, checked the logs",
                        next_steps="Deeper analysis",
                    ),
                    reason=rng.choice(["", "Beyond our competence"]),
                    now=when,
                )
            case "ack":
                assert waiting is not None
                esc.escalation_acknowledge(
                    escalation=waiting, actor=rng.choice(w.agents(waiting.to_team)), now=when
                )
            case "deescalate":
                targets = esc.deescalation_targets(ticket)
                if targets:
                    esc.escalation_deescalate(
                        ticket=ticket,
                        actor=team.lead,
                        to_team=targets[0],
                        reason="Workaround in place",
                        now=when,
                    )
    except (PermissionDenied, ValidationError, TransitionNotAllowed):
        pass  # not allowed in this state: the scenario simply goes on without it


def build(knobs: Knobs) -> Scenario:
    """The starting state of a scenario, deterministic from `knobs.seed`."""
    rng = random.Random(knobs.seed)

    def pick(value: Any, draw: Callable[[], Any]) -> Any:
        drawn = draw()  # drawn even when fixed, so the fixed knobs do not shift the rest
        return drawn if value is None else value

    at = pick(knobs.at, lambda: rng.choice(SWEEP_INSTANTS))
    count = pick(knobs.tickets, lambda: rng.randint(8, 16))
    shapes = pick(knobs.shapes, lambda: rng.choice(["eligible", "mixed"]))
    replies = pick(knobs.replies, lambda: rng.random() < 0.75)
    defaults = pick(knobs.defaults, lambda: shapes == "mixed" and rng.random() < 0.5)
    rules_changed = pick(knobs.rules_changed, lambda: rng.random() < 0.35)
    webhooks = pick(knobs.webhooks, lambda: rng.random() < 0.7)
    functional = pick(knobs.functional, lambda: rng.random() < 0.6)

    w = _world(rng)
    if webhooks:
        _webhooks(rng)
    if not defaults:
        EscalationRule.objects.update(is_active=False)
    _rules(w, shapes=shapes, functional=functional, prefix="R")

    severities = SEVERITIES + ([(1, 1)] if shapes == "mixed" else [])
    teams = [w.teams["L1"], w.teams["L2"], w.teams["L3"], w.security]
    for i in range(count):
        created = at - rng.randint(15, 84 * 60) * M
        team = rng.choices(teams, [6, 3, 1, 1])[0]
        agents = w.agents(team)
        impact, urgency = rng.choice(severities)
        ticket = services.ticket_create(
            actor=rng.choice([None, *agents]),
            data=services.NewTicket(
                subject=f"{rng.choice(SUBJECTS)} #{i}",
                description="Since this morning; several users.",
                team=team,
                customer=rng.choice([None, *w.customers]),
                impact=impact,
                urgency=urgency,
                channel=rng.choice(Ticket.Channel.values),
                assignee=rng.choice([None, None, *agents]),
            ),
            now=created,
        )
        span = int((at - created) / M) - 2
        steps = rng.choice([0, 0, 1, 1, 2, 3, 3]) if span > 0 else 0
        for minute in sorted(rng.randint(1, span) for _ in range(steps)):
            _act(w, ticket, created + minute * M, replies=replies, shapes=shapes)
    if rules_changed:
        _later_rules(w, shapes=shapes)
        sweeping.rules_changed(now=at - 10 * M)
    for user in w.to_deactivate:
        User.objects.filter(pk=user.pk).update(is_active=False)
    if knobs.quirks:
        odd = Ticket.objects.active().filter(team=w.teams["L1"]).order_by("pk").first()
        if odd is not None:
            Ticket.objects.filter(pk=odd.pk).update(level=w.teams["L2"].level)
        Team.objects.filter(pk=w.teams["L3"].pk).update(is_active=False)
    held: list[str] = []
    if knobs.incident:
        from incidents.models import IncidentLink, MajorIncident

        tickets = list(Ticket.objects.active().order_by("pk"))[::3]
        incident = MajorIncident.objects.create(title="Outage", manager=w.duty)
        IncidentLink.objects.bulk_create(
            [IncidentLink(incident=incident, ticket=t, source="manual") for t in tickets]
        )
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(next_check_at=at - M)
        held = [t.reference for t in tickets]
    return Scenario(at=at, batch=knobs.batch, shapes=shapes, held=held)


# ---------------------------------------------------------------------------------------------
# The normalised snapshot

# Causes and dedupe keys that embed a database id.
ESCALATION_CAUSE = re.compile(r"(escalation|unack|ack|deescalation):(\d+)")
EVENT_CAUSE = re.compile(r"(assigned|cadence|resolved):(\d+)")
RULE_CAUSE = re.compile(r"rule:(\d+):(\d+):(\d+)")
SLA_KEY = re.compile(r"sla:(\d+):(.*)")
WEBHOOK_ID = re.compile(r"evt_[0-9a-f]{32}")


@dataclass
class Names:
    """Stable names for rows whose ids differ between the two runs."""

    by_model: dict[type[models.Model], dict[int, Any]]

    def of(self, model: type[models.Model], pk: int | None) -> Any:
        if pk is None:
            return None
        return self.by_model.get(model, {}).get(pk, f"?{model.__name__}:{pk}")

    def text(self, value: str) -> str:
        if m := ESCALATION_CAUSE.fullmatch(value):
            return f"{m[1]}:{self.of(Escalation, int(m[2]))}"
        if m := EVENT_CAUSE.fullmatch(value):
            return f"{m[1]}:{self.of(TicketEvent, int(m[2]))}"
        if m := RULE_CAUSE.fullmatch(value):
            rule, ticket = self.of(EscalationRule, int(m[1])), self.of(Ticket, int(m[2]))
            return f"rule:{rule}:{ticket}:{m[3]}"
        if m := SLA_KEY.fullmatch(value):
            return f"sla:{self.of(Ticket, int(m[1]))}:{m[2]}"
        return value

    def value(self, value: Any, key: str | None = None, parent: str | None = None) -> Any:
        """`value` with embedded ids named, recursively; datetimes as UTC ISO strings."""
        if isinstance(value, dict):
            return {k: self.value(v, k, key) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, key, parent) for v in value]
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).isoformat()
        if isinstance(value, int) and not isinstance(value, bool):
            if key == "escalation" or (key == "id" and parent == "escalation"):
                return self.of(Escalation, value)
            if key == "closing_message" or (key == "id" and parent == "message"):
                return self.of(Message, value)
            return value
        if isinstance(value, str):
            return self.text(value)
        return value


def _names() -> Names:
    by_model: dict[type[models.Model], dict[int, Any]] = {
        Team: dict(Team.objects.values_list("pk", "name")),
        SupportLevel: dict(SupportLevel.objects.values_list("pk", "rank")),
        User: dict(User.objects.values_list("pk", "username")),
        Customer: dict(Customer.objects.values_list("pk", "name")),
        SLAPolicy: dict(SLAPolicy.objects.values_list("pk", "name")),
        EscalationRule: dict(EscalationRule.objects.values_list("pk", "name")),
        WebhookEndpoint: dict(WebhookEndpoint.objects.values_list("pk", "url")),
        Ticket: dict(Ticket.objects.values_list("pk", "reference")),
    }
    refs = by_model[Ticket]
    # The n-th row of a ticket, by id: the order in which one run wrote them.
    for model, letter in ((Escalation, "E"), (TicketEvent, "V"), (Message, "M")):
        seen: dict[int, int] = defaultdict(int)
        names = {}
        for pk, ticket_id in model.objects.order_by("ticket_id", "pk").values_list(
            "pk", "ticket_id"
        ):
            names[pk] = f"{letter}:{refs[ticket_id]}:{seen[ticket_id]}"
            seen[ticket_id] += 1
        by_model[model] = names
    return Names(by_model)


def _row(obj: models.Model, names: Names, *, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """Every concrete field but `skip`; foreign keys by their stable name."""
    row = {}
    for f in obj._meta.concrete_fields:
        if f.name in skip:
            continue
        value = getattr(obj, f.attname)
        if f.is_relation:
            value = names.of(f.related_model, value)
        row[f.name] = value
    return names.value(row)


def _delivery_rows(names: Names) -> list[dict[str, Any]]:
    """Deliveries with the random webhook event id replaced by which of its cause's ids it is
    (every endpoint told of one event shares one id, so all of them are #0)."""
    ids_per_event: dict[int | None, list[str]] = defaultdict(list)
    rows = []
    for delivery in Delivery.objects.order_by("pk"):
        row = _row(delivery, names, skip=("id", "event_id"))
        if delivery.event_id:
            known = ids_per_event[delivery.ticket_event_id]
            if delivery.event_id not in known:
                known.append(delivery.event_id)
            shape = "evt_" if WEBHOOK_ID.fullmatch(delivery.event_id) else delivery.event_id
            row["event_id"] = f"{shape}#{known.index(delivery.event_id)}"
            payload = dict(delivery.payload)
            if payload.get("id") == delivery.event_id:
                payload["id"] = "<event_id>"
            row["payload"] = names.value(payload)
        rows.append(row)
    return _sorted(rows)


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Whose row it is first, so that a row that differs in one field stays in its place.
    return sorted(rows, key=lambda r: (_label(r), str(r.get("ticket_event")), _line(r)))


def _line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def snapshot() -> dict[str, Any]:
    """The database as the two lanes must leave it, free of ids."""
    names = _names()
    per_ticket: dict[int, dict[str, Any]] = {}
    for ticket in Ticket.objects.order_by("pk"):
        per_ticket[ticket.pk] = {
            "row": _row(ticket, names),
            "followers": sorted(ticket.watchers.values_list("username", flat=True)),
            "events": [],
            "escalations": [],
            "firings": [],
            "segments": [],
            "messages": [],
        }
    tables = (
        ("events", TicketEvent),
        ("escalations", Escalation),
        ("firings", RuleFiring),
        ("segments", ClockSegment),
        ("messages", Message),
    )
    for key, model in tables:
        for obj in model.objects.order_by("ticket_id", "pk"):
            per_ticket[obj.ticket_id][key].append(_row(obj, names, skip=("id", "ticket")))
    return {
        "tickets": {names.of(Ticket, pk): rows for pk, rows in per_ticket.items()},
        "notifications": _sorted([_row(n, names) for n in Notification.objects.all()]),
        "deliveries": _delivery_rows(names),
    }


def outcomes(report: sweeping.SweepReport) -> dict[str, dict[str, Any]]:
    """The report's per-ticket outcomes by reference."""
    by_ref = {
        o.reference: {
            "ticket_id": o.ticket_id,
            "fired": list(o.fired),
            "sla_events": list(o.sla_events),
            "next_check_at": o.next_check_at.astimezone(dt.UTC).isoformat()
            if o.next_check_at
            else None,
        }
        for o in report.outcomes
    }
    assert len(by_ref) == len(report.outcomes), "a ticket reported twice"
    return by_ref


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where the per-ticket lane's `a` and the bulk lane's `b` part, one line per spot."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        lines = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                lines.append(f"{path}/{key}: only after the per-ticket lane: {_line(a[key])}")
            elif key not in a:
                lines.append(f"{path}/{key}: only after the bulk lane: {_line(b[key])}")
            else:
                lines += differences(a[key], b[key], f"{path}/{key}")
        return lines
    if isinstance(a, list) and isinstance(b, list):
        # Rows matched by content; a changed row is compared field by field.
        la, lb = [_line(x) for x in a], [_line(x) for x in b]
        lines = []
        matcher = difflib.SequenceMatcher(None, la, lb, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "replace" and i2 - i1 == j2 - j1:
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    lines += differences(a[i], b[j], f"{path}[{i}{_label(a[i])}]")
            elif op != "equal":
                lines += [
                    f"{path}[{i}]: only after the per-ticket lane: {la[i]}" for i in range(i1, i2)
                ]
                lines += [f"{path}[{j}]: only after the bulk lane: {lb[j]}" for j in range(j1, j2)]
        return lines
    return [f"{path}: per-ticket {a!r} != bulk {b!r}"]


def _label(row: Any) -> str:
    """Which row this is, for a reader of the difference."""
    if not isinstance(row, dict):
        return ""
    keys = ("ticket", "kind", "user", "endpoint", "target", "rule")
    return "".join(f" {row[k]}" for k in keys if row.get(k) is not None)


class _RollBack(Exception):
    pass


def sweep_and_roll_back(
    scenario: Scenario, *, bulk: bool
) -> tuple[sweeping.SweepReport, dict[str, Any]]:
    """Sweep, take the snapshot, and undo the sweep (the next run starts from the same state)."""
    result = {}
    try:
        with transaction.atomic():
            result["report"] = sweeping.sweep(now=scenario.at, batch=scenario.batch, bulk=bulk)
            result["snapshot"] = snapshot()
            raise _RollBack
    except _RollBack:
        pass
    return result["report"], result["snapshot"]


def _count(snap: dict[str, Any], table: str) -> int:
    return sum(len(rows[table]) for rows in snap["tickets"].values())


# ---------------------------------------------------------------------------------------------
# The test

SCENARIOS = [
    *(pytest.param(Knobs(seed=seed), id=f"seed{seed}") for seed in range(1, 9)),
    # Mostly shapes the bulk lane finishes itself: no priority raise or major incident, no
    # public replies (so no next_update instants), no functional hand-off next to a
    # hierarchical one.
    pytest.param(
        Knobs(
            seed=101,
            at=SWEEP_INSTANTS[1],
            tickets=22,
            shapes="eligible",
            replies=False,
            defaults=False,
            rules_changed=False,
            webhooks=True,
            functional=False,
            mostly_bulk=True,
        ),
        id="eligible-only",
    ),
    # The shapes the bulk lane hands back (priority raised, major incident, next_update
    # instants, two hand-offs in one sweep) next to those it keeps; default rules active.
    pytest.param(
        Knobs(
            seed=102,
            at=SWEEP_INSTANTS[3],
            tickets=22,
            shapes="mixed",
            replies=True,
            defaults=True,
            rules_changed=True,
            webhooks=True,
            functional=True,
        ),
        id="mixed-shapes",
    ),
    # New rules make every active ticket due; small batches; the office is closed.
    pytest.param(
        Knobs(
            seed=103,
            at=SWEEP_INSTANTS[2],
            tickets=18,
            shapes="eligible",
            rules_changed=True,
            webhooks=True,
            batch=7,
        ),
        id="rules-changed-small-batches",
    ),
    # A ticket on a level that is not its team's, and an inactive team up the chain.
    pytest.param(
        Knobs(seed=104, at=SWEEP_INSTANTS[1], tickets=18, shapes="eligible", quirks=True),
        id="odd-data",
    ),
    # Tickets a major incident holds, due: neither lane fires a rule or records an SLA event.
    pytest.param(
        Knobs(
            seed=105,
            at=SWEEP_INSTANTS[1],
            tickets=18,
            shapes="eligible",
            webhooks=True,
            incident=True,
        ),
        id="held-by-an-incident",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("knobs", SCENARIOS)
def test_bulk_lane_leaves_the_database_the_per_ticket_lane_leaves(
    knobs: Knobs, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = build(knobs)
    due = set(
        Ticket.objects.active()
        .filter(next_check_at__lte=scenario.at)
        .values_list("reference", flat=True)
    )
    assert len(due) >= 5, "the scenario leaves too little for the sweep to do"
    before = snapshot()

    single, after_single = sweep_and_roll_back(scenario, bulk=False)
    assert snapshot() == before, "the per-ticket run was not undone"
    bulk, after_bulk = sweep_and_roll_back(scenario, bulk=True)

    # The comparison means something only when the sweep did something, and did it in the
    # lane under test (a ticket or batch that fails in bulk is logged and evaluated alone).
    assert single.failed == [] and bulk.failed == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert single.fired > 0
    assert _count(after_single, "escalations") > _count(before, "escalations")
    assert len(after_single["notifications"]) > len(before["notifications"])
    assert after_single != before
    # Both runs looked at the same due tickets; the lanes account for each of them once.
    assert single.examined == bulk.examined == len(due)
    assert {o.reference for o in single.outcomes} <= due
    assert (single.bulk, single.single) == (0, single.examined)
    assert bulk.bulk + bulk.single == bulk.examined
    if scenario.shapes == "eligible":
        assert bulk.bulk > 0, "the bulk lane handed every ticket back"
    if knobs.mostly_bulk:
        assert bulk.bulk >= bulk.single, (bulk.bulk, bulk.single)
    # A ticket on which a rule raised the priority or marked a major incident at the sweep
    # went through the per-ticket lane.
    handing_back = set(
        EscalationRule.objects.filter(
            Q(raise_priority_to__isnull=False) | Q(mark_major_incident=True)
        ).values_list("name", flat=True)
    )
    at = scenario.at.astimezone(dt.UTC).isoformat()
    shaped = {
        ref
        for ref, rows in after_single["tickets"].items()
        if any(f["rule"] in handing_back and f["fired_at"] == at for f in rows["firings"])
    }
    assert bulk.single >= len(shaped), (bulk.single, sorted(shaped))

    for report in (single, bulk):
        touched = {o.reference for o in report.outcomes if o.fired or o.sla_events}
        assert not touched & set(scenario.held), sorted(touched & set(scenario.held))
    for ref in scenario.held:
        # Nothing written for a held ticket but its next check, which the engine clears.
        held_before, held_after = before["tickets"][ref], after_single["tickets"][ref]
        assert {k: v for k, v in held_after.items() if k != "row"} == {
            k: v for k, v in held_before.items() if k != "row"
        }
        assert held_after["row"]["next_check_at"] is None
    report_diff = differences(outcomes(single), outcomes(bulk), "/outcomes")
    assert not report_diff, "\n".join(report_diff[:60])
    state_diff = differences(after_single, after_bulk)
    assert not state_diff, "\n".join(state_diff[:120])


def test_the_bulk_lane_runs_beside_listeners_only_when_they_declare_other_kinds(monkeypatch):
    """A listener that acts on entries the bulk lane writes (or does not say which it acts
    on) sends the sweep to the per-ticket lane; one that declares other kinds does not."""
    from escalation import bulk
    from tickets import services as ticket_services

    assert bulk.available()  # notifications', and the mail's (replies, resolutions)

    def undeclared(event):
        pass

    def on_escalations(event):
        pass

    def on_messages(event):
        pass

    on_escalations.event_kinds = frozenset({TicketEvent.Kind.ESCALATED})
    on_messages.event_kinds = frozenset({TicketEvent.Kind.NOTE_ADDED})
    registered = ticket_services.event_listeners()
    for listener, expected in ((undeclared, False), (on_escalations, False), (on_messages, True)):
        monkeypatch.setattr(
            ticket_services, "event_listeners", lambda listener=listener: (*registered, listener)
        )
        assert bulk.available() is expected
