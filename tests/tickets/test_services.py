"""Ticket services: result, stored state, the event written, and what they refuse."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories import CustomerFactory, TeamFactory, TicketFactory, UserFactory
from tickets import services
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.priority import DEFAULT_MATRIX, Priority, derive_priority

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def new(team, **kw) -> services.NewTicket:
    return services.NewTicket(
        subject=kw.pop("subject", "Printer on fire"), description="d", team=team, **kw
    )


@pytest.mark.django_db
class TestCreate:
    def test_creates_ticket_with_reference_priority_level_and_event(self, agent, team_a):
        customer = CustomerFactory()
        ticket = services.ticket_create(
            actor=agent, data=new(team_a, customer=customer, impact=1, urgency=1), now=NOW
        )
        assert ticket.reference == "HD-2026-000001"
        stored = Ticket.objects.get(pk=ticket.pk)
        assert stored.status == Ticket.Status.NEW
        assert stored.priority == Priority.CRITICAL
        assert stored.level == team_a.level
        assert stored.created_at == NOW
        assert stored.created_by == agent
        event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
        assert event.actor == agent
        assert event.payload["priority"] == 1

    def test_references_are_sequential_per_year(self, agent, team_a):
        first = services.ticket_create(actor=agent, data=new(team_a), now=NOW)
        second = services.ticket_create(actor=agent, data=new(team_a), now=NOW)
        next_year = services.ticket_create(
            actor=agent, data=new(team_a), now=NOW.replace(year=2027)
        )
        assert (first.reference, second.reference, next_year.reference) == (
            "HD-2026-000001",
            "HD-2026-000002",
            "HD-2027-000001",
        )

    def test_blank_subject_is_refused_and_nothing_is_written(self, agent, team_a):
        with pytest.raises(services.TicketError) as info:
            services.ticket_create(actor=agent, data=new(team_a, subject="  "))
        assert "subject" in info.value.message_dict
        assert not Ticket.objects.exists()

    def test_assignee_must_be_in_the_team(self, agent, team_a, other_agent):
        with pytest.raises(services.TicketError) as info:
            services.ticket_create(actor=agent, data=new(team_a, assignee=other_agent))
        assert "assignee" in info.value.message_dict
        assert not Ticket.objects.exists()

    def test_attachments_are_stored_under_generated_names(self, agent, team_a):
        upload = SimpleUploadedFile("../../etc/passwd.txt", b"hello", content_type="text/plain")
        ticket = services.ticket_create(actor=agent, data=new(team_a), attachments=[upload])
        attachment = Attachment.objects.get(ticket=ticket)
        # The client's path is dropped: only the base name is kept, to show and download as.
        assert attachment.original_name == "passwd.txt"
        assert "passwd" not in attachment.file.name
        assert attachment.file.name.startswith("attachments/")
        assert attachment.size == 5

    def test_oversized_attachment_is_refused_and_no_file_is_left(self, agent, team_a, settings):
        settings.ATTACHMENT_MAX_BYTES = 3
        big = SimpleUploadedFile("big.bin", b"12345")
        with pytest.raises(services.TicketError) as info:
            services.ticket_create(actor=agent, data=new(team_a), attachments=[big])
        assert "attachments" in info.value.message_dict
        assert not Ticket.objects.exists()
        assert not Attachment.objects.exists()

    def test_failed_creation_removes_the_files_it_stored(self, agent, team_a, settings):
        ok = SimpleUploadedFile("ok.txt", b"fine")

        def explode(*args):
            raise RuntimeError("boom")

        services.register_change_hook(explode)
        try:
            with pytest.raises(RuntimeError):
                services.ticket_create(actor=agent, data=new(team_a), attachments=[ok])
        finally:
            services._change_hooks.remove(explode)
        media = settings.MEDIA_ROOT
        stored = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
        assert stored == []
        assert not Ticket.objects.exists()


@pytest.mark.django_db
class TestMessages:
    def test_first_public_reply_meets_first_response_and_is_progress(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        message = services.ticket_reply(ticket=ticket, actor=agent, body="We are on it.", now=NOW)
        ticket.refresh_from_db()
        assert message.kind == Message.Kind.REPLY
        assert ticket.first_responded_at == NOW
        assert ticket.last_progress_at == NOW
        event = TicketEvent.objects.get(ticket=ticket)
        assert (event.kind, event.message, event.payload) == (
            TicketEvent.Kind.REPLIED,
            message,
            {"first_response": True},
        )
        later = NOW + dt.timedelta(hours=1)
        services.ticket_reply(ticket=ticket, actor=agent, body="Update.", now=later)
        ticket.refresh_from_db()
        assert ticket.first_responded_at == NOW
        assert ticket.last_progress_at == later

    def test_internal_note_is_progress_but_not_a_response(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        services.ticket_add_note(ticket=ticket, actor=agent, body="Checked logs.", now=NOW)
        ticket.refresh_from_db()
        assert ticket.first_responded_at is None
        assert ticket.last_progress_at == NOW
        assert ticket.events.get().kind == TicketEvent.Kind.NOTE_ADDED

    def test_customer_message_is_not_progress_and_wakes_a_pending_ticket(self, team_a):
        ticket = TicketFactory(team=team_a, pending=True)
        services.ticket_add_customer_message(ticket=ticket, body="Any news?", now=NOW)
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.OPEN
        assert ticket.last_progress_at is None
        kinds = list(ticket.events.values_list("kind", flat=True))
        assert kinds == [TicketEvent.Kind.CUSTOMER_MESSAGE, TicketEvent.Kind.TRANSITIONED]

    def test_customer_message_reopens_a_resolved_ticket(self, team_a):
        ticket = TicketFactory(team=team_a, resolved=True)
        services.ticket_add_customer_message(ticket=ticket, body="Still broken.", now=NOW)
        ticket.refresh_from_db()
        assert (ticket.status, ticket.reopen_count) == (Ticket.Status.OPEN, 1)

    def test_closed_ticket_takes_no_customer_message(self, team_a):
        ticket = TicketFactory(team=team_a, closed=True)
        with pytest.raises(services.TicketError):
            services.ticket_add_customer_message(ticket=ticket, body="Hello?")
        assert not Message.objects.exists()

    def test_empty_reply_is_refused(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        with pytest.raises(services.TicketError) as info:
            services.ticket_reply(ticket=ticket, actor=agent, body="   ")
        assert "body" in info.value.message_dict
        assert not TicketEvent.objects.exists()

    def test_agent_outside_the_team_cannot_reply(self, team_a, other_agent, team_b):
        ticket = TicketFactory(team=team_a)
        with pytest.raises(PermissionDenied):
            services.ticket_reply(ticket=ticket, actor=other_agent, body="Hi")
        assert not Message.objects.exists()

    def test_user_in_no_team_is_not_an_agent(self, team_a):
        outsider = UserFactory()
        ticket = TicketFactory(team=team_a, assignee=None)
        with pytest.raises(PermissionDenied):
            services.ticket_add_note(ticket=ticket, actor=outsider, body="Hi")


@pytest.mark.django_db
class TestAssign:
    def test_assign_within_team(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        services.ticket_assign(ticket=ticket, actor=agent, assignee=agent, now=NOW)
        ticket.refresh_from_db()
        assert ticket.assignee == agent
        assert ticket.escalation_cycle == 0
        assert ticket.last_progress_at == NOW
        event = ticket.events.get()
        assert event.kind == TicketEvent.Kind.ASSIGNED
        assert event.payload["to"] == agent.get_full_name()

    def test_hand_off_to_another_team_changes_level_and_cycle(self, agent, team_a):
        from tests.factories import SupportLevelFactory

        level2 = SupportLevelFactory(rank=2)
        expert = UserFactory()
        team2 = TeamFactory(level=level2, members=[expert])
        ticket = TicketFactory(team=team_a, assignee=agent)
        services.ticket_assign(ticket=ticket, actor=agent, assignee=expert, team=team2)
        ticket.refresh_from_db()
        assert (ticket.team, ticket.level, ticket.assignee) == (team2, level2, expert)
        assert ticket.escalation_cycle == 1
        kinds = set(ticket.events.values_list("kind", flat=True))
        assert kinds == {
            TicketEvent.Kind.TEAM_CHANGED,
            TicketEvent.Kind.LEVEL_CHANGED,
            TicketEvent.Kind.ASSIGNED,
        }

    def test_no_change_writes_nothing(self, agent, team_a):
        ticket = TicketFactory(team=team_a, assignee=agent)
        services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
        assert not TicketEvent.objects.exists()

    def test_resolved_ticket_cannot_be_reassigned(self, agent, team_a):
        ticket = TicketFactory(team=team_a, resolved=True)
        with pytest.raises(services.TicketError):
            services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)


@pytest.mark.django_db
class TestPriority:
    def test_default_matrix_covers_every_combination_and_is_monotonic(self):
        assert set(DEFAULT_MATRIX) == {(i, u) for i in range(1, 5) for u in range(1, 5)}
        for i in range(1, 5):
            for u in range(1, 4):
                assert derive_priority(i, u) <= derive_priority(i, u + 1)
                assert derive_priority(u, i) <= derive_priority(u + 1, i)
        assert derive_priority(1, 1) == Priority.CRITICAL
        assert derive_priority(4, 4) == Priority.LOW
        with pytest.raises(ValueError):
            derive_priority(0, 5)

    def test_reassessment_rederives(self, agent, team_a):
        ticket = TicketFactory(team=team_a, impact=3, urgency=3)
        services.ticket_change_priority(
            ticket=ticket, actor=agent, impact=1, urgency=1, reason="Outage confirmed"
        )
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.priority_overridden) == (Priority.CRITICAL, False)
        event = ticket.events.get(kind=TicketEvent.Kind.PRIORITY_CHANGED)
        assert event.payload["reason"] == "Outage confirmed"
        assert event.payload["from"]["priority"] == Priority.MEDIUM

    def test_override_is_flagged(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        services.ticket_change_priority(
            ticket=ticket, actor=agent, priority=Priority.HIGH, reason="VIP"
        )
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.priority_overridden) == (Priority.HIGH, True)

    def test_reason_is_required(self, agent, team_a):
        ticket = TicketFactory(team=team_a)
        with pytest.raises(services.TicketError) as info:
            services.ticket_change_priority(ticket=ticket, actor=agent, priority=1, reason="")
        assert "reason" in info.value.message_dict
        ticket.refresh_from_db()
        assert ticket.priority == Priority.MEDIUM


@pytest.mark.django_db
def test_follow_keeps_a_handed_off_ticket_visible(agent, team_a, team_b):
    ticket = TicketFactory(team=team_a)
    services.ticket_follow(ticket=ticket, actor=agent)
    services.ticket_follow(ticket=ticket, actor=agent)  # idempotent
    assert ticket.events.filter(kind=TicketEvent.Kind.FOLLOWED).count() == 1
    Ticket.objects.filter(pk=ticket.pk).update(team=team_b)  # handed to another team
    assert Ticket.objects.visible_to(agent).filter(pk=ticket.pk).exists()
    services.ticket_follow(ticket=ticket, actor=agent, follow=False)
    assert not Ticket.objects.visible_to(agent).filter(pk=ticket.pk).exists()


@pytest.mark.django_db
def test_follow_is_no_way_around_visibility(team_b):
    ticket = TicketFactory(team=team_b)
    lead = UserFactory()
    TeamFactory(lead=lead)
    with pytest.raises(PermissionDenied):
        services.ticket_follow(ticket=ticket, actor=lead)
    assert not ticket.watchers.exists()


@pytest.mark.django_db
def test_events_are_append_only(agent, team_a):
    ticket = services.ticket_create(actor=agent, data=new(team_a))
    event = ticket.events.get()
    from tickets.models import AppendOnlyError

    event.payload = {"forged": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        TicketEvent.objects.filter(pk=event.pk).update(payload={})
    with pytest.raises(AppendOnlyError):
        TicketEvent.objects.all().delete()
    assert TicketEvent.objects.get(pk=event.pk).payload["subject"] == "Printer on fire"


@pytest.mark.django_db
def test_service_changes_are_stamped_with_now_by_default(agent, team_a):
    before = timezone.now()
    ticket = services.ticket_create(actor=agent, data=new(team_a))
    assert before <= ticket.created_at <= timezone.now()
