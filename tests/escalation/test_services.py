"""Escalation services and the sweep against the default rules of the source documents."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import translation

from escalation import bulk, evaluation, facts, wording
from escalation import services as esc
from escalation import sweep as sweeping
from escalation.engine import Reason, Trigger
from escalation.models import Escalation, EscalationRule, RuleFiring
from notifications.models import Notification
from tests.factories import CustomerFactory, SupportLevelFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import Team, Ticket, TicketEvent

BERLIN = ZoneInfo("Europe/Berlin")
MON_9 = dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN)
H = dt.timedelta(hours=1)


class Chain:
    """Four tier teams L1 → L2 → L3 → L4, each with a lead and an agent, plus Security."""

    def __init__(self) -> None:
        self.teams: list[Team] = []
        self.agents = []
        self.leads = []
        above = None
        for rank in (4, 3, 2, 1):
            lead, agent = UserFactory(username=f"lead{rank}"), UserFactory(username=f"agent{rank}")
            team = TeamFactory(
                name=f"L{rank}",
                level=SupportLevelFactory(rank=rank),
                lead=lead,
                members=[agent],
                escalates_to=above,
            )
            self.teams.insert(0, team)
            self.agents.insert(0, agent)
            self.leads.insert(0, lead)
            above = team
        self.security = TeamFactory(
            name="Security",
            kind=Team.Kind.FUNCTIONAL,
            level=SupportLevelFactory(rank=2),
            members=[UserFactory(username="sec")],
        )

    def ticket(self, *, impact=3, urgency=3, now=MON_9, level=1) -> Ticket:
        return services.ticket_create(
            actor=self.agents[level - 1],
            data=services.NewTicket(
                subject="Checkout fails",
                description="500 on pay",
                team=self.teams[level - 1],
                impact=impact,
                urgency=urgency,
                customer=CustomerFactory(),
            ),
            now=now,
        )


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def package(**kw) -> esc.Package:
    return esc.Package(**({"summary": "Checkout down", "actions_taken": "Restarted"} | kw))


@pytest.mark.django_db
class TestRules:
    def test_sev1_climbs_to_incident_management_at_once_and_management_is_told(self, chain):
        ticket = chain.ticket(impact=1, urgency=1)
        ticket.refresh_from_db()
        assert ticket.level.rank == 3
        assert ticket.team == chain.teams[2]
        assert ticket.is_major_incident
        assert ticket.escalation_cycle == 2
        escalations = list(ticket.escalations.order_by("raised_at", "pk"))
        assert [(e.from_level.rank, e.to_level.rank, e.status) for e in escalations] == [
            (1, 2, Escalation.Status.ESCALATED_FURTHER),
            (2, 3, Escalation.Status.RAISED),
        ]
        assert Notification.objects.filter(user=chain.leads[3]).exists()  # management
        assert Notification.objects.filter(
            user=chain.agents[2], kind=Notification.Kind.ESCALATION_RAISED
        ).exists()
        assert ticket.events.filter(kind=TicketEvent.Kind.ESCALATED).count() == 2

    def test_first_response_breach_escalates_once(self, chain):
        ticket = chain.ticket()  # Sev 3: first response due 13:00
        report = sweeping.sweep(now=MON_9 + 4 * H + dt.timedelta(minutes=1))
        ticket.refresh_from_db()
        assert ticket.level.rank == 2
        assert report.fired >= 1
        esc.escalation_acknowledge(
            escalation=ticket.escalations.get(), actor=chain.agents[1], now=MON_9 + 4 * H
        )
        # Later sweeps: the breach belongs to the previous cycle; nothing more happens.
        sweeping.sweep(now=MON_9 + 5 * H)
        sweeping.sweep(now=MON_9 + 6 * H)
        ticket.refresh_from_db()
        assert ticket.level.rank == 2
        assert ticket.escalations.filter(kind="hierarchical").count() == 1

    def test_sla_warning_tells_assignee_and_lead_once(self, chain):
        ticket = chain.ticket()
        services.ticket_assign(
            ticket=ticket, actor=chain.agents[0], assignee=chain.agents[0], now=MON_9
        )
        sweeping.sweep(now=MON_9 + 3 * H)
        sweeping.sweep(now=MON_9 + 3 * H + dt.timedelta(minutes=1))
        warnings = Notification.objects.filter(kind=Notification.Kind.SLA_WARNING, ticket=ticket)
        assert sorted(n.user.username for n in warnings) == ["agent1", "lead1"]

    def test_no_progress_for_48_business_hours(self, chain):
        ticket = chain.ticket(impact=4, urgency=4)  # Sev 4: first response in 24 h
        services.ticket_reply(ticket=ticket, actor=chain.agents[0], body="On it", now=MON_9)
        ticket.refresh_from_db()
        friday_17 = dt.datetime(2026, 3, 6, 17, tzinfo=BERLIN)
        sweeping.sweep(now=friday_17 - dt.timedelta(minutes=1))
        ticket.refresh_from_db()
        assert ticket.level.rank == 1
        sweeping.sweep(now=friday_17)
        ticket.refresh_from_db()
        assert ticket.level.rank == 2
        assert "without progress" in ticket.escalations.get().reason

    def test_unacknowledged_escalation_goes_further_up(self, chain):
        ticket = chain.ticket()
        first = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            now=MON_9,
        )
        assert first.ack_due_at == MON_9 + dt.timedelta(minutes=30)  # level 2 tier target
        sweeping.sweep(now=MON_9 + dt.timedelta(minutes=31))
        ticket.refresh_from_db()
        first.refresh_from_db()
        assert first.status == Escalation.Status.ESCALATED_FURTHER
        assert ticket.level.rank == 3
        assert Notification.objects.filter(
            kind=Notification.Kind.ESCALATION_UNACKNOWLEDGED
        ).exists()

    def test_acknowledging_stops_the_chain(self, chain):
        ticket = chain.ticket()
        first = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            now=MON_9,
        )
        esc.escalation_acknowledge(
            escalation=first,
            actor=chain.agents[1],
            assignee=chain.agents[1],  # "Acknowledge and take it"
            now=MON_9 + dt.timedelta(minutes=10),
        )
        sweeping.sweep(now=MON_9 + 2 * H)
        ticket.refresh_from_db()
        first.refresh_from_db()
        assert first.status == Escalation.Status.ACKNOWLEDGED
        assert ticket.level.rank == 2
        assert ticket.assignee == chain.agents[1]  # who acknowledged and took it owns it now

    def test_rule_change_takes_effect_on_the_next_evaluation(self, chain):
        ticket = chain.ticket()
        EscalationRule.objects.filter(trigger="sla_breach").update(is_active=False)
        sweeping.sweep(now=MON_9 + 5 * H)
        ticket.refresh_from_db()
        assert ticket.level.rank == 1
        EscalationRule.objects.filter(name="First response breached: next level").update(
            is_active=True
        )
        sweeping.rules_changed(now=MON_9 + 5 * H)  # what the admin does after a save
        sweeping.sweep(now=MON_9 + 5 * H)
        ticket.refresh_from_db()
        assert ticket.level.rank == 2

    def test_resolving_closes_the_escalations(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
        )
        services.ticket_transition(ticket=ticket, actor=chain.agents[1], name="resolve")
        escalation.refresh_from_db()
        ticket.refresh_from_db()
        assert escalation.status == Escalation.Status.CLOSED
        assert ticket.next_check_at is None


@pytest.mark.django_db
class TestManual:
    def test_hierarchical_escalation_with_package(self, chain):
        ticket = chain.ticket()
        services.ticket_assign(
            ticket=ticket, actor=chain.agents[0], assignee=chain.agents[0], now=MON_9
        )
        escalation = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(risks="Revenue loss"),
            reason="Beyond our competence",
            now=MON_9,
        )
        ticket.refresh_from_db()
        assert (ticket.team, ticket.level.rank, ticket.assignee) == (chain.teams[1], 2, None)
        assert escalation.raised_by == chain.agents[0]
        assert escalation.risks == "Revenue loss"
        assert escalation.rule is None
        event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
        assert event.payload["to_team"] == "L2"
        assert event.payload["trigger"] == "manual"

    def test_the_escalating_agent_keeps_sight_of_the_ticket(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
        )
        assert Ticket.objects.visible_to(chain.agents[0]).filter(pk=ticket.pk).exists()

    def test_an_inactive_next_team_is_refused(self, chain):
        ticket = chain.ticket()
        Team.objects.filter(pk=chain.teams[1].pk).update(is_active=False)
        with pytest.raises(esc.EscalationError):
            esc.escalation_raise(
                ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
            )
        assert not Escalation.objects.exists()

    def test_package_is_required(self, chain):
        ticket = chain.ticket()
        with pytest.raises(esc.EscalationError) as info:
            esc.escalation_raise(
                ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=esc.Package()
            )
        assert set(info.value.message_dict) == {"summary", "actions_taken"}
        assert not Escalation.objects.exists()

    def test_lateral_escalation_to_a_functional_team_keeps_the_level(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="functional",
            to_team=chain.security,
            package=package(),
            now=MON_9,
        )
        ticket.refresh_from_db()
        assert ticket.team == chain.security
        # Security joins on the ticket's level (its own level 2 is where tickets created in
        # it start); the acknowledgement target is the ticket's level's (L1: 60 min).
        assert ticket.level.rank == 1
        assert (escalation.from_level.rank, escalation.to_level.rank) == (1, 1)
        assert escalation.ack_due_at == MON_9 + H
        assert not ticket.events.filter(kind=TicketEvent.Kind.LEVEL_CHANGED).exists()
        event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
        assert (event.payload["from_level"], event.payload["to_level"]) == (1, 1)

    def test_up_the_chain_from_a_functional_team_goes_one_level_above_the_ticket(self, chain):
        # Security (no escalates_to) holds a level-1 ticket it joined laterally: "up the
        # chain" is level 2's team, as the rules go, not "top of the chain".
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="functional",
            to_team=chain.security,
            package=package(),
            now=MON_9,
        )
        up = esc.escalation_raise(
            ticket=ticket,
            actor=chain.security.members.get(),
            kind="hierarchical",
            package=package(),
            now=MON_9 + H,
        )
        ticket.refresh_from_db()
        assert (up.from_team, up.to_team) == (chain.security, chain.teams[1])
        assert (up.from_level.rank, up.to_level.rank, ticket.level.rank) == (1, 2, 2)

    def test_lateral_escalation_needs_a_functional_team(self, chain):
        ticket = chain.ticket()
        with pytest.raises(esc.EscalationError):
            esc.escalation_raise(
                ticket=ticket,
                actor=chain.agents[0],
                kind="functional",
                to_team=chain.teams[1],
                package=package(),
            )

    def test_top_of_the_chain_cannot_escalate_further(self, chain):
        ticket = chain.ticket(level=4)
        with pytest.raises(esc.EscalationError):
            esc.escalation_raise(
                ticket=ticket, actor=chain.agents[3], kind="hierarchical", package=package()
            )

    def test_outsider_cannot_escalate(self, chain):
        ticket = chain.ticket()
        peer = UserFactory()  # in another team on the same level: neither owner nor above
        TeamFactory(name="Peers", level=chain.teams[0].level, members=[peer])
        with pytest.raises(PermissionDenied):
            esc.escalation_raise(ticket=ticket, actor=peer, kind="hierarchical", package=package())
        # A level above may move the ticket (tickets.services.can_move).
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[2], kind="hierarchical", package=package()
        )

    def test_only_the_receiving_team_acknowledges_and_only_once(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
        )
        with pytest.raises(PermissionDenied):
            esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[0])
        esc.escalation_acknowledge(escalation=escalation, actor=chain.leads[1])
        with pytest.raises(services.StaleRequest, match="already acknowledged"):
            esc.escalation_acknowledge(escalation=escalation, actor=chain.leads[1])
        assert ticket.events.filter(kind=TicketEvent.Kind.ACKNOWLEDGED).count() == 1

    def test_lead_de_escalates_with_a_reason(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package()
        )
        ticket.refresh_from_db()
        assert esc.deescalation_targets(ticket)[0] == chain.teams[0]
        with pytest.raises(PermissionDenied):
            esc.escalation_deescalate(
                ticket=ticket, actor=chain.agents[1], to_team=chain.teams[0], reason="Known issue"
            )
        with pytest.raises(esc.EscalationError):
            esc.escalation_deescalate(
                ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason=" "
            )
        back = esc.escalation_deescalate(
            ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason="Known issue"
        )
        ticket.refresh_from_db()
        assert back.kind == Escalation.Kind.DE_ESCALATION
        assert ticket.team == chain.teams[0]
        assert ticket.events.filter(kind=TicketEvent.Kind.DE_ESCALATED).exists()


@pytest.mark.django_db
class TestExactlyOnce:
    def test_the_database_refuses_a_second_firing_in_a_cycle(self, chain):
        ticket = chain.ticket()
        rule = EscalationRule.objects.first()
        RuleFiring.objects.create(ticket=ticket, rule=rule, cycle=0, trigger="severity")
        with pytest.raises(IntegrityError), transaction.atomic():
            RuleFiring.objects.create(ticket=ticket, rule=rule, cycle=0, trigger="severity")

    def test_sweep_only_reads_due_tickets(self, chain, django_assert_max_num_queries):
        for _ in range(5):
            chain.ticket()
        with django_assert_max_num_queries(1):
            report = sweeping.sweep(now=MON_9 + dt.timedelta(minutes=1))
        assert report.examined == 0

    def test_dry_run_changes_nothing_and_previews_another_instant(self, chain, capsys):
        ticket = chain.ticket()
        call_command("sweep_escalations", "--dry-run", "--at", "2026-03-02T13:30:00+01:00")
        out = capsys.readouterr().out
        assert f"{ticket.reference}: would fire First response breached" in out
        ticket.refresh_from_db()
        assert ticket.level.rank == 1
        assert not RuleFiring.objects.exists()
        assert not Escalation.objects.exists()

    def test_command_runs_a_sweep(self, chain, capsys):
        ticket = chain.ticket(now=dt.datetime(2020, 1, 6, 9, tzinfo=BERLIN))
        call_command("sweep_escalations")
        out = capsys.readouterr().out
        assert f"{ticket.reference}: fired" in out
        ticket.refresh_from_db()
        assert ticket.level.rank == 2

    @pytest.mark.parametrize("lane", ["bulk", "single"])
    def test_one_bad_ticket_does_not_stall_the_rest(self, chain, monkeypatch, lane):
        good, bad = chain.ticket(), chain.ticket()
        original, original_plan = evaluation.evaluate_ticket, bulk.Batch.plan

        def flaky(ticket, **kw):
            if ticket.pk == bad.pk:
                raise RuntimeError("boom")
            return original(ticket, **kw)

        def flaky_plan(self, ticket):
            if ticket.pk == bad.pk:
                raise RuntimeError("boom")
            return original_plan(self, ticket)

        monkeypatch.setattr(sweeping, "evaluate_ticket", flaky)
        monkeypatch.setattr(bulk.Batch, "plan", flaky_plan)
        report = sweeping.sweep(now=MON_9 + 5 * H, bulk=lane == "bulk")
        assert report.failed == [bad.pk]
        assert (report.bulk, report.single) == ((1, 1) if lane == "bulk" else (0, 2))
        good.refresh_from_db()
        bad.refresh_from_db()
        assert good.level.rank == 2
        # Left where it was, and retried a minute later (the back-off of sweep failures).
        assert bad.level.rank == 1 and bad.next_check_at == MON_9 + 5 * H + dt.timedelta(minutes=1)

    def test_a_batch_that_fails_to_write_is_evaluated_ticket_by_ticket(self, chain, monkeypatch):
        tickets = [chain.ticket() for _ in range(3)]

        def broken(plans, now):
            RuleFiring.objects.bulk_create([p.firings[0] for p in plans])
            raise RuntimeError("the database said no")

        monkeypatch.setattr(bulk, "write", broken)
        now = MON_9 + 5 * H
        report = sweeping.sweep(now=now)
        assert (report.examined, report.bulk, report.single, report.failed) == (3, 0, 3, [])
        for ticket in tickets:
            ticket.refresh_from_db()
            assert ticket.level.rank == 2
        # The half-written batch was rolled back: what fired, fired once, in the single lane.
        assert RuleFiring.objects.filter(fired_at=now).count() == report.fired >= 3

    def test_only_tickets_of_unsupported_shape_leave_the_bulk_lane(self, chain):
        EscalationRule.objects.update(is_active=False)
        EscalationRule.objects.create(
            name="Declare it",
            order=1,
            trigger="no_progress",
            threshold=H,
            mark_major_incident=True,
            channels=["phone"],
        )
        EscalationRule.objects.create(
            name="Up", order=2, trigger="no_progress", threshold=H, escalate="hierarchical"
        )
        plain = chain.ticket()
        special = chain.ticket()
        Ticket.objects.filter(pk=special.pk).update(channel="phone")
        report = sweeping.sweep(now=MON_9 + 5 * H)
        assert (report.bulk, report.single) == (1, 1)
        plain.refresh_from_db()
        special.refresh_from_db()
        assert plain.level.rank == special.level.rank == 2
        assert special.is_major_incident and not plain.is_major_incident


@pytest.mark.django_db
class TestReviewFindings:
    """Cases a review found: each was wrong once."""

    def test_a_first_response_in_time_does_not_keep_the_ticket_due(self, chain):
        ticket = chain.ticket()
        services.ticket_reply(
            ticket=ticket, actor=chain.agents[0], body="On it", now=MON_9 + dt.timedelta(minutes=10)
        )
        sweeping.sweep(now=MON_9 + 5 * H)
        ticket.refresh_from_db()
        assert ticket.next_check_at > MON_9 + 5 * H
        assert sweeping.sweep(now=MON_9 + 5 * H).examined == 0

    def test_moving_the_ticket_back_ends_the_waiting_escalation(self, chain):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            now=MON_9,
        )
        services.ticket_assign(
            ticket=ticket,
            actor=chain.leads[1],
            assignee=None,
            team=chain.teams[0],
            now=MON_9 + dt.timedelta(minutes=5),
        )
        escalation.refresh_from_db()
        assert escalation.status == Escalation.Status.CLOSED
        sweeping.sweep(now=MON_9 + 2 * H)  # past L2's acknowledgement deadline
        ticket.refresh_from_db()
        assert ticket.team == chain.teams[0]
        assert not Notification.objects.filter(
            kind=Notification.Kind.ESCALATION_UNACKNOWLEDGED
        ).exists()

    def test_a_de_escalated_sev1_stays_down(self, chain):
        ticket = chain.ticket(impact=1, urgency=1)
        ticket.refresh_from_db()
        assert ticket.level.rank == 3
        esc.escalation_deescalate(
            ticket=ticket,
            actor=chain.leads[2],
            to_team=chain.teams[1],
            reason="Workaround in place",
            now=MON_9,
        )
        ticket.refresh_from_db()
        assert ticket.level.rank == 2

    def test_a_closed_ticket_cannot_be_de_escalated(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=MON_9
        )
        services.ticket_transition(ticket=ticket, actor=chain.agents[1], name="resolve", now=MON_9)
        with pytest.raises(esc.EscalationError):
            esc.escalation_deescalate(
                ticket=ticket,
                actor=chain.leads[1],
                to_team=chain.teams[0],
                reason="Back",
                now=MON_9,
            )

    def test_waiting_on_the_customer_is_no_lack_of_progress(self, chain):
        ticket = chain.ticket(impact=4, urgency=4)
        agent = chain.agents[0]
        services.ticket_reply(ticket=ticket, actor=agent, body="Logs please", now=MON_9)
        services.ticket_transition(ticket=ticket, actor=agent, name="open", now=MON_9)
        services.ticket_transition(ticket=ticket, actor=agent, name="pend", now=MON_9)
        next_week = MON_9 + dt.timedelta(days=7)
        sweeping.sweep(now=next_week)
        ticket.refresh_from_db()
        assert ticket.level.rank == 1
        services.ticket_add_customer_message(ticket=ticket, body="Here they are", now=next_week)
        ticket.refresh_from_db()
        assert ticket.level.rank == 1  # the 48 business hours start again now

    def test_rules_do_not_hand_off_to_an_inactive_team(self, chain):
        ticket = chain.ticket()
        Team.objects.filter(pk=chain.teams[1].pk).update(is_active=False)
        sweeping.sweep(now=MON_9 + 5 * H)  # first response breached
        ticket.refresh_from_db()
        assert ticket.team == chain.teams[0]


class TestReasonsInWords:
    """The engine gives reasons as values; `escalation.wording` words them in the active
    language."""

    @pytest.mark.parametrize(
        ("reason", "english", "german"),
        [
            (Reason(Trigger.SEVERITY, 1), "priority 1", "Priorität 1"),
            (Reason(Trigger.SOFT_SIGNAL, 60), "risk score 60", "Risikowert 60"),
            (
                Reason(Trigger.NO_PROGRESS, dt.timedelta(hours=48)),
                "no progress for 48 h of business time",
                "seit 48 h Geschäftszeit kein Fortschritt",
            ),
            (
                Reason(Trigger.UNACKNOWLEDGED),
                "escalation not acknowledged in time",
                "Eskalation nicht rechtzeitig bestätigt",
            ),
            (
                Reason(Trigger.SLA_WARNING, "first_response"),
                "SLA warning: First response",
                "SLA-Warnung: Erstreaktion",
            ),
            (
                Reason(Trigger.SLA_BREACH, "resolution"),
                "SLA breach: Resolution",
                "SLA verletzt: Lösung",
            ),
        ],
    )
    def test_each_trigger_is_worded(self, reason, english, german):
        with translation.override("en"):
            assert wording.describe(reason) == english
        with translation.override("de"):
            assert wording.describe(reason) == german

    @pytest.mark.django_db
    def test_stored_reasons_use_the_site_language_not_the_requesters(self, chain, settings):
        settings.LANGUAGE_CODE = "de"
        ticket = chain.ticket()
        with translation.override("en"):
            sweeping.sweep(now=MON_9 + 5 * H)
        firing = RuleFiring.objects.filter(ticket=ticket).order_by("pk").first()
        assert firing is not None
        assert firing.reason.startswith(("SLA", "seit", "Eskalation", "Priorität", "Risikowert"))
        assert "business time" not in firing.reason and "breach:" not in firing.reason


@pytest.mark.django_db
class TestSweepFanOut:
    """With more than one batch due, the beat's sweep asks other workers to share it."""

    def test_one_helper_per_further_batch_up_to_the_limit(self, chain, settings, monkeypatch):
        from escalation import tasks

        settings.ESCALATION_SWEEP_BATCH = 2
        settings.ESCALATION_SWEEP_PARALLEL = 3
        tickets = [chain.ticket() for _ in range(5)]  # three batches due
        asked = []
        monkeypatch.setattr(
            tasks.sweep_escalations, "apply_async", lambda **kw: asked.append(kw["kwargs"])
        )
        monkeypatch.setattr(tasks.timezone, "now", lambda: MON_9 + 5 * H)
        summary = tasks.sweep_escalations()
        assert summary["helpers"] == 2 and summary["examined"] == 5
        assert asked == [{"at": (MON_9 + 5 * H).isoformat(), "helper": True}] * 2
        for ticket in tickets:
            ticket.refresh_from_db()
            assert ticket.level.rank == 2
        # A helper sweeps the same instant and asks nobody else; here nothing is left.
        assert tasks.sweep_escalations(**asked[0])["examined"] == 0
        assert len(asked) == 2

    def test_one_batch_due_or_parallel_one_asks_nobody(self, chain, settings):
        settings.ESCALATION_SWEEP_BATCH = 2
        chain.ticket()
        chain.ticket()
        now = MON_9 + 5 * H
        assert sweeping.helpers_wanted(now=now, parallel=4, batch=2) == 0
        chain.ticket()
        assert sweeping.helpers_wanted(now=now, parallel=4, batch=2) == 1
        assert sweeping.helpers_wanted(now=now, parallel=1, batch=2) == 0

    def test_a_broker_that_refuses_leaves_the_sweep_alone(self, chain, settings, monkeypatch):
        from escalation import tasks

        settings.ESCALATION_SWEEP_BATCH = 1
        chain.ticket()
        chain.ticket()

        def refuse(**kw):
            raise ConnectionError("broker down")

        monkeypatch.setattr(tasks.sweep_escalations, "apply_async", refuse)
        monkeypatch.setattr(tasks.timezone, "now", lambda: MON_9 + 5 * H)
        summary = tasks.sweep_escalations()
        assert summary["helpers"] == 0 and summary["examined"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize("lane", ["bulk", "single", "dry-run"])
def test_a_sweep_looks_at_each_due_ticket_once_across_batches(chain, lane):
    """Tickets due at one instant (as after a rule change) are paged by (instant, id)."""
    tickets = [chain.ticket() for _ in range(5)]
    now = MON_9 + 5 * H
    sweeping.rules_changed(now=now)
    Ticket.objects.filter(pk=tickets[2].pk).update(next_check_at=now - H)  # due earlier
    report = sweeping.sweep(now=now, batch=2, bulk=lane == "bulk", dry_run=lane == "dry-run")
    assert report.examined == 5
    assert report.bulk + report.single == 5
    looked_at = [o.reference for o in report.outcomes]
    assert len(looked_at) == len(set(looked_at))
    if lane != "dry-run":
        assert Ticket.objects.filter(next_check_at__lte=now).count() == 0


@pytest.mark.django_db
def test_a_team_that_escalates_to_itself_is_left_to_the_services(chain):
    """Only possible around the admin; the services raise the escalation and skip the hand-off."""
    ticket = chain.ticket()
    Team.objects.filter(pk=chain.teams[0].pk).update(escalates_to=chain.teams[0])
    report = sweeping.sweep(now=MON_9 + 5 * H)
    assert report.single >= 1 and report.failed == []
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[0] and ticket.escalation_cycle == 0


@pytest.mark.django_db
@pytest.mark.parametrize("lane", [True, False], ids=["bulk", "single"])
def test_a_sweep_exactly_at_the_deadline_escalates_one_level(chain, lane):
    ticket = chain.ticket()  # Sev 3: first response due at 13:00
    ticket.refresh_from_db()
    deadline = ticket.first_response_due_at
    report = sweeping.sweep(now=deadline, bulk=lane)
    ticket.refresh_from_db()
    assert report.failed == []
    assert ticket.level.rank == 2
    assert [(e.from_level.rank, e.to_level.rank) for e in ticket.escalations.all()] == [(1, 2)]
    # The next sweeps leave it there: the breach was answered by the hand-off.
    sweeping.sweep(now=deadline + dt.timedelta(minutes=1), bulk=lane)
    ticket.refresh_from_db()
    assert ticket.level.rank == 2


@pytest.mark.django_db
@pytest.mark.parametrize("lane", [True, False], ids=["bulk", "single"])
def test_a_rule_brings_in_security_laterally_and_a_breach_then_climbs_from_the_ticket_level(
    chain, lane
):
    EscalationRule.objects.create(
        name="First response warning: bring in Security",
        order=1,
        trigger="sla_warning",
        sla_target="first_response",
        escalate="functional",
        functional_team=chain.security,
    )
    ticket = chain.ticket()  # Sev 3: first response warning 12:00, breach 13:00
    ticket.refresh_from_db()
    sweeping.sweep(now=ticket.first_response_warning_at, bulk=lane)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.level.rank) == (chain.security, 1)
    lateral = ticket.escalations.get()
    assert (lateral.kind, lateral.to_level.rank) == (Escalation.Kind.FUNCTIONAL, 1)
    assert not ticket.events.filter(kind=TicketEvent.Kind.LEVEL_CHANGED).exists()
    # Security names no team above it: the breach escalates one step up from level 1.
    sweeping.sweep(now=ticket.first_response_due_at, bulk=lane)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.level.rank) == (chain.teams[1], 2)
    up = ticket.escalations.get(kind=Escalation.Kind.HIERARCHICAL)
    assert (up.from_team, up.from_level.rank, up.to_level.rank) == (chain.security, 1, 2)


@pytest.mark.django_db
def test_next_team_up_from_a_functional_team(chain):
    ticket = chain.ticket(level=2)
    ticket.team = chain.security
    assert facts.next_team_up(ticket) == chain.teams[2]  # one step above level 2
    # Its own escalates_to counts when it leads above the ticket's level ...
    chain.security.escalates_to = chain.teams[3]
    assert facts.next_team_up(ticket) == chain.teams[3]
    # ... and not when it would not be a step up.
    chain.security.escalates_to = chain.teams[0]
    assert facts.next_team_up(ticket) == chain.teams[2]
    ticket.level = chain.teams[3].level
    assert facts.next_team_up(ticket) is None  # nothing above level 4
