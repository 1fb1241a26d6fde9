"""Tickets opened together (`tickets_create`, the alert intake's batch path) against the same
tickets opened one at a time (`ticket_create`): a differential test.

Opened together, the SLA clock and the engine's first evaluation run set-based
(`sla.services.on_tickets_change`, `escalation.opening.on_tickets_change`, with the sweep's
bulk lane for the tickets on which rules fire at once). Each scenario (the sweep's
differential test's world and random rules, services with recently resolved tickets so the
recurrence signal counts, webhooks) opens the same tickets both ways at one instant, rolled
back in between, and the two databases must be the same: ticket rows (SLA columns, risk,
escalation state, next check), clock segments, timeline entries, escalations, rule firings,
notifications and outbox deliveries.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from escalation import bulk
from escalation.models import EscalationRule
from sla.models import ClockSegment
from tests.escalation.test_sweep_lanes import (
    SWEEP_INSTANTS,
    _rule,
    _rules,
    _webhooks,
    _world,
    differences,
    snapshot,
)
from tests.factories import TeamFactory
from tickets import services
from tickets.models import Service, Ticket

pytestmark = pytest.mark.django_db

D = dt.timedelta(days=1)
# (impact, urgency): Sev 1 to Sev 4 under the default matrix.
SEVERITIES = [(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 3), (4, 3), (3, 4)]


@dataclass(frozen=True)
class Knobs:
    seed: int
    shapes: str = "eligible"  # "mixed": rules that raise the priority or declare incidents
    defaults: bool = False  # the data migration's rules (Sev 1 declares a major incident)
    tickets: int = 12


@dataclass
class Opening:
    at: dt.datetime
    actor: Any
    data: list[services.NewTicket]


def build(knobs: Knobs) -> Opening:
    rng = random.Random(knobs.seed)
    w = _world(rng)
    if rng.random() < 0.7:
        _webhooks(rng)
    if not knobs.defaults:
        EscalationRule.objects.update(is_active=False)
    _rules(w, shapes=knobs.shapes, functional=rng.random() < 0.6, prefix="R")
    # Sev 2 or worse on the first level goes up at once: the bulk lane's hand-off.
    _rule(
        "S01 Severe on first level",
        order=3,
        trigger="severity",
        priority_at_least=2,
        levels=[1],
        escalate="hierarchical",
        notify_team_lead=True,
        notify_target_team=True,
    )
    at = rng.choice(SWEEP_INSTANTS)
    catalogue = [Service.objects.create(name=f"Service {n}") for n in range(3)]
    # Tickets resolved in the last days on those services: new ones on them recur.
    for n in range(5):
        agent = w.agents(w.teams["L1"])[0]
        earlier = services.ticket_create(
            actor=agent,
            data=services.NewTicket(
                subject=f"Earlier outage {n}",
                description="",
                team=w.teams["L1"],
                customer=rng.choice([None, *w.customers]),
                service=catalogue[n % 2],
            ),
            now=at - rng.randint(3, 20) * D,
        )
        services.ticket_transition(
            ticket=earlier, actor=agent, name="resolve", now=at - rng.randint(1, 2) * D
        )
    teams = [w.teams["L1"], w.teams["L1"], w.teams["L2"], w.security]
    data = []
    for n in range(knobs.tickets):
        team = rng.choice(teams)
        impact, urgency = rng.choice(SEVERITIES)
        data.append(
            services.NewTicket(
                subject=f"Alert {n} firing",
                description="Disk full on db-1",
                team=team,
                customer=rng.choice([None, *w.customers]),
                impact=impact,
                urgency=urgency,
                channel=rng.choice([Ticket.Channel.MONITORING, Ticket.Channel.API]),
                assignee=rng.choice([None, None, *w.agents(team)]),
                service=rng.choice([None, *catalogue]),
            )
        )
    return Opening(at=at, actor=rng.choice([None, w.duty]), data=data)


class _RollBack(Exception):
    pass


def open_and_roll_back(opening: Opening, *, together: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            if together:
                services.tickets_create(actor=opening.actor, data=opening.data, now=opening.at)
            else:
                for item in opening.data:
                    services.ticket_create(actor=opening.actor, data=item, now=opening.at)
            result["snapshot"] = snapshot()
            raise _RollBack
    except _RollBack:
        pass
    return result["snapshot"]


SCENARIOS = [
    *(pytest.param(Knobs(seed=seed), id=f"seed{seed}") for seed in range(1, 5)),
    pytest.param(Knobs(seed=11, shapes="mixed", defaults=True), id="mixed-with-defaults"),
    pytest.param(Knobs(seed=12, shapes="mixed", tickets=20), id="mixed"),
]


@pytest.mark.parametrize("knobs", SCENARIOS)
def test_tickets_opened_together_write_what_they_write_opened_one_by_one(knobs, monkeypatch):
    opening = build(knobs)
    before = snapshot()
    lane = bulk.run_batch
    taken: list[int] = []

    def counting(rules, tickets, *args, **kwargs):  # type: ignore[no-untyped-def]
        handed_back = lane(rules, tickets, *args, **kwargs)
        taken.extend(t.pk for t in tickets if t.pk not in set(handed_back))
        return handed_back

    monkeypatch.setattr(bulk, "run_batch", counting)
    alone = open_and_roll_back(opening, together=False)
    assert snapshot() == before, "the one-by-one run was not undone"
    together = open_and_roll_back(opening, together=True)

    opened = [ref for ref in alone["tickets"] if ref not in before["tickets"]]
    assert len(opened) == knobs.tickets
    rows = [alone["tickets"][ref] for ref in opened]
    # What makes the comparison mean something: clocks started, recurring faults counted,
    # rules fired at once (through the bulk lane), tickets on which nothing fired.
    assert all(r["segments"] for r in rows)
    assert any(reason["code"] == "recurring" for r in rows for reason in r["row"]["risk_reasons"])
    assert any(r["escalations"] for r in rows)
    assert any(not r["firings"] for r in rows)
    assert taken, "the bulk lane took none of the tickets on which rules fired"
    assert len(together["deliveries"]) >= len(before["deliveries"])
    diff = differences(alone, together)
    assert not diff, "\n".join(diff[:120])


def _quiet_world() -> list[services.NewTicket]:
    """Sev 3 tickets on a service (no rule fires on them at once), set up and committed
    before the measure, so the configuration is cached (inside the transaction that changed
    it, it is read anew at every use: `helpdesk.configcache`)."""
    team = TeamFactory(name="On call")
    service = Service.objects.create(name="Checkout")
    return [
        services.NewTicket(
            subject=f"Alert {n}", description="", team=team, impact=3, urgency=3, service=service
        )
        for n in range(10)
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_first_evaluation_of_tickets_opened_together_costs_the_same_for_one_or_ten():
    data = _quiet_world()
    services.tickets_create(actor=None, data=data[:1])
    with CaptureQueriesContext(connection) as one:
        services.tickets_create(actor=None, data=data[:1])
    with CaptureQueriesContext(connection) as ten:
        opened = services.tickets_create(actor=None, data=data)
    assert len(ten) == len(one), [q["sql"][:60] for q in ten.captured_queries]
    # BEGIN, the references, the tickets, their entries; the clock segments, the SLA
    # columns; the recurrence read, the risk and next check; COMMIT.
    assert len(one) <= 10, [q["sql"][:60] for q in one.captured_queries]
    rows = Ticket.objects.filter(pk__in=[t.pk for t in opened])
    assert ClockSegment.objects.filter(ticket__in=rows).count() == 20
    assert all(t.next_check_at is not None and t.sla_policy_id for t in rows)
