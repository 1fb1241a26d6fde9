"""Recomputing SLA clocks in batches against one ticket at a time (a differential test).

A scenario from the sweep's differential test (tickets built through the services, with
replies, pauses, escalations and rules) gets its SLA configuration changed — shorter targets,
a holiday on the calendar — and is recomputed at one instant twice: one ticket at a time
through `sla_recompute` (rolled back), then in batches (`escalation.recompute`). The two
databases must be the same, table by table and ticket by ticket.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation import recompute
from sla import services as sla
from sla.models import BusinessCalendar, CalendarException, SLATarget
from tests.escalation.test_sweep_lanes import Knobs, _line, build, differences, snapshot
from tickets.models import Ticket, TicketEvent


def change_configuration(scenario_at: dt.datetime, *, holiday: bool, shorter: bool) -> None:
    if shorter:
        for target in SLATarget.objects.all():
            target.first_response = target.first_response / 2
            target.resolution = target.resolution * 3 / 4
            target.save()
    if holiday:
        today = timezone.localdate(scenario_at)
        for calendar in BusinessCalendar.objects.all():
            for days in (1, 2):  # the days the scenario's clocks ran on
                day = today - dt.timedelta(days=days)
                CalendarException.objects.create(calendar=calendar, date=day, name="Strike")
            calendar.save()  # a new updated_at: the clock's cached calendar is stale


def normalised(snap: dict) -> dict:
    """The snapshot with each ticket's timeline in content order: the one-by-one path writes
    a ticket's recomputation entry after its SLA events and escalations, the batch writes the
    recomputation entries of a batch together. Deliveries name their event by content (the
    event's position differs with that order)."""
    for rows in snap["tickets"].values():
        rows["events"] = sorted(rows["events"], key=_line)
    for delivery in snap["deliveries"]:
        delivery.pop("ticket_event", None)
    snap["deliveries"] = sorted(snap["deliveries"], key=_line)
    return snap


class _RollBack(Exception):
    pass


def recompute_and_roll_back(ids: list[int], at: dt.datetime, *, batches: bool) -> dict:
    result: dict = {"handed_back": 0}
    try:
        with transaction.atomic():
            if batches:
                run_batch = recompute.bulk_lane.run_batch

                def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
                    handed_back = run_batch(*args, **kwargs)
                    result["handed_back"] += len(handed_back)
                    return handed_back

                recompute.bulk_lane.run_batch = counting
                try:
                    result["count"] = recompute.recompute_many(ids, now=at, batch=5)
                finally:
                    recompute.bulk_lane.run_batch = run_batch
            else:
                result["count"] = sla.sla_recompute_many_alone(ids, now=at)
            result["snapshot"] = normalised(snapshot())
            raise _RollBack
    except _RollBack:
        pass
    return result


# The last value: whether the set-based lane hands some tickets back to the per-ticket lane
# (a rule that raises the priority): their recomputed columns are written apart from the
# lane's one ticket statement, before the services read them.
SCENARIOS = [
    pytest.param(Knobs(seed=201), True, True, False, id="shorter-targets-and-a-holiday"),
    pytest.param(Knobs(seed=202, shapes="mixed", replies=True), False, True, True, id="shorter"),
    pytest.param(Knobs(seed=203, rules_changed=True), True, False, False, id="holiday"),
    pytest.param(Knobs(seed=204, shapes="eligible", quirks=True), True, True, False, id="odd-data"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("knobs", "holiday", "shorter", "hands_back"), SCENARIOS)
def test_batches_write_the_rows_one_at_a_time_writes(
    knobs: Knobs,
    holiday: bool,
    shorter: bool,
    hands_back: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = build(knobs)
    change_configuration(scenario.at, holiday=holiday, shorter=shorter)
    ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
    before = normalised(snapshot())

    alone = recompute_and_roll_back(ids, scenario.at, batches=False)
    assert normalised(snapshot()) == before, "the one-by-one run was not undone"
    batched = recompute_and_roll_back(ids, scenario.at, batches=True)

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert alone["count"] == batched["count"] == len(ids)
    if hands_back:
        assert 0 < batched["handed_back"] < len(ids), batched["handed_back"]
    # The comparison means something only when the change moved deadlines.
    moved = sum(
        1
        for rows in alone["snapshot"]["tickets"].values()
        for event in rows["events"]
        if event["kind"] == TicketEvent.Kind.SLA_RECOMPUTED
    ) - sum(
        1
        for rows in before["tickets"].values()
        for event in rows["events"]
        if event["kind"] == TicketEvent.Kind.SLA_RECOMPUTED
    )
    assert moved >= 3, moved
    diff = differences(alone["snapshot"], batched["snapshot"])
    assert not diff, "\n".join(diff[:120])


@pytest.mark.django_db
def test_a_second_recomputation_changes_nothing_and_progress_is_told_per_batch() -> None:
    scenario = build(Knobs(seed=205))
    change_configuration(scenario.at, holiday=True, shorter=True)
    ids = list(Ticket.objects.active().order_by("pk").values_list("pk", flat=True))
    told: list[tuple[int, int]] = []
    recompute.recompute_many(ids, now=scenario.at, batch=4, progress=lambda *a: told.append(a))
    assert told == [(min(n, len(ids)), len(ids)) for n in range(4, len(ids) + 4, 4)]
    once = snapshot()
    recompute.recompute_many(ids, now=scenario.at, batch=4)
    assert differences(once, snapshot()) == []


@pytest.mark.django_db
def test_a_batch_reads_and_writes_with_a_fixed_number_of_statements() -> None:
    """A batch is read with a fixed number of queries and written with one statement per
    table: twice the tickets in one batch cost the same statements, and each ticket row is
    written once (the recomputed deadlines and the evaluation's next check together)."""
    scenario = build(
        Knobs(seed=206, tickets=16, shapes="eligible", rules_changed=False, defaults=False)
    )
    # Longer targets (a contract renegotiated): every deadline moves, nothing new comes due.
    for target in SLATarget.objects.all():
        target.first_response = target.first_response * 3 / 2
        target.resolution = target.resolution * 3 / 2
        target.save()
    ids = list(Ticket.objects.active().order_by("pk").values_list("pk", flat=True))
    assert len(ids) >= 8
    recompute.recompute_many(ids[:1], now=scenario.at)  # the configuration read and cached

    def statements(chunk: list[int]) -> tuple[list[str], list[int]]:
        handed_back: list[int] = []
        run_batch = recompute.bulk_lane.run_batch

        def spying(*args, **kwargs):  # type: ignore[no-untyped-def]
            returned = run_batch(*args, **kwargs)
            handed_back.extend(returned)
            return returned

        recompute.bulk_lane.run_batch = spying
        try:
            with transaction.atomic():
                with CaptureQueriesContext(connection) as queries:
                    recompute.recompute_many(chunk, now=scenario.at, batch=len(chunk))
                moved = TicketEvent.objects.filter(
                    ticket__in=chunk, kind=TicketEvent.Kind.SLA_RECOMPUTED, created_at=scenario.at
                ).count()
                transaction.set_rollback(True)
        finally:
            recompute.bulk_lane.run_batch = run_batch
        assert moved == len(chunk)
        sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        return sql, handed_back

    # The tickets the set-based lane takes whole (a rule due now may hand some back).
    _sql, handed_back = statements(ids[1:])
    taken = [pk for pk in ids[1:] if pk not in handed_back]
    assert len(taken) >= 8, handed_back
    (half, none), (whole, nothing) = statements(taken[:4]), statements(taken[:8])
    assert none == nothing == []
    assert len(whole) == len(half), "\n".join(difflib.unified_diff(_shapes(half), _shapes(whole)))
    ticket_updates = [sql for sql in whole if sql.startswith('UPDATE "tickets_ticket"')]
    assert len(ticket_updates) == 1, ticket_updates


def _shapes(statements: list[str]) -> list[str]:
    """The statements with their literal values left out, to compare two batches' lists."""
    return [re.sub(r"\d+|'[^']*'", "?", sql)[:160] for sql in statements]
