"""In Chromium: the interactive API reference renders every operation from the vendored
Swagger UI under the Content-Security-Policy (the page fixture fails on any CSP violation), and
"Try it out" acts with the signed-in user's session."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import TeamFactory, TicketFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_reference_lists_the_operations_and_tries_one_as_the_user(page: Page, transactional_db):
    team = TeamFactory(name="Ops")
    agent = UserFactory(username="dana")
    team.members.add(agent)
    ticket = TicketFactory(team=team, subject="Printer on fire")

    page.goto("/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("pw")
    page.locator("form[action='/login/'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))

    page.goto("/api/v1/docs/")
    expect(page.get_by_role("heading", name="API reference")).to_be_visible()
    operation = page.locator(".opblock-get", has_text="/api/v1/tickets/").first
    expect(operation).to_be_visible()
    expect(page.locator(".opblock-post", has_text="/api/v1/tickets/").first).to_be_visible()

    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    body = page.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(ticket.reference)
    expect(body).to_contain_text("Printer on fire")
