"""Soft signals: the risk score, its reasons, the lexicon, and the score as a trigger."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from escalation.models import EscalationRule
from escalation.risk import RiskInputs, assess, describe, negative_terms
from tests.escalation.test_services import MON_9, Chain
from tests.factories import CustomerFactory
from tickets import services

CALM = RiskInputs(follow_ups=0, customer_texts=(), reopen_count=0, vip=False, hand_offs=0)


def test_a_calm_ticket_has_no_risk():
    assert assess(CALM) == (0, [])


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("This is UNACCEPTABLE and I am frustrated", ["unacceptable", "frustrated"]),
        ("Ich warte seit   Tagen, das ist inakzeptabel!", ["seit tagen", "inakzeptabel"]),
        ("Schon wieder keine Antwort", ["schon wieder", "keine antwort"]),
        ("Thanks, all good now", []),
        ("The courtesy was great", []),  # "court" only as a whole word
    ],
)
def test_lexicon_finds_german_and_english_terms_on_word_boundaries(text, terms):
    assert negative_terms([text]) == terms


def test_each_signal_adds_points_and_says_why():
    score, reasons = assess(
        RiskInputs(
            follow_ups=3,
            customer_texts=("Still not fixed!",),
            reopen_count=1,
            vip=True,
            hand_offs=3,
        )
    )
    codes = [r["code"] for r in reasons]
    assert codes == ["follow_ups", "tone", "reopened", "vip", "hand_offs"]
    assert score == 30 + 10 + 15 + 20 + 10
    with translation.override("en"):
        assert describe(reasons[0]) == "3 customer messages without an answer"
        assert describe(reasons[1]) == "Negative tone: still not"


def test_score_is_capped_at_100():
    score, _ = assess(RiskInputs(9, ("unacceptable lawyer refund complaint",), 9, True, 9))
    assert score == 100


@pytest.mark.django_db
def test_follow_ups_and_tone_raise_the_ticket_score_and_a_reply_resets_follow_ups():
    chain = Chain()
    ticket = chain.ticket()
    for text in ["Any news?", "Hello??", "This is unacceptable, I will call my lawyer"]:
        services.ticket_add_customer_message(ticket=ticket, body=text, now=MON_9)
    ticket.refresh_from_db()
    assert ticket.risk_score == 30 + 20
    services.ticket_reply(ticket=ticket, actor=chain.agents[0], body="Sorry!", now=MON_9)
    ticket.refresh_from_db()
    assert [r["code"] for r in ticket.risk_reasons] == ["tone"]


@pytest.mark.django_db
def test_risk_score_can_trigger_a_rule():
    chain = Chain()
    EscalationRule.objects.update(is_active=False)
    EscalationRule.objects.create(
        name="Angry VIP",
        trigger="soft_signal",
        risk_at_least=40,
        escalate="hierarchical",
        notify_team_lead=True,
    )
    vip = CustomerFactory(is_vip=True)
    ticket = services.ticket_create(
        actor=chain.agents[0],
        data=services.NewTicket(subject="x", description="", team=chain.teams[0], customer=vip),
        now=MON_9,
    )
    ticket.refresh_from_db()
    assert ticket.level.rank == 1  # VIP alone: 20 points
    services.ticket_add_customer_message(
        ticket=ticket, body="Unacceptable. Still not working!", now=MON_9 + dt.timedelta(hours=1)
    )
    ticket.refresh_from_db()
    assert ticket.risk_score == 40
    assert ticket.level.rank == 2
