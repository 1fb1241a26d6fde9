"""Double submit, concurrently: every form the pages offer and every API write, sent twice at
the same instant (two threads, two database connections, real PostgreSQL), has one effect.

`test_double_submit.py` sends the second request after the first has finished; here the two
race, so a check-then-write without a lock, a version or a unique constraint lets both
through. Each request runs in a transaction of its own, whose PostgreSQL statistics tell which
tables it wrote (`probe.rows_written`); when both wrote, the form acted twice. The forms are
found by crawling (`tests/security/forms.py`); the API writes are the matrix's `Rule` bodies
sent with an `Idempotency-Key`, as the API asks of a client that retries. Forms whose repeat
rightly writes are the ones `test_double_submit.REPEATS` names, checked the same way.

A PATCH sets the fields it names to the values sent: both requests write (and the audit
trail logs both), and one effect means the state does not move further. The resource read
after the race must equal the one read after the same PATCH is sent once more (the row's
`version` and change times apart).
"""

from __future__ import annotations

from functools import partial

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import resolve

from tests.integration.conftest import race
from tests.security.forms import found_forms, poster
from tests.security.probe import WRITES_ALLOWED, rows_written
from tests.security.routes import EXPECTED, routes, url_for
from tests.security.test_double_submit import REPEATS
from tests.security.world import build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def twin(client: Client) -> Client:
    """A second client with the same session or token: the same person, a second tab."""
    other = Client(**client.defaults)
    other.cookies = client.cookies
    return other


def send(client: Client, method: str, path: str, data: dict, json: bool) -> tuple[int, list[str]]:
    """One request in its own transaction: (status, tables it wrote). A view's exception is
    status 500 (what the user would get)."""
    with transaction.atomic():
        before = rows_written()
        try:
            if json:
                response = getattr(client, method)(
                    path, data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="twice-1"
                )
            else:
                response = client.post(path, data)
            status = response.status_code
        except Exception:
            return 500, []
        after = rows_written()
    written = {t for t, n in after.items() if n != before.get(t, 0)} - WRITES_ALLOWED
    return status, sorted(written)


# What changes on every write whatever was sent.
VOLATILE = {"version", "updated_at", "modified_at", "changed_at", "etag"}


def state(client: Client, path: str) -> object:
    """The resource as the API shows it, without the fields every write changes."""
    body = client.get(path).json()
    return {k: v for k, v in body.items() if k not in VOLATILE} if isinstance(body, dict) else body


def send_as(clients: list[Client], method: str, path: str, data: dict, json: bool, i: int):
    return send(clients[i], method, path, data, json)


def api_writes(world) -> list[tuple[str, str, str, dict]]:
    """(role, method, path, body) of every API write the owner or an admin may make."""
    found = []
    for route in routes():
        rule = EXPECTED[route.name]
        if not route.is_api or rule.absent:
            continue
        for method in ("post", "patch"):
            role = next((r for r in ("owner", "admin") if r in rule.allowed(method)), None)
            if role is None or method not in route.methods(rule):
                continue
            body = rule.data(world) if rule.data else {}
            found.append((role, method, url_for(route.name, world), body))
    return found


def test_every_form_and_api_write_sent_twice_at_once_has_one_effect():
    world = build_world()
    jobs = [
        (poster(path), "post", path, fields, False)
        for path, fields in sorted(found_forms(world).items())
        if poster(path) is not None
    ]
    jobs += [(role, method, path, body, True) for role, method, path, body in api_writes(world)]
    problems: list[str] = []
    effective = 0
    for role, method, path, data, json in jobs:
        name = resolve(path).view_name
        clients = [world.clients[role], twin(world.clients[role])]
        results = race(2, partial(send_as, clients, method, path, data, json))
        if any(isinstance(r, BaseException) for r in results):
            problems.append(f"{method.upper()} {path} ({name}): {results}")
            continue
        (status_a, wrote_a), (status_b, wrote_b) = results
        effective += bool(wrote_a or wrote_b)
        if 500 in (status_a, status_b):
            problems.append(f"{method.upper()} {path} ({name}): a 500 ({status_a}, {status_b})")
        elif name in REPEATS:
            reason, one_effect = REPEATS[name]
            if not one_effect():
                problems.append(f"{path} ({name}): more than one effect ({reason})")
        elif method == "patch":
            raced = state(clients[0], path)
            send(clients[0], method, path, data, json)
            if raced != state(clients[0], path):
                problems.append(f"PATCH {path} ({name}): sent twice, the state moved further")
        elif wrote_a and wrote_b:
            problems.append(
                f"{method.upper()} {path} ({name}) as {role}: both wrote ({wrote_a} / {wrote_b})"
            )
    connection.close()
    assert len(jobs) >= 20
    # The control: the requests were ones that act, not refused as empty.
    assert effective >= 8, f"only {effective} of {len(jobs)} writes had an effect"
    assert not problems, "\n".join(problems)
