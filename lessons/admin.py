"""Admin pages: the categories of cause (kept here), the closing reports (written on the
report page, where the timeline pre-fills them; changed here through the same service, so the
version, the search vector and the timeline entry follow) and the measures (owner and due date
changed through the service that tells the new owner; done through an action)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk.names import display_name_column
from lessons import services
from lessons.models import CauseCategory, ClosingReport, Measure
from tickets.services import StaleRequest


@admin.register(CauseCategory)
class CauseCategoryAdmin(admin.ModelAdmin):
    list_display = (display_name_column, "name", "name_de", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "name_de")


class MeasureInline(admin.TabularInline):
    model = Measure
    extra = 0
    can_delete = False
    fields = ("title", "owner", "due_on", "done_at", "done_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClosingReport)
class ClosingReportAdmin(admin.ModelAdmin):
    list_display = ("ticket", "category", "level_rank", "created_at", "updated_by")
    list_filter = ("category", "level_rank")
    search_fields = ("ticket__reference", "ticket__subject", "cause", "lessons_learned")
    list_select_related = ("ticket", "category", "updated_by")
    fields = ("ticket", "category", *ClosingReport.TEXT_FIELDS, "level_rank", "updated_at")
    readonly_fields = ("ticket", "level_rank", "updated_at")
    inlines = (MeasureInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written on the report page, pre-filled from the ticket's timeline

    def save_model(self, request: HttpRequest, obj: ClosingReport, form: Any, change: bool) -> None:
        try:
            services.report_save(
                ticket=obj.ticket,
                actor=request.user,  # type: ignore[arg-type]
                category=obj.category,
                texts={name: getattr(obj, name) for name in ClosingReport.TEXT_FIELDS},
                expected_version=ClosingReport.objects.get(pk=obj.pk).version,
            )
        except (PermissionDenied, StaleRequest, ValidationError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.message_user(request, text, messages.ERROR)


@admin.register(Measure)
class MeasureAdmin(admin.ModelAdmin):
    list_display = ("title", "report", "owner", "due_on", "done_at")
    list_filter = (("done_at", admin.EmptyFieldListFilter), "due_on")
    search_fields = ("title", "report__ticket__reference")
    list_select_related = ("report__ticket", "owner")
    fields = ("report", "title", "owner", "due_on", "done_at", "done_by")
    readonly_fields = ("report", "done_at", "done_by")
    actions = ("mark_done",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added on the report page, against the report's version

    def save_model(self, request: HttpRequest, obj: Measure, form: Any, change: bool) -> None:
        try:
            services.measure_change(
                measure=obj,
                actor=request.user,  # type: ignore[arg-type]
                title=obj.title,
                owner=obj.owner,
                due_on=obj.due_on,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    @admin.action(description=_("Mark selected measures done"), permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Measure]) -> None:
        done = 0
        for measure in queryset.open():
            try:
                services.measure_done(measure=measure, actor=request.user)  # type: ignore[arg-type]
            except PermissionDenied:
                continue
            done += 1
        self.message_user(
            request,
            ngettext("%(count)d measure marked done.", "%(count)d measures marked done.", done)
            % {"count": done},
            messages.SUCCESS,
        )
