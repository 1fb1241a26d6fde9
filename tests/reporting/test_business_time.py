"""Business-time variants of the duration KPIs, on tickets worked through the real services
(so the SLA clock writes its segments as it does in production), with answers worked out by
hand below.

The seeded "Standard office hours" calendar: Europe/Berlin, Monday to Friday 08:00-18:00,
German public holidays. Christmas 2026: Thursday 24 December is a working day, Friday
25 December a holiday, 26/27 December the weekend. The period is 21-31 December.

- W (weekend and holiday): created Thu 24 Dec 17:00, answered Mon 28 Dec 09:00, resolved
  Mon 12:00. First response: 88 h calendar, 1 h (Thu 17-18) + 1 h (Mon 8-9) = 120 min
  business. Resolution: 91 h calendar, 1 h + 4 h (Mon 8-12) = 300 min business.
- P (paused): created Mon 21 Dec 09:00, answered 10:00 (60/60 min), waiting for the customer
  from 11:00 to Tue 11:00, resolved Tue 12:00. Resolution: 27 h calendar, 2 h (Mon 9-11) +
  1 h (Tue 11-12) = 180 min business: the pause does not count.
- R (reopened): created Tue 22 Dec 09:00, answered 09:30 (30/30 min), resolved 10:00,
  reopened Wed 23 Dec 09:00, resolved 10:00. Resolution: 25 h calendar, 1 h + 1 h = 120 min
  business: the night it lay resolved does not count.
- E (escalated and handed back): created Mon 21 Dec 09:00, answered 09:15 (15/15 min),
  escalated to L2 Thu 24 Dec 17:30 (tier target of the 2nd level: 30 business minutes, so due
  Thu 18:00), acknowledged Mon 28 Dec 08:30 (87 h calendar, 30 + 30 = 60 min business: late),
  handed back to L1 at 10:00, resolved 11:00. Resolution: 170 h calendar; business Mon 9 h +
  Tue 10 h + Wed 10 h + Thu 10 h + Mon 3 h = 42 h = 2520 min.
- X: created Wed 23 Dec 09:00, escalated to L2 at 10:00, acknowledged 10:10 (10/10 min, met).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from escalation import services as escalation_services
from escalation.handoff import Package
from escalation.models import Escalation
from reporting import handoffs, kpis
from reporting.forms import day_period
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Ticket

BERLIN = ZoneInfo("Europe/Berlin")
PERIOD = day_period(dt.date(2026, 12, 21), dt.date(2026, 12, 31))
PACKAGE = Package(summary="Checkout fails", actions_taken="Restarted the service")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)


def minutes(durations: kpis.Durations) -> tuple[int, float | None, float | None, float | None]:
    def m(seconds):
        return None if seconds is None else round(seconds / 60, 3)

    return durations.count, m(durations.mean), m(durations.median), m(durations.p90)


class Story:
    def __init__(self) -> None:
        self.chain = chain = Chain()
        self.l1_agent, self.l2_agent = chain.agents[0], chain.agents[1]

        self.w = self.create(at(24, 17))
        self.reply(self.w, at(28, 9))
        self.move(self.w, "resolve", at(28, 12))

        self.p = self.create(at(21, 9))
        self.reply(self.p, at(21, 10))
        self.move(self.p, "open", at(21, 10))
        self.move(self.p, "pend", at(21, 11))
        self.move(self.p, "resume", at(22, 11))
        self.move(self.p, "resolve", at(22, 12))

        self.r = self.create(at(22, 9))
        self.reply(self.r, at(22, 9, 30))
        self.move(self.r, "resolve", at(22, 10))
        self.move(self.r, "reopen", at(23, 9))
        self.move(self.r, "resolve", at(23, 10))

        self.e = self.create(at(21, 9))
        self.reply(self.e, at(21, 9, 15))
        self.escalate_and_acknowledge(self.e, at(24, 17, 30), at(28, 8, 30))
        escalation_services.escalation_deescalate(
            ticket=self.fresh(self.e),
            actor=chain.leads[1],
            to_team=chain.teams[0],
            reason="Known issue, the runbook covers it",
            now=at(28, 10),
        )
        self.move(self.e, "resolve", at(28, 11), actor=self.l1_agent)

        self.x = self.create(at(23, 9))
        self.escalate_and_acknowledge(self.x, at(23, 10), at(23, 10, 10))

    @staticmethod
    def fresh(ticket: Ticket) -> Ticket:
        return Ticket.objects.get(pk=ticket.pk)

    def create(self, now: dt.datetime) -> Ticket:
        return services.ticket_create(
            actor=self.l1_agent,
            data=services.NewTicket(
                subject="Checkout fails",
                description="500 on pay",
                team=self.chain.teams[0],
                impact=3,
                urgency=3,
                customer=CustomerFactory(),
            ),
            now=now,
        )

    def reply(self, ticket: Ticket, now: dt.datetime) -> None:
        services.ticket_reply(
            ticket=self.fresh(ticket), actor=self.l1_agent, body="We are on it.", now=now
        )

    def move(self, ticket: Ticket, name: str, now: dt.datetime, actor=None) -> None:
        services.ticket_transition(
            ticket=self.fresh(ticket), actor=actor or self.l1_agent, name=name, now=now
        )

    def escalate_and_acknowledge(
        self, ticket: Ticket, raised: dt.datetime, acknowledged: dt.datetime
    ) -> None:
        escalation = escalation_services.escalation_raise(
            ticket=self.fresh(ticket),
            actor=self.l1_agent,
            kind=Escalation.Kind.HIERARCHICAL,
            package=PACKAGE,
            now=raised,
        )
        escalation_services.escalation_acknowledge(
            escalation=Escalation.objects.get(pk=escalation.pk),
            actor=self.l2_agent,
            now=acknowledged,
        )


@pytest.fixture
def story(db) -> Story:
    return Story()


def test_first_response_in_business_time_skips_the_weekend_and_the_holiday(story):
    clock = kpis.first_response_times(Ticket.objects.all(), PERIOD)
    # Calendar: E 15, R 30, P 60, W 5280: mean 5385/4; median 45; p90 at 2.7 → 60 + 0.7·5220.
    assert minutes(clock.calendar) == (4, 1346.25, 45.0, 3714.0)
    # Business: E 15, R 30, P 60, W 120: mean 56.25; median 45; p90 → 60 + 0.7·60 = 102.
    assert minutes(clock.business) == (4, 56.25, 45.0, 102.0)


def test_resolution_in_business_time_leaves_out_pauses_and_the_resolved_night(story):
    clock = kpis.resolution_times(Ticket.objects.all(), PERIOD)
    # Calendar: R 1500, P 1620, W 5460, E 10200: mean 4695; median 3540; p90 → 5460 + 0.7·4740.
    assert minutes(clock.calendar) == (4, 4695.0, 3540.0, 8778.0)
    # Business: R 120, P 180, W 300, E 2520: mean 780; median 240; p90 → 300 + 0.7·2220.
    assert minutes(clock.business) == (4, 780.0, 240.0, 1854.0)


def test_acknowledgement_in_business_time_and_against_the_tier_target(story):
    clock = kpis.acknowledgement_times(Ticket.objects.all(), PERIOD)
    # X 10, E 5220 calendar minutes; X 10, E 60 business minutes. p90 → 10 + 0.9·(b - a).
    assert minutes(clock.calendar) == (2, 2615.0, 2615.0, 4699.0)
    assert minutes(clock.business) == (2, 35.0, 35.0, 55.0)
    compliance = kpis.acknowledgement_compliance(Ticket.objects.all(), PERIOD)
    # X acknowledged within its 30 business minutes; E's deadline (Thu 18:00) passed.
    assert (compliance.met, compliance.breached, compliance.percent) == (1, 1, 50.0)
    # The hand-back is no escalation: only two count.
    assert Escalation.objects.count() == 3


def test_a_period_without_the_deadline_counts_neither(story):
    before = kpis.acknowledgement_compliance(Ticket.objects.all(), PERIOD.previous())
    assert (before.met, before.breached, before.percent) == (0, 0, None)


def test_the_same_business_figures_without_postgresql(story, monkeypatch):
    in_sql = kpis.resolution_times(Ticket.objects.all(), PERIOD)
    monkeypatch.setattr(kpis, "percentiles_in_sql", lambda: False)
    in_python = kpis.resolution_times(Ticket.objects.all(), PERIOD)
    assert minutes(in_python.business) == minutes(in_sql.business)
    assert minutes(in_python.calendar) == minutes(in_sql.calendar)


# --- The escalation figures on the same story ----------------------------------------------


def test_escalations_per_level_per_day(story):
    over_time = handoffs.escalations_over_time(Ticket.objects.all(), PERIOD)
    assert over_time.grain == handoffs.DAY
    assert [level.rank for level in over_time.levels] == [2]
    assert len(over_time.buckets) == 11  # 21 to 31 December
    # X on Wednesday 23rd, E on Thursday 24th, both to the 2nd level; nothing else.
    per_day = {day.day: over_time.row(day) for day in over_time.buckets}
    assert per_day[23] == [1] and per_day[24] == [1]
    assert sum(row[0] for row in per_day.values()) == 2


def test_buckets_of_weeks_and_months():
    quarter = day_period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert handoffs.grain_of(quarter) == handoffs.WEEK
    weeks = handoffs.buckets(quarter, handoffs.WEEK)
    # Thursday 1 October lies in the week of Monday 28 September; the last is 28 December.
    assert (weeks[0], weeks[-1], len(weeks)) == (dt.date(2026, 9, 28), dt.date(2026, 12, 28), 14)
    year = day_period(dt.date(2026, 1, 15), dt.date(2026, 12, 31))
    months = handoffs.buckets(year, handoffs.grain_of(year))
    assert (months[0], months[-1], len(months)) == (dt.date(2026, 1, 1), dt.date(2026, 12, 1), 12)


def test_escalations_by_trigger(story):
    tickets = Ticket.objects.all()
    assert handoffs.escalations_by_trigger(tickets, PERIOD) == {
        "no_progress": 0,
        "sla": 0,
        "severity": 0,
        "soft_signal": 0,
        "unacknowledged": 0,
        "manual": 2,  # E and X, raised by an agent; the hand-back is no escalation
        "wave": 0,
    }
    l1, l2 = story.chain.teams[0], story.chain.teams[1]
    for trigger in ("sla_warning", "sla_breach", "severity"):
        Escalation.objects.create(
            ticket=story.w,
            kind=Escalation.Kind.HIERARCHICAL,
            cycle=9,
            trigger=trigger,
            from_team=l1,
            to_team=l2,
            from_level=l1.level,
            to_level=l2.level,
            raised_at=at(28, 9),
        )
    figures = handoffs.escalations_by_trigger(tickets, PERIOD)
    assert (figures["sla"], figures["severity"], figures["manual"]) == (2, 1, 2)


def test_time_in_tier_from_hand_off_to_the_next_or_the_resolution(story):
    stays = handoffs.time_in_tier(Ticket.objects.all(), PERIOD)
    hours = [(row.level.rank, row.durations.count, row.durations.mean / 3600) for row in stays]
    # E at the 2nd level from Thu 17:30 to the hand-back Mon 10:00 (88.5 h), then at the 1st
    # level until resolved at 11:00 (1 h). X is still at the 2nd level: its stay has not ended.
    assert hours == [(1, 1, 1.0), (2, 1, 88.5)]
    # In business time (Mon-Fri 08:00-18:00, Friday 25 December a holiday): at the 2nd level
    # Thu 17:30-18:00 and Mon 08:00-10:00 = 2.5 h; at the 1st level Mon 10:00-11:00 = 1 h.
    business = [(row.level.rank, row.business.count, row.business.mean / 3600) for row in stays]
    assert business == [(1, 1, 1.0), (2, 1, 2.5)]


def test_time_in_tier_in_the_table_and_its_csv(story):
    from reporting import table

    rows = list(
        table.table_rows(
            table.time_in_tier_table(handoffs.time_in_tier(Ticket.objects.all(), PERIOD))
        )
    )
    assert rows[-2][1:] == [1, 1.0, 1.0, 1.0, 1, 1.0, 1.0, 1.0]
    assert rows[-1][1:] == [1, 88.5, 88.5, 88.5, 1, 2.5, 2.5, 2.5]


def test_first_contact_resolution_at_the_first_level(story):
    figures = handoffs.first_contact_resolution(Ticket.objects.all(), PERIOD)
    # Resolved: W, P, R, E, all started at the 1st level; R was reopened, E handed off.
    assert (figures.resolved, figures.at_first_contact, figures.percent) == (4, 2, 50.0)


def test_hand_backs_with_their_reasons(story):
    rows = handoffs.handbacks(Ticket.objects.all(), PERIOD)
    assert [(row.ticket_id, row.reason_text) for row in rows] == [
        (story.e.pk, "Known issue, the runbook covers it")
    ]
    assert handoffs.handbacks(Ticket.objects.all(), PERIOD.previous()) == []


def test_time_in_tier_without_postgresql_gives_the_same(story, monkeypatch):
    def figures():
        return [
            (
                row.level.rank,
                row.durations.count,
                round(row.durations.mean),
                row.durations.p90,
                row.business.p90,
            )
            for row in handoffs.time_in_tier(Ticket.objects.all(), PERIOD)
        ]

    in_sql = figures()
    monkeypatch.setattr(handoffs, "percentiles_in_sql", lambda: False)
    assert figures() == in_sql == [(1, 1, 3600, 3600.0, 3600.0), (2, 1, 318600, 318600.0, 9000.0)]
