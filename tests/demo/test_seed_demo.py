"""`manage.py seed_demo`: the organisation of the source documents, a history played through
the services and the escalation engine in time order (and in bulk for volume), a desk that
looks live at the seeding instant, and a second run that changes nothing."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F, Max, Min, Q

from demo import story
from demo.bulk import write_bulk
from demo.organisation import seed_organisation
from demo.plan import Plan, plan_ticket
from demo.replay import Player, TicketRun
from escalation.models import Escalation
from escalation.sweep import sweep
from notifications.models import Delivery, Notification
from tickets import selectors, services
from tickets.models import Customer, Message, SupportLevel, Team, Ticket, TicketEvent

User = get_user_model()
NOW = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)
Status = Ticket.Status

pytestmark = pytest.mark.django_db


def seed(**options: object) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err, now=NOW, **options)
    return out.getvalue(), err.getvalue()


def snapshot() -> dict[str, int]:
    """How much of everything there is; a second run must not change any of it."""
    return {
        "levels": SupportLevel.objects.count(),
        "teams": Team.objects.count(),
        "memberships": Team.members.through.objects.count(),
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
    }


def assert_consistent_tickets() -> None:
    """What every demo ticket must satisfy, however it was written."""
    tickets = Ticket.objects.all()
    assert tickets.values("reference").distinct().count() == tickets.count()
    created = tickets.annotate(
        n=Count("events", filter=Q(events__kind=TicketEvent.Kind.CREATED))
    ).exclude(n=1)
    assert not created.exists(), "every ticket has exactly one CREATED event"
    assert not tickets.filter(status=Status.RESOLVED, resolved_at__isnull=True).exists()
    assert not tickets.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not tickets.filter(status__in=Ticket.ACTIVE_STATUSES, resolved_at__isnull=False).exists()
    assert not tickets.filter(status__in=Ticket.ACTIVE_STATUSES, closed_at__isnull=False).exists()
    assert not tickets.exclude(level=F("team__level")).exists()
    # Timelines are backdated, in order, and end before the run's "now".
    span = TicketEvent.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert span["last"] <= NOW
    assert not TicketEvent.objects.filter(created_at__lt=F("ticket__created_at")).exists()
    assert not Message.objects.filter(created_at__lt=F("ticket__created_at")).exists()
    # The last status change in the timeline is the status on the ticket.
    for ticket in tickets.prefetch_related("events"):
        moves = [e.payload["to"] for e in ticket.events.all() if e.kind == "transitioned"]
        assert (moves or [Status.NEW])[-1] == ticket.status, ticket.reference


def test_organisation_only_builds_the_escalation_chain_of_the_source_documents():
    out, _ = seed(tickets=0)

    levels = list(SupportLevel.objects.values_list("rank", "name"))
    assert levels == [
        (1, "1st level support"),
        (2, "2nd level (experts / team leads)"),
        (3, "Incident / service management"),
        (4, "Management / crisis team"),
    ]
    assert all(SupportLevel.objects.values_list("description", flat=True))
    for name in ("Service Desk DE", "Service Desk EN"):
        desk = Team.objects.get(name=name)
        path = [desk, *desk.chain()]
        assert [t.level.rank for t in path] == [1, 2, 3, 4]
        assert [t.name for t in path[1:]] == [
            "Product Experts",
            "Incident Management",
            "Management",
        ]
        assert all(t.kind == Team.Kind.TIER for t in path)
    functional = Team.objects.filter(kind=Team.Kind.FUNCTIONAL)
    assert set(functional.values_list("name", flat=True)) == {
        "Security",
        "Billing",
        "Returns & warranty",
        "Complaints",
    }
    assert set(functional.values_list("level__rank", flat=True)) == {2}
    assert not functional.filter(escalates_to__isnull=False).exists()
    for team in Team.objects.all():
        assert team.lead is not None
        assert team.members.filter(pk=team.lead_id).exists()
        assert team.members.exclude(pk=team.lead_id).exists(), f"{team} has agents"

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("demo-admin-2026")
    assert User.objects.get(username="lukas.meier").check_password("demo-agent-2026")
    assert "admin" in out and "demo-admin-2026" in out and "demo-agent-2026" in out

    customers = Customer.objects.all()
    assert customers.count() >= 30
    assert set(customers.values_list("tier", flat=True)) == set(Customer.Tier.values)
    assert set(customers.values_list("kind", flat=True)) == set(Customer.Kind.values)
    assert customers.filter(is_vip=True).count() >= 3
    assert customers.filter(contract="Gold-24x7").exists()
    assert not Ticket.objects.exists()


def test_second_run_changes_nothing_and_keeps_what_admins_changed():
    seed(tickets=0)
    desk = Team.objects.get(name="Service Desk DE")
    desk.members.remove(User.objects.get(username="lukas.meier"))
    User.objects.filter(username="admin").update(first_name="Renamed")
    before = snapshot()

    out, _ = seed(tickets=0)

    assert snapshot() == before
    assert not desk.members.filter(username="lukas.meier").exists()
    assert User.objects.get(username="admin").first_name == "Renamed"
    assert "existed before; password unchanged" in out


def test_tickets_through_the_services_cover_every_state_and_a_rerun_adds_none():
    out, err = seed(tickets=40)

    assert Ticket.objects.count() == 40
    assert "40 played through the services" in out
    assert err.rstrip().endswith("100% 40/40")
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert statuses == set(Status.values)
    assert_consistent_tickets()
    kinds = set(TicketEvent.objects.values_list("kind", flat=True))
    assert {
        TicketEvent.Kind.CREATED,
        TicketEvent.Kind.ASSIGNED,
        TicketEvent.Kind.TRANSITIONED,
        TicketEvent.Kind.REPLIED,
        TicketEvent.Kind.NOTE_ADDED,
        TicketEvent.Kind.CUSTOMER_MESSAGE,
        TicketEvent.Kind.TEAM_CHANGED,
    } <= kinds
    assert set(Message.objects.values_list("kind", flat=True)) == set(Message.Kind.values)
    assert Ticket.objects.filter(level__rank__gte=2).exists()
    assert Ticket.objects.filter(first_responded_at__isnull=False).exists()
    # German and English, with the customer's salutation.
    bodies = list(Message.objects.filter(kind=Message.Kind.REPLY).values_list("body", flat=True))
    assert any("Viele Grüße" in body for body in bodies)
    assert any("Kind regards" in body for body in bodies)
    assert Ticket.objects.values("customer").distinct().count() > 10

    before = snapshot()
    out, _ = seed(tickets=40)
    assert snapshot() == before
    assert "40 tickets exist already (asked for 40): none added" in out

    seed(tickets=43)  # asking for more tops up
    assert Ticket.objects.count() == 43


def test_bulk_path_writes_consistent_rows_with_a_progress_bar():
    out, err = seed(tickets=1200, via_services=12, batch_size=500)

    assert Ticket.objects.count() == 1200
    assert "12 played through the services" in out and "1188 in bulk" in out
    assert err.rstrip().endswith("100% 1200/1200")
    assert "\r[" in err
    assert_consistent_tickets()
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    # Bulk messages and events point at their tickets, events at their messages.
    replies = TicketEvent.objects.filter(kind=TicketEvent.Kind.REPLIED)
    assert not replies.filter(message__isnull=True).exists()
    assert not replies.exclude(message__ticket=F("ticket")).exists()
    assert not Message.objects.filter(kind=Message.Kind.CUSTOMER, author__isnull=False).exists()
    reopened = Ticket.objects.filter(reopen_count__gt=0)
    assert reopened.exists()
    assert not reopened.filter(escalation_cycle=0).exists()


def test_bulk_replay_writes_what_the_services_write(monkeypatch):
    """The bulk path mirrors the ticket services. Compared with the change hooks off: the SLA
    clock and the escalation engine only run on the services path (by design)."""
    monkeypatch.setattr(services, "_change_hooks", [])
    org = seed_organisation()
    people = [org.admin, *(user for team in org.members.values() for user in team)]
    labels = {user.pk: user.get_full_name() or user.get_username() for user in people}

    def plan(index: int) -> Plan:
        return plan_ticket(index, seed=7, anchor=NOW, days=60, org=org)

    # Escalations through `escalation_raise` have their own records; the bulk path only moves
    # the ticket, so the comparison takes the plans without them.
    indices = [
        i for i in range(80) if not {"escalate", "deescalate"} & {s.kind for s in plan(i).steps}
    ]
    player = Player(org, seed=7, end=NOW, run=TicketRun(requested=0, existing=0))
    for plan_ in sorted((plan(i) for i in indices), key=lambda p: p.created_at):
        player.add(plan_)
    player.play()
    by_services = list(Ticket.objects.order_by("created_at", "pk"))
    write_bulk(sorted((plan(i) for i in indices), key=lambda p: p.created_at), org, labels, 100)
    in_bulk = list(Ticket.objects.order_by("pk"))[len(by_services) :]

    # `version` counts writes for once-per-intent checks; it is not part of the history.
    skip = {"id", "reference", "version"}
    fields = [f.attname for f in Ticket._meta.concrete_fields if f.name not in skip]
    for a, b in zip(by_services, in_bulk, strict=True):
        assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}
        assert timeline(a) == timeline(b), a.reference
        assert conversation(a) == conversation(b), a.reference
    assert {t.status for t in in_bulk} == set(Status.values)


def timeline(ticket: Ticket) -> list[tuple[object, ...]]:
    return [
        (e.kind, e.actor_id, e.created_at, e.payload, e.message.body if e.message else None)
        for e in ticket.events.order_by("created_at", "pk")
    ]


def conversation(ticket: Ticket) -> list[tuple[object, ...]]:
    return list(
        ticket.messages.order_by("created_at", "pk").values_list(
            "kind", "author_id", "author_name", "body", "created_at"
        )
    )


def test_plans_are_reproducible_and_differ_by_seed():
    org = seed_organisation()

    def summary(seed: int, index: int) -> tuple[object, ...]:
        plan = plan_ticket(index, seed=seed, anchor=NOW, days=60, org=org)
        steps = [(s.kind, s.at, s.body, s.name) for s in plan.steps]
        return (plan.created_at, plan.subject, plan.description, plan.team.pk, steps)

    assert [summary(1, i) for i in range(20)] == [summary(1, i) for i in range(20)]
    assert [summary(1, i) for i in range(20)] != [summary(2, i) for i in range(20)]


def test_every_text_is_complete():
    for category in story.categories():
        for lang, texts in category.texts:
            assert texts.cases, (category.key, lang)
            for case in texts.cases:
                assert case.solutions or texts.solutions, (category.key, lang, case.subject)
                assert case.notes or texts.notes, (category.key, lang, case.subject)
            if not category.internal:
                assert texts.asks and texts.answers, (category.key, lang)
        if not category.internal:
            assert {lang for lang, _ in category.texts} == {"de", "en"}, category.key


def test_history_is_played_so_that_the_desk_looks_live_at_the_seeding_instant():
    """The replay ran the engine when things fell due and acknowledged escalations as the
    story goes, so the first sweep at the seeding instant has little left to do."""
    out, _ = seed(tickets=60, days=14)
    assert "played through the services and the engine" in out
    assert_consistent_tickets()
    # Every placeholder of the story's texts was filled ("What happened: {subject}").
    placeholders = r"\{(subject|since|customer|contact|product|time|date|error|host|count|order|invoice|amount|device|serial)\}"  # noqa: E501
    unfilled = Message.objects.filter(body__regex=placeholders).values_list("body", flat=True)
    assert list(unfilled[:1]) == []

    # The first sweep at "now": at most a handful of rules (what fell due in the seconds
    # since the last grid minute, or is due exactly now) and of emails.
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).count()
    assert pending == 0, "every email and webhook of the past counts as sent"
    report = sweep(now=NOW)
    assert report.fired <= 3
    assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() <= 5

    # Leads open with a handful unread; older notifications were read.
    leads = Team.objects.values_list("lead_id", flat=True)
    for lead in leads:
        assert Notification.objects.filter(user_id=lead, read_at__isnull=True).count() < 15
    assert Notification.objects.filter(read_at__isnull=False).exists()

    # Escalations on every level above the first, raised by the rules that would have fired,
    # mostly acknowledged; none left waiting past its deadline by more than an hour.
    escalations = Escalation.objects.exclude(kind=Escalation.Kind.DE_ESCALATION)
    assert {2, 3, 4} <= set(escalations.values_list("to_level__rank", flat=True))
    acknowledged = escalations.filter(acknowledged_at__isnull=False, ack_due_at__isnull=False)
    assert acknowledged.count() > escalations.count() / 2
    # Most within their deadline: the acknowledgement is played before the sweep that would
    # take the escalation further.
    assert (
        acknowledged.filter(acknowledged_at__gt=F("ack_due_at")).count() <= acknowledged.count() / 5
    )
    assert not Escalation.objects.filter(
        status=Escalation.Status.RAISED, ack_due_at__lt=NOW - dt.timedelta(hours=1)
    ).exists()
    by_rule = escalations.filter(rule__isnull=False).select_related("rule")
    assert by_rule.exists()
    for escalation in by_rule:
        assert escalation.trigger == escalation.rule.trigger
        assert escalation.raised_at <= NOW
    assert "severity" in set(by_rule.values_list("trigger", flat=True))
    # The Sev 1 of the last minutes waits for its acknowledgement, with time left.
    assert Escalation.objects.filter(status=Escalation.Status.RAISED, ack_due_at__gt=NOW).exists()

    # Nothing overdue by weeks, at most a few tickets by more than a day.
    late = [
        badge.due_at
        for ticket in Ticket.objects.active()
        if (badge := selectors.sla_badge(ticket, NOW)) and badge.due_at and badge.overdue
    ]
    assert all(NOW - due < dt.timedelta(days=7) for due in late)
    assert sum(NOW - due > dt.timedelta(days=1) for due in late) <= 3
