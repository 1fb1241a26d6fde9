"""Soft signals: the risk score, its reasons, the lexicon, and the score as a trigger."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from escalation.models import EscalationRule
from escalation.risk import RiskInputs, assess, describe, negative_terms, ordinal
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


# The wording of every reason and each signal's own points and cap, without a database: the
# mutation run (`make mutation`) runs only these database-free tests against `risk.py`.
@pytest.mark.parametrize(
    ("reason", "en", "de"),
    [
        ({"code": "follow_ups", "count": 1}, "1 customer message without an answer",
         "1 Kundennachricht ohne Antwort"),
        ({"code": "follow_ups", "count": 4}, "4 customer messages without an answer",
         "4 Kundennachrichten ohne Antwort"),
        ({"code": "tone", "terms": ["awful", "refund"]}, "Negative tone: awful, refund",
         "Negativer Ton: awful, refund"),
        ({"code": "reopened", "count": 1}, "Reopened once", "Einmal wieder geöffnet"),
        ({"code": "reopened", "count": 3}, "Reopened 3 times", "3-mal wieder geöffnet"),
        ({"code": "vip"}, "VIP customer", "VIP-Kunde"),
        ({"code": "hand_offs", "count": 1}, "Handed from team to team 1 time",
         "1-mal zwischen Teams weitergereicht"),
        ({"code": "hand_offs", "count": 5}, "Handed from team to team 5 times",
         "5-mal zwischen Teams weitergereicht"),
        ({"code": "low_rating", "count": 1}, "An earlier solution was rated low by the customer",
         "Eine frühere Lösung wurde vom Kunden schlecht bewertet"),
        ({"code": "low_rating", "count": 2}, "2 earlier solutions were rated low by the customer",
         "2 frühere Lösungen wurden vom Kunden schlecht bewertet"),
        ({"code": "recurring", "count": 3, "days": 30}, "Recurring fault: 3rd time in 30 days",
         "Wiederkehrender Fehler: zum 3. Mal in 30 Tagen"),
        ({"code": "recurring", "count": 2, "days": 1}, "Recurring fault: 2nd time in 1 day",
         "Wiederkehrender Fehler: zum 2. Mal in 1 Tag"),
        ({"code": "recurring", "count": 2}, "Recurring fault: 2nd time in 30 days",
         "Wiederkehrender Fehler: zum 2. Mal in 30 Tagen"),
        ({"code": "recurring", "count": 2, "days": 0}, "Recurring fault: 2nd time in 30 days",
         "Wiederkehrender Fehler: zum 2. Mal in 30 Tagen"),
        ({"code": "something_new"}, "something_new", "something_new"),
        ({}, "", ""),
    ],
)  # fmt: skip
def test_each_reason_reads_as_a_sentence_in_english_and_german(reason, en, de):
    with translation.override("en"):
        assert describe(reason) == en
    with translation.override("de"):
        assert describe(reason) == de


@pytest.mark.parametrize(
    ("number", "en"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (20, "20th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"),
     (111, "111th"), (112, "112th"), (120, "120th"), (121, "121st")],
)  # fmt: skip
def test_ordinals_in_english_and_german(number, en):
    with translation.override("en"):
        assert ordinal(number) == en
    with translation.override("de"):
        assert ordinal(number) == f"{number}."


@pytest.mark.parametrize(
    ("inputs", "reasons"),
    [
        (RiskInputs(1, (), 0, False, 2), []),  # the first follow-up and two hand-offs are free
        (RiskInputs(2, (), 0, False, 0), [{"code": "follow_ups", "count": 2, "points": 15}]),
        (RiskInputs(4, (), 0, False, 0), [{"code": "follow_ups", "count": 4, "points": 45}]),
        (RiskInputs(9, (), 0, False, 0), [{"code": "follow_ups", "count": 9, "points": 45}]),
        (RiskInputs(0, ("awful", "terrible", "awful"), 0, False, 0),
         [{"code": "tone", "terms": ["awful", "terrible"], "points": 20}]),
        (RiskInputs(0, (), 2, False, 0), [{"code": "reopened", "count": 2, "points": 30}]),
        (RiskInputs(0, (), 5, False, 0), [{"code": "reopened", "count": 5, "points": 30}]),
        (RiskInputs(0, (), 1, False, 0), [{"code": "reopened", "count": 1, "points": 15}]),
        (RiskInputs(0, (), 0, False, 3), [{"code": "hand_offs", "count": 3, "points": 10}]),
        (RiskInputs(0, (), 0, False, 9), [{"code": "hand_offs", "count": 9, "points": 30}]),
        (RiskInputs(0, (), 0, False, 0, low_ratings=1),
         [{"code": "low_rating", "count": 1, "points": 20}]),
        (RiskInputs(0, (), 0, False, 0, low_ratings=3),
         [{"code": "low_rating", "count": 3, "points": 40}]),
        (RiskInputs(0, (), 0, False, 0, recurrences=1),
         [{"code": "recurring", "count": 2, "days": 30, "points": 20}]),
        (RiskInputs(0, (), 0, False, 0, recurrences=4),
         [{"code": "recurring", "count": 5, "days": 30, "points": 40}]),
    ],
)  # fmt: skip
def test_each_signal_has_its_points_and_cap(inputs, reasons):
    score, found = assess(inputs)
    assert found == reasons
    assert score == sum(r["points"] for r in reasons)


def test_the_tone_names_at_most_five_terms():
    text = "awful terrible unacceptable frustrated ridiculous disappointed"
    _score, reasons = assess(RiskInputs(0, (text,), 0, False, 0))
    assert len(negative_terms([text])) == 6
    assert reasons == [{"code": "tone", "terms": negative_terms([text])[:5], "points": 30}]


def test_a_reason_without_a_count_reads_as_none():
    with translation.override("en"):
        assert describe({"code": "reopened"}) == "Reopened 0 times"
        assert describe({"code": "follow_ups", "count": 0}) == (
            "0 customer messages without an answer"
        )
        assert describe({"code": "hand_offs", "count": None}) == "Handed from team to team 0 times"
        assert describe({"code": "tone"}) == "Negative tone: "
