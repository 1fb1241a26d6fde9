"""The escalation dashboard: the rendered text of each section, its counts, who sees what, the
actions in place (through the ticket page's services, refusing stale requests the same way),
the filters in the URL, CSV neutralisation, and query counts that stay flat as data grows.

Tickets that the views act on are created through the services at the real `now`; tickets that
are only read (SLA states) are rows made by the factory with the SLA instants set directly.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import selectors
from dashboard.views import neutralise
from escalation import services as esc
from escalation.forms import CHECKLIST
from escalation.models import Escalation
from tests.escalation.test_services import Chain
from tests.factories import CustomerFactory, TicketFactory, UserFactory
from tickets import services
from tickets.models import Service, SupportLevel, Ticket, TicketEvent

HTMX = {"HTTP_HX_REQUEST": "true"}
H = dt.timedelta(hours=1)


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_ticket(
    chain: Chain, *, level: int = 1, subject: str = "Checkout fails", **fields
) -> Ticket:
    return services.ticket_create(
        actor=chain.agents[level - 1],
        data=services.NewTicket(
            subject=subject,
            description="500 on pay",
            team=chain.teams[level - 1],
            customer=fields.pop("customer", None) or CustomerFactory(name="Acme"),
            **fields,
        ),
    )


def escalate(chain: Chain, ticket: Ticket) -> Escalation:
    """L1 → L2 through the service, as the first agent."""
    return esc.escalation_raise(
        ticket=ticket,
        actor=chain.agents[0],
        kind="hierarchical",
        package=esc.Package(summary="Checkout down", actions_taken="Restarted"),
        reason="Needs database access",
    )


def late_ticket(team, *, subject: str, warned: bool = True, breached: bool = False, **kw) -> Ticket:
    """A ticket row whose resolution warning (and deadline) lies before or after now."""
    now = timezone.now()
    due = now - H if breached else now + 2 * H
    return TicketFactory(
        team=team,
        subject=subject,
        status=Ticket.Status.OPEN,
        resolution_due_at=due,
        resolution_warning_at=now - 10 * dt.timedelta(minutes=1) if warned else now + H,
        **kw,
    )


def page(client: Client, **params) -> str:
    response = client.get(reverse("dashboard:index"), params)
    assert response.status_code == 200
    return response.content.decode()


# --- Sections and their text --------------------------------------------------------------------


def test_waiting_escalation_is_shown_to_the_receiving_lead_with_its_deadline(chain):
    ticket = new_ticket(chain, subject="Warehouse scanners offline")
    escalation = escalate(chain, ticket)
    html = page(client_for(chain.leads[1]))
    assert "Needs a human now" in html
    assert "Waiting for acknowledgement" in html
    assert ticket.reference in html and "Warehouse scanners offline" in html
    assert "L1 → L2" in html
    assert 'role="timer" aria-live="off"' in html
    assert f'value="{escalation.pk}:{Ticket.objects.get().version}"' in html  # bulk checkbox
    assert "Acknowledge and assign" in html  # the lead may hand it to a member
    assert services.user_label(chain.agents[1]) in html  # the member offered


def test_overdue_acknowledgement_comes_first_and_is_marked(chain):
    first = escalate(chain, new_ticket(chain, subject="Waiting a while"))
    late = escalate(chain, new_ticket(chain, subject="Long overdue"))
    now = timezone.now()
    Escalation.objects.filter(pk=late.pk).update(ack_due_at=now - 5 * dt.timedelta(minutes=1))
    Escalation.objects.filter(pk=first.pk).update(ack_due_at=now + H)
    needs = selectors.needs_human(chain.leads[1], selectors.DashboardFilters(), now)
    assert [w.escalation.pk for w in needs.waiting] == [late.pk, first.pk]
    assert needs.waiting[0].overdue and not needs.waiting[1].overdue
    assert (needs.waiting_total, needs.waiting_overdue) == (2, 1)
    html = page(client_for(chain.leads[1]))
    assert "overdue by 5 min" in html
    assert "1 overdue" in html


def test_status_update_overdue_is_listed(chain):
    row = TicketFactory(
        team=chain.teams[1],
        subject="Customer waits for news",
        status=Ticket.Status.OPEN,
        next_update_due_at=timezone.now() - 20 * dt.timedelta(minutes=1),
    )
    html = page(client_for(chain.leads[1]))
    assert "Status update overdue" in html
    assert row.reference in html
    assert "update due 20 min ago" in html


def test_at_risk_and_breached_sections(chain):
    team = chain.teams[1]
    risky = late_ticket(team, subject="Nearly late")
    broken = late_ticket(team, subject="Too late", breached=True)
    late_ticket(team, subject="Still fine", warned=False)
    html = (
        client_for(chain.leads[1])
        .get(reverse("dashboard:fragment", args=["late"]), **HTMX)
        .content.decode()
    )
    at_risk, breached = html.split('id="breached-heading"')
    assert "Nearly late" in at_risk and "Too late" not in at_risk
    assert "Too late" in breached and "breached 1 h ago" in breached
    assert "Still fine" not in html
    late = selectors.lateness(chain.leads[1], selectors.DashboardFilters(), timezone.now())
    assert (late.at_risk_total, late.breached_total) == (1, 1)
    assert late.at_risk[0].ticket == risky and late.breached[0].ticket == broken


def test_a_ticket_moves_from_at_risk_to_breached_when_its_deadline_passes(chain):
    """Read from the instants, not only the flags the sweep records."""
    ticket = late_ticket(chain.teams[1], subject="Crossing")
    lead = chain.leads[1]
    before = selectors.lateness(lead, selectors.DashboardFilters(), timezone.now())
    assert [r.ticket for r in before.at_risk] == [ticket] and before.breached == []
    after = selectors.lateness(lead, selectors.DashboardFilters(), timezone.now() + 3 * H)
    assert after.at_risk == [] and [r.ticket for r in after.breached] == [ticket]


def test_the_lists_show_the_most_urgent_first_and_count_all(chain, monkeypatch):
    # The order and the cap are decided before the rows are joined (`first_rows`): the rows
    # shown are the most urgent ones, and the counts cover the ones left out.
    monkeypatch.setattr(selectors, "LIST_LIMIT", 3)
    team, now = chain.teams[1], timezone.now()

    def row(subject: str, due: dt.datetime) -> Ticket:
        return TicketFactory(
            team=team,
            subject=subject,
            status=Ticket.Status.OPEN,
            resolution_due_at=due,
            resolution_warning_at=min(due, now) - H,
        )

    risky = [row(f"Risky {i}", now + (i + 1) * H) for i in range(5)]
    broken = [row(f"Broken {i}", now - (i + 1) * H) for i in range(4)]
    late = selectors.lateness(chain.leads[1], selectors.DashboardFilters(), now)
    assert [r.ticket for r in late.at_risk] == risky[:3]  # the soonest deadline first
    assert [r.ticket for r in late.breached] == broken[::-1][:3]  # the longest breached first
    assert (late.at_risk_total, late.breached_total) == (5, 4)
    assert all(r.ticket.team.name == team.name for r in late.at_risk)  # joined in, no query


def test_a_capped_list_says_how_many_it_leaves_out(chain, monkeypatch):
    # The lists show the most urgent `LIST_LIMIT` rows; the rest are counted under them.
    monkeypatch.setattr(selectors, "LIST_LIMIT", 3)
    team = chain.teams[1]
    for i in range(5):
        late_ticket(team, subject=f"Risky {i}")
    late_ticket(team, subject="Broken", breached=True)
    for i in range(4):
        TicketFactory(
            team=team,
            subject=f"Quiet {i}",
            status=Ticket.Status.OPEN,
            next_update_due_at=timezone.now() - H,
        )
    client = client_for(chain.leads[1])
    late = client.get(reverse("dashboard:fragment", args=["late"]), **HTMX).content.decode()
    assert late.count('class="dashboard-row at-risk-row"') == 3
    # Breached: the one past its deadline and the four whose status update is overdue.
    assert late.count('class="dashboard-row breached-row"') == 3
    assert late.count("2 more not shown.") == 2
    needs = client.get(reverse("dashboard:fragment", args=["needs"]), **HTMX).content.decode()
    assert needs.count('class="dashboard-row update-row"') == 3
    assert "1 more not shown." in needs


def test_waiting_escalations_are_those_of_the_scope_only(chain, monkeypatch):
    monkeypatch.setattr(selectors, "LIST_LIMIT", 2)
    mine = [escalate(chain, new_ticket(chain, subject=f"Mine {i}")) for i in range(3)]
    outside = TicketFactory(status=Ticket.Status.OPEN)  # another team's, on another level
    Escalation.objects.create(
        ticket=outside,
        kind=Escalation.Kind.HIERARCHICAL,
        status=Escalation.Status.RAISED,
        cycle=1,
        from_team=outside.team,
        to_team=outside.team,
        from_level=outside.level,
        to_level=outside.level,
        raised_at=timezone.now(),
    )
    needs = selectors.needs_human(chain.leads[1], selectors.DashboardFilters(), timezone.now())
    assert needs.waiting_total == 3
    assert [w.escalation for w in needs.waiting] == mine[:2]  # the earliest deadline first
    member = chain.agents[0]  # the 1st level sees none of them: they left its team
    assert selectors.needs_human(member, selectors.DashboardFilters(), timezone.now()).waiting == []


def test_business_time_countdown_on_the_policy_calendar(chain):
    from sla.models import SLAPolicy

    policy = SLAPolicy.objects.select_related("calendar").filter(calendar__always_open=True).first()
    assert policy is not None  # the defaults' 24/7 policy
    ticket = late_ticket(chain.teams[1], subject="Counted", sla_policy=policy)
    row = selectors.lateness(chain.leads[1], selectors.DashboardFilters(), timezone.now()).at_risk[
        0
    ]
    assert row.ticket == ticket
    assert dt.timedelta(hours=1, minutes=59) <= row.business_left <= 2 * H


def test_load_counts_per_level_team_and_agent(chain):
    l2 = chain.teams[1]
    member = chain.agents[1]
    late_ticket(l2, subject="risk, assigned", assignee=member)
    late_ticket(l2, subject="breached, unassigned", breached=True)
    TicketFactory(team=l2, status=Ticket.Status.OPEN, subject="plain")
    TicketFactory(team=l2, status=Ticket.Status.RESOLVED, subject="done")  # not open
    escalated = new_ticket(chain)
    escalate(chain, escalated)  # into L2 today, unacknowledged
    load = selectors.load(chain.leads[1], selectors.DashboardFilters(), timezone.now())
    team = next(r for r in load.teams if r.label == "L2")
    assert (team.open, team.at_risk, team.breached) == (4, 1, 1)
    assert (team.unassigned, team.escalated_today, team.unacknowledged) == (3, 1, 1)
    level = next(r for r in load.levels if r.key == f"level-{l2.level_id}")
    assert level.open == 4
    agent = next(r for r in load.agents if r.key == f"agent-{member.pk}")
    assert (agent.open, agent.at_risk) == (1, 1)
    html = (
        client_for(chain.leads[1])
        .get(reverse("dashboard:fragment", args=["load"]), **HTMX)
        .content.decode()
    )
    assert "Per level" in html and "Per team" in html and "Per agent" in html
    assert "Escalated in today" in html and "Unacknowledged" in html


# --- Who sees what ------------------------------------------------------------------------------


def test_agents_see_their_own_teams_only_and_admins_everything(chain):
    l1_ticket = new_ticket(chain, subject="First level only")
    l2_row = late_ticket(chain.teams[1], subject="Second level")
    admin = UserFactory(username="boss", is_superuser=True)
    scope = selectors.DashboardFilters()

    def subjects(user) -> set[str]:
        return set(selectors.dashboard_tickets(user, scope).values_list("subject", flat=True))

    assert subjects(chain.agents[0]) == {"First level only"}
    assert subjects(chain.leads[1]) == {"Second level"}
    assert subjects(chain.agents[1]) == {"Second level"}
    assert subjects(admin) == {"First level only", "Second level"}
    # The L1 agent followed the ticket after escalating it: visible_to still lets them read it,
    # but the dashboard counts only their team's work.
    escalate(chain, l1_ticket)
    assert subjects(chain.agents[0]) == set()
    assert "First level only" not in page(client_for(chain.agents[0]))
    assert l2_row.reference in page(client_for(admin))


def test_who_may_open_the_dashboard(chain, client):
    url = reverse("dashboard:index")
    assert client.get(url).status_code == 302  # to the login
    nobody = UserFactory(username="outsider")  # in no team: not an agent
    assert client_for(nobody).get(url).status_code == 403
    assert client_for(nobody).get(reverse("dashboard:fragment", args=["needs"])).status_code == 403
    assert client_for(chain.agents[0]).get(url).status_code == 200
    assert (
        client_for(chain.agents[0]).get(reverse("dashboard:fragment", args=["nope"])).status_code
        == 404
    )


def test_a_member_sees_no_assign_choice_and_cannot_ack_other_teams(chain):
    escalation = escalate(chain, new_ticket(chain))
    html = page(client_for(chain.agents[1]))
    assert "Acknowledge and take it" in html and "Acknowledge and assign" not in html
    # The L3 lead sees nothing of L2's queue: nothing to acknowledge.
    assert escalation.ticket.reference not in page(client_for(chain.leads[2]))


# --- Actions in place ---------------------------------------------------------------------------


def ack(client: Client, *values: str, htmx: bool = True, **extra) -> object:
    data = {"escalation": list(values), **extra}
    return client.post(reverse("dashboard:acknowledge"), data, **(HTMX if htmx else {}))


def test_acknowledge_one_in_place(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    response = ack(client_for(chain.leads[1]), f"{escalation.pk}:{version}")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "dashboard-refresh"
    body = response.content.decode()
    assert "acknowledged for L2" in body
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert escalation.acknowledged_by == chain.leads[1]
    assert TicketEvent.objects.filter(
        ticket=escalation.ticket, kind=TicketEvent.Kind.ACKNOWLEDGED, actor=chain.leads[1]
    ).exists()


def test_stale_acknowledge_is_refused_with_a_message(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1])  # another tab
    response = ack(client_for(chain.leads[1]), f"{escalation.pk}:{version}")
    assert response.status_code == 409
    assert "action-refused" in response.content.decode()
    assert escalation.ticket.reference in response.content.decode()
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ACKNOWLEDGED).count() == 1


def test_double_submit_acknowledges_once(chain):
    escalation = escalate(chain, new_ticket(chain))
    value = f"{escalation.pk}:{Ticket.objects.get().version}"
    client = client_for(chain.leads[1])
    assert ack(client, value).status_code == 200
    assert ack(client, value).status_code == 409
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ACKNOWLEDGED).count() == 1


def test_bulk_acknowledge_reports_each(chain):
    rows = [escalate(chain, new_ticket(chain, subject=f"Bulk {n}")) for n in range(3)]
    values = [f"{e.pk}:{Ticket.objects.get(pk=e.ticket_id).version}" for e in rows]
    response = ack(client_for(chain.leads[1]), *values)
    assert response.status_code == 200
    assert response.content.decode().count("action-done") == 3
    assert set(Escalation.objects.values_list("status", flat=True)) == {"acknowledged"}


def test_bulk_acknowledge_with_one_stale(chain):
    fresh, stale = (escalate(chain, new_ticket(chain)) for _n in range(2))
    versions = {e.pk: Ticket.objects.get(pk=e.ticket_id).version for e in (fresh, stale)}
    esc.escalation_acknowledge(escalation=stale, actor=chain.agents[1])
    response = ack(client_for(chain.leads[1]), *[f"{pk}:{v}" for pk, v in versions.items()])
    assert response.status_code == 200  # one done
    body = response.content.decode()
    assert body.count("action-done") == 1 and body.count("action-refused") == 1


def test_acknowledge_and_assign_to_a_member(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    member = chain.agents[1]
    response = ack(client_for(chain.leads[1]), f"{escalation.pk}:{version}", assignee=member.pk)
    assert response.status_code == 200
    assert Ticket.objects.get().assignee == member
    # A member may not hand it to someone else.
    other = escalate(chain, new_ticket(chain))
    response = ack(
        client_for(member),
        f"{other.pk}:{Ticket.objects.get(pk=other.ticket_id).version}",
        assignee=chain.leads[1].pk,
    )
    assert response.status_code == 400
    assert Escalation.objects.get(pk=other.pk).status == Escalation.Status.RAISED


def test_acknowledge_by_an_outsider_and_bad_input(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    # L1's agent can read the ticket (follows it) but is not the receiving team.
    response = ack(client_for(chain.agents[0]), f"{escalation.pk}:{version}")
    assert response.status_code == 403
    assert ack(client_for(chain.leads[1])).status_code == 400  # nothing chosen
    assert ack(client_for(chain.leads[1]), "junk", ":3").status_code == 400
    assert ack(client_for(chain.leads[1]), "999999:1").status_code == 404
    assert ack(client_for(chain.leads[2]), f"{escalation.pk}:{version}").status_code == 404
    assert (
        ack(client_for(chain.leads[1]), f"{escalation.pk}:{version}", assignee="x").status_code
        == 400
    )


def test_acknowledge_without_javascript_redirects_to_the_same_view(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    response = ack(
        client_for(chain.leads[1]), f"{escalation.pk}:{version}", htmx=False, query="priority=3"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:index") + "?priority=3"


def test_action_panel_reassign_and_stale(chain):
    ticket = new_ticket(chain, level=2)
    lead = chain.leads[1]
    client = client_for(lead)
    panel = client.get(reverse("dashboard:actions", args=[ticket.reference]), **HTMX)
    html = panel.content.decode()
    assert panel.status_code == 200
    assert "Reassign" in html and "Escalate this ticket" in html
    assert reverse("dashboard:escalate", args=[ticket.reference]) in html
    url = reverse("dashboard:reassign", args=[ticket.reference])
    response = client.post(url, {"assignee": chain.agents[1].pk, "version": ticket.version}, **HTMX)
    assert response.status_code == 200
    assert Ticket.objects.get().assignee == chain.agents[1]
    # The same form again: the ticket moved on, refused with what happened.
    again = client.post(url, {"assignee": "", "version": ticket.version}, **HTMX)
    assert again.status_code == 409
    assert Ticket.objects.get().assignee == chain.agents[1]
    assert client.post(url, {"assignee": "999999", "version": ""}, **HTMX).status_code == 422
    # Without JavaScript: a page of its own.
    assert (
        "Back to the dashboard"
        in client.get(reverse("dashboard:actions", args=[ticket.reference])).content.decode()
    )


def test_escalate_further_needs_the_package_and_checklist(chain):
    ticket = new_ticket(chain, level=2)
    client = client_for(chain.leads[1])
    url = reverse("dashboard:escalate", args=[ticket.reference])
    bad = client.post(
        url, {"kind": "hierarchical", "reason": "x", "version": ticket.version}, **HTMX
    )
    assert bad.status_code == 422
    assert "Say what happened." in bad.content.decode()
    data = {
        "kind": "hierarchical",
        "reason": "Needs the incident manager",
        "summary": "Checkout down",
        "actions_taken": "Restarted",
        "version": ticket.version,
        **{name: "on" for name, _label in CHECKLIST},
    }
    response = client.post(url, data, **HTMX)
    assert response.status_code == 200, response.content.decode()
    assert "has been escalated to L3" in response.content.decode()
    assert Ticket.objects.get().team == chain.teams[2]
    assert client.post(url, data, **HTMX).status_code in (403, 409)  # stale: moved on


def test_deescalate_with_a_reason(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    ticket.refresh_from_db()
    url = reverse("dashboard:deescalate", args=[ticket.reference])
    client = client_for(chain.leads[1])
    missing = client.post(
        url, {"to_team": chain.teams[0].pk, "reason": "", "version": ticket.version}, **HTMX
    )
    assert missing.status_code == 422
    assert (
        client_for(chain.agents[1])
        .post(url, {"to_team": chain.teams[0].pk, "reason": "x", "version": ticket.version}, **HTMX)
        .status_code
        == 403
    )
    done = client.post(
        url,
        {
            "to_team": chain.teams[0].pk,
            "reason": "Password reset, L1 can do it",
            "version": ticket.version,
        },
        **HTMX,
    )
    assert done.status_code == 200
    assert "handed back to L1" in done.content.decode()
    assert Ticket.objects.get().team == chain.teams[0]
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.DE_ESCALATED).count() == 1


# --- Filters ------------------------------------------------------------------------------------


def test_filters_narrow_every_section_and_stay_in_the_links(chain):
    admin = UserFactory(username="boss", is_superuser=True)
    checkout = Service.objects.create(name="Checkout")
    vip = CustomerFactory(name="Big", tier="enterprise")
    l2 = chain.teams[1]
    late_ticket(
        l2,
        subject="Enterprise checkout",
        customer=vip,
        service=checkout,
        impact=1,
        urgency=1,
        priority=1,
    )
    late_ticket(chain.teams[0], subject="Standard L1")
    client = client_for(admin)

    def shown(**params) -> set[str]:
        late = client.get(reverse("dashboard:index"), params).context["late"]
        return {r.ticket.subject for r in late.at_risk}

    assert shown() == {"Enterprise checkout", "Standard L1"}
    assert shown(team=l2.pk) == {"Enterprise checkout"}
    assert shown(level=chain.teams[0].level_id) == {"Standard L1"}
    assert shown(priority=1) == {"Enterprise checkout"}
    assert shown(tier="enterprise") == {"Enterprise checkout"}
    assert shown(service=checkout.pk) == {"Enterprise checkout"}
    assert shown(team="bogus", priority="9") == {"Enterprise checkout", "Standard L1"}
    html = page(client, tier="enterprise")
    assert "?query=tier%3Denterprise" in html  # the action links keep the view
    assert reverse("dashboard:trend_csv", args=["compliance"]) + "?tier=enterprise" in html


# --- Trends and CSV ---------------------------------------------------------------------------


def test_csv_cells_are_neutralised():
    assert [neutralise(v) for v in ["=1+1", "+49", "-2", "@x", "\tx", "\rx", "ok", 3, None]] == [
        "'=1+1",
        "'+49",
        "'-2",
        "'@x",
        "'\tx",
        "'\rx",
        "ok",
        "3",
        "",
    ]


def test_trend_csv_downloads_with_neutralised_labels(chain):
    SupportLevel.objects.filter(pk=chain.teams[1].level_id).update(name="=HYPERLINK(1)")
    escalate(chain, new_ticket(chain))
    response = client_for(chain.leads[1]).get(reverse("dashboard:trend_csv", args=["escalations"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "Day,'=HYPERLINK(1)"
    assert lines[-1] == f"{timezone.localdate().isoformat()},1"
    assert len(lines) == 31
    for name in ("compliance", "acknowledgement"):
        assert (
            client_for(chain.leads[1]).get(reverse("dashboard:trend_csv", args=[name])).status_code
            == 200
        )
    assert (
        client_for(chain.leads[1]).get(reverse("dashboard:trend_csv", args=["x"])).status_code
        == 404
    )


def test_page_has_charts_with_tables(chain):
    html = page(client_for(chain.leads[1]))
    assert html.count("<canvas") == 3
    assert html.count("Show the figures") == 3
    assert 'id="trend-data"' in html
    assert "Download as CSV" in html


# --- Query counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["needs", "late", "load"])
def test_fragment_queries_stay_flat(chain, name, django_assert_max_num_queries):
    lead = chain.leads[1]
    client = client_for(lead)

    def add(n: int) -> None:
        for i in range(n):
            escalate(chain, new_ticket(chain, subject=f"E{i}"))
            late_ticket(chain.teams[1], subject=f"R{i}", assignee=chain.agents[1])
            late_ticket(chain.teams[1], subject=f"B{i}", breached=True)
            TicketFactory(
                team=chain.teams[1],
                status=Ticket.Status.OPEN,
                next_update_due_at=timezone.now() - H,
            )

    def render() -> int:
        with django_assert_max_num_queries(14) as captured:
            response = client.get(reverse("dashboard:fragment", args=[name]), **HTMX)
            assert response.status_code == 200
        return len(captured.captured_queries)

    add(2)
    few = render()
    add(8)
    assert render() == few


def test_whole_page_queries_stay_flat(chain, django_assert_max_num_queries):
    # 31 for a lead with the trends counted afresh: the reader's scope is read once for every
    # section (`DashboardScope`), and the SLA counts once for the two sections that show them.
    client = client_for(chain.leads[1])

    def render() -> int:
        with django_assert_max_num_queries(31) as captured:
            assert client.get(reverse("dashboard:index")).status_code == 200
        return len(captured.captured_queries)

    escalate(chain, new_ticket(chain))
    few = render()
    for i in range(6):
        e = escalate(chain, new_ticket(chain, subject=f"More {i}"))
        if i % 2:
            esc.escalation_acknowledge(escalation=e, actor=chain.agents[1])
    assert render() == few


def test_the_way_back_keeps_only_the_filters(chain):
    escalation = escalate(chain, new_ticket(chain))
    version = Ticket.objects.get().version
    response = ack(
        client_for(chain.leads[1]),
        f"{escalation.pk}:{version}",
        htmx=False,
        query="tier=enterprise&next=//evil.example&priority=1 2",
    )
    assert response["Location"] == reverse("dashboard:index") + "?priority=1+2&tier=enterprise"


def test_trends_are_cached_per_scope(chain, settings, django_assert_max_num_queries):
    from django.core.cache import cache

    settings.DASHBOARD_TRENDS_CACHE_SECONDS = 60
    cache.clear()
    client = client_for(chain.leads[1])
    escalate(chain, new_ticket(chain))
    url = reverse("dashboard:trend_csv", args=["escalations"])
    assert client.get(url).content.decode().splitlines()[-1].endswith(",1")
    escalate(chain, new_ticket(chain))
    # The same scope within the minute: the cached figures, without counting again.
    with django_assert_max_num_queries(8):
        assert client.get(url).content.decode().splitlines()[-1].endswith(",1")
    # Another scope (the L1 agent's team) is counted for itself.
    assert client_for(chain.agents[0]).get(url).content.decode().splitlines()[0] == "Day"
    cache.clear()


def test_a_lead_sees_what_they_may_read_on_their_level(chain):
    """`visible_to` decides what may be read; the dashboard picks the lead's levels and teams
    out of it: another team's ticket on the lead's level (readable here because the lead
    follows it), not one on another level, and not for a member who follows it."""
    lead, member = chain.leads[1], chain.agents[1]
    lateral = late_ticket(chain.security, subject="Security, level 2")
    above = late_ticket(chain.teams[2], subject="Level 3")
    late_ticket(chain.teams[1], subject="Own team")
    for ticket in (lateral, above):
        ticket.watchers.add(lead, member)

    def subjects(user) -> set[str]:
        scope = selectors.dashboard_tickets(user, selectors.DashboardFilters())
        return set(scope.values_list("subject", flat=True))

    assert subjects(lead) == {"Security, level 2", "Own team"}
    assert subjects(member) == {"Own team"}


def test_the_resolved_scope_is_the_dashboards_scope(chain):
    """The live sections read the reader's scope resolved once per request (`DashboardScope`:
    team ids and, for a lead, the ids of readable tickets on their levels outside their teams)
    instead of the visibility predicate in every statement. On what they read — active tickets
    and tickets escalated today — it is exactly `dashboard_tickets`, for each way `visible_to`
    lets a lead read another team's ticket on their level, and for members and admins."""
    lead, member = chain.leads[1], chain.agents[1]
    security, l3 = chain.security, chain.teams[2]
    level2 = chain.teams[1].level
    on_level2 = {"level": level2, "status": Ticket.Status.OPEN}
    readable = {
        "assigned": TicketFactory(team=security, assignee=lead, **on_level2),
        "created": TicketFactory(team=security, created_by=lead, **on_level2),
        "followed": TicketFactory(team=l3, **on_level2),  # lateral keeps the level
        "held before": TicketFactory(team=security, **on_level2),
    }
    readable["followed"].watchers.add(lead)
    TicketEvent.objects.create(
        ticket=readable["held before"],
        kind=TicketEvent.Kind.TEAM_CHANGED,
        payload={"from": "L2", "to": "Security"},
    )
    unreadable = TicketFactory(team=security, subject="Not the lead's", **on_level2)
    followed_elsewhere = TicketFactory(team=l3, status=Ticket.Status.OPEN)  # level 3
    followed_elsewhere.watchers.add(lead)
    own = TicketFactory(team=chain.teams[1], status=Ticket.Status.OPEN)
    own_done = TicketFactory(team=chain.teams[1], resolved=True)
    # Resolved tickets outside the lead's teams: one escalated today (the load counts it),
    # one not (nothing live reads it).
    done_today = TicketFactory(team=security, level=level2, assignee=lead, resolved=True)
    TicketFactory(team=security, level=level2, assignee=lead, resolved=True)
    Escalation.objects.create(
        ticket=done_today,
        kind=Escalation.Kind.FUNCTIONAL,
        status=Escalation.Status.ACKNOWLEDGED,
        cycle=1,
        from_team=chain.teams[1],
        to_team=security,
        from_level=level2,
        to_level=level2,
        raised_at=timezone.now(),
    )
    now = timezone.now()
    live = Q(status__in=Ticket.ACTIVE_STATUSES) | Q(
        pk__in=Escalation.objects.filter(raised_at__gte=selectors.local_midnight(now)).values(
            "ticket_id"
        )
    )
    admin = UserFactory(username="boss", is_superuser=True)
    for user in (lead, member, chain.agents[0], chain.leads[0], chain.leads[2], admin):
        for filters in (selectors.DashboardFilters(), selectors.DashboardFilters(level=level2)):
            expected = set(selectors.dashboard_tickets(user, filters).filter(live))
            resolved = selectors.DashboardScope(user, now).tickets(filters)
            assert set(resolved.filter(live)) == expected, user.username
    got = set(selectors.DashboardScope(lead, now).tickets(selectors.DashboardFilters()))
    assert got == {*readable.values(), own, own_done, done_today}
    assert unreadable not in got and followed_elsewhere not in got


def test_the_page_in_german(chain):
    escalate(chain, new_ticket(chain))
    client = client_for(chain.leads[1])
    client.cookies["django_language"] = "de"
    html = page(client)
    assert 'lang="de"' in html
    assert "Braucht jetzt einen Menschen" in html
    assert "Warten auf Bestätigung" in html or "Ausgewählte bestätigen" in html
    assert "Verläufe der letzten 30 Tage" in html


@pytest.mark.postgres
def test_the_app_connections_run_without_jit(db):
    # Compiling took 2 s of a 75 ms aggregate (the list's view counts) at 100k tickets.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
