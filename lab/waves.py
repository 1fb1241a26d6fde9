"""The wave trigger replayed over a period's tickets, under one configuration's wave rules.
Pure: no database, no Django.

Live, the beat's incident sweep asks `incidents.detection.detect` every minute about the
recent active tickets that no running incident link holds, the waves fired before and the
services that open incidents hold (`incidents.services.wave_facts`). The replay asks the same
function with the same facts as they stood, but only at the minutes where its answer can
change: a ticket's creation, the minute a ticket leaves a rule's window, a ticket's end,
reopen, link or unlink, an incident's declaration or resolution. Between two of them the facts
are the same, so the answer is (a wave that fired is not fired again while it flows), and the
cost follows the tickets, not the minutes of the period.

What it does not know: which incidents people declared from a wave proposal, and when they
resolved them. Services are held by the incidents as recorded, and tickets by the links as
recorded, for both configurations alike; a wave is counted when it fires (proposed or
declared), and the tickets' own courses are replayed with their recorded links.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from incidents.detection import RecentTicket, Wave, WaveFacts, WaveRuleSpec, detect, may_fire
from lab.replay import MINUTE, ceil_minute

# A recorded incident holding a service: (service id, declared at, resolved at or None).
Holding = tuple[int, datetime, datetime | None]


@dataclass(frozen=True)
class WaveTicket:
    """What the wave trigger reads of one ticket, and when it could not see it: resolved or
    closed (until a reopen), or held by a running incident link (until the link ends), as
    (from, until or None) stretches."""

    id: int
    created_at: datetime
    service_id: int | None
    subject: str
    unseen: tuple[tuple[datetime, datetime | None], ...] = ()

    def seen_at(self, at: datetime) -> bool:
        """Whether the sweep at `at` reads it: active, and no running link holds it."""
        return not any(start <= at and (end is None or at < end) for start, end in self.unseen)


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def wave_ticket(
    ticket_id: int,
    created_at: datetime,
    service_id: int | None,
    subject: str,
    steps: Iterable[tuple[datetime, str]],
) -> WaveTicket:
    """The wave trigger's view of a ticket from its recorded steps ((at, kind) in time order:
    "end", "reopen", "linked", "unlinked"; others are ignored)."""
    unseen: list[tuple[datetime, datetime | None]] = []
    ended: datetime | None = None
    linked: datetime | None = None
    for at, kind in steps:
        if kind == "end" and ended is None:
            ended = at
        elif kind == "reopen" and ended is not None:
            unseen.append((ended, at))
            ended = None
        elif kind == "linked" and linked is None:
            linked = at
        elif kind == "unlinked" and linked is not None:
            unseen.append((linked, at))
            linked = None
    unseen += [(start, None) for start in (ended, linked) if start is not None]
    return WaveTicket(ticket_id, created_at, service_id, subject, tuple(unseen))


def minutes_that_matter(
    tickets: Iterable[WaveTicket], rules: Sequence[WaveRuleSpec], holding: Iterable[Holding]
) -> list[datetime]:
    """The beat's minutes at which the wave trigger's facts change, in time order."""
    windows = {rule.window for rule in rules}
    minutes: set[datetime] = set()
    for ticket in tickets:
        minutes.add(ceil_minute(ticket.created_at))
        # The first minute whose window (from `now - window` on) no longer holds it.
        minutes.update(floor_minute(ticket.created_at + window) + MINUTE for window in windows)
        for start, end in ticket.unseen:
            minutes.add(ceil_minute(start))
            if end is not None:
                minutes.add(ceil_minute(end))
    for _service, declared, resolved in holding:
        minutes.add(floor_minute(declared) + MINUTE)  # held from the sweep after declaring
        if resolved is not None:
            minutes.add(ceil_minute(resolved))
    return sorted(minutes)


def replay_waves(
    tickets: Iterable[WaveTicket],
    rules: Sequence[WaveRuleSpec],
    until: datetime,
    holding: Sequence[Holding] = (),
) -> list[tuple[datetime, Wave]]:
    """The waves `rules` fire over `tickets` up to `until`, with the minute each fires at, in
    time order (same tickets and rules, same waves). `holding`: the recorded incidents and
    the services they held."""
    if not rules:
        return []
    ordered = sorted(tickets, key=lambda t: (t.created_at, t.id))
    created = [t.created_at for t in ordered]
    longest = max(rule.window for rule in rules)
    fewest = min(rule.min_tickets for rule in rules)
    last_fired: dict[tuple[int, str], datetime] = {}
    fired: list[tuple[datetime, Wave]] = []
    for now in minutes_that_matter(ordered, rules, holding):
        if now > until:
            break
        first, last = bisect_left(created, now - longest), bisect_right(created, now)
        if last - first < fewest:
            continue  # too few tickets in the longest window for any rule
        recent = tuple(
            RecentTicket(t.id, t.created_at, t.service_id, t.subject)
            for t in ordered[first:last]
            if t.seen_at(now)
        )
        if not may_fire(recent, rules, now):
            continue
        covered = frozenset(
            service
            for service, declared, resolved in holding
            if declared < now and (resolved is None or now < resolved)
        )
        for wave in detect(WaveFacts(recent, dict(last_fired), covered), rules, now):
            last_fired[wave.rule.id, wave.key] = now
            fired.append((now, wave))
    return fired
