"""The outbox table keeps only the indexes its readers use (each insert writes every one; an
incident update inserts thousands of rows), and each reader can still walk one: the relay's
claim, the admin's list, an endpoint's deliveries, a user's emails, a digest's items. With
sequential scans and sorts priced out, PostgreSQL picks an index whenever one fits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications import outbox
from notifications.models import Delivery, WebhookEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Every index of the table, and what each is for (`Delivery.Meta`).
EXPECTED = {
    "notifications_delivery_pkey": "CREATE UNIQUE INDEX notifications_delivery_pkey",
    "delivery_due": "WHERE ((status)::text = ANY",
    "delivery_email_once": "WHERE (((channel)::text = 'email'::text) AND (user_id IS NOT NULL))",
    "delivery_webhook_once": "WHERE ((channel)::text = 'webhook'::text)",
    "delivery_user": "(user_id) WHERE (user_id IS NOT NULL)",
    "delivery_contact": "(contact_id) WHERE (contact_id IS NOT NULL)",
    "delivery_endpoint": "(endpoint_id) WHERE (endpoint_id IS NOT NULL)",
    "delivery_digest": "(digest_id) WHERE (digest_id IS NOT NULL)",
}


def plan_of(sql: str, params: object = None) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_table_has_these_indexes_and_no_more():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
            [Delivery._meta.db_table],
        )
        found = dict(cursor.fetchall())
    ticket = [name for name, sql in found.items() if "(ticket_id)" in sql]
    assert len(ticket) == 1  # a ticket's deliveries (the admin's visibility filter)
    assert {name for name in found if name not in ticket} == set(EXPECTED)
    for name, part in EXPECTED.items():
        assert part in found[name], found[name]
    assert not [sql for sql in found.values() if "ticket_event_id" in sql]


def test_the_relay_claims_through_the_due_index(queued):
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    Delivery.objects.create(
        channel="webhook", kind="ticket.created", endpoint=endpoint, event_id="e1", created_at=now
    )
    with CaptureQueriesContext(connection) as queries:
        outbox.relay(now=now + dt.timedelta(seconds=1))
    claims = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"] and "'pending'" in q["sql"]]
    assert len(claims) == 1
    assert len(queued) == 1
    assert "delivery_due" in plan_of(claims[0])


def test_the_admin_list_walks_the_primary_key(client, admin_user):
    client.force_login(admin_user)
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    Delivery.objects.bulk_create(
        Delivery(channel="webhook", kind="ticket.created", endpoint=endpoint, event_id=f"e{i}")
        for i in range(3)
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:notifications_delivery_changelist"))
    assert response.status_code == 200
    # One page of rows: Django reads them without LIMIT; with more, the same with LIMIT.
    page = next(
        q["sql"]
        for q in queries
        if q["sql"].startswith('SELECT "notifications_delivery"."id"') and "ORDER BY" in q["sql"]
    )
    assert '"notifications_delivery"."id" DESC' in page
    assert "notifications_delivery_pkey" in plan_of(page)


@pytest.mark.parametrize(
    ("reader", "index"),
    [
        (lambda e, u, d: Delivery.objects.filter(endpoint=e), "endpoint"),
        (lambda e, u, d: Delivery.objects.filter(user=u), "user"),
        (lambda e, u, d: Delivery.objects.filter(digest=d), "digest"),
        (
            lambda e, u, d: Delivery.objects.filter(channel="email", user=u, dedupe_key="k"),
            "email_once",
        ),
    ],
    ids=["an endpoint's deliveries", "a user's", "a digest's items", "an email's dedupe"],
)
def test_readers_by_one_value_use_a_partial_index(admin_user, reader, index):
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    digest = Delivery.objects.create(channel="email", kind="digest", user=admin_user)
    queryset = reader(endpoint, admin_user, digest)
    sql, params = queryset.query.sql_with_params()
    assert f"delivery_{index}" in plan_of(sql, params)
