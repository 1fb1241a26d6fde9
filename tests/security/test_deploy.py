"""The production stack: only the TLS proxy is published; gunicorn and Django trust forwarded
headers from the proxy's network only; the proxy limits request bodies."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()
SUBNET = "${PROXY_SUBNET:-172.30.0.0/24}"


def test_gunicorn_is_not_published_only_the_proxy_is():
    services = COMPOSE["services"]
    assert "ports" not in services["web"]
    assert services["proxy"]["image"].startswith("caddy:")
    assert "443:443" in services["proxy"]["ports"]
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["proxy"]


def test_forwarded_headers_are_trusted_from_the_proxy_network_only():
    web = COMPOSE["services"]["web"]
    assert web["environment"]["BEHIND_PROXY"] == "true"
    assert web["environment"]["FORWARDED_ALLOW_IPS"] == f"{SUBNET},127.0.0.1"
    assert f"--forwarded-allow-ips={SUBNET},127.0.0.1" in web["command"]
    assert COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"] == SUBNET
    assert COMPOSE["services"]["proxy"]["networks"] == ["edge"]
    assert "edge" in web["networks"]
    # The other services keep production settings but no proxy trust.
    assert "BEHIND_PROXY" not in COMPOSE["services"]["worker"]["environment"]


def test_the_proxy_terminates_tls_and_limits_the_body():
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in COMPOSE["services"]["proxy"]["volumes"]
    assert re.search(r"^\{\$SITE_HOST:localhost\} \{", CADDYFILE, re.M)
    assert re.search(r"^\s+tls \{\$CADDY_TLS:internal\}", CADDYFILE, re.M)
    assert re.search(r"max_size \{\$PROXY_MAX_BODY_SIZE:25MB\}", CADDYFILE)
    assert re.search(r"^\s+reverse_proxy web:8000$", CADDYFILE, re.M)


def test_production_containers_run_with_debug_off():
    assert COMPOSE["services"]["web"]["environment"]["DEBUG"] == "false"
    assert "DEMO" not in COMPOSE["services"]["web"]["environment"]
