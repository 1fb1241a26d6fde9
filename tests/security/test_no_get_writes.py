"""No GET writes: every GET route, asked by every role that may use it, changes no row.

The roles that are refused a route are checked for writes by the access matrix
(`test_access_matrix`); here are the ones that get the page. A GET that changes data is a
classic of helpdesks (a link in an email that closes a ticket when a mail scanner follows
it): state changes are POSTs with a CSRF token. Rows the request may write anyway are listed
in `probe.WRITES_ALLOWED`, each with its reason.
"""

from __future__ import annotations

import pytest

from tests.security.probe import observe
from tests.security.routes import EXPECTED, routes, url_for
from tests.security.world import ROLES, build_world

pytestmark = pytest.mark.django_db

# Writes a GET of one route may make, each for its reason:
ROUTE_WRITES_ALLOWED = {
    # The set-up page shows the QR code of a pending (unconfirmed) authenticator, made on the
    # first visit and reused on the next (one per user); it signs nobody in until a code
    # from the app confirms it by POST.
    "two_factor_setup": {"otp_totp_totpdevice"},
    # Opening a ticket marks the reader's own notifications about it read (the bell's
    # count follows what was seen); nobody else's rows, nothing of the ticket.
    "tickets:detail": {"notifications_notification"},
}


def test_no_get_route_writes_for_any_role_that_may_use_it():
    world = build_world()
    problems: list[str] = []
    asked = 0
    for route in routes():
        rule = EXPECTED[route.name]
        if "get" not in route.methods(rule):
            continue
        url = url_for(route.name, world)
        for role in ROLES:
            if role not in rule.get:
                continue
            seen = observe(world.clients[role], "get", url, json=route.is_api)
            asked += 1
            where = f"GET {url} ({route.name}) as {role}"
            if seen.error or seen.status >= 500:
                problems.append(f"{where}: {seen.status} {seen.error}")
            elif set(seen.writes) - ROUTE_WRITES_ALLOWED.get(route.name, set()):
                problems.append(f"{where}: wrote {seen.writes}")
    assert asked > 100, "the walk found too few GET routes: is the world still reachable?"
    assert not problems, "\n".join(problems)
