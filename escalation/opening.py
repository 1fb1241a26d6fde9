"""The engine's first look at tickets opened together (the tickets a batch of alerts opens),
set-based.

`evaluation.on_ticket_change` evaluates a ticket as soon as a service changed it. For the
tickets one call of `tickets.services.tickets_create` opens, `on_tickets_change` (registered
as its set-based version in `EscalationConfig.ready`) writes the same rows in a fixed number
of statements however many tickets:

- the soft signals of all of them are assessed with at most one read (`evaluation.risk_counts`:
  the recurrences of those with an affected service; a new ticket has no messages, ratings
  or reopenings);
- each is evaluated in memory by the engine (`evaluate`) from the facts a new ticket has:
  nothing fired, nothing waiting for acknowledgement, no de-escalation, no incident;
- those on which no rule fires get their risk and `next_check_at` in one statement;
- those on which rules fire go through the sweep's set-based lane (`escalation.bulk`, a fixed
  number of statements a batch), given the rows as they stand; whatever shape it does not
  take (a rule that declares a major incident, say) is evaluated ticket by ticket, as one
  ticket opened alone is.

Any other change runs `evaluation.on_ticket_change` ticket by ticket.
`tests/escalation/test_opening_lanes.py` compares the rows of both ways.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from escalation import bulk, evaluation
from escalation.engine import evaluate
from escalation.facts import RuleSet, ticket_facts
from escalation.reports import SweepReport
from helpdesk.db import update_rows
from sla.services import next_sla_check
from tickets.models import Ticket

OPENED = frozenset({"created"})
# What the first evaluation of a ticket on which no rule fires may change.
QUIET_FIELDS = ["risk_score", "risk_reasons", "risk_changed_at", "next_check_at"]


def on_tickets_change(
    tickets: Sequence[Ticket],
    changes: frozenset[str],
    now: dt.datetime,
    actor: AbstractBaseUser | None,
) -> None:
    """`evaluation.on_ticket_change` for many tickets at once (see the module docstring)."""
    if changes != OPENED or evaluation.evaluating():
        for ticket in tickets:
            evaluation.on_ticket_change(ticket, changes, now, actor)
        return
    opened = [ticket for ticket in tickets if ticket.is_active]
    for ticket in tickets:
        if not ticket.is_active:  # opened resolved (an import): the per-ticket way
            evaluation.on_ticket_change(ticket, changes, now, actor)
    if not opened:
        return
    rules = RuleSet.current()
    as_read = {ticket.pk: bulk.ticket_values(ticket) for ticket in opened}
    before = {ticket.pk: _quiet_values(ticket) for ticket in opened}
    counts = evaluation.risk_counts(opened)
    for ticket in opened:
        evaluation.set_risk(ticket, (), now, counts[ticket.pk])
    quiet: list[Ticket] = []
    decided: list[Ticket] = []
    for ticket in opened:
        first = evaluate(
            ticket_facts(ticket, fired=set(), awaiting_ack=None, deescalated=False, owned=False),
            rules.specs,
            now,
        )
        if first.decisions:
            decided.append(ticket)
            continue
        ticket.next_check_at = min(
            (i for i in (next_sla_check(ticket), first.next_check_at) if i is not None),
            default=None,
        )
        quiet.append(ticket)
    _write_changed(quiet, before)
    if decided:
        _decide(decided, rules, now, as_read)


def _quiet_values(ticket: Ticket) -> tuple[Any, ...]:
    return tuple(getattr(ticket, name) for name in QUIET_FIELDS)


def _write_changed(tickets: list[Ticket], before: dict[int, tuple[Any, ...]]) -> None:
    """The `QUIET_FIELDS` that changed, of the tickets where they did, in one statement."""
    changed: set[str] = set()
    touched = []
    for ticket in tickets:
        fields = {
            name
            for name, old, new in zip(
                QUIET_FIELDS, before[ticket.pk], _quiet_values(ticket), strict=True
            )
            if old != new
        }
        if fields:
            changed |= fields
            touched.append(ticket)
    update_rows(Ticket, touched, [name for name in QUIET_FIELDS if name in changed])


def _decide(
    tickets: list[Ticket], rules: RuleSet, now: dt.datetime, as_read: dict[int, tuple[Any, ...]]
) -> None:
    """The tickets on which rules fire at once: the sweep's set-based lane applies what it
    can and writes each of those tickets once (its risk with the rest: `as_read`); the rest
    is evaluated ticket by ticket, as a ticket opened alone is (its risk written first)."""
    handed_back = {ticket.pk for ticket in tickets}
    if bulk.available():
        # The lane works on copies: a ticket it hands back must reach the per-ticket way as
        # it was (the lane leaves its row untouched and its object half changed).
        copies = {ticket.pk: copy.copy(ticket) for ticket in tickets}
        handed_back = set(
            bulk.run_batch(rules, list(copies.values()), now, SweepReport(), as_read=as_read)
        )
        for ticket in tickets:
            if ticket.pk not in handed_back:
                _take_state(ticket, copies[ticket.pk])
    alone = [ticket for ticket in tickets if ticket.pk in handed_back]
    update_rows(Ticket, alone, QUIET_FIELDS[:3])
    for ticket in alone:
        evaluation.evaluate_ticket(ticket, now=now, fresh=True)


def _take_state(ticket: Ticket, source: Ticket) -> None:
    """Give `ticket` what the lane may have changed of `source`, a copy it wrote: its
    columns (`bulk.TICKET_FIELDS`) and their related objects."""
    for field in (Ticket._meta.get_field(name) for name in bulk.TICKET_FIELDS):
        setattr(ticket, field.attname, getattr(source, field.attname))
        if field.is_relation:
            if field.is_cached(source):
                field.set_cached_value(ticket, field.get_cached_value(source))
            elif field.is_cached(ticket):
                field.delete_cached_value(ticket)
