"""The agent workspace: views with counts, saved views, bulk actions, and the ticket page's
focus hints and notification read state; plus the accessibility fixes of the shared pieces."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from escalation.models import Escalation
from notifications import selectors as notification_selectors
from notifications.models import Notification
from tests.factories import (
    AdminFactory,
    SupportLevelFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tests.tickets.test_views import new_ticket
from tickets import selectors, services, workspace
from tickets.models import Message, SavedView, Ticket, TicketEvent

HTMX = {"HTTP_HX_REQUEST": "true"}


def lists(client, query: str) -> set[str]:
    response = client.get(f"{reverse('tickets:list')}?{query}")
    assert response.status_code == 200
    return {t.reference for t in response.context["page"].tickets}


@pytest.fixture
def queue(agent, team_a, team_b, other_agent):
    """One ticket for each built-in view, and a few that belong to none."""
    now = timezone.now()
    mine = TicketFactory(team=team_a, assignee=agent, open=True, subject="Mine")
    unassigned = TicketFactory(team=team_a, open=True, subject="Nobody's")
    at_risk = TicketFactory(
        team=team_a,
        assignee=agent,
        open=True,
        subject="Risky",
        resolution_due_at=now + timedelta(hours=1),
        resolution_warned_at=now - timedelta(minutes=5),
    )
    escalated = TicketFactory(team=team_a, assignee=other_agent, open=True, subject="Came up")
    Escalation.objects.create(
        ticket=escalated,
        kind=Escalation.Kind.HIERARCHICAL,
        status=Escalation.Status.RAISED,
        from_team=team_b,
        to_team=team_a,
        from_level=team_b.level,
        to_level=team_a.level,
        cycle=0,
        raised_at=now,
    )
    waiting = TicketFactory(team=team_a, assignee=agent, open=True, subject="Answered")
    Message.objects.create(
        ticket=waiting, kind=Message.Kind.REPLY, author=agent, body="We look", created_at=now
    )
    Message.objects.create(
        ticket=waiting,
        kind=Message.Kind.CUSTOMER,
        author_name="Customer",
        body="Still broken",
        created_at=now + timedelta(minutes=1),
    )
    # Replied after the customer: not waiting. Resolved: in no open view. Other team: unseen.
    replied = TicketFactory(team=team_a, assignee=agent, open=True, subject="Replied")
    Message.objects.create(
        ticket=replied, kind=Message.Kind.CUSTOMER, author_name="C", body="?", created_at=now
    )
    Message.objects.create(
        ticket=replied,
        kind=Message.Kind.REPLY,
        author=agent,
        body="!",
        created_at=now + timedelta(minutes=1),
    )
    TicketFactory(team=team_a, assignee=agent, resolved=True, subject="Done")
    TicketFactory(team=team_b, subject="Elsewhere", open=True)
    return {
        "mine": mine,
        "unassigned": unassigned,
        "at_risk": at_risk,
        "escalated": escalated,
        "waiting": waiting,
        "replied": replied,
    }


def builtin(slug: str) -> str:
    return next(query for s, _name, query in workspace.BUILTIN_VIEWS if s == slug)


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("mine", {"mine", "at_risk", "waiting", "replied"}),
        ("team-unassigned", {"unassigned"}),
        ("at-risk", {"at_risk"}),
        ("escalated", {"escalated"}),
        ("waiting", {"waiting"}),
    ],
)
def test_builtin_views_list_the_right_tickets(agent_client, queue, slug, expected):
    assert lists(agent_client, builtin(slug)) == {queue[name].reference for name in expected}


def test_view_counts_match_their_lists_in_two_queries(
    agent, team_a, queue, agent_client, django_assert_num_queries
):
    teams, levels = list(selectors.filter_teams()), list(selectors.filter_levels())
    SavedView.objects.create(user=agent, name="Team A", query=f"team={team_a.pk}")
    agent.has_perm("tickets.view_all_tickets")  # the permission cache, as on any page
    with django_assert_num_queries(2):  # the saved views, one statement for every count
        views = workspace.workspace_views(agent, teams=teams, levels=levels)
    for view in views:
        assert view.count == len(lists(agent_client, view.query)), view.name
    assert [v.name for v in views][:5] == [str(name) for _s, name, _q in workspace.BUILTIN_VIEWS]
    assert views[-1].name == "Team A" and views[-1].count == 7  # every ticket of team A

    for i in range(5):
        SavedView.objects.create(user=agent, name=f"More {i}", query=f"level={team_a.level_id}")
    with django_assert_num_queries(2):
        assert len(workspace.workspace_views(agent, teams=teams, levels=levels)) == 11


def test_view_counts_stop_at_the_cap_like_the_list(agent, team_a, queue, monkeypatch):
    # Each count reads at most COUNT_CAP + 1 rows of its view: above the cap it says "more".
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    SavedView.objects.create(user=agent, name="Team A", query=f"team={team_a.pk}")
    views = workspace.workspace_views(
        agent, teams=list(selectors.filter_teams()), levels=list(selectors.filter_levels())
    )
    team_view = views[-1]
    assert (team_view.count, team_view.capped) == (3, True)  # seven tickets, capped at three
    at_risk = next(v for v in views if v.key == "builtin:at-risk")
    assert (at_risk.count, at_risk.capped) == (1, False)


def test_list_page_shows_views_with_counts_and_marks_the_current_one(agent_client, queue):
    response = agent_client.get(f"{reverse('tickets:list')}?{builtin('waiting')}")
    body = response.content.decode()
    assert "Waiting on me" in body and "My team&#x27;s unassigned" in body
    nav = body[body.index('class="workspace-views') :]
    current = re.search(
        r'<a class="nav-link[^"]* active" aria-current="page"[^>]*>(.*?)</a>', nav, re.S
    )
    assert current is not None
    assert "Waiting on me" in current.group(1)
    assert re.search(r">\s*1\s*<", current.group(1))


def test_list_queries_stay_flat_with_saved_views(
    agent_client, agent, team_a, queue, django_assert_max_num_queries
):
    def render() -> int:
        with django_assert_max_num_queries(14) as captured:
            assert agent_client.get(reverse("tickets:list")).status_code == 200
        return len(captured.captured_queries)

    few = render()
    for i in range(8):
        SavedView.objects.create(user=agent, name=f"V{i}", query=f"team={team_a.pk}&q=x{i}")
        TicketFactory(team=team_a, assignee=agent, open=True)
    assert render() == few


# --- Saved views ------------------------------------------------------------------------------


def test_saving_a_view_normalises_and_validates_the_filters(agent, team_a):
    teams, levels = list(selectors.filter_teams()), list(selectors.filter_levels())
    view = workspace.saved_view_save(
        user=agent,
        name="  My   urgent ",
        query=f"priority=1&team={team_a.pk}&level=99999&sort=bogus&after=abc&status=open&waiting=1",
        teams=teams,
        levels=levels,
    )
    assert view.name == "My urgent"
    assert view.query == f"status=open&priority=1&team={team_a.pk}&waiting=1"
    # The same name again replaces the filters: one view, not two.
    again = workspace.saved_view_save(
        user=agent, name="My urgent", query="sla=breached", teams=teams, levels=levels
    )
    assert again.pk == view.pk and again.query == "sla=breached"
    assert SavedView.objects.filter(user=agent).count() == 1


def test_saving_needs_a_name_and_respects_the_limit(agent, settings, monkeypatch):
    with pytest.raises(workspace.ValidationError) as exc:
        workspace.saved_view_save(user=agent, name="  ", query="", teams=[], levels=[])
    assert "name" in exc.value.message_dict
    monkeypatch.setattr(workspace, "SAVED_VIEW_LIMIT", 2)
    for name in ("a", "b"):
        workspace.saved_view_save(user=agent, name=name, query="", teams=[], levels=[])
    with pytest.raises(workspace.ValidationError):
        workspace.saved_view_save(user=agent, name="c", query="", teams=[], levels=[])


def test_save_view_page_flow(agent_client, agent, team_a):
    url = reverse("tickets:view_save")
    response = agent_client.post(url, {"name": "Open ones", "query": "status=open&bogus=1"})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('tickets:list')}?status=open"
    assert SavedView.objects.get(user=agent).query == "status=open"
    assert "has been saved" in str(next(iter(get_messages(response.wsgi_request))))

    # No name: the list again (422) with the error tied to its field.
    response = agent_client.post(url, {"name": "", "query": "status=open"})
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="view-name_error"' in body
    assert re.search(
        r'<input[^>]*aria-invalid="true"[^>]*aria-describedby="view-name_error"', body
    ) or re.search(r'<input[^>]*aria-describedby="view-name_error"[^>]*aria-invalid="true"', body)


def test_deleting_only_ones_own_view(agent_client, agent, other_agent):
    mine = SavedView.objects.create(user=agent, name="Mine", query="")
    theirs = SavedView.objects.create(user=other_agent, name="Theirs", query="")
    assert agent_client.post(reverse("tickets:view_delete", args=[theirs.pk])).status_code == 302
    assert SavedView.objects.filter(pk=theirs.pk).exists()
    agent_client.post(reverse("tickets:view_delete", args=[mine.pk]))
    assert not SavedView.objects.filter(pk=mine.pk).exists()


def test_non_agents_cannot_save_views(client, db):
    user = UserFactory(username="reader")
    client.force_login(user)
    assert client.post(reverse("tickets:view_save"), {"name": "x"}).status_code == 403
    assert not SavedView.objects.exists()


# --- Bulk actions -----------------------------------------------------------------------------


def item(ticket: Ticket) -> str:
    ticket.refresh_from_db()
    return f"{ticket.reference}:{ticket.version}"


def test_bulk_transition_reports_each_refusal(agent_client, agent, team_a, other_agent, team_b):
    mine = new_ticket(agent, team_a, subject="One")
    also = new_ticket(agent, team_a, subject="Two")
    stale = new_ticket(agent, team_a, subject="Three")
    stale_item = item(stale)
    services.ticket_transition(ticket=stale, actor=agent, name="open")  # moved since shown
    # Readable (the agent opened it) but another team's: the agent may not move it.
    foreign = new_ticket(agent, team_b, subject="Theirs")  # opened for team B: still readable
    resolved = new_ticket(agent, team_a, subject="Done")
    for name in ("open", "resolve"):
        resolved = services.ticket_transition(ticket=resolved, actor=agent, name=name)

    response = agent_client.post(
        reverse("tickets:bulk"),
        {
            "action": "transition",
            "transition": "open",
            "tickets": [
                item(mine),
                item(also),
                stale_item,
                item(foreign),
                item(resolved),
                "HD-1999-000001:0",
            ],
            "query": "scope=all",
        },
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 tickets changed." in body and "4 tickets refused:" in body
    refusals = dict(
        re.findall(r'<li><span class="font-monospace">([^<]+)</span>: ([^<]+)</li>', body)
    )
    assert set(refusals) == {
        stale.reference,
        foreign.reference,
        resolved.reference,
        "HD-1999-000001",
    }
    assert "can move it" in refusals[foreign.reference]
    assert refusals["HD-1999-000001"] == "No such ticket."
    for ticket in (mine, also):
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.OPEN
        assert TicketEvent.objects.filter(
            ticket=ticket, kind=TicketEvent.Kind.TRANSITIONED
        ).exists()
    foreign.refresh_from_db()
    assert foreign.status == Ticket.Status.NEW
    resolved.refresh_from_db()
    assert resolved.status == Ticket.Status.RESOLVED


def test_bulk_without_javascript_redirects_with_messages(agent_client, agent, team_a):
    ticket = new_ticket(agent, team_a)
    response = agent_client.post(
        reverse("tickets:bulk"),
        {"action": "follow", "tickets": [item(ticket)], "query": "status=new"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('tickets:list')}?status=new"
    assert ticket.watchers.filter(pk=agent.pk).exists()
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 ticket changed."]


def test_bulk_assign_keeps_each_team_and_checks_membership(agent_client, agent, team_a):
    colleague = UserFactory(username="colleague")
    team_a.members.add(colleague)
    tickets = [new_ticket(agent, team_a, subject=f"T{i}") for i in range(2)]
    response = agent_client.post(
        reverse("tickets:bulk"),
        {"action": "assign", "assignee": colleague.pk, "tickets": [item(t) for t in tickets]},
        **HTMX,
    )
    assert "2 tickets changed." in response.content.decode()
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.assignee == colleague and ticket.team == team_a


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"action": "transition", "tickets": ["X:1"]}, "Choose the new status."),
        ({"action": "assign", "tickets": ["X:1"]}, "Choose a team or an assignee."),
        ({"action": "follow"}, "Tick the tickets to change first."),
        ({"action": "explode", "tickets": ["X:1"]}, "Select a valid choice."),
    ],
)
def test_bulk_bad_input_is_a_form_error(agent_client, agent, team_a, data, error):
    response = agent_client.post(reverse("tickets:bulk"), data, **HTMX)
    assert response.status_code == 422
    assert error in response.content.decode()


def test_bulk_is_for_agents_only(client, db):
    client.force_login(UserFactory(username="reader"))
    assert client.post(reverse("tickets:bulk"), {"action": "follow"}).status_code == 403


# --- The list's live region -------------------------------------------------------------------


def test_list_updates_only_the_text_of_its_live_region(agent_client, queue):
    page = agent_client.get(reverse("tickets:list")).content.decode()
    region = re.search(r'<p id="results-status"[^>]*>(.*?)</p>', page, re.S)
    assert region is not None and 'aria-live="polite"' in region.group(0)
    assert "7 tickets" in region.group(1)
    assert 'id="results" class="card shadow-sm ticket-results" aria-live' not in page

    partial = agent_client.get(reverse("tickets:list"), {"scope": "mine"}, **HTMX).content.decode()
    oob = re.search(r'<p id="results-status" hx-swap-oob="innerHTML">(.*?)</p>', partial, re.S)
    assert oob is not None and "5 tickets" in oob.group(1)


# --- The ticket page --------------------------------------------------------------------------


def test_opening_a_ticket_marks_its_notifications_read(agent_client, agent, team_a):
    ticket = new_ticket(agent, team_a)
    other = new_ticket(agent, team_a)
    about = [
        Notification.objects.create(
            user=agent, kind="ticket_assigned", ticket=t, dedupe_key=f"k{t.pk}"
        )
        for t in (ticket, other)
    ]
    assert agent_client.get(ticket.get_absolute_url()).status_code == 200
    about[0].refresh_from_db()
    about[1].refresh_from_db()
    assert about[0].read_at is not None
    assert about[1].read_at is None


def test_htmx_actions_say_where_the_focus_goes(agent_client, agent, ticket_a_fixture):
    ticket = ticket_a_fixture
    response = agent_client.post(
        reverse("tickets:message", args=[ticket.reference]), {"body": "Hello"}, **HTMX
    )
    message = Message.objects.get(ticket=ticket)
    assert response["X-Helpdesk-Focus"] == f"#message-{message.pk}"
    assert f'id="message-{message.pk}"' in response.content.decode()
    response = agent_client.post(reverse("tickets:follow", args=[ticket.reference]), **HTMX)
    assert response["X-Helpdesk-Focus"] == "#follow-button"
    assert 'id="follow-button"' in response.content.decode()
    ticket.refresh_from_db()
    response = agent_client.post(
        reverse("tickets:transition", args=[ticket.reference, "open"]),
        {"version": ticket.version},
        **HTMX,
    )
    assert response["X-Helpdesk-Focus"] == "#ticket-title"
    assert 'id="ticket-title" tabindex="-1"' in response.content.decode()


@pytest.fixture
def ticket_a_fixture(agent, team_a) -> Ticket:
    return new_ticket(agent, team_a, subject="Mail server down")


def test_ticket_rights_match_the_two_rules(agent, team_a, team_b, other_agent):
    ticket = new_ticket(agent, team_a)
    ticket = Ticket.objects.select_related("level").get(pk=ticket.pk)
    higher = TeamFactory(name="Experts", level=SupportLevelFactory(rank=2))
    expert = UserFactory(username="expert")
    higher.members.add(expert)
    for user in (
        agent,
        other_agent,
        expert,
        UserFactory(username="reader"),
        AdminFactory(username="root"),
    ):
        rights = services.ticket_rights(ticket, user)
        assert (rights.agent, rights.move) == (
            services.is_agent(user),
            services.can_move(ticket, user),
        ), user


def test_is_escalated_from_loaded_escalations_agrees(agent, team_a, team_b):
    ticket = TicketFactory(team=team_a, open=True)
    cases = [
        (Escalation.Kind.HIERARCHICAL, Escalation.Status.RAISED),
        (Escalation.Kind.DE_ESCALATION, Escalation.Status.RAISED),
        (Escalation.Kind.FUNCTIONAL, Escalation.Status.CLOSED),
    ]
    for kind, status in cases:
        Escalation.objects.filter(ticket=ticket).delete()
        Escalation.objects.create(
            ticket=ticket,
            kind=kind,
            status=status,
            from_team=team_b,
            to_team=team_a,
            from_level=team_b.level,
            to_level=team_a.level,
            cycle=0,
            raised_at=timezone.now(),
        )
        loaded = selectors.ticket_escalations(ticket)
        assert selectors.is_escalated(ticket, loaded) == notification_selectors.is_escalated(ticket)


def test_time_element_renders_like_the_datetime_include(db):
    value = timezone.now()
    include = Template('{% include "components/datetime.html" with value=v %}')
    tag = Template("{% load tickets_ui %}{% time_element v %}")
    assert (
        tag.render(Context({"v": value})).strip() == include.render(Context({"v": value})).strip()
    )
    include_rel = Template('{% include "components/datetime.html" with value=v relative=True %}')
    tag_rel = Template("{% load tickets_ui %}{% time_element v True %}")
    assert (
        tag_rel.render(Context({"v": value})).strip()
        == include_rel.render(Context({"v": value})).strip()
    )


# --- Accessibility of shared pieces -----------------------------------------------------------


def test_form_errors_are_tied_to_their_fields(agent_client):
    response = agent_client.post(reverse("tickets:create"), {"subject": "", "team": ""})
    assert response.status_code == 422
    body = response.content.decode()
    subject = re.search(r'<input[^>]*name="subject"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in subject
    described = re.search(r'aria-describedby="([^"]+)"', subject).group(1).split()
    assert "id_subject_error" in described
    assert 'id="id_subject_error"' in body


def test_language_buttons_are_named_by_their_visible_text(agent_client):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    button = re.search(
        r'<button type="submit" name="language" value="de"[^>]*>(.*?)</button>', body, re.S
    )
    assert button is not None
    assert "aria-label" not in button.group(0)
    text = re.sub(r"<[^>]+>", "", button.group(1)).strip()
    assert text.startswith("DE") and "Deutsch" in text


def test_sla_targets_inline_inputs_are_labelled(client, db):
    from sla.models import SLAPolicy

    admin = AdminFactory(username="boss")
    client.force_login(admin)
    policy = SLAPolicy.objects.first()
    assert policy is not None  # the data migration's default policy
    body = client.get(reverse("admin:sla_slapolicy_change", args=[policy.pk])).content.decode()
    inputs = re.findall(r'<(?:input|select)[^>]*name="targets-0-[a-z_]+"[^>]*>', body)
    assert inputs
    for tag in inputs:
        if 'type="hidden"' not in tag:
            assert "aria-label=" in tag, tag


# --- Notifications grouped per ticket ---------------------------------------------------------


def test_notifications_are_grouped_per_ticket(client, agent, team_a, django_assert_max_num_queries):
    client.force_login(agent)
    first = TicketFactory(team=team_a, subject="First")
    second = TicketFactory(team=team_a, subject="Second")
    now = timezone.now()
    for i in range(3):
        Notification.objects.create(
            user=agent,
            kind="sla_warning",
            ticket=first,
            dedupe_key=f"a{i}",
            created_at=now - timedelta(minutes=10 - i),
        )
    Notification.objects.create(
        user=agent, kind="ticket_assigned", ticket=second, dedupe_key="b", created_at=now
    )
    with django_assert_max_num_queries(9):
        response = client.get(reverse("notifications:list"))
    body = response.content.decode()
    assert body.count('class="list-group-item notification-group') == 2
    assert body.index(second.reference) < body.index(first.reference)  # newest group first
    assert "2 earlier notifications" in body and "3 new" in body

    url = reverse("notifications:read_ticket", args=[first.pk])
    response = client.post(url, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "notifications-changed"
    assert not Notification.objects.filter(ticket=first, read_at__isnull=True).exists()
    assert Notification.objects.filter(ticket=second, read_at__isnull=True).exists()
    other = UserFactory(username="nosy")
    client.force_login(other)
    assert client.post(reverse("notifications:read_ticket", args=[second.pk])).status_code == 404
