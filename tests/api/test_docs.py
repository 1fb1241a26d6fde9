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


def test_an_address_no_route_matches_is_a_json_problem_even_for_a_post(client, db):
    for method, path in (
        ("get", "/api/v1/nothing-here/"),
        ("post", "/api/v1/tickets/%C2%84/messages/"),
        ("get", "/api/v1/tickets/a%0Ab/"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/problem+json"
        assert response.json() == {
            "type": "about:blank",
            "title": "Not found",
            "status": 404,
            "detail": "Not found.",
        }


def test_every_operation_documents_its_problem_responses(client, db):
    schema = client.get(reverse("api:schema") + "?format=json").json()
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    create = schema["paths"]["/api/v1/tickets/"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "422", "429"} <= set(create)
    assert "404" not in create  # nothing named in the path to be missing
    detail = schema["paths"]["/api/v1/tickets/{reference}/"]["get"]["responses"]
    assert {"401", "403", "404", "429"} <= set(detail)
    assert "409" not in detail
    problem = detail["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_a_cursor_the_api_did_not_hand_out_is_a_400_naming_the_parameter(db):
    from tests.api.conftest import client_for
    from tests.factories import TeamFactory, UserFactory

    agent = UserFactory()
    TeamFactory(members=[agent])
    response = client_for(agent).get("/api/v1/tickets/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "cursor": ["This cursor is not valid; start from the first page."]
    }
