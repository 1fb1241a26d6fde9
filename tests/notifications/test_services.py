"""Who is told what, on which channel, once: recipients, preferences, the status-update cadence
of escalated tickets, the closing report, and holding for business hours."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from escalation import services as esc
from escalation import sweep as sweeping
from notifications import email, outbox
from notifications.models import ChannelPreference, Delivery, Notification, Preference
from notifications.services import notify, resolve_recipients
from sla.models import BusinessCalendar
from tests.escalation.test_services import BERLIN, MON_9, Chain, package
from tests.factories import UserFactory
from tickets import services

S = Delivery.Status
K = Notification.Kind
H = dt.timedelta(hours=1)
T1 = MON_9 + dt.timedelta(minutes=5)
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def told(kind: str) -> list[str]:
    """Usernames told about `kind` in the app, sorted."""
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def emailed(kind: str) -> list[str]:
    return sorted(
        Delivery.objects.filter(channel="email", kind=kind).values_list("user__username", flat=True)
    )


class TestRecipients:
    def test_followers_are_resolved_with_the_others_once(self, chain):
        ticket = chain.ticket()
        follower = chain.agents[0]
        services.ticket_follow(ticket=ticket, actor=follower, now=T1)
        users = resolve_recipients(ticket, watchers=True, team_lead=True, users=[follower])
        assert sorted(u.username for u in users) == ["agent1", "lead1"]
        assert resolve_recipients(ticket, watchers=True, exclude=follower) == []

    def test_a_follower_on_the_receiving_team_is_told_of_the_escalation_once(self, chain):
        ticket = chain.ticket()
        l2_agent = chain.agents[1]
        ticket.watchers.add(l2_agent, chain.agents[3])  # one receives it anyway, one only follows
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        assert told(K.ESCALATION_RAISED) == ["agent2", "agent4", "lead2"]
        assert emailed(K.ESCALATION_RAISED) == ["agent2", "agent4", "lead2"]


class TestPreferences:
    def test_each_users_channels_per_kind_are_respected(self, chain):
        quiet = Preference.objects.create(user=chain.agents[1])
        ChannelPreference.objects.create(
            preference=quiet, kind=K.ESCALATION_RAISED, in_app=True, email=False
        )
        mail_only = Preference.objects.create(user=chain.leads[1])
        ChannelPreference.objects.create(
            preference=mail_only, kind=K.ESCALATION_RAISED, in_app=False, email=True
        )
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        assert told(K.ESCALATION_RAISED) == ["agent2"]
        assert emailed(K.ESCALATION_RAISED) == ["lead2"]

    def test_the_defaults_keep_informational_kinds_in_the_app(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1], now=T1)
        assert told(K.ESCALATION_ACKNOWLEDGED) == ["agent1"]
        assert emailed(K.ESCALATION_ACKNOWLEDGED) == []


class TestOnce:
    def test_the_same_cause_is_emailed_once(self, chain):
        ticket = chain.ticket()
        for _ in range(3):
            notify(
                [chain.agents[0], chain.agents[0]],
                kind=K.RULE_FIRED,
                ticket=ticket,
                cause="escalation:99",
                payload={},
                now=T1,
            )
        ChannelPreference.objects.create(
            preference=Preference.objects.create(user=chain.agents[1]),
            kind=K.ESCALATION_RAISED,
        )
        notify(
            [chain.agents[0]],
            kind=K.ESCALATION_RAISED,
            ticket=ticket,
            cause="x",
            payload={},
            now=T1,
        )
        notify(
            [chain.agents[0]],
            kind=K.ESCALATION_RAISED,
            ticket=ticket,
            cause="x",
            payload={},
            now=T1,
        )
        assert Delivery.objects.filter(user=chain.agents[0], dedupe_key="x").count() == 1
        assert Notification.objects.filter(user=chain.agents[0], dedupe_key="x").count() == 1

    def test_a_second_transaction_racing_for_the_same_email_writes_none(self, chain):
        ticket = chain.ticket()
        Delivery.objects.create(
            channel="email", kind=K.SLA_BREACH, user=chain.agents[0], ticket=ticket, dedupe_key="k"
        )
        rows = outbox.write_emails(
            [chain.agents[0], chain.agents[1]],
            kind=K.SLA_BREACH,
            ticket=ticket,
            dedupe_key="k",
            payload={},
            now=T1,
            urgent=False,
            holds={},
        )
        assert [r.user for r in rows] == [chain.agents[1]]


class TestEscalationNotices:
    def test_an_escalation_nobody_acknowledges_is_emailed(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        sweeping.sweep(now=escalation.ack_due_at + dt.timedelta(minutes=1))
        # The raising team, and the lead of the team that did not take it, hear of it.
        assert emailed(K.ESCALATION_UNACKNOWLEDGED) == ["agent1", "lead1", "lead2"]
        delivery = Delivery.objects.get(kind=K.ESCALATION_UNACKNOWLEDGED, user=chain.leads[0])
        outbox.deliver(delivery.pk)
        (message,) = mail.outbox
        assert message.subject == f"[{ticket.reference}] Escalation to L2 not acknowledged"


class TestAssigned:
    def test_the_new_assignee_is_told_unless_they_took_it_themselves(self, chain):
        ticket = chain.ticket()
        services.ticket_assign(
            ticket=ticket, actor=chain.leads[0], assignee=chain.agents[0], now=T1
        )
        assert told(K.TICKET_ASSIGNED) == ["agent1"]
        other = chain.ticket()
        services.ticket_assign(
            ticket=other, actor=chain.agents[0], assignee=chain.agents[0], now=T1
        )
        assert told(K.TICKET_ASSIGNED) == ["agent1"]  # still only the first

    def test_a_ticket_opened_for_someone_else_tells_them(self, chain):
        services.ticket_create(
            actor=chain.leads[0],
            data=services.NewTicket(
                subject="For you", description="", team=chain.teams[0], assignee=chain.agents[0]
            ),
            now=MON_9,
        )
        assert emailed(K.TICKET_ASSIGNED) == ["agent1"]


def escalated_with_owner(chain: Chain):
    """A ticket escalated L1 → L2 and acknowledged by agent2 (its owner now, under lead2),
    with a first update sent: its status-update cadence is running."""
    ticket = chain.ticket()
    services.ticket_reply(ticket=ticket, actor=chain.agents[0], body="Looking", now=T1)
    escalation = esc.escalation_raise(
        ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
    )
    esc.escalation_acknowledge(
        escalation=escalation, actor=chain.agents[1], assignee=chain.agents[1], now=T1
    )
    ticket.refresh_from_db()
    assert ticket.assignee == chain.agents[1]
    services.ticket_reply(ticket=ticket, actor=chain.agents[1], body="Update 1", now=T1 + H)
    ticket.refresh_from_db()
    return ticket


class TestCadence:
    """While escalated, the next-update target is the communication cadence."""

    def test_the_owner_is_reminded_before_and_the_lead_told_when_missed(self, chain):
        ticket = escalated_with_owner(chain)
        warning, due = ticket.next_update_warning_at, ticket.next_update_due_at
        assert warning < due

        sweeping.sweep(now=warning)
        # The owner gets the reminder (with the template), not also the rule's generic
        # "SLA warning" about the same deadline; the lead still gets that one.
        assert told(K.STATUS_UPDATE_DUE) == ["agent2"]
        assert emailed(K.STATUS_UPDATE_DUE) == ["agent2"]
        assert told(K.SLA_WARNING) == emailed(K.SLA_WARNING) == ["lead2"]
        reminder = Notification.objects.get(kind=K.STATUS_UPDATE_DUE)
        assert reminder.payload["due_at"] == due.isoformat()

        sweeping.sweep(now=due)
        assert told(K.STATUS_UPDATE_MISSED) == ["lead2"]
        assert emailed(K.STATUS_UPDATE_MISSED) == ["lead2"]

        outbox.deliver(Delivery.objects.get(kind=K.STATUS_UPDATE_DUE).pk)
        (message,) = mail.outbox
        assert "Status update due by" in message.subject
        assert "Measures so far:" in message.body  # the status-update template, filled in
        assert ticket.reference in message.body

    def test_a_ticket_that_is_not_escalated_has_no_cadence(self, chain):
        ticket = chain.ticket()
        services.ticket_reply(ticket=ticket, actor=chain.agents[0], body="Looking", now=T1)
        ticket.refresh_from_db()
        sweeping.sweep(now=ticket.next_update_due_at)
        assert told(K.STATUS_UPDATE_DUE) == told(K.STATUS_UPDATE_MISSED) == []


class TestResolved:
    def test_the_closing_report_reaches_everybody_involved(self, chain):
        ticket = chain.ticket()
        follower = UserFactory(username="follower")
        chain.teams[0].members.add(follower)
        services.ticket_follow(ticket=ticket, actor=follower, now=T1)
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1], now=T1)
        services.ticket_add_note(
            ticket=ticket,
            actor=chain.agents[1],
            body="Cause: expired certificate. Solution: renewed. Lessons learned: monitor expiry.",
            now=T1 + H,
        )
        services.ticket_transition(ticket=ticket, actor=chain.agents[1], name="resolve", now=T1 + H)
        # The raiser, the leads of both teams and the follower; not who resolved it.
        assert told(K.TICKET_RESOLVED) == ["agent1", "follower", "lead1", "lead2"]
        delivery = Delivery.objects.get(kind=K.TICKET_RESOLVED, user=chain.leads[0])
        outbox.deliver(delivery.pk)
        (message,) = mail.outbox
        assert message.subject == f"[{ticket.reference}] Resolved: Checkout fails"
        assert "Cause: expired certificate." in message.body
        assert "L1 → L2" in message.body


class TestBusinessHours:
    @pytest.fixture
    def office(self, db) -> BusinessCalendar:
        return BusinessCalendar.objects.get(name="Office hours DE")  # Mon–Fri 08–18, Berlin

    def test_non_urgent_email_waits_for_the_hours_and_arrives_as_one_digest(self, chain, office):
        user = chain.agents[0]
        Preference.objects.create(user=user, calendar=office)
        saturday = dt.datetime(2026, 3, 7, 10, tzinfo=BERLIN)
        monday_8 = dt.datetime(2026, 3, 9, 8, tzinfo=BERLIN)
        tickets = [chain.ticket(now=saturday), chain.ticket(now=saturday)]
        for i, ticket in enumerate(tickets):
            notify(
                [user], kind=K.SLA_BREACH, ticket=ticket, cause=f"c{i}", payload={}, now=saturday
            )
        held = Delivery.objects.filter(user=user)
        assert set(held.values_list("status", flat=True)) == {S.HELD}
        assert set(held.values_list("next_attempt_at", flat=True)) == {monday_8}
        assert Notification.objects.filter(user=user).count() == 2  # in the app at once

        assert outbox.relay(now=monday_8 - dt.timedelta(minutes=1)).digests == 0
        report = outbox.relay(now=monday_8)
        assert report.digests == 1
        digest = Delivery.objects.get(kind=email.DIGEST)
        assert digest.items.count() == 2
        assert report.queued == [digest.pk]
        outbox.deliver(digest.pk, now=monday_8)
        (message,) = mail.outbox
        assert message.subject == "Helpdesk: 2 notifications while you were away"
        for ticket in tickets:
            assert ticket.reference in message.body

    def test_a_single_held_email_goes_out_as_it_is(self, chain, office):
        user = chain.agents[0]
        Preference.objects.create(user=user, calendar=office)
        night = dt.datetime(2026, 3, 3, 22, tzinfo=BERLIN)
        notify(
            [user],
            kind=K.SLA_BREACH,
            ticket=chain.ticket(now=night),
            cause="c",
            payload={},
            now=night,
        )
        report = outbox.relay(now=dt.datetime(2026, 3, 4, 8, tzinfo=BERLIN))
        assert (report.released, report.digests) == (1, 0)
        assert Delivery.objects.get().status == S.PENDING

    def test_sev_1_goes_out_at_any_hour(self, chain, office):
        user = chain.agents[2]  # incident management: where a Sev 1 lands
        Preference.objects.create(user=user, calendar=office)
        saturday = dt.datetime(2026, 3, 7, 3, tzinfo=BERLIN)
        chain.ticket(impact=1, urgency=1, now=saturday)
        deliveries = Delivery.objects.filter(user=user)
        assert deliveries.exists()
        assert set(deliveries.values_list("status", flat=True)) == {S.PENDING}

    def test_within_the_hours_nothing_waits(self, chain, office):
        user = chain.agents[0]
        Preference.objects.create(user=user, calendar=office)
        notify([user], kind=K.SLA_BREACH, ticket=chain.ticket(), cause="c", payload={}, now=MON_9)
        assert Delivery.objects.get().status == S.PENDING


def test_backdated_events_written_muted_send_no_email(db):
    chain = Chain()
    with services.listeners_muted():
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
    assert told(K.ESCALATION_RAISED) == ["agent2", "lead2"]  # the bell still shows it
    assert not Delivery.objects.exists()
