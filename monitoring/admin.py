"""The sweep's heartbeat in the admin, read-only: when the last sweep ended, at a glance."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from monitoring.models import SweepHeartbeat
from notifications.admin import ReadOnlyMixin


@admin.register(SweepHeartbeat)
class SweepHeartbeatAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["last_finished_at", "ago", "last_duration", "runs", "fired", "failed"]
    readonly_fields = [
        "last_started_at",
        "last_finished_at",
        "last_duration",
        "runs",
        "examined",
        "fired",
        "failed",
        "seconds",
    ]
    fields = readonly_fields

    @admin.display(description=_("ended"))
    def ago(self, obj: SweepHeartbeat) -> str:
        if obj.last_finished_at is None:
            return "—"
        return _("%(time)s ago") % {"time": timesince(obj.last_finished_at, timezone.now())}

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the running totals would start again from zero
