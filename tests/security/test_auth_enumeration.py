"""Auth: the throttle on making API tokens holds, and the sign-in pages do not tell, by
their time, whether an account exists.

The lock-outs of the browser and admin sign-in (`test_lockout`) and the portal's code
throttles (`tests/portal/test_signin.py`) have their own tests, as do the equal messages
for known and unknown names and addresses. The timing check is statistical: ~30 samples
each way, interleaved so that load on the machine hits both alike, and the medians compared
with a generous bound. It asks whether an unknown name skips the password hashing (the
classic leak: a missing user answers in a fraction of the time); it measures no speed.
"""

from __future__ import annotations

import statistics
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SAMPLES = 30
# An unknown name must cost at least this share of a known one (and not more than its
# inverse): a skipped hash makes it a small fraction, noise on a shared machine does not.
BOUND = 0.5


class MeasurableHasher(PBKDF2PasswordHasher):
    """PBKDF2 with enough rounds (some milliseconds) for a skipped hash to show, and few
    enough to keep the test short; production uses Django's default rounds."""

    algorithm = "pbkdf2_sha256_measurable"
    iterations = 250_000


@pytest.fixture
def real_hashing(settings):
    settings.PASSWORD_HASHERS = [
        f"{MeasurableHasher.__module__}.{MeasurableHasher.__qualname__}",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def _timed(client: Client, url: str, data: dict, ip: str) -> float:
    start = time.perf_counter()
    response = client.post(url, data, REMOTE_ADDR=ip)
    elapsed = time.perf_counter() - start
    assert response.status_code < 500
    return elapsed


def _medians(url: str, known: dict, unknown: dict) -> tuple[float, float]:
    client = Client()
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(SAMPLES):
        for name, data in (("known", known), ("unknown", unknown)):
            times[name].append(_timed(client, url, data, ip=f"10.9.{i}.{len(name)}"))
        # Stay below the lock-out: a locked answer is fast for both and would hide a leak.
        AccessAttempt.objects.all().delete()
    return statistics.median(times["known"]), statistics.median(times["unknown"])


def test_an_unknown_user_name_costs_what_a_known_one_does(real_hashing):
    """The browser's sign-in (the admin's uses the same backend and lock-out)."""
    UserFactory(username="timed", password="right-password")
    known, unknown = _medians(
        "/login/",
        {"username": "timed", "password": "wrong-password"},
        {"username": "no-such-user", "password": "wrong-password"},
    )
    assert BOUND <= unknown / known <= 1 / BOUND, (known, unknown)


def test_the_measurement_sees_a_skipped_hash(real_hashing, monkeypatch):
    """The control: with the leak put back (Django's backend hashes the password of an
    unknown name through `set_password` on a throw-away user; here that does nothing), the
    same measurement tells the two apart."""
    UserFactory(username="timed", password="right-password")
    monkeypatch.setattr(AbstractBaseUser, "set_password", lambda self, raw: None)
    hashed, skipped = _medians(
        "/login/",
        {"username": "timed", "password": "wrong-password"},
        {"username": "no-such-user", "password": "wrong-password"},
    )
    assert skipped / hashed < BOUND, (hashed, skipped)


def test_an_unknown_portal_address_costs_what_a_known_one_does(settings):
    from tests.portal.conftest import ContactFactory

    settings.PORTAL_CODE_REQUESTS_PER_ADDRESS = 10_000
    settings.PORTAL_CODE_REQUESTS_PER_IP = 10_000
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    ContactFactory(email="known@acme.example")
    known, unknown = _medians(
        reverse("portal:sign_in"), {"email": "known@acme.example"}, {"email": "nobody@acme.example"}
    )
    # Sending the code is queued after commit, so both answers do the same work up front.
    assert BOUND <= unknown / known <= 1 / BOUND, (known, unknown)


def test_making_api_tokens_is_throttled(monkeypatch, agent, team_a):
    monkeypatch.setattr(SimpleRateThrottle, "cache", LocMemCache("tokens", {}))
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token_create", "3/hour")
    client = Client()
    client.force_login(agent)
    answers = [
        client.post(reverse("api:tokens"), {"name": f"t{i}"}, content_type="application/json")
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    assert answers[-1]["Retry-After"]
    assert ApiToken.objects.filter(user=agent).count() == 3
