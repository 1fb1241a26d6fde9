"""In Chromium: the admin and the two-factor sign-in work under the Content-Security-Policy
(the e2e page fixture fails a test on any CSP violation reported on the console)."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.factories import AdminFactory, TeamFactory, TicketFactory, UserFactory
from tests.security.conftest import code_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_admin_signs_in_with_a_code_and_works_under_the_policy(page: Page, transactional_db):
    admin = AdminFactory(username="root")
    device = TOTPDevice.objects.create(user=admin, name="authenticator", confirmed=True)
    ticket = TicketFactory(team=TeamFactory(name="Ops"))

    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    page.get_by_label("Code").fill(code_for(device))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # Pages with the admin's own scripts: widgets, filters, actions, date shortcuts.
    page.goto(f"/admin/auth/user/{admin.pk}/change/")
    expect(page.locator("#id_groups_from")).to_be_visible()  # SelectFilter2 built the widget
    page.goto("/admin/tickets/ticket/")
    expect(page.get_by_text(ticket.subject)).to_be_visible()
    page.locator("#action-toggle").check()  # actions.js
    expect(page.locator(".action-counter")).to_contain_text("1")
    page.goto("/admin/sla/businesscalendar/add/")
    expect(page.locator("#businesscalendar_form")).to_be_visible()


def test_agent_sets_up_two_factor_in_the_browser(page: Page, transactional_db):
    UserFactory(username="dana")
    page.goto("/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))
    page.goto("/account/two-factor/")
    page.get_by_role("link", name="Turn on two-factor sign-in").click()
    expect(page.locator(".totp-qr svg")).to_be_visible()
    device = TOTPDevice.objects.get(user__username="dana")
    page.get_by_label("Code").fill(code_for(device))
    page.get_by_role("button", name="Confirm and turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
