"""Recurrence, documentation quality, deflections, the rating lists and the load per level, on
prepared data whose answers are worked out by hand in each test. The period is the week of
Monday 2 to Sunday 8 November 2026 (Europe/Berlin), as in `test_kpis`."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation.models import Escalation
from knowledge.models import Deflection
from lessons.models import CauseCategory, ClosingReport
from portal.models import Rating
from reporting import quality
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory, TicketFactory, UserFactory
from tests.knowledge.articles import make_article
from tests.reporting.test_kpis import BERLIN, WEEK
from tickets.models import Service, Ticket, TicketEvent


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=BERLIN)


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def test_recurrence_same_customer_and_service_within_30_days(chain):
    team = chain.teams[0]
    checkout = Service.objects.create(name="Checkout", owning_team=team)
    mail = Service.objects.create(name="Mail", owning_team=team)
    k, k2, k3 = CustomerFactory(), CustomerFactory(), CustomerFactory()

    def ticket(customer, service, created, resolved=None):
        return TicketFactory(
            team=team, customer=customer, service=service, created_at=created, resolved_at=resolved
        )

    ticket(k, checkout, at(10, 1), at(10, 20))  # before the week: the earlier one
    ticket(k3, checkout, at(9, 20), at(9, 30))  # resolved 37 days before K3's new one
    second = ticket(k, checkout, at(11, 3))  # 14 days after 20 October: recurring
    ticket(k, mail, at(11, 4))  # another service
    ticket(k2, checkout, at(11, 4))  # another customer
    ticket(k, checkout, at(11, 5))  # 16 days after 20 October: recurring
    ticket(k3, checkout, at(11, 6))  # 37 days: too long ago
    ticket(k, None, at(11, 6))  # no service: not counted at all
    share = quality.recurrence(Ticket.objects.all(), WEEK)
    assert (share.part, share.whole, share.percent) == (2, 5, 40.0)
    # Only the slice's tickets count; the earlier ticket need not be in the slice.
    only_second = quality.recurrence(Ticket.objects.filter(pk=second.pk), WEEK)
    assert (only_second.part, only_second.whole) == (1, 1)


def test_documentation_quality_is_the_complete_packages(chain):
    l1, l2 = chain.teams[0], chain.teams[1]
    ticket = TicketFactory(team=l1, created_at=at(11, 2))
    full = {name: "filled" for name in Escalation.PACKAGE_FIELDS}

    in_the_week = at(11, 3)

    def escalation(kind=Escalation.Kind.HIERARCHICAL, raised=in_the_week, **package):
        Escalation.objects.create(
            ticket=ticket,
            kind=kind,
            cycle=1,
            from_team=l1,
            to_team=l2,
            from_level=l1.level,
            to_level=l2.level,
            raised_at=raised,
            **{**full, **package},
        )

    escalation()  # complete
    escalation(risks="")  # one field missing
    escalation(risks="   ")  # blank is missing too
    escalation(kind=Escalation.Kind.DE_ESCALATION)  # a hand-back is no escalation
    escalation(raised=at(10, 20))  # the period before
    share = quality.documentation(Ticket.objects.all(), WEEK)
    assert (share.part, share.whole, share.percent) == (1, 3, 33.3)
    before = quality.documentation(Ticket.objects.all(), WEEK.previous())
    assert (before.part, before.whole) == (0, 0)


def test_deflections_in_the_period(db):
    article = make_article("vpn", owner=UserFactory(), en=("VPN", "Restart the client."))
    for n, when in enumerate((at(11, 2), at(11, 8, 23), at(11, 9), at(11, 1))):
        Deflection.objects.create(
            article=article, created_at=when, language="en", source="article", session_hash=str(n)
        )
    # Monday 2nd and Sunday 8th 23:00 are in; Monday 9th and Sunday 1st are not.
    assert quality.deflections(WEEK) == 2


def test_comments_and_low_ratings_newest_first(chain, settings):
    settings.PORTAL_LOW_RATING = 2
    ticket = TicketFactory(team=chain.teams[0], created_at=at(11, 2))
    hidden = TicketFactory(team=chain.teams[1], created_at=at(11, 2))
    for n, (score, comment, when, rated) in enumerate(
        (
            (1, "=HYPERLINK(1)", at(11, 3), ticket),
            (4, "Great", at(11, 4), ticket),
            (2, "", at(11, 5), ticket),
            (1, "Old", at(10, 30), ticket),  # the week before
            (1, "Not yours", at(11, 4), hidden),
        )
    ):
        Rating.objects.create(
            ticket=rated, resolution=n, score=score, comment=comment, created_at=when
        )
    visible = Ticket.objects.visible_to(chain.leads[0])
    assert [r.comment for r in quality.rating_comments(visible, WEEK)] == [
        "Great",
        "=HYPERLINK(1)",
    ]
    assert [r.score for r in quality.low_ratings(visible, WEEK)] == [2, 1]


def test_load_per_level_and_day(chain):
    l1, l2 = chain.teams[0], chain.teams[1]
    tickets = Ticket.objects.filter(subject__startswith="load")
    TicketFactory(subject="load a", team=l1, created_at=at(10, 30))  # open before the week
    TicketFactory(subject="load b", team=l1, created_at=at(11, 2), resolved_at=at(11, 3))
    TicketFactory(  # resolved before the week: never open in it
        subject="load z", team=l1, created_at=at(10, 1), resolved_at=at(10, 2)
    )
    c = TicketFactory(subject="load c", team=l2, created_at=at(11, 4, 8))
    Escalation.objects.create(
        ticket=c,
        kind=Escalation.Kind.HIERARCHICAL,
        cycle=1,
        from_team=l1,
        to_team=l2,
        from_level=l1.level,
        to_level=l2.level,
        raised_at=at(11, 4, 10),
    )
    rows = quality.load(tickets, WEEK)
    table = {
        (row.bucket.day, row.level.rank): (
            row.created,
            row.handed_in,
            row.resolved,
            row.open_at_end,
        )
        for row in rows
    }
    assert len(rows) == 14  # seven days, two levels
    assert table[(2, 1)] == (1, 0, 0, 2)  # a, and b created
    assert table[(3, 1)] == (0, 0, 1, 1)  # b resolved
    assert table[(4, 1)] == (0, 0, 0, 1)
    assert table[(4, 2)] == (1, 1, 0, 1)  # c created, and handed in
    assert table[(8, 2)] == (0, 0, 0, 1)


def test_closing_report_share_of_tickets_that_reached_level_3(chain):
    l1, l3 = chain.teams[0], chain.teams[2]
    category = CauseCategory.objects.first() or CauseCategory.objects.create(name="Defect")

    def ticket(team, resolved, reported=False, moved_to=None):
        t = TicketFactory(team=team, level=team.level, created_at=at(10, 1), resolved_at=resolved)
        if moved_to is not None:
            TicketEvent.objects.create(
                ticket=t, kind=TicketEvent.Kind.LEVEL_CHANGED, payload={"from": 3, "to": moved_to}
            )
        if reported:
            ClosingReport.objects.create(
                ticket=t,
                category=category,
                cause="c",
                solution="s",
                lessons_learned="l",
                level_rank=3,
            )
        return t

    ticket(l3, at(11, 3), reported=True)  # at level 3 now, documented
    ticket(l3, at(11, 4))  # at level 3 now, not documented
    ticket(l1, at(11, 5), reported=True, moved_to=3)  # handed back to the 1st level since
    ticket(l1, at(11, 5), moved_to=2)  # never at level 3: not counted
    ticket(l1, at(11, 6))  # stayed at the 1st level
    ticket(l3, at(10, 28), reported=True)  # resolved the week before
    ticket(l3, None)  # not resolved
    share = quality.closing_reports(Ticket.objects.all(), WEEK)
    assert (share.part, share.whole, share.percent) == (2, 3, 66.7)
    before = quality.closing_reports(Ticket.objects.all(), WEEK.previous())
    assert (before.part, before.whole) == (1, 1)
    # A slice counts only its tickets.
    only_l1 = quality.closing_reports(Ticket.objects.filter(team=l1), WEEK)
    assert (only_l1.part, only_l1.whole) == (1, 1)
