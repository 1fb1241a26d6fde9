"""The incident update writes its rows set-based (`helpdesk.db.insert_rows`: COPY on
PostgreSQL, `bulk_create` elsewhere; `webhooks.publish_all` building the payloads' shared
parts once). Every row it writes is the row the per-ticket path writes: the reply
(`ticket_reply`), its timeline entry and its webhook delivery, and the ticket's columns."""

from __future__ import annotations

import datetime as dt

import pytest

from helpdesk.db import insert_rows
from incidents import services
from notifications import webhooks
from notifications.models import Delivery, WebhookEndpoint, new_webhook_secret
from tests.incidents.conftest import make_ticket
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)

MESSAGE_COLUMNS = ("kind", "author_id", "author_name", "contact_id", "body", "created_at")
DELIVERY_COLUMNS = (
    "channel",
    "status",
    "kind",
    "user_id",
    "contact_id",
    "endpoint_id",
    "dedupe_key",
    "attempts",
    "next_attempt_at",
    "created_at",
    "digest_id",
)


def columns(obj, names):
    return {name: getattr(obj, name) for name in names}


def webhook_of(event: TicketEvent) -> Delivery:
    return Delivery.objects.get(channel=Delivery.Channel.WEBHOOK, ticket_event=event)


def test_each_row_of_the_update_is_the_row_a_reply_writes(org):
    """Two tickets alike: one gets the incident's update, the other the same text as an
    agent's reply. Their reply, timeline entry, webhook delivery and ticket columns agree,
    apart from what tells the update apart (its intent and the incident in the entry)."""
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", secret=new_webhook_secret()
    )
    linked = make_ticket(org, service=org.checkout, language="de", at=T0)
    alone = make_ticket(org, service=org.checkout, language="de", at=T0, n=1)
    org.l1.members.add(org.im_lead)  # so the incident's manager may reply on it by hand
    incident = services.incident_declare(
        actor=org.im_lead,
        title="Checkout down",
        severity=2,
        manager=org.im_lead,
        services=[org.checkout],
        tickets=[linked],
        now=T0,
    )
    update = services.incident_post_update(
        incident=incident, actor=org.im_lead, text="Der Zahlungsdienst ist gestört.", now=T0 + H
    )
    by_update = Message.objects.get(ticket=linked, intent=f"incident-update:{update.pk}")
    by_reply = ticket_reply(ticket=alone, actor=org.im_lead, body=by_update.body, now=T0 + H)

    assert columns(by_update, MESSAGE_COLUMNS) == columns(by_reply, MESSAGE_COLUMNS)
    entries = [
        TicketEvent.objects.get(message=message, kind=TicketEvent.Kind.REPLIED)
        for message in (by_update, by_reply)
    ]
    assert entries[0].payload == {**entries[1].payload, "incident": incident.pk}
    assert [(e.actor_id, e.created_at) for e in entries] == [(org.im_lead.pk, T0 + H)] * 2

    hooks = [webhook_of(entry) for entry in entries]
    assert columns(hooks[0], DELIVERY_COLUMNS) == columns(hooks[1], DELIVERY_COLUMNS)
    assert hooks[0].endpoint_id == endpoint.pk
    payloads = [hook.payload for hook in hooks]
    for payload, hook, entry, message in zip(
        payloads, hooks, entries, (by_update, by_reply), strict=True
    ):
        assert payload["id"] == hook.event_id
        assert payload["data"]["ticket"]["reference"] == entry.ticket.reference
        assert payload["data"]["message"]["id"] == message.pk
    # The same document but for what is the ticket's own (its reference, subject, links...).
    shared = [
        {**p, "id": None, "data": {**p["data"], "ticket": None, "message": None}} for p in payloads
    ]
    assert shared[0] == shared[1]
    messages = [{**p["data"]["message"], "id": None} for p in payloads]
    assert messages[0] == messages[1]
    assert payloads[0]["data"]["ticket"].keys() == payloads[1]["data"]["ticket"].keys()

    progress = ("first_responded_at", "last_progress_at", "updated_at")
    rows = Ticket.objects.filter(pk__in=[linked.pk, alone.pk]).order_by("pk")
    assert [columns(t, progress) for t in rows] == [dict.fromkeys(progress, T0 + H)] * 2


def test_the_payloads_built_together_are_the_payloads_built_one_by_one(org):
    """`publish_all` shares the equal parts of many payloads; each is still what `publish`
    gives for its event alone (the event id aside, new for each publication)."""
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", secret=new_webhook_secret()
    )
    tickets = [make_ticket(org, at=T0, n=i, language="de" if i % 2 else "en") for i in range(3)]
    for ticket in tickets:
        ticket_reply(ticket=ticket, actor=org.agent, body="Same words", now=T0 + H)
    events = list(
        TicketEvent.objects.filter(ticket__in=tickets)
        .select_related("ticket__team", "ticket__level", "message", "actor")
        .order_by("pk")
    )
    together = webhooks.publish_all(events, [endpoint])
    assert len(together) == len(events)
    for event, published in zip(events, together, strict=True):
        alone = webhooks.publish(event, [endpoint])
        if alone is None:
            assert published is None
            continue
        assert published.endpoints == alone.endpoints == [endpoint]
        assert {**published.payload, "id": None} == {**alone.payload, "id": None}
        assert published.payload["id"] == published.event_id != alone.event_id


def test_insert_rows_writes_what_bulk_create_writes(org):
    """The COPY (PostgreSQL) writes each column as `bulk_create` does, JSON included, and
    gives each object its key; a foreign key to an object saved after the row was built is
    taken from that object."""
    ticket = make_ticket(org, at=T0)
    replies = [
        Message(ticket=ticket, kind=Message.Kind.REPLY, body=body, created_at=T0)
        for body in ("tab\there", "line\nbreak", 'back\\slash "quoted"', "")
    ]
    insert_rows(Message, replies)
    assert all(reply.pk is not None for reply in replies)
    entries = [
        TicketEvent(
            ticket=ticket,
            kind=TicketEvent.Kind.REPLIED,
            message=reply,
            payload={"text": reply.body, "n": i, "nested": [None, True, 1.5, "ü"]},
            created_at=T0,
        )
        for i, reply in enumerate(replies)
    ]
    twins = [
        TicketEvent(ticket=e.ticket, kind=e.kind, message=e.message, payload=e.payload)
        for e in entries
    ]
    for twin, entry in zip(twins, entries, strict=True):
        twin.created_at = entry.created_at
    insert_rows(TicketEvent, entries)
    TicketEvent.objects.bulk_create(twins)
    names = ("ticket_id", "kind", "actor_id", "message_id", "payload", "created_at")
    written = {
        e.pk: columns(e, names) for e in TicketEvent.objects.filter(pk__in=[e.pk for e in entries])
    }
    expected = {
        e.pk: columns(t, names)
        for e, t in zip(
            entries,
            TicketEvent.objects.filter(pk__in=[t.pk for t in twins]).order_by("pk"),
            strict=True,
        )
    }
    assert written == expected
    assert [
        r.body for r in Message.objects.filter(pk__in=[r.pk for r in replies]).order_by("pk")
    ] == [
        "tab\there",
        "line\nbreak",
        'back\\slash "quoted"',
        "",
    ]
    assert insert_rows(Message, []) == []


def test_the_collector_is_paused_only_while_the_rows_are_built():
    import gc

    from incidents.updates import collector_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()  # back on after a failure too
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller's pause is the caller's to end
    finally:
        gc.enable()
