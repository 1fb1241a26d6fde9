"""A real Chromium for the browser tests, driven by Playwright's sync API.

Playwright's sync API runs an event loop in the test thread, which makes Django refuse ORM
calls there ("you cannot call this from an async context"); the tests and the live server do
not share that loop, so allowing it is safe here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM}; the browser tests need it."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@contextmanager
def browser_page(browser, base_url: str, **options: object) -> Iterator[object]:
    """A page in a new browser context (`options` as for `browser.new_context`); fails when
    the page had JavaScript errors or CSP violations."""
    context = browser.new_context(
        base_url=base_url,
        **({"viewport": {"width": 1366, "height": 900}, "locale": "en-GB"} | options),
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy blocks is reported on the console: a page that
    # needs an inline script or style would silently lose it, so it fails the test here.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors or CSP violations in the page: {errors}"


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    with browser_page(browser, live_server.url) as page:
        yield page
