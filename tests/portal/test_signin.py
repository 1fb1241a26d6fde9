"""Signing in by a one-time code: expiry, attempts, throttles, no enumeration, and sessions
that stay apart from the staff login."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal import signin
from portal.models import SignInCode
from tests.factories import AdminFactory, UserFactory
from tests.portal.conftest import ContactFactory, sign_in_as

# The code email goes through the outbox: its send task runs at once here.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deliveries_sent")]


def request_code(client, address, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("portal:sign_in"), {"email": address}, **extra)


def mailed_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_a_contact_signs_in_with_the_mailed_code(client, django_capture_on_commit_callbacks):
    contact = ContactFactory(email="anna@acme.example", name="Anna")
    response = request_code(client, "Anna@Acme.example ", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:code")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@acme.example"]
    code = mailed_code()
    assert code in mail.outbox[0].subject
    row = SignInCode.objects.get()
    # Only keyed digests are stored: neither the code nor the address.
    assert code not in row.code_digest and "anna" not in row.address_digest
    assert row.contact == contact

    response = client.post(reverse("portal:code"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:tickets")
    page = client.get(reverse("portal:tickets"))
    assert page.status_code == 200
    assert "Anna" in page.content.decode()
    # Used once: the same code does not sign in again.
    client.post(reverse("portal:sign_out"))
    request_again = client.post(reverse("portal:code"), {"code": code})
    assert request_again.status_code == 302  # no pending address any more: back to step one
    assert request_again["Location"] == reverse("portal:sign_in")


def test_the_code_is_in_the_contacts_language(client, django_capture_on_commit_callbacks):
    ContactFactory(email="dora@acme.example", language="de")
    request_code(client, "dora@acme.example", django_capture_on_commit_callbacks)
    assert "Anmeldecode" in mail.outbox[0].subject


def _visible_text(response) -> str:
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", body)


def test_unknown_and_known_addresses_get_the_same_answers(
    client, django_capture_on_commit_callbacks
):
    """No user enumeration: the same redirect, the same code page, the same refusal."""
    ContactFactory(email="known@acme.example")
    ContactFactory(email="blocked@acme.example", portal_access=False)
    answers = {}
    for address in ("known@acme.example", "nobody@acme.example", "blocked@acme.example"):
        client.cookies.clear()
        first = request_code(client, address, django_capture_on_commit_callbacks)
        page = client.get(first["Location"])
        wrong = client.post(reverse("portal:code"), {"code": "000000"})
        answers[address] = (
            first.status_code,
            first["Location"],
            page.status_code,
            _visible_text(page).replace(address, "ADDRESS"),
            wrong.status_code,
            _visible_text(wrong).replace(address, "ADDRESS"),
        )
    assert answers["known@acme.example"] == answers["nobody@acme.example"]
    assert answers["known@acme.example"] == answers["blocked@acme.example"]
    # Only the contact with portal access was mailed; every address has a code row.
    assert [m.to for m in mail.outbox] == [["known@acme.example"]]
    assert SignInCode.objects.count() == 3
    assert SignInCode.objects.filter(contact__isnull=True).count() == 2


def test_an_expired_code_is_refused(monkeypatch):
    contact = ContactFactory(email="late@acme.example")
    now = timezone.now()
    monkeypatch.setattr(signin.secrets, "randbelow", lambda _limit: 4711)
    signin.code_request(address=contact.email, ip="192.0.2.1", now=now)
    code = "004711"
    with pytest.raises(signin.SignInRefused, match="expired"):
        signin.code_verify(
            address=contact.email, code=code, ip="192.0.2.1", now=now + timedelta(minutes=11)
        )
    assert (
        signin.code_verify(
            address=contact.email, code=code, ip="192.0.2.1", now=now + timedelta(minutes=9)
        )
        == contact
    )


def test_five_wrong_codes_use_the_code_up(client, django_capture_on_commit_callbacks):
    ContactFactory(email="typo@acme.example")
    request_code(client, "typo@acme.example", django_capture_on_commit_callbacks)
    code = mailed_code()
    wrong = "111111" if code != "111111" else "222222"
    for attempt in range(1, 6):
        response = client.post(reverse("portal:code"), {"code": wrong})
        assert response.status_code == 400
        expected = "Too many wrong codes" if attempt == 5 else "This code is not correct"
        assert expected in response.content.decode()
    assert SignInCode.objects.get().attempts == 5
    response = client.post(reverse("portal:code"), {"code": code})
    assert response.status_code == 400
    assert "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_a_new_code_replaces_the_old_one(client, django_capture_on_commit_callbacks):
    ContactFactory(email="twice@acme.example")
    request_code(client, "twice@acme.example", django_capture_on_commit_callbacks)
    first = mailed_code()
    request_code(client, "twice@acme.example", django_capture_on_commit_callbacks)
    second = mailed_code()
    if first != second:
        response = client.post(reverse("portal:code"), {"code": first})
        assert response.status_code == 400
    response = client.post(reverse("portal:code"), {"code": second})
    assert response.status_code == 302


@pytest.mark.parametrize("address", ["known@acme.example", "unknown@acme.example"])
def test_code_requests_are_throttled_per_address(
    client, settings, django_capture_on_commit_callbacks, address
):
    settings.PORTAL_CODE_REQUESTS_PER_ADDRESS = 3
    ContactFactory(email="known@acme.example")
    for n in range(3):
        response = request_code(
            client, address, django_capture_on_commit_callbacks, REMOTE_ADDR=f"192.0.2.{n}"
        )
        assert response.status_code == 302
    response = request_code(
        client, address, django_capture_on_commit_callbacks, REMOTE_ADDR="192.0.2.99"
    )
    assert response.status_code == 400
    assert "Too many attempts" in response.content.decode()
    assert SignInCode.objects.count() == 3


def test_code_requests_are_throttled_per_ip(client, settings, django_capture_on_commit_callbacks):
    settings.PORTAL_CODE_REQUESTS_PER_IP = 4
    for n in range(4):
        response = request_code(
            client, f"someone{n}@acme.example", django_capture_on_commit_callbacks
        )
        assert response.status_code == 302
    response = request_code(client, "someone9@acme.example", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "Too many attempts" in response.content.decode()
    # Another address from another IP is still served.
    response = request_code(
        client, "other@acme.example", django_capture_on_commit_callbacks, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 302


def test_wrong_codes_are_throttled_per_ip(settings):
    """Guessing across many addresses from one IP stops at PORTAL_CODE_VERIFY_PER_IP."""
    settings.PORTAL_CODE_VERIFY_PER_IP = 3
    for n in range(3):
        signin.code_request(address=f"guess{n}@acme.example", ip=f"203.0.113.{n}")
        with pytest.raises(signin.SignInRefused, match="not correct"):
            signin.code_verify(address=f"guess{n}@acme.example", code="123456", ip="192.0.2.5")
    with pytest.raises(signin.SignInRefused, match="Too many attempts"):
        signin.code_verify(address="guess0@acme.example", code="123456", ip="192.0.2.5")


def test_a_contact_who_lost_access_is_signed_out(client):
    contact = ContactFactory(email="gone@acme.example")
    sign_in_as(client, contact)
    assert client.get(reverse("portal:tickets")).status_code == 200
    contact.portal_access = False
    contact.save()
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in"))


def test_a_changed_address_ends_the_portal_session(client):
    contact = ContactFactory(email="old@acme.example")
    sign_in_as(client, contact)
    contact.email = "new@acme.example"
    contact.save()
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_a_contact_never_reaches_agent_pages_or_the_admin(client):
    sign_in_as(client, ContactFactory(email="curious@acme.example"))
    for url in ("/tickets/", "/escalations/", "/notifications/", "/admin/", "/api/v1/tickets/"):
        response = client.get(url)
        assert response.status_code in (302, 401, 403), url
        if response.status_code == 302:
            assert "/login/" in response["Location"], url


def test_a_staff_session_does_not_make_a_contact(client):
    client.force_login(AdminFactory(username="boss"))
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in"))
    client.force_login(UserFactory(username="agent7"))
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_signing_in_to_the_portal_keeps_no_staff_user(client, django_capture_on_commit_callbacks):
    """The contact is no `request.user`: the session holds no Django login."""
    ContactFactory(email="plain@acme.example")
    request_code(client, "plain@acme.example", django_capture_on_commit_callbacks)
    client.post(reverse("portal:code"), {"code": mailed_code()})
    assert "_auth_user_id" not in client.session


def mailed_link_path() -> str:
    link = re.search(r"(http\S+/portal/sign-in/link/\S+/)", mail.outbox[-1].body).group(1)
    return link.split("127.0.0.1:8000", 1)[1]


def test_the_link_in_the_email_signs_in_once(client, django_capture_on_commit_callbacks):
    ContactFactory(email="linked@acme.example", name="Lina")
    request_code(client, "linked@acme.example", django_capture_on_commit_callbacks)
    path = mailed_link_path()
    # Opening the link (as a mail scanner does) signs nobody in and uses nothing up.
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        assert client.get(reverse("portal:tickets")).status_code == 302
    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:tickets")
    assert "Lina" in client.get(reverse("portal:tickets")).content.decode()
    client.post(reverse("portal:sign_out"))
    again = client.post(path)
    assert again.status_code == 400
    assert "expired or was used up" in again.content.decode()


def test_the_code_and_its_link_are_one(client, django_capture_on_commit_callbacks):
    """Typing the code uses the link up, and wrong codes count against the link too."""
    ContactFactory(email="both@acme.example")
    request_code(client, "both@acme.example", django_capture_on_commit_callbacks)
    path = mailed_link_path()
    code = mailed_code()
    wrong = "111111" if code != "111111" else "222222"
    for _ in range(5):
        client.post(reverse("portal:code"), {"code": wrong})
    response = client.post(path)
    assert response.status_code == 400
    assert "Too many wrong codes" in response.content.decode()


def test_an_expired_or_forged_link_is_refused(client, monkeypatch):
    contact = ContactFactory(email="old-link@acme.example")
    monkeypatch.setattr(signin.secrets, "randbelow", lambda _limit: 4711)
    signin.code_request(address=contact.email, ip="192.0.2.1")
    row = SignInCode.objects.get()
    token = signin.link_token(row.pk, "004711")
    forged = signin.link_token(row.pk, "000000")
    response = client.post(reverse("portal:link", kwargs={"token": forged}))
    assert response.status_code == 400
    assert "not correct" in response.content.decode()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.post(reverse("portal:link", kwargs={"token": tampered}))
    assert "sign-in link has expired or is not valid" in response.content.decode()
    later = timezone.now().timestamp() + 11 * 60
    monkeypatch.setattr(signin.signing.time, "time", lambda: later)
    response = client.post(reverse("portal:link", kwargs={"token": token}))
    assert response.status_code == 400
    assert "sign-in link has expired or is not valid" in response.content.decode()
