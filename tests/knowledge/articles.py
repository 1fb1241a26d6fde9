"""Building articles for the knowledge tests (unit and browser)."""

from __future__ import annotations

import re
from typing import Any

from knowledge.models import Article, ArticleTranslation, Category


def make_article(
    slug: str,
    *,
    owner: Any,
    en: tuple[str, str] | None = None,
    de: tuple[str, str] | None = None,
    visibility: str = Article.Visibility.PUBLIC,
    status: str = Article.Status.PUBLISHED,
    category: Category | None = None,
    **fields: Any,
) -> Article:
    """An article with a translation per language given as (title, body)."""
    article = Article.objects.create(
        slug=slug, owner=owner, visibility=visibility, status=status, category=category, **fields
    )
    for language, words in (("en", en), ("de", de)):
        if words is not None:
            title, body = words
            ArticleTranslation.objects.create(
                article=article, language=language, title=title, body=body
            )
    return article


def page_text(response: Any) -> str:
    """A response's visible text: tags removed, white space folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
