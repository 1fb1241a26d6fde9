"""Once per intent, acknowledging with a choice, one timeline entry per action, and the
"What was tried" pre-fill — through the real URLs.

Every state-changing form carries the ticket version it was made from (a message form its
idempotency token): a double submit has one effect, and the second request is refused with a
409 that says what happened.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation import services as esc
from escalation.forms import CHECKLIST, TRIED_ENTRIES
from escalation.models import Escalation
from notifications.models import Notification
from tests.escalation.test_views import chain, client_for, escalate, new_ticket
from tickets import services
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
__all__ = ["chain"]  # the fixture, shared with the escalation views' tests
HTMX = {"HTTP_HX_REQUEST": "true"}


def version_in(body: str, action: str) -> str:
    """The version the form posting to `action` carries on the rendered page."""
    start = body.index(f'action="{action}"')
    match = re.search(r'name="version" value="(\d+)"', body[start:])
    assert match, f"no version in the form of {action}"
    return match.group(1)


def submit_twice(client: Client, page_url: str, action: str, data: dict) -> tuple:
    """Load the page, then send its form twice (a double click), the second time with htmx."""
    body = client.get(page_url).content.decode()
    data = {**data, "version": version_in(body, action)}
    return client.post(action, data), client.post(action, data, **HTMX)


ESCALATE = {
    "kind": "hierarchical",
    "reason": "Needs database access",
    "summary": "Checkout returns 500",
    "actions_taken": "Restarted the app servers",
    **{name: "on" for name, _label in CHECKLIST},
}


# --- 2. Once per intent -----------------------------------------------------------------------


def test_a_double_submitted_escalation_escalates_once(chain):
    ticket = new_ticket(chain)
    client = client_for(chain.agents[0])
    first, second = submit_twice(
        client,
        ticket.get_absolute_url() + "?escalate=1",  # the page with its escalate form open
        reverse("escalation:raise", args=[ticket.reference]),
        ESCALATE,
    )
    assert first.status_code == 302
    assert second.status_code == 409
    assert Escalation.objects.filter(ticket=ticket).count() == 1
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[1]
    body = second.content.decode()
    assert re.search(r"Already escalated to L2 at \d\d:\d\d by you\.", body)
    assert Notification.objects.filter(kind=Notification.Kind.ESCALATION_RAISED).count() == (
        Notification.objects.filter(kind=Notification.Kind.ESCALATION_RAISED)
        .values("user")
        .distinct()
        .count()
    )


def test_a_stale_plain_post_gets_a_409_page_with_the_message_and_the_current_state(chain):
    ticket = new_ticket(chain)
    page = client_for(chain.agents[0]).get(ticket.get_absolute_url() + "?escalate=1")
    page = page.content.decode()
    action = reverse("escalation:raise", args=[ticket.reference])
    version = version_in(page, action)
    escalate(chain, ticket)  # someone else (here: the same agent in another tab) was faster
    response = client_for(chain.agents[1]).post(action, {**ESCALATE, "version": version})
    assert response.status_code == 409
    body = response.content.decode()
    assert "Already escalated to L2 at" in body and f"by {chain.agents[0].get_full_name()}" in body
    assert "<html" in body  # a whole page, showing where the ticket is now
    assert Escalation.objects.filter(ticket=ticket).count() == 1


def test_a_double_submitted_de_escalation_hands_back_once(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    first, second = submit_twice(
        client_for(chain.leads[1]),
        ticket.get_absolute_url(),
        reverse("escalation:deescalate", args=[ticket.reference]),
        {"to_team": chain.teams[0].pk, "reason": "Known issue"},
    )
    assert (first.status_code, second.status_code) == (302, 409)
    assert "Already handed back to L1" in second.content.decode()
    assert Escalation.objects.filter(ticket=ticket, kind="de_escalation").count() == 1


def test_a_double_submitted_acknowledgement_acknowledges_once(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    first, second = submit_twice(
        client_for(chain.agents[1]),
        ticket.get_absolute_url(),
        reverse("escalation:acknowledge", args=[escalation.pk]),
        {"assignee": chain.agents[1].pk},
    )
    assert (first.status_code, second.status_code) == (302, 409)
    assert "The escalation was already acknowledged at" in second.content.decode()
    assert TicketEvent.objects.filter(ticket=ticket, kind="acknowledged").count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind="assigned").count() == 1


@pytest.mark.parametrize(
    ("name", "data", "kind", "said"),
    [
        ("assign", {"assignee": "AGENT", "team": "TEAM"}, "assigned", "Already reassigned at"),
        (
            "priority",
            {"impact": 3, "urgency": 3, "priority": 4, "reason": "Cosmetic"},
            "priority_changed",
            "The priority was already changed at",
        ),
        ("transition", {}, "transitioned", "The status already changed to “Open” at"),
    ],
)
def test_double_submitted_ticket_actions_act_once(chain, name, data, kind, said):
    ticket = new_ticket(chain)
    args = [ticket.reference, "open"] if name == "transition" else [ticket.reference]
    data = {
        k: {"AGENT": chain.agents[0].pk, "TEAM": chain.teams[0].pk}.get(v, v)
        for k, v in data.items()
    }
    first, second = submit_twice(
        client_for(chain.agents[0]),
        ticket.get_absolute_url(),
        reverse(f"tickets:{name}", args=args),
        data,
    )
    assert (first.status_code, second.status_code) == (302, 409)
    assert said in second.content.decode()
    assert "by you" in second.content.decode()
    assert TicketEvent.objects.filter(ticket=ticket, kind=kind).count() == 1


@pytest.mark.parametrize("internal", [False, True])
def test_a_double_submitted_reply_or_note_is_written_once(chain, internal):
    ticket = new_ticket(chain)
    client = client_for(chain.agents[0])
    body = client.get(ticket.get_absolute_url()).content.decode()
    intent = re.search(r'name="intent" value="([0-9a-f]+)"', body).group(1)
    data = {"body": "We are on it.", "intent": intent} | ({"internal": "on"} if internal else {})
    action = reverse("tickets:message", args=[ticket.reference])
    assert client.post(action, data).status_code == 302
    second = client.post(action, data, **HTMX)
    assert second.status_code == 409
    assert "This message was already sent at" in second.content.decode()
    assert Message.objects.filter(ticket=ticket, body="We are on it.").count() == 1
    # A fresh form (a new token) sends the next message.
    fresh = re.search(
        r'name="intent" value="([0-9a-f]+)"', client.get(ticket.get_absolute_url()).content.decode()
    ).group(1)
    assert fresh != intent
    assert client.post(action, {**data, "intent": fresh}).status_code == 302
    assert Message.objects.filter(ticket=ticket, body="We are on it.").count() == 2


def test_every_service_write_grows_the_version(chain):
    ticket = new_ticket(chain)
    seen = [Ticket.objects.get(pk=ticket.pk).version]

    def step() -> None:
        seen.append(Ticket.objects.get(pk=ticket.pk).version)
        assert seen[-1] > seen[-2]

    services.ticket_reply(ticket=ticket, actor=chain.agents[0], body="x")
    step()
    services.ticket_add_note(ticket=ticket, actor=chain.agents[0], body="y")
    step()
    services.ticket_transition(ticket=ticket, actor=chain.agents[0], name="open")
    step()
    services.ticket_change_priority(ticket=ticket, actor=chain.agents[0], reason="r", impact=2)
    step()
    escalation = escalate(chain, ticket)
    step()
    esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1])
    step()
    esc.escalation_deescalate(
        ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason="back"
    )
    step()


# --- 4. Acknowledging says whom the ticket goes to --------------------------------------------


def test_acknowledge_offers_the_choices_by_role(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    member_page = client_for(chain.agents[1]).get(ticket.get_absolute_url()).content.decode()
    assert "Acknowledge and take it" in member_page
    assert "Acknowledge and assign" not in member_page
    lead_page = client_for(chain.leads[1]).get(ticket.get_absolute_url()).content.decode()
    assert "Acknowledge and take it" in lead_page
    assert "Acknowledge and assign" in lead_page
    assert f'<option value="{chain.agents[1].pk}">' in lead_page
    assert reverse("escalation:acknowledge", args=[escalation.pk]) not in (
        client_for(chain.agents[0]).get(ticket.get_absolute_url()).content.decode()
    )


def test_acknowledge_alone_does_not_assign(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    url = reverse("escalation:acknowledge", args=[escalation.pk])
    assert client_for(chain.leads[1]).post(url, {"assignee": ""}).status_code == 302
    ticket.refresh_from_db()
    escalation.refresh_from_db()
    assert escalation.status == "acknowledged"
    assert ticket.assignee is None


def test_a_lead_acknowledges_and_assigns_a_member(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    url = reverse("escalation:acknowledge", args=[escalation.pk])
    response = client_for(chain.leads[1]).post(url, {"assignee": chain.agents[1].pk})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == chain.agents[1]


def test_a_member_cannot_assign_someone_else_while_acknowledging(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    url = reverse("escalation:acknowledge", args=[escalation.pk])
    response = client_for(chain.agents[1]).post(url, {"assignee": chain.leads[1].pk})
    assert response.status_code == 400
    escalation.refresh_from_db()
    assert escalation.status == "raised"


def test_the_overview_offers_acknowledgement_and_returns_to_it(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    client = client_for(chain.leads[1])
    body = client.get(reverse("escalation:list")).content.decode()
    url = reverse("escalation:acknowledge", args=[escalation.pk])
    assert f'action="{url}"' in body
    assert "Acknowledge and take it" in body and "Acknowledge and assign" in body
    # Agents of other teams see the row, not the buttons.
    assert (
        f'action="{url}"'
        not in client_for(chain.agents[2]).get(reverse("escalation:list")).content.decode()
    )
    response = client.post(
        url, {"assignee": chain.leads[1].pk, "back": "overview", "version": version_in(body, url)}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("escalation:list")
    ticket.refresh_from_db()
    assert ticket.assignee == chain.leads[1]


# --- 5. One human action, one timeline entry --------------------------------------------------


def timeline_of(body: str) -> str:
    return body[body.index('id="timeline"') : body.index("</ol>", body.index('id="timeline"'))]


def test_an_escalation_and_a_hand_back_are_one_entry_each_with_the_reason_once(chain):
    ticket = new_ticket(chain)
    services.ticket_assign(ticket=ticket, actor=chain.leads[0], assignee=chain.agents[0])
    escalate(chain, ticket)
    esc.escalation_deescalate(
        ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason="Known issue XY"
    )
    timeline = timeline_of(
        client_for(chain.leads[0]).get(ticket.get_absolute_url()).content.decode()
    )
    assert timeline.count('class="event event-escalated') == 1
    assert timeline.count('class="event event-de_escalated') == 1
    assert 'class="event event-team_changed' not in timeline  # folded into the action
    assert timeline.count("Known issue XY") == 1
    assert timeline.count("Needs database access") == 1
    assert "<details" in timeline and "event-part event-team_changed" in timeline
    # The audit trail keeps every event.
    assert TicketEvent.objects.filter(ticket=ticket, kind="team_changed").count() == 2


# --- 6. "What was tried" ----------------------------------------------------------------------


def test_what_was_tried_quotes_this_teams_history_newest_first_with_the_rest_beside(chain):
    ticket = new_ticket(chain)
    services.ticket_add_note(ticket=ticket, actor=chain.agents[0], body="L1 tried the cache")
    escalate(chain, ticket)
    start = timezone.now()
    for i in range(TRIED_ENTRIES + 2):
        services.ticket_add_note(
            ticket=ticket,
            actor=chain.agents[1],
            body=f"L2 step {i:02d}",
            now=start + dt.timedelta(minutes=i + 1),
        )
    response = client_for(chain.agents[1]).get(ticket.get_absolute_url() + "?escalate=1")
    tried = response.context["escalate_form"].initial["actions_taken"]
    lines = tried.splitlines()
    assert len(lines) == TRIED_ENTRIES
    assert "L2 step 11" in lines[0] and "L2 step 02" in lines[-1]  # newest first
    assert "L1 tried the cache" not in tried  # before the ticket reached L2
    assert chain.agents[1].get_full_name() in lines[0]
    body = response.content.decode()
    history = body[body.index("full-history") :]
    history = history[: history.index("</details>")]
    assert "L2 step 00" in history and "L1 tried the cache" in history


def test_a_rule_climbing_two_levels_at_once_shows_two_escalations(chain):
    ticket = services.ticket_create(
        actor=chain.agents[0],
        data=services.NewTicket(
            subject="Everything down", description="", team=chain.teams[0], impact=1, urgency=1
        ),
        now=timezone.now(),
    )
    ticket.refresh_from_db()
    assert ticket.level.rank == 3
    body = client_for(chain.agents[0]).get(ticket.get_absolute_url()).content.decode()
    timeline = timeline_of(body)
    assert timeline.count('class="event event-escalated') == 2
    assert timeline.count('class="event event-created') == 1


def test_a_form_made_before_an_automatic_hand_off_no_longer_holds(chain):
    # A rule's hand-off (no actor) moves the version like any person's write, so a lead's form
    # made before it is refused instead of acting on a ticket that moved on.
    ticket = new_ticket(chain)
    seen = ticket.version
    services.ticket_hand_off(ticket=ticket, team=chain.teams[1], actor=None, reason="rule")
    ticket.refresh_from_db()
    assert ticket.version > seen
    with pytest.raises(services.StaleRequest):
        services.ticket_change_priority(
            ticket=ticket,
            actor=chain.leads[1],
            priority=1,
            reason="customer is down",
            expected_version=seen,
        )
