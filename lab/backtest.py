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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from escalation.facts import RuleSet
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
    replay,
)
from lab.services import Applier
from sla.services import calendar_spec, policies_in_force
from tickets.models import Team, Ticket, TicketEvent

BATCH = 2_000
# Differing tickets kept with both timelines (the count covers all of them).
KEPT_DIFFERENCES = 500
PAUSED = Ticket.Status.PENDING
ENDED = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
KINDS = (
    TicketEvent.Kind.REPLIED,
    TicketEvent.Kind.NOTE_ADDED,
    TicketEvent.Kind.TRANSITIONED,
    TicketEvent.Kind.TEAM_CHANGED,
    TicketEvent.Kind.PRIORITY_CHANGED,
)


# -- Configurations ---------------------------------------------------------------------------


def load_config(on: dt.date | None = None) -> Config:
    """The configuration in the database as the replay needs it (a handful of queries)."""
    on = on or timezone.localdate()
    policies = []
    for policy in policies_in_force(on):
        targets: dict[int, dict[str, TargetSpec]] = {}
        for target in policy.targets.all():
            for name in ("first_response", "resolution"):
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
    """The human histories of the tickets `ids` (two queries; `team_ids`: team name -> id)."""
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        TicketEvent.objects.filter(ticket_id__in=ids, kind__in=KINDS)
        .order_by("ticket_id", "created_at", "pk")
        .values("ticket_id", "kind", "actor_id", "payload", "created_at")
    ):
        events[row["ticket_id"]].append(row)
    rows = (
        Ticket.objects.filter(pk__in=ids)
        .order_by("created_at", "pk")
        .values(
            "pk",
            "reference",
            "created_at",
            "priority",
            "team_id",
            "channel",
            "customer__tier",
            "customer__is_vip",
            "customer__contract",
        )
    )
    return [history_of(row, events.get(row["pk"], []), team_ids) for row in rows]


def history_of(
    row: dict[str, Any], events: list[dict[str, Any]], team_ids: dict[str, int]
) -> History:
    """One ticket's history: its state at creation (the first hand-off or priority change
    says what it was) and its human steps; hand-offs without an actor are the engine's."""
    team_id, priority = row["team_id"], row["priority"]
    first_team = next((e for e in events if e["kind"] == TicketEvent.Kind.TEAM_CHANGED), None)
    if first_team is not None:
        team_id = team_ids.get(first_team["payload"].get("from"), team_id)
    first_priority = next(
        (e for e in events if e["kind"] == TicketEvent.Kind.PRIORITY_CHANGED), None
    )
    if first_priority is not None and isinstance(first_priority["payload"].get("from"), int):
        priority = first_priority["payload"]["from"]
    steps = [step for e in events for step in steps_of(e, team_ids)]
    return History(
        ticket_id=row["pk"],
        reference=row["reference"],
        created_at=row["created_at"],
        priority=priority,
        team_id=team_id,
        tier=row["customer__tier"] or "",
        vip=bool(row["customer__is_vip"]),
        contract=row["customer__contract"] or "",
        channel=row["channel"] or "",
        steps=tuple(steps),
    )


def steps_of(event: dict[str, Any], team_ids: dict[str, int]) -> Iterable[Step]:
    at, kind, payload, human = (
        event["created_at"],
        event["kind"],
        event["payload"] or {},
        event["actor_id"] is not None,
    )
    if kind == TicketEvent.Kind.REPLIED and human:
        yield Step(at, "reply")
    elif kind == TicketEvent.Kind.NOTE_ADDED and human:
        yield Step(at, "progress")
    elif kind == TicketEvent.Kind.TEAM_CHANGED and human:
        team_id = team_ids.get(payload.get("to"))
        if team_id is not None:
            yield Step(at, "team", team_id=team_id)
    elif kind == TicketEvent.Kind.PRIORITY_CHANGED and isinstance(payload.get("to"), int):
        yield Step(at, "priority", priority=payload["to"])
    elif kind == TicketEvent.Kind.TRANSITIONED:
        if human:
            yield Step(at, "progress")
        if payload.get("to") == PAUSED:
            yield Step(at, "pause")
        elif payload.get("from") == PAUSED:
            yield Step(at, "resume")
        if payload.get("to") in ENDED:
            yield Step(at, "end")


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

    def add(self, happened: Iterable[Happening], names: dict[int, str]) -> None:
        for x in happened:
            day = x.at.astimezone(timezone.get_current_timezone())
            key = day.date().isoformat()
            if x.kind == "escalated":
                team = names.get(x.team_id or 0, "?")
                self.escalations[key, x.level or 0, x.trigger] += 1
                self.load[key, team] += 1
                self.hours[key, team, day.hour] += 1
            elif x.kind in ("sla_warning", "sla_breach"):
                self.sla[key, x.kind] += 1


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
class Backtest:
    """Replays batches of histories under both configurations and keeps the sums."""

    live: Config
    draft: Config
    until: dt.datetime
    tallies: dict[str, Tally] = field(default_factory=lambda: {"live": Tally(), "draft": Tally()})
    differing: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    def add(self, histories: Iterable[History]) -> None:
        for h in histories:
            live = replay(h, self.live, self.until)
            draft = replay(h, self.draft, self.until)
            self.tallies["live"].add(live, self.live.team_names)
            self.tallies["draft"].add(draft, self.draft.team_names)
            n = parting(live, draft)
            if n is None:
                continue
            self.differing += 1
            if len(self.differences) < KEPT_DIFFERENCES:
                self.differences.append(
                    {
                        "ticket": h.ticket_id,
                        "reference": h.reference,
                        "index": n,
                        "live": timeline(live, self.live.team_names),
                        "draft": timeline(draft, self.draft.team_names),
                    }
                )

    def result(self) -> dict[str, Any]:
        """The sums as JSON values, in a fixed order (same input, same document)."""
        days = sorted(
            {k[0] for t in self.tallies.values() for c in (t.escalations, t.sla, t.load) for k in c}
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
                }
            out["days"].append(entry)
        out["differing"] = self.differing
        out["differences"] = self.differences
        return out


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
    backtest = Backtest(live=live, draft=draft, until=until)
    if not progress(0, len(ids)):
        return None
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        backtest.add(read_histories(chunk, team_ids))
        if not progress(start + len(chunk), len(ids)):
            return None
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
