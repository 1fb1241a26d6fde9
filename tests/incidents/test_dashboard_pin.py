"""Open major incidents are pinned first on the escalation dashboard, with their services,
linked tickets, last update and when the next is due."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from tests.incidents.conftest import make_ticket
from tests.incidents.test_services import T0, declare

pytestmark = pytest.mark.django_db


def test_the_dashboard_pins_an_open_incident_for_who_runs_it(client, org):
    incident = declare(org, services=[org.checkout])
    ticket = make_ticket(org, service=org.checkout)
    services.incident_link(incident=incident, tickets=[ticket], actor=org.im_lead, now=T0)
    client.force_login(org.im_lead)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert "Major incident: Checkout down" in page
    assert "Services: Checkout" in page
    assert "1 linked ticket" in page
    assert reverse("incidents:detail", args=[incident.pk]) in page

    # Narrowed to another service, it is not pinned.
    other = client.get(reverse("dashboard:index"), {"service": org.login.pk}).content.decode()
    assert "Major incident: Checkout down" not in other


def test_the_dashboard_offers_declaring_to_who_may_and_only_to_them(client, org):
    declare_url = reverse("incidents:declare")
    client.force_login(org.im_lead)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert f'href="{declare_url}">Declare a major incident</a>' in page
    assert "wave proposal" not in page

    # A 1st-level agent sees the dashboard without it (the declare page refuses them too).
    client.force_login(org.agent)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert "Declare a major incident" not in page
    assert declare_url not in page


def test_the_dashboard_counts_wave_proposals_waiting_for_a_decision(client, org):
    from incidents.models import WaveRule

    for i in range(3):
        make_ticket(org, service=org.checkout, n=i)
    WaveRule.objects.create(name="wave", min_tickets=3, window_minutes=15)
    assert services.incident_sweep()["waves"] == 1
    client.force_login(org.im_member)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert f'href="{reverse("incidents:list")}">1 wave proposal to decide</a>' in page
    # In German, for a reader who chose it.
    client.cookies["django_language"] = "de"
    german = client.get(reverse("dashboard:index")).content.decode()
    assert "1 Wellenvorschlag zu entscheiden" in german
    assert "Major Incident ausrufen</a>" in german
