"""Outages of Redis and PostgreSQL give clean answers, not 500s (found by bench/chaos.py)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

from helpdesk.cache import ResilientRedisCache
from tests.api.conftest import client_for
from tests.factories import TeamFactory, UserFactory

UNREACHABLE = "redis://127.0.0.1:1/0"
OPTIONS = {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}


def test_an_unreachable_redis_answers_as_an_empty_cache(caplog, monkeypatch):
    monkeypatch.setattr("helpdesk.cache._last_warning", 0.0)  # another test may have warned
    cache = ResilientRedisCache(UNREACHABLE, OPTIONS)
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("k") is False
    assert cache.add("k", 1) is True
    assert cache.set("k", 1) is None
    assert cache.incr("k", 3) == 3
    assert cache.decr("k") == -1
    assert cache.delete("k") is False
    assert "Cache unreachable" in caplog.text


@pytest.mark.redis
def test_a_reachable_redis_is_a_normal_cache():
    import os

    cache = ResilientRedisCache(os.environ["REDIS_URL"], OPTIONS)
    cache.set("monitoring-test", 41)
    assert cache.incr("monitoring-test") == 42
    assert cache.get("monitoring-test") == 42
    cache.delete("monitoring-test")
    with pytest.raises(ValueError):
        cache.incr("monitoring-test")  # a missing key is still an error, not an outage


@pytest.mark.redis
def test_the_cache_builds_one_redis_client_for_its_operations(monkeypatch):
    """Django's Redis cache built a `redis.Redis` per operation (four per API request for the
    throttles alone); this one keeps one per connection pool."""
    import os

    import redis

    built = []
    build = redis.Redis.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    cache = ResilientRedisCache(os.environ["REDIS_URL"], OPTIONS)
    cache.set("monitoring-pool", 1)
    assert cache.get("monitoring-pool") == 1
    cache.delete("monitoring-pool")
    assert cache.get("monitoring-pool") is None
    assert len(built) == 1


@pytest.mark.django_db
def test_api_writes_go_on_while_the_throttles_cache_is_away(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.ResilientRedisCache",
            "LOCATION": UNREACHABLE,
            **OPTIONS,
        }
    }
    user = UserFactory()
    team = TeamFactory(members=[user])
    api = client_for(user)
    response = api.post(
        "/api/v1/tickets/",
        {"subject": "Checkout down", "team": team.pk, "impact": 2, "urgency": 2},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_a_database_outage_mid_request_is_a_503_with_retry_after(monkeypatch):
    def gone(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr("knowledge.views.render", gone)
    page = Client(raise_request_exception=False).get("/help/")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"
    assert "briefly unavailable" in page.content.decode()
    assert "administrator command" not in page.content.decode()


@pytest.mark.django_db
def test_a_database_outage_in_the_api_is_a_problem_detail(monkeypatch):
    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    user = UserFactory()
    TeamFactory(members=[user])
    monkeypatch.setattr("rest_framework.views.APIView.check_permissions", gone)
    api = client_for(user)
    api.raise_request_exception = False
    response = api.get("/api/v1/tickets/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_a_database_outage_in_a_middleware_is_a_503_too(monkeypatch):
    """The session is read by a middleware, before any view: a restart hits it there first."""

    def gone(*args, **kwargs):
        raise OperationalError("connection refused")

    user = UserFactory()
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", gone)
    page = browser.get("/tickets/")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"


@pytest.mark.django_db
def test_other_errors_are_still_the_500_page(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("knowledge.views.render", broken)
    page = Client(raise_request_exception=False).get("/help/")
    assert page.status_code == 500
    assert "Retry-After" not in page
