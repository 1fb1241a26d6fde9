"""The pure escalation engine: every trigger, every condition, boundaries at the threshold,
business-time thresholds across nights and weekends, and `next_check_at`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from escalation.engine import (
    Decision,
    Escalate,
    Evaluation,
    Reason,
    RuleBook,
    RuleSpec,
    SLAInstants,
    TicketFacts,
    Trigger,
    conditions_hold,
    evaluate,
    rule_book,
    trigger_instant,
)
from sla.clock import ALWAYS_OPEN, CalendarSpec

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = CalendarSpec(
    tz="Europe/Berlin",
    weekly=((((dt.time(8), dt.time(18))),),) * 5 + ((), ()),
)
MON_9 = dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN)
H = dt.timedelta(hours=1)


def facts(**kw) -> TicketFacts:
    base = {
        "ticket_id": 1,
        "cycle": 0,
        "team_id": 10,
        "level_rank": 1,
        "priority": 3,
        "customer_tier": "standard",
        "channel": "email",
        "created_at": MON_9,
        "cycle_started_at": MON_9,
        "last_progress_at": None,
        "calendar": OFFICE,
    }
    return TicketFacts(**(base | kw))


def rule(trigger: Trigger, **kw) -> RuleSpec:
    return RuleSpec(**({"id": 1, "order": 10, "trigger": trigger} | kw))


def fired(f: TicketFacts, rules: list[RuleSpec], now: dt.datetime) -> list[int]:
    return [d.rule.id for d in evaluate(f, rules, now).decisions]


class TestTriggers:
    def test_severity_fires_at_or_above_the_priority(self):
        r = rule(Trigger.SEVERITY, priority_at_least=2)
        assert fired(facts(priority=1), [r], MON_9) == [1]
        assert fired(facts(priority=2), [r], MON_9) == [1]
        assert fired(facts(priority=3), [r], MON_9) == []
        assert evaluate(facts(priority=3), [r], MON_9).next_check_at is None

    def test_soft_signal_fires_at_the_risk_threshold(self):
        r = rule(Trigger.SOFT_SIGNAL, risk_at_least=60)
        assert fired(facts(risk_score=60), [r], MON_9) == [1]
        assert fired(facts(risk_score=59), [r], MON_9) == []

    def test_soft_signal_after_a_hand_off_needs_new_evidence(self):
        r = rule(Trigger.SOFT_SIGNAL, risk_at_least=60)
        handed = MON_9 + H
        old = facts(risk_score=80, risk_changed_at=MON_9, cycle=1, cycle_started_at=handed)
        same_instant = dataclasses.replace(old, risk_changed_at=handed)
        newer = dataclasses.replace(old, risk_changed_at=handed + H)
        assert fired(old, [r], handed + 2 * H) == []
        assert fired(same_instant, [r], handed + 2 * H) == []
        assert fired(newer, [r], handed + 2 * H) == [1]

    @pytest.mark.parametrize("trigger", [Trigger.SLA_WARNING, Trigger.SLA_BREACH])
    def test_sla_triggers_fire_exactly_at_the_instant(self, trigger):
        due = MON_9 + 4 * H
        warning = MON_9 + 3 * H
        instant = warning if trigger == Trigger.SLA_WARNING else due
        f = facts(sla={"first_response": SLAInstants(warning, due)})
        r = rule(trigger, sla_target="first_response")
        assert fired(f, [r], instant - dt.timedelta(microseconds=1)) == []
        assert evaluate(f, [r], instant - dt.timedelta(seconds=1)).next_check_at == instant
        assert fired(f, [r], instant) == [1]

    def test_sla_rule_for_one_target_ignores_the_others(self):
        # Due after the cycle started (an instant at its start never fires in it).
        f = facts(sla={"resolution": SLAInstants(MON_9 + H, MON_9 + H)})
        assert fired(f, [rule(Trigger.SLA_BREACH, sla_target="first_response")], MON_9 + H) == []
        assert fired(f, [rule(Trigger.SLA_BREACH)], MON_9 + H) == [1]  # any target

    def test_sla_instant_before_the_cycle_started_was_answered_by_the_hand_off(self):
        f = facts(
            sla={"resolution": SLAInstants(None, MON_9 + H)},
            cycle=1,
            cycle_started_at=MON_9 + 2 * H,
        )
        assert fired(f, [rule(Trigger.SLA_BREACH)], MON_9 + 3 * H) == []

    def test_stopped_sla_target_cannot_fire(self):
        f = facts(sla={"first_response": SLAInstants(None, None)})
        evaluation = evaluate(f, [rule(Trigger.SLA_BREACH)], MON_9 + 100 * H)
        assert evaluation.decisions == () and evaluation.next_check_at is None

    def test_unacknowledged_fires_when_the_tier_target_runs_out(self):
        until = MON_9 + dt.timedelta(minutes=30)
        r = rule(Trigger.UNACKNOWLEDGED, escalate=Escalate.HIERARCHICAL)
        assert fired(facts(awaiting_ack_until=until), [r], until) == [1]
        assert fired(facts(awaiting_ack_until=until), [r], until - dt.timedelta(seconds=1)) == []
        assert fired(facts(awaiting_ack_until=None), [r], until) == []


class TestNoProgress:
    r = rule(Trigger.NO_PROGRESS, threshold=48 * H, escalate=Escalate.HIERARCHICAL)

    def test_counts_business_time_across_nights_and_weekends(self):
        # 48 business hours of a 10-hour day from Monday 09:00: Mon 9 h, Tue–Fri 40 h = 49 h,
        # so the threshold is reached on Friday at 17:00.
        due = dt.datetime(2026, 3, 6, 17, tzinfo=BERLIN)
        assert evaluate(facts(), [self.r], MON_9).next_check_at == due
        assert fired(facts(), [self.r], due - dt.timedelta(seconds=1)) == []
        assert fired(facts(), [self.r], due) == [1]

    def test_24_7_calendar_counts_wall_time(self):
        f = facts(calendar=ALWAYS_OPEN)
        assert evaluate(f, [self.r], MON_9).next_check_at == MON_9 + 48 * H

    def test_progress_restarts_the_clock(self):
        progress = dt.datetime(2026, 3, 5, 10, tzinfo=BERLIN)  # Thursday
        f = facts(last_progress_at=progress)
        # Thu 8 h + Fri 10 h + Mon–Wed 30 h = 48 h: the next Wednesday at 18:00.
        assert evaluate(f, [self.r], progress).next_check_at == dt.datetime(
            2026, 3, 11, 18, tzinfo=BERLIN
        )

    def test_a_new_level_gets_the_whole_threshold(self):
        handed = dt.datetime(2026, 3, 9, 9, tzinfo=BERLIN)  # the next Monday
        f = facts(cycle=1, cycle_started_at=handed)
        assert evaluate(f, [self.r], handed).next_check_at == dt.datetime(
            2026, 3, 13, 17, tzinfo=BERLIN
        )


class TestConditions:
    @pytest.mark.parametrize(
        ("condition", "matching", "other"),
        [
            ({"team_ids": frozenset({10})}, {"team_id": 10}, {"team_id": 11}),
            ({"level_ranks": frozenset({1, 2})}, {"level_rank": 2}, {"level_rank": 3}),
            ({"priority_min": 2, "priority_max": 3}, {"priority": 2}, {"priority": 1}),
            ({"priority_min": 2, "priority_max": 3}, {"priority": 3}, {"priority": 4}),
            ({"customer_tiers": frozenset({"vip"})}, {"customer_tier": "vip"}, {}),
            ({"channels": frozenset({"phone"})}, {"channel": "phone"}, {"channel": "web"}),
        ],
    )
    def test_each_condition(self, condition, matching, other):
        r = rule(Trigger.SEVERITY, priority_at_least=4, **condition)
        assert conditions_hold(r, facts(**matching))
        assert not conditions_hold(r, facts(**other))
        assert fired(facts(**matching), [r], MON_9) == [1]
        assert fired(facts(**other), [r], MON_9) == []

    def test_empty_conditions_match_everything(self):
        assert conditions_hold(rule(Trigger.SEVERITY), facts())


class TestOncePerCycleAndOrder:
    def test_a_fired_rule_does_not_fire_again_in_the_cycle(self):
        r = rule(Trigger.SEVERITY, priority_at_least=1)
        f = facts(priority=1, fired_rule_ids=frozenset({1}))
        assert fired(f, [r], MON_9) == []

    def test_rules_fire_in_order_and_one_hand_off_of_each_kind(self):
        rules = [
            rule(
                Trigger.SEVERITY,
                id=3,
                order=30,
                priority_at_least=1,
                escalate=Escalate.HIERARCHICAL,
            ),
            rule(
                Trigger.SEVERITY,
                id=1,
                order=10,
                priority_at_least=1,
                escalate=Escalate.HIERARCHICAL,
            ),
            rule(
                Trigger.SEVERITY,
                id=2,
                order=20,
                priority_at_least=1,
                escalate=Escalate.FUNCTIONAL,
                functional_team_id=99,
            ),
            rule(Trigger.SEVERITY, id=4, order=40, priority_at_least=1, notify=True),
        ]
        assert fired(facts(priority=1), rules, MON_9) == [1, 2, 4]

    def test_a_rule_book_is_sorted_once_and_evaluated_as_it_is(self):
        rules = [
            rule(Trigger.SEVERITY, id=2, order=10, priority_at_least=1, notify=True),
            rule(Trigger.SEVERITY, id=1, order=10, priority_at_least=1, notify=True),
            rule(Trigger.SEVERITY, id=3, order=5, priority_at_least=1, notify=True),
        ]
        book = rule_book(rules)
        assert [r.id for r in book] == [3, 1, 2]  # by order, then id
        assert book == rule_book(reversed(rules))
        assert evaluate(facts(priority=1), book, MON_9) == evaluate(facts(priority=1), rules, MON_9)
        # A book is taken in its own order (its maker sorted it); a list is sorted.
        as_given = RuleBook(rules)
        assert fired(facts(priority=1), as_given, MON_9) == [2, 1, 3]
        assert fired(facts(priority=1), list(as_given), MON_9) == [3, 1, 2]

    def test_top_of_the_chain_keeps_notifying_but_does_not_hand_off(self):
        hand_off_only = rule(Trigger.SEVERITY, priority_at_least=1, escalate=Escalate.HIERARCHICAL)
        with_notify = dataclasses.replace(hand_off_only, id=2, notify=True)
        f = facts(priority=1, can_escalate_up=False)
        assert fired(f, [hand_off_only, with_notify], MON_9) == [2]

    def test_next_check_is_the_earliest_pending_trigger(self):
        f = facts(sla={"first_response": SLAInstants(MON_9 + 3 * H, MON_9 + 4 * H)})
        rules = [
            rule(Trigger.SLA_BREACH, id=1),
            rule(Trigger.SLA_WARNING, id=2),
            rule(Trigger.NO_PROGRESS, id=3, threshold=H),
        ]
        assert evaluate(f, rules, MON_9).next_check_at == MON_9 + H
        after = facts(sla=f.sla, fired_rule_ids=frozenset({3}))
        assert evaluate(after, rules, MON_9 + 2 * H).next_check_at == MON_9 + 3 * H


class TestOneBreachOneStep:
    """A trigger instant at or before the start of the current cycle never fires in it."""

    HANDED = MON_9 + 4 * H  # the hand-off that started cycle 1, exactly at the deadline

    def after_hand_off(self, **kw) -> TicketFacts:
        return facts(cycle=1, cycle_started_at=self.HANDED, **kw)

    @pytest.mark.parametrize("trigger", [Trigger.SLA_WARNING, Trigger.SLA_BREACH])
    def test_an_sla_instant_exactly_at_the_hand_off_does_not_fire_again(self, trigger):
        r = rule(trigger, sla_target="first_response")
        instants = SLAInstants(warning_at=self.HANDED, due_at=self.HANDED)
        f = self.after_hand_off(sla={"first_response": instants})
        assert fired(f, [r], self.HANDED) == []
        assert evaluate(f, [r], self.HANDED).next_check_at is None
        # In cycle 0 (no hand-off answered it) the same instant fires.
        assert fired(dataclasses.replace(f, cycle=0), [r], self.HANDED) == [1]

    def test_an_acknowledgement_due_at_the_hand_off_does_not_fire(self):
        r = rule(Trigger.UNACKNOWLEDGED)
        assert fired(self.after_hand_off(awaiting_ack_until=self.HANDED), [r], self.HANDED) == []
        later = self.after_hand_off(awaiting_ack_until=self.HANDED + H)
        assert fired(later, [r], self.HANDED + H) == [1]

    def test_a_zero_no_progress_threshold_does_not_fire_at_the_hand_off(self):
        r = rule(Trigger.NO_PROGRESS, threshold=dt.timedelta(0))
        assert fired(self.after_hand_off(calendar=ALWAYS_OPEN), [r], self.HANDED) == []

    def test_severity_is_a_state_and_holds_in_every_cycle(self):
        r = rule(Trigger.SEVERITY, priority_at_least=1)
        assert fired(self.after_hand_off(priority=1), [r], self.HANDED) == [1]


class TestTriggerReasons:
    """Each trigger's instant and its reason as values (what the timeline words for people)."""

    def test_severity_reason_is_the_priority(self):
        at, reason = trigger_instant(rule(Trigger.SEVERITY, priority_at_least=2), facts(priority=1))
        assert (at, reason) == (MON_9, Reason(Trigger.SEVERITY, 1))

    def test_soft_signal_reason_is_the_score(self):
        r = rule(Trigger.SOFT_SIGNAL, risk_at_least=60)
        at, reason = trigger_instant(r, facts(risk_score=70, risk_changed_at=MON_9 + H))
        assert (at, reason) == (MON_9 + H, Reason(Trigger.SOFT_SIGNAL, 70))

    def test_no_progress_reason_is_the_threshold(self):
        r = rule(Trigger.NO_PROGRESS, threshold=2 * H)
        assert trigger_instant(r, facts()) == (MON_9 + 2 * H, Reason(Trigger.NO_PROGRESS, 2 * H))

    def test_no_progress_counts_from_the_return_from_pending(self):
        r = rule(Trigger.NO_PROGRESS, threshold=2 * H)
        back = facts(last_progress_at=MON_9 + H, resumed_at=MON_9 + 3 * H)
        assert trigger_instant(r, back)[0] == MON_9 + 5 * H

    def test_unacknowledged_reason_has_no_detail(self):
        r = rule(Trigger.UNACKNOWLEDGED)
        at, reason = trigger_instant(r, facts(awaiting_ack_until=MON_9 + H))
        assert (at, reason) == (MON_9 + H, Reason(Trigger.UNACKNOWLEDGED))
        assert reason.detail is None

    @pytest.mark.parametrize("trigger", [Trigger.SLA_WARNING, Trigger.SLA_BREACH])
    def test_sla_reason_is_the_earliest_target(self, trigger):
        due = {
            "first_response": SLAInstants(),  # not running (met or paused): skipped
            "next_update": SLAInstants(warning_at=MON_9 + 3 * H, due_at=MON_9 + 4 * H),
            "resolution": SLAInstants(warning_at=MON_9 + 2 * H, due_at=MON_9 + 3 * H),
        }
        at, reason = trigger_instant(rule(trigger), facts(sla=due))
        expected = MON_9 + 2 * H if trigger == Trigger.SLA_WARNING else MON_9 + 3 * H
        assert (at, reason) == (expected, Reason(trigger, "resolution"))

    def test_sla_tie_keeps_the_first_target(self):
        same = SLAInstants(warning_at=MON_9 + H, due_at=MON_9 + 2 * H)
        due = {"first_response": same, "resolution": same}
        at, reason = trigger_instant(rule(Trigger.SLA_BREACH), facts(sla=due))
        assert (at, reason) == (MON_9 + 2 * H, Reason(Trigger.SLA_BREACH, "first_response"))


class TestEvaluateDetails:
    def test_a_ticket_owned_by_an_incident_gets_nothing_and_no_next_check(self):
        r = rule(Trigger.SEVERITY, priority_at_least=2)
        assert evaluate(facts(priority=1, owned_by_incident=True), [r], MON_9) == Evaluation(
            decisions=(), next_check_at=None
        )

    def test_the_decision_carries_rule_trigger_reason_and_instant(self):
        r = rule(Trigger.NO_PROGRESS, threshold=H)
        (decision,) = evaluate(facts(), [r], MON_9 + 2 * H).decisions
        assert decision == Decision(
            rule=r, trigger=Trigger.NO_PROGRESS, reason=Reason(Trigger.NO_PROGRESS, H), at=MON_9 + H
        )

    def test_an_already_fired_rule_does_not_stop_the_later_ones(self):
        first = rule(Trigger.SEVERITY, id=1, order=10, priority_at_least=2)
        second = rule(Trigger.SEVERITY, id=2, order=20, priority_at_least=2)
        f = facts(priority=1, fired_rule_ids=frozenset({1}))
        assert fired(f, [first, second], MON_9) == [2]

    def test_a_rule_that_cannot_fire_does_not_stop_the_later_ones(self):
        never = rule(Trigger.SEVERITY, id=1, order=10, priority_at_least=1)
        now_due = rule(Trigger.SEVERITY, id=2, order=20, priority_at_least=2)
        assert fired(facts(priority=2), [never, now_due], MON_9) == [2]

    def test_an_upcoming_rule_does_not_stop_the_later_ones(self):
        later = rule(Trigger.NO_PROGRESS, id=1, order=10, threshold=5 * H)
        now_due = rule(Trigger.SEVERITY, id=2, order=20, priority_at_least=2)
        result = evaluate(facts(priority=1), [later, now_due], MON_9)
        assert [d.rule.id for d in result.decisions] == [2]
        assert result.next_check_at == MON_9 + 5 * H

    def test_top_of_chain_still_raises_the_priority(self):
        r = rule(
            Trigger.SEVERITY,
            priority_at_least=2,
            escalate=Escalate.HIERARCHICAL,
            raise_priority_to=1,
        )
        assert fired(facts(priority=2, can_escalate_up=False), [r], MON_9) == [1]
        bare = dataclasses.replace(r, raise_priority_to=None)
        assert fired(facts(priority=2, can_escalate_up=False), [bare], MON_9) == []
