"""Admin pages: services with their status history (a status changed here goes through the
service that records it), major incidents with their links, updates and timeline (read-only:
they are run from the incident pages), and the wave rules with a preview of what they would
fire now."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.names import display_name_column
from incidents import services
from incidents.models import (
    IncidentEvent,
    IncidentLink,
    IncidentUpdate,
    MajorIncident,
    ServiceStatusChange,
    WaveFiring,
    WaveRule,
)
from incidents.wording import describe_event
from tickets.admin import ServiceAdmin
from tickets.models import Service


class StatusChangeInline(admin.TabularInline):
    model = ServiceStatusChange
    fk_name = "service"
    extra = 0
    can_delete = False
    fields = ("changed_at", "from_status", "to_status", "changed_by", "note", "incident")
    readonly_fields = fields
    ordering = ("-changed_at", "-pk")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


if admin.site.is_registered(Service):
    admin.site.unregister(Service)


@admin.register(Service)
class ServiceWithHistoryAdmin(ServiceAdmin):
    inlines = (StatusChangeInline,)

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        """A changed status is recorded with who and when (`set_service_status`)."""
        if change and "status" in form.changed_data:
            wanted = obj.status
            obj.status = form.initial.get("status", obj.status)
            super().save_model(request, obj, form, change)
            services.set_service_status(
                obj, wanted, actor=request.user, now=timezone.now(), note=gettext("admin")
            )
            return
        super().save_model(request, obj, form, change)


class LinkInline(admin.TabularInline):
    model = IncidentLink
    extra = 0
    can_delete = False
    fields = ("ticket", "source", "linked_by", "linked_at", "end", "ended_at", "ended_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UpdateInline(admin.StackedInline):
    model = IncidentUpdate
    extra = 0
    can_delete = False
    fields = ("kind", "status", "text", "author", "created_at", "recipients")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MajorIncident)
class MajorIncidentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "severity", "status", "manager", "declared_at", "resolved_at")
    list_filter = ("status", "severity")
    search_fields = ("title",)
    readonly_fields = (
        "title",
        "severity",
        "status",
        "services",
        "service_impact",
        "manager",
        "declared_by",
        "source_ticket",
        "started_at",
        "declared_at",
        "next_update_due_at",
        "last_update_at",
        "resolved_at",
        *MajorIncident.CLOSING_FIELDS,
        "timeline",
    )
    exclude = ("services_before",)
    inlines = (LinkInline, UpdateInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # declared from the incident pages, the API or the wave trigger

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("timeline"))
    def timeline(self, obj: MajorIncident) -> str:
        return format_html_join(
            "",
            "<div>{} · {} · {}</div>",
            (
                (e.created_at.strftime("%Y-%m-%d %H:%M"), e.actor or "—", describe_event(e))
                for e in IncidentEvent.objects.filter(incident=obj).select_related("actor")
            ),
        )


@admin.register(WaveRule)
class WaveRuleAdmin(admin.ModelAdmin):
    list_display = (
        display_name_column,
        "min_tickets",
        "window_minutes",
        "by_service",
        "by_subject",
        "action",
        "severity",
        "is_active",
    )
    list_filter = ("is_active", "action")
    readonly_fields = ("preview",)

    @admin.display(description=_("what the active rules would fire now"))
    def preview(self, obj: WaveRule | None) -> str:
        waves = services.detect_waves()
        if not waves:
            return gettext("Nothing: no wave right now.")
        return format_html_join(
            "",
            "<div>{}: {} · {}</div>",
            ((str(w.rule.id), w.key, len(w.ticket_ids)) for w in waves),
        )


@admin.register(WaveFiring)
class WaveFiringAdmin(admin.ModelAdmin):
    list_display = ("rule", "key", "fired_at", "incident")
    readonly_fields = ("rule", "key", "service", "fired_at", "ticket_ids", "incident", "started_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
