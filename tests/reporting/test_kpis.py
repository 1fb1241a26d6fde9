"""The key figures of a period, on prepared data whose answers are worked out by hand below.

The period is the week of Monday 2 to Sunday 8 November 2026 (Europe/Berlin); T is Monday
09:00. Tickets of the first-level team L1 (led by lead1):

- A: answered after 30 min (target met), resolved after 4 h (target met); e-mail; rated 5.
- B: answered after 90 min (first-response breach at T+1h), waited for the customer, resolved,
  reopened and resolved again after 2 days (resolution breach at T+1d, next-update breach at
  T+5h); affected service "Checkout"; rated 1 for the first resolution and 4 for the second.
- C: answered after 10 min (met), escalated to L2 at T+1h and acknowledged 20 min later, handed
  back to L1 at T+3h, resolved after 6 h (met); a next update late at T+2h (on the timeline; the
  next reply cleared the column); rated 2 after escalation.
- D: created Tuesday 09:00, never answered (first-response breach at +1h), escalated to L3 at
  +2h and acknowledged after 60 min.
- F: in the week before: answered after 60 min, resolved after 10 h.

And E, of the second-level team L2 only (lead1 may not read it): answered after 120 min,
rated 3.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from escalation.models import Escalation
from portal.models import Rating
from reporting import figures, kpis
from reporting.forms import day_period
from reporting.selectors import report_tickets
from tests.escalation.test_services import Chain
from tests.factories import TicketFactory
from tickets.models import Service, Ticket, TicketEvent

BERLIN = ZoneInfo("Europe/Berlin")
T = dt.datetime(2026, 11, 2, 9, tzinfo=BERLIN)
WEEK = day_period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)


class Data:
    def __init__(self) -> None:
        chain = self.chain = Chain()
        l1, l2, l3 = chain.teams[0], chain.teams[1], chain.teams[2]
        self.service = Service.objects.create(name="Checkout", owning_team=l1)

        def ticket(team=l1, **fields) -> Ticket:
            return TicketFactory(team=team, channel=fields.pop("channel", "web"), **fields)

        self.a = ticket(
            subject="A",
            channel="email",
            created_at=T,
            first_response_due_at=T + H,
            first_responded_at=T + 30 * M,
            resolution_due_at=T + 8 * H,
            resolved_at=T + 4 * H,
            status=Ticket.Status.RESOLVED,
        )
        self.b = ticket(
            subject="B",
            service=self.service,
            created_at=T,
            first_response_due_at=T + H,
            first_response_breached_at=T + H,
            first_responded_at=T + 90 * M,
            next_update_due_at=T + 5 * H,
            next_update_breached_at=T + 5 * H,
            resolution_due_at=T + D,
            resolution_breached_at=T + D,
            resolved_at=T + 2 * D,
            reopen_count=1,
            status=Ticket.Status.RESOLVED,
        )
        self.c = ticket(
            subject="C",
            created_at=T,
            first_response_due_at=T + H,
            first_responded_at=T + 10 * M,
            next_update_due_at=T + 4 * H,
            resolution_due_at=T + 8 * H,
            resolved_at=T + 6 * H,
            status=Ticket.Status.RESOLVED,
        )
        self.d = ticket(
            subject="D",
            created_at=T + D,
            first_response_due_at=T + D + H,
            first_response_breached_at=T + D + H,
            status=Ticket.Status.OPEN,
        )
        self.e = ticket(
            team=l2, subject="E", created_at=T, first_responded_at=T + 2 * H, status="open"
        )
        before = T - 6 * D
        self.f = ticket(
            subject="F",
            created_at=before,
            first_responded_at=before + H,
            resolved_at=before + 10 * H,
            status=Ticket.Status.RESOLVED,
        )

        def handoff(ticket, source, target, kind, raised, acknowledged=None):
            Escalation.objects.create(
                ticket=ticket,
                kind=kind,
                cycle=1,
                from_team=source,
                to_team=target,
                from_level=source.level,
                to_level=target.level,
                raised_at=raised,
                acknowledged_at=acknowledged,
            )

        # The timeline's breach entries, as the SLA service records them. C's next update was
        # late once (T+2h); the reply after it started a new period and cleared the column.
        for ticket_, target, at in (
            (self.b, "first_response", T + H),
            (self.b, "next_update", T + 5 * H),
            (self.c, "next_update", T + 2 * H),
        ):
            TicketEvent.objects.create(
                ticket=ticket_,
                kind=TicketEvent.Kind.SLA_BREACH,
                payload={"target": target},
                created_at=at,
            )
        up, back = Escalation.Kind.HIERARCHICAL, Escalation.Kind.DE_ESCALATION
        handoff(self.c, l1, l2, up, T + H, T + 80 * M)
        handoff(self.c, l2, l1, back, T + 3 * H)
        handoff(self.d, l1, l3, up, T + D + 2 * H, T + D + 3 * H)
        for ticket_, resolution, score, escalated in (
            (self.a, 0, 5, False),
            (self.b, 0, 1, False),
            (self.b, 1, 4, False),
            (self.c, 0, 2, True),
            (self.e, 0, 3, False),
        ):
            Rating.objects.create(
                ticket=ticket_,
                resolution=resolution,
                score=score,
                escalated=escalated,
                created_at=T + 2 * D + H,
            )
        self.lead = chain.leads[0]
        self.tickets = report_tickets(self.lead)


@pytest.fixture
def data(db) -> Data:
    return Data()


def minutes(durations: kpis.Durations) -> tuple[int, float | None, float | None, float | None]:
    def m(seconds):
        return None if seconds is None else round(seconds / 60, 3)

    return durations.count, m(durations.mean), m(durations.median), m(durations.p90)


def test_the_lead_counts_what_visible_to_gives(data):
    assert set(data.tickets.values_list("subject", flat=True)) == set("ABCDF")
    assert set(Ticket.objects.visible_to(data.lead)) == set(data.tickets)


def test_time_to_first_response(data):
    # A 30, B 90, C 10 min: mean 130/3; median 30; p90 at 0.9·2 = 1.8 → 30 + 0.8·60 = 78.
    assert minutes(kpis.time_to_first_response(data.tickets, WEEK)) == (3, 43.333, 30.0, 78.0)
    # With E (120 min) for everyone: p90 at 2.7 → 90 + 0.7·30 = 111.
    everything = kpis.time_to_first_response(Ticket.objects.all(), WEEK)
    assert minutes(everything) == (4, 62.5, 60.0, 111.0)
    # The week before: F alone.
    assert minutes(kpis.time_to_first_response(data.tickets, WEEK.previous())) == (
        1,
        60.0,
        60.0,
        60.0,
    )


def test_time_to_acknowledge_an_escalation_leaves_out_the_hand_back(data):
    # C 20 min, D 60 min; the hand-back of C is no escalation. p90: 20 + 0.9·40 = 56.
    assert minutes(kpis.time_to_acknowledge(data.tickets, WEEK)) == (2, 40.0, 40.0, 56.0)


def test_time_to_resolution_counts_the_pause_and_the_latest_resolution(data):
    # A 240, B 2880 (reopened, paused time included), C 360 min; p90: 360 + 0.8·2520 = 2376.
    assert minutes(kpis.time_to_resolution(data.tickets, WEEK)) == (3, 1160.0, 360.0, 2376.0)
    assert minutes(kpis.time_to_resolution(data.tickets, WEEK.previous())) == (
        1,
        600.0,
        600.0,
        600.0,
    )


def test_sla_compliance_per_target(data):
    figures = {
        c.target: (c.met, c.breached, c.breaches, c.percent)
        for c in kpis.sla_compliance(data.tickets, WEEK)
    }
    assert figures == {
        # A and C met, B breached; breaches recorded: B and the unanswered D.
        "first_response": (2, 1, 2, 66.7),
        # Resolved with a next-update target: B and C breached (C's breach only on the
        # timeline: its column was cleared by the next reply); A had none.
        "next_update": (0, 2, 2, 0.0),
        "resolution": (2, 1, 1, 66.7),
    }
    assert [c.percent for c in kpis.sla_compliance(data.tickets, WEEK.previous())] == [
        None,
        None,
        None,
    ]


def test_escalations_per_level_rate_and_bounce_back(data):
    figures = kpis.escalations(data.tickets, WEEK)
    assert [(row.level.rank, row.count) for row in figures.per_level] == [(2, 1), (3, 1)]
    assert (figures.escalations, figures.handbacks) == (2, 1)
    assert figures.bounce_back_percent == 50.0
    # Created in the week: A, B, C, D; escalated: C and D.
    assert (figures.tickets_created, figures.tickets_escalated) == (4, 2)
    assert figures.escalation_rate_percent == 50.0
    before = kpis.escalations(data.tickets, WEEK.previous())
    assert (before.escalations, before.bounce_back_percent, before.escalation_rate_percent) == (
        0,
        None,
        0.0,
    )


def test_satisfaction_of_the_visible_tickets(data):
    csat = kpis.satisfaction(data.tickets, WEEK)
    # 5, 1, 4, 2 (E's 3 is not the lead's): mean 3; low (≤ 2): two; after escalation: C's 2.
    assert (csat.count, csat.average, csat.low) == (4, 3.0, 2)
    assert (csat.escalated_count, csat.escalated_average) == (1, 2.0)
    assert kpis.satisfaction(Ticket.objects.all(), WEEK).count == 5


def test_slices_narrow_every_figure(data):
    from reporting.forms import ReportForm

    def sliced(**params):
        form = ReportForm({"start": "2026-11-02", "end": "2026-11-08", **params})
        assert form.is_valid() or set(form.errors) <= {"team", "level", "service", "channel"}
        return form.narrow(data.tickets)

    email = sliced(channel="email")
    assert minutes(kpis.time_to_first_response(email, WEEK)) == (1, 30.0, 30.0, 30.0)
    checkout = sliced(service=str(data.service.pk))
    assert minutes(kpis.time_to_resolution(checkout, WEEK)) == (1, 2880.0, 2880.0, 2880.0)
    second = sliced(team=str(data.chain.teams[1].pk))
    assert kpis.time_to_first_response(second, WEEK).count == 0  # E is not the lead's
    # An unknown slice value counts as not given.
    assert sliced(channel="pigeon").count() == data.tickets.count()


def test_percentile_interpolates_like_percentile_cont():
    assert figures.percentile([], 0.5) is None
    assert figures.percentile([7.0], 0.9) == 7.0
    assert figures.percentile([40.0, 10.0, 20.0, 30.0], 0.5) == 25.0
    assert figures.percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)


def test_the_same_figures_without_postgresql(data, monkeypatch):
    """The Python fallback (the demo's SQLite) gives what PostgreSQL gives."""
    in_sql = kpis.time_to_resolution(data.tickets, WEEK)
    monkeypatch.setattr(kpis, "percentiles_in_sql", lambda: False)
    in_python = kpis.time_to_resolution(data.tickets, WEEK)
    assert minutes(in_python) == minutes(in_sql)


def test_the_agent_slice(data):
    from reporting.forms import ReportForm

    agent = data.chain.agents[0]
    Ticket.objects.filter(subject__in=["A", "C"]).update(assignee=agent)
    form = ReportForm({"start": "2026-11-02", "end": "2026-11-08", "agent": str(agent.pk)})
    assert form.is_valid(), form.errors
    # A answered after 30, C after 10 minutes.
    assert minutes(kpis.time_to_first_response(form.narrow(data.tickets), WEEK)) == (
        2,
        20.0,
        20.0,
        28.0,
    )
    unknown = ReportForm({"start": "2026-11-02", "end": "2026-11-08", "agent": "999999"})
    unknown.is_valid()
    assert unknown.narrow(data.tickets).count() == data.tickets.count()
