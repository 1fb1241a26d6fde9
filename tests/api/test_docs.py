"""The API reference page: public like the schema, rendered from vendored assets only."""

from __future__ import annotations

from django.urls import reverse


def test_reference_page_loads_vendored_swagger_ui_and_names_the_schema(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "API reference" in text
    assert 'data-schema-url="/api/v1/schema/?format=json"' in text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in text
    assert "/static/js/api-docs.js" in text
    assert "<script>" not in text  # no inline script under the CSP
    assert "http://" not in text.replace("http://testserver", "")


def test_reference_page_is_in_german_for_a_german_reader(client, db):
    response = client.get(reverse("api:docs"), HTTP_ACCEPT_LANGUAGE="de")
    assert "API-Referenz" in response.content.decode()


def test_schema_the_page_reads_is_json(client, db):
    response = client.get(reverse("api:schema") + "?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
