"""/metrics: who may read it, and that each figure says what the database holds."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from escalation.models import Escalation, SweepFailure
from monitoring import services
from monitoring.metrics import StateCollector
from notifications.models import Delivery
from tests.factories import AdminFactory, TeamFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests-0123456789"


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(response)

    return get


def test_anonymous_wrong_token_and_staff_get_401(client, settings):
    settings.METRICS_TOKEN = TOKEN
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"helpdesk_" not in response.content
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/metrics").status_code == 401


def test_no_token_configured_means_no_bearer_access(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_a_superuser_session_may_read_it(client):
    client.force_login(AdminFactory())
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"helpdesk_sweep_lag_seconds" in response.content


def test_the_figures_match_the_database(scrape, django_assert_max_num_queries):
    now = timezone.now()
    team_a, team_b = TeamFactory(), TeamFactory()
    due = TicketFactory(team=team_a, open=True)
    TicketFactory(team=team_a, open=True)
    type(due).objects.filter(pk=due.pk).update(next_check_at=now - timedelta(minutes=4))
    for trigger in ("sla_breach", "sla_breach", ""):
        Escalation.objects.create(
            ticket=due,
            kind="hierarchical",
            cycle=1,
            trigger=trigger,
            from_team=team_a,
            to_team=team_b,
            from_level=due.level,
            to_level=due.level,
            status="closed",
        )
    user = UserFactory()
    Delivery.objects.create(
        channel="email",
        user=user,
        kind="a",
        dedupe_key="a",
        next_attempt_at=now - timedelta(minutes=3),
    )
    Delivery.objects.create(channel="email", user=user, kind="b", dedupe_key="b", status="sent")
    SweepFailure.objects.create(
        ticket=TicketFactory(team=team_a, open=True),
        failures=2,
        first_failed_at=now,
        last_failed_at=now,
        retry_at=now + timedelta(minutes=2),
    )
    services.record_sweep(
        started_at=now - timedelta(seconds=70),
        ended_at=now - timedelta(seconds=60),
        summary={"examined": 40, "fired": 3, "failed": 1},
    )
    services.record_sweep(
        started_at=now - timedelta(seconds=12),
        ended_at=now - timedelta(seconds=10),
        summary={"examined": 2, "fired": 0, "failed": 0},
    )

    with django_assert_max_num_queries(StateCollector.QUERIES + 2):  # + the session, none here
        found = scrape()

    assert 239 <= found[("helpdesk_sweep_lag_seconds", ())] < 300
    assert found[("helpdesk_sweep_due_tickets", ())] == 1
    assert found[("helpdesk_sweep_runs_total", ())] == 2
    assert found[("helpdesk_sweep_examined_tickets_total", ())] == 42
    assert found[("helpdesk_sweep_fired_rules_total", ())] == 3
    assert found[("helpdesk_sweep_failed_tickets_total", ())] == 1
    assert found[("helpdesk_sweep_duration_seconds_total", ())] == pytest.approx(12.0)
    assert found[("helpdesk_sweep_last_duration_seconds", ())] == pytest.approx(2.0)
    assert found[("helpdesk_sweep_last_finished_timestamp_seconds", ())] == pytest.approx(
        (now - timedelta(seconds=10)).timestamp()
    )
    rank = str(due.level.rank)
    assert found[("helpdesk_escalations_total", (("level", rank), ("trigger", "sla_breach")))] == 2
    assert found[("helpdesk_escalations_total", (("level", rank), ("trigger", "manual")))] == 1
    assert found[("helpdesk_deliveries", (("channel", "email"), ("status", "pending")))] == 1
    assert found[("helpdesk_deliveries", (("channel", "email"), ("status", "sent")))] == 1
    assert 179 <= found[("helpdesk_outbox_age_seconds", ())] < 240
    assert found[("helpdesk_sweep_backoff_tickets", ())] == 1


def test_an_empty_installation_reports_zeros(scrape):
    found = scrape()
    assert found[("helpdesk_sweep_lag_seconds", ())] == 0
    assert found[("helpdesk_sweep_runs_total", ())] == 0
    assert found[("helpdesk_sweep_last_finished_timestamp_seconds", ())] == 0
    assert found[("helpdesk_outbox_age_seconds", ())] == 0


def test_request_latency_is_counted_per_view(client, scrape):
    client.get("/healthz")
    client.get("/no-such-page/")
    found = scrape()
    health = (("method", "GET"), ("status", "2xx"), ("view", "healthz"))
    assert found[("helpdesk_http_request_duration_seconds_count", health)] >= 1
    missing = (("method", "GET"), ("status", "4xx"), ("view", "unresolved"))
    assert found[("helpdesk_http_request_duration_seconds_count", missing)] >= 1
    # A made-up method does not make a new label value.
    client.generic("BREW", "/healthz")
    assert not [key for key in scrape() if ("method", "BREW") in key[1]]


def test_without_redis_there_are_no_queue_lengths(scrape, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    found = scrape()
    assert found[("helpdesk_broker_up", ())] == 1
    assert not [key for key in found if key[0] == "helpdesk_celery_queue_length"]


@pytest.mark.redis
def test_queue_lengths_are_read_from_redis(scrape, settings):
    import redis

    url = os.environ["REDIS_URL"]
    settings.CELERY_BROKER_URL = url
    client = redis.Redis.from_url(url)
    client.delete("deliveries", "deliveries\x06\x163")
    try:
        client.rpush("deliveries", "a", "b")
        client.rpush("deliveries\x06\x163", "c")
        found = scrape()
        assert found[("helpdesk_broker_up", ())] == 1
        assert found[("helpdesk_celery_queue_length", (("queue", "deliveries"),))] == 3
    finally:
        client.delete("deliveries", "deliveries\x06\x163")


def test_an_unreachable_broker_is_reported_not_raised(scrape, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert scrape()[("helpdesk_broker_up", ())] == 0
