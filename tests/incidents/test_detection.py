"""The wave trigger and the update cadence, pure; recurrence on prepared history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from escalation.risk import RiskInputs, assess, describe
from incidents import cadence
from incidents.detection import (
    RecentTicket,
    WaveFacts,
    WaveRuleSpec,
    detect,
    may_fire,
    subject_groups,
)
from tests.factories import CustomerFactory, TicketFactory
from tests.incidents.conftest import make_ticket

T0 = dt.datetime(2026, 12, 23, 9, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)
RULE = WaveRuleSpec(id=1, min_tickets=5, window=15 * M)


def on_service(n: int, service: int = 7, start: dt.datetime = T0, step=M) -> tuple:
    return tuple(RecentTicket(i, start + i * step, service, f"order {i}") for i in range(n))


class TestWave:
    def test_fires_at_the_threshold_within_the_window(self):
        assert detect(WaveFacts(on_service(4)), [RULE], T0 + 5 * M) == []
        (wave,) = detect(WaveFacts(on_service(5)), [RULE], T0 + 5 * M)
        assert (wave.key, wave.service_id, wave.ticket_ids) == ("service:7", 7, (0, 1, 2, 3, 4))
        assert wave.started_at == T0

    def test_tickets_spread_wider_than_the_window_are_no_wave(self):
        spread = on_service(5, step=4 * M)  # 16 minutes from first to last
        assert detect(WaveFacts(spread), [RULE], T0 + 16 * M) == []

    def test_once_per_wave(self):
        facts = WaveFacts(on_service(8), last_fired={(1, "service:7"): T0 + 5 * M})
        assert detect(facts, [RULE], T0 + 8 * M) == []
        # A new wave after a quiet spell fires again.
        later = on_service(5, start=T0 + 2 * dt.timedelta(hours=1))
        facts = WaveFacts(later, last_fired={(1, "service:7"): T0 + 5 * M})
        assert len(detect(facts, [RULE], T0 + 2 * dt.timedelta(hours=1) + 5 * M)) == 1

    def test_a_service_an_open_incident_covers_does_not_fire(self):
        assert (
            detect(WaveFacts(on_service(9), covered_services=frozenset({7})), [RULE], T0 + 9 * M)
            == []
        )

    def test_similar_subjects_without_a_service(self):
        subjects = [
            "Checkout payment fails",
            "payment fails at checkout!",
            "Checkout: payment fails again",
            "Payment fails in checkout",
            "checkout payment fails",
            "Invoice PDF is empty",
        ]
        tickets = tuple(RecentTicket(i, T0 + i * M, None, s) for i, s in enumerate(subjects))
        (wave,) = detect(WaveFacts(tickets), [RULE], T0 + 6 * M)
        assert wave.key == "subject:checkout fails payment"
        assert wave.ticket_ids == (0, 1, 2, 3, 4)
        by_service_only = WaveRuleSpec(id=2, min_tickets=5, window=15 * M, by_subject=False)
        assert detect(WaveFacts(tickets), [by_service_only], T0 + 6 * M) == []

    def test_groups_by_the_first_ticket(self):
        tickets = [
            RecentTicket(1, T0, None, "Login broken"),
            RecentTicket(2, T0 + M, None, "Invoices late"),
            RecentTicket(3, T0 + 2 * M, None, "login is broken"),
        ]
        assert [[t.id for t in g] for _k, g in subject_groups(tickets)] == [[1, 3], [2]]


SUBJECTS = ["checkout fails", "checkout broken", "login slow", "invoice missing", "das geht"]
tickets_st = st.lists(
    st.builds(
        lambda i, minute, service, subject: RecentTicket(i, T0 + minute * M, service, subject),
        st.integers(1, 10**6),
        st.integers(0, 40),
        st.sampled_from([None, 1, 2]),
        st.sampled_from(SUBJECTS),
    ),
    max_size=30,
)
rules_st = st.lists(
    st.builds(
        WaveRuleSpec,
        id=st.integers(1, 5),
        min_tickets=st.integers(1, 8),
        window=st.integers(1, 30).map(lambda n: n * M),
        by_service=st.booleans(),
        by_subject=st.booleans(),
    ),
    min_size=1,
    max_size=3,
)


class TestMayFire:
    """The sweep reads the firings and the held services only when `may_fire`: it must never
    say no where `detect` would find a wave."""

    @given(tickets=tickets_st, rules=rules_st, minute=st.integers(0, 45))
    def test_no_means_detect_finds_nothing(self, tickets, rules, minute):
        now = T0 + minute * M
        if not may_fire(tickets, rules, now):
            assert detect(WaveFacts(tuple(tickets)), rules, now) == []

    @given(tickets=tickets_st, rules=rules_st, minute=st.integers(0, 45))
    def test_a_wave_means_yes(self, tickets, rules, minute):
        now = T0 + minute * M
        if detect(WaveFacts(tuple(tickets)), rules, now):
            assert may_fire(tickets, rules, now)

    def test_counts_per_service_and_the_loose_ones(self):
        assert not may_fire(on_service(4), [RULE], T0 + 5 * M)
        assert may_fire(on_service(5), [RULE], T0 + 5 * M)
        # Two services with three each: no service reaches five.
        assert not may_fire(on_service(3, 1) + on_service(3, 2), [RULE], T0 + 5 * M)
        loose = on_service(5, None)
        assert may_fire(loose, [RULE], T0 + 5 * M)
        assert not may_fire(loose, [WaveRuleSpec(2, 5, 15 * M, by_subject=False)], T0 + 5 * M)
        # Out of the window.
        assert not may_fire(on_service(5), [RULE], T0 + 30 * M)


class TestCadence:
    def test_sev_1_hourly_in_the_first_hours_then_every_two(self):
        assert cadence.next_update_due(1, T0, T0) == T0 + dt.timedelta(hours=1)
        assert cadence.next_update_due(1, T0, T0 + dt.timedelta(hours=5)) == T0 + dt.timedelta(
            hours=7
        )
        assert cadence.next_update_due(3, T0, T0) == T0 + dt.timedelta(hours=4)

    @pytest.mark.parametrize(
        ("minutes", "expected"),
        [(0, "none"), (44, "none"), (45, "update_due"), (59, "update_due"), (60, "update_missed")],
    )
    def test_reminders(self, minutes, expected):
        due = T0 + dt.timedelta(hours=1)
        assert cadence.reminder(1, T0, due, T0 + minutes * M) == expected


class TestRecurrence:
    def test_points_and_words(self):
        score, reasons = assess(RiskInputs(0, (), 0, False, 0, recurrences=2))
        assert score == 40
        assert reasons == [{"code": "recurring", "count": 3, "days": 30, "points": 40}]
        assert describe(reasons[0]) == "Recurring fault: 3rd time in 30 days"
        with translation.override("de"):
            assert describe(reasons[0]) == "Wiederkehrender Fehler: zum 3. Mal in 30 Tagen"
        assert assess(RiskInputs(0, (), 0, False, 0, recurrences=1))[0] == 20

    @pytest.mark.django_db
    def test_on_prepared_history(self, org):
        now = T0
        customer = CustomerFactory()
        other = CustomerFactory()

        def resolved(days: int, service, who) -> None:
            TicketFactory(
                team=org.l1,
                service=service,
                customer=who,
                status="resolved",
                resolved_at=now - dt.timedelta(days=days),
                created_at=now - dt.timedelta(days=days + 1),
            )

        resolved(40, org.checkout, customer)  # too long ago
        resolved(20, org.checkout, customer)  # counts
        resolved(5, org.checkout, customer)  # counts
        resolved(3, org.checkout, other)  # another customer
        resolved(2, org.login, customer)  # another service
        ticket = make_ticket(org, service=org.checkout, customer=customer, at=now)
        assert {"code": "recurring", "count": 3, "days": 30, "points": 40} in ticket.risk_reasons
        assert ticket.risk_score >= 40
        # Without a service there is no recurrence to speak of.
        plain = make_ticket(org, customer=customer, at=now)
        assert not [r for r in plain.risk_reasons if r["code"] == "recurring"]
