"""Demo data for `manage.py seed_demo`: the organisation of the source documents and tickets.

Two ways to write tickets, both with real timelines:

* through the services (`ticket_create`, `ticket_assign`, `ticket_transition`, `ticket_reply`,
  ...) with backdated `now=` instants, so every row, event and hook is exactly what the app
  would have produced;
* in bulk, for volume: the same plans, replayed in memory with the services' bookkeeping
  (status, stamps, cycle, progress, events and their payloads) and written with
  `bulk_create`. Bulk rows do not run the change hooks (SLA clock, escalation engine).

Every ticket is planned from its own `random.Random(seed, index)`, so a run is reproducible
with `--seed`, and topping up to a larger count plans the new tickets only.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_fsm import TransitionNotAllowed

from tickets import services
from tickets.management import demo_content as content
from tickets.models import Customer, Message, SupportLevel, Team, Ticket, TicketEvent
from tickets.priority import Priority

User = get_user_model()
Status = Ticket.Status
Kind = TicketEvent.Kind

LOCAL_TZ = ZoneInfo("Europe/Berlin")  # the demo organisation works Berlin office hours
# The first tickets of a fresh database get these states, so that a small run shows them all.
GUARANTEED: tuple[tuple[str, float, float], ...] = (
    (Status.NEW, 0.2, 20),  # status, youngest and oldest age in hours
    (Status.OPEN, 2, 72),
    (Status.PENDING, 24, 120),
    (Status.RESOLVED, 24, 120),
    (Status.CLOSED, 240, 1200),
)
SERVICE_ERRORS = (TransitionNotAllowed, PermissionDenied, ValidationError)


# --- The organisation -----------------------------------------------------------------------


@dataclass
class Login:
    username: str
    password: str | None  # None: the account existed before and keeps its password
    role: str


@dataclass
class Organisation:
    levels: dict[int, SupportLevel]
    teams: dict[str, Team]  # by TeamSpec.key
    members: dict[int, list[Any]]  # team pk -> active users who can work its tickets
    customers: list[tuple[Customer, content.CustomerSpec]]
    logins: list[Login]
    admin: Any  # acts when a team has nobody left to act (a superuser may work any ticket)
    created: Counter[str] = field(default_factory=Counter)
    _priorities: dict[tuple[int, int], int] = field(default_factory=dict, init=False, repr=False)

    def people(self, team_id: int) -> list[Any]:
        """Who can work the team's tickets (the admin when nobody can). A team outside the demo
        organisation (an automatic escalation may hand a ticket to one) is looked up once."""
        if team_id not in self.members:
            self.members[team_id] = _workers(Team.objects.get(pk=team_id))
        return self.members[team_id] or [self.admin]

    def lead_of(self, team_id: int) -> int | None:
        team = next((t for t in self.teams.values() if t.pk == team_id), None)
        return team.lead_id if team is not None else None

    def priority(self, impact: int, urgency: int) -> int:
        """`services.derive_ticket_priority`, asked once per pair (it reads the matrix)."""
        key = (impact, urgency)
        if key not in self._priorities:
            self._priorities[key] = services.derive_ticket_priority(impact, urgency)
        return self._priorities[key]


def _user(
    username: str,
    password: str,
    role: str,
    created: Counter[str],
    hashes: dict[str, str],
    **extra: Any,
) -> tuple[Any, Login]:
    first, last = content.PEOPLE[username]
    user, is_new = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@helpdesk.example",
            **extra,
        },
    )
    if is_new:
        # One hash per demo password: hashing is slow on purpose, and these are printed anyway.
        if password not in hashes:
            hashes[password] = make_password(password)
        user.password = hashes[password]
        user.save(update_fields=["password"])
        created["users"] += 1
    return user, Login(username, password if is_new else None, role)


@transaction.atomic
def seed_organisation() -> Organisation:
    """Create what is missing of the demo organisation; never change what exists.

    Levels are found by rank, teams by name, users by user name, customers by name. A team's
    members are only set when the team is created here, so a second run changes nothing.
    """
    created: Counter[str] = Counter()
    logins: list[Login] = []
    hashes: dict[str, str] = {}

    levels: dict[int, SupportLevel] = {}
    for rank, name, mandate in content.LEVELS:
        level, is_new = SupportLevel.objects.get_or_create(
            rank=rank, defaults={"name": name, "description": mandate}
        )
        levels[rank] = level
        created["levels"] += is_new

    admin, login = _user(
        content.ADMIN_USERNAME,
        content.ADMIN_PASSWORD,
        "admin (superuser)",
        created,
        hashes,
        is_staff=True,
        is_superuser=True,
    )
    logins.append(login)

    teams: dict[str, Team] = {}
    for spec in content.TEAMS:
        lead, login = _user(spec.lead, content.LEAD_PASSWORD, f"lead, {spec.name}", created, hashes)
        logins.append(login)
        people = [lead]
        for username in spec.members:
            member, login = _user(username, content.AGENT_PASSWORD, spec.name, created, hashes)
            logins.append(login)
            people.append(member)
        team, is_new = Team.objects.get_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "level": levels[spec.rank],
                "escalates_to": teams[spec.escalates_to] if spec.escalates_to else None,
                "email": spec.email,
                "lead": lead,
            },
        )
        if is_new:
            team.members.add(*people)
            created["teams"] += 1
        teams[spec.key] = team

    customers = []
    for spec in content.CUSTOMERS:
        customer, is_new = Customer.objects.get_or_create(
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "tier": spec.tier,
                "is_vip": spec.is_vip,
                "contract": spec.contract,
                "email": spec.email,
                "phone": spec.phone,
                "notes": spec.notes,
            },
        )
        customers.append((customer, spec))
        created["customers"] += is_new

    return Organisation(
        levels=levels,
        teams=teams,
        members={team.pk: _workers(team) for team in teams.values()},
        customers=customers,
        logins=logins,
        admin=admin,
        created=created,
    )


def _workers(team: Team) -> list[Any]:
    """The team's active members and lead, in a stable order (the plans pick from it)."""
    people = {user.pk: user for user in team.members.filter(is_active=True)}
    if team.lead is not None and team.lead.is_active:
        people.setdefault(team.lead.pk, team.lead)
    return sorted(people.values(), key=lambda user: user.get_username())


# --- Planning a ticket ------------------------------------------------------------------------


@dataclass
class Step:
    """One thing that happens to a ticket after it was opened, `gap` seconds after the last."""

    kind: str  # take, hand_over, transition, reply, note, customer, priority
    gap: float
    name: str = ""  # transition name
    team: Team | None = None  # hand_over target
    body: str = ""
    reason: str = ""
    impact: int | None = None
    urgency: int | None = None
    at: datetime | None = None


@dataclass
class Plan:
    index: int
    created_at: datetime
    subject: str
    description: str
    team: Team
    customer: Customer | None
    author_name: str
    channel: str
    impact: int
    urgency: int
    logged_by_agent: bool
    steps: list[Step]
    rng: random.Random  # continues after planning: picks the people at execution time


def _rng(seed: int, index: int) -> random.Random:
    return random.Random(f"helpdesk-demo:{seed}:{index}")


def draw_created(
    rng: random.Random, index: int, anchor: datetime, days: int
) -> tuple[datetime, str]:
    """When ticket `index` was opened and the state it should end in (first draws of `rng`)."""
    horizon = days * 86400
    if index < len(GUARANTEED):
        target, youngest, oldest = GUARANTEED[index]
        age = min(rng.uniform(youngest, oldest) * 3600, horizon)
        return anchor - timedelta(seconds=age), target
    created = anchor - timedelta(seconds=rng.uniform(0, horizon))
    local = created.astimezone(LOCAL_TZ)
    if local.weekday() >= 5 and rng.random() < 0.7:
        local -= timedelta(days=local.weekday() - 4)  # most weekend mail is Friday's
    if rng.random() < 0.8:  # and most of it arrives in office hours
        local = local.replace(hour=rng.randint(7, 17), minute=rng.randint(0, 59))
    shifted = local.astimezone(UTC)
    if anchor - timedelta(seconds=horizon) <= shifted < anchor:
        created = shifted
    age_hours = (anchor - created).total_seconds() / 3600
    return created, _target_for_age(rng, age_hours)


def _target_for_age(rng: random.Random, age_hours: float) -> str:
    if age_hours < 2:
        weights = (60, 40, 0, 0, 0)
    elif age_hours < 24:
        weights = (25, 35, 15, 25, 0)
    elif age_hours < 24 * 7:
        weights = (5, 25, 20, 35, 15)
    else:
        weights = (1, 7, 7, 10, 75)
    statuses = (Status.NEW, Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED)
    return rng.choices(statuses, weights=weights)[0]


class _Fill(dict[str, str]):
    """Placeholders for `str.format_map`; an unknown one stays visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _context(
    rng: random.Random, lang: str, created: datetime, spec: content.CustomerSpec | None
) -> _Fill:
    local = created.astimezone(LOCAL_TZ)
    de = lang == "de"
    cents = rng.randint(0, 99)
    euros = rng.randint(19, 4999)
    since_time = (local - timedelta(minutes=rng.randint(5, 180))).strftime("%H:%M")
    later = (local + timedelta(days=rng.randint(2, 9))).strftime("%d.%m.%Y" if de else "%d %b %Y")
    return _Fill(
        contact=spec.contact if spec else "Alertmanager",
        customer=spec.name if spec else ("intern" if de else "internal"),
        product=rng.choice(content.PRODUCTS if de else content.PRODUCTS_EN),
        since=(f"heute {since_time} Uhr" if de else f"{since_time} today"),
        time=(local + timedelta(minutes=rng.randint(20, 600))).strftime("%H:%M"),
        date=later,
        error=rng.choice(content.ERRORS),
        endpoint=rng.choice(content.ENDPOINTS),
        host=rng.choice(content.HOSTS),
        count=str(rng.choice((12, 25, 40, 85, 140, 300))),
        order=f"A-{rng.randint(100000, 999999)}",
        invoice=f"RE-{local.year}-{rng.randint(1000, 99999):05d}",
        amount=(
            f"{euros:,}".replace(",", ".") + f",{cents:02d} €" if de else f"€{euros:,}.{cents:02d}"
        ),
        device=rng.choice(content.DEVICES_DE if de else content.DEVICES_EN),
        serial=f"SN-{rng.randint(10, 99)}{rng.choice('ABCDEFGHJK')}{rng.randint(10000, 99999)}",
    )


class _Planner:
    """Builds the steps of one ticket and tracks its team, so escalations follow the chain."""

    def __init__(
        self,
        rng: random.Random,
        lang: str,
        fill: _Fill,
        salutation: str,
        category: content.Category,
        team: Team,
    ) -> None:
        self.rng = rng
        self.lang = lang
        self.fill = fill
        self.salutation = salutation
        self.category = category
        self.texts = category.for_lang(lang)
        self.case = rng.choice(self.texts.cases)
        self.notes = self.case.notes or self.texts.notes
        self.solutions = self.case.solutions or self.texts.solutions
        self.team = team
        self.steps: list[Step] = []

    def add(self, kind: str, minutes: tuple[float, float], **kwargs: Any) -> None:
        gap = self.rng.uniform(*minutes) * 60
        self.steps.append(Step(kind=kind, gap=gap, **kwargs))

    def text(self, options: Sequence[str]) -> str:
        return self.rng.choice(options).format_map(self.fill)

    def reply(self, options: Sequence[str], minutes: tuple[float, float]) -> None:
        """A public reply; a system-raised ticket has nobody to answer, so it gets a note."""
        if self.category.internal:
            self.add("note", minutes, body=self.text(options))
            return
        signature = content.SIGNATURE[self.lang]
        body = f"{self.salutation},\n\n{self.text(options)}\n\n{signature}"
        self.add("reply", minutes, body=body)

    def follow_up(self, minutes: tuple[float, float]) -> None:
        options = content.FOLLOW_UPS[self.lang]
        if self.category.technical:
            options = options + content.TECHNICAL_FOLLOW_UPS[self.lang]
        self.customer(options, minutes)

    def customer(self, options: Sequence[str], minutes: tuple[float, float]) -> None:
        if not self.category.internal and options:
            self.add("customer", minutes, body=self.text(options))

    def note(self, minutes: tuple[float, float]) -> None:
        if self.notes:
            self.add("note", minutes, body=self.text(self.notes))

    def hand_over(self, team: Team, reasons: Sequence[str], minutes: tuple[float, float]) -> None:
        self.add("hand_over", minutes, team=team, reason=self.rng.choice(reasons))
        self.team = team
        self.add("take", (5, 90))

    def escalate(self) -> bool:
        target = self.team.escalates_to
        if self.team.kind != Team.Kind.TIER or target is None:
            return False
        self.add("note", (30, 600), body=self.text(content.ESCALATION_NOTES[self.lang]))
        self.hand_over(target, content.ESCALATION_REASONS[self.lang], (1, 10))
        self.reply(content.UPDATES[self.lang], (10, 120))
        return True

    def ask_and_wait(self, answered: bool) -> None:
        if self.category.internal or not self.texts.asks:
            return
        self.reply(self.texts.asks, (20, 240))
        self.add("transition", (1, 5), name="pend")
        if answered:
            # The customer's answer sets the ticket open again (ticket_add_customer_message).
            self.customer(self.texts.answers or content.FOLLOW_UPS[self.lang], (180, 2880))


def plan_ticket(
    index: int,
    *,
    seed: int,
    anchor: datetime,
    days: int,
    org: Organisation,
) -> Plan:
    """Everything that will happen to demo ticket `index`, in order, with instants."""
    rng = _rng(seed, index)
    created, target = draw_created(rng, index, anchor, days)
    category = rng.choices(content.CATEGORIES, weights=[c.weight for c in content.CATEGORIES])[0]
    customer: Customer | None = None
    spec: content.CustomerSpec | None = None
    if category.internal:
        lang = "en"
    else:
        customer, spec = rng.choice(org.customers)
        lang = spec.lang if rng.random() < 0.9 else ("en" if spec.lang == "de" else "de")
    fill = _context(rng, lang, created, spec)
    desk = org.teams["desk_de" if lang == "de" else "desk_en"]
    home = desk if category.route == "desk" else org.teams[category.route]
    start = desk if home != desk and rng.random() < category.via_desk else home
    impact = rng.choice(category.impacts)
    urgency = rng.choice(category.urgencies)
    channel = rng.choice(category.channels)
    salutation = spec.salutation if spec and spec.lang == lang else content.DEFAULT_SALUTATION[lang]
    planner = _Planner(rng, lang, fill, salutation, category, start)
    _plan_steps(planner, org, target, home, impact, urgency)
    _schedule(planner.steps, created, anchor)
    return Plan(
        index=index,
        created_at=created,
        subject=planner.case.subject.format_map(fill)[:200],
        description=planner.case.description.format_map(fill),
        team=start,
        customer=customer,
        author_name=spec.contact if spec else "",
        channel=channel,
        impact=impact,
        urgency=urgency,
        logged_by_agent=channel == Ticket.Channel.PHONE,
        steps=planner.steps,
        rng=rng,
    )


def _plan_steps(
    p: _Planner, org: Organisation, target: str, home: Team, impact: int, urgency: int
) -> None:
    lang, rng = p.lang, p.rng
    if target == Status.NEW:
        if rng.random() < 0.35:
            p.follow_up((60, 1200))
        return
    critical = org.priority(impact, urgency) == Priority.CRITICAL
    p.add("take", (2, 15) if critical else (10, 240))
    p.add("transition", (0.5, 5), name="open")
    p.reply(content.ACKS[lang], (2, 40))
    if rng.random() < 0.15:
        if impact > 1 and rng.random() < 0.5:
            p.add("priority", (30, 300), impact=impact - 1, reason=content.PRIORITY_UP[lang])
        elif urgency < 4:
            p.add("priority", (30, 300), urgency=urgency + 1, reason=content.PRIORITY_DOWN[lang])
    if p.team != home:  # arrived at the Service Desk, belongs to a functional team
        p.hand_over(home, content.HANDOVER_REASONS[lang], (20, 180))
        p.note((10, 240))
    if rng.random() < p.category.escalate and p.escalate():
        p.note((30, 600))
        if critical and rng.random() < 0.5:
            p.escalate()
    if rng.random() < 0.5:
        p.note((30, 600))
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        p.follow_up((120, 1800))
        if rng.random() < 0.7:  # an unanswered follow-up is a soft signal worth seeing
            p.reply(content.UPDATES[lang], (20, 300))
    if target == Status.OPEN:
        if rng.random() < 0.3:
            p.ask_and_wait(answered=True)
        return
    if target == Status.PENDING:
        if p.category.internal or not p.texts.asks:
            p.add("transition", (10, 120), name="pend")
        else:
            p.ask_and_wait(answered=False)
        return
    if rng.random() < 0.35:
        p.ask_and_wait(answered=True)
    p.reply(p.solutions, (60, 2880))
    p.add("transition", (1, 10), name="resolve")
    if target == Status.CLOSED:
        if not p.category.internal and rng.random() < 0.12:
            # A customer message on a resolved ticket reopens it (ticket_add_customer_message).
            if p.category.technical:
                p.customer(content.REOPENS[lang], (360, 4320))
                p.reply(content.REOPEN_REPLIES[lang], (15, 240))
                p.note((30, 600))
                p.reply(p.solutions, (60, 1440))
            else:
                p.customer(content.QUESTIONS[lang], (60, 2880))
                p.reply(content.QUESTION_REPLIES[lang], (15, 240))
            p.add("transition", (1, 10), name="resolve")
        p.add("transition", (2880, 10080), name="close")


def _schedule(steps: list[Step], created: datetime, anchor: datetime) -> None:
    """Give each step its instant; squeeze the gaps when the ticket is too young for them."""
    total = sum(step.gap for step in steps)
    room = max((anchor - created).total_seconds() - 60, 0.0)
    factor = room / total if total > room else 1.0
    at = created
    for step in steps:
        at += timedelta(seconds=step.gap * factor)
        step.at = at


# --- Executing plans ----------------------------------------------------------------------------


def _agent(org: Organisation, rng: random.Random, team_id: int, assignee_id: int | None) -> Any:
    """Who acts now: the assignee while they are in the ticket's team, else one of the team."""
    people = org.people(team_id)
    for person in people:
        if person.pk == assignee_id:
            return person
    return rng.choice(people)


def _taker(org: Organisation, rng: random.Random, team_id: int) -> Any:
    people = org.people(team_id)
    lead = org.lead_of(team_id)
    agents = [person for person in people if person.pk != lead] or people
    return rng.choice(agents) if rng.random() < 0.85 else rng.choice(people)


def run_with_services(plan: Plan, org: Organisation) -> int:
    """Create the ticket and play its steps through the services. Returns the skipped steps.

    The acting agent is picked from the ticket's state as stored, so a hook that changed the
    owner (an automatic escalation, say) is followed rather than fought; a step the services
    refuse is skipped and counted.
    """
    rng = plan.rng
    creator = _taker(org, rng, plan.team.pk) if plan.logged_by_agent else None
    ticket = services.ticket_create(
        actor=creator,
        data=services.NewTicket(
            subject=plan.subject,
            description=plan.description,
            team=plan.team,
            customer=plan.customer,
            impact=plan.impact,
            urgency=plan.urgency,
            channel=plan.channel,
        ),
        now=plan.created_at,
    )
    skipped = 0
    for step in plan.steps:
        ticket = Ticket.objects.get(pk=ticket.pk)
        try:
            _service_step(step, ticket, plan, org, rng)
        except SERVICE_ERRORS:
            skipped += 1
    return skipped


def _service_step(
    step: Step, ticket: Ticket, plan: Plan, org: Organisation, rng: random.Random
) -> None:
    now = step.at
    if step.kind == "customer":
        services.ticket_add_customer_message(
            ticket=ticket, body=step.body, author_name=plan.author_name, now=now
        )
        return
    if step.kind == "take":
        taker = _taker(org, rng, ticket.team_id)
        services.ticket_assign(ticket=ticket, actor=taker, assignee=taker, now=now)
        return
    actor = _agent(org, rng, ticket.team_id, ticket.assignee_id)
    if step.kind == "hand_over":
        services.ticket_assign(
            ticket=ticket, actor=actor, assignee=None, team=step.team, reason=step.reason, now=now
        )
    elif step.kind == "transition":
        services.ticket_transition(ticket=ticket, actor=actor, name=step.name, now=now)
    elif step.kind == "reply":
        services.ticket_reply(ticket=ticket, actor=actor, body=step.body, now=now)
    elif step.kind == "note":
        services.ticket_add_note(ticket=ticket, actor=actor, body=step.body, now=now)
    elif step.kind == "priority":
        services.ticket_change_priority(
            ticket=ticket,
            actor=actor,
            reason=step.reason,
            impact=step.impact,
            urgency=step.urgency,
            now=now,
        )
    else:  # pragma: no cover - a planning bug, not a user's mistake
        raise ValueError(f"Unknown step {step.kind!r}")


class _Replay:
    """One planned ticket replayed in memory with the services' bookkeeping, for bulk writes.

    Mirrors `tickets.services`: the same stamps, cycle and progress rules, the same event kinds
    and payloads. Kept next to the plans it replays; `test_seed_demo` checks the two paths
    produce the same timeline for the same plan.
    """

    def __init__(self, plan: Plan, org: Organisation, labels: dict[int, str]) -> None:
        self.plan = plan
        self.org = org
        self.labels = labels
        self.priority_of = org.priority
        self.status = Status.NEW
        self.team = plan.team
        self.level = plan.team.level
        self.assignee: Any = None
        self.impact, self.urgency = plan.impact, plan.urgency
        self.priority = org.priority(plan.impact, plan.urgency)
        self.overridden = False
        self.updated_at = plan.created_at
        self.last_progress_at: datetime | None = None
        self.first_responded_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.reopen_count = 0
        self.resumed_at: datetime | None = None
        self.cycle = 0
        self.cycle_started_at = plan.created_at
        # Plain values, turned into rows once the ticket has its primary key:
        # messages (kind, author id, author name, body, at) and
        # events (kind, actor id, at, payload, index of its message or None).
        self.messages: list[tuple[str, int | None, str, str, datetime]] = []
        self.events: list[tuple[str, int | None, datetime, dict[str, Any], int | None]] = []

    def label(self, user: Any) -> str | None:
        return None if user is None else self.labels[user.pk]

    def event(
        self,
        kind: str,
        actor: Any,
        at: datetime,
        payload: dict[str, Any] | None = None,
        message: int | None = None,
    ) -> None:
        self.events.append((kind, actor.pk if actor else None, at, payload or {}, message))

    def message(self, kind: str, author: Any, body: str, at: datetime) -> int:
        name = "" if author is not None else self.plan.author_name
        self.messages.append((kind, author.pk if author else None, name, body, at))
        return len(self.messages) - 1

    def progress(self, at: datetime) -> None:
        self.last_progress_at = at  # every actor here is an agent

    def run(self) -> None:
        plan, rng = self.plan, self.plan.rng
        creator = _taker(self.org, rng, plan.team.pk) if plan.logged_by_agent else None
        self.created_by = creator
        self.event(
            Kind.CREATED,
            creator,
            plan.created_at,
            {
                "subject": plan.subject,
                "team": plan.team.name,
                "level": plan.team.level.rank,
                "priority": self.priority,
                "channel": plan.channel,
                "assignee": None,
            },
        )
        for step in plan.steps:
            self.step(step, rng)

    def step(self, step: Step, rng: random.Random) -> None:
        at = step.at
        assert at is not None
        if step.kind == "customer":
            self.customer(step.body, at)
            return
        if step.kind == "take":
            taker = _taker(self.org, rng, self.team.pk)
            self.assign(taker, taker, self.team, "", at)
            return
        actor = _agent(self.org, rng, self.team.pk, self.assignee.pk if self.assignee else None)
        if step.kind == "hand_over":
            assert step.team is not None
            self.assign(actor, None, step.team, step.reason, at)
        elif step.kind == "transition":
            self.transition(actor, step.name, at)
        elif step.kind == "reply":
            message = self.message(Message.Kind.REPLY, actor, step.body, at)
            first = self.first_responded_at is None
            if first:
                self.first_responded_at = at
            self.updated_at = at
            self.progress(at)
            self.event(Kind.REPLIED, actor, at, {"first_response": first}, message)
        elif step.kind == "note":
            message = self.message(Message.Kind.NOTE, actor, step.body, at)
            self.updated_at = at
            self.progress(at)
            self.event(Kind.NOTE_ADDED, actor, at, None, message)
        elif step.kind == "priority":
            self.change_priority(actor, step, at)

    def customer(self, body: str, at: datetime) -> None:
        message = self.message(Message.Kind.CUSTOMER, None, body, at)
        before = self.status
        if self.status == Status.PENDING:
            self.status = Status.OPEN
            self.resumed_at = at
        elif self.status == Status.RESOLVED:
            self.reopen(at)
        self.updated_at = at
        self.event(Kind.CUSTOMER_MESSAGE, None, at, None, message)
        if self.status != before:
            payload = {"from": before, "to": self.status, "automatic": True}
            self.event(Kind.TRANSITIONED, None, at, payload)

    def reopen(self, at: datetime) -> None:
        self.status = Status.OPEN
        self.resolved_at = None
        self.reopen_count += 1
        self.cycle += 1
        self.cycle_started_at = at

    def transition(self, actor: Any, name: str, at: datetime) -> None:
        before = self.status
        if name == "reopen":
            self.reopen(at)
        else:
            self.status = TRANSITION_TARGETS[name]
        if name == "resolve":
            self.resolved_at = at
        elif name == "close":
            self.closed_at = at
        elif name == "resume":
            self.resumed_at = at
        self.updated_at = at
        self.progress(at)
        payload = {"from": before, "to": self.status, "transition": name}
        self.event(Kind.TRANSITIONED, actor, at, payload)

    def assign(self, actor: Any, assignee: Any, team: Team, reason: str, at: datetime) -> None:
        changed = False
        if team.pk != self.team.pk:
            old_team, old_level = self.team, self.level
            self.team, self.level = team, team.level
            self.cycle += 1
            self.cycle_started_at = at
            changed = True
            payload = {"from": old_team.name, "to": team.name, "reason": reason}
            self.event(Kind.TEAM_CHANGED, actor, at, payload)
            if old_level.pk != team.level_id:
                payload = {"from": old_level.rank, "to": team.level.rank}
                self.event(Kind.LEVEL_CHANGED, actor, at, payload)
        if (assignee.pk if assignee else None) != (self.assignee.pk if self.assignee else None):
            payload = {
                "from": self.label(self.assignee),
                "to": self.label(assignee),
                "reason": reason,
            }
            self.assignee = assignee
            changed = True
            self.event(Kind.ASSIGNED, actor, at, payload)
        if changed:
            self.updated_at = at
            self.progress(at)

    def change_priority(self, actor: Any, step: Step, at: datetime) -> None:
        before = {"priority": self.priority, "impact": self.impact, "urgency": self.urgency}
        if step.impact is not None:
            self.impact = step.impact
        if step.urgency is not None:
            self.urgency = step.urgency
        self.priority = self.priority_of(self.impact, self.urgency)
        self.overridden = False
        after = {"priority": self.priority, "impact": self.impact, "urgency": self.urgency}
        if after == before:
            return
        self.updated_at = at
        payload = {"from": before, "to": after, "reason": step.reason}
        self.event(Kind.PRIORITY_CHANGED, actor, at, payload)

    def ticket_row(self, reference: str) -> Ticket:
        plan = self.plan
        return Ticket(
            reference=reference,
            subject=plan.subject,
            description=plan.description,
            status=self.status,
            impact=self.impact,
            urgency=self.urgency,
            priority=self.priority,
            priority_overridden=self.overridden,
            team_id=self.team.pk,
            level_id=self.level.pk,
            assignee_id=self.assignee.pk if self.assignee else None,
            customer_id=plan.customer.pk if plan.customer else None,
            channel=plan.channel,
            created_by_id=self.created_by.pk if self.created_by else None,
            created_at=plan.created_at,
            updated_at=self.updated_at,
            resolved_at=self.resolved_at,
            closed_at=self.closed_at,
            reopen_count=self.reopen_count,
            resumed_at=self.resumed_at,
            escalation_cycle=self.cycle,
            cycle_started_at=self.cycle_started_at,
            last_progress_at=self.last_progress_at,
            first_responded_at=self.first_responded_at,
        )


TRANSITION_TARGETS = {
    "open": Status.OPEN,
    "pend": Status.PENDING,
    "resume": Status.OPEN,
    "resolve": Status.RESOLVED,
    "close": Status.CLOSED,
}


def replay(plan: Plan, org: Organisation, labels: dict[int, str]) -> _Replay:
    state = _Replay(plan, org, labels)
    state.run()
    return state


@transaction.atomic
def write_bulk(
    plans: Sequence[Plan], org: Organisation, labels: dict[int, str], batch_size: int
) -> tuple[int, int]:
    """Write `plans` (in creation order) with bulk inserts. Returns (messages, events)."""
    references: list[str] = []
    by_year = Counter(plan.created_at.year for plan in plans)
    for year in sorted(by_year):
        references.extend(services.allocate_references(year, by_year[year]))
    replays = [replay(plan, org, labels) for plan in plans]
    tickets = [state.ticket_row(ref) for state, ref in zip(replays, references, strict=True)]
    # Rows are built with ids (not objects): at this volume the ORM's per-object
    # bookkeeping for related objects is the main cost.
    Ticket.objects.bulk_create(tickets, batch_size=batch_size)
    messages: list[Message] = []
    firsts: list[int] = []  # where each ticket's messages start in `messages`
    for state, ticket in zip(replays, tickets, strict=True):
        firsts.append(len(messages))
        messages.extend(
            Message(
                ticket_id=ticket.pk,
                kind=kind,
                author_id=author_id,
                author_name=name,
                body=body,
                created_at=at,
            )
            for kind, author_id, name, body, at in state.messages
        )
    Message.objects.bulk_create(messages, batch_size=batch_size)
    events = [
        TicketEvent(
            ticket_id=ticket.pk,
            kind=kind,
            actor_id=actor_id,
            created_at=at,
            payload=payload,
            message_id=None if index is None else messages[first + index].pk,
        )
        for state, ticket, first in zip(replays, tickets, firsts, strict=True)
        for kind, actor_id, at, payload, index in state.events
    ]
    TicketEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(messages), len(events)


# --- The run ------------------------------------------------------------------------------------


@dataclass
class TicketRun:
    requested: int
    existing: int
    via_services: int = 0
    in_bulk: int = 0
    skipped_steps: int = 0
    services_seconds: float = 0.0
    bulk_seconds: float = 0.0


def service_positions(count: int, quota: int) -> set[int]:
    """`quota` positions spread evenly over `count` (the tickets that go through services)."""
    quota = max(0, min(quota, count))
    return {p for p in range(count) if (p * quota) // count != ((p + 1) * quota) // count}


def seed_tickets(
    org: Organisation,
    *,
    total: int,
    seed: int,
    days: int,
    anchor: datetime,
    via_services: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> TicketRun:
    """Top the ticket table up to `total` tickets; never delete or change existing ones.

    The new tickets are planned by index (existing count .. total - 1), created in the order
    they were opened, so references grow with time. Up to `via_services` of them (fewer when
    tickets exist already) go through the services, spread evenly over the period; the rest
    are written in bulk batches of `batch_size`.
    """
    existing = Ticket.objects.count()
    run = TicketRun(requested=total, existing=existing)
    indices: Iterable[int] = range(existing, max(total, existing))
    order = sorted(indices, key=lambda i: (draw_created(_rng(seed, i), i, anchor, days)[0], i))
    if not order:
        return run
    quota = max(0, via_services - existing)
    by_service = service_positions(len(order), quota)
    people = [org.admin, *(user for team in org.members.values() for user in team)]
    labels = {user.pk: user.get_full_name() or user.get_username() for user in people}
    pending: list[Plan] = []

    def report() -> None:
        if progress is not None:
            progress(run.via_services + run.in_bulk, len(order))

    def flush() -> None:
        if pending:
            started = time.monotonic()
            write_bulk(pending, org, labels, batch_size)
            run.bulk_seconds += time.monotonic() - started
            run.in_bulk += len(pending)
            pending.clear()
            report()

    for position, index in enumerate(order):
        plan = plan_ticket(index, seed=seed, anchor=anchor, days=days, org=org)
        if position in by_service:
            flush()
            started = time.monotonic()
            with transaction.atomic():
                run.skipped_steps += run_with_services(plan, org)
            run.services_seconds += time.monotonic() - started
            run.via_services += 1
            report()
        else:
            pending.append(plan)
            if len(pending) >= batch_size:
                flush()
    flush()
    return run
