"""Tickets over the API beyond the first slice: update (PATCH), follow, attachments, the
transitions of each list item, the filters — status, body, stored state, the audit event,
the roles, and flat query counts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import assert_refused_without_valid_credentials, client_for
from tests.api.test_escalations import escalate
from tests.escalation.test_services import Chain
from tests.factories import AdminFactory, CustomerFactory, TeamFactory, TicketFactory, UserFactory
from tickets import services
from tickets.models import Attachment, Contact, Service, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def url(ticket: Ticket, tail: str = "") -> str:
    return f"{TICKETS}{ticket.reference}/{tail}"


def new_ticket(team, agent, **fields) -> Ticket:
    data = {"subject": "Checkout fails", "description": "500", "team": team, **fields}
    return services.ticket_create(actor=agent, data=services.NewTicket(**data))


# --- PATCH ------------------------------------------------------------------------------------


def test_patch_changes_details_and_records_one_event(api, team_a, agent):
    ticket = new_ticket(team_a, agent, customer=CustomerFactory(name="Acme"))
    checkout = Service.objects.create(name="Checkout")
    jo = Contact.objects.create(customer=ticket.customer, name="Jo", email="jo@acme.example")
    response = api.patch(
        url(ticket),
        {
            "subject": "Checkout down",
            "service": checkout.pk,
            "requester": jo.pk,
            "version": ticket.version,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["subject"] == "Checkout down"
    assert body["service"] == {"id": checkout.pk, "name": "Checkout"}
    assert body["requester"]["email"] == "jo@acme.example"
    assert body["version"] == ticket.version + 1
    assert response["ETag"] == f'"{ticket.version + 1}"'
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.service_id, ticket.requester_id) == (
        "Checkout down",
        checkout.pk,
        jo.pk,
    )
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.DETAILS_CHANGED)
    assert event.actor == agent
    assert event.payload["subject"] == {"from": "Checkout fails", "to": "Checkout down"}
    assert event.payload["service"] == {"from": None, "to": checkout.pk}


def test_patch_with_the_same_values_changes_nothing(api, team_a, agent):
    ticket = new_ticket(team_a, agent)
    response = api.patch(url(ticket), {"subject": "Checkout fails"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == ticket.version
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.DETAILS_CHANGED).exists()


def test_patch_priority_needs_a_reason_and_goes_through_the_service(api, team_a, agent):
    ticket = new_ticket(team_a, agent)
    refused = api.patch(url(ticket), {"impact": 1, "urgency": 1}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["errors"]
    response = api.patch(
        url(ticket), {"impact": 1, "urgency": 1, "reason": "All shops down"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == 1
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.PRIORITY_CHANGED)
    assert event.payload["reason"] == "All shops down"
    override = api.patch(url(ticket), {"priority": 2, "reason": "Workaround"}, format="json")
    assert override.json()["priority"] == 2
    ticket.refresh_from_db()
    assert ticket.priority_overridden


def test_patch_team_hands_off_and_clears_the_assignee(api, team_a, agent):
    ticket = new_ticket(team_a, agent, assignee=agent)
    other = TeamFactory(name="Network", members=[UserFactory(username="net")])
    response = api.patch(url(ticket), {"team": other.pk, "reason": "Router"}, format="json")
    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert ticket.team == other and ticket.assignee is None
    kinds = set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {TicketEvent.Kind.TEAM_CHANGED, TicketEvent.Kind.ASSIGNED} <= kinds


def test_patch_assignee_must_be_in_the_team(api, team_a, agent):
    ticket = new_ticket(team_a, agent)
    stranger = UserFactory(username="stranger")
    response = api.patch(url(ticket), {"assignee": stranger.pk}, format="json")
    assert response.status_code == 400 and "assignee" in response.json()["errors"]
    ok = api.patch(url(ticket), {"assignee": agent.pk}, format="json")
    assert ok.status_code == 200
    assert ok.json()["escalation"]["assignee"]["username"] == "agent"


def test_patch_from_a_stale_version_is_a_409_and_changes_nothing(api, team_a, agent):
    ticket = new_ticket(team_a, agent)
    stale = api.patch(url(ticket), {"subject": "New"}, format="json", HTTP_IF_MATCH='"99"')
    assert stale.status_code == 409
    also_stale = api.patch(url(ticket), {"subject": "New", "version": 99}, format="json")
    assert also_stale.status_code == 409
    ticket.refresh_from_db()
    assert ticket.subject == "Checkout fails"


def test_patch_refuses_unknown_fields_blank_subject_and_bad_types(api, team_a, agent):
    ticket = new_ticket(team_a, agent)
    for body, field in (
        ({"status": "closed"}, "status"),
        ({"subject": " "}, "subject"),
        ({"impact": "huge", "reason": "x"}, "impact"),
        ({"service": 999999}, "service"),
        ({"subject": "a\x00b"}, "subject"),
    ):
        response = api.patch(url(ticket), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["errors"], response.json()


def test_patch_roles(team_a, team_b, agent, other_agent):
    ticket = new_ticket(team_a, agent)
    # An agent of another team cannot see the ticket: 404, nothing changes.
    assert (
        client_for(other_agent).patch(url(ticket), {"subject": "x"}, format="json").status_code
        == 404
    )
    # The lead of the team and an admin may.
    lead = UserFactory(username="lead")
    team_a.lead = lead
    team_a.save()
    assert (
        client_for(lead).patch(url(ticket), {"subject": "By lead"}, format="json").status_code
        == 200
    )
    admin = AdminFactory(username="boss")
    assert (
        client_for(admin).patch(url(ticket), {"subject": "By admin"}, format="json").status_code
        == 200
    )
    # A follower may read but not change it: 403.
    follower = UserFactory(username="follower")
    team_b.members.add(follower)
    services.ticket_follow(ticket=ticket, actor=agent, follow=True)
    ticket.watchers.add(follower)
    response = client_for(follower).patch(url(ticket), {"subject": "x"}, format="json")
    assert response.status_code == 403
    assert_refused_without_valid_credentials(agent, "patch", url(ticket), {"subject": "x"})
    ticket.refresh_from_db()
    assert ticket.subject == "By admin"


# --- Follow -----------------------------------------------------------------------------------


def test_follow_and_unfollow(team_a, team_b, agent, other_agent):
    ticket = new_ticket(team_a, agent)
    lead_b = UserFactory(username="leadb")
    team_a.members.add(lead_b)
    client = client_for(lead_b)
    assert client.post(url(ticket, "follow/")).status_code == 200
    assert ticket.watchers.filter(pk=lead_b.pk).exists()
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.FOLLOWED).count() == 1
    assert client.delete(url(ticket, "follow/")).status_code == 200
    assert not ticket.watchers.filter(pk=lead_b.pk).exists()
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.UNFOLLOWED).count() == 1
    # Following is no way around visibility.
    assert client_for(other_agent).post(url(ticket, "follow/")).status_code == 404
    assert_refused_without_valid_credentials(agent, "post", url(ticket, "follow/"))


# --- Attachments ------------------------------------------------------------------------------


def test_a_message_with_attachments_and_their_download(api, team_a, team_b, agent, other_agent):
    ticket = new_ticket(team_a, agent)
    upload = SimpleUploadedFile("log.txt", b"stack trace", content_type="text/plain")
    response = api.post(
        url(ticket, "messages/"),
        {"body": "See the log", "internal": "true", "attachments": [upload]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "note"
    [attachment] = body["attachments"]
    assert (attachment["name"], attachment["size"]) == ("log.txt", 11)
    stored = Attachment.objects.get()
    assert stored.message_id == body["id"] and stored.uploaded_by == agent
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.NOTE_ADDED).exists()
    download = api.get(attachment["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"stack trace"
    assert download["Content-Type"] == "application/octet-stream"
    assert "attachment" in download["Content-Disposition"]
    # Another team's agent may not see the ticket, so not its files either.
    assert client_for(other_agent).get(attachment["url"]).status_code == 404
    assert api.get(url(ticket, "attachments/999999/")).status_code == 404


def test_attachments_beyond_the_limits_are_refused_and_nothing_is_saved(
    api, team_a, agent, settings
):
    settings.ATTACHMENT_MAX_BYTES = 10
    ticket = new_ticket(team_a, agent)
    upload = SimpleUploadedFile("big.bin", b"x" * 11)
    response = api.post(
        url(ticket, "messages/"), {"body": "big", "attachments": [upload]}, format="multipart"
    )
    assert response.status_code == 413, response.content
    assert "attachments" in response.json()["errors"]
    assert not Attachment.objects.exists()
    assert not ticket.messages.exists()


# --- The list: transitions per item, filters --------------------------------------------------


def test_each_list_item_carries_the_transitions_the_caller_may_run(team_a, agent):
    mine = new_ticket(team_a, agent)
    follower_view = UserFactory(username="watcher")
    TeamFactory(name="Elsewhere", members=[follower_view])
    mine.watchers.add(follower_view)
    items = client_for(agent).get(TICKETS).json()["results"]
    assert items[0]["transitions"] == [
        {"name": "open", "label": "Open"},
        {"name": "resolve", "label": "Resolve"},
    ]
    # A follower in another team reads the ticket but may not move it.
    items = client_for(follower_view).get(TICKETS).json()["results"]
    assert [i["reference"] for i in items] == [mine.reference]
    assert items[0]["transitions"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("count", [5, 50])
def test_the_list_with_transitions_takes_a_flat_number_of_queries(
    api, team_a, count, django_assert_max_num_queries
):
    """With the configuration committed, kept by the process (as in test_tickets.py)."""
    TicketFactory.create_batch(count, team=team_a, open=True)
    api.get(TICKETS, {"page_size": 50})
    with django_assert_max_num_queries(7):
        response = api.get(TICKETS, {"page_size": 50})
    assert len(response.json()["results"]) == count
    assert all(item["transitions"] for item in response.json()["results"])


def test_movable_matches_can_move_for_a_page():
    chain = Chain()
    tickets = [chain.ticket(level=rank) for rank in (1, 2, 3)]
    tickets = list(Ticket.objects.select_related("level").filter(pk__in=[t.pk for t in tickets]))
    for user in [
        *chain.agents,
        *chain.leads,
        AdminFactory(username="root"),
        UserFactory(username="nobody"),
    ]:
        expected = {t.pk for t in tickets if services.can_move(t, user)}
        keys = [(t.pk, t.team_id, t.level.rank) for t in tickets]
        assert services.movable_keys(keys, user) == expected, user


def test_filters(api, team_a, agent):
    acme = CustomerFactory(name="Acme")
    checkout = Service.objects.create(name="Checkout")
    a = new_ticket(team_a, agent, customer=acme, service=checkout, subject="Payment broken")
    b = new_ticket(team_a, agent, impact=1, urgency=1)
    Ticket.objects.filter(pk=b.pk).update(resolution_breached_at=b.created_at)

    def refs(**params):
        response = api.get(TICKETS, params)
        assert response.status_code == 200, response.content
        return {t["reference"] for t in response.json()["results"]}

    assert refs(customer=acme.pk) == {a.reference}
    assert refs(service=checkout.pk) == {a.reference}
    assert refs(q="payment") == {a.reference}
    assert refs(breached="true") == {b.reference}
    assert refs(breached="false") == {a.reference}
    assert refs(priority=1) == {b.reference}
    assert refs(status=["new", "open"]) == {a.reference, b.reference}
    assert refs(escalated="true") == set()
    ordered = api.get(TICKETS, {"ordering": "priority"}).json()["results"]
    assert [t["reference"] for t in ordered] == [b.reference, a.reference]
    assert api.get(TICKETS, {"priority": 9}).status_code == 400


def test_escalated_and_at_risk_filters():
    chain = Chain()
    ticket = chain.ticket()
    calm = chain.ticket()
    escalate(chain, ticket)
    Ticket.objects.filter(pk=calm.pk).update(resolution_warned_at=calm.created_at)
    client = client_for(chain.agents[0])
    escalated = client.get(TICKETS, {"escalated": "true"}).json()["results"]
    assert [t["reference"] for t in escalated] == [ticket.reference]
    at_risk = client.get(TICKETS, {"at_risk": "true"}).json()["results"]
    assert [t["reference"] for t in at_risk] == [calm.reference]


def test_the_messages_list_with_attachments_is_flat(
    api, team_a, agent, other_agent, team_b, django_assert_max_num_queries
):
    ticket = new_ticket(team_a, agent)
    for i in range(5):
        services.ticket_add_note(
            ticket=ticket,
            actor=agent,
            body=f"note {i}",
            attachments=[SimpleUploadedFile(f"f{i}.txt", b"x")],
        )
    with django_assert_max_num_queries(8):
        response = api.get(url(ticket, "messages/"))
    assert response.status_code == 200
    items = response.json()["results"]
    assert [m["body"] for m in items] == [f"note {i}" for i in range(5)]
    assert items[0]["attachments"][0]["name"] == "f0.txt"
    assert items[0]["author"] == (agent.get_full_name() or agent.username)
    assert client_for(other_agent).get(url(ticket, "messages/")).status_code == 404


def test_a_webhook_payloads_ticket_is_the_apis_ticket(api, team_a, agent):
    from notifications.webhooks import ticket_data

    ticket = new_ticket(team_a, agent, impact=1, urgency=1)
    from_api = api.get(url(ticket)).json()
    payload = ticket_data(ticket)
    from_api["escalation"].pop("open_escalation")
    for target in ("first_response", "next_update", "resolution"):
        from_api["sla"][target].pop("business_left")  # depends on when it is read
    for key, value in from_api.items():
        if key not in ("transitions", "description", "version", "ccs"):
            assert payload[key] == value, key
    assert "version" not in payload and "open_escalation" not in payload["escalation"]


def test_a_customer_message_taken_down_by_an_agent(api, team_a, agent):
    acme = CustomerFactory(name="Acme")
    ticket = new_ticket(team_a, agent, customer=acme)
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    jo = Contact.objects.create(customer=acme, name="Jo", email="jo@acme.example")
    stranger = Contact.objects.create(customer=CustomerFactory(), email="x@example.com")
    refused = api.post(
        url(ticket, "messages/"),
        {"body": "Still broken", "kind": "customer", "contact": stranger.pk},
        format="json",
    )
    assert refused.status_code == 400 and "contact" in refused.json()["errors"]
    response = api.post(
        url(ticket, "messages/"),
        {"body": "Still broken", "kind": "customer", "contact": jo.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "customer"
    assert ticket.messages.get(pk=response.json()["id"]).contact == jo
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN  # reopened, as the customer's mail would
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE
    ).exists()
    mixed = api.post(
        url(ticket, "messages/"), {"body": "x", "kind": "reply", "contact": jo.pk}, format="json"
    )
    assert mixed.status_code == 400


def test_create_with_requester_and_service(api, team_a, agent):
    acme = CustomerFactory(name="Acme")
    jo = Contact.objects.create(customer=acme, name="Jo", email="jo@acme.example")
    checkout = Service.objects.create(name="Checkout")
    response = api.post(
        TICKETS,
        {"subject": "Down", "team": team_a.pk, "requester": jo.pk, "service": checkout.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert (ticket.requester, ticket.service, ticket.customer) == (jo, checkout, acme)
    created = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert created.payload["service"] == "Checkout"


def test_a_multipart_retry_with_the_same_key_attaches_once(api, team_a, agent):
    ticket = new_ticket(team_a, agent)

    def send():
        upload = SimpleUploadedFile("log.txt", b"stack trace", content_type="text/plain")
        return api.post(
            url(ticket, "messages/"),
            {"body": "See the log", "attachments": [upload]},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Attachment.objects.count() == 1 and ticket.messages.count() == 1


def test_a_hand_off_webhook_shows_the_ticket_after_the_change(api, team_a, agent):
    from notifications.models import Delivery, WebhookEndpoint

    WebhookEndpoint.objects.create(url="https://hooks.example.com/x", event_types=[])
    ticket = new_ticket(team_a, agent)
    network = TeamFactory(name="Network", members=[UserFactory(username="net")])
    assert api.patch(url(ticket), {"team": network.pk}, format="json").status_code == 200
    [team_changed] = [
        d.payload
        for d in Delivery.objects.filter(kind="ticket.updated")
        if d.payload["data"]["field"] == "team"
    ]
    shown = team_changed["data"]["ticket"]
    assert shown["team"] == "Network"
    assert shown["escalation"]["team"] == {"id": network.pk, "name": "Network"}
