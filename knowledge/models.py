"""The knowledge base: categories, articles with one translation per language, and the
deflections counted when a suggested article solved a reader's problem.

An `Article` holds what is the same in every language (slug, category, visibility, status,
owner, review dates); its `ArticleTranslation` rows hold the words, one per language. Search
runs over the translations: on PostgreSQL each keeps a stored `search_vector`, built with the
text search configuration of its language (German stemming for German, English for English)
and GIN-indexed (migration 0002).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import connection, models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.names import TranslatedName, german_name_field

# The PostgreSQL text search configuration of each article language.
SEARCH_CONFIGS = {"de": "german", "en": "english"}
# Addresses of pages beside the articles (/help/suggest/, /knowledge/review/ …).
RESERVED_SLUGS = {"suggest", "review", "picker", "solved", "reviewed"}


def not_reserved(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise ValidationError(
            _("“%(slug)s” is the address of another page; choose another slug."),
            params={"slug": slug},
        )


class Audience(models.TextChoices):
    """Who reads: the public (customers, anonymous visitors) or agents."""

    PUBLIC = "public", _("the public")
    AGENTS = "agents", _("agents")


class Category(TranslatedName, models.Model):
    name = models.CharField(_("name"), max_length=100)
    name_de = german_name_field(100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(
        _("order"), default=0, help_text=_("Lower numbers are listed first.")
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.display_name


class ArticleQuerySet(models.QuerySet["Article"]):
    def for_audience(self, audience: str) -> ArticleQuerySet:
        """Published articles `audience` may read: the public only public ones, agents all."""
        published = self.filter(status=Article.Status.PUBLISHED)
        if audience == Audience.AGENTS:
            return published
        return published.filter(visibility=Article.Visibility.PUBLIC)

    def due_for_review(self, today: Any) -> ArticleQuerySet:
        """Articles whose review date has come by `today` (a date)."""
        return self.filter(review_due_on__lte=today)


class Article(models.Model):
    class Visibility(models.TextChoices):
        INTERNAL = "internal", _("Internal (agents only)")
        PUBLIC = "public", _("Public")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    slug = models.SlugField(
        _("slug"),
        max_length=120,
        unique=True,
        validators=[not_reserved],
        help_text=_("The article's address: /help/<slug>/. The same in every language."),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("category"),
    )
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="knowledge_articles",
        verbose_name=_("owner"),
        help_text=_("Keeps the article true: reviews it when it is due."),
    )
    last_reviewed_on = models.DateField(_("last reviewed"), default=timezone.localdate)
    review_interval_days = models.PositiveSmallIntegerField(
        _("review every (days)"), default=180, validators=[MinValueValidator(1)]
    )
    review_due_on = models.DateField(_("review due"), editable=False)
    published_at = models.DateTimeField(_("first published"), null=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [
            models.Index(fields=["status", "visibility"], name="knowledge_audience"),
            models.Index(fields=["owner", "review_due_on"], name="knowledge_review_due"),
        ]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Per-row bookkeeping: the review date follows the last review and the interval, and
        # the first publication is remembered.
        self.review_due_on = self.last_reviewed_on + timedelta(days=self.review_interval_days)
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "review_due_on", "published_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("knowledge:article", args=[self.slug])

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.visibility == self.Visibility.PUBLIC

    def public_path(self) -> str:
        return reverse("help:article", args=[self.slug])


class ArticleTranslationQuerySet(models.QuerySet["ArticleTranslation"]):
    def refresh_search_vectors(self) -> int:
        """Rebuild the stored search vectors of these rows (PostgreSQL only; elsewhere the
        search reads the text itself). Title weighs most, then the summary, then the body."""
        if connection.vendor != "postgresql":
            return 0
        updated = 0
        for language, config in SEARCH_CONFIGS.items():
            updated += self.filter(language=language).update(
                search_vector=SearchVector("title", weight="A", config=config)
                + SearchVector("summary", weight="B", config=config)
                + SearchVector("body", weight="C", config=config)
            )
        return updated


class ArticleTranslation(models.Model):
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="translations", verbose_name=_("article")
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(
        _("summary"),
        max_length=300,
        blank=True,
        help_text=_("One or two sentences for lists and suggestions; the body's start if blank."),
    )
    body = models.TextField(_("body"), help_text=_("Markdown. Raw HTML is cleaned on display."))
    search_vector = SearchVectorField(null=True, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ArticleTranslationQuerySet.as_manager()

    class Meta:
        ordering = ["article", "language"]
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "language"], name="knowledge_one_translation_per_language"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # The vector is derived from the row: kept fresh on every save, whoever saves.
        type(self).objects.filter(pk=self.pk).refresh_search_vectors()


class Deflection(models.Model):
    """A reader said a suggested article solved their problem: a ticket not written.

    One per article and browser session (`session_hash`, an HMAC of the session key, so the
    key itself is never stored): a double click or a resubmit counts once."""

    class Source(models.TextChoices):
        SUGGESTION = "suggestion", _("Suggestion while typing")
        ARTICLE = "article", _("Help page of the article")

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="deflections", verbose_name=_("article")
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    source = models.CharField(_("where from"), max_length=20, choices=Source.choices)
    context = models.SlugField(
        _("form"),
        max_length=50,
        blank=True,
        help_text=_("The form the suggestion was shown in, e.g. portal-new-ticket."),
    )
    session_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("deflection")
        verbose_name_plural = _("deflections")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "session_hash"], name="knowledge_one_deflection_per_session"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article} · {self.created_at:%Y-%m-%d %H:%M}"
