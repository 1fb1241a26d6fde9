"""The escalation UI: escalate (checklist, package), acknowledge, de-escalate, the overview,
and the in-app notifications — status, stored state, side records, permissions, CSRF,
escaping and flat query counts.

The views call the services with the real clock, so tickets are created at the real `now`
too: a ticket created in the past would breach and escalate by itself on the next write.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation import services as esc
from escalation.forms import CHECKLIST
from escalation.models import Escalation, EscalationRule
from notifications.models import Notification
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory, UserFactory
from tickets import services
from tickets.models import Ticket, TicketEvent

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def new_ticket(chain: Chain, *, level: int = 1, **fields) -> Ticket:
    """A Sev 3 ticket of the team at `level`, created now."""
    data = {
        "subject": "Checkout fails",
        "description": "500 on pay",
        "team": chain.teams[level - 1],
        "customer": CustomerFactory(name="Acme"),
        **fields,
    }
    return services.ticket_create(
        actor=chain.agents[level - 1], data=services.NewTicket(**data), now=timezone.now()
    )


def escalate_data(**overrides) -> dict[str, str]:
    data = {
        "kind": "hierarchical",
        "reason": "Needs database access",
        "summary": "Checkout returns 500 since 9:00",
        "affected": "All web shop customers",
        "impact": "No orders",
        "actions_taken": "Restarted the app servers",
        "next_steps": "Check the DB locks",
        "risks": "Lost revenue",
        **{name: "on" for name, _label in CHECKLIST},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def raise_url(ticket: Ticket) -> str:
    return reverse("escalation:raise", args=[ticket.reference])


def deescalate_url(ticket: Ticket) -> str:
    return reverse("escalation:deescalate", args=[ticket.reference])


def ack_url(escalation: Escalation) -> str:
    return reverse("escalation:acknowledge", args=[escalation.pk])


def escalate(chain: Chain, ticket: Ticket, **kw) -> Escalation:
    """An escalation L1 → L2 through the service, as the first agent."""
    return esc.escalation_raise(
        ticket=ticket,
        actor=chain.agents[0],
        kind=kw.pop("kind", "hierarchical"),
        package=esc.Package(
            **({"summary": "Checkout down", "actions_taken": "Restarted"} | kw.pop("package", {}))
        ),
        reason=kw.pop("reason", "Needs database access"),
        **kw,
    )


# --- The escalate form ------------------------------------------------------------------------


def test_escalate_form_is_prefilled_and_names_the_target(chain):
    ticket = new_ticket(chain)
    services.ticket_add_note(ticket=ticket, actor=chain.agents[0], body="Cleared the cache.")
    # The form as the page shows it without JavaScript (the panel's link): opened in the page.
    response = client_for(chain.agents[0]).get(ticket.get_absolute_url() + "?escalate=1")
    body = response.content.decode()
    form = response.context["escalate_form"]
    assert form.initial["summary"].startswith("Checkout fails")
    assert "Cleared the cache." in form.initial["actions_taken"]
    assert f"Up the escalation chain to L2 ({chain.teams[1].level.name})" in body
    assert f'action="{raise_url(ticket)}"' in body
    for _name, label in CHECKLIST:
        assert str(label) in body
    # Security is a functional team the ticket can go across to.
    assert [t.name for t in form.fields["to_team"].queryset] == ["Security"]


def test_escalate_success_writes_the_escalation_and_redirects(chain):
    ticket = new_ticket(chain)
    client = client_for(chain.agents[0])
    response = client.post(raise_url(ticket), escalate_data())
    # The agent is not in L2, but whoever escalates follows the ticket: it stays in sight.
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    assert ticket.watchers.filter(pk=chain.agents[0].pk).exists()
    escalation = Escalation.objects.get(ticket=ticket)
    assert (escalation.kind, escalation.status) == ("hierarchical", "raised")
    assert (escalation.from_team, escalation.to_team) == (chain.teams[0], chain.teams[1])
    assert escalation.raised_by == chain.agents[0]
    assert escalation.reason == "Needs database access"
    assert escalation.summary == "Checkout returns 500 since 9:00"
    assert escalation.actions_taken == "Restarted the app servers"
    assert escalation.risks == "Lost revenue"
    assert escalation.package_complete
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[1]
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.ESCALATED)
    assert event.actor == chain.agents[0]
    assert Notification.objects.filter(
        user=chain.agents[1], kind=Notification.Kind.ESCALATION_RAISED, ticket=ticket
    ).exists()
    page = client.get(response["Location"]).content.decode()
    assert "The ticket has been escalated to L2" in page
    assert f"Ticket {ticket.reference} is no longer visible to you." not in page


def test_escalate_with_htmx_keeps_a_follower_on_the_ticket(chain):
    ticket = new_ticket(chain)
    services.ticket_follow(ticket=ticket, actor=chain.agents[0], follow=True)
    response = client_for(chain.agents[0]).post(raise_url(ticket), escalate_data(), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="ticket"')
    assert "The ticket has been escalated to L2" in body
    # The panel now shows the open escalation and its package; the timeline says what happened.
    assert "Current escalation" in body
    assert "Checkout returns 500 since 9:00" in body
    assert f"{chain.agents[0].get_full_name()} escalated the ticket from L1 (level 1)" in body


def test_escalate_requires_the_whole_checklist(chain):
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(
        raise_url(ticket), escalate_data(check_contact=None, check_risks=None), **HTMX
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "every item must be ticked (2 still open)" in body
    assert response.context["escalate_form"].errors["__all__"]
    # What the agent typed is kept; the panel stays open.
    assert "Restarted the app servers" in body
    assert 'escalate-panel" open' in body
    assert not Escalation.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).team == chain.teams[0]


def test_escalate_requires_the_package(chain):
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(
        raise_url(ticket), escalate_data(summary="", actions_taken="  ")
    )
    assert response.status_code == 422
    errors = response.context["escalate_form"].errors
    assert errors["summary"] == ["Say what happened."]
    assert errors["actions_taken"] == ["Say what was tried already."]
    assert not Escalation.objects.exists()


def test_escalate_requires_a_reason(chain):
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(raise_url(ticket), escalate_data(reason=""))
    assert response.status_code == 422
    assert "reason" in response.context["escalate_form"].errors
    assert not Escalation.objects.exists()


def test_service_refusal_is_a_form_error(chain):
    # A functional escalation without a team: the service says why (EscalationError → 422).
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(
        raise_url(ticket), escalate_data(kind="functional"), **HTMX
    )
    assert response.status_code == 422
    assert response.context["escalate_form"].errors["to_team"] == [
        "Choose an active functional team."
    ]
    assert not Escalation.objects.exists()


def test_functional_escalation(chain):
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(
        raise_url(ticket), escalate_data(kind="functional", to_team=chain.security.pk)
    )
    assert response.status_code == 302
    escalation = Escalation.objects.get(ticket=ticket)
    assert (escalation.kind, escalation.to_team) == ("functional", chain.security)


def test_top_of_the_chain_cannot_escalate_up(chain):
    ticket = new_ticket(chain, level=4)
    client = client_for(chain.agents[3])
    body = client.get(ticket.get_absolute_url() + "?escalate=1").content.decode()
    assert "L4 is at the top of the chain" in body
    assert 'id="escalate-kind-hierarchical" value="hierarchical" disabled' in body
    response = client.post(raise_url(ticket), escalate_data())
    assert response.status_code == 422
    assert "L4 is at the top of the escalation chain." in response.content.decode()
    assert not Escalation.objects.exists()


def test_resolved_ticket_offers_no_escalation_and_refuses_one(chain):
    ticket = new_ticket(chain)
    services.ticket_transition(ticket=ticket, actor=chain.agents[0], name="resolve")
    client = client_for(chain.agents[0])
    assert "escalate_form" not in client.get(ticket.get_absolute_url()).context
    response = client.post(raise_url(ticket), escalate_data())
    assert response.status_code == 422
    assert "Only active tickets can be escalated." in response.content.decode()


def test_non_agent_reader_cannot_escalate(chain):
    ticket = new_ticket(chain)
    reader = UserFactory(username="auditor")
    reader.user_permissions.add(Permission.objects.get(codename="view_all_tickets"))
    client = client_for(reader)
    page = client.get(ticket.get_absolute_url())
    assert page.status_code == 200
    assert raise_url(ticket) not in page.content.decode()
    # The owner is findable by anyone who can see the ticket.
    assert f"mailto:{chain.leads[0].email}" in page.content.decode()
    response = client.post(raise_url(ticket), escalate_data())
    assert response.status_code == 403
    assert not Escalation.objects.exists()


# --- Acknowledge ------------------------------------------------------------------------------


def test_receiving_team_acknowledges(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    client = client_for(chain.agents[1])
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert ack_url(escalation) in page
    response = client.post(ack_url(escalation), {"assignee": chain.agents[1].pk})
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert escalation.acknowledged_by == chain.agents[1]
    ticket.refresh_from_db()
    assert ticket.assignee == chain.agents[1]  # "Acknowledge and take it"
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ACKNOWLEDGED).exists()
    assert Notification.objects.filter(
        user=chain.agents[0], kind=Notification.Kind.ESCALATION_ACKNOWLEDGED
    ).exists()
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "You have acknowledged the escalation for L2 and taken the ticket." in page
    assert ack_url(escalation) not in page  # no second button


def test_acknowledge_with_htmx_returns_the_partial(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    response = client_for(chain.leads[1]).post(ack_url(escalation), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="ticket"')
    assert f"{chain.leads[1].get_full_name()} acknowledged the escalation for L2." in body


def test_only_the_receiving_team_can_acknowledge(chain):
    ticket = new_ticket(chain)
    # The agent who escalates follows the ticket, so they still see it, but may not take it.
    services.ticket_follow(ticket=ticket, actor=chain.agents[0], follow=True)
    escalation = escalate(chain, ticket)
    client = client_for(chain.agents[0])
    assert ack_url(escalation) not in client.get(ticket.get_absolute_url()).content.decode()
    for extra in ({}, HTMX):
        response = client.post(ack_url(escalation), **extra)
        assert response.status_code == 403
        assert "Only the receiving team can acknowledge this escalation." in (
            response.content.decode()
        )
    # Someone who cannot see the ticket at all gets a 404, as for every hidden ticket.
    assert client_for(chain.agents[2]).post(ack_url(escalation)).status_code == 404
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.RAISED


def test_acknowledging_twice_is_a_409(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    client = client_for(chain.agents[1])
    assert client.post(ack_url(escalation)).status_code == 302
    response = client.post(ack_url(escalation), **HTMX)
    assert response.status_code == 409
    assert "The escalation was already acknowledged at" in response.content.decode()
    assert TicketEvent.objects.filter(ticket=ticket, kind="acknowledged").count() == 1


def test_acknowledge_unknown_escalation_is_404(chain):
    assert (
        client_for(chain.agents[1]).post(reverse("escalation:acknowledge", args=[999])).status_code
        == 404
    )


# --- De-escalate ------------------------------------------------------------------------------


def test_lead_deescalates_with_a_reason(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    client = client_for(chain.leads[1])
    page = client.get(ticket.get_absolute_url())
    form = page.context["deescalate_form"]
    # The team it came from is offered first.
    assert next(iter(form.fields["to_team"].choices))[1].startswith("L1")
    response = client.post(
        deescalate_url(ticket), {"to_team": chain.teams[0].pk, "reason": "A known bug, see KB 12"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[0]
    back = Escalation.objects.get(ticket=ticket, kind=Escalation.Kind.DE_ESCALATION)
    assert (back.reason, back.raised_by) == ("A known bug, see KB 12", chain.leads[1])
    assert Escalation.objects.get(kind="hierarchical").status == Escalation.Status.CLOSED
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.DE_ESCALATED)
    assert event.payload["reason"] == "A known bug, see KB 12"


def test_deescalate_needs_a_reason(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    response = client_for(chain.leads[1]).post(
        deescalate_url(ticket), {"to_team": chain.teams[0].pk, "reason": " "}, **HTMX
    )
    assert response.status_code == 422
    assert "reason" in response.context["deescalate_form"].errors
    assert 'deescalate-panel" open' in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).team == chain.teams[1]
    assert not Escalation.objects.filter(kind=Escalation.Kind.DE_ESCALATION).exists()


def test_deescalate_to_a_higher_level_is_a_form_error(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    response = client_for(chain.leads[1]).post(
        deescalate_url(ticket), {"to_team": chain.teams[3].pk, "reason": "up?"}
    )
    assert response.status_code == 422
    assert "to_team" in response.context["deescalate_form"].errors
    assert Ticket.objects.get(pk=ticket.pk).team == chain.teams[1]


def test_only_the_lead_can_deescalate(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    client = client_for(chain.agents[1])
    page = client.get(ticket.get_absolute_url())
    assert "deescalate_form" not in page.context
    assert deescalate_url(ticket) not in page.content.decode()
    for data in ({"to_team": chain.teams[0].pk, "reason": "no"}, {}):
        response = client.post(deescalate_url(ticket), data)
        assert response.status_code == 403
        assert "Only the lead of the current team can de-escalate." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).team == chain.teams[1]


# --- Visibility, CSRF, escaping ---------------------------------------------------------------


def test_actions_on_invisible_tickets_are_404(chain):
    ticket = new_ticket(chain)
    outsider = chain.agents[3]  # L4 reads nothing of L1's tickets (only their ownership card)
    client = client_for(outsider)
    assert "tickets/card.html" in [t.name for t in client.get(ticket.get_absolute_url()).templates]
    assert client.post(raise_url(ticket), escalate_data()).status_code == 404
    assert client.post(deescalate_url(ticket), {"reason": "x"}).status_code == 404
    escalation = escalate(chain, ticket)
    assert client.post(ack_url(escalation)).status_code == 404
    assert Escalation.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/escalations/"),
        ("post", "/escalations/1/acknowledge/"),
        ("post", "/escalations/tickets/HD-2026-000001/raise/"),
        ("post", "/escalations/tickets/HD-2026-000001/de-escalate/"),
        ("get", "/notifications/"),
        ("post", "/notifications/read/"),
        ("post", "/notifications/1/read/"),
    ],
)
def test_pages_and_actions_require_login(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_new_forms_need_a_csrf_token(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    notification = Notification.objects.filter(user=chain.leads[1]).first()
    assert notification is not None
    posts = [
        (chain.agents[1], ack_url(escalation), {}),
        (chain.leads[1], deescalate_url(ticket), {"to_team": chain.teams[0].pk, "reason": "x"}),
        (chain.leads[1], reverse("notifications:read", args=[notification.pk]), {}),
        (chain.leads[1], reverse("notifications:read_all"), {}),
    ]
    ticket_l2 = new_ticket(chain, level=2)
    posts.append((chain.agents[1], raise_url(ticket_l2), escalate_data()))
    for user, url, data in posts:
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, **HTMX).status_code == 403, url
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.RAISED
    assert Escalation.objects.count() == 1
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_package_and_reason_are_escaped(chain):
    ticket = new_ticket(chain, subject=XSS)
    services.ticket_follow(ticket=ticket, actor=chain.agents[0], follow=True)
    package = dict.fromkeys(Escalation.PACKAGE_FIELDS, XSS)
    escalate(chain, ticket, package=package, reason=XSS)
    for client, url in [
        (client_for(chain.agents[0]), ticket.get_absolute_url()),
        (client_for(chain.agents[1]), ticket.get_absolute_url()),
        (client_for(chain.agents[1]), reverse("escalation:list")),
        (client_for(chain.agents[1]), reverse("notifications:list")),
    ]:
        body = client.get(url).content.decode()
        assert XSS not in body, url
        assert XSS_ESCAPED in body, url


# --- The ticket page: owner, history, timeline ------------------------------------------------


def test_escalated_ticket_shows_its_owner_and_history(chain):
    ticket = new_ticket(chain)
    first = escalate(chain, ticket)
    esc.escalation_acknowledge(escalation=first, actor=chain.agents[1])
    ticket.refresh_from_db()
    esc.escalation_raise(
        ticket=ticket,
        actor=chain.agents[1],
        kind="functional",
        to_team=chain.security,
        package=esc.Package(summary="Looks like an intrusion", actions_taken="Blocked the IP"),
        reason="Suspicious logins",
    )
    ticket.watchers.add(chain.agents[1])
    body = client_for(chain.agents[1]).get(ticket.get_absolute_url()).content.decode()
    # Who owns it now, and how to reach them.
    owner = body[body.index('owner-team">') + len('owner-team">') :]
    assert owner[: owner.index("</dd>")].split()[0:1] == ["Security"]
    assert "Unassigned: the team picks the ticket up." in body
    # The open escalation, with its package and deadline.
    current = body[body.index("current-escalation") :]
    assert "Functional escalation from L2" in current
    assert "Looks like an intrusion" in current
    assert f"by {chain.agents[1].get_full_name()}." in current
    assert "must acknowledge this escalation." in current
    # The earlier one, in the history, with its status.
    history = body[body.index("past-escalations") :]
    assert "Hierarchical" in history
    assert "L1 → L2" in history
    assert "Closed" in history  # over once the ticket moved on to Security


def test_timeline_tells_escalations_and_sla_events_in_sentences(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1])
    esc.escalation_deescalate(
        ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason="Back to L1"
    )
    due = timezone.now() + dt.timedelta(hours=1)
    for kind in (TicketEvent.Kind.SLA_WARNING, TicketEvent.Kind.SLA_BREACH):
        TicketEvent.objects.create(
            ticket=ticket,
            kind=kind,
            payload={"target": "first_response", "due_at": due.isoformat(), "at": "x"},
        )
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.SLA_RECOMPUTED,
        payload={
            "policy": "Standard office hours",
            "changed": {"resolution_due_at": [None, due.isoformat()]},
        },
    )
    services.ticket_mark_major_incident(ticket=ticket, actor=None, reason="Many customers")
    body = client_for(chain.agents[0]).get(ticket.get_absolute_url()).content.decode()
    timeline = body[body.index('id="timeline"') :]
    a0, a1, l1 = (u.get_full_name() for u in (chain.agents[0], chain.agents[1], chain.leads[1]))
    for sentence in [
        f"{a0} escalated the ticket from L1 (level 1) to L2 (level 2).",
        f"{a1} acknowledged the escalation for L2.",
        f"{l1} handed the ticket back from L2 to L1.",
        "SLA warning: the first response is due",
        "SLA breached: the first response was due",
        "SLA deadlines recomputed under the policy “Standard office hours”.",
        "Resolution due",
        "Marked as a major incident automatically.",
        "Reason: Many customers",
        "Reason: Back to L1",
    ]:
        assert sentence in timeline, sentence
    for raw in ["from_team", "to_level", "due_at", "first_response:", "resolution_due_at"]:
        assert raw not in timeline, raw


def test_automatic_escalation_names_its_trigger_and_rule(chain):
    ticket = new_ticket(chain)
    services.ticket_change_priority(
        ticket=ticket, actor=chain.agents[0], reason="Outage", impact=1, urgency=1
    )
    ticket.refresh_from_db()
    assert ticket.level.rank == 3  # the Sev 1 rule climbed the chain at once
    body = client_for(chain.agents[2]).get(ticket.get_absolute_url()).content.decode()
    assert "Escalated automatically from L1 (level 1) to L2 (level 2)." in body
    assert "Severity at or above" in body
    assert "Sev 1: incident management at once, management informed" in body
    assert "major-incident" in body  # the header badge


# --- The overview -----------------------------------------------------------------------------


def test_overview_lists_waiting_and_acknowledged_escalations(chain):
    waiting = new_ticket(chain, subject="Waiting one")
    late = new_ticket(chain, subject="Late one")
    taken = new_ticket(chain, subject="Taken one")
    escalate(chain, waiting)
    late_escalation = escalate(chain, late)
    Escalation.objects.filter(pk=late_escalation.pk).update(
        ack_due_at=timezone.now() - dt.timedelta(minutes=5)
    )
    esc.escalation_acknowledge(escalation=escalate(chain, taken), actor=chain.agents[1])
    invisible = new_ticket(chain, level=3, subject="Not for L2")
    esc.escalation_raise(
        ticket=invisible,
        actor=chain.agents[2],
        kind="hierarchical",
        package=esc.Package(summary="x", actions_taken="y"),
    )
    response = client_for(chain.agents[1]).get(reverse("escalation:list"))
    assert response.status_code == 200
    overview = response.context["overview"]
    # Every agent sees every open escalation: who owns what (the ticket opens as a card).
    assert [e.ticket.subject for e in overview.waiting] == ["Late one", "Waiting one", "Not for L2"]
    assert [e.ticket.subject for e in overview.acknowledged] == ["Taken one"]
    body = response.content.decode()
    late_row = body[body.index("escalation-overdue") :]
    assert "Late one" in late_row[:1500]
    assert body.count("escalation-overdue") == 1
    assert waiting.get_absolute_url() in body


def test_overview_filters_by_team_and_level(chain):
    up = new_ticket(chain, subject="Up the chain")
    across = new_ticket(chain, subject="Across")
    escalate(chain, up)
    escalate(chain, across, kind="functional", to_team=chain.security)
    admin = UserFactory(username="boss", is_superuser=True)
    client = client_for(admin)

    def subjects(**params) -> set[str]:
        overview = client.get(reverse("escalation:list"), params).context["overview"]
        return {e.ticket.subject for e in overview.waiting}

    assert subjects() == {"Up the chain", "Across"}
    assert subjects(team=chain.security.pk) == {"Across"}
    assert subjects(team=chain.teams[1].pk) == {"Up the chain"}
    assert subjects(level=chain.teams[1].level_id) == {"Up the chain"}
    # A lateral escalation keeps the ticket's level: Security joined it on level 1.
    assert subjects(level=chain.teams[0].level_id) == {"Across"}
    assert subjects(level=chain.teams[2].level_id) == set()
    assert subjects(team="bogus") == {"Up the chain", "Across"}  # invalid values are dropped
    partial = client.get(reverse("escalation:list"), {"team": chain.security.pk}, **HTMX)
    assert partial.content.decode().lstrip().startswith('<div id="results"')


def test_overview_queries_do_not_grow(chain, django_assert_max_num_queries):
    admin = UserFactory(username="boss", is_superuser=True)
    client = client_for(admin)

    def add(n: int) -> None:
        for _i in range(n):
            ticket = new_ticket(chain)
            escalation = escalate(chain, ticket)
            if _i % 2:
                esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1])

    def render() -> int:
        with django_assert_max_num_queries(10) as captured:
            assert client.get(reverse("escalation:list")).status_code == 200
        return len(captured.captured_queries)

    add(2)
    few = render()
    add(6)
    assert render() == few


# --- The ticket page stays flat with escalations ----------------------------------------------


def test_detail_queries_do_not_grow_with_escalations(chain, django_assert_max_num_queries):
    EscalationRule.objects.update(is_active=False)  # only the hand-offs made here
    ticket = new_ticket(chain, level=2)
    admin = UserFactory(username="boss", is_superuser=True)
    client = client_for(chain.leads[1])

    def bounce(n: int) -> None:
        """Across to Security and back again, n times: escalations and events pile up."""
        for _i in range(n):
            esc.escalation_raise(
                ticket=ticket,
                actor=chain.leads[1],
                kind="functional",
                to_team=chain.security,
                package=esc.Package(summary="s", actions_taken="a"),
            )
            esc.escalation_deescalate(
                ticket=ticket, actor=admin, to_team=chain.teams[1], reason="back"
            )

    def render() -> int:
        # Opening the page marks the lead's notifications about it read (one UPDATE, only when
        # there are unread ones): the bounces below notify the lead, so read them first.
        Notification.objects.filter(user=chain.leads[1]).update(read_at=timezone.now())
        # 17: the de-escalate form's targets come from the escalations and teams the page
        # loaded already, and a ticket without CCs reads none (20 before).
        with django_assert_max_num_queries(17) as captured:
            response = client.get(ticket.get_absolute_url())
            assert response.status_code == 200
            assert "deescalate_form" in response.context  # the lead's form is part of it
        return len(captured.captured_queries)

    bounce(1)
    render()  # warm the calendar cache
    few = render()
    bounce(5)
    assert Escalation.objects.filter(ticket=ticket).count() == 12
    assert render() == few


# --- Notifications ----------------------------------------------------------------------------


def notify(user, n: int = 1, ticket: Ticket | None = None) -> list[Notification]:
    return [
        Notification.objects.create(
            user=user,
            kind=Notification.Kind.ESCALATION_RAISED,
            ticket=ticket,
            payload={"reference": "HD-2026-000042", "to_team": "L2", "reason": f"reason {i}"},
            dedupe_key=f"test:{user.pk}:{i}:{Notification.objects.count()}",
        )
        for i in range(n)
    ]


def test_bell_shows_the_unread_count(chain):
    notify(chain.agents[1], 3)
    read = notify(chain.agents[1])[0]
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    notify(chain.agents[0], 5)  # someone else's
    client = client_for(chain.agents[1])
    page = client.get(reverse("tickets:list")).content.decode()
    assert 'hx-get="/notifications/bell/"' in page
    assert 'hx-trigger="load, every 30s' in page
    response = client.get(reverse("notifications:bell"), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    # Notifications about no ticket are one group of the list, so one on the bell's badge.
    assert ">1</span>" in body
    assert "3 unread notifications" in body
    assert "no-cache" in response["Cache-Control"]


def test_bell_stops_polling_after_logout(client):
    # 286 tells htmx to stop polling; nothing is swapped in.
    response = client.get(reverse("notifications:bell"), **HTMX)
    assert response.status_code == 286
    assert response.content == b""


def test_notification_list_and_mark_read(chain):
    ticket = new_ticket(chain)
    first, second = notify(chain.agents[1], 2, ticket=ticket)
    mine_only = notify(chain.agents[0])[0]
    client = client_for(chain.agents[1])
    response = client.get(reverse("notifications:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "HD-2026-000042 was escalated to L2: reason 0" in body
    assert ticket.get_absolute_url() in body
    assert body.count("notification-unread") == 2
    assert client.post(reverse("notifications:read", args=[first.pk])).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    # Someone else's notification is not there for this user.
    assert client.post(reverse("notifications:read", args=[mine_only.pk])).status_code == 404
    response = client.post(reverse("notifications:read_all"), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    assert response.content.decode().lstrip().startswith('<section id="notifications"')
    assert not Notification.objects.filter(user=chain.agents[1], read_at__isnull=True).exists()
    mine_only.refresh_from_db()
    assert mine_only.read_at is None


def test_notification_list_queries_do_not_grow(chain, django_assert_max_num_queries):
    ticket = new_ticket(chain)
    client = client_for(chain.agents[1])

    def render() -> int:
        with django_assert_max_num_queries(8) as captured:
            assert client.get(reverse("notifications:list")).status_code == 200
        return len(captured.captured_queries)

    notify(chain.agents[1], 3, ticket=ticket)
    few = render()
    notify(chain.agents[1], 25, ticket=ticket)
    assert render() == few
