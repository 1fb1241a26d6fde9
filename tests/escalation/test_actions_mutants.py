"""The escalation actions of people (`escalation.services`) and the hand-off they share with the
rules (`escalation.handoff`), condition by condition: written against the mutants `make
mutation-services` left alive (docs/mutation.md). Each test names the near miss beside the
case that passes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from escalation import handoff
from escalation import services as esc
from escalation.models import Escalation
from notifications.models import Notification
from tests.escalation.test_services import MON_9, Chain
from tests.factories import AdminFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import Message, Team, TicketEvent

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def package(**kw) -> esc.Package:
    return esc.Package(**({"summary": "Checkout down", "actions_taken": "Restarted"} | kw))


def escalate(ticket, actor, *, kind="hierarchical", now=MON_9, **kw) -> Escalation:
    """Raise an escalation with a complete package, then read the ticket again."""
    escalation = esc.escalation_raise(
        ticket=ticket, actor=actor, kind=kind, package=package(), now=now, **kw
    )
    ticket.refresh_from_db()
    return escalation


def refused(chain, ticket, **kw) -> dict[str, list[str]]:
    """The message of each field an escalation request is refused on (English)."""
    with translation.override("en"), pytest.raises(esc.EscalationError) as info:
        esc.escalation_raise(
            ticket=ticket, actor=kw.pop("actor", chain.agents[0]), package=package(), **kw
        )
    assert not Escalation.objects.exists()
    return info.value.message_dict


class TestWhereAnEscalationGoes:
    def test_an_inactive_next_team_is_named(self, chain):
        Team.objects.filter(pk=chain.teams[1].pk).update(is_active=False)
        assert refused(chain, chain.ticket(), kind="hierarchical") == {
            "kind": ["L2, the next team up the chain, is not active."]
        }

    def test_the_top_of_the_chain_is_named(self, chain):
        ticket = chain.ticket(level=4)
        assert refused(chain, ticket, actor=chain.agents[3], kind="hierarchical") == {
            "kind": ["L4 is at the top of the escalation chain."]
        }

    @pytest.mark.parametrize("to", ["none", "tier", "inactive"])
    def test_across_needs_an_active_functional_team(self, chain, to):
        if to == "inactive":
            Team.objects.filter(pk=chain.security.pk).update(is_active=False)
            chain.security.refresh_from_db()
        team = {"none": None, "tier": chain.teams[1], "inactive": chain.security}[to]
        assert refused(chain, chain.ticket(), kind="functional", to_team=team) == {
            "to_team": ["Choose an active functional team."]
        }

    def test_across_to_the_team_that_has_it(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="functional",
            to_team=chain.security,
            package=package(),
            now=MON_9,
        )
        Escalation.objects.all().delete()
        ticket.refresh_from_db()
        member = chain.security.members.get()
        assert refused(chain, ticket, actor=member, kind="functional", to_team=chain.security) == {
            "to_team": ["The ticket is already with this team."]
        }

    def test_an_unknown_kind(self, chain):
        assert refused(chain, chain.ticket(), kind="sideways") == {
            "kind": ["Unknown kind of escalation."]
        }

    def test_only_active_tickets(self, chain):
        ticket = chain.ticket()
        services.ticket_transition(
            ticket=ticket, actor=chain.agents[0], name="resolve", now=MON_9 + H
        )
        ticket.refresh_from_db()
        assert refused(chain, ticket, kind="hierarchical") == {
            "kind": ["Only active tickets can be escalated."]
        }

    @pytest.mark.parametrize(
        ("summary", "tried", "fields"),
        [(" ", "Restarted", {"summary"}), ("Down", "\n", {"actions_taken"})],
    )
    def test_each_half_of_the_package_is_asked_for_alone(self, chain, summary, tried, fields):
        with translation.override("en"), pytest.raises(esc.EscalationError) as info:
            esc.escalation_raise(
                ticket=chain.ticket(),
                actor=chain.agents[0],
                kind="hierarchical",
                package=esc.Package(summary=summary, actions_taken=tried),
            )
        said = {"summary": ["Say what happened."], "actions_taken": ["Say what was tried already."]}
        assert info.value.message_dict == {f: said[f] for f in fields}

    def test_a_manual_escalation_without_a_reason_says_so(self, chain):
        ticket = chain.ticket()
        with translation.override("en"):
            escalation = esc.escalation_raise(
                ticket=ticket,
                actor=chain.agents[0],
                kind="hierarchical",
                package=package(),
                reason="  ",
                now=MON_9,
            )
        assert escalation.reason == "manual escalation"
        with translation.override("en"):
            second = esc.escalation_raise(
                ticket=ticket,
                actor=chain.agents[1],
                kind="hierarchical",
                package=package(),
                reason=" Beyond L2 ",
                now=MON_9 + H,
            )
        assert second.reason == "Beyond L2"
        with translation.override("en"):
            third = esc.escalation_raise(  # no reason given at all
                ticket=chain.ticket(),
                actor=chain.agents[0],
                kind="hierarchical",
                package=package(),
                now=MON_9,
            )
        assert third.reason == "manual escalation"


class TestWhoAcknowledges:
    def test_members_lead_and_admins_but_not_others(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
        )
        assert esc.can_acknowledge(escalation, chain.agents[1])  # a member of L2
        assert esc.can_acknowledge(escalation, chain.leads[1])  # its lead
        assert esc.can_acknowledge(escalation, AdminFactory())
        assert not esc.can_acknowledge(escalation, chain.agents[0])  # the team it came from
        assert not esc.can_acknowledge(escalation, chain.leads[2])  # a lead of another team
        chain.agents[1].is_active = False
        assert not esc.can_acknowledge(escalation, chain.agents[1])
        admin = AdminFactory(is_active=False)
        assert not esc.can_acknowledge(escalation, admin)

    def test_a_lead_may_hand_it_to_each_active_member_by_name(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
        )
        team = chain.teams[1]
        zed, amy = UserFactory(username="zed"), UserFactory(username="amy")
        gone = UserFactory(username="bob", is_active=False)
        team.members.add(zed, amy, gone, chain.leads[1])
        lead = chain.leads[1]
        assert esc.acknowledge_assignees(escalation, lead) == [lead, chain.agents[1], amy, zed]
        admin = AdminFactory(username="admin0")
        assert esc.acknowledge_assignees(escalation, admin) == [
            admin,
            chain.agents[1],
            amy,
            lead,
            zed,
        ]
        # A member may take it only themselves.
        assert esc.acknowledge_assignees(escalation, amy) == [amy]

    def test_refusals_say_why_and_change_nothing(self, chain):
        ticket = chain.ticket()
        escalation = escalate(ticket, chain.agents[0])
        lead = chain.leads[1]
        with translation.override("en"):
            with pytest.raises(PermissionDenied) as info:
                esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[0], now=MON_9)
            assert str(info.value) == "Only the receiving team can acknowledge this escalation."
            with pytest.raises(esc.EscalationError) as info:
                esc.escalation_acknowledge(
                    escalation=escalation, actor=lead, assignee=chain.agents[0], now=MON_9
                )
            assert info.value.message_dict == {
                "assignee": ["Choose yourself or, as the lead, a member of the team."]
            }
            # A form made before the escalation: what happened since, and by whom.
            with pytest.raises(services.StaleRequest) as info:
                esc.escalation_acknowledge(
                    escalation=escalation,
                    actor=lead,
                    expected_version=ticket.version - 1,
                    now=MON_9,
                )
            assert str(info.value).startswith("Already escalated to L2 at ")
            assert f" by {chain.agents[0].get_full_name()}." in str(info.value)
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.RAISED
        assert not ticket.events.filter(kind=TicketEvent.Kind.ACKNOWLEDGED).exists()
        # At the version the lead saw, it is acknowledged; a second click says by whom.
        esc.escalation_acknowledge(
            escalation=escalation, actor=lead, expected_version=ticket.version, now=MON_9 + H
        )
        with translation.override("en"), pytest.raises(services.StaleRequest) as info:
            esc.escalation_acknowledge(escalation=escalation, actor=lead, now=MON_9 + 2 * H)
        assert str(info.value).startswith("The escalation was already acknowledged at ")
        assert str(info.value).endswith(
            " by you. Your request was not carried out: check the current state."
        )

    def test_the_raiser_is_told_who_acknowledged_not_the_receiving_lead(self, chain):
        ticket = chain.ticket()
        raiser, member = chain.agents[0], chain.agents[1]
        escalation = escalate(ticket, raiser, now=MON_9)
        services.ticket_assign(
            ticket=ticket, actor=chain.leads[1], assignee=chain.leads[1], now=MON_9
        )
        at = MON_9 + H
        esc.escalation_acknowledge(escalation=escalation, actor=member, now=at)
        ticket.refresh_from_db()
        assert ticket.assignee == chain.leads[1]  # acknowledged without taking it
        notices = Notification.objects.filter(kind=Notification.Kind.ESCALATION_ACKNOWLEDGED)
        assert [(n.user, n.ticket, n.created_at) for n in notices] == [(raiser, ticket, at)]
        assert notices.get().payload == {
            "reference": ticket.reference,
            "by": member.get_full_name(),
        }
        escalation.refresh_from_db()
        assert (escalation.acknowledged_at, escalation.acknowledged_by) == (at, member)
        event = ticket.events.get(kind=TicketEvent.Kind.ACKNOWLEDGED)
        assert (event.actor, event.created_at) == (member, at)
        assert event.payload == {"escalation": escalation.pk, "team": "L2"}

    def test_the_raiser_is_told_even_after_they_stopped_following(self, chain):
        ticket = chain.ticket()
        raiser = chain.agents[0]
        escalation = escalate(ticket, raiser, now=MON_9)  # which makes them a follower
        services.ticket_follow(ticket=ticket, actor=raiser, follow=False, now=MON_9)
        esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1], now=MON_9 + H)
        notices = Notification.objects.filter(kind=Notification.Kind.ESCALATION_ACKNOWLEDGED)
        assert [n.user for n in notices] == [raiser]

    def test_who_acknowledges_their_own_escalation_is_not_told(self, chain):
        admin = AdminFactory(username="root")
        escalation = escalate(chain.ticket(), admin)
        esc.escalation_acknowledge(escalation=escalation, actor=admin, now=MON_9)
        assert not Notification.objects.filter(kind=Notification.Kind.ESCALATION_ACKNOWLEDGED)


class TestHandingBack:
    def test_only_the_current_lead_or_an_admin(self, chain):
        ticket = chain.ticket()
        assert esc.can_deescalate(ticket, chain.leads[0])
        assert esc.can_deescalate(ticket, AdminFactory())
        assert not esc.can_deescalate(ticket, chain.leads[1])
        assert not esc.can_deescalate(ticket, chain.agents[0])

    def test_the_team_it_came_from_first_then_by_level_down_then_by_name(self, chain):
        ticket = chain.ticket(level=2)
        # Up from L2 to L3: L2 is where it came from.
        escalate(ticket, chain.agents[1], now=MON_9)
        level2 = chain.teams[1].level
        also_two = TeamFactory(name="A second L2", level=level2)
        TeamFactory(name="Retired L2", level=level2, is_active=False)
        level3 = chain.teams[2].level
        beside = TeamFactory(name="Beside L3", level=level3)
        TeamFactory(name="Above", level=chain.teams[3].level)
        expected = [chain.teams[1], beside, also_two, chain.teams[0], chain.security]
        expected.sort(key=lambda t: (t != chain.teams[1], -t.level.rank, t.name))
        assert esc.deescalation_targets(ticket) == expected
        # The ticket page passes what it has read: the same answer without a query.
        escalations = list(Escalation.objects.filter(ticket=ticket).order_by("-raised_at", "-pk"))
        teams = list(Team.objects.select_related("level"))
        assert esc.deescalation_targets(ticket, escalations=escalations, active_teams=teams) == (
            expected
        )

    def test_a_hand_back_is_no_team_the_ticket_came_from(self, chain):
        level2 = chain.teams[1].level
        lead = UserFactory(username="zlead")
        zulu = TeamFactory(name="Zulu", level=level2, lead=lead, members=[lead])
        alpha = TeamFactory(name="Alpha", level=level2)
        ticket = services.ticket_create(
            actor=lead,
            data=services.NewTicket(subject="Down", description="", team=zulu, impact=3, urgency=3),
            now=MON_9,
        )
        # Handed across to Alpha on the same level: Zulu is where it was, not where it
        # "came from" (only escalations count), so the order is by level, then by name.
        esc.escalation_deescalate(
            ticket=ticket, actor=lead, to_team=alpha, reason="Theirs", now=MON_9 + H
        )
        ticket.refresh_from_db()
        expected = [chain.teams[1], chain.security, zulu, chain.teams[0]]
        assert esc.deescalation_targets(ticket) == expected
        rows = list(Escalation.objects.filter(ticket=ticket).order_by("-raised_at", "-pk"))
        teams = list(Team.objects.select_related("level"))
        assert esc.deescalation_targets(ticket, escalations=rows, active_teams=teams) == expected

    def test_where_it_came_from_is_this_tickets_escalation_into_its_current_team(
        self, chain, django_assert_num_queries
    ):
        ticket = chain.ticket()
        escalate(ticket, chain.agents[0], now=MON_9)
        alpha = TeamFactory(name="Alpha", level=chain.teams[1].level)
        # Another ticket came to Alpha from L2 later: not this ticket's history.
        other = chain.ticket(level=2)
        services.ticket_hand_off(
            ticket=other,
            team=alpha,
            actor=chain.leads[1],
            keep_assignee=False,
            reason="x",
            now=MON_9 + H,
        )
        Escalation.objects.create(
            ticket=other,
            kind="hierarchical",
            cycle=0,
            reason="x",
            from_team=chain.teams[0],
            to_team=alpha,
            from_level=chain.teams[0].level,
            to_level=alpha.level,
            raised_at=MON_9 + 2 * H,
        )
        # This ticket is handed to Alpha without an escalation: it came from nowhere there.
        services.ticket_hand_off(
            ticket=ticket,
            team=alpha,
            actor=chain.leads[1],
            keep_assignee=False,
            reason="x",
            now=MON_9 + 3 * H,
        )
        ticket.refresh_from_db()
        expected = [chain.teams[1], chain.security, chain.teams[0]]
        assert (ticket.team, ticket.level.rank) == (alpha, 2)  # read before the count
        with django_assert_num_queries(2):  # where it came from, and the teams with levels
            assert esc.deescalation_targets(ticket) == expected

    def test_a_hand_back_refused_says_why(self, chain):
        ticket = chain.ticket()
        with translation.override("en"):
            with pytest.raises(PermissionDenied) as info:
                esc.escalation_deescalate(
                    ticket=ticket,
                    actor=chain.leads[1],
                    to_team=chain.security,
                    reason="Not ours",
                    now=MON_9,
                )
            assert str(info.value) == "Only the lead of the current team can de-escalate."
            services.ticket_transition(
                ticket=ticket, actor=chain.agents[0], name="resolve", now=MON_9 + H
            )
            with pytest.raises(esc.EscalationError) as info:
                esc.escalation_deescalate(
                    ticket=ticket,
                    actor=chain.leads[0],
                    to_team=chain.security,
                    reason="Not ours",
                    now=MON_9 + H,
                )
            assert info.value.message_dict == {
                "to_team": ["Only active tickets can be de-escalated."]
            }
        assert not Escalation.objects.exists()

    def test_a_hand_back_from_a_page_made_before_a_change_is_refused_with_it(self, chain):
        ticket = chain.ticket()
        lead = chain.leads[0]
        seen = ticket.version
        services.ticket_assign(
            ticket=ticket, actor=chain.agents[0], assignee=chain.agents[0], now=MON_9 + H
        )
        with translation.override("en"), pytest.raises(services.StaleRequest) as info:
            esc.escalation_deescalate(
                ticket=ticket,
                actor=lead,
                to_team=chain.security,
                reason="Not ours",
                expected_version=seen,
                now=MON_9 + H,
            )
        assert str(info.value).startswith("Already reassigned at ")
        assert f" by {chain.agents[0].get_full_name()}. " in str(info.value)
        assert not Escalation.objects.exists()

    def test_refusals_name_the_field(self, chain):
        ticket = chain.ticket()
        lead = chain.leads[0]
        with translation.override("en"):
            with pytest.raises(esc.EscalationError) as info:
                esc.escalation_deescalate(
                    ticket=ticket, actor=lead, to_team=chain.security, reason="\t"
                )
            assert info.value.message_dict == {"reason": ["Say why the ticket goes back."]}
            with pytest.raises(esc.EscalationError) as info:
                esc.escalation_deescalate(
                    ticket=ticket, actor=lead, to_team=chain.teams[1], reason="No"
                )
            assert info.value.message_dict == {
                "to_team": ["Choose an active team at the same or a lower level."]
            }

    def test_a_hand_back_closes_what_is_open_and_tells_the_receiving_team(self, chain):
        ticket = chain.ticket()
        other = escalate(chain.ticket(), chain.agents[0], now=MON_9)
        up = escalate(ticket, chain.agents[0], now=MON_9)
        back = esc.escalation_deescalate(
            ticket=ticket,
            actor=chain.leads[1],
            to_team=chain.teams[0],
            reason=" Known issue ",
            now=MON_9 + H,
        )
        up.refresh_from_db()
        assert (up.status, up.closed_at) == (Escalation.Status.CLOSED, MON_9 + H)
        other.refresh_from_db()
        assert other.status == Escalation.Status.RAISED  # another ticket's
        back.refresh_from_db()
        assert (back.reason, back.status, back.raised_by, back.acknowledged_by) == (
            "Known issue",
            Escalation.Status.ACKNOWLEDGED,
            chain.leads[1],
            chain.leads[1],
        )
        assert (back.raised_at, back.acknowledged_at) == (MON_9 + H, MON_9 + H)
        event = ticket.events.get(kind=TicketEvent.Kind.DE_ESCALATED)
        assert event.actor == chain.leads[1]
        assert event.payload == {
            "escalation": back.pk,
            "from_team": "L2",
            "to_team": "L1",
            "reason": "Known issue",
        }
        notices = Notification.objects.filter(kind=Notification.Kind.DE_ESCALATED)
        said = {"to_team": "L1", "reason": "Known issue", "reference": ticket.reference}
        assert [n.payload for n in notices] == [said] * 2
        assert {n.user for n in notices} == {chain.agents[0], chain.leads[0]}

    def test_the_lead_hands_it_back_in_their_name_and_the_receivers_pick_it_up(self, chain):
        ticket = chain.ticket()
        escalate(ticket, chain.agents[0], now=MON_9)
        lead = chain.leads[1]
        services.ticket_assign(
            ticket=ticket, actor=lead, assignee=chain.agents[1], now=MON_9 + 10 * M
        )
        chain.teams[0].members.add(lead)  # who hands it back also works in L1
        esc.escalation_deescalate(
            ticket=ticket,
            actor=lead,
            to_team=chain.teams[0],
            reason="Known issue",
            now=MON_9 + 20 * M,
        )
        ticket.refresh_from_db()
        assert (ticket.team, ticket.assignee) == (chain.teams[0], None)
        moved = ticket.events.get(kind=TicketEvent.Kind.TEAM_CHANGED, created_at=MON_9 + 20 * M)
        assert moved.actor == lead
        assert moved.payload == {"from": "L2", "to": "L1", "reason": "Known issue"}
        notices = Notification.objects.filter(kind=Notification.Kind.DE_ESCALATED)
        assert {n.user for n in notices} == {chain.agents[0], chain.leads[0]}  # not the lead


class TestTheHandOff:
    def test_the_row_event_and_notice_of_a_manual_escalation(self, chain):
        ticket = chain.ticket()
        earlier = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            reason="first",
            now=MON_9,
        )
        ticket.refresh_from_db()
        later = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[1],
            kind="hierarchical",
            package=package(affected="All", impact="Money", next_steps="Call", risks="Loss"),
            reason="second",
            now=MON_9 + H,
        )
        earlier.refresh_from_db()
        assert earlier.status == Escalation.Status.ESCALATED_FURTHER
        assert later.status == Escalation.Status.RAISED
        assert (later.cycle, later.raised_at, later.trigger, later.raised_by) == (
            1,
            MON_9 + H,
            "",
            chain.agents[1],
        )
        assert (later.reason_facts, later.package_facts) == ({}, {})
        assert (later.summary, later.actions_taken) == ("Checkout down", "Restarted")
        assert (later.affected, later.impact, later.next_steps, later.risks) == (
            "All",
            "Money",
            "Call",
            "Loss",
        )
        # L3's tier target: acknowledge within its own time, on the ticket's calendar.
        assert later.ack_due_at == handoff.ack_due(chain.teams[2].level, ticket, MON_9 + H)
        event = ticket.events.filter(kind=TicketEvent.Kind.ESCALATED).latest("pk")
        assert event.actor == chain.agents[1]
        assert event.payload == {
            "escalation": later.pk,
            "kind": "hierarchical",
            "from_team": "L2",
            "to_team": "L3",
            "from_level": 2,
            "to_level": 3,
            "trigger": "manual",
            "rule": None,
            "reason": "second",
        }
        notices = Notification.objects.filter(
            kind=Notification.Kind.ESCALATION_RAISED, payload__escalation=later.pk
        )
        # L3, and the agent who escalated first (who follows the ticket since); not the actor.
        assert {n.user for n in notices} == {chain.agents[2], chain.leads[2], chain.agents[0]}
        said = {"to_team": "L3", "reason": "second", "escalation": later.pk}
        assert [n.payload | {"reference": ""} for n in notices] == [said | {"reference": ""}] * 3

    def test_the_package_a_rule_assembles_from_the_history(self, chain):
        ticket = chain.ticket()
        ticket.description = "x" * 600
        for i in range(5):
            Message.objects.create(
                ticket=ticket,
                kind="note" if i % 2 else "reply",
                body=f"step {i}",
                created_at=MON_9 + i * H,
                author=chain.agents[0],
            )
        Message.objects.create(
            ticket=ticket, kind="customer", body="still broken", created_at=MON_9 + 9 * H
        )
        built = handoff.package_from_history(ticket, "Breach")
        assert built.summary == "Checkout fails\n" + "x" * 500
        assert (built.risks, built.next_steps, built.facts) == ("Breach", "", {})
        quoted = built.actions_taken
        assert "step 4" in quoted and "step 2" in quoted and "step 3" in quoted
        assert "step 1" not in quoted and "still broken" not in quoted
        ticket.description = ""
        assert handoff.package_from_history(ticket, "r", notes=[]).summary == "Checkout fails"

    def test_a_hand_off_closes_what_waited_on_another_team(self, chain):
        ticket = chain.ticket()
        up = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            now=MON_9,
        )
        esc.escalation_acknowledge(escalation=up, actor=chain.leads[1], now=MON_9 + H)
        ticket.refresh_from_db()
        services.ticket_hand_off(
            ticket=ticket,
            team=chain.teams[0],
            actor=chain.leads[1],
            keep_assignee=False,
            reason="back",
            now=MON_9 + 2 * H,
        )
        up.refresh_from_db()
        assert (up.status, up.closed_at) == (Escalation.Status.CLOSED, MON_9 + 2 * H)

    def test_resolving_closes_raised_and_acknowledged_escalations(self, chain):
        ticket = chain.ticket()
        other = escalate(chain.ticket(), chain.agents[0], now=MON_9)
        up = escalate(ticket, chain.agents[0], now=MON_9)
        across = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[1],
            kind="functional",
            to_team=chain.security,
            package=package(),
            now=MON_9 + H,
        )
        esc.escalation_acknowledge(
            escalation=across, actor=chain.security.members.get(), now=MON_9 + H
        )
        ticket.refresh_from_db()
        member = chain.security.members.get()
        services.ticket_transition(ticket=ticket, actor=member, name="resolve", now=MON_9 + 2 * H)
        up.refresh_from_db()
        across.refresh_from_db()
        assert up.status == Escalation.Status.ESCALATED_FURTHER  # superseded, not open
        assert (across.status, across.closed_at) == (Escalation.Status.CLOSED, MON_9 + 2 * H)
        other.refresh_from_db()
        assert (other.status, other.closed_at) == (Escalation.Status.RAISED, None)  # not this one's
