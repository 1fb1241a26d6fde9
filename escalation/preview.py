"""The "would fire at T" preview of an escalation rule: which open tickets the rule would
fire on at an instant, evaluated by the engine on the tickets' current facts (nothing is
written). Shown by the rule's admin page and the API. The triggers other apps decide beside
the sweep (the incidents app's wave rules) join the dry run through `register_dry_run_source`,
so escalation/ never imports them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from escalation.engine import evaluate
from escalation.facts import RuleSet, deescalated_into_cycle, open_escalation, ticket_facts
from escalation.models import EscalationRule
from tickets.models import Ticket

# The preview evaluates at most this many open tickets (those due for a check first).
PREVIEW_LIMIT = 500

# What another trigger would do at an instant, one line each, writing nothing.
DryRunSource = Callable[[dt.datetime], list[str]]
_dry_run_sources: list[DryRunSource] = []


def register_dry_run_source(source: DryRunSource) -> None:
    """Add `source`'s lines to the sweep's dry run (`sweep_escalations --dry-run`). Idempotent."""
    if source not in _dry_run_sources:
        _dry_run_sources.append(source)


def other_triggers(now: dt.datetime) -> list[str]:
    """What the registered other triggers would do at `now`, in the order registered."""
    return [line for source in _dry_run_sources for line in source(now)]


def would_fire(
    rule: EscalationRule, now: dt.datetime, *, limit: int = PREVIEW_LIMIT
) -> list[Ticket] | None:
    """The open tickets (of the first `limit`, the soonest due first) that `rule` would fire
    on at `now`; None when the rule is inactive (the engine does not load it)."""
    spec = RuleSet.load()
    rule_spec = next((r for r in spec.specs if r.id == rule.pk), None)
    if rule_spec is None:
        return None
    hits = []
    tickets = (
        Ticket.objects.active()
        .select_related("team", "level", "customer", "sla_policy__calendar")
        .order_by("next_check_at")[:limit]
    )
    for ticket in tickets:
        fired = set(
            ticket.rule_firings.filter(cycle=ticket.escalation_cycle).values_list(
                "rule_id", flat=True
            )
        )
        waiting = open_escalation(ticket)
        facts = ticket_facts(
            ticket,
            fired=fired,
            awaiting_ack=waiting.ack_due_at if waiting else None,
            deescalated=deescalated_into_cycle(ticket),
        )
        if any(d.rule.id == rule.pk for d in evaluate(facts, [rule_spec], now).decisions):
            hits.append(ticket)
    return hits
