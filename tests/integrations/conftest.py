from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from integrations import services
from integrations.models import Integration


def make_integration(team, **kwargs) -> tuple[Integration, str]:
    integration = Integration(name=kwargs.pop("name", "Prometheus"), team=team, **kwargs)
    secret = services.integration_save(integration=integration)
    return integration, secret


def alert_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache (Redis in CI): each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def integration(team_a):
    return make_integration(team_a)


@pytest.fixture
def monitor(integration):
    return alert_client(integration[1])
