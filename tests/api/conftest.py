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


def anonymous() -> APIClient:
    return APIClient()


def expired_client(user) -> APIClient:
    from datetime import timedelta

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user, expiry=timedelta(seconds=-1))}")
    return client


def deactivated_client(user) -> APIClient:
    """A client with a token made while `user` was active; the user is deactivated after."""
    client = client_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    return client


def assert_refused_without_valid_credentials(user, method: str, url: str, body=None) -> None:
    """Anonymous, an expired token and a deactivated user's token: each a 401 problem."""
    for client in (anonymous(), expired_client(user)):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 401, (client, response.content)
        assert response["Content-Type"] == "application/problem+json"
    response = getattr(deactivated_client(user), method)(url, body, format="json")
    assert response.status_code == 401, response.content
    user.is_active = True
    user.save(update_fields=["is_active"])
