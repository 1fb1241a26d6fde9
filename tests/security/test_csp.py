"""Content-Security-Policy on every page, and no inline script anywhere it would need one."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _paths(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every route as a concrete path: <int:…> and <str:…> parts become 1, regexes their
    simplest match. Pages for object 1 may answer 404: the policy must be on those too."""
    resolver = resolver or get_resolver()
    paths: list[str] = []
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        route = re.sub(r"<(?:\w+:)?\w+>", "1", route)
        route = route.lstrip("^").rstrip("$").replace("\\Z", "")
        route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
        if isinstance(entry, URLResolver):
            paths += _paths(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            paths.append("/" + prefix + route)
    return sorted({p for p in paths if not re.search(r"[()\[\]*+?\\]", p)})


# Script types a browser does not execute: a data block (Django's json_script) is not
# subject to script-src, so it needs no 'unsafe-inline'. Only with an id, as json_script
# writes it: a data block nothing can find is more likely a mistake.
_DATA_BLOCK_TYPES = {"application/json"}


class _InlineScripts(HTMLParser):
    """Collects what a script-src 'self' policy would block: inline scripts, on* handlers,
    javascript: URLs, and inline style attributes/elements (style-src 'self'). A JSON data
    block (<script id=… type="application/json">) is not executed and is allowed."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            kind = (values.get("type") or "").split(";")[0].strip().lower()
            self._in_script = not (kind in _DATA_BLOCK_TYPES and values.get("id"))
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f"<{tag} style=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:…>")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


@pytest.mark.parametrize(
    ("html", "blocked"),
    [
        ('<script id="d" type="application/json">{"a": 1}</script>', False),
        ('<script id="d" type="Application/JSON">{"a": 1}</script>', False),
        ('<script type="application/json">{"a": 1}</script>', True),
        ("<script>alert(1)</script>", True),
        ('<script id="d" type="text/javascript">alert(1)</script>', True),
        ('<script id="d" type="module">alert(1)</script>', True),
        ('<script id="d" type="application/javascript">alert(1)</script>', True),
        ('<script src="/static/x.js"></script>', False),
    ],
)
def test_the_checker_allows_only_json_data_blocks(html, blocked):
    parser = _InlineScripts()
    parser.feed(html)
    assert bool(parser.found) is blocked, parser.found


def _check_pages(client) -> list[tuple[str, int]]:
    TicketFactory()
    checked = []
    for path in _paths():
        response = client.get(path)
        policy = response.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy, f"{path} ({response.status_code}): {policy!r}"
        if "text/html" in response.get("Content-Type", ""):
            parser = _InlineScripts()
            parser.feed(response.content.decode())
            assert not parser.found, f"{path}: {parser.found}"
        checked.append((path, response.status_code))
    return checked


def test_every_page_has_the_policy_and_no_inline_script_as_an_admin(client, admin_user):
    client.force_login(admin_user)
    checked = _check_pages(client)
    assert len(checked) > 50  # the admin's pages are walked too
    assert sum(status == 200 for _, status in checked) > 30


def test_every_page_has_the_policy_and_no_inline_script_as_an_agent(client, team_a, agent):
    client.force_login(agent)
    checked = _check_pages(client)
    assert sum(status == 200 for _, status in checked) > 5


def test_the_policy_blocks_what_it_must():
    from django.test import Client

    policy = Client().get("/login/")["Content-Security-Policy"]
    directives = dict(
        [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in policy.split(";")) if part
    )
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_htmx_does_not_inject_its_indicator_style(client, agent):
    client.force_login(agent)
    html = client.get("/tickets/").content.decode()
    assert '"includeIndicatorStyles": false' in html
