"""The daily rollups against the rows they roll up: random scenarios of tickets (answered,
resolved, breached, escalated, acknowledged, handed back, reopened, recurring, on a business
calendar or not) over the last three weeks, rolled up, then every figure the rollups answer
compared with the same figure computed from the rows — for an admin and for a lead (who sees
their teams and a ticket their team held before), for periods that are wholly rolled up, that
include today, and after a ticket changed since its days were rolled up (stale days read from
the rows)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from escalation.models import Escalation
from lessons.models import CauseCategory, ClosingReport
from lessons.rules import REPORT_LEVEL
from portal.models import Rating
from reporting import handoffs, kpis, quality, reading, rollups
from reporting.forms import ReportForm, day_period
from reporting.models import DailyRollup, DirtyDay, RolledDay
from sla.models import ClockSegment, SLAPolicy
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory, TicketFactory, UserFactory
from tickets.models import Service, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def flat(value: object) -> object:
    """A report's figures as nested tuples, floats rounded to a millionth of a second (SQL
    and Python may differ in the last bit of a mean)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list | tuple):
        return tuple(flat(item) for item in value)
    if hasattr(value, "__dataclass_fields__"):
        return tuple(
            (name, flat(getattr(value, name)))
            for name in value.__dataclass_fields__  # type: ignore[attr-defined]
        )
    if hasattr(value, "pk"):
        return value.pk
    return value


def close_report(ticket: Ticket) -> ClosingReport:
    category = CauseCategory.objects.first() or CauseCategory.objects.create(name="Defect")
    return ClosingReport.objects.create(
        ticket=ticket, category=category, cause="c", solution="s", lessons_learned="l", level_rank=3
    )


def scenario(seed: int, now: dt.datetime) -> Chain:
    rng = random.Random(seed)
    chain = Chain()
    policy = SLAPolicy.objects.select_related("calendar").order_by("order").first()
    minute = dt.timedelta(minutes=1)
    # Few customers and services, so tickets recur (the same customer's service resolved
    # within 30 days before); some tickets have no service (outside recurrence).
    customers = [CustomerFactory() for _ in range(3)]
    services = [Service.objects.create(name=f"S{n}", owning_team=chain.teams[0]) for n in (1, 2)]
    for _ in range(36):
        source = rng.choice(chain.teams[:3])
        created = now - rng.randint(0, 21 * 24 * 60) * minute
        answered = created + rng.randint(1, 3000) * minute
        resolved = answered + rng.randint(1, 6000) * minute if rng.random() < 0.7 else None
        answered = answered if answered < now else None
        resolved = resolved if resolved and resolved < now else None
        with_policy = rng.random() < 0.8
        ticket = TicketFactory(
            team=source,
            priority=rng.randint(1, 4),
            sla_policy=policy if with_policy else None,
            created_at=created,
            updated_at=created,
            first_responded_at=answered,
            first_response_due_at=created + 240 * minute,
            first_response_breached_at=created + 240 * minute if rng.random() < 0.3 else None,
            resolution_due_at=created + 1800 * minute,
            resolution_breached_at=(created + 1800 * minute if rng.random() < 0.3 else None),
            next_update_due_at=created + 600 * minute if rng.random() < 0.5 else None,
            resolved_at=resolved,
            status=Ticket.Status.RESOLVED if resolved else Ticket.Status.OPEN,
            customer=rng.choice(customers),
            service=rng.choice([*services, None]),
            reopen_count=rng.choice([0, 0, 0, 1]),
        )
        if with_policy:
            for target, stop in (("first_response", answered), ("resolution", resolved)):
                if stop:
                    ClockSegment.objects.create(
                        ticket=ticket,
                        target=target,
                        state="running",
                        reason="created",
                        end_reason="stopped",
                        started_at=created,
                        ended_at=stop,
                        business_seconds=rng.randint(0, int((stop - created).total_seconds())),
                    )
        if resolved and rng.random() < 0.5:
            rated = resolved + rng.randint(1, 600) * minute
            if rated < now:
                Rating.objects.create(
                    ticket=ticket,
                    resolution=0,
                    score=rng.randint(1, 5),
                    comment=rng.choice(["", "Slow"]),
                    escalated=rng.random() < 0.4,
                    created_at=rated,
                )
        # Some reached incident management (level 3) once; some of those have a closing report.
        reached = source.level.rank >= REPORT_LEVEL
        if not reached and rng.random() < 0.3:
            reached = True
            TicketEvent.objects.create(
                ticket=ticket,
                kind=TicketEvent.Kind.LEVEL_CHANGED,
                payload={"from": source.level.rank, "to": REPORT_LEVEL},
                created_at=created,
            )
        if reached and resolved and rng.random() < 0.5:
            close_report(ticket)
        if rng.random() < 0.3:
            TicketEvent.objects.create(
                ticket=ticket,
                kind=TicketEvent.Kind.SLA_BREACH,
                payload={"target": "next_update"},
                created_at=created + rng.randint(1, 3000) * minute,
            )
        raised = created + rng.randint(1, 2000) * minute
        if rng.random() < 0.5 and raised < now:
            target_team = chain.teams[source.level.rank]  # one level up
            acknowledged = raised + rng.randint(1, 600) * minute
            Escalation.objects.create(
                ticket=ticket,
                kind=Escalation.Kind.HIERARCHICAL,
                cycle=1,
                trigger=rng.choice(["", "sla_breach", "no_progress"]),
                from_team=source,
                to_team=target_team,
                from_level=source.level,
                to_level=target_team.level,
                raised_at=raised,
                ack_due_at=raised + 30 * minute,
                acknowledged_at=acknowledged if acknowledged < now else None,
                # Half with a complete information package (documentation quality).
                **(
                    {name: "filled" for name in Escalation.PACKAGE_FIELDS}
                    if rng.random() < 0.5
                    else {}
                ),
            )
            back = raised + rng.randint(60, 3000) * minute
            if rng.random() < 0.4 and back < now:
                Escalation.objects.create(
                    ticket=ticket,
                    kind=Escalation.Kind.DE_ESCALATION,
                    cycle=2,
                    from_team=target_team,
                    to_team=source,
                    from_level=target_team.level,
                    to_level=source.level,
                    raised_at=back,
                    reason="Known issue",
                )
    # One ticket moved away from the 1st level: its lead still sees it (held before).
    moved = Ticket.objects.filter(team=chain.teams[0]).first()
    Ticket.objects.filter(pk=moved.pk).update(team=chain.teams[1], level=chain.teams[1].level)
    TicketEvent.objects.create(
        ticket=moved,
        kind=TicketEvent.Kind.TEAM_CHANGED,
        payload={"from": chain.teams[0].name, "to": chain.teams[1].name},
        created_at=moved.created_at,
    )
    return chain


def params(first: dt.date, last: dt.date, **slices: object) -> dict[str, object]:
    return {"preset": "custom", "start": str(first), "end": str(last), **slices}


def both_ways(user, query: dict[str, object]) -> tuple[object, object]:
    """(from the rollups, from the rows) for the report's period and the previous one: the KPIs,
    time in tier, and the load table and the escalations over time by day, week and month."""
    form = ReportForm(query)
    assert form.is_valid(), form.errors
    tickets = form.narrow(reading.report_tickets(user))
    period = form.period()
    source = rollups.source_for(user, form, tickets)
    assert source is not None
    rolled, raw = [], []
    for each in (period, period.previous()):
        facts = source.facts(each)
        assert facts is not None, "no day of the period was read from the rollups"
        rolled.append(
            (
                kpis.report(tickets, each, rollups.precomputed(facts)),
                rollups.time_in_tier(facts),
                [
                    quality.load(tickets, each, grain, rollups.load_counts(facts, grain))
                    for grain in (handoffs.DAY, handoffs.WEEK, handoffs.MONTH)
                ],
                [
                    handoffs.escalations_over_time(
                        tickets, each, grain, rollups.over_time_counts(facts, grain)
                    )
                    for grain in (handoffs.DAY, handoffs.WEEK, handoffs.MONTH)
                ],
            )
        )
        raw.append(
            (
                kpis.report(tickets, each),
                handoffs.time_in_tier(tickets, each),
                [
                    quality.load(tickets, each, grain)
                    for grain in (handoffs.DAY, handoffs.WEEK, handoffs.MONTH)
                ],
                [
                    handoffs.escalations_over_time(tickets, each, grain)
                    for grain in (handoffs.DAY, handoffs.WEEK, handoffs.MONTH)
                ],
            )
        )
    return flat(rolled), flat(raw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_from_the_rollups_equal_those_from_the_rows(seed):
    now = timezone.now()
    chain = scenario(seed, now)
    admin = UserFactory(is_superuser=True)
    done = rollups.roll_up(now, limit=100)
    assert len(done.days) >= 14 and done.rows > 0
    today = timezone.localdate()
    closed = params(today - dt.timedelta(days=10), today - dt.timedelta(days=1))
    with_today = params(today - dt.timedelta(days=6), today)
    for user in (admin, chain.leads[0], chain.leads[1]):
        for query in (closed, with_today, {**closed, "level": chain.teams[1].level.pk}):
            rolled, raw = both_ways(user, query)
            assert rolled == raw
    # A second run finds nothing to do.
    assert rollups.roll_up(now, limit=100).days == []


def test_a_ticket_written_after_the_roll_up_makes_its_days_stale_until_the_next(settings):
    now = timezone.now()
    chain = scenario(7, now)
    admin = UserFactory(is_superuser=True)
    rollups.roll_up(now, limit=100)
    today = timezone.localdate()
    query = params(today - dt.timedelta(days=14), today - dt.timedelta(days=1))
    # Moved to another team and priority after the roll-up (as a service would: updated_at).
    ticket = Ticket.objects.filter(
        created_at__lt=timezone.now() - dt.timedelta(days=12), resolved_at__isnull=False
    ).first()
    Ticket.objects.filter(pk=ticket.pk).update(
        team=chain.teams[2], level=chain.teams[2].level, priority=1, updated_at=timezone.now()
    )
    created_day = timezone.localtime(ticket.created_at).date()
    assert rollups.stale_from(rollups.watermark()) == created_day
    stale = set(RolledDay.objects.filter(day__gte=created_day).values_list("day", flat=True))
    assert stale
    for sliced in ({}, {"team": chain.teams[2].pk}, {"priority": 1}):
        rolled, raw = both_ways(admin, {**query, **sliced})
        assert rolled == raw
    assert sorted(rollups.roll_up(timezone.now(), limit=100).days) == sorted(stale)
    rolled, raw = both_ways(admin, {**query, "team": chain.teams[2].pk})
    assert rolled == raw


def test_slices_the_rows_do_not_have_read_the_tickets_and_the_command_fills_the_past():
    now = timezone.now()
    scenario(11, now)
    admin = UserFactory(is_superuser=True)
    today = timezone.localdate()
    form = ReportForm(params(today - dt.timedelta(days=7), today, channel="email"))
    assert form.is_valid()
    assert rollups.source_for(admin, form, Ticket.objects.all()) is None
    call_command("roll_up_reports")
    first = timezone.localtime(Ticket.objects.order_by("created_at").first().created_at).date()
    assert set(RolledDay.objects.values_list("day", flat=True)) == {
        first + dt.timedelta(days=n) for n in range((today - first).days)
    }
    assert not RolledDay.objects.filter(day=today).exists()  # today is read live
    assert DailyRollup.objects.exists()
    # Without rolled-up days in the period the report reads the rows (None: no facts).
    form = ReportForm(params(today, today))
    assert form.is_valid()
    source = rollups.source_for(admin, form, Ticket.objects.all())
    assert source is not None and source.facts(day_period(today, today)) is None


def test_an_acknowledgement_rating_or_closing_report_after_the_roll_up_marks_its_days(settings):
    """Writes that leave the ticket's `updated_at` alone mark the days they change: the page
    reads those days from the rows at once, and the next run rolls exactly them up again."""
    now = timezone.now()
    chain = scenario(5, now)
    admin = UserFactory(is_superuser=True)
    rollups.roll_up(now, limit=100)
    today = timezone.localdate()
    query = params(today - dt.timedelta(days=14), today - dt.timedelta(days=1))
    old = Ticket.objects.filter(
        resolved_at__lt=now - dt.timedelta(days=2), resolved_at__gt=now - dt.timedelta(days=13)
    )
    # A closing report written now for a ticket resolved days ago that reached level 3.
    reported = old.filter(quality.reached_report_level(), closing_report__isnull=True).first()
    assert reported is not None
    close_report(reported)
    # A rating of an old resolution, given in the past (as an import writes it).
    rated = old.filter(ratings__isnull=True).exclude(pk=reported.pk).first()
    Rating.objects.create(
        ticket=rated, resolution=0, score=1, escalated=True, created_at=rated.resolved_at
    )
    # An escalation acknowledged late, its acknowledgement corrected to in time.
    late = Escalation.objects.filter(
        acknowledged_at__gt=F("ack_due_at"),
        ack_due_at__lt=now - dt.timedelta(days=2),
        ack_due_at__gt=now - dt.timedelta(days=13),
    ).first()
    assert late is not None
    late.acknowledged_at = late.ack_due_at - dt.timedelta(minutes=1)
    late.save()
    marked = {
        timezone.localtime(instant).date()
        for instant in (
            reported.resolved_at,
            rated.resolved_at,
            late.raised_at,
            late.acknowledged_at,
            late.ack_due_at,
        )
    }
    assert rollups.dirty_days(rollups.watermark()) == marked
    for user in (admin, chain.leads[0], chain.leads[2]):
        rolled, raw = both_ways(user, query)
        assert rolled == raw
    rolled_before = set(RolledDay.objects.values_list("day", flat=True))
    assert sorted(rollups.roll_up(timezone.now(), limit=100).days) == sorted(marked & rolled_before)
    rolled, raw = both_ways(admin, query)
    assert rolled == raw
    # Rewriting the report's text changes no figure: no mark.
    before = DirtyDay.objects.count()
    reported.closing_report.cause = "Another cause"
    reported.closing_report.save()
    assert DirtyDay.objects.count() == before


def test_durations_are_stored_packed_and_the_migration_packs_json_the_same_way():
    """`pack` and `unpack` give back every duration exactly (sorted by name and value); the
    migration that converted the stored JSON arrays in SQL packs them byte for byte as `pack`
    does, so converted and newly written rows read the same."""
    rng = random.Random(5)
    values = {
        "answered": [rng.uniform(0, 1e7) for _ in range(40)],
        "stay_b:12": [3600.0, 0.0, 1e-05, 86400.000001, 12.5],
        "ack": [rng.randint(0, 10**6) / 7 for _ in range(9)],
        "resolved_b": [],
    }
    lengths, packed = rollups.pack(values)
    assert lengths == {name: len(found) for name, found in values.items()}
    unpacked = rollups.unpack(lengths, packed)
    assert {name: list(found) for name, found in unpacked.items()} == {
        name: sorted(found) for name, found in values.items()
    }
    migration = importlib.import_module("reporting.migrations.0005_packed_durations")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {migration.LENGTHS_OF.format(values='%s::jsonb')}, "
            f"{migration.PACKED_OF.format(values='%s::jsonb')}",
            [json.dumps(values)] * 2,
        )
        stored_lengths, stored = cursor.fetchone()  # Django reads jsonb as text
    assert (json.loads(stored_lengths), bytes(stored)) == (lengths, packed)
