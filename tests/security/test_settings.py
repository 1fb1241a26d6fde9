"""Safe by default: production settings unless the demo is asked for; friendly error pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'helpdesk.settings'; "
    "from django.conf import settings; "
    "print(settings.DEBUG, getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh process with only the given helpdesk variables set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DEMO", "SECRET_KEY", "BEHIND_PROXY", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_debug_is_off_without_any_variable():
    result = _settings(SECRET_KEY="a-real-secret-key-for-this-test-only-1234567890")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_without_a_secret_key_it_refuses_to_start_even_with_debug_on():
    result = _settings(DEBUG="true")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_demo_key_is_refused_with_debug_off():
    result = _settings(DEMO="true", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_demo_runs_with_debug_on():
    result = _settings(DEMO="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"


def test_forwarded_proto_is_trusted_only_behind_the_proxy():
    key = "a-real-secret-key-for-this-test-only-1234567890"
    assert _settings(SECRET_KEY=key).stdout.split()[1] == "None"
    behind = _settings(SECRET_KEY=key, BEHIND_PROXY="true").stdout
    assert "HTTP_X_FORWARDED_PROTO" in behind


@pytest.mark.django_db
def test_a_missing_page_shows_agents_the_friendly_404(client, agent):
    client.force_login(agent)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist, or you may not see it." in html
    assert "Back to the tickets" in html
    assert "URLconf" not in html  # never Django's debug page listing the URL patterns


@pytest.mark.django_db
def test_forwarded_https_from_the_proxy_counts_and_from_others_does_not(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.FORWARDED_ALLOW_IPS = ["172.30.0.0/24"]
    from_proxy = client.get("/healthz", REMOTE_ADDR="172.30.0.5", HTTP_X_FORWARDED_PROTO="https")
    assert from_proxy.status_code == 200
    spoofed = client.get("/healthz", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_PROTO="https")
    assert spoofed.status_code == 301  # not believed: redirected to HTTPS
