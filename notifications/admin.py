"""Admin for notifications: in-app rows, the outbox with its attempts (and "resend"), webhook
endpoints, users' preferences and the communication templates.

Notifications and deliveries are written by the services only; here they are read, and
deliveries can be sent again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk.names import display_name_column
from notifications import outbox
from notifications.email import DIGEST, render_preview
from notifications.models import (
    ChannelPreference,
    Delivery,
    DeliveryAttempt,
    EventType,
    MessageTemplate,
    Notification,
    Preference,
    WebhookEndpoint,
)
from tickets.admin import TicketVisibleAdminMixin, labelled_filter


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(TicketVisibleAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "kind", "ticket", "text_preview", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "ticket"]
    search_fields = ["user__username", "ticket__reference"]
    date_hierarchy = "created_at"

    @admin.display(description=_("text"))
    def text_preview(self, obj: Notification) -> str:
        return obj.text


class DeliveryAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "duration_ms", "ok", "status_code", "error"]
    readonly_fields = fields


def delivery_kind_label(code: str) -> str:
    """A delivery's kind as its label: a notification kind, the digest, or a webhook's event
    type (a code the receiving system reads, shown as it is)."""
    if code == DIGEST:
        return str(_("Digest"))
    try:
        return str(Notification.Kind(code).label)
    except ValueError:
        return code


@admin.register(Delivery)
class DeliveryAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "channel",
        "kind_text",
        "target",
        "ticket",
        "status",
        "attempts",
        "next_attempt_at",
        "error_preview",
        "created_at",
    ]
    list_filter = [
        "status",
        "channel",
        labelled_filter("kind", _("kind"), delivery_kind_label),
        "endpoint",
    ]
    list_select_related = ["user", "endpoint", "ticket"]
    search_fields = [
        "event_id",
        "user__username",
        "user__email",
        "endpoint__url",
        "ticket__reference",
    ]
    date_hierarchy = "created_at"
    # Newest first by id, which walks the primary key backwards; the model's order (by
    # `created_at`) has no index and would sort the whole outbox for each page.
    ordering = ["-pk"]
    actions = ["resend"]
    inlines = [DeliveryAttemptInline]
    fields = [
        "channel",
        "kind",
        "status",
        "user",
        "endpoint",
        "ticket",
        "ticket_event",
        "event_id",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "relayed_at",
        "sent_at",
        "last_error",
        "digest",
        "created_at",
        "preview",
        "payload",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_delivery")

    @admin.display(description=_("to"))
    def target(self, obj: Delivery) -> str:
        return obj.target_label

    @admin.display(description=_("kind"), ordering="kind")
    def kind_text(self, obj: Delivery) -> str:
        return delivery_kind_label(obj.kind)

    @admin.display(description=_("last error"))
    def error_preview(self, obj: Delivery) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description=_("preview"))
    def preview(self, obj: Delivery) -> str:
        if obj.channel != Delivery.Channel.EMAIL:
            return "–"
        try:
            subject, text = render_preview(obj)
        except Exception as exc:  # a broken template shows here instead of breaking the page
            return f"{type(exc).__name__}: {exc}"
        return format_html("<strong>{}</strong><pre>{}</pre>", subject, text)

    @admin.action(description=_("Send again"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = outbox.resend(queryset)
        skipped = queryset.count() - count
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery queued again (same event id).",
                "%(count)d deliveries queued again (same event id).",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                _("%(count)d skipped: still pending, held or being sent.") % {"count": skipped},
                messages.WARNING,
            )


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active", "secret", "disabled_reason"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "description",
        "is_active",
        "event_list",
        "disabled_reason",
        "deliveries",
    ]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]

    @admin.display(description=_("event types"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or str(_("all"))

    @admin.display(description=_("deliveries"))
    def deliveries(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:notifications_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("show"))


class ChannelPreferenceInline(admin.TabularInline):
    model = ChannelPreference
    extra = 0


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "timezone", "calendar"]
    list_filter = ["language", "calendar"]
    list_select_related = ["user", "calendar"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    inlines = [ChannelPreferenceInline]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = [display_name_column, "kind", "language", "order", "is_active"]
    list_filter = ["kind", "language", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["name", "body"]
