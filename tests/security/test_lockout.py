"""Login brute force: django-axes locks out per account and per address, with a cool-off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.security.conftest import code_for

pytestmark = pytest.mark.django_db

LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def _post(client: Client, url: str, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one(client, admin_user, url):
    for _ in range(30):
        response = _post(client, url, "admin", "wrong")
    assert response.status_code == 429
    response = _post(client, url, "admin", "pw")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not _logged_in(client)
    assert client.get("/admin/").status_code == 302  # still sent to the login


def test_below_the_limit_the_right_password_logs_in_and_resets_the_count(client, agent):
    for _ in range(LIMIT - 1):
        assert _post(client, "/login/", "agent", "wrong").status_code == 200
    response = _post(client, "/login/", "agent", "pw")
    assert response.status_code == 302
    assert _logged_in(client)
    assert not AccessAttempt.objects.filter(username="agent").exists()


def test_unknown_and_known_user_names_get_the_same_answers(agent):
    known, unknown = Client(), Client()
    first_known = _post(known, "/login/", "agent", "wrong", ip="10.0.0.1")
    first_unknown = _post(unknown, "/login/", "nobody-here", "wrong", ip="10.0.0.2")
    message = "Your username and password did not match"
    assert message in first_known.content.decode()
    assert message in first_unknown.content.decode()
    for _ in range(LIMIT):
        locked_known = _post(known, "/login/", "agent", "wrong", ip="10.0.0.1")
        locked_unknown = _post(unknown, "/login/", "nobody-here", "wrong", ip="10.0.0.2")
    assert locked_known.status_code == locked_unknown.status_code == 429
    assert _without_tokens(locked_known) == _without_tokens(locked_unknown)


def _without_tokens(response) -> str:
    """The page without its CSRF tokens (random per client)."""
    return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", response.text)


def test_one_account_is_locked_whatever_the_address(client, agent):
    for n in range(LIMIT):
        _post(client, "/login/", "agent", "wrong", ip=f"10.0.1.{n}")
    assert _post(client, "/login/", "agent", "pw", ip="10.0.2.1").status_code == 429


def test_one_address_is_locked_whatever_the_account(client, agent):
    for n in range(LIMIT):
        _post(client, "/login/", f"guess{n}", "wrong", ip="10.0.3.1")
    assert _post(client, "/login/", "agent", "pw", ip="10.0.3.1").status_code == 429
    # Another address is not affected.
    assert _post(Client(), "/login/", "agent", "pw", ip="10.0.3.2").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, agent):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            _post(client, "/login/", "agent", "wrong")
        response = _post(client, "/login/", "agent", "pw")
        assert response.status_code == 429
        assert "Please try again in 15 minutes" in response.content.decode()
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert _post(client, "/login/", "agent", "pw").status_code == 302
    assert _logged_in(client)


def test_the_limit_and_cool_off_come_from_the_settings(client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=3)
    _post(client, "/login/", "agent", "wrong")
    response = _post(client, "/login/", "agent", "wrong")
    assert response.status_code == 429
    assert "Please try again in 3 minutes" in response.content.decode()


def test_an_admin_unlocks_an_account_in_the_admin(client, agent, admin_user):
    for _ in range(LIMIT):
        _post(client, "/login/", "agent", "wrong")
    assert _post(client, "/login/", "agent", "pw").status_code == 429
    admin = Client()
    admin.force_login(admin_user)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert "agent" in admin.get(changelist).content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    response = admin.post(
        changelist, {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert response.status_code == 302
    assert _post(client, "/login/", "agent", "pw").status_code == 302


def test_wrong_two_factor_codes_count_as_failed_logins(client, totp_user, device):
    for _ in range(LIMIT):
        assert _post(client, "/login/", "agent", "pw").status_code == 302
        response = client.post(reverse("login_code"), {"code": "000000"}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    # Locked: even the right password and code do not get in now.
    assert _post(client, "/login/", "agent", "pw").status_code == 429
    assert not _logged_in(client)


def test_behind_the_proxy_the_client_address_comes_from_the_proxy(settings, agent):
    """Two clients behind the proxy are told apart; a client's own header is not believed."""
    settings.BEHIND_PROXY = True
    proxy = "172.30.0.2"
    settings.FORWARDED_ALLOW_IPS = ["172.30.0.0/24"]
    attacker = Client()
    for n in range(LIMIT):
        attacker.post(
            "/login/",
            {"username": f"guess{n}", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    colleague = Client()
    response = colleague.post(
        "/login/",
        {"username": "agent", "password": "pw"},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302  # the attacker's lock is not the colleague's
    assert AccessAttempt.objects.filter(ip_address="203.0.113.9").exists()


def test_forwarded_headers_from_others_than_the_proxy_are_dropped(settings, agent):
    settings.BEHIND_PROXY = True
    settings.FORWARDED_ALLOW_IPS = ["172.30.0.0/24"]
    client = Client()
    client.post(
        "/login/",
        {"username": "agent", "password": "wrong"},
        REMOTE_ADDR="192.0.2.50",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == "192.0.2.50"


def test_a_lock_during_the_code_step_refuses_the_right_code(client, totp_user, device):
    assert _post(client, "/login/", "agent", "pw").status_code == 302  # waiting for the code
    attacker = Client()
    for n in range(LIMIT):
        _post(attacker, "/login/", "agent", "wrong", ip=f"10.0.4.{n}")
    response = client.post(reverse("login_code"), {"code": code_for(device)})
    assert response.status_code == 429
    assert not _logged_in(client)
