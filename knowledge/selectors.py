"""Reads of the knowledge base: search, the articles a reader may see, review lists and the
deflection figures for reporting.

`search(query, *, language, audience)` is the one search for every page (public help, the
suggestions while a customer types, the agents' list and the reply-box picker). On PostgreSQL
it is full-text search over each translation's stored vector, with the configuration of the
translation's language; elsewhere (the SQLite demo) a case-insensitive substring match. Both
return the same `Hit`s, best first, one per article, in the reader's language where the
article has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, Count, F, FloatField, Max, Q, QuerySet, Value, When
from django.http import Http404
from django.utils.translation import get_language

from knowledge.models import (
    SEARCH_CONFIGS,
    Article,
    ArticleTranslation,
    Category,
    Deflection,
)

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# A translation in another language than the reader's ranks lower, not out.
OTHER_LANGUAGE_WEIGHT = 0.5
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    """An article as one reader sees it: the translation in their language where it exists."""

    article: Article
    translation: ArticleTranslation
    score: float = 0.0

    @property
    def in_reader_language(self) -> bool:
        return self.translation.language == reader_language()


def reader_language(language: str | None = None) -> str:
    """`language` (or the active one) cut to an article language: "de-AT" → "de"; a language
    articles are not written in falls back to the site's."""
    code = (language or get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    known = {code for code, _ in settings.LANGUAGES}
    return code if code in known else settings.LANGUAGE_CODE.split("-")[0]


def query_terms(query: str) -> list[str]:
    """The words of a search, lower-cased, at most `MAX_TERMS` (the query is cut first)."""
    words = _WORD.findall((query or "")[:MAX_QUERY_CHARS].lower())
    return [w for w in words if len(w) > 1 or w.isdigit()][:MAX_TERMS]


def uses_fulltext() -> bool:
    return connection.vendor == "postgresql"


def search(
    query: str,
    *,
    language: str,
    audience: str,
    limit: int = 20,
    any_word: bool = False,
    category: Category | None = None,
) -> list[Hit]:
    """Articles matching `query` that `audience` may read, best first, at most `limit`.

    Every word must match, the last also as a prefix (it may still be being typed);
    `any_word` lets one matching word suffice (the suggestions: a subject line is a sentence,
    not a query). Articles in the reader's `language` rank before equally good matches in
    another. Three queries, whatever the number of matches."""
    terms = query_terms(query)
    if not terms:
        return []
    language = reader_language(language)
    articles = Article.objects.for_audience(audience)
    if category is not None:
        articles = articles.filter(category=category)
    translations = ArticleTranslation.objects.filter(article__in=articles)
    if uses_fulltext():
        ranked = _fulltext_ranking(translations, terms, language, any_word)
    else:
        ranked = _substring_ranking(translations, terms, language, any_word)
    best = list(
        ranked.values("article_id")
        .annotate(best=Max("score"))
        .order_by("-best", "article_id")[:limit]
    )
    scores = {row["article_id"]: row["best"] for row in best}
    return _hits(scores, language)


def _tsquery(terms: list[str], any_word: bool) -> str:
    # Words only (\w+), so nothing in them is tsquery syntax; the last may be a prefix.
    parts = [f"'{term}'" for term in terms]
    if len(terms[-1]) >= 3:
        parts[-1] += ":*"
    return (" | " if any_word else " & ").join(parts)


def _fulltext_ranking(
    translations: QuerySet[ArticleTranslation], terms: list[str], language: str, any_word: bool
) -> QuerySet[ArticleTranslation]:
    raw = _tsquery(terms, any_word)
    matches = Q()
    ranks = []
    for code, config in SEARCH_CONFIGS.items():
        # Each translation is matched with its own language's configuration, so the German
        # stemmer reads "Rechnungen" as "rechnung" against German articles.
        tsquery = SearchQuery(raw, search_type="raw", config=config)
        matches |= Q(language=code, search_vector=tsquery)
        ranks.append(When(language=code, then=SearchRank(F("search_vector"), tsquery)))
    return translations.filter(matches).annotate(
        score=Case(*ranks, default=Value(0.0), output_field=FloatField())
        * Case(
            When(language=language, then=Value(1.0)),
            default=Value(OTHER_LANGUAGE_WEIGHT),
            output_field=FloatField(),
        )
    )


def _substring_ranking(
    translations: QuerySet[ArticleTranslation], terms: list[str], language: str, any_word: bool
) -> QuerySet[ArticleTranslation]:
    # No stemming here: "Rechnung" finds "Rechnungen", not the other way round. A word in the
    # title counts three times, in the summary twice, in the body once.
    conditions = []
    score: Any = Value(0.0)
    for term in terms:
        in_title, in_summary, in_body = (
            Q(title__icontains=term),
            Q(summary__icontains=term),
            Q(body__icontains=term),
        )
        conditions.append(in_title | in_summary | in_body)
        for condition, weight in ((in_title, 3.0), (in_summary, 2.0), (in_body, 1.0)):
            score = score + Case(
                When(condition, then=Value(weight)), default=Value(0.0), output_field=FloatField()
            )
    match = Q()
    for condition in conditions:
        match = (match | condition) if any_word else (match & condition)
    weight = Case(
        When(language=language, then=Value(1.0)),
        default=Value(OTHER_LANGUAGE_WEIGHT),
        output_field=FloatField(),
    )
    return translations.filter(match).annotate(score=score * weight)


def _hits(scores: dict[int, float], language: str) -> list[Hit]:
    articles = Article.objects.filter(pk__in=scores).select_related("category")
    by_id = {a.pk: a for a in articles.prefetch_related("translations")}
    hits = []
    for article_id, score in scores.items():
        article = by_id[article_id]
        translation = pick_translation(article, language)
        if translation is not None:
            hits.append(Hit(article, translation, float(score or 0.0)))
    return hits


def pick_translation(article: Article, language: str) -> ArticleTranslation | None:
    """The article's translation in `language`, else in the site's language, else any (from
    the prefetched translations when they are)."""
    translations = list(article.translations.all())
    for wanted in (language, settings.LANGUAGE_CODE.split("-")[0]):
        for translation in translations:
            if translation.language == wanted:
                return translation
    return translations[0] if translations else None


def browse(
    *, language: str, audience: str, category: Category | None = None, limit: int = 200
) -> list[Hit]:
    """The articles `audience` may read, by category then title, for a page without a search
    (two queries)."""
    language = reader_language(language)
    articles = (
        Article.objects.for_audience(audience)
        .select_related("category")
        .prefetch_related("translations")
        .order_by(F("category__order").asc(nulls_last=True), "category__name", "slug")
    )
    if category is not None:
        articles = articles.filter(category=category)
    hits = []
    for article in articles[:limit]:
        translation = pick_translation(article, language)
        if translation is not None:
            hits.append(Hit(article, translation))
    return hits


def categories_with_articles(audience: str) -> QuerySet[Category]:
    """Categories holding at least one article `audience` may read."""
    visible = Article.objects.for_audience(audience)
    return (
        Category.objects.filter(articles__in=visible)
        .annotate(article_count=Count("articles", filter=Q(articles__in=visible), distinct=True))
        .order_by("order", "name")
    )


def article_for_reader(slug: str, *, audience: str | None) -> Article:
    """The article at `slug` with its translations, if `audience` may read it (None: any
    article, drafts included, for its editors); Http404 otherwise."""
    articles = Article.objects.all() if audience is None else Article.objects.for_audience(audience)
    try:
        return (
            articles.select_related("category", "owner")
            .prefetch_related("translations")
            .get(slug=slug)
        )
    except Article.DoesNotExist:
        raise Http404 from None


def due_for_review(*, today: date, owner: Any | None = None) -> QuerySet[Article]:
    """Articles whose review is due by `today`, the longest overdue first; only `owner`'s
    when given."""
    articles = Article.objects.due_for_review(today).select_related("owner", "category")
    if owner is not None:
        articles = articles.filter(owner=owner)
    return articles.prefetch_related("translations").order_by("review_due_on", "slug")


def deflection_counts(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Deflections per article in [since, until): `article_id`, `slug`, `count`, most first
    (for reporting)."""
    rows = Deflection.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return list(
        rows.values("article_id", slug=F("article__slug"))
        .annotate(count=Count("id"))
        .order_by("-count", "slug")
    )


def deflection_totals(articles: Iterable[Article]) -> dict[int, int]:
    """How often each of `articles` solved a reader's problem (one query)."""
    ids = [a.pk for a in articles]
    rows = Deflection.objects.filter(article_id__in=ids).values("article_id")
    return {r["article_id"]: r["n"] for r in rows.annotate(n=Count("id"))}
