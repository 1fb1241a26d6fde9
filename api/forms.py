"""Django forms as API bodies: one validation for a page and the API, and the schema of the
body generated from the same form.

`form_validated` fills a form with a JSON body (the form's initial values for what the body
leaves out, as a browser sends back what it showed) and answers a 400 problem with the form's
own messages per field. `form_serializer` turns the form's fields into a DRF serializer that
exists for the OpenAPI document only (field names, types, required, choices, bounds): the
request is never validated by it, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from helpdesk.durations import HumanDurationField


def type_errors(fields: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Values of a JSON type the form field cannot take (a list or object where one value
    belongs, an object in a list, a NUL byte): refused before the form sees them, since
    Django's fields expect what a browser sends (strings) and some fail otherwise."""
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None or isinstance(field, forms.JSONField):
            continue
        many = isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField)
        items = value if many and isinstance(value, list) else [value]
        wrong = (isinstance(value, list) and not many) or any(
            isinstance(item, dict | list) for item in items
        )
        if wrong:
            errors[name] = [_("This value has the wrong type.")]
        elif any(isinstance(item, str) and "\x00" in item for item in items):
            errors[name] = [_("Null characters are not allowed.")]
    return errors


def as_form_data(fields: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON numbers as the strings a browser sends (Django's fields parse strings; some
    fail on other types); booleans stay booleans for check boxes, and JSON fields and lists
    of choices keep their JSON."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if isinstance(field, forms.BooleanField | forms.JSONField) or field is None:
            data[name] = value
        elif isinstance(value, list):
            data[name] = [str(v) if isinstance(v, int | float) else v for v in value]
        elif isinstance(value, int | float):  # bool is an int too
            data[name] = str(value)
        else:
            data[name] = value
    return data


def unknown_errors(known: Any, body: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: [_("This field is not known.")] for name in sorted(set(body) - set(known))}


def error_dict(form: forms.BaseForm) -> dict[str, list[str]]:
    """A form's errors as the problem's `errors` (`non_field_errors` for the whole form)."""
    return {
        ("non_field_errors" if name == "__all__" else name): [str(m) for m in messages]
        for name, messages in form.errors.items()
    }


def initial_values(form: forms.BaseForm) -> dict[str, Any]:
    """An unbound form's values as the form would read them back (what a browser sends for
    the fields nobody touched)."""
    return {name: form[name].value() for name in form.fields}


def form_validated(form_class: type[forms.Form], body: Any) -> dict[str, Any]:
    """`body` (a JSON object) checked by `form_class`: its cleaned data, or a DRF
    ValidationError (a 400 problem) with the form's messages per field. Fields the body
    leaves out take the form's initial values."""
    if not isinstance(body, Mapping):
        raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    fields = form_class.base_fields
    wrong = unknown_errors(fields, body) | type_errors(fields, body)
    if wrong:
        raise exceptions.ValidationError(wrong)
    data = initial_values(form_class())
    data.update(as_form_data(fields, body))
    form = form_class(data=data)
    if not form.is_valid():
        raise exceptions.ValidationError(error_dict(form))
    return dict(form.cleaned_data)


# --- The schema of a form ---------------------------------------------------------------------


DURATION_SCHEMA: list[dict[str, Any]] = [
    {"type": "string", "maxLength": 100, "example": "4 h"},
    {"type": "integer", "minimum": 0, "description": "minutes"},
]


@extend_schema_field({"oneOf": DURATION_SCHEMA})
class DurationTextField(serializers.CharField):
    """A duration as people type it in the admin: "15 min", "1 h 30 min", "2 d", a number of
    minutes or "HH:MM:SS" (`helpdesk.durations`)."""


# The admin's help text on every multiple select box: about the mouse, not the API. Django's
# own message (translated by Django's catalogue, so not one of ours).
SELECT_MANY_HELP = "Hold down “Control”, or “Command” on a Mac, to select more than one."


def help_text(field: forms.Field) -> str:
    return str(field.help_text).replace(_(SELECT_MANY_HELP), "").strip()


def choice_values(field: forms.ChoiceField) -> list[tuple[Any, Any]]:
    """The (value, label) pairs a choice field accepts, without the blank "---------" entry,
    values in the type the form's `coerce` gives them (a model's integer choices are
    numbers), labels as the model has them (so a choice set is one enum in the schema)."""
    pairs: list[tuple[Any, Any]] = []
    for value, label in field.choices:
        if isinstance(label, list | tuple):  # an option group
            pairs.extend(label)
        elif value not in field.empty_values:
            pairs.append((value, label))
    return pairs


def schema_field(field: forms.Field, required: bool) -> serializers.Field:
    """The serializer field that documents `field` (a form field) in the schema."""
    common: dict[str, Any] = {"required": required}
    if help_text(field):
        common["help_text"] = help_text(field)
    if field.label:
        common["label"] = str(field.label)
    optional = not field.required
    if isinstance(field, forms.ModelMultipleChoiceField):
        pk = serializers.IntegerField() if is_integer_pk(field) else serializers.CharField()
        return serializers.ListField(child=pk, **common)
    if isinstance(field, forms.ModelChoiceField):
        pk_class = serializers.IntegerField if is_integer_pk(field) else serializers.CharField
        return pk_class(allow_null=optional, **common)
    if isinstance(field, forms.MultipleChoiceField):
        return serializers.MultipleChoiceField(choices=choice_values(field), **common)
    if isinstance(field, forms.ChoiceField):
        # Left empty, a choice of numbers is null and one of words is "" (both are empty
        # values to the form).
        values = choice_values(field)
        words = all(isinstance(value, str) for value, _label in values)
        return serializers.ChoiceField(
            choices=values,
            allow_null=optional and not words,
            allow_blank=optional and words,
            **common,
        )
    if isinstance(field, HumanDurationField):
        return DurationTextField(allow_blank=optional, allow_null=optional, **common)
    if isinstance(field, forms.BooleanField):
        return serializers.BooleanField(**common)
    if isinstance(field, forms.DecimalField | forms.FloatField):  # before IntegerField,
        return serializers.FloatField(  # which Django's FloatField subclasses
            min_value=field.min_value, max_value=field.max_value, allow_null=optional, **common
        )
    if isinstance(field, forms.IntegerField):
        return serializers.IntegerField(
            min_value=field.min_value, max_value=field.max_value, allow_null=optional, **common
        )
    if isinstance(field, forms.DateTimeField):
        return serializers.DateTimeField(allow_null=optional, **common)
    if isinstance(field, forms.DateField):
        return serializers.DateField(allow_null=optional, **common)
    if isinstance(field, forms.TimeField):
        return serializers.TimeField(allow_null=optional, **common)
    if isinstance(field, forms.JSONField):
        return serializers.JSONField(**common)
    text: dict[str, Any] = {"allow_blank": optional, **common}
    if getattr(field, "max_length", None):
        text["max_length"] = field.max_length
    if isinstance(field, forms.EmailField):
        return serializers.EmailField(**text)
    if isinstance(field, forms.URLField):
        return serializers.URLField(**text)
    return serializers.CharField(**text)


def is_integer_pk(field: forms.ModelChoiceField) -> bool:
    from django.db import models

    pk = field.queryset.model._meta.pk
    return isinstance(pk, models.AutoField | models.BigAutoField | models.IntegerField)


def form_serializer(
    name: str,
    fields: Mapping[str, forms.Field],
    *,
    initial: Mapping[str, Any] | None = None,
    nested: Mapping[str, serializers.Field] | None = None,
    doc: str = "",
) -> type[serializers.Serializer]:
    """A serializer named `name` documenting a body of `fields` (form fields): a field is
    required when the form requires it and has no `initial` value to fall back on. `nested`
    adds fields of other kinds (an inline's list of rows)."""
    initial = initial or {}
    declared: dict[str, Any] = {
        key: schema_field(field, field.required and initial.get(key) in (None, "", [], ()))
        for key, field in fields.items()
    }
    declared.update(nested or {})
    declared["__doc__"] = doc or f"The body of {name}, from its form."
    return type(name, (serializers.Serializer,), declared)
