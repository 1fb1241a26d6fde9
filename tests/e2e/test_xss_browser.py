"""Stored XSS in a real browser: the main pages (ticket page, ticket list, dashboard, portal
ticket) with the corpus of `test_xss` in every user-writable text field, opened in Chromium.
No dialog may open, no element may carry an event handler made from a payload, and a page
error or anything the Content-Security-Policy blocked fails the test (`browser_page`).
A control serves deliberately unsafe pages through the same checks, so the check cannot pass
because it looks at nothing.

Here, beside the other browser tests, so that it shares their one Chromium (two sync
Playwright sessions in one process cannot run at once)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.e2e.conftest import browser_page
from tests.security.test_xss import CORPUS, fill, sign_in_contact_again, text_fields
from tests.security.world import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Elements whose attributes hold a payload's marker where script would run.
INJECTED = """() => [...document.querySelectorAll('*')].flatMap(el =>
  [...el.attributes]
    .filter(a => a.value.includes('zqx') &&
      (a.name.startsWith('on') ||
       (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc'].includes(a.name)
        && /^\\s*(javascript|data|vbscript):/i.test(a.value))))
    .map(a => `${el.tagName} ${a.name}=${a.value}`))"""


def watch_dialogs(page) -> list[str]:
    """The messages of the dialogs (alert, confirm, prompt) the page opens from now on."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def injected(page, url: str) -> list[str]:
    """Open `url` and list the elements that carry a payload where script would run."""
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response)
    page.wait_for_load_state("load")
    return page.evaluate(INJECTED)


def _cookies(world, role: str, base_url: str) -> list[dict]:
    value = world.clients[role].cookies[settings.SESSION_COOKIE_NAME].value
    return [{"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base_url}]


def test_the_main_pages_run_no_payload_in_chromium(browser, live_server):
    world = build_world()
    fields = text_fields()
    ref = {"reference": world.ticket.reference}
    pages = [
        ("owner", reverse("tickets:detail", kwargs=ref)),
        ("owner", reverse("tickets:list")),
        ("owner", reverse("dashboard:index")),
        ("contact", reverse("portal:detail", kwargs=ref)),
    ]
    problems: list[str] = []
    dialogs: list[str] = []
    rounds = range(0, len(CORPUS), 3)  # each field meets every third payload in the browser
    for role in ("owner", "contact"):
        with browser_page(browser, live_server.url) as page:
            page.context.add_cookies(_cookies(world, role, live_server.url))
            seen = watch_dialogs(page)
            for round_ in rounds:
                fill(round_, fields)
                sign_in_contact_again(world)
                for who, url in pages:
                    if who != role:
                        continue
                    problems += [f"round {round_} {url}: {x}" for x in injected(page, url)]
            dialogs += seen
    problems += [f"a dialog opened: {m}" for m in dialogs]
    assert not problems, "\n".join(problems)


UNSAFE = (
    "<!doctype html><title>unsafe</title>"
    "<img src=x onerror=\"alert('zqx2')\">"
    "<a href=\"javascript:alert('zqx5')\">x</a>"
)


def test_the_checks_see_an_unsafe_page(browser, live_server):
    """The control: a page that renders payloads unescaped. Without a CSP the handler runs
    (a dialog) and both injected attributes are found; with the product's own CSP header the
    browser blocks the handler and `browser_page` fails on the reported violation."""
    url = live_server.url + "/__unsafe__/"
    with browser_page(browser, live_server.url) as page:
        page.route(url, lambda route: route.fulfill(body=UNSAFE, content_type="text/html"))
        dialogs = watch_dialogs(page)
        found = injected(page, url)
        page.wait_for_timeout(200)
    assert dialogs == ["zqx2"]
    assert sorted(found) == [
        "A href=javascript:alert('zqx5')",
        "IMG onerror=alert('zqx2')",
    ]

    policy = Client().get(reverse("login"))["Content-Security-Policy"]
    serve = lambda route: route.fulfill(  # noqa: E731
        body=UNSAFE, content_type="text/html", headers={"Content-Security-Policy": policy}
    )
    with (
        pytest.raises(AssertionError, match="Content Security Policy"),
        browser_page(browser, live_server.url) as page,
    ):
        page.route(url, serve)
        dialogs = watch_dialogs(page)
        injected(page, url)
        page.wait_for_timeout(200)
    assert dialogs == []
