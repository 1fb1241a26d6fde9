"""The access matrix, generated: every route of the URL configuration (pages, fragments,
exports, the API, the portal) × its methods × every role that must be refused.

For each pair: the answer is a refusal (401, 403, 404, 405 or a redirect to a sign-in page;
a POST may also be turned back with a redirect), the body holds nothing of the ticket the
role may not read (its reference, its content, its internal note), and the request wrote
nothing. The roles that may use the route are asked too, for GET, so that a URL that stopped
reaching its object fails here instead of passing as a refusal.

`routes.EXPECTED` is the table; a route without a row fails `test_every_route_has_expectations`.
"""

from __future__ import annotations

import pytest

from tests.security.probe import observe
from tests.security.routes import EXPECTED, routes, url_for
from tests.security.world import ROLES, build_world

pytestmark = pytest.mark.django_db

REFUSALS = {401, 403, 404, 405}
# knox deletes an expired token when it is presented: the one write a refused role makes.
WRITES_ALLOWED_FOR = {"expired_token": {"api_apitoken"}}
# A change refused for what it asks (a form error, a stale version, a body the API does not
# read) is a refusal too, when it wrote nothing: the payloads in EXPECTED are valid for those
# allowed, so a refused role meets the permission check, not the validation.
CHANGE_REFUSALS = {400, 409, 415, 422}
# htmx's "stop polling": what the bell answers to a visitor who is no longer signed in.
STOP_POLLING = 286
SIGN_IN_PAGES = ("/login/", "/portal/sign-in/", "/admin/login/")


def test_every_route_has_expectations():
    """A route without a row in EXPECTED (or a row for a route that is gone) fails."""
    found = {route.name for route in routes()}
    assert not found - set(EXPECTED), (
        f"routes without expectations: {sorted(found - set(EXPECTED))}"
    )
    assert not set(EXPECTED) - found, f"expectations for no route: {sorted(set(EXPECTED) - found)}"


def test_every_route_refuses_the_roles_it_is_not_for():
    world = build_world()
    problems: list[str] = []
    for route in routes():
        rule = EXPECTED[route.name]
        url = url_for(route.name, world)
        for method in route.methods(rule):
            allowed = rule.allowed(method)
            # One role that may use the route is asked, as a control; what a permitted change
            # does is the feature tests' job.
            control = next((r for r in ROLES if r in allowed), None)
            for role in ROLES:
                if role in allowed and (role != control or method != "get" or rule.absent):
                    continue
                data = rule.data(world) if rule.data and method != "get" else None
                seen = observe(world.clients[role], method, url, data, json=route.is_api)
                where = f"{method.upper()} {url} ({route.name}) as {role}"
                if seen.error or seen.status >= 500:
                    problems.append(f"{where}: {seen.status} {seen.error}")
                    continue
                # A page that echoes the address asked for (a 404 page, a "next" field) tells
                # nothing about the object: the asker wrote it.
                body = seen.body.replace(url, "")
                leaked = [m for m in world.markers_hidden_from(role) if m in body]
                if leaked:
                    problems.append(f"{where}: the body holds {leaked}")
                if role in allowed:
                    if seen.status >= 400:
                        problems.append(f"{where}: {seen.status}, but the role may use it")
                    continue
                if set(seen.writes) - WRITES_ALLOWED_FOR.get(role, set()):
                    problems.append(f"{where}: refused role wrote {seen.writes}")
                if not _refused(method, seen):
                    problems.append(f"{where}: {seen.status} {seen.location} is not a refusal")
    assert not problems, "\n".join(problems)


def _refused(method: str, seen) -> bool:
    if seen.status in REFUSALS:
        return True
    if method == "get" and seen.status == STOP_POLLING:
        return not seen.body.strip()
    if method != "get" and seen.status in CHANGE_REFUSALS:
        return True
    if 300 <= seen.status < 400:
        # A form that is turned back redirects to where it came from, with a message.
        return method != "get" or any(page in seen.location for page in SIGN_IN_PAGES)
    return False


# Changes whose body in EXPECTED is checked to act for a role allowed to send it: a refusal of
# the others is then a refusal of the person, not of the input.
BODIES_CHECKED = (
    "lessons:report",
    "lessons:measure_add",
    "lessons:measure_done",
    "mail:ticket_ccs",
)


@pytest.mark.parametrize("name", BODIES_CHECKED)
def test_the_body_of_a_change_acts_for_an_allowed_role(name):
    world = build_world()
    rule = EXPECTED[name]
    role = next(r for r in ROLES if r in rule.post)
    url = url_for(name, world)
    seen = observe(world.clients[role], "post", url, rule.data(world) if rule.data else None)
    assert seen.status in (200, 302, 303), (seen.status, seen.error)
    assert seen.writes, f"POST {url} as {role} wrote nothing"
