"""The rules applied to one ticket: record due SLA warnings and breaches, fire the rules that
are due (each at most once per ticket and cycle, `RuleFiring`), and set `next_check_at`. Runs
after every service change (`on_ticket_change`) and for each due ticket in the sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import translation

from escalation import handoff
from escalation.engine import (
    Decision,
    Escalate,
    Evaluation,
    Trigger,
    evaluate,
)
from escalation.facts import (
    RuleSet,
    deescalated_into_cycle,
    fired_rules,
    next_team_up,
    open_escalation,
    owned_by_incident,
    ticket_facts,
)
from escalation.handoff import (
    close_escalations,
    package_from_history,
    raise_escalation,
    settle_escalations,
)
from escalation.models import Escalation, EscalationRule, RuleFiring, SweepFailure
from escalation.reports import Outcome
from escalation.risk import RECURRENCE_DAYS, RiskInputs, assess
from escalation.wording import describe
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from sla.services import next_sla_check, record_due_sla_events
from tickets import services as ticket_services
from tickets.models import Message, Team, Ticket, TicketEvent

# Hand-offs decided for one ticket in one evaluation, at most: the chain has four levels, so a
# Sev 1 can climb L1 → L2 → L3 at once; the bound stops a misconfigured chain from looping.
MAX_ROUNDS = 6


_evaluating: ContextVar[bool] = ContextVar("escalation_evaluating", default=False)


def evaluating() -> bool:
    """Whether a ticket is being evaluated now (the changes its decisions make run the change
    hooks again, and are picked up by the evaluation's own loop)."""
    return _evaluating.get()


def apply_decision(ticket: Ticket, decision: Decision, rules: RuleSet, now: dt.datetime) -> bool:
    """Carry out one decision; False when another worker already fired it (nothing done)."""
    rule = rules.by_id[decision.rule.id]
    try:
        with transaction.atomic():
            RuleFiring.objects.create(**handoff.firing_row(ticket, rule, decision, now))
    except IntegrityError:
        return False  # exactly once: the (ticket, rule, cycle) row exists already
    reason = handoff.rule_reason(rule, decision)
    if decision.trigger == Trigger.UNACKNOWLEDGED:
        waiting = open_escalation(ticket)
        if waiting is not None:
            notify(
                resolve_recipients(ticket, team_lead=True, team=waiting.from_team),
                kind=Notification.Kind.ESCALATION_UNACKNOWLEDGED,
                ticket=ticket,
                cause=f"unack:{waiting.pk}",
                payload={"to_team": waiting.to_team.name},
                now=now,
            )
    if rule.raise_priority_to is not None and rule.raise_priority_to < ticket.priority:
        ticket_services.ticket_change_priority(
            ticket=ticket, actor=None, priority=rule.raise_priority_to, reason=reason, now=now
        )
        ticket.refresh_from_db()
    if rule.mark_major_incident:
        ticket_services.ticket_mark_major_incident(
            ticket=ticket, actor=None, reason=reason, now=now
        )
        ticket.refresh_from_db()
    to_team: Team | None = None
    if rule.escalate == Escalate.HIERARCHICAL and next_team_up(ticket) is not None:
        to_team = next_team_up(ticket)
        kind = Escalation.Kind.HIERARCHICAL
    elif (
        rule.escalate == Escalate.FUNCTIONAL
        and rule.functional_team_id != ticket.team_id
        and rule.functional_team.is_active
    ):
        to_team = rule.functional_team
        kind = Escalation.Kind.FUNCTIONAL
    if to_team is not None:
        # Resolve the rule's recipients before the hand-off changes who "assignee" and "team
        # lead" are; the escalation notice then goes to them and the receiving team, once.
        raise_escalation(
            ticket=ticket,
            kind=kind,
            to_team=to_team,
            package=package_from_history(
                ticket, reason, reason_facts=handoff.rule_reason_facts(rule, decision)
            ),
            actor=None,
            rule=rule,
            trigger=decision.trigger,
            reason=reason,
            keep_assignee=rule.keep_assignee,
            now=now,
            also_notify=rule_recipients(ticket, rule),
            reason_facts=handoff.rule_reason_facts(rule, decision),
        )
    else:
        notify_rule(ticket, rule, decision, now)
    return True


def rule_recipients(ticket: Ticket, rule: EscalationRule) -> list[AbstractBaseUser]:
    """Who the rule tells about `ticket` (a hand-off adds the receiving team itself)."""
    return resolve_recipients(
        ticket,
        assignee=rule.notify_assignee,
        team_lead=rule.notify_team_lead,
        level_rank=rule.notify_level_rank,
        users=list(rule.notify_users.all()),
    )


def notify_rule(ticket: Ticket, rule: EscalationRule, decision: Decision, now: dt.datetime) -> None:
    notify(
        rule_recipients(ticket, rule),
        kind=handoff.rule_notice_kind(decision),
        ticket=ticket,
        cause=f"rule:{rule.pk}:{ticket.pk}:{ticket.escalation_cycle}",
        payload=handoff.rule_notice_payload(rule, decision),
        now=now,
    )


def evaluate_ticket(
    ticket: Ticket,
    *,
    now: dt.datetime,
    rules: RuleSet | None = None,
    dry_run: bool = False,
    fresh: bool = False,
) -> Outcome:
    """Record due SLA warnings/breaches, fire due rules, set `next_check_at`. Caller holds the
    row lock (inside a transaction). With `dry_run`, nothing is written. `fresh`: the ticket
    was opened in this transaction, so it has no escalation, rule firing or incident link
    yet, and the first round spares reading them. `rules`: by default the active rules as
    cached per process (`RuleSet.current`).

    What it stores in words (reasons, the information package) is worded in the site's
    language (`LANGUAGE_CODE`), whoever's request caused the evaluation; a dry run speaks the
    viewer's language."""
    if dry_run:
        return _evaluate_ticket(ticket, now=now, rules=rules, dry_run=True, fresh=fresh)
    with translation.override(settings.LANGUAGE_CODE):
        return _evaluate_ticket(ticket, now=now, rules=rules, dry_run=False, fresh=fresh)


def _evaluate_ticket(
    ticket: Ticket, *, now: dt.datetime, rules: RuleSet | None, dry_run: bool, fresh: bool
) -> Outcome:
    rules = rules or RuleSet.current()
    outcome = Outcome(ticket_id=ticket.pk, reference=ticket.reference)
    token = _evaluating.set(True)
    try:
        # A ticket an open major incident owns has its clock held: no SLA events, no rules,
        # no next check (the incident's cadence speaks for it; see docs/incidents.md).
        owned = ticket.is_active and not fresh and ticket.pk in owned_by_incident([ticket.pk])
        if not dry_run and not owned:
            # Before anything else, so a target missed just before resolving is on record.
            outcome.sla_events = record_due_sla_events(ticket, now)
        if not ticket.is_active:
            if not dry_run:
                close_escalations(ticket, now)
                Ticket.objects.filter(pk=ticket.pk).update(next_check_at=None)
                ticket.next_check_at = None
                # Nothing is swept for it any more: a failing streak it had is over.
                SweepFailure.objects.filter(ticket=ticket).delete()
            return outcome
        evaluation: Evaluation | None = None
        uses_severity = any(r.trigger == Trigger.SEVERITY for r in rules.specs)
        for round_ in range(MAX_ROUNDS):
            # A fresh ticket has nothing to read before its first decisions are applied.
            first_of_fresh = fresh and round_ == 0
            waiting = None if first_of_fresh else open_escalation(ticket)
            facts = ticket_facts(
                ticket,
                fired=set() if first_of_fresh else fired_rules(ticket),
                awaiting_ack=waiting.ack_due_at if waiting else None,
                # Only severity rules read this fact: spare the sweep the query otherwise.
                deescalated=uses_severity and not first_of_fresh and deescalated_into_cycle(ticket),
                owned=owned,
            )
            evaluation = evaluate(facts, rules.specs, now)
            if not evaluation.decisions:
                break
            if dry_run:
                outcome.fired += [
                    f"{rules.by_id[d.rule.id].name} ({describe(d.reason)})"
                    for d in evaluation.decisions
                ]
                break
            applied = False
            for decision in evaluation.decisions:
                if apply_decision(ticket, decision, rules, now):
                    applied = True
                    outcome.fired.append(
                        f"{rules.by_id[decision.rule.id].name} ({describe(decision.reason)})"
                    )
                ticket.refresh_from_db()
            if not applied:
                break
        sla_next = None if owned else next_sla_check(ticket)
        engine_next = evaluation.next_check_at if evaluation else None
        outcome.next_check_at = min(
            (i for i in (sla_next, engine_next) if i is not None), default=None
        )
        if not dry_run and ticket.next_check_at != outcome.next_check_at:
            Ticket.objects.filter(pk=ticket.pk).update(next_check_at=outcome.next_check_at)
            ticket.next_check_at = outcome.next_check_at
        return outcome
    finally:
        _evaluating.reset(token)


# Changes after which the soft signals are assessed again.
RISK_CHANGES = frozenset(
    {"created", "customer_message", "reply", "reopen", "team", "recompute", "service"}
)


# How many of a ticket's latest replies and customer messages the soft signals read.
RISK_MESSAGES = 50


def risk_inputs(
    ticket: Ticket, recent: Sequence[tuple[str, str]], counts: tuple[int, int] | None = None
) -> RiskInputs:
    """The soft-signal facts of `ticket`, given its latest replies and customer messages
    (`recent`: (kind, body), newest first, at most RISK_MESSAGES) and, when a caller read
    them for many tickets at once (`risk_counts`), its (low ratings, recurrences)."""
    follow_ups = 0
    for kind, _body in recent:
        if kind == Message.Kind.REPLY:
            break
        follow_ups += 1
    texts = tuple(body for kind, body in recent if kind == Message.Kind.CUSTOMER)[:5]
    # Only a reopened ticket can carry the rating of an earlier solution (the portal's CSAT
    # writes a `rated` entry): never-reopened tickets spare the query.
    if counts is None:
        counts = risk_counts([ticket])[ticket.pk]
    low_ratings, recurring = counts
    return RiskInputs(
        follow_ups=follow_ups,
        customer_texts=texts,
        reopen_count=ticket.reopen_count,
        vip=bool(ticket.customer_id and ticket.customer.is_vip),
        hand_offs=max(ticket.escalation_cycle - ticket.reopen_count, 0),
        low_ratings=low_ratings,
        recurrences=recurring,
    )


def set_risk(
    ticket: Ticket,
    recent: Sequence[tuple[str, str]],
    now: dt.datetime,
    counts: tuple[int, int] | None = None,
) -> bool:
    """Assess the soft signals again, in memory; True when the score or a reason changed."""
    score, reasons = assess(risk_inputs(ticket, recent, counts))
    if (score, reasons) == (ticket.risk_score, ticket.risk_reasons):
        return False
    ticket.risk_score, ticket.risk_reasons, ticket.risk_changed_at = score, reasons, now
    return True


def refresh_risk(
    ticket: Ticket, now: dt.datetime, recent: Sequence[tuple[str, str]] | None = None
) -> None:
    """Assess the ticket's soft signals again and store the score with its reasons (`recent`:
    see `risk_inputs`, when the caller knows them; read otherwise)."""
    if recent is None:
        recent = list(
            ticket.messages.filter(kind__in=[Message.Kind.REPLY, Message.Kind.CUSTOMER])
            .order_by("-created_at", "-pk")
            .values_list("kind", "body")[:RISK_MESSAGES]
        )
    if set_risk(ticket, recent, now):
        Ticket.objects.filter(pk=ticket.pk).update(
            risk_score=ticket.risk_score,
            risk_reasons=ticket.risk_reasons,
            risk_changed_at=ticket.risk_changed_at,
        )


def risk_counts(tickets: Sequence[Ticket]) -> dict[int, tuple[int, int]]:
    """(low ratings, recurrences) of each ticket, in at most two reads however many.

    Low ratings: only a reopened ticket can carry the rating of an earlier solution (the
    portal's CSAT writes a `rated` entry). Recurrences: earlier tickets of the same service
    (and of the same customer, when it has one) resolved within `RECURRENCE_DAYS` before this
    one was created — the recurring fault."""
    counts = {ticket.pk: [0, 0] for ticket in tickets}
    reopened = [ticket.pk for ticket in tickets if ticket.reopen_count]
    if reopened:
        for ticket_id, low in (
            TicketEvent.objects.filter(
                ticket_id__in=reopened,
                kind=TicketEvent.Kind.RATED,
                payload__score__lte=settings.PORTAL_LOW_RATING,
            )
            .values("ticket_id")
            .annotate(low=Count("pk"))
            .values_list("ticket_id", "low")
        ):
            counts[ticket_id][0] = low
    on_service = [ticket for ticket in tickets if ticket.service_id is not None]
    if on_service:
        window = dt.timedelta(days=RECURRENCE_DAYS)
        by_service: dict[int, list[tuple[int, int | None, dt.datetime]]] = {}
        for pk, service_id, customer_id, resolved_at in Ticket.objects.filter(
            service_id__in={t.service_id for t in on_service},
            resolved_at__gte=min(t.created_at for t in on_service) - window,
            resolved_at__lte=max(t.created_at for t in on_service),
        ).values_list("pk", "service_id", "customer_id", "resolved_at"):
            by_service.setdefault(service_id, []).append((pk, customer_id, resolved_at))
        for ticket in on_service:
            counts[ticket.pk][1] = sum(
                1
                for pk, customer_id, resolved_at in by_service.get(ticket.service_id, ())
                if pk != ticket.pk
                and ticket.created_at - window <= resolved_at <= ticket.created_at
                and (ticket.customer_id is None or customer_id == ticket.customer_id)
            )
    return {pk: (low, recurring) for pk, (low, recurring) in counts.items()}


def on_ticket_change(
    ticket: Ticket, changes: frozenset[str], now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    """Evaluate at once after a ticket service changed something: a Sev 1 ticket escalates on
    creation, not at the next sweep. Nested changes made by the evaluation itself are picked
    up by its own loop."""
    if "team" in changes:
        settle_escalations(ticket, now)
    if _evaluating.get():
        return
    # A ticket being opened has no messages, escalations or firings yet (see `fresh`).
    fresh = "created" in changes
    if changes & RISK_CHANGES:
        refresh_risk(ticket, now, recent=() if fresh else None)
    evaluate_ticket(ticket, now=now, fresh=fresh)
