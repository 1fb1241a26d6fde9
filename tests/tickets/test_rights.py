"""Who may read a ticket, who may find its owner, and who may move it — through the real URLs.

Reading and commenting (`Ticket.objects.visible_to`) belongs to the owning team, assignees,
followers, the creator and former holders; every agent may look up the ownership card
(`findable_by`); moving the ticket (`tickets.services.can_move`) belongs to the owning team,
its lead, the levels above and admins.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from escalation import services as esc
from escalation.forms import CHECKLIST
from escalation.models import Escalation
from tests.escalation.test_services import Chain
from tests.escalation.test_views import chain, client_for, escalate
from tests.escalation.test_views import new_ticket as views_new_ticket
from tests.factories import AdminFactory, UserFactory
from tickets import services
from tickets.models import Message, Ticket
from tickets.selectors import ticket_for_user

pytestmark = pytest.mark.django_db
__all__ = ["chain"]  # the fixture, shared with the escalation views' tests


def new_ticket(chain: Chain, **fields) -> Ticket:
    """A ticket of the 1st level (or `level`) with content that no card may show."""
    return views_new_ticket(chain, description="Secret stack trace", **fields)


def templates(response) -> list[str]:
    return [t.name for t in response.templates]


# --- 1. Any agent can find the current owner --------------------------------------------------


def test_an_outsider_agent_gets_the_ownership_card_without_content(chain):
    ticket = new_ticket(chain)
    chain.teams[0].email = "l1@example.com"
    chain.teams[0].save()
    services.ticket_assign(ticket=ticket, actor=chain.leads[0], assignee=chain.agents[0])
    services.ticket_add_note(ticket=ticket, actor=chain.agents[0], body="Internal secret note")
    outsider = chain.security.members.get()
    response = client_for(outsider).get(ticket.get_absolute_url())
    assert response.status_code == 200
    assert "tickets/card.html" in templates(response)
    body = response.content.decode()
    for shown in (
        ticket.reference,
        "Checkout fails",
        "L1",
        chain.teams[0].level.name,
        chain.agents[0].email,  # the owner, with contact
        chain.leads[0].email,  # the lead, with contact
        "l1@example.com",
        "Next update due",
    ):
        assert shown in body, shown
    for hidden in ("Secret stack trace", "Internal secret note", "Send reply", "Escalate"):
        assert hidden not in body, hidden


def test_customers_and_anonymous_users_find_nothing(chain, client):
    ticket = new_ticket(chain)
    response = client.get(ticket.get_absolute_url())
    assert response.status_code == 302  # to the login page
    stranger = UserFactory()  # a user in no team: not an agent
    assert client_for(stranger).get(ticket.get_absolute_url()).status_code == 404
    response = client_for(stranger).get(reverse("tickets:list"), {"q": ticket.reference})
    assert response.context["cards"] == []
    assert list(Ticket.objects.findable_by(AnonymousUser())) == []
    assert list(Ticket.objects.findable_by(stranger)) == []


def test_search_by_reference_or_customer_shows_cards_of_other_teams(chain):
    ticket = new_ticket(chain)
    outsider = chain.agents[3]
    for q in (ticket.reference, "acme"):
        response = client_for(outsider).get(reverse("tickets:list"), {"q": q})
        assert response.context["page"].tickets == []
        assert response.context["cards"] == [ticket]
        body = response.content.decode()
        assert "ownership-card" in body and chain.leads[0].email in body
        assert "Secret stack trace" not in body
    # Content is not searched for cards: the description finds nothing.
    response = client_for(outsider).get(reverse("tickets:list"), {"q": "stack trace"})
    assert response.context["cards"] == []


def test_search_with_cards_keeps_a_flat_query_count(chain, django_assert_max_num_queries):
    outsider = chain.agents[3]
    client = client_for(outsider)
    new_ticket(chain)

    def search() -> int:
        # 14: the service filter's choices are one query (the same however many tickets);
        # 15: whether the reader may link ticked tickets to a major incident is one more.
        with django_assert_max_num_queries(15) as captured:
            assert client.get(reverse("tickets:list"), {"q": "acme"}).status_code == 200
        return len(captured.captured_queries)

    few = search()
    for _ in range(5):
        new_ticket(chain)
    assert search() == few


def test_the_escalation_overview_lists_escalations_of_other_teams(chain):
    ticket = new_ticket(chain, level=3)
    esc.escalation_raise(
        ticket=ticket,
        actor=chain.agents[2],
        kind="hierarchical",
        package=esc.Package(summary="x", actions_taken="y"),
    )
    response = client_for(chain.agents[0]).get(reverse("escalation:list"))
    assert [e.ticket for e in response.context["overview"].waiting] == [ticket]
    assert ticket.get_absolute_url() in response.content.decode()


def test_former_team_lead_and_assignee_keep_reading_after_an_automatic_escalation(chain):
    ticket = new_ticket(chain)
    services.ticket_assign(ticket=ticket, actor=chain.leads[0], assignee=chain.agents[0])
    # A Sev 1 re-assessment escalates it at once, by rule (no person), up to level 3.
    services.ticket_change_priority(ticket=ticket, actor=None, reason="outage", impact=1, urgency=1)
    ticket.refresh_from_db()
    assert ticket.level.rank > 1 and ticket.assignee is None
    for former in (chain.agents[0], chain.leads[0]):
        response = client_for(former).get(ticket.get_absolute_url())
        assert response.status_code == 200
        assert "tickets/detail.html" in templates(response)
        assert "Secret stack trace" in response.content.decode()
        # They may comment ...
        response = client_for(former).post(
            reverse("tickets:message", args=[ticket.reference]),
            {"body": "Context", "internal": "on"},
        )
        assert response.status_code == 302
    assert Message.objects.filter(ticket=ticket, body="Context").count() == 2


def test_the_creator_of_a_sev1_ticket_lands_on_it(chain):
    client = client_for(chain.agents[0])
    response = client.post(
        reverse("tickets:create"),
        {
            "subject": "Everything down",
            "team": chain.teams[0].pk,
            "impact": 1,
            "urgency": 1,
            "channel": "phone",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(subject="Everything down")
    assert ticket.level.rank > 1  # escalated away in the same request
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "tickets/detail.html" in templates(page)


def test_visible_to_includes_creator_and_former_holders(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    readable = set(Ticket.objects.visible_to(chain.leads[0]).values_list("pk", flat=True))
    assert ticket.pk in readable  # L1's lead: a former holder
    assert ticket.pk in set(Ticket.objects.visible_to(chain.agents[0]).values_list("pk", flat=True))
    assert ticket.pk not in set(
        Ticket.objects.visible_to(chain.agents[3]).values_list("pk", flat=True)
    )


# --- 3. Who may move a ticket after it left the team ------------------------------------------


def offered(client: Client, ticket: Ticket) -> dict[str, bool]:
    body = client.get(ticket.get_absolute_url()).content.decode()
    return {
        # The escalate form is loaded when its panel is opened: the page offers what loads it.
        "escalate": reverse("tickets:escalate_form", args=[ticket.reference]) in body,
        "transition": reverse("tickets:transition", args=[ticket.reference, "open"]) in body,
        "assign": reverse("tickets:assign", args=[ticket.reference]) in body,
        "priority": reverse("tickets:priority", args=[ticket.reference]) in body,
        "reply": reverse("tickets:message", args=[ticket.reference]) in body,
    }


def test_the_page_offers_moves_only_to_the_owning_team_its_lead_the_levels_above_and_admins(
    chain, admin_user
):
    ticket = new_ticket(chain)
    escalate(chain, ticket)  # now owned by L2, waiting for acknowledgement
    everything = dict.fromkeys(("escalate", "transition", "assign", "priority", "reply"), True)
    read_and_comment = everything | {
        "escalate": False,
        "transition": False,
        "assign": False,
        "priority": False,
    }
    assert offered(client_for(chain.agents[0]), ticket) == read_and_comment  # escalated it
    assert offered(client_for(chain.leads[0]), ticket) == read_and_comment  # former lead
    assert offered(client_for(chain.agents[1]), ticket) == everything  # owning team
    assert offered(client_for(chain.leads[1]), ticket) == everything  # its lead
    assert offered(client_for(admin_user), ticket) == everything
    # L3 is a level above: it may move the ticket (the services allow it, see below), but it
    # does not read L2's tickets, so its page is the card.
    assert "tickets/card.html" in templates(
        client_for(chain.agents[2]).get(ticket.get_absolute_url())
    )
    page = client_for(chain.agents[0]).get(ticket.get_absolute_url()).content.decode()
    assert "Up the escalation chain to L3" not in page
    assert "decide where this ticket goes" in page


@pytest.mark.parametrize("action", ["transition", "assign", "priority", "raise"])
def test_the_services_refuse_a_former_holder_and_the_url_answers_403(chain, action):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    ticket.refresh_from_db()
    former = chain.agents[0]
    version = ticket.version
    urls = {
        "transition": (reverse("tickets:transition", args=[ticket.reference, "open"]), {}),
        "assign": (
            reverse("tickets:assign", args=[ticket.reference]),
            {"team": chain.teams[1].pk, "assignee": ""},
        ),
        "priority": (
            reverse("tickets:priority", args=[ticket.reference]),
            {"impact": 1, "urgency": 1, "reason": "mine"},
        ),
        "raise": (
            reverse("escalation:raise", args=[ticket.reference]),
            {
                "kind": "hierarchical",
                "reason": "again",
                "summary": "s",
                "actions_taken": "a",
                **{name: "on" for name, _label in CHECKLIST},
            },
        ),
    }
    url, data = urls[action]
    response = client_for(former).post(url, {**data, "version": version})
    assert response.status_code == 403
    assert "can move it" in response.content.decode()
    ticket.refresh_from_db()
    assert (ticket.version, ticket.status, ticket.team) == (version, "new", chain.teams[1])
    assert Escalation.objects.filter(ticket=ticket).count() == 1


def test_can_move_covers_levels_above_and_refuses_followers(chain, admin_user):
    ticket = new_ticket(chain, level=2)
    follower = chain.agents[0]
    ticket.watchers.add(follower)
    assert services.can_move(ticket, chain.agents[1])
    assert services.can_move(ticket, chain.leads[1])
    assert services.can_move(ticket, chain.agents[2])  # a level above
    assert services.can_move(ticket, admin_user)
    assert not services.can_move(ticket, follower)  # reads and comments only
    assert not services.can_move(ticket, AnonymousUser())
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket=ticket, actor=follower, name="open")
    # A level above may move it (through the service or the API) without reading it.
    services.ticket_transition(ticket=ticket, actor=chain.agents[2], name="open")


# --- 5. The ticket page reads the rights with the ticket ------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3])
def test_the_rights_read_with_the_ticket_are_those_asked_on_their_own(chain, level):
    """`ticket_for_user` annotates the reader's rights (`services.rights_annotations`):
    `ticket_rights` answers from them without a query, and answers what it answers asking
    the database for every reader — owning team, levels above and below, lead, functional
    team, a user of no team, an admin."""
    ticket = new_ticket(chain, level=level)
    readers = [
        *chain.agents,
        *chain.leads,
        chain.security.members.get(),
        UserFactory(username="nobody"),
        AdminFactory(),
    ]
    ticket.watchers.add(*readers)  # every reader may read it
    seen = set()
    for reader in readers:
        asked = services.ticket_rights(Ticket.objects.get(pk=ticket.pk), reader)
        read = ticket_for_user(reader, ticket.reference)
        with CaptureQueriesContext(connection) as queries:
            annotated = services.ticket_rights(read, reader)
        assert annotated == asked, reader.username
        assert len(queries.captured_queries) == 0, reader.username
        seen.add(asked)
    # The readers cover every combination the page distinguishes (below the ticket's level
    # an agent reads it but may not move it; at the 1st level there is nobody below).
    below = {services.TicketRights(agent=True, move=False)} if level > 1 else set()
    assert seen == {
        services.TicketRights(agent=True, move=True),
        services.TicketRights(agent=False, move=False),
        *below,
    }
