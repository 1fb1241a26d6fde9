"""Ratings in the admin, read-only: they are the customers' words, changed by nobody."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from portal.models import Rating
from tickets.admin import TicketVisibleAdminMixin


@admin.register(Rating)
class RatingAdmin(TicketVisibleAdminMixin, admin.ModelAdmin):
    list_display = ("ticket", "resolution", "score", "escalated", "team", "created_at")
    list_filter = ("score", "escalated", "team")
    search_fields = ("ticket__reference", "comment")
    list_select_related = ("ticket", "team")
    readonly_fields = (
        "ticket",
        "resolution",
        "score",
        "comment",
        "contact",
        "escalated",
        "team",
        "level_rank",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
