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
