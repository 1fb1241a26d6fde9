"""The admin's rule, policy and calendar pages and their lists fit a 1280 × 800 screen
without sideways scrolling, in English and in German (longer words)."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation.models import EscalationRule
from sla.models import BusinessCalendar, OpeningHours, SLAPolicy, SLATarget
from tests.factories import AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Overflowing boxes: the page itself, and the admin's scrolling result and inline tables.
OVERFLOW = """() => [document.documentElement, ...document.querySelectorAll('.results, .tabular')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.className || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""


def wide_rows() -> tuple[EscalationRule, BusinessCalendar, SLAPolicy]:
    """A rule, a calendar with hours and holidays and a policy with four targets, with long
    names: the default rows may have been flushed by an earlier browser test."""
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="Office hours Germany (Berlin, with public holidays)",
        defaults={"timezone": "Europe/Berlin", "holiday_country": "DE"},
    )
    for day in range(5):
        OpeningHours.objects.get_or_create(
            calendar=calendar, weekday=day, start=dt.time(8), end=dt.time(18)
        )
    policy, _ = SLAPolicy.objects.get_or_create(
        name="Standard office hours for every customer without a contract",
        defaults={"calendar": calendar, "name_de": "Standard-Bürozeiten für alle Kunden"},
    )
    for priority in range(1, 5):
        SLATarget.objects.get_or_create(
            policy=policy,
            priority=priority,
            defaults={
                "first_response": dt.timedelta(hours=priority),
                "next_update": dt.timedelta(hours=2 * priority),
                "resolution": dt.timedelta(hours=30 * priority),
                "warning_percent": 75,
            },
        )
    rule, _ = EscalationRule.objects.get_or_create(
        name="48 business hours without progress: next level, tell the team lead",
        defaults={
            "name_de": "48 Geschäftsstunden ohne Fortschritt: nächste Stufe",
            "trigger": "no_progress",
            "threshold": dt.timedelta(hours=48),
            "escalate": "hierarchical",
        },
    )
    return rule, calendar, policy


@pytest.mark.parametrize("language", ["en", "de"])
def test_admin_pages_fit_1280_pixels(browser, live_server, language):
    AdminFactory(username="wide")
    rule, calendar, policy = wide_rows()
    pages = {
        "rule": f"/admin/escalation/escalationrule/{rule.pk}/change/",
        "rules": "/admin/escalation/escalationrule/",
        "policy": f"/admin/sla/slapolicy/{policy.pk}/change/",
        "policies": "/admin/sla/slapolicy/",
        "calendar": f"/admin/sla/businesscalendar/{calendar.pk}/change/",
        "calendars": "/admin/sla/businesscalendar/",
    }
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "wide")
    page.fill("#id_password", "pw")
    # The login form's own button (the header's language switcher is a form too).
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    try:
        for name, path in pages.items():
            page.goto(path)
            # The admin page itself, not a login page that fits anyway.
            assert page.url.endswith(path), name
            assert page.locator("#content").count() == 1, name
            page.screenshot(path=f"/tmp/admin-1280-{language}-{name}.png", full_page=True)
            assert page.evaluate(OVERFLOW) == [], name
    finally:
        context.close()
