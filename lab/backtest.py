"""The backtest: a draft and the live configuration replayed over the same past tickets.

Reads (a fixed number of queries per batch of tickets), hands each ticket's human history to
the pure replay (`lab.replay`) once per configuration, and sums up what differs: escalations
per day by level and trigger, SLA warnings and breaches, the load each team receives per day
and its peak hour, and the tickets whose course parts, with the instant where it does. The
draft's configuration is read by applying its document through the import path inside a
transaction that is rolled back, so the draft is read exactly as publishing would make it live.
"""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, TextField, Value, When
from django.utils import timezone

from escalation.engine import Escalate
from escalation.facts import RuleSet
from escalation.risk import RECURRENCE_DAYS
from incidents.models import MajorIncident
from incidents.services import load_wave_rules
from lab.config import Problem, differences, export_configuration, read_document
from lab.models import BacktestRun
from lab.replay import (
    Config,
    Happening,
    History,
    PolicySpec,
    Step,
    TargetSpec,
    parting,
    policy_for,
    replay,
)
from lab.services import Applier
from lab.waves import Holding, WaveTicket, replay_waves, wave_ticket
from sla.models import TierTarget
from sla.services import calendar_spec, policies_in_force
from tickets.models import Team, Ticket, TicketEvent
from tickets.priority import Priority

BATCH = 2_000
# Histories per task handed to a worker process (small enough to share a batch out evenly).
CHUNK = 250
# Worker processes for the replay: one per core this process may run on.
PROCESSES = len(os.sched_getaffinity(0))
# Differing tickets kept with both timelines (the count covers all of them).
KEPT_DIFFERENCES = 500
PAUSED = Ticket.Status.PENDING
RESOLVED = Ticket.Status.RESOLVED
ENDED = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
KINDS = (
    TicketEvent.Kind.REPLIED,
    TicketEvent.Kind.NOTE_ADDED,
    TicketEvent.Kind.TRANSITIONED,
    TicketEvent.Kind.TEAM_CHANGED,
    TicketEvent.Kind.PRIORITY_CHANGED,
    TicketEvent.Kind.CUSTOMER_MESSAGE,
    TicketEvent.Kind.ESCALATED,
    TicketEvent.Kind.DE_ESCALATED,
    TicketEvent.Kind.ACKNOWLEDGED,
    TicketEvent.Kind.MAJOR_INCIDENT,
    TicketEvent.Kind.RATED,
)
TARGET_NAMES = ("first_response", "next_update", "resolution")
PRIORITIES = tuple(Priority.values)


# -- Configurations ---------------------------------------------------------------------------


def load_config(on: dt.date | None = None) -> Config:
    """The configuration in the database as the replay needs it (a handful of queries)."""
    on = on or timezone.localdate()
    policies = []
    for policy in policies_in_force(on):
        targets: dict[int, dict[str, TargetSpec]] = {}
        for target in policy.targets.all():
            for name in TARGET_NAMES:
                duration = getattr(target, name)
                if duration is not None:
                    targets.setdefault(target.priority, {})[name] = TargetSpec(
                        duration, target.warning_offset(duration)
                    )
        policies.append(
            PolicySpec(
                name=policy.name,
                order=policy.order,
                calendar=calendar_spec(policy.calendar, on),
                pending_pauses=policy.pending_pauses,
                tiers=frozenset(policy.customer_tiers or ()),
                vip_only=policy.vip_only,
                contract=policy.contract,
                channels=frozenset(policy.channels or ()),
                priority_min=policy.priority_min,
                priority_max=policy.priority_max,
                team_ids=frozenset(team.pk for team in policy.teams.all()),
                targets=targets,
            )
        )
    teams = list(Team.objects.select_related("level", "escalates_to"))
    ack = {
        t.level.rank: (
            t.acknowledge_within,
            calendar_spec(t.calendar, on) if t.calendar is not None else None,
        )
        for t in TierTarget.objects.select_related("level", "calendar")
    }
    return Config(
        rules=tuple(RuleSet.load().specs),
        policies=tuple(policies),
        up={
            t.pk: t.escalates_to_id
            if t.escalates_to is not None and t.escalates_to.is_active
            else None
            for t in teams
        },
        level_of={t.pk: t.level.rank for t in teams},
        team_names={t.pk: t.name for t in teams},
        ack=ack,
        waves=tuple(load_wave_rules()),
    )


def draft_config(text: str, user: Any) -> tuple[Config | None, list[Problem]]:
    """The configuration a draft's document describes: applied through the import path and
    read back, then rolled back (nothing live changes)."""
    document, problems = read_document(text)
    if problems:
        return None, problems
    with transaction.atomic():
        problems = Applier(user).apply(document, differences(export_configuration(), document))
        config = None if problems else load_config()
        transaction.set_rollback(True)
    return config, problems


# -- Histories --------------------------------------------------------------------------------


def ticket_ids(since: dt.datetime, until: dt.datetime) -> list[int]:
    return list(
        Ticket.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def read_histories(ids: Sequence[int], team_ids: dict[str, int]) -> list[History]:
    """The human histories of the tickets `ids` (two queries, a third when some have a
    service; tuples rather than models; `team_ids`: team name -> id). A customer message
    brings its text (the risk score's tone reads it); no other message body is read."""
    events: dict[int, list[Event]] = defaultdict(list)
    for ticket_id, *event in (
        TicketEvent.objects.filter(ticket_id__in=ids, kind__in=KINDS)
        .order_by("ticket_id", "created_at", "pk")
        .values_list(
            "ticket_id",
            "kind",
            "actor_id",
            "payload",
            "created_at",
            Case(
                When(kind=TicketEvent.Kind.CUSTOMER_MESSAGE, then="message__body"),
                default=Value(""),
                output_field=TextField(),
            ),
        )
    ):
        events[ticket_id].append(tuple(event))  # type: ignore[arg-type]
    rows = (
        Ticket.objects.filter(pk__in=ids)
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "reference",
            "created_at",
            "priority",
            "team_id",
            "channel",
            "customer__tier",
            "customer__is_vip",
            "customer__contract",
            "service_id",
            "customer_id",
            "subject",
        )
    )
    recurring = recurrences([(row[0], row[2], row[9], row[10]) for row in rows])
    return [
        replace(
            history_of(row[:9], events.get(row[0], []), team_ids, recurring.get(row[0], ())),
            service_id=row[9],
            subject=row[11],
        )
        for row in rows
    ]


def holdings(since: dt.datetime, until: dt.datetime) -> list[Holding]:
    """The services recorded incidents held from their declaration until their resolution,
    for those open at some time from `since` until `until` (one query)."""
    return list(
        MajorIncident.services.through.objects.filter(
            Q(majorincident__resolved_at__isnull=True) | Q(majorincident__resolved_at__gt=since),
            majorincident__declared_at__lte=until,
        )
        .order_by("majorincident__declared_at", "majorincident_id", "service_id")
        .values_list("service_id", "majorincident__declared_at", "majorincident__resolved_at")
    )


def recurrences(
    tickets: Sequence[tuple[int, dt.datetime, int | None, int | None]],
) -> dict[int, tuple[tuple[dt.datetime, int], ...]]:
    """The risk score's recurrence count of each ticket (id, created at, service, customer)
    over time, from the recorded resolutions and reopens of the other tickets of its service
    (one query): as `escalation.evaluation.risk_counts` reads it at any instant, the tickets
    of the same service (and customer, when it has one) whose resolution then lay in the
    `RECURRENCE_DAYS` before this one was created. A resolution counts from its instant until
    a reopen takes it back. Tickets on no service, or with none, are left out (0)."""
    on_service = [t for t in tickets if t[2] is not None]
    if not on_service:
        return {}
    window = dt.timedelta(days=RECURRENCE_DAYS)
    # service -> (ticket, customer, resolved at, taken back at or None)
    resolutions: dict[int, list[tuple[int, int | None, dt.datetime, dt.datetime | None]]] = (
        defaultdict(list)
    )
    open_since: dict[int, tuple[int, int | None, dt.datetime]] = {}
    for ticket_id, service_id, customer_id, payload, at in (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.TRANSITIONED,
            ticket__service_id__in={t[2] for t in on_service},
            created_at__gte=min(t[1] for t in on_service) - window,
        )
        .filter(Q(payload__to=RESOLVED) | Q(payload__from=RESOLVED))
        .order_by("created_at", "pk")
        .values_list(
            "ticket_id", "ticket__service_id", "ticket__customer_id", "payload", "created_at"
        )
    ):
        if (payload or {}).get("to") == RESOLVED:
            open_since[ticket_id] = (service_id, customer_id, at)
        elif ticket_id in open_since and (payload or {}).get("to") not in ENDED:
            service, customer, resolved = open_since.pop(ticket_id)
            resolutions[service].append((ticket_id, customer, resolved, at))
    for ticket_id, (service, customer, resolved) in open_since.items():
        resolutions[service].append((ticket_id, customer, resolved, None))
    result: dict[int, tuple[tuple[dt.datetime, int], ...]] = {}
    for pk, created_at, service_id, customer_id in on_service:
        changes: Counter[dt.datetime] = Counter()
        for other, customer, resolved, taken_back in resolutions.get(service_id, ()):
            if other == pk or not created_at - window <= resolved <= created_at:
                continue
            if customer_id is not None and customer != customer_id:
                continue
            changes[resolved] += 1
            if taken_back is not None:
                changes[taken_back] -= 1
        count, steps = 0, []
        for at in sorted(changes):
            count += changes[at]
            steps.append((at, count))
        if steps:
            result[pk] = tuple(steps)
    return result


# One event as read: kind, actor id, payload, created at, the customer message's text.
Event = tuple[str, int | None, dict[str, Any] | None, dt.datetime, str | None]


def history_of(
    row: Sequence[Any],
    events: list[Event],
    team_ids: dict[str, int],
    recurrences: tuple[tuple[dt.datetime, int], ...] = (),
) -> History:
    """One ticket's history (`row`: the ticket's values as `read_histories` reads them): its
    state at creation (the first hand-off or priority change says what it was) and its human
    steps; hand-offs and escalations without an actor are the engine's."""
    pk, reference, created_at, priority, team_id, channel, tier, vip, contract = row
    first_team = next((e for e in events if e[0] == TicketEvent.Kind.TEAM_CHANGED), None)
    if first_team is not None:
        team_id = team_ids.get((first_team[2] or {}).get("from"), team_id)
    first_priority = next((e for e in events if e[0] == TicketEvent.Kind.PRIORITY_CHANGED), None)
    if first_priority is not None:
        priority = priority_in((first_priority[2] or {}).get("from")) or priority
    return History(
        ticket_id=pk,
        reference=reference,
        created_at=created_at,
        priority=priority,
        team_id=team_id,
        tier=tier or "",
        vip=bool(vip),
        contract=contract or "",
        channel=channel or "",
        steps=tuple(step for e in events for step in steps_of(e, team_ids)),
        recurrences=recurrences,
    )


def priority_in(side: Any) -> int | None:
    """The priority one side (`from`, `to`) of a priority change names: the ticket service
    records priority, impact and urgency together."""
    value = side.get("priority") if isinstance(side, dict) else side
    return value if isinstance(value, int) else None


def steps_of(event: Event, team_ids: dict[str, int]) -> Iterable[Step]:
    kind, actor_id, payload, at, text = event
    payload = payload or {}
    human = actor_id is not None
    if kind == TicketEvent.Kind.REPLIED and human:
        yield Step(at, "reply")
    elif kind == TicketEvent.Kind.NOTE_ADDED and human:
        yield Step(at, "progress")
    elif kind == TicketEvent.Kind.CUSTOMER_MESSAGE:
        yield Step(at, "customer", text=text or "")
    elif kind == TicketEvent.Kind.TEAM_CHANGED and human:
        team_id = team_ids.get(payload.get("to"))
        if team_id is not None:
            yield Step(at, "team", team_id=team_id)
    elif kind == TicketEvent.Kind.ESCALATED and human:
        level = payload.get("to_level")
        yield Step(at, "raised", level=level if isinstance(level, int) else None)
    elif kind == TicketEvent.Kind.DE_ESCALATED and human:
        yield Step(at, "deescalated")
    elif kind == TicketEvent.Kind.ACKNOWLEDGED and human:
        yield Step(at, "ack")
    elif kind == TicketEvent.Kind.MAJOR_INCIDENT and isinstance(payload.get("linked"), bool):
        yield Step(at, "linked" if payload["linked"] else "unlinked")
    elif kind == TicketEvent.Kind.PRIORITY_CHANGED and human:
        # A rule's raise is the engine's: recomputed, not replayed.
        priority = priority_in(payload.get("to"))
        if priority is not None:
            yield Step(at, "priority", priority=priority)
    elif kind == TicketEvent.Kind.RATED and isinstance(payload.get("score"), int):
        if payload["score"] <= settings.PORTAL_LOW_RATING:
            yield Step(at, "rated")
    elif kind == TicketEvent.Kind.TRANSITIONED:
        if human:
            yield Step(at, "progress")
        if payload.get("to") == PAUSED:
            yield Step(at, "pause")
        elif payload.get("from") == PAUSED:
            yield Step(at, "resume")
        if payload.get("to") in ENDED:
            yield Step(at, "end")
        elif payload.get("from") == RESOLVED:
            yield Step(at, "reopen")


# -- Summing up -------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one configuration did over the period, counted per day (ISO dates as keys)."""

    escalations: Counter[tuple[str, int, str]] = field(
        default_factory=Counter
    )  # day, level, trigger
    sla: Counter[tuple[str, str]] = field(default_factory=Counter)  # day, warning/breach
    load: Counter[tuple[str, str]] = field(default_factory=Counter)  # day, team
    hours: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # day, team, hour

    def merge(self, other: Tally) -> None:
        self.escalations.update(other.escalations)
        self.sla.update(other.sla)
        self.load.update(other.load)
        self.hours.update(other.hours)

    def add(
        self, happened: Iterable[Happening], names: dict[int, str], zone: dt.tzinfo | None = None
    ) -> None:
        """Count one course (`zone`: the current time zone, when the caller has it)."""
        zone = zone or timezone.get_current_timezone()
        for x in happened:
            key, hour = local_hour(x.at, zone)
            if x.kind == "escalated":
                team = names.get(x.team_id or 0, "?")
                self.escalations[key, x.level or 0, x.trigger] += 1
                self.load[key, team] += 1
                self.hours[key, team, hour] += 1
            elif x.kind in ("sla_warning", "sla_breach"):
                self.sla[key, x.kind] += 1


@functools.lru_cache(maxsize=4096)
def _local_hour(hour: dt.datetime, zone: dt.tzinfo) -> tuple[str, int]:
    local = hour.astimezone(zone)
    return local.date().isoformat(), local.hour


def local_hour(at: dt.datetime, zone: dt.tzinfo) -> tuple[str, int]:
    """The local day (ISO) and hour of `at` (every time zone's offset is whole quarter hours,
    so the UTC quarter hour decides; a quarter of 90 days is a few thousand)."""
    return _local_hour(at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0), zone)


def timeline(happened: Sequence[Happening], names: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "at": x.at.isoformat(),
            "kind": x.kind,
            "trigger": x.trigger,
            "target": x.target,
            "team": names.get(x.team_id, "") if x.team_id else "",
            "level": x.level,
        }
        for x in happened
    ]


@dataclass
class Part:
    """What one run of histories added up to, for `Backtest.merge`: the sums, and where the
    first differing tickets are (position among the histories, index where the courses
    part). Their timelines are built by the merge, for the few it keeps: a worker process
    sends back numbers, not the courses of every differing ticket."""

    tallies: dict[str, Tally] = field(default_factory=lambda: {"live": Tally(), "draft": Tally()})
    differing: int = 0
    parted: list[tuple[int, int]] = field(default_factory=list)


# The backtest a worker process replays for (set when the process starts).
_worker: Backtest | None = None


def _become_worker(backtest: Backtest) -> None:
    global _worker
    _worker = backtest


def _replayed_in_worker(histories: Sequence[History]) -> Part:
    assert _worker is not None, "a worker process starts with its backtest"
    return _worker.replayed(histories)


@dataclass
class Backtest:
    """Replays batches of histories under both configurations and keeps the sums."""

    live: Config
    draft: Config
    until: dt.datetime
    tallies: dict[str, Tally] = field(default_factory=lambda: {"live": Tally(), "draft": Tally()})
    differing: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0  # histories added up so far
    pool: Any = field(default=None, repr=False, compare=False)
    # Batches handed to the worker processes and not yet added up: (chunks, their parts).
    pending: list[tuple[list[Sequence[History]], Iterator[Part]]] = field(
        default_factory=list, repr=False, compare=False
    )
    # The recorded incidents' services (`holdings`), and what the wave trigger reads of each
    # ticket added (only when a configuration has wave rules).
    holding: Sequence[Holding] = ()
    wave_tickets: list[WaveTicket] = field(default_factory=list, repr=False, compare=False)
    # Per kind of customer, channel and team at creation: the (team, priority) at which the
    # configurations choose different policies (`same_policies`).
    differing_policies: dict[tuple, frozenset[tuple[int, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def add(self, histories: Sequence[History]) -> None:
        """Replay `histories` (in processes when `start_processes` made some) and add them up.
        With processes, the batch is handed out and the call returns once the batch before
        it is added up: the workers replay this one while the caller reads the next (`done`
        counts what is added up; `finish` waits for the rest). The parts are added up in the
        order of the histories, so the result does not depend on how many processes there
        were. The wave trigger is replayed over all of them at the end (`result`)."""
        if self.live.waves or self.draft.waves:
            self.wave_tickets += [
                wave_ticket(
                    h.ticket_id,
                    h.created_at,
                    h.service_id,
                    h.subject,
                    ((step.at, step.kind) for step in sorted(h.steps, key=lambda s: s.at)),
                )
                for h in histories
            ]
        if self.pool is None or len(histories) < 2 * CHUNK:
            self.finish()
            self.merge(self.replayed(histories), histories)
            self.done += len(histories)
            return
        chunks = [histories[n : n + CHUNK] for n in range(0, len(histories), CHUNK)]
        self.pending.append((chunks, self.pool.imap(_replayed_in_worker, chunks)))
        while len(self.pending) > 1:
            self._merge_pending()

    def finish(self) -> None:
        """Wait for the batches handed out and add them up."""
        while self.pending:
            self._merge_pending()

    def _merge_pending(self) -> None:
        chunks, parts = self.pending.pop(0)
        for chunk, part in zip(chunks, parts, strict=True):
            self.merge(part, chunk)
            self.done += len(chunk)

    def courses(self, h: History) -> tuple[tuple[Happening, ...], tuple[Happening, ...]]:
        """The ticket's course live and in the draft; where the configurations agree for it
        (the same rules, chain and acknowledgement targets, and the same policy for it
        whatever its team and priority become), the draft's course is the live one and is not
        replayed again."""
        live = replay(h, self.live, self.until)
        if self.same and self.same_policies(h):
            return live, live
        return live, replay(h, self.draft, self.until)

    @functools.cached_property
    def same(self) -> bool:
        return self.live.same_course(self.draft)

    @functools.cached_property
    def teams(self) -> frozenset[int]:
        return frozenset(self.live.level_of) | frozenset(self.draft.level_of)

    @functools.cached_property
    def moving(self) -> tuple[bool, frozenset[int]]:
        """Whether a rule hands tickets off (to any team, then), and the priorities rules
        raise to (the rules are the same in both when `same`)."""
        rules = self.live.rules
        return (
            any(rule.escalate != Escalate.NONE for rule in rules),
            frozenset(r.raise_priority_to for r in rules if r.raise_priority_to is not None),
        )

    def same_policies(self, h: History) -> bool:
        """Whether both configurations give the ticket of `h` the same policy at every team
        and priority it may reach (the policy is chosen again when they change): those of
        its history, and those the rules may move it to."""
        key = (h.tier, h.vip, h.contract, h.channel, h.team_id)
        differ = self.differing_policies.get(key)
        if differ is None:
            live, draft = self.live, self.draft
            differ = self.differing_policies[key] = frozenset(
                (team, priority)
                for team in self.teams | {h.team_id}
                for priority in PRIORITIES
                if policy_for(live, h, priority, team) != policy_for(draft, h, priority, team)
            )
        if not differ:
            return True
        hands_off, raised_to = self.moving
        teams = {h.team_id, *(s.team_id for s in h.steps if s.kind == "team")}
        if hands_off:
            teams |= self.teams
        priorities = {h.priority, *raised_to}
        priorities.update(s.priority for s in h.steps if s.kind == "priority")
        return not any((team, priority) in differ for team in teams for priority in priorities)

    def replayed(self, histories: Iterable[History]) -> Part:
        """Each history under both configurations, added up."""
        part = Part()
        live_tally, draft_tally = part.tallies["live"], part.tallies["draft"]
        zone = timezone.get_current_timezone()
        for position, h in enumerate(histories):
            live, draft = self.courses(h)
            live_tally.add(live, self.live.team_names, zone)
            draft_tally.add(draft, self.draft.team_names, zone)
            n = parting(live, draft)
            if n is None:
                continue
            part.differing += 1
            if len(part.parted) < KEPT_DIFFERENCES:
                part.parted.append((position, n))
        return part

    def merge(self, part: Part, histories: Sequence[History]) -> None:
        """Add a part of `histories` (as `replayed` returned it); the differing tickets are
        kept, with both timelines, while fewer than `KEPT_DIFFERENCES` are."""
        for name, tally in part.tallies.items():
            self.tallies[name].merge(tally)
        self.differing += part.differing
        for position, n in part.parted[: KEPT_DIFFERENCES - len(self.differences)]:
            h = histories[position]
            live, draft = self.courses(h)
            self.differences.append(
                {
                    "ticket": h.ticket_id,
                    "reference": h.reference,
                    "index": n,
                    "live": timeline(live, self.live.team_names),
                    "draft": timeline(draft, self.draft.team_names),
                }
            )

    def start_processes(self, processes: int) -> None:
        """Replay in `processes` worker processes from now on (forked: they share the
        configurations without copying). Not inside a daemonic process (a Celery prefork
        worker), which may not have children: there it replays in place."""
        if processes > 1 and not multiprocessing.current_process().daemon:
            context = multiprocessing.get_context("fork")
            self.pool = context.Pool(processes, initializer=_become_worker, initargs=(self,))

    def stop_processes(self, *, finish: bool = True) -> None:
        """No more processes: what they were given is added up first (`finish` False: it is
        dropped, for a cancelled run)."""
        if finish:
            self.finish()
        self.pending.clear()
        if self.pool is not None:
            if finish:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
            self.pool = None

    def result(self) -> dict[str, Any]:
        """The sums as JSON values, in a fixed order (same input, same document)."""
        self.finish()
        waves = {name: self.waves(config) for name, config in self.configs()}
        days = sorted(
            {k[0] for t in self.tallies.values() for c in (t.escalations, t.sla, t.load) for k in c}
            | {k[0] for counted in waves.values() for k in counted}
        )
        out: dict[str, Any] = {"days": []}
        for day in days:
            entry: dict[str, Any] = {"day": day}
            for name, tally in self.tallies.items():
                entry[name] = {
                    "escalations": sorted(
                        [level, trigger, n]
                        for (d, level, trigger), n in tally.escalations.items()
                        if d == day
                    ),
                    "warnings": tally.sla[day, "sla_warning"],
                    "breaches": tally.sla[day, "sla_breach"],
                    "load": sorted(
                        [team, n, peak_hour(tally, day, team)]
                        for (d, team), n in tally.load.items()
                        if d == day
                    ),
                    # Waves fired: [action, waves, their tickets], by action.
                    "waves": sorted(
                        [action, n, tickets]
                        for (d, action), (n, tickets) in waves[name].items()
                        if d == day
                    ),
                }
            out["days"].append(entry)
        out["differing"] = self.differing
        out["differences"] = self.differences
        return out

    def configs(self) -> tuple[tuple[str, Config], ...]:
        return (("live", self.live), ("draft", self.draft))

    def waves(self, config: Config) -> dict[tuple[str, str], tuple[int, int]]:
        """The waves the configuration's wave rules fire over the tickets added (`lab.waves`),
        per local day and action ("proposed", "declared"): how many, and their tickets."""
        zone = timezone.get_current_timezone()
        counted: dict[tuple[str, str], tuple[int, int]] = {}
        for at, wave in replay_waves(self.wave_tickets, config.waves, self.until, self.holding):
            key = (local_hour(at, zone)[0], "declared" if wave.rule.declare else "proposed")
            n, tickets = counted.get(key, (0, 0))
            counted[key] = (n + 1, tickets + len(wave.ticket_ids))
        return counted


def peak_hour(tally: Tally, day: str, team: str) -> int:
    hours = {h: n for (d, t, h), n in tally.hours.items() if d == day and t == team}
    return max(sorted(hours), key=lambda h: hours[h])


def run(
    *,
    live: Config,
    draft: Config,
    since: dt.datetime,
    until: dt.datetime,
    progress: Callable[[int, int], bool] = lambda done, total: True,
) -> dict[str, Any] | None:
    """Replay the tickets created from `since` until `until` under both configurations;
    `progress(done, total)` after each batch returns False to cancel (then None)."""
    ids = ticket_ids(since, until)
    team_ids = dict(Team.objects.values_list("name", "pk"))
    backtest = Backtest(live=live, draft=draft, until=until, holding=holdings(since, until))
    if not progress(0, len(ids)):
        return None
    if len(ids) >= 2 * CHUNK:
        backtest.start_processes(PROCESSES)
    finished = False
    try:
        for start in range(0, len(ids), BATCH):
            # The workers replay the batch read before while this one is read.
            backtest.add(read_histories(ids[start : start + BATCH], team_ids))
            if not progress(backtest.done, len(ids)):
                return None
        told = backtest.done
        backtest.finish()
        if backtest.done != told and not progress(backtest.done, len(ids)):
            return None
        finished = True
    finally:
        backtest.stop_processes(finish=finished)
    return backtest.result()


# -- Runs -------------------------------------------------------------------------------------


def start(*, draft_id: int, days: int, user: Any, now: dt.datetime | None = None) -> BacktestRun:
    """A queued run over the tickets created in the `days` before `now`."""
    until = now or timezone.now()
    return BacktestRun.objects.create(
        draft_id=draft_id,
        days=days,
        since=until - dt.timedelta(days=days),
        until=until,
        created_by=user,
    )


def execute(
    run_id: int, report: Callable[[int, int], None] = lambda done, total: None
) -> BacktestRun:
    """Carry out a run: progress written after each batch (committed, so the page sees it);
    a cancel flag set meanwhile stops it. Returns the run as it ended."""
    run_row = BacktestRun.objects.select_related("draft", "created_by").get(pk=run_id)
    if run_row.status != BacktestRun.Status.QUEUED:
        return run_row  # a second delivery of the task: the first one did it
    BacktestRun.objects.filter(pk=run_id).update(status=BacktestRun.Status.RUNNING)
    draft, problems = draft_config(run_row.draft.document, run_row.created_by)
    if draft is None:
        BacktestRun.objects.filter(pk=run_id).update(
            status=BacktestRun.Status.FAILED,
            problems=[[p.path, p.message] for p in problems],
            finished_at=timezone.now(),
        )
        return BacktestRun.objects.get(pk=run_id)

    def progress(done: int, total: int) -> bool:
        report(done, total)
        BacktestRun.objects.filter(pk=run_id).update(done=done, total=total)
        return not BacktestRun.objects.filter(pk=run_id, cancel_requested=True).exists()

    result = run(
        live=load_config(), draft=draft, since=run_row.since, until=run_row.until, progress=progress
    )
    BacktestRun.objects.filter(pk=run_id).update(
        status=BacktestRun.Status.CANCELLED if result is None else BacktestRun.Status.DONE,
        result=result or {},
        finished_at=timezone.now(),
    )
    return BacktestRun.objects.get(pk=run_id)


def cancel(run_id: int) -> bool:
    """Ask a queued or running run to stop after its current batch; False when it has
    finished (nothing to stop)."""
    return bool(
        BacktestRun.objects.filter(
            pk=run_id, status__in=[BacktestRun.Status.QUEUED, BacktestRun.Status.RUNNING]
        ).update(cancel_requested=True)
    )
