"""Admin for email: mailboxes (with their credentials' variable names, never the values),
customers' email domains, and the received and sent mail (read-only; held mail can be
released)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mail.models import CustomerDomain, InboundMail, Mailbox, OutboundMail, Participant
from mail.services import mail_release
from notifications.admin import ReadOnlyMixin
from tickets.admin import TicketVisibleAdminMixin


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("address", "slug", "team", "imap_host", "is_active", "last_polled_at")
    list_filter = ("is_active", "team")
    search_fields = ("address", "slug")
    autocomplete_fields = ("team",)
    readonly_fields = ("last_polled_at", "last_poll_error")
    fieldsets = (
        (None, {"fields": ("address", "slug", "team", "impact", "urgency", "is_active")}),
        (
            _("IMAP"),
            {
                "fields": (
                    "imap_host",
                    "imap_port",
                    "imap_security",
                    "imap_folder",
                    "imap_username",
                    "imap_password_env",
                    "last_polled_at",
                    "last_poll_error",
                )
            },
        ),
        (_("Inbound endpoint"), {"fields": ("inbound_token_env",)}),
        (
            _("Senders and replies"),
            {"fields": ("unknown_senders", "accept_other_senders", "reopen_days")},
        ),
        (_("Loop protection"), {"fields": ("sender_limit", "mailbox_limit", "limit_minutes")}),
    )


@admin.register(CustomerDomain)
class CustomerDomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "customer")
    search_fields = ("domain", "customer__name")
    autocomplete_fields = ("customer",)


@admin.register(InboundMail)
class InboundMailAdmin(TicketVisibleAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "sender", "subject", "mailbox", "outcome", "ticket")
    list_filter = ("outcome", "mailbox")
    list_select_related = ("mailbox", "ticket")
    search_fields = ("sender", "subject", "message_id", "ticket__reference")
    date_hierarchy = "received_at"
    exclude = ("raw",)
    actions = ["release"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMail]:
        return super().get_queryset(request).defer("raw")

    @admin.action(description=_("Release the held mail (process it again, without limits)"))
    def release(self, request: HttpRequest, queryset: QuerySet[InboundMail]) -> None:
        released = 0
        for pk in queryset.values_list("pk", flat=True):
            mail = mail_release(inbound_id=pk)
            released += mail.outcome not in InboundMail.HELD and mail.processed_at is not None
        self.message_user(
            request,
            ngettext("%(count)d mail processed.", "%(count)d mails processed.", released)
            % {"count": released},
            messages.SUCCESS,
        )


@admin.register(OutboundMail)
class OutboundMailAdmin(TicketVisibleAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "message_id", "mailbox")
    list_filter = ("kind",)
    list_select_related = ("ticket", "mailbox")
    search_fields = ("message_id", "ticket__reference")


@admin.register(Participant)
class ParticipantAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = ("email", "ticket", "created_at")
    search_fields = ("email", "ticket__reference")
    raw_id_fields = ("ticket",)
