"""Django admin of the ticket domain: pages load, the chain stays a chain, tickets change only
through the services, and the timeline stays read-only."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.factories import (
    CustomerFactory,
    SupportLevelFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets import services
from tickets.models import Contact, Customer, Service, SupportLevel, Team, Ticket, TicketEvent

User = get_user_model()

pytestmark = pytest.mark.django_db


def url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def levels() -> dict[int, SupportLevel]:
    return {rank: SupportLevelFactory(rank=rank) for rank in (1, 2, 3, 4)}


@pytest.fixture
def chain(levels, agent) -> list[Team]:
    """Service Desk (1) → Experts (2) → Incident Management (3) → Management (4)."""
    top = TeamFactory(name="Management", level=levels[4])
    incident = TeamFactory(name="Incident Management", level=levels[3], escalates_to=top)
    experts = TeamFactory(name="Experts", level=levels[2], escalates_to=incident)
    desk = TeamFactory(name="Service Desk", level=levels[1], escalates_to=experts, members=[agent])
    return [desk, experts, incident, top]


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def open_ticket(team: Team, actor, **kw) -> Ticket:
    """A ticket as the app makes it: created, replied to, with a customer message."""
    ticket = services.ticket_create(
        actor=actor,
        data=services.NewTicket(
            subject=kw.pop("subject", "Portal down"),
            description="Since 9:00 nothing works.",
            team=team,
            customer=kw.pop("customer", None) or CustomerFactory(name="Müller GmbH"),
        ),
    )
    services.ticket_reply(ticket=ticket, actor=actor, body="We are on it.")
    services.ticket_add_customer_message(ticket=ticket, body="Thanks!")
    return Ticket.objects.get(pk=ticket.pk)


def action(client, name: str, tickets: list[Ticket], **extra: str):
    """Run an admin action; follows the redirect, so the messages are shown (and consumed)."""
    data = {"action": name, admin.helpers.ACTION_CHECKBOX_NAME: [t.pk for t in tickets]}
    return client.post(url(Ticket, "changelist"), {**data, **extra}, follow=True)


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Every page loads ---------------------------------------------------------------------


EXPECTED = {SupportLevel, Team, Customer, Contact, Service, Ticket, TicketEvent}


def test_the_ticket_domain_models_are_registered():
    registered = {model for model in admin.site._registry if model._meta.app_label == "tickets"}
    assert registered == EXPECTED
    assert User in admin.site._registry


@pytest.mark.parametrize(
    "model", [SupportLevel, Team, Customer, Contact, Service, Ticket, TicketEvent, User]
)
def test_changelist_and_change_page_load_with_data(admin_client, chain, agent, model):
    ticket = open_ticket(chain[0], agent)
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    obj = {
        Contact: Contact.objects.create(customer=ticket.customer, email="Ana@Example.org"),
        Service: Service.objects.create(name="Checkout", name_de="Kasse", owning_team=chain[0]),
        SupportLevel: chain[1].level,
        Team: chain[0],
        Customer: ticket.customer,
        Ticket: ticket,
        TicketEvent: ticket.events.first(),
        User: agent,
    }[model]

    listing = admin_client.get(url(model, "changelist"))
    assert listing.status_code == 200
    assert listing.context["cl"].result_count >= 1

    assert url(model, "change", obj.pk) in listing.text  # the row, with its link

    page = admin_client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    assert f"<h2>{escape(str(obj))}</h2>" in page.text


def test_ticket_list_searches_and_filters(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent, subject="Invoice twice")
    other = open_ticket(chain[0], agent, subject="Login broken", customer=CustomerFactory())
    changelist = url(Ticket, "changelist")

    for query, expected in (
        ({"q": ticket.reference}, {ticket}),
        ({"q": "invoice"}, {ticket}),
        ({"q": "Müller"}, {ticket}),
        ({"status__exact": "new"}, {ticket, other}),
        ({"team__id__exact": chain[0].pk, "priority__exact": ticket.priority}, {ticket, other}),
        ({"status__exact": "closed"}, set()),
    ):
        response = admin_client.get(changelist, query)
        assert response.status_code == 200, query
        assert set(response.context["cl"].result_list) == expected, query


def test_team_list_shows_the_chain_without_a_query_per_row(admin_client, chain, levels):
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url(Team, "changelist"))
    assert "Service Desk → Experts → Incident Management → Management" in response.text
    for n in range(6):
        TeamFactory(name=f"Desk {n}", level=levels[1], escalates_to=chain[1])
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url(Team, "changelist"))
    assert "Desk 5 → Experts → Incident Management → Management" in response.text
    assert len(many) == len(few)


def test_team_change_page_shows_the_chain_with_levels(admin_client, chain):
    response = admin_client.get(url(Team, "change", chain[0].pk))
    assert (
        f"Service Desk ({chain[0].level.name}) → Experts ({chain[1].level.name})" in response.text
    )


def test_user_page_shows_team_memberships(admin_client, chain, agent):
    response = admin_client.get(url(User, "change", agent.pk))
    assert response.status_code == 200
    formsets = response.context["inline_admin_formsets"]
    assert [f.formset.prefix for f in formsets] == ["Team_members"]
    assert formsets[0].formset.queryset.get().team == chain[0]


# --- Tickets: read-only where a service owns the change -----------------------------------


def test_ticket_form_has_no_status_field(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    response = admin_client.get(url(Ticket, "change", ticket.pk))
    form = response.context["adminform"].form
    assert set(form.fields) == {"subject", "description"}
    assert "status" in response.context["adminform"].readonly_fields


def test_posting_a_status_changes_nothing_but_the_wording(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    # A service changes the ticket while the admin page is open: saving must not undo it.
    Ticket.objects.filter(pk=ticket.pk).update(priority=1, assignee=agent)
    response = admin_client.post(
        url(Ticket, "change", ticket.pk),
        {
            "subject": "Portal down (Berlin)",
            "description": "Since 9:00 nothing works.",
            "status": "closed",
            "team": "",
            "reference": "HACKED",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.subject == "Portal down (Berlin)"
    assert (stored.status, stored.reference, stored.team) == (
        Ticket.Status.NEW,
        ticket.reference,
        chain[0],
    )
    assert (stored.priority, stored.assignee) == (1, agent)


def test_tickets_cannot_be_added_or_deleted(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    assert admin_client.get(url(Ticket, "add")).status_code == 403
    assert admin_client.get(url(Ticket, "delete", ticket.pk)).status_code == 403
    assert admin_client.post(url(Ticket, "delete", ticket.pk), {"post": "yes"}).status_code == 403
    response = admin_client.get(url(Ticket, "changelist"))
    actions = dict(response.context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert {"resolve_tickets", "reopen_tickets", "close_tickets", "assign_tickets"} <= set(actions)
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_timeline_is_read_only_everywhere(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    event = ticket.events.first()
    assert admin_client.get(url(TicketEvent, "add")).status_code == 403
    assert admin_client.get(url(TicketEvent, "delete", event.pk)).status_code == 403
    assert admin_client.post(url(TicketEvent, "change", event.pk), {}).status_code == 403
    view = admin_client.get(url(TicketEvent, "change", event.pk))
    assert view.status_code == 200
    assert view.context["has_change_permission"] is False

    page = admin_client.get(url(Ticket, "change", ticket.pk))
    for inline in page.context["inline_admin_formsets"]:
        assert not inline.has_add_permission
        assert not inline.has_change_permission
        assert not inline.has_delete_permission
        assert len(inline.formset.forms) >= 1  # the messages and events are shown

    listing = admin_client.get(url(TicketEvent, "changelist"), {"kind__exact": "replied"})
    assert [e.kind for e in listing.context["cl"].result_list] == ["replied"]


def test_timeline_search_by_reference_or_actor(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    other = open_ticket(chain[0], agent, subject="Other")
    services.ticket_transition(ticket=other, actor=agent, name="resolve")
    changelist = url(TicketEvent, "changelist")

    by_reference = admin_client.get(changelist, {"q": ticket.reference.lower()})
    assert {e.ticket for e in by_reference.context["cl"].result_list} == {ticket}
    by_actor = admin_client.get(changelist, {"q": "agent"})
    assert {e.actor for e in by_actor.context["cl"].result_list} == {agent}
    assert by_actor.context["cl"].result_count == 5  # 2 created, 2 replies, 1 transition
    nothing = admin_client.get(changelist, {"q": "nobody"})
    assert nothing.context["cl"].result_count == 0


# --- Actions go through the services -------------------------------------------------------


def test_resolve_action_resolves_through_the_service_and_reports_failures(
    admin_client, admin_user, chain, agent
):
    at = dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.UTC)
    with time_machine.travel(at - dt.timedelta(hours=1), tick=False):
        ticket = open_ticket(chain[0], agent)
    closed = TicketFactory(team=chain[0], closed=True)

    with time_machine.travel(at, tick=False):
        response = action(admin_client, "resolve_tickets", [ticket, closed])

    assert response.redirect_chain
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.status == Ticket.Status.RESOLVED
    assert stored.resolved_at == at
    event = stored.events.filter(kind=TicketEvent.Kind.TRANSITIONED).last()
    assert event.created_at == at
    assert event.actor == admin_user
    assert event.payload == {"from": "new", "to": "resolved", "transition": "resolve"}
    assert Ticket.objects.get(pk=closed.pk).status == Ticket.Status.CLOSED
    assert not closed.events.exists()
    messages = texts(response)
    assert "1 ticket resolved." in messages
    assert any(
        m.startswith("1 ticket could not be resolved:") and closed.reference in m for m in messages
    )


def test_close_and_reopen_actions(admin_client, chain, agent):
    first = open_ticket(chain[0], agent)
    second = open_ticket(chain[0], agent, subject="Other")
    services.ticket_transition(ticket=first, actor=agent, name="resolve")

    response = action(admin_client, "reopen_tickets", [first, second])
    assert texts(response)[0] == "1 ticket reopened."
    assert "could not be reopened" in texts(response)[1]
    reopened = Ticket.objects.get(pk=first.pk)
    assert (reopened.status, reopened.reopen_count) == (Ticket.Status.OPEN, 1)

    services.ticket_transition(ticket=first, actor=agent, name="resolve")
    services.ticket_transition(ticket=second, actor=agent, name="resolve")
    response = action(admin_client, "close_tickets", [first, second])
    assert texts(response) == ["2 tickets closed."]
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.CLOSED}


def test_action_refused_by_the_service_is_reported_not_a_500(client, chain, agent):
    """A staff user who follows a ticket sees it, but is no agent: the service says no."""
    auditor = UserFactory(username="auditor", is_staff=True)
    auditor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_ticket", "change_ticket"])
    )
    followed = open_ticket(chain[0], agent)
    followed.watchers.add(auditor)
    hidden = open_ticket(chain[0], agent, subject="Not for auditors")
    client.force_login(auditor)

    listing = client.get(url(Ticket, "changelist"))
    assert list(listing.context["cl"].result_list) == [followed]

    response = action(client, "resolve_tickets", [followed, hidden])

    assert response.redirect_chain
    [message] = texts(response)
    assert message == (
        f"1 ticket could not be resolved: {followed.reference}: You may not work on this ticket."
    )
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.NEW}


def test_assign_action_asks_for_a_team_then_hands_over(admin_client, chain, agent, other_agent):
    ticket = open_ticket(chain[0], agent)
    chain[1].members.add(other_agent)

    page = action(admin_client, "assign_tickets", [ticket])
    assert page.status_code == 200
    assert "form" in page.context
    assert ticket.reference in page.text

    response = action(
        admin_client,
        "assign_tickets",
        [ticket],
        apply="yes",
        team=str(chain[1].pk),
        assignee=str(other_agent.pk),
        reason="Needs an expert",
    )
    assert response.redirect_chain
    assert texts(response) == ["1 ticket assigned."]
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.team, stored.level, stored.assignee) == (chain[1], chain[1].level, other_agent)
    assert stored.escalation_cycle == 1
    changed = stored.events.get(kind=TicketEvent.Kind.TEAM_CHANGED)
    assert changed.payload == {"from": "Service Desk", "to": "Experts", "reason": "Needs an expert"}


def test_assign_action_reports_an_assignee_outside_the_team(admin_client, chain, agent):
    ticket = open_ticket(chain[0], agent)
    outsider = UserFactory(username="outsider")
    TeamFactory(name="Elsewhere", level=chain[0].level, members=[outsider])
    response = action(
        admin_client,
        "assign_tickets",
        [ticket],
        apply="yes",
        team=str(chain[1].pk),
        assignee=str(outsider.pk),
    )
    assert response.redirect_chain
    assert texts(response)[0].startswith("1 ticket could not be assigned:")
    assert Ticket.objects.get(pk=ticket.pk).team == chain[0]


# --- The escalation chain stays a chain ------------------------------------------------------


def team_data(team: Team | None = None, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {"name": "New team", "kind": "tier", "email": "", "is_active": "on"}
    if team is not None:
        data.update(
            name=team.name,
            kind=team.kind,
            level=team.level_id,
            escalates_to=team.escalates_to_id or "",
        )
    data.update(changes)
    data.setdefault("lead", "")
    data.setdefault("escalates_to", "")
    return {key: value for key, value in data.items() if value is not None}


def errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was saved"
    return response.context["adminform"].form.errors


def test_functional_team_must_not_escalate(admin_client, chain, levels):
    response = admin_client.post(
        url(Team, "add"),
        team_data(name="Security", kind="functional", level=levels[2].pk, escalates_to=chain[2].pk),
    )
    assert "functional team" in errors(response)["escalates_to"][0]
    assert not Team.objects.filter(name="Security").exists()


def test_team_cannot_escalate_to_itself(admin_client, chain):
    experts = chain[1]
    response = admin_client.post(
        url(Team, "change", experts.pk), team_data(experts, escalates_to=experts.pk)
    )
    assert errors(response)["escalates_to"] == ["A team cannot escalate to itself."]


def test_cycle_in_the_chain_is_refused(admin_client, chain):
    top = chain[3]
    response = admin_client.post(
        url(Team, "change", top.pk), team_data(top, escalates_to=chain[1].pk)
    )
    message = errors(response)["escalates_to"][0]
    assert "cycle" in message
    assert "Management → Experts → Incident Management → Management" in message
    assert Team.objects.get(pk=top.pk).escalates_to is None


@pytest.mark.parametrize("target_rank", [1, 2])
def test_team_must_escalate_to_a_higher_level(admin_client, levels, target_rank):
    target = TeamFactory(name="Target", level=levels[target_rank])
    response = admin_client.post(
        url(Team, "add"), team_data(name="Second", level=levels[2].pk, escalates_to=target.pk)
    )
    assert "higher level" in errors(response)["escalates_to"][0]


def test_team_cannot_drop_below_the_teams_escalating_to_it(admin_client, chain, levels):
    experts = chain[1]
    response = admin_client.post(
        url(Team, "change", experts.pk), team_data(experts, level=levels[1].pk)
    )
    assert "Service Desk" in errors(response)["level"][0]


def test_team_cannot_turn_functional_while_teams_escalate_to_it(admin_client, chain):
    experts = chain[1]
    response = admin_client.post(
        url(Team, "change", experts.pk), team_data(experts, kind="functional", escalates_to="")
    )
    assert "Service Desk" in errors(response)["kind"][0]


def test_valid_chain_link_is_saved(admin_client, chain, levels, agent):
    response = admin_client.post(
        url(Team, "add"),
        team_data(
            name="Service Desk EN",
            level=levels[1].pk,
            escalates_to=chain[1].pk,
            lead=agent.pk,
            members=[agent.pk],
        ),
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Service Desk EN")
    assert [t.name for t in team.chain()] == ["Experts", "Incident Management", "Management"]
    assert list(team.members.all()) == [agent]


def test_level_rank_change_that_breaks_the_chain_is_refused(admin_client, chain, levels):
    response = admin_client.post(
        url(SupportLevel, "change", levels[1].pk),
        {"rank": 9, "name": levels[1].name, "description": ""},
    )
    assert "Service Desk → Experts" in errors(response)["rank"][0]
    assert SupportLevel.objects.get(pk=levels[1].pk).rank == 1


def test_ticket_page_shows_every_column():
    """A new Ticket column should be shown (read-only) on the ticket page, not silently hidden."""
    ticket_admin = admin.site._registry[Ticket]
    shown = set(ticket_admin.get_readonly_fields(None)) | set(ticket_admin.editable_fields)
    columns = {f.name for f in Ticket._meta.get_fields() if f.concrete and f.name != "id"}
    assert columns - shown == set()


def test_contact_addresses_are_stored_lower_case_and_found_case_insensitively(db):
    contact = Contact.objects.create(customer=CustomerFactory(), email=" Ana.Berg@Example.ORG ")
    assert contact.email == "ana.berg@example.org"
    assert Contact.objects.for_address("ANA.BERG@example.org") == contact
    assert Contact.objects.for_address("someone@example.org") is None


def test_a_contact_sees_their_own_tickets_and_the_organisations_only_when_allowed(db, chain):
    from tickets.services import NewTicket, ticket_add_customer_message, ticket_create

    acme, other = CustomerFactory(name="Acme"), CustomerFactory(name="Other")
    ana = Contact.objects.create(customer=acme, email="ana@acme.test", name="Ana")
    ben = Contact.objects.create(customer=acme, email="ben@acme.test")
    eve = Contact.objects.create(customer=other, email="eve@other.test")
    checkout = Service.objects.create(name="Checkout")
    by_ana = ticket_create(
        actor=None,
        data=NewTicket(
            subject="Cart empty", description="", team=chain[0], requester=ana, service=checkout
        ),
    )
    by_ben = ticket_create(
        actor=None, data=NewTicket(subject="Invoice", description="", team=chain[0], requester=ben)
    )
    assert by_ana.customer == acme  # the requester's organisation, when none is given
    assert by_ana.events.get().payload["service"] == "Checkout"
    assert list(Ticket.objects.visible_to_contact(ana)) == [by_ana]
    assert list(Ticket.objects.visible_to_contact(eve)) == []
    ana.sees_organisation_tickets = True
    assert set(Ticket.objects.visible_to_contact(ana)) == {by_ana, by_ben}
    ana.portal_access = False
    assert not Ticket.objects.visible_to_contact(ana).exists()
    assert not Ticket.objects.visible_to_contact(None).exists()

    message = ticket_add_customer_message(ticket=by_ben, body="Any news?", contact=ben, intent="x1")
    assert (message.contact, message.author_name) == (ben, "ben@acme.test")
    with pytest.raises(services.StaleRequest):
        ticket_add_customer_message(ticket=by_ben, body="Any news?", contact=ben, intent="x1")
