"""Secrets never leave: API tokens, webhook signing secrets, passwords, mailbox credentials
and the metrics scraper's token appear in no API answer, admin change list, export, email,
queued delivery or log line, over a run of the flows that handle them.

The flows are found, not listed, where the project allows: every GET route of the API and
every export (walked from the URL configuration, asked as an admin, who sees the most), and
every change list of the admin (walked from the admin registry). The one place a secret is
shown is its creation answer (a new token, once): that answer is left out of the body check,
and its secret is then looked for everywhere else, the logs included.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib import admin
from django.core import mail
from django.urls import reverse

from notifications.models import Delivery
from tests.security.probe import observe
from tests.security.routes import EXPECTED, routes, url_for
from tests.security.world import PASSWORD, build_world

pytestmark = pytest.mark.django_db

IMAP_PASSWORD = "imap-zqmailboxsecretmarker"
MAIL_TOKEN = "inbound-zqmailtokenmarker"
METRICS_TOKEN = "metrics-zqmetricstokenmarker"


@pytest.fixture
def world(monkeypatch, settings):
    monkeypatch.setenv("SEC_IMAP_PASSWORD", IMAP_PASSWORD)
    monkeypatch.setenv("SEC_MAIL_TOKEN", MAIL_TOKEN)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.METRICS_TOKEN = METRICS_TOKEN
    return build_world()


def _secrets(world) -> dict[str, str]:
    return {
        **world.secrets,
        "imap_password": IMAP_PASSWORD,
        "mail_token": MAIL_TOKEN,
        "metrics_token": METRICS_TOKEN,
    }


def test_secrets_appear_in_no_answer_export_email_or_log(world, caplog):
    caplog.set_level(logging.DEBUG)
    bodies: dict[str, str] = {}
    admin_client = world.clients["admin"]
    owner_client = world.clients["owner"]

    # Every GET of the API and every export, as the admin.
    for route in routes():
        rule = EXPECTED[route.name]
        if "get" not in route.methods(rule) or rule.absent:
            continue
        if not (route.is_api or route.pattern.endswith(".csv")):
            continue
        url = url_for(route.name, world)
        bodies[f"GET {url}"] = observe(admin_client, "get", url, json=route.is_api).body
    # Every change list of the admin.
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        bodies[f"GET {url}"] = admin_client.get(url).content.decode()
    # The token list pages, API and browser.
    bodies["token page"] = owner_client.get(reverse("api_tokens")).content.decode()

    # Flows that handle secrets: sign-in (wrong and right password), a token made and
    # presented, a mailbox delivery with its bearer token, the webhook's deliveries queued.
    anonymous = world.clients["anonymous"]
    anonymous.post(reverse("login"), {"username": "sec-owner", "password": PASSWORD + "x"})
    anonymous.post(reverse("login"), {"username": "sec-owner", "password": PASSWORD})
    created = owner_client.post(
        reverse("api:tokens"), {"name": "made here"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    new_token = created.json()["token"]
    anonymous.get(reverse("api:tickets"), HTTP_AUTHORIZATION=f"Token {new_token}")
    anonymous.post(
        reverse("mail:inbound", kwargs={"slug": "sec-box"}),
        data=b"Subject: hi\r\nFrom: a@b.example\r\n\r\nhello",
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {MAIL_TOKEN}",
    )
    # The scraper's bearer token for /metrics, right and wrong; the page as a superuser.
    scraped = anonymous.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert scraped.status_code == 200
    bodies["metrics, scraped"] = scraped.content.decode()
    bodies["metrics, wrong token"] = anonymous.get(
        reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}x"
    ).content.decode()
    bodies["metrics, superuser"] = admin_client.get(reverse("metrics")).content.decode()
    bodies["list after the token was made"] = owner_client.get(
        reverse("api:tokens")
    ).content.decode()

    secrets = {**_secrets(world), "new_token": new_token}
    problems = []
    for where, body in bodies.items():
        problems += [f"{where}: holds the {name}" for name, s in secrets.items() if s in body]
    for message in mail.outbox:
        text = "\n".join([message.subject, message.body, *(a[0] for a in message.alternatives)])
        problems += [f"email {message.subject!r}: the {n}" for n, s in secrets.items() if s in text]
    for delivery in Delivery.objects.all():
        text = repr(delivery.__dict__)
        problems += [f"delivery {delivery.pk}: the {n}" for n, s in secrets.items() if s in text]
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__}"
        problems += [f"log {record.name}: the {n}" for n, s in secrets.items() if s in text]
    assert len(bodies) > 40, "too few answers were looked at: did the walk break?"
    assert caplog.records, "no log record was captured: the log check would prove nothing"
    assert not problems, "\n".join(problems)


def test_the_creation_answer_is_the_one_place_a_token_is_shown(world):
    """The control of the check above: the secret is in the creation answer, so looking for
    it elsewhere is looking for something that exists."""
    created = world.clients["owner"].post(
        reverse("api:tokens"), {"name": "once"}, content_type="application/json"
    )
    token = created.json()["token"]
    assert len(token) >= 32
    listing = world.clients["owner"].get(reverse("api:tokens")).content.decode()
    assert "once" in listing
    assert token not in listing
