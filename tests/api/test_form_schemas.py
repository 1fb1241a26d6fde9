"""The configuration endpoints' bodies in the schema: generated from the admin's own forms
(field names, types, required, choices), so that a client can code against them, while the
writes stay validated by those forms alone."""

from __future__ import annotations

import jsonschema
import pytest
from django import forms
from drf_spectacular.generators import SchemaGenerator

from api.adminforms import inline_key, model_admin, schema_request
from api.forms import choice_values, initial_values
from sla.models import SLAPolicy
from tickets.models import Team
from tickets.priority import Priority

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def conform(value, body_type) -> None:
    """jsonschema's check, formats included (an empty email is "" under `maxLength: 0`, not
    an email address; spectacular writes a blank email as one of the two)."""
    jsonschema.validate(value, body_type, format_checker=jsonschema.FormatChecker())


def component(schema, ref: dict) -> dict:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def resolved(schema, node):
    """`node` with every `$ref` replaced by its component (for jsonschema)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return resolved(schema, component(schema, node))
        return {key: resolved(schema, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(schema, item) for item in node]
    return node


def admin_writes(schema):
    """(path, method, operation, model) of every write that goes through an admin form."""
    from django.urls import get_resolver

    from api.adminforms import AdminResource

    models = {}

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            view = getattr(pattern.callback, "cls", None)
            if view and issubclass(view, AdminResource) and view.writable:
                route = "/" + prefix + str(pattern.pattern)
                models[route.replace("<int:pk>", "{id}")] = view.model

    walk(get_resolver().url_patterns)
    for path, model in models.items():
        for method in ("post", "patch"):
            operation = schema["paths"].get(path, {}).get(method)
            if operation:
                yield path, method, operation, model


def body_schema(schema, operation) -> dict:
    return component(schema, operation["requestBody"]["content"]["application/json"]["schema"])


def test_every_admin_write_has_a_body_schema_with_the_forms_fields(schema):
    writes = list(admin_writes(schema))
    assert {model for *_rest, model in writes} >= {SLAPolicy, Team}
    assert len(writes) >= 20
    request = schema_request()
    for path, method, operation, model in writes:
        body = body_schema(schema, operation)
        madmin = model_admin(model)
        form_class = madmin.get_form(request, None, change=False)
        inlines = {
            inline_key(inline): formset
            for formset, inline in madmin.get_formsets_with_inlines(request, None)
            if set(formset.form.base_fields) - {formset.fk.name}
        }
        assert body["type"] == "object"
        assert set(body["properties"]) == set(form_class.base_fields) | set(inlines), path
        initial = initial_values(form_class())
        needed = {
            name
            for name, field in form_class.base_fields.items()
            if field.required and initial.get(name) in (None, "", [])
        }
        if method == "post":
            assert set(body.get("required", [])) == needed, path
        else:  # PATCH keeps what is not sent
            assert "required" not in body, path


def test_a_choice_is_an_enum_of_the_forms_values_and_a_relation_an_id(schema):
    post = schema["paths"]["/api/v1/configuration/sla-policies/"]["post"]
    body = body_schema(schema, post)
    props = body["properties"]
    assert set(body["required"]) == {"name", "calendar"}
    assert props["calendar"]["type"] == "integer"
    assert props["teams"] == {"type": "array", "items": {"type": "integer"}}
    assert component(schema, props["priority_min"]["allOf"][0])["enum"] == Priority.values
    form = model_admin(SLAPolicy).get_form(schema_request(), None)
    tiers = [value for value, _label in choice_values(form.base_fields["customer_tiers"])]
    assert component(schema, props["customer_tiers"]["items"])["enum"] == tiers
    assert props["valid_from"] == {"type": ["string", "null"], "format": "date"}
    assert props["name"]["maxLength"] == 100
    targets = props["targets"]
    assert targets["type"] == "array"
    row = component(schema, targets["items"])
    assert set(row["properties"]) == {
        "id",
        "priority",
        "first_response",
        "next_update",
        "resolution",
        "warning_percent",
        "warning_lead",
    }
    assert set(row["required"]) == {"priority", "first_response", "resolution"}
    durations = row["properties"]["first_response"]["oneOf"]
    assert [d["type"] for d in durations] == ["string", "integer"]
    assert {"type": "null"} in row["properties"]["next_update"]["oneOf"]


def test_the_patch_body_is_the_same_fields_none_required(schema):
    item = schema["paths"]["/api/v1/teams/{id}/"]
    patch, post = (
        body_schema(schema, item["patch"]),
        body_schema(schema, schema["paths"]["/api/v1/teams/"]["post"]),
    )
    assert set(patch["properties"]) == set(post["properties"])
    assert "required" not in patch
    kind = component(schema, post["properties"]["kind"])
    assert kind["enum"] == Team.Kind.values


def test_the_request_examples_conform_to_the_body_schemas(schema):
    checked, wrong = 0, []
    for path, method, operation, _model in admin_writes(schema):
        media = operation["requestBody"]["content"]["application/json"]
        body = resolved(schema, media["schema"])
        assert media.get("examples"), path
        for example in media["examples"].values():
            try:
                conform(example["value"], body)
            except jsonschema.ValidationError as error:
                wrong.append(f"{method.upper()} {path}: {error.message}")
            checked += 1
    assert wrong == []
    assert checked >= 20


def test_a_body_the_schema_allows_is_what_the_form_takes(admin_user):
    """A body written from the schema alone is accepted, and a value of a type the schema
    refuses is refused by the form too."""
    from sla.models import BusinessCalendar
    from tests.api.conftest import client_for

    calendar = BusinessCalendar.objects.create(name="Flat", always_open=True)
    api = client_for(admin_user)
    body = {
        "name": "Gold",
        "calendar": calendar.pk,
        "priority_min": 1,
        "priority_max": 1,
        "customer_tiers": ["premium"],
        "valid_from": None,
        "targets": [
            {"priority": 1, "first_response": "15 min", "resolution": 240, "next_update": None}
        ],
    }
    generated = SchemaGenerator().get_schema(request=None, public=True)
    post = generated["paths"]["/api/v1/configuration/sla-policies/"]["post"]
    body_type = resolved(generated, post["requestBody"]["content"]["application/json"]["schema"])
    conform(body, body_type)
    response = api.post("/api/v1/configuration/sla-policies/", body, format="json")
    assert response.status_code == 201, response.content
    policy = SLAPolicy.objects.get(name="Gold")
    assert policy.customer_tiers == ["premium"]
    assert [(t.priority, t.resolution.total_seconds()) for t in policy.targets.all()] == [
        (1, 4 * 3600)
    ]
    wrong = {**body, "name": "Silver", "priority_min": "urgent"}
    with pytest.raises(jsonschema.ValidationError):
        conform(wrong, body_type)
    refused = api.post("/api/v1/configuration/sla-policies/", wrong, format="json")
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"priority_min"}


def test_a_form_field_of_every_kind_maps_to_a_schema_type():
    from api.forms import form_serializer
    from helpdesk.durations import HumanDurationField

    fields = {
        "text": forms.CharField(max_length=5),
        "email": forms.EmailField(required=False),
        "url": forms.URLField(assume_scheme="https"),
        "count": forms.IntegerField(min_value=1, max_value=9),
        "ratio": forms.FloatField(required=False),
        "flag": forms.BooleanField(required=False),
        "when": forms.DateTimeField(),
        "day": forms.DateField(),
        "at": forms.TimeField(),
        "data": forms.JSONField(required=False),
        "pick": forms.ChoiceField(choices=[("", "---"), ("a", "A"), ("b", "B")], required=False),
        "picks": forms.MultipleChoiceField(choices=[("a", "A")]),
        "wait": HumanDurationField(),
    }
    serializer = form_serializer("Everything", fields, initial={"count": 3})()
    declared = serializer.fields
    assert declared["text"].max_length == 5 and declared["text"].required
    assert not declared["email"].required and declared["email"].allow_blank
    assert declared["count"].min_value == 1 and not declared["count"].required
    assert list(declared["pick"].choices) == ["a", "b"] and declared["pick"].allow_blank
    assert type(declared["wait"]).__name__ == "DurationTextField"
    assert {name: type(field).__name__ for name, field in declared.items()} == {
        "text": "CharField",
        "email": "EmailField",
        "url": "URLField",
        "count": "IntegerField",
        "ratio": "FloatField",
        "flag": "BooleanField",
        "when": "DateTimeField",
        "day": "DateField",
        "at": "TimeField",
        "data": "JSONField",
        "pick": "ChoiceField",
        "picks": "MultipleChoiceField",
        "wait": "DurationTextField",
    }
