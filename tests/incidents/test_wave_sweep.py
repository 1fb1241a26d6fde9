"""The wave trigger's reads per sweep: one statement while no wave is in sight, whatever the
number of recent tickets; the firings, held tickets and held services only when a rule could
fire. The rules come from the per-process configuration cache."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.detection import WaveRuleSpec
from incidents.models import WaveRule
from tests.incidents.conftest import make_ticket

T0 = dt.datetime(2026, 12, 23, 9, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)


def statements(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return len(queries), result


@pytest.mark.django_db
def test_a_quiet_sweep_reads_the_recent_tickets_only(org):
    rule = [WaveRuleSpec(id=1, min_tickets=5, window=15 * M)]
    for n in range(4):
        make_ticket(org, service=org.checkout, at=T0 + n * M, n=n)
    count, facts = statements(lambda: services.wave_facts(rule, T0 + 5 * M))
    assert count == 1
    assert len(facts.tickets) == 4
    for n in range(4, 12):  # four more on another service, four on none: still quiet
        make_ticket(org, service=org.login if n < 8 else None, at=T0 + n * M, n=n)
    assert statements(lambda: services.wave_facts(rule, T0 + 12 * M))[0] == 1


@pytest.mark.django_db
def test_a_sweep_a_rule_could_fire_on_reads_what_holds_a_wave_back(org):
    rule = [WaveRuleSpec(id=1, min_tickets=5, window=15 * M)]
    tickets = [make_ticket(org, service=org.checkout, at=T0 + n * M, n=n) for n in range(6)]
    incident = services.incident_declare(
        actor=org.im_lead,
        title="Checkout down",
        severity=2,
        manager=org.im_lead,
        services=[org.checkout],
        tickets=tickets[:2],
        now=T0 + 6 * M,
    )
    assert incident.is_open
    count, facts = statements(lambda: services.wave_facts(rule, T0 + 7 * M))
    # The tickets, their running links, the firings, the services open incidents hold.
    assert count == 4
    assert sorted(t.id for t in facts.tickets) == sorted(t.pk for t in tickets[2:])
    assert facts.covered_services == frozenset({org.checkout.pk})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_rules_are_read_once_until_one_changes(org):
    WaveRule.objects.create(name="checkout", min_tickets=5, window_minutes=15)
    services.wave_rules()
    assert statements(services.wave_rules)[0] == 0
    WaveRule.objects.create(name="login", min_tickets=9, window_minutes=30)
    count, specs = statements(services.wave_rules)
    assert count == 1
    assert sorted(s.min_tickets for s in specs) == [5, 9]
