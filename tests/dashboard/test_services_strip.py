"""The services strip of the dashboard: business services that are not operational, with their
open major incident linked, live like the other sections, and words (not an empty box) when
all are fine."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from tests.incidents.conftest import org  # noqa: F401 - the incidents' organisation fixture
from tests.incidents.test_services import declare
from tickets.models import Service

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def strip(client, **params) -> str:
    response = client.get(reverse("dashboard:fragment", args=["services"]), params, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_all_fine_is_said_in_words(client, org):  # noqa: F811
    client.force_login(org.l2_lead)
    html = strip(client)
    assert "All business services are operational." in html
    assert "service-row" not in html
    page = client.get(reverse("dashboard:index")).content.decode()
    assert 'data-live-url="/dashboard/live/services/"' in page
    assert "All business services are operational." in page


def test_a_service_in_outage_with_its_open_major_incident(client, org):  # noqa: F811
    incident = declare(org, services=[org.checkout])
    org.checkout.refresh_from_db()
    assert org.checkout.status == Service.Status.OUTAGE
    Service.objects.filter(pk=org.login.pk).update(
        status=Service.Status.DEGRADED, status_changed_at=timezone.now()
    )
    client.force_login(org.l2_lead)
    html = strip(client)
    assert "All business services are operational." not in html
    checkout, login = html.index(">Checkout<"), html.index(">Customer login<")
    assert checkout < login  # the outage before the degraded service
    assert "Outage" in html and "Degraded" in html
    assert f"Major incident {incident.reference}: Checkout down" in html
    assert reverse("incidents:detail", args=[incident.pk]) in html
    assert "No open major incident names this service." in html[login:]


def test_a_resolved_incident_and_its_restored_service_leave_the_strip(client, org):  # noqa: F811
    incident = declare(org, services=[org.checkout])
    incident_services.incident_resolve(
        incident=incident, actor=org.im_lead, cause="A full disk.", solution="Cleaned it up."
    )
    client.force_login(org.l2_lead)
    html = strip(client)
    assert "Checkout" not in html
    assert "All business services are operational." in html


def test_the_service_filter_narrows_the_strip(client, org):  # noqa: F811
    Service.objects.update(status=Service.Status.DEGRADED)
    client.force_login(org.l2_lead)
    html = strip(client, service=org.login.pk)
    assert "Customer login" in html and ">Checkout<" not in html


def test_the_strip_costs_the_same_queries_for_more_services(
    client,
    org,  # noqa: F811
    django_assert_max_num_queries,
):
    client.force_login(org.l2_lead)

    def render() -> int:
        with django_assert_max_num_queries(15) as captured:
            strip(client)
        return len(captured.captured_queries)

    declare(org, services=[org.checkout])
    few = render()
    for n in range(5):
        service = Service.objects.create(name=f"Service {n}", status=Service.Status.DEGRADED)
        declare(org, title=f"Down {n}", services=[service])
    assert render() == few


def test_the_strip_in_german(client, org):  # noqa: F811
    # The words and the service's name are the reader's language's, rendered at display time.
    declare(org, services=[org.checkout])
    client.force_login(org.l2_lead)
    client.cookies["django_language"] = "de"
    html = strip(client)
    assert "Business-Services" in html
    assert ">Kasse<" in html and "Ausfall" in html
    assert "Major Incident MI-" in html
