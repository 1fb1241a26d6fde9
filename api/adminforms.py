"""Writes through the admin's own forms: one validation for the admin and the API.

`AdminResource` views take JSON, fill the model admin's ModelForm (and its inline formsets:
an SLA policy's targets, a calendar's opening hours and exceptions) with it, and save exactly
as the admin's change form does (`save_form`, `save_model`, `save_related`, the admin log), so
whatever the admin refuses the API refuses with the same message, and whatever the admin does
after a save (the sweep looks again at open tickets after a rule changed, …) happens too.

Permissions are the admin's: staff with the model's add/change/delete/view permission
(superusers have them all).

JSON to form data: a value is what the form field takes (a related row's id, a list of ids
or choices for many, a duration as "4 h", "90" (minutes) or "HH:MM:SS"). PATCH starts from the
row's current values. An inline's key (e.g. `targets`) holds the complete list of its rows:
a row with its `id` is changed, a row without one is added, a row left out is deleted; leaving
out the key keeps the rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin, ModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.base import BaseStorage
from django.db import models, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from api.forms import as_form_data, error_dict, form_serializer, initial_values, type_errors
from api.idempotency import Idempotent
from api.pagination import cursor
from api.problems import problem
from tickets.services import is_agent


class DiscardMessages(BaseStorage):
    """The admin's flash messages ("3 open tickets will be looked at again") have no page to
    appear on in the API: dropped, rather than set as a cookie on an API response."""

    def _get(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool]:
        return [], True

    def _store(self, messages: list[Any], response: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def model_admin(model: type[models.Model]) -> ModelAdmin:
    return admin.site.get_model_admin(model)


def require(allowed: bool, request: Request) -> None:
    if not request.user.is_staff or not request.user.is_active or not allowed:
        raise exceptions.PermissionDenied(_("Only administrators can do this."))


def inline_key(inline: InlineModelAdmin) -> str:
    """The JSON key of an inline's rows: the related name (`targets`, `opening_hours`)."""
    fk = next(
        f
        for f in inline.model._meta.get_fields()
        if isinstance(f, models.ForeignKey) and f.related_model is inline.parent_model
    )
    return fk.remote_field.related_name or f"{inline.model._meta.model_name}_set"


def formset_data(
    formset_class: type[BaseFormSet], prefix: str, existing: list[Any], rows: list[Any] | None
) -> dict[str, Any]:
    """The POST data of an inline formset: the existing rows first (changed by the row with
    their id, or deleted when `rows` leaves them out), then the new rows."""
    data: dict[str, Any] = {}
    by_id: dict[Any, dict[str, Any]] = {}
    new_rows: list[dict[str, Any]] = []
    if rows is not None:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise exceptions.ValidationError({prefix: [_("Send a list of objects.")]})
        for index, row in enumerate(rows):
            wrong = type_errors(formset_class.form.base_fields, row)
            for name in sorted(set(row) - set(formset_class.form.base_fields) - {"id"}):
                wrong[name] = [_("This field is not known.")]
            if wrong:
                raise exceptions.ValidationError(
                    {f"{prefix}[{index}].{name}": messages for name, messages in wrong.items()}
                )
            if row.get("id") is not None and not isinstance(row["id"], int | str):
                raise exceptions.ValidationError({f"{prefix}[{index}].id": [_("Send a number.")]})
            if row.get("id") is not None:
                by_id[str(row["id"])] = row
            else:
                new_rows.append(row)
        unknown = set(by_id) - {str(obj.pk) for obj in existing}
        if unknown:
            raise exceptions.ValidationError(
                {prefix: [_("Unknown id: %(ids)s.") % {"ids": ", ".join(sorted(unknown))}]}
            )
    blank = formset_class(prefix=prefix, queryset=formset_class.model.objects.none())
    for index, obj in enumerate(existing):
        form = formset_class.form(instance=obj, prefix=f"{prefix}-{index}")
        values = initial_values(form)
        if rows is not None:
            change = by_id.get(str(obj.pk))
            if change is None:
                values["DELETE"] = True
            else:
                values.update(
                    as_form_data(
                        formset_class.form.base_fields,
                        {k: v for k, v in change.items() if k != "id"},
                    )
                )
        values["id"] = obj.pk
        data.update({f"{prefix}-{index}-{k}": v for k, v in values.items()})
    fields = formset_class.form.base_fields
    for offset, row in enumerate(new_rows):
        values = as_form_data(fields, row)
        data.update({f"{prefix}-{len(existing) + offset}-{k}": v for k, v in values.items()})
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": len(existing) + len(new_rows),
            f"{prefix}-INITIAL_FORMS": len(existing),
            f"{prefix}-MIN_NUM_FORMS": blank.min_num,
            f"{prefix}-MAX_NUM_FORMS": blank.max_num,
        }
    )
    return data


def form_errors(form: ModelForm, formsets: list[tuple[str, BaseFormSet]]) -> dict[str, list[str]]:
    errors = error_dict(form)
    for key, formset in formsets:
        for index, row_errors in enumerate(formset.errors):
            for name, messages in row_errors.items():
                field = key if name == "__all__" else f"{key}[{index}].{name}"
                errors.setdefault(field, []).extend(str(m) for m in messages)
        if formset.non_form_errors():
            errors.setdefault(key, []).extend(str(m) for m in formset.non_form_errors())
    return errors


def save_through_admin(
    request: Request, model: type[models.Model], obj: models.Model | None, body: Any
) -> models.Model:
    """Validate `body` with the admin's form and inline formsets and save like the admin's
    change form. Raises a DRF ValidationError with the admin's messages per field."""
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    madmin = model_admin(model)
    add = obj is None
    request._messages = DiscardMessages(request)
    form_class = madmin.get_form(request, obj, change=not add)
    inlines = list(madmin.get_formsets_with_inlines(request, obj))
    keys = {inline_key(inline): (formset_class, inline) for formset_class, inline in inlines}
    unknown = set(body) - set(form_class.base_fields) - set(keys) - {"id"}
    if unknown:
        raise exceptions.ValidationError(
            {name: [_("This field is not known.")] for name in sorted(unknown)}
        )
    wrong = type_errors(form_class.base_fields, body)
    if wrong:
        raise exceptions.ValidationError(wrong)
    # What the admin's form shows before anyone types: the row's values, or a new row's
    # defaults (as the browser would send them back).
    data = initial_values(form_class(instance=obj))
    fields = form_class.base_fields
    data.update(as_form_data(fields, {k: v for k, v in body.items() if k in fields}))
    form = form_class(data=data, files={}, instance=obj)
    valid = form.is_valid()
    new_object = madmin.save_form(request, form, change=not add) if valid else form.instance
    formsets: list[tuple[str, BaseFormSet]] = []
    for key, (formset_class, inline) in keys.items():
        prefix = formset_class.get_default_prefix()
        existing = (
            list(inline.get_queryset(request).filter(**{formset_class.fk.name: obj})) if obj else []
        )
        formset = formset_class(
            data=formset_data(formset_class, prefix, existing, body.get(key)),
            files={},
            instance=new_object,
            prefix=prefix,
            queryset=inline.get_queryset(request),
        )
        formsets.append((key, formset))
    if not (valid and all(fs.is_valid() for _key, fs in formsets)):
        raise exceptions.ValidationError(form_errors(form, formsets))
    with transaction.atomic():
        madmin.save_model(request, new_object, form, change=not add)
        madmin.save_related(request, form, [fs for _key, fs in formsets], change=not add)
        message = madmin.construct_change_message(request, form, [fs for _key, fs in formsets], add)
        if add:
            madmin.log_addition(request, new_object, message)
        else:
            madmin.log_change(request, new_object, message)
    return new_object


class AdminResource(Idempotent, generics.GenericAPIView):
    """Base of a resource whose writes are the admin's. Subclasses set `model`,
    `serializer_class`, `readers` ("agents": every agent reads; "admins": the admin's view
    permission) and `writable`."""

    model: type[models.Model]
    readers = "admins"
    writable = True
    filter_backends: list[Any] = []
    pagination_class = cursor("id", page_size=100)

    def get_queryset(self) -> QuerySet[Any]:
        return self.model.objects.all()

    def check_read(self, request: Request) -> None:
        if self.readers == "agents" and is_agent(request.user):
            return
        require(model_admin(self.model).has_view_permission(request), request)

    def represent(self, obj: models.Model, code: int = 200) -> Response:
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(obj).data, status=code)


class AdminListCreate(AdminResource):
    def get(self, request: Request) -> Response:
        self.check_read(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        if not self.writable:
            raise exceptions.MethodNotAllowed(request.method)
        require(model_admin(self.model).has_add_permission(request), request)
        obj = save_through_admin(request, self.model, None, request.data)
        return self.represent(obj, status.HTTP_201_CREATED)


class AdminDetail(AdminResource):
    def get_object(self) -> Any:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def get(self, request: Request, pk: int) -> Response:
        self.check_read(request)
        return Response(self.get_serializer(self.get_object()).data)

    def patch(self, request: Request, pk: int) -> Response:
        if not self.writable:
            raise exceptions.MethodNotAllowed(request.method)
        obj = self.get_object()
        require(model_admin(self.model).has_change_permission(request, obj), request)
        return self.represent(save_through_admin(request, self.model, obj, request.data))

    def delete(self, request: Request, pk: int) -> Response:
        if not self.writable:
            raise exceptions.MethodNotAllowed(request.method)
        obj = self.get_object()
        madmin = model_admin(self.model)
        require(madmin.has_delete_permission(request, obj), request)
        request._messages = DiscardMessages(request)
        try:
            with transaction.atomic():
                madmin.log_deletions(request, self.model.objects.filter(pk=obj.pk))
                madmin.delete_model(request, obj)
        except (ProtectedError, RestrictedError):
            return problem(
                409,
                _("%(object)s is still in use and cannot be deleted; deactivate it instead.")
                % {"object": str(obj)},
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


def schema_request() -> HttpRequest:
    """A request of an administrator who exists nowhere (nothing is read or written for it):
    the admin's form as an administrator gets it, for the schema of the API's writes."""
    request = HttpRequest()
    request.method = "POST"
    request.user = get_user_model()(is_active=True, is_staff=True, is_superuser=True)
    request._messages = DiscardMessages(request)
    return request


INLINE_ID_HELP = (
    "The id of a row to change; without it the row is added. Rows left out of the list are deleted."
)


def write_serializer(model: type[models.Model]) -> type[Serializer]:
    """The schema of a write of `model`: the fields of the admin's form (a field the form
    requires is required in a POST unless a new row has a value for it) and each editable
    inline as a list of rows. For the OpenAPI document only: the writes are validated by the
    form itself (`save_through_admin`)."""
    from rest_framework import serializers

    request = schema_request()
    madmin = model_admin(model)
    form_class = madmin.get_form(request, None, change=False)
    nested: dict[str, Any] = {}
    for formset_class, inline in madmin.get_formsets_with_inlines(request, None):
        row_fields = {
            name: field
            for name, field in formset_class.form.base_fields.items()
            if name != formset_class.fk.name
        }
        if not row_fields:  # a read-only inline (a history): nothing to write
            continue
        key = inline_key(inline)
        row = form_serializer(
            f"{model.__name__}{inline.model.__name__}Row",
            row_fields,
            initial=initial_values(formset_class.form()),
            nested={"id": serializers.IntegerField(required=False, help_text=INLINE_ID_HELP)},
            doc=f"A row of {key} of a {model._meta.verbose_name}.",
        )
        nested[key] = row(
            many=True,
            required=False,
            help_text="The complete list of rows; leave the key out to keep them as they are.",
        )
    return form_serializer(
        f"{model.__name__}Write",
        form_class.base_fields,
        initial=initial_values(form_class()),
        nested=nested,
        doc=f"A {model._meta.verbose_name} as the admin's form takes it.",
    )


def serializer_for(
    model: type[models.Model], fields: list[str], **declared: Any
) -> type[Serializer]:
    """A read serializer of `model` with `fields` (and `declared` fields)."""
    from rest_framework import serializers

    meta = type("Meta", (), {"model": model, "fields": fields, "read_only_fields": fields})
    name = f"{model.__name__}Serializer"
    return type(name, (serializers.ModelSerializer,), {"Meta": meta, **declared})


def resource_urls(
    route: str,
    *,
    model: type[models.Model],
    serializer: type[Serializer],
    readers: str = "admins",
    writable: bool = True,
    queryset: Any = None,
    example: dict[str, Any],
) -> list[Any]:
    """The list and detail URLs of an admin-backed resource, with their schema."""
    from django.urls import path
    from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

    label = str(model._meta.verbose_name_plural)
    one = str(model._meta.verbose_name)
    who = "every agent" if readers == "agents" else "administrators"
    attrs = {"model": model, "serializer_class": serializer, "readers": readers}
    attrs["writable"] = writable
    if queryset is not None:
        attrs["get_queryset"] = lambda self: queryset()
    response_example = OpenApiExample(one, value=example, response_only=True)
    write_doc = (
        "Validated by the admin's form for this model (the same rules and messages as the "
        "admin pages); administrators only."
    )
    request_example = OpenApiExample(
        one, value={k: v for k, v in example.items() if k != "id"}, request_only=True
    )
    list_schema: dict[str, Any] = {
        "get": extend_schema(
            description=f"All {label}, cursor-paginated by id; readable by {who}.",
            responses=serializer(many=True),
            examples=[response_example],
        )
    }
    detail_schema: dict[str, Any] = {
        "get": extend_schema(
            description=f"One {one}; readable by {who}.",
            responses=serializer,
            examples=[response_example],
        )
    }
    if writable:
        write = write_serializer(model)
        list_schema["post"] = extend_schema(
            description=f"Create a {one}. {write_doc}",
            request=write,
            responses={201: serializer},
            examples=[request_example, response_example],
        )
        detail_schema["patch"] = extend_schema(
            description=f"Change a {one}: the fields sent, the others kept. {write_doc}",
            request=write,
            responses=serializer,
            examples=[request_example, response_example],
        )
        detail_schema["delete"] = extend_schema(
            description=f"Delete a {one}; 409 while it is in use. Administrators only.",
            responses={204: None},
        )
    methods = ["get", "post"] if writable else ["get"]
    detail_methods = ["get", "patch", "delete"] if writable else ["get"]
    name = route.strip("/").replace("/", "-")
    list_view = extend_schema_view(**list_schema)(
        type(f"{model.__name__}List", (AdminListCreate,), {**attrs, "http_method_names": methods})
    )
    detail_view = extend_schema_view(**detail_schema)(
        type(
            f"{model.__name__}Detail",
            (AdminDetail,),
            {**attrs, "http_method_names": detail_methods},
        )
    )
    return [
        path(f"{route}/", list_view.as_view(), name=name),
        path(f"{route}/<int:pk>/", detail_view.as_view(), name=f"{name}-detail"),
    ]
