"""The OpenAPI document: every operation described with an example, the webhook events in
it, the Idempotency-Key documented on every POST."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from notifications.models import EventType

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def has_example(operation) -> bool:
    bodies = [operation.get("requestBody", {}), *list(operation.get("responses", {}).values())]
    return any(
        media.get("examples") or media.get("example")
        for body in bodies
        for media in body.get("content", {}).values()
    )


def test_every_operation_has_a_description_and_an_example(schema):
    missing_description = [
        f"{m.upper()} {p}" for p, m, op in operations(schema) if not op.get("description")
    ]
    assert missing_description == []
    binary = {"/api/v1/tickets/{reference}/attachments/{id}/"}
    missing_example = [
        f"{m.upper()} {p}"
        for p, m, op in operations(schema)
        if not has_example(op) and p not in binary and m != "delete"
    ]
    assert missing_example == []


def test_every_post_documents_the_idempotency_key(schema):
    for path, method, operation in operations(schema):
        if method == "post":
            names = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, path


def test_the_webhook_events_are_in_the_schema_with_the_apis_ticket(schema):
    assert set(schema["webhooks"]) == set(EventType.values)
    created = schema["webhooks"]["ticket.created"]["post"]
    ref = created["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    payload = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    data_ref = payload["properties"]["data"]["$ref"].rsplit("/", 1)[1]
    ticket_ref = schema["components"]["schemas"][data_ref]["properties"]["ticket"]["$ref"]
    ticket = schema["components"]["schemas"][ticket_ref.rsplit("/", 1)[1]]["properties"]
    api_ticket = schema["components"]["schemas"]["Ticket"]["properties"]
    assert set(api_ticket) - {"transitions", "version"} <= set(ticket)
