"""Service accounts, the API tokens page, the token admin and the API's throttles."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from knox.crypto import hash_token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken
from integrations import services
from integrations.models import Integration, ServiceAccount
from tests.api.conftest import client_for, token_for
from tests.factories import AdminFactory, UserFactory
from tests.integrations.conftest import alert_client, make_integration
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db
User = get_user_model()


# --- Service accounts -------------------------------------------------------------------------


def test_a_service_account_has_no_password_and_acts_with_a_token(team_a):
    account = services.service_account_create(username="crm-sync", teams=[team_a])
    user = account.user
    assert not user.has_usable_password() and not user.is_staff
    assert services.is_service_account(user)
    _token, secret = services.token_create(user=user, name="CRM", days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    response = client.post(
        "/api/v1/tickets/", {"subject": "From the CRM", "team": team_a.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert event.actor == user  # the machine is the actor in the audit trail


def test_a_service_account_cannot_sign_in_in_the_browser(client, team_a):
    account = services.service_account_create(username="bot")
    response = client.post(reverse("login"), {"username": "bot", "password": ""})
    assert "_auth_user_id" not in client.session
    # Even with a password set by hand, the session is refused.
    account.user.set_password("secret-pw-123")
    account.user.save()
    response = client.post(reverse("login"), {"username": "bot", "password": "secret-pw-123"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_service_account_cannot_mint_tokens_with_basic_auth(team_a):
    services.service_account_create(username="bot")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic Ym90Og==")  # bot:
    response = client.post("/api/v1/auth/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 401
    assert ApiToken.objects.count() == 0


def test_service_account_names_are_unique_and_required():
    services.service_account_create(username="bot")
    with pytest.raises(services.IntegrationError):
        services.service_account_create(username="BOT")
    with pytest.raises(services.IntegrationError):
        services.service_account_create(username="  ")
    with pytest.raises(services.IntegrationError):
        services.service_account_create(username="no spaces please")
    with pytest.raises(services.IntegrationError):
        services.service_account_create(username="x" * 151)


def test_admin_creates_a_service_account_and_mints_its_token(client, team_a):
    admin = AdminFactory(username="root")
    client.force_login(admin)
    response = client.post(
        reverse("admin:integrations_serviceaccount_add"),
        {"username": "nagios", "description": "Monitoring", "teams": [team_a.pk]},
    )
    account = ServiceAccount.objects.get(user__username="nagios")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:integrations_serviceaccount_token", args=[account.pk]
    )
    assert team_a.members.filter(pk=account.pk).exists()
    page = client.post(response["Location"], {"name": "prod", "days": 30})
    token = ApiToken.objects.get(user=account.user)
    secret = page.context["secret"]
    assert secret in page.content.decode()
    assert token.digest == hash_token(secret) and secret not in token.digest
    change = client.get(reverse("admin:integrations_serviceaccount_change", args=[account.pk]))
    assert token.token_key in change.content.decode() and secret not in change.content.decode()


def test_admin_integration_add_shows_the_token_once_and_validates_the_mapping(client, team_a):
    admin = AdminFactory(username="root")
    client.force_login(admin)
    url = reverse("admin:integrations_integration_add")
    form = {
        "name": "Alertmanager",
        "team": team_a.pk,
        "severity_label": "severity",
        "severity_map": '{"critical": [1, 9]}',
        "default_impact": 3,
        "default_urgency": 3,
        "resolve_tickets": "on",
        "is_active": "on",
    }
    bad = client.post(url, form)
    assert bad.status_code == 200 and "critical" in bad.content.decode()
    assert not Integration.objects.exists()
    page = client.post(url, {**form, "severity_map": '{"critical": [1, 1], "warning": [3, 2]}'})
    integration = Integration.objects.get()
    secret = page.context["secret"]
    assert secret.startswith("hdi_") and secret in page.content.decode()
    assert integration.account.user.username == "integration-alertmanager"
    assert team_a.members.filter(pk=integration.account.pk).exists()
    assert (
        alert_client(secret)
        .post(
            "/api/v1/alerts/",
            {"dedup_key": "k", "action": "trigger", "summary": "s"},
            format="json",
        )
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    "mapping",
    [[], {"": [1, 1]}, {"x": [1]}, {"x": [0, 1]}, {"x": [1, 5]}, {"x": ["1", 1]}, {"x": [True, 1]}],
)
def test_bad_severity_mappings_are_refused(team_a, mapping):
    with pytest.raises(services.IntegrationError.__mro__[1]):
        services.integration_save(
            integration=Integration(name="x", team=team_a, severity_map=mapping)
        )


# --- The API tokens page ----------------------------------------------------------------------

TOKENS = "/account/tokens/"


def test_the_tokens_page_lists_creates_once_and_revokes(client, agent, team_a):
    client.force_login(agent)
    old, _secret = services.token_create(user=agent, name="Old script", days=5)
    page = client.get(TOKENS)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Old script" in text and old.token_key in text and old.digest not in text
    made = client.post(TOKENS, {"name": "CRM sync", "days": 30})
    assert made.status_code == 200
    new = ApiToken.objects.get(user=agent, name="CRM sync")
    secret = made.context["secret"]
    assert secret in made.content.decode() and new.digest == hash_token(secret)
    assert 29 <= (new.expiry - new.created).days <= 30
    assert secret not in client.get(TOKENS).content.decode()  # shown once
    revoked = client.post(reverse("api_token_revoke", args=[new.token_key]))
    assert revoked.status_code == 302
    assert not ApiToken.objects.filter(pk=new.pk).exists()
    assert client.post(reverse("api_token_revoke", args=[new.token_key])).status_code == 404


def test_the_tokens_page_refuses_bad_input_and_others_tokens(client, agent, other_agent, team_a):
    client.force_login(agent)
    theirs, _secret = services.token_create(user=other_agent, name="theirs", days=5)
    assert client.post(TOKENS, {"name": "", "days": 30}).status_code == 400
    assert client.post(TOKENS, {"name": "x", "days": 0}).status_code == 400
    assert client.post(TOKENS, {"name": "x" * 101, "days": 3}).status_code == 400
    assert client.post(reverse("api_token_revoke", args=[theirs.token_key])).status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()
    assert not ApiToken.objects.filter(user=agent).exists()


def test_the_tokens_page_needs_a_sign_in(client):
    response = client.get(TOKENS)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_revoked_token_no_longer_works(agent, team_a):
    token, secret = services.token_create(user=agent, name="t", days=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/tickets/").status_code == 200
    assert services.token_revoke(actor=agent, key=token.token_key) == 1
    assert client.get("/api/v1/tickets/").status_code == 401


def test_admin_lists_and_revokes_any_token_without_showing_digests(client, agent, team_a):
    token, _secret = services.token_create(user=agent, name="agent's", days=9)
    admin = AdminFactory(username="root")
    client.force_login(admin)
    page = client.get(reverse("admin:api_apitoken_changelist"))
    text = page.content.decode()
    assert "agent&#x27;s" in text and token.token_key in text and token.digest not in text
    url = reverse("admin:api_apitoken_revoke", args=[token.token_key])
    assert url in text
    confirm = client.get(url)
    assert token.token_key in confirm.content.decode()
    assert token.digest not in confirm.content.decode()
    assert client.post(url).status_code == 302
    assert not ApiToken.objects.exists()
    assert client.post(url).status_code == 404


def test_only_admins_revoke_others_tokens(agent, other_agent, team_a):
    token, _secret = services.token_create(user=agent, name="t", days=1)
    assert services.token_revoke(actor=other_agent, key=token.token_key) == 0
    assert services.token_revoke(actor=AdminFactory(), key=token.token_key) == 1


# --- Throttles -------------------------------------------------------------------------------


@pytest.fixture
def rates(monkeypatch):
    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rate


def test_token_creation_has_a_stricter_scope_with_retry_after(rates, agent, team_a):
    rates("token_create", "2/hour")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic YWdlbnQ6cHc=")  # agent:pw
    for n in range(2):  # a name per token: a repeated name is refused as a double submit
        made = client.post("/api/v1/auth/tokens/", {"name": f"x{n}"}, format="json")
        assert made.status_code == 201
    throttled = client.post("/api/v1/auth/tokens/", {"name": "x2"}, format="json")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["status"] == 429
    assert ApiToken.objects.count() == 2
    assert client.get("/api/v1/auth/tokens/").status_code == 200  # listing is not making


def test_each_token_has_its_own_budget(rates, agent, team_a):
    rates("token", "2/hour")
    first, second = client_for(agent), client_for(agent)
    assert [first.get("/api/v1/tickets/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/tickets/").status_code == 200


@pytest.mark.redis
def test_a_tokens_budget_is_one_counter_in_redis(rates, agent, team_a):
    """Counted per token and fixed window with INCR (one round trip), not as DRF's list of
    every request's instant read and written back through the cache on each request."""
    import time

    import redis
    from django.conf import settings
    from django.core.cache import cache

    rates("token", "2/hour")
    client = client_for(agent)
    token_key = ApiToken.objects.get(user=agent).token_key
    first = int(time.time() // 3600)
    assert [client.get("/api/v1/tickets/").status_code for _ in range(3)] == [200, 200, 429]
    windows = {first, int(time.time() // 3600)}  # an hour may just have begun
    counters = redis.Redis.from_url(settings.REDIS_URL).mget(
        [f"throttle:token:{token_key}:{window}" for window in windows]
    )
    assert sum(int(c or 0) for c in counters) == 3
    assert cache.get(f"throttle_token_{token_key}") is None
    throttled = client.get("/api/v1/tickets/")
    assert 1 <= int(throttled["Retry-After"]) <= 3600  # the rest of the hour's window


def test_alert_intake_is_throttled_per_integration(rates, integration, team_a):
    rates("alerts", "1/minute")
    _obj, secret = integration
    alert = {"dedup_key": "k", "action": "trigger", "summary": "s"}
    client = alert_client(secret)
    assert client.post("/api/v1/alerts/", alert, format="json").status_code == 200
    throttled = client.post("/api/v1/alerts/", alert, format="json")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    assert 1 <= int(throttled["Retry-After"]) <= 60  # the rest of the minute's window
    assert throttled.json()["status"] == 429
    # Another integration (its own budget) of the same team is not held back.
    _other, other_secret = make_integration(team_a, name="Other monitoring")
    other = alert_client(other_secret).post("/api/v1/alerts/", alert, format="json")
    assert other.status_code == 200


def test_token_days_are_bounded(agent):
    with pytest.raises(services.IntegrationError):
        services.token_create(user=agent, name="x", days=0)
    with pytest.raises(services.IntegrationError):
        services.token_create(user=agent, name="x", days=services.TOKEN_DAYS_MAX + 1)
    inactive = UserFactory(is_active=False)
    with pytest.raises(services.IntegrationError):
        services.token_create(user=inactive, name="x", days=1)
    token, _secret = services.token_create(user=agent, name="forever", days=None)
    assert token.expiry is None
    assert token_for  # the API tests' helper makes tokens the same way


def test_sign_in_attempts_per_address_are_throttled(rates, client, agent):
    rates("login", "2/minute")
    login = reverse("login")
    for _ in range(2):
        assert client.post(login, {"username": "agent", "password": "wrong"}).status_code == 200
    throttled = client.post(login, {"username": "agent", "password": "pw"})
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "Too many sign-in attempts" in throttled.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(login).status_code == 200  # the page itself stays reachable
    admin_login = client.post(reverse("admin_login"), {"username": "agent", "password": "pw"})
    assert admin_login.status_code == 429
