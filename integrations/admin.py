"""Admin for the integrations: alert integrations (their token shown once), service accounts
(made here, their API tokens minted here), every API token (listed and revoked, the digest
never shown), alert groups and imported tickets (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from api.models import ApiToken
from integrations import services
from integrations.forms import IntegrationForm, ServiceAccountForm, TokenForm
from integrations.models import AlertGroup, ImportedTicket, Integration, ServiceAccount
from notifications.admin import ReadOnlyMixin
from tickets.admin import TicketVisibleAdminMixin


def secret_page(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    *,
    owner: object,
    secret: str,
    back_url: str,
    usage: str = "",
) -> TemplateResponse:
    return TemplateResponse(
        request,
        "admin/integrations/secret.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": _("New token"),
            "owner": owner,
            "secret": secret,
            "usage": usage,
            "back_url": back_url,
        },
    )


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = [
        "name",
        "team",
        "service",
        "account",
        "token_prefix",
        "resolve_tickets",
        "is_active",
    ]
    list_filter = ["is_active", "team"]
    search_fields = ["name"]
    readonly_fields = ["token_prefix", "created_at"]
    actions = ["rotate_token"]

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        request._integration_secret = services.integration_save(integration=obj)  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Integration, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(request, "_integration_secret", None)
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return secret_page(
            request,
            self,
            owner=obj,
            secret=secret,
            back_url=reverse("admin:integrations_integration_change", args=[obj.pk]),
            usage=_("Send it as “Authorization: Bearer <token>” to /api/v1/alerts/."),
        )

    @admin.action(description=gettext_lazy("Replace the token (the old one stops working)"))
    def rotate_token(
        self, request: HttpRequest, queryset: QuerySet[Integration]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Select one integration at a time."), messages.WARNING)
            return None
        integration = queryset.get()
        secret = services.integration_rotate_token(integration=integration)
        return secret_page(
            request,
            self,
            owner=integration,
            secret=secret,
            back_url=reverse("admin:integrations_integration_changelist"),
        )


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "description", "created_at"]
    search_fields = ["user__username", "description"]
    fields = ["user", "description", "created_at"]
    readonly_fields = ["user", "created_at"]

    def get_urls(self) -> list:
        urls = [
            path(
                "<int:pk>/token/",
                self.admin_site.admin_view(self.mint_token_view),
                name="integrations_serviceaccount_token",
            ),
        ]
        return urls + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "tokens": ApiToken.objects.filter(user_id=object_id),
            "mint_url": reverse("admin:integrations_serviceaccount_token", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """A new service account: a user with no password, and its teams."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ServiceAccountForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                account = services.service_account_create(
                    username=form.cleaned_data["username"],
                    description=form.cleaned_data["description"],
                    teams=form.cleaned_data["teams"],
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                self.message_user(
                    request, _("The service account was created; now give it a token.")
                )
                return HttpResponseRedirect(
                    reverse("admin:integrations_serviceaccount_token", args=[account.pk])
                )
        return TemplateResponse(
            request,
            "admin/integrations/mint_token.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("New service account"),
                "form": form,
                "submit_label": _("Create"),
            },
        )

    def mint_token_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        account = get_object_or_404(ServiceAccount.objects.select_related("user"), pk=pk)
        form = TokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                _token, secret = services.token_create(
                    user=account.user,
                    name=form.cleaned_data["name"],
                    days=form.cleaned_data["days"],
                )
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                return secret_page(
                    request,
                    self,
                    owner=account,
                    secret=secret,
                    back_url=reverse("admin:integrations_serviceaccount_change", args=[pk]),
                    usage=_("Send it as “Authorization: Token <token>” to the API."),
                )
        return TemplateResponse(
            request,
            "admin/integrations/mint_token.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("New API token for %(account)s") % {"account": account},
                "form": form,
                "submit_label": _("Create token"),
            },
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every API token: who, what for, until when; revoked from here. The digest (the table's
    primary key) is never shown, so the list links rows by their key prefix, not by pk: no
    change page, no bulk actions. New tokens are made by their owner (settings page) or, for
    a service account, on its admin page."""

    list_display = ["name", "user", "key", "created", "expiry", "revoke_link"]
    list_display_links = None
    list_filter = [("user__service_account", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "token_key"]
    list_select_related = ["user"]
    actions = None

    def get_urls(self) -> list:
        return [
            path(
                "revoke/<str:key>/",
                self.admin_site.admin_view(self.revoke_view),
                name="api_apitoken_revoke",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("key"), ordering="token_key")
    def key(self, token: ApiToken) -> str:
        return f"{token.token_key}…"

    @admin.display(description=gettext_lazy("revoke"))
    def revoke_link(self, token: ApiToken) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:api_apitoken_revoke", args=[token.token_key]),
            _("Revoke…"),
        )

    def revoke_view(self, request: HttpRequest, key: str) -> HttpResponse:
        """Confirm, then revoke (`services.token_revoke`)."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        token = get_object_or_404(ApiToken.objects.select_related("user"), token_key=key)
        if request.method == "POST":
            count = services.token_revoke(actor=request.user, key=key)
            self.message_user(
                request,
                ngettext("%(n)d token revoked.", "%(n)d tokens revoked.", count) % {"n": count},
            )
            return HttpResponseRedirect(reverse("admin:api_apitoken_changelist"))
        return TemplateResponse(
            request,
            "admin/integrations/revoke_token.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Revoke an API token"),
                "token": token,
            },
        )


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertGroup)
class AlertGroupAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    list_display = [
        "dedup_key",
        "integration",
        "ticket",
        "is_open",
        "count",
        "severity",
        "service_unmatched",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
    ]
    list_filter = ["is_open", "integration"]
    search_fields = ["dedup_key", "ticket__reference"]
    list_select_related = ["integration", "ticket"]


@admin.register(ImportedTicket)
class ImportedTicketAdmin(TicketVisibleAdminMixin, ReadOnlyAdmin):
    list_display = ["__str__", "ticket", "entries", "last_entry_at", "imported_at", "updated_at"]
    list_filter = ["system"]
    search_fields = ["external_id", "ticket__reference"]
    list_select_related = ["ticket"]
