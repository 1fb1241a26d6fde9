"""The demo's knowledge base, from `story/articles.json`: a few real articles in German and
English (password reset, invoice questions, checkout problems), one internal and one draft.

Idempotent: categories and articles are created only where their slug is missing, so a
second run, or articles an admin edited, stay as they are.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from demo.story import STORY_DIR
from knowledge.models import Article, ArticleTranslation, Category


def _story() -> dict[str, Any]:
    with (STORY_DIR / "articles.json").open(encoding="utf-8") as handle:
        return json.load(handle)


@transaction.atomic
def seed_articles(*, fallback_owner: Any) -> int:
    """Create the demo's categories and articles that are missing; returns how many articles
    were created. An owner missing from the database is replaced by `fallback_owner`."""
    story = _story()
    categories = {}
    for spec in story["categories"]:
        categories[spec["slug"]], _ = Category.objects.get_or_create(
            slug=spec["slug"],
            defaults={"name": spec["name"], "name_de": spec["name_de"], "order": spec["order"]},
        )
    users = get_user_model().objects.in_bulk(
        [spec["owner"] for spec in story["articles"]], field_name="username"
    )
    created = 0
    for spec in story["articles"]:
        if Article.objects.filter(slug=spec["slug"]).exists():
            continue
        article = Article.objects.create(
            slug=spec["slug"],
            category=categories[spec["category"]],
            owner=users.get(spec["owner"], fallback_owner),
            visibility=spec["visibility"],
            status=spec["status"],
        )
        for language in ("en", "de"):
            words = spec[language]
            ArticleTranslation.objects.create(
                article=article,
                language=language,
                title=words["title"],
                summary=words["summary"],
                body=words["body"],
            )
        created += 1
    return created
