from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken


def token_for(user, **kwargs) -> str:
    _instance, secret = ApiToken.objects.create(user=user, name="test", **kwargs)
    return secret


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def api(agent, team_a):
    return client_for(agent)
