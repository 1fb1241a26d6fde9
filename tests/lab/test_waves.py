"""The wave trigger replayed over the recorded tickets, live and in the draft (`lab.waves`),
with answers worked out by hand: five tickets on one service on a Monday morning, a live rule
of 3 tickets in 15 minutes that proposes, a draft rule of 2 in 10 minutes that declares."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from incidents.detection import WaveRuleSpec
from lab import backtest
from lab.replay import History, Step
from lab.waves import WaveTicket, replay_waves, wave_ticket
from tests.lab.test_replay_coverage import config

UTC = dt.UTC
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)
TEN = dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
UNTIL = TEN + dt.timedelta(hours=3)
SERVICE = 7
LIVE = WaveRuleSpec(id=1, min_tickets=3, window=15 * M)
DRAFT = WaveRuleSpec(id=1, min_tickets=2, window=10 * M, declare=True)


def tickets() -> list[WaveTicket]:
    # A 10:00:30, B 10:05:10, C 10:12:00 (resolved at 10:12:40), D 10:30, E 10:31.
    return [
        wave_ticket(1, TEN + 30 * S, SERVICE, "", ()),
        wave_ticket(2, TEN + 5 * M + 10 * S, SERVICE, "", ()),
        wave_ticket(3, TEN + 12 * M, SERVICE, "", [(TEN + 12 * M + 40 * S, "end")]),
        wave_ticket(4, TEN + 30 * M, SERVICE, "", ()),
        wave_ticket(5, TEN + 31 * M, SERVICE, "", ()),
    ]


def fired(waves):
    """(minute after ten, ticket ids, declared) of each wave."""
    return [((at - TEN) // M, wave.ticket_ids, wave.rule.declare) for at, wave in waves]


def test_the_live_rule_proposes_once_when_three_are_in_its_window():
    # 10:01 A; 10:06 A, B; 10:12 A, B, C (C is still open at the sweep): three, proposed.
    # From 10:13 C is resolved; D and E at 10:30 and 10:31 are two.
    assert fired(replay_waves(tickets(), [LIVE], UNTIL)) == [(12, (1, 2, 3), False)]


def test_the_draft_rule_declares_each_wave_once():
    # 10:06 A, B: two in ten minutes, declared. 10:12 B, C: the same wave still flowing (it
    # started at 10:05:10 and fired at 10:06, within a window of it): not again. A new wave
    # at 10:31, D and E (the last firing lies more than a window before it).
    assert fired(replay_waves(tickets(), [DRAFT], UNTIL)) == [
        (6, (1, 2), True),
        (31, (4, 5), True),
    ]


def test_a_service_held_by_a_recorded_incident_waits_for_its_resolution():
    # An incident on the service from 10:25 to 10:40: D and E wait for the sweep at 10:40,
    # when the two are still in the window (10:30 to 10:40).
    holding = [(SERVICE, TEN + 25 * M, TEN + 40 * M)]
    assert fired(replay_waves(tickets(), [DRAFT], UNTIL, holding)) == [
        (6, (1, 2), True),
        (40, (4, 5), True),
    ]


def test_a_linked_or_resolved_ticket_is_not_seen_until_it_comes_back():
    steps = [
        (TEN + M, "linked"),
        (TEN + 2 * M, "unlinked"),
        (TEN + 3 * M, "end"),
        (TEN + 4 * M, "reopen"),
        (TEN + 5 * M, "end"),
    ]
    ticket = wave_ticket(1, TEN, SERVICE, "", steps)
    assert [ticket.seen_at(TEN + n * M) for n in range(7)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        False,
    ]


def test_nothing_fires_without_rules_or_after_until():
    assert replay_waves(tickets(), [], UNTIL) == []
    assert replay_waves(tickets(), [DRAFT], TEN + 5 * M) == []


@pytest.mark.django_db
def test_the_backtest_counts_the_waves_of_each_side_per_day():
    # The same five tickets as histories: the live side proposes one wave of three, the
    # draft declares two of two.
    histories = [
        History(
            ticket_id=t.id,
            reference=f"HD-{t.id}",
            created_at=t.created_at,
            priority=2,
            team_id=1,
            service_id=SERVICE,
            steps=tuple(Step(start, "end") for start, _end in t.unseen),
        )
        for t in tickets()
    ]
    run = backtest.Backtest(
        live=replace(config(), waves=(LIVE,)), draft=replace(config(), waves=(DRAFT,)), until=UNTIL
    )
    run.add(histories)
    (day,) = run.result()["days"]
    assert day["live"]["waves"] == [["proposed", 1, 3]]
    assert day["draft"]["waves"] == [["declared", 2, 4]]
