"""Editing the knowledge base in the admin: categories, articles with their translations
(one inline row per language), and the deflections, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk.names import display_name_column
from knowledge import selectors, services
from knowledge.models import Article, ArticleTranslation, Category, Deflection
from notifications.admin import ReadOnlyMixin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [display_name_column, "slug", "order"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name", "name_de", "slug"]


class ArticleTranslationInline(admin.StackedInline):
    model = ArticleTranslation
    extra = 0
    min_num = 1
    max_num = 2
    fields = ["language", "title", "summary", "body"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "title_for_reader",
        "category",
        "visibility",
        "status",
        "owner",
        "last_reviewed_on",
        "review_due_on",
        "deflection_count",
    ]
    list_filter = ["status", "visibility", "category", "owner"]
    search_fields = ["slug", "translations__title"]
    autocomplete_fields = ["owner"]
    inlines = [ArticleTranslationInline]
    readonly_fields = ["review_due_on", "published_at", "created_at", "updated_at"]
    fields = [
        "slug",
        "category",
        "visibility",
        "status",
        "owner",
        "last_reviewed_on",
        "review_interval_days",
        "review_due_on",
        "published_at",
        "created_at",
        "updated_at",
    ]
    actions = ["mark_reviewed"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return (
            super()
            .get_queryset(request)
            .select_related("category", "owner")
            .prefetch_related("translations")
            .annotate(deflection_total=Count("deflections"))
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    @admin.display(description=_("title"))
    def title_for_reader(self, article: Article) -> str:
        translation = selectors.pick_translation(article, selectors.reader_language())
        return translation.title if translation else "—"

    @admin.display(description=_("solved problems"), ordering="deflection_total")
    def deflection_count(self, article: Article) -> int:
        return article.deflection_total  # type: ignore[attr-defined]

    @admin.action(description=_("Mark as reviewed today"))
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        done = refused = 0
        for article in queryset:
            try:
                services.article_mark_reviewed(article=article, actor=request.user)
            except PermissionDenied:
                refused += 1
            else:
                done += 1
        if done:
            messages.success(
                request,
                ngettext(
                    "%(count)d article marked reviewed.",
                    "%(count)d articles marked reviewed.",
                    done,
                )
                % {"count": done},
            )
        if refused:
            messages.warning(
                request,
                ngettext(
                    "%(count)d article left as it was: only its owner or an editor may.",
                    "%(count)d articles left as they were: only their owners or an editor may.",
                    refused,
                )
                % {"count": refused},
            )


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "article", "language", "source", "context"]
    list_filter = ["source", "language", "context"]
    date_hierarchy = "created_at"
    list_select_related = ["article"]
    fields = ["article", "created_at", "language", "source", "context"]
