"""The wave trigger ("many customers affected"), decided from facts. Pure.

`detect(facts, rules, now)` takes the recent unlinked tickets (read with one query per sweep)
and the waves already fired, and returns the waves to act on: at least `min_tickets` tickets
on one service — or, without a service, with similar subjects — within the rule's window.
A wave fires once: not again while it keeps flowing (a firing for the same rule and key in
the window before the wave's first ticket), nor for a service an open incident covers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Words too common to say two subjects are about the same thing (German and English).
STOPWORDS = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "not",
        "does",
        "doesnt",
        "cant",
        "cannot",
        "wont",
        "have",
        "has",
        "are",
        "was",
        "were",
        "your",
        "our",
        "their",
        "please",
        "help",
        "issue",
        "problem",
        "error",
        "since",
        "when",
        "what",
        "again",
        "still",
        "about",
        "into",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "von",
        "für",
        "bei",
        "nicht",
        "geht",
        "kein",
        "keine",
        "eine",
        "einer",
        "einen",
        "ist",
        "sind",
        "wird",
        "bitte",
        "hilfe",
        "fehler",
        "seit",
        "wenn",
        "wieder",
        "noch",
        "auch",
        "beim",
        "mein",
        "meine",
        "unser",
        "unsere",
    }
)
SIMILARITY = 0.5  # Jaccard of the significant words: at least half in common
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True)
class WaveRuleSpec:
    id: int
    min_tickets: int
    window: dt.timedelta
    by_service: bool = True
    by_subject: bool = True
    declare: bool = False  # False: propose to the incident management team
    severity: int = 1


@dataclass(frozen=True)
class RecentTicket:
    id: int
    created_at: dt.datetime
    service_id: int | None
    subject: str


@dataclass(frozen=True)
class WaveFacts:
    tickets: tuple[RecentTicket, ...]
    # The last firing per (rule id, key).
    last_fired: dict[tuple[int, str], dt.datetime] = field(default_factory=dict)
    covered_services: frozenset[int] = frozenset()  # services with an open incident


@dataclass(frozen=True)
class Wave:
    rule: WaveRuleSpec
    key: str  # "service:<id>" or "subject:<common words>"
    service_id: int | None
    ticket_ids: tuple[int, ...]
    started_at: dt.datetime  # the wave's first ticket in the window


def words(subject: str) -> frozenset[str]:
    """The significant words of a subject, lower-cased."""
    return frozenset(
        w for w in (m.group(0).lower() for m in _WORD.finditer(subject)) if w not in STOPWORDS
    )


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= SIMILARITY


def subject_groups(tickets: Sequence[RecentTicket]) -> list[tuple[str, list[RecentTicket]]]:
    """Tickets grouped by similar subjects (each joins the first group whose first ticket it
    resembles, oldest first), keyed by the words the group's first ticket has."""
    groups: list[tuple[frozenset[str], list[RecentTicket]]] = []
    for ticket in sorted(tickets, key=lambda t: (t.created_at, t.id)):
        mine = words(ticket.subject)
        for seed, members in groups:
            if similar(seed, mine):
                members.append(ticket)
                break
        else:
            if mine:
                groups.append((mine, [ticket]))
    return [("subject:" + " ".join(sorted(seed))[:180], members) for seed, members in groups]


def candidates(
    rule: WaveRuleSpec, tickets: Iterable[RecentTicket]
) -> list[tuple[str, int | None, list[RecentTicket]]]:
    """The rule's groups of tickets: per service, and by subject among those without one."""
    found: list[tuple[str, int | None, list[RecentTicket]]] = []
    if rule.by_service:
        per_service: dict[int, list[RecentTicket]] = defaultdict(list)
        for ticket in tickets:
            if ticket.service_id is not None:
                per_service[ticket.service_id].append(ticket)
        found += [(f"service:{sid}", sid, group) for sid, group in sorted(per_service.items())]
    if rule.by_subject:
        loose = [t for t in tickets if t.service_id is None]
        found += [(key, None, group) for key, group in subject_groups(loose)]
    return found


def may_fire(
    tickets: Iterable[RecentTicket], rules: Sequence[WaveRuleSpec], now: dt.datetime
) -> bool:
    """Whether any rule could fire on `tickets` at `now`: a service with at least
    `min_tickets` of them in the rule's window, or that many without a service (the subject
    groups are at most that large). False means `detect` finds nothing whatever was fired
    before or is covered, so the sweep need not read those facts. Counting only: linear in
    the tickets, where grouping by subject compares them pairwise."""
    tickets = list(tickets)
    for rule in rules:
        since = now - rule.window
        per_service: dict[int | None, int] = defaultdict(int)
        for ticket in tickets:
            if since <= ticket.created_at <= now:
                per_service[ticket.service_id] += 1
        loose = per_service.pop(None, 0)
        if rule.by_service and any(n >= rule.min_tickets for n in per_service.values()):
            return True
        if rule.by_subject and loose >= rule.min_tickets:
            return True
    return False


def detect(facts: WaveFacts, rules: Sequence[WaveRuleSpec], now: dt.datetime) -> list[Wave]:
    """The waves that fire at `now`, at most one per key (the first rule by id wins)."""
    waves: list[Wave] = []
    taken: set[str] = set()
    for rule in sorted(rules, key=lambda r: r.id):
        since = now - rule.window
        recent = [t for t in facts.tickets if since <= t.created_at <= now]
        for key, service_id, group in candidates(rule, recent):
            if len(group) < rule.min_tickets or key in taken:
                continue
            if service_id is not None and service_id in facts.covered_services:
                continue
            started = min(t.created_at for t in group)
            last = facts.last_fired.get((rule.id, key))
            if last is not None and last >= started - rule.window:
                continue  # the same wave, still flowing: it fired already
            taken.add(key)
            ordered = sorted(group, key=lambda t: (t.created_at, t.id))
            waves.append(
                Wave(
                    rule=rule,
                    key=key,
                    service_id=service_id,
                    ticket_ids=tuple(t.id for t in ordered),
                    started_at=started,
                )
            )
    return waves
