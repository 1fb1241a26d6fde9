"""The portal's access matrix: every URL pattern × every kind of visitor × GET and POST.

Generated from `portal.urls`: a new pattern without a row in EXPECTED fails here, so nobody
adds a portal page without saying who may see it. The rows: contacts of organisation A (a1
requested the ticket, a2 sees all of A's tickets, a3 sees only their own), b1 of
organisation B, a contact without portal access or inactive, a staff user, and anonymous.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from portal import links, signin
from portal.models import SignInCode
from portal.urls import urlpatterns
from tests.factories import AdminFactory
from tests.portal.conftest import ContactFactory, open_ticket, sign_in_as
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "staff", "inactive", "no_access", "a1", "a2", "a3", "b1")
OUTSIDERS = ("anonymous", "staff", "inactive", "no_access")
SIGN_IN = "sign-in"  # a redirect to the portal's sign-in page


def _row(*, outsiders: str, owner: str, org_wide: str, other: str, foreign: str) -> dict:
    """Expected answers: outsiders (not a usable contact), a1 (requester), a2 (sees all of
    A), a3 (A, only their own), b1 (organisation B)."""
    return {
        **dict.fromkeys(OUTSIDERS, outsiders),
        "a1": owner,
        "a2": org_wide,
        "a3": other,
        "b1": foreign,
    }


def _same(answer: str) -> dict:
    return dict.fromkeys(ACTORS, answer)


def _contacts(outsiders: str, contacts: str) -> dict:
    return _row(
        outsiders=outsiders, owner=contacts, org_wide=contacts, other=contacts, foreign=contacts
    )


def _ticket(outsiders: str, seen: str, unseen: str) -> dict:
    return _row(outsiders=outsiders, owner=seen, org_wide=seen, other=unseen, foreign=unseen)


EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "home": {"GET": _contacts("302", "302"), "POST": _contacts("302", "302")},
    "sign_in": {"GET": _contacts("200", "302"), "POST": _contacts("400", "302")},
    "code": {"GET": _same(SIGN_IN), "POST": _same(SIGN_IN)},
    # The link signs in whoever holds it (as the contact it was mailed to): like the code.
    "link": {"GET": _contacts("200", "302"), "POST": _same("302")},
    "sign_out": {"GET": _same("405"), "POST": _same(SIGN_IN)},
    "language": {"GET": _same("405"), "POST": _same("302")},
    "tickets": {"GET": _contacts(SIGN_IN, "200"), "POST": _contacts(SIGN_IN, "405")},
    "create": {"GET": _contacts(SIGN_IN, "200"), "POST": _contacts(SIGN_IN, "400")},
    "detail": {"GET": _ticket(SIGN_IN, "200", "404"), "POST": _contacts(SIGN_IN, "405")},
    "reply": {"GET": _contacts(SIGN_IN, "405"), "POST": _ticket(SIGN_IN, "302", "404")},
    "status": {"GET": _contacts(SIGN_IN, "405"), "POST": _ticket(SIGN_IN, "302", "404")},
    "attachment": {"GET": _ticket(SIGN_IN, "200", "404"), "POST": _contacts(SIGN_IN, "405")},
    # The signed link is the credential: whoever holds it may rate, signed in or not.
    "rate": {"GET": _same("200"), "POST": _same("400")},
}


def test_every_portal_url_has_expectations():
    assert {p.name for p in urlpatterns} == set(EXPECTED)


@pytest.fixture
def world(orgs, desk):
    ticket = orgs["tickets"]["a1"]
    message = ticket_services.ticket_add_customer_message(
        ticket=ticket,
        body="Here is the log.",
        contact=orgs["a1"],
        attachments=[SimpleUploadedFile("log.txt", b"error 42", content_type="text/plain")],
    )
    solved = open_ticket(desk, orgs["a1"], "Solved already")
    ticket_services.ticket_transition(ticket=solved, actor=desk["agent"], name="resolve")
    solved.refresh_from_db()
    ticket.refresh_from_db()
    return {
        **orgs,
        "ticket": ticket,
        "attachment": message.attachments.get(),
        "token": links.rating_token(solved),
        "link_token": _link_token(orgs["a1"]),
        "inactive": ContactFactory(
            customer=orgs["org_a"], is_active=False, sees_organisation_tickets=True
        ),
        "no_access": ContactFactory(
            customer=orgs["org_a"], portal_access=False, sees_organisation_tickets=True
        ),
    }


def _link_token(contact) -> str:
    digest = signin.address_digest(contact.email)
    row = SignInCode.objects.create(
        address_digest=digest,
        code_digest=signin.code_digest(digest, "123456"),
        contact=contact,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    return signin.link_token(row.pk, "123456")


def _url(name: str, world: dict) -> str:
    ref = world["ticket"].reference
    kwargs = {
        "detail": {"reference": ref},
        "reply": {"reference": ref},
        "status": {"reference": ref},
        "attachment": {"reference": ref, "pk": world["attachment"].pk},
        "rate": {"token": world["token"]},
        "link": {"token": world["link_token"]},
    }.get(name, {})
    return reverse(f"portal:{name}", kwargs=kwargs)


def _post_data(name: str, world: dict) -> dict:
    return {
        "reply": {"body": "Any news?", "intent": "matrix-intent"},
        "status": {"action": "solved", "version": world["ticket"].version},
        "language": {"language": "de", "next": "/portal/"},
    }.get(name, {})


def _as(client, actor: str, world: dict) -> None:
    if actor == "staff":
        client.force_login(AdminFactory(username="staff-admin"))
    elif actor != "anonymous":
        sign_in_as(client, world[actor])


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_access_matrix(client, world, name, actor, method):
    _as(client, actor, world)
    url = _url(name, world)
    response = client.get(url) if method == "GET" else client.post(url, _post_data(name, world))
    expected = EXPECTED[name][method][actor]
    if expected == SIGN_IN:
        assert response.status_code == 302, (name, actor, method)
        assert response["Location"].startswith(reverse("portal:sign_in")), response["Location"]
    else:
        assert response.status_code == int(expected), (name, actor, method)
    if response.status_code == 200 and actor in ("a3", "b1"):
        # Nothing of a ticket these contacts may not see appears on any page they get.
        assert world["ticket"].reference not in response.content.decode()


def test_a_tampered_rating_link_is_refused(client, world):
    token = world["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(reverse("portal:rate", kwargs={"token": forged})).status_code == 404
