"""Tokens: made with the password or a session, hashed, expiring, revocable; every refusal a
401 problem."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken
from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
TOKENS = "/api/v1/auth/tokens/"


def basic(client: APIClient, username: str) -> APIClient:
    client.credentials(
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(f"{username}:pw".encode()).decode()
    )
    return client


def test_a_user_creates_a_named_token_shown_once_and_stored_hashed(agent, team_a):
    client = basic(APIClient(), "agent")
    response = client.post(TOKENS, {"name": "laptop"}, format="json")
    assert response.status_code == 201
    body = response.json()
    secret = body["token"]
    stored = ApiToken.objects.get(user=agent)
    assert stored.name == "laptop" and stored.expiry is not None
    assert secret not in (stored.digest, stored.token_key)
    listed = client.get(TOKENS).json()
    assert listed == [
        {
            "id": stored.token_key,
            "name": "laptop",
            "created": body["created"],
            "expiry": body["expiry"],
        }
    ]
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert token_client.get(TICKETS).status_code == 200


def test_a_token_cannot_mint_tokens(agent, team_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(agent)}")
    response = client.post(TOKENS, {"name": "more"}, format="json")
    assert response.status_code in (401, 403)
    assert ApiToken.objects.count() == 1


def test_revoking_a_token_ends_it(agent, team_a):
    secret = token_for(agent)
    key = ApiToken.objects.get().token_key
    client = basic(APIClient(), "agent")
    assert client.delete(f"{TOKENS}{key}/").status_code == 204
    assert not ApiToken.objects.exists()
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    response = token_client.get(TICKETS)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_one_cannot_revoke_another_users_token(agent, other_agent):
    token_for(other_agent)
    key = ApiToken.objects.get().token_key
    assert basic(APIClient(), "agent").delete(f"{TOKENS}{key}/").status_code == 404
    assert ApiToken.objects.count() == 1


def test_anonymous_is_a_401_problem():
    response = APIClient().get(TICKETS)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["status"] == 401 and body["type"] == "about:blank" and body["title"]


def test_an_expired_token_is_refused(agent, team_a):
    secret = token_for(agent, expiry=timedelta(seconds=-1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get(TICKETS).status_code == 401


def test_a_deactivated_users_token_is_refused(agent, team_a):
    secret = token_for(agent)
    agent.is_active = False
    agent.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get(TICKETS).status_code == 401


def test_a_wrong_token_is_refused(agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "a" * 64)
    assert client.get(TICKETS).status_code == 401


def test_a_token_without_a_name_is_a_400_problem(agent):
    response = basic(APIClient(), "agent").post(TOKENS, {"names": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"names"}


def test_basic_auth_cannot_pass_a_second_factor(agent, team_a):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=agent, name="authenticator", confirmed=True)
    response = basic(APIClient(), "agent").post(TOKENS, {"name": "laptop"}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert not ApiToken.objects.exists()


def test_basic_auth_refuses_staff_when_staff_need_two_factor(agent, team_a, settings):
    settings.STAFF_REQUIRE_2FA = True
    agent.is_staff = True
    agent.save()
    response = basic(APIClient(), "agent").post(TOKENS, {"name": "laptop"}, format="json")
    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_a_token_made_through_the_api_lives_the_days_asked_for(agent, team_a):
    from django.utils import timezone

    before = timezone.now()
    response = basic(APIClient(), "agent").post(TOKENS, {"name": "ci", "days": 7}, format="json")
    assert response.status_code == 201, response.content
    stored = ApiToken.objects.get(user=agent)
    assert timedelta(days=7) <= stored.expiry - before < timedelta(days=7, minutes=1)
    # The same instant, written in the reader's time zone (the date may differ from UTC's).
    assert datetime.fromisoformat(response.json()["expiry"]) == stored.expiry


def test_without_days_a_token_lives_the_configured_default(agent, team_a, settings):
    from django.utils import timezone

    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=12)}
    before = timezone.now()
    response = basic(APIClient(), "agent").post(TOKENS, {"name": "ci"}, format="json")
    assert response.status_code == 201, response.content
    lifetime = ApiToken.objects.get(user=agent).expiry - before
    assert timedelta(days=12) <= lifetime < timedelta(days=12, minutes=1)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "ci", "days": 0}, "days", "Ensure this value is greater than or equal to 1."),
        (
            {"name": "ci", "days": 3651},
            "days",
            "Ensure this value is less than or equal to 3650.",
        ),
        ({"name": "ci", "days": "soon"}, "days", "Enter a whole number."),
        ({"name": "ci", "days": 1.5}, "days", "Enter a whole number."),
        ({"name": "ci", "days": [3]}, "days", "This value has the wrong type."),
        ({"name": "ci", "days": None}, "days", "This field is required."),
        ({"name": "   ", "days": 3}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ({"name": "a\x00b"}, "name", "Null characters are not allowed."),
    ],
)
def test_a_bad_token_request_is_a_400_problem_with_the_settings_pages_message(
    agent, team_a, body, field, message
):
    response = basic(APIClient(), "agent").post(TOKENS, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {field: [message]}
    assert not ApiToken.objects.exists()


def test_the_api_and_the_settings_page_refuse_the_same_lifetimes(agent, team_a):
    from integrations.forms import TokenForm

    for days in (0, 1, 3650, 3651):
        name = f"ci {days}"  # a name is used once per user (a second one is a double submit)
        page = TokenForm({"name": name, "days": str(days)})
        response = basic(APIClient(), "agent").post(
            TOKENS, {"name": name, "days": days}, format="json"
        )
        assert (response.status_code == 201) == page.is_valid(), days
        if not page.is_valid():
            assert response.json()["errors"] == page.errors


def test_the_schema_documents_a_tokens_name_and_lifetime(agent):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    body = schema["paths"][TOKENS]["post"]["requestBody"]["content"]["application/json"]
    component = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert component["required"] == ["name"]
    assert component["properties"]["name"]["maxLength"] == 100
    days = component["properties"]["days"]
    assert (days["type"], days["minimum"], days["maximum"]) == ("integer", 1, 3650)
