"""`api.authentication.TokenAuthentication`: knox's token scheme in one query whatever the
number of tokens the owner has, with expiry and revocation as exact as knox's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api import tasks
from api.authentication import TokenAuthentication, TokenScheme
from api.models import ApiToken
from integrations import services as integration_services

pytestmark = pytest.mark.django_db


def request_with(secret: str) -> Request:
    return Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {secret}"))


def many_tokens(user, count: int = 40) -> None:
    """`count` more tokens of `user`, half of them expired."""
    for i in range(count):
        expiry = timedelta(days=-1) if i % 2 else timedelta(days=1)
        ApiToken.objects.create(user=user, name=f"deploy {i}", expiry=expiry)


def test_a_token_is_read_in_one_query_whatever_its_owner_has(agent):
    _token, secret = ApiToken.objects.create(user=agent, name="mine")
    many_tokens(agent)
    with CaptureQueriesContext(connection) as queries:
        user, auth = TokenAuthentication().authenticate(request_with(secret))
    assert (user, auth.name) == (agent, "mine")
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]
    # knox's own reads every token of the owner as well (and deletes the expired ones).
    with CaptureQueriesContext(connection) as knox:
        KnoxTokenAuthentication().authenticate(request_with(secret))
    assert len(knox) > len(queries)


def test_an_expired_token_is_refused_and_deleted_on_the_request_that_shows_it(agent):
    _token, secret = ApiToken.objects.create(user=agent, name="old", expiry=timedelta(seconds=-1))
    _other, other_secret = ApiToken.objects.create(user=agent, name="new")
    expired = []

    def receiver(sender, username, source, **kwargs):
        expired.append((username, source))

    token_expired.connect(receiver)
    try:
        with pytest.raises(AuthenticationFailed) as refusal:
            TokenAuthentication().authenticate(request_with(secret))
    finally:
        token_expired.disconnect(receiver)
    assert str(refusal.value.detail) == "Invalid token."
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["new"]
    assert expired == [(agent.username, "auth_token")]
    assert TokenAuthentication().authenticate(request_with(other_secret))[0] == agent


def test_a_token_is_valid_until_its_expiry(agent):
    token, secret = ApiToken.objects.create(user=agent, name="soon", expiry=timedelta(minutes=1))
    assert TokenAuthentication().authenticate(request_with(secret))[1] == token
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(microseconds=1))
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate(request_with(secret))


def test_revoked_wrong_and_deactivated_are_refused(agent):
    token, secret = ApiToken.objects.create(user=agent, name="laptop")
    wrong = secret[:-4] + ("0000" if not secret.endswith("0000") else "1111")
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate(request_with(wrong))  # its key, another secret
    assert ApiToken.objects.filter(pk=token.pk).exists()
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    with pytest.raises(AuthenticationFailed) as refusal:
        TokenAuthentication().authenticate(request_with(secret))
    assert "inactive" in str(refusal.value.detail)
    agent.is_active = True
    agent.save(update_fields=["is_active"])
    assert integration_services.token_revoke(actor=agent, key=token.token_key, own_only=True)
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate(request_with(secret))


def test_the_hourly_purge_deletes_expired_tokens_only(agent, other_agent):
    many_tokens(agent, 6)
    ApiToken.objects.create(user=other_agent, name="gone", expiry=timedelta(seconds=-1))
    ApiToken.objects.create(user=other_agent, name="forever", expiry=None)
    assert tasks.purge_expired_tokens() == 4
    assert not ApiToken.objects.filter(expiry__lt=timezone.now()).exists()
    assert ApiToken.objects.count() == 4


def test_the_schema_describes_it_as_knoxs_scheme():
    extension = OpenApiAuthenticationExtension.get_match(TokenAuthentication())
    assert isinstance(extension, TokenScheme)
    assert extension.name == "knoxApiToken"


def test_a_token_header_that_is_no_utf8_is_refused_not_an_error(client):
    """HTTP headers arrive as Latin-1: bytes that are no UTF-8 are a wrong token (401), not a
    server error (knox's own scheme decodes them without a guard)."""
    response = client.get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token \xe9\xe9abcdefgh")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate(request_with("\xe9\xe9abcdefgh"))
