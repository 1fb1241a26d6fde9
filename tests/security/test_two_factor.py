"""Two-factor sign-in (TOTP): setup with QR code, code after the password, recovery codes,
turning it off, and STAFF_REQUIRE_2FA."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import AdminFactory
from tests.security.conftest import code_for

pytestmark = pytest.mark.django_db


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _later(seconds: int = 60):
    """After a wrong code the device refuses codes for a moment (django-otp's throttle)."""
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


def test_setup_shows_a_qr_code_and_the_secret_and_confirms_with_a_code(client, agent):
    client.force_login(agent)
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "Set up two-factor sign-in" in html
    device = TOTPDevice.objects.get(user=agent, confirmed=False)
    assert "otpauth" not in html  # the QR code is drawn here, no external service needed
    wrong = client.post(reverse("two_factor_setup"), {"code": "000000"})
    assert "This code is not valid" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=agent, confirmed=True).exists()

    with _later():
        done = client.post(reverse("two_factor_setup"), {"code": code_for(device)})
    assert done.status_code == 200
    assert "Your recovery codes" in done.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    codes = list(StaticToken.objects.filter(device__user=agent).values_list("token", flat=True))
    assert len(codes) == 10
    assert all(code in done.content.decode() for code in codes)
    assert "On" in client.get(reverse("two_factor")).content.decode()


def test_password_alone_does_not_log_in_when_totp_is_on(client, totp_user, device):
    response = client.post(reverse("login"), {"username": "agent", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == reverse("login_code")
    assert not _logged_in(client)
    assert client.get(reverse("tickets:list")).status_code == 302

    page = client.get(reverse("login_code"))
    assert "Enter your sign-in code" in page.content.decode()
    wrong = client.post(reverse("login_code"), {"code": "123456"})
    assert "This code is not valid" in wrong.content.decode()
    assert not _logged_in(client)

    with _later():
        response = client.post(reverse("login_code"), {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:list")
    assert _logged_in(client)
    assert client.get(reverse("tickets:list")).status_code == 200


def test_the_code_step_keeps_the_next_page(client, totp_user, device):
    client.post(reverse("login"), {"username": "agent", "password": "pw", "next": "/escalations/"})
    response = client.post(reverse("login_code"), {"code": code_for(device)})
    assert response["Location"] == "/escalations/"


def test_a_recovery_code_logs_in_once(client, totp_user):
    code = totp_user.recovery_codes[0]
    client.post(reverse("login"), {"username": "agent", "password": "pw"})
    assert client.post(reverse("login_code"), {"code": code.upper()}).status_code == 302
    assert _logged_in(client)
    other = Client()
    other.post(reverse("login"), {"username": "agent", "password": "pw"})
    again = other.post(reverse("login_code"), {"code": code})
    assert again.status_code == 200
    assert not _logged_in(other)


def test_the_code_step_needs_the_password_first(client, totp_user, device):
    response = client.post(reverse("login_code"), {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not _logged_in(client)


def test_the_code_step_expires(client, totp_user, device):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post(reverse("login"), {"username": "agent", "password": "pw"})
    with time_machine.travel(start + dt.timedelta(minutes=10), tick=False):
        response = client.post(reverse("login_code"), {"code": code_for(device)})
    assert response["Location"] == reverse("login")
    assert not _logged_in(client)


def test_the_admin_login_asks_for_the_code_too(client, device):
    admin = AdminFactory(username="boss")
    TOTPDevice.objects.create(user=admin, name="authenticator", confirmed=True)
    admin_device = TOTPDevice.objects.get(user=admin)
    response = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "pw"})
    assert response["Location"] == reverse("login_code")
    assert client.get("/admin/").status_code == 302
    response = client.post(reverse("login_code"), {"code": code_for(admin_device)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_page_looks_like_the_helpdesk_login(client):
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    assert "Log in to the helpdesk" in page.content.decode()


def _log_in_with_code(client: Client, device: TOTPDevice) -> None:
    client.post(reverse("login"), {"username": device.user.username, "password": "pw"})
    client.post(reverse("login_code"), {"code": code_for(device)})
    assert _logged_in(client)


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "two_factor_setup"),
        ("post", "two_factor_recovery_codes"),
        ("post", "two_factor_disable"),
    ],
)
def test_a_session_without_the_code_cannot_change_the_second_factor(
    client, totp_user, device, method, name
):
    client.force_login(totp_user)  # e.g. a session opened before TOTP was turned on
    codes = set(StaticToken.objects.values_list("token", flat=True))
    response = getattr(client, method)(reverse(name), {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not _logged_in(client)
    assert TOTPDevice.objects.filter(user=totp_user, confirmed=True).count() == 1
    assert set(StaticToken.objects.values_list("token", flat=True)) == codes


def test_turn_off_needs_a_current_code(client, totp_user, device):
    with _later(-60):
        _log_in_with_code(client, device)
    response = client.post(reverse("two_factor_disable"), {"code": "000000"}, follow=True)
    assert "Two-factor sign-in stays on" in response.content.decode()
    assert TOTPDevice.objects.filter(user=totp_user).exists()
    with _later():
        response = client.post(
            reverse("two_factor_disable"), {"code": code_for(device)}, follow=True
        )
    assert "Two-factor sign-in is off." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=totp_user).exists()
    assert not StaticToken.objects.filter(device__user=totp_user).exists()
    # The password alone logs in again.
    other = Client()
    assert other.post(reverse("login"), {"username": "agent", "password": "pw"})[
        "Location"
    ] == reverse("tickets:list")


def test_new_recovery_codes_replace_the_old_ones(client, totp_user, device):
    _log_in_with_code(client, device)
    old = set(totp_user.recovery_codes)
    page = client.post(reverse("two_factor_recovery_codes"))
    new = set(StaticToken.objects.filter(device__user=totp_user).values_list("token", flat=True))
    assert len(new) == 10 and not new & old
    assert all(code in page.content.decode() for code in new)


def test_the_settings_page_is_in_the_user_menu(client, agent):
    client.force_login(agent)
    html = client.get(reverse("tickets:list")).content.decode()
    assert f'href="{reverse("two_factor")}"' in html
    assert "Turn on two-factor sign-in" in client.get(reverse("two_factor")).content.decode()


class TestStaffRequire2FA:
    @pytest.fixture(autouse=True)
    def _required(self, settings):
        settings.STAFF_REQUIRE_2FA = True

    def test_staff_without_totp_are_sent_to_set_it_up(self, client, admin_user):
        client.force_login(admin_user)
        for url in (reverse("tickets:list"), "/admin/"):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"] == reverse("two_factor_setup")
        assert client.get(reverse("two_factor_setup")).status_code == 200

    def test_staff_who_set_it_up_can_work(self, client, admin_user):
        client.force_login(admin_user)
        client.get(reverse("two_factor_setup"))
        device = TOTPDevice.objects.get(user=admin_user)
        client.post(reverse("two_factor_setup"), {"code": code_for(device)})
        assert client.get("/admin/").status_code == 200
        assert client.get(reverse("tickets:list")).status_code == 200

    def test_staff_cannot_turn_it_off(self, client, admin_user):
        TOTPDevice.objects.create(user=admin_user, name="authenticator", confirmed=True)
        device = TOTPDevice.objects.get(user=admin_user)
        client.post("/admin/login/", {"username": "admin", "password": "pw"})
        client.post(reverse("login_code"), {"code": code_for(device)})
        with time_machine.travel(timezone.now() + dt.timedelta(minutes=2), tick=False):
            response = client.post(
                reverse("two_factor_disable"), {"code": code_for(device)}, follow=True
            )
        assert "Staff accounts must keep two-factor sign-in." in response.content.decode()
        assert TOTPDevice.objects.filter(user=admin_user).exists()

    def test_a_session_without_the_code_must_sign_in_again(self, client, admin_user):
        TOTPDevice.objects.create(user=admin_user, name="authenticator", confirmed=True)
        client.force_login(admin_user)  # e.g. a session from before TOTP was turned on
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert not _logged_in(client)

    def test_agents_are_not_asked(self, client, agent):
        client.force_login(agent)
        assert client.get(reverse("tickets:list")).status_code == 200


def test_an_admin_can_remove_an_authenticator_but_not_read_its_secret(client, admin_user, device):
    client.force_login(admin_user)
    config = reverse("admin:otp_totp_totpdevice_config", args=[device.pk])
    assert client.get(config).status_code == 403
    change = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert device.key not in change.content.decode()
    delete = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
