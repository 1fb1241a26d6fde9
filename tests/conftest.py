"""Thin shared fixtures. Test tweaks to settings live here, not in a parallel settings tree."""

from __future__ import annotations

import glob
import os
import shutil

import pytest

from tests.factories import AdminFactory, TeamFactory, UserFactory


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def _missing_services() -> dict[str, str]:
    """Which real services this run lacks, by marker name, with the reason."""
    from django.conf import settings

    missing: dict[str, str] = {}
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing["postgres"] = "no PostgreSQL: set DATABASE_URL=postgres://..."
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        missing["redis"] = "no Redis: set REDIS_URL=redis://..."
    else:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
        except redis.RedisError as exc:
            missing["redis"] = f"Redis at REDIS_URL does not answer ({exc})"
    if "redis" in missing or "postgres" in missing:
        missing["celery_worker"] = "a real worker needs PostgreSQL and Redis"
    if not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"):
        missing["e2e"] = "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    if not os.path.exists("/usr/sbin/dovecot"):
        missing["imap"] = "no Dovecot at /usr/sbin/dovecot (apt-get install dovecot-imapd)"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("redis-server"):
        missing["chaos"] = "the chaos run needs PostgreSQL's initdb and redis-server installed"
    if not shutil.which("prometheus-alertmanager"):
        missing["alertmanager"] = "no Alertmanager (apt-get install prometheus-alertmanager)"
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip suites whose real service is absent on a laptop; under CI=true, fail them instead."""
    missing = _missing_services()
    in_ci = os.environ.get("CI") == "true"
    skipped: dict[str, int] = {}
    for item in items:
        for marker, reason in missing.items():
            if item.get_closest_marker(marker):
                if in_ci:
                    item.user_properties.append(("missing_service", f"[{marker}] {reason}"))
                else:
                    item.add_marker(pytest.mark.skip(reason=f"[{marker}] {reason}"))
                    skipped[marker] = skipped.get(marker, 0) + 1
                break
    config._helpdesk_skipped_suites = skipped  # type: ignore[attr-defined]


def pytest_runtest_setup(item: pytest.Item) -> None:
    reasons = [value for key, value in item.user_properties if key == "missing_service"]
    if reasons:
        pytest.fail(f"CI=true but a required service is missing: {'; '.join(reasons)}")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = getattr(config, "_helpdesk_skipped_suites", {})
    if skipped:
        terminalreporter.write_line(
            "Suites skipped for want of a service: "
            + ", ".join(f"{marker} ({n} tests)" for marker, n in sorted(skipped.items()))
            + ". Under CI=true they run or fail."
        )


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path, monkeypatch):
    # Sign-in attempts per address: every test signs in from 127.0.0.1, and the counters live
    # in the shared cache; the tests of the throttle set their own rate.
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "100000/minute")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.LANGUAGE_CODE = "en"
    # Configuration cached by an earlier test may name rows a transactional test flushed.
    from helpdesk import configcache

    configcache.clear_local()


@pytest.fixture
def agent(db):
    """An agent in team_a."""
    return UserFactory(username="agent")


@pytest.fixture
def team_a(db, agent):
    return TeamFactory(name="Team A", members=[agent])


@pytest.fixture
def other_agent(db):
    return UserFactory(username="other")


@pytest.fixture
def team_b(db, other_agent):
    return TeamFactory(name="Team B", members=[other_agent])


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="admin")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as migrations leave it (levels, rules, policies, templates), kept for
    transactional tests marked `serialized_rollback`, which start from it again.

    Django keeps it on the connection object, and connections live in an asgiref Local: the
    browser tests run Playwright's event loop in the test thread, after which the same thread
    may get a fresh connection object without it — and the seeded rows were then gone for
    the transactional tests that followed a browser test. Kept on the connection class as
    well, every connection object of the run sees it."""
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            connection = connections[alias]
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents is None:
                contents = connection.creation.serialize_db_to_string()
            connection._test_serialized_contents = contents
            type(connection)._test_serialized_contents = contents
    yield
