"""The agent UI: access, visibility, filters, actions, htmx partials, CSRF, escaping, queries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from tests.factories import (
    CustomerFactory,
    SupportLevelFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets import services
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.priority import Priority

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def new_ticket(actor, team, **fields) -> Ticket:
    """A ticket opened through the service, so that its timeline is real."""
    data = {"subject": "Printer on fire", "description": "It smokes.", "team": team, **fields}
    return services.ticket_create(actor=actor, data=services.NewTicket(**data))


@pytest.fixture
def ticket_a(agent, team_a) -> Ticket:
    return new_ticket(agent, team_a, subject="Mail server down", customer=CustomerFactory())


@pytest.fixture
def ticket_b(other_agent, team_b) -> Ticket:
    ticket = new_ticket(other_agent, team_b, subject="Billing portal broken")
    attachment_message = services.ticket_reply(
        ticket=ticket,
        actor=other_agent,
        body="See the log.",
        attachments=[SimpleUploadedFile("b.log", b"secret of team B")],
    )
    ticket.b_attachment = attachment_message.attachments.get()
    return ticket


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind))


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/tickets/",
        "/tickets/new/",
        "/tickets/HD-2026-000001/",
        "/tickets/HD-2026-000001/attachments/1/",
    ],
)
def test_pages_require_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["message", "assign", "priority", "follow"])
def test_actions_require_login(client, ticket_a, action):
    response = client.post(reverse(f"tickets:{action}", args=[ticket_a.reference]), {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == 1  # only "created"


def test_home_redirects_to_list(agent_client):
    response = agent_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:list")


def test_login_page_and_login(client, agent):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(reverse("login"), {"username": "agent", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:list")


def test_logout_is_a_post_form(agent_client):
    page = agent_client.get(reverse("tickets:list")).content.decode()
    assert f'method="post" action="{reverse("logout")}"' in page
    assert agent_client.post(reverse("logout")).status_code == 302
    assert agent_client.get(reverse("tickets:list")).status_code == 302  # logged out


def test_navbar_admin_link_only_for_staff(agent_client, client, admin_user):
    assert b'href="/admin/"' not in agent_client.get(reverse("tickets:list")).content
    client.force_login(admin_user)
    assert b'href="/admin/"' in client.get(reverse("tickets:list")).content


# --- Visibility -------------------------------------------------------------------------------


def test_list_shows_only_visible_tickets(agent_client, ticket_a, ticket_b):
    page = agent_client.get(reverse("tickets:list")).content.decode()
    assert ticket_a.reference in page
    assert ticket_b.reference not in page
    assert "Billing portal broken" not in page


def test_search_does_not_reach_other_teams_content(agent_client, ticket_b):
    # Other teams' tickets are not searched by subject or description (content) ...
    response = agent_client.get(reverse("tickets:list"), {"q": "Billing"})
    assert response.context["page"].tickets == []
    assert response.context["cards"] == []
    assert "Billing portal broken" not in response.content.decode()
    assert "No tickets match these filters." in response.content.decode()
    # ... but by reference the agent finds who owns it: a card, never the list row.
    response = agent_client.get(reverse("tickets:list"), {"q": ticket_b.reference})
    assert response.context["page"].tickets == []
    assert response.context["cards"] == [ticket_b]
    assert "ownership-card" in response.content.decode()


def test_detail_of_other_team_is_the_ownership_card(agent_client, ticket_b):
    response = agent_client.get(ticket_b.get_absolute_url())
    assert response.status_code == 200
    assert "tickets/card.html" in [t.name for t in response.templates]


def test_attachment_of_other_team_is_404(agent_client, ticket_b):
    url = reverse("tickets:attachment", args=[ticket_b.reference, ticket_b.b_attachment.pk])
    assert agent_client.get(url).status_code == 404


def test_attachment_of_another_ticket_is_404(agent_client, ticket_a, ticket_b):
    # The attachment id must belong to the ticket in the URL, not just to any ticket.
    url = reverse("tickets:attachment", args=[ticket_a.reference, ticket_b.b_attachment.pk])
    assert agent_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("action", "args", "data"),
    [
        ("message", [], {"body": "hi"}),
        ("message", [], {"body": "hi", "internal": "on"}),
        ("transition", ["open"], {}),
        ("assign", [], {"reason": "mine now"}),
        ("priority", [], {"impact": 1, "urgency": 1, "reason": "x"}),
        ("follow", [], {"follow": "1"}),
    ],
)
def test_actions_on_other_team_are_404(agent_client, agent, ticket_b, action, args, data):
    before = TicketEvent.objects.filter(ticket=ticket_b).count()
    url = reverse(f"tickets:{action}", args=[ticket_b.reference, *args])
    assert agent_client.post(url, data).status_code == 404
    assert agent_client.post(url, data, **HTMX).status_code == 404
    assert TicketEvent.objects.filter(ticket=ticket_b).count() == before
    assert not ticket_b.watchers.filter(pk=agent.pk).exists()


def test_followed_ticket_of_other_team_is_visible(agent_client, agent, ticket_b):
    ticket_b.watchers.add(agent)
    assert agent_client.get(ticket_b.get_absolute_url()).status_code == 200


def test_non_agent_reader_gets_no_action_forms(client, ticket_a):
    # Holders of "view all tickets" who are in no team may read, but not act.
    reader = UserFactory(username="auditor")
    reader.user_permissions.add(Permission.objects.get(codename="view_all_tickets"))
    client.force_login(reader)
    page = client.get(ticket_a.get_absolute_url())
    assert page.status_code == 200
    assert b"reply-form" not in page.content
    assert reverse("tickets:transition", args=[ticket_a.reference, "open"]).encode() not in (
        page.content
    )
    response = client.post(reverse("tickets:message", args=[ticket_a.reference]), {"body": "x"})
    assert response.status_code == 403
    assert b"You may not work on this ticket." in response.content
    assert not Message.objects.filter(ticket=ticket_a).exists()
    assert client.get(reverse("tickets:create")).status_code == 403


# --- The list: filters, search, sorting, paging, htmx -----------------------------------------


@pytest.fixture
def varied(agent, team_a):
    """Tickets of team A that differ in one respect each. Descriptions and customers are
    fixed: generated text could contain a search term ("charl" in a company's name)."""
    level2 = SupportLevelFactory(rank=2, name="2nd level")
    team_a2 = TeamFactory(name="Team A2", level=level2, members=[agent])
    plain = {"description": "", "customer": None}
    tickets = {
        "open": TicketFactory(team=team_a, open=True, subject="Alpha"),
        "pending": TicketFactory(team=team_a, pending=True, subject="Bravo"),
        "critical": TicketFactory(team=team_a, critical=True, subject="Charlie"),
        "mine": TicketFactory(team=team_a, assignee=agent, subject="Delta"),
        "level2": TicketFactory(team=team_a2, subject="Echo"),
        "customer": TicketFactory(
            team=team_a, subject="Foxtrot", customer=CustomerFactory(name="Zebra Logistics")
        ),
        "described": TicketFactory(team=team_a, subject="Golf", description="the quokka smiles"),
    }
    for key, ticket in tickets.items():
        keep = {"customer": "customer", "described": "description"}.get(key)
        Ticket.objects.filter(pk=ticket.pk).update(
            **{field: value for field, value in plain.items() if field != keep}
        )
    return tickets


def listed(client, **params) -> set[str]:
    response = client.get(reverse("tickets:list"), params)
    assert response.status_code == 200
    return {t.subject for t in response.context["page"].tickets}


def test_filters(agent_client, varied):
    assert listed(agent_client, status="open") == {"Alpha"}
    assert listed(agent_client, status=["open", "pending"]) == {"Alpha", "Bravo"}
    assert listed(agent_client, priority=Priority.CRITICAL) == {"Charlie"}
    assert listed(agent_client, team=varied["level2"].team_id) == {"Echo"}
    assert listed(agent_client, level=varied["level2"].level_id) == {"Echo"}
    assert listed(agent_client, scope="mine") == {"Delta"}
    assert len(listed(agent_client, scope="teams")) == 7
    assert len(listed(agent_client, scope="all")) == 7


def test_search(agent_client, varied):
    assert listed(agent_client, q="charl") == {"Charlie"}  # subject, any case
    assert listed(agent_client, q=varied["open"].reference) == {"Alpha"}
    assert listed(agent_client, q="zebra") == {"Foxtrot"}  # customer name
    assert listed(agent_client, q="quokka") == {"Golf"}  # description


def test_invalid_filter_values_are_ignored(agent_client, varied):
    assert len(listed(agent_client, status="bogus", priority="x", team="nope", sort="?")) == 7


def test_sort_by_priority(agent_client, varied):
    response = agent_client.get(reverse("tickets:list"), {"sort": "priority"})
    assert response.context["page"].tickets[0].subject == "Charlie"


def test_pagination_walks_every_ticket_once(agent_client, team_a, settings):
    settings.TICKETS_PER_PAGE = 3
    TicketFactory.create_batch(7, team=team_a)
    seen, params = [], {}
    while True:
        response = agent_client.get(reverse("tickets:list"), params)
        page = response.context["page"]
        seen += [t.reference for t in page.tickets]
        if not page.next_cursor:
            break
        assert f"after={page.next_cursor}" in response.content.decode()
        params = {"after": page.next_cursor}
    assert len(seen) == len(set(seen)) == 7
    assert page.prev_cursor  # the last page links back
    back = agent_client.get(reverse("tickets:list"), {"before": page.prev_cursor})
    assert [t.reference for t in back.context["page"].tickets] == seen[3:6]


def test_list_htmx_gets_the_table_partial(agent_client, ticket_a):
    response = agent_client.get(reverse("tickets:list"), {"q": "Mail"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body
    assert ticket_a.reference in body
    assert "HX-Request" in response["Vary"]


def test_list_history_restore_gets_the_whole_page(agent_client, ticket_a):
    response = agent_client.get(
        reverse("tickets:list"), **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


def test_list_filter_form_uses_htmx_and_pushes_url(agent_client):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    assert 'hx-get="/tickets/"' in body
    assert 'hx-target="#results"' in body
    assert 'hx-push-url="true"' in body


# --- Query counts stay flat -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"q": ""}, {"sort": "due"}, {"sla": "breached"}, {"sla": "at_risk", "sort": "due"}]
)
def test_list_queries_do_not_grow_with_tickets(
    agent_client, agent, team_a, django_assert_max_num_queries, params
):
    def render_list() -> int:
        # The views' counts are one aggregate; the teams and levels are read once for the
        # filters and the bulk form; 13: the service filter's choices are one more; 14: whether
        # the reader may take ticked tickets to another app (may run major incidents) is one.
        with django_assert_max_num_queries(14) as captured:
            response = agent_client.get(reverse("tickets:list"), params)
            assert response.status_code == 200
        return len(captured.captured_queries)

    def add(n: int) -> None:
        # Tickets with live SLA columns in every state, so that every row shows a badge.
        now = timezone.now()
        for i in range(n):
            TicketFactory(
                team=team_a,
                assignee=agent,
                first_response_due_at=now + timedelta(hours=i % 3 - 1),
                first_response_warning_at=now - timedelta(minutes=30),
                first_response_warned_at=now if i % 2 else None,
                resolution_due_at=now + timedelta(days=1),
                resolution_breached_at=now if i % 4 == 0 else None,
            )

    add(5)
    few = render_list()
    add(45)
    assert render_list() == few


def test_detail_queries_do_not_grow_with_timeline(
    agent_client, agent, team_a, django_assert_max_num_queries
):
    ticket = new_ticket(agent, team_a)

    def add(n: int) -> None:
        for i in range(n):
            services.ticket_reply(
                ticket=ticket,
                actor=agent,
                body=f"reply {i}",
                attachments=[SimpleUploadedFile(f"f{i}.txt", b"x")],
            )
            services.ticket_add_note(ticket=ticket, actor=agent, body=f"note {i}")
            services.ticket_follow(ticket=ticket, actor=agent, follow=i % 2 == 0)

    def render_detail() -> int:
        # 13: the incident banner, the reader's rights, the CC card and whether there are
        # files are read with the ticket (`ticket_for_user`'s annotations), the permissions
        # in one query (`accounts.backends`), the services and reply templates from the
        # configuration cache; `tests/mail/test_ccs.py` shows the CC card.
        with django_assert_max_num_queries(13) as captured:
            assert agent_client.get(ticket.get_absolute_url()).status_code == 200
        return len(captured.captured_queries)

    add(5)
    few = render_detail()
    add(45)
    assert render_detail() == few


# --- Escaping ---------------------------------------------------------------------------------


def test_user_text_is_escaped(agent_client, agent, team_a):
    ticket = new_ticket(
        agent,
        team_a,
        subject=XSS,
        description=XSS,
        customer=CustomerFactory(name=XSS),
    )
    services.ticket_reply(ticket=ticket, actor=agent, body=XSS)
    services.ticket_change_priority(ticket=ticket, actor=agent, reason=XSS, impact=1)
    for url in [reverse("tickets:list"), ticket.get_absolute_url()]:
        body = agent_client.get(url).content.decode()
        assert XSS not in body
        assert XSS_ESCAPED in body


def test_javascript_links_are_not_linkified(agent_client, agent, ticket_a):
    services.ticket_reply(
        ticket=ticket_a, actor=agent, body="javascript:alert(1) and https://ok.example"
    )
    body = agent_client.get(ticket_a.get_absolute_url()).content.decode()
    assert 'href="javascript:' not in body
    assert 'href="https://ok.example"' in body


# --- Detail -----------------------------------------------------------------------------------


def test_detail_shows_header_and_timeline(agent_client, agent, ticket_a):
    services.ticket_reply(ticket=ticket_a, actor=agent, body="We are on it.")
    services.ticket_add_note(ticket=ticket_a, actor=agent, body="Looks like the disk.")
    services.ticket_transition(ticket=ticket_a, actor=agent, name="open")
    services.ticket_change_priority(
        ticket=ticket_a, actor=agent, reason="CEO affected", impact=1, urgency=1
    )
    body = agent_client.get(ticket_a.get_absolute_url()).content.decode()
    name = agent.get_full_name()
    assert ticket_a.reference in body
    assert ticket_a.customer.name in body
    assert "We are on it." in body
    assert "message-note" in body and "Looks like the disk." in body
    assert f"Status changed from New to Open by {name}." in body
    assert f"Priority changed from Sev 3 · medium to Sev 1 · critical by {name}." in body
    assert "Reason: CEO affected" in body
    # Chronological: the reply comes before the note, the note before the transition.
    body = body[body.index('id="timeline"') :]
    assert (
        body.index("We are on it.")
        < body.index("Looks like the disk.")
        < body.index("Status changed from New to Open")
    )


def test_detail_offers_only_available_transitions(agent_client, ticket_a):
    body = agent_client.get(ticket_a.get_absolute_url()).content.decode()
    url = lambda name: reverse("tickets:transition", args=[ticket_a.reference, name])  # noqa: E731
    assert url("open") in body
    assert url("resolve") in body
    assert url("pend") not in body
    assert url("close") not in body
    assert url("reopen") not in body


def test_detail_htmx_gets_the_ticket_partial(agent_client, ticket_a):
    response = agent_client.get(ticket_a.get_absolute_url(), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="ticket"')
    assert "<html" not in body


def test_detail_404_for_unknown_reference(agent_client):
    assert agent_client.get(reverse("tickets:detail", args=["HD-1999-000001"])).status_code == 404


# --- Actions ----------------------------------------------------------------------------------


def test_reply(agent_client, agent, ticket_a):
    url = reverse("tickets:message", args=[ticket_a.reference])
    response = agent_client.post(
        url, {"body": "Restarted it.", "attachments": [SimpleUploadedFile("log.txt", b"ok")]}
    )
    assert response.status_code == 302
    assert response["Location"] == ticket_a.get_absolute_url()
    message = Message.objects.get(ticket=ticket_a)
    assert (message.kind, message.body, message.author) == ("reply", "Restarted it.", agent)
    assert message.attachments.get().original_name == "log.txt"
    ticket_a = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket_a.first_responded_at is not None
    assert ticket_a.last_progress_at is not None
    (event,) = events(ticket_a, TicketEvent.Kind.REPLIED)
    assert event.message == message and event.payload == {"first_response": True}
    assert b"Your reply has been sent." in agent_client.get(ticket_a.get_absolute_url()).content


def test_internal_note(agent_client, ticket_a):
    url = reverse("tickets:message", args=[ticket_a.reference])
    response = agent_client.post(url, {"body": "Only for us.", "internal": "on"})
    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket_a)
    assert message.kind == Message.Kind.NOTE
    assert len(events(ticket_a, TicketEvent.Kind.NOTE_ADDED)) == 1
    # A note is not a response to the customer.
    assert Ticket.objects.get(pk=ticket_a.pk).first_responded_at is None


def test_reply_htmx_returns_updated_partial(agent_client, ticket_a):
    url = reverse("tickets:message", args=[ticket_a.reference])
    response = agent_client.post(url, {"body": "Via htmx."}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="ticket"')
    assert "Via htmx." in body
    assert "Your reply has been sent." in body


def test_empty_reply_is_a_form_error(agent_client, ticket_a):
    url = reverse("tickets:message", args=[ticket_a.reference])
    response = agent_client.post(url, {"body": "   "}, **HTMX)
    assert response.status_code == 422
    assert b"This field is required." in response.content
    assert not Message.objects.exists()


def test_oversized_attachment_is_a_form_error(agent_client, ticket_a, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    url = reverse("tickets:message", args=[ticket_a.reference])
    upload = SimpleUploadedFile("big.bin", b"x" * 11)
    response = agent_client.post(url, {"body": "Here is the dump.", "attachments": [upload]})
    assert response.status_code == 422
    form = response.context["message_form"]
    assert "larger than the limit of 10\xa0bytes" in form.errors["attachments"][0]
    assert "Here is the dump." in response.content.decode()  # what was typed is kept
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.bin"))


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        (["open"], "open"),
        (["open", "pend"], "pending"),
        (["open", "pend", "resume"], "open"),
        (["open", "resolve"], "resolved"),
        (["resolve", "reopen"], "open"),
        (["resolve", "close"], "closed"),
    ],
)
def test_transitions(agent_client, agent, ticket_a, steps, status):
    for name in steps:
        url = reverse("tickets:transition", args=[ticket_a.reference, name])
        assert agent_client.post(url).status_code == 302
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket.status == status
    recorded = events(ticket, TicketEvent.Kind.TRANSITIONED)
    assert [e.payload["transition"] for e in recorded] == steps
    assert all(e.actor == agent for e in recorded)


def test_transition_htmx_updates_header_and_timeline(agent_client, agent, ticket_a):
    url = reverse("tickets:transition", args=[ticket_a.reference, "open"])
    response = agent_client.post(url, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "status-open" in body
    assert f"Status changed from New to Open by {agent.get_full_name()}." in body
    # The buttons now are those of an open ticket.
    assert reverse("tickets:transition", args=[ticket_a.reference, "pend"]) in body


@pytest.mark.parametrize("name", ["close", "reopen", "resume", "bogus"])
def test_disallowed_transition_is_a_clear_409(agent_client, ticket_a, name):
    url = reverse("tickets:transition", args=[ticket_a.reference, name])
    for extra in ({}, HTMX):
        response = agent_client.post(url, **extra)
        assert response.status_code == 409
        body = response.content.decode()
        assert "alert-danger" in body
        assert ("is not possible while the ticket is in status" in body) or (
            "Unknown transition" in body
        )
    assert Ticket.objects.get(pk=ticket_a.pk).status == Ticket.Status.NEW
    assert not events(ticket_a, TicketEvent.Kind.TRANSITIONED)


def test_transition_requires_post(agent_client, ticket_a):
    url = reverse("tickets:transition", args=[ticket_a.reference, "open"])
    assert agent_client.get(url).status_code == 405


def test_assign(agent_client, agent, ticket_a, team_a):
    url = reverse("tickets:assign", args=[ticket_a.reference])
    response = agent_client.post(url, {"team": team_a.pk, "assignee": agent.pk, "reason": "mine"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket_a.pk).assignee == agent
    (event,) = events(ticket_a, TicketEvent.Kind.ASSIGNED)
    assert event.payload["to"] == agent.get_full_name()
    assert event.payload["reason"] == "mine"


def test_assign_to_non_member_shows_the_service_error(agent_client, ticket_a, team_a, other_agent):
    url = reverse("tickets:assign", args=[ticket_a.reference])
    response = agent_client.post(url, {"team": team_a.pk, "assignee": other_agent.pk}, **HTMX)
    assert response.status_code == 422
    assert b"The assignee must be a member of the ticket&#x27;s team." in response.content
    assert Ticket.objects.get(pk=ticket_a.pk).assignee is None
    assert not events(ticket_a, TicketEvent.Kind.ASSIGNED)


def test_hand_off_to_another_team_leaves_the_ticket(agent_client, ticket_a, team_b, other_agent):
    # The agent is not in team B: after the hand-off their team is a former holder, so they
    # still read the ticket, but no longer move it.
    url = reverse("tickets:assign", args=[ticket_a.reference])
    response = agent_client.post(url, {"team": team_b.pk, "assignee": other_agent.pk}, **HTMX)
    assert response.status_code == 200
    assert response.context["can_move"] is False
    assert "Save assignment" not in response.content.decode()
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.team, ticket.assignee) == (team_b, other_agent)
    assert len(events(ticket, TicketEvent.Kind.TEAM_CHANGED)) == 1


def test_change_priority_from_impact_and_urgency(agent_client, ticket_a):
    url = reverse("tickets:priority", args=[ticket_a.reference])
    response = agent_client.post(url, {"impact": 1, "urgency": 1, "reason": "Outage"})
    assert response.status_code == 302
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.priority, ticket.priority_overridden) == (Priority.CRITICAL, False)
    (event,) = events(ticket, TicketEvent.Kind.PRIORITY_CHANGED)
    assert event.payload["reason"] == "Outage"
    assert event.payload["to"]["priority"] == Priority.CRITICAL


def test_override_priority(agent_client, ticket_a):
    url = reverse("tickets:priority", args=[ticket_a.reference])
    data = {"impact": ticket_a.impact, "urgency": ticket_a.urgency, "priority": 2, "reason": "VIP"}
    assert agent_client.post(url, data).status_code == 302
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert (ticket.priority, ticket.priority_overridden) == (Priority.HIGH, True)


def test_change_priority_needs_a_reason(agent_client, ticket_a):
    url = reverse("tickets:priority", args=[ticket_a.reference])
    response = agent_client.post(url, {"impact": 1, "urgency": 1, "reason": ""}, **HTMX)
    assert response.status_code == 422
    assert "reason" in response.context["priority_form"].errors
    assert Ticket.objects.get(pk=ticket_a.pk).priority == ticket_a.priority


def test_change_priority_of_resolved_ticket_is_a_form_error(agent_client, agent, ticket_a):
    services.ticket_transition(ticket=ticket_a, actor=agent, name="resolve")
    url = reverse("tickets:priority", args=[ticket_a.reference])
    response = agent_client.post(url, {"impact": 1, "urgency": 1, "reason": "late"})
    assert response.status_code == 422
    assert "Only active tickets can be re-prioritised." in response.content.decode()


def test_follow_and_unfollow(agent_client, agent, ticket_a):
    url = reverse("tickets:follow", args=[ticket_a.reference])
    assert agent_client.post(url, {"follow": "1"}).status_code == 302
    assert ticket_a.watchers.filter(pk=agent.pk).exists()
    response = agent_client.post(url, {"follow": "0"}, **HTMX)
    assert response.status_code == 200
    assert b"Follow</button>" in response.content
    assert not ticket_a.watchers.filter(pk=agent.pk).exists()
    assert len(events(ticket_a, TicketEvent.Kind.FOLLOWED)) == 1
    assert len(events(ticket_a, TicketEvent.Kind.UNFOLLOWED)) == 1


# --- Attachments ------------------------------------------------------------------------------


def test_attachment_download(agent_client, agent, ticket_a):
    message = services.ticket_reply(
        ticket=ticket_a,
        actor=agent,
        body="see file",
        attachments=[SimpleUploadedFile("report <1>.html", b"<h1>hi</h1>", "text/html")],
    )
    attachment = message.attachments.get()
    response = agent_client.get(
        reverse("tickets:attachment", args=[ticket_a.reference, attachment.pk])
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<h1>hi</h1>"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "report" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_attachment_missing_file_is_404(agent_client, agent, ticket_a):
    message = services.ticket_reply(
        ticket=ticket_a, actor=agent, body="x", attachments=[SimpleUploadedFile("a.txt", b"a")]
    )
    attachment = message.attachments.get()
    attachment.file.storage.delete(attachment.file.name)
    url = reverse("tickets:attachment", args=[ticket_a.reference, attachment.pk])
    assert agent_client.get(url).status_code == 404


# --- Creating ---------------------------------------------------------------------------------


def test_create_ticket(agent_client, agent, team_a):
    customer = CustomerFactory()
    response = agent_client.post(
        reverse("tickets:create"),
        {
            "subject": "VPN unreachable",
            "description": "Since 9:00.",
            "customer": customer.pk,
            "team": team_a.pk,
            "impact": 2,
            "urgency": 1,
            "channel": "phone",
            "assignee": agent.pk,
            "attachments": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")],
        },
    )
    ticket = Ticket.objects.get(subject="VPN unreachable")
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    assert (ticket.team, ticket.customer, ticket.assignee) == (team_a, customer, agent)
    assert (ticket.priority, ticket.channel, ticket.created_by) == (
        Priority.CRITICAL,
        "phone",
        agent,
    )
    assert sorted(a.original_name for a in ticket.attachments.all()) == ["a.txt", "b.txt"]
    assert len(events(ticket, TicketEvent.Kind.CREATED)) == 1


def test_create_form_errors(agent_client, team_a, other_agent):
    response = agent_client.post(
        reverse("tickets:create"),
        {
            "subject": "x",
            "team": team_a.pk,
            "impact": 3,
            "urgency": 3,
            "channel": "web",
            "assignee": other_agent.pk,
        },
    )
    assert response.status_code == 422
    assert response.context["form"].errors["assignee"] == [
        "The assignee must be a member of the ticket's team."
    ]
    assert not Ticket.objects.exists()
    response = agent_client.post(reverse("tickets:create"), {"subject": ""})
    assert response.status_code == 422
    assert set(response.context["form"].errors) >= {"subject", "team"}


def test_create_offers_only_active_teams(agent_client, team_a):
    inactive = TeamFactory(name="Disbanded", is_active=False)
    body = agent_client.get(reverse("tickets:create")).content.decode()
    assert "Team A" in body
    assert "Disbanded" not in body
    response = agent_client.post(
        reverse("tickets:create"),
        {"subject": "x", "team": inactive.pk, "impact": 3, "urgency": 3, "channel": "web"},
    )
    assert response.status_code == 422


# --- CSRF -------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(agent, team_a) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    return client


def test_every_post_form_needs_a_csrf_token(csrf_client, ticket_a, team_a, agent):
    ref = ticket_a.reference
    posts = [
        (
            reverse("tickets:create"),
            {"subject": "x", "team": team_a.pk, "impact": 3, "urgency": 3, "channel": "web"},
        ),
        (reverse("tickets:message", args=[ref]), {"body": "x"}),
        (reverse("tickets:transition", args=[ref, "open"]), {}),
        (reverse("tickets:assign", args=[ref]), {"team": team_a.pk, "assignee": agent.pk}),
        (reverse("tickets:priority", args=[ref]), {"impact": 1, "urgency": 1, "reason": "x"}),
        (reverse("tickets:follow", args=[ref]), {"follow": "1"}),
        (reverse("set_language"), {"language": "de"}),
        (reverse("logout"), {}),
    ]
    for url, data in posts:
        assert csrf_client.post(url, data).status_code == 403, url
        assert csrf_client.post(url, data, **HTMX).status_code == 403, url
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == 1
    assert Ticket.objects.count() == 1


def test_login_needs_a_csrf_token(agent):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "agent", "password": "pw"})
    assert response.status_code == 403


def test_htmx_posts_send_the_csrf_header(csrf_client, ticket_a):
    # htmx sends the token from <body hx-headers>; the header alone must be accepted.
    page = csrf_client.get(ticket_a.get_absolute_url())
    token = page.context["csrf_token"]
    assert f'"X-CSRFToken": "{token}"' in page.content.decode()
    url = reverse("tickets:transition", args=[ticket_a.reference, "open"])
    assert csrf_client.post(url, HTTP_X_CSRFTOKEN=str(token), **HTMX).status_code == 200


# --- Language ---------------------------------------------------------------------------------


def test_language_switcher(agent_client):
    page = agent_client.get(reverse("tickets:list")).content.decode()
    assert f'action="{reverse("set_language")}"' in page
    assert 'name="language" value="de"' in page
    response = agent_client.post(
        reverse("set_language"), {"language": "de", "next": reverse("tickets:list")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:list")
    assert response.cookies["django_language"].value == "de"
    page = agent_client.get(reverse("tickets:list"))
    assert page.wsgi_request.LANGUAGE_CODE == "de"


# --- SLA badges, sorting and filters ----------------------------------------------------------


def instant(value) -> str:
    """How the badge's tooltip writes an instant (viewer's time zone, with its abbreviation)."""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


@pytest.fixture
def sla_tickets(team_a):
    """One active ticket per SLA state, from the denormalised columns the list reads."""
    now = timezone.now()
    return {
        "running": TicketFactory(
            team=team_a,
            subject="Running",
            first_response_due_at=now + timedelta(hours=2, minutes=30),
            first_response_warning_at=now + timedelta(hours=1),
            resolution_due_at=now + timedelta(days=2),
        ),
        "warning": TicketFactory(
            team=team_a,
            subject="Warned",
            first_response_due_at=now + timedelta(minutes=40, seconds=30),
            first_response_warning_at=now - timedelta(minutes=5),
            first_response_warned_at=now - timedelta(minutes=5),
            resolution_due_at=now + timedelta(days=1),
        ),
        "breached": TicketFactory(
            team=team_a,
            subject="Breached",
            open=True,
            first_responded_at=now - timedelta(hours=3),
            first_response_due_at=now - timedelta(hours=2),
            first_response_breached_at=now - timedelta(hours=2),  # no longer live
            resolution_due_at=now - timedelta(hours=1, minutes=5, seconds=30),
            resolution_breached_at=now - timedelta(hours=1),
        ),
        "paused": TicketFactory(
            team=team_a,
            subject="Paused",
            pending=True,
            sla_paused_at=now - timedelta(hours=2),
            first_response_due_at=None,
            resolution_due_at=None,
        ),
        "none": TicketFactory(team=team_a, subject="No SLA"),
        "resolved": TicketFactory(
            team=team_a,
            subject="Done",
            resolved=True,
            resolution_due_at=now - timedelta(days=1),
            resolution_breached_at=now - timedelta(days=1),
        ),
    }


def short(instant) -> str:
    """A deadline within the week as badges show it: weekday and time."""
    local = timezone.localtime(instant)
    return f"{formats.date_format(local, 'D')} {formats.date_format(local, 'TIME_FORMAT')}"


def row_of(body: str, subject: str) -> str:
    start = body.index(f">{subject}</a>")
    return body[start : body.index("</tr>", start)]


def test_list_shows_colour_coded_sla_badges(agent_client, sla_tickets):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    running = row_of(body, "Running")
    assert "sla-running text-bg-success" in running
    due = sla_tickets["running"].first_response_due_at
    # One wording: the instant, then the time left, saying it is clock time.
    assert (
        f"due {short(due)} · in 2 h 29 min" in running
        or f"due {short(due)} · in 2 h 30 min" in running
    )
    assert f'title="First response due {instant(due)}."' in running

    warned = row_of(body, "Warned")
    assert "sla-warning text-bg-warning" in warned
    warned_due = sla_tickets["warning"].first_response_due_at
    assert "At risk:" in warned and f"due {short(warned_due)} · in 40 min" in warned
    assert "The warning threshold has passed." in warned

    breached = row_of(body, "Breached")
    assert "sla-breached text-bg-danger" in breached
    breached_due = sla_tickets["breached"].resolution_due_at
    assert f"overdue since {short(breached_due)} · 1 h 5 min ago" in breached
    assert f"Resolution due {instant(sla_tickets['breached'].resolution_due_at)}." in breached
    assert "Breached earlier: First response." in breached

    paused = row_of(body, "Paused")
    assert "sla-paused text-bg-secondary" in paused
    assert "SLA paused" in paused
    assert f"paused since {instant(sla_tickets['paused'].sla_paused_at)}" in paused

    for subject in ("No SLA", "Done"):
        assert "sla-none" in row_of(body, subject)
        assert "sla-badge" not in row_of(body, subject)


def test_list_sorts_by_due_soonest(agent_client, sla_tickets, settings):
    response = agent_client.get(reverse("tickets:list"), {"sort": "due"})
    subjects = [t.subject for t in response.context["page"].tickets]
    # Overdue first, then by deadline; tickets without a running deadline last (newest first).
    assert subjects[:3] == ["Breached", "Warned", "Running"]
    assert set(subjects[3:]) == {"Paused", "No SLA", "Done"}
    # Keyset pages work on the computed deadline as on any column.
    settings.TICKETS_PER_PAGE = 2
    seen, params = [], {"sort": "due"}
    while True:
        page = agent_client.get(reverse("tickets:list"), params).context["page"]
        seen += [t.subject for t in page.tickets]
        if not page.next_cursor:
            break
        params = {"sort": "due", "after": page.next_cursor}
    assert seen == subjects


def test_list_filters_at_risk_and_breached(agent_client, sla_tickets, team_a):
    now = timezone.now()
    # A warning of a target that is met already does not make a ticket at risk.
    TicketFactory(
        team=team_a,
        subject="Answered in time",
        first_responded_at=now,
        first_response_due_at=now + timedelta(hours=1),
        first_response_warned_at=now - timedelta(minutes=1),
        resolution_due_at=now + timedelta(days=1),
    )
    assert listed(agent_client, sla="at_risk") == {"Warned"}
    assert listed(agent_client, sla="breached") == {"Breached"}  # not the resolved one
    assert listed(agent_client, sla="breached", sort="due") == {"Breached"}
    assert len(listed(agent_client, sla="nonsense")) == 7


def test_list_filter_form_offers_sla_filter_and_due_sort(agent_client):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    assert '<option value="at_risk">At risk (warning passed)</option>' in body
    assert '<option value="breached">Breached</option>' in body
    assert '<option value="due">Due soonest</option>' in body


def enterprise_ticket(agent, team, now):
    """A Sev 3 ticket on the 24/7 policy, so that business time is wall-clock time."""
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="Scanner offline",
            description="",
            team=team,
            customer=CustomerFactory(tier="enterprise"),
        ),
        now=now,
    )


def test_sla_panel_explains_a_pause(agent_client, agent, team_a):
    t0 = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    ticket = enterprise_ticket(agent, team_a, t0)
    for name, minutes in [("open", 10), ("pend", 20), ("resume", 150)]:
        services.ticket_transition(
            ticket=ticket, actor=agent, name=name, now=t0 + timedelta(minutes=minutes)
        )
    response = agent_client.get(ticket.get_absolute_url())
    body = response.content.decode()
    sla = response.context["sla"]
    assert sla.policy_name == "Enterprise 24/7"
    assert [row.view.target for row in sla.targets] == [
        "first_response",
        "next_update",
        "resolution",
    ]
    assert "Policy: Enterprise 24/7" in body
    panel = body[body.index('id="sla"') :]
    first = panel[panel.index("sla-target-first_response") :]
    first = first[: first.index("</tbody>")]
    assert "within 4 h" in first
    assert ">50 min<" in first  # elapsed: 20 min before the pause, 30 min since
    assert "text-bg-success sla-state" in first and "Running" in first
    assert "How the clock ran: 3 stretches" in first

    def local(minutes: int, fmt: str = "SHORT_DATETIME_FORMAT") -> str:
        return formats.date_format(timezone.localtime(t0 + timedelta(minutes=minutes)), fmt)

    # The end of a stretch is a time only when it falls on the day it started.
    def end(start: int, stop: int) -> str:
        same_day = (
            timezone.localtime(t0 + timedelta(minutes=start)).date()
            == timezone.localtime(t0 + timedelta(minutes=stop)).date()
        )
        return local(stop, "TIME_FORMAT" if same_day else "SHORT_DATETIME_FORMAT")

    assert f"Ran 20 min from {local(0)} to {end(0, 20)} (ticket opened)." in first
    assert (
        "Paused 2 h 10 min while waiting on the customer or a third party "
        f"(from {local(20)} to {end(20, 150)})."
    ) in first
    assert f"Running since {local(150)} (work resumed)." in first
    # The header badge speaks for the most urgent target, in business time.
    header = body[: body.index('id="sla"')]
    due = short(response.context["sla"].badge.due_at)
    assert any(
        f"First response: due {due} · 3 h {m} min business time left" in header for m in (9, 10)
    )


def test_sla_panel_of_a_paused_ticket(agent_client, agent, team_a):
    t0 = timezone.now() - timedelta(hours=1)
    ticket = enterprise_ticket(agent, team_a, t0)
    services.ticket_transition(ticket=ticket, actor=agent, name="open", now=t0)
    services.ticket_transition(
        ticket=ticket, actor=agent, name="pend", now=t0 + timedelta(minutes=15)
    )
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert "SLA paused" in body
    assert "The clock has been paused since" in body
    assert "No deadline while paused" in body
    assert "Paused since" in body and "while waiting on the customer or a third party." in body
    # The list shows it grey as well.
    row = row_of(agent_client.get(reverse("tickets:list")).content.decode(), "Scanner offline")
    assert "sla-paused text-bg-secondary" in row


def test_sla_panel_of_a_met_target(agent_client, agent, team_a):
    t0 = timezone.now() - timedelta(hours=1)
    ticket = enterprise_ticket(agent, team_a, t0)
    services.ticket_reply(ticket=ticket, actor=agent, body="On it", now=t0 + timedelta(minutes=5))
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    first = body[body.index("sla-target-first_response") :]
    first = first[: first.index("</tbody>")]
    assert 'text-bg-light sla-state">Met<' in first
    # The deadline it had is kept for the record and still shown.
    due = Ticket.objects.get(pk=ticket.pk).first_response_due_at
    assert due is not None
    assert f'datetime="{timezone.localtime(due).isoformat()}"' in first
    assert "Stopped at" in first and "first response sent." in first


def test_ticket_without_policy_says_so(agent_client, team_a):
    ticket = TicketFactory(team=team_a)
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert "No SLA policy applies to this ticket." in body


def test_header_shows_major_incident_and_risk_with_reasons(agent_client, ticket_a):
    Ticket.objects.filter(pk=ticket_a.pk).update(
        is_major_incident=True,
        risk_score=55,
        risk_reasons=[{"code": "vip", "points": 20}, "Customer threatened to cancel"],
    )
    body = agent_client.get(ticket_a.get_absolute_url()).content.decode()
    header = body[body.index("ticket-header") : body.index("</header>")]
    assert "Major incident" in header
    assert "text-bg-warning border risk-badge" in header and "Risk 55" in header
    assert "Risk because:" in header
    assert "VIP customer" in header
    assert "Customer threatened to cancel" in header


@pytest.mark.parametrize(
    ("value", "largest", "text"),
    [
        (timedelta(0), "d", "less than a minute"),
        (timedelta(seconds=59), "d", "less than a minute"),
        (timedelta(minutes=45), "d", "45 min"),
        (timedelta(hours=2), "d", "2 h"),
        (timedelta(hours=2, minutes=10, seconds=59), "d", "2 h 10 min"),
        (timedelta(days=3, hours=4, minutes=30), "d", "3 d 4 h"),
        (timedelta(days=2), "d", "2 d"),
        (-timedelta(hours=1, minutes=5), "d", "1 h 5 min"),
        (timedelta(hours=30), "h", "30 h"),
        (7800, "d", "2 h 10 min"),
        (None, "d", ""),
    ],
)
def test_duration_human(value, largest, text):
    from tickets.templatetags.tickets_ui import duration_human

    assert duration_human(value, largest) == text


def test_sla_panel_of_a_target_met_late(agent_client, agent, team_a):
    t0 = timezone.now() - timedelta(hours=5)
    ticket = enterprise_ticket(agent, team_a, t0)
    services.ticket_reply(
        ticket=ticket, actor=agent, body="Sorry", now=t0 + timedelta(hours=4, minutes=10)
    )
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    first = body[body.index("sla-target-first_response") :]
    first = first[: first.index("</tbody>")]
    assert 'text-bg-danger sla-state">Breached<' in first
    assert ", 10 min late" in first


# --- The escalate form, loaded when its panel is opened ---------------------------------------


def test_escalate_form_is_loaded_when_its_panel_opens(agent_client, agent, ticket_a):
    services.ticket_add_note(ticket=ticket_a, actor=agent, body="Rebooted the spooler.")
    url = reverse("tickets:escalate_form", args=[ticket_a.reference])
    page = agent_client.get(ticket_a.get_absolute_url())
    body = page.content.decode()
    # The page carries the closed panel with what loads the form, not the form itself.
    assert "escalate_form" not in page.context
    assert f'hx-get="{url}"' in body and 'hx-trigger="toggle from:closest details once"' in body
    assert 'href="?escalate=1#escalate-panel"' in body  # the way without JavaScript
    assert 'class="card-body escalate-form"' not in body
    fragment = agent_client.get(url, **HTMX)
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert html.lstrip().startswith('<form method="post"')
    assert f'action="{reverse("escalation:raise", args=[ticket_a.reference])}"' in html
    assert "Rebooted the spooler." in html  # the package is pre-filled from the history
    ticket_a.refresh_from_db()
    assert f'name="version" value="{ticket_a.version}"' in html
    assert "HX-Request" in fragment["Vary"]


def test_escalate_form_without_javascript_opens_in_the_page(agent_client, ticket_a):
    url = reverse("tickets:escalate_form", args=[ticket_a.reference])
    response = agent_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == ticket_a.get_absolute_url() + "?escalate=1#escalate-panel"
    page = agent_client.get(ticket_a.get_absolute_url() + "?escalate=1")
    body = page.content.decode()
    assert 'escalate-panel" open id="escalate-panel"' in body
    assert 'class="card-body escalate-form"' in body
    assert "escalate_lazy" not in page.context


def test_escalate_form_is_refused_where_no_escalation_is_possible(
    agent_client, other_agent, team_b, agent, ticket_a
):
    url = reverse("tickets:escalate_form", args=[ticket_a.reference])
    # Another team's agent cannot read the ticket: it does not exist for them.
    other = Client()
    other.force_login(other_agent)
    assert other.get(url, **HTMX).status_code == 404
    services.ticket_transition(ticket=ticket_a, actor=agent, name="resolve")
    assert agent_client.get(url, **HTMX).status_code == 403
    page = agent_client.get(ticket_a.get_absolute_url())
    assert "escalate_lazy" not in page.context
    assert reverse("tickets:escalate_form", args=[ticket_a.reference]) not in page.content.decode()
