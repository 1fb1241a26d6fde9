"""Planning a demo ticket: when it is opened, what happens to it and when, drawn from the
story (`demo/story/*.json`) with its own `random.Random(seed, index)`, so a run is reproducible
with `--seed`, and topping up to a larger count plans the new tickets only."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from demo import story
from demo.organisation import Organisation
from tickets.models import Customer, Team, Ticket
from tickets.priority import Priority

Status = Ticket.Status


def local_tz() -> ZoneInfo:
    """The demo organisation works the office hours of this zone."""
    return ZoneInfo(story.scenarios()["local_time_zone"])


@dataclass
class Step:
    """One thing that happens to a ticket after it was opened, `gap` seconds after the last."""

    kind: str  # take, hand_over, escalate, deescalate, transition, reply, note, customer, priority
    gap: float
    name: str = ""  # transition name
    team: Team | None = None  # hand_over and deescalate target
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


def rng_for(seed: int, index: int) -> random.Random:
    return random.Random(f"helpdesk-demo:{seed}:{index}")


def draw_created(
    rng: random.Random, index: int, anchor: datetime, days: int
) -> tuple[datetime, str, str | None]:
    """When ticket `index` was opened, the state it should end in, and its category when the
    story fixes one (the first draws of `rng`). The first tickets of a fresh database follow
    `scenarios.json` "guaranteed", so that a small run shows every state."""
    horizon = days * 86400
    guaranteed = story.scenarios()["guaranteed"]
    if index < len(guaranteed):
        spec = guaranteed[index]
        age = min(rng.uniform(spec["youngest"], spec["oldest"]) * 3600, horizon)
        return anchor - timedelta(seconds=age), spec["status"], spec.get("category")
    created = anchor - timedelta(seconds=rng.uniform(0, horizon))
    local = created.astimezone(local_tz())
    if local.weekday() >= 5 and rng.random() < 0.7:
        local -= timedelta(days=local.weekday() - 4)  # most weekend mail is Friday's
    if rng.random() < 0.8:  # and most of it arrives in office hours
        local = local.replace(hour=rng.randint(7, 17), minute=rng.randint(0, 59))
    shifted = local.astimezone(UTC)
    if anchor - timedelta(seconds=horizon) <= shifted < anchor:
        created = shifted
    age_hours = (anchor - created).total_seconds() / 3600
    return created, _target_for_age(rng, age_hours), None


def _target_for_age(rng: random.Random, age_hours: float) -> str:
    """The state a ticket of this age ends in (`scenarios.json` "outcome_by_age"): young ones
    are new or open, old ones resolved or closed, so nothing is left overdue for weeks."""
    for bracket in story.scenarios()["outcome_by_age"]:
        if bracket["younger_than"] is None or age_hours < bracket["younger_than"]:
            weights = bracket["weights"]
            break
    statuses = list(weights)
    return rng.choices(statuses, weights=[weights[s] for s in statuses])[0]


class _Fill(dict[str, str]):
    """Placeholders for `str.format_map`; an unknown one stays visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _context(
    rng: random.Random, lang: str, created: datetime, spec: story.CustomerSpec | None
) -> _Fill:
    local = created.astimezone(local_tz())
    de = lang == "de"
    values = story.fill_values()
    cents = rng.randint(0, 99)
    euros = rng.randint(19, 4999)
    since_time = (local - timedelta(minutes=rng.randint(5, 180))).strftime("%H:%M")
    later = (local + timedelta(days=rng.randint(2, 9))).strftime("%d.%m.%Y" if de else "%d %b %Y")
    return _Fill(
        contact=spec.contact if spec else "Alertmanager",
        customer=spec.name if spec else ("intern" if de else "internal"),
        product=rng.choice(values["products"] if de else values["products_en"]),
        since=(f"heute {since_time} Uhr" if de else f"{since_time} today"),
        time=(local + timedelta(minutes=rng.randint(20, 600))).strftime("%H:%M"),
        date=later,
        error=rng.choice(values["errors"]),
        endpoint=rng.choice(values["endpoints"]),
        host=rng.choice(values["hosts"]),
        count=str(rng.choice((12, 25, 40, 85, 140, 300))),
        order=f"A-{rng.randint(100000, 999999)}",
        invoice=f"RE-{local.year}-{rng.randint(1000, 99999):05d}",
        amount=(
            f"{euros:,}".replace(",", ".") + f",{cents:02d} €" if de else f"€{euros:,}.{cents:02d}"
        ),
        device=rng.choice(values["devices_de"] if de else values["devices_en"]),
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
        category: story.Category,
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

    def add(self, kind: str, minutes: Sequence[float], **kwargs: Any) -> None:
        gap = self.rng.uniform(*minutes) * 60
        self.steps.append(Step(kind=kind, gap=gap, **kwargs))

    def text(self, options: Sequence[str]) -> str:
        return self.rng.choice(options).format_map(self.fill)

    def reply(self, options: Sequence[str], minutes: tuple[float, float]) -> None:
        """A public reply; a system-raised ticket has nobody to answer, so it gets a note."""
        if self.category.internal:
            self.add("note", minutes, body=self.text(options))
            return
        signature = story.conversation().signature[self.lang]
        body = f"{self.salutation},\n\n{self.text(options)}\n\n{signature}"
        self.add("reply", minutes, body=body)

    def follow_up(self, minutes: tuple[float, float]) -> None:
        options = story.conversation().follow_ups[self.lang]
        if self.category.technical:
            options = options + story.conversation().technical_follow_ups[self.lang]
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
        """An agent escalates up the chain (`escalation_raise`); the receiving team
        acknowledges it as the replay decides, and its lead may hand it back down later."""
        target = self.team.escalates_to
        if self.team.kind != Team.Kind.TIER or target is None:
            return False
        talk = story.conversation()
        below = self.team
        note = self.text(talk.escalation_notes[self.lang])
        self.add("note", (30, 600), body=note)
        reason = self.rng.choice(talk.escalation_reasons[self.lang])
        self.add("escalate", (1, 10), body=note, reason=reason)
        self.team = target
        self.reply(talk.updates[self.lang], (10, 120))
        back = story.scenarios()["deescalation"]
        if self.rng.random() < back["chance"]:
            reason = self.rng.choice(talk.deescalation_reasons[self.lang])
            self.add("deescalate", tuple(back["after_minutes"]), team=below, reason=reason)
            self.team = below
        return True

    def ask_and_wait(self, answered: bool) -> None:
        if self.category.internal or not self.texts.asks:
            return
        self.reply(self.texts.asks, (20, 240))
        self.add("transition", (1, 5), name="pend")
        if answered:
            # The customer's answer sets the ticket open again (ticket_add_customer_message).
            self.customer(
                self.texts.answers or story.conversation().follow_ups[self.lang], (180, 2880)
            )


def plan_ticket(
    index: int,
    *,
    seed: int,
    anchor: datetime,
    days: int,
    org: Organisation,
) -> Plan:
    """Everything that will happen to demo ticket `index`, in order, with instants."""
    rng = rng_for(seed, index)
    created, target, fixed = draw_created(rng, index, anchor, days)
    categories = story.categories()
    category = rng.choices(categories, weights=[c.weight for c in categories])[0]
    if fixed is not None:
        category = next(c for c in categories if c.key == fixed)
    customer: Customer | None = None
    spec: story.CustomerSpec | None = None
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
    salutation = (
        spec.salutation
        if spec and spec.lang == lang
        else story.conversation().default_salutation[lang]
    )
    planner = _Planner(rng, lang, fill, salutation, category, start)
    # Hand-off notes quote the ticket's subject ("What happened: {subject}").
    fill["subject"] = planner.case.subject.format_map(fill)[:200]
    _plan_steps(planner, org, target, home, impact, urgency)
    _schedule(planner.steps, created, anchor)
    return Plan(
        index=index,
        created_at=created,
        subject=fill["subject"],
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
    talk = story.conversation()
    if target == Status.NEW:
        if rng.random() < 0.35:
            p.follow_up((60, 1200))
        return
    critical = org.priority(impact, urgency) == Priority.CRITICAL
    p.add("take", (2, 15) if critical else (10, 240))
    p.add("transition", (0.5, 5), name="open")
    p.reply(talk.acks[lang], (2, 40))
    if rng.random() < 0.15:
        if impact > 1 and rng.random() < 0.5:
            p.add("priority", (30, 300), impact=impact - 1, reason=talk.priority_up[lang])
        elif urgency < 4:
            p.add("priority", (30, 300), urgency=urgency + 1, reason=talk.priority_down[lang])
    if p.team != home:  # arrived at the Service Desk, belongs to a functional team
        p.hand_over(home, talk.handover_reasons[lang], (20, 180))
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
            p.reply(talk.updates[lang], (20, 300))
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
                p.customer(talk.reopens[lang], (360, 4320))
                p.reply(talk.reopen_replies[lang], (15, 240))
                p.note((30, 600))
                p.reply(p.solutions, (60, 1440))
            else:
                p.customer(talk.questions[lang], (60, 2880))
                p.reply(talk.question_replies[lang], (15, 240))
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
