"""Schemathesis against the live schema: every operation, as an agent and as an admin, with
generated (valid and invalid) input. No response may be a server error, and every response
must match what the schema says (status code documented, body shape, content type).

Bounded: a few examples per operation, so it runs in `make test`; `SCHEMATHESIS_EXAMPLES`
raises the bound for a longer local run.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import token_for
from tests.factories import AdminFactory, CustomerFactory, TeamFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def live_schema() -> schemathesis.schemas.BaseSchema:
    """The schema /api/v1/schema/ serves, generated in-process (collection may not touch the
    database, which serving it through the middleware would), tested against the WSGI app."""
    from django.core.serializers.json import DjangoJSONEncoder
    from drf_spectacular.generators import SchemaGenerator

    from helpdesk.wsgi import application

    document = json.loads(
        json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder)
    )
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


schema = live_schema()


@pytest.fixture(autouse=True)
def _connection_stays_open():
    """Called as a WSGI app, Django closes the database connection at the end of each request
    (request_finished → close_old_connections), which would end the test's transaction; its
    own test client disconnects that handler the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def caller(role: str) -> dict[str, str]:
    """A token of an agent of a team with tickets, or of an admin; some data to act on."""
    team = TeamFactory()
    user = AdminFactory() if role == "admin" else UserFactory()
    team.members.add(user)
    for _ in range(3):
        TicketFactory(team=team, customer=CustomerFactory())
    return {"Authorization": f"Token {token_for(user)}"}


# Two functions rather than a parametrised one: schemathesis' lazy schema does not combine
# with pytest's parametrize.
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@schema.parametrize()
@SETTINGS
def test_as_an_agent_no_server_error_and_responses_match_the_schema(case):
    case.call_and_validate(headers=caller("agent"), checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_as_an_admin_no_server_error_and_responses_match_the_schema(case):
    case.call_and_validate(headers=caller("admin"), checks=CHECKS)
