"""The admin's rule, policy and calendar pages and their lists fit a 1280 × 800 screen
without sideways scrolling, in English and in German (longer words)."""

from __future__ import annotations

import pytest

from escalation.models import EscalationRule
from sla.models import BusinessCalendar, SLAPolicy
from tests.factories import AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Overflowing boxes: the page itself, and the admin's scrolling result and inline tables.
OVERFLOW = """() => [document.documentElement, ...document.querySelectorAll('.results, .tabular')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.className || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""


@pytest.mark.parametrize("language", ["en", "de"])
def test_admin_pages_fit_1280_pixels(browser, live_server, language):
    AdminFactory(username="wide")
    policy = SLAPolicy.objects.get(name="Standard office hours")
    pages = {
        "rule": f"/admin/escalation/escalationrule/{EscalationRule.objects.first().pk}/change/",
        "rules": "/admin/escalation/escalationrule/",
        "policy": f"/admin/sla/slapolicy/{policy.pk}/change/",
        "policies": "/admin/sla/slapolicy/",
        "calendar": f"/admin/sla/businesscalendar/{BusinessCalendar.objects.first().pk}/change/",
        "calendars": "/admin/sla/businesscalendar/",
    }
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "wide")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    try:
        for name, path in pages.items():
            page.goto(path)
            page.screenshot(path=f"/tmp/admin-1280-{language}-{name}.png", full_page=True)
            assert page.evaluate(OVERFLOW) == [], name
    finally:
        context.close()
